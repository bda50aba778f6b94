//! Alert routes: list and show alerts, acknowledge one, silence them, and
//! send a test message to every channel. Reading needs a reader key;
//! anything that changes what is sent needs an admin key.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use rampart_client::endpoint::{
    ALERTS_ACK, ALERTS_GET, ALERTS_LIST, ALERTS_SILENCES_CREATE, ALERTS_SILENCES_DELETE, ALERTS_SILENCES_LIST,
    ALERTS_TEST,
};
use rampart_core::alert::{AlertId, AlertRule, SilenceId};
use rampart_store::{AlertListParams, AlertRecord, SilenceInsert, SilenceRecord};

use super::extract::{Admin, Auth, Body, Read};
use super::route::Routes;
use super::{ApiError, AppState};
use crate::alert::AlertDetails;
use crate::engine::MAX_DELAY;
use rampart_client::wire::*;

/// Alerts per page unless `limit` says otherwise.
const DEFAULT_PAGE: u32 = 50;
/// The longest reason kept with a silence.
const MAX_REASON: usize = 1000;

pub(super) fn router() -> Routes {
    Routes::new()
        .add(ALERTS_LIST, alerts_list)
        .add(ALERTS_SILENCES_LIST, alerts_silences_list)
        .add(ALERTS_SILENCES_CREATE, alerts_silences_create)
        .add(ALERTS_SILENCES_DELETE, alerts_silences_delete)
        .add(ALERTS_TEST, alerts_test)
        .add(ALERTS_GET, alerts_get)
        .add(ALERTS_ACK, alerts_ack)
}

fn alert_id(raw: &str) -> Result<AlertId, ApiError> {
    raw.parse().map_err(|e: rampart_core::alert::AlertIdError| {
        ApiError::new(StatusCode::BAD_REQUEST, "INVALID_ALERT_ID", e.to_string())
    })
}

fn not_found(id: AlertId) -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "ALERT_NOT_FOUND", format!("no alert {id}; `rampart alerts list` shows them"))
}

fn view(a: AlertRecord) -> AlertRecordView {
    let details: AlertDetails = serde_json::from_str(&a.details).unwrap_or_default();
    let relation = if a.rule.holds(a.value, a.threshold) {
        if matches!(a.rule, AlertRule::DeadLetters | AlertRule::BudgetThreshold) { "≥" } else { ">" }
    } else {
        "≤"
    };
    AlertRecordView {
        id: a.id.to_string(),
        rule: a.rule.to_string(),
        summary: format!("{} {relation} {}", a.rule.format_value(a.value), a.rule.format_value(a.threshold)),
        subject: a.subject,
        state: a.state.to_string(),
        value: a.value,
        threshold: a.threshold,
        dead_jobs: details.dead_jobs.iter().filter_map(|j| serde_json::to_value(j).ok()).collect(),
        budget: details.budget.and_then(|b| serde_json::to_value(b).ok()),
        started_at: a.started_at,
        last_notified_at: a.last_notified_at,
        resolved_at: a.resolved_at,
        acked_at: a.acked_at,
        acked_by: a.acked_by,
    }
}

fn silence_view(s: SilenceRecord) -> SilenceView {
    SilenceView {
        id: s.id.to_string(),
        rule: s.rule.map(|r| r.to_string()),
        subject: s.subject,
        ends_at: s.ends_at,
        created_at: s.created_at,
        created_by: s.created_by,
        reason: s.reason,
    }
}

async fn alerts_list(
    State(state): State<AppState>,
    _auth: Auth<Read>,
    query: Result<Query<AlertListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<AlertsResponse>, ApiError> {
    let Query(q) = query.map_err(|e| ApiError::invalid(format!("invalid query: {}", e.body_text())))?;
    let limit = q.limit.unwrap_or(DEFAULT_PAGE);
    if limit == 0 || limit > AlertListQuery::MAX_LIMIT {
        return Err(ApiError::invalid(format!("invalid parameter `limit`: use 1 to {}", AlertListQuery::MAX_LIMIT)));
    }
    let params = AlertListParams { state: q.state, before: q.cursor, limit };
    let alerts = state.engine.store().alert_list(params).await?;
    let next_cursor = (alerts.len() == limit as usize).then(|| alerts.last().map(|a| a.id.to_string())).flatten();
    Ok(Json(AlertsResponse { alerts: alerts.into_iter().map(view).collect(), next_cursor }))
}

async fn alerts_get(
    State(state): State<AppState>,
    _auth: Auth<Read>,
    Path(id): Path<String>,
) -> Result<Json<AlertRecordView>, ApiError> {
    let id = alert_id(&id)?;
    let alert = state.engine.store().alert_get(id).await?.ok_or_else(|| not_found(id))?;
    Ok(Json(view(alert)))
}

async fn alerts_ack(
    State(state): State<AppState>,
    auth: Auth<Admin>,
    Path(id): Path<String>,
) -> Result<Json<AlertRecordView>, ApiError> {
    let id = alert_id(&id)?;
    let acked = state.engine.store().alert_ack(id, auth.key.name, state.engine.now()).await?;
    Ok(Json(view(acked.ok_or_else(|| not_found(id))?)))
}

async fn alerts_silences_list(
    State(state): State<AppState>,
    _auth: Auth<Read>,
) -> Result<Json<SilencesResponse>, ApiError> {
    let silences = state.engine.store().silence_list(state.engine.now()).await?;
    Ok(Json(SilencesResponse { silences: silences.into_iter().map(silence_view).collect() }))
}

async fn alerts_silences_create(
    State(state): State<AppState>,
    auth: Auth<Admin>,
    Body(req): Body<SilenceRequest>,
) -> Result<(StatusCode, Json<SilenceView>), ApiError> {
    let now = state.engine.now();
    let rule = req
        .rule
        .as_deref()
        .map(|r| r.parse::<AlertRule>().map_err(|e| ApiError::invalid(format!("invalid field `rule`: {e}"))))
        .transpose()?;
    let subject = req.subject.map(|s| s.trim().to_string());
    if subject.as_ref().is_some_and(|s| s.is_empty() || s.chars().count() > 128) {
        return Err(ApiError::invalid("invalid field `subject`: give a queue's name or `store`, or leave it out"));
    }
    let ends_at = match (req.ends_at, req.duration) {
        (Some(_), Some(_)) => return Err(ApiError::invalid("give either `ends_at` or `duration`, not both")),
        (None, None) => return Err(ApiError::invalid("give `ends_at` (an RFC 3339 time) or `duration` (\"2h\")")),
        (Some(t), None) => t,
        (None, Some(d)) if d.get() > MAX_DELAY => {
            return Err(ApiError::invalid("invalid field `duration`: must be at most 3650d (10 years)"));
        }
        (None, Some(d)) => now.plus(d.get()),
    };
    if ends_at <= now {
        return Err(ApiError::invalid("invalid field `ends_at`: the end must be in the future"));
    }
    if ends_at > now.plus(MAX_DELAY) {
        return Err(ApiError::invalid("invalid field `ends_at`: must be at most 10 years ahead"));
    }
    let reason = req.reason.trim().to_string();
    if reason.is_empty() || reason.chars().count() > MAX_REASON {
        return Err(ApiError::invalid(format!("invalid field `reason`: say why in 1 to {MAX_REASON} characters")));
    }
    let insert = SilenceInsert { rule, subject, ends_at, created_by: auth.key.name, reason, now };
    let silence = state.engine.store().silence_insert(insert).await?;
    Ok((StatusCode::CREATED, Json(silence_view(silence))))
}

async fn alerts_silences_delete(
    State(state): State<AppState>,
    _auth: Auth<Admin>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id: SilenceId = id.parse().map_err(|e: rampart_core::alert::SilenceIdError| {
        ApiError::new(StatusCode::BAD_REQUEST, "INVALID_SILENCE_ID", e.to_string())
    })?;
    if state.engine.store().silence_delete(id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::new(StatusCode::NOT_FOUND, "SILENCE_NOT_FOUND", format!("no silence {id}")))
    }
}

async fn alerts_test(State(state): State<AppState>, _auth: Auth<Admin>) -> Result<Json<AlertTestResponse>, ApiError> {
    let results = state.alerting.test(state.engine.now()).await;
    let channels = results
        .into_iter()
        .map(|(name, kind, outcome)| ChannelTestResult {
            name,
            kind: kind.to_string(),
            ok: outcome.is_ok(),
            error: outcome.err(),
        })
        .collect();
    Ok(Json(AlertTestResponse { channels }))
}
