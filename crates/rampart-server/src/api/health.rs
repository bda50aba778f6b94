//! `GET /health`: liveness, open to everyone.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};

use super::AppState;
use crate::wire::HealthResponse;

pub(super) fn router() -> Router<AppState> {
    Router::new().route("/health", get(health))
}

async fn health(State(state): State<AppState>) -> Json<HealthResponse> {
    Json(HealthResponse {
        status: "ok".into(),
        uptime_s: state.started.elapsed().as_secs(),
        version: env!("CARGO_PKG_VERSION").into(),
    })
}
