//! The JSON shapes of the integrations report and the admin diagnostics.

use rampart_core::time::UnixMillis;
use serde::{Deserialize, Serialize};

use super::{BreakerView, CronView, MemoryHealth, QueueView, RedisBackendView, StoreHealth};

/// `PUT /v1/integrations/{platform}/connections/{id}`: how one of the app's
/// connections to a third-party platform stands. Optional fields left out
/// keep the values of the previous report.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IntegrationReportRequest {
    /// `connected`, `error` or `expired`.
    #[schema(pattern = r"^(connected|error|expired)$")]
    pub status: String,
    /// When the app last synced through it, RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_synced_at: Option<UnixMillis>,
    /// The last error the app saw on it (at most 2000 characters; emails,
    /// tokens and card-like numbers in it are replaced before it is stored).
    #[serde(default, deserialize_with = "rampart_core::nul::free_opt", skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 2000)]
    pub last_error: Option<String>,
    /// When that error happened, RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error_at: Option<UnixMillis>,
    /// When its access token expires, RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_expires_at: Option<UnixMillis>,
}

/// A reported connection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct IntegrationView {
    /// The platform.
    pub platform: String,
    /// The app's id of the connection.
    pub id: String,
    /// `connected`, `error` or `expired`.
    pub status: String,
    /// When the app last synced through it.
    pub last_synced_at: Option<UnixMillis>,
    /// The last error reported.
    pub last_error: Option<String>,
    /// When that error happened.
    pub last_error_at: Option<UnixMillis>,
    /// When its access token expires.
    pub token_expires_at: Option<UnixMillis>,
    /// The name of the API key that last reported it.
    pub reported_by: String,
    /// When it was first reported.
    pub created_at: UnixMillis,
    /// When it was last reported.
    pub updated_at: UnixMillis,
}

/// One platform in the integrations diagnostics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PlatformDiagnostics {
    /// The platform.
    pub platform: String,
    /// Its connections.
    pub total: u64,
    /// Those `connected`.
    pub connected: u64,
    /// Those in `error`.
    pub error: u64,
    /// Those `expired`.
    pub expired: u64,
    /// Its most recently reported connections, newest first.
    pub recent: Vec<IntegrationView>,
}

/// A push queue's target in the diagnostics, with its host's breaker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PushTargetView {
    /// The push queue.
    pub queue: String,
    /// Where its jobs are delivered, its query values hidden (`?token=***`).
    pub target: String,
    /// The breaker of the target's host (`push:HOST:PORT`).
    pub breaker: String,
    /// That breaker's state: `closed` (delivering), `open` or `half_open`;
    /// `closed` before the first delivery.
    pub state: String,
    /// When the breaker last opened because of failed deliveries.
    pub last_error_at: Option<String>,
    /// Why it did (`5 consecutive failures`).
    pub last_error: Option<String>,
    /// When it last closed again after a successful probe.
    pub last_recovered_at: Option<String>,
    /// When a delivery to the host last succeeded (this node, since start).
    pub last_success_at: Option<String>,
    /// When a delivery to the host last failed (this node, since start).
    pub last_failure_at: Option<String>,
}

/// `GET /v1/admin/diagnostics/integrations`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct IntegrationsDiagnostics {
    /// Every platform, by name.
    pub platforms: Vec<PlatformDiagnostics>,
    /// Connections whose token expires within the horizon (or has expired),
    /// soonest first.
    pub expiring: Vec<IntegrationView>,
    /// The horizon (`diagnostics.token_expiry_horizon`), e.g. `"7d"`.
    pub token_expiry_horizon: String,
    /// Every push queue's target.
    pub push_targets: Vec<PushTargetView>,
    /// Every circuit breaker, as `GET /v1/breakers` lists them.
    pub breakers: Vec<BreakerView>,
}

/// A background loop in the diagnostics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LoopView {
    /// The loop (`reaper`, `scheduler`, …).
    pub name: String,
    /// `ok`, `failing` (its last run failed) or `idle` (not run yet).
    pub status: String,
    /// When it last finished a run.
    pub last_run_at: Option<String>,
    /// When a run last succeeded.
    pub last_ok_at: Option<String>,
    /// The error of the last failed run.
    pub last_error: Option<String>,
    /// When a run last failed.
    pub last_error_at: Option<String>,
    /// Runs since start.
    pub runs: u64,
    /// Failed runs since start.
    pub failures: u64,
}

/// `GET /v1/admin/diagnostics/background-jobs`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BackgroundJobsDiagnostics {
    /// The store, pinged (bounded in time).
    pub store: StoreHealth,
    /// The rate limiter's Redis; `null` without `redis_url`.
    pub redis: Option<RedisBackendView>,
    /// Every queue with its counts.
    pub queues: Vec<QueueView>,
    /// Every background loop of this node, by name.
    pub loops: Vec<LoopView>,
    /// Every cron schedule with its last run (status, start, end, error).
    pub cron: Vec<CronView>,
    /// This node's memory and Redis's, read when asked.
    pub memory: MemoryHealth,
    /// The tenants with the most dead jobs in each queue (at most five
    /// per queue, most first); jobs without a tenant are not counted.
    #[serde(default)]
    pub dead_tenants: Vec<DeadTenantView>,
    /// What apps report: caches (and the rules they breach) and error
    /// events of the last hour; `null` when the store cannot be read.
    #[serde(default)]
    pub reported: Option<super::ReportedHealth>,
}

/// A tenant's dead jobs in one queue.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DeadTenantView {
    /// The queue.
    pub queue: String,
    /// The tenant.
    pub tenant: String,
    /// Its dead jobs in the queue.
    pub dead: u64,
}
