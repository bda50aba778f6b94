//! The store's error, with variants that mean the same on every backend.

use rampart_core::job::JobState;
use rampart_core::nul::NulError;
use rampart_core::step::StepLimit;

/// What went wrong in a store call.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// The job (or key) does not exist.
    #[error("not found")]
    NotFound,
    /// The lease token does not hold the job any more (expired, or another
    /// worker has it).
    #[error("the lease on this job is lost: it expired or the job was re-leased")]
    LeaseLost,
    /// The job is in a state that does not allow the operation.
    #[error("the job is {0}")]
    InvalidState(JobState),
    /// A uniqueness rule would be broken.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The database cannot be reached right now.
    #[error("the store is unavailable: {0}")]
    Unavailable(String),
    /// The database answers but refuses writes: its disk (or size limit) is
    /// full, or it became read-only. Reads go on; writes fail until an
    /// operator makes room, and readiness reports it meanwhile (see
    /// [`crate::Store::write_failure`]).
    #[error("the store cannot write: {0}")]
    NotWritable(String),
    /// A value the store cannot keep, such as a name or key holding NUL
    /// (see `rampart_core::nul`); the message names the field.
    #[error("{0}")]
    Invalid(String),
    /// A step the job's step state has no room for (see `rampart_core::step`).
    #[error("{0}")]
    StepLimit(StepLimit),
    /// Anything else: a bug or corrupt data.
    #[error("store error: {0}")]
    Internal(String),
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        use rusqlite::ErrorCode as C;
        match &e {
            rusqlite::Error::SqliteFailure(f, _) => match f.code {
                C::ConstraintViolation => StoreError::Conflict(e.to_string()),
                C::DiskFull | C::ReadOnly => StoreError::NotWritable(e.to_string()),
                C::DatabaseBusy | C::DatabaseLocked | C::CannotOpen | C::SystemIoFailure => {
                    StoreError::Unavailable(e.to_string())
                }
                _ => StoreError::Internal(e.to_string()),
            },
            _ => StoreError::Internal(e.to_string()),
        }
    }
}

impl From<NulError> for StoreError {
    fn from(e: NulError) -> Self {
        StoreError::Invalid(e.to_string())
    }
}
