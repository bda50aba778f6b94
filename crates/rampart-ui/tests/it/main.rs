//! Route tests of the dashboard: a real server (SQLite in a temporary
//! directory, port 0) with the dashboard mounted, driven over HTTP as a
//! browser would, with each role.
//!
//! - [`harness`]: the server, keys of each role, signed-in sessions.
//! - [`session`]: sign-in, sign-out, the cookie, revoked keys, wrong keys.
//! - [`pages`]: every page with each role; what a reader does not see.
//! - [`actions`]: every action: refused to readers and without the CSRF
//!   token, done for admins as the API does it, written to the audit log.
//! - [`operator`]: filters, bulk actions by filter, retry with an edited
//!   payload, release and fail of a job stuck active.
//! - [`bench`]: render times with 100 queues and 1,000,000 jobs (ignored;
//!   `cargo test --release -p rampart-ui --test it bench -- --ignored --nocapture`).

#![allow(clippy::unwrap_used, reason = "a test that unwraps fails at the line that broke")]

mod actions;
mod bench;
mod harness;
mod operator;
mod pages;
mod session;
