//! Each algorithm against the semantics documented in `policy.rs`: a
//! reference model where one exists, bounds where the algorithm is an
//! approximation, over random arrival sequences.

use std::collections::HashMap;
use std::time::Duration;

use proptest::prelude::*;

use super::*;

const MS: u64 = 1_000_000;
/// Somewhere in 2027, so aligned windows do not start at zero.
const T0: Nanos = 1_800_000_000_000 * MS;

/// Runs `arrivals` (gap before each, cost) through a policy from a fresh
/// key; answers (time, cost, decision) per check.
fn run(policy: &Policy, arrivals: &[(u64, u64)]) -> Vec<(Nanos, u64, Decision)> {
    let mut state = None;
    let mut now = T0;
    let mut out = Vec::with_capacity(arrivals.len());
    for &(gap, cost) in arrivals {
        now += gap;
        let (decision, next) = policy.evaluate(state.as_ref(), cost, now);
        state = Some(next);
        out.push((now, cost, decision));
    }
    out
}

fn admitted_between(checks: &[(Nanos, u64, Decision)], from: Nanos, to: Nanos) -> u64 {
    checks.iter().filter(|(t, _, d)| d.allowed && *t >= from && *t < to).map(|(_, c, _)| c).sum()
}

prop_compose! {
    fn setting()(limit in 1u64..20, window_ms in 1u64..2_000) -> (u64, u64) {
        (limit, window_ms * MS)
    }
}

prop_compose! {
    /// Arrivals with gaps up to a quarter window (bursts included: gap 0).
    fn arrivals(window: u64)(list in prop::collection::vec((0..=window / 4, 1u64..=3), 1..200)) -> Vec<(u64, u64)> {
        list
    }
}

fn with_arrivals() -> impl Strategy<Value = ((u64, u64), Vec<(u64, u64)>)> {
    setting().prop_flat_map(|(limit, window)| (Just((limit, window)), arrivals(window)))
}

proptest! {
    #[test]
    fn fixed_window_admits_exactly_what_a_counter_per_window_admits(((limit, window), list) in with_arrivals()) {
        let policy = Policy::new(limit, Duration::from_nanos(window), Algorithm::FixedWindow, None).unwrap();
        let mut per_window: HashMap<u64, u64> = HashMap::new();
        for (now, cost, d) in run(&policy, &list) {
            let used = per_window.entry(now / window).or_default();
            let expect = *used + cost <= limit;
            prop_assert_eq!(d.allowed, expect);
            if expect {
                *used += cost;
            }
            prop_assert_eq!(d.remaining, limit - *used);
            prop_assert_eq!(d.reset_after, Duration::from_nanos((now / window + 1) * window - now));
        }
    }

    #[test]
    fn sliding_window_keeps_its_bounds_and_denies_nothing_it_must_allow(((limit, window), list) in with_arrivals()) {
        let policy = Policy::new(limit, Duration::from_nanos(window), Algorithm::SlidingWindow, None).unwrap();
        let checks = run(&policy, &list);
        for (i, &(now, cost, d)) in checks.iter().enumerate() {
            let start = now / window * window;
            let current = admitted_between(&checks[..i], start, now + 1);
            let previous = admitted_between(&checks[..i], start.saturating_sub(window), start);
            if previous + current + cost <= limit {
                prop_assert!(d.allowed, "must allow: previous {} + current {} + cost {} ≤ {}", previous, current, cost, limit);
            }
            if current + cost > limit {
                prop_assert!(!d.allowed, "must deny: current {} + cost {} > {}", current, cost, limit);
            }
            // At most `limit` per aligned window, at most twice that in any span of one window.
            prop_assert!(admitted_between(&checks, start, start + window) <= limit);
            prop_assert!(admitted_between(&checks, now.saturating_sub(window) + 1, now + 1) <= 2 * limit);
        }
    }

    #[test]
    fn gcra_is_a_token_bucket(((limit, window), list) in with_arrivals(), burst in 1u64..30) {
        let policy = Policy::new(limit, Duration::from_nanos(window), Algorithm::Gcra, Some(burst)).unwrap();
        // The reference: a bucket of `burst` tokens refilled at limit/window,
        // its level kept in units of 1/(limit) ns-tokens... scaled so every
        // step is an integer: one token = `window` units, refill `limit` units per ns.
        let (capacity, mut level, mut last) = (u128::from(burst) * u128::from(window), 0u128, T0);
        for (now, cost, d) in run(&policy, &list) {
            level = level.saturating_sub(u128::from(now - last) * u128::from(limit));
            last = now;
            let need = u128::from(cost) * u128::from(window);
            let expect = level + need <= capacity;
            prop_assert_eq!(d.allowed, expect, "at {} cost {}: level {} need {} capacity {}", now - T0, cost, level, need, capacity);
            if expect {
                level += need;
            }
        }
    }

    #[test]
    fn gcra_admits_at_most_burst_plus_the_rate_in_any_span(((limit, window), list) in with_arrivals(), burst in 1u64..30) {
        let policy = Policy::new(limit, Duration::from_nanos(window), Algorithm::Gcra, Some(burst)).unwrap();
        let checks = run(&policy, &list);
        for (i, &(from, _, _)) in checks.iter().enumerate() {
            for &(to, _, _) in &checks[i..] {
                let span = u128::from(to - from);
                let bound = u128::from(burst) + span * u128::from(limit) / u128::from(window);
                prop_assert!(u128::from(admitted_between(&checks, from, to + 1)) <= bound);
            }
        }
    }

    #[test]
    fn a_denied_check_fits_after_its_retry_after_and_not_before(
        ((limit, window), list) in with_arrivals(),
        algorithm in prop::sample::select(vec![Algorithm::FixedWindow, Algorithm::SlidingWindow, Algorithm::Gcra]),
    ) {
        let policy = Policy::new(limit, Duration::from_nanos(window), algorithm, None).unwrap();
        let mut state = None;
        let mut now = T0;
        for (gap, cost) in list {
            now += gap;
            let (d, next) = policy.evaluate(state.as_ref(), cost, now);
            if cost > policy.max_cost() {
                prop_assert!(!d.allowed && d.retry_after.is_none(), "no wait admits a cost above the limit");
            } else if let Some(wait) = d.retry_after {
                let wait = u64::try_from(wait.as_nanos()).unwrap();
                prop_assert!(wait > 0);
                let (later, _) = policy.evaluate(Some(&next), cost, now + wait);
                prop_assert!(later.allowed, "{} still denied after retry_after {}ns", algorithm, wait);
                if algorithm != Algorithm::SlidingWindow {
                    // Exact for these two; the sliding estimate's wait may round up by a nanosecond.
                    let (sooner, _) = policy.evaluate(Some(&next), cost, now + wait - 1);
                    prop_assert!(!sooner.allowed, "{} allowed 1ns before retry_after {}ns", algorithm, wait);
                }
            } else {
                prop_assert!(d.allowed);
            }
            state = Some(next);
        }
    }

    #[test]
    fn an_idle_state_decides_like_a_fresh_key(
        ((limit, window), list) in with_arrivals(),
        algorithm in prop::sample::select(vec![Algorithm::FixedWindow, Algorithm::SlidingWindow, Algorithm::Gcra]),
        cost in 1u64..=3,
    ) {
        let policy = Policy::new(limit, Duration::from_nanos(window), algorithm, None).unwrap();
        let checks = run(&policy, &list);
        let mut state = None;
        for &(now, c, _) in &checks {
            state = Some(policy.evaluate(state.as_ref(), c, now).1);
        }
        let state = state.unwrap();
        let idle = policy.idle_at(&state);
        let (kept, _) = policy.evaluate(Some(&state), cost, idle);
        let (fresh, _) = policy.evaluate(None, cost, idle);
        prop_assert_eq!(kept, fresh);
    }
}

#[test]
fn bad_policies_say_what_is_wrong() {
    let s = Duration::from_secs(1);
    assert_eq!(Policy::new(0, s, Algorithm::FixedWindow, None), Err(PolicyError::Limit(0)));
    assert_eq!(Policy::new(MAX_LIMIT + 1, s, Algorithm::Gcra, None), Err(PolicyError::Limit(MAX_LIMIT + 1)));
    assert_eq!(Policy::new(10, Duration::ZERO, Algorithm::SlidingWindow, None), Err(PolicyError::Window));
    assert_eq!(Policy::new(10, MAX_WINDOW + s, Algorithm::SlidingWindow, None), Err(PolicyError::Window));
    let burst = Policy::new(10, s, Algorithm::FixedWindow, Some(5)).unwrap_err().to_string();
    assert!(burst.contains("gcra only"), "{burst}");
    assert!(matches!(Policy::new(10, s, Algorithm::Gcra, Some(0)), Err(PolicyError::Burst(_))));
    assert_eq!("token_bucket".parse::<Algorithm>(), Err(PolicyError::UnknownAlgorithm("token_bucket".into())));
    for a in [Algorithm::SlidingWindow, Algorithm::FixedWindow, Algorithm::Gcra] {
        assert_eq!(a.as_str().parse::<Algorithm>(), Ok(a));
    }
}

#[test]
fn ten_per_five_minutes_admits_ten_then_says_when() {
    // The OAuth-callback preset: the 11th check in 5 minutes is refused.
    let policy = Policy::new(10, Duration::from_secs(300), Algorithm::SlidingWindow, None).unwrap();
    let mut state = None;
    for i in 0..10 {
        let (d, next) = policy.evaluate(state.as_ref(), 1, T0 + i * MS);
        assert!(d.allowed && d.remaining == 9 - i, "check {i}: {d:?}");
        state = Some(next);
    }
    let (d, _) = policy.evaluate(state.as_ref(), 1, T0 + 10 * MS);
    assert!(!d.allowed);
    assert_eq!(d.remaining, 0);
    assert!(d.retry_after.is_some_and(|w| w > Duration::ZERO && w <= Duration::from_secs(600)), "{d:?}");
}

#[test]
fn a_state_from_a_larger_policy_is_read_without_overflow() {
    // Policies change at run time; keys keep their state.
    let s = Duration::from_secs(60);
    for algorithm in [Algorithm::FixedWindow, Algorithm::SlidingWindow, Algorithm::Gcra] {
        let big = Policy::new(100, s, algorithm, None).unwrap();
        let small = Policy::new(5, s, algorithm, None).unwrap();
        let mut state = None;
        for _ in 0..50 {
            state = Some(big.evaluate(state.as_ref(), 1, T0).1);
        }
        let (d, _) = small.evaluate(state.as_ref(), 1, T0);
        assert!(!d.allowed && d.remaining == 0, "{algorithm}: {d:?}");
        assert!(d.retry_after.is_some(), "{algorithm}: {d:?}");
    }
}
