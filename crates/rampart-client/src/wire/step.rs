//! The shapes of the step routes: a step recorded, a durable sleep, a job's
//! steps. A step's name is its path segment (1 to 200 printable characters,
//! no `/`); its idempotency key, for the APIs the step calls, is
//! `{job_id}:{step}`.

use rampart_core::duration::HumanDuration;
use rampart_core::job::JobState;
use rampart_core::nul;
use rampart_core::time::UnixMillis;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// `PUT /v1/jobs/{id}/steps/{step}`: a step's result, recorded while the
/// lease holds (first writer wins).
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StepRecordRequest {
    /// The lease token.
    #[serde(deserialize_with = "nul::key")]
    #[schema(pattern = r"^[^\u0000]*$")]
    pub lease_token: String,
    /// Any JSON value, at most 256 KiB.
    #[schema(value_type = serde_json::Value)]
    pub result: Box<RawValue>,
}

/// The answer to a step record.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StepRecordResponse {
    /// The step.
    pub step: String,
    /// Its result: the one sent, or the one recorded first.
    #[schema(value_type = serde_json::Value)]
    pub result: Box<RawValue>,
    /// False when the step was recorded before (its first result stands).
    pub recorded: bool,
}

/// `POST /v1/jobs/{id}/steps/{step}/sleep`: a durable sleep, `until` a time
/// or for a `duration` (one of the two, at most 365 days away). The job is
/// given back `scheduled` for the wake time without counting an attempt.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StepSleepRequest {
    /// The lease token.
    #[serde(deserialize_with = "nul::key")]
    #[schema(pattern = r"^[^\u0000]*$")]
    pub lease_token: String,
    /// Wake at this time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<UnixMillis>,
    /// Wake after this long (`"2s"`, `"1h"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<HumanDuration>,
}

/// The answer to a durable sleep.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StepSleepResponse {
    /// The step.
    pub step: String,
    /// False when the sleep was recorded before: the job stays leased and the
    /// worker goes on.
    pub recorded: bool,
    /// `scheduled` (asleep) or `active` (the sleep was recorded before).
    pub state: JobState,
    /// When the job runs again (the sleep's wake time).
    pub run_at: UnixMillis,
}

/// One recorded step.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StepView {
    /// Its name.
    pub name: String,
    /// Its result.
    #[schema(value_type = serde_json::Value)]
    pub result: Box<RawValue>,
    /// When it was recorded.
    pub at: UnixMillis,
    /// The attempt that recorded it.
    pub attempt: u32,
}

/// `GET /v1/jobs/{id}/steps`: every recorded step, in the order reached.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StepsResponse {
    /// The steps.
    pub steps: Vec<StepView>,
}

/// `POST /v1/jobs/{id}/steps/{step}/wait`: park the job until an event
/// (or the timeout; the step's result is then `null`).
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StepWaitRequest {
    /// The lease token.
    #[serde(deserialize_with = "nul::key")]
    #[schema(pattern = r"^[^\u0000]*$")]
    pub lease_token: String,
    /// The event's name (as sent to `POST /v1/events/{name}`).
    #[serde(deserialize_with = "nul::key")]
    #[schema(min_length = 1, max_length = 200, pattern = r"^[^/\u0000-\u001f\u007f-\u009f]+$")]
    pub event: String,
    /// Only an event whose payload holds `value` at `path`.
    #[serde(default, rename = "match", skip_serializing_if = "Option::is_none")]
    pub match_on: Option<EventMatch>,
    /// How long to wait (more than 0s, at most 365d).
    pub timeout: HumanDuration,
}

/// A condition on an event's payload.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EventMatch {
    /// A dotted path into the payload (`data.order_id`; array items by index).
    #[serde(deserialize_with = "nul::key")]
    #[schema(min_length = 1, max_length = 200, pattern = r"^[^\u0000]+$")]
    pub path: String,
    /// The JSON value the payload must hold there.
    #[schema(value_type = serde_json::Value)]
    pub value: Box<RawValue>,
}

/// The answer to a wait.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StepWaitResponse {
    /// The step.
    pub step: String,
    /// `waiting` (parked: the lease has ended) or `active` (the step has its
    /// result already: an event of the lookback matched, or it was recorded
    /// before; the worker goes on).
    pub state: JobState,
    /// The step's result while `active`: the event's payload (or `null`
    /// after a timeout).
    #[schema(value_type = serde_json::Value)]
    pub result: Box<RawValue>,
    /// When the wait times out, while `waiting`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_at: Option<UnixMillis>,
}

/// `POST /v1/events/{name}`: an event that wakes the jobs waiting for it.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EventSendRequest {
    /// Any JSON value, at most 256 KiB.
    #[schema(value_type = serde_json::Value)]
    pub payload: Box<RawValue>,
    /// The event's id: a second event with the same name and id changes nothing.
    #[serde(default, deserialize_with = "nul::key_opt", skip_serializing_if = "Option::is_none")]
    #[schema(min_length = 1, max_length = 255, pattern = r"^[^\u0000]+$")]
    pub id: Option<String>,
}

/// The answer to an event.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EventSendResponse {
    /// True when an event with the same id was sent before.
    pub duplicate: bool,
    /// How many waiting jobs it woke.
    pub woken: u64,
}
