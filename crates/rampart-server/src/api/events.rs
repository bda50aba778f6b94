//! Event routes: an event sent by a producer wakes the jobs waiting for it
//! (`POST /v1/jobs/{id}/steps/{step}/wait`) and is kept for the lookback.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use rampart_client::endpoint::EVENTS_SEND;
use rampart_client::wire::{EventSendRequest, EventSendResponse};
use rampart_core::step::StepName;

use super::extract::{Auth, Body, Enqueue};
use super::route::Routes;
use super::{ApiError, AppState};
use crate::engine::MAX_EVENT_BYTES;

/// Longest event id accepted.
const MAX_EVENT_ID_LEN: usize = 255;

pub(super) fn router() -> Routes {
    Routes::new().add(EVENTS_SEND, events_send)
}

async fn events_send(
    State(state): State<AppState>,
    _auth: Auth<Enqueue>,
    Path(name): Path<String>,
    Body(req): Body<EventSendRequest>,
) -> Result<Json<EventSendResponse>, ApiError> {
    // An event's name follows the rules of a step's: a path segment.
    StepName::parse(&name).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "INVALID_EVENT",
            format!("invalid event name: {}", e.replace("step", "event")),
        )
    })?;
    if req.id.as_ref().is_some_and(|id| id.is_empty() || id.len() > MAX_EVENT_ID_LEN) {
        return Err(ApiError::invalid(format!("invalid field `id`: give 1 to {MAX_EVENT_ID_LEN} bytes")));
    }
    let payload = req.payload.get();
    if payload.len() > MAX_EVENT_BYTES {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "PAYLOAD_TOO_LARGE",
            format!(
                "invalid field `payload`: it is {} bytes; the limit is {MAX_EVENT_BYTES} bytes (256 KiB)",
                payload.len()
            ),
        ));
    }
    let sent = state.engine.event_send(name, req.id, payload.to_string()).await?;
    Ok(Json(EventSendResponse { duplicate: sent.duplicate, woken: sent.woken.len() as u64 }))
}
