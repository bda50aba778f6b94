//! What an operator does to one job beyond retry and cancel (the
//! dashboard's and the admin API's calls): retry with an edited payload, and
//! for a job stuck active, give its lease back or fail its attempt now.
//!
//! The last two act without the worker's lease token: they read the token
//! of the lease holding the job and make the worker's own call with it
//! (release, or fail), so they go through the same compare-and-set. An
//! attempt that ended between the read and the call is not touched (the
//! call answers [`EngineError::LeaseLost`]), and the worker, acking later,
//! finds its lease gone as after any lost lease.

use rampart_core::id::JobId;
use rampart_store::{AckOutcome, JobAck, JobAcked, JobRelease, JobReleased, StoreError};

use super::{Engine, EngineError, not_found_as};

impl Engine {
    /// Retries a dead or cancelled job with a new payload (JSON text, at
    /// most `max_payload_bytes`); the payload it had stays in its history.
    pub async fn job_retry_edited(&self, id: JobId, payload: String) -> Result<(), EngineError> {
        if payload.len() > self.inner.max_payload_bytes {
            return Err(EngineError::PayloadTooLarge {
                index: 0,
                size: payload.len(),
                limit: self.inner.max_payload_bytes,
            });
        }
        if let Err(e) = serde_json::from_str::<serde_json::Value>(&payload) {
            return Err(EngineError::Invalid(format!("`payload` is not valid JSON: {e}")));
        }
        let now = self.now();
        let retried = self.inner.store.job_retry_edited(id, payload, now).await.map_err(|e| not_found_as(e, id))?;
        self.inner.wakers.wake_queue(&retried.queue);
        Ok(())
    }

    /// Gives the lease of an active job back, as its worker would: the job
    /// is available again at once and the attempt is not counted.
    pub async fn job_release_held(&self, id: JobId) -> Result<JobReleased, EngineError> {
        let lease_token = self.held_token(id).await?;
        self.release(vec![JobRelease { id, lease_token }])
            .await?
            .pop()
            .unwrap_or(Err(EngineError::Store(StoreError::Internal("no release result".into()))))
    }

    /// Fails the running attempt of an active job with `error`, as its
    /// worker would: the queue's retry policy decides a retry or death.
    pub async fn job_fail_held(&self, id: JobId, error: String) -> Result<JobAcked, EngineError> {
        let lease_token = self.held_token(id).await?;
        let outcome = AckOutcome::Fail { error, retryable: true, retry_at: None };
        self.ack_one(JobAck { id, lease_token, outcome }).await
    }

    /// The token of the lease holding `id`: the job must be active.
    async fn held_token(&self, id: JobId) -> Result<String, EngineError> {
        match self.inner.store.job_lease_token(id).await? {
            Some(token) => Ok(token),
            None => Err(EngineError::InvalidState(self.job(id).await?.state)),
        }
    }
}
