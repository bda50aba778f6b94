//! Step routes: a step-function job's steps recorded under its lease, its
//! durable sleeps, and its steps read back (the full list, for a push
//! delivery whose step state is too large to carry).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use rampart_client::endpoint::{JOBS_STEP_RECORD, JOBS_STEP_SLEEP, JOBS_STEP_WAIT, JOBS_STEPS};
use rampart_client::wire::{
    StepRecordRequest, StepRecordResponse, StepSleepRequest, StepSleepResponse, StepWaitRequest, StepWaitResponse,
    StepsResponse,
};
use rampart_core::duration::HumanDuration;
use rampart_core::step::{MAX_STEP_RESULT_BYTES, StepName};

use super::extract::{Auth, Body, Read, Work};
use super::route::Routes;
use super::{ApiError, AppState, job_id, view};
use crate::engine::{WaitFor, Wake};

pub(super) fn router() -> Routes {
    Routes::new()
        .add(JOBS_STEPS, jobs_steps)
        .add(JOBS_STEP_RECORD, jobs_step_record)
        .add(JOBS_STEP_SLEEP, jobs_step_sleep)
        .add(JOBS_STEP_WAIT, jobs_step_wait)
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

async fn jobs_step_wait(
    State(state): State<AppState>,
    _auth: Auth<Work>,
    Path((id, step)): Path<(String, String)>,
    Body(req): Body<StepWaitRequest>,
) -> Result<Json<StepWaitResponse>, ApiError> {
    let (id, name) = (job_id(&id)?, step_name(&step)?);
    StepName::parse(&req.event).map_err(|e| ApiError::invalid(format!("invalid field `event`: {e}")))?;
    let match_on = match req.match_on {
        Some(m) if m.path.is_empty() || m.path.chars().count() > 200 => {
            return Err(ApiError::invalid(
                "invalid field `match.path`: give 1 to 200 characters, e.g. \"data.order_id\"",
            ));
        }
        Some(m) if m.value.get().len() > MAX_MATCH_VALUE_BYTES => {
            return Err(ApiError::invalid(format!(
                "invalid field `match.value`: at most {MAX_MATCH_VALUE_BYTES} bytes of JSON"
            )));
        }
        // Kept canonical (parsed and written again), so equal values index alike.
        Some(m) => Some((m.path, canonical(m.value.get()))),
        None => None,
    };
    let wait = WaitFor { event: req.event, match_on, timeout: HumanDuration::get(req.timeout) };
    let waited = state.engine.step_wait(id, req.lease_token, name.clone(), wait).await?;
    let waiting = waited.state == rampart_core::job::JobState::Waiting;
    Ok(Json(StepWaitResponse {
        step: name.as_str().to_string(),
        state: waited.state,
        result: view::raw(waited.result),
        timeout_at: if waiting { waited.run_at } else { None },
    }))
}

/// Largest `match.value`, in bytes of JSON.
const MAX_MATCH_VALUE_BYTES: usize = 1024;

/// JSON text written again from its parsed value.
fn canonical(json: &str) -> String {
    serde_json::from_str::<serde_json::Value>(json).map_or_else(|_| json.to_string(), |v| v.to_string())
}
