//! Alerts end to end: two `rampart serve` nodes on one PostgreSQL database,
//! sampling every second, both sending to one real local receiver. A dead
//! job fires one dead-letter alert listing it, then one resolved message:
//! each notice is sent once although both nodes evaluate every rule. And
//! `rampart alerts test`, `list` and `ack` from the real CLI.
//!
//! Without PostgreSQL these tests print that they skipped, except under
//! `CI=true`, where they fail.

use std::sync::{Arc, Mutex};

use rampart_client::wire::{EnqueueRequest, FailRequest, LeaseRequest};
use rampart_store::postgres::testing::TestDatabase;
use serde_json::Value;
use serde_json::value::RawValue;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::harness::{TestServer, eventually};

/// A real HTTP receiver on a local port: records each request's body and
/// answers 200. Plain HTTP/1.1 over tokio, one request per connection.
struct Receiver {
    port: u16,
    bodies: Arc<Mutex<Vec<String>>>,
    _task: tokio::task::JoinHandle<()>,
}

impl Receiver {
    async fn start() -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind the receiver");
        let port = listener.local_addr().expect("receiver address").port();
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let recorded = bodies.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((mut socket, _)) = listener.accept().await else { return };
                let recorded = recorded.clone();
                tokio::spawn(async move {
                    if let Some(body) = read_request(&mut socket).await {
                        recorded.lock().unwrap().push(body);
                    }
                    let _ =
                        socket.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n").await;
                });
            }
        });
        Receiver { port, bodies, _task: task }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/slack", self.port)
    }

    /// The Slack texts received, in order.
    fn texts(&self) -> Vec<String> {
        let bodies = self.bodies.lock().unwrap().clone();
        bodies
            .iter()
            .map(|b| serde_json::from_str::<Value>(b).expect("JSON body")["text"].as_str().unwrap_or("").to_string())
            .collect()
    }
}

/// Reads one request's body (by its content-length).
async fn read_request(socket: &mut tokio::net::TcpStream) -> Option<String> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = socket.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else { continue };
        let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        if buf.len() >= end + 4 + length {
            return Some(String::from_utf8_lossy(&buf[end + 4..end + 4 + length]).into_owned());
        }
    }
}

fn config(receiver: &Receiver) -> String {
    format!(
        r#"
[monitoring]
interval = "1s"

[alerts.rules]
# The store's latency on a busy test machine is not what this is about.
store_latency = "30s"

[[alerts.channels]]
name = "team"
kind = "slack"
url = "{}"
"#,
        receiver.url()
    )
}

/// Makes one job of `queue` go dead through `node`, and answers its id.
async fn kill_a_job(node: &TestServer, queue: &str, error: &str) -> String {
    let payload = RawValue::from_string(r#"{"invoice":7}"#.into()).unwrap();
    let request = EnqueueRequest { max_attempts: Some(1), ..EnqueueRequest::new(payload) };
    let id = node.client().enqueue(queue, &request).await.expect("enqueue").id.to_string();
    let leased = node.client().lease(queue, &LeaseRequest { max: Some(1), ..LeaseRequest::default() }).await;
    let job = leased.expect("lease").jobs.into_iter().next().expect("the job is leased");
    let fail = FailRequest { lease_token: job.lease_token, error: error.into(), retryable: None };
    node.client().fail(&id, &fail).await.expect("fail");
    id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_send_each_alert_notice_once() {
    let Some(db) = TestDatabase::create("alerts on two nodes").await else { return };
    let receiver = Receiver::start().await;
    let toml = config(&receiver);
    let node = |key: Option<String>| {
        let mut b =
            TestServer::builder().env("DATABASE_URL", &db.url).env("RAMPART_POSTGRES__POOL_SIZE", "6").config(&toml);
        if let Some(key) = key {
            b = b.api_key(&key);
        }
        b.start()
    };
    let a = node(None).await;
    let b = node(Some(a.api_key().to_string())).await;
    let id = kill_a_job(&b, "billing", "card declined").await;

    let fired = eventually("one firing message", async || {
        let texts = receiver.texts();
        texts.iter().any(|t| t.contains("[FIRING]")).then_some(texts)
    })
    .await;
    assert!(fired[0].starts_with(":rotating_light: *[FIRING] new dead jobs on queue `billing`*: 1 (threshold 1)\n"));
    assert!(fired[0].contains(&format!("• job {id}: 1 attempt, last error: card declined")), "{}", fired[0]);
    eventually("one resolved message", async || {
        receiver.texts().iter().any(|t| t.contains("[RESOLVED]")).then_some(())
    })
    .await;
    // Both nodes go on sampling: wait until each has taken three more
    // samples, then count.
    for node in [&a, &b] {
        let first = sampled_at(node).await;
        eventually("three more samples", async || {
            let now = sampled_at(node).await;
            (now > first + 3_000).then_some(())
        })
        .await;
    }
    let texts = receiver.texts();
    let count = |needle: &str| texts.iter().filter(|t| t.contains(needle)).count();
    assert_eq!((count("[FIRING]"), count("[RESOLVED]"), texts.len()), (1, 1, 2), "{texts:#?}");

    // The alert as every node shows it, and the CLI.
    let listed: Value = a.cli().json(&["alerts", "list"]).await;
    let alert = &listed["alerts"][0];
    assert_eq!((alert["rule"].as_str(), alert["state"].as_str()), (Some("dead_letters"), Some("resolved")));
    let shown: Value = b.cli().json(&["alerts", "show", alert["id"].as_str().unwrap()]).await;
    assert_eq!(shown["dead_jobs"][0]["id"], id.as_str());
    let acked: Value = b.cli().json(&["alerts", "ack", alert["id"].as_str().unwrap()]).await;
    assert_eq!(acked["acked_by"], "admin");
    let tested = a.cli().run(&["alerts", "test"]).await;
    tested.expect_code(0);
    assert!(tested.stdout.contains("team") && tested.stdout.contains("sent"), "{}", tested.stdout);
    assert!(receiver.texts().last().unwrap().contains("rampart test message"));
}

/// When a node's monitor last sampled, as Unix milliseconds.
async fn sampled_at(node: &TestServer) -> i64 {
    let health = node.client().system_health().await.expect("system health");
    health.components.queues.sampled_at.map_or(0, |t| t.0)
}
