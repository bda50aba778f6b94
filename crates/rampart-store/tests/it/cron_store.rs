//! The store contract for cron schedules, their runs and retention, run on
//! every backend through the `backend!` list in `conformance.rs`.

use std::sync::Arc;

use rampart_core::cron::Misfire;
use rampart_core::id::{CronName, QueueName};
use rampart_core::job::JobState;
use rampart_core::retry::{Backoff, RetryPlanner};
use rampart_core::time::UnixMillis;
use rampart_store::*;

const T0: UnixMillis = UnixMillis(1_800_000_000_000);

fn at(ms: i64) -> UnixMillis {
    UnixMillis(T0.0 + ms)
}

fn name(s: &str) -> CronName {
    CronName::new(s).unwrap()
}

fn q(s: &str) -> QueueName {
    QueueName::new(s).unwrap()
}

struct Planner;

impl RetryPlanner for Planner {
    fn backoff(&self, _queue: &str) -> Backoff {
        Backoff::default()
    }
}

fn schedule(n: &str, expr: &str, next: Option<UnixMillis>) -> CronSchedulePut {
    CronSchedulePut {
        name: name(n),
        schedule: expr.into(),
        timezone: "UTC".into(),
        queue: q("reports"),
        payload: format!(r#"{{"cron":"{n}"}}"#),
        description: format!("the {n} schedule"),
        tenant: Some(format!("t-{n}")),
        max_attempts: Some(2),
        misfire: Misfire::Skip,
        source: CronSource::Api,
        next_run_at: next,
    }
}

async fn put(store: &Store, s: CronSchedulePut, now: UnixMillis) -> CronScheduleRecord {
    store.cron_put(CronPutParams { schedule: s, now }).await.unwrap()
}

fn new_job(queue: &str, payload: &str) -> NewJob {
    NewJob {
        queue: q(queue),
        payload: payload.into(),
        run_at: T0,
        priority: 0,
        max_attempts: 1,
        timeout: None,
        unique_key: None,
        tenant: None,
    }
}

/// Fires the tick `expected` of `n`, moving it to `next`, with a job.
fn tick(n: &str, expected: UnixMillis, next: UnixMillis) -> CronFireParams {
    CronFireParams {
        name: name(n),
        advance: Some(CronAdvance { expected, next: Some(next) }),
        run: Some(CronRunNew {
            scheduled_at: expected,
            trigger: CronTrigger::Schedule,
            job: Some(new_job("reports", r#"{"tick":true}"#)),
        }),
        now: expected,
    }
}

async fn runs(store: &Store, n: &str) -> Vec<CronRunRecord> {
    store.cron_run_list(CronRunListParams { name: name(n), before: None, limit: 1_000 }).await.unwrap()
}

async fn count(store: &Store, queue: &str, state: JobState) -> u64 {
    store.queue_counts().await.unwrap().iter().find(|c| c.queue == q(queue)).map_or(0, |c| c.get(state))
}

pub async fn cron_schedules_are_put_replaced_listed_and_deleted(store: Store) {
    assert!(store.cron_list().await.unwrap().is_empty());
    let first = put(&store, schedule("nightly", "0 3 * * *", Some(at(1_000))), T0).await;
    assert_eq!(
        first,
        CronScheduleRecord {
            name: name("nightly"),
            schedule: "0 3 * * *".into(),
            timezone: "UTC".into(),
            queue: q("reports"),
            payload: r#"{"cron":"nightly"}"#.into(),
            description: "the nightly schedule".into(),
            misfire: Misfire::Skip,
            source: CronSource::Api,
            paused: false,
            next_run_at: Some(at(1_000)),
            created_at: T0,
            updated_at: T0,
            tenant: Some("t-nightly".into()),
            max_attempts: Some(2),
        }
    );
    assert_eq!(store.cron_get(&name("nightly")).await.unwrap(), Some(first.clone()));
    assert!(store.cron_set_paused(&name("nightly"), true, at(5)).await.unwrap());
    assert!(!store.cron_set_paused(&name("never"), true, at(5)).await.unwrap());
    // The same expression and zone keep the next tick and the pause; the
    // rest is replaced.
    let mut same = schedule("nightly", "0 3 * * *", Some(at(9_000)));
    same.misfire = Misfire::RunOnce;
    same.description = "changed".into();
    let kept = put(&store, same, at(10)).await;
    assert_eq!((kept.next_run_at, kept.paused, kept.misfire), (Some(at(1_000)), true, Misfire::RunOnce));
    assert_eq!((kept.description.as_str(), kept.created_at, kept.updated_at), ("changed", T0, at(10)));
    // A new expression takes the next tick it brings; a new zone too.
    let moved = put(&store, schedule("nightly", "0 4 * * *", Some(at(2_000))), at(20)).await;
    assert_eq!((moved.next_run_at, moved.paused), (Some(at(2_000)), true));
    let mut zoned = schedule("nightly", "0 4 * * *", Some(at(3_000)));
    zoned.timezone = "Europe/Berlin".into();
    assert_eq!(put(&store, zoned, at(30)).await.next_run_at, Some(at(3_000)));
    // Names in bytewise order; delete answers whether there was one.
    for n in ["b", "A", "a-1"] {
        put(&store, schedule(n, "@hourly", None), at(40)).await;
    }
    let names: Vec<String> = store.cron_list().await.unwrap().into_iter().map(|s| s.name.to_string()).collect();
    assert_eq!(names, ["A", "a-1", "b", "nightly"]);
    assert!(store.cron_delete(&name("b")).await.unwrap());
    assert!(!store.cron_delete(&name("b")).await.unwrap());
    assert!(store.cron_get(&name("b")).await.unwrap().is_none());
}

pub async fn cron_sync_replaces_the_schedules_of_one_source_only(store: Store) {
    let config = |n: &str| CronSchedulePut { source: CronSource::Config, ..schedule(n, "@daily", Some(at(100))) };
    put(&store, schedule("from-api", "@hourly", Some(at(50))), T0).await;
    let sync = |schedules| CronSyncParams { source: CronSource::Config, schedules, now: at(1) };
    store.cron_sync(sync(vec![config("one"), config("two")])).await.unwrap();
    store.cron_set_paused(&name("two"), true, at(2)).await.unwrap();
    // A restart with `one` removed from the configuration and `two` unchanged.
    store.cron_sync(sync(vec![CronSchedulePut { next_run_at: Some(at(900)), ..config("two") }])).await.unwrap();
    let all = store.cron_list().await.unwrap();
    let shown: Vec<(&str, CronSource, bool, Option<UnixMillis>)> =
        all.iter().map(|s| (s.name.as_str(), s.source, s.paused, s.next_run_at)).collect();
    assert_eq!(
        shown,
        [("from-api", CronSource::Api, false, Some(at(50))), ("two", CronSource::Config, true, Some(at(100)))]
    );
    store.cron_sync(sync(Vec::new())).await.unwrap();
    assert_eq!(store.cron_list().await.unwrap().len(), 1, "an empty configuration keeps API schedules");
}

pub async fn cron_fire_advances_the_tick_once_with_its_job_and_run(store: Store) {
    put(&store, schedule("every", "* * * * *", Some(at(60_000))), T0).await;
    let fired = store.cron_fire(tick("every", at(60_000), at(120_000))).await.unwrap().expect("the tick fires");
    let job = fired.job.expect("a job was inserted");
    assert_eq!((job.state, job.duplicate), (JobState::Available, false));
    let run = fired.run.expect("a run was recorded");
    assert_eq!(
        (run.name.as_str(), run.scheduled_at, run.enqueued_at, run.job_id, run.trigger, run.status),
        ("every", at(60_000), at(60_000), Some(job.id), CronTrigger::Schedule, JobState::Available)
    );
    let stored = store.job_get(job.id).await.unwrap().unwrap();
    assert_eq!((stored.queue, stored.payload.as_str()), (q("reports"), r#"{"tick":true}"#));
    assert_eq!(store.cron_get(&name("every")).await.unwrap().unwrap().next_run_at, Some(at(120_000)));
    // The same tick again: nothing changes, no job, no run.
    assert_eq!(store.cron_fire(tick("every", at(60_000), at(120_000))).await.unwrap(), None);
    assert_eq!(count(&store, "reports", JobState::Available).await, 1);
    // Skipping ticks only advances.
    let skip = CronFireParams { run: None, ..tick("every", at(120_000), at(600_000)) };
    assert_eq!(store.cron_fire(skip).await.unwrap(), Some(CronFired { run: None, job: None }));
    assert_eq!(store.cron_get(&name("every")).await.unwrap().unwrap().next_run_at, Some(at(600_000)));
    // A manual run leaves the next tick alone.
    let manual = CronFireParams {
        advance: None,
        run: Some(CronRunNew {
            scheduled_at: at(130_000),
            trigger: CronTrigger::Manual,
            job: Some(new_job("reports", "{}")),
        }),
        ..tick("every", at(0), at(0))
    };
    let manual_run = store.cron_fire(manual.clone()).await.unwrap().unwrap().run.unwrap();
    assert_eq!(manual_run.trigger, CronTrigger::Manual);
    assert_eq!(store.cron_get(&name("every")).await.unwrap().unwrap().next_run_at, Some(at(600_000)));
    // A scheduled job (run_at in the future) is recorded as such.
    let mut later = tick("every", at(600_000), at(660_000));
    later.run.as_mut().unwrap().job.as_mut().unwrap().run_at = at(3_600_000);
    let later = store.cron_fire(later).await.unwrap().unwrap();
    assert_eq!(later.run.unwrap().status, JobState::Scheduled);
    // The last tick of a schedule stores no next tick.
    let last = CronFireParams {
        advance: Some(CronAdvance { expected: at(660_000), next: None }),
        ..tick("every", at(660_000), at(0))
    };
    assert!(store.cron_fire(last).await.unwrap().is_some());
    assert_eq!(store.cron_get(&name("every")).await.unwrap().unwrap().next_run_at, None);
    // A schedule that is gone fires nothing.
    store.cron_delete(&name("every")).await.unwrap();
    assert_eq!(store.cron_fire(manual).await.unwrap(), None);
    assert_eq!(runs(&store, "every").await.len(), 4, "its runs stay");
}

pub async fn cron_fire_of_one_tick_from_many_callers_fires_once(store: Store) {
    put(&store, schedule("race", "* * * * * *", Some(at(1_000))), T0).await;
    for round in 1..=5 {
        let expected = at(round * 1_000);
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let store = store.clone();
            let params = tick("race", expected, at((round + 1) * 1_000));
            tasks.push(tokio::spawn(async move { store.cron_fire(params).await.unwrap().is_some() }));
        }
        let mut fired = 0;
        for t in tasks {
            fired += u32::from(t.await.unwrap());
        }
        assert_eq!(fired, 1, "tick {round} fired by exactly one caller");
    }
    let ticks: Vec<UnixMillis> = runs(&store, "race").await.iter().rev().map(|r| r.scheduled_at).collect();
    assert_eq!(ticks, (1..=5).map(|i| at(i * 1_000)).collect::<Vec<_>>());
    assert_eq!(count(&store, "reports", JobState::Available).await, 5);
}

pub async fn cron_runs_settle_from_their_jobs_and_page_newest_first(store: Store) {
    put(&store, schedule("settle", "* * * * *", Some(at(60_000))), T0).await;
    let mut ids = Vec::new();
    for i in 1..=3 {
        let fired = store.cron_fire(tick("settle", at(i * 60_000), at((i + 1) * 60_000))).await.unwrap().unwrap();
        ids.push(fired.job.unwrap().id);
    }
    let leased = store
        .job_lease(JobLeaseParams {
            queue: q("reports"),
            max: 2,
            lease: std::time::Duration::from_secs(30),
            worker: None,
            concurrency: None,
            rate: None,
            now: at(200_000),
        })
        .await
        .unwrap()
        .jobs;
    assert_eq!(leased.iter().map(|l| l.id).collect::<Vec<_>>(), ids[..2]);
    let acks = vec![
        JobAck {
            id: ids[0],
            lease_token: leased[0].lease_token.clone(),
            outcome: AckOutcome::Complete { result: Some(r#"{"rows":3}"#.into()) },
        },
        JobAck {
            id: ids[1],
            lease_token: leased[1].lease_token.clone(),
            outcome: AckOutcome::Fail { error: "boom".into(), retryable: false, retry_at: None },
        },
    ];
    store.job_ack_many(JobAckParams { acks, planner: Arc::new(Planner), now: at(201_000) }).await.unwrap();
    assert_eq!(store.cron_run_settle().await.unwrap(), 2, "the two finished jobs' runs changed");
    assert_eq!(store.cron_run_settle().await.unwrap(), 0, "nothing changed since");
    let all = runs(&store, "settle").await;
    let shown: Vec<_> =
        all.iter().map(|r| (r.job_id, r.status, r.attempts, r.error.as_deref(), r.result.as_deref())).collect();
    assert_eq!(
        shown,
        [
            (Some(ids[2]), JobState::Available, 0, None, None),
            (Some(ids[1]), JobState::Dead, 1, Some("boom"), None),
            (Some(ids[0]), JobState::Completed, 1, None, Some(r#"{"rows":3}"#)),
        ]
    );
    assert_eq!((all[2].started_at, all[2].finished_at), (Some(at(200_000)), Some(at(201_000))));
    // A settled run whose job is deleted keeps what it saw.
    store.job_purge_dead(q("reports"), 10).await.unwrap();
    store.cron_run_settle().await.unwrap();
    assert_eq!(runs(&store, "settle").await[1].status, JobState::Dead);
    // Pages by id, newest first.
    let page = |before| CronRunListParams { name: name("settle"), before, limit: 2 };
    let p1 = store.cron_run_list(page(None)).await.unwrap();
    let p2 = store.cron_run_list(page(Some(p1[1].id))).await.unwrap();
    assert_eq!((p1.len(), p2.len()), (2, 1));
    assert!(p1[0].id > p1[1].id && p1[1].id > p2[0].id);
    // The last run of each schedule.
    put(&store, schedule("other", "@hourly", Some(at(1))), T0).await;
    store.cron_fire(tick("other", at(1), at(2))).await.unwrap().unwrap();
    let last = store.cron_run_last().await.unwrap();
    assert_eq!(
        last.iter().map(|r| (r.name.as_str(), r.scheduled_at)).collect::<Vec<_>>(),
        [("other", at(1)), ("settle", at(180_000))]
    );
    // Only stored schedules: a deleted one's runs stay, but it has no "last run".
    store.cron_delete(&name("other")).await.unwrap();
    let last = store.cron_run_last().await.unwrap();
    assert_eq!(last.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(), ["settle"]);
}

pub async fn cron_builtin_runs_start_active_and_finish_in_process(store: Store) {
    put(
        &store,
        CronSchedulePut { source: CronSource::Builtin, ..schedule("rampart.retention", "@hourly", Some(at(10))) },
        T0,
    )
    .await;
    let params = CronFireParams {
        run: Some(CronRunNew { scheduled_at: at(10), trigger: CronTrigger::Schedule, job: None }),
        ..tick("rampart.retention", at(10), at(20))
    };
    let fired = store.cron_fire(params).await.unwrap().unwrap();
    assert_eq!(fired.job, None);
    let run = fired.run.unwrap();
    assert_eq!((run.job_id, run.status, run.started_at), (None, JobState::Active, Some(at(10))));
    let finish = CronRunFinishParams {
        id: run.id,
        status: JobState::Completed,
        started_at: at(10),
        error: None,
        result: Some(r#"{"deleted":4}"#.into()),
        now: at(15),
    };
    assert!(store.cron_run_finish(finish.clone()).await.unwrap());
    assert!(!store.cron_run_finish(CronRunFinishParams { id: run.id + 1_000, ..finish }).await.unwrap());
    let done = &runs(&store, "rampart.retention").await[0];
    assert_eq!(
        (done.status, done.finished_at, done.attempts, done.result.as_deref()),
        (JobState::Completed, Some(at(15)), 1, Some(r#"{"deleted":4}"#))
    );
    // Settling leaves runs without a job alone.
    assert_eq!(store.cron_run_settle().await.unwrap(), 0);
}

pub async fn retention_prunes_finished_jobs_and_runs_in_bounded_batches(store: Store) {
    // Five jobs in `keep-long` and five in `other`, completed at 1s..5s; one
    // dead job; one still available.
    let mut all = Vec::new();
    for queue in ["keep-long", "other"] {
        let jobs: Vec<NewJob> = (0..5).map(|_| new_job(queue, "{}")).collect();
        store.job_insert_many(JobInsertParams { jobs, now: T0 }).await.unwrap();
        for i in 0..5 {
            let l = store
                .job_lease(JobLeaseParams {
                    queue: q(queue),
                    max: 1,
                    lease: std::time::Duration::from_secs(30),
                    worker: None,
                    concurrency: None,
                    rate: None,
                    now: at(i * 1_000),
                })
                .await
                .unwrap()
                .jobs
                .pop()
                .unwrap();
            let ack = JobAck { id: l.id, lease_token: l.lease_token, outcome: AckOutcome::Complete { result: None } };
            let now = at((i + 1) * 1_000);
            store.job_ack_many(JobAckParams { acks: vec![ack], planner: Arc::new(Planner), now }).await.unwrap();
            all.push((queue, l.id, now));
        }
    }
    store.job_insert_many(JobInsertParams { jobs: vec![new_job("other", "{}")], now: T0 }).await.unwrap();
    let prune = |queues, limit| JobPruneParams { state: JobState::Completed, older_than: at(3_500), queues, limit };
    // `other` (everything except `keep-long`), two at a time: 3 are old enough.
    let except = QueueFilter::Except(vec![q("keep-long")]);
    assert_eq!(store.job_prune(prune(except.clone(), 2)).await.unwrap(), 2);
    assert_eq!(store.job_prune(prune(except.clone(), 2)).await.unwrap(), 1);
    assert_eq!(store.job_prune(prune(except, 2)).await.unwrap(), 0);
    assert_eq!(count(&store, "keep-long", JobState::Completed).await, 5, "the excluded queue is untouched");
    assert_eq!(count(&store, "other", JobState::Completed).await, 2);
    assert_eq!(count(&store, "other", JobState::Available).await, 1, "live jobs are never pruned");
    // `keep-long` on its own, with an earlier cutoff.
    let only = JobPruneParams { older_than: at(1_500), ..prune(QueueFilter::Only(q("keep-long")), 100) };
    assert_eq!(store.job_prune(only).await.unwrap(), 1);
    // Dead jobs are a separate state.
    let dead = JobPruneParams { state: JobState::Dead, ..prune(QueueFilter::Except(Vec::new()), 100) };
    assert_eq!(store.job_prune(dead).await.unwrap(), 0);
    for (queue, id, finished) in all {
        let gone = store.job_get(id).await.unwrap().is_none();
        let expected = finished < at(if queue == "keep-long" { 1_500 } else { 3_500 });
        assert_eq!(gone, expected, "{queue} job {id} finished at {finished}");
    }
    // Runs go by enqueue time, in batches.
    put(&store, schedule("old", "* * * * * *", Some(at(1_000))), T0).await;
    for i in 1..=5 {
        store.cron_fire(tick("old", at(i * 1_000), at((i + 1) * 1_000))).await.unwrap().unwrap();
    }
    let prune_runs = |limit| CronRunPruneParams { older_than: at(4_500), limit };
    assert_eq!(store.cron_run_prune(prune_runs(3)).await.unwrap(), 3);
    assert_eq!(store.cron_run_prune(prune_runs(3)).await.unwrap(), 1);
    assert_eq!(store.cron_run_prune(prune_runs(3)).await.unwrap(), 0);
    let left: Vec<UnixMillis> = runs(&store, "old").await.iter().map(|r| r.scheduled_at).collect();
    assert_eq!(left, [at(5_000)]);
}
