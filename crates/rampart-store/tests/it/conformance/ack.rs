//! The contract of repeated acks, run on every backend by the `backend!`
//! list of the conformance suite: an ack repeated with the token and outcome
//! that already ended the attempt answers success again, marked `already`,
//! so a worker whose answer was lost can tell success from a lost lease.

use rampart_core::job::JobState;
use rampart_store::*;

use super::{T0, ack, at, complete, fail, get, insert, job, lease, planner, stalls};

pub async fn a_repeated_complete_answers_already_and_changes_nothing(store: Store) {
    let id = insert(&store, vec![job("again")]).await[0].id;
    let held = lease(&store, "again", 1, T0).await.remove(0);
    let first = ack(&store, id, &held.lease_token, complete(), at(2_000)).await.unwrap();
    assert_eq!((first.state, first.already), (JobState::Completed, false));
    let before = get(&store, id).await;
    let again =
        ack(&store, id, &held.lease_token, AckOutcome::Complete { result: Some(r#"{"other":1}"#.into()) }, at(9_000))
            .await
            .unwrap();
    assert_eq!((again.id, again.state, again.attempt, again.already), (id, JobState::Completed, 1, true));
    assert_eq!(again.queue, held.queue);
    assert_eq!(get(&store, id).await, before, "the first answer stands: result, finish time and history");
    // Another outcome, or another token, is no repeat.
    assert!(matches!(ack(&store, id, &held.lease_token, fail(true), at(9_000)).await, Err(StoreError::LeaseLost)));
    assert!(matches!(ack(&store, id, "not-the-token", complete(), at(9_000)).await, Err(StoreError::LeaseLost)));
}

pub async fn a_repeated_fail_answers_already_until_the_job_is_leased_again(store: Store) {
    let id = insert(&store, vec![job("again")]).await[0].id;
    let held = lease(&store, "again", 1, T0).await.remove(0);
    let first = ack(&store, id, &held.lease_token, fail(true), at(1_000)).await.unwrap();
    assert_eq!((first.state, first.already), (JobState::Scheduled, false));
    let again = ack(&store, id, &held.lease_token, fail(true), at(1_500)).await.unwrap();
    assert_eq!((again.state, again.retry_at, again.already), (JobState::Scheduled, first.retry_at, true));
    assert!(matches!(ack(&store, id, &held.lease_token, complete(), at(1_500)).await, Err(StoreError::LeaseLost)));
    let history = get(&store, id).await.history;
    assert_eq!(history.iter().filter(|e| e.reason == "error").count(), 1, "one failure recorded");
    // Leased again: the old token ended nothing of the new attempt.
    store.job_promote_due(at(60_000), 10).await.unwrap();
    let second = lease(&store, "again", 1, at(60_000)).await.remove(0);
    assert!(matches!(ack(&store, id, &held.lease_token, fail(true), at(61_000)).await, Err(StoreError::LeaseLost)));
    let dead = ack(&store, id, &second.lease_token, fail(false), at(62_000)).await.unwrap();
    assert_eq!((dead.state, dead.already), (JobState::Dead, false));
    let dead_again = ack(&store, id, &second.lease_token, fail(false), at(63_000)).await.unwrap();
    assert_eq!((dead_again.state, dead_again.attempt, dead_again.already), (JobState::Dead, 2, true));
}

pub async fn an_attempt_the_reaper_ended_is_no_ack_to_repeat(store: Store) {
    let id = insert(&store, vec![job("reaped")]).await[0].id;
    let held = lease(&store, "reaped", 1, T0).await.remove(0);
    let reaped = store
        .job_reap(JobReapParams { limit: 10, planner: planner(), max_stalls: stalls(0), now: at(31_000) })
        .await
        .unwrap();
    assert_eq!(reaped.len(), 1);
    // The worker's late answer did not end the attempt: the lease is lost.
    assert!(matches!(ack(&store, id, &held.lease_token, fail(true), at(32_000)).await, Err(StoreError::LeaseLost)));
    assert!(matches!(ack(&store, id, &held.lease_token, complete(), at(32_000)).await, Err(StoreError::LeaseLost)));
    // Nor does a lease given back leave anything to repeat.
    store.job_promote_due(at(60_000), 10).await.unwrap();
    let second = lease(&store, "reaped", 1, at(60_000)).await.remove(0);
    let release = JobRelease { id, lease_token: second.lease_token.clone() };
    store.job_release_many(JobReleaseParams { releases: vec![release], now: at(61_000) }).await.unwrap();
    assert!(matches!(ack(&store, id, &second.lease_token, complete(), at(62_000)).await, Err(StoreError::LeaseLost)));
}

pub async fn a_complete_repeated_in_one_batch_answers_already(store: Store) {
    let id = insert(&store, vec![job("batch")]).await[0].id;
    let token = lease(&store, "batch", 1, T0).await.remove(0).lease_token;
    let acks = vec![
        JobAck { id, lease_token: token.clone(), outcome: complete() },
        JobAck { id, lease_token: token.clone(), outcome: complete() },
    ];
    let out = store.job_ack_many(JobAckParams { acks, planner: planner(), now: at(1) }).await.unwrap();
    let states: Vec<(JobState, bool)> = out.iter().map(|r| r.as_ref().map(|a| (a.state, a.already)).unwrap()).collect();
    assert_eq!(states, [(JobState::Completed, false), (JobState::Completed, true)]);
}
