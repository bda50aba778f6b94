//! Log hygiene: every log line a request or a job makes, at the most
//! verbose level, captured into a buffer and searched for the secrets that
//! passed through: none may appear, while the request and job ids must.

use std::io::Write;
use std::sync::{Arc, Mutex};

use axum::http::{Method, StatusCode};
use rampart_client::worker::Worker;
use rampart_core::id::QueueName;
use rampart_core::job::JobState;
use rampart_server::engine::JobSpec;
use tracing_subscriber::fmt::MakeWriter;

use crate::harness::{TestApp, eventually};

/// Log output kept in memory.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Captured {
        self.clone()
    }
}

/// Every event and span of this thread, at TRACE, as JSON lines (with the
/// fields of the spans they happen in) into the buffer.
fn capture() -> (Captured, tracing::subscriber::DefaultGuard) {
    let buffer = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(buffer.clone())
        .json()
        .with_current_span(true)
        .with_span_list(true)
        .finish();
    (buffer, tracing::subscriber::set_default(subscriber))
}

// One thread, so the captured subscriber sees every task the test runs.
#[tokio::test(flavor = "current_thread")]
async fn requests_never_log_keys_authorization_headers_or_secrets() {
    let app = TestApp::new().await;
    let (logs, _guard) = capture();
    let admin = app.keys["admin"].clone();

    let listed = app.call(Method::GET, "/v1/queues").role("admin").header("x-request-id", "req-hygiene-1").send().await;
    assert_eq!(listed.status, StatusCode::OK);
    let created = app.send(Method::POST, "/v1/keys", Some(r#"{"name":"ci-deploy","role":"producer"}"#)).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let new_key = created.body["key"].as_str().unwrap().to_string();
    let forged = "rk_00000000000000000000000000000000000000000000000000000000000000ff";
    let refused = app.call(Method::GET, "/v1/queues").header("authorization", &format!("Bearer {forged}")).send().await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    let reported = app
        .send_as(
            "producer",
            Method::PUT,
            "/v1/integrations/stripe/connections/acct_1",
            Some(r#"{"status":"error","last_error":"bad signature with whsec_T0pS3cret for ada@example.com"}"#),
        )
        .await;
    assert_eq!(reported.status, StatusCode::OK, "{}", reported.body);
    assert_eq!(reported.body["last_error"], "bad signature with [secret] for [email]");
    let bad = app.send(Method::PUT, "/v1/integrations/stripe/connections/a", Some(r#"{"status":"nope"}"#)).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);

    let text = logs.text();
    assert!(text.contains("req-hygiene-1"), "the capture sees the request spans: {text}");
    for secret in [admin.as_str(), &app.keys["producer"], &new_key, forged, "whsec_T0pS3cret", "ada@example.com"] {
        assert!(!text.contains(secret), "a secret reached the logs: {secret}\n{text}");
    }
    assert!(!text.to_ascii_lowercase().contains("bearer"), "an Authorization header reached the logs:\n{text}");
}

#[tokio::test(flavor = "current_thread")]
async fn a_job_logs_inside_a_span_with_its_id() {
    let app = TestApp::new().await;
    let queue = QueueName::new("spans").unwrap();
    let spec = JobSpec { payload: "{}".into(), ..JobSpec::default() };
    let id = app.engine.enqueue(&queue, vec![spec]).await.unwrap()[0].id;
    let (logs, _guard) = capture();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let worker = Worker::new(app.engine.clone()).handle("spans", |_job| async {
        tracing::info!("handler says hello");
        Ok(None)
    });
    let running = tokio::spawn(worker.run(async move {
        let _ = stopped.await;
    }));
    eventually("the job to complete", || async {
        (app.engine.queue(&queue).await.unwrap().counts.get(JobState::Completed) >= 1).then_some(())
    })
    .await;
    let _ = stop.send(());
    running.await.unwrap().unwrap();
    let line = logs.text().lines().find(|l| l.contains("handler says hello")).map(str::to_string);
    let line: serde_json::Value = serde_json::from_str(&line.expect("the handler's line was captured")).unwrap();
    assert_eq!(line["span"]["name"], "job", "{line}");
    assert_eq!(line["span"]["job_id"], id.to_string(), "{line}");
    assert_eq!(line["span"]["queue"], "spans", "{line}");
}
