//! The shapes of error events: `POST /v1/errors` (an app reports one) and
//! `GET /v1/errors` (the kept events, filtered, with their counts).

use std::collections::BTreeMap;

use rampart_core::insight::ErrorLevel;
use rampart_core::time::UnixMillis;
use serde::{Deserialize, Serialize};

/// `POST /v1/errors`: one error. Its text is scrubbed of personal data and
/// secrets before anything keeps it.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ErrorReportRequest {
    /// How bad: `critical` becomes an alert at once.
    pub level: ErrorLevel,
    /// What kind of failure (`PaymentDeclined`, `db.timeout`): counts and rules go by it.
    #[serde(deserialize_with = "rampart_core::nul::free")]
    #[schema(min_length = 1, max_length = 200)]
    pub kind: String,
    /// What happened.
    #[serde(deserialize_with = "rampart_core::nul::free")]
    #[schema(max_length = 8192)]
    pub message: String,
    /// The app's own grouping; computed from the kind and message when left out.
    #[serde(default, deserialize_with = "rampart_core::nul::free_opt", skip_serializing_if = "Option::is_none")]
    #[schema(min_length = 1, max_length = 128)]
    pub fingerprint: Option<String>,
    /// The tenant (organisation) it happened for.
    #[serde(default, deserialize_with = "rampart_core::nul::free_opt", skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 256)]
    pub tenant: Option<String>,
    /// Free labels (at most 32; names of at most 64 characters, values of at most 256).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
    /// When it happened; its arrival when left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<UnixMillis>,
}

/// A kept error event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ErrorEventView {
    /// Its id (also the cursor of a page).
    pub id: String,
    /// When it happened.
    pub at: UnixMillis,
    /// How bad.
    pub level: ErrorLevel,
    /// Its kind.
    pub kind: String,
    /// Its message, scrubbed.
    pub message: String,
    /// Its group.
    pub fingerprint: String,
    /// Its tenant.
    pub tenant: Option<String>,
    /// Its tags, scrubbed.
    pub tags: BTreeMap<String, String>,
}

/// Error events of one kind and fingerprint over a window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ErrorCountView {
    /// The kind.
    pub kind: String,
    /// The fingerprint.
    pub fingerprint: String,
    /// Events in the window.
    pub count: u64,
    /// The start of the latest interval with one.
    pub last_interval: UnixMillis,
}

/// `GET /v1/errors`: a page of events, newest first, and the counts per
/// kind and fingerprint since `since` (the last 24 hours by default).
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ErrorsResponse {
    /// The page.
    pub events: Vec<ErrorEventView>,
    /// Pass as `cursor` for the next page; `null` on the last.
    pub next_cursor: Option<String>,
    /// Counts per kind and fingerprint, the largest first (at most 100).
    pub counts: Vec<ErrorCountView>,
}

/// The query of `GET /v1/errors`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ErrorsQuery {
    /// Only this level and worse.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(pattern = r"^(info|warning|error|critical)$")]
    pub level: Option<String>,
    /// Only this kind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Only this fingerprint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
    /// Only this tenant's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    /// Only events at or after this time (RFC 3339); counts from here too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(value_type = Option<String>, format = DateTime)]
    pub since: Option<String>,
    /// The `next_cursor` of the previous page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(value_type = Option<String>, pattern = r"^[1-9][0-9]{0,17}$")]
    pub cursor: Option<String>,
    /// Most events on the page (default 50).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
}
