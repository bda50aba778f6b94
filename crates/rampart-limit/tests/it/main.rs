//! rampart-limit's integration tests: the Redis backend against a real
//! Redis (see `harness.rs` for where it comes from and when tests skip).

#![allow(clippy::unwrap_used, reason = "a test that unwraps fails at the line that broke")]

mod harness;
mod redis_limiter;
