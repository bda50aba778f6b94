//! The Rust worker API against an in-process engine.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use rampart_client::worker::{JobError, Worker};
use rampart_core::id::QueueName;
use rampart_core::job::JobState;
use rampart_server::engine::JobSpec;
use serde_json::json;

use crate::harness::{TestApp, eventually};

/// Waits until `queue` has `n` jobs in `state`.
async fn until_count(app: &TestApp, queue: &QueueName, state: JobState, n: u64) {
    eventually(&format!("{n} {state} jobs in {queue}"), || async {
        (app.engine.queue(queue).await.unwrap().counts.get(state) == n).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_embedded_worker_runs_handlers_and_records_their_outcomes() {
    let app = TestApp::new().await;
    let queue = QueueName::new("embedded").unwrap();
    let specs = (0..20)
        .map(|n| JobSpec {
            payload: json!({ "n": n, "fail": n % 5 == 0 }).to_string(),
            max_attempts: Some(1),
            ..JobSpec::default()
        })
        .collect();
    app.engine.enqueue(&queue, specs).await.unwrap();
    let runs = Arc::new(AtomicU32::new(0));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let worker = Worker::new(app.engine.clone()).name("embedded-1").concurrency(4).handle("embedded", {
        let runs = runs.clone();
        move |job| {
            let runs = runs.clone();
            async move {
                runs.fetch_add(1, Ordering::SeqCst);
                let payload: serde_json::Value = job.payload_as().map_err(|e| JobError::fatal(e.to_string()))?;
                job.update_progress(&json!({ "step": "started", "n": payload["n"] }))
                    .await
                    .map_err(|e| JobError::retryable(e.to_string()))?;
                if payload["fail"] == true {
                    return Err(JobError::fatal(format!("job {} refuses", payload["n"])));
                }
                Ok(Some(json!({ "doubled": payload["n"].as_i64().unwrap_or(0) * 2 })))
            }
        }
    });
    let running = tokio::spawn(worker.run(async move {
        let _ = stopped.await;
    }));
    until_count(&app, &queue, JobState::Completed, 16).await;
    until_count(&app, &queue, JobState::Dead, 4).await;
    stop.send(()).unwrap();
    running.await.unwrap().unwrap();
    assert_eq!(runs.load(Ordering::SeqCst), 20, "each job ran exactly once");
    let done = app
        .engine
        .jobs(rampart_store::JobListParams {
            queue: queue.clone(),
            state: Some(JobState::Completed),
            tenant: None,
            after: None,
            limit: 1,
        })
        .await
        .unwrap();
    let job = app.job(&done[0].id.to_string()).await;
    assert_eq!(job["result"]["doubled"], job["payload"]["n"].as_i64().unwrap() * 2);
    assert_eq!(
        job["progress"],
        json!({ "step": "started", "n": job["payload"]["n"] }),
        "the handler's progress is kept"
    );
    assert_eq!(job["history"][1]["worker"], "embedded-1");
    let dead = app
        .engine
        .jobs(rampart_store::JobListParams { queue, state: Some(JobState::Dead), tenant: None, after: None, limit: 1 })
        .await
        .unwrap();
    assert!(dead[0].last_error.as_deref().unwrap().contains("refuses"));
}

#[tokio::test]
async fn progress_is_refused_past_its_bound_and_for_a_job_no_worker_handed_out() {
    let app = TestApp::new().await;
    let queue = QueueName::new("big").unwrap();
    app.engine.enqueue(&queue, vec![JobSpec { payload: "{}".into(), ..JobSpec::default() }]).await.unwrap();
    let (seen, saw) = tokio::sync::oneshot::channel::<String>();
    let seen = std::sync::Mutex::new(Some(seen));
    let worker = Worker::new(app.engine.clone()).handle("big", move |job| {
        let seen = seen.lock().unwrap().take();
        async move {
            let huge = "x".repeat(rampart_server::engine::MAX_PROGRESS_BYTES);
            let refused = job.update_progress(&huge).await.unwrap_err().to_string();
            if let Some(seen) = seen {
                let _ = seen.send(refused);
            }
            Ok(None)
        }
    });
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(worker.run(async move {
        let _ = stopped.await;
    }));
    let refused = saw.await.unwrap();
    assert!(refused.contains("at most 16384 are kept"), "{refused}");
    stop.send(()).unwrap();
    running.await.unwrap().unwrap();

    let by_hand = rampart_client::worker::Job {
        id: rampart_core::id::JobId(1),
        queue,
        payload: "{}".into(),
        attempt: 1,
        max_attempts: 1,
        timeout_at: None,
        tenant: None,
        children: None,
        lease_token: "t".into(),
        progress: rampart_client::worker::Progress::default(),
    };
    assert!(by_hand.update_progress(&1).await.unwrap_err().to_string().contains("not handed out by a worker"));
}

#[tokio::test]
async fn a_worker_without_handlers_or_with_a_bad_queue_name_says_so() {
    let app = TestApp::new().await;
    let none = Worker::new(app.engine.clone()).run(async {}).await;
    assert!(none.unwrap_err().to_string().contains("no handlers"));
    let bad = Worker::new(app.engine.clone()).handle("bad name", |_| async { Ok(None) }).run(async {}).await;
    assert!(bad.unwrap_err().to_string().contains("queue name"));
}
