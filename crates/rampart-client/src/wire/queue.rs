//! The shapes of the queue routes: listings, dead letters, pause and resume, delete.

use rampart_core::id::JobId;
use rampart_core::id::QueueName;
use rampart_core::queue::QueueCounters;
use rampart_core::time::UnixMillis;
use serde::{Deserialize, Serialize};

/// Job counts of a queue per state.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StateCounts {
    /// Delayed or waiting to retry.
    pub scheduled: u64,
    /// Ready to lease.
    pub available: u64,
    /// Parked until something else happens (parents waiting on their
    /// children, jobs waiting for an event or its wait's timeout).
    #[serde(default)]
    pub waiting: u64,
    /// Leased.
    pub active: u64,
    /// Done.
    pub completed: u64,
    /// Failed for good.
    pub dead: u64,
    /// Cancelled.
    pub cancelled: u64,
}

/// A queue's totals of every node, kept in the store (as last sampled) plus
/// what the answering node counted since, built from its [`QueueCounters`].
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
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

impl From<&QueueCounters> for QueueTotals {
    fn from(c: &QueueCounters) -> Self {
        QueueTotals {
            completed: c.completed,
            failed: c.failed,
            retries: c.retries,
            dead: c.dead,
            stalled: c.stalled,
            timeouts: c.timeouts,
            mean_processing_ms: c.mean_ms(),
        }
    }
}

/// A queue as `GET /v1/queues` shows it.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct QueueView {
    /// The queue.
    pub name: QueueName,
    /// Whether leasing is paused.
    pub paused: bool,
    /// Jobs per state.
    pub counts: StateCounts,
    /// Totals since start-up.
    pub totals: QueueTotals,
    /// Where rampart pushes the queue's jobs, for a push queue: its query
    /// values hidden (`?token=***`), except for an admin key's
    /// `GET /v1/queues/{queue}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// The key push deliveries are signed with (`whsec_…`): only in
    /// `GET /v1/queues/{queue}`, and only to admin keys.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    /// Its start rate (`[queues.NAME] rate`) and the windows open now;
    /// absent for a queue without one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<QueueRateView>,
}

/// A queue's start rate: at most `rate` jobs start per window, each window
/// opening at its first start (per group of `key`).
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct QueueRateView {
    /// Starts per window, e.g. `"100/1m"`.
    pub rate: String,
    /// What splits the starts into groups with a window each (`"tenant"`);
    /// absent: one window for the whole queue.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Jobs started in the windows open now.
    pub started: u64,
    /// Groups with a window open now (at most 1 without a key).
    pub groups: u64,
    /// Groups whose window is full: their jobs wait until it ends.
    pub full: u64,
    /// When the earliest full window ends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reopens_at: Option<UnixMillis>,
}

/// `GET /v1/queues`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct QueuesResponse {
    /// Every known queue, by name.
    pub queues: Vec<QueueView>,
}

/// `POST /v1/queues/{queue}/dead/retry`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeadRetryRequest {
    /// Only these dead jobs; all of the queue's when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ids: Option<Vec<JobId>>,
}

/// The answer to a dead-letter retry.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DeadRetryResponse {
    /// Jobs made available again.
    pub retried: u64,
}

/// The answer to a dead-letter purge.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DeadPurgeResponse {
    /// Jobs deleted.
    pub purged: u64,
}

/// The answer to a queue's delete: what went with it.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct QueueDeletedResponse {
    /// The queue.
    pub name: QueueName,
    /// Its finished jobs deleted, with their history.
    pub jobs: u64,
}

/// The answer to pause and resume.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct QueuePausedResponse {
    /// The queue.
    pub name: QueueName,
    /// Whether it is paused now.
    pub paused: bool,
}
