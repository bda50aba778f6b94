//! Records of monitoring: the running totals of every queue, kept so that a
//! restart does not reset them, and the few counts readiness reports.
//!
//! Each node keeps its totals in memory and adds what changed to the stored
//! ones once per sampling interval (one small upsert per queue, never one
//! per job), so the stored totals are those of every node together. Beside
//! the all-time totals a row keeps the jobs completed and dead on one UTC
//! day; the first delta of a later day starts them afresh.

use rampart_core::id::QueueName;
use rampart_core::queue::QueueCounters;
use rampart_core::time::UnixMillis;

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
