//! The checkpointer: copies the WAL back into the database on its own
//! thread and connection.
//!
//! SQLite's automatic checkpoint runs inside the commit that crosses the
//! threshold, on the writer thread, stalling every write behind it. Here the
//! writer has automatic checkpoints off, and this thread runs a PASSIVE
//! checkpoint (which never blocks the writer or readers) every
//! [`INTERVAL`], so the WAL stays short and commits stay fast.

use std::path::Path;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use rusqlite::Connection;

use crate::error::StoreError;

/// Time between checkpoints.
const INTERVAL: Duration = Duration::from_millis(500);

/// Runs checkpoints until dropped.
pub(super) struct Checkpointer {
    // Dropping the sender wakes and ends the thread.
    _stop: mpsc::Sender<()>,
}

impl Checkpointer {
    pub(super) fn spawn(db_path: &Path) -> Result<Checkpointer, StoreError> {
        let conn = Connection::open(db_path)?;
        conn.busy_timeout(Duration::from_secs(5))?;
        let (stop, stopped) = mpsc::channel::<()>();
        thread::Builder::new()
            .name("rampart-sqlite-checkpoint".into())
            .spawn(move || {
                while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(INTERVAL) {
                    if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
                        tracing::warn!(error = %e, "SQLite checkpoint failed; trying again shortly");
                    }
                }
            })
            .map_err(|e| StoreError::Internal(format!("cannot start the SQLite checkpoint thread: {e}")))?;
        Ok(Checkpointer { _stop: stop })
    }
}
