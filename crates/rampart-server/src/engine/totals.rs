//! Running totals per queue since this server started.

use std::collections::HashMap;
use std::sync::Mutex;

use rampart_core::id::QueueName;
use rampart_core::job::{FailureKind, JobState};
use rampart_store::{JobAcked, JobReaped};

/// Totals of one queue.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct QueueTotalsSnapshot {
    /// Attempts that completed.
    pub completed: u64,
    /// Attempts that failed, for any reason.
    pub failed: u64,
    /// Failed attempts scheduled to retry.
    pub retries: u64,
    /// Jobs that went dead.
    pub dead: u64,
    /// Leases that expired.
    pub stalled: u64,
    /// Attempts that timed out.
    pub timeouts: u64,
    /// Mean run time of finished attempts, in milliseconds.
    pub mean_processing_ms: f64,
}

#[derive(Default, Clone, Copy)]
struct Acc {
    completed: u64,
    failed: u64,
    retries: u64,
    dead: u64,
    stalled: u64,
    timeouts: u64,
    run_ms_sum: u128,
    runs: u64,
}

impl Acc {
    fn finish(&mut self, state: JobState, run_ms: u128) {
        match state {
            JobState::Completed => self.completed += 1,
            JobState::Scheduled => {
                self.failed += 1;
                self.retries += 1;
            }
            JobState::Dead => {
                self.failed += 1;
                self.dead += 1;
            }
            _ => {}
        }
        self.run_ms_sum += run_ms;
        self.runs += 1;
    }
}

#[derive(Default)]
pub(super) struct Totals {
    queues: Mutex<HashMap<QueueName, Acc>>,
}

impl Totals {
    pub(super) fn record_acks(&self, acked: &[&JobAcked]) {
        if acked.is_empty() {
            return;
        }
        let Ok(mut map) = self.queues.lock() else { return };
        for a in acked {
            map.entry(a.queue.clone()).or_default().finish(a.state, a.run_time.as_millis());
        }
    }

    pub(super) fn record_reaped(&self, reaped: &[JobReaped]) {
        let Ok(mut map) = self.queues.lock() else { return };
        for r in reaped {
            let acc = map.entry(r.queue.clone()).or_default();
            acc.finish(r.state, r.run_time.as_millis());
            match r.kind {
                FailureKind::LeaseExpired => acc.stalled += 1,
                FailureKind::Timeout => acc.timeouts += 1,
                FailureKind::Error => {}
            }
        }
    }

    pub(super) fn snapshot(&self, queue: &QueueName) -> QueueTotalsSnapshot {
        let acc = self.queues.lock().ok().and_then(|m| m.get(queue).copied()).unwrap_or_default();
        QueueTotalsSnapshot {
            completed: acc.completed,
            failed: acc.failed,
            retries: acc.retries,
            dead: acc.dead,
            stalled: acc.stalled,
            timeouts: acc.timeouts,
            mean_processing_ms: if acc.runs == 0 { 0.0 } else { acc.run_ms_sum as f64 / acc.runs as f64 },
        }
    }
}
