//! The JSON shapes of the HTTP API, shared by the route handlers and the
//! typed client so the two cannot drift apart.
//!
//! Requests refuse unknown fields (the error names them). Times are RFC 3339
//! UTC strings, durations human strings (`"30s"`), ids opaque strings, and
//! payloads and results arbitrary JSON carried through unparsed.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

mod diagnostics;
pub use diagnostics::*;

/// The error body of every non-2xx answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// What went wrong.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErrorDetail {
    /// A stable SNAKE_CASE code for programs.
    pub code: String,
    /// What went wrong and what to do, for people.
    pub message: String,
}

/// `POST /v1/queues/{queue}/jobs`, and each item of a batch.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnqueueRequest {
    /// Any JSON value.
    pub payload: Box<RawValue>,
    /// Run after this long (`"30s"`); exclusive with `run_at`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay: Option<String>,
    /// Run at this RFC 3339 time; exclusive with `delay`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_at: Option<String>,
    /// Higher runs first (default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<i32>,
    /// Attempts before the job is dead (default: the queue's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_attempts: Option<u32>,
    /// How long one attempt may run (default: the queue's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
    /// While a live job of the queue has this key, enqueue returns it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unique_key: Option<String>,
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
        }
    }
}

/// The answer to an enqueue.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EnqueueResponse {
    /// The job's id.
    pub id: String,
    /// Its state (`available` or `scheduled`, or a duplicate's state).
    pub state: String,
    /// True when a live job with the same unique key was returned.
    #[serde(default)]
    pub duplicate: bool,
}

/// `POST /v1/queues/{queue}/jobs/batch`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchRequest {
    /// Up to 10,000 jobs, inserted all-or-nothing.
    pub jobs: Vec<EnqueueRequest>,
}

/// The answer to a batch enqueue.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BatchResponse {
    /// The jobs' ids in request order (a duplicate's id where a unique key matched).
    pub ids: Vec<String>,
}

/// `POST /v1/queues/{queue}/lease`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LeaseRequest {
    /// Most jobs to take (default 1, at most 1,000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<u32>,
    /// Long-poll this long when nothing is available (at most `"30s"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait: Option<String>,
    /// Lease length (default: the queue's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease: Option<String>,
    /// The worker's name, recorded in the history.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker: Option<String>,
}

/// A leased job.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LeasedJobView {
    /// The job's id.
    pub id: String,
    /// Its queue.
    pub queue: String,
    /// The payload as enqueued.
    pub payload: Box<RawValue>,
    /// This attempt's number, from 1.
    pub attempt: u32,
    /// Attempts allowed.
    pub max_attempts: u32,
    /// Present it to heartbeat, complete and fail.
    pub lease_token: String,
    /// Heartbeat before this time.
    pub lease_expires_at: String,
    /// The attempt fails as timed out at this time.
    pub timeout_at: Option<String>,
    /// When the job was enqueued.
    pub created_at: String,
}

/// The answer to a lease.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LeaseResponse {
    /// Leased jobs; empty when none came within `wait`.
    pub jobs: Vec<LeasedJobView>,
}

/// `POST /v1/jobs/{id}/heartbeat`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeartbeatRequest {
    /// The lease token.
    pub lease_token: String,
    /// New lease length from now (default: the queue's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease: Option<String>,
}

/// The answer to a heartbeat.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HeartbeatResponse {
    /// The new expiry.
    pub lease_expires_at: String,
}

/// `POST /v1/jobs/{id}/complete`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompleteRequest {
    /// The lease token.
    pub lease_token: String,
    /// Any JSON value to keep as the job's result.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<Box<RawValue>>,
}

/// `POST /v1/jobs/{id}/fail`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FailRequest {
    /// The lease token.
    pub lease_token: String,
    /// What went wrong.
    pub error: String,
    /// False sends the job straight to `dead` (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retryable: Option<bool>,
}

/// `POST /v1/jobs/{id}/release`: gives the lease back without counting the
/// attempt (a worker stopping before it could finish).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReleaseRequest {
    /// The lease token.
    pub lease_token: String,
}

/// The answer to a complete or fail: the job's new state.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AckResponse {
    /// The job's id.
    pub id: String,
    /// `completed`, `scheduled` (will retry) or `dead`.
    pub state: String,
    /// When it will be retried.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_at: Option<String>,
}

/// One completion in `POST /v1/acks`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompleteAck {
    /// The job's id.
    pub id: String,
    /// The lease token.
    pub lease_token: String,
    /// Any JSON value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<Box<RawValue>>,
}

/// One failure in `POST /v1/acks`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FailAck {
    /// The job's id.
    pub id: String,
    /// The lease token.
    pub lease_token: String,
    /// What went wrong.
    pub error: String,
    /// False sends the job straight to `dead` (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retryable: Option<bool>,
}

/// `POST /v1/acks`: completions and failures in one call.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
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
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AckResult {
    /// The job's id.
    pub id: String,
    /// The job's new state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// Why the ack was refused (e.g. `LEASE_LOST`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorDetail>,
}

/// The answer to `POST /v1/acks`: completions first, then failures, each in request order.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AcksResponse {
    /// One result per ack.
    pub results: Vec<AckResult>,
}

/// One transition in a job's history.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JobEventView {
    /// When.
    pub at: String,
    /// State before (absent for creation).
    pub from: Option<String>,
    /// State after.
    pub to: String,
    /// The attempt concerned.
    pub attempt: u32,
    /// The worker involved.
    pub worker: Option<String>,
    /// Why: enqueued, due, leased, completed, error, lease_expired, timeout, retried, cancelled.
    pub reason: String,
    /// The error, for failures.
    pub error: Option<String>,
}

/// One failed attempt's error.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JobErrorView {
    /// The attempt.
    pub attempt: u32,
    /// When it failed.
    pub at: String,
    /// Why: error, lease_expired or timeout.
    pub reason: String,
    /// The message.
    pub error: String,
}

/// A job as `GET /v1/jobs/{id}` shows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JobView {
    /// The job's id.
    pub id: String,
    /// Its queue.
    pub queue: String,
    /// Its state.
    pub state: String,
    /// The payload.
    pub payload: Box<RawValue>,
    /// Higher runs first.
    pub priority: i32,
    /// Attempts made.
    pub attempt: u32,
    /// Attempts allowed.
    pub max_attempts: u32,
    /// Per-attempt timeout.
    pub timeout: Option<String>,
    /// Unique key.
    pub unique_key: Option<String>,
    /// Enqueued at.
    pub created_at: String,
    /// Due at.
    pub run_at: String,
    /// Current or last attempt started at.
    pub started_at: Option<String>,
    /// Finished at.
    pub finished_at: Option<String>,
    /// Lease expiry while active.
    pub lease_expires_at: Option<String>,
    /// Attempt timeout while active.
    pub timeout_at: Option<String>,
    /// Current or last worker.
    pub worker: Option<String>,
    /// The last error.
    pub last_error: Option<String>,
    /// The result of a completed job.
    pub result: Option<Box<RawValue>>,
    /// Every failed attempt (absent in listings).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<JobErrorView>,
    /// Every transition (absent in listings).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<JobEventView>,
}

/// `GET /v1/queues/{queue}/jobs`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JobListResponse {
    /// A page of jobs in id order.
    pub jobs: Vec<JobView>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// Job counts of a queue per state.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct StateCounts {
    /// Delayed or waiting to retry.
    pub scheduled: u64,
    /// Ready to lease.
    pub available: u64,
    /// Leased.
    pub active: u64,
    /// Done.
    pub completed: u64,
    /// Failed for good.
    pub dead: u64,
    /// Cancelled.
    pub cancelled: u64,
}

/// Running totals of a queue since this server started.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct QueueTotals {
    /// Attempts that completed.
    pub completed: u64,
    /// Attempts that failed (errors, lease expiries and timeouts).
    pub failed: u64,
    /// Failed attempts that were scheduled to retry.
    pub retries: u64,
    /// Jobs that went dead.
    pub dead: u64,
    /// Leases that expired without a heartbeat.
    pub stalled: u64,
    /// Attempts that timed out.
    pub timeouts: u64,
    /// Mean run time of finished attempts, in milliseconds.
    pub mean_processing_ms: f64,
}

/// A queue as `GET /v1/queues` shows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct QueueView {
    /// The queue.
    pub name: String,
    /// Whether leasing is paused.
    pub paused: bool,
    /// Jobs per state.
    pub counts: StateCounts,
    /// Totals since start-up.
    pub totals: QueueTotals,
}

/// `GET /v1/queues`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct QueuesResponse {
    /// Every known queue, by name.
    pub queues: Vec<QueueView>,
}

/// `POST /v1/queues/{queue}/dead/retry`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeadRetryRequest {
    /// Only these dead jobs; all of the queue's when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ids: Option<Vec<String>>,
}

/// The answer to a dead-letter retry.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeadRetryResponse {
    /// Jobs made available again.
    pub retried: u64,
}

/// The answer to a dead-letter purge.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeadPurgeResponse {
    /// Jobs deleted.
    pub purged: u64,
}

/// The answer to pause and resume.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct QueuePausedResponse {
    /// The queue.
    pub name: String,
    /// Whether it is paused now.
    pub paused: bool,
}

/// The answer to a job retry or cancel.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JobStateResponse {
    /// The job's id.
    pub id: String,
    /// Its new state.
    pub state: String,
}

/// `POST /v1/keys`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyCreateRequest {
    /// A name for people, unique among live keys.
    pub name: String,
    /// admin, producer, worker or reader.
    pub role: String,
}

/// A key as listings show it (never the key itself).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KeyView {
    /// The key's id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its role.
    pub role: String,
    /// The key's first characters.
    pub prefix: String,
    /// Created at.
    pub created_at: String,
    /// Revoked at.
    pub revoked_at: Option<String>,
}

/// The answer to `POST /v1/keys`: the only time the key is shown.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KeyCreatedResponse {
    /// The secret key; store it now.
    pub key: String,
    /// What was stored.
    #[serde(flatten)]
    pub info: KeyView,
}

/// `GET /v1/keys`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KeysResponse {
    /// Every key, revoked ones included.
    pub keys: Vec<KeyView>,
}

/// `GET /health`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HealthResponse {
    /// `ok`.
    pub status: String,
    /// Seconds since start.
    pub uptime_s: u64,
    /// rampart's version.
    pub version: String,
}

/// `GET /health/ready`: whether this node can serve, component by component;
/// answered with 200 when `ready`, 503 when not.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReadyResponse {
    /// `ready` when every component is up, else `not_ready`.
    pub status: String,
    /// Each component's state.
    pub components: ReadyComponents,
}

/// The components `GET /health/ready` checks, one field each, so that
/// further ones can join without changing the shape of the others.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReadyComponents {
    /// The job store.
    pub store: StoreHealth,
}

/// The job store's part of `GET /health/ready`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoreHealth {
    /// `up` or `down`.
    pub status: String,
    /// `sqlite` or `postgres`.
    pub backend: String,
    /// How long a trivial query took, in milliseconds, when up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<f64>,
    /// Why the store is down.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// `POST /v1/ratelimit/check`: one check (`policy`, `key`, `cost`) or
/// several (`checks`), exactly one of the two forms.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitCheckRequest {
    /// The policy's name (one check).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    /// The key counted against, e.g. a user id or an IP (one check).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// What the check costs, at least 1 (default 1; one check).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost: Option<u64>,
    /// 1 to 16 checks, allowed only if all allow (several checks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checks: Option<Vec<RateLimitCheck>>,
}

/// One check of a multi-check request.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitCheck {
    /// The policy's name.
    pub policy: String,
    /// The key counted against.
    pub key: String,
    /// What the check costs, at least 1 (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost: Option<u64>,
}

/// The answer to a check, allowed or not (both are `200`: the app decides).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RateLimitCheckResponse {
    /// Whether the check was admitted and counted.
    pub allowed: bool,
    /// The policy that decided: the first that denied, or when all allowed
    /// the one with the least remaining.
    pub policy: String,
    /// That policy's limit.
    pub limit: u64,
    /// What it could still admit now.
    pub remaining: u64,
    /// Seconds until its counters reset, rounded up.
    pub reset_after_s: u64,
    /// When denied, seconds until the same check would be admitted, rounded
    /// up; `null` when allowed.
    pub retry_after_s: Option<u64>,
    /// Whether a policy's `on_backend_error` decided because its backend
    /// (Redis) failed or was being skipped after a failure.
    #[serde(default)]
    pub fallback: bool,
}

/// A rate-limit policy as `GET /v1/ratelimit/policies` shows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RateLimitPolicyView {
    /// Its name.
    pub name: String,
    /// What a key may do per window.
    pub limit: u64,
    /// The window (`"5m"`).
    pub window: String,
    /// `sliding_window`, `fixed_window` or `gcra`.
    pub algorithm: String,
    /// The burst, for `gcra`; `null` for the others.
    pub burst: Option<u64>,
    /// How the gate derives the key: `ip`, `api_key` or `header:NAME`.
    pub key: String,
    /// Where the counters live (`memory` or `redis`).
    pub backend: String,
    /// Where the policy was defined: `config` or `api` (kept in the store).
    pub source: String,
    /// What a check does when the backend fails.
    pub on_backend_error: String,
    /// Checks allowed since start (each policy of an allowed multi-check counts one).
    pub allowed: u64,
    /// Checks denied since start (a denied multi-check counts for the policy that denied).
    pub denied: u64,
    /// Checks decided by `on_backend_error` since start, because Redis failed.
    pub fallbacks: u64,
}

/// `GET /v1/ratelimit/policies`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RateLimitPoliciesResponse {
    /// Every policy, by name.
    pub policies: Vec<RateLimitPolicyView>,
    /// The Redis backend's state; `null` when no `redis_url` is set.
    pub redis: Option<RedisBackendView>,
}

/// How the limiter's Redis backend is doing.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RedisBackendView {
    /// `up` (checks count in Redis) or `down` (checks follow each policy's
    /// `on_backend_error` while it is probed).
    pub status: String,
    /// Since when, RFC 3339; `null` before the first attempt.
    pub since: Option<String>,
    /// Why it is down.
    pub last_error: Option<String>,
    /// Calls that failed since start.
    pub failures: u64,
}

/// `PUT /v1/ratelimit/policies/{name}`: a policy kept in the store, seen by
/// every node; the keys of `[ratelimit.policies.NAME]`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitPolicyPut {
    /// What a key may do per window (required).
    pub limit: Option<u64>,
    /// The window, a duration such as `"5m"` (required).
    pub window: Option<String>,
    /// `sliding_window` (default), `fixed_window` or `gcra`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub algorithm: Option<String>,
    /// With `gcra`: how many may come at once (default `limit`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub burst: Option<u64>,
    /// How the gate derives the key: `ip` (default), `api_key` or `header:NAME`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// `memory` or `redis` (default: `redis` when the server has a Redis).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backend: Option<String>,
    /// `local` (default), `allow` or `deny`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_backend_error: Option<String>,
}

/// `GET /v1/ratelimit/policies/{name}/keys/{key}`: a key's state, nothing counted.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RateLimitKeyView {
    /// The policy.
    pub policy: String,
    /// The key.
    pub key: String,
    /// The policy's limit.
    pub limit: u64,
    /// What the key could still be admitted now.
    pub remaining: u64,
    /// Seconds until its counters reset, rounded up.
    pub reset_after_s: u64,
    /// Whether the key has no state that matters (it decides as new).
    pub fresh: bool,
}

/// The answer to `DELETE /v1/ratelimit/policies/{name}/keys/{key}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RateLimitResetResponse {
    /// Whether the key had a state to forget.
    pub reset: bool,
}
