//! SQL of push queues' signing secrets on SQLite.

use rampart_core::id::QueueName;
use rampart_core::time::UnixMillis;
use rusqlite::{Connection, params};

use crate::error::StoreError;

/// Stores `candidate` unless the queue has a secret, and answers the one kept
/// (on the writer thread, so two callers cannot both store theirs).
pub(super) fn secret_ensure(
    c: &Connection,
    queue: &QueueName,
    candidate: &str,
    now: UnixMillis,
) -> Result<String, StoreError> {
    Ok(c.prepare_cached(
        "INSERT INTO push_secrets (queue, secret, created_at) VALUES (?1, ?2, ?3)
         ON CONFLICT (queue) DO UPDATE SET secret = push_secrets.secret
         RETURNING secret",
    )?
    .query_row(params![queue.as_str(), candidate, now.0], |r| r.get(0))?)
}
