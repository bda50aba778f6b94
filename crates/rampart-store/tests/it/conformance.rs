//! The store contract, written once. Every backend runs every test below
//! through the `backend!` macro at the bottom; a new backend adds one line.

use std::sync::Arc;
use std::time::Duration;

use rampart_core::auth::Role;
use rampart_core::id::{ConnectionId, JobId, PlatformName, PolicyName, QueueName};
use rampart_core::integration::IntegrationStatus;
use rampart_core::job::{FailureKind, JobState};
use rampart_core::queue::QueueCounters;
use rampart_core::retry::{Backoff, RetryPlanner};
use rampart_core::time::UnixMillis;
use rampart_store::*;

// The alert contract lives in its own file; `backend!` runs it too.
use crate::alert_store::*;

mod ack;
mod audit;
mod breakers;
mod flow;
mod nul;
mod operator;
mod queue_delete;
mod rate;
mod steps;
mod tenant;
mod write;
pub use ack::*;
pub use audit::*;
pub use breakers::*;
pub use flow::*;
pub use nul::*;
pub use operator::*;
pub use queue_delete::*;
pub use rate::*;
pub use steps::*;
pub use tenant::*;
pub use write::*;
// The cron and retention contract lives in its own file; `backend!` runs it too.
use crate::cron_store::*;
// And webhook intake's.
use crate::webhook_store::*;
// And AI usage and budgets'.
use crate::usage_store::*;
// And what apps report (caches, errors).
use crate::insight_store::*;

const T0: UnixMillis = UnixMillis(1_800_000_000_000);
const LEASE: Duration = Duration::from_secs(30);

/// Backoff of 1s ×2 with jitter fixed at the middle of its band, so retry times are exact.
struct ExactPlanner;

impl RetryPlanner for ExactPlanner {
    fn backoff(&self, _queue: &str) -> Backoff {
        Backoff::default()
    }
    fn jitter_unit(&self) -> f64 {
        0.5
    }
}

fn planner() -> Arc<dyn RetryPlanner> {
    Arc::new(ExactPlanner)
}

/// Spares every job of every queue `n` stalls.
fn stalls(n: u32) -> Arc<dyn Fn(&str) -> u32 + Send + Sync> {
    Arc::new(move |_: &str| n)
}

fn q(name: &str) -> QueueName {
    QueueName::new(name).unwrap()
}

fn policy(name: &str) -> PolicyName {
    PolicyName::new(name).unwrap()
}

fn job(queue: &str) -> NewJob {
    NewJob {
        queue: q(queue),
        payload: r#"{"n":1}"#.into(),
        run_at: T0,
        priority: 0,
        max_attempts: 3,
        timeout: None,
        unique_key: None,
        tenant: None,
    }
}

async fn insert(store: &Store, jobs: Vec<NewJob>) -> Vec<JobInserted> {
    store.job_insert_many(JobInsertParams { jobs, now: T0 }).await.unwrap()
}

fn lease_params(queue: &str, max: u32, now: UnixMillis) -> JobLeaseParams {
    JobLeaseParams { queue: q(queue), max, lease: LEASE, worker: Some("w1".into()), concurrency: None, rate: None, now }
}

async fn lease(store: &Store, queue: &str, max: u32, now: UnixMillis) -> Vec<LeasedJob> {
    store.job_lease(lease_params(queue, max, now)).await.unwrap().jobs
}

async fn ack(
    store: &Store,
    id: JobId,
    token: &str,
    outcome: AckOutcome,
    now: UnixMillis,
) -> Result<JobAcked, StoreError> {
    let acks = vec![JobAck { id, lease_token: token.into(), outcome }];
    store.job_ack_many(JobAckParams { acks, planner: planner(), now }).await.unwrap().pop().unwrap()
}

fn complete() -> AckOutcome {
    AckOutcome::Complete { result: Some(r#"{"ok":true}"#.into()) }
}

fn fail(retryable: bool) -> AckOutcome {
    AckOutcome::Fail { error: "boom".into(), retryable, retry_at: None }
}

async fn get(store: &Store, id: JobId) -> JobRecord {
    store.job_get(id).await.unwrap().expect("job exists")
}

fn at(ms: i64) -> UnixMillis {
    UnixMillis(T0.0 + ms)
}

pub async fn insert_then_get_shows_the_job_and_its_creation(store: Store) {
    let mut later = job("mail");
    later.run_at = at(60_000);
    let ids = insert(&store, vec![job("mail"), later]).await;
    assert_eq!(ids[0].state, JobState::Available);
    assert_eq!(ids[1].state, JobState::Scheduled);
    assert!(ids.iter().all(|j| !j.duplicate));
    let got = get(&store, ids[0].id).await;
    assert_eq!(got.queue, q("mail"));
    assert_eq!(got.payload, r#"{"n":1}"#);
    assert_eq!((got.attempt, got.max_attempts), (0, 3));
    assert_eq!(got.history.len(), 1);
    assert_eq!(got.history[0].reason, "enqueued");
    assert_eq!(got.history[0].to, JobState::Available);
    assert_eq!(get(&store, ids[1].id).await.history[0].to, JobState::Scheduled);
    assert!(store.job_get(JobId(999_999)).await.unwrap().is_none());
}

/// An opened store is migrated: it has applied every migration it knows.
pub async fn an_opened_store_has_its_schema_current(store: Store) {
    let version = store.schema_version().await.unwrap();
    assert!(version.known >= 11, "{version:?}");
    assert_eq!(version.applied, version.known);
}

/// The node registry keeps each node's last report, with the database's
/// clock beside the node's, and forgets a node silent for a day.
pub async fn nodes_report_and_are_listed_and_forgotten(store: Store) {
    let report = |node: &str, now: UnixMillis| NodeReportParams { node: node.into(), started_at: T0, now };
    store.node_report(report("b:7433 (pid 2)", T0)).await.unwrap();
    store.node_report(report("a:7433 (pid 1)", T0)).await.unwrap();
    let later = UnixMillis(T0.0 + 5_000);
    store.node_report(report("a:7433 (pid 1)", later)).await.unwrap();
    let list = store.node_list(later).await.unwrap();
    let names: Vec<&str> = list.nodes.iter().map(|n| n.node.as_str()).collect();
    assert_eq!(names, ["a:7433 (pid 1)", "b:7433 (pid 2)"]);
    let a = &list.nodes[0];
    assert_eq!((a.started_at, a.node_at), (T0, later));
    // The database's time of each write is its own: later for the later report.
    assert!(a.db_at >= list.nodes[1].db_at && list.db_now >= a.db_at, "{list:?}");
    // A node reporting a day later, by the database's clock, forgets the
    // other; on PostgreSQL the database's clock is the real one, so only
    // SQLite (one clock) shows it.
    if matches!(store, Store::Sqlite(_)) {
        let next_day = UnixMillis(T0.0 + 25 * 3_600_000);
        store.node_report(report("a:7433 (pid 1)", next_day)).await.unwrap();
        assert_eq!(store.node_list(next_day).await.unwrap().nodes.len(), 1);
    }
}

/// Also `job_find_live_by_key`: the live job of a key, found while it lives.
pub async fn unique_key_returns_the_live_job_until_it_finishes(store: Store) {
    let mut a = job("sync");
    a.unique_key = Some("user-1".into());
    let first = insert(&store, vec![a.clone(), a.clone()]).await;
    assert!(!first[0].duplicate);
    assert!(first[1].duplicate);
    assert_eq!(first[0].id, first[1].id);
    // Another queue with the same key is a different job.
    let mut other = a.clone();
    other.queue = q("sync2");
    assert!(!insert(&store, vec![other]).await[0].duplicate);
    let leased = lease(&store, "sync", 1, T0).await;
    assert_eq!(
        insert(&store, vec![a.clone()]).await[0],
        JobInserted { id: first[0].id, state: JobState::Active, duplicate: true }
    );
    let find = |queue: &str, key: &str| store.job_find_live_by_key(q(queue), key.to_string());
    assert_eq!(find("sync", "user-1").await.unwrap(), Some(first[0].id), "found by key while active");
    assert_eq!(find("sync", "user-2").await.unwrap(), None);
    assert!(matches!(find("sync", "a\0b").await, Err(StoreError::Invalid(_))));
    ack(&store, leased[0].id, &leased[0].lease_token, complete(), at(10)).await.unwrap();
    assert_eq!(find("sync", "user-1").await.unwrap(), None, "a finished job is not found by key");
    let again = insert(&store, vec![a]).await;
    assert!(!again[0].duplicate);
    assert_ne!(again[0].id, first[0].id);
    assert_eq!(find("sync", "user-1").await.unwrap(), Some(again[0].id));
}

pub async fn unique_key_holds_under_concurrent_inserts(store: Store) {
    let mut tasks = Vec::new();
    for _ in 0..32 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut j = job("race");
            j.unique_key = Some("k".into());
            insert(&store, vec![j]).await[0].id
        }));
    }
    let mut ids = Vec::new();
    for t in tasks {
        ids.push(t.await.unwrap());
    }
    ids.dedup();
    assert_eq!(ids.len(), 1, "every concurrent insert must get the same job");
    let counts = store.queue_counts().await.unwrap();
    assert_eq!(counts.iter().find(|c| c.queue == q("race")).unwrap().get(JobState::Available), 1);
}

pub async fn concurrent_leases_and_acks_never_share_a_job(store: Store) {
    const JOBS: usize = 400;
    for chunk in 0..4 {
        insert(&store, (0..JOBS / 4).map(|i| NewJob { priority: ((chunk + i) % 3) as i32, ..job("many") }).collect())
            .await;
    }
    let mut tasks = Vec::new();
    for w in 0..8 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                let mut p = lease_params("many", 7, T0);
                p.worker = Some(format!("w{w}"));
                let leased = store.job_lease(p).await.unwrap().jobs;
                if leased.is_empty() {
                    return mine;
                }
                let acks = leased
                    .iter()
                    .map(|j| JobAck { id: j.id, lease_token: j.lease_token.clone(), outcome: complete() })
                    .collect();
                let acked = store.job_ack_many(JobAckParams { acks, planner: planner(), now: at(1) }).await.unwrap();
                assert!(acked.iter().all(|a| a.as_ref().is_ok_and(|a| a.state == JobState::Completed)));
                mine.extend(leased.iter().map(|j| j.id));
            }
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    let distinct: std::collections::HashSet<_> = all.iter().collect();
    assert_eq!((all.len(), distinct.len()), (JOBS, JOBS), "every job leased exactly once");
    let counts = store.queue_counts().await.unwrap();
    assert_eq!(counts.iter().find(|c| c.queue == q("many")).unwrap().get(JobState::Completed), JOBS as u64);
}

pub async fn a_batch_acking_one_job_twice_ends_it_once(store: Store) {
    let id = insert(&store, vec![job("twice")]).await[0].id;
    let leased = lease(&store, "twice", 1, T0).await;
    let token = leased[0].lease_token.clone();
    let acks = vec![
        JobAck { id, lease_token: token.clone(), outcome: complete() },
        JobAck { id, lease_token: token.clone(), outcome: fail(true) },
        JobAck { id: JobId(id.0 + 1000), lease_token: token, outcome: complete() },
    ];
    let out = store.job_ack_many(JobAckParams { acks, planner: planner(), now: at(1) }).await.unwrap();
    assert_eq!(out[0].as_ref().unwrap().state, JobState::Completed);
    assert!(matches!(out[1], Err(StoreError::LeaseLost)), "{:?}", out[1]);
    assert!(matches!(out[2], Err(StoreError::LeaseLost)), "{:?}", out[2]);
    let history = get(&store, id).await.history;
    assert_eq!(history.iter().filter(|e| e.reason == "completed").count(), 1);
}

pub async fn lease_takes_highest_priority_then_oldest(store: Store) {
    let mut jobs = Vec::new();
    for (prio, run_at) in [(0, 0), (5, 200), (5, 100), (-1, 0), (0, -50)] {
        let mut j = job("p");
        j.priority = prio;
        j.run_at = at(run_at);
        jobs.push(j);
    }
    let ids = insert(&store, jobs).await;
    // The job due at +200 is scheduled; lease at +300 after promoting it.
    store.job_promote_due(at(300), 100).await.unwrap();
    let leased = lease(&store, "p", 3, at(300)).await;
    let got: Vec<JobId> = leased.iter().map(|j| j.id).collect();
    assert_eq!(got, vec![ids[2].id, ids[1].id, ids[4].id]);
    assert!(leased.iter().all(|j| j.attempt == 1 && j.lease_expires_at == at(300).plus(LEASE)));
    let tokens: std::collections::HashSet<_> = leased.iter().map(|j| j.lease_token.clone()).collect();
    assert_eq!(tokens.len(), 3, "each lease has its own token");
    let rest = lease(&store, "p", 10, at(300)).await;
    assert_eq!(rest.iter().map(|j| j.id).collect::<Vec<_>>(), vec![ids[0].id, ids[3].id]);
    assert!(lease(&store, "p", 10, at(300)).await.is_empty());
}

pub async fn paused_queues_and_concurrency_limit_leasing(store: Store) {
    insert(&store, (0..5).map(|_| job("c")).collect()).await;
    store.queue_set_paused(q("c"), true, T0).await.unwrap();
    assert!(lease(&store, "c", 5, T0).await.is_empty());
    assert!(store.queue_list().await.unwrap().iter().any(|r| r.name == q("c") && r.paused));
    store.queue_set_paused(q("c"), false, T0).await.unwrap();
    let mut p = lease_params("c", 5, T0);
    p.concurrency = Some(2);
    assert_eq!(store.job_lease(p.clone()).await.unwrap().jobs.len(), 2);
    assert_eq!(store.job_lease(p.clone()).await.unwrap().jobs.len(), 0, "two active already");
}

pub async fn heartbeat_extends_only_a_held_lease(store: Store) {
    let id = insert(&store, vec![job("hb")]).await[0].id;
    let l = &lease(&store, "hb", 1, T0).await[0];
    let hb = |token: &str, lease, now| JobHeartbeatParams { id, lease_token: token.into(), lease, progress: None, now };
    assert_eq!(store.job_heartbeat(hb(&l.lease_token, None, at(10_000))).await.unwrap(), at(10_000).plus(LEASE));
    let longer = Duration::from_secs(120);
    assert_eq!(
        store.job_heartbeat(hb(&l.lease_token, Some(longer), at(20_000))).await.unwrap(),
        at(20_000).plus(longer)
    );
    assert!(matches!(store.job_heartbeat(hb("wrong", None, at(21_000))).await, Err(StoreError::LeaseLost)));
    // Past its expiry the lease is lost even before the reaper runs.
    let expired = at(20_000).plus(longer).0 + 1;
    assert!(matches!(
        store.job_heartbeat(hb(&l.lease_token, None, UnixMillis(expired))).await,
        Err(StoreError::LeaseLost)
    ));
}

pub async fn complete_records_result_and_fences_stale_tokens(store: Store) {
    let id = insert(&store, vec![job("f")]).await[0].id;
    let first = lease(&store, "f", 1, T0).await.remove(0);
    // The lease expires; the reaper fails the attempt; another worker leases it.
    let reaped = store
        .job_reap(JobReapParams { limit: 10, planner: planner(), max_stalls: stalls(0), now: at(31_000) })
        .await
        .unwrap();
    assert_eq!(reaped.len(), 1);
    assert_eq!(reaped[0].kind, FailureKind::LeaseExpired);
    store.job_promote_due(at(40_000), 10).await.unwrap();
    let second = lease(&store, "f", 1, at(40_000)).await.remove(0);
    assert_eq!(second.attempt, 2);
    // The first worker's late completion is refused.
    assert!(matches!(ack(&store, id, &first.lease_token, complete(), at(41_000)).await, Err(StoreError::LeaseLost)));
    let done = ack(&store, id, &second.lease_token, complete(), at(42_000)).await.unwrap();
    assert_eq!((done.state, done.attempt, done.run_time), (JobState::Completed, 2, Duration::from_secs(2)));
    // The same complete again (its answer was lost on the way): success, once.
    let again = ack(&store, id, &second.lease_token, complete(), at(43_000)).await.unwrap();
    assert_eq!((again.state, again.attempt, again.already), (JobState::Completed, 2, true));
    let got = get(&store, id).await;
    assert_eq!(got.state, JobState::Completed);
    assert_eq!(got.result.as_deref(), Some(r#"{"ok":true}"#));
    assert_eq!(got.finished_at, Some(at(42_000)));
    // Every transition, whether stored as an event or kept in the row.
    let steps: Vec<(&str, i64, u32, Option<&str>)> =
        got.history.iter().map(|e| (e.reason.as_str(), e.at.0 - T0.0, e.attempt, e.worker.as_deref())).collect();
    assert_eq!(
        steps,
        [
            ("enqueued", 0, 0, None),
            ("leased", 0, 1, Some("w1")),
            ("lease_expired", 31_000, 1, Some("w1")),
            ("due", 40_000, 1, None),
            ("leased", 40_000, 2, Some("w1")),
            ("completed", 42_000, 2, Some("w1")),
        ]
    );
    let states: Vec<_> = got.history.iter().map(|e| (e.from, e.to)).collect();
    use JobState::*;
    assert_eq!(
        states,
        [
            (None, Available),
            (Some(Available), Active),
            (Some(Active), Scheduled),
            (Some(Scheduled), Available),
            (Some(Available), Active),
            (Some(Active), Completed),
        ]
    );
}

async fn release(store: &Store, id: JobId, token: &str, now: UnixMillis) -> Result<JobReleased, StoreError> {
    let releases = vec![JobRelease { id, lease_token: token.into() }];
    store.job_release_many(JobReleaseParams { releases, now }).await.unwrap().pop().unwrap()
}

pub async fn release_gives_a_lease_back_without_counting_its_attempt(store: Store) {
    let ids = insert(&store, vec![job("rel"), job("rel")]).await;
    let held = lease(&store, "rel", 2, T0).await;
    assert_eq!(held.len(), 2);
    assert!(matches!(release(&store, ids[0].id, "not-the-token", at(1_000)).await, Err(StoreError::LeaseLost)));
    // Both in one call, the second given back after its lease expired (the
    // reaper has not failed it yet, so nobody else holds it).
    let releases = held.iter().map(|l| JobRelease { id: l.id, lease_token: l.lease_token.clone() }).collect();
    let out = store.job_release_many(JobReleaseParams { releases, now: at(40_000) }).await.unwrap();
    let released: Vec<_> = out.into_iter().map(|r| r.unwrap()).collect();
    assert_eq!(
        released.iter().map(|r| (r.id, r.queue.clone())).collect::<Vec<_>>(),
        [(held[0].id, q("rel")), (held[1].id, q("rel"))]
    );
    assert!(matches!(release(&store, held[0].id, &held[0].lease_token, at(41_000)).await, Err(StoreError::LeaseLost)));
    assert!(
        store
            .job_reap(JobReapParams { limit: 10, planner: planner(), max_stalls: stalls(0), now: at(90_000) })
            .await
            .unwrap()
            .is_empty()
    );
    let got = get(&store, held[0].id).await;
    assert_eq!((got.state, got.attempt, got.lease_expires_at), (JobState::Available, 0, None));
    // Leased again, first in line, as the same attempt.
    let again = lease(&store, "rel", 1, at(50_000)).await.remove(0);
    assert_eq!((again.id, again.attempt), (held[0].id, 1));
    ack(&store, again.id, &again.lease_token, complete(), at(51_000)).await.unwrap();
    let history = get(&store, again.id).await.history;
    let steps: Vec<(&str, i64, u32)> = history.iter().map(|e| (e.reason.as_str(), e.at.0 - T0.0, e.attempt)).collect();
    assert_eq!(
        steps,
        [
            ("enqueued", 0, 0),
            ("leased", 0, 1),
            ("released", 40_000, 1),
            ("leased", 50_000, 1),
            ("completed", 51_000, 1)
        ]
    );
}

pub async fn failures_retry_with_backoff_then_die(store: Store) {
    let id = insert(&store, vec![job("r")]).await[0].id;
    let mut now = T0;
    for attempt in 1..=3u32 {
        let l = lease(&store, "r", 1, now).await.remove(0);
        assert_eq!(l.attempt, attempt);
        let acked = ack(&store, id, &l.lease_token, fail(true), now).await.unwrap();
        if attempt < 3 {
            let delay = 1000 * 2i64.pow(attempt - 1);
            assert_eq!(acked.state, JobState::Scheduled);
            assert_eq!(acked.retry_at, Some(UnixMillis(now.0 + delay)));
            assert_eq!(store.job_next_due().await.unwrap(), Some(UnixMillis(now.0 + delay)));
            assert!(
                store.job_promote_due(UnixMillis(now.0 + delay - 1), 10).await.unwrap().is_empty(),
                "not before its time"
            );
            now = UnixMillis(now.0 + delay);
            assert_eq!(store.job_promote_due(now, 10).await.unwrap(), vec![(q("r"), 1)]);
        } else {
            assert_eq!(acked.state, JobState::Dead);
        }
    }
    let got = get(&store, id).await;
    assert_eq!((got.state, got.attempt), (JobState::Dead, 3));
    assert_eq!(got.last_error.as_deref(), Some("boom"));
    assert_eq!(got.history.iter().filter(|e| e.error.is_some()).count(), 3);
}

pub async fn non_retryable_failure_goes_straight_to_dead(store: Store) {
    let id = insert(&store, vec![job("nr")]).await[0].id;
    let l = lease(&store, "nr", 1, T0).await.remove(0);
    let acked = ack(&store, id, &l.lease_token, fail(false), T0).await.unwrap();
    assert_eq!((acked.state, acked.attempt), (JobState::Dead, 1));
}

pub async fn a_failure_asking_for_a_later_retry_gets_it_within_a_day(store: Store) {
    let ids: Vec<JobId> = insert(&store, vec![job("ra"), job("ra"), job("ra")]).await.iter().map(|j| j.id).collect();
    let leased = lease(&store, "ra", 3, T0).await;
    let day = 24 * 60 * 60 * 1000;
    // Backoff alone is 1s: an earlier request loses, a later one wins, one
    // past a day is held to a day.
    for (l, requested, expected) in [(&leased[0], 500, 1_000), (&leased[1], 30_000, 30_000), (&leased[2], 3 * day, day)]
    {
        let outcome = AckOutcome::Fail { error: "503".into(), retryable: true, retry_at: Some(at(requested)) };
        let acked = ack(&store, l.id, &l.lease_token, outcome, T0).await.unwrap();
        assert_eq!((acked.state, acked.retry_at), (JobState::Scheduled, Some(at(expected))), "asked {requested}");
        assert_eq!(get(&store, l.id).await.run_at, at(expected));
    }
    assert!(ids.iter().all(|id| leased.iter().any(|l| l.id == *id)));
    // A request does not revive a job without attempts left or a non-retryable failure.
    let id = insert(&store, vec![NewJob { max_attempts: 1, ..job("ra1") }]).await[0].id;
    let l = lease(&store, "ra1", 1, T0).await.remove(0);
    let outcome = AckOutcome::Fail { error: "503".into(), retryable: true, retry_at: Some(at(30_000)) };
    let acked = ack(&store, id, &l.lease_token, outcome, T0).await.unwrap();
    assert_eq!((acked.state, acked.retry_at), (JobState::Dead, None));
}

pub async fn push_secret_is_made_once_and_kept(store: Store) {
    let first = store.push_secret_ensure(&q("hook"), "whsec_first", T0).await.unwrap();
    assert_eq!(first, "whsec_first");
    assert_eq!(store.push_secret_ensure(&q("hook"), "whsec_second", at(1)).await.unwrap(), "whsec_first");
    assert_eq!(store.push_secret_ensure(&q("other"), "whsec_other", T0).await.unwrap(), "whsec_other");
    // Callers racing: one candidate wins and every caller gets it.
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move { store.push_secret_ensure(&q("race"), &format!("whsec_{i}"), T0).await.unwrap() })
        })
        .collect();
    let mut got = Vec::new();
    for t in tasks {
        got.push(t.await.unwrap());
    }
    assert!(got.windows(2).all(|w| w[0] == w[1]), "{got:?}");
}

pub async fn reaper_times_out_long_attempts(store: Store) {
    let mut j = job("t");
    j.timeout = Some(Duration::from_secs(5));
    let id = insert(&store, vec![j]).await[0].id;
    let l = lease(&store, "t", 1, T0).await.remove(0);
    assert_eq!(l.timeout_at, Some(at(5_000)));
    // Heartbeats keep the lease but not past the timeout.
    let hb = JobHeartbeatParams { id, lease_token: l.lease_token.clone(), lease: None, progress: None, now: at(4_000) };
    store.job_heartbeat(hb).await.unwrap();
    let reap = |now| JobReapParams { limit: 10, planner: planner(), max_stalls: stalls(0), now };
    assert!(store.job_reap(reap(at(4_999))).await.unwrap().is_empty());
    let reaped = store.job_reap(reap(at(5_000))).await.unwrap();
    assert_eq!(reaped.len(), 1);
    assert_eq!((reaped[0].kind, reaped[0].state), (FailureKind::Timeout, JobState::Scheduled));
    let got = get(&store, id).await;
    assert!(got.last_error.unwrap().contains("timeout of 5s"));
    assert!(matches!(ack(&store, id, &l.lease_token, complete(), at(5_001)).await, Err(StoreError::LeaseLost)));
}

pub async fn retry_and_cancel_follow_the_state_rules(store: Store) {
    let ids = insert(&store, vec![job("rc"), job("rc")]).await;
    let (a, b) = (ids[0].id, ids[1].id);
    store.job_cancel(a, at(1)).await.unwrap();
    store.job_cancel(a, at(2)).await.unwrap();
    assert_eq!(get(&store, a).await.state, JobState::Cancelled);
    assert_eq!(store.job_retry(a, at(3)).await.unwrap().queue, q("rc"));
    let got = get(&store, a).await;
    assert_eq!((got.state, got.attempt), (JobState::Available, 0));
    let leased = lease(&store, "rc", 2, at(4)).await;
    assert_eq!(leased.len(), 2);
    assert!(matches!(store.job_cancel(b, at(5)).await, Err(StoreError::InvalidState(JobState::Active))));
    assert!(matches!(store.job_retry(b, at(5)).await, Err(StoreError::InvalidState(JobState::Active))));
    assert!(matches!(store.job_retry(JobId(424_242), at(5)).await, Err(StoreError::NotFound)));
    assert!(matches!(store.job_cancel(JobId(424_242), at(5)).await, Err(StoreError::NotFound)));
}

pub async fn dead_letters_retry_and_purge_in_pages(store: Store) {
    let mut jobs: Vec<NewJob> = (0..7).map(|_| job("dlq")).collect();
    jobs.iter_mut().for_each(|j| j.max_attempts = 1);
    let ids: Vec<JobId> = insert(&store, jobs).await.into_iter().map(|j| j.id).collect();
    for l in lease(&store, "dlq", 10, T0).await {
        ack(&store, l.id, &l.lease_token, fail(true), T0).await.unwrap();
    }
    let only = JobRetryDeadParams {
        queue: q("dlq"),
        ids: Some(vec![ids[0], JobId(999_999)]),
        after: None,
        limit: 10,
        now: at(1),
    };
    assert_eq!(store.job_retry_dead(only).await.unwrap(), JobRetryDeadPage { moved: 1, next: None });
    let page = |after| JobRetryDeadParams { queue: q("dlq"), ids: None, after, limit: 4, now: at(2) };
    let first = store.job_retry_dead(page(None)).await.unwrap();
    assert_eq!(first.moved, 4);
    let second = store.job_retry_dead(page(first.next)).await.unwrap();
    assert_eq!(second, JobRetryDeadPage { moved: 2, next: None });
    for l in lease(&store, "dlq", 10, at(3)).await {
        ack(&store, l.id, &l.lease_token, fail(false), at(3)).await.unwrap();
    }
    assert_eq!(store.job_purge_dead(q("dlq"), 5).await.unwrap(), 5);
    assert_eq!(store.job_purge_dead(q("dlq"), 5).await.unwrap(), 2);
    assert!(store.job_get(ids[0]).await.unwrap().is_none());
}

pub async fn counts_and_listing_page_by_id(store: Store) {
    insert(&store, (0..5).map(|_| job("l")).collect()).await;
    let leased = lease(&store, "l", 2, T0).await;
    ack(&store, leased[0].id, &leased[0].lease_token, complete(), at(1)).await.unwrap();
    let counts = store.queue_counts().await.unwrap();
    let c = counts.iter().find(|c| c.queue == q("l")).unwrap();
    assert_eq!((c.get(JobState::Available), c.get(JobState::Active), c.get(JobState::Completed)), (3, 1, 1));
    let page = |state, after| JobListParams { queue: q("l"), state, tenant: None, after, limit: 2 };
    let p1 = store.job_list(page(None, None)).await.unwrap();
    let p2 = store.job_list(page(None, Some(p1[1].id))).await.unwrap();
    let p3 = store.job_list(page(None, Some(p2[1].id))).await.unwrap();
    assert_eq!((p1.len(), p2.len(), p3.len()), (2, 2, 1));
    assert!(p1[0].id < p1[1].id && p1[1].id < p2[0].id);
    let available = store.job_list(page(Some(JobState::Available), None)).await.unwrap();
    assert!(available.iter().all(|j| j.state == JobState::Available));
    store.queue_ensure(vec![q("empty-configured")], T0).await.unwrap();
    assert!(store.queue_list().await.unwrap().iter().any(|r| r.name == q("empty-configured") && !r.paused));
}

pub async fn api_keys_are_found_by_hash_until_revoked(store: Store) {
    let key = |name: &str, hash: &str| ApiKeyInsert {
        name: name.into(),
        role: Role::Worker,
        hash: hash.into(),
        prefix: "rk_abc".into(),
        now: T0,
    };
    let rec = store.api_key_insert(key("w1", "h1")).await.unwrap();
    assert_eq!((rec.name.as_str(), rec.role), ("w1", Role::Worker));
    assert!(matches!(store.api_key_insert(key("w1", "h2")).await, Err(StoreError::Conflict(_))));
    assert_eq!(store.api_key_find("h1".into()).await.unwrap(), Some(rec.clone()));
    assert!(store.api_key_find("nope".into()).await.unwrap().is_none());
    assert!(store.api_key_revoke("w1".into(), at(1)).await.unwrap());
    assert!(!store.api_key_revoke("w1".into(), at(2)).await.unwrap());
    assert!(store.api_key_find("h1".into()).await.unwrap().is_none());
    // A revoked name can be reused; revoking by id works.
    let again = store.api_key_insert(key("w1", "h3")).await.unwrap();
    assert!(store.api_key_revoke(again.id.to_string(), at(3)).await.unwrap());
    assert_eq!(store.api_key_list().await.unwrap().len(), 2);
}

pub async fn ratelimit_policies_are_put_replaced_and_listed_by_name(store: Store) {
    assert!(store.ratelimit_policy_list().await.unwrap().is_empty(), "a fresh store has no policies");
    // The spec is kept byte for byte: spacing, key order and non-ASCII text.
    let spec = r#"{"limit": 10,  "window":"1m", "note":"ünï"}"#;
    let put = store.ratelimit_policy_put(&policy("login"), spec, T0).await.unwrap();
    assert_eq!(put, RateLimitPolicyRecord { name: policy("login"), spec: spec.into(), created_at: T0, updated_at: T0 });
    assert_eq!(store.ratelimit_policy_list().await.unwrap(), vec![put]);
    // A replace takes the new spec and time and keeps the creation time.
    let replaced = store.ratelimit_policy_put(&policy("login"), r#"{"limit":20}"#, at(5_000)).await.unwrap();
    assert_eq!((replaced.spec.as_str(), replaced.created_at, replaced.updated_at), (r#"{"limit":20}"#, T0, at(5_000)));
    assert_eq!(store.ratelimit_policy_list().await.unwrap(), vec![replaced.clone()]);
    // Names compare bytewise: upper case before lower case, `-` before digits.
    for name in ["a", "B", "login-2", "login1", "Z"] {
        store.ratelimit_policy_put(&policy(name), "{}", at(6_000)).await.unwrap();
    }
    let names: Vec<String> =
        store.ratelimit_policy_list().await.unwrap().into_iter().map(|p| p.name.to_string()).collect();
    assert_eq!(names, ["B", "Z", "a", "login", "login-2", "login1"]);
}

pub async fn ratelimit_policy_delete_answers_whether_one_was_there(store: Store) {
    store.ratelimit_policy_put(&policy("a"), "{}", T0).await.unwrap();
    store.ratelimit_policy_put(&policy("b"), "{}", T0).await.unwrap();
    assert!(store.ratelimit_policy_delete(&policy("a")).await.unwrap());
    assert!(!store.ratelimit_policy_delete(&policy("a")).await.unwrap());
    assert!(!store.ratelimit_policy_delete(&policy("never")).await.unwrap());
    let left = store.ratelimit_policy_list().await.unwrap();
    assert_eq!(left.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(), ["b"]);
    // A deleted name can be put again, as new.
    let again = store.ratelimit_policy_put(&policy("a"), "{}", at(1_000)).await.unwrap();
    assert_eq!((again.created_at, again.updated_at), (at(1_000), at(1_000)));
}

pub async fn ratelimit_policy_revision_changes_on_every_put_and_delete_only(store: Store) {
    let mut seen = vec![store.ratelimit_policy_revision().await.unwrap()];
    let mut changed = async |store: &Store, what: &str| {
        let now = store.ratelimit_policy_revision().await.unwrap();
        assert!(!seen.contains(&now), "{what}: revision {now} seen before ({seen:?})");
        seen.push(now);
    };
    store.ratelimit_policy_put(&policy("p"), "{}", T0).await.unwrap();
    changed(&store, "first put").await;
    store.ratelimit_policy_put(&policy("p"), "{}", at(1)).await.unwrap();
    changed(&store, "replace with the same spec").await;
    store.ratelimit_policy_put(&policy("q"), "{}", at(2)).await.unwrap();
    changed(&store, "second name").await;
    store.ratelimit_policy_delete(&policy("p")).await.unwrap();
    changed(&store, "delete").await;
    let last = *seen.last().unwrap();
    // Reads, and a delete that found nothing, leave it alone.
    store.ratelimit_policy_list().await.unwrap();
    assert!(!store.ratelimit_policy_delete(&policy("p")).await.unwrap());
    assert_eq!(store.ratelimit_policy_revision().await.unwrap(), last);
    assert_eq!(store.ratelimit_policy_revision().await.unwrap(), last);
    // Concurrent puts all land, and the revision moves past them.
    let mut tasks = Vec::new();
    for i in 0..16 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            store.ratelimit_policy_put(&policy(&format!("c{i:02}")), "{}", at(3)).await.unwrap();
            store.ratelimit_policy_revision().await.unwrap()
        }));
    }
    let mut during = Vec::new();
    for t in tasks {
        during.push(t.await.unwrap());
    }
    let after = store.ratelimit_policy_revision().await.unwrap();
    assert!(!seen.contains(&after), "revision {after} after concurrent puts was seen before");
    assert_eq!(store.ratelimit_policy_list().await.unwrap().len(), 17);
    assert!(during.iter().all(|r| !seen.contains(r)), "each put's own revision is new: {during:?}");
}

fn report(platform: &str, id: &str, status: IntegrationStatus, now: UnixMillis) -> IntegrationUpsertParams {
    IntegrationUpsertParams {
        platform: PlatformName::new(platform).unwrap(),
        connection_id: ConnectionId::new(id).unwrap(),
        status,
        last_synced_at: None,
        last_error: None,
        last_error_at: None,
        token_expires_at: None,
        reported_by: "app-key".into(),
        now,
    }
}

pub async fn integrations_are_upserted_field_by_field_and_counted_per_platform(store: Store) {
    assert!(store.integration_summary().await.unwrap().is_empty(), "a fresh store has no integrations");
    let first = IntegrationUpsertParams {
        last_synced_at: Some(at(-5_000)),
        token_expires_at: Some(at(86_400_000)),
        ..report("gmail", "acct-1", IntegrationStatus::Connected, T0)
    };
    let stored = store.integration_upsert(first).await.unwrap();
    assert_eq!((stored.created_at, stored.updated_at), (T0, T0));
    assert_eq!(stored.last_synced_at, Some(at(-5_000)));
    assert_eq!(stored.last_error, None);

    // An error report sets the error and keeps what it leaves out.
    let failing = IntegrationUpsertParams {
        last_error: Some("invalid_grant".into()),
        last_error_at: Some(at(900)),
        reported_by: "other-key".into(),
        ..report("gmail", "acct-1", IntegrationStatus::Error, at(1_000))
    };
    let stored = store.integration_upsert(failing).await.unwrap();
    assert_eq!(stored.status, IntegrationStatus::Error);
    assert_eq!((stored.created_at, stored.updated_at), (T0, at(1_000)));
    assert_eq!(stored.last_synced_at, Some(at(-5_000)), "kept");
    assert_eq!(stored.token_expires_at, Some(at(86_400_000)), "kept");
    assert_eq!((stored.last_error.as_deref(), stored.last_error_at), (Some("invalid_grant"), Some(at(900))));
    assert_eq!(stored.reported_by, "other-key");

    // Recovery keeps the last error for the operator to see.
    let back = IntegrationUpsertParams {
        last_synced_at: Some(at(2_000)),
        ..report("gmail", "acct-1", IntegrationStatus::Connected, at(2_000))
    };
    let stored = store.integration_upsert(back).await.unwrap();
    assert_eq!((stored.status, stored.last_synced_at), (IntegrationStatus::Connected, Some(at(2_000))));
    assert_eq!(stored.last_error.as_deref(), Some("invalid_grant"));

    store.integration_upsert(report("gmail", "acct-2", IntegrationStatus::Expired, at(3_000))).await.unwrap();
    store.integration_upsert(report("stripe", "acct_9", IntegrationStatus::Error, at(3_000))).await.unwrap();
    store.integration_upsert(report("Stripe", "x", IntegrationStatus::Connected, at(3_000))).await.unwrap();
    let summary = store.integration_summary().await.unwrap();
    let got: Vec<(String, IntegrationCounts)> =
        summary.into_iter().map(|s| (s.platform.to_string(), s.counts)).collect();
    assert_eq!(
        got,
        vec![
            ("Stripe".into(), IntegrationCounts { total: 1, connected: 1, error: 0, expired: 0 }),
            ("gmail".into(), IntegrationCounts { total: 2, connected: 1, error: 0, expired: 1 }),
            ("stripe".into(), IntegrationCounts { total: 1, connected: 0, error: 1, expired: 0 }),
        ],
        "platforms in bytewise order, names case-sensitive"
    );
}

pub async fn integration_recent_keeps_the_newest_of_each_platform(store: Store) {
    for (i, id) in ["a", "b", "c", "d"].iter().enumerate() {
        let now = at(i as i64 * 1_000);
        store.integration_upsert(report("slack", id, IntegrationStatus::Connected, now)).await.unwrap();
    }
    store.integration_upsert(report("github", "only", IntegrationStatus::Error, T0)).await.unwrap();
    // Reporting `a` again makes it the newest.
    store.integration_upsert(report("slack", "a", IntegrationStatus::Connected, at(9_000))).await.unwrap();
    let recent = store.integration_recent(2).await.unwrap();
    let got: Vec<(String, String)> =
        recent.iter().map(|r| (r.platform.to_string(), r.connection_id.to_string())).collect();
    let want = [("github", "only"), ("slack", "a"), ("slack", "d")];
    assert_eq!(got, want.map(|(p, c)| (p.to_string(), c.to_string())));
    assert!(store.integration_recent(0).await.unwrap().is_empty());
}

pub async fn integration_expiring_lists_tokens_due_by_a_time_soonest_first(store: Store) {
    let with_expiry = |id: &str, expires: Option<UnixMillis>| IntegrationUpsertParams {
        token_expires_at: expires,
        ..report("hubspot", id, IntegrationStatus::Connected, T0)
    };
    store.integration_upsert(with_expiry("later", Some(at(10 * 86_400_000)))).await.unwrap();
    store.integration_upsert(with_expiry("soon", Some(at(3_600_000)))).await.unwrap();
    store.integration_upsert(with_expiry("gone", Some(at(-1_000)))).await.unwrap();
    store.integration_upsert(with_expiry("never", None)).await.unwrap();
    let ids =
        |records: Vec<IntegrationRecord>| records.into_iter().map(|r| r.connection_id.to_string()).collect::<Vec<_>>();
    let horizon = at(7 * 86_400_000);
    assert_eq!(ids(store.integration_expiring(horizon, 10).await.unwrap()), ["gone", "soon"]);
    assert_eq!(ids(store.integration_expiring(horizon, 1).await.unwrap()), ["gone"]);
    assert_eq!(ids(store.integration_expiring(at(20 * 86_400_000), 10).await.unwrap()), ["gone", "soon", "later"]);
    assert!(store.integration_expiring(at(-2_000), 10).await.unwrap().is_empty());
}

fn totals(attempts: u64, completed: u64, dead: u64) -> QueueCounters {
    QueueCounters {
        attempts,
        completed,
        failed: attempts - completed,
        retries: attempts - completed - dead,
        dead,
        stalled: 1,
        timeouts: 0,
        run_ms: attempts * 10,
    }
}

pub async fn queue_totals_add_up_across_calls_and_count_each_utc_day(store: Store) {
    assert!(store.queue_totals_list().await.unwrap().is_empty());
    let delta = |queue: &str, counts| QueueTotalsDelta { queue: q(queue), counts };
    let add = |deltas, now| store.queue_totals_add(QueueTotalsAddParams { deltas, now });
    add(vec![delta("b", totals(5, 3, 1)), delta("a", totals(2, 2, 0))], T0).await.unwrap();
    add(vec![delta("b", totals(4, 4, 0))], at(1_000)).await.unwrap();
    add(Vec::new(), at(2_000)).await.unwrap();
    let rows = store.queue_totals_list().await.unwrap();
    assert_eq!(rows.iter().map(|r| r.queue.as_str()).collect::<Vec<_>>(), ["a", "b"]);
    let b = &rows[1];
    assert_eq!(b.counts, QueueCounters { stalled: 2, ..totals(9, 7, 1) });
    assert_eq!((b.day, b.completed_today, b.dead_today, b.updated_at), (utc_day(T0), 7, 1, at(1_000)));
    assert_eq!(store.job_health_counts(T0).await.unwrap().completed_today, 9);
    // The next UTC day starts today's counts afresh; all-time totals go on.
    let tomorrow = UnixMillis((utc_day(T0) + 1) * 86_400_000 + 5);
    add(vec![delta("b", totals(1, 1, 0))], tomorrow).await.unwrap();
    let b = store.queue_totals_list().await.unwrap().remove(1);
    assert_eq!((b.counts.completed, b.day, b.completed_today, b.dead_today), (8, utc_day(T0) + 1, 1, 0));
    let figures = store.job_health_counts(tomorrow).await.unwrap();
    assert_eq!((figures.completed_today, figures.dead_today), (1, 0), "queue a counted nothing tomorrow");
    // A node whose clock is still on the day before adds to the newer day.
    add(vec![delta("b", totals(2, 1, 1))], T0).await.unwrap();
    let b = store.queue_totals_list().await.unwrap().remove(1);
    assert_eq!((b.day, b.completed_today, b.dead_today), (utc_day(T0) + 1, 2, 1));
}

pub async fn job_health_counts_read_available_active_and_stale_leases(store: Store) {
    assert_eq!(store.job_health_counts(T0).await.unwrap(), JobHealthCounts::default());
    let mut later = job("h");
    later.run_at = at(60_000);
    insert(&store, vec![job("h"), job("h"), job("h"), job("other"), later]).await;
    lease(&store, "h", 2, T0).await;
    lease(&store, "other", 1, at(20_000)).await;
    let now = store.job_health_counts(T0).await.unwrap();
    assert_eq!((now.available, now.active, now.stale_leases), (1, 3, 0));
    // Past the first two leases' expiry, before the third's: two are stale until reaped.
    let expired = store.job_health_counts(T0.plus(LEASE)).await.unwrap();
    assert_eq!((expired.available, expired.active, expired.stale_leases), (1, 3, 2));
    store
        .job_reap(JobReapParams { limit: 10, planner: planner(), max_stalls: stalls(0), now: T0.plus(LEASE) })
        .await
        .unwrap();
    let reaped = store.job_health_counts(T0.plus(LEASE)).await.unwrap();
    assert_eq!((reaped.active, reaped.stale_leases), (1, 0));
}

macro_rules! backend {
    ($backend:ident, $open:path) => {
        mod $backend {
            macro_rules! run {
                ($name:ident) => {
                    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                    async fn $name() {
                        // `None`: the backend's service is not reachable and the test skips.
                        let Some((store, _guard)) = $open().await else { return };
                        super::$name(store).await;
                    }
                };
            }
            run!(insert_then_get_shows_the_job_and_its_creation);
            run!(an_opened_store_has_its_schema_current);
            run!(nodes_report_and_are_listed_and_forgotten);
            run!(unique_key_returns_the_live_job_until_it_finishes);
            run!(unique_key_holds_under_concurrent_inserts);
            run!(concurrent_leases_and_acks_never_share_a_job);
            run!(a_batch_acking_one_job_twice_ends_it_once);
            run!(lease_takes_highest_priority_then_oldest);
            run!(paused_queues_and_concurrency_limit_leasing);
            run!(heartbeat_extends_only_a_held_lease);
            run!(complete_records_result_and_fences_stale_tokens);
            run!(release_gives_a_lease_back_without_counting_its_attempt);
            run!(failures_retry_with_backoff_then_die);
            run!(non_retryable_failure_goes_straight_to_dead);
            run!(reaper_times_out_long_attempts);
            run!(a_failure_asking_for_a_later_retry_gets_it_within_a_day);
            run!(push_secret_is_made_once_and_kept);
            run!(retry_and_cancel_follow_the_state_rules);
            run!(dead_letters_retry_and_purge_in_pages);
            run!(counts_and_listing_page_by_id);
            run!(a_queue_is_deleted_only_once_every_job_finished);
            run!(api_keys_are_found_by_hash_until_revoked);
            run!(ratelimit_policies_are_put_replaced_and_listed_by_name);
            run!(ratelimit_policy_delete_answers_whether_one_was_there);
            run!(ratelimit_policy_revision_changes_on_every_put_and_delete_only);
            run!(integrations_are_upserted_field_by_field_and_counted_per_platform);
            run!(integration_recent_keeps_the_newest_of_each_platform);
            run!(audit_log_is_appended_and_read_newest_first_in_pages);
            run!(integration_expiring_lists_tokens_due_by_a_time_soonest_first);
            run!(breakers_are_made_on_first_use_and_step_through_their_states);
            run!(breaker_steps_that_change_nothing_write_nothing);
            run!(breaker_reset_closes_and_is_recorded);
            run!(breakers_keep_their_latest_transitions);
            run!(concurrent_breaker_steps_agree);
            run!(cron_schedules_are_put_replaced_listed_and_deleted);
            run!(cron_sync_replaces_the_schedules_of_one_source_only);
            run!(cron_fire_advances_the_tick_once_with_its_job_and_run);
            run!(cron_fire_of_one_tick_from_many_callers_fires_once);
            run!(cron_runs_settle_from_their_jobs_and_page_newest_first);
            run!(cron_builtin_runs_start_active_and_finish_in_process);
            run!(retention_prunes_finished_jobs_and_runs_in_bounded_batches);
            run!(queue_totals_add_up_across_calls_and_count_each_utc_day);
            run!(job_health_counts_read_available_active_and_stale_leases);
            run!(alert_notices_are_claimed_once_each_fire_remind_resolve);
            run!(alerts_list_newest_first_by_state_in_pages);
            run!(concurrent_nodes_claim_each_notice_once);
            run!(failed_notifications_come_back_when_due_until_given_up);
            run!(an_alerts_notices_go_out_in_order_per_channel_and_reply_to_the_firing_one);
            run!(silences_are_listed_until_they_end_and_deleted_by_id);
            run!(dead_jobs_are_found_by_the_window_they_died_in);
            run!(a_repeated_complete_answers_already_and_changes_nothing);
            run!(a_repeated_fail_answers_already_until_the_job_is_leased_again);
            run!(an_attempt_the_reaper_ended_is_no_ack_to_repeat);
            run!(a_complete_repeated_in_one_batch_answers_already);
            run!(names_and_keys_with_nul_are_refused_naming_the_field);
            run!(free_text_with_nul_is_kept_with_the_replacement_character);
            run!(json_with_escaped_nul_round_trips);
            run!(a_write_probe_succeeds_on_a_writable_store);
            run!(webhook_sources_are_put_replaced_listed_and_deleted);
            run!(webhook_intake_takes_an_event_once_within_its_window);
            run!(webhook_intake_of_one_event_from_many_callers_takes_it_once);
            run!(webhook_deliveries_follow_their_jobs_and_list_with_filters);
            run!(webhook_retention_prunes_keys_bodies_and_deliveries_in_bounded_batches);
            run!(idempotency_keys_answer_the_same_jobs_within_their_window);
            run!(tenants_travel_with_jobs_and_filter_listings);
            run!(searches_take_every_filter_and_find_keys_in_every_state);
            run!(an_operator_releases_or_fails_a_held_lease_through_its_token);
            run!(a_retry_with_an_edited_payload_keeps_the_original_in_history);
            run!(only_finished_jobs_of_the_queue_are_deleted);
            run!(dead_jobs_are_counted_per_tenant_and_queue);
            run!(a_stall_gives_the_job_back_without_an_attempt_until_max_stalls);
            run!(a_timeout_is_never_a_stall);
            run!(a_start_rate_caps_a_burst_and_the_next_window_admits_more);
            run!(a_start_rate_by_tenant_keeps_each_group_apart);
            run!(concurrent_claimers_never_start_more_than_the_rate);
            run!(usage_rows_are_kept_once_per_call_and_summarised);
            run!(usage_summary_days_are_the_time_zone_s_and_a_summary_narrows_to_one_value);
            run!(usage_rows_charge_their_windows);
            run!(reservations_hold_on_every_window_or_none);
            run!(settling_is_idempotent_records_overshoot_and_failures_release);
            run!(a_leaked_reservation_is_released_after_expiry);
            run!(concurrent_reservations_admit_exactly_the_room);
            run!(budgets_are_put_listed_deleted_and_thresholds_claimed_once);
            run!(cache_reports_keep_the_latest_snapshot_and_count_gains_per_interval);
            run!(cache_evictions_keep_the_newest_thousand_per_cache);
            run!(cache_prune_drops_old_intervals_evictions_and_silent_caches_in_batches);
            run!(error_events_are_kept_counted_per_interval_and_filtered);
            run!(error_prune_drops_old_events_and_counts_in_batches);
            run!(a_parent_waits_for_every_child_then_its_lease_carries_their_results);
            run!(an_empty_list_of_children_makes_the_parent_available_at_once);
            run!(a_dead_child_fails_the_parent_and_cancels_the_children_not_started);
            run!(a_reaped_child_that_dies_fails_the_parent);
            run!(under_ignore_a_dead_child_counts_as_done_and_its_error_is_shown);
            run!(a_cancelled_child_fails_a_parent_under_fail);
            run!(cancelling_a_parent_cancels_children_not_started_and_a_running_one_finishes);
            run!(a_parent_past_its_timeout_dies_at_the_promoter_s_sweep);
            run!(deleting_ended_children_leaves_the_parent_s_count_right);
            run!(a_retried_child_is_pending_again);
            run!(a_duplicate_parent_inserts_no_children);
            run!(a_child_finishing_at_once_is_counted);
            run!(steps_record_once_in_order_and_travel_with_each_lease);
            run!(a_durable_sleep_gives_the_job_back_scheduled_without_an_attempt);
            run!(step_limits_are_refused_without_a_write);
            run!(a_waiting_job_resumes_on_its_matching_event_with_the_payload);
            run!(an_event_sent_just_before_the_wait_matches_at_registration);
            run!(a_wait_times_out_to_null_through_the_promoter_and_a_cancel_ends_it);
        }
    };
}

async fn open_sqlite() -> Option<(Store, tempfile::TempDir)> {
    let dir = tempfile::tempdir().unwrap();
    let config = sqlite::SqliteConfig { data_dir: dir.path().to_path_buf(), durability: sqlite::Durability::Normal };
    Some((Store::open_sqlite(config).await.unwrap(), dir))
}

/// A store on a database of its own, dropped after the test.
async fn open_postgres() -> Option<(Store, postgres::testing::TestDatabase)> {
    let db = postgres::testing::TestDatabase::create("store conformance").await?;
    let config = postgres::PgConfig { pool_size: 4, ..postgres::PgConfig::new(db.url.clone()) };
    Some((Store::open_postgres(config).await.unwrap(), db))
}

backend!(sqlite_backend, crate::conformance::open_sqlite);
backend!(postgres_backend, crate::conformance::open_postgres);

#[tokio::test]
async fn sqlite_commits_survive_reopen_and_the_directory_is_locked() {
    let dir = tempfile::tempdir().unwrap();
    let config = sqlite::SqliteConfig { data_dir: dir.path().to_path_buf(), durability: sqlite::Durability::Full };
    let store = Store::open_sqlite(config.clone()).await.unwrap();
    let id = insert(&store, vec![job("d")]).await[0].id;
    let second = Store::open_sqlite(config.clone()).await;
    assert!(
        matches!(&second, Err(StoreError::Unavailable(m)) if m.contains("another rampart server")),
        "{:?}",
        second.err()
    );
    drop(store);
    // The writer thread releases the lock shortly after the last handle goes.
    let mut reopened = None;
    for _ in 0..200 {
        match Store::open_sqlite(config.clone()).await {
            Ok(s) => {
                reopened = Some(s);
                break;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
    let store = reopened.expect("the store reopens once the first is dropped");
    assert_eq!(get(&store, id).await.state, JobState::Available);
}

/// What a rampart from before the policies migration left in its store:
/// one queue, one available job and one API key, written as its SQL did.
const OLD_ROWS: &str = "
    INSERT INTO queues (name, paused, created_at) VALUES ('old-queue', false, 1800000000000);
    INSERT INTO jobs (queue, state, run_at, created_at, max_attempts, payload)
        VALUES ('old-queue', 'available', 1800000000000, 1800000000000, 3, '{\"old\":true}');
    INSERT INTO api_keys (name, role, hash, prefix, created_at)
        VALUES ('old-key', 'worker', 'old-hash', 'rk_old', 1800000000000);
";

/// An upgraded store still serves what was there and keeps policies.
async fn check_upgraded(store: &Store) {
    assert_eq!(store.queue_list().await.unwrap(), vec![QueueRecord { name: q("old-queue"), paused: false }]);
    let leased = lease(store, "old-queue", 10, T0).await;
    assert_eq!(leased.iter().map(|j| j.payload.as_str()).collect::<Vec<_>>(), [r#"{"old":true}"#]);
    assert_eq!(store.api_key_find("old-hash".into()).await.unwrap().map(|k| k.name), Some("old-key".into()));
    assert!(store.ratelimit_policy_list().await.unwrap().is_empty());
    let before = store.ratelimit_policy_revision().await.unwrap();
    store.ratelimit_policy_put(&policy("after-upgrade"), "{}", T0).await.unwrap();
    assert_ne!(store.ratelimit_policy_revision().await.unwrap(), before);
    assert_eq!(store.ratelimit_policy_list().await.unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_store_from_before_the_policies_migration_upgrades() {
    let dir = tempfile::tempdir().unwrap();
    let db_path = dir.path().join("rampart.db");
    {
        // Schema version 1, as the first rampart created it.
        let old = rusqlite::Connection::open(&db_path).unwrap();
        old.execute_batch(include_str!("../../src/sqlite/migrations/0001_init.sql")).unwrap();
        old.execute_batch(&format!("PRAGMA user_version = 1; {OLD_ROWS}")).unwrap();
    }
    let config = sqlite::SqliteConfig { data_dir: dir.path().to_path_buf(), durability: sqlite::Durability::Normal };
    let store = Store::open_sqlite(config).await.unwrap();
    let version: i64 = rusqlite::Connection::open_with_flags(&db_path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .unwrap()
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert!(version >= 2, "the schema moved past version 1 (now {version})");
    check_upgraded(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_store_from_before_the_policies_migration_upgrades() {
    let Some(db) = postgres::testing::TestDatabase::create("postgres upgrade").await else { return };
    {
        // Schema version 1, recorded as the first rampart recorded it.
        let (old, connection) = tokio_postgres::connect(&db.url, tokio_postgres::NoTls).await.unwrap();
        let driving = tokio::spawn(connection);
        old.batch_execute(
            "CREATE TABLE rampart_migrations (
                 version    INTEGER PRIMARY KEY,
                 applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
             );
             INSERT INTO rampart_migrations (version) VALUES (1);",
        )
        .await
        .unwrap();
        old.batch_execute(include_str!("../../src/postgres/migrations/0001_init.sql")).await.unwrap();
        old.batch_execute(OLD_ROWS).await.unwrap();
        drop(old);
        driving.await.unwrap().unwrap();
    }
    let config = postgres::PgConfig { pool_size: 4, ..postgres::PgConfig::new(db.url.clone()) };
    let report = postgres::migrate(&config).await.unwrap();
    assert_eq!(report.applied.first(), Some(&2), "{report:?}");
    assert_eq!(report.applied.last(), Some(&report.version), "{report:?}");
    let store = Store::open_postgres(config).await.unwrap();
    check_upgraded(&store).await;
}

/// Two stores on one database: the second node's view.
async fn two_postgres_nodes() -> Option<(Store, Store, postgres::testing::TestDatabase)> {
    let db = postgres::testing::TestDatabase::create("postgres nodes").await?;
    let config = postgres::PgConfig { pool_size: 4, ..postgres::PgConfig::new(db.url.clone()) };
    // Started together: the migration lock lets exactly one apply the schema.
    let (a, b) = tokio::join!(Store::open_postgres(config.clone()), Store::open_postgres(config.clone()));
    let report = postgres::migrate(&config).await.unwrap();
    assert!(report.applied.is_empty() && report.version >= 1, "{report:?}");
    Some((a.unwrap(), b.unwrap(), db))
}

/// Waits for a signal other than `Resync`, within a generous bound.
async fn next_ready(rx: &mut tokio::sync::broadcast::Receiver<StoreSignal>) -> Option<StoreSignal> {
    let wait = async {
        loop {
            match rx.recv().await {
                Ok(StoreSignal::Resync) => continue,
                Ok(other) => return Some(other),
                Err(_) => return None,
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), wait).await.ok().flatten()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_nodes_hear_each_others_ready_jobs_but_not_their_own() {
    let Some((a, b, _db)) = two_postgres_nodes().await else { return };
    // An open store already listens: nothing committed from now on is missed.
    let mut heard_by_a = a.subscribe().unwrap();
    let mut heard_by_b = b.subscribe().unwrap();
    insert(&a, vec![job("signals")]).await;
    assert_eq!(next_ready(&mut heard_by_b).await, Some(StoreSignal::QueueReady(q("signals"))));
    // A scheduled job is no news until it is due; then the promoting node tells.
    insert(&b, vec![NewJob { run_at: at(500), ..job("later") }]).await;
    b.job_promote_due(at(600), 10).await.unwrap();
    assert_eq!(next_ready(&mut heard_by_a).await, Some(StoreSignal::QueueReady(q("later"))));
    assert!(heard_by_a.try_recv().is_err(), "a node does not hear its own commits");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_nodes_see_each_others_policies_through_the_revision() {
    let Some((a, b, _db)) = two_postgres_nodes().await else { return };
    let seen_by_b = b.ratelimit_policy_revision().await.unwrap();
    a.ratelimit_policy_put(&policy("shared"), r#"{"limit":5}"#, T0).await.unwrap();
    let now_b = b.ratelimit_policy_revision().await.unwrap();
    assert_ne!(now_b, seen_by_b, "a put on one node moves the revision every node reads");
    let listed = b.ratelimit_policy_list().await.unwrap();
    assert_eq!(
        listed.iter().map(|p| (p.name.as_str(), p.spec.as_str())).collect::<Vec<_>>(),
        [("shared", r#"{"limit":5}"#)]
    );
    assert!(b.ratelimit_policy_delete(&policy("shared")).await.unwrap());
    assert_ne!(a.ratelimit_policy_revision().await.unwrap(), now_b);
    assert!(a.ratelimit_policy_list().await.unwrap().is_empty());
}

#[tokio::test]
async fn postgres_unreachable_fails_fast_as_unavailable() {
    // A port nobody listens on: refused at once, reported as unavailable.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let config = postgres::PgConfig {
        connect_timeout: Duration::from_secs(2),
        ..postgres::PgConfig::new(format!("postgres://postgres@127.0.0.1:{port}/none"))
    };
    let started = std::time::Instant::now();
    let err = Store::open_postgres(config).await.err().expect("nothing listens there");
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(30), "bounded by the connect timeout");
    let bad = postgres::PgConfig::new("not a url at all");
    assert!(matches!(Store::open_postgres(bad).await, Err(StoreError::Unavailable(m)) if m.contains("URL")));
}
