//! Retry policy: how many attempts a job gets and how long it waits between.
//!
//! Backoff is exponential (`initial × factor^(attempt-1)`, capped at `max`)
//! with symmetric jitter (±`jitter` of the delay) so that jobs which failed
//! together do not retry together.

use std::time::Duration;

use crate::time::UnixMillis;

/// Exponential backoff with jitter.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    /// Delay before the first retry.
    pub initial: Duration,
    /// Multiplier per further attempt (≥ 1).
    pub factor: f64,
    /// Upper bound on the delay before jitter.
    pub max: Duration,
    /// Fraction of the delay added or removed at random, in `[0, 1]`.
    pub jitter: f64,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff { initial: Duration::from_secs(1), factor: 2.0, max: Duration::from_secs(3600), jitter: 0.2 }
    }
}

impl Backoff {
    /// The delay before retry number `attempt` (1 = after the first failed
    /// attempt), with `unit` in `[0, 1)` picking the point within the jitter band.
    pub fn delay(&self, attempt: u32, unit: f64) -> Duration {
        let exp = i32::try_from(attempt.saturating_sub(1)).unwrap_or(i32::MAX);
        let base = (self.initial.as_secs_f64() * self.factor.powi(exp)).min(self.max.as_secs_f64());
        let spread = base * self.jitter * (2.0 * unit.clamp(0.0, 1.0) - 1.0);
        Duration::from_secs_f64((base + spread).max(0.0))
    }
}

/// What happens to a job after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureOutcome {
    /// Run again at this time.
    Retry(UnixMillis),
    /// Give up: the job is dead.
    Dead,
}

/// Decides the fate of a job whose attempt number `attempt` (1-based) failed.
///
/// Dead when the failure is not retryable or no attempts are left; otherwise a
/// retry after the backoff delay. `unit` in `[0, 1)` drives the jitter.
pub fn decide_failure(
    backoff: &Backoff,
    attempt: u32,
    max_attempts: u32,
    retryable: bool,
    now: UnixMillis,
    unit: f64,
) -> FailureOutcome {
    if !retryable || attempt >= max_attempts {
        FailureOutcome::Dead
    } else {
        FailureOutcome::Retry(now.plus(backoff.delay(attempt, unit)))
    }
}

/// The furthest a failure may push its retry past now by asking for a time
/// (an HTTP `Retry-After`): a receiver cannot park a job for longer.
pub const MAX_REQUESTED_DELAY: Duration = Duration::from_secs(24 * 60 * 60);

/// A retry planned for `planned` that its failure asked to hold until
/// `requested`: the later of the two, the request capped at
/// [`MAX_REQUESTED_DELAY`] from `now`.
pub fn retry_not_before(planned: UnixMillis, requested: Option<UnixMillis>, now: UnixMillis) -> UnixMillis {
    match requested {
        Some(at) => planned.max(at.min(now.plus(MAX_REQUESTED_DELAY))),
        None => planned,
    }
}

/// Looks up the backoff for a queue when a failure must be planned.
///
/// Implemented by the server from its per-queue configuration; the store calls
/// it inside the transaction that records the failure.
pub trait RetryPlanner: Send + Sync + 'static {
    /// The backoff of `queue`.
    fn backoff(&self, queue: &str) -> Backoff;

    /// A fresh jitter sample in `[0, 1)`.
    fn jitter_unit(&self) -> f64 {
        rand::random::<f64>()
    }

    /// Decides the fate of a failed attempt of a job in `queue`.
    fn plan(&self, queue: &str, attempt: u32, max_attempts: u32, retryable: bool, now: UnixMillis) -> FailureOutcome {
        decide_failure(&self.backoff(queue), attempt, max_attempts, retryable, now, self.jitter_unit())
    }
}

/// A planner that uses one backoff for every queue.
#[derive(Debug, Clone, Copy, Default)]
pub struct UniformPlanner(pub Backoff);

impl RetryPlanner for UniformPlanner {
    fn backoff(&self, _queue: &str) -> Backoff {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ms(d: Duration) -> u128 {
        d.as_millis()
    }

    #[test]
    fn default_backoff_doubles_from_one_second_to_one_hour() {
        let b = Backoff::default();
        // unit 0.5 is the middle of the jitter band: no jitter.
        assert_eq!(ms(b.delay(1, 0.5)), 1_000);
        assert_eq!(ms(b.delay(2, 0.5)), 2_000);
        assert_eq!(ms(b.delay(5, 0.5)), 16_000);
        assert_eq!(ms(b.delay(30, 0.5)), 3_600_000);
        assert_eq!(ms(b.delay(u32::MAX, 0.5)), 3_600_000);
    }

    #[test]
    fn jitter_spans_twenty_percent_each_way() {
        let b = Backoff::default();
        assert_eq!(ms(b.delay(1, 0.0)), 800);
        assert_eq!(ms(b.delay(1, 1.0)), 1_200);
    }

    #[test]
    fn last_attempt_and_non_retryable_failures_are_dead() {
        let b = Backoff::default();
        let now = UnixMillis(10_000);
        assert_eq!(decide_failure(&b, 3, 3, true, now, 0.5), FailureOutcome::Dead);
        assert_eq!(decide_failure(&b, 1, 3, false, now, 0.5), FailureOutcome::Dead);
        assert_eq!(decide_failure(&b, 1, 3, true, now, 0.5), FailureOutcome::Retry(UnixMillis(11_000)));
        assert_eq!(decide_failure(&b, 2, 3, true, now, 0.5), FailureOutcome::Retry(UnixMillis(12_000)));
    }

    #[test]
    fn a_requested_time_delays_the_retry_up_to_a_day() {
        let (now, planned) = (UnixMillis(10_000), UnixMillis(11_000));
        let day = 24 * 60 * 60 * 1000;
        for (requested, expected) in
            [(None, 11_000), (Some(5_000), 11_000), (Some(12_000), 12_000), (Some(10_000 + 2 * day), 10_000 + day)]
        {
            assert_eq!(
                retry_not_before(planned, requested.map(UnixMillis), now),
                UnixMillis(expected),
                "{requested:?}"
            );
        }
    }

    proptest! {
        #[test]
        fn delay_stays_within_its_jitter_band(
            initial_ms in 1u64..60_000,
            factor in 1.0f64..4.0,
            max_ms in 1u64..7_200_000,
            jitter in 0.0f64..=1.0,
            attempt in 1u32..64,
            unit in 0.0f64..1.0,
        ) {
            let b = Backoff {
                initial: Duration::from_millis(initial_ms),
                factor,
                max: Duration::from_millis(max_ms),
                jitter,
            };
            let base = (initial_ms as f64 * factor.powi(attempt as i32 - 1)).min(max_ms as f64);
            let got = b.delay(attempt, unit).as_secs_f64() * 1000.0;
            prop_assert!(got >= base * (1.0 - jitter) - 1.0, "{got} below band of {base}");
            prop_assert!(got <= base * (1.0 + jitter) + 1.0, "{got} above band of {base}");
        }

        #[test]
        fn delays_never_shrink_as_attempts_grow(attempt in 1u32..62) {
            let b = Backoff::default();
            prop_assert!(b.delay(attempt + 1, 0.5) >= b.delay(attempt, 0.5));
        }
    }
}
