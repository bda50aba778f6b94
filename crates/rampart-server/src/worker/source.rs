//! Where a worker gets its jobs: a remote server over HTTP, or an engine in
//! the same process. Both speak the same four verbs.

use std::time::Duration;

use rampart_core::duration::format_duration;
use rampart_core::id::{JobId, QueueName};
use rampart_core::time::UnixMillis;

use crate::client::{Client, ClientError};
use crate::engine::{self, Engine, EngineError};
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
    pub(super) lease_token: String,
}

impl Job {
    /// The payload decoded into `T`.
    pub fn payload_as<T: serde::de::DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_str(&self.payload)
    }
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

impl From<EngineError> for SourceError {
    fn from(e: EngineError) -> Self {
        match e {
            EngineError::LeaseLost => SourceError::LeaseLost,
            other => SourceError::Other(other.to_string()),
        }
    }
}

impl From<ClientError> for SourceError {
    fn from(e: ClientError) -> Self {
        if e.is_code("LEASE_LOST") { SourceError::LeaseLost } else { SourceError::Other(e.to_string()) }
    }
}

/// The server a worker pulls from.
#[derive(Clone)]
pub enum Source {
    /// A rampart server over HTTP.
    Remote(Client),
    /// An engine in this process.
    Embedded(Engine),
}

impl Source {
    pub(super) async fn lease(
        &self,
        queue: &QueueName,
        max: u32,
        wait: Duration,
        lease: Duration,
        worker: &str,
    ) -> Result<Vec<Job>, SourceError> {
        match self {
            Source::Embedded(engine) => {
                let req = engine::LeaseRequest { max, wait, lease: Some(lease), worker: Some(worker.to_string()) };
                let jobs = engine.lease(queue, req).await?;
                Ok(jobs
                    .into_iter()
                    .map(|j| Job {
                        id: j.id,
                        queue: j.queue,
                        payload: j.payload,
                        attempt: j.attempt,
                        max_attempts: j.max_attempts,
                        timeout_at: j.timeout_at,
                        lease_token: j.lease_token,
                    })
                    .collect())
            }
            Source::Remote(client) => {
                let req = wire::LeaseRequest {
                    max: Some(max),
                    wait: Some(format_duration(wait)),
                    lease: Some(format_duration(lease)),
                    worker: Some(worker.to_string()),
                };
                let resp = client.lease(queue.as_str(), &req).await?;
                resp.jobs
                    .into_iter()
                    .map(|j| {
                        Ok(Job {
                            id: j.id.parse().map_err(|e| SourceError::Other(format!("bad job id from server: {e}")))?,
                            queue: queue.clone(),
                            payload: j.payload.get().to_string(),
                            attempt: j.attempt,
                            max_attempts: j.max_attempts,
                            timeout_at: j.timeout_at.as_deref().and_then(|t| UnixMillis::parse_rfc3339(t).ok()),
                            lease_token: j.lease_token,
                        })
                    })
                    .collect()
            }
        }
    }

    pub(super) async fn heartbeat(&self, job: &Job, lease: Duration) -> Result<(), SourceError> {
        match self {
            Source::Embedded(engine) => {
                engine.heartbeat(job.id, job.lease_token.clone(), Some(lease)).await?;
            }
            Source::Remote(client) => {
                let req = wire::HeartbeatRequest {
                    lease_token: job.lease_token.clone(),
                    lease: Some(format_duration(lease)),
                };
                client.heartbeat(&job.id.to_string(), &req).await?;
            }
        }
        Ok(())
    }

    pub(super) async fn complete(&self, job: &Job, result: Option<String>) -> Result<(), SourceError> {
        match self {
            Source::Embedded(engine) => {
                engine.complete(job.id, job.lease_token.clone(), result).await?;
            }
            Source::Remote(client) => {
                let result = result
                    .map(serde_json::value::RawValue::from_string)
                    .transpose()
                    .map_err(|e| SourceError::Other(format!("the result is not JSON: {e}")))?;
                let req = wire::CompleteRequest { lease_token: job.lease_token.clone(), result };
                client.complete(&job.id.to_string(), &req).await?;
            }
        }
        Ok(())
    }

    pub(super) async fn fail(&self, job: &Job, error: String, retryable: bool) -> Result<(), SourceError> {
        match self {
            Source::Embedded(engine) => {
                engine.fail(job.id, job.lease_token.clone(), error, retryable).await?;
            }
            Source::Remote(client) => {
                let req = wire::FailRequest { lease_token: job.lease_token.clone(), error, retryable: Some(retryable) };
                client.fail(&job.id.to_string(), &req).await?;
            }
        }
        Ok(())
    }
    /// Gives the lease back without counting the attempt.
    pub(super) async fn release(&self, job: &Job) -> Result<(), SourceError> {
        match self {
            Source::Embedded(engine) => {
                let release = rampart_store::JobRelease { id: job.id, lease_token: job.lease_token.clone() };
                if let Some(Err(e)) = engine.release(vec![release]).await?.pop() {
                    return Err(e.into());
                }
            }
            Source::Remote(client) => {
                let req = wire::ReleaseRequest { lease_token: job.lease_token.clone() };
                client.release(&job.id.to_string(), &req).await?;
            }
        }
        Ok(())
    }
}
