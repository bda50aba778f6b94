//! API-key routes (admin only): create, list, revoke.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, post};
use axum::{Json, Router};
use rampart_core::auth::Role;
use rampart_store::ApiKeyRecord;

use super::extract::{Admin, Auth, Body};
use super::{ApiError, AppState};
use rampart_client::wire::*;

pub(super) fn router() -> Router<AppState> {
    Router::new().route("/v1/keys", post(keys_create).get(keys_list)).route("/v1/keys/{key}", delete(keys_revoke))
}

fn key_view(k: ApiKeyRecord) -> KeyView {
    KeyView {
        id: k.id.to_string(),
        name: k.name,
        role: k.role.to_string(),
        prefix: k.prefix,
        created_at: k.created_at.to_rfc3339(),
        revoked_at: k.revoked_at.map(|t| t.to_rfc3339()),
    }
}

async fn keys_create(
    State(state): State<AppState>,
    _auth: Auth<Admin>,
    Body(req): Body<KeyCreateRequest>,
) -> Result<(StatusCode, Json<KeyCreatedResponse>), ApiError> {
    let role: Role = req
        .role
        .parse()
        .map_err(|e: rampart_core::auth::RoleError| ApiError::invalid(format!("invalid field `role`: {e}")))?;
    let name = req.name.trim().to_string();
    if name.is_empty() || name.len() > 100 {
        return Err(ApiError::invalid("invalid field `name`: use 1 to 100 characters"));
    }
    let new = state.auth.create(name, role, state.engine.now()).await?;
    Ok((StatusCode::CREATED, Json(KeyCreatedResponse { key: new.key, info: key_view(new.record) })))
}

async fn keys_list(State(state): State<AppState>, _auth: Auth<Admin>) -> Result<Json<KeysResponse>, ApiError> {
    let keys = state.engine.store().api_key_list().await?;
    Ok(Json(KeysResponse { keys: keys.into_iter().map(key_view).collect() }))
}

async fn keys_revoke(
    State(state): State<AppState>,
    _auth: Auth<Admin>,
    Path(key): Path<String>,
) -> Result<StatusCode, ApiError> {
    rampart_core::text::check_key("key", &key)?;
    if state.auth.revoke(key.clone(), state.engine.now()).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::new(StatusCode::NOT_FOUND, "KEY_NOT_FOUND", format!("no live key has id or name `{key}`")))
    }
}
