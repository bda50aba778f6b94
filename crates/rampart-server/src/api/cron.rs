//! Cron routes: the schedules with their next and last runs, their run
//! history, and defining, deleting, triggering, pausing and resuming them.
//!
//! Schedules of the configuration (and rampart's own, `rampart.*`) can be
//! read, triggered, paused and resumed here, but not replaced or deleted:
//! that answers `409 CRON_IN_CONFIG` (or `CRON_RESERVED`).

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use rampart_client::endpoint::{
    CRON_DELETE, CRON_GET, CRON_LIST, CRON_PAUSE, CRON_PUT, CRON_RESUME, CRON_RUNS, CRON_TRIGGER,
};
use rampart_core::cron::{Misfire, Schedule, Timezone};
use rampart_core::id::CronName;
use rampart_store::{CronRunRecord, CronSource};

use super::extract::{Admin, Auth, Body, Read};
use super::route::Routes;
use super::view::raw;
use super::{ApiError, AppState, queue_name};
use crate::cron::{CronError, CronSpec, CronView as ScheduleView};
use rampart_client::wire::{CronListResponse, CronPut, CronRunView, CronRunsQuery, CronRunsResponse, CronView};

/// Runs per page when the request does not say.
const DEFAULT_RUNS_PAGE: u32 = 50;

pub(super) fn router() -> Routes {
    Routes::new()
        .add(CRON_LIST, cron_list)
        .add(CRON_GET, cron_get)
        .add(CRON_PUT, cron_put)
        .add(CRON_DELETE, cron_delete)
        .add(CRON_RUNS, cron_runs)
        .add(CRON_TRIGGER, cron_trigger)
        .add(CRON_PAUSE, cron_pause)
        .add(CRON_RESUME, cron_resume)
}

impl From<CronError> for ApiError {
    fn from(e: CronError) -> Self {
        let message = e.to_string();
        match e {
            CronError::NotFound(_) => ApiError::new(StatusCode::NOT_FOUND, "CRON_NOT_FOUND", message),
            CronError::InConfig(_) => ApiError::new(StatusCode::CONFLICT, "CRON_IN_CONFIG", message),
            CronError::Reserved(_) => ApiError::new(StatusCode::CONFLICT, "CRON_RESERVED", message),
            CronError::Engine(e) => e.into(),
        }
    }
}

fn cron_name(raw: &str) -> Result<CronName, ApiError> {
    CronName::new(raw).map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "INVALID_CRON_NAME", e.to_string()))
}

async fn cron_list(State(state): State<AppState>, _auth: Auth<Read>) -> Result<Json<CronListResponse>, ApiError> {
    let schedules = state.cron.list().await?.into_iter().map(schedule_view).collect();
    Ok(Json(CronListResponse { schedules }))
}

async fn cron_get(
    State(state): State<AppState>,
    _auth: Auth<Read>,
    Path(name): Path<String>,
) -> Result<Json<CronView>, ApiError> {
    Ok(Json(schedule_view(state.cron.get(&cron_name(&name)?).await?)))
}

/// Defines or replaces a schedule of the API; every node fires it from its
/// next pass (within a second).
async fn cron_put(
    State(state): State<AppState>,
    _auth: Auth<Admin>,
    Path(name): Path<String>,
    Body(req): Body<CronPut>,
) -> Result<Json<CronView>, ApiError> {
    let name = cron_name(&name)?;
    let timezone = match req.timezone.as_deref() {
        Some(tz) => tz.trim().parse::<Timezone>().map_err(|e| {
            ApiError::new(StatusCode::BAD_REQUEST, "INVALID_TIMEZONE", format!("invalid field `timezone`: {e}"))
        })?,
        None => Timezone::UTC,
    };
    let schedule = Schedule::new(&req.schedule, timezone).map_err(|e| {
        ApiError::new(StatusCode::BAD_REQUEST, "INVALID_SCHEDULE", format!("invalid field `schedule`: {e}"))
    })?;
    let queue = queue_name(&req.queue)
        .map_err(|e| ApiError { message: format!("invalid field `queue`: {}", e.message), ..e })?;
    let misfire = match req.misfire.as_deref() {
        Some(m) => m.parse::<Misfire>().map_err(|e| ApiError::invalid(format!("invalid field `misfire`: {e}")))?,
        None => Misfire::Skip,
    };
    let payload = req.payload.map_or_else(|| "{}".to_string(), |p| p.get().to_string());
    let limit = state.engine.max_payload_bytes();
    if payload.len() > limit {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "PAYLOAD_TOO_LARGE",
            format!("invalid field `payload`: it is {} bytes; the limit (max_payload_bytes) is {limit}", payload.len()),
        ));
    }
    if let Some(tenant) = &req.tenant {
        rampart_core::job::check_tenant(tenant)
            .map_err(|e| ApiError::invalid(format!("invalid field `tenant`: {e}")))?;
    }
    if req.max_attempts == Some(0) {
        return Err(ApiError::invalid("invalid field `max_attempts`: must be at least 1"));
    }
    let spec = CronSpec {
        schedule,
        queue,
        payload,
        description: req.description.unwrap_or_default(),
        misfire,
        tenant: req.tenant,
        max_attempts: req.max_attempts,
    };
    state.cron.put(&name, spec).await?;
    Ok(Json(schedule_view(state.cron.get(&name).await?)))
}

async fn cron_delete(
    State(state): State<AppState>,
    _auth: Auth<Admin>,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.cron.delete(&cron_name(&name)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn cron_runs(
    State(state): State<AppState>,
    _auth: Auth<Read>,
    Path(name): Path<String>,
    query: Result<Query<CronRunsQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<CronRunsResponse>, ApiError> {
    let name = cron_name(&name)?;
    let Query(q) = query.map_err(|e| ApiError::invalid(format!("invalid query: {}", e.body_text())))?;
    let limit = q.limit.unwrap_or(DEFAULT_RUNS_PAGE);
    if limit == 0 || limit > CronRunsQuery::MAX_LIMIT {
        return Err(ApiError::invalid(format!("invalid parameter `limit`: use 1 to {}", CronRunsQuery::MAX_LIMIT)));
    }
    let before = q
        .cursor
        .map(|c| {
            rampart_core::id::parse_id(&c).ok_or_else(|| {
                ApiError::invalid("invalid parameter `cursor`: pass the `next_cursor` of the previous page")
            })
        })
        .transpose()?;
    let runs = state.cron.runs(&name, before, limit).await?;
    let next_cursor = (runs.len() == limit as usize).then(|| runs.last().map(|r| r.id.to_string())).flatten();
    Ok(Json(CronRunsResponse { runs: runs.into_iter().map(run_view).collect(), next_cursor }))
}

async fn cron_trigger(
    State(state): State<AppState>,
    _auth: Auth<Admin>,
    Path(name): Path<String>,
) -> Result<Json<CronRunView>, ApiError> {
    Ok(Json(run_view(state.cron.trigger(&cron_name(&name)?).await?)))
}

async fn cron_pause(
    State(state): State<AppState>,
    _auth: Auth<Admin>,
    Path(name): Path<String>,
) -> Result<Json<CronView>, ApiError> {
    Ok(Json(schedule_view(state.cron.set_paused(&cron_name(&name)?, true).await?)))
}

async fn cron_resume(
    State(state): State<AppState>,
    _auth: Auth<Admin>,
    Path(name): Path<String>,
) -> Result<Json<CronView>, ApiError> {
    Ok(Json(schedule_view(state.cron.set_paused(&cron_name(&name)?, false).await?)))
}

pub(super) fn schedule_view(v: ScheduleView) -> CronView {
    let r = v.record;
    CronView {
        name: r.name.to_string(),
        schedule: r.schedule,
        timezone: r.timezone,
        queue: (r.source != CronSource::Builtin).then(|| r.queue.to_string()),
        payload: raw(r.payload),
        description: r.description,
        misfire: r.misfire.as_str().to_string(),
        source: r.source.as_str().to_string(),
        paused: r.paused,
        next_run_at: r.next_run_at,
        last_run: v.last_run.map(run_view),
        created_at: r.created_at,
        updated_at: r.updated_at,
        tenant: r.tenant,
        max_attempts: r.max_attempts.unwrap_or(1),
    }
}

fn run_view(r: CronRunRecord) -> CronRunView {
    CronRunView {
        id: r.id.to_string(),
        name: r.name.to_string(),
        scheduled_at: r.scheduled_at,
        enqueued_at: r.enqueued_at,
        job_id: r.job_id,
        trigger: r.trigger.as_str().to_string(),
        status: r.status.as_str().to_string(),
        started_at: r.started_at,
        finished_at: r.finished_at,
        attempts: r.attempts,
        error: r.error,
        result: r.result.map(raw),
    }
}
