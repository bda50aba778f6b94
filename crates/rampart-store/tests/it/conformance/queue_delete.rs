//! Deleting a queue: refused, with the counts, while it holds unfinished
//! jobs; otherwise its finished jobs, their history, its totals and its
//! row go in one call, other queues untouched. Run on every backend by the
//! `backend!` list of the conformance suite.

use rampart_core::queue::QueueCounters;
use rampart_store::*;

use super::{T0, ack, at, complete, job, lease, q};

async fn names(store: &Store) -> Vec<String> {
    store.queue_list().await.unwrap().into_iter().map(|r| r.name.as_str().to_string()).collect()
}

pub async fn a_queue_is_deleted_only_once_every_job_finished(store: Store) {
    let later = NewJob { run_at: at(60_000), ..job("gone") };
    let jobs = vec![job("gone"), job("gone"), later, job("kept")];
    let ids: Vec<_> =
        store.job_insert_many(JobInsertParams { jobs, now: T0 }).await.unwrap().iter().map(|j| j.id).collect();
    let counts = QueueCounters { completed: 1, ..QueueCounters::default() };
    let deltas = ["gone", "kept"].map(|n| QueueTotalsDelta { queue: q(n), counts }).to_vec();
    store.queue_totals_add(QueueTotalsAddParams { deltas, now: T0 }).await.unwrap();
    let held = lease(&store, "gone", 1, at(10)).await.remove(0);
    store.queue_set_paused(q("gone"), true, at(10)).await.unwrap();

    let busy = store.queue_delete(q("gone")).await.unwrap();
    assert_eq!(busy, QueueDeleted::NotEmpty { scheduled: 1, available: 1, active: 1 });
    assert!(store.job_get(ids[0]).await.unwrap().is_some(), "nothing deleted");
    assert!(names(&store).await.contains(&"gone".to_string()));

    ack(&store, held.id, &held.lease_token, complete(), at(20)).await.unwrap();
    let other = if held.id == ids[0] { ids[1] } else { ids[0] };
    store.job_cancel(other, at(30)).await.unwrap();
    assert_eq!(
        store.queue_delete(q("gone")).await.unwrap(),
        QueueDeleted::NotEmpty { scheduled: 1, available: 0, active: 0 }
    );
    store.job_cancel(ids[2], at(40)).await.unwrap();

    assert_eq!(store.queue_delete(q("gone")).await.unwrap(), QueueDeleted::Deleted { jobs: 3 });
    for id in &ids[..3] {
        assert!(store.job_get(*id).await.unwrap().is_none(), "job {id} and its history are gone");
    }
    assert_eq!(names(&store).await, vec!["kept".to_string()]);
    let totals: Vec<_> = store.queue_totals_list().await.unwrap().into_iter().map(|t| t.queue).collect();
    assert_eq!(totals, vec![q("kept")]);
    let counted: Vec<_> = store.queue_counts().await.unwrap().into_iter().map(|c| c.queue).collect();
    assert_eq!(counted, vec![q("kept")]);
    assert!(store.job_get(ids[3]).await.unwrap().is_some(), "another queue's job stays");

    assert_eq!(store.queue_delete(q("gone")).await.unwrap(), QueueDeleted::Unknown, "already gone");
    assert_eq!(store.queue_delete(q("never")).await.unwrap(), QueueDeleted::Unknown);
    // A queue comes back as it is used again, unpaused.
    store.job_insert_many(JobInsertParams { jobs: vec![job("gone")], now: at(50) }).await.unwrap();
    let again = store.queue_list().await.unwrap().into_iter().find(|r| r.name == q("gone")).expect("listed");
    assert!(!again.paused);
}
