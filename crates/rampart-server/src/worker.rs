//! The in-process job source: a [`rampart_client::worker::Worker`] running
//! against an [`Engine`] in the same process, with no HTTP in between.
//!
//! ```no_run
//! # async fn demo(engine: rampart_server::engine::Engine) -> Result<(), rampart_client::worker::WorkerError> {
//! use rampart_client::worker::Worker;
//! Worker::new(engine)
//!     .handle("email-send", |job| async move {
//!         println!("sending {}", job.payload);
//!         Ok(None)
//!     })
//!     .run(async { let _ = tokio::signal::ctrl_c().await; })
//!     .await
//! # }
//! ```

use std::time::Duration;

use rampart_client::worker::{Job, JobSource, Progress, SourceError, Step, StepAnswer, StepCall};
use rampart_core::id::QueueName;
use rampart_core::job::JobState;
use rampart_core::step::{MAX_STEP_RESULT_BYTES, StepName};
use rampart_store::JobRelease;

use crate::engine::{self, Engine, EngineError};

impl From<EngineError> for SourceError {
    fn from(e: EngineError) -> Self {
        match e {
            EngineError::LeaseLost => SourceError::LeaseLost,
            other => SourceError::Other(other.to_string()),
        }
    }
}

impl JobSource for Engine {
    async fn lease_jobs(
        &self,
        queue: &QueueName,
        max: u32,
        wait: Duration,
        lease: Duration,
        worker: &str,
    ) -> Result<Vec<Job>, SourceError> {
        let req = engine::LeaseRequest { max, wait, lease: Some(lease), worker: Some(worker.to_string()) };
        let jobs = self.lease(queue, req).await?;
        Ok(jobs
            .into_iter()
            .map(|j| Job {
                id: j.id,
                queue: j.queue,
                payload: j.payload,
                attempt: j.attempt,
                max_attempts: j.max_attempts,
                timeout_at: j.timeout_at,
                tenant: j.tenant,
                children: j.children.map(|c| c.into_iter().map(engine::child_view).collect()),
                lease_token: j.lease_token,
                progress: Progress::default(),
                steps: j.steps.into_iter().map(|s| (s.name, s.result)).collect(),
                step: Step::default(),
            })
            .collect())
    }

    async fn heartbeat_job(&self, job: &Job, lease: Duration) -> Result<(), SourceError> {
        self.heartbeat(job.id, job.lease_token.clone(), Some(lease)).await?;
        Ok(())
    }

    async fn progress_job(&self, job: &Job, progress: String) -> Result<(), SourceError> {
        // The route checks this bound on what arrives; here it is the caller's.
        if progress.len() > engine::MAX_PROGRESS_BYTES {
            return Err(SourceError::Other(format!(
                "the progress is {} bytes of JSON; at most {} are kept",
                progress.len(),
                engine::MAX_PROGRESS_BYTES
            )));
        }
        self.progress(job.id, job.lease_token.clone(), None, progress).await?;
        Ok(())
    }

    async fn complete_job(&self, job: &Job, result: Option<String>) -> Result<(), SourceError> {
        self.complete(job.id, job.lease_token.clone(), result).await?;
        Ok(())
    }

    async fn fail_job(&self, job: &Job, error: String, retryable: bool) -> Result<(), SourceError> {
        self.fail(job.id, job.lease_token.clone(), error, retryable).await?;
        Ok(())
    }

    async fn step_job(&self, job: &Job, name: String, call: StepCall) -> Result<StepAnswer, SourceError> {
        let name = StepName::parse(&name).map_err(SourceError::Other)?;
        let token = job.lease_token.clone();
        let done = match call {
            StepCall::Record(result) => {
                // The route checks this bound on what arrives; here it is the caller's.
                if result.len() > MAX_STEP_RESULT_BYTES {
                    return Err(SourceError::Other(format!(
                        "step `{name}`'s result is {} bytes of JSON; at most {MAX_STEP_RESULT_BYTES} are kept",
                        result.len()
                    )));
                }
                self.step_record(job.id, token, name, result).await?
            }
            StepCall::Sleep(duration) => {
                let slept = self.step_sleep(job.id, token, name, engine::Wake::After(duration)).await?;
                if slept.recorded {
                    return Ok(StepAnswer::GivenBack);
                }
                slept
            }
            StepCall::Wait(wait) => {
                let match_on = wait.match_on.map(|(path, value)| (path, value.to_string()));
                let wait = engine::WaitFor { event: wait.event, match_on, timeout: wait.timeout };
                let waited = self.step_wait(job.id, token, name, wait).await?;
                if waited.state == JobState::Waiting {
                    return Ok(StepAnswer::GivenBack);
                }
                waited
            }
        };
        Ok(StepAnswer::Recorded(done.result))
    }

    async fn release_job(&self, job: &Job) -> Result<(), SourceError> {
        let release = JobRelease { id: job.id, lease_token: job.lease_token.clone() };
        if let Some(Err(e)) = self.release(vec![release]).await?.pop() {
            return Err(e.into());
        }
        Ok(())
    }
}
