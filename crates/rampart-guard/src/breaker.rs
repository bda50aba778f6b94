//! A thread-safe circuit breaker over `rampart_core::breaker::BreakerMachine`.
//!
//! # API
//!
//! ```text
//! Breaker::new(policy: BreakerPolicy, clock: SharedClock) -> Result<Breaker, BreakerPolicyError>
//! breaker.acquire() -> Admission            Allowed { probe } | Rejected { retry_after }
//! breaker.record(outcome: Outcome, duration: Duration) -> Option<Transition>
//! breaker.reset() -> Option<Transition>
//! breaker.state() -> BreakerState           as a caller meets it now
//! breaker.policy() -> &BreakerPolicy
//! breaker.snapshot() -> BreakerSnapshot     policy, state, counters, last transitions
//! ```
//!
//! Call `acquire()` before each call; when it is allowed, make the call and
//! `record()` how it ended and how long it took (a success slower than the
//! policy's `slow_call` counts as a failure). When rejected, do not call:
//! wait `retry_after` or fail fast. The semantics are the state machine's
//! (see its module doc).
//!
//! While the breaker is closed, `acquire()` reads one atomic and takes no
//! lock; every other step takes a short mutex around the state machine.
//! A call admitted by the lock-free check just as another thread opens the
//! breaker goes ahead, and its result is ignored: it was admitted before
//! the breaker opened.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use rampart_core::breaker::{
    Admission, BreakerMachine, BreakerPolicy, BreakerPolicyError, BreakerState, Outcome, Transition, WindowCounts,
};
use rampart_core::time::{SharedClock, UnixMillis};

/// How many of the latest transitions a breaker keeps for its snapshot.
pub const KEPT_TRANSITIONS: usize = 20;

/// A circuit breaker that many tasks and threads share (behind an `Arc`).
pub struct Breaker {
    policy: BreakerPolicy,
    clock: SharedClock,
    /// Whether the machine is closed: the lock-free check reads only this.
    /// Written under the lock after every step that may change the state.
    closed: AtomicBool,
    /// Calls refused, counted apart so a rejection does not write under the lock.
    rejections: AtomicU64,
    inner: Mutex<Inner>,
}

struct Inner {
    machine: BreakerMachine,
    successes: u64,
    failures: u64,
    last_success: Option<UnixMillis>,
    last_failure: Option<UnixMillis>,
    transitions: VecDeque<Transition>,
}

/// What a breaker looks like at one moment, for display.
#[derive(Debug, Clone, PartialEq)]
pub struct BreakerSnapshot {
    /// Its policy.
    pub policy: BreakerPolicy,
    /// The state a caller would meet now.
    pub state: BreakerState,
    /// When the stored state began.
    pub since: UnixMillis,
    /// Failures in a row while closed.
    pub consecutive_failures: u32,
    /// Calls and failures in the failure-rate window.
    pub window: WindowCounts,
    /// Half-open probes admitted and not yet recorded.
    pub probes_in_flight: u32,
    /// How long until a call may be admitted (zero when one would be now).
    pub retry_after: Duration,
    /// Successes recorded since the breaker was made.
    pub successes: u64,
    /// Failures recorded since the breaker was made (slow calls included
    /// only when recorded as failures by the caller).
    pub failures: u64,
    /// Calls refused since the breaker was made.
    pub rejections: u64,
    /// When the latest success was recorded.
    pub last_success: Option<UnixMillis>,
    /// When the latest failure was recorded.
    pub last_failure: Option<UnixMillis>,
    /// The latest transitions, oldest first (at most [`KEPT_TRANSITIONS`]).
    pub transitions: Vec<Transition>,
}

impl Breaker {
    /// A closed breaker with this policy, reading time from `clock`.
    pub fn new(policy: BreakerPolicy, clock: SharedClock) -> Result<Breaker, BreakerPolicyError> {
        policy.validate()?;
        let machine = BreakerMachine::new(clock.now());
        Ok(Breaker {
            policy,
            clock,
            closed: AtomicBool::new(true),
            rejections: AtomicU64::new(0),
            inner: Mutex::new(Inner {
                machine,
                successes: 0,
                failures: 0,
                last_success: None,
                last_failure: None,
                transitions: VecDeque::new(),
            }),
        })
    }

    /// The policy.
    pub fn policy(&self) -> &BreakerPolicy {
        &self.policy
    }

    /// Asks to make a call. Closed: allowed at the cost of one atomic load.
    pub fn acquire(&self) -> Admission {
        if self.closed.load(Ordering::Acquire) {
            return Admission::Allowed { probe: false };
        }
        let mut inner = self.lock();
        let (admission, transition) = inner.machine.acquire(&self.policy, self.clock.now());
        self.after_step(&mut inner, transition);
        if !admission.is_allowed() {
            self.rejections.fetch_add(1, Ordering::Relaxed);
        }
        admission
    }

    /// Records how an admitted call ended and how long it took; answers the
    /// transition it caused, if any.
    pub fn record(&self, outcome: Outcome, duration: Duration) -> Option<Transition> {
        let now = self.clock.now();
        let mut inner = self.lock();
        match outcome {
            Outcome::Success => {
                inner.successes += 1;
                inner.last_success = Some(now);
            }
            Outcome::Failure => {
                inner.failures += 1;
                inner.last_failure = Some(now);
            }
        }
        let transition = inner.machine.record(&self.policy, outcome, duration, now);
        self.after_step(&mut inner, transition);
        transition
    }

    /// Closes the breaker and forgets its counts; the transition when it was
    /// not closed.
    pub fn reset(&self) -> Option<Transition> {
        let mut inner = self.lock();
        let transition = inner.machine.reset(self.clock.now());
        self.after_step(&mut inner, transition);
        transition
    }

    /// The state a caller would meet now (`half_open` once an open
    /// breaker's cooldown has passed).
    pub fn state(&self) -> BreakerState {
        if self.closed.load(Ordering::Acquire) {
            return BreakerState::Closed;
        }
        self.lock().machine.state_at(&self.policy, self.clock.now())
    }

    /// Policy, state, counters and the latest transitions.
    pub fn snapshot(&self) -> BreakerSnapshot {
        let now = self.clock.now();
        let inner = self.lock();
        let m = &inner.machine;
        BreakerSnapshot {
            policy: self.policy.clone(),
            state: m.state_at(&self.policy, now),
            since: m.since(),
            consecutive_failures: m.consecutive_failures(),
            window: m.window_counts(&self.policy, now),
            probes_in_flight: m.probes_in_flight(now),
            retry_after: m.retry_after(&self.policy, now),
            successes: inner.successes,
            failures: inner.failures,
            rejections: self.rejections.load(Ordering::Relaxed),
            last_success: inner.last_success,
            last_failure: inner.last_failure,
            transitions: inner.transitions.iter().copied().collect(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Nothing under the lock can panic halfway through a step; a
        // poisoned lock still holds a consistent machine.
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn after_step(&self, inner: &mut Inner, transition: Option<Transition>) {
        if let Some(t) = transition {
            if inner.transitions.len() == KEPT_TRANSITIONS {
                inner.transitions.pop_front();
            }
            inner.transitions.push_back(t);
        }
        self.closed.store(inner.machine.state() == BreakerState::Closed, Ordering::Release);
    }
}

impl std::fmt::Debug for Breaker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Breaker").field("policy", &self.policy).field("state", &self.state()).finish()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use rampart_core::breaker::TransitionReason;
    use rampart_core::time::ManualClock;

    use super::*;

    fn breaker(policy: BreakerPolicy) -> (Arc<Breaker>, Arc<ManualClock>) {
        let clock = Arc::new(ManualClock::new(UnixMillis(1_800_000_000_000)));
        (Arc::new(Breaker::new(policy, clock.clone()).unwrap()), clock)
    }

    #[test]
    fn opens_rejects_probes_and_closes() {
        let (b, clock) = breaker(BreakerPolicy { failure_threshold: 2, ..BreakerPolicy::default() });
        assert_eq!(b.acquire(), Admission::Allowed { probe: false });
        assert_eq!(b.record(Outcome::Failure, Duration::from_millis(5)), None);
        let t = b.record(Outcome::Failure, Duration::from_millis(5)).unwrap();
        assert_eq!(t.reason, TransitionReason::ConsecutiveFailures { count: 2 });
        assert_eq!(b.state(), BreakerState::Open);
        clock.advance(Duration::from_secs(10));
        assert_eq!(b.acquire(), Admission::Rejected { retry_after: Duration::from_secs(20) });
        clock.advance(Duration::from_secs(20));
        assert_eq!(b.state(), BreakerState::HalfOpen);
        assert_eq!(b.acquire(), Admission::Allowed { probe: true });
        assert!(!b.acquire().is_allowed(), "one probe at a time by default");
        assert_eq!(b.record(Outcome::Success, Duration::from_millis(5)).map(|t| t.to), Some(BreakerState::Closed));
        assert_eq!(b.acquire(), Admission::Allowed { probe: false });

        let s = b.snapshot();
        assert_eq!((s.successes, s.failures, s.rejections), (1, 2, 2));
        let t0 = UnixMillis(1_800_000_000_000);
        assert_eq!((s.last_failure, s.last_success), (Some(t0), Some(t0.plus(Duration::from_secs(30)))));
        let path: Vec<_> = s.transitions.iter().map(|t| (t.from, t.to)).collect();
        assert_eq!(
            path,
            [
                (BreakerState::Closed, BreakerState::Open),
                (BreakerState::Open, BreakerState::HalfOpen),
                (BreakerState::HalfOpen, BreakerState::Closed)
            ]
        );
    }

    #[test]
    fn reset_closes_an_open_breaker() {
        let (b, _clock) = breaker(BreakerPolicy { failure_threshold: 1, ..BreakerPolicy::default() });
        b.record(Outcome::Failure, Duration::ZERO);
        assert!(!b.acquire().is_allowed());
        assert_eq!(b.reset().map(|t| t.reason), Some(TransitionReason::Reset));
        assert!(b.acquire().is_allowed());
        assert_eq!(b.reset(), None);
    }

    #[test]
    fn keeps_only_the_latest_transitions() {
        let (b, _clock) = breaker(BreakerPolicy { failure_threshold: 1, ..BreakerPolicy::default() });
        for _ in 0..KEPT_TRANSITIONS {
            b.record(Outcome::Failure, Duration::ZERO);
            b.reset();
        }
        let s = b.snapshot();
        assert_eq!(s.transitions.len(), KEPT_TRANSITIONS);
        assert_eq!(s.transitions.last().map(|t| t.reason), Some(TransitionReason::Reset));
    }

    #[test]
    fn refuses_a_bad_policy() {
        let clock = Arc::new(ManualClock::default());
        let err = Breaker::new(BreakerPolicy { half_open_max: 0, ..BreakerPolicy::default() }, clock).unwrap_err();
        assert_eq!(err.problems[0].field, "half_open_max");
    }

    #[test]
    fn threads_sharing_a_half_open_breaker_get_one_probe() {
        let (b, clock) = breaker(BreakerPolicy { failure_threshold: 1, ..BreakerPolicy::default() });
        b.record(Outcome::Failure, Duration::ZERO);
        clock.advance(Duration::from_secs(30));
        let admitted: usize = std::thread::scope(|s| {
            let handles: Vec<_> =
                (0..8).map(|_| s.spawn(|| (0..100).filter(|_| b.acquire().is_allowed()).count())).collect();
            handles.into_iter().map(|h| h.join().unwrap()).sum()
        });
        assert_eq!(admitted, 1);
        assert_eq!(b.snapshot().rejections, 799);
    }
}
