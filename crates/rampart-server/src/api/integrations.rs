//! `PUT /v1/integrations/{platform}/connections/{id}`: apps report how
//! their connections to third-party platforms stand (producer role; admins
//! may too). The admin diagnostics read the reports back
//! ([`super::diagnostics`]).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use rampart_client::endpoint::INTEGRATIONS_REPORT;
use rampart_core::id::{ConnectionId, PlatformName};
use rampart_core::integration::IntegrationStatus;
use rampart_core::time::UnixMillis;
use rampart_store::{IntegrationRecord, IntegrationUpsertParams};

use super::extract::{Auth, Body, Report};
use super::route::Routes;
use super::{ApiError, AppState};
use crate::telemetry::scrub::scrub;
use rampart_client::wire::{IntegrationReportRequest, IntegrationView};

/// The longest `last_error` kept, in characters.
pub const MAX_ERROR_CHARS: usize = 2000;

pub(super) fn router() -> Routes {
    Routes::new().add(INTEGRATIONS_REPORT, integrations_report)
}

/// A stored connection as the API shows it.
pub(super) fn view(r: IntegrationRecord) -> IntegrationView {
    IntegrationView {
        platform: r.platform.to_string(),
        id: r.connection_id.to_string(),
        status: r.status.to_string(),
        last_synced_at: r.last_synced_at,
        last_error: r.last_error,
        last_error_at: r.last_error_at,
        token_expires_at: r.token_expires_at,
        reported_by: r.reported_by,
        created_at: r.created_at,
        updated_at: r.updated_at,
    }
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
        last_synced_at: req.last_synced_at,
        last_error,
        last_error_at: req.last_error_at,
        token_expires_at: req.token_expires_at,
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
