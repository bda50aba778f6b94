//! Step routes: a step-function job's steps recorded under its lease, its
//! durable sleeps, and its steps read back (the full list, for a push
//! delivery whose step state is too large to carry).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use rampart_client::endpoint::{JOBS_STEP_RECORD, JOBS_STEP_SLEEP, JOBS_STEPS};
use rampart_client::wire::{StepRecordRequest, StepRecordResponse, StepSleepRequest, StepSleepResponse, StepsResponse};
use rampart_core::duration::HumanDuration;
use rampart_core::step::{MAX_STEP_RESULT_BYTES, StepName};

use super::extract::{Auth, Body, Read, Work};
use super::route::Routes;
use super::{ApiError, AppState, job_id, view};
use crate::engine::Wake;

pub(super) fn router() -> Routes {
    Routes::new()
        .add(JOBS_STEPS, jobs_steps)
        .add(JOBS_STEP_RECORD, jobs_step_record)
        .add(JOBS_STEP_SLEEP, jobs_step_sleep)
}

/// A step's name from its path segment.
fn step_name(raw: &str) -> Result<StepName, ApiError> {
    StepName::parse(raw)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "INVALID_STEP", format!("invalid step: {e}")))
}

async fn jobs_steps(
    State(state): State<AppState>,
    _auth: Auth<Read>,
    Path(id): Path<String>,
) -> Result<Json<StepsResponse>, ApiError> {
    let job = state.engine.job(job_id(&id)?).await?;
    Ok(Json(StepsResponse { steps: job.steps.into_iter().map(view::step).collect() }))
}

async fn jobs_step_record(
    State(state): State<AppState>,
    _auth: Auth<Work>,
    Path((id, step)): Path<(String, String)>,
    Body(req): Body<StepRecordRequest>,
) -> Result<Json<StepRecordResponse>, ApiError> {
    let (id, name) = (job_id(&id)?, step_name(&step)?);
    let result = req.result.get();
    if result.len() > MAX_STEP_RESULT_BYTES {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "STEP_RESULT_TOO_LARGE",
            format!(
                "invalid field `result`: it is {} bytes; the limit is {MAX_STEP_RESULT_BYTES} bytes (256 KiB)",
                result.len()
            ),
        ));
    }
    let recorded = state.engine.step_record(id, req.lease_token, name.clone(), result.to_string()).await?;
    Ok(Json(StepRecordResponse {
        step: name.as_str().to_string(),
        result: view::raw(recorded.result),
        recorded: recorded.recorded,
    }))
}

async fn jobs_step_sleep(
    State(state): State<AppState>,
    _auth: Auth<Work>,
    Path((id, step)): Path<(String, String)>,
    Body(req): Body<StepSleepRequest>,
) -> Result<Json<StepSleepResponse>, ApiError> {
    let (id, name) = (job_id(&id)?, step_name(&step)?);
    let wake = match (req.until, req.duration) {
        (Some(at), None) => Wake::At(at),
        (None, Some(d)) => Wake::After(HumanDuration::get(d)),
        _ => return Err(ApiError::invalid("give one of `until` (a time) or `duration` (e.g. \"30s\")")),
    };
    let slept = state.engine.step_sleep(id, req.lease_token, name.clone(), wake).await?;
    // A sleep recorded before answers its wake time, which the step's result holds.
    let run_at = slept.run_at.or_else(|| wake_of(&slept.result)).unwrap_or_else(|| state.engine.now());
    Ok(Json(StepSleepResponse {
        step: name.as_str().to_string(),
        recorded: slept.recorded,
        state: slept.state,
        run_at,
    }))
}

/// The wake time a recorded sleep keeps as its result (an RFC 3339 string).
fn wake_of(result: &str) -> Option<rampart_core::time::UnixMillis> {
    let text: String = serde_json::from_str(result).ok()?;
    rampart_core::time::UnixMillis::parse_rfc3339(&text).ok()
}
