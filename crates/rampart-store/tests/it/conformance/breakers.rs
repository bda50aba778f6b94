//! The contract of shared circuit breakers, run on every backend by the
//! `backend!` list of the conformance suite.

use std::time::Duration;

use rampart_core::breaker::{Admission, BreakerPolicy, BreakerState, Outcome};
use rampart_core::id::BreakerName;
use rampart_store::breaker::BREAKER_TRANSITIONS_KEPT;
use rampart_store::*;

use super::{T0, at};

fn name(s: &str) -> BreakerName {
    BreakerName::new(s).unwrap()
}

fn policy(failure_threshold: u32) -> BreakerPolicy {
    BreakerPolicy { failure_threshold, ..BreakerPolicy::default() }
}

fn params(breaker: &str, op: BreakerOp, now: rampart_core::time::UnixMillis) -> BreakerApplyParams {
    BreakerApplyParams { name: name(breaker), policy: policy(3), op, now }
}

fn failure() -> BreakerOp {
    BreakerOp::Record { outcome: Outcome::Failure, duration: Duration::from_millis(20) }
}

fn success() -> BreakerOp {
    BreakerOp::Record { outcome: Outcome::Success, duration: Duration::from_millis(20) }
}

async fn apply(store: &Store, breaker: &str, op: BreakerOp, now: rampart_core::time::UnixMillis) -> BreakerApplied {
    store.breaker_apply(params(breaker, op, now)).await.unwrap()
}

pub async fn breakers_are_made_on_first_use_and_step_through_their_states(store: Store) {
    assert!(store.breaker_list().await.unwrap().is_empty(), "a fresh store has no breakers");
    assert_eq!(store.breaker_get(&name("payments"), 10).await.unwrap(), None);
    let first = apply(&store, "payments", BreakerOp::Acquire, T0).await;
    assert_eq!(first.admission, Some(Admission::Allowed { probe: false }));
    let made = store.breaker_get(&name("payments"), 10).await.unwrap().expect("the first acquire makes it");
    assert_eq!((made.machine.state(), made.created_at, made.transitions.len()), (BreakerState::Closed, T0, 0));

    for i in 0..2 {
        assert_eq!(apply(&store, "payments", failure(), at(i)).await.transition, None);
    }
    let opened = apply(&store, "payments", failure(), at(2)).await;
    assert_eq!(opened.transition.map(|t| (t.from, t.to)), Some((BreakerState::Closed, BreakerState::Open)));
    assert_eq!(
        apply(&store, "payments", BreakerOp::Acquire, at(10_002)).await.admission,
        Some(Admission::Rejected { retry_after: Duration::from_secs(20) })
    );
    let probe = apply(&store, "payments", BreakerOp::Acquire, at(30_002)).await;
    assert_eq!(probe.admission, Some(Admission::Allowed { probe: true }));
    assert_eq!(probe.machine.state(), BreakerState::HalfOpen);
    assert!(!apply(&store, "payments", BreakerOp::Acquire, at(30_003)).await.admission.unwrap().is_allowed());
    let closed = apply(&store, "payments", success(), at(30_500)).await;
    assert_eq!(closed.transition.map(|t| t.to), Some(BreakerState::Closed));

    let got = store.breaker_get(&name("payments"), 10).await.unwrap().unwrap();
    assert_eq!((got.machine.state(), got.created_at, got.updated_at), (BreakerState::Closed, T0, at(30_500)));
    let path: Vec<_> = got.transitions.iter().map(|t| (t.at, t.from, t.to, t.reason.as_str())).collect();
    assert_eq!(
        path,
        [
            (at(2), BreakerState::Closed, BreakerState::Open, "3 consecutive failures"),
            (at(30_002), BreakerState::Open, BreakerState::HalfOpen, "the cooldown elapsed; probing"),
            (at(30_500), BreakerState::HalfOpen, BreakerState::Closed, "a probe call succeeded"),
        ]
    );
    assert!(got.transitions.windows(2).all(|w| w[0].id < w[1].id));
    let latest = store.breaker_get(&name("payments"), 1).await.unwrap().unwrap();
    assert_eq!(latest.transitions.iter().map(|t| t.to).collect::<Vec<_>>(), [BreakerState::Closed]);

    // Names compare bytewise.
    for n in ["b", "A", "push:z.example.com", "a-1"] {
        apply(&store, n, BreakerOp::Acquire, T0).await;
    }
    let names: Vec<String> = store.breaker_list().await.unwrap().into_iter().map(|b| b.name.to_string()).collect();
    assert_eq!(names, ["A", "a-1", "b", "payments", "push:z.example.com"]);
}

pub async fn breaker_steps_that_change_nothing_write_nothing(store: Store) {
    apply(&store, "quiet", BreakerOp::Acquire, T0).await;
    for i in 1..20 {
        apply(&store, "quiet", BreakerOp::Acquire, at(i)).await;
        apply(&store, "quiet", success(), at(i)).await;
    }
    assert_eq!(store.breaker_get(&name("quiet"), 10).await.unwrap().unwrap().updated_at, T0);
    apply(&store, "quiet", failure(), at(100)).await;
    let counted = store.breaker_get(&name("quiet"), 10).await.unwrap().unwrap();
    assert_eq!((counted.updated_at, counted.machine.consecutive_failures()), (at(100), 1));
    // Rejections while open change nothing either.
    apply(&store, "quiet", failure(), at(101)).await;
    apply(&store, "quiet", failure(), at(102)).await;
    for i in 0..5 {
        apply(&store, "quiet", BreakerOp::Acquire, at(200 + i)).await;
    }
    assert_eq!(store.breaker_get(&name("quiet"), 10).await.unwrap().unwrap().updated_at, at(102));
}

pub async fn breaker_reset_closes_and_is_recorded(store: Store) {
    let made = apply(&store, "fresh", BreakerOp::Reset, T0).await;
    assert_eq!((made.machine.state(), made.transition), (BreakerState::Closed, None));
    assert!(store.breaker_get(&name("fresh"), 10).await.unwrap().is_some(), "a reset makes a missing breaker");
    for i in 0..3 {
        apply(&store, "flaky", failure(), at(i)).await;
    }
    let reset = apply(&store, "flaky", BreakerOp::Reset, at(5)).await;
    assert_eq!(reset.transition.map(|t| (t.from, t.to)), Some((BreakerState::Open, BreakerState::Closed)));
    assert!(apply(&store, "flaky", BreakerOp::Acquire, at(6)).await.admission.unwrap().is_allowed());
    let got = store.breaker_get(&name("flaky"), 10).await.unwrap().unwrap();
    assert_eq!(got.transitions.last().map(|t| t.reason.as_str()), Some("reset"));
}

pub async fn breakers_keep_their_latest_transitions(store: Store) {
    let rounds = BREAKER_TRANSITIONS_KEPT / 2 + 3;
    for i in 0..rounds {
        let now = at(i64::from(i) * 10);
        for _ in 0..3 {
            apply(&store, "busy", failure(), now).await;
        }
        apply(&store, "busy", BreakerOp::Reset, now).await;
    }
    apply(&store, "other", BreakerOp::Reset, T0).await;
    let got = store.breaker_get(&name("busy"), 10_000).await.unwrap().unwrap();
    assert_eq!(got.transitions.len(), BREAKER_TRANSITIONS_KEPT as usize);
    assert_eq!(got.transitions.last().map(|t| t.at), Some(at(i64::from(rounds - 1) * 10)));
}

pub async fn concurrent_breaker_steps_agree(store: Store) {
    // 40 failures at once against a threshold of 3: it opens exactly once.
    let mut tasks = Vec::new();
    for i in 0..40 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move { apply(&store, "crowd", failure(), at(i)).await.transition }));
    }
    let mut opened = 0;
    for t in tasks {
        opened += usize::from(t.await.unwrap().is_some());
    }
    assert_eq!(opened, 1, "one closed → open transition, however many nodes saw the failures");
    // After the cooldown, 24 acquires at once: one probe is admitted.
    let mut tasks = Vec::new();
    for _ in 0..24 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move { apply(&store, "crowd", BreakerOp::Acquire, at(60_000)).await }));
    }
    let mut admitted = 0;
    let mut half_opened = 0;
    for t in tasks {
        let applied = t.await.unwrap();
        admitted += usize::from(applied.admission.unwrap().is_allowed());
        half_opened += usize::from(applied.transition.is_some());
    }
    assert_eq!((admitted, half_opened), (1, 1));
    let got = store.breaker_get(&name("crowd"), 10).await.unwrap().unwrap();
    assert_eq!(got.transitions.iter().map(|t| t.to).collect::<Vec<_>>(), [BreakerState::Open, BreakerState::HalfOpen]);
    // Many callers creating one new breaker at once end up on one row.
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move { apply(&store, "born-together", failure(), T0).await }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let got = store.breaker_get(&name("born-together"), 10).await.unwrap().unwrap();
    assert_eq!(got.machine.state(), BreakerState::Open);
    assert_eq!(got.transitions.len(), 1);
}
