//! rampart-core: the domain of rampart as pure logic.
//!
//! Nothing here does I/O, spawns tasks or knows SQL or HTTP; time comes in as
//! an argument (see [`time::Clock`]). The store and the server build on these
//! types so that every backend and every route agree on what a job is.
//!
//! Layout:
//! - [`id`]: validated names and ids that cross crate boundaries.
//! - [`time`]: Unix-millisecond timestamps and the injectable clock.
//! - [`duration`]: the human duration strings of config and API (`"30s"`).
//! - [`job`]: job states and the reasons a transition happens.
//! - [`queue`]: the counters of a queue's attempts.
//! - [`cron`]: cron schedules in time zones, their DST rule and misfire plans.
//! - [`delivery`]: the id and status of a webhook delivery (intake's log).
//! - [`insight`]: what apps report about themselves: cache eviction reasons
//!   and event kinds, error levels.
//! - [`retry`]: retry policy, exponential backoff with jitter, the fail decision.
//! - [`step`]: step names and the limits of a step-function job's recorded steps.
//! - [`auth`]: API-key roles and what each may do.
//! - [`alert`]: alert rules, the fire/remind/resolve decision over samples, silences.
//! - [`webhook`]: Standard Webhooks signatures (push delivery signs, intake verifies).
//! - [`breaker`]: the circuit breaker's policy and state machine.
//! - [`integration`]: the states an app reports for its third-party connections.
//! - [`name`]: [`named_enum!`], enums whose values have fixed names, spelled once.
//! - [`text`]: serde for the values above that travel as JSON strings.
//! - [`nul`]: the one rule for NUL in strings from outside (names and keys
//!   refused, free text cleaned).

pub mod alert;
pub mod auth;
pub mod breaker;
pub mod cron;
pub mod delivery;
pub mod duration;
pub mod id;
pub mod insight;
pub mod integration;
pub mod job;
pub mod name;
pub mod nul;
pub mod queue;
pub mod retry;
pub mod schema;
pub mod step;
pub mod text;
pub mod time;
pub mod webhook;
