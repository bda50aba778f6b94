//! rampart's load generators, behind `rampart bench …`: the binary parses
//! the command line and calls one function here, the way `redis-benchmark`
//! ships beside Redis. Each bench prints one JSON line on stdout (its
//! report) and its progress on stderr.
//!
//! - [`queue`] (`rampart bench queue`): enqueue, drain with HTTP pull
//!   workers and enqueue-to-start latency against a running server;
//! - [`ratelimit`] (`rampart bench ratelimit`): checks per second and their
//!   latency over `POST /v1/ratelimit/check` against a running server;
//! - [`push`] (`rampart bench push`): push delivery throughput through an
//!   in-process server on SQLite to a local no-op receiver;
//! - [`webhooks`] (`rampart bench webhooks`): verified webhook intakes per
//!   second through an in-process server on SQLite, over HTTP on loopback;
//! - [`steps`] (`rampart bench steps`): jobs of four no-op steps per second
//!   through the HTTP API, through an in-process server on SQLite;
//! - [`usage`] (`rampart bench usage`): AI usage events ingested per second
//!   in batches, and the round trip of a budget reservation, through an
//!   in-process server on SQLite or PostgreSQL.
//!
//! Layout: one module per bench, and `stats.rs` for the arithmetic they
//! share (rates, rounding, nearest-rank percentiles).

mod push;
mod queue;
mod ratelimit;
mod stats;
mod steps;
mod usage;
mod webhooks;

pub use push::{PushOptions, push};
pub use queue::{QueueOptions, queue};
pub use ratelimit::{RatelimitOptions, ratelimit};
pub use steps::{StepsOptions, steps};
pub use usage::{UsageOptions, usage};
pub use webhooks::{WebhooksOptions, webhooks};
