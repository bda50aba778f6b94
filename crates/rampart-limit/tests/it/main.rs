//! rampart-limit's integration tests: the Redis backend against a real
//! Redis (see `harness.rs` for where it comes from and when tests skip).

mod harness;
mod redis_limiter;
