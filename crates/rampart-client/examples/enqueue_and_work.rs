//! Enqueues a few jobs and works them, against a running rampart server.
//!
//! ```text
//! rampart serve &                                   # writes ./rampart-data/admin.key
//! cargo run -p rampart-client --example enqueue_and_work
//! ```
//!
//! `RAMPART_URL` is the server (default `http://127.0.0.1:7433`);
//! `RAMPART_KEY` is an API key allowed to enqueue and work, or a file that
//! holds one (default `./rampart-data/admin.key`).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use rampart_client::client::Client;
use rampart_client::wire::{EnqueueRequest, LeaseRequest};
use rampart_client::worker::{JobError, Worker};
use serde_json::json;
use serde_json::value::RawValue;
use tokio::sync::Notify;

/// The queue the example uses.
const QUEUE: &str = "example-email";
/// Jobs it enqueues.
const JOBS: usize = 5;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::var("RAMPART_URL").unwrap_or_else(|_| "http://127.0.0.1:7433".to_string());
    let key = std::env::var("RAMPART_KEY").unwrap_or_else(|_| "./rampart-data/admin.key".to_string());
    // A value naming a file is read; anything else is the key itself.
    let key = std::fs::read_to_string(&key).unwrap_or(key).trim().to_string();
    let client = Client::new(&url, Some(key))?;

    // Enqueue: each job carries any JSON payload; options left out take the
    // queue's defaults.
    let mut ids = Vec::new();
    for n in 0..JOBS {
        let payload = RawValue::from_string(json!({ "to": format!("user{n}@example.com") }).to_string())?;
        let enqueued = client.enqueue(QUEUE, &EnqueueRequest::new(payload)).await?;
        println!("enqueued job {} ({})", enqueued.id, enqueued.state);
        ids.push(enqueued.id);
    }

    // Work: the handler runs for each job; the worker leases, heartbeats and
    // acknowledges. It stops once every job above is done.
    let done = Arc::new(AtomicUsize::new(0));
    let all_done = Arc::new(Notify::new());
    let worker = Worker::new(client.clone()).name("example-worker").concurrency(2).lease(Duration::from_secs(30));
    let worker = worker.handle(QUEUE, {
        let (done, all_done) = (Arc::clone(&done), Arc::clone(&all_done));
        move |job| {
            let (done, all_done) = (Arc::clone(&done), Arc::clone(&all_done));
            async move {
                let payload: serde_json::Value = job.payload_as().map_err(|e| JobError::fatal(e.to_string()))?;
                println!("sending to {} (job {}, attempt {})", payload["to"], job.id, job.attempt);
                if done.fetch_add(1, Ordering::SeqCst) + 1 == JOBS {
                    all_done.notify_one();
                }
                Ok(Some(json!({ "sent": true })))
            }
        }
    });
    worker.run(async move { all_done.notified().await }).await?;

    // Read the jobs back: each one completed with its handler's result.
    for id in ids {
        let job = client.job(&id.to_string()).await?;
        let result = job.result.map(|r| r.get().to_string()).unwrap_or_default();
        println!("job {id}: {} {result}", job.state);
    }
    // Nothing is left to lease.
    let left = client.lease(QUEUE, &LeaseRequest { max: Some(10), ..LeaseRequest::default() }).await?;
    println!("left in `{QUEUE}`: {}", left.jobs.len());
    Ok(())
}
