//! `PUT /v1/integrations/{platform}/connections/{id}`: apps report how
//! their connections to third-party platforms stand (producer role; admins
//! may too). The admin diagnostics read the reports back
//! ([`super::diagnostics`]).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::put;
use axum::{Json, Router};
use rampart_core::id::{ConnectionId, PlatformName};
use rampart_core::integration::IntegrationStatus;
use rampart_core::time::UnixMillis;
use rampart_store::{IntegrationRecord, IntegrationUpsertParams};

use super::extract::{Auth, Body, Report};
use super::{ApiError, AppState};
use crate::telemetry::scrub::scrub;
use rampart_client::wire::{IntegrationReportRequest, IntegrationView};

/// The longest `last_error` kept, in characters.
pub const MAX_ERROR_CHARS: usize = 2000;

pub(super) fn router() -> Router<AppState> {
    Router::new().route("/v1/integrations/{platform}/connections/{id}", put(integrations_report))
}

/// A stored connection as the API shows it.
pub(super) fn view(r: IntegrationRecord) -> IntegrationView {
    IntegrationView {
        platform: r.platform.to_string(),
        id: r.connection_id.to_string(),
        status: r.status.to_string(),
        last_synced_at: r.last_synced_at.map(UnixMillis::to_rfc3339),
        last_error: r.last_error,
        last_error_at: r.last_error_at.map(UnixMillis::to_rfc3339),
        token_expires_at: r.token_expires_at.map(UnixMillis::to_rfc3339),
        reported_by: r.reported_by,
        created_at: r.created_at.to_rfc3339(),
        updated_at: r.updated_at.to_rfc3339(),
    }
}

/// An optional RFC 3339 time field, with the field named in the error.
fn time_field(field: &str, raw: Option<&str>) -> Result<Option<UnixMillis>, ApiError> {
    raw.map(|s| UnixMillis::parse_rfc3339(s).map_err(|e| ApiError::invalid(format!("invalid field `{field}`: {e}"))))
        .transpose()
}

/// Checks a report and turns it into the store's parameters.
fn upsert_params(
    platform: &str,
    id: &str,
    req: IntegrationReportRequest,
    reported_by: String,
    now: UnixMillis,
) -> Result<IntegrationUpsertParams, ApiError> {
    let platform = PlatformName::new(platform)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "INVALID_PLATFORM", e.to_string()))?;
    let connection_id = ConnectionId::new(id)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "INVALID_CONNECTION_ID", e.to_string()))?;
    let status: IntegrationStatus =
        req.status.parse().map_err(|e| ApiError::invalid(format!("invalid field `status`: {e}")))?;
    let last_error = match req.last_error {
        Some(e) if e.chars().count() > MAX_ERROR_CHARS => {
            return Err(ApiError::invalid(format!(
                "invalid field `last_error`: use at most {MAX_ERROR_CHARS} characters"
            )));
        }
        // An app's error text may quote an address or a token: the store
        // and every screen that shows it get it scrubbed.
        Some(e) => Some(scrub(&e).into_owned()),
        None => None,
    };
    Ok(IntegrationUpsertParams {
        platform,
        connection_id,
        status,
        last_synced_at: time_field("last_synced_at", req.last_synced_at.as_deref())?,
        last_error,
        last_error_at: time_field("last_error_at", req.last_error_at.as_deref())?,
        token_expires_at: time_field("token_expires_at", req.token_expires_at.as_deref())?,
        reported_by,
        now,
    })
}

async fn integrations_report(
    State(state): State<AppState>,
    auth: Auth<Report>,
    Path((platform, id)): Path<(String, String)>,
    Body(req): Body<IntegrationReportRequest>,
) -> Result<Json<IntegrationView>, ApiError> {
    let params = upsert_params(&platform, &id, req, auth.key.name, state.engine.now())?;
    let stored = state.engine.store().integration_upsert(params).await?;
    Ok(Json(view(stored)))
}
