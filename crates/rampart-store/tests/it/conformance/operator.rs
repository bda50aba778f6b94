//! What an operator does to jobs (the dashboard): searches with every
//! filter, counts, acting on a held lease without the worker's token, retry
//! with an edited payload, deleting finished jobs, the last heartbeat. Run
//! on every backend by the `backend!` list of the conformance suite.

use rampart_core::id::JobId;
use rampart_core::job::JobState;
use rampart_core::time::UnixMillis;
use rampart_store::*;

use super::{T0, ack, at, complete, fail, get, job, lease, planner, q};

fn keyed(key: &str, tenant: Option<&str>, payload: &str) -> NewJob {
    NewJob {
        unique_key: Some(key.into()),
        tenant: tenant.map(str::to_string),
        payload: payload.into(),
        max_attempts: 1,
        ..job("ops")
    }
}

async fn insert_at(store: &Store, jobs: Vec<NewJob>, now: UnixMillis) -> Vec<JobId> {
    store.job_insert_many(JobInsertParams { jobs, now }).await.unwrap().iter().map(|j| j.id).collect()
}

async fn search(store: &Store, filter: JobFilter, after: Option<JobId>) -> Vec<JobId> {
    let params = JobSearchParams { queue: q("ops"), filter, after, limit: 10 };
    store.job_search(params).await.unwrap().into_iter().map(|j| j.id).collect()
}

async fn count(store: &Store, filter: JobFilter, cap: u64) -> u64 {
    store.job_search_count(JobSearchParams { queue: q("ops"), filter, after: None, limit: 1 }, cap).await.unwrap()
}

pub async fn searches_take_every_filter_and_find_keys_in_every_state(store: Store) {
    let first = insert_at(&store, vec![keyed("inv-1", Some("acme"), r#"{"email":"a@x.io"}"#)], T0).await[0];
    // Completed: its key is free again, yet a search by key still finds it.
    let held = lease(&store, "ops", 1, at(10)).await.remove(0);
    ack(&store, first, &held.lease_token, complete(), at(20)).await.unwrap();
    let second = insert_at(&store, vec![keyed("inv-1", Some("globex"), r#"{"email":"b@y.io"}"#)], at(1_000)).await[0];
    let third = insert_at(&store, vec![keyed("inv-2", Some("acme"), r#"{"email":"c@x.io"}"#)], at(2_000)).await[0];
    // A live job holds `inv-1` now: this enqueue answers it, no new job.
    assert_eq!(insert_at(&store, vec![keyed("inv-1", None, "{}")], at(3_000)).await, vec![second]);
    let other = NewJob { queue: q("ops-other"), ..keyed("inv-1", Some("acme"), r#"{"email":"a@x.io"}"#) };
    insert_at(&store, vec![other], at(3_000)).await;

    let key = |k: &str| JobFilter { unique_key: Some(k.into()), ..JobFilter::default() };
    assert_eq!(search(&store, key("inv-1"), None).await, vec![first, second], "every state, this queue only");
    assert_eq!(search(&store, key("inv-1"), Some(first)).await, vec![second], "keyset pages");
    assert_eq!(search(&store, key("nope"), None).await, Vec::<JobId>::new());
    let acme = JobFilter { tenant: Some("acme".into()), ..JobFilter::default() };
    assert_eq!(search(&store, acme.clone(), None).await, vec![first, third]);
    let live_acme = JobFilter { state: Some(JobState::Available), ..acme };
    assert_eq!(search(&store, live_acme, None).await, vec![third]);
    let done = JobFilter { state: Some(JobState::Completed), ..JobFilter::default() };
    assert_eq!(search(&store, done, None).await, vec![first]);
    let created = JobFilter { created_from: Some(at(1_000)), created_until: Some(at(3_000)), ..JobFilter::default() };
    assert_eq!(search(&store, created, None).await, vec![second, third], "from inclusive, until exclusive");
    let finished = JobFilter { finished_from: Some(at(20)), finished_until: Some(at(21)), ..JobFilter::default() };
    assert_eq!(search(&store, finished, None).await, vec![first]);
    let text = JobFilter { payload_contains: Some("@x.io".into()), ..JobFilter::default() };
    assert_eq!(search(&store, text.clone(), None).await, vec![first, third], "inside payloads");
    let both = JobFilter { unique_key: Some("inv-2".into()), ..text };
    assert_eq!(search(&store, both, None).await, vec![third], "filters add up");

    assert_eq!(count(&store, JobFilter::default(), 100).await, 3);
    assert_eq!(count(&store, JobFilter::default(), 2).await, 2, "counted up to the cap");
    assert_eq!(count(&store, key("inv-1"), 100).await, 2);
    let nul = JobFilter { payload_contains: Some("a\0b".into()), ..JobFilter::default() };
    let refused = store.job_search(JobSearchParams { queue: q("ops"), filter: nul, after: None, limit: 1 }).await;
    assert!(matches!(refused, Err(StoreError::Invalid(m)) if m.contains("payload_contains")));
}

pub async fn an_operator_releases_or_fails_a_held_lease_through_its_token(store: Store) {
    let ids = insert_at(&store, vec![NewJob { max_attempts: 2, ..job("ops") }, job("ops")], T0).await;
    assert_eq!(store.job_lease_token(ids[0]).await.unwrap(), None, "not active: no lease");
    let leased = lease(&store, "ops", 2, at(10)).await;
    let token = store.job_lease_token(ids[0]).await.unwrap().expect("held");
    assert_eq!(token, leased[0].lease_token);

    // A heartbeat is remembered, for "last heartbeat".
    let beat = JobHeartbeatParams { id: ids[0], lease_token: token.clone(), lease: None, progress: None, now: at(500) };
    store.job_heartbeat(beat).await.unwrap();
    assert_eq!(get(&store, ids[0]).await.heartbeat_at, Some(at(500)));
    assert_eq!(get(&store, ids[1]).await.heartbeat_at, None);

    // Release: available again, the attempt not counted.
    let releases = vec![JobRelease { id: ids[0], lease_token: token.clone() }];
    store.job_release_many(JobReleaseParams { releases, now: at(600) }).await.unwrap().pop().unwrap().unwrap();
    let released = get(&store, ids[0]).await;
    assert_eq!((released.state, released.attempt), (JobState::Available, 0));
    assert_eq!(released.history.last().unwrap().reason, "released");
    // The worker's token no longer holds it.
    assert!(matches!(ack(&store, ids[0], &token, complete(), at(700)).await, Err(StoreError::LeaseLost)));

    // Fail: the retry policy applies (3 attempts: a retry is scheduled).
    let token = store.job_lease_token(ids[1]).await.unwrap().unwrap();
    let outcome = AckOutcome::Fail { error: "failed by an operator".into(), retryable: true, retry_at: None };
    let acks = vec![JobAck { id: ids[1], lease_token: token, outcome }];
    let failed = store.job_ack_many(JobAckParams { acks, planner: planner(), now: at(800) }).await.unwrap();
    assert_eq!(failed[0].as_ref().unwrap().state, JobState::Scheduled, "the retry policy applies");
    assert_eq!(get(&store, ids[1]).await.last_error.as_deref(), Some("failed by an operator"));
    assert_eq!(store.job_lease_token(ids[1]).await.unwrap(), None);
}

pub async fn a_retry_with_an_edited_payload_keeps_the_original_in_history(store: Store) {
    let id = insert_at(&store, vec![NewJob { payload: r#"{"to":"old"}"#.into(), max_attempts: 1, ..job("ops") }], T0)
        .await[0];
    let held = lease(&store, "ops", 1, at(10)).await.remove(0);
    ack(&store, id, &held.lease_token, fail(false), at(20)).await.unwrap();
    store.job_retry_edited(id, r#"{"to":"new"}"#.into(), at(30)).await.unwrap();
    let job = get(&store, id).await;
    assert_eq!((job.state, job.payload.as_str(), job.attempt), (JobState::Available, r#"{"to":"new"}"#, 0));
    let retried = job.history.last().unwrap();
    assert_eq!((retried.reason.as_str(), retried.payload.as_deref()), ("retried", Some(r#"{"to":"old"}"#)));
    assert!(job.history.iter().rev().skip(1).all(|e| e.payload.is_none()), "only the retry replaced it");
    // A plain retry keeps the payload and records none replaced.
    let held = lease(&store, "ops", 1, at(40)).await.remove(0);
    ack(&store, id, &held.lease_token, fail(false), at(50)).await.unwrap();
    store.job_retry(id, at(60)).await.unwrap();
    let job = get(&store, id).await;
    assert_eq!((job.payload.as_str(), job.history.last().unwrap().payload.as_deref()), (r#"{"to":"new"}"#, None));
    assert!(matches!(
        store.job_retry_edited(id, "{}".into(), at(70)).await,
        Err(StoreError::InvalidState(JobState::Available))
    ));
    assert!(matches!(store.job_retry_edited(JobId(424_242), "{}".into(), at(70)).await, Err(StoreError::NotFound)));
}

pub async fn only_finished_jobs_of_the_queue_are_deleted(store: Store) {
    let ids = insert_at(&store, vec![NewJob { max_attempts: 1, ..job("ops") }, job("ops"), job("ops")], T0).await;
    let held = lease(&store, "ops", 1, at(10)).await.remove(0);
    ack(&store, ids[0], &held.lease_token, fail(false), at(20)).await.unwrap();
    store.job_cancel(ids[1], at(30)).await.unwrap();
    let wrong_queue = store.job_delete_finished(q("elsewhere"), ids.clone()).await.unwrap();
    assert_eq!(wrong_queue, 0);
    assert_eq!(store.job_delete_finished(q("ops"), ids.clone()).await.unwrap(), 2, "dead and cancelled");
    assert!(store.job_get(ids[0]).await.unwrap().is_none());
    assert!(store.job_get(ids[1]).await.unwrap().is_none());
    assert_eq!(get(&store, ids[2]).await.state, JobState::Available, "a live job stays");
}
