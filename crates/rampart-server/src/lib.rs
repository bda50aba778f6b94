//! rampart-server: the running rampart system.
//!
//! Layout:
//! - [`alert`]: alert notices, their text, the channels they go to and
//!   the channels' health.
//! - [`config`]: the `rampart-config` crate, re-exported: layered
//!   configuration (defaults, file, environment, flags) validated all at once.
//! - [`engine`]: the queue engine: enqueue, lease with long-poll, heartbeat,
//!   ack, retries, dead letters, running totals. Every route and the embedded
//!   worker go through it.
//! - [`cron`]: cron schedules (configuration, API, built-in retention),
//!   fired once per tick through the store.
//! - [`ratelimit`]: the configured rate-limit policies over the memory
//!   backend, with counters and the decision's HTTP headers; the client IP
//!   behind trusted proxies, the limits on rampart's own API, and a tower
//!   layer for an app's routes.
//! - [`usage`]: AI usage and budgets: reports priced and charged to every
//!   budget that applies, reservations held before a call, budgets from
//!   the configuration and the API.
//! - [`webhook`]: webhook intake: the sources (configured and put through
//!   the API), a request verified, logged and enqueued in one transaction,
//!   and each source's counts.
//! - [`insight`]: what apps report about themselves: cache telemetry and
//!   error events (scrubbed), kept in the store; a critical event alerts at once.
//! - [`breaker`]: this node's in-process circuit breakers, by name.
//! - [`monitoring`]: queue samples with their history, totals kept across
//!   restarts, HTTP request metrics and the Prometheus exposition.
//! - [`service`]: background loops (reaper, promoter, relay, scheduler,
//!   pruner, dispatcher, sampler, sweeper, …), each
//!   stopping on the shared shutdown signal.
//! - [`api`]: the HTTP routes, one module per resource, one auth extractor.
//! - [`worker`]: the engine as a job source, so a `rampart_client` worker
//!   runs handlers in-process (the JSON shapes, the typed client and the
//!   worker itself live in `rampart-client`).
//! - [`server`]: wires it together and serves until shut down.
//! - [`connection`]: accepting HTTP connections, with the timeouts and the
//!   cap that bound what a slow or idle client can hold.
//! - [`telemetry`]: logging set-up, error reporting to Sentry and the
//!   scrubber that keeps personal data and secrets out of it.
//! - [`timer`]: sleeping on the injected clock, for the services and the
//!   engine's long-poll: a manual clock moved by a test wakes them at once.

pub mod alert;
pub mod api;
pub mod auth;
pub mod breaker;
pub use rampart_config as config;
pub mod connection;
pub mod cron;
pub mod engine;
pub mod insight;
pub mod monitoring;
pub mod ratelimit;
pub mod server;
pub mod service;
pub mod shutdown;
pub mod telemetry;
pub mod timer;
pub mod usage;
pub mod webhook;
pub mod worker;
