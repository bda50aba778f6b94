//! The checkpointer: copies the WAL back into the database on its own
//! thread and connection.
//!
//! SQLite's automatic checkpoint runs inside the commit that crosses the
//! threshold, on the writer thread, stalling every write behind it. Here the
//! writer has automatic checkpoints off, and this thread runs a PASSIVE
//! checkpoint (which never blocks the writer or readers) every
//! [`INTERVAL`], so the WAL stays short and commits stay fast.
//!
//! A passive checkpoint cannot reset the WAL while writes never pause, so
//! under sustained load the file would grow without bound; past
//! [`WAL_RESTART_BYTES`] a RESTART checkpoint briefly waits for the writer
//! and makes the next commit start the WAL from its beginning again.

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use rusqlite::Connection;

use crate::error::StoreError;

/// Time between checkpoints.
const INTERVAL: Duration = Duration::from_millis(500);
/// WAL size past which a checkpoint makes writers start it over.
const WAL_RESTART_BYTES: u64 = 256 * 1024 * 1024;

/// Runs checkpoints until dropped.
pub(super) struct Checkpointer {
    // Dropping the sender wakes and ends the thread.
    _stop: mpsc::Sender<()>,
}

impl Checkpointer {
    pub(super) fn spawn(db_path: &Path) -> Result<Checkpointer, StoreError> {
        let conn = Connection::open(db_path)?;
        let wal_path = PathBuf::from(format!("{}-wal", db_path.display()));
        conn.busy_timeout(Duration::from_secs(5))?;
        let (stop, stopped) = mpsc::channel::<()>();
        thread::Builder::new()
            .name("rampart-sqlite-checkpoint".into())
            .spawn(move || {
                while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(INTERVAL) {
                    let wal_bytes = std::fs::metadata(&wal_path).map_or(0, |m| m.len());
                    let mode = if wal_bytes > WAL_RESTART_BYTES { "RESTART" } else { "PASSIVE" };
                    let sql = format!("PRAGMA wal_checkpoint({mode})");
                    if let Err(e) = conn.query_row(&sql, [], |_| Ok(())) {
                        tracing::warn!(error = %e, mode, "SQLite checkpoint failed; trying again shortly");
                    }
                }
            })
            .map_err(|e| StoreError::Internal(format!("cannot start the SQLite checkpoint thread: {e}")))?;
        Ok(Checkpointer { _stop: stop })
    }
}
