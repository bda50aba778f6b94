//! rampart-insight: what apps report about themselves, as pure logic.
//!
//! Apps tell rampart what it cannot see itself; this crate holds the rules
//! those reports follow, with no I/O, no tokio and no SQL, so the server,
//! the store and the tests agree on them:
//!
//! - [`cache`]: a cache's snapshot and events, checked; hit rate,
//!   utilisation, the counters an interval gains from two snapshots, and
//!   the alert thresholds (utilisation, hit rate once enough loads, memory),
//!   overridable per cache.
//! - [`error`]: an error event, checked; its fingerprint (the same for
//!   the same kind and message whatever ids and numbers it carries).
//!
//! Time comes in as an argument; names and enums crossing the wire are
//! rampart-core's (`CacheName`, `EvictionReason`, `ErrorLevel`).

pub mod cache;
pub mod error;

/// Why a report was refused: the field and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {problem}")]
pub struct ReportError {
    /// The field, as a path in the report (`events[2].reason`).
    pub field: String,
    /// What is wrong and how to fix it.
    pub problem: String,
}

impl ReportError {
    pub(crate) fn new(field: impl Into<String>, problem: impl Into<String>) -> ReportError {
        ReportError { field: field.into(), problem: problem.into() }
    }
}

/// Checks an optional free-text field's length in characters.
pub(crate) fn check_len(field: &str, value: Option<&str>, max: usize) -> Result<(), ReportError> {
    match value {
        Some(v) if v.chars().count() > max => Err(ReportError::new(field, format!("longer than {max} characters"))),
        _ => Ok(()),
    }
}
