//! The contract of job steps, run on every backend by the `backend!` list of
//! the conformance suite: a step records once under a live lease (first
//! writer wins), in the order reached, travels with every lease and the
//! job's history; a durable sleep gives the job back scheduled without an
//! attempt; the limits hold.

use rampart_core::job::JobState;
use rampart_core::step::{MAX_STEP_STATE_BYTES, MAX_STEPS, StepLimit, StepName};
use rampart_core::time::UnixMillis;
use rampart_store::*;

use super::{T0, ack, at, complete, fail, get, insert, job, lease, q};

fn step(id: rampart_core::id::JobId, token: &str, name: &str, result: &str, now: UnixMillis) -> JobStepParams {
    JobStepParams {
        id,
        lease_token: token.into(),
        name: StepName::parse(name).unwrap(),
        result: result.into(),
        sleep_until: None,
        wait: None,
        now,
    }
}

fn names(steps: &[StepRecord]) -> Vec<&str> {
    steps.iter().map(|s| s.name.as_str()).collect()
}

pub async fn steps_record_once_in_order_and_travel_with_each_lease(store: Store) {
    let id = insert(&store, vec![job("steps")]).await[0].id;
    let held = lease(&store, "steps", 1, T0).await.remove(0);
    assert!(held.steps.is_empty());
    let first = store.job_step_record(step(id, &held.lease_token, "analyze", r#"{"a": 1}"#, at(1_000))).await.unwrap();
    assert_eq!((first.result.as_str(), first.recorded, first.state), (r#"{"a": 1}"#, true, JobState::Active));
    store.job_step_record(step(id, &held.lease_token, "scope", "[1,2]", at(2_000))).await.unwrap();
    // First writer wins: a second record answers the first result.
    let again = store.job_step_record(step(id, &held.lease_token, "analyze", "42", at(3_000))).await.unwrap();
    assert_eq!((again.result.as_str(), again.recorded), (r#"{"a": 1}"#, false));
    // A token that is not the live lease records nothing.
    let stale = store.job_step_record(step(id, "not-the-token", "save", "1", at(3_000))).await;
    assert!(matches!(stale, Err(StoreError::LeaseLost)), "{stale:?}");
    ack(&store, id, &held.lease_token, fail(true), at(4_000)).await.unwrap();
    // The retry's lease carries the steps, in order, with their attempt.
    store.job_promote_due(at(60_000), 10).await.unwrap();
    let retry = lease(&store, "steps", 1, at(60_000)).await.remove(0);
    assert_eq!(names(&retry.steps), ["analyze", "scope"]);
    assert_eq!(
        (retry.steps[0].result.as_str(), retry.steps[0].at, retry.steps[0].attempt),
        (r#"{"a": 1}"#, at(1_000), 1)
    );
    store.job_step_record(step(id, &retry.lease_token, "save", "null", at(61_000))).await.unwrap();
    ack(&store, id, &retry.lease_token, complete(), at(62_000)).await.unwrap();
    let done = get(&store, id).await;
    assert_eq!(names(&done.steps), ["analyze", "scope", "save"]);
    assert_eq!(done.steps[2].attempt, 2);
    // History: each step once, between its attempt's lease and end.
    let reasons: Vec<(&str, Option<&str>)> =
        done.history.iter().map(|e| (e.reason.as_str(), e.step.as_deref())).collect();
    assert_eq!(
        reasons,
        [
            ("enqueued", None),
            ("leased", None),
            ("step", Some("analyze")),
            ("step", Some("scope")),
            ("error", None),
            ("due", None),
            ("leased", None),
            ("step", Some("save")),
            ("completed", None),
        ]
    );
    assert_eq!(done.history[0].to, JobState::Available, "created available, whatever its steps");
}

pub async fn a_durable_sleep_gives_the_job_back_scheduled_without_an_attempt(store: Store) {
    let id = insert(&store, vec![job("sleepy")]).await[0].id;
    let held = lease(&store, "sleepy", 1, T0).await.remove(0);
    store.job_step_record(step(id, &held.lease_token, "first", "1", at(500))).await.unwrap();
    let wake = at(30_000);
    let slept = store
        .job_step_record(JobStepParams {
            sleep_until: Some(wake),
            ..step(id, &held.lease_token, "nap", "null", at(1_000))
        })
        .await
        .unwrap();
    assert_eq!((slept.state, slept.run_at, slept.recorded), (JobState::Scheduled, Some(wake), true));
    assert_eq!(slept.result, format!("\"{}\"", wake.to_rfc3339()), "the sleep records its wake time");
    let parked = get(&store, id).await;
    assert_eq!((parked.state, parked.attempt, parked.run_at), (JobState::Scheduled, 0, wake));
    // The lease is over: its token records nothing more.
    let late = store.job_step_record(step(id, &held.lease_token, "second", "1", at(2_000))).await;
    assert!(matches!(late, Err(StoreError::LeaseLost)));
    assert!(lease(&store, "sleepy", 1, at(29_000)).await.is_empty(), "asleep until its wake time");
    assert_eq!(store.job_promote_due(at(29_999), 10).await.unwrap(), vec![]);
    store.job_promote_due(wake, 10).await.unwrap();
    let woken = lease(&store, "sleepy", 1, wake).await.remove(0);
    assert_eq!(woken.attempt, 1, "the sleep counted no attempt");
    assert_eq!(names(&woken.steps), ["first", "nap"]);
    // Replayed, the sleep is already recorded: nothing changes, the job stays held.
    let replay = store
        .job_step_record(JobStepParams {
            sleep_until: Some(at(90_000)),
            ..step(id, &woken.lease_token, "nap", "null", wake)
        })
        .await
        .unwrap();
    assert_eq!((replay.recorded, replay.state), (false, JobState::Active));
    let history = get(&store, id).await.history;
    let sleeping = history.iter().find(|e| e.reason == "sleeping").expect("a sleeping event");
    assert_eq!(
        (sleeping.from, sleeping.to, sleeping.step.as_deref()),
        (Some(JobState::Active), JobState::Scheduled, Some("nap"))
    );
}

pub async fn step_limits_are_refused_without_a_write(store: Store) {
    let id = insert(&store, vec![job("limits")]).await[0].id;
    let held = lease(&store, "limits", 1, T0).await.remove(0);
    // Room for about three results of 1.3 MiB in 4 MiB of step state.
    let big = format!("\"{}\"", "x".repeat(MAX_STEP_STATE_BYTES / 3 - 100));
    for i in 0..3 {
        store.job_step_record(step(id, &held.lease_token, &format!("big{i}"), &big, at(1))).await.unwrap();
    }
    let full = store.job_step_record(step(id, &held.lease_token, "big3", &big, at(1))).await;
    assert!(matches!(full, Err(StoreError::StepLimit(StepLimit::StateTooLarge))), "{full:?}");
    let id = insert(&store, vec![job("limits")]).await[0].id;
    let held = lease(&store, "limits", 1, T0).await.remove(0);
    for i in 0..MAX_STEPS {
        store.job_step_record(step(id, &held.lease_token, &format!("s{i}"), "0", at(1))).await.unwrap();
    }
    let many = store.job_step_record(step(id, &held.lease_token, "one more", "0", at(1))).await;
    assert!(matches!(many, Err(StoreError::StepLimit(StepLimit::TooMany))), "{many:?}");
    // A recorded step still answers its result when the state is full.
    let again = store.job_step_record(step(id, &held.lease_token, "s7", "1", at(1))).await.unwrap();
    assert!(!again.recorded);
    assert_eq!(get(&store, id).await.steps.len(), MAX_STEPS);
}

fn waiting_for(id: rampart_core::id::JobId, token: &str, value: &str, now: UnixMillis) -> JobStepParams {
    let wait = StepWait {
        event: "order.paid".into(),
        match_on: Some(("data.order_id".into(), value.into())),
        timeout_at: now.plus(std::time::Duration::from_secs(600)),
        lookback_from: UnixMillis(now.0 - 3_600_000),
    };
    JobStepParams { wait: Some(wait), ..step(id, token, "paid", "null", now) }
}

fn event(payload: &str, id: Option<&str>, now: UnixMillis) -> EventSendParams {
    EventSendParams {
        name: "order.paid".into(),
        event_id: id.map(str::to_string),
        payload: payload.into(),
        keep: std::time::Duration::from_secs(3600),
        now,
    }
}

pub async fn a_waiting_job_resumes_on_its_matching_event_with_the_payload(store: Store) {
    let id = insert(&store, vec![job("orders")]).await[0].id;
    let held = lease(&store, "orders", 1, T0).await.remove(0);
    let parked = store.job_step_record(waiting_for(id, &held.lease_token, r#""o-1""#, at(1_000))).await.unwrap();
    assert_eq!((parked.state, parked.recorded), (JobState::Waiting, false));
    let job = get(&store, id).await;
    assert_eq!((job.state, job.attempt), (JobState::Waiting, 0));
    assert!(lease(&store, "orders", 1, at(2_000)).await.is_empty(), "a waiting job is not leased");
    assert_eq!(store.job_promote_due(at(2_000), 10).await.unwrap(), vec![], "nor promoted");
    let counts = store.queue_counts().await.unwrap();
    let orders = counts.iter().find(|c| c.queue == q("orders")).unwrap();
    assert_eq!(orders.get(JobState::Waiting), 1);
    // Another order's event wakes nothing; this order's wakes the job.
    let other = store.event_send(event(r#"{"data":{"order_id":"o-2"}}"#, Some("e1"), at(3_000))).await.unwrap();
    assert_eq!(other, EventSent::default());
    let paid = r#"{"data":{"order_id":"o-1","total":42}}"#;
    let sent = store.event_send(event(paid, Some("e2"), at(4_000))).await.unwrap();
    assert_eq!(sent.woken, vec![(id, q("orders"))]);
    // Sent again with the same id: a duplicate, nothing woken twice.
    let again = store.event_send(event(paid, Some("e2"), at(4_500))).await.unwrap();
    assert!(again.duplicate && again.woken.is_empty());
    let resumed = lease(&store, "orders", 1, at(5_000)).await.remove(0);
    assert_eq!(resumed.attempt, 1, "the wait counted no attempt");
    assert_eq!((resumed.steps[0].name.as_str(), resumed.steps[0].result.as_str()), ("paid", paid));
    let history = get(&store, id).await.history;
    let woke = history.iter().find(|e| e.reason == "event").expect("an event in the history");
    assert_eq!(
        (woke.from, woke.to, woke.step.as_deref()),
        (Some(JobState::Waiting), JobState::Available, Some("paid"))
    );
}

pub async fn an_event_sent_just_before_the_wait_matches_at_registration(store: Store) {
    let paid = r#"{"data":{"order_id":"o-9"}}"#;
    store.event_send(event(paid, None, at(500))).await.unwrap();
    let id = insert(&store, vec![job("early")]).await[0].id;
    let held = lease(&store, "early", 1, T0).await.remove(0);
    let matched = store.job_step_record(waiting_for(id, &held.lease_token, r#""o-9""#, at(1_000))).await.unwrap();
    assert_eq!((matched.state, matched.recorded, matched.result.as_str()), (JobState::Active, true, paid));
    // An event older than the lookback does not match: the job waits.
    let id = insert(&store, vec![job("early")]).await[0].id;
    let held = lease(&store, "early", 1, at(4_000_000)).await.remove(0);
    let parked = store.job_step_record(waiting_for(id, &held.lease_token, r#""o-9""#, at(4_000_000))).await.unwrap();
    assert_eq!(parked.state, JobState::Waiting);
}

pub async fn a_wait_times_out_to_null_through_the_promoter_and_a_cancel_ends_it(store: Store) {
    let id = insert(&store, vec![job("late")]).await[0].id;
    let held = lease(&store, "late", 1, T0).await.remove(0);
    store.job_step_record(waiting_for(id, &held.lease_token, r#""o-5""#, at(1_000))).await.unwrap();
    let timeout = at(601_000);
    assert_eq!(store.job_next_due().await.unwrap(), Some(timeout), "the timeout is a due row");
    assert_eq!(store.job_promote_due(at(600_999), 10).await.unwrap(), vec![]);
    assert_eq!(store.job_promote_due(timeout, 10).await.unwrap(), vec![(q("late"), 1)]);
    let resumed = lease(&store, "late", 1, timeout).await.remove(0);
    assert_eq!((resumed.steps[0].name.as_str(), resumed.steps[0].result.as_str()), ("paid", "null"));
    assert_eq!(store.job_next_due().await.unwrap(), None);
    // The event after the timeout wakes nothing.
    let sent = store.event_send(event(r#"{"data":{"order_id":"o-5"}}"#, None, at(602_000))).await.unwrap();
    assert!(sent.woken.is_empty());
    // A waiting job may be cancelled; its wait goes with it.
    let id = insert(&store, vec![job("late")]).await[0].id;
    let held = lease(&store, "late", 1, at(700_000)).await.remove(0);
    store.job_step_record(waiting_for(id, &held.lease_token, r#""o-6""#, at(700_000))).await.unwrap();
    store.job_cancel(id, at(701_000)).await.unwrap();
    assert_eq!(get(&store, id).await.state, JobState::Cancelled);
    assert_eq!(store.job_next_due().await.unwrap(), None, "no wait is left behind");
    let sent = store.event_send(event(r#"{"data":{"order_id":"o-6"}}"#, None, at(702_000))).await.unwrap();
    assert!(sent.woken.is_empty());
}
