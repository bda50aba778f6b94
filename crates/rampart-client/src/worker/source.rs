//! Where a worker gets its jobs: the [`JobSource`] trait, and its remote
//! implementation over HTTP by the [`Client`]. (`rampart-server` implements
//! it for an engine in the same process.)

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use rampart_core::id::{JobId, QueueName};
use rampart_core::time::UnixMillis;

use super::step::{Step, StepAnswer, StepCall};
use crate::client::{Client, ClientError};
use crate::wire;

/// A leased job handed to a handler.
#[derive(Debug, Clone)]
pub struct Job {
    /// The job's id.
    pub id: JobId,
    /// Its queue.
    pub queue: QueueName,
    /// The payload as JSON text.
    pub payload: String,
    /// This attempt's number, from 1.
    pub attempt: u32,
    /// Attempts allowed.
    pub max_attempts: u32,
    /// When this attempt times out, if the job has a timeout.
    pub timeout_at: Option<UnixMillis>,
    /// The customer the job belongs to.
    pub tenant: Option<String>,
    /// For a parent (enqueued with `children`), its children's outcomes:
    /// their results to combine, and under `on_child_dead = "ignore"` the
    /// errors of those that died. `None` for a job that is no parent.
    pub children: Option<Vec<wire::ChildView>>,
    /// The lease's token: the worker heartbeats and acknowledges with it, so
    /// a handler has no use for it.
    pub lease_token: String,
    /// Where [`Job::update_progress`] reports: set by the worker on each job
    /// it hands to a handler; a source leaves it empty.
    pub progress: Progress,
    /// The steps recorded so far (name, JSON text), in the order reached.
    pub steps: Vec<(String, String)>,
    /// The job's steps (`job.step.run(name, f)`): set by the worker on each
    /// job it hands to a handler; a source leaves it empty.
    pub step: Step,
}

/// Reports a running job's progress to its source (JSON text in).
type Report = dyn Fn(String) -> Pin<Box<dyn Future<Output = Result<(), SourceError>> + Send>> + Send + Sync;

/// The way back to the server for a job's progress; empty on a job no
/// worker handed out.
#[derive(Clone, Default)]
pub struct Progress(Option<Arc<Report>>);

impl Progress {
    /// Reports through `source` for `job`, as the worker does for each job.
    pub(super) fn to<S: JobSource>(source: Arc<S>, job: &Job) -> Progress {
        let job = Job { progress: Progress::default(), ..job.clone() };
        Progress(Some(Arc::new(move |progress| {
            let (source, job) = (Arc::clone(&source), job.clone());
            Box::pin(async move { source.progress_job(&job, progress).await })
        })))
    }
}

impl fmt::Debug for Progress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_some() { "Progress(reporting)" } else { "Progress(none)" })
    }
}

impl Job {
    /// The payload decoded into `T`.
    pub fn payload_as<T: serde::de::DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_str(&self.payload)
    }

    /// A parent's completed children's results decoded into `T`, in the
    /// children's id order (empty for a job that is no parent; children
    /// that did not complete are left out: see [`Job::children`]).
    pub fn children_results<T: serde::de::DeserializeOwned>(&self) -> Result<Vec<T>, serde_json::Error> {
        self.children
            .iter()
            .flatten()
            .filter(|c| c.state == rampart_core::job::JobState::Completed)
            .map(|c| serde_json::from_str(c.result.as_ref().map_or("null", |r| r.get())))
            .collect()
    }

    /// Keeps the attempt's progress on the job (any JSON, at most 16 KiB),
    /// shown by `GET /v1/jobs/{id}` and `rampart jobs show`, as BullMQ's
    /// `job.updateProgress`; it extends the lease as a heartbeat does.
    /// [`SourceError::LeaseLost`] when the job is no longer this worker's.
    pub async fn update_progress(&self, progress: &impl serde::Serialize) -> Result<(), SourceError> {
        let text = serde_json::to_string(progress)
            .map_err(|e| SourceError::Other(format!("the progress is not JSON: {e}")))?;
        match &self.progress.0 {
            Some(report) => report(text).await,
            None => Err(SourceError::Other(
                "this job was not handed out by a worker, so it has no lease to report to".into(),
            )),
        }
    }
}

/// The [`Step`] handle of a job handed out by a worker: its steps recorded
/// through `source`.
pub(super) fn steps_of<S: JobSource>(source: Arc<S>, job: &Job) -> Step {
    let bare = Job { progress: Progress::default(), step: Step::default(), ..job.clone() };
    let call = Arc::new(move |name: String, call: StepCall| {
        let (source, job) = (Arc::clone(&source), bare.clone());
        Box::pin(async move { source.step_job(&job, name, call).await })
            as Pin<Box<dyn Future<Output = Result<StepAnswer, SourceError>> + Send>>
    });
    Step::new(job.id, &job.steps, call)
}

/// Why talking to the job source failed.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The lease is gone: stop working on the job.
    #[error("the lease is lost")]
    LeaseLost,
    /// Anything else; worth retrying later.
    #[error("{0}")]
    Other(String),
}

impl From<ClientError> for SourceError {
    fn from(e: ClientError) -> Self {
        if e.is_code("LEASE_LOST") { SourceError::LeaseLost } else { SourceError::Other(e.to_string()) }
    }
}

/// The server a worker pulls from: the five verbs of a job's lease.
pub trait JobSource: Send + Sync + 'static {
    /// Leases up to `max` jobs of `queue` for `lease`, long-polling up to
    /// `wait` when none is available; `worker` is recorded in the history.
    fn lease_jobs(
        &self,
        queue: &QueueName,
        max: u32,
        wait: Duration,
        lease: Duration,
        worker: &str,
    ) -> impl Future<Output = Result<Vec<Job>, SourceError>> + Send;

    /// Extends the job's lease to `lease` from now.
    fn heartbeat_job(&self, job: &Job, lease: Duration) -> impl Future<Output = Result<(), SourceError>> + Send;

    /// Keeps the job's progress (JSON text) and extends its lease as a
    /// heartbeat does.
    fn progress_job(&self, job: &Job, progress: String) -> impl Future<Output = Result<(), SourceError>> + Send;

    /// Reports the job as done, with its result as JSON text.
    fn complete_job(&self, job: &Job, result: Option<String>) -> impl Future<Output = Result<(), SourceError>> + Send;

    /// Reports the attempt as failed; not `retryable` sends the job to `dead`.
    fn fail_job(
        &self,
        job: &Job,
        error: String,
        retryable: bool,
    ) -> impl Future<Output = Result<(), SourceError>> + Send;

    /// Gives the lease back without counting the attempt.
    fn release_job(&self, job: &Job) -> impl Future<Output = Result<(), SourceError>> + Send;

    /// Records a step of the job (see [`Step`]).
    fn step_job(
        &self,
        job: &Job,
        name: String,
        call: StepCall,
    ) -> impl Future<Output = Result<StepAnswer, SourceError>> + Send;
}

impl JobSource for Client {
    async fn lease_jobs(
        &self,
        queue: &QueueName,
        max: u32,
        wait: Duration,
        lease: Duration,
        worker: &str,
    ) -> Result<Vec<Job>, SourceError> {
        let req = wire::LeaseRequest {
            max: Some(max),
            wait: Some(wait.into()),
            lease: Some(lease.into()),
            worker: Some(worker.to_string()),
        };
        let resp = self.lease(queue.as_str(), &req).await?;
        Ok(resp
            .jobs
            .into_iter()
            .map(|j| Job {
                id: j.id,
                queue: j.queue,
                payload: j.payload.get().to_string(),
                attempt: j.attempt,
                max_attempts: j.max_attempts,
                timeout_at: j.timeout_at,
                tenant: j.tenant,
                children: j.children,
                lease_token: j.lease_token,
                progress: Progress::default(),
                steps: j
                    .step_order
                    .iter()
                    .filter_map(|n| Some((n.clone(), j.steps.get(n)?.get().to_string())))
                    .collect(),
                step: Step::default(),
            })
            .collect())
    }

    async fn heartbeat_job(&self, job: &Job, lease: Duration) -> Result<(), SourceError> {
        let req =
            wire::HeartbeatRequest { lease_token: job.lease_token.clone(), lease: Some(lease.into()), progress: None };
        self.heartbeat(&job.id.to_string(), &req).await?;
        Ok(())
    }

    async fn progress_job(&self, job: &Job, progress: String) -> Result<(), SourceError> {
        let progress = serde_json::value::RawValue::from_string(progress)
            .map_err(|e| SourceError::Other(format!("the progress is not JSON: {e}")))?;
        let req = wire::ProgressRequest { lease_token: job.lease_token.clone(), progress };
        self.progress(&job.id.to_string(), &req).await?;
        Ok(())
    }

    async fn complete_job(&self, job: &Job, result: Option<String>) -> Result<(), SourceError> {
        let result = result
            .map(serde_json::value::RawValue::from_string)
            .transpose()
            .map_err(|e| SourceError::Other(format!("the result is not JSON: {e}")))?;
        let req = wire::CompleteRequest { lease_token: job.lease_token.clone(), result };
        self.complete(&job.id.to_string(), &req).await?;
        Ok(())
    }

    async fn fail_job(&self, job: &Job, error: String, retryable: bool) -> Result<(), SourceError> {
        let req = wire::FailRequest { lease_token: job.lease_token.clone(), error, retryable: Some(retryable) };
        self.fail(&job.id.to_string(), &req).await?;
        Ok(())
    }

    async fn release_job(&self, job: &Job) -> Result<(), SourceError> {
        let req = wire::ReleaseRequest { lease_token: job.lease_token.clone() };
        self.release(&job.id.to_string(), &req).await?;
        Ok(())
    }

    async fn step_job(&self, job: &Job, name: String, call: StepCall) -> Result<StepAnswer, SourceError> {
        let (id, lease_token) = (job.id.to_string(), job.lease_token.clone());
        let json = |text: String| {
            serde_json::value::RawValue::from_string(text).map_err(|e| SourceError::Other(format!("not JSON: {e}")))
        };
        match call {
            StepCall::Record(result) => {
                let req = wire::StepRecordRequest { lease_token, result: json(result)? };
                Ok(StepAnswer::Recorded(self.step_record(&id, &name, &req).await?.result.get().to_string()))
            }
            StepCall::Sleep(duration) => {
                let req = wire::StepSleepRequest { lease_token, until: None, duration: Some(duration.into()) };
                let slept = self.step_sleep(&id, &name, &req).await?;
                Ok(if slept.recorded { StepAnswer::GivenBack } else { StepAnswer::Recorded("null".into()) })
            }
            StepCall::Wait(wait) => {
                let match_on = match wait.match_on {
                    Some((path, value)) => Some(wire::EventMatch { path, value: json(value.to_string())? }),
                    None => None,
                };
                let req =
                    wire::StepWaitRequest { lease_token, event: wait.event, match_on, timeout: wait.timeout.into() };
                let waited = self.step_wait(&id, &name, &req).await?;
                Ok(match waited.state {
                    rampart_core::job::JobState::Waiting => StepAnswer::GivenBack,
                    _ => StepAnswer::Recorded(waited.result.get().to_string()),
                })
            }
        }
    }
}
