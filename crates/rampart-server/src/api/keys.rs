//! API-key routes (admin only): create, list, revoke.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use rampart_client::endpoint::{KEYS_CREATE, KEYS_LIST, KEYS_REVOKE};
use rampart_store::ApiKeyRecord;

use super::extract::{Admin, Auth, Body};
use super::route::Routes;
use super::{ApiError, AppState};
use rampart_client::wire::*;

pub(super) fn router() -> Routes {
    Routes::new().add(KEYS_CREATE, keys_create).add(KEYS_LIST, keys_list).add(KEYS_REVOKE, keys_revoke)
}

fn key_view(k: ApiKeyRecord) -> KeyView {
    KeyView {
        id: k.id.to_string(),
        name: k.name,
        role: k.role,
        prefix: k.prefix,
        created_at: k.created_at,
        revoked_at: k.revoked_at,
    }
}

async fn keys_create(
    State(state): State<AppState>,
    _auth: Auth<Admin>,
    Body(req): Body<KeyCreateRequest>,
) -> Result<(StatusCode, Json<KeyCreatedResponse>), ApiError> {
    let role = req.role;
    let name = req.name.trim().to_string();
    if name.is_empty() || name.chars().count() > 100 {
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
    rampart_core::nul::check_key("key", &key)?;
    if state.auth.revoke(key.clone(), state.engine.now()).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::new(StatusCode::NOT_FOUND, "KEY_NOT_FOUND", format!("no live key has id or name `{key}`")))
    }
}
