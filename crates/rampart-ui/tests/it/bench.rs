//! How long the pages take with 100 queues and 1,000,000 jobs in the store
//! (10,000 of them dead): not a test of speed (it asserts nothing about
//! time), a measurement printed for BENCHMARKS.md. Run it with
//! `cargo test --release -p rampart-ui --test it bench -- --ignored --nocapture`.

use std::time::{Duration, Instant};

use rampart_core::id::QueueName;
use rampart_store::{AckOutcome, JobAck, JobInsertParams, JobLeaseParams, NewJob};
use reqwest::StatusCode;

use crate::harness::{App, eventually};

const QUEUES: usize = 100;
const JOBS: usize = 1_000_000;
const DEAD_PER_QUEUE: u32 = 100;
const ROUNDS: usize = 20;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement: fills a store with a million jobs"]
async fn bench_pages_with_100_queues_and_a_million_jobs() {
    let app = App::start().await;
    let store = app.state.engine.store().clone();
    let now = app.state.engine.now();
    let queues: Vec<QueueName> = (0..QUEUES).map(|i| QueueName::new(&format!("queue-{i:03}")).unwrap()).collect();
    let started = Instant::now();
    for chunk in 0..JOBS / 10_000 {
        let jobs = (0..10_000)
            .map(|i| NewJob {
                queue: queues[(chunk * 10_000 + i) % QUEUES].clone(),
                payload: format!(r#"{{"user":{i},"template":"welcome"}}"#),
                run_at: now,
                priority: 0,
                max_attempts: 1,
                timeout: None,
                unique_key: None,
                tenant: None,
            })
            .collect();
        store.job_insert_many(JobInsertParams { jobs, now }).await.unwrap();
    }
    for q in &queues {
        let lease = JobLeaseParams {
            queue: q.clone(),
            max: DEAD_PER_QUEUE,
            lease: Duration::from_secs(60),
            worker: Some("bench".into()),
            concurrency: None,
            rate: None,
            now: app.state.engine.now(),
        };
        let leased = store.job_lease(lease).await.unwrap().jobs;
        let acks = leased
            .into_iter()
            .map(|j| JobAck {
                id: j.id,
                lease_token: j.lease_token,
                outcome: AckOutcome::Fail { error: "boom".into(), retryable: false, retry_at: None },
            })
            .collect();
        app.state.engine.ack(acks).await.unwrap();
    }
    eprintln!("filled {JOBS} jobs in {QUEUES} queues in {:.1?}", started.elapsed());
    let session = app.sign_in(&app.admin_key).await;
    // After a sample, so the counts are the sampled ones.
    eventually("a sample of every queue", || async {
        (app.state.monitor.latest().queues.len() == QUEUES).then_some(())
    })
    .await;
    let dead = app.admin.jobs("queue-050", Some("dead"), Some(1), None).await.unwrap().jobs.remove(0).id.to_string();
    let available = app.get(&session, "/ui/queues/queue-050?state=available").await.body;
    let after = available.split("after=").nth(1).and_then(|s| s.split('#').next()).unwrap().to_string();
    for path in [
        "/ui/".to_string(),
        "/ui/live/overview".into(),
        "/ui/queues/queue-050".into(),
        "/ui/queues/queue-050?state=available".into(),
        format!("/ui/queues/queue-050?state=available&after={after}"),
        format!("/ui/jobs/{dead}"),
        "/ui/alerts".into(),
        "/ui/audit".into(),
    ] {
        let mut times = Vec::with_capacity(ROUNDS);
        for _ in 0..ROUNDS {
            let t = Instant::now();
            let answer = app.get(&session, &path).await;
            times.push(t.elapsed());
            assert_eq!(answer.status, StatusCode::OK, "{path}");
        }
        times.sort();
        eprintln!(
            "{path:<55} median {:>7.2?}  p95 {:>7.2?}  max {:>7.2?}",
            times[ROUNDS / 2],
            times[ROUNDS * 95 / 100],
            times[ROUNDS - 1]
        );
    }
}
