//! Cache telemetry: `POST /v1/caches/{name}/report` (producer: a cache's
//! snapshot and events) and `GET /v1/monitoring/caches[/{name}]` (reader:
//! each cache's figures, its rules' verdicts, counts per interval and the
//! eviction log). The rules and records are [`crate::insight`]'s.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use rampart_client::endpoint::{CACHES_REPORT, MONITORING_CACHES, MONITORING_CACHES_GET};
use rampart_client::wire::{
    CacheCountsView, CacheDetail, CacheEvictionView, CacheIntervalView, CacheReportRequest, CacheReportResponse,
    CacheThresholdsView, CacheView, CachesResponse,
};
use rampart_core::id::CacheName;
use rampart_core::time::UnixMillis;
use rampart_insight::cache::{CacheSnapshot, CacheTally, EVICTIONS_KEPT, hit_rate};
use rampart_store::CacheSnapshotRecord;

use super::extract::{Auth, Body, Read, Report};
use super::route::Routes;
use super::{ApiError, AppState};
use crate::insight::{Insight, InsightError};

/// How far back a cache's `last_hour` counts.
const HOUR_MS: i64 = 3_600_000;
/// How far back a cache's intervals are listed.
const DAY_MS: i64 = 86_400_000;

pub(super) fn router() -> Routes {
    Routes::new()
        .add(CACHES_REPORT, caches_report)
        .add(MONITORING_CACHES, monitoring_caches)
        .add(MONITORING_CACHES_GET, monitoring_caches_get)
}

impl From<InsightError> for ApiError {
    fn from(e: InsightError) -> Self {
        match e {
            InsightError::Invalid(e) => ApiError::invalid(format!("invalid field `{}`: {}", e.field, e.problem)),
            InsightError::Engine(e) => e.into(),
        }
    }
}

fn cache_name(raw: &str) -> Result<CacheName, ApiError> {
    CacheName::new(raw).map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "INVALID_CACHE_NAME", e.to_string()))
}

async fn caches_report(
    State(state): State<AppState>,
    _auth: Auth<Report>,
    Path(name): Path<String>,
    Body(req): Body<CacheReportRequest>,
) -> Result<Json<CacheReportResponse>, ApiError> {
    let name = cache_name(&name)?;
    let (snapshot, events) = crate::insight::from_wire(&req);
    let taken = state.insight.cache_report(name.clone(), snapshot, events).await?;
    Ok(Json(CacheReportResponse { name, events: taken.events, evictions: taken.evictions }))
}

/// Counts as the API shows them.
pub(super) fn counts_view(t: &CacheTally) -> CacheCountsView {
    CacheCountsView {
        loads: t.loads,
        hits: t.hits,
        misses: t.misses,
        hit_rate: hit_rate(t.hits, t.misses),
        evicted_lru: t.evicted_lru,
        evicted_timeout: t.evicted_timeout,
        evicted_manual: t.evicted_manual,
    }
}

/// A cache as the API shows it, with its last hour's counts.
pub(super) fn cache_view(insight: &Insight, r: &CacheSnapshotRecord, last_hour: &CacheTally) -> CacheView {
    let s = r.snapshot.as_ref();
    let breaching = s
        .map(|s| {
            insight.caches().thresholds(&r.name).verdicts(s).into_iter().filter(|v| v.holds).map(|v| v.rule.to_string())
        })
        .into_iter()
        .flatten()
        .collect();
    CacheView {
        name: r.name.clone(),
        reported_at: r.reported_at,
        size: s.map(|s| s.size),
        max_size: s.map(|s| s.max_size),
        utilisation: s.and_then(CacheSnapshot::utilisation),
        loads: s.map(|s| s.loads),
        hits: s.map(|s| s.hits),
        misses: s.map(|s| s.misses),
        hit_rate: s.and_then(CacheSnapshot::hit_rate),
        avg_load_ms: s.map(|s| s.avg_load_ms),
        memory_bytes: s.and_then(|s| s.memory_bytes),
        last_hour: counts_view(last_hour),
        breaching,
    }
}

fn ago(now: UnixMillis, ms: i64) -> UnixMillis {
    UnixMillis(now.0.saturating_sub(ms))
}

async fn monitoring_caches(State(state): State<AppState>, _auth: Auth<Read>) -> Result<Json<CachesResponse>, ApiError> {
    let store = state.engine.store();
    let now = state.engine.now();
    let (caches, totals) = tokio::try_join!(store.cache_list(), store.cache_totals(ago(now, HOUR_MS)))?;
    let totals: std::collections::HashMap<CacheName, CacheTally> = totals.into_iter().collect();
    let caches = caches
        .iter()
        .map(|r| cache_view(&state.insight, r, totals.get(&r.name).unwrap_or(&CacheTally::default())))
        .collect();
    Ok(Json(CachesResponse { caches }))
}

async fn monitoring_caches_get(
    State(state): State<AppState>,
    _auth: Auth<Read>,
    Path(name): Path<String>,
) -> Result<Json<CacheDetail>, ApiError> {
    let name = cache_name(&name)?;
    let store = state.engine.store();
    let now = state.engine.now();
    let Some(record) = store.cache_get(&name).await? else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "CACHE_NOT_FOUND",
            format!("no cache `{name}` has reported (or it has been silent longer than caches.retention)"),
        ));
    };
    let (intervals, evictions) =
        tokio::try_join!(store.cache_intervals(&name, ago(now, DAY_MS)), store.cache_evictions(&name, EVICTIONS_KEPT))?;
    let since_hour = ago(now, HOUR_MS);
    let mut last_hour = CacheTally::default();
    for i in intervals.iter().filter(|i| i.start >= since_hour) {
        let t = &i.tally;
        last_hour.loads += t.loads;
        last_hour.hits += t.hits;
        last_hour.misses += t.misses;
        last_hour.evicted_lru += t.evicted_lru;
        last_hour.evicted_timeout += t.evicted_timeout;
        last_hour.evicted_manual += t.evicted_manual;
    }
    let t = state.insight.caches().thresholds(&name);
    Ok(Json(CacheDetail {
        cache: cache_view(&state.insight, &record, &last_hour),
        thresholds: CacheThresholdsView {
            utilisation: t.utilisation,
            hit_rate: t.hit_rate,
            min_loads: t.min_loads,
            memory_bytes: t.memory_bytes,
        },
        intervals: intervals
            .iter()
            .map(|i| CacheIntervalView { start: i.start, counts: counts_view(&i.tally) })
            .collect(),
        evictions: evictions
            .into_iter()
            .map(|e| CacheEvictionView { at: e.at, key: e.key, user: e.user, reason: e.reason, idle_ms: e.idle_ms })
            .collect(),
    }))
}
