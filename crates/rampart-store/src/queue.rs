//! Records of queue operations.

use rampart_core::id::QueueName;
use rampart_core::job::JobState;

/// A queue known to the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueRecord {
    /// The queue.
    pub name: QueueName,
    /// Whether leasing is paused.
    pub paused: bool,
}

/// How many jobs a queue holds in each state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueCounts {
    /// The queue.
    pub queue: QueueName,
    /// Jobs per state, in [`JobState::ALL`] order.
    pub counts: [u64; JobState::ALL.len()],
}

impl QueueCounts {
    /// Zero jobs in every state.
    pub fn empty(queue: QueueName) -> Self {
        QueueCounts { queue, counts: [0; JobState::ALL.len()] }
    }

    /// The count for one state.
    pub fn get(&self, state: JobState) -> u64 {
        self.counts[state_index(state)]
    }

    /// Sets the count for one state.
    pub fn set(&mut self, state: JobState, n: u64) {
        self.counts[state_index(state)] = n;
    }
}

fn state_index(state: JobState) -> usize {
    JobState::ALL.iter().position(|s| *s == state).unwrap_or(0)
}

/// What [`crate::Store::queue_delete`] came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueueDeleted {
    /// No such queue: no row, no jobs and no totals.
    Unknown,
    /// Nothing deleted: the queue holds jobs that are not finished.
    NotEmpty {
        /// Jobs delayed or waiting to retry.
        scheduled: u64,
        /// Jobs ready to lease.
        available: u64,
        /// Jobs leased.
        active: u64,
    },
    /// The queue is gone, with its finished jobs (this many) and their
    /// history, its totals, start-rate windows and enqueue keys.
    Deleted {
        /// Finished jobs deleted.
        jobs: u64,
    },
}

/// The SQL of a queue's delete, the same on both backends but for the
/// placeholder (`?1` on SQLite, `$1` on PostgreSQL), each statement taking
/// the queue's name as its only argument.
pub(crate) mod delete_sql {
    /// The queue's unfinished jobs per state: scheduled, available, active.
    /// Each count reads one of the hot path's indexes.
    pub(crate) const UNFINISHED: &str = "SELECT (SELECT COUNT(*) FROM jobs WHERE state = 'scheduled' AND queue = {q}),
                (SELECT COUNT(*) FROM jobs WHERE state = 'available' AND queue = {q}),
                (SELECT COUNT(*) FROM jobs WHERE state = 'active' AND queue = {q})";

    /// Whether anything of the queue is stored (its row, jobs or totals).
    pub(crate) const KNOWN: &str = "SELECT EXISTS (SELECT 1 FROM queues WHERE name = {q})
                OR EXISTS (SELECT 1 FROM jobs WHERE queue = {q})
                OR EXISTS (SELECT 1 FROM queue_totals WHERE queue = {q})";

    /// The queue's row.
    pub(crate) const DELETE_ROW: &str = "DELETE FROM queues WHERE name = {q}";

    /// The history of its jobs, before them.
    pub(crate) const DELETE_HISTORY: &str =
        "DELETE FROM job_events WHERE job_id IN (SELECT id FROM jobs WHERE queue = {q})";

    /// Its jobs, finished ones only: the count of what the delete came to.
    pub(crate) const DELETE_JOBS: &str =
        "DELETE FROM jobs WHERE queue = {q} AND state IN ('completed', 'dead', 'cancelled')";

    /// What else is kept per queue.
    pub(crate) const DELETE_REST: [&str; 3] = [
        "DELETE FROM queue_totals WHERE queue = {q}",
        "DELETE FROM queue_rates WHERE queue = {q}",
        "DELETE FROM enqueue_keys WHERE queue = {q}",
    ];

    /// `sql` with the backend's placeholder for the queue.
    pub(crate) fn with(sql: &str, placeholder: &str) -> String {
        sql.replace("{q}", placeholder)
    }
}
