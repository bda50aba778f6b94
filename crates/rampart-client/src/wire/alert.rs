//! The JSON shapes of the alert routes (`/v1/alerts…`).

use rampart_core::alert::{AlertId, AlertState};
use rampart_core::duration::HumanDuration;
use rampart_core::time::UnixMillis;
use serde::{Deserialize, Serialize};

/// An alert.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AlertRecordView {
    /// Its id.
    pub id: String,
    /// The rule (`queue_waiting`, `queue_failed_rate`, `queue_stalled`,
    /// `store_latency`, `dead_letters`).
    pub rule: String,
    /// What it is about: a queue's name, or `store`.
    pub subject: String,
    /// `firing` or `resolved`.
    pub state: String,
    /// The figure at the last notice (store latency in milliseconds, failed
    /// rate as a fraction).
    pub value: f64,
    /// The threshold it was compared with, in the same unit.
    pub threshold: f64,
    /// The figure against the threshold, for people (`"12.5% > 10%"`).
    pub summary: String,
    /// For dead letters, the first dead jobs (`id`, `attempts`,
    /// `last_error`, `died_at`); otherwise empty.
    pub dead_jobs: Vec<serde_json::Value>,
    /// For a budget threshold: the budget's window as of the crossing
    /// (`name`, `scope`, `subject`, `period`, `timezone`, `spent_micros`,
    /// `reserved_micros`, `limit_micros`, `enforce`, `top_models`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget: Option<serde_json::Value>,
    /// When it started firing.
    pub started_at: UnixMillis,
    /// When its last notice went out.
    pub last_notified_at: UnixMillis,
    /// When it resolved.
    pub resolved_at: Option<UnixMillis>,
    /// When someone acknowledged it.
    pub acked_at: Option<UnixMillis>,
    /// Who acknowledged it (the key's name).
    pub acked_by: Option<String>,
}

/// `GET /v1/alerts`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AlertsResponse {
    /// A page of alerts, newest first.
    pub alerts: Vec<AlertRecordView>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// `POST /v1/alerts/silences`: silence alerts matching `rule` and `subject`
/// (each left out matches all) until `ends_at`, or for `duration`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SilenceRequest {
    /// Only this rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(pattern = r"^(queue_waiting|queue_failed_rate|queue_stalled|store_latency|dead_letters)$")]
    pub rule: Option<String>,
    /// Only this subject (a queue's name, or `store`).
    #[serde(default, deserialize_with = "rampart_core::nul::key_opt", skip_serializing_if = "Option::is_none")]
    #[schema(min_length = 1, max_length = 128, pattern = r"^[^\u0000]*\S[^\u0000]*$")]
    pub subject: Option<String>,
    /// The end, as an RFC 3339 time; exclusive with `duration`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ends_at: Option<UnixMillis>,
    /// How long from now (`"2h"`); exclusive with `ends_at`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<HumanDuration>,
    /// Why, for the next person.
    #[serde(deserialize_with = "rampart_core::nul::free")]
    #[schema(min_length = 1, max_length = 1000, pattern = r"\S")]
    pub reason: String,
}

/// A silence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SilenceView {
    /// Its id.
    pub id: String,
    /// The rule it matches; absent matches all.
    pub rule: Option<String>,
    /// The subject it matches; absent matches all.
    pub subject: Option<String>,
    /// When it ends.
    pub ends_at: UnixMillis,
    /// When it was made.
    pub created_at: UnixMillis,
    /// Who made it (the key's name).
    pub created_by: String,
    /// Why.
    pub reason: String,
}

/// `GET /v1/alerts/silences`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SilencesResponse {
    /// Silences that have not ended, oldest first.
    pub silences: Vec<SilenceView>,
}

/// `POST /v1/alerts/test`: what sending a test message to each channel did.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AlertTestResponse {
    /// One result per channel, in configuration order.
    pub channels: Vec<ChannelTestResult>,
}

/// One channel's test result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ChannelTestResult {
    /// The channel's name.
    pub name: String,
    /// `slack`, `webhook` or `log`.
    pub kind: String,
    /// Whether the message was sent.
    pub ok: bool,
    /// Why not.
    pub error: Option<String>,
}

/// The query of `GET /v1/alerts`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AlertListQuery {
    /// Only alerts in this state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(inline)]
    pub state: Option<AlertState>,
    /// Most alerts on the page (default 50).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(inline)]
    pub cursor: Option<AlertId>,
}

impl AlertListQuery {
    /// The largest page (`limit`).
    pub const MAX_LIMIT: u32 = 500;
}
