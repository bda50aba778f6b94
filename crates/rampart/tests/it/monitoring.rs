//! Monitoring through the real binary: readiness answers 503 naming the
//! store while PostgreSQL is cut off and 200 again by itself once it is
//! back; queue metrics, `/metrics` and `rampart monitor` show what a worker
//! did, and the totals outlive a restart.
//!
//! The outage test needs PostgreSQL on `127.0.0.1:5432` (or
//! `TEST_DATABASE_URL`): without it, it prints that it skipped, except
//! under `CI=true`, where it fails.

use rampart_client::wire::{CompleteRequest, LeaseRequest, QueueMetricsResponse, SystemHealthResponse};
use rampart_store::postgres::testing::TestDatabase;
use serde_json::Value;

use crate::harness::{TestServer, eventually};
use crate::tcpproxy::TcpProxy;

/// Samples every second, so a test sees them soon.
const FAST_SAMPLES: &str = "[monitoring]\ninterval = \"1s\"\n";

/// The readiness body when it says the PostgreSQL store is down, else `None`.
async fn store_down(node: &TestServer) -> Option<Value> {
    let (status, body) = node.ready().await;
    let store = &body["components"]["store"];
    let down = status == 503 && body["status"] == "not_ready" && store["status"] == "down";
    (down && store["backend"] == "postgres" && store["error"].as_str().is_some_and(|e| !e.is_empty())).then_some(body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_is_503_while_the_store_is_cut_off_and_200_again_by_itself() {
    let Some(db) = TestDatabase::create("ready_outage").await else { return };
    let proxy = TcpProxy::for_postgres(&db.url);
    let node = TestServer::builder()
        .env("DATABASE_URL", &proxy.url_for(&db.url))
        .env("RAMPART_POSTGRES__POOL_SIZE", "4")
        .config(FAST_SAMPLES)
        .start()
        .await;
    node.enqueue("ready", "{}").await;
    let (status, body) = node.ready().await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["components"]["jobs"]["available"], 1, "{body}");

    proxy.cut();
    let body = eventually("/health/ready to answer 503 naming the store", || store_down(&node)).await;
    assert!(body["components"].get("jobs").is_none(), "no job figures without the store: {body}");
    assert!(node.client().health().await.is_ok(), "liveness holds while the store is away");

    proxy.restore();
    let body = eventually("/health/ready to answer 200 again without a restart", || async {
        let (status, body) = node.ready().await;
        (status == 200).then_some(body)
    })
    .await;
    assert_eq!(body["components"]["store"]["status"], "up", "{body}");
    assert_eq!(body["components"]["jobs"]["available"], 1, "{body}");
    let monitor: Value = node.cli().json(&["monitor"]).await;
    let system: SystemHealthResponse = serde_json::from_value(monitor["system"].clone()).expect("system health");
    assert_eq!((system.status.as_str(), system.components.store.status.as_str()), ("healthy", "up"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_shows_in_the_metrics_and_the_totals_outlive_a_restart() {
    let mut node = TestServer::builder().config(FAST_SAMPLES).start().await;
    node.enqueue("mail", "{}").await;
    let client = node.client().clone();
    let lease = LeaseRequest { max: Some(1), worker: Some("w1".into()), ..LeaseRequest::default() };
    let job = client.lease("mail", &lease).await.expect("a lease").jobs.remove(0);
    let done = CompleteRequest { lease_token: job.lease_token, result: None };
    client.complete(&job.id.to_string(), &done).await.expect("completed");

    let completed =
        |metrics: QueueMetricsResponse| metrics.queues.iter().find(|q| q.queue == "mail").map_or(0, |q| q.completed);
    eventually("a sample showing the completed job", || async {
        client.queue_metrics().await.ok().filter(|m| completed(m.clone()) == 1)
    })
    .await;
    let (_, ready) = node.ready().await;
    assert_eq!(ready["components"]["workers"]["seen_last_minute"], 1, "{ready}");
    let metrics = client.metrics().await.expect("/metrics");
    assert!(metrics.contains("rampart_jobs_total{queue=\"mail\",outcome=\"completed\"} 1\n"), "{metrics}");
    assert!(
        metrics
            .contains("rampart_http_requests_total{method=\"POST\",route=\"/v1/queues/:queue/lease\",status=\"200\"}")
    );
    let text = node.cli().run(&["monitor"]).await;
    text.expect_code(0);
    assert!(text.stdout.contains("status") && text.stdout.contains("mail"), "{}", text.stdout);
    let history = node.cli().run(&["monitor", "queue", "mail"]).await;
    history.expect_code(0);
    assert!(history.stdout.starts_with("AT"), "{}", history.stdout);

    // A graceful stop stores the last totals; the next start goes on from them.
    node.signal("TERM");
    node.wait_exit().await;
    node.restart().await;
    let client = node.client().clone();
    let metrics = eventually("a sample after the restart", || async {
        client.queue_metrics().await.ok().filter(|m| m.sampled_at.is_some())
    })
    .await;
    assert_eq!(completed(metrics), 1, "the totals survived the restart");
}
