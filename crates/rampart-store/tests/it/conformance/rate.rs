//! Queue start rates, run on every backend by the `backend!` list of the
//! conformance suite.

use std::collections::BTreeMap;
use std::time::Duration;

use rampart_core::queue::{QueueRate, RateKey, StartRate};
use rampart_core::time::UnixMillis;
use rampart_store::*;

use super::{T0, at, insert, job, lease_params, q};

fn rate(limit: u32, secs: u64, key: Option<RateKey>) -> QueueRate {
    QueueRate { rate: StartRate { limit, per: Duration::from_secs(secs) }, key }
}

fn of(queue: &str, tenant: Option<&str>) -> NewJob {
    NewJob { tenant: tenant.map(str::to_string), ..job(queue) }
}

async fn rated(store: &Store, queue: &str, max: u32, r: QueueRate, now: UnixMillis) -> JobLeased {
    store.job_lease(JobLeaseParams { rate: Some(r), ..lease_params(queue, max, now) }).await.unwrap()
}

async fn status(store: &Store, queue: &str, r: QueueRate, now: UnixMillis) -> QueueRateStatus {
    store.queue_rate_status(QueueRateParams { queue: q(queue), rate: r, now }).await.unwrap()
}

pub async fn a_start_rate_caps_a_burst_and_the_next_window_admits_more(store: Store) {
    let r = rate(3, 60, None);
    insert(&store, (0..10).map(|_| job("rated")).collect()).await;
    let first = rated(&store, "rated", 10, r, T0).await;
    assert_eq!(first.jobs.len(), 3, "a burst of ten takes the rate's three");
    assert_eq!(first.rate_reopens_at, Some(at(60_000)), "the window opened with the first start");
    let later = rated(&store, "rated", 10, r, at(59_999)).await;
    assert_eq!((later.jobs.len(), later.rate_reopens_at), (0, Some(at(60_000))), "full until the window ends");
    let shown = status(&store, "rated", r, at(30_000)).await;
    assert_eq!(shown, QueueRateStatus { started: 3, groups: 1, full: 1, reopens_at: Some(at(60_000)) });

    // Giving a lease back does not return its slot: the work may have begun.
    let back = JobRelease { id: first.jobs[0].id, lease_token: first.jobs[0].lease_token.clone() };
    store.job_release_many(JobReleaseParams { releases: vec![back], now: at(1_000) }).await.unwrap();
    assert!(rated(&store, "rated", 10, r, at(2_000)).await.jobs.is_empty());

    // The next window opens at its first start, not on a fixed grid.
    let next = rated(&store, "rated", 2, r, at(70_000)).await;
    assert_eq!((next.jobs.len(), next.rate_reopens_at), (2, None), "room for one more");
    assert_eq!(next.jobs[0].id, first.jobs[0].id, "the released job is first in line again");
    let third = rated(&store, "rated", 10, r, at(71_000)).await;
    assert_eq!((third.jobs.len(), third.rate_reopens_at), (1, Some(at(130_000))));
    assert_eq!(
        status(&store, "rated", r, at(130_000)).await,
        QueueRateStatus::default(),
        "ended windows count nothing"
    );
    // A lease without the rate is not held back by it (the queue's setting
    // is the engine's to pass).
    assert_eq!(store.job_lease(lease_params("rated", 10, at(72_000))).await.unwrap().jobs.len(), 5);
}

pub async fn a_start_rate_by_tenant_keeps_each_group_apart(store: Store) {
    let r = rate(2, 10, Some(RateKey::Tenant));
    // Acme's jobs come first in line; the others must not wait behind them.
    let mut jobs: Vec<NewJob> = (0..6).map(|_| of("tenants", Some("acme"))).collect();
    jobs.extend([of("tenants", Some("globex")), of("tenants", None), of("tenants", None), of("tenants", None)]);
    insert(&store, jobs).await;
    let mut hi = of("tenants", Some("initech"));
    hi.priority = 5;
    insert(&store, vec![hi]).await;
    let leased = rated(&store, "tenants", 100, r, T0).await;
    let mut per: BTreeMap<Option<String>, usize> = BTreeMap::new();
    for j in &leased.jobs {
        *per.entry(j.tenant.clone()).or_default() += 1;
    }
    let expected: BTreeMap<Option<String>, usize> =
        [(None, 2), (Some("acme".into()), 2), (Some("globex".into()), 1), (Some("initech".into()), 1)].into();
    assert_eq!(per, expected, "each tenant, and the jobs without one, up to two");
    assert_eq!(leased.jobs[0].tenant.as_deref(), Some("initech"), "still in lease order");
    assert_eq!(leased.rate_reopens_at, Some(at(10_000)));
    let shown = status(&store, "tenants", r, at(1)).await;
    assert_eq!((shown.started, shown.groups, shown.full), (6, 4, 2));

    // A batch smaller than the backlog still skips the full group ahead.
    insert(&store, vec![of("tenants", Some("globex"))]).await;
    let one = rated(&store, "tenants", 1, r, at(5_000)).await;
    assert_eq!(one.jobs.iter().map(|j| j.tenant.as_deref()).collect::<Vec<_>>(), vec![Some("globex")]);
    assert!(rated(&store, "tenants", 100, r, at(9_999)).await.jobs.is_empty(), "every group is full or empty");
    // Every window ends together: two of acme's four left and the last
    // job without a tenant.
    let next = rated(&store, "tenants", 100, r, at(10_000)).await;
    let tenants: Vec<Option<&str>> = next.jobs.iter().map(|j| j.tenant.as_deref()).collect();
    assert_eq!(tenants, vec![Some("acme"), Some("acme"), None]);
}

pub async fn concurrent_claimers_never_start_more_than_the_rate(store: Store) {
    let r = rate(7, 60, None);
    insert(&store, (0..50).map(|_| job("race")).collect()).await;
    let mut tasks = Vec::new();
    for w in 0..4 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut got = 0;
            for i in 0..5 {
                let mut p = JobLeaseParams { rate: Some(r), ..lease_params("race", 2, at(i)) };
                p.worker = Some(format!("w{w}"));
                got += store.job_lease(p).await.unwrap().jobs.len();
            }
            got
        }));
    }
    let mut total = 0;
    for t in tasks {
        total += t.await.unwrap();
    }
    assert_eq!(total, 7, "four claimers together take the rate exactly");
    assert_eq!(status(&store, "race", r, at(10)).await.started, 7);
}
