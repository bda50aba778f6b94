//! Every duration on the API has a maximum, answered 400 naming the field,
//! and every time the API answers is RFC 3339 (issue 13, item 3).

use axum::http::{Method, StatusCode};
use serde_json::Value;

use crate::harness::TestApp;

/// An RFC 3339 UTC time as the API writes it: `2026-01-31T12:00:00.000Z`.
fn is_rfc3339(value: &Value) -> bool {
    let Some(text) = value.as_str() else { return false };
    let bytes = text.as_bytes();
    let digits = |range: std::ops::Range<usize>| range.into_iter().all(|i| bytes[i].is_ascii_digit());
    text.len() == 24
        && digits(0..4)
        && bytes[4] == b'-'
        && bytes[10] == b'T'
        && bytes[19] == b'.'
        && text.ends_with('Z')
        && chrono_like(text)
}

/// The core parser agrees it is a time.
fn chrono_like(text: &str) -> bool {
    rampart_core::time::UnixMillis::parse_rfc3339(text).is_ok()
}

#[tokio::test]
async fn a_duration_past_its_maximum_is_refused_naming_the_field() {
    let app = TestApp::new().await;
    let job = app.enqueue("q", r#"{"payload":{}}"#).await;
    let cases: Vec<(String, &str, &str)> = vec![
        ("/v1/queues/q/lease".into(), r#"{"lease":"2562047788015h"}"#, "lease"),
        ("/v1/queues/q/lease".into(), r#"{"lease":"24h1ms"}"#, "lease"),
        ("/v1/queues/q/lease".into(), r#"{"wait":"31s"}"#, "wait"),
        (format!("/v1/jobs/{job}/heartbeat"), r#"{"lease_token":"t","lease":"2562047788015h"}"#, "lease"),
        ("/v1/queues/q/jobs".into(), r#"{"payload":{},"delay":"99999999999h"}"#, "delay"),
        ("/v1/queues/q/jobs".into(), r#"{"payload":{},"delay":"3651d"}"#, "delay"),
        ("/v1/queues/q/jobs".into(), r#"{"payload":{},"run_at":"9999-01-01T00:00:00Z"}"#, "run_at"),
        ("/v1/queues/q/jobs".into(), r#"{"payload":{},"timeout":"25h"}"#, "timeout"),
        (
            "/v1/queues/q/jobs/batch".into(),
            r#"{"jobs":[{"payload":1},{"payload":2,"delay":"99999999999h"}]}"#,
            "jobs[1].delay",
        ),
        ("/v1/alerts/silences".into(), r#"{"duration":"99999999999h","reason":"r"}"#, "duration"),
        ("/v1/alerts/silences".into(), r#"{"ends_at":"9999-01-01T00:00:00Z","reason":"r"}"#, "ends_at"),
    ];
    for (path, body, field) in cases {
        let a = app.send(Method::POST, &path, Some(body)).await;
        assert_eq!(
            (a.status, a.code()),
            (StatusCode::BAD_REQUEST, "INVALID_REQUEST"),
            "POST {path} {body}: {}",
            a.body
        );
        assert!(a.message().contains(field), "POST {path} {body}: `{}` should name `{field}`", a.message());
    }
    // Nothing was enqueued by the refused requests, and the job still waits.
    assert_eq!(app.lease("q", 10).await.len(), 1);
}

#[tokio::test]
async fn the_longest_durations_allowed_answer_rfc3339_times() {
    let app = TestApp::new().await;
    let later = app.enqueue("q", r#"{"payload":{},"delay":"3650d","timeout":"24h"}"#).await;
    let job = app.job(&later).await;
    assert_eq!(job["state"], "scheduled");
    assert!(is_rfc3339(&job["run_at"]), "{}", job["run_at"]);
    assert_eq!(job["timeout"], "1d");

    app.enqueue("q", r#"{"payload":{}}"#).await;
    let a = app.send(Method::POST, "/v1/queues/q/lease", Some(r#"{"lease":"24h"}"#)).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let leased = &a.body["jobs"][0];
    assert!(is_rfc3339(&leased["lease_expires_at"]), "{}", leased["lease_expires_at"]);
    let heartbeat = format!(r#"{{"lease_token":{},"lease":"24h"}}"#, leased["lease_token"]);
    let path = format!("/v1/jobs/{}/heartbeat", leased["id"].as_str().unwrap());
    let a = app.send(Method::POST, &path, Some(&heartbeat)).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert!(is_rfc3339(&a.body["lease_expires_at"]), "{}", a.body);
}
