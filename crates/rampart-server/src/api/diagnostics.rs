//! The admin diagnostics (admin role): what runs in the background and how
//! the app's integrations stand.
//!
//! - `GET /v1/admin/diagnostics/background-jobs`: the store (pinged, bounded
//!   in time), the rate limiter's Redis, every queue with its counts, every
//!   background loop of this node with its last run and last error (from the
//!   [`Loops`](crate::service::Loops) registry), and every cron schedule
//!   with its last run.
//! - `GET /v1/admin/diagnostics/integrations`: per platform the counts by
//!   status and the most recent connections; the connections whose token
//!   expires within `diagnostics.token_expiry_horizon`; every push queue's
//!   target with its host's breaker (when it last opened, why, when it
//!   recovered); and every circuit breaker.
//! - `GET /v1/admin/diagnostics/webhooks`: each webhook source with this
//!   node's request counts and, from the log, its last event and last
//!   rejection.

use axum::Json;
use axum::extract::State;
use rampart_client::endpoint::{DIAGNOSTICS_BACKGROUND_JOBS, DIAGNOSTICS_INTEGRATIONS, DIAGNOSTICS_WEBHOOKS};
use rampart_core::breaker::BreakerState;
use rampart_core::duration::format_duration;
use rampart_core::time::UnixMillis;

use super::extract::{Admin, Auth};
use super::route::Routes;
use super::{ApiError, AppState, breakers, cron, health, integrations, view};
use crate::monitoring::memory::MemorySample;
use crate::service::dispatcher::breaker_name;
use rampart_client::wire::{
    BackgroundJobsDiagnostics, DeadTenantView, IntegrationsDiagnostics, LoopView, MemoryHealth, PlatformDiagnostics,
    PushTargetView,
};

/// Most expiring connections listed.
const MAX_EXPIRING: u32 = 100;

pub(super) fn router() -> Routes {
    Routes::new()
        .add(DIAGNOSTICS_BACKGROUND_JOBS, diagnostics_background_jobs)
        .add(DIAGNOSTICS_INTEGRATIONS, diagnostics_integrations)
        .add(DIAGNOSTICS_WEBHOOKS, diagnostics_webhooks)
}

async fn diagnostics_webhooks(
    State(state): State<AppState>,
    _auth: Auth<Admin>,
) -> Result<Json<rampart_client::wire::WebhooksDiagnostics>, ApiError> {
    let sources = state.webhooks.sources().list().await?;
    let activity = state.engine.store().webhook_source_activity().await.map_err(crate::engine::EngineError::from)?;
    let counts: std::collections::BTreeMap<_, _> = state.webhooks.counts().into_iter().collect();
    let sources = sources
        .into_iter()
        .map(|entry| {
            let s = &entry.source;
            let c = counts.get(&s.name).copied().unwrap_or_default();
            let a = activity.iter().find(|a| a.source == s.name);
            rampart_client::wire::WebhookSourceDiagnostics {
                name: s.name.clone(),
                scheme: s.scheme.as_str().into(),
                queue: s.queue.clone(),
                origin: entry.origin.as_str().into(),
                received: c.received,
                verified: c.verified,
                rejected: c.rejected,
                duplicate: c.duplicate,
                last_received_at: a.and_then(|a| a.last_received_at),
                last_event_at: a.and_then(|a| a.last_event_at),
                last_rejected_at: a.and_then(|a| a.last_rejected_at),
            }
        })
        .collect();
    Ok(Json(rampart_client::wire::WebhooksDiagnostics { sources }))
}

fn time(t: Option<UnixMillis>) -> Option<String> {
    t.map(UnixMillis::to_rfc3339)
}

/// Tenants shown per queue in the dead-jobs-by-tenant table.
const DEAD_TENANTS_PER_QUEUE: u32 = 5;

async fn diagnostics_background_jobs(
    State(state): State<AppState>,
    _auth: Auth<Admin>,
) -> Result<Json<BackgroundJobsDiagnostics>, ApiError> {
    let (store, _) = health::probe_store(state.engine.store(), state.engine.now(), false).await;
    // A store that is down still leaves the loops and Redis to show: that
    // is when an operator needs them.
    let (queues, dead_tenants) = if store.status == "up" {
        tokio::try_join!(state.engine.queues(), state.engine.dead_tenants(DEAD_TENANTS_PER_QUEUE))?
    } else {
        (Vec::new(), Vec::new())
    };
    let redis = health::redis_view(&state.limiter);
    let loops = loop_views(&state.loops);
    let cron = state.cron.list().await?.into_iter().map(cron::schedule_view).collect();
    let m = MemorySample::take(Some(&state.limiter)).await;
    let memory = MemoryHealth {
        resident_bytes: m.resident_bytes,
        heap_bytes: m.heap_bytes,
        redis_used_bytes: m.redis_used_bytes,
    };
    Ok(Json(BackgroundJobsDiagnostics {
        store,
        redis,
        queues: queues.into_iter().map(view::queue).collect(),
        loops,
        cron,
        dead_tenants: dead_tenants
            .into_iter()
            .map(|t| DeadTenantView { queue: t.queue.to_string(), tenant: t.tenant, dead: t.dead })
            .collect(),
        memory,
        reported: super::monitoring::reported_health(&state).await.ok(),
    }))
}

/// Every loop of this node with its last run, as the diagnostics show it.
pub(super) fn loop_views(loops: &crate::service::Loops) -> Vec<LoopView> {
    loops
        .snapshot()
        .into_iter()
        .map(|(name, s)| LoopView {
            name: name.to_string(),
            status: if s.last_run_at.is_none() {
                "idle"
            } else if s.failing {
                "failing"
            } else {
                "ok"
            }
            .to_string(),
            last_run_at: time(s.last_run_at),
            last_ok_at: time(s.last_ok_at),
            last_error: s.last_error,
            last_error_at: time(s.last_error_at),
            runs: s.runs,
            failures: s.failures,
        })
        .collect()
}

/// Every push queue's target, with what its host's breaker went through.
pub(super) async fn push_targets(state: &AppState) -> Result<Vec<PushTargetView>, ApiError> {
    let queues = state.engine.queues().await?;
    let targets = queues.into_iter().filter_map(|q| {
        let target = state.engine.queue_config(&q.name).target.clone()?;
        Some((q.name, target))
    });
    Ok(targets
        .map(|(queue, target)| {
            let name = breaker_name(&target);
            let snapshot = state.breakers.get(name.as_str()).map(|b| b.snapshot());
            let transitions = snapshot.as_ref().map(|s| s.transitions.as_slice()).unwrap_or_default();
            let opened =
                transitions.iter().rev().find(|t| t.to == BreakerState::Open && t.from == BreakerState::Closed);
            let recovered = transitions.iter().rev().find(|t| t.to == BreakerState::Closed);
            PushTargetView {
                queue: queue.to_string(),
                target: target.to_string(),
                breaker: name.to_string(),
                state: snapshot.as_ref().map_or(BreakerState::Closed, |s| s.state).to_string(),
                last_error_at: time(opened.map(|t| t.at)),
                last_error: opened.map(|t| t.reason.to_string()),
                last_recovered_at: time(recovered.map(|t| t.at)),
                last_success_at: time(snapshot.as_ref().and_then(|s| s.last_success)),
                last_failure_at: time(snapshot.as_ref().and_then(|s| s.last_failure)),
            }
        })
        .collect())
}

async fn diagnostics_integrations(
    State(state): State<AppState>,
    _auth: Auth<Admin>,
) -> Result<Json<IntegrationsDiagnostics>, ApiError> {
    let store = state.engine.store();
    let horizon = state.diagnostics.token_expiry_horizon;
    let before = state.engine.now().plus(horizon);
    let (summary, recent, expiring) = tokio::try_join!(
        store.integration_summary(),
        store.integration_recent(state.diagnostics.recent_connections),
        store.integration_expiring(before, MAX_EXPIRING),
    )?;
    let mut recent = recent.into_iter().peekable();
    let platforms = summary
        .into_iter()
        .map(|s| {
            // Both lists come in platform order: take this platform's run.
            let mut mine = Vec::new();
            while let Some(r) = recent.next_if(|r| r.platform == s.platform) {
                mine.push(integrations::view(r));
            }
            PlatformDiagnostics {
                platform: s.platform.to_string(),
                total: s.counts.total,
                connected: s.counts.connected,
                error: s.counts.error,
                expired: s.counts.expired,
                recent: mine,
            }
        })
        .collect();
    Ok(Json(IntegrationsDiagnostics {
        platforms,
        expiring: expiring.into_iter().map(integrations::view).collect(),
        token_expiry_horizon: format_duration(horizon),
        push_targets: push_targets(&state).await?,
        breakers: breakers::breaker_views(&state).await?,
    }))
}
