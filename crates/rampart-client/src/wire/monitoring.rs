//! The shapes of the monitoring routes (`/v1/monitoring/…`).

use rampart_core::duration::HumanDuration;
use rampart_core::time::UnixMillis;
use serde::{Deserialize, Serialize};

use super::{RedisBackendView, StoreHealth};

/// `GET /v1/monitoring/queue-metrics`: the latest sample of every queue.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct QueueMetricsResponse {
    /// When the samples were taken, RFC 3339; `null` before the first.
    pub sampled_at: Option<UnixMillis>,
    /// Time between samples (`monitoring.interval`).
    pub interval: HumanDuration,
    /// Samples kept per queue (`monitoring.retain`).
    pub retain: usize,
    /// One per queue, by name.
    pub queues: Vec<QueueSampleView>,
}

/// `GET /v1/monitoring/queue-metrics/{queue}`: a queue's latest sample and
/// the ones kept before it.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct QueueMetricsHistory {
    /// The queue.
    pub queue: String,
    /// Time between samples.
    pub interval: HumanDuration,
    /// The latest sample.
    pub latest: QueueSampleView,
    /// Every sample kept, oldest first (the latest last).
    pub samples: Vec<QueueSampleView>,
}

/// One queue at one sampling.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct QueueSampleView {
    /// The queue.
    pub queue: String,
    /// When, RFC 3339.
    pub at: UnixMillis,
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
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct QueueHealthResponse {
    /// One per sampled queue, by name.
    pub queues: Vec<QueueHealthView>,
}

/// Whether a queue is healthy, and the alerts firing on it.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct QueueHealthView {
    /// The queue.
    pub queue: String,
    /// True when no alert fires on it.
    pub healthy: bool,
    /// The alerts firing on it.
    pub alerts: Vec<AlertView>,
}

/// An alert firing now.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AlertView {
    /// Its name (its rule).
    pub name: String,
    /// The queue it is about, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue: Option<String>,
    /// What is wrong.
    pub message: String,
    /// Since when it fires, RFC 3339.
    pub since: UnixMillis,
}

/// `GET /v1/monitoring/system-health`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SystemHealthResponse {
    /// True when `status` is `healthy`.
    pub healthy: bool,
    /// `unhealthy` while the store is down, `degraded` while an alert fires
    /// or Redis is down, else `healthy`.
    pub status: String,
    /// Each part's state.
    pub components: SystemComponents,
    /// When this was answered, RFC 3339.
    pub timestamp: UnixMillis,
}

/// The parts `GET /v1/monitoring/system-health` reports.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
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
    /// This node's memory and Redis's.
    pub memory: MemoryHealth,
    /// What apps report: their caches and error events; `null` when the
    /// store cannot be read.
    pub reported: Option<ReportedHealth>,
}

/// Memory: this node's (read when asked) and the configured Redis's.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MemoryHealth {
    /// This node's resident memory, in bytes (`VmRSS`); `null` off Linux.
    pub resident_bytes: Option<u64>,
    /// This node's resident anonymous memory, in bytes (`RssAnon`: the
    /// heap and thread stacks); `null` off Linux.
    pub heap_bytes: Option<u64>,
    /// Redis's `used_memory`, in bytes; `null` without `redis_url`, while
    /// Redis is down, or (in system health, which reads the last sample)
    /// with monitoring off.
    pub redis_used_bytes: Option<u64>,
}

/// What apps report, in system health.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReportedHealth {
    /// Caches that report.
    pub caches: usize,
    /// `cache/rule` for each cache rule breached at its latest snapshot.
    pub caches_breaching: Vec<String>,
    /// Error events in the last hour.
    pub errors_last_hour: u64,
    /// Critical error events in the last hour (at most 1,000 counted).
    pub critical_last_hour: u64,
    /// AI calls reported in the last hour.
    #[serde(default)]
    pub usage_calls_last_hour: u64,
    /// Those that failed.
    #[serde(default)]
    pub usage_failures_last_hour: u64,
    /// What they cost, in USD.
    #[serde(default)]
    pub usage_cost_usd_last_hour: f64,
    /// Budgets, configured and kept through the API.
    #[serde(default)]
    pub budgets: usize,
    /// The windows of the current period whose spent + reserved reached
    /// their budget's limit, as `budget/subject` (`budget` for a global
    /// one); the first 20.
    #[serde(default)]
    pub budgets_exhausted: Vec<String>,
}

/// The circuit breakers' part of system health.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BreakersHealth {
    /// Breakers in use.
    pub count: usize,
    /// The names of those open: calls through them fail fast.
    pub open: Vec<String>,
    /// The names of those letting probes through.
    pub half_open: Vec<String>,
}

/// The queues' part of system health.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct QueuesHealth {
    /// When they were last sampled, RFC 3339; `null` before the first
    /// sample or with monitoring off.
    pub sampled_at: Option<UnixMillis>,
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
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
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
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
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
