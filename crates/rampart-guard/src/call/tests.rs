//! `safe_call` on tokio's paused clock: every wait is measured exactly.

use std::cell::Cell;

use rampart_core::breaker::{BreakerPolicy, BreakerState};
use rampart_core::time::{ManualClock, UnixMillis};

use super::*;

/// A fixed backoff of 1s, 2s, 4s… without jitter, so waits are exact.
fn exact() -> CallPolicy {
    CallPolicy {
        backoff: Backoff { initial: Duration::from_secs(1), factor: 2.0, max: Duration::from_secs(60), jitter: 0.0 },
        ..CallPolicy::default()
    }
}

/// A call that fails `failures` times with its attempt number, then succeeds.
fn flaky(failures: u32, calls: &Cell<u32>) -> impl FnMut() -> std::future::Ready<Result<&'static str, u32>> + '_ {
    move || {
        calls.set(calls.get() + 1);
        std::future::ready(if calls.get() <= failures { Err(calls.get()) } else { Ok("done") })
    }
}

fn breaker(threshold: u32) -> Arc<Breaker> {
    let policy = BreakerPolicy { failure_threshold: threshold, ..BreakerPolicy::default() };
    Arc::new(Breaker::new(policy, Arc::new(ManualClock::new(UnixMillis(1_800_000_000_000)))).unwrap())
}

#[tokio::test(start_paused = true)]
async fn a_success_returns_at_once() {
    let calls = Cell::new(0);
    let start = Instant::now();
    assert_eq!(safe_call(&exact(), flaky(0, &calls)).await, Ok("done"));
    assert_eq!((calls.get(), start.elapsed()), (1, Duration::ZERO));
}

#[tokio::test(start_paused = true)]
async fn retries_after_exponential_backoff() {
    let calls = Cell::new(0);
    let start = Instant::now();
    assert_eq!(safe_call(&exact(), flaky(2, &calls)).await, Ok("done"));
    assert_eq!(calls.get(), 3);
    assert_eq!(start.elapsed(), Duration::from_secs(1 + 2));
}

#[tokio::test(start_paused = true)]
async fn backoff_jitter_stays_within_twenty_percent() {
    let policy = CallPolicy { max_attempts: 2, backoff: CALL_BACKOFF, ..CallPolicy::default() };
    for _ in 0..50 {
        let calls = Cell::new(0);
        let start = Instant::now();
        assert_eq!(safe_call(&policy, flaky(1, &calls)).await, Ok("done"));
        let waited = start.elapsed();
        assert!(waited >= Duration::from_millis(800) && waited <= Duration::from_millis(1_200), "{waited:?}");
    }
}

#[test]
fn the_defaults_are_the_ones_apps_used_before_rampart() {
    let policy = CallPolicy::default();
    assert_eq!((policy.timeout, policy.max_attempts), (Some(Duration::from_secs(30)), 3));
    let waits: Vec<Duration> = (1..=4).map(|n| policy.backoff.delay(n, 0.5)).collect();
    let secs = Duration::from_secs;
    assert_eq!(waits, [secs(1), secs(2), secs(4), secs(4)], "1s → 2s → 4s, unjittered at the middle unit");
    // Three attempts that each time out, and both waits, fit in the budget.
    assert!(policy.budget >= 3 * secs(30) + secs(1 + 2) * 6 / 5);
}

/// An HTTP client's error: a status, or none for a network failure.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Answer(Option<u16>, Option<Duration>);

impl HttpFailure for Answer {
    fn status(&self) -> Option<u16> {
        self.0
    }

    fn retry_after(&self) -> Option<Duration> {
        self.1
    }
}

#[test]
fn http_failures_are_retried_as_the_apps_expect() {
    let wait = Duration::from_secs(9);
    let cases = [
        (Answer(None, None), ErrorKind::Retryable),
        (Answer(Some(408), None), ErrorKind::Retryable),
        (Answer(Some(429), Some(wait)), ErrorKind::RateLimited { retry_after: wait }),
        (Answer(Some(429), None), ErrorKind::Retryable),
        (Answer(Some(500), None), ErrorKind::Retryable),
        (Answer(Some(503), Some(wait)), ErrorKind::Retryable),
        (Answer(Some(400), None), ErrorKind::Permanent),
        (Answer(Some(404), None), ErrorKind::Permanent),
        (Answer(Some(422), None), ErrorKind::Permanent),
    ];
    for (answer, kind) in cases {
        assert_eq!(RetryHttpFailures.classify(&answer), kind, "{answer:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn gives_up_with_the_last_error_when_attempts_run_out() {
    let calls = Cell::new(0);
    let start = Instant::now();
    let err = safe_call(&exact(), flaky(10, &calls)).await.unwrap_err();
    assert_eq!(err, CallError::Exhausted { attempts: 3, last: 3 });
    assert_eq!(err.to_string(), "the call failed 3 time(s); last error: 3");
    // No wait after the last attempt.
    assert_eq!(start.elapsed(), Duration::from_secs(3));
}

#[tokio::test(start_paused = true)]
async fn each_attempt_is_bounded_by_the_timeout() {
    let policy = CallPolicy { timeout: Some(Duration::from_millis(500)), max_attempts: 2, ..exact() };
    let calls = Cell::new(0);
    let start = Instant::now();
    let err = safe_call(&policy, || {
        calls.set(calls.get() + 1);
        async {
            tokio::time::sleep(Duration::from_secs(3_600)).await;
            Ok::<(), ()>(())
        }
    })
    .await
    .unwrap_err();
    assert_eq!(err, CallError::Timeout { attempts: 2, timeout: Duration::from_millis(500) });
    assert_eq!(calls.get(), 2);
    assert_eq!(start.elapsed(), Duration::from_millis(500 + 1_000 + 500));
}

#[tokio::test(start_paused = true)]
async fn permanent_errors_are_not_retried() {
    let policy = exact().with_classifier(|e: &u32| if *e == 1 { ErrorKind::Permanent } else { ErrorKind::Retryable });
    let calls = Cell::new(0);
    let err = safe_call(&policy, flaky(5, &calls)).await.unwrap_err();
    assert_eq!(err, CallError::Permanent { attempts: 1, error: 1 });
    assert_eq!(calls.get(), 1);
}

#[tokio::test(start_paused = true)]
async fn rate_limited_waits_as_asked_then_gives_up_past_the_budget() {
    let asked = |_: &u32| ErrorKind::RateLimited { retry_after: Duration::from_secs(7) };
    let calls = Cell::new(0);
    let start = Instant::now();
    assert_eq!(safe_call(&exact().with_classifier(asked), flaky(1, &calls)).await, Ok("done"));
    assert_eq!(start.elapsed(), Duration::from_secs(7), "exactly retry_after, no jitter");

    let tight = CallPolicy { budget: Duration::from_secs(5), ..exact() }.with_classifier(asked);
    let calls = Cell::new(0);
    let start = Instant::now();
    let err = safe_call(&tight, flaky(1, &calls)).await.unwrap_err();
    assert_eq!(err, CallError::RateLimited { attempts: 1, retry_after: Duration::from_secs(7), last: 1 });
    assert_eq!((calls.get(), start.elapsed()), (1, Duration::ZERO), "a wait past the budget is not started");
}

#[tokio::test(start_paused = true)]
async fn the_budget_cuts_backoff_short() {
    // Waits of 1s and 2s fit in 3.5s; the third (4s) would not.
    let policy = CallPolicy { max_attempts: 10, budget: Duration::from_millis(3_500), ..exact() };
    let calls = Cell::new(0);
    let err = safe_call(&policy, flaky(10, &calls)).await.unwrap_err();
    assert_eq!(err, CallError::Exhausted { attempts: 3, last: 3 });
}

#[tokio::test(start_paused = true)]
async fn an_open_breaker_fails_fast_without_calling() {
    let b = breaker(2);
    let policy = CallPolicy { max_attempts: 5, ..exact() }.with_breaker(Arc::clone(&b));
    let calls = Cell::new(0);
    // Two failures open the breaker; the third attempt is refused by it.
    let err = safe_call(&policy, flaky(10, &calls)).await.unwrap_err();
    assert_eq!(err, CallError::CircuitOpen { retry_after: Duration::from_secs(30) });
    assert_eq!(calls.get(), 2);
    assert_eq!(b.state(), BreakerState::Open);

    let calls = Cell::new(0);
    let err = safe_call(&policy, flaky(0, &calls)).await.unwrap_err();
    assert!(matches!(err, CallError::CircuitOpen { .. }), "{err:?}");
    assert_eq!(calls.get(), 0, "no call is made through an open breaker");
}

#[tokio::test(start_paused = true)]
async fn the_breaker_hears_successes_timeouts_and_permanent_errors() {
    let b = breaker(2);
    let policy = CallPolicy { max_attempts: 1, timeout: Some(Duration::from_secs(1)), ..exact() }
        .with_breaker(Arc::clone(&b))
        .with_classifier(|_: &&str| ErrorKind::Permanent);
    let slow = || async {
        tokio::time::sleep(Duration::from_secs(2)).await;
        Ok::<(), &str>(())
    };
    assert!(matches!(safe_call(&policy, slow).await, Err(CallError::Timeout { .. })));
    assert!(matches!(safe_call(&policy, || async { Err::<(), _>("gone") }).await, Err(CallError::Permanent { .. })));
    assert_eq!(b.snapshot().consecutive_failures, 0, "a permanent error means the other side answered");
    assert!(matches!(safe_call(&policy, slow).await, Err(CallError::Timeout { .. })));
    assert!(matches!(safe_call(&policy, slow).await, Err(CallError::Timeout { .. })));
    assert_eq!(b.state(), BreakerState::Open);
    let s = b.snapshot();
    assert_eq!((s.successes, s.failures), (1, 3));
}
