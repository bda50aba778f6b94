//! The breaker against the semantics in its module doc: table-driven walks
//! through each state, and property tests over random call sequences.

use proptest::prelude::*;

use super::*;

const T0: UnixMillis = UnixMillis(1_800_000_000_000);
const MS: Duration = Duration::from_millis(1);

fn at(ms: i64) -> UnixMillis {
    UnixMillis(T0.0 + ms)
}

fn fail(m: &mut BreakerMachine, p: &BreakerPolicy, now: UnixMillis) -> Option<Transition> {
    m.record(p, Outcome::Failure, MS, now)
}

fn succeed(m: &mut BreakerMachine, p: &BreakerPolicy, now: UnixMillis) -> Option<Transition> {
    m.record(p, Outcome::Success, MS, now)
}

fn rate_policy(threshold: f64, min_calls: u32) -> BreakerPolicy {
    BreakerPolicy {
        failure_threshold: u32::MAX,
        failure_rate: Some(FailureRate { threshold, window: Duration::from_secs(10), min_calls }),
        ..BreakerPolicy::default()
    }
}

#[test]
fn default_policy_is_five_failures_thirty_seconds_one_probe() {
    let p = BreakerPolicy::default();
    assert_eq!((p.failure_threshold, p.cooldown, p.half_open_max), (5, Duration::from_secs(30), 1));
    assert_eq!((p.failure_rate, p.slow_call), (None, None));
    assert_eq!(p.validate(), Ok(()));
}

#[test]
fn validate_names_every_bad_field() {
    let p = BreakerPolicy {
        failure_threshold: 0,
        failure_rate: Some(FailureRate { threshold: 1.5, window: Duration::from_millis(50), min_calls: 0 }),
        cooldown: Duration::ZERO,
        half_open_max: 0,
        slow_call: Some(Duration::ZERO),
    };
    let err = p.validate().unwrap_err();
    let fields: Vec<&str> = err.problems.iter().map(|p| p.field).collect();
    assert_eq!(
        fields,
        ["failure_threshold", "failure_rate", "window", "min_calls", "cooldown", "half_open_max", "slow_call"]
    );
    assert!(err.to_string().contains("`half_open_max` must be at least 1"), "{err}");
    for threshold in [0.0, -0.1, f64::NAN] {
        let p = BreakerPolicy {
            failure_rate: Some(FailureRate { threshold, window: Duration::from_secs(1), min_calls: 1 }),
            ..BreakerPolicy::default()
        };
        assert_eq!(p.validate().unwrap_err().problems[0].field, "failure_rate");
    }
}

#[test]
fn threshold_opens_cooldown_probes_success_closes() {
    let p = BreakerPolicy::default();
    let mut m = BreakerMachine::new(T0);
    for i in 0..4 {
        assert_eq!(fail(&mut m, &p, at(i)), None);
    }
    let t = fail(&mut m, &p, at(4)).expect("the fifth failure opens");
    assert_eq!((t.from, t.to, t.at), (BreakerState::Closed, BreakerState::Open, at(4)));
    assert_eq!(t.reason, TransitionReason::ConsecutiveFailures { count: 5 });
    assert_eq!(m.acquire(&p, at(1_004)).0, Admission::Rejected { retry_after: Duration::from_secs(29) });
    assert_eq!(m.state_at(&p, at(30_003)), BreakerState::Open);
    assert_eq!(m.state_at(&p, at(30_004)), BreakerState::HalfOpen);

    let (admission, t) = m.acquire(&p, at(30_004));
    assert_eq!(admission, Admission::Allowed { probe: true });
    assert_eq!(
        t.map(|t| (t.from, t.to, t.reason)),
        Some((BreakerState::Open, BreakerState::HalfOpen, TransitionReason::CooldownElapsed))
    );
    assert_eq!(m.acquire(&p, at(30_005)).0, Admission::Rejected { retry_after: Duration::from_millis(29_999) });
    assert_eq!(m.probes_in_flight(at(30_005)), 1);

    let t = succeed(&mut m, &p, at(30_100)).expect("a probe success closes");
    assert_eq!(
        (t.from, t.to, t.reason),
        (BreakerState::HalfOpen, BreakerState::Closed, TransitionReason::ProbeSucceeded)
    );
    assert_eq!(m.acquire(&p, at(30_101)), (Admission::Allowed { probe: false }, None));
    assert_eq!(m.consecutive_failures(), 0);
}

#[test]
fn probe_failure_reopens_for_another_cooldown() {
    let p = BreakerPolicy { failure_threshold: 1, ..BreakerPolicy::default() };
    let mut m = BreakerMachine::new(T0);
    fail(&mut m, &p, at(0));
    assert!(m.acquire(&p, at(30_000)).0.is_allowed());
    let t = fail(&mut m, &p, at(30_500)).unwrap();
    assert_eq!(
        (t.from, t.to, t.reason),
        (BreakerState::HalfOpen, BreakerState::Open, TransitionReason::ProbeFailed { slow: false })
    );
    assert_eq!(m.since(), at(30_500));
    assert_eq!(m.retry_after(&p, at(31_500)), Duration::from_secs(29));
}

#[test]
fn a_success_breaks_the_run_of_failures() {
    let p = BreakerPolicy { failure_threshold: 3, ..BreakerPolicy::default() };
    let mut m = BreakerMachine::new(T0);
    fail(&mut m, &p, at(0));
    fail(&mut m, &p, at(1));
    succeed(&mut m, &p, at(2));
    fail(&mut m, &p, at(3));
    fail(&mut m, &p, at(4));
    assert_eq!(m.state(), BreakerState::Closed);
    assert!(fail(&mut m, &p, at(5)).is_some());
}

#[test]
fn slow_successes_count_as_failures_when_configured() {
    let p = BreakerPolicy { failure_threshold: 2, slow_call: Some(Duration::from_secs(1)), ..BreakerPolicy::default() };
    let mut m = BreakerMachine::new(T0);
    assert_eq!(m.record(&p, Outcome::Success, Duration::from_secs(1), at(0)), None);
    assert_eq!(m.consecutive_failures(), 0, "exactly the limit is not slow");
    m.record(&p, Outcome::Success, Duration::from_millis(1_001), at(1));
    let t = m.record(&p, Outcome::Success, Duration::from_secs(5), at(2)).unwrap();
    assert_eq!(t.reason, TransitionReason::ConsecutiveFailures { count: 2 });
    m.acquire(&p, at(30_002));
    let t = m.record(&p, Outcome::Success, Duration::from_secs(2), at(30_003)).unwrap();
    assert_eq!((t.to, t.reason), (BreakerState::Open, TransitionReason::ProbeFailed { slow: true }));

    let unset = BreakerPolicy { failure_threshold: 1, ..BreakerPolicy::default() };
    let mut m = BreakerMachine::new(T0);
    assert_eq!(m.record(&unset, Outcome::Success, Duration::from_secs(3_600), at(0)), None);
}

#[test]
fn results_recorded_while_open_are_ignored() {
    let p = BreakerPolicy { failure_threshold: 1, ..BreakerPolicy::default() };
    let mut m = BreakerMachine::new(T0);
    fail(&mut m, &p, at(0));
    let before = m.clone();
    assert_eq!(succeed(&mut m, &p, at(10)), None);
    assert_eq!(fail(&mut m, &p, at(20)), None);
    assert_eq!(m, before);
}

#[test]
fn an_unrecorded_probe_expires_after_one_cooldown() {
    let p = BreakerPolicy { failure_threshold: 1, ..BreakerPolicy::default() };
    let mut m = BreakerMachine::new(T0);
    fail(&mut m, &p, at(0));
    assert!(m.acquire(&p, at(30_000)).0.is_allowed());
    assert!(!m.acquire(&p, at(59_999)).0.is_allowed());
    assert_eq!(m.probes_in_flight(at(60_000)), 0);
    assert_eq!(m.acquire(&p, at(60_000)), (Admission::Allowed { probe: true }, None));
}

#[test]
fn rate_rule_opens_at_the_fraction_once_min_calls_are_in() {
    let p = rate_policy(0.5, 4);
    let mut m = BreakerMachine::new(T0);
    assert_eq!(fail(&mut m, &p, at(0)), None, "one call is below min_calls");
    assert_eq!(fail(&mut m, &p, at(1)), None);
    assert_eq!(succeed(&mut m, &p, at(2)), None);
    assert_eq!(m.window_counts(&p, at(2)), WindowCounts { calls: 3, failures: 2 });
    assert_eq!(succeed(&mut m, &p, at(3)), None, "a success never opens");
    let t = fail(&mut m, &p, at(4)).expect("3 of 5 is over half");
    assert_eq!(t.reason, TransitionReason::FailureRate { failures: 3, calls: 5 });
    assert_eq!(t.reason.to_string(), "3 of the last 5 calls failed");
}

#[test]
fn calls_older_than_the_window_stop_counting() {
    let p = rate_policy(0.5, 2);
    let mut m = BreakerMachine::new(T0);
    fail(&mut m, &p, at(0));
    // Ten 1-second buckets: the failure at 0 is out of the window from 10s on.
    assert_eq!(m.window_counts(&p, at(9_999)).calls, 1);
    assert_eq!(m.window_counts(&p, at(10_000)).calls, 0);
    succeed(&mut m, &p, at(10_000));
    assert_eq!(fail(&mut m, &p, at(10_001)).map(|t| t.to), Some(BreakerState::Open));
}

#[test]
fn reset_closes_and_forgets() {
    let p = BreakerPolicy { failure_threshold: 2, ..BreakerPolicy::default() };
    let mut m = BreakerMachine::new(T0);
    fail(&mut m, &p, at(0));
    assert_eq!(m.reset(at(1)), None, "a closed breaker does not change state");
    assert_eq!(m.consecutive_failures(), 0);
    fail(&mut m, &p, at(2));
    fail(&mut m, &p, at(3));
    let t = m.reset(at(4)).unwrap();
    assert_eq!(
        (t.from, t.to, t.reason, t.at),
        (BreakerState::Open, BreakerState::Closed, TransitionReason::Reset, at(4))
    );
    assert!(m.acquire(&p, at(5)).0.is_allowed());
}

#[test]
fn state_round_trips_through_json_compactly() {
    let p = rate_policy(0.5, 100);
    let mut m = BreakerMachine::new(T0);
    assert_eq!(serde_json::to_string(&m).unwrap(), r#"{"state":"closed","since":1800000000000,"consecutive":0}"#);
    for i in 0..50 {
        fail(&mut m, &p, at(i * 200));
    }
    let json = serde_json::to_string(&m).unwrap();
    assert!(json.len() < 400, "{} bytes: {json}", json.len());
    assert_eq!(serde_json::from_str::<BreakerMachine>(&json).unwrap(), m);
    assert_eq!("half_open".parse::<BreakerState>(), Ok(BreakerState::HalfOpen));
    assert!("ajar".parse::<BreakerState>().is_err());
}

/// One step of a random run.
#[derive(Debug, Clone)]
enum Step {
    Wait(u64),
    Acquire,
    Record { failed: bool, slow: bool },
    Reset,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        (0u64..3_000).prop_map(Step::Wait),
        Just(Step::Acquire),
        Just(Step::Acquire),
        (any::<bool>(), any::<bool>()).prop_map(|(failed, slow)| Step::Record { failed, slow }),
        Just(Step::Reset),
    ]
}

proptest! {
    #[test]
    fn never_admits_more_than_half_open_max_probes_at_once(
        half_open_max in 1u32..5,
        cooldown_ms in 1u64..5_000,
        steps in proptest::collection::vec(step(), 1..300),
    ) {
        let p = BreakerPolicy {
            failure_threshold: 2,
            cooldown: Duration::from_millis(cooldown_ms),
            half_open_max,
            slow_call: Some(Duration::from_millis(100)),
            ..BreakerPolicy::default()
        };
        let mut m = BreakerMachine::new(T0);
        let mut now = T0;
        // Expiry of every probe admitted since the breaker last left half-open.
        let mut outstanding: Vec<UnixMillis> = Vec::new();
        for s in steps {
            match s {
                Step::Wait(ms) => now = now.plus(Duration::from_millis(ms)),
                Step::Acquire => {
                    let (admission, _) = m.acquire(&p, now);
                    if admission == (Admission::Allowed { probe: true }) {
                        outstanding.push(now.plus(p.cooldown));
                    }
                    outstanding.retain(|&exp| exp > now);
                    prop_assert!(outstanding.len() <= half_open_max as usize, "{} probes in flight", outstanding.len());
                    if let Admission::Rejected { retry_after } = admission {
                        prop_assert!(retry_after <= p.cooldown);
                    }
                }
                Step::Record { failed, slow } => {
                    let outcome = if failed { Outcome::Failure } else { Outcome::Success };
                    let took = if slow { Duration::from_millis(101) } else { MS };
                    if let Some(t) = m.record(&p, outcome, took, now) {
                        prop_assert_eq!(t.at, now);
                        prop_assert_ne!(t.from, t.to);
                    }
                    if m.state() != BreakerState::HalfOpen {
                        outstanding.clear();
                    }
                }
                Step::Reset => {
                    m.reset(now);
                    outstanding.clear();
                }
            }
            prop_assert!(m.probes_in_flight(now) <= half_open_max);
        }
    }

    #[test]
    fn opens_exactly_at_the_threshold(threshold in 1u32..50, successes_first in 0u32..10) {
        let p = BreakerPolicy { failure_threshold: threshold, ..BreakerPolicy::default() };
        let mut m = BreakerMachine::new(T0);
        for i in 0..successes_first {
            prop_assert_eq!(succeed(&mut m, &p, at(i64::from(i))), None);
        }
        for i in 1..threshold {
            prop_assert_eq!(fail(&mut m, &p, at(100 + i64::from(i))), None);
            prop_assert_eq!(m.state(), BreakerState::Closed);
        }
        let t = fail(&mut m, &p, at(1_000));
        prop_assert_eq!(t.map(|t| t.reason), Some(TransitionReason::ConsecutiveFailures { count: threshold }));
        prop_assert_eq!(m.state(), BreakerState::Open);
    }

    #[test]
    fn rate_rule_respects_min_calls(
        threshold in 0.05f64..=1.0,
        min_calls in 1u32..40,
        outcomes in proptest::collection::vec(any::<bool>(), 1..80),
    ) {
        // Every call in one bucket of the window, so the window holds them all.
        let p = rate_policy(threshold, min_calls);
        let mut m = BreakerMachine::new(T0);
        let (mut calls, mut failures) = (0u32, 0u32);
        for failed in outcomes {
            calls += 1;
            failures += u32::from(failed);
            let t = m.record(&p, if failed { Outcome::Failure } else { Outcome::Success }, MS, at(i64::from(calls)));
            let should_open = failed && calls >= min_calls && f64::from(failures) >= threshold * f64::from(calls);
            prop_assert_eq!(t.is_some(), should_open, "{} of {} calls failed", failures, calls);
            if should_open {
                prop_assert_eq!(t.map(|t| t.reason), Some(TransitionReason::FailureRate { failures, calls }));
                break;
            }
        }
    }
}
