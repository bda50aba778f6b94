//! Queue routes: counts and totals (with a push queue's target, its query
//! values hidden, and for admins the whole target and its signing secret),
//! dead letters, pause and resume, and deleting a queue that holds only
//! finished jobs.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, State};

use rampart_client::endpoint::{
    QUEUES_DEAD_PURGE, QUEUES_DEAD_RETRY, QUEUES_DELETE, QUEUES_GET, QUEUES_LIST, QUEUES_PAUSE, QUEUES_RESUME,
};
use rampart_core::auth::Role;
use rampart_core::id::QueueName;
use rampart_core::queue::QueueCounters;

use super::extract::{Admin, Auth, Body, Read};
use super::route::Routes;
use super::{ApiError, AppState, queue_name, view};
use crate::engine::QueueStatus;
use crate::service::dispatcher::push_secret;
use rampart_client::wire::*;

pub(super) fn router() -> Routes {
    Routes::new()
        .add(QUEUES_LIST, queues_list)
        .add(QUEUES_GET, queues_get)
        .add(QUEUES_DELETE, queues_delete)
        .add(QUEUES_DEAD_RETRY, queues_dead_retry)
        .add(QUEUES_DEAD_PURGE, queues_dead_purge)
        .add(QUEUES_PAUSE, queues_pause)
        .add(QUEUES_RESUME, queues_resume)
}

/// A queue's view with the totals of every node (the stored ones as last
/// sampled plus what this node counted since), not only this node's: the
/// nodes of a cluster answer alike, and a restart does not reset them.
fn with_totals(totals: &BTreeMap<QueueName, QueueCounters>, mut q: QueueStatus) -> QueueView {
    q.totals = totals.get(&q.name).copied().unwrap_or_default();
    view::queue(q)
}

async fn queues_list(State(state): State<AppState>, _auth: Auth<Read>) -> Result<Json<QueuesResponse>, ApiError> {
    let queues = state.engine.queues().await?;
    let totals = state.monitor.totals();
    let queues = queues
        .into_iter()
        .map(|q| {
            let target = state.engine.queue_config(&q.name).target.as_ref().map(|t| t.to_string());
            QueueView { target, ..with_totals(&totals, q) }
        })
        .collect();
    Ok(Json(QueuesResponse { queues }))
}

async fn queues_get(
    State(state): State<AppState>,
    auth: Auth<Read>,
    Path(queue): Path<String>,
) -> Result<Json<QueueView>, ApiError> {
    let queue = queue_name(&queue)?;
    let mut shown = with_totals(&state.monitor.totals(), state.engine.queue(&queue).await?);
    if let Some(target) = &state.engine.queue_config(&queue).target {
        // Its query may hold a token, shown hidden; an admin, who may read
        // the signing secret too, sees it whole.
        shown.target = Some(target.to_string());
        if auth.key.role == Role::Admin {
            shown.target = Some(target.url().to_string());
            shown.secret = Some(push_secret(&state.engine, &queue).await?.expose().to_string());
        }
    }
    Ok(Json(shown))
}

async fn queues_delete(
    State(state): State<AppState>,
    _auth: Auth<Admin>,
    Path(queue): Path<String>,
) -> Result<Json<QueueDeletedResponse>, ApiError> {
    let queue = queue_name(&queue)?;
    let jobs = state.engine.queue_delete(&queue).await?;
    Ok(Json(QueueDeletedResponse { name: queue, jobs }))
}

async fn queues_dead_retry(
    State(state): State<AppState>,
    _auth: Auth<Admin>,
    Path(queue): Path<String>,
    Body(req): Body<DeadRetryRequest>,
) -> Result<Json<DeadRetryResponse>, ApiError> {
    let queue = queue_name(&queue)?;
    let retried = state.engine.dead_retry(&queue, req.ids).await?;
    Ok(Json(DeadRetryResponse { retried }))
}

async fn queues_dead_purge(
    State(state): State<AppState>,
    _auth: Auth<Admin>,
    Path(queue): Path<String>,
) -> Result<Json<DeadPurgeResponse>, ApiError> {
    let queue = queue_name(&queue)?;
    Ok(Json(DeadPurgeResponse { purged: state.engine.dead_purge(&queue).await? }))
}

async fn set_paused(state: AppState, queue: String, paused: bool) -> Result<Json<QueuePausedResponse>, ApiError> {
    let queue = queue_name(&queue)?;
    state.engine.queue_set_paused(&queue, paused).await?;
    Ok(Json(QueuePausedResponse { name: queue, paused }))
}

async fn queues_pause(
    State(state): State<AppState>,
    _auth: Auth<Admin>,
    Path(queue): Path<String>,
) -> Result<Json<QueuePausedResponse>, ApiError> {
    set_paused(state, queue, true).await
}

async fn queues_resume(
    State(state): State<AppState>,
    _auth: Auth<Admin>,
    Path(queue): Path<String>,
) -> Result<Json<QueuePausedResponse>, ApiError> {
    set_paused(state, queue, false).await
}
