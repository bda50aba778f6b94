//! Job routes: enqueue, lease, heartbeat, ack, inspect, retry, cancel.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use rampart_core::id::JobId;
use rampart_core::job::JobState;
use rampart_core::time::UnixMillis;
use rampart_store::{AckOutcome, JobAck, JobListParams};
use serde::Deserialize;

use super::extract::{Admin, Auth, Body, Enqueue, Read, Work};
use super::{ApiError, AppState, duration_field, job_id, queue_name, view};
use crate::engine::{self, EngineError, JobSpec};
use rampart_client::wire::*;

/// Longest unique key and worker name accepted.
const MAX_KEY_LEN: usize = 1024;
const MAX_WORKER_LEN: usize = 200;
/// Default and largest page of a listing.
const DEFAULT_PAGE: u32 = 50;
const MAX_PAGE: u32 = 1_000;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/queues/{queue}/jobs", post(jobs_create).get(jobs_list))
        .route("/v1/queues/{queue}/jobs/batch", post(jobs_create_batch))
        .route("/v1/queues/{queue}/lease", post(jobs_lease))
        .route("/v1/jobs/{id}", get(jobs_get))
        .route("/v1/jobs/{id}/heartbeat", post(jobs_heartbeat))
        .route("/v1/jobs/{id}/complete", post(jobs_complete))
        .route("/v1/jobs/{id}/fail", post(jobs_fail))
        .route("/v1/jobs/{id}/release", post(jobs_release))
        .route("/v1/jobs/{id}/retry", post(jobs_retry))
        .route("/v1/jobs/{id}/cancel", post(jobs_cancel))
        .route("/v1/acks", post(jobs_ack))
}

/// Turns a wire enqueue into a spec, naming fields as `{prefix}field`.
fn spec(req: EnqueueRequest, prefix: &str) -> Result<JobSpec, ApiError> {
    let field = |name: &str| format!("{prefix}{name}");
    let run_at = req
        .run_at
        .as_deref()
        .map(|s| {
            UnixMillis::parse_rfc3339(s)
                .map_err(|e| ApiError::invalid(format!("invalid field `{}`: {e}", field("run_at"))))
        })
        .transpose()?;
    if let Some(key) = &req.unique_key
        && (key.is_empty() || key.len() > MAX_KEY_LEN)
    {
        return Err(ApiError::invalid(format!(
            "invalid field `{}`: use 1 to {MAX_KEY_LEN} bytes",
            field("unique_key")
        )));
    }
    if req.max_attempts == Some(0) {
        return Err(ApiError::invalid(format!("invalid field `{}`: must be at least 1", field("max_attempts"))));
    }
    let timeout = duration_field(&field("timeout"), req.timeout.as_deref())?;
    if timeout.is_some_and(|t| t.is_zero()) {
        return Err(ApiError::invalid(format!(
            "invalid field `{}`: must be longer than 0s; omit it for no timeout",
            field("timeout")
        )));
    }
    if req.delay.is_some() && run_at.is_some() {
        return Err(ApiError::invalid(format!("give either `{}` or `{}`, not both", field("delay"), field("run_at"))));
    }
    Ok(JobSpec {
        payload: req.payload.get().to_string(),
        run_at,
        delay: duration_field(&field("delay"), req.delay.as_deref())?,
        priority: req.priority.unwrap_or(0),
        max_attempts: req.max_attempts,
        timeout,
        unique_key: req.unique_key,
    })
}

async fn jobs_create(
    State(state): State<AppState>,
    _auth: Auth<Enqueue>,
    Path(queue): Path<String>,
    Body(req): Body<EnqueueRequest>,
) -> Result<(StatusCode, Json<EnqueueResponse>), ApiError> {
    let queue = queue_name(&queue)?;
    let inserted = state.engine.enqueue(&queue, vec![spec(req, "")?]).await?;
    let job = inserted.into_iter().next().ok_or_else(|| ApiError::invalid("nothing was enqueued"))?;
    let status = if job.duplicate { StatusCode::OK } else { StatusCode::CREATED };
    Ok((
        status,
        Json(EnqueueResponse { id: job.id.to_string(), state: job.state.to_string(), duplicate: job.duplicate }),
    ))
}

async fn jobs_create_batch(
    State(state): State<AppState>,
    _auth: Auth<Enqueue>,
    Path(queue): Path<String>,
    Body(req): Body<BatchRequest>,
) -> Result<(StatusCode, Json<BatchResponse>), ApiError> {
    let queue = queue_name(&queue)?;
    if req.jobs.is_empty() {
        return Err(ApiError::invalid("invalid field `jobs`: the batch is empty"));
    }
    let specs = req
        .jobs
        .into_iter()
        .enumerate()
        .map(|(i, j)| spec(j, &format!("jobs[{i}].")))
        .collect::<Result<Vec<_>, _>>()?;
    let inserted = state.engine.enqueue(&queue, specs).await?;
    Ok((StatusCode::CREATED, Json(BatchResponse { ids: inserted.into_iter().map(|j| j.id.to_string()).collect() })))
}

async fn jobs_lease(
    State(state): State<AppState>,
    auth: Auth<Work>,
    Path(queue): Path<String>,
    Body(req): Body<rampart_client::wire::LeaseRequest>,
) -> Result<Json<LeaseResponse>, ApiError> {
    let queue = queue_name(&queue)?;
    if let Some(target) = &state.engine.queue_config(&queue).target {
        // Its dispatcher delivers every job: a worker's lease would take jobs from it.
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "QUEUE_IS_PUSH",
            format!(
                "queue `{queue}` is a push queue: rampart delivers its jobs to {target}; workers cannot lease from it"
            ),
        ));
    }
    // Bounds of `max`, `wait` and `lease` are the engine's, checked there.
    let max = req.max.unwrap_or(1);
    let wait = duration_field("wait", req.wait.as_deref())?.unwrap_or_default();
    let lease = duration_field("lease", req.lease.as_deref())?;
    if req.worker.as_ref().is_some_and(|w| w.len() > MAX_WORKER_LEN) {
        return Err(ApiError::invalid(format!("invalid field `worker`: at most {MAX_WORKER_LEN} bytes")));
    }
    if req.worker.is_none() {
        // A worker that gives no name is known by its key.
        state.engine.worker_seen(&format!("key:{}", auth.key.id));
    }
    let jobs = state.engine.lease(&queue, engine::LeaseRequest { max, wait, lease, worker: req.worker }).await?;
    Ok(Json(LeaseResponse { jobs: jobs.into_iter().map(view::leased).collect() }))
}

async fn jobs_heartbeat(
    State(state): State<AppState>,
    _auth: Auth<Work>,
    Path(id): Path<String>,
    Body(req): Body<HeartbeatRequest>,
) -> Result<Json<HeartbeatResponse>, ApiError> {
    let id = job_id(&id)?;
    let lease = duration_field("lease", req.lease.as_deref())?;
    let expires = state.engine.heartbeat(id, req.lease_token, lease).await?;
    Ok(Json(HeartbeatResponse { lease_expires_at: expires.to_rfc3339() }))
}

fn ack_response(a: rampart_store::JobAcked) -> AckResponse {
    AckResponse {
        id: a.id.to_string(),
        state: a.state.to_string(),
        retry_at: a.retry_at.map(|t| t.to_rfc3339()),
        already: a.already,
    }
}

async fn jobs_complete(
    State(state): State<AppState>,
    _auth: Auth<Work>,
    Path(id): Path<String>,
    Body(req): Body<CompleteRequest>,
) -> Result<Json<AckResponse>, ApiError> {
    let id = job_id(&id)?;
    let result = req.result.map(|r| r.get().to_string());
    Ok(Json(ack_response(state.engine.complete(id, req.lease_token, result).await?)))
}

async fn jobs_release(
    State(state): State<AppState>,
    _auth: Auth<Work>,
    Path(id): Path<String>,
    Body(req): Body<ReleaseRequest>,
) -> Result<Json<JobStateResponse>, ApiError> {
    let id = job_id(&id)?;
    let release = rampart_store::JobRelease { id, lease_token: req.lease_token };
    let no_answer = || EngineError::Store(rampart_store::StoreError::Internal("no release result".into()));
    let released = state.engine.release(vec![release]).await?.pop().unwrap_or_else(|| Err(no_answer()))?;
    Ok(Json(JobStateResponse { id: released.id.to_string(), state: JobState::Available.to_string() }))
}

async fn jobs_fail(
    State(state): State<AppState>,
    _auth: Auth<Work>,
    Path(id): Path<String>,
    Body(req): Body<FailRequest>,
) -> Result<Json<AckResponse>, ApiError> {
    let id = job_id(&id)?;
    let retryable = req.retryable.unwrap_or(true);
    Ok(Json(ack_response(state.engine.fail(id, req.lease_token, req.error, retryable).await?)))
}

async fn jobs_ack(
    State(state): State<AppState>,
    _auth: Auth<Work>,
    Body(req): Body<AcksRequest>,
) -> Result<Json<AcksResponse>, ApiError> {
    let mut acks = Vec::with_capacity(req.complete.len() + req.fail.len());
    for (i, c) in req.complete.into_iter().enumerate() {
        let id =
            job_id(&c.id).map_err(|e| ApiError::invalid(format!("invalid field `complete[{i}].id`: {}", e.message)))?;
        acks.push(JobAck {
            id,
            lease_token: c.lease_token,
            outcome: AckOutcome::Complete { result: c.result.map(|r| r.get().to_string()) },
        });
    }
    for (i, f) in req.fail.into_iter().enumerate() {
        let id =
            job_id(&f.id).map_err(|e| ApiError::invalid(format!("invalid field `fail[{i}].id`: {}", e.message)))?;
        acks.push(JobAck {
            id,
            lease_token: f.lease_token,
            outcome: AckOutcome::Fail { error: f.error, retryable: f.retryable.unwrap_or(true), retry_at: None },
        });
    }
    let ids: Vec<String> = acks.iter().map(|a| a.id.to_string()).collect();
    let results = state.engine.ack(acks).await?;
    let results = ids
        .into_iter()
        .zip(results)
        .map(|(id, r)| match r {
            Ok(a) => AckResult { id, state: Some(a.state.to_string()), already: a.already, error: None },
            Err(e) => {
                let api = ApiError::from(e);
                AckResult {
                    id,
                    state: None,
                    already: false,
                    error: Some(ErrorDetail { code: api.code.to_string(), message: api.message }),
                }
            }
        })
        .collect();
    Ok(Json(AcksResponse { results }))
}

async fn jobs_get(
    State(state): State<AppState>,
    _auth: Auth<Read>,
    Path(id): Path<String>,
) -> Result<Json<JobView>, ApiError> {
    let id = job_id(&id)?;
    Ok(Json(view::job(state.engine.job(id).await?)))
}

/// Answers a transition the job's state does not allow with 409 and what it needs.
fn refused(id: JobId, needs: &'static str) -> impl FnOnce(EngineError) -> ApiError {
    move |e| match e {
        EngineError::InvalidState(s) => {
            ApiError::new(StatusCode::CONFLICT, "INVALID_STATE", format!("job {id} is {s}; {needs}"))
        }
        other => other.into(),
    }
}

async fn jobs_retry(
    State(state): State<AppState>,
    _auth: Auth<Admin>,
    Path(id): Path<String>,
) -> Result<Json<JobStateResponse>, ApiError> {
    let id = job_id(&id)?;
    state.engine.job_retry(id).await.map_err(refused(id, "only dead or cancelled jobs can be retried"))?;
    Ok(Json(JobStateResponse { id: id.to_string(), state: JobState::Available.to_string() }))
}

async fn jobs_cancel(
    State(state): State<AppState>,
    _auth: Auth<Admin>,
    Path(id): Path<String>,
) -> Result<Json<JobStateResponse>, ApiError> {
    let id = job_id(&id)?;
    state.engine.job_cancel(id).await.map_err(refused(id, "only scheduled or available jobs can be cancelled"))?;
    Ok(Json(JobStateResponse { id: id.to_string(), state: JobState::Cancelled.to_string() }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    state: Option<String>,
    limit: Option<u32>,
    cursor: Option<String>,
}

async fn jobs_list(
    State(state): State<AppState>,
    _auth: Auth<Read>,
    Path(queue): Path<String>,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<JobListResponse>, ApiError> {
    let Query(q) = query.map_err(|e| ApiError::invalid(format!("invalid query: {}", e.body_text())))?;
    let queue = queue_name(&queue)?;
    let job_state = q
        .state
        .as_deref()
        .map(|s| s.parse::<JobState>().map_err(|e| ApiError::invalid(format!("invalid parameter `state`: {e}"))))
        .transpose()?;
    let limit = q.limit.unwrap_or(DEFAULT_PAGE);
    if limit == 0 || limit > MAX_PAGE {
        return Err(ApiError::invalid(format!("invalid parameter `limit`: use 1 to {MAX_PAGE}")));
    }
    let after = q
        .cursor
        .as_deref()
        .map(|c| {
            job_id(c).map_err(|_| {
                ApiError::invalid("invalid parameter `cursor`: pass the `next_cursor` of the previous page")
            })
        })
        .transpose()?;
    let jobs = state.engine.jobs(JobListParams { queue, state: job_state, after, limit }).await?;
    let next_cursor = (jobs.len() == limit as usize).then(|| jobs.last().map(|j| j.id.to_string())).flatten();
    Ok(Json(JobListResponse { jobs: jobs.into_iter().map(view::job).collect(), next_cursor }))
}
