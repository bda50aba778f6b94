//! Monitoring routes: queue metrics with their history, queue health,
//! system health (reader), and `GET /metrics` in the Prometheus text format
//! (reader, or open with `monitoring.metrics_public = true`).
//!
//! They read what the sampler keeps in the [`crate::monitoring::Monitor`]
//! and never scan jobs themselves; system health pings the store like
//! readiness does.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use rampart_client::endpoint::{
    METRICS, MONITORING_QUEUE_HEALTH, MONITORING_QUEUE_METRICS, MONITORING_QUEUE_METRICS_GET, MONITORING_SYSTEM_HEALTH,
};
use rampart_core::breaker::BreakerState;
use rampart_core::duration::HumanDuration;
use rampart_core::job::JobState;
use rampart_core::time::UnixMillis;
use std::collections::HashMap;

use super::extract::{Auth, Read};
use super::health::{probe_store, redis_view};
use super::route::Routes;
use super::{ApiError, AppState, queue_name};
use crate::breaker::{self, BreakerStatus};
use crate::monitoring::memory::process_memory;
use crate::monitoring::{FiringAlert, QueueSample, prometheus};
use rampart_client::wire::*;

pub(super) fn router(metrics_public: bool) -> Routes {
    let router = Routes::new()
        .add(MONITORING_QUEUE_METRICS, monitoring_queue_metrics)
        .add(MONITORING_QUEUE_METRICS_GET, monitoring_queue_metrics_get)
        .add(MONITORING_QUEUE_HEALTH, monitoring_queue_health)
        .add(MONITORING_SYSTEM_HEALTH, monitoring_system_health);
    if metrics_public { router.add(METRICS, metrics_open) } else { router.add(METRICS, metrics) }
}

/// Refuses the routes that need the sampler when monitoring is off.
fn enabled(state: &AppState) -> Result<(), ApiError> {
    if state.monitor.config().enabled {
        return Ok(());
    }
    Err(ApiError::new(
        StatusCode::NOT_FOUND,
        "MONITORING_DISABLED",
        "monitoring is off on this server; set monitoring.enabled = true (RAMPART_MONITORING__ENABLED=true) to sample queues and serve metrics",
    ))
}

async fn monitoring_queue_metrics(
    State(state): State<AppState>,
    _auth: Auth<Read>,
) -> Result<Json<QueueMetricsResponse>, ApiError> {
    enabled(&state)?;
    let latest = state.monitor.latest();
    let config = state.monitor.config();
    Ok(Json(QueueMetricsResponse {
        sampled_at: latest.at,
        interval: HumanDuration(config.interval),
        retain: config.retain,
        queues: latest.queues.iter().map(sample_view).collect(),
    }))
}

async fn monitoring_queue_metrics_get(
    State(state): State<AppState>,
    _auth: Auth<Read>,
    Path(queue): Path<String>,
) -> Result<Json<QueueMetricsHistory>, ApiError> {
    let queue = queue_name(&queue)?;
    enabled(&state)?;
    let samples = state.monitor.history(&queue).unwrap_or_default();
    let Some(latest) = samples.last() else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "QUEUE_NOT_FOUND",
            format!("queue `{queue}` has not been sampled; it has no jobs yet, or the first sample is still to come"),
        ));
    };
    Ok(Json(QueueMetricsHistory {
        queue: queue.to_string(),
        interval: HumanDuration(state.monitor.config().interval),
        latest: sample_view(latest),
        samples: samples.iter().map(sample_view).collect(),
    }))
}

async fn monitoring_queue_health(
    State(state): State<AppState>,
    _auth: Auth<Read>,
) -> Result<Json<QueueHealthResponse>, ApiError> {
    enabled(&state)?;
    let latest = state.monitor.latest();
    let alerts = state.monitor.alerts();
    let queues = latest
        .queues
        .iter()
        .map(|s| {
            let firing: Vec<AlertView> =
                alerts.iter().filter(|a| a.queue.as_ref() == Some(&s.queue)).map(alert_view).collect();
            QueueHealthView { queue: s.queue.to_string(), healthy: firing.is_empty(), alerts: firing }
        })
        .collect();
    Ok(Json(QueueHealthResponse { queues }))
}

async fn monitoring_system_health(State(state): State<AppState>, _auth: Auth<Read>) -> Json<SystemHealthResponse> {
    let (store, _) = probe_store(state.engine.store(), state.engine.now(), false).await;
    let redis = redis_view(&state.limiter);
    let latest = state.monitor.latest();
    let alerts = state.monitor.alerts();
    let failing_channels = state.alerting.health.failing();
    let unhealthy = latest.queues.iter().filter(|s| alerts.iter().any(|a| a.queue.as_ref() == Some(&s.queue))).count();
    let queues = QueuesHealth {
        sampled_at: latest.at,
        count: latest.queues.len(),
        waiting: latest.queues.iter().map(|s| s.counts.get(JobState::Available)).sum(),
        active: latest.queues.iter().map(|s| s.counts.get(JobState::Active)).sum(),
        unhealthy,
    };
    let policies = state.limiter.policies();
    let ratelimit = RateLimitHealth {
        policies: policies.iter().count(),
        allowed: policies.iter().map(|p| p.allowed()).sum(),
        denied: policies.iter().map(|p| p.denied()).sum(),
        fallbacks: policies.iter().map(|p| p.fallbacks()).sum(),
    };
    let breakers = breaker::statuses(&state.shared_breakers, &state.breakers).await.ok().map(|b| breakers_health(&b));
    let (resident_bytes, heap_bytes) = process_memory();
    let reported = match reported_health(&state).await {
        Ok(r) => Some(r),
        Err(e) => {
            tracing::warn!(error = %e, "system health: cannot read what apps report");
            None
        }
    };
    let status = if store.status != "up" {
        "unhealthy"
    } else if !alerts.is_empty()
        || !failing_channels.is_empty()
        || redis.as_ref().is_some_and(|r| r.status != "up")
        || breakers.as_ref().is_some_and(|b| !b.open.is_empty())
    {
        "degraded"
    } else {
        "healthy"
    };
    Json(SystemHealthResponse {
        healthy: status == "healthy",
        status: status.into(),
        components: SystemComponents {
            store,
            redis,
            queues,
            breakers,
            ratelimit,
            alerts: AlertsHealth {
                firing: alerts.len(),
                alerts: alerts.iter().map(alert_view).collect(),
                failing_channels,
            },
            memory: MemoryHealth { resident_bytes, heap_bytes, redis_used_bytes: latest.memory.redis_used_bytes },
            reported,
        },
        timestamp: state.engine.now(),
    })
}

/// What apps report, in system health: caches and their breached rules,
/// error events and AI calls of the last hour, budgets and those exhausted.
pub(super) async fn reported_health(state: &AppState) -> Result<ReportedHealth, rampart_store::StoreError> {
    let store = state.engine.store();
    let hour_ago = UnixMillis(state.engine.now().0.saturating_sub(3_600_000));
    let counts = rampart_store::ErrorCountsParams { since: hour_ago, kind: None, limit: u32::MAX };
    let critical = rampart_store::ErrorListParams {
        level: Some(rampart_core::insight::ErrorLevel::Critical),
        since: Some(hour_ago),
        limit: 1_000,
        ..Default::default()
    };
    let (caches, counts, critical, usage) = tokio::try_join!(
        store.cache_list(),
        store.error_counts(counts),
        store.error_list(critical),
        state.usage.status(state.engine.now())
    )?;
    let caches_breaching = caches
        .iter()
        .filter_map(|r| Some((r, r.snapshot.as_ref()?)))
        .flat_map(|(r, s)| {
            let verdicts = state.insight.caches().thresholds(&r.name).verdicts(s);
            verdicts.into_iter().filter(|v| v.holds).map(move |v| format!("{}/{}", r.name, v.rule))
        })
        .collect();
    Ok(ReportedHealth {
        caches: caches.len(),
        caches_breaching,
        errors_last_hour: counts.iter().map(|c| c.count).sum(),
        critical_last_hour: critical.len() as u64,
        usage_calls_last_hour: usage.calls,
        usage_failures_last_hour: usage.failures,
        usage_cost_usd_last_hour: usage.cost.usd(),
        budgets: usage.budgets,
        budgets_exhausted: usage.exhausted,
    })
}

/// The breakers' part of system health: an open one makes it degraded.
fn breakers_health(breakers: &[BreakerStatus]) -> BreakersHealth {
    let named =
        |state: BreakerState| breakers.iter().filter(|b| b.state == state).map(|b| b.name.clone()).collect::<Vec<_>>();
    BreakersHealth { count: breakers.len(), open: named(BreakerState::Open), half_open: named(BreakerState::HalfOpen) }
}

async fn metrics(State(state): State<AppState>, _auth: Auth<Read>) -> Result<Response, ApiError> {
    metrics_open(State(state)).await
}

async fn metrics_open(State(state): State<AppState>) -> Result<Response, ApiError> {
    enabled(&state)?;
    // Without the store the shared breakers are left out; the rest still
    // answers, and readiness says what is down.
    let breakers = match breaker::statuses(&state.shared_breakers, &state.breakers).await {
        Ok(b) => b,
        Err(e) => {
            tracing::warn!(error = %e, "metrics: cannot read the shared circuit breakers");
            breaker::statuses_local(&state.breakers)
        }
    };
    let webhooks: Vec<prometheus::WebhookSample> = state
        .webhooks
        .counts()
        .into_iter()
        .map(|(source, c)| {
            let outcomes = vec![
                ("received", c.received),
                ("verified", c.verified),
                ("rejected", c.rejected),
                ("duplicate", c.duplicate),
            ];
            (source.to_string(), outcomes)
        })
        .collect();
    let usage: Vec<prometheus::UsageSample> = state
        .usage
        .counts()
        .into_iter()
        .map(|((model, provider), c)| (model, provider, c.succeeded, c.failed, c.cost.usd()))
        .collect();
    let store = state.engine.store();
    let hour_ago = UnixMillis(state.engine.now().0.saturating_sub(3_600_000));
    let caches = match tokio::try_join!(store.cache_list(), store.cache_totals(hour_ago)) {
        Ok((caches, totals)) => {
            let totals: HashMap<_, _> = totals.into_iter().collect();
            caches
                .into_iter()
                .map(|r| {
                    let t = totals.get(&r.name).copied().unwrap_or_default();
                    (r, t)
                })
                .collect()
        }
        Err(e) => {
            tracing::warn!(error = %e, "metrics: cannot read the caches apps report");
            Vec::new()
        }
    };
    let reported = prometheus::ReportedMetrics { caches, errors: state.insight.error_counts() };
    let text = prometheus::render(
        &state.monitor,
        &state.limiter,
        &breakers,
        &webhooks,
        &usage,
        &reported,
        state.started.elapsed(),
    );
    Ok(([(header::CONTENT_TYPE, prometheus::CONTENT_TYPE)], text).into_response())
}

fn sample_view(s: &QueueSample) -> QueueSampleView {
    QueueSampleView {
        queue: s.queue.to_string(),
        at: s.at,
        waiting: s.counts.get(JobState::Available),
        delayed: s.counts.get(JobState::Scheduled),
        active: s.counts.get(JobState::Active),
        completed: s.totals.completed,
        dead: s.totals.dead,
        failed: s.totals.failed,
        retries: s.totals.retries,
        stalled: s.totals.stalled,
        timeouts: s.totals.timeouts,
        interval_attempts: s.interval_attempts,
        failed_rate: s.failed_rate,
        mean_processing_ms: s.mean_processing_ms,
        p95_processing_ms: s.p95_processing_ms,
        store_latency_ms: s.store_latency_ms,
    }
}

fn alert_view(a: &FiringAlert) -> AlertView {
    AlertView {
        name: a.name.clone(),
        queue: a.queue.as_ref().map(ToString::to_string),
        message: a.message.clone(),
        since: a.since,
    }
}
