//! rampart-limit: rate limiting as pure decisions plus the places keys live.
//!
//! - [`policy`]: a [`Policy`] (limit, window, algorithm, burst) decides a
//!   check against a key's [`State`] at a given time, without I/O: the same
//!   code runs in-process, behind the HTTP API and in property tests.
//! - [`memory`]: the in-process backend, sharded and bounded.
//! - [`redis`]: the backend shared by every node: one Redis, one Lua script
//!   per batch of checks, with the same decisions as the memory backend.
//!
//! Times are nanoseconds since the Unix epoch ([`Nanos`]), given by the
//! caller, so tests and several nodes control the clock.

pub mod memory;
pub mod policy;
pub mod redis;

pub use policy::{Algorithm, Decision, Nanos, Policy, PolicyError, State};
