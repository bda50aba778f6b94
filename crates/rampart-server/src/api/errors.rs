//! Error events: `POST /v1/errors` (producer: one event, scrubbed before
//! anything keeps it; a critical one alerts at once) and `GET /v1/errors`
//! (reader: a page of events, filtered, with counts per kind and
//! fingerprint). The rules and records are [`crate::insight`]'s.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use rampart_client::endpoint::{ERRORS_LIST, ERRORS_REPORT};
use rampart_client::wire::{ErrorCountView, ErrorEventView, ErrorReportRequest, ErrorsQuery, ErrorsResponse};
use rampart_core::insight::ErrorLevel;
use rampart_core::time::UnixMillis;
use rampart_insight::error::ErrorEvent;
use rampart_store::{ErrorCountsParams, ErrorEventRecord, ErrorListParams};

use super::extract::{Auth, Body, Read, Report};
use super::route::Routes;
use super::{ApiError, AppState};

/// Events on a page unless `limit` says otherwise.
const DEFAULT_PAGE: u32 = 50;
/// Most events on a page.
const MAX_PAGE: u32 = 1_000;
/// Most count groups answered.
const COUNTS: u32 = 100;
/// How far back counts go without `since`.
const DAY_MS: i64 = 86_400_000;

pub(super) fn router() -> Routes {
    Routes::new().add(ERRORS_REPORT, errors_report).add(ERRORS_LIST, errors_list)
}

/// A kept event as the API shows it.
pub(super) fn event_view(r: ErrorEventRecord) -> ErrorEventView {
    ErrorEventView {
        id: r.id.to_string(),
        at: r.at,
        level: r.level,
        kind: r.kind,
        message: r.message,
        fingerprint: r.fingerprint,
        tenant: r.tenant,
        tags: serde_json::from_str::<BTreeMap<String, String>>(&r.tags).unwrap_or_default(),
    }
}

async fn errors_report(
    State(state): State<AppState>,
    _auth: Auth<Report>,
    Body(req): Body<ErrorReportRequest>,
) -> Result<(StatusCode, Json<ErrorEventView>), ApiError> {
    let event = ErrorEvent {
        level: req.level,
        kind: req.kind,
        message: req.message,
        fingerprint: req.fingerprint,
        tenant: req.tenant,
        tags: req.tags,
        at: req.at,
    };
    let kept = state.insight.error_report(event).await?;
    Ok((StatusCode::CREATED, Json(event_view(kept))))
}

async fn errors_list(
    State(state): State<AppState>,
    _auth: Auth<Read>,
    query: Result<Query<ErrorsQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<ErrorsResponse>, ApiError> {
    let Query(q) = query.map_err(|e| ApiError::invalid(format!("invalid query: {}", e.body_text())))?;
    let limit = q.limit.unwrap_or(DEFAULT_PAGE);
    if limit == 0 || limit > MAX_PAGE {
        return Err(ApiError::invalid(format!("invalid parameter `limit`: use 1 to {MAX_PAGE}")));
    }
    let invalid = |field: &str, e: String| ApiError::invalid(format!("invalid parameter `{field}`: {e}"));
    let level =
        q.level.as_deref().map(str::parse::<ErrorLevel>).transpose().map_err(|e| invalid("level", e.to_string()))?;
    let since = q.since.as_deref().map(UnixMillis::parse_rfc3339).transpose().map_err(|e| invalid("since", e))?;
    let before = q
        .cursor
        .as_deref()
        .map(|c| rampart_core::id::parse_id(c).ok_or(()))
        .transpose()
        .map_err(|_| invalid("cursor", "pass the `next_cursor` of the previous page".into()))?;
    for (field, value) in [("kind", &q.kind), ("fingerprint", &q.fingerprint), ("tenant", &q.tenant)] {
        if let Some(v) = value {
            rampart_core::nul::check_key(field, v)?;
        }
    }
    let params = ErrorListParams {
        level,
        kind: q.kind.clone(),
        fingerprint: q.fingerprint,
        tenant: q.tenant,
        since,
        before,
        limit,
    };
    let store = state.engine.store();
    let counts_since = since.unwrap_or(UnixMillis(state.engine.now().0.saturating_sub(DAY_MS)));
    let counts = ErrorCountsParams { since: counts_since, kind: q.kind, limit: COUNTS };
    let (page, counts) = tokio::try_join!(store.error_list(params), store.error_counts(counts))?;
    let next_cursor = (page.len() == limit as usize).then(|| page.last().map(|e| e.id.to_string())).flatten();
    Ok(Json(ErrorsResponse {
        events: page.into_iter().map(event_view).collect(),
        next_cursor,
        counts: counts
            .into_iter()
            .map(|c| ErrorCountView {
                kind: c.kind,
                fingerprint: c.fingerprint,
                count: c.count,
                last_interval: c.last_interval,
            })
            .collect(),
    }))
}
