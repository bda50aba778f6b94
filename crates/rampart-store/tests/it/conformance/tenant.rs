//! Tenants on jobs and stalls, run on every backend by the `backend!` list
//! of the conformance suite.

use rampart_core::id::JobId;
use rampart_core::job::{FailureKind, JobState};
use rampart_store::*;

use super::{LEASE, T0, ack, at, fail, get, insert, job, lease, planner, q, stalls};

fn of(queue: &str, tenant: Option<&str>) -> NewJob {
    NewJob { tenant: tenant.map(str::to_string), max_attempts: 1, ..job(queue) }
}

async fn list(store: &Store, tenant: &str, state: Option<JobState>, after: Option<JobId>) -> Vec<JobId> {
    let params = JobListParams { queue: q("ten"), state, tenant: Some(tenant.into()), after, limit: 2 };
    store.job_list(params).await.unwrap().into_iter().map(|j| j.id).collect()
}

pub async fn tenants_travel_with_jobs_and_filter_listings(store: Store) {
    let ids: Vec<JobId> = insert(
        &store,
        vec![of("ten", Some("acme")), of("ten", Some("globex")), of("ten", None), of("ten", Some("acme"))],
    )
    .await
    .iter()
    .map(|j| j.id)
    .collect();
    let leased = lease(&store, "ten", 1, T0).await.remove(0);
    assert_eq!((leased.id, leased.tenant.as_deref()), (ids[0], Some("acme")));
    assert_eq!(get(&store, ids[0]).await.tenant.as_deref(), Some("acme"));
    assert_eq!(get(&store, ids[2]).await.tenant, None);

    assert_eq!(list(&store, "acme", None, None).await, vec![ids[0], ids[3]]);
    assert_eq!(list(&store, "acme", Some(JobState::Available), None).await, vec![ids[3]]);
    assert_eq!(list(&store, "acme", Some(JobState::Active), None).await, vec![ids[0]]);
    assert_eq!(list(&store, "acme", None, Some(ids[0])).await, vec![ids[3]]);
    assert_eq!(list(&store, "globex", None, None).await, vec![ids[1]]);
    assert!(list(&store, "initech", None, None).await.is_empty());
    let refused = store
        .job_list(JobListParams { queue: q("ten"), state: None, tenant: Some("a\0b".into()), after: None, limit: 1 })
        .await;
    assert!(matches!(refused, Err(StoreError::Invalid(m)) if m.contains("tenant")));
}

pub async fn dead_jobs_are_counted_per_tenant_and_queue(store: Store) {
    insert(
        &store,
        vec![
            of("ten", Some("acme")),
            of("ten", Some("globex")),
            of("ten", Some("acme")),
            of("ten", None),
            of("ten", Some("initech")),
        ],
    )
    .await;
    insert(&store, vec![of("ten2", Some("globex"))]).await;
    for queue in ["ten", "ten2"] {
        for l in lease(&store, queue, 10, T0).await {
            // One of "ten" stays alive: it is not dead, so not counted.
            if l.tenant.as_deref() == Some("initech") {
                continue;
            }
            ack(&store, l.id, &l.lease_token, fail(false), at(1)).await.unwrap();
        }
    }
    let top = |queue: &str, tenant: &str, dead: u64| DeadTenant { queue: q(queue), tenant: tenant.into(), dead };
    assert_eq!(store.job_dead_tenants(1).await.unwrap(), vec![top("ten", "acme", 2), top("ten2", "globex", 1)]);
    assert_eq!(
        store.job_dead_tenants(5).await.unwrap(),
        vec![top("ten", "acme", 2), top("ten", "globex", 1), top("ten2", "globex", 1)]
    );
}

pub async fn a_stall_gives_the_job_back_without_an_attempt_until_max_stalls(store: Store) {
    let id = insert(&store, vec![of("st", Some("acme"))]).await[0].id;
    let reap = |now| JobReapParams { limit: 10, planner: planner(), max_stalls: stalls(1), now };
    let first = lease(&store, "st", 1, T0).await.remove(0);
    assert_eq!(first.attempt, 1);
    // The worker dies: its lease expires without a heartbeat.
    let reaped = store.job_reap(reap(T0.plus(LEASE))).await.unwrap();
    assert_eq!(reaped.len(), 1);
    assert_eq!((reaped[0].kind, reaped[0].state), (FailureKind::LeaseExpired, JobState::Available));
    let stalled = get(&store, id).await;
    assert_eq!((stalled.state, stalled.attempt, stalled.stalls), (JobState::Available, 0, 1));
    let last = stalled.history.last().unwrap();
    assert_eq!((last.reason.as_str(), last.from, last.to), ("stalled", Some(JobState::Active), JobState::Available));
    assert!(last.error.as_deref().unwrap().contains("stall 1 of 1"), "{last:?}");
    // The old token is fenced.
    assert!(matches!(
        ack(&store, id, &first.lease_token, fail(true), T0.plus(LEASE)).await,
        Err(StoreError::LeaseLost)
    ));

    // The next worker gets the same attempt number; dying again counts it,
    // and with one attempt allowed the job is dead.
    let second = lease(&store, "st", 1, at(31_000)).await.remove(0);
    assert_eq!(second.attempt, 1);
    let reaped = store.job_reap(reap(at(31_000).plus(LEASE))).await.unwrap();
    assert_eq!((reaped[0].kind, reaped[0].state), (FailureKind::LeaseExpired, JobState::Dead));
    let dead = get(&store, id).await;
    assert_eq!((dead.state, dead.attempt, dead.stalls), (JobState::Dead, 1, 1));
    let reasons: Vec<&str> = dead.history.iter().map(|e| e.reason.as_str()).collect();
    assert_eq!(reasons, ["enqueued", "leased", "stalled", "leased", "lease_expired"]);

    // A retry starts the job afresh, stalls included.
    store.job_retry(id, at(70_000)).await.unwrap();
    assert_eq!(get(&store, id).await.stalls, 0);
}

pub async fn a_timeout_is_never_a_stall(store: Store) {
    let timed = NewJob { timeout: Some(std::time::Duration::from_secs(5)), max_attempts: 2, ..job("to") };
    let id = insert(&store, vec![timed]).await[0].id;
    lease(&store, "to", 1, T0).await;
    let params = JobReapParams { limit: 10, planner: planner(), max_stalls: stalls(1), now: at(5_000) };
    let reaped = store.job_reap(params).await.unwrap();
    assert_eq!((reaped[0].kind, reaped[0].state), (FailureKind::Timeout, JobState::Scheduled));
    assert_eq!(get(&store, id).await.stalls, 0);
}
