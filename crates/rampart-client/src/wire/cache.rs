//! The shapes of cache telemetry: `POST /v1/caches/{name}/report` (what a
//! cache tells rampart) and `GET /v1/monitoring/caches[/{name}]` (what
//! rampart makes of it).

use rampart_core::id::CacheName;
use rampart_core::insight::{CacheEventKind, EvictionReason};
use rampart_core::time::UnixMillis;
use serde::{Deserialize, Serialize};

/// `POST /v1/caches/{name}/report`: a snapshot, events, or both.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CacheReportRequest {
    /// The cache's state now, its counters since it started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<CacheSnapshotBody>,
    /// What happened since the last report (evictions are kept in the log).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schema(max_items = 1000)]
    pub events: Vec<CacheEventBody>,
}

/// A cache's state: its size and cumulative counters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CacheSnapshotBody {
    /// Entries now.
    pub size: u64,
    /// Entries it holds at most; 0 for no bound.
    pub max_size: u64,
    /// Values loaded since it started.
    pub loads: u64,
    /// Lookups that hit since it started.
    pub hits: u64,
    /// Lookups that missed since it started.
    pub misses: u64,
    /// Mean load time in milliseconds.
    #[schema(minimum = 0, maximum = 604800000)]
    pub avg_load_ms: f64,
    /// Estimated memory in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_bytes: Option<u64>,
}

/// One thing that happened in a cache.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CacheEventBody {
    /// `load`, `hit`, `miss` or `evict`.
    #[serde(rename = "type")]
    pub kind: CacheEventKind,
    /// The entry's key.
    #[serde(default, deserialize_with = "rampart_core::nul::free_opt", skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 256)]
    pub key: Option<String>,
    /// The user the entry belonged to.
    #[serde(default, deserialize_with = "rampart_core::nul::free_opt", skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 256)]
    pub user: Option<String>,
    /// Why an entry was dropped: required for `evict`, refused otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<EvictionReason>,
    /// How long an evicted entry had been idle, in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 0, maximum = 604800000)]
    pub idle_ms: Option<f64>,
    /// How long a load took, in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 0, maximum = 604800000)]
    pub load_ms: Option<f64>,
    /// When it happened; the report's arrival when left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<UnixMillis>,
}

/// The answer of a report.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CacheReportResponse {
    /// The cache.
    pub name: CacheName,
    /// Events taken.
    pub events: u64,
    /// Evictions kept in the log.
    pub evictions: u64,
}

/// Counts over a window, evictions by reason.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CacheCountsView {
    /// Values loaded.
    pub loads: u64,
    /// Lookups that hit.
    pub hits: u64,
    /// Lookups that missed.
    pub misses: u64,
    /// Hits over lookups; `null` without lookups.
    pub hit_rate: Option<f64>,
    /// Entries dropped as least recently used.
    pub evicted_lru: u64,
    /// Entries dropped for their time.
    pub evicted_timeout: u64,
    /// Entries the app removed.
    pub evicted_manual: u64,
}

/// A cache as monitoring shows it: its latest snapshot's figures, the
/// counts of the last hour and the rules breached now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CacheView {
    /// The cache.
    pub name: CacheName,
    /// When it last reported.
    pub reported_at: UnixMillis,
    /// Entries now (`null` until a report carries a snapshot, as for every figure of the snapshot).
    pub size: Option<u64>,
    /// Entries it holds at most; 0 for no bound.
    pub max_size: Option<u64>,
    /// Size over `max_size`.
    pub utilisation: Option<f64>,
    /// Loads since it started.
    pub loads: Option<u64>,
    /// Hits since it started.
    pub hits: Option<u64>,
    /// Misses since it started.
    pub misses: Option<u64>,
    /// Hits over lookups since it started.
    pub hit_rate: Option<f64>,
    /// Mean load time in milliseconds.
    pub avg_load_ms: Option<f64>,
    /// Estimated memory in bytes.
    pub memory_bytes: Option<u64>,
    /// What it counted in the last hour, evictions by reason.
    pub last_hour: CacheCountsView,
    /// The rules it breaches now (`cache_utilisation`, `cache_hit_rate`, `cache_memory`).
    pub breaching: Vec<String>,
}

/// `GET /v1/monitoring/caches`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CachesResponse {
    /// Every cache that reported within retention, by name.
    pub caches: Vec<CacheView>,
}

/// A cache's rules' thresholds (the defaults, or its own).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CacheThresholdsView {
    /// Utilisation above which `cache_utilisation` holds (a fraction).
    pub utilisation: f64,
    /// Hit rate below which `cache_hit_rate` holds (a fraction)…
    pub hit_rate: f64,
    /// …once this many loads were counted.
    pub min_loads: u64,
    /// Memory in bytes above which `cache_memory` holds.
    pub memory_bytes: u64,
}

/// What a cache counted in one interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CacheIntervalView {
    /// The interval's start.
    pub start: UnixMillis,
    /// Its counts.
    #[serde(flatten)]
    pub counts: CacheCountsView,
}

/// One kept eviction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CacheEvictionView {
    /// When it happened.
    pub at: UnixMillis,
    /// The entry's key.
    pub key: Option<String>,
    /// The user it belonged to.
    pub user: Option<String>,
    /// Why.
    pub reason: EvictionReason,
    /// How long it had been idle, in milliseconds.
    pub idle_ms: Option<f64>,
}

/// `GET /v1/monitoring/caches/{name}`: the cache, its thresholds, its
/// counts per interval over the last 24 hours and its latest evictions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CacheDetail {
    /// The cache.
    #[serde(flatten)]
    pub cache: CacheView,
    /// The thresholds its rules hold it to.
    pub thresholds: CacheThresholdsView,
    /// Counts per interval, oldest first.
    pub intervals: Vec<CacheIntervalView>,
    /// Its latest evictions, newest first (at most 1,000 are kept).
    pub evictions: Vec<CacheEvictionView>,
}
