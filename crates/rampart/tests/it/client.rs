//! The flow of `crates/rampart-client/examples/enqueue_and_work.rs` through
//! the client crate alone against a real server: enqueue jobs with the typed
//! client, work them with the remote worker, read them back completed.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use rampart_client::wire::{EnqueueRequest, LeaseRequest};
use rampart_client::worker::{JobError, Worker};
use rampart_core::job::JobState;
use serde_json::json;
use serde_json::value::RawValue;
use tokio::sync::Notify;

use crate::harness::{TestServer, parsed};

#[tokio::test]
async fn a_rust_app_enqueues_and_works_jobs_through_the_client_crate() {
    const JOBS: usize = 5;
    let server = TestServer::start().await;
    let client = server.client().clone();

    let mut ids = Vec::new();
    for n in 0..JOBS {
        let payload = RawValue::from_string(json!({ "to": format!("user{n}@example.com") }).to_string()).unwrap();
        let enqueued = client.enqueue("example-email", &EnqueueRequest::new(payload)).await.expect("enqueue");
        assert_eq!(enqueued.state, JobState::Available);
        ids.push(enqueued.id);
    }

    let done = Arc::new(AtomicUsize::new(0));
    let all_done = Arc::new(Notify::new());
    let worker = Worker::new(client.clone()).name("example-worker").concurrency(2).lease(Duration::from_secs(30));
    let worker = worker.handle("example-email", {
        let (done, all_done) = (Arc::clone(&done), Arc::clone(&all_done));
        move |job| {
            let (done, all_done) = (Arc::clone(&done), Arc::clone(&all_done));
            async move {
                let payload: serde_json::Value = job.payload_as().map_err(|e| JobError::fatal(e.to_string()))?;
                if done.fetch_add(1, Ordering::SeqCst) + 1 == JOBS {
                    all_done.notify_one();
                }
                Ok(Some(json!({ "sent_to": payload["to"] })))
            }
        }
    });
    worker.run(async move { all_done.notified().await }).await.expect("the worker runs");

    for (n, id) in ids.into_iter().enumerate() {
        let job = client.job(&id.to_string()).await.expect("the job");
        assert_eq!(job.state, JobState::Completed, "job {id}: {job:?}");
        assert_eq!(job.worker.as_deref(), Some("example-worker"));
        let result = job.result.as_deref().map(parsed);
        assert_eq!(result, Some(json!({ "sent_to": format!("user{n}@example.com") })));
    }
    let left = client.lease("example-email", &LeaseRequest { max: Some(10), ..LeaseRequest::default() }).await;
    assert!(left.expect("a lease").jobs.is_empty());
    assert_eq!(done.load(Ordering::SeqCst), JOBS);
}
