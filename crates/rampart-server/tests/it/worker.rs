//! The Rust worker API against an in-process engine.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use rampart_client::worker::{JobError, WaitFor, Worker};
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
        steps: Vec::new(),
        step: rampart_client::worker::Step::default(),
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

/// The seed's photo analysis as four steps: the third fails twice, and the
/// retries run neither of the first two again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_four_step_job_whose_third_step_fails_twice_runs_steps_one_and_two_once() {
    let app = TestApp::new().await;
    let queue = QueueName::new("photos").unwrap();
    let spec = JobSpec { payload: json!({ "album": 7 }).to_string(), max_attempts: Some(5), ..JobSpec::default() };
    let id = app.engine.enqueue(&queue, vec![spec]).await.unwrap()[0].id;
    let runs: Arc<[AtomicU32; 4]> = Arc::new(Default::default());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let worker = Worker::new(app.engine.clone()).handle("photos", {
        let runs = runs.clone();
        move |job| {
            let runs = runs.clone();
            async move {
                let count = |i: usize| runs[i].fetch_add(1, Ordering::SeqCst) + 1;
                let labels: Vec<String> = job
                    .step
                    .run("analyze photos", || async {
                        count(0);
                        Ok(vec!["cat".to_string()])
                    })
                    .await?;
                let scope: String = job
                    .step
                    .run("generate scope", || async {
                        count(1);
                        Ok(format!("{} labels", labels.len()))
                    })
                    .await?;
                let saved: u32 = job
                    .step
                    .run("save", || async {
                        if count(2) <= 2 {
                            return Err(JobError::retryable("the database is away"));
                        }
                        Ok(42)
                    })
                    .await?;
                let score: f64 = job
                    .step
                    .run("update score", || async {
                        count(3);
                        Ok(0.9)
                    })
                    .await?;
                Ok(Some(json!({ "scope": scope, "saved": saved, "score": score })))
            }
        }
    });
    let running = tokio::spawn(worker.run(async move {
        let _ = stopped.await;
    }));
    // Retries wait out their backoff on the app's clock; the promoter runs by hand.
    eventually("the four-step job to complete", || async {
        app.clock.advance(std::time::Duration::from_secs(5));
        app.engine.promote_once().await.unwrap();
        (app.engine.job(id).await.unwrap().state == JobState::Completed).then_some(())
    })
    .await;
    stop.send(()).unwrap();
    running.await.unwrap().unwrap();
    let ran: Vec<u32> = runs.iter().map(|r| r.load(Ordering::SeqCst)).collect();
    assert_eq!(ran, [1, 1, 3, 1], "steps one and two ran once; the third three times");
    let job = app.job(&id.to_string()).await;
    assert_eq!(job["attempt"], 3);
    assert_eq!(job["result"], json!({ "scope": "1 labels", "saved": 42, "score": 0.9 }));
    let names: Vec<&str> = job["steps"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["analyze photos", "generate scope", "save", "update score"]);
}

/// A durable sleep and a wait for an event in a handler: each gives the job
/// back, and the handler resumes after them with the event's payload.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handler_sleeps_and_waits_for_an_event_then_resumes() {
    let app = TestApp::new().await;
    let queue = QueueName::new("orders").unwrap();
    let id =
        app.engine.enqueue(&queue, vec![JobSpec { payload: "{}".into(), ..JobSpec::default() }]).await.unwrap()[0].id;
    let charged = Arc::new(AtomicU32::new(0));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let worker = Worker::new(app.engine.clone()).handle("orders", {
        let charged = charged.clone();
        move |job| {
            let charged = charged.clone();
            async move {
                job.step
                    .run("charge", || async {
                        charged.fetch_add(1, Ordering::SeqCst);
                        Ok(())
                    })
                    .await?;
                job.step.sleep("cool down", std::time::Duration::from_secs(30)).await?;
                let wait = WaitFor {
                    event: "order.shipped".into(),
                    match_on: Some(("order".into(), json!("o-1"))),
                    timeout: std::time::Duration::from_secs(3600),
                };
                let shipped: Option<serde_json::Value> = job.step.wait_for_event("shipped", wait).await?;
                Ok(shipped)
            }
        }
    });
    let running = tokio::spawn(worker.run(async move {
        let _ = stopped.await;
    }));
    until_count(&app, &queue, JobState::Scheduled, 1).await;
    eventually("the sleeping job to wait for its event", || async {
        app.clock.advance(std::time::Duration::from_secs(5));
        app.engine.promote_once().await.unwrap();
        (app.engine.job(id).await.unwrap().state == JobState::Waiting).then_some(())
    })
    .await;
    let sent = app
        .engine
        .event_send("order.shipped".into(), None, json!({"order": "o-1", "carrier": "ups"}).to_string())
        .await
        .unwrap();
    assert_eq!(sent.woken.len(), 1);
    eventually("the job to complete after its event", || async {
        (app.engine.job(id).await.unwrap().state == JobState::Completed).then_some(())
    })
    .await;
    stop.send(()).unwrap();
    running.await.unwrap().unwrap();
    assert_eq!(charged.load(Ordering::SeqCst), 1, "the charge ran once across three attempts");
    let job = app.job(&id.to_string()).await;
    assert_eq!(job["result"], json!({"order": "o-1", "carrier": "ups"}));
    assert_eq!(job["attempt"], 1, "sleeping and waiting counted no attempt");
}
