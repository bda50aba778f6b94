//! Queue routes: counts and totals (with a push queue's target, and its
//! signing secret for admins), dead letters, pause and resume.

use axum::extract::{Path, State};
use axum::routing::{delete, get, post};
use axum::{Json, Router};

use rampart_core::auth::Role;

use super::extract::{Admin, Auth, Body, Read};
use super::{ApiError, AppState, job_id, queue_name, view};
use crate::service::dispatcher::push_secret;
use rampart_client::wire::*;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/queues", get(queues_list))
        .route("/v1/queues/{queue}", get(queues_get))
        .route("/v1/queues/{queue}/dead/retry", post(queues_dead_retry))
        .route("/v1/queues/{queue}/dead", delete(queues_dead_purge))
        .route("/v1/queues/{queue}/pause", post(queues_pause))
        .route("/v1/queues/{queue}/resume", post(queues_resume))
}

async fn queues_list(State(state): State<AppState>, _auth: Auth<Read>) -> Result<Json<QueuesResponse>, ApiError> {
    let queues = state.engine.queues().await?;
    let queues = queues
        .into_iter()
        .map(|q| {
            let target = state.engine.queue_config(&q.name).target.as_ref().map(|t| t.to_string());
            QueueView { target, ..view::queue(q) }
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
    let mut shown = view::queue(state.engine.queue(&queue).await?);
    if let Some(target) = &state.engine.queue_config(&queue).target {
        shown.target = Some(target.to_string());
        // The secret signs deliveries: only an admin may read it.
        if auth.key.role == Role::Admin {
            shown.secret = Some(push_secret(&state.engine, &queue).await?.expose().to_string());
        }
    }
    Ok(Json(shown))
}

async fn queues_dead_retry(
    State(state): State<AppState>,
    _auth: Auth<Admin>,
    Path(queue): Path<String>,
    Body(req): Body<DeadRetryRequest>,
) -> Result<Json<DeadRetryResponse>, ApiError> {
    let queue = queue_name(&queue)?;
    let ids = req
        .ids
        .map(|ids| {
            ids.iter()
                .enumerate()
                .map(|(i, id)| {
                    job_id(id).map_err(|e| ApiError::invalid(format!("invalid field `ids[{i}]`: {}", e.message)))
                })
                .collect::<Result<Vec<_>, _>>()
        })
        .transpose()?;
    let retried = state.engine.dead_retry(&queue, ids).await?;
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
    Ok(Json(QueuePausedResponse { name: queue.to_string(), paused }))
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
