//! The shapes of webhook intake's routes: `POST /in/{source}` and
//! `/v1/webhooks/…` (sources, the delivery log, replay).

use rampart_core::delivery::{DeliveryId, DeliveryStatus};
use rampart_core::duration::HumanDuration;
use rampart_core::id::{JobId, QueueName, SourceName};
use rampart_core::time::UnixMillis;
use serde::{Deserialize, Serialize};

use super::JobView;

/// The answer of `POST /in/{source}` to a verified request.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct WebhookIntakeResponse {
    /// This delivery's row in the log.
    pub delivery_id: DeliveryId,
    /// The event's id (the provider's, or `sha256:` and the body's hash).
    pub event_id: String,
    /// True for a redelivery of an event taken within its window: nothing was enqueued.
    pub duplicate: bool,
    /// The event's status: its job's, for a duplicate the original delivery's.
    pub status: DeliveryStatus,
    /// The event's job.
    pub job_id: Option<JobId>,
    /// For a duplicate, the delivery that took the event first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub original_delivery_id: Option<DeliveryId>,
}

/// One secret of a source, without its value.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct WebhookSecretView {
    /// When it stops verifying; `null`: never.
    pub expires_at: Option<UnixMillis>,
}

/// A source: `GET /v1/webhooks/sources/{name}`, each item of the list, and
/// the answer of a put. Secrets never show.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct WebhookSourceView {
    /// Its name: it takes requests at `/in/{name}`.
    pub name: SourceName,
    /// `config` (`[webhooks.NAME]`) or `api` (put through this API).
    pub origin: String,
    /// The signature scheme.
    pub scheme: String,
    /// Where verified events go.
    pub queue: QueueName,
    /// Where the event id is looked for, in order (JSON pointers or headers).
    pub event_id: Vec<String>,
    /// Where the event type is looked for.
    pub event_type: Vec<String>,
    /// Where the tenant is looked for.
    pub tenant: Vec<String>,
    /// How far a signed timestamp may be from now.
    pub tolerance: HumanDuration,
    /// How long an event id is remembered.
    pub dedupe_window: HumanDuration,
    /// The largest body taken.
    pub max_body_bytes: u64,
    /// Its secrets, without their values.
    pub secrets: Vec<WebhookSecretView>,
    /// Twilio's signed URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_url: Option<String>,
    /// The rate-limit policy on its intake.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ratelimit: Option<String>,
}

/// `GET /v1/webhooks/sources`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct WebhookSourcesResponse {
    /// Every source, by name.
    pub sources: Vec<WebhookSourceView>,
}

/// One delivery in the log.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct WebhookDeliveryView {
    /// Its id (also the cursor of a page).
    pub id: DeliveryId,
    /// The source it came to.
    pub source: SourceName,
    /// Its tenant.
    pub tenant: Option<String>,
    /// Its event type.
    pub event_type: Option<String>,
    /// Its event id; `null` for a rejected request.
    pub event_id: Option<String>,
    /// When it arrived.
    pub received_at: UnixMillis,
    /// Where it stands.
    pub status: DeliveryStatus,
    /// Why it was rejected.
    pub reason: Option<String>,
    /// For a duplicate, the delivery that took the event first.
    pub duplicate_of: Option<DeliveryId>,
    /// Its job.
    pub job_id: Option<JobId>,
    /// Attempts its job made.
    pub attempts: u32,
    /// When its job's latest attempt started.
    pub last_attempt_at: Option<UnixMillis>,
    /// When its job completed.
    pub completed_at: Option<UnixMillis>,
    /// Its job's latest error.
    pub last_error: Option<String>,
    /// The body's size in bytes.
    pub body_size: u64,
    /// The body's hex SHA-256.
    pub body_sha256: String,
    /// Whether the body is still kept.
    pub body_kept: bool,
}

/// `GET /v1/webhooks/deliveries`: newest first.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct WebhookDeliveriesResponse {
    /// The page.
    pub deliveries: Vec<WebhookDeliveryView>,
    /// Pass as `cursor` for the next page; `null` on the last.
    pub next_cursor: Option<String>,
}

/// `GET /v1/webhooks/deliveries/{id}`: the delivery with its headers
/// (secrets masked), its body and its job's history.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct WebhookDeliveryDetail {
    /// The delivery.
    #[serde(flatten)]
    pub delivery: WebhookDeliveryView,
    /// The request's headers in arrival order, each `[name, value]`; signatures and credentials show as `***`.
    #[schema(value_type = Vec<Vec<String>>)]
    pub headers: Vec<(String, String)>,
    /// The body, while kept: as text, or base64 when it is not UTF-8.
    pub body: Option<String>,
    /// `utf8` or `base64`: how `body` is written.
    pub body_encoding: String,
    /// Its job, with its history, while the job exists.
    pub job: Option<JobView>,
}

/// `POST /v1/webhooks/deliveries/replay`: every dead-lettered delivery of a
/// source (and tenant) is handed to its queue again.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookReplayRequest {
    /// The source.
    pub source: SourceName,
    /// Only this tenant's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
}

/// The answer of a replay.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct WebhookReplayResponse {
    /// Deliveries whose jobs were made available again.
    pub replayed: u64,
}

/// One source in `GET /v1/admin/diagnostics/webhooks`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct WebhookSourceDiagnostics {
    /// The source.
    pub name: SourceName,
    /// Its scheme.
    pub scheme: String,
    /// Where its events go.
    pub queue: QueueName,
    /// `config` or `api`.
    pub origin: String,
    /// Requests that reached it on this node since it started.
    pub received: u64,
    /// Of those, verified.
    pub verified: u64,
    /// Of those, rejected.
    pub rejected: u64,
    /// Of those, duplicates.
    pub duplicate: u64,
    /// Its latest delivery in the log (any node).
    pub last_received_at: Option<UnixMillis>,
    /// Its latest verified event in the log.
    pub last_event_at: Option<UnixMillis>,
    /// Its latest rejected request in the log.
    pub last_rejected_at: Option<UnixMillis>,
}

/// `GET /v1/admin/diagnostics/webhooks`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct WebhooksDiagnostics {
    /// Every source, by name.
    pub sources: Vec<WebhookSourceDiagnostics>,
}

/// The query of `GET /v1/webhooks/deliveries`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct WebhookDeliveriesQuery {
    /// Only this source's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(
        min_length = 1,
        max_length = 128,
        pattern = r"^([A-Za-z0-9_:-][A-Za-z0-9_.:-]{0,127}|\.[A-Za-z0-9_:-][A-Za-z0-9_.:-]{0,126}|\.\.[A-Za-z0-9_.:-]{1,126})$"
    )]
    pub source: Option<String>,
    /// Only this tenant's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    /// Only those with this status now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(pattern = r"^(pending|processing|completed|failed|dead_letter|cancelled|duplicate|rejected)$")]
    pub status: Option<String>,
    /// Only events of this type.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub event_type: Option<String>,
    /// Only those received at or after this time (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(value_type = Option<String>, format = DateTime)]
    pub since: Option<String>,
    /// The `next_cursor` of the previous page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(value_type = Option<String>, pattern = r"^[1-9][0-9]{0,17}$")]
    pub cursor: Option<String>,
    /// Most deliveries on the page (default 50).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
}
