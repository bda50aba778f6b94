//! The single writer with group commit.
//!
//! SQLite allows one writer at a time, so all writes go to one thread that
//! owns the write connection. It takes every write waiting in its channel,
//! runs them in one transaction (each inside its own savepoint, so one
//! failing write rolls back alone) and answers them only after the COMMIT:
//! an acknowledged write is durable, and throughput grows with load instead
//! of stopping at one transaction per job.

use std::sync::mpsc;
use std::thread;

use rusqlite::Connection;
use tokio::sync::oneshot;

use crate::error::StoreError;

/// Most writes committed together; bounds how long one transaction runs.
const MAX_GROUP: usize = 512;

/// A write waiting for the writer thread.
trait WriteTask: Send {
    /// Runs the write inside the open transaction; false when it failed and
    /// its savepoint must be rolled back.
    fn run(&mut self, conn: &Connection) -> bool;
    /// Answers the caller once the transaction's fate is known.
    fn finish(self: Box<Self>, commit: Result<(), StoreError>);
}

struct Task<T, F> {
    write: Option<F>,
    outcome: Option<Result<T, StoreError>>,
    reply: oneshot::Sender<Result<T, StoreError>>,
}

impl<T, F> WriteTask for Task<T, F>
where
    T: Send,
    F: FnOnce(&Connection) -> Result<T, StoreError> + Send,
{
    fn run(&mut self, conn: &Connection) -> bool {
        let Some(write) = self.write.take() else { return false };
        let outcome = write(conn);
        let ok = outcome.is_ok();
        self.outcome = Some(outcome);
        ok
    }

    fn finish(self: Box<Self>, commit: Result<(), StoreError>) {
        let answer = match (self.outcome, commit) {
            (Some(Err(e)), _) => Err(e),
            (Some(Ok(v)), Ok(())) => Ok(v),
            (_, Err(e)) => Err(e),
            (None, Ok(())) => Err(StoreError::Internal("the write was never run".into())),
        };
        // The caller may have gone away (request cancelled); the write stands.
        let _ = self.reply.send(answer);
    }
}

/// A handle to the writer thread. Cloning shares the thread; it stops when the
/// last handle is dropped.
#[derive(Clone)]
pub struct Writer {
    tx: mpsc::Sender<Box<dyn WriteTask>>,
}

impl Writer {
    /// Starts the writer thread on `conn`.
    pub fn spawn(conn: Connection) -> std::io::Result<Writer> {
        let (tx, rx) = mpsc::channel::<Box<dyn WriteTask>>();
        thread::Builder::new().name("rampart-sqlite-writer".into()).spawn(move || run(conn, rx))?;
        Ok(Writer { tx })
    }

    /// Queues `write` for the next group commit at once, and answers, when
    /// awaited, after it is durable. Writes run in the order they were queued.
    pub fn write<T, F>(&self, write: F) -> impl Future<Output = Result<T, StoreError>> + Send + 'static
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let (reply, rx) = oneshot::channel();
        let task = Box::new(Task { write: Some(write), outcome: None, reply });
        let sent = self.tx.send(task).map_err(|_| StoreError::Unavailable("the SQLite writer has stopped".into()));
        async move {
            sent?;
            rx.await.map_err(|_| StoreError::Unavailable("the SQLite writer stopped during the write".into()))?
        }
    }
}

fn run(conn: Connection, rx: mpsc::Receiver<Box<dyn WriteTask>>) {
    let mut group: Vec<Box<dyn WriteTask>> = Vec::with_capacity(MAX_GROUP);
    while let Ok(first) = rx.recv() {
        group.push(first);
        while group.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(t) => group.push(t),
                Err(_) => break,
            }
        }
        let commit = commit_group(&conn, &mut group);
        if let Err(e) = &commit {
            tracing::error!(error = %e, writes = group.len(), "SQLite group commit failed");
        }
        for task in group.drain(..) {
            task.finish(commit.clone());
        }
    }
}

fn commit_group(conn: &Connection, group: &mut [Box<dyn WriteTask>]) -> Result<(), StoreError> {
    conn.prepare_cached("BEGIN IMMEDIATE")?.execute([])?;
    for task in group.iter_mut() {
        let step = (|| -> Result<(), StoreError> {
            conn.prepare_cached("SAVEPOINT w")?.execute([])?;
            if !task.run(conn) {
                conn.prepare_cached("ROLLBACK TO w")?.execute([])?;
            }
            conn.prepare_cached("RELEASE w")?.execute([])?;
            Ok(())
        })();
        if let Err(e) = step {
            let _ = conn.execute_batch("ROLLBACK");
            return Err(e);
        }
    }
    if let Err(e) = conn.prepare_cached("COMMIT").and_then(|mut s| s.execute([])) {
        let _ = conn.execute_batch("ROLLBACK");
        return Err(e.into());
    }
    Ok(())
}
