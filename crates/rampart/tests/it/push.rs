//! Push delivery through the real binary: a SIGTERM while slow deliveries
//! are in flight exits 0, leaves no job `active` in the store, uses no
//! attempt of the deliveries it cut off, and loses nothing: every job is
//! delivered after a restart.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::http::StatusCode;
use rampart_core::id::QueueName;
use rampart_core::job::JobState;
use rampart_store::Store;
use rampart_store::sqlite::{Durability, SqliteConfig};

use crate::harness::{TestServer, eventually};

/// A push endpoint on 127.0.0.1 that answers `204` after a delay the test
/// sets, counting the requests it got.
#[derive(Clone)]
struct Receiver {
    url: String,
    delay_ms: Arc<AtomicU64>,
    requests: Arc<AtomicU64>,
}

impl Receiver {
    async fn start(delay: Duration) -> Receiver {
        let delay_ms = Arc::new(AtomicU64::new(delay.as_millis() as u64));
        let requests = Arc::new(AtomicU64::new(0));
        let (d, r) = (delay_ms.clone(), requests.clone());
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move || {
                let (d, r) = (d.clone(), r.clone());
                async move {
                    r.fetch_add(1, Ordering::SeqCst);
                    // Answering slowly is the behaviour under test (deliveries
                    // in flight at a restart), not a wait for something.
                    tokio::time::sleep(Duration::from_millis(d.load(Ordering::SeqCst))).await;
                    StatusCode::NO_CONTENT
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind the receiver");
        let url = format!("http://{}/hook", listener.local_addr().expect("its address"));
        tokio::spawn(async move { axum::serve(listener, app).await });
        Receiver { url, delay_ms, requests }
    }

    fn requests(&self) -> u64 {
        self.requests.load(Ordering::SeqCst)
    }
}

/// Opens the stopped server's SQLite store, waiting for the lock its
/// process held to go.
async fn open_store(server: &TestServer) -> Store {
    let config = SqliteConfig { data_dir: server.data_dir(), durability: Durability::Normal };
    eventually("the store to be free", || {
        let config = config.clone();
        async move { Store::open_sqlite(config).await.ok() }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_during_push_deliveries_loses_nothing_and_leaves_no_job_active() {
    // Deliveries take 20 s, the grace is 1 s: the three in flight are cut off.
    let receiver = Receiver::start(Duration::from_secs(20)).await;
    let config = format!(
        "shutdown_grace = \"1s\"\n[queues.hook]\ntarget = \"{}\"\nconcurrency = 3\ntimeout = \"60s\"\n",
        receiver.url
    );
    let mut server = TestServer::builder().config(&config).start().await;
    let mut ids = Vec::new();
    for n in 0..5 {
        ids.push(server.enqueue("hook", &format!(r#"{{"n":{n}}}"#)).await);
    }
    eventually("three deliveries in flight", || std::future::ready((receiver.requests() >= 3).then_some(()))).await;
    // The target host's breaker is listed with the node's own breakers.
    let port = receiver.url.trim_start_matches("http://127.0.0.1:").trim_end_matches("/hook").to_string();
    let breakers = server.client().breakers().await.expect("GET /v1/breakers");
    let push = breakers.breakers.iter().find(|b| b.name == format!("push:127.0.0.1:{port}"));
    assert_eq!(push.map(|b| (b.scope.as_str(), b.state.as_str())), Some(("node", "closed")), "{breakers:?}");

    server.signal("TERM");
    server.wait_for_stderr("released the leases of cut-off push deliveries").await;
    let status = server.wait_exit().await;
    assert_eq!(status.code(), Some(0), "{status:?}");

    {
        let store = open_store(&server).await;
        let counts = store.queue_counts().await.expect("counts");
        let hook = counts.iter().find(|c| c.queue == QueueName::new("hook").unwrap()).expect("the queue's counts");
        assert_eq!(hook.get(JobState::Active), 0, "no job is left active");
        assert_eq!(hook.get(JobState::Available), 5, "every job is ready for the next node, none lost");
    }

    receiver.delay_ms.store(0, Ordering::SeqCst);
    // The store closes its file shortly after the last handle goes.
    eventually("the store's lock to be released", || {
        let config = SqliteConfig { data_dir: server.data_dir(), durability: Durability::Normal };
        async move { Store::open_sqlite(config).await.ok().map(drop) }
    })
    .await;
    server.restart().await;
    for id in &ids {
        let job = server.job_in_state(id, "completed").await;
        assert_eq!(job.attempt, 1, "a cut-off delivery used no attempt: {:#?}", job.history);
    }
}

/// A token a push target carries in its query string, as receivers such as
/// Zapier or a serverless function's URL expect one.
const TOKEN: &str = "tok_8f3Kq2ZxPushSecret";

/// `method path` with `key` (and a JSON body for a POST), answering the
/// status and the body as text.
async fn text(http: &reqwest::Client, server: &TestServer, key: &str, method: &str, path: &str) -> (u16, String) {
    let url = format!("{}{path}", server.url());
    let request = match method {
        "POST" if path.ends_with("/lease") => http.post(url).json(&serde_json::json!({"max": 1})),
        "POST" => http.post(url).json(&serde_json::json!({"payload": {}})),
        _ => http.get(url),
    };
    let response = request.bearer_auth(key).send().await.expect("the server answers");
    (response.status().as_u16(), response.text().await.expect("a body"))
}

#[tokio::test]
async fn a_push_targets_query_string_stays_out_of_logs_and_of_what_non_admins_read() {
    let target = format!("{}/hook?token={TOKEN}&team=ops", crate::harness::unused_url());
    let config = format!("[queues.hook]\ntarget = \"{target}\"\nmax_attempts = 1\ntimeout = \"5s\"\n");
    let server = TestServer::builder().config(&config).env("RAMPART_LOG", "debug").start().await;
    let id = server.enqueue("hook", r#"{"n":1}"#).await;
    let dead = server.job_in_state(&id, "dead").await;
    let error = dead.errors.last().map(|e| e.error.clone()).unwrap_or_default();
    assert!(error.contains("token=***"), "the delivery error names the target, its token hidden: {error}");

    let http = reqwest::Client::new();
    let admin = server.api_key().to_string();
    let mut keys = Vec::new();
    for role in ["reader", "worker", "producer"] {
        let created = http
            .post(format!("{}/v1/keys", server.url()))
            .bearer_auth(&admin)
            .json(&serde_json::json!({"name": role, "role": role}))
            .send()
            .await
            .expect("a key");
        let body: serde_json::Value = created.json().await.expect("JSON");
        keys.push((role, body["key"].as_str().expect("the key").to_string()));
    }
    let reads = [
        ("reader", "GET", format!("/v1/jobs/{id}")),
        ("reader", "GET", "/v1/queues".to_string()),
        ("reader", "GET", "/v1/queues/hook".to_string()),
        ("reader", "GET", "/v1/queues/hook/jobs?state=dead".to_string()),
        ("reader", "GET", "/v1/alerts".to_string()),
        ("reader", "GET", "/v1/breakers".to_string()),
        ("reader", "GET", "/v1/monitoring/queue-health".to_string()),
        ("worker", "POST", "/v1/queues/hook/lease".to_string()),
        ("producer", "POST", "/v1/queues/hook/jobs".to_string()),
    ];
    let mut seen = 0;
    for (role, method, path) in reads {
        let key = &keys.iter().find(|(r, _)| *r == role).expect("a key of the role").1;
        let (status, body) = text(&http, &server, key, method, &path).await;
        assert!(!body.contains(TOKEN), "{role} {method} {path} ({status}) shows the token: {body}");
        seen += usize::from(body.contains("token=***"));
    }
    assert!(seen >= 3, "the target is shown, its token hidden, in the job, queue and lease answers");
    // The admin diagnostics hide it too; only the admin's view of the queue,
    // which also shows its signing secret, has the target whole.
    let (_, diagnostics) = text(&http, &server, &admin, "GET", "/v1/admin/diagnostics/integrations").await;
    assert!(!diagnostics.contains(TOKEN) && diagnostics.contains("token=***"), "{diagnostics}");
    let (_, queue) = text(&http, &server, &admin, "GET", "/v1/queues/hook").await;
    assert!(queue.contains(&format!("token={TOKEN}")), "{queue}");

    let log = server.stderr();
    assert!(log.contains("token=***"), "the start-up line names the target, its token hidden:\n{log}");
    assert!(!log.contains(TOKEN), "the token reached the log:\n{log}");
}
