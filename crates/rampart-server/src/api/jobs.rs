//! Job routes: enqueue, lease, heartbeat, ack, inspect, retry, cancel.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use rampart_client::endpoint::{
    ACKS, JOBS_CANCEL, JOBS_COMPLETE, JOBS_CREATE, JOBS_CREATE_BATCH, JOBS_FAIL, JOBS_GET, JOBS_HEARTBEAT, JOBS_LEASE,
    JOBS_LEASE_FAIL, JOBS_LEASE_RELEASE, JOBS_LIST, JOBS_PROGRESS, JOBS_RELEASE, JOBS_RETRY,
};
use rampart_core::duration::HumanDuration;
use rampart_core::id::{JobId, QueueName};
use rampart_core::job::{JobState, check_tenant};
use rampart_store::{AckOutcome, FlowInserted, JobAck, JobInserted, JobListParams};

use super::extract::{Admin, Auth, Body, Enqueue, Read, Work};
use super::route::Routes;
use super::{ApiError, AppState, job_id, queue_name, view};
use crate::engine::{self, EngineError, InvalidFlow, JobSpec};
use rampart_client::wire::*;

/// Longest `Idempotency-Key` accepted.
const MAX_IDEMPOTENCY_KEY_LEN: usize = 255;

/// Longest worker name accepted.
const MAX_WORKER_LEN: usize = 200;
/// Default page of a listing.
const DEFAULT_PAGE: u32 = 50;

pub(super) fn router() -> Routes {
    Routes::new()
        .add(JOBS_CREATE, jobs_create)
        .add(JOBS_LIST, jobs_list)
        .add(JOBS_CREATE_BATCH, jobs_create_batch)
        .add(JOBS_LEASE, jobs_lease)
        .add(JOBS_GET, jobs_get)
        .add(JOBS_HEARTBEAT, jobs_heartbeat)
        .add(JOBS_PROGRESS, jobs_progress)
        .add(JOBS_COMPLETE, jobs_complete)
        .add(JOBS_FAIL, jobs_fail)
        .add(JOBS_RELEASE, jobs_release)
        .add(JOBS_LEASE_RELEASE, jobs_lease_release)
        .add(JOBS_LEASE_FAIL, jobs_lease_fail)
        .add(JOBS_RETRY, jobs_retry)
        .add(JOBS_CANCEL, jobs_cancel)
        .add(ACKS, jobs_ack)
}

/// Checks a wire enqueue and turns it into a spec, naming fields as `{at}field`.
fn spec(state: &AppState, req: EnqueueRequest, at: &str) -> Result<JobSpec, ApiError> {
    JobSpec::from_flow_request(req, at, state.engine.now()).map_err(|e| match e {
        // 400 with a code of its own, not 413: the body is within every
        // documented bound of its schema (each list ≤ 1,000), only the tree's
        // total is over, which a schema cannot state.
        InvalidFlow::TooLarge(_) => ApiError::new(StatusCode::BAD_REQUEST, "FLOW_TOO_LARGE", e.to_string()),
        InvalidFlow::Invalid(m) => ApiError::invalid(m),
    })
}

/// Enqueues specs of which some have children: one transaction for every
/// job of every tree. An `Idempotency-Key` is refused: the key's record
/// holds a flat list of jobs, not a tree.
async fn enqueue_flow(
    state: &AppState,
    headers: &HeaderMap,
    queue: &QueueName,
    specs: Vec<JobSpec>,
) -> Result<Vec<FlowInserted>, ApiError> {
    if headers.contains_key("idempotency-key") {
        return Err(ApiError::invalid(
            "header `Idempotency-Key` cannot be used with `children`: give the parent a `unique_key` instead",
        ));
    }
    Ok(state.engine.enqueue_flow(queue, specs).await?)
}

fn flow_response(f: FlowInserted) -> EnqueueResponse {
    EnqueueResponse {
        id: f.job.id,
        state: f.job.state,
        duplicate: f.job.duplicate,
        children: f.children.into_iter().map(flow_response).collect(),
    }
}

/// The request's `Idempotency-Key`: 1 to 255 visible ASCII characters.
fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(value) = headers.get("idempotency-key") else { return Ok(None) };
    match value.to_str() {
        Ok(k) if !k.trim().is_empty() && k.len() <= MAX_IDEMPOTENCY_KEY_LEN => Ok(Some(k.trim().to_string())),
        _ => Err(ApiError::invalid(format!(
            "invalid header `Idempotency-Key`: use 1 to {MAX_IDEMPOTENCY_KEY_LEN} visible ASCII characters, e.g. a UUID"
        ))),
    }
}

/// Enqueues, under the request's `Idempotency-Key` when it has one: a
/// repeat within the queue's `idempotency_window` answers the jobs the key made
/// (`duplicate`) and the header `Idempotent-Replayed: true`.
async fn enqueue(
    state: &AppState,
    headers: &HeaderMap,
    queue: &QueueName,
    specs: Vec<JobSpec>,
) -> Result<(Vec<JobInserted>, HeaderMap), ApiError> {
    let mut answer = HeaderMap::new();
    let Some(key) = idempotency_key(headers)? else { return Ok((state.engine.enqueue(queue, specs).await?, answer)) };
    let window = state.engine.queue_config(queue).idempotency_window;
    let keyed = state.engine.enqueue_keyed(queue, specs, key, window).await?;
    if keyed.replayed {
        answer.insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    Ok((keyed.jobs, answer))
}

async fn jobs_create(
    State(state): State<AppState>,
    _auth: Auth<Enqueue>,
    Path(queue): Path<String>,
    headers: HeaderMap,
    Body(req): Body<EnqueueRequest>,
) -> Result<(StatusCode, HeaderMap, Json<EnqueueResponse>), ApiError> {
    let queue = queue_name(&queue)?;
    let spec = spec(&state, req, "")?;
    if spec.children.is_some() {
        let flow = enqueue_flow(&state, &headers, &queue, vec![spec]).await?;
        let flow = flow.into_iter().next().ok_or_else(|| ApiError::invalid("nothing was enqueued"))?;
        let status = if flow.job.duplicate { StatusCode::OK } else { StatusCode::CREATED };
        return Ok((status, HeaderMap::new(), Json(flow_response(flow))));
    }
    let (inserted, answer) = enqueue(&state, &headers, &queue, vec![spec]).await?;
    let job = inserted.into_iter().next().ok_or_else(|| ApiError::invalid("nothing was enqueued"))?;
    let status = if job.duplicate { StatusCode::OK } else { StatusCode::CREATED };
    let answer_body = EnqueueResponse { id: job.id, state: job.state, duplicate: job.duplicate, children: Vec::new() };
    Ok((status, answer, Json(answer_body)))
}

async fn jobs_create_batch(
    State(state): State<AppState>,
    _auth: Auth<Enqueue>,
    Path(queue): Path<String>,
    headers: HeaderMap,
    Body(req): Body<BatchRequest>,
) -> Result<(StatusCode, HeaderMap, Json<BatchResponse>), ApiError> {
    let queue = queue_name(&queue)?;
    if req.jobs.is_empty() {
        return Err(ApiError::invalid("invalid field `jobs`: the batch is empty"));
    }
    let specs = req
        .jobs
        .into_iter()
        .enumerate()
        .map(|(i, j)| spec(&state, j, &format!("jobs[{i}].")))
        .collect::<Result<Vec<_>, _>>()?;
    if specs.iter().any(|s| s.children.is_some()) {
        let flows = enqueue_flow(&state, &headers, &queue, specs).await?;
        return Ok((
            StatusCode::CREATED,
            HeaderMap::new(),
            Json(BatchResponse { ids: flows.iter().map(|f| f.job.id).collect() }),
        ));
    }
    let (inserted, answer) = enqueue(&state, &headers, &queue, specs).await?;
    let status = if answer.is_empty() { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, answer, Json(BatchResponse { ids: inserted.into_iter().map(|j| j.id).collect() })))
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
    let wait = req.wait.map(HumanDuration::get).unwrap_or_default();
    let lease = req.lease.map(HumanDuration::get);
    if req.worker.as_ref().is_some_and(|w| w.len() > MAX_WORKER_LEN) {
        return Err(ApiError::invalid(format!("invalid field `worker`: at most {MAX_WORKER_LEN} bytes")));
    }
    if req.worker.is_none() {
        // A worker that gives no name is known by its key.
        state.engine.worker_seen(&queue, &format!("key:{}", auth.key.id));
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
    let lease = req.lease.map(HumanDuration::get);
    let expires = match req.progress {
        Some(progress) => state.engine.progress(id, req.lease_token, lease, checked_progress(&progress)?).await?,
        None => state.engine.heartbeat(id, req.lease_token, lease).await?,
    };
    Ok(Json(HeartbeatResponse { lease_expires_at: expires }))
}

async fn jobs_progress(
    State(state): State<AppState>,
    _auth: Auth<Work>,
    Path(id): Path<String>,
    Body(req): Body<ProgressRequest>,
) -> Result<Json<HeartbeatResponse>, ApiError> {
    let id = job_id(&id)?;
    let progress = checked_progress(&req.progress)?;
    let expires = state.engine.progress(id, req.lease_token, None, progress).await?;
    Ok(Json(HeartbeatResponse { lease_expires_at: expires }))
}

/// A progress report as kept: its JSON text, at most [`engine::MAX_PROGRESS_BYTES`].
fn checked_progress(progress: &serde_json::value::RawValue) -> Result<String, ApiError> {
    let text = progress.get();
    if text.len() > engine::MAX_PROGRESS_BYTES {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "PAYLOAD_TOO_LARGE",
            format!(
                "invalid field `progress`: it is {} bytes; the limit is {} bytes (16 KiB)",
                text.len(),
                engine::MAX_PROGRESS_BYTES
            ),
        ));
    }
    Ok(text.to_string())
}

fn ack_response(a: rampart_store::JobAcked) -> AckResponse {
    AckResponse { id: a.id, state: a.state, retry_at: a.retry_at, already: a.already }
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
    Ok(Json(JobStateResponse { id: released.id, state: JobState::Available }))
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
    for c in req.complete {
        acks.push(JobAck {
            id: c.id,
            lease_token: c.lease_token,
            outcome: AckOutcome::Complete { result: c.result.map(|r| r.get().to_string()) },
        });
    }
    for f in req.fail {
        acks.push(JobAck {
            id: f.id,
            lease_token: f.lease_token,
            outcome: AckOutcome::Fail { error: f.error, retryable: f.retryable.unwrap_or(true), retry_at: None },
        });
    }
    let ids: Vec<JobId> = acks.iter().map(|a| a.id).collect();
    let results = state.engine.ack(acks).await?;
    let results = ids
        .into_iter()
        .zip(results)
        .map(|(id, r)| match r {
            Ok(a) => AckResult { id, state: Some(a.state), already: a.already, error: None },
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
    query: Result<Query<JobGetQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<JobView>, ApiError> {
    let Query(q) = query.map_err(|e| ApiError::invalid(format!("invalid query: {}", e.body_text())))?;
    let id = job_id(&id)?;
    let job = match q.wait {
        Some(wait) => state.engine.job_when_ended(id, wait.get()).await?,
        None => state.engine.job(id).await?,
    };
    Ok(Json(view::job(job)))
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

/// A held lease that ended between the read of its token and the call.
fn lease_ended(id: JobId) -> impl FnOnce(EngineError) -> ApiError {
    move |e| match e {
        EngineError::LeaseLost => ApiError::new(
            StatusCode::CONFLICT,
            "LEASE_LOST",
            format!("job {id}'s attempt ended meanwhile (acked by its worker, or reaped); read the job again"),
        ),
        other => refused(id, "only an active job has a lease to release or fail")(other),
    }
}

async fn jobs_lease_release(
    State(state): State<AppState>,
    _auth: Auth<Admin>,
    Path(id): Path<String>,
) -> Result<Json<JobStateResponse>, ApiError> {
    let id = job_id(&id)?;
    state.engine.job_release_held(id).await.map_err(lease_ended(id))?;
    Ok(Json(JobStateResponse { id, state: JobState::Available }))
}

async fn jobs_lease_fail(
    State(state): State<AppState>,
    auth: Auth<Admin>,
    Path(id): Path<String>,
    Body(req): Body<LeaseFailRequest>,
) -> Result<Json<JobStateResponse>, ApiError> {
    let id = job_id(&id)?;
    let chars = req.error.chars().count();
    if chars == 0 || chars > LeaseFailRequest::MAX_ERROR_CHARS {
        return Err(ApiError::invalid(format!(
            "invalid field `error`: give 1 to {} characters",
            LeaseFailRequest::MAX_ERROR_CHARS
        )));
    }
    let error = format!("failed by an operator ({}): {}", auth.key.name, req.error);
    let acked = state.engine.job_fail_held(id, error).await.map_err(lease_ended(id))?;
    Ok(Json(JobStateResponse { id, state: acked.state }))
}

async fn jobs_retry(
    State(state): State<AppState>,
    _auth: Auth<Admin>,
    Path(id): Path<String>,
) -> Result<Json<JobStateResponse>, ApiError> {
    let id = job_id(&id)?;
    state.engine.job_retry(id).await.map_err(refused(id, "only dead or cancelled jobs can be retried"))?;
    Ok(Json(JobStateResponse { id, state: JobState::Available }))
}

async fn jobs_cancel(
    State(state): State<AppState>,
    _auth: Auth<Admin>,
    Path(id): Path<String>,
) -> Result<Json<JobStateResponse>, ApiError> {
    let id = job_id(&id)?;
    state.engine.job_cancel(id).await.map_err(refused(id, "only scheduled or available jobs can be cancelled"))?;
    Ok(Json(JobStateResponse { id, state: JobState::Cancelled }))
}

async fn jobs_list(
    State(state): State<AppState>,
    _auth: Auth<Read>,
    Path(queue): Path<String>,
    query: Result<Query<JobListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<JobListResponse>, ApiError> {
    let Query(q) = query.map_err(|e| ApiError::invalid(format!("invalid query: {}", e.body_text())))?;
    let queue = queue_name(&queue)?;
    let limit = q.limit.unwrap_or(DEFAULT_PAGE);
    if limit == 0 || limit > JobListQuery::MAX_LIMIT {
        return Err(ApiError::invalid(format!("invalid parameter `limit`: use 1 to {}", JobListQuery::MAX_LIMIT)));
    }
    if let Some(tenant) = &q.tenant {
        check_tenant(tenant).map_err(|e| ApiError::invalid(format!("invalid parameter `tenant`: {e}")))?;
    }
    let params = JobListParams { queue, state: q.state, tenant: q.tenant, after: q.cursor, limit };
    let jobs = state.engine.jobs(params).await?;
    let next_cursor = (jobs.len() == limit as usize).then(|| jobs.last().map(|j| j.id.to_string())).flatten();
    Ok(Json(JobListResponse { jobs: jobs.into_iter().map(view::job).collect(), next_cursor }))
}
