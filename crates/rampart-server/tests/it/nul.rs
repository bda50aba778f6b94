//! The NUL rule over HTTP (`rampart_core::nul`), on whichever store the
//! run uses (`TEST_STORE=postgres` is where NUL used to answer 500): names
//! and keys holding U+0000 answer 400 naming the field, free text is kept
//! with U+FFFD in place of each NUL, and JSON payloads and results with
//! `\u0000` inside round-trip.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::harness::TestApp;

/// Sends and expects a 400 whose message names `field` and NUL.
async fn refused(app: &TestApp, method: Method, path: &str, body: Option<&str>, field: &str) {
    let a = app.send(method.clone(), path, body).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST, "{method} {path} {body:?}: {}", a.body);
    assert!(
        a.message().contains(&format!("`{field}`")) && a.message().contains("NUL"),
        "{method} {path}: the message names `{field}` and NUL: {}",
        a.message()
    );
}

/// Leases one job of `queue`: its id and lease token.
async fn leased(app: &TestApp, queue: &str) -> (String, String) {
    let job = app.lease(queue, 1).await.remove(0);
    (job["id"].as_str().unwrap().to_string(), job["lease_token"].as_str().unwrap().to_string())
}

#[tokio::test]
async fn names_and_keys_with_nul_answer_400_naming_the_field() {
    let app = TestApp::new().await;
    let nul = r"a\u0000b";
    let q = "/v1/queues/q";
    refused(
        &app,
        Method::POST,
        &format!("{q}/jobs"),
        Some(&format!(r#"{{"payload":{{}},"unique_key":"{nul}"}}"#)),
        "unique_key",
    )
    .await;
    refused(
        &app,
        Method::POST,
        &format!("{q}/jobs/batch"),
        Some(&format!(r#"{{"jobs":[{{"payload":1}},{{"payload":2,"unique_key":"{nul}"}}]}}"#)),
        "jobs[1].unique_key",
    )
    .await;
    refused(&app, Method::POST, &format!("{q}/lease"), Some(&format!(r#"{{"worker":"{nul}"}}"#)), "worker").await;
    app.enqueue("q", r#"{"payload":{}}"#).await;
    let (id, _) = leased(&app, "q").await;
    let token = format!(r#"{{"lease_token":"{nul}"}}"#);
    for action in ["heartbeat", "complete", "release"] {
        refused(&app, Method::POST, &format!("/v1/jobs/{id}/{action}"), Some(&token), "lease_token").await;
    }
    refused(
        &app,
        Method::POST,
        &format!("/v1/jobs/{id}/fail"),
        Some(&format!(r#"{{"lease_token":"{nul}","error":"e"}}"#)),
        "lease_token",
    )
    .await;
    refused(
        &app,
        Method::POST,
        "/v1/acks",
        Some(&format!(r#"{{"complete":[{{"id":"{id}","lease_token":"{nul}"}}]}}"#)),
        "complete[0].lease_token",
    )
    .await;
    refused(&app, Method::POST, "/v1/keys", Some(&format!(r#"{{"name":"{nul}","role":"reader"}}"#)), "name").await;
    refused(&app, Method::DELETE, "/v1/keys/a%00b", None, "key").await;
    refused(&app, Method::POST, "/v1/ratelimit/check", Some(&format!(r#"{{"policy":"p","key":"{nul}"}}"#)), "key")
        .await;
    refused(
        &app,
        Method::POST,
        "/v1/ratelimit/check",
        Some(&format!(r#"{{"checks":[{{"policy":"p","key":"{nul}"}}]}}"#)),
        "checks[0].key",
    )
    .await;
    refused(&app, Method::GET, "/v1/ratelimit/policies/p/keys/a%00b", None, "key").await;
    refused(&app, Method::DELETE, "/v1/ratelimit/policies/p/keys/a%00b", None, "key").await;
    refused(
        &app,
        Method::POST,
        "/v1/alerts/silences",
        Some(&format!(r#"{{"duration":"1h","reason":"r","subject":"{nul}"}}"#)),
        "subject",
    )
    .await;
    // Names follow their alphabet, which has no NUL either.
    let a = app.send(Method::POST, "/v1/queues/a%00b/jobs", Some(r#"{"payload":{}}"#)).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST, "{}", a.body);
}

#[tokio::test]
async fn free_text_with_nul_is_kept_with_the_replacement_character() {
    let app = TestApp::new().await;
    // A worker whose command wrote a NUL to stderr can still fail its job.
    let id = app.enqueue("q", r#"{"payload":{}}"#).await;
    let (_, token) = leased(&app, "q").await;
    let fail = json!({"lease_token": token, "error": "exit 1: \u{0}stderr\u{0}"}).to_string();
    let a = app.send(Method::POST, &format!("/v1/jobs/{id}/fail"), Some(&fail)).await;
    assert_eq!((a.status, a.body["state"].as_str()), (StatusCode::OK, Some("scheduled")), "{}", a.body);
    assert_eq!(app.job(&id).await["last_error"], "exit 1: \u{FFFD}stderr\u{FFFD}");

    // The same in a batch of acks.
    let id = app.enqueue("batch", r#"{"payload":{}}"#).await;
    let (_, token) = leased(&app, "batch").await;
    let acks = json!({"fail": [{"id": id, "lease_token": token, "error": "\u{0}"}]}).to_string();
    let a = app.send(Method::POST, "/v1/acks", Some(&acks)).await;
    assert_eq!(a.body["results"][0]["state"], "scheduled", "{}", a.body);
    assert_eq!(app.job(&id).await["last_error"], "\u{FFFD}");

    let silence = json!({"duration": "1h", "reason": "deploy\u{0} window"}).to_string();
    let a = app.send(Method::POST, "/v1/alerts/silences", Some(&silence)).await;
    assert!(a.status.is_success(), "{}", a.body);
    assert_eq!(a.body["reason"], "deploy\u{FFFD} window");

    let report = json!({"status": "error", "last_error": "sync\u{0} failed"}).to_string();
    let a = app.send_as("producer", Method::PUT, "/v1/integrations/stripe/connections/acct_1", Some(&report)).await;
    assert!(a.status.is_success(), "{}", a.body);
    assert_eq!(a.body["last_error"], "sync\u{FFFD} failed");

    let cron = json!({"schedule": "@daily", "queue": "q", "description": "nightly\u{0} report"}).to_string();
    let a = app.send(Method::PUT, "/v1/cron/nightly", Some(&cron)).await;
    assert!(a.status.is_success(), "{}", a.body);
    assert_eq!(a.body["description"], "nightly\u{FFFD} report");
}

#[tokio::test]
async fn json_payloads_and_results_with_nul_round_trip() {
    let app = TestApp::new().await;
    let payload = json!({"s": "a\u{0}b", "list": ["\u{0}"], "k\u{0}": 1});
    let id = app.enqueue("json", &json!({"payload": payload}).to_string()).await;
    let job = app.lease("json", 1).await.remove(0);
    assert_eq!(job["payload"], payload, "as leased");
    let result = json!({"out": "\u{0}"});
    let done = json!({"lease_token": job["lease_token"], "result": result}).to_string();
    let a = app.send(Method::POST, &format!("/v1/jobs/{id}/complete"), Some(&done)).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let got: Value = app.job(&id).await;
    assert_eq!((&got["payload"], &got["result"]), (&payload, &result), "as read back");
}
