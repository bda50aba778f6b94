//! One module per page, each with the actions its buttons post. Every
//! action checks the session's CSRF token and the same permission as the
//! API route that does the same thing, calls what that route calls, writes
//! the audit log and answers `303 See Other` back to the page with what it
//! did (`?done=…`), so a reload never repeats it.

pub mod alerts;
pub mod audit;
pub mod breakers;
pub mod bulk;
pub mod cron;
pub mod diagnostics;
pub mod filter;
pub mod job;
pub mod limits;
pub mod overview;
pub mod queue;

use axum::http::StatusCode;
use axum::http::header::LOCATION;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::Ui;

/// The fields an action's form may carry.
#[derive(Debug, Default, Deserialize)]
pub struct ActionForm {
    /// The session's CSRF token.
    pub csrf: Option<String>,
    /// For destructive actions: the confirmation (the checkbox's value).
    pub confirm: Option<String>,
    /// For a retry with an edited payload: the new payload (JSON).
    pub payload: Option<String>,
    /// For "fail now": why, recorded in the attempt's error.
    pub reason: Option<String>,
}

/// The query of a page showing the outcome of an action.
#[derive(Debug, Default, Deserialize)]
pub struct Done {
    /// What was done, shown once.
    pub done: Option<String>,
}

/// Back to `path` (under the prefix), saying what was done.
pub fn done(ui: &Ui, path: &str, message: &str) -> Response {
    let location = format!("{}?done={}", ui.url(path), encode(message));
    (StatusCode::SEE_OTHER, [(LOCATION, location)]).into_response()
}

/// Percent-encodes a query value (everything but unreserved characters).
pub fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn query_values_are_percent_encoded() {
        assert_eq!(super::encode("retried 3 jobs/ok?&="), "retried%203%20jobs%2Fok%3F%26%3D");
        assert_eq!(super::encode("é"), "%C3%A9");
    }
}
