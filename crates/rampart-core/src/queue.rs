//! A queue's counters: what its attempts came to. One type for every place
//! that counts them: the engine's running totals since start, the deltas a
//! node adds to the store and the totals the store keeps, the samples of
//! monitoring and the totals `/v1/queues` shows.

/// Counters of one queue's attempts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueCounters {
    /// Attempts that ended, however.
    pub attempts: u64,
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
    /// Run time of the ended attempts, summed, in milliseconds.
    pub run_ms: u64,
}

impl QueueCounters {
    /// Whether every counter is zero (nothing to add).
    pub fn is_zero(&self) -> bool {
        *self == QueueCounters::default()
    }

    /// Adds `other`'s counts to these (saturating).
    pub fn add(&mut self, other: &QueueCounters) {
        self.attempts = self.attempts.saturating_add(other.attempts);
        self.completed = self.completed.saturating_add(other.completed);
        self.failed = self.failed.saturating_add(other.failed);
        self.retries = self.retries.saturating_add(other.retries);
        self.dead = self.dead.saturating_add(other.dead);
        self.stalled = self.stalled.saturating_add(other.stalled);
        self.timeouts = self.timeouts.saturating_add(other.timeouts);
        self.run_ms = self.run_ms.saturating_add(other.run_ms);
    }

    /// What was counted between `earlier` and these (zero where a counter
    /// went back, which only another server's counters could do).
    pub fn since(&self, earlier: &QueueCounters) -> QueueCounters {
        QueueCounters {
            attempts: self.attempts.saturating_sub(earlier.attempts),
            completed: self.completed.saturating_sub(earlier.completed),
            failed: self.failed.saturating_sub(earlier.failed),
            retries: self.retries.saturating_sub(earlier.retries),
            dead: self.dead.saturating_sub(earlier.dead),
            stalled: self.stalled.saturating_sub(earlier.stalled),
            timeouts: self.timeouts.saturating_sub(earlier.timeouts),
            run_ms: self.run_ms.saturating_sub(earlier.run_ms),
        }
    }

    /// Mean run time of the ended attempts, in milliseconds (0 with none).
    pub fn mean_ms(&self) -> f64 {
        if self.attempts == 0 { 0.0 } else { self.run_ms as f64 / self.attempts as f64 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_add_and_subtract_back() {
        let a =
            QueueCounters { attempts: 4, completed: 3, failed: 1, retries: 1, run_ms: 40, ..QueueCounters::default() };
        let mut b = a;
        b.add(&QueueCounters { attempts: 1, dead: 1, failed: 1, run_ms: 10, ..QueueCounters::default() });
        assert_eq!(
            b.since(&a),
            QueueCounters { attempts: 1, dead: 1, failed: 1, run_ms: 10, ..QueueCounters::default() }
        );
        assert_eq!(a.since(&b).attempts, 0, "a counter that went back counts zero");
        assert_eq!((a.mean_ms(), QueueCounters::default().mean_ms()), (10.0, 0.0));
        assert!(QueueCounters::default().is_zero() && !a.is_zero());
    }
}
