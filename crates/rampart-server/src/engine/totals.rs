//! Running totals per queue since this server started, with a histogram of
//! attempt run times: what `/v1/queues` shows and what the monitoring
//! sampler turns into deltas.
//!
//! The hot path pays one lock per ack batch (or reap batch) and a few
//! additions per job; nothing here allocates once a queue has been seen.

use std::collections::HashMap;
use std::sync::Mutex;

use rampart_core::id::QueueName;
use rampart_core::job::{FailureKind, JobState};
use rampart_core::queue::QueueCounters;
use rampart_store::{JobAcked, JobReaped};

/// Upper bounds of the run-time histogram's buckets, in microseconds: the
/// conventional Prometheus latency buckets from 1 ms to 1 h. A last bucket,
/// past every bound, holds the longer runs.
pub const RUN_TIME_BOUNDS_US: [u64; 18] = [
    1_000,
    2_500,
    5_000,
    10_000,
    25_000,
    50_000,
    100_000,
    250_000,
    500_000,
    1_000_000,
    2_500_000,
    5_000_000,
    10_000_000,
    30_000_000,
    60_000_000,
    300_000_000,
    900_000_000,
    3_600_000_000,
];

/// Buckets of the run-time histogram: one per bound and one past them.
pub const RUN_TIME_BUCKETS: usize = RUN_TIME_BOUNDS_US.len() + 1;

/// Every running total of one queue since start, raw: counters only grow,
/// so two of them taken apart in time subtract into what happened between.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunningTotals {
    /// What the queue's attempts came to.
    pub counts: QueueCounters,
    /// Ended attempts per run-time bucket (not cumulative); see
    /// [`RUN_TIME_BOUNDS_US`].
    pub buckets: [u64; RUN_TIME_BUCKETS],
}

impl Default for RunningTotals {
    fn default() -> Self {
        RunningTotals { counts: QueueCounters::default(), buckets: [0; RUN_TIME_BUCKETS] }
    }
}

impl RunningTotals {
    /// What happened between `earlier` and `self` (zero where a counter
    /// went back, which only a different server's totals could do).
    pub fn since(&self, earlier: &RunningTotals) -> RunningTotals {
        let mut buckets = [0; RUN_TIME_BUCKETS];
        for (i, b) in buckets.iter_mut().enumerate() {
            *b = self.buckets[i].saturating_sub(earlier.buckets[i]);
        }
        RunningTotals { counts: self.counts.since(&earlier.counts), buckets }
    }

    /// The run time under which `q` (0 to 1) of the ended attempts fall, in
    /// milliseconds, interpolated within its bucket as Prometheus's
    /// `histogram_quantile` does (0 with no attempts; the last bound when it
    /// falls past every bound).
    pub fn quantile_ms(&self, q: f64) -> f64 {
        let total: u64 = self.buckets.iter().sum();
        if total == 0 {
            return 0.0;
        }
        let rank = q.clamp(0.0, 1.0) * total as f64;
        let mut below = 0u64;
        for (i, &n) in self.buckets.iter().enumerate() {
            if n > 0 && (below + n) as f64 >= rank {
                let Some(&upper) = RUN_TIME_BOUNDS_US.get(i) else {
                    return RUN_TIME_BOUNDS_US[RUN_TIME_BOUNDS_US.len() - 1] as f64 / 1_000.0;
                };
                let lower = if i == 0 { 0 } else { RUN_TIME_BOUNDS_US[i - 1] };
                let within = (rank - below as f64) / n as f64;
                return (lower as f64 + within * (upper - lower) as f64) / 1_000.0;
            }
            below += n;
        }
        RUN_TIME_BOUNDS_US[RUN_TIME_BOUNDS_US.len() - 1] as f64 / 1_000.0
    }

    fn finish(&mut self, state: JobState, run: std::time::Duration) {
        let c = &mut self.counts;
        match state {
            JobState::Completed => c.completed += 1,
            JobState::Scheduled => {
                c.failed += 1;
                c.retries += 1;
            }
            JobState::Dead => {
                c.failed += 1;
                c.dead += 1;
            }
            _ => {}
        }
        let us = u64::try_from(run.as_micros()).unwrap_or(u64::MAX);
        c.run_ms = c.run_ms.saturating_add(us / 1_000);
        c.attempts += 1;
        self.buckets[RUN_TIME_BOUNDS_US.partition_point(|&bound| bound < us)] += 1;
    }
}

#[derive(Default)]
pub(super) struct Totals {
    queues: Mutex<HashMap<QueueName, RunningTotals>>,
}

impl Totals {
    pub(super) fn record_acks(&self, acked: &[&JobAcked]) {
        if acked.is_empty() {
            return;
        }
        let Ok(mut map) = self.queues.lock() else { return };
        for a in acked {
            match map.get_mut(&a.queue) {
                Some(t) => t.finish(a.state, a.run_time),
                None => map.entry(a.queue.clone()).or_default().finish(a.state, a.run_time),
            }
        }
    }

    pub(super) fn record_reaped(&self, reaped: &[JobReaped]) {
        let Ok(mut map) = self.queues.lock() else { return };
        for r in reaped {
            let t = map.entry(r.queue.clone()).or_default();
            // A stall gives the job back without counting the attempt.
            if r.state != JobState::Available {
                t.finish(r.state, r.run_time);
            }
            match r.kind {
                FailureKind::LeaseExpired => t.counts.stalled += 1,
                FailureKind::Timeout => t.counts.timeouts += 1,
                FailureKind::Error => {}
            }
        }
    }

    pub(super) fn counts(&self, queue: &QueueName) -> QueueCounters {
        self.queues.lock().ok().and_then(|m| m.get(queue).map(|t| t.counts)).unwrap_or_default()
    }

    pub(super) fn all(&self) -> Vec<(QueueName, RunningTotals)> {
        let Ok(map) = self.queues.lock() else { return Vec::new() };
        let mut all: Vec<(QueueName, RunningTotals)> = map.iter().map(|(q, t)| (q.clone(), *t)).collect();
        all.sort_by(|a, b| a.0.cmp(&b.0));
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn with_runs(runs_ms: &[u64]) -> RunningTotals {
        let mut t = RunningTotals::default();
        for &ms in runs_ms {
            t.finish(JobState::Completed, Duration::from_millis(ms));
        }
        t
    }

    #[test]
    fn runs_fall_in_the_bucket_of_the_first_bound_not_below_them() {
        let t = with_runs(&[0, 1, 2, 3_600_000, 3_600_001]);
        assert_eq!(t.buckets[0], 2, "0 ms and exactly 1 ms are within 1 ms");
        assert_eq!(t.buckets[1], 1, "2 ms is within 2.5 ms");
        assert_eq!(t.buckets[RUN_TIME_BUCKETS - 2], 1, "exactly 1 h");
        assert_eq!(t.buckets[RUN_TIME_BUCKETS - 1], 1, "past every bound");
        assert_eq!((t.counts.attempts, t.counts.completed, t.counts.run_ms), (5, 5, 7_200_004));
    }

    #[test]
    fn quantiles_interpolate_within_the_bucket() {
        fn check(runs: &[u64], q: f64, expected: f64) {
            let got = with_runs(runs).quantile_ms(q);
            assert!((got - expected).abs() < 1e-9, "{runs:?} q{q}: {got} != {expected}");
        }
        check(&[], 0.95, 0.0);
        // 20 runs in (5, 10] ms: the 95th percentile is 19/20 of the way.
        check(&[7; 20], 0.95, 5.0 + 0.95 * 5.0);
        // 19 fast runs and one of 40 ms: rank 19 is the last fast one.
        check(&[&[1; 19][..], &[40]].concat(), 0.95, 1.0);
        check(&[&[1; 18][..], &[40, 40]].concat(), 0.95, 25.0 + 0.5 * 25.0);
        check(&[5_000_000], 0.5, 3_600_000.0);
    }

    #[test]
    fn since_subtracts_every_counter() {
        let earlier = with_runs(&[1, 7]);
        let later = with_runs(&[1, 7, 7, 300]);
        let d = later.since(&earlier);
        assert_eq!((d.counts.attempts, d.counts.completed, d.counts.run_ms), (2, 2, 307));
        assert_eq!(d.buckets.iter().sum::<u64>(), 2);
        assert_eq!(earlier.since(&later), RunningTotals::default());
    }
}
