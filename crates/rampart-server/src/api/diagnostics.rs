//! The admin diagnostics (admin role): what runs in the background and how
//! the app's integrations stand.
//!
//! - `GET /v1/admin/diagnostics/background-jobs`: the store (pinged, bounded
//!   in time), the rate limiter's Redis, every queue with its counts, every
//!   background loop of this node with its last run and last error (from the
//!   [`Loops`](crate::service::Loops) registry), and the cron schedules with
//!   their last run once a [`ScheduleSource`] is set.
//! - `GET /v1/admin/diagnostics/integrations`: per platform the counts by
//!   status and the most recent connections; the connections whose token
//!   expires within `diagnostics.token_expiry_horizon`; and push targets and
//!   circuit breakers, each with its last success and last error, once an
//!   [`OutboundSource`] is set for them.
//!
//! Parts that live outside this module plug in through [`DiagnosticSources`]
//! in the server's state: the server sets a source for each registry it
//! runs, and a section whose source is unset is left out of the answer
//! (rather than shown empty, which would read as "none").

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use rampart_core::duration::format_duration;
use rampart_core::time::UnixMillis;

use super::extract::{Admin, Auth};
use super::{ApiError, AppState, health, integrations, view};
use crate::wire::{
    BackgroundJobsDiagnostics, CronScheduleView, IntegrationsDiagnostics, LoopView, OutboundView, PlatformDiagnostics,
    RedisBackendView,
};

/// Most expiring connections listed.
const MAX_EXPIRING: u32 = 100;

/// A source's answer, computed when asked.
pub type SourceFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, ApiError>> + Send + 'a>>;

/// Lists cron schedules with their last run, for the background-jobs
/// diagnostics. The cron part implements it over its store methods.
pub trait ScheduleSource: Send + Sync + 'static {
    /// Every schedule, by name, with its last run.
    fn schedules(&self) -> SourceFuture<'_, Vec<CronScheduleView>>;
}

/// Lists outbound dependencies (push targets, breakers) with how they last
/// fared. The breakers part implements it over its store records, the push
/// part over its targets.
pub trait OutboundSource: Send + Sync + 'static {
    /// Every entry, by name.
    fn outbound(&self) -> SourceFuture<'_, Vec<OutboundView>>;
}

/// The sections of the diagnostics that other parts provide; `None` leaves
/// a section out.
#[derive(Clone, Default)]
pub struct DiagnosticSources {
    /// Cron schedules (background-jobs `cron`).
    pub cron: Option<Arc<dyn ScheduleSource>>,
    /// Push targets (integrations `push_targets`).
    pub push_targets: Option<Arc<dyn OutboundSource>>,
    /// Circuit breakers (integrations `breakers`).
    pub breakers: Option<Arc<dyn OutboundSource>>,
}

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/admin/diagnostics/background-jobs", get(diagnostics_background_jobs))
        .route("/v1/admin/diagnostics/integrations", get(diagnostics_integrations))
}

fn time(t: Option<UnixMillis>) -> Option<String> {
    t.map(UnixMillis::to_rfc3339)
}

async fn diagnostics_background_jobs(
    State(state): State<AppState>,
    _auth: Auth<Admin>,
) -> Result<Json<BackgroundJobsDiagnostics>, ApiError> {
    let store = health::store_status(state.engine.store()).await;
    // A store that is down still leaves the loops and Redis to show: that
    // is when an operator needs them.
    let queues = if store.status == "up" { state.engine.queues().await? } else { Vec::new() };
    let redis = state.limiter.redis().map(|redis| {
        let health = redis.health();
        RedisBackendView {
            status: if redis.is_up() { "up" } else { "down" }.to_string(),
            since: time(health.since),
            last_error: health.last_error,
            failures: redis.failures(),
        }
    });
    let loops = state
        .loops
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
        .collect();
    let cron = match &state.sources.cron {
        Some(source) => Some(source.schedules().await?),
        None => None,
    };
    Ok(Json(BackgroundJobsDiagnostics {
        store,
        redis,
        queues: queues.into_iter().map(view::queue).collect(),
        loops,
        cron,
    }))
}

/// A section from its source, `None` (left out) without one.
async fn outbound(source: Option<&dyn OutboundSource>) -> Result<Option<Vec<OutboundView>>, ApiError> {
    match source {
        Some(source) => Ok(Some(source.outbound().await?)),
        None => Ok(None),
    }
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
        push_targets: outbound(state.sources.push_targets.as_deref()).await?,
        breakers: outbound(state.sources.breakers.as_deref()).await?,
    }))
}
