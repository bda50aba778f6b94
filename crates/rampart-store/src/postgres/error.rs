//! How driver and pool errors map onto [`StoreError`].

use deadpool_postgres::PoolError;
use tokio_postgres::error::SqlState;

use crate::error::StoreError;

impl From<tokio_postgres::Error> for StoreError {
    fn from(e: tokio_postgres::Error) -> Self {
        let Some(code) = e.code() else {
            // No SQL state: the connection broke, closed or never opened.
            return StoreError::Unavailable(format!("PostgreSQL connection failed: {e}"));
        };
        let message = e.as_db_error().map_or_else(|| e.to_string(), |d| d.message().to_string());
        if *code == SqlState::UNIQUE_VIOLATION {
            StoreError::Conflict(message)
        } else if *code == SqlState::DISK_FULL || *code == SqlState::READ_ONLY_SQL_TRANSACTION {
            // The database answers but cannot write: a full disk, or a standby.
            StoreError::NotWritable(format!("PostgreSQL: {message}"))
        } else if *code == SqlState::CHARACTER_NOT_IN_REPERTOIRE {
            // A NUL the text rule should have caught before: still the
            // caller's value, never an internal error.
            StoreError::Invalid(format!("a text value holds a character PostgreSQL cannot keep (NUL): {message}"))
        } else if *code == SqlState::QUERY_CANCELED {
            StoreError::Unavailable(format!("PostgreSQL cancelled a statement (statement timeout?): {message}"))
        } else if code.code().starts_with("08")
            || code.code().starts_with("57P")
            || code.code().starts_with("53")
            || *code == SqlState::T_R_SERIALIZATION_FAILURE
            || *code == SqlState::T_R_DEADLOCK_DETECTED
        {
            // Connection exceptions, shutdowns, lack of resources, and
            // conflicts worth retrying: the database, not the request.
            StoreError::Unavailable(format!("PostgreSQL: {message}"))
        } else {
            StoreError::Internal(format!("PostgreSQL error {}: {message}", code.code()))
        }
    }
}

pub(super) fn from_pool(e: PoolError) -> StoreError {
    match e {
        PoolError::Backend(e) => e.into(),
        other => StoreError::Unavailable(format!("no PostgreSQL connection available: {other}")),
    }
}
