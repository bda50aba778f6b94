//! The shapes of the job routes: enqueue, lease, heartbeat, acks, inspect.

use std::collections::BTreeMap;

use rampart_core::duration::HumanDuration;
use rampart_core::id::JobId;
use rampart_core::id::QueueName;
use rampart_core::job::{ChildDeadPolicy, JobState};
use rampart_core::nul;
use rampart_core::time::UnixMillis;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::ErrorDetail;

/// `POST /v1/queues/{queue}/jobs`, and each item of a batch.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnqueueRequest {
    /// Any JSON value.
    #[schema(value_type = serde_json::Value)]
    pub payload: Box<RawValue>,
    /// Run after this long (`"30s"`); exclusive with `run_at`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay: Option<HumanDuration>,
    /// Run at this RFC 3339 time; exclusive with `delay`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_at: Option<UnixMillis>,
    /// Higher runs first (default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<i32>,
    /// Attempts before the job is dead (default: the queue's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1, maximum = 4294967295_u64)]
    pub max_attempts: Option<u32>,
    /// How long one attempt may run (default: the queue's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<HumanDuration>,
    /// While a live job of the queue has this key, enqueue returns it.
    #[serde(default, deserialize_with = "nul::key_opt", skip_serializing_if = "Option::is_none")]
    #[schema(min_length = 1, max_length = 1024, pattern = r"^[^\u0000]*$")]
    pub unique_key: Option<String>,
    /// The customer the job belongs to (1 to 200 characters, no control
    /// characters): shown with the job, filterable in listings, handed to
    /// workers and push targets, counted in the diagnostics' dead jobs.
    #[serde(default, deserialize_with = "nul::key_opt", skip_serializing_if = "Option::is_none")]
    #[schema(min_length = 1, max_length = 200, pattern = r"^[^\u0000-\u001f\u007f-\u009f]*$")]
    pub tenant: Option<String>,
    /// A child's queue: required in each item of `children`, refused
    /// elsewhere (the route names the queue).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue: Option<QueueName>,
    /// Makes this job a parent (a flow): it waits until every child has
    /// ended, then runs with their outcomes in its lease. An empty list
    /// runs it at once. Each child is an enqueue body with its `queue`
    /// (no `unique_key`), and may have children of its own: at most 5
    /// levels and 1,000 jobs per flow, inserted all-or-nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(no_recursion, max_items = 1000)]
    pub children: Option<Vec<EnqueueRequest>>,
    /// For a parent: what a child that dies, or is cancelled or purged
    /// before it ends, does to it: `fail` (default: the parent dies naming
    /// the child and its children not yet started are cancelled) or
    /// `ignore` (the child counts as done; its error is in the parent's
    /// `children`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_child_dead: Option<ChildDeadPolicy>,
    /// For a parent: the longest it waits on its children from its
    /// enqueue; past it the parent dies and its children not yet started
    /// are cancelled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub children_timeout: Option<HumanDuration>,
}

impl EnqueueRequest {
    /// A job with this payload and every option left to the queue's defaults.
    pub fn new(payload: Box<RawValue>) -> EnqueueRequest {
        EnqueueRequest {
            payload,
            delay: None,
            run_at: None,
            priority: None,
            max_attempts: None,
            timeout: None,
            unique_key: None,
            tenant: None,
            queue: None,
            children: None,
            on_child_dead: None,
            children_timeout: None,
        }
    }
}

/// The answer to an enqueue.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EnqueueResponse {
    /// The job's id.
    pub id: JobId,
    /// Its state (`available` or `scheduled`, or a duplicate's state).
    pub state: JobState,
    /// True when a live job with the same unique key was returned.
    #[serde(default)]
    pub duplicate: bool,
    /// A parent's children as enqueued, in request order (absent for a
    /// job enqueued without `children`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schema(no_recursion)]
    pub children: Vec<EnqueueResponse>,
}

/// `POST /v1/queues/{queue}/jobs/batch`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchRequest {
    /// Up to 10,000 jobs, inserted all-or-nothing.
    #[schema(min_items = 1, max_items = 10000)]
    pub jobs: Vec<EnqueueRequest>,
}

/// The answer to a batch enqueue.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BatchResponse {
    /// The jobs' ids in request order (a duplicate's id where a unique key matched).
    pub ids: Vec<JobId>,
}

/// `POST /v1/queues/{queue}/lease`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LeaseRequest {
    /// Most jobs to take (default 1, at most 1,000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1, maximum = 1000)]
    pub max: Option<u32>,
    /// Long-poll this long when nothing is available (at most `"30s"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, pattern = r"^(30s|30000ms|[12]?[0-9]s([0-9]{1,3}ms)?|[12]?[0-9]{1,4}ms)$")]
    pub wait: Option<HumanDuration>,
    /// Lease length (default: the queue's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease: Option<HumanDuration>,
    /// The worker's name, recorded in the history.
    #[serde(default, deserialize_with = "nul::key_opt", skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 200, pattern = r"^[^\u0000]*$")]
    pub worker: Option<String>,
}

/// A leased job.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LeasedJobView {
    /// The job's id.
    pub id: JobId,
    /// Its queue.
    pub queue: QueueName,
    /// The payload as enqueued.
    #[schema(value_type = serde_json::Value)]
    pub payload: Box<RawValue>,
    /// This attempt's number, from 1.
    pub attempt: u32,
    /// Attempts allowed.
    pub max_attempts: u32,
    /// Present it to heartbeat, complete and fail.
    pub lease_token: String,
    /// Heartbeat before this time.
    pub lease_expires_at: UnixMillis,
    /// The attempt fails as timed out at this time.
    pub timeout_at: Option<UnixMillis>,
    /// When the job was enqueued.
    pub created_at: UnixMillis,
    /// The customer the job belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    /// For a parent (a job enqueued with `children`), its children's
    /// outcomes in id order (at most 1,000); absent for other jobs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub children: Option<Vec<ChildView>>,
    /// The steps recorded so far, by name: a step-function worker answers
    /// these from memory instead of running them again.
    #[serde(default)]
    #[schema(value_type = std::collections::BTreeMap<String, serde_json::Value>)]
    pub steps: BTreeMap<String, Box<RawValue>>,
    /// The steps' names in the order they were reached (a worker can warn
    /// when replayed code diverges).
    #[serde(default)]
    pub step_order: Vec<String>,
}

/// A child as its parent's lease shows it.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ChildView {
    /// The child's id.
    pub id: JobId,
    /// Its queue.
    pub queue: QueueName,
    /// Its state: `completed`, or `dead`/`cancelled` under `on_child_dead = "ignore"`.
    pub state: JobState,
    /// Its result, once completed.
    #[serde(default)]
    #[schema(value_type = Option<serde_json::Value>)]
    pub result: Option<Box<RawValue>>,
    /// Its last error, if any.
    #[serde(default)]
    pub error: Option<String>,
}

/// How many of a parent's children are in one state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ChildCount {
    /// The state.
    pub state: JobState,
    /// Children in it.
    pub count: u64,
}

/// The answer to a lease.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LeaseResponse {
    /// Leased jobs; empty when none came within `wait`.
    pub jobs: Vec<LeasedJobView>,
}

/// `POST /v1/jobs/{id}/heartbeat`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HeartbeatRequest {
    /// The lease token.
    #[serde(deserialize_with = "nul::key")]
    #[schema(pattern = r"^[^\u0000]*$")]
    pub lease_token: String,
    /// New lease length from now (default: the queue's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease: Option<HumanDuration>,
    /// The attempt's progress to keep on the job (any JSON, at most 16 KiB),
    /// as `POST /v1/jobs/{id}/progress` keeps it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<serde_json::Value>)]
    pub progress: Option<Box<RawValue>>,
}

/// `POST /v1/jobs/{id}/progress`: what the running attempt has done so far,
/// kept on the job and shown with it (`progress`); also extends the lease
/// as a heartbeat does.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProgressRequest {
    /// The lease token.
    #[serde(deserialize_with = "nul::key")]
    #[schema(pattern = r"^[^\u0000]*$")]
    pub lease_token: String,
    /// Any JSON value (a percentage, `{"done": 40, "total": 100}`, …), at most 16 KiB.
    #[schema(value_type = serde_json::Value)]
    pub progress: Box<RawValue>,
}

/// The answer to a heartbeat.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct HeartbeatResponse {
    /// The new expiry.
    pub lease_expires_at: UnixMillis,
}

/// `POST /v1/jobs/{id}/complete`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CompleteRequest {
    /// The lease token.
    #[serde(deserialize_with = "nul::key")]
    #[schema(pattern = r"^[^\u0000]*$")]
    pub lease_token: String,
    /// Any JSON value to keep as the job's result.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<serde_json::Value>)]
    pub result: Option<Box<RawValue>>,
}

/// `POST /v1/jobs/{id}/fail`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FailRequest {
    /// The lease token.
    #[serde(deserialize_with = "nul::key")]
    #[schema(pattern = r"^[^\u0000]*$")]
    pub lease_token: String,
    /// What went wrong.
    #[serde(deserialize_with = "nul::free")]
    pub error: String,
    /// False sends the job straight to `dead` (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retryable: Option<bool>,
}

/// `POST /v1/jobs/{id}/lease/fail`: an operator fails the running attempt
/// of an active job without its lease token.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LeaseFailRequest {
    /// Why, recorded as the attempt's error (1 to 2,000 characters).
    #[serde(deserialize_with = "nul::free")]
    #[schema(min_length = 1, max_length = 2000)]
    pub error: String,
}

impl LeaseFailRequest {
    /// The longest `error`, in characters.
    pub const MAX_ERROR_CHARS: usize = 2000;
}

/// `POST /v1/jobs/{id}/release`: gives the lease back without counting the
/// attempt (a worker stopping before it could finish).
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReleaseRequest {
    /// The lease token.
    #[serde(deserialize_with = "nul::key")]
    #[schema(pattern = r"^[^\u0000]*$")]
    pub lease_token: String,
}

/// The answer to a complete or fail: the job's new state.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AckResponse {
    /// The job's id.
    pub id: JobId,
    /// `completed`, `scheduled` (will retry) or `dead`.
    pub state: JobState,
    /// When it will be retried.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_at: Option<UnixMillis>,
    /// True when this ack repeated the one that had already ended the
    /// attempt (same lease token and outcome): nothing changed, `state` is
    /// the job's state now. Absent otherwise.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub already: bool,
}

/// One completion in `POST /v1/acks`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CompleteAck {
    /// The job's id.
    pub id: JobId,
    /// The lease token.
    #[serde(deserialize_with = "nul::key")]
    #[schema(pattern = r"^[^\u0000]*$")]
    pub lease_token: String,
    /// Any JSON value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<serde_json::Value>)]
    pub result: Option<Box<RawValue>>,
}

/// One failure in `POST /v1/acks`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FailAck {
    /// The job's id.
    pub id: JobId,
    /// The lease token.
    #[serde(deserialize_with = "nul::key")]
    #[schema(pattern = r"^[^\u0000]*$")]
    pub lease_token: String,
    /// What went wrong.
    #[serde(deserialize_with = "nul::free")]
    pub error: String,
    /// False sends the job straight to `dead` (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retryable: Option<bool>,
}

/// `POST /v1/acks`: completions and failures in one call.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AcksRequest {
    /// Jobs that succeeded.
    #[serde(default)]
    pub complete: Vec<CompleteAck>,
    /// Jobs that failed.
    #[serde(default)]
    pub fail: Vec<FailAck>,
}

/// The fate of one ack: `state` when applied, `error` when refused.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AckResult {
    /// The job's id.
    pub id: JobId,
    /// The job's new state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<JobState>,
    /// True when this ack repeated the one that had already ended the
    /// attempt: nothing changed. Absent otherwise.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub already: bool,
    /// Why the ack was refused (e.g. `LEASE_LOST`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorDetail>,
}

/// The answer to `POST /v1/acks`: completions first, then failures, each in request order.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AcksResponse {
    /// One result per ack.
    pub results: Vec<AckResult>,
}

/// One transition in a job's history.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct JobEventView {
    /// When.
    pub at: UnixMillis,
    /// State before (absent for creation).
    pub from: Option<JobState>,
    /// State after.
    pub to: JobState,
    /// The attempt concerned.
    pub attempt: u32,
    /// The worker involved.
    pub worker: Option<String>,
    /// Why: enqueued, due, leased, completed, error, lease_expired, timeout, stalled, released, retried,
    /// cancelled, step (a step recorded), sleeping.
    pub reason: String,
    /// The error, for failures.
    pub error: Option<String>,
    /// The step a `step` or `sleeping` event recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
}

/// One failed attempt's error.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct JobErrorView {
    /// The attempt.
    pub attempt: u32,
    /// When it failed.
    pub at: UnixMillis,
    /// Why: error, lease_expired or timeout.
    pub reason: String,
    /// The message.
    pub error: String,
}

/// A job as `GET /v1/jobs/{id}` shows it.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct JobView {
    /// The job's id.
    pub id: JobId,
    /// Its queue.
    pub queue: QueueName,
    /// Its state.
    pub state: JobState,
    /// The payload.
    #[schema(value_type = serde_json::Value)]
    pub payload: Box<RawValue>,
    /// Higher runs first.
    pub priority: i32,
    /// Attempts made.
    pub attempt: u32,
    /// Attempts allowed.
    pub max_attempts: u32,
    /// Per-attempt timeout.
    pub timeout: Option<HumanDuration>,
    /// Unique key.
    pub unique_key: Option<String>,
    /// Enqueued at.
    pub created_at: UnixMillis,
    /// Due at.
    pub run_at: UnixMillis,
    /// Current or last attempt started at.
    pub started_at: Option<UnixMillis>,
    /// Finished at.
    pub finished_at: Option<UnixMillis>,
    /// Lease expiry while active.
    pub lease_expires_at: Option<UnixMillis>,
    /// Attempt timeout while active.
    pub timeout_at: Option<UnixMillis>,
    /// Current or last worker.
    pub worker: Option<String>,
    /// The last error.
    pub last_error: Option<String>,
    /// The result of a completed job.
    #[schema(value_type = Option<serde_json::Value>)]
    pub result: Option<Box<RawValue>>,
    /// The customer the job belongs to.
    #[serde(default)]
    pub tenant: Option<String>,
    /// Leases that expired without a heartbeat and gave the job back
    /// without counting an attempt (at most the queue's `max_stalls`).
    #[serde(default)]
    pub stalls: u32,
    /// What its worker last reported of its attempt (`POST /v1/jobs/{id}/progress`).
    #[serde(default)]
    #[schema(value_type = Option<serde_json::Value>)]
    pub progress: Option<Box<RawValue>>,
    /// A flow's child: its parent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_id: Option<JobId>,
    /// A parent: its children not yet ended while it waits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_children: Option<u32>,
    /// A parent: its children counted by state (absent in listings).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub children: Vec<ChildCount>,
    /// The steps recorded, in the order reached (absent when none).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<super::StepView>,
    /// Every failed attempt (absent in listings).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<JobErrorView>,
    /// Every transition (absent in listings).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<JobEventView>,
}

/// `GET /v1/queues/{queue}/jobs`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct JobListResponse {
    /// A page of jobs in id order.
    pub jobs: Vec<JobView>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// The answer to a job retry or cancel.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct JobStateResponse {
    /// The job's id.
    pub id: JobId,
    /// Its new state.
    pub state: JobState,
}

/// The query of `GET /v1/jobs/{id}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct JobGetQuery {
    /// Long-poll: answer as soon as the job has ended (`completed`, `dead`
    /// or `cancelled`), or after this long (at most `"30s"`) with the job as
    /// it is then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(value_type = Option<String>, pattern = r"^(30s|30000ms|[12]?[0-9]s([0-9]{1,3}ms)?|[12]?[0-9]{1,4}ms)$")]
    pub wait: Option<HumanDuration>,
}

/// The query of `GET /v1/queues/{queue}/jobs`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct JobListQuery {
    /// Only jobs in this state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(inline)]
    pub state: Option<JobState>,
    /// Only this tenant's jobs.
    #[serde(default, deserialize_with = "nul::key_opt", skip_serializing_if = "Option::is_none")]
    #[param(min_length = 1, max_length = 200, pattern = r"^[^\u0000-\u001f\u007f-\u009f]*$")]
    pub tenant: Option<String>,
    /// Most jobs on the page (default 50).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(inline)]
    pub cursor: Option<JobId>,
}

impl JobListQuery {
    /// The largest page (`limit`).
    pub const MAX_LIMIT: u32 = 1000;
}
