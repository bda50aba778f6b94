//! Acknowledged means durable: jobs whose enqueue answered 2xx are all
//! there after a SIGKILL of the server and a restart on the same data.

use std::collections::BTreeSet;

use rampart_client::wire::{BatchRequest, EnqueueRequest};
use serde_json::json;
use serde_json::value::RawValue;
use tokio::task::JoinSet;

use crate::harness::{TestServer, parsed};

const QUEUE: &str = "ledger";

fn request(n: usize) -> EnqueueRequest {
    let payload = RawValue::from_string(json!({"n": n}).to_string()).expect("JSON");
    EnqueueRequest::new(payload)
}

#[tokio::test]
async fn a_thousand_acknowledged_jobs_survive_a_sigkill_of_the_server() {
    let mut server = TestServer::start().await;
    let client = server.client().clone();

    // Five batches of 100 and 500 single enqueues, all at once, so that the
    // writer commits many of them together.
    let mut calls = JoinSet::new();
    for batch in 0..5 {
        let client = client.clone();
        calls.spawn(async move {
            let jobs = (0..100).map(|i| request(batch * 100 + i)).collect();
            let ids = client.enqueue_batch(QUEUE, &BatchRequest { jobs }).await.expect("batch enqueue").ids;
            ids.into_iter().zip(batch * 100..).collect::<Vec<_>>()
        });
    }
    for chunk in 0..50 {
        let client = client.clone();
        calls.spawn(async move {
            let mut ids = Vec::new();
            for n in (500 + chunk * 10)..(500 + chunk * 10 + 10) {
                ids.push((client.enqueue(QUEUE, &request(n)).await.expect("enqueue").id, n));
            }
            ids
        });
    }
    let mut acknowledged = Vec::new();
    while let Some(ids) = calls.join_next().await {
        acknowledged.extend(ids.expect("enqueue task"));
    }
    assert_eq!(acknowledged.len(), 1_000);

    server.kill();
    server.restart().await;
    let client = server.client();

    let queue = client.queue(QUEUE).await.expect("queue");
    assert_eq!(queue.counts.available, 1_000, "{:?}", queue.counts);

    let mut stored = BTreeSet::new();
    let mut cursor = None;
    loop {
        let page = client.jobs(QUEUE, None, Some(400), cursor.as_deref()).await.expect("a page of jobs");
        stored.extend(page.jobs.into_iter().map(|job| job.id));
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    let expected: BTreeSet<_> = acknowledged.iter().map(|(id, _)| *id).collect();
    assert_eq!(stored, expected);

    for (id, n) in acknowledged.iter().step_by(97) {
        let job = client.job(&id.to_string()).await.expect("job");
        assert_eq!((job.state.as_str(), parsed(&job.payload)), ("available", json!({"n": n})), "job {id}");
    }
}
