//! The engine's error: what callers (routes, workers) branch on.

use rampart_core::id::{JobId, QueueName};
use rampart_core::job::JobState;
use rampart_store::StoreError;

/// What went wrong in an engine call.
#[derive(Debug, Clone, thiserror::Error)]
pub enum EngineError {
    /// A request value is out of bounds; the message names the field.
    #[error("{0}")]
    Invalid(String),
    /// A job's payload is larger than `max_payload_bytes`.
    #[error("the payload of job {index} is {size} bytes; the limit (max_payload_bytes) is {limit} bytes")]
    PayloadTooLarge {
        /// The job's position in the request.
        index: usize,
        /// Its size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// No such job.
    #[error("job {0} does not exist (it may have been purged)")]
    JobNotFound(JobId),
    /// No such queue.
    #[error("queue `{0}` does not exist")]
    QueueNotFound(QueueName),
    /// The queue holds jobs that are not finished, so it cannot be deleted.
    #[error(
        "queue `{queue}` holds {scheduled} scheduled, {available} available and {active} active jobs; \
         let them finish or cancel them, then delete the queue"
    )]
    QueueNotEmpty {
        /// The queue.
        queue: QueueName,
        /// Jobs delayed or waiting to retry.
        scheduled: u64,
        /// Jobs ready to lease.
        available: u64,
        /// Jobs leased.
        active: u64,
    },
    /// The lease token does not hold the job.
    #[error("the lease is lost: it expired or the job was leased again; do not retry this ack")]
    LeaseLost,
    /// The job's state does not allow the operation.
    #[error("the job is {0}")]
    InvalidState(JobState),
    /// A uniqueness rule would be broken.
    #[error("{0}")]
    Conflict(String),
    /// The store failed.
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for EngineError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::LeaseLost => EngineError::LeaseLost,
            StoreError::InvalidState(s) => EngineError::InvalidState(s),
            StoreError::Conflict(m) => EngineError::Conflict(m),
            StoreError::Invalid(m) => EngineError::Invalid(m),
            other => EngineError::Store(other),
        }
    }
}
