//! The shapes of `GET /health` and `GET /health/ready`.

use serde::{Deserialize, Serialize};

use super::RedisBackendView;

/// `GET /health`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
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
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReadyResponse {
    /// `ready` when every component is up, else `not_ready`.
    pub status: String,
    /// Each component's state.
    pub components: ReadyComponents,
}

/// The components `GET /health/ready` checks, one field each, so that
/// further ones can join without changing the shape of the others.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
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
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
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
    /// The queues whose readiness requires workers (`ready_requires_workers`):
    /// the node is not ready while any has fewer than it requires.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub queues: Vec<QueueWorkersHealth>,
}

/// A queue whose readiness requires workers.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct QueueWorkersHealth {
    /// The queue.
    pub queue: String,
    /// Workers (by name, or by key) that leased from it on this node within its lease time.
    pub seen: u64,
    /// How many it requires (`ready_requires_workers`).
    pub required: u64,
}

/// The jobs' part of `GET /health/ready`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
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
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
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
