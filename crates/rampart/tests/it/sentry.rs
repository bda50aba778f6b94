//! Error reporting end to end: a local HTTP receiver stands in for Sentry
//! (`SENTRY_DSN=http://public@127.0.0.1:PORT/1`), the real binary runs on a
//! PostgreSQL database of the test's own, and a row the test damages makes
//! a route fail with an internal error whose message quotes an e-mail
//! address. The receiver gets the event with the address scrubbed; the same
//! failure without `SENTRY_DSN` sends nothing.
//!
//! Without PostgreSQL (outside CI) that test says so and skips. An app's
//! error events (`POST /v1/errors`) go on to Sentry, scrubbed, only with
//! `errors.relay_to_sentry` as well as a DSN (on SQLite).

use std::sync::{Arc, Mutex};

use rampart_store::postgres::testing::TestDatabase;
use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::TcpListener;

use crate::harness::{TestServer, eventually};

/// What the stand-in for Sentry received: `(request line, body)` per request.
#[derive(Clone, Default)]
struct Received(Arc<Mutex<Vec<(String, String)>>>);

impl Received {
    fn all(&self) -> Vec<(String, String)> {
        self.0.lock().unwrap().clone()
    }
}

/// Serves HTTP/1.1 on a free port, answering every request 200 `{}` after
/// keeping its request line and body; answers the port.
async fn sentry_receiver() -> (u16, Received) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind the receiver");
    let port = listener.local_addr().unwrap().port();
    let received = Received::default();
    let keep = received.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let keep = keep.clone();
            tokio::spawn(async move {
                let mut stream = BufReader::new(stream);
                loop {
                    let mut request_line = String::new();
                    if stream.read_line(&mut request_line).await.unwrap_or(0) == 0 {
                        return;
                    }
                    let mut length = 0;
                    loop {
                        let mut header = String::new();
                        if stream.read_line(&mut header).await.unwrap_or(0) == 0 {
                            return;
                        }
                        if header.trim().is_empty() {
                            break;
                        }
                        if let Some((name, value)) = header.split_once(':')
                            && name.eq_ignore_ascii_case("content-length")
                        {
                            length = value.trim().parse().unwrap_or(0);
                        }
                    }
                    let mut body = vec![0; length];
                    if stream.read_exact(&mut body).await.is_err() {
                        return;
                    }
                    let body = String::from_utf8_lossy(&body).into_owned();
                    keep.0.lock().unwrap().push((request_line.trim().to_string(), body));
                    let answer = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}";
                    if stream.get_mut().write_all(answer.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (port, received)
}

/// An address in the damaged row: the internal error quotes it.
const EMAIL: &str = "ada.lovelace@example.com";

/// Damages the integrations table: a platform name no report could store.
async fn damage(db: &TestDatabase) {
    let (client, connection) = tokio_postgres::connect(&db.url, tokio_postgres::NoTls).await.expect("connect");
    tokio::spawn(connection);
    client
        .execute(
            "INSERT INTO integrations (platform, connection_id, status, reported_by, created_at, updated_at)
             VALUES ($1, 'acct-1', 'connected', 'app', 0, 0)",
            &[&EMAIL],
        )
        .await
        .expect("insert the damaged row");
}

/// Asks for the integrations diagnostics, which fail on the damaged row,
/// as request `request_id`.
async fn fail_once(server: &TestServer, request_id: &str) {
    let answer = reqwest::Client::new()
        .get(format!("{}/v1/admin/diagnostics/integrations", server.url()))
        .bearer_auth(server.api_key())
        .header("x-request-id", request_id)
        .send()
        .await
        .expect("the server answers");
    assert_eq!(answer.status().as_u16(), 500);
    let body: serde_json::Value = answer.json().await.expect("a JSON error");
    assert_eq!(body["error"]["code"], "INTERNAL", "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn internal_errors_reach_sentry_scrubbed_and_only_with_a_dsn() {
    let Some(db) = TestDatabase::create("error reporting end to end").await else { return };
    let (port, received) = sentry_receiver().await;

    // Without a DSN: the failure is logged, nothing is sent.
    let mut quiet = TestServer::builder().env("DATABASE_URL", &db.url).start().await;
    damage(&db).await;
    fail_once(&quiet, "req-without-dsn").await;
    quiet.wait_for_stderr("is not a platform name").await;
    assert!(!quiet.stderr().contains("reported to Sentry"), "{}", quiet.stderr());
    quiet.signal("TERM");
    assert!(quiet.wait_exit().await.success());
    assert!(received.all().is_empty(), "sent without a DSN: {:?}", received.all());

    // With one: the event arrives, scrubbed, and the server's own key with it never.
    let dsn = format!("http://public@127.0.0.1:{port}/1");
    let server = TestServer::builder()
        .env("DATABASE_URL", &db.url)
        .env("SENTRY_DSN", &dsn)
        .env("RAMPART_SENTRY__ENVIRONMENT", "e2e")
        .api_key(quiet.api_key())
        .start()
        .await;
    assert!(!server.stderr().contains("public@"), "the DSN's key is not logged: {}", server.stderr());
    fail_once(&server, "req-with-dsn").await;
    let (request, envelope) = eventually("the error to reach the receiver", || {
        let received = received.clone();
        async move { received.all().into_iter().find(|(_, body)| body.contains("is not a platform name")) }
    })
    .await;
    assert!(request.starts_with("POST /api/1/envelope/"), "{request}");
    assert!(envelope.contains(r#""environment":"e2e""#), "{envelope}");
    assert!(envelope.contains(r#""request_id":"req-with-dsn""#), "tagged with the request: {envelope}");
    assert!(envelope.contains("[email]"), "{envelope}");
    for secret in [EMAIL, server.api_key()] {
        assert!(!envelope.contains(secret), "{secret} reached Sentry: {envelope}");
    }
}

/// Reports an app's error event as request `request_id`.
async fn report_error(server: &TestServer, body: serde_json::Value) {
    let answer = reqwest::Client::new()
        .post(format!("{}/v1/errors", server.url()))
        .bearer_auth(server.api_key())
        .json(&body)
        .send()
        .await
        .expect("the server answers");
    assert_eq!(answer.status().as_u16(), 201);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn app_error_events_are_relayed_to_sentry_scrubbed_only_when_asked() {
    let (port, received) = sentry_receiver().await;
    let dsn = format!("http://public@127.0.0.1:{port}/1");
    let event = |kind: &str| {
        serde_json::json!({"level": "error", "kind": kind, "message": format!("card of {EMAIL} declined"),
            "tags": {"region": "eu"}})
    };

    // A DSN alone relays the server's own errors, not the app's events.
    let mut quiet = TestServer::builder().env("SENTRY_DSN", &dsn).start().await;
    report_error(&quiet, event("payments.unrelayed")).await;
    quiet.signal("TERM");
    assert!(quiet.wait_exit().await.success());

    // With `errors.relay_to_sentry`, each event goes on, scrubbed and tagged.
    let server =
        TestServer::builder().env("SENTRY_DSN", &dsn).env("RAMPART_ERRORS__RELAY_TO_SENTRY", "true").start().await;
    report_error(&server, event("payments.declined")).await;
    let (_, envelope) = eventually("the app's event to reach the receiver", || {
        let received = received.clone();
        async move { received.all().into_iter().find(|(_, body)| body.contains("payments.declined")) }
    })
    .await;
    assert!(envelope.contains(r#""source":"app""#), "{envelope}");
    assert!(envelope.contains(r#""region":"eu""#), "{envelope}");
    assert!(envelope.contains("[email]"), "{envelope}");
    assert!(!envelope.contains(EMAIL), "{EMAIL} reached Sentry: {envelope}");
    assert!(
        !received.all().iter().any(|(_, body)| body.contains("payments.unrelayed")),
        "relayed without relay_to_sentry"
    );
}
