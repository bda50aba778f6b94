//! End-to-end tests of the `rampart` binary: each test starts a real
//! `rampart serve` on its own port and data directory, and drives it with
//! real CLI processes, real shell-command workers and the typed client.
//!
//! Layout:
//! - [`harness`]: the test server, CLI runs, worker processes and the guard
//!   that kills every process a test starts, even when the test fails;
//! - [`worker`]: `rampart work` running shell commands: results, retries,
//!   dead letters, a worker killed mid-job, a worker stopped with SIGTERM;
//! - [`durability`]: acknowledged jobs survive a SIGKILL of the server;
//! - [`server`]: start-up: the admin key file, a bad configuration;
//! - [`shutdown`]: SIGTERM: in-flight requests finish within the grace, a
//!   second signal stops at once, a stopping worker gives its jobs back;
//! - [`breakers`]: `rampart breakers`, and two nodes on one PostgreSQL
//!   agreeing on a shared breaker;
//! - [`cli`]: what the CLI says when it cannot do its job;
//! - [`client`]: a Rust app enqueuing and working jobs through the
//!   `rampart-client` crate alone (the flow of its example);
//! - [`alerts`]: two nodes on one PostgreSQL send each alert notice once to
//!   a real receiver; `rampart alerts` from the CLI;
//! - [`cluster`]: two nodes on one PostgreSQL database: jobs run once across
//!   both, a node killed with SIGKILL, a database outage, unique keys;
//! - [`cron`]: `rampart cron` against a server firing a schedule every second;
//! - [`cron_cluster`]: two nodes on one PostgreSQL fire each tick of a
//!   schedule exactly once;
//! - [`shared_limits`]: rate limits shared by two nodes through one Redis, and a
//!   Redis cut mid-run;
//! - [`nginx`]: the shipped nginx `auth_request` example in front of an app,
//!   with a real nginx: the 11th request in 5 minutes gets a real 429;
//! - [`push`]: push delivery by the real binary: a SIGTERM during slow
//!   deliveries exits 0, leaves no job active and loses none;
//! - [`monitoring`]: readiness through a database outage, queue metrics,
//!   `/metrics` and `rampart monitor`, totals across a restart;
//! - [`logs`]: the server's log at TRACE holds no API key;
//! - [`sentry`]: internal errors reported to a local stand-in for Sentry,
//!   scrubbed, and nothing sent without a DSN;
//! - [`chaos`]: `rampart chaos` against a fast-retrying server, a wrong policy, a refused key;
//! - [`insight`]: a `ReportingCache` and error events reported over HTTP,
//!   read with `rampart caches` and `rampart errors`.
//! - [`doctor`]: `rampart doctor` against a fresh server, a readable admin key, no server;
//! - [`env`]: `rampart env check` and `env example` on real schema and dotenv files;
//! - [`diag`]: `rampart diag` and an app's integration report against the
//!   real binary;
//! - [`ui`]: the dashboard in a real headless Chromium over WebDriver: an
//!   operator retries a dead job and acknowledges its alert; a reader changes nothing;
//! - [`tcpproxy`]: the TCP proxy to PostgreSQL or Redis that tests cut and restore.
//!
//! Nothing waits a fixed time for something to happen: every wait polls a
//! condition under a generous bound, so the suite holds on a busy machine.

#![allow(clippy::unwrap_used, reason = "a test that unwraps fails at the line that broke")]

mod alerts;
mod breakers;
mod chaos;
mod cli;
mod client;
mod cluster;
mod cron;
mod cron_cluster;
mod diag;
mod doctor;
mod durability;
mod env;
mod harness;
mod insight;
mod logs;
mod monitoring;
mod nginx;
mod push;
mod sentry;
mod server;
mod shared_limits;
mod shutdown;
mod steps;
mod tcpproxy;
mod ui;
mod webhooks;
mod worker;
