//! The JSON shapes of the HTTP API, shared by the route handlers and the
//! typed client so the two cannot drift apart.
//!
//! Requests refuse unknown fields (the error names them). Times are RFC 3339
//! UTC strings, durations human strings (`"30s"`), ids opaque strings, and
//! payloads and results arbitrary JSON carried through unparsed. Request
//! strings follow the NUL rule of `rampart_core::text` as they are read:
//! names and keys (`text::key`) refuse a NUL, naming the field, and free
//! text (`text::free`) gets U+FFFD in its place.

use rampart_core::text;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

mod alerts;
pub use alerts::*;
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
    #[serde(default, deserialize_with = "text::key_opt", skip_serializing_if = "Option::is_none")]
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
    #[serde(default, deserialize_with = "text::key_opt", skip_serializing_if = "Option::is_none")]
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
    #[serde(deserialize_with = "text::key")]
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
    #[serde(deserialize_with = "text::key")]
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
    #[serde(deserialize_with = "text::key")]
    pub lease_token: String,
    /// What went wrong.
    #[serde(deserialize_with = "text::free")]
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
    #[serde(deserialize_with = "text::key")]
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
    /// True when this ack repeated the one that had already ended the
    /// attempt (same lease token and outcome): nothing changed, `state` is
    /// the job's state now. Absent otherwise.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub already: bool,
}

/// One completion in `POST /v1/acks`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompleteAck {
    /// The job's id.
    pub id: String,
    /// The lease token.
    #[serde(deserialize_with = "text::key")]
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
    #[serde(deserialize_with = "text::key")]
    pub lease_token: String,
    /// What went wrong.
    #[serde(deserialize_with = "text::free")]
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
    /// True when this ack repeated the one that had already ended the
    /// attempt: nothing changed. Absent otherwise.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub already: bool,
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
    /// Where rampart pushes the queue's jobs, for a push queue.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// The key push deliveries are signed with (`whsec_…`): only in
    /// `GET /v1/queues/{queue}`, and only to admin keys.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
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
    #[serde(deserialize_with = "text::key")]
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
    /// The job store: the only component whose failure makes the node not ready.
    pub store: StoreHealth,
    /// The rate limiter's Redis, when one is configured. Down is degraded,
    /// not unready: checks follow each policy's `on_backend_error`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redis: Option<RedisBackendView>,
    /// The workers leasing from this node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workers: Option<WorkersHealth>,
    /// Job figures of the whole store; absent while it is down.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jobs: Option<JobsHealth>,
}

/// The workers' part of `GET /health/ready`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WorkersHealth {
    /// Workers (by name, or by key when they give none) that leased from
    /// this node in the last minute.
    pub seen_last_minute: u64,
    /// Jobs leased now, on every node; absent while the store is down.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_leases: Option<u64>,
    /// Leases that expired and that no reaper has failed yet; absent while
    /// the store is down.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stale_leases: Option<u64>,
}

/// The jobs' part of `GET /health/ready`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JobsHealth {
    /// Ready to lease now.
    pub available: u64,
    /// Leased now.
    pub active: u64,
    /// Completed since UTC midnight, as every node last stored its totals
    /// (up to `monitoring.interval` behind).
    pub completed_today: u64,
    /// Gone dead since UTC midnight, likewise.
    pub dead_today: u64,
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
    #[serde(default, deserialize_with = "text::key_opt", skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    /// The key counted against, e.g. a user id or an IP (one check).
    #[serde(default, deserialize_with = "text::key_opt", skip_serializing_if = "Option::is_none")]
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
    #[serde(deserialize_with = "text::key")]
    pub policy: String,
    /// The key counted against.
    #[serde(deserialize_with = "text::key")]
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
    #[serde(default, deserialize_with = "text::key_opt", skip_serializing_if = "Option::is_none")]
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

/// A circuit breaker as `GET /v1/breakers` shows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BreakerView {
    /// Its name.
    pub name: String,
    /// `shared`: kept in the store, the same on every node (driven over
    /// HTTP); `node`: in this node's memory only (driven by rampart itself,
    /// e.g. `push:<host>` for push delivery).
    pub scope: String,
    /// `closed`, `open` or `half_open`, as a caller would meet it now.
    pub state: String,
    /// When the state began, RFC 3339; `null` for a configured breaker not
    /// used yet.
    pub since: Option<String>,
    /// When not admitting calls, seconds until it may, rounded up.
    pub retry_after_s: Option<u64>,
    /// Failures in a row while closed.
    pub consecutive_failures: u32,
    /// Calls counted in the failure-rate window (0 without the rule).
    pub window_calls: u32,
    /// Of which failed.
    pub window_failures: u32,
    /// Half-open probes admitted and not yet recorded.
    pub probes_in_flight: u32,
    /// The policy this node applies to it.
    pub policy: BreakerPolicyView,
    /// Node breakers: successes, failures and rejections since start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calls: Option<BreakerCallsView>,
    /// The latest transitions, oldest first: always in `GET
    /// /v1/breakers/{name}` (empty when there were none); in the list only a
    /// node breaker's, when it has some.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transitions: Option<Vec<BreakerTransitionView>>,
}

/// A breaker's policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BreakerPolicyView {
    /// Failures in a row that open it.
    pub failure_threshold: u32,
    /// The failed fraction of recent calls that opens it; `null` without the rule.
    pub failure_rate: Option<f64>,
    /// How far back calls count for the rate (`"60s"`); `null` without the rule.
    pub window: Option<String>,
    /// Fewest calls before the rate counts; `null` without the rule.
    pub min_calls: Option<u32>,
    /// How long it stays open (`"30s"`).
    pub cooldown: String,
    /// Probes admitted at once while half-open.
    pub half_open_max: u32,
    /// Successes slower than this count as failures (`"2s"`); `null` without the rule.
    pub slow_call: Option<String>,
}

/// What an in-process breaker has counted since the node started.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BreakerCallsView {
    /// Successes recorded.
    pub successes: u64,
    /// Failures recorded.
    pub failures: u64,
    /// Calls refused.
    pub rejections: u64,
}

/// A change of a breaker's state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BreakerTransitionView {
    /// When, RFC 3339.
    pub at: String,
    /// The state before.
    pub from: String,
    /// The state after.
    pub to: String,
    /// Why (`5 consecutive failures`).
    pub reason: String,
}

/// `GET /v1/breakers`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BreakersResponse {
    /// Shared breakers (used, or configured), then this node's, each by name.
    pub breakers: Vec<BreakerView>,
}

/// The answer to `POST /v1/breakers/{name}/acquire` (`200` either way).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BreakerAcquireResponse {
    /// Whether to make the call; record its outcome afterwards.
    pub allowed: bool,
    /// The breaker's state after the acquire.
    pub state: String,
    /// Whether the call is a half-open probe whose outcome decides the state.
    pub probe: bool,
    /// When refused, seconds until a call may be admitted, rounded up;
    /// `null` when allowed.
    pub retry_after_s: Option<u64>,
}

/// `POST /v1/breakers/{name}/record`: how an admitted call ended.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BreakerRecordRequest {
    /// `success` or `failure`.
    pub outcome: String,
    /// How long the call took, in milliseconds (default 0); a success
    /// slower than the policy's `slow_call` counts as a failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
}

/// The answer to a record or a reset.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BreakerStepResponse {
    /// The breaker's state after the step.
    pub state: String,
    /// The transition the step caused; `null` when the state stayed.
    pub transition: Option<BreakerTransitionView>,
}

/// A cron schedule: `GET /v1/cron/{name}`, and each item of `GET /v1/cron`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CronView {
    /// Its name.
    pub name: String,
    /// The cron expression (5 or 6 fields, or a macro such as `@hourly`).
    pub schedule: String,
    /// The IANA zone it is read in.
    pub timezone: String,
    /// The queue its jobs go to; `null` for rampart's own schedules, which run in process.
    pub queue: Option<String>,
    /// Its jobs' payload.
    pub payload: Box<RawValue>,
    /// What it is for.
    pub description: String,
    /// `skip` or `run_once`: what ticks missed during downtime do.
    pub misfire: String,
    /// `config`, `api` or `builtin`.
    pub source: String,
    /// A paused schedule's ticks pass without runs.
    pub paused: bool,
    /// The next tick, RFC 3339; `null` when it never fires again.
    pub next_run_at: Option<String>,
    /// Its latest run.
    pub last_run: Option<CronRunView>,
    /// When it was first stored.
    pub created_at: String,
    /// When it was last changed.
    pub updated_at: String,
}

/// `GET /v1/cron`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CronListResponse {
    /// Every schedule, by name.
    pub schedules: Vec<CronView>,
}

/// `PUT /v1/cron/{name}`: a schedule kept in the store, fired by every node.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CronPut {
    /// The cron expression: 5 fields, 6 with seconds first, or `@hourly`,
    /// `@daily` (`@midnight`), `@weekly`, `@monthly`, `@yearly` (`@annually`).
    pub schedule: String,
    /// An IANA zone (default `UTC`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    /// The queue each run's job goes to.
    pub queue: String,
    /// Each job's payload, any JSON (default `{}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<Box<RawValue>>,
    /// What it is for.
    #[serde(default, deserialize_with = "text::free_opt", skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// `skip` (default) or `run_once`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub misfire: Option<String>,
}

/// One run of a schedule.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CronRunView {
    /// The run's id (a cursor for paging).
    pub id: String,
    /// The schedule.
    pub name: String,
    /// The tick it stands for, RFC 3339 (the trigger time for a manual run).
    pub scheduled_at: String,
    /// When its job was enqueued.
    pub enqueued_at: String,
    /// Its job; `null` for rampart's own work.
    pub job_id: Option<String>,
    /// `schedule`, `manual` or `misfire`.
    pub trigger: String,
    /// Its job's state as last seen: `available`, `active`, `completed`, `dead`, ….
    pub status: String,
    /// When its latest attempt started.
    pub started_at: Option<String>,
    /// When it finished.
    pub finished_at: Option<String>,
    /// Attempts made.
    pub attempts: u32,
    /// The last error.
    pub error: Option<String>,
    /// Its job's result; for retention, what it deleted.
    pub result: Option<Box<RawValue>>,
}

/// `GET /v1/cron/{name}/runs`: newest first.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CronRunsResponse {
    /// A page of runs, newest first.
    pub runs: Vec<CronRunView>,
    /// Pass as `cursor` for the next (older) page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// `GET /v1/monitoring/queue-metrics`: the latest sample of every queue.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct QueueMetricsResponse {
    /// When the samples were taken, RFC 3339; `null` before the first.
    pub sampled_at: Option<String>,
    /// Time between samples (`monitoring.interval`).
    pub interval: String,
    /// Samples kept per queue (`monitoring.retain`).
    pub retain: usize,
    /// One per queue, by name.
    pub queues: Vec<QueueSampleView>,
}

/// `GET /v1/monitoring/queue-metrics/{queue}`: a queue's latest sample and
/// the ones kept before it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct QueueMetricsHistory {
    /// The queue.
    pub queue: String,
    /// Time between samples.
    pub interval: String,
    /// The latest sample.
    pub latest: QueueSampleView,
    /// Every sample kept, oldest first (the latest last).
    pub samples: Vec<QueueSampleView>,
}

/// One queue at one sampling.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueueSampleView {
    /// The queue.
    pub queue: String,
    /// When, RFC 3339.
    pub at: String,
    /// Jobs ready to lease (`available`).
    pub waiting: u64,
    /// Jobs waiting for their time (`scheduled`: delayed or retrying).
    pub delayed: u64,
    /// Jobs leased.
    pub active: u64,
    /// Attempts that completed, every node's, since the totals were first stored.
    pub completed: u64,
    /// Jobs that went dead, likewise.
    pub dead: u64,
    /// Attempts that failed, likewise.
    pub failed: u64,
    /// Failed attempts that will retry, likewise.
    pub retries: u64,
    /// Leases that expired, likewise.
    pub stalled: u64,
    /// Attempts that ran past their timeout, likewise.
    pub timeouts: u64,
    /// Attempts that ended on this node since the previous sample.
    pub interval_attempts: u64,
    /// Of those, the share that failed (0 to 1).
    pub failed_rate: f64,
    /// Their mean run time, in milliseconds.
    pub mean_processing_ms: f64,
    /// Their 95th percentile run time, in milliseconds.
    pub p95_processing_ms: f64,
    /// How long the store took to answer a trivial query, in milliseconds.
    pub store_latency_ms: f64,
}

/// `GET /v1/monitoring/queue-health`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct QueueHealthResponse {
    /// One per sampled queue, by name.
    pub queues: Vec<QueueHealthView>,
}

/// Whether a queue is healthy, and the alerts firing on it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct QueueHealthView {
    /// The queue.
    pub queue: String,
    /// True when no alert fires on it.
    pub healthy: bool,
    /// The alerts firing on it.
    pub alerts: Vec<AlertView>,
}

/// An alert firing now.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AlertView {
    /// Its name (its rule).
    pub name: String,
    /// The queue it is about, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue: Option<String>,
    /// What is wrong.
    pub message: String,
    /// Since when it fires, RFC 3339.
    pub since: String,
}

/// `GET /v1/monitoring/system-health`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SystemHealthResponse {
    /// True when `status` is `healthy`.
    pub healthy: bool,
    /// `unhealthy` while the store is down, `degraded` while an alert fires
    /// or Redis is down, else `healthy`.
    pub status: String,
    /// Each part's state.
    pub components: SystemComponents,
    /// When this was answered, RFC 3339.
    pub timestamp: String,
}

/// The parts `GET /v1/monitoring/system-health` reports.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SystemComponents {
    /// The job store.
    pub store: StoreHealth,
    /// The rate limiter's Redis; `null` when none is configured.
    pub redis: Option<RedisBackendView>,
    /// The queues as last sampled.
    pub queues: QueuesHealth,
    /// The circuit breakers in use (shared and this node's); `null` when
    /// the store cannot be read.
    pub breakers: Option<BreakersHealth>,
    /// The rate limiter's policies and their counters on this node.
    pub ratelimit: RateLimitHealth,
    /// The alerts firing now.
    pub alerts: AlertsHealth,
}

/// The circuit breakers' part of system health.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BreakersHealth {
    /// Breakers in use.
    pub count: usize,
    /// The names of those open: calls through them fail fast.
    pub open: Vec<String>,
    /// The names of those letting probes through.
    pub half_open: Vec<String>,
}

/// The queues' part of system health.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct QueuesHealth {
    /// When they were last sampled, RFC 3339; `null` before the first
    /// sample or with monitoring off.
    pub sampled_at: Option<String>,
    /// Queues known.
    pub count: usize,
    /// Jobs ready to lease, all queues together.
    pub waiting: u64,
    /// Jobs leased, all queues together.
    pub active: u64,
    /// Queues with an alert firing on them.
    pub unhealthy: usize,
}

/// The rate limiter's part of system health.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RateLimitHealth {
    /// Policies in force.
    pub policies: usize,
    /// Checks admitted on this node since start, all policies together.
    pub allowed: u64,
    /// Checks refused, likewise.
    pub denied: u64,
    /// Checks decided by a fallback, likewise.
    pub fallbacks: u64,
}

/// The alerts' part of system health.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AlertsHealth {
    /// How many fire.
    pub firing: usize,
    /// Which.
    pub alerts: Vec<AlertView>,
    /// Alert channels whose last send from this node failed (they retry
    /// with backoff).
    #[serde(default)]
    pub failing_channels: Vec<String>,
}
