//! The JSON shapes of the integrations report and the admin diagnostics.

use serde::{Deserialize, Serialize};

use super::{QueueView, RedisBackendView, StoreHealth};

/// `PUT /v1/integrations/{platform}/connections/{id}`: how one of the app's
/// connections to a third-party platform stands. Optional fields left out
/// keep the values of the previous report.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntegrationReportRequest {
    /// `connected`, `error` or `expired`.
    pub status: String,
    /// When the app last synced through it, RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_synced_at: Option<String>,
    /// The last error the app saw on it (at most 2000 characters; emails,
    /// tokens and card-like numbers in it are replaced before it is stored).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// When that error happened, RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error_at: Option<String>,
    /// When its access token expires, RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_expires_at: Option<String>,
}

/// A reported connection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IntegrationView {
    /// The platform.
    pub platform: String,
    /// The app's id of the connection.
    pub id: String,
    /// `connected`, `error` or `expired`.
    pub status: String,
    /// When the app last synced through it.
    pub last_synced_at: Option<String>,
    /// The last error reported.
    pub last_error: Option<String>,
    /// When that error happened.
    pub last_error_at: Option<String>,
    /// When its access token expires.
    pub token_expires_at: Option<String>,
    /// The name of the API key that last reported it.
    pub reported_by: String,
    /// When it was first reported.
    pub created_at: String,
    /// When it was last reported.
    pub updated_at: String,
}

/// One platform in the integrations diagnostics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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

/// How an outbound dependency rampart calls (a push target, a circuit
/// breaker's service) last fared.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutboundView {
    /// Its name.
    pub name: String,
    /// Its state in its own words (`closed`, `open`, `healthy`, `failing`, …).
    pub state: String,
    /// When a call last succeeded.
    pub last_success_at: Option<String>,
    /// The last error.
    pub last_error: Option<String>,
    /// When that error happened.
    pub last_error_at: Option<String>,
}

/// `GET /v1/admin/diagnostics/integrations`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IntegrationsDiagnostics {
    /// Every platform, by name.
    pub platforms: Vec<PlatformDiagnostics>,
    /// Connections whose token expires within the horizon (or has expired),
    /// soonest first.
    pub expiring: Vec<IntegrationView>,
    /// The horizon (`diagnostics.token_expiry_horizon`), e.g. `"7d"`.
    pub token_expiry_horizon: String,
    /// Push targets, when this server delivers to any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub push_targets: Option<Vec<OutboundView>>,
    /// Circuit breakers, when this server has any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub breakers: Option<Vec<OutboundView>>,
}

/// A background loop in the diagnostics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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

/// A cron schedule with its last run, in the diagnostics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CronScheduleView {
    /// The schedule's name.
    pub name: String,
    /// Its cron expression.
    pub schedule: String,
    /// What it does.
    pub description: Option<String>,
    /// Its last run, if any.
    pub last_run: Option<CronRunView>,
}

/// One run of a cron schedule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CronRunView {
    /// How it ended (`running`, `succeeded`, `failed`, …).
    pub status: String,
    /// When it started.
    pub started_at: String,
    /// When it ended.
    pub finished_at: Option<String>,
    /// Why it failed.
    pub error: Option<String>,
}

/// `GET /v1/admin/diagnostics/background-jobs`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BackgroundJobsDiagnostics {
    /// The store, pinged (bounded in time).
    pub store: StoreHealth,
    /// The rate limiter's Redis; `null` without `redis_url`.
    pub redis: Option<RedisBackendView>,
    /// Every queue with its counts.
    pub queues: Vec<QueueView>,
    /// Every background loop of this node, by name.
    pub loops: Vec<LoopView>,
    /// Cron schedules with their last run, when this server runs cron.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cron: Option<Vec<CronScheduleView>>,
}
