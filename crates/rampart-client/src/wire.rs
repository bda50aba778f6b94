//! The JSON shapes of the HTTP API, shared by the route handlers and the
//! typed client so the two cannot drift apart.
//!
//! Requests refuse unknown fields (the error names them). Fields carry
//! rampart-core's types, which travel as strings (see `rampart_core::text`):
//! ids (`JobId`, `QueueName`) as opaque strings, states and roles by name,
//! times (`UnixMillis`) as RFC 3339 UTC, durations (`HumanDuration`) as human
//! strings (`"30s"`). Payloads and results are arbitrary JSON carried through
//! unparsed. String fields follow the NUL rule of `rampart_core::nul` as
//! they are read: names and keys (`nul::key`) refuse a NUL, naming the
//! field, and free text (`nul::free`) gets U+FFFD in its place.

use serde::{Deserialize, Serialize};

mod alert;
pub use alert::*;
mod breaker;
pub use breaker::*;
mod cache;
pub use cache::*;
mod cron;
pub use cron::*;
mod diagnostic;
pub use diagnostic::*;
mod error_event;
pub use error_event::*;
mod doctor;
pub use doctor::*;
mod health;
pub use health::*;
mod job;
pub use job::*;
mod key;
pub use key::*;
mod monitoring;
pub use monitoring::*;
mod queue;
pub use queue::*;
mod ratelimit;
pub use ratelimit::*;
mod step;
pub use step::*;
mod usage;
pub use usage::*;
mod webhook;
pub use webhook::*;

/// The error body of every non-2xx answer.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// What went wrong.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// A stable SNAKE_CASE code for programs.
    pub code: String,
    /// What went wrong and what to do, for people.
    pub message: String,
}
