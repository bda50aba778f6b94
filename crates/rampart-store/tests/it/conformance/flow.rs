//! Parent/child flows: a parent waits on its children, and every site that
//! ends a child (complete, fail, reap, cancel) or deletes one (purge,
//! retention, the dashboard's delete) keeps the parent right. Run on every
//! backend by the `backend!` list of the conformance suite.

use std::time::Duration;

use rampart_core::id::JobId;
use rampart_core::job::{ChildDeadPolicy, JobState};
use rampart_store::*;

use super::{T0, ack, at, complete, fail, get, job, lease, planner, q, stalls};

fn child(queue: &str) -> FlowJob {
    FlowJob::plain(NewJob { max_attempts: 1, ..job(queue) })
}

fn parent(children: Vec<FlowJob>, policy: ChildDeadPolicy) -> FlowJob {
    FlowJob { children: Some(children), on_child_dead: policy, ..FlowJob::plain(job("par")) }
}

async fn insert_flow(store: &Store, flow: FlowJob) -> FlowInserted {
    store.job_insert_flow(JobFlowInsertParams { jobs: vec![flow], now: T0 }).await.unwrap().remove(0)
}

/// Leases and completes every available job of `queue`.
async fn finish_all(store: &Store, queue: &str, now: rampart_core::time::UnixMillis) -> usize {
    let held = lease(store, queue, 100, now).await;
    for h in &held {
        let result = AckOutcome::Complete { result: Some(format!(r#"{{"child":{}}}"#, h.id.0)) };
        ack(store, h.id, &h.lease_token, result, now).await.unwrap();
    }
    held.len()
}

async fn state(store: &Store, id: JobId) -> JobState {
    get(store, id).await.state
}

pub async fn a_parent_waits_for_every_child_then_its_lease_carries_their_results(store: Store) {
    let flow = insert_flow(&store, parent((0..3).map(|_| child("kids")).collect(), ChildDeadPolicy::Fail)).await;
    let p = flow.job.id;
    assert_eq!(flow.job.state, JobState::Waiting);
    assert_eq!(flow.children.len(), 3);
    assert!(lease(&store, "par", 1, at(1)).await.is_empty(), "a waiting parent is never leased");
    assert!(store.job_promote_due(at(1), 100).await.unwrap().is_empty(), "nor promoted");
    let counts = store.queue_counts().await.unwrap();
    let par = counts.iter().find(|c| c.queue == q("par")).unwrap();
    assert_eq!(par.get(JobState::Waiting), 1);

    let kid = get(&store, flow.children[0].job.id).await;
    assert_eq!(kid.parent_id, Some(p));
    let held = lease(&store, "kids", 2, at(2)).await;
    for h in &held {
        ack(&store, h.id, &h.lease_token, complete(), at(3)).await.unwrap();
    }
    let waiting = get(&store, p).await;
    assert_eq!((waiting.state, waiting.pending_children), (JobState::Waiting, Some(1)));
    assert_eq!(waiting.children, vec![(JobState::Available, 1), (JobState::Completed, 2)]);

    assert_eq!(finish_all(&store, "kids", at(4)).await, 1);
    assert_eq!(state(&store, p).await, JobState::Scheduled, "the last child makes the parent due");
    store.job_promote_due(at(4), 100).await.unwrap();
    let leased = lease(&store, "par", 1, at(5)).await.remove(0);
    let children = leased.children.expect("a parent's lease carries its children");
    assert_eq!(children.len(), 3);
    assert!(children.iter().all(|c| c.state == JobState::Completed && c.result.is_some() && c.queue == q("kids")));
    let history: Vec<String> = get(&store, p).await.history.iter().map(|e| e.reason.clone()).collect();
    assert!(history.contains(&"children_done".to_string()), "{history:?}");
}

pub async fn an_empty_list_of_children_makes_the_parent_available_at_once(store: Store) {
    let flow = insert_flow(&store, parent(Vec::new(), ChildDeadPolicy::Fail)).await;
    assert_eq!(flow.job.state, JobState::Available);
    let leased = lease(&store, "par", 1, at(1)).await.remove(0);
    assert_eq!(leased.children, Some(Vec::new()));
    // A job that is no parent carries none.
    store.job_insert_many(JobInsertParams { jobs: vec![job("plain")], now: T0 }).await.unwrap();
    assert_eq!(lease(&store, "plain", 1, at(1)).await.remove(0).children, None);
}

pub async fn a_dead_child_fails_the_parent_and_cancels_the_children_not_started(store: Store) {
    // A nested parent among the children: it and its own child are cancelled too.
    let nested = FlowJob { children: Some(vec![child("grand")]), ..child("mid") };
    let flow = insert_flow(&store, parent(vec![child("kids"), child("later"), nested], ChildDeadPolicy::Fail)).await;
    let (p, doomed, later, mid) =
        (flow.job.id, flow.children[0].job.id, flow.children[1].job.id, flow.children[2].job.id);
    let grand = flow.children[2].children[0].job.id;
    assert_eq!(state(&store, mid).await, JobState::Waiting);
    let held = lease(&store, "kids", 1, at(1)).await.remove(0);
    ack(&store, doomed, &held.lease_token, fail(false), at(2)).await.unwrap();
    let dead = get(&store, p).await;
    assert_eq!(dead.state, JobState::Dead);
    let error = dead.last_error.unwrap();
    assert!(error.contains(&format!("child job {doomed}")) && error.contains("boom"), "{error}");
    for id in [later, mid, grand] {
        assert_eq!(state(&store, id).await, JobState::Cancelled, "job {id}");
    }
}

pub async fn a_reaped_child_that_dies_fails_the_parent(store: Store) {
    let flow = insert_flow(&store, parent(vec![child("kids"), child("kids")], ChildDeadPolicy::Fail)).await;
    lease(&store, "kids", 1, at(1)).await;
    let reap = JobReapParams { limit: 10, max_stalls: stalls(0), planner: planner(), now: at(60_000) };
    assert_eq!(store.job_reap(reap).await.unwrap().len(), 1);
    assert_eq!(state(&store, flow.job.id).await, JobState::Dead);
    assert!(get(&store, flow.job.id).await.last_error.unwrap().contains("lease expired"));
}

pub async fn under_ignore_a_dead_child_counts_as_done_and_its_error_is_shown(store: Store) {
    let flow = insert_flow(&store, parent(vec![child("kids"), child("other")], ChildDeadPolicy::Ignore)).await;
    let held = lease(&store, "kids", 1, at(1)).await.remove(0);
    let acked = ack(&store, held.id, &held.lease_token, fail(false), at(2)).await.unwrap();
    assert!(!acked.parent_due, "one child of two ended");
    assert_eq!(state(&store, flow.job.id).await, JobState::Waiting);
    // Cancelling a child counts like its death.
    store.job_cancel(flow.children[1].job.id, at(3)).await.unwrap();
    assert_eq!(state(&store, flow.job.id).await, JobState::Scheduled);
    store.job_promote_due(at(4), 100).await.unwrap();
    let children = lease(&store, "par", 1, at(5)).await.remove(0).children.unwrap();
    assert_eq!(children[0].state, JobState::Dead);
    assert_eq!(children[0].error.as_deref(), Some("boom"));
    assert_eq!(children[1].state, JobState::Cancelled);
}

pub async fn a_cancelled_child_fails_a_parent_under_fail(store: Store) {
    let flow = insert_flow(&store, parent(vec![child("kids"), child("kids")], ChildDeadPolicy::Fail)).await;
    store.job_cancel(flow.children[0].job.id, at(1)).await.unwrap();
    assert_eq!(state(&store, flow.job.id).await, JobState::Dead);
    assert_eq!(state(&store, flow.children[1].job.id).await, JobState::Cancelled);
}

pub async fn cancelling_a_parent_cancels_children_not_started_and_a_running_one_finishes(store: Store) {
    let flow = insert_flow(&store, parent(vec![child("kids"), child("kids")], ChildDeadPolicy::Fail)).await;
    let running = lease(&store, "kids", 1, at(1)).await.remove(0);
    store.job_cancel(flow.job.id, at(2)).await.unwrap();
    assert_eq!(state(&store, flow.job.id).await, JobState::Cancelled);
    let other = flow.children.iter().map(|c| c.job.id).find(|id| *id != running.id).unwrap();
    assert_eq!(state(&store, other).await, JobState::Cancelled);
    ack(&store, running.id, &running.lease_token, complete(), at(3)).await.unwrap();
    assert_eq!(state(&store, running.id).await, JobState::Completed);
    assert_eq!(state(&store, flow.job.id).await, JobState::Cancelled, "a late child wakes no parent");
}

pub async fn a_parent_past_its_timeout_dies_at_the_promoter_s_sweep(store: Store) {
    let flow = FlowJob { timeout: Some(Duration::from_secs(10)), ..parent(vec![child("kids")], ChildDeadPolicy::Fail) };
    let flow = insert_flow(&store, flow).await;
    store.job_promote_due(at(9_999), 100).await.unwrap();
    assert_eq!(state(&store, flow.job.id).await, JobState::Waiting);
    store.job_promote_due(at(10_000), 100).await.unwrap();
    let dead = get(&store, flow.job.id).await;
    assert_eq!(dead.state, JobState::Dead);
    assert!(dead.last_error.unwrap().contains("flow timeout"));
    assert_eq!(state(&store, flow.children[0].job.id).await, JobState::Cancelled);
}

pub async fn deleting_ended_children_leaves_the_parent_s_count_right(store: Store) {
    let kids = vec![child("kids"), child("kids"), child("kids"), child("kids")];
    let flow = insert_flow(&store, parent(kids, ChildDeadPolicy::Ignore)).await;
    let ids: Vec<JobId> = flow.children.iter().map(|c| c.job.id).collect();
    let held = lease(&store, "kids", 3, at(1)).await;
    ack(&store, held[0].id, &held[0].lease_token, complete(), at(2)).await.unwrap();
    ack(&store, held[1].id, &held[1].lease_token, complete(), at(2)).await.unwrap();
    ack(&store, held[2].id, &held[2].lease_token, fail(false), at(2)).await.unwrap();
    // The dashboard's delete, retention and the dead-letter purge.
    assert_eq!(store.job_delete_finished(q("kids"), vec![held[0].id]).await.unwrap(), 1);
    let prune = JobPruneParams {
        state: JobState::Completed,
        older_than: at(3),
        queues: QueueFilter::Only(q("kids")),
        limit: 10,
    };
    assert_eq!(store.job_prune(prune).await.unwrap(), 1);
    assert_eq!(store.job_purge_dead(q("kids"), 10).await.unwrap(), 1);
    let waiting = get(&store, flow.job.id).await;
    assert_eq!((waiting.state, waiting.pending_children), (JobState::Waiting, Some(1)));
    assert_eq!(finish_all(&store, "kids", at(4)).await, 1);
    assert_eq!(state(&store, flow.job.id).await, JobState::Scheduled);
    assert!(ids.iter().all(|id| *id != flow.job.id));
}

pub async fn a_retried_child_is_pending_again(store: Store) {
    let flow = insert_flow(&store, parent(vec![child("kids"), child("kids")], ChildDeadPolicy::Ignore)).await;
    let held = lease(&store, "kids", 1, at(1)).await.remove(0);
    ack(&store, held.id, &held.lease_token, fail(false), at(2)).await.unwrap();
    assert_eq!(get(&store, flow.job.id).await.pending_children, Some(1));
    store.job_retry(held.id, at(3)).await.unwrap();
    assert_eq!(get(&store, flow.job.id).await.pending_children, Some(2));
    assert_eq!(finish_all(&store, "kids", at(4)).await, 2);
    assert_eq!(state(&store, flow.job.id).await, JobState::Scheduled);
}

pub async fn a_duplicate_parent_inserts_no_children(store: Store) {
    let keyed = |queue: &str| FlowJob {
        job: NewJob { unique_key: Some("order-1".into()), ..job("par") },
        ..parent(vec![child(queue)], ChildDeadPolicy::Fail)
    };
    let first = insert_flow(&store, keyed("kids")).await;
    let again = insert_flow(&store, keyed("kids2")).await;
    assert!(again.job.duplicate);
    assert_eq!(again.job.id, first.job.id);
    assert!(again.children.is_empty());
    assert!(lease(&store, "kids2", 1, at(1)).await.is_empty());
}

pub async fn a_child_finishing_at_once_is_counted(store: Store) {
    // The flow commits as one: its children are never seen before the
    // parent waits, however soon they are leased.
    let flow = insert_flow(&store, parent(vec![child("kids")], ChildDeadPolicy::Fail)).await;
    let held = lease(&store, "kids", 1, T0).await.remove(0);
    let acked = ack(&store, held.id, &held.lease_token, complete(), T0).await.unwrap();
    assert!(acked.parent_due, "the ack says the promoter has a parent to make available");
    assert_eq!(state(&store, flow.job.id).await, JobState::Scheduled);
}
