//! The JSON shapes of the alert routes (`/v1/alerts…`).

use rampart_core::duration::HumanDuration;
use rampart_core::time::UnixMillis;
use serde::{Deserialize, Serialize};

/// An alert.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AlertsResponse {
    /// A page of alerts, newest first.
    pub alerts: Vec<AlertRecordView>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// `POST /v1/alerts/silences`: silence alerts matching `rule` and `subject`
/// (each left out matches all) until `ends_at`, or for `duration`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SilenceRequest {
    /// Only this rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    /// Only this subject (a queue's name, or `store`).
    #[serde(default, deserialize_with = "rampart_core::nul::key_opt", skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// The end, as an RFC 3339 time; exclusive with `duration`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ends_at: Option<UnixMillis>,
    /// How long from now (`"2h"`); exclusive with `ends_at`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<HumanDuration>,
    /// Why, for the next person.
    #[serde(deserialize_with = "rampart_core::nul::free")]
    pub reason: String,
}

/// A silence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SilencesResponse {
    /// Silences that have not ended, oldest first.
    pub silences: Vec<SilenceView>,
}

/// `POST /v1/alerts/test`: what sending a test message to each channel did.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AlertTestResponse {
    /// One result per channel, in configuration order.
    pub channels: Vec<ChannelTestResult>,
}

/// One channel's test result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
