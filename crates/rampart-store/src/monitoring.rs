//! Records of monitoring: the running totals of every queue, kept so that a
//! restart does not reset them, the few counts readiness reports, and
//! whether the database takes writes ([`WriteHealth`]).
//!
//! Each node keeps its totals in memory and adds what changed to the stored
//! ones once per sampling interval (one small upsert per queue, never one
//! per job), so the stored totals are those of every node together. Beside
//! the all-time totals a row keeps the jobs completed and dead on one UTC
//! day; the first delta of a later day starts them afresh.

use std::sync::{Mutex, PoisonError};

use rampart_core::id::QueueName;
use rampart_core::queue::QueueCounters;
use rampart_core::time::UnixMillis;

use crate::error::StoreError;
use crate::row::Row;

/// Bytes of the row [`crate::Store::write_probe`] writes: a few pages, so
/// the probe needs the database to grow (or reuse free pages) like a job
/// with a payload does.
pub(crate) const WRITE_PROBE_BYTES: usize = 16 * 1024;

/// Whether the database takes writes: the latest write it refused because
/// it cannot write ([`StoreError::NotWritable`]), kept until a probe write
/// succeeds. Each backend feeds it from the one place its calls pass
/// through (SQLite's writer, PostgreSQL's `call`).
#[derive(Debug, Default)]
pub(crate) struct WriteHealth {
    failure: Mutex<Option<String>>,
}

impl WriteHealth {
    /// Notes a call's outcome: a refused write is kept.
    pub(crate) fn observe<T>(&self, outcome: &Result<T, StoreError>) {
        if let Err(StoreError::NotWritable(why)) = outcome {
            *self.failure.lock().unwrap_or_else(PoisonError::into_inner) = Some(why.clone());
        }
    }

    /// The kept failure, if any.
    pub(crate) fn failure(&self) -> Option<String> {
        self.failure.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Forgets the failure: a probe write went through.
    pub(crate) fn clear(&self) {
        *self.failure.lock().unwrap_or_else(PoisonError::into_inner) = None;
    }
}

/// One day in milliseconds.
const DAY_MS: i64 = 86_400_000;

/// The UTC day a time falls on, as days since the Unix epoch: what
/// [`QueueTotalsRecord::day`] holds.
pub fn utc_day(at: UnixMillis) -> i64 {
    at.0.div_euclid(DAY_MS)
}

/// What one node adds to a queue's stored totals.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueTotalsDelta {
    /// The queue.
    pub queue: QueueName,
    /// What changed since the node's last add.
    pub counts: QueueCounters,
}

/// What [`crate::Store::queue_totals_add`] adds.
#[derive(Debug, Clone)]
pub struct QueueTotalsAddParams {
    /// One delta per queue (a queue at most once).
    pub deltas: Vec<QueueTotalsDelta>,
    /// When: its UTC day is the day the completed and dead jobs count on.
    pub now: UnixMillis,
}

/// A queue's stored totals, every node's together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueTotalsRecord {
    /// The queue.
    pub queue: QueueName,
    /// Since the totals were first stored.
    pub counts: QueueCounters,
    /// The UTC day (see [`utc_day`]) `completed_today` and `dead_today` count.
    pub day: i64,
    /// Jobs completed on `day`.
    pub completed_today: u64,
    /// Jobs that went dead on `day`.
    pub dead_today: u64,
    /// When a node last added to them.
    pub updated_at: UnixMillis,
}

/// The job figures readiness reports, read with index-only conditions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JobHealthCounts {
    /// Jobs ready to lease.
    pub available: u64,
    /// Jobs leased (active leases).
    pub active: u64,
    /// Active jobs whose lease has expired and that no reaper has failed yet.
    pub stale_leases: u64,
    /// Jobs completed today (UTC), as the nodes last stored their totals.
    pub completed_today: u64,
    /// Jobs that went dead today (UTC), as the nodes last stored their totals.
    pub dead_today: u64,
}

impl QueueTotalsRecord {
    /// The record of a row read with the columns `queue, attempts,
    /// completed, failed, retries, dead, stalled, timeouts, run_ms, day,
    /// completed_today, dead_today, updated_at`.
    pub(crate) fn from_row<R: Row>(r: &R) -> Result<QueueTotalsRecord, R::Error> {
        Ok(QueueTotalsRecord {
            queue: r.parsed(0, "queue name")?,
            counts: QueueCounters {
                attempts: r.counter(1)?,
                completed: r.counter(2)?,
                failed: r.counter(3)?,
                retries: r.counter(4)?,
                dead: r.counter(5)?,
                stalled: r.counter(6)?,
                timeouts: r.counter(7)?,
                run_ms: r.counter(8)?,
            },
            day: r.int(9)?,
            completed_today: r.counter(10)?,
            dead_today: r.counter(11)?,
            updated_at: r.time(12)?,
        })
    }
}
