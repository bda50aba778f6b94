//! The HTTP API in process: roles on every route, the job lifecycle over
//! HTTP, and bad input answered with a clear 4xx.

use std::time::Duration;

use axum::http::{Method, StatusCode};
use rampart_core::auth::{Action, Role};
use rampart_server::config::Config;
use serde_json::json;

use crate::harness::TestApp;

/// Every route of the API with the action it needs. The walk below fails
/// if a route checks the wrong role, or none.
fn routes(job: &str) -> Vec<(Method, String, Option<&'static str>, Action)> {
    use Action::*;
    vec![
        (Method::POST, "/v1/queues/q/jobs".into(), Some(r#"{"payload":{}}"#), Enqueue),
        (Method::POST, "/v1/queues/q/jobs/batch".into(), Some(r#"{"jobs":[{"payload":1}]}"#), Enqueue),
        (Method::GET, "/v1/queues/q/jobs".into(), None, Read),
        (Method::POST, "/v1/queues/q/lease".into(), Some(r#"{"max":1}"#), Work),
        (Method::GET, format!("/v1/jobs/{job}"), None, Read),
        (Method::POST, format!("/v1/jobs/{job}/heartbeat"), Some(r#"{"lease_token":"x"}"#), Work),
        (Method::POST, format!("/v1/jobs/{job}/complete"), Some(r#"{"lease_token":"x"}"#), Work),
        (Method::POST, format!("/v1/jobs/{job}/fail"), Some(r#"{"lease_token":"x","error":"e"}"#), Work),
        (Method::POST, format!("/v1/jobs/{job}/release"), Some(r#"{"lease_token":"x"}"#), Work),
        (Method::POST, "/v1/acks".into(), Some(r#"{"complete":[]}"#), Work),
        (Method::POST, format!("/v1/jobs/{job}/lease/release"), None, Admin),
        (Method::POST, format!("/v1/jobs/{job}/lease/fail"), Some(r#"{"error":"stuck"}"#), Admin),
        (Method::POST, format!("/v1/jobs/{job}/retry"), None, Admin),
        (Method::POST, format!("/v1/jobs/{job}/cancel"), None, Admin),
        (Method::GET, "/v1/queues".into(), None, Read),
        (Method::GET, "/v1/queues/q".into(), None, Read),
        (Method::POST, "/v1/queues/q/dead/retry".into(), None, Admin),
        (Method::DELETE, "/v1/queues/q/dead".into(), None, Admin),
        (Method::POST, "/v1/queues/q/pause".into(), None, Admin),
        (Method::POST, "/v1/queues/q/resume".into(), None, Admin),
        (Method::DELETE, "/v1/queues/q".into(), None, Admin),
        (Method::POST, "/v1/keys".into(), Some(r#"{"name":"new-key","role":"reader"}"#), Admin),
        (Method::GET, "/v1/keys".into(), None, Admin),
        (Method::DELETE, "/v1/keys/no-such-key".into(), None, Admin),
        (Method::POST, "/v1/ratelimit/check".into(), Some(r#"{"policy":"p","key":"k"}"#), RateLimit),
        (Method::GET, "/v1/ratelimit/gate/p".into(), None, RateLimit),
        (Method::GET, "/v1/ratelimit/policies".into(), None, Read),
        (Method::GET, "/v1/ratelimit/policies/p".into(), None, Read),
        (Method::PUT, "/v1/ratelimit/policies/p".into(), Some(r#"{"limit":1,"window":"1s"}"#), Admin),
        (Method::DELETE, "/v1/ratelimit/policies/nope".into(), None, Admin),
        (Method::GET, "/v1/ratelimit/policies/p/keys/k".into(), None, Read),
        (Method::DELETE, "/v1/ratelimit/policies/p/keys/k".into(), None, Admin),
        (Method::PUT, "/v1/integrations/stripe/connections/acct_1".into(), Some(r#"{"status":"connected"}"#), Report),
        (Method::GET, "/v1/admin/diagnostics/background-jobs".into(), None, Admin),
        (Method::GET, "/v1/admin/diagnostics/integrations".into(), None, Admin),
        (Method::GET, "/v1/breakers".into(), None, Read),
        (Method::GET, "/v1/breakers/b".into(), None, Read),
        (Method::POST, "/v1/breakers/b/acquire".into(), None, RateLimit),
        (Method::POST, "/v1/breakers/b/record".into(), Some(r#"{"outcome":"success","duration_ms":5}"#), RateLimit),
        (Method::POST, "/v1/breakers/b/reset".into(), None, Admin),
        (Method::GET, "/v1/cron".into(), None, Read),
        (Method::GET, "/v1/cron/rampart.retention".into(), None, Read),
        (Method::GET, "/v1/cron/rampart.retention/runs".into(), None, Read),
        (Method::PUT, "/v1/cron/c".into(), Some(r#"{"schedule":"@hourly","queue":"q"}"#), Admin),
        (Method::POST, "/v1/cron/nope/trigger".into(), None, Admin),
        (Method::POST, "/v1/cron/nope/pause".into(), None, Admin),
        (Method::POST, "/v1/cron/nope/resume".into(), None, Admin),
        (Method::DELETE, "/v1/cron/nope".into(), None, Admin),
        (Method::GET, "/v1/monitoring/queue-metrics".into(), None, Read),
        (Method::GET, "/v1/monitoring/queue-metrics/q".into(), None, Read),
        (Method::GET, "/v1/monitoring/queue-health".into(), None, Read),
        (Method::GET, "/v1/monitoring/system-health".into(), None, Read),
        (Method::GET, "/metrics".into(), None, Read),
        (Method::GET, "/v1/alerts?state=firing".into(), None, Read),
        (Method::GET, "/v1/alerts/1".into(), None, Read),
        (Method::POST, "/v1/alerts/1/ack".into(), None, Admin),
        (Method::GET, "/v1/alerts/silences".into(), None, Read),
        (Method::POST, "/v1/alerts/silences".into(), Some(r#"{"duration":"1h","reason":"deploy"}"#), Admin),
        (Method::DELETE, "/v1/alerts/silences/999".into(), None, Admin),
        (Method::POST, "/v1/alerts/test".into(), None, Admin),
        (Method::GET, "/v1/admin/diagnostics/webhooks".into(), None, Admin),
        (Method::GET, "/v1/webhooks/sources".into(), None, Read),
        (Method::GET, "/v1/webhooks/sources/nope".into(), None, Read),
        (Method::PUT, "/v1/webhooks/sources/s".into(), Some(r#"{"scheme":"github","secret":"s"}"#), Admin),
        (Method::DELETE, "/v1/webhooks/sources/nope".into(), None, Admin),
        (Method::GET, "/v1/webhooks/deliveries".into(), None, Read),
        (Method::GET, "/v1/webhooks/deliveries/1".into(), None, Read),
        (Method::POST, "/v1/webhooks/deliveries/1/replay".into(), None, Admin),
        (Method::POST, "/v1/webhooks/deliveries/replay".into(), Some(r#"{"source":"s"}"#), Admin),
    ]
}

#[tokio::test]
async fn every_route_checks_its_role_through_one_extractor() {
    let app = TestApp::new().await;
    let job = app.enqueue("q", r#"{"payload":{}}"#).await;
    for (method, path, body, action) in routes(&job) {
        let anonymous = app.send_as("", method.clone(), &path, body).await;
        assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED, "{method} {path} without a key");
        assert_eq!(anonymous.code(), "UNAUTHORIZED");
        for role in Role::ALL {
            let a = app.send_as(role.as_str(), method.clone(), &path, body).await;
            if role.allows(action) {
                assert!(
                    a.status != StatusCode::FORBIDDEN && a.status != StatusCode::UNAUTHORIZED,
                    "{role} must be allowed {method} {path}: {} {}",
                    a.status,
                    a.body
                );
                assert!(!a.status.is_server_error(), "{method} {path} as {role}: {} {}", a.status, a.body);
            } else {
                assert_eq!(a.status, StatusCode::FORBIDDEN, "{role} must be refused {method} {path}: {}", a.body);
                assert_eq!(a.code(), "FORBIDDEN");
            }
        }
    }
    let bad_key = app.send_as("", Method::GET, "/v1/queues", None).await;
    assert_eq!(bad_key.status, StatusCode::UNAUTHORIZED);
    let health = app.send_as("", Method::GET, "/health", None).await;
    assert_eq!(health.status, StatusCode::OK);
    assert_eq!(health.body["status"], "ok");
    let ready = app.send_as("", Method::GET, "/health/ready", None).await;
    assert_eq!(ready.status, StatusCode::OK, "{}", ready.body);
    assert_eq!(ready.body["status"], "ready");
    let store = &ready.body["components"]["store"];
    let backend = app.engine.store().backend();
    assert_eq!((&store["status"], &store["backend"]), (&json!("up"), &json!(backend)), "{store}");
    assert!(store["latency_ms"].as_f64().is_some_and(|ms| ms >= 0.0), "{store}");
    assert!(store.get("error").is_none(), "{store}");
}

#[tokio::test]
async fn a_job_goes_from_enqueue_to_completed_with_its_history() {
    let app = TestApp::new().await;
    let id = app.enqueue("email-send", r#"{"payload":{"to":"a@b.c"},"max_attempts":2,"timeout":"30s"}"#).await;
    let leased = app.lease("email-send", 10).await;
    assert_eq!(leased.len(), 1);
    let job = &leased[0];
    assert_eq!(job["id"], id);
    assert_eq!(job["payload"], json!({"to": "a@b.c"}));
    assert_eq!((job["attempt"].as_u64(), job["max_attempts"].as_u64()), (Some(1), Some(2)));
    assert!(job["timeout_at"].is_string());
    let token = job["lease_token"].as_str().unwrap();
    let hb = app
        .send_as(
            "worker",
            Method::POST,
            &format!("/v1/jobs/{id}/heartbeat"),
            Some(&format!(r#"{{"lease_token":"{token}","lease":"1m"}}"#)),
        )
        .await;
    assert_eq!(hb.status, StatusCode::OK, "{}", hb.body);
    let wrong = app
        .send_as("worker", Method::POST, &format!("/v1/jobs/{id}/complete"), Some(r#"{"lease_token":"nope"}"#))
        .await;
    assert_eq!((wrong.status, wrong.code()), (StatusCode::CONFLICT, "LEASE_LOST"));
    let done = app
        .send_as(
            "worker",
            Method::POST,
            &format!("/v1/jobs/{id}/complete"),
            Some(&format!(r#"{{"lease_token":"{token}","result":{{"sent":true}}}}"#)),
        )
        .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    assert_eq!(done.body["state"], "completed");
    let view = app.job(&id).await;
    assert_eq!(view["state"], "completed");
    assert_eq!(view["result"], json!({"sent": true}));
    assert_eq!(view["timeout"], "30s");
    let reasons: Vec<&str> =
        view["history"].as_array().unwrap().iter().map(|e| e["reason"].as_str().unwrap()).collect();
    assert_eq!(reasons, ["enqueued", "leased", "completed"]);
    assert!(view["history"][1]["at"].as_str().unwrap().ends_with('Z'));
}

#[tokio::test]
async fn unique_keys_batches_and_acks() {
    let app = TestApp::new().await;
    let first = app.send(Method::POST, "/v1/queues/u/jobs", Some(r#"{"payload":1,"unique_key":"k"}"#)).await;
    assert_eq!(first.status, StatusCode::CREATED);
    let dup = app.send(Method::POST, "/v1/queues/u/jobs", Some(r#"{"payload":2,"unique_key":"k"}"#)).await;
    assert_eq!(dup.status, StatusCode::OK);
    assert_eq!(dup.body["duplicate"], true);
    assert_eq!(dup.body["id"], first.body["id"]);
    let batch = app
        .send(
            Method::POST,
            "/v1/queues/u/jobs/batch",
            Some(r#"{"jobs":[{"payload":1},{"payload":2},{"payload":3,"unique_key":"k"}]}"#),
        )
        .await;
    assert_eq!(batch.status, StatusCode::CREATED, "{}", batch.body);
    let ids = batch.body["ids"].as_array().unwrap();
    assert_eq!(ids.len(), 3);
    assert_eq!(ids[2], first.body["id"]);
    let leased = app.lease("u", 10).await;
    assert_eq!(leased.len(), 3);
    let ack = json!({
        "complete": [{"id": leased[0]["id"], "lease_token": leased[0]["lease_token"]}],
        "fail": [
            {"id": leased[1]["id"], "lease_token": leased[1]["lease_token"], "error": "nope", "retryable": false},
            {"id": leased[2]["id"], "lease_token": "stale", "error": "x"}
        ]
    });
    let a = app.send_as("worker", Method::POST, "/v1/acks", Some(&ack.to_string())).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let results = a.body["results"].as_array().unwrap();
    assert_eq!(results[0]["state"], "completed");
    assert_eq!(results[1]["state"], "dead");
    assert_eq!(results[2]["error"]["code"], "LEASE_LOST");
    let q = app.send(Method::GET, "/v1/queues/u", None).await;
    assert_eq!(q.body["counts"]["completed"], 1);
    assert_eq!(q.body["counts"]["dead"], 1);
    assert_eq!(q.body["counts"]["active"], 1);
    assert_eq!(q.body["totals"]["completed"], 1);
    assert_eq!(q.body["totals"]["dead"], 1);
}

#[tokio::test]
async fn dead_letters_can_be_listed_retried_and_purged() {
    let app = TestApp::new().await;
    for _ in 0..3 {
        app.enqueue("d", r#"{"payload":{},"max_attempts":1}"#).await;
    }
    for job in app.lease("d", 3).await {
        let body = json!({"lease_token": job["lease_token"], "error": "bad"}).to_string();
        let a = app.send(Method::POST, &format!("/v1/jobs/{}/fail", job["id"].as_str().unwrap()), Some(&body)).await;
        assert_eq!(a.body["state"], "dead");
    }
    let listed = app.send(Method::GET, "/v1/queues/d/jobs?state=dead&limit=2", None).await;
    assert_eq!(listed.body["jobs"].as_array().unwrap().len(), 2);
    let cursor = listed.body["next_cursor"].as_str().unwrap().to_string();
    let rest = app.send(Method::GET, &format!("/v1/queues/d/jobs?state=dead&limit=2&cursor={cursor}"), None).await;
    assert_eq!(rest.body["jobs"].as_array().unwrap().len(), 1);
    assert!(rest.body["next_cursor"].is_null());
    let first = listed.body["jobs"][0]["id"].as_str().unwrap().to_string();
    let one = app.send(Method::POST, "/v1/queues/d/dead/retry", Some(&json!({"ids": [first]}).to_string())).await;
    assert_eq!(one.body["retried"], 1);
    let purged = app.send(Method::DELETE, "/v1/queues/d/dead", None).await;
    assert_eq!(purged.body["purged"], 2);
    let again = app.job(&first).await;
    assert_eq!(again["state"], "available");
    assert_eq!(again["history"].as_array().unwrap().last().unwrap()["reason"], "retried");
}

#[tokio::test]
async fn a_queue_is_deleted_once_its_jobs_finished_and_not_before() {
    let app = TestApp::new().await;
    let done = app.enqueue("del", r#"{"payload":{}}"#).await;
    let waiting = app.enqueue("del", r#"{"payload":{}}"#).await;
    let leased = app.lease("del", 1).await;
    let busy = app.send(Method::DELETE, "/v1/queues/del", None).await;
    assert_eq!((busy.status, busy.code()), (StatusCode::CONFLICT, "QUEUE_NOT_EMPTY"));
    assert!(busy.message().contains("0 scheduled, 1 available and 1 active jobs"), "{}", busy.body);

    let body = json!({"lease_token": leased[0]["lease_token"]}).to_string();
    let id = leased[0]["id"].as_str().unwrap();
    assert_eq!(app.send(Method::POST, &format!("/v1/jobs/{id}/complete"), Some(&body)).await.status, StatusCode::OK);
    let other = if id == done { &waiting } else { &done };
    app.send(Method::POST, &format!("/v1/jobs/{other}/cancel"), None).await;
    let deleted = app.send(Method::DELETE, "/v1/queues/del", None).await;
    assert_eq!((deleted.status, &deleted.body), (StatusCode::OK, &json!({"name": "del", "jobs": 2})));
    let gone = app.send(Method::GET, "/v1/queues/del", None).await;
    assert_eq!((gone.status, gone.code()), (StatusCode::NOT_FOUND, "QUEUE_NOT_FOUND"));
    let job = app.send(Method::GET, &format!("/v1/jobs/{id}"), None).await;
    assert_eq!(job.status, StatusCode::NOT_FOUND, "its jobs went with it");
    let again = app.send(Method::DELETE, "/v1/queues/del", None).await;
    assert_eq!((again.status, again.code()), (StatusCode::NOT_FOUND, "QUEUE_NOT_FOUND"));
    let bad = app.send(Method::DELETE, "/v1/queues/bad%20name", None).await;
    assert_eq!((bad.status, bad.code()), (StatusCode::BAD_REQUEST, "INVALID_QUEUE_NAME"));
}

#[tokio::test]
async fn pause_stops_leasing_until_resume_and_cancel_retry_obey_states() {
    let app = TestApp::new().await;
    let id = app.enqueue("p", r#"{"payload":{}}"#).await;
    let paused = app.send(Method::POST, "/v1/queues/p/pause", None).await;
    assert_eq!(paused.body["paused"], true);
    assert!(app.lease("p", 1).await.is_empty());
    app.send(Method::POST, "/v1/queues/p/resume", None).await;
    let cancelled = app.send(Method::POST, &format!("/v1/jobs/{id}/cancel"), None).await;
    assert_eq!(cancelled.body["state"], "cancelled");
    assert!(app.lease("p", 1).await.is_empty());
    let retried = app.send(Method::POST, &format!("/v1/jobs/{id}/retry"), None).await;
    assert_eq!(retried.body["state"], "available");
    assert_eq!(app.lease("p", 1).await.len(), 1);
    let active_cancel = app.send(Method::POST, &format!("/v1/jobs/{id}/cancel"), None).await;
    assert_eq!((active_cancel.status, active_cancel.code()), (StatusCode::CONFLICT, "INVALID_STATE"));
    let active_retry = app.send(Method::POST, &format!("/v1/jobs/{id}/retry"), None).await;
    assert_eq!(active_retry.status, StatusCode::CONFLICT);
    let missing = app.send(Method::GET, "/v1/jobs/987654", None).await;
    assert_eq!((missing.status, missing.code()), (StatusCode::NOT_FOUND, "JOB_NOT_FOUND"));
}

#[tokio::test]
async fn a_long_poll_returns_as_soon_as_a_job_arrives() {
    let app = TestApp::new().await;
    let poll = {
        let router_app = app.router.clone();
        let key = app.keys["worker"].clone();
        tokio::spawn(async move {
            use tower::ServiceExt;
            let req = axum::http::Request::post("/v1/queues/lp/lease")
                .header("authorization", format!("Bearer {key}"))
                .body(axum::body::Body::from(r#"{"max":5,"wait":"30s"}"#))
                .unwrap();
            let resp = router_app.oneshot(req).await.unwrap();
            let bytes = http_body_util::BodyExt::collect(resp.into_body()).await.unwrap().to_bytes();
            serde_json::from_slice::<serde_json::Value>(&bytes).unwrap()
        })
    };
    // The poll is waiting (on its queue and on the clock for its 30s) before the enqueue.
    app.asleep(1).await;
    let id = app.enqueue("lp", r#"{"payload":{}}"#).await;
    let answer = tokio::time::timeout(Duration::from_secs(20), poll)
        .await
        .expect("the poll answers once the job exists")
        .unwrap();
    assert_eq!(answer["jobs"][0]["id"], id);
}

#[tokio::test]
async fn keys_can_be_created_listed_and_revoked() {
    let app = TestApp::new().await;
    let created = app.send(Method::POST, "/v1/keys", Some(r#"{"name":"w9","role":"worker"}"#)).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let key = created.body["key"].as_str().unwrap().to_string();
    assert!(key.starts_with(created.body["prefix"].as_str().unwrap()));
    let listed = app.send(Method::GET, "/v1/keys", None).await;
    assert!(listed.body["keys"].as_array().unwrap().iter().all(|k| k.get("key").is_none() && k.get("hash").is_none()));
    let dup = app.send(Method::POST, "/v1/keys", Some(r#"{"name":"w9","role":"worker"}"#)).await;
    assert_eq!(dup.status, StatusCode::CONFLICT);
    let bad_role = app.send(Method::POST, "/v1/keys", Some(r#"{"name":"x","role":"root"}"#)).await;
    assert_eq!(bad_role.status, StatusCode::BAD_REQUEST);
    assert!(bad_role.message().contains("role"), "{}", bad_role.message());
    let revoked = app.send(Method::DELETE, "/v1/keys/w9", None).await;
    assert_eq!(revoked.status, StatusCode::NO_CONTENT);
    let missing = app.send(Method::DELETE, "/v1/keys/w9", None).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn bad_input_gets_a_clear_4xx_naming_the_problem() {
    let config = Config { max_payload_bytes: 100, max_body_bytes: 4096, ..Config::default() };
    let app = TestApp::with_config(config).await;
    let big_payload = format!(r#"{{"payload":"{}"}}"#, "x".repeat(200));
    let big_body = format!(r#"{{"payload":"{}"}}"#, "x".repeat(5000));
    let cases: Vec<(&str, &str, StatusCode, &str, &str)> = vec![
        ("/v1/queues/q/jobs", "{not json", StatusCode::BAD_REQUEST, "INVALID_JSON", "not valid JSON"),
        (
            "/v1/queues/q/jobs",
            r#"{"payload":{},"priority":"high"}"#,
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
            "priority",
        ),
        (
            "/v1/queues/q/jobs",
            r#"{"payload":{},"max_attempts":-1}"#,
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
            "max_attempts",
        ),
        (
            "/v1/queues/q/jobs",
            r#"{"payload":{},"max_attempts":0}"#,
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
            "max_attempts",
        ),
        ("/v1/queues/q/jobs", r#"{"payload":{},"colour":"red"}"#, StatusCode::BAD_REQUEST, "INVALID_REQUEST", "colour"),
        ("/v1/queues/q/jobs", r#"{"delay":"5s"}"#, StatusCode::BAD_REQUEST, "INVALID_REQUEST", "payload"),
        ("/v1/queues/q/jobs", r#"{"payload":{},"delay":"soon"}"#, StatusCode::BAD_REQUEST, "INVALID_REQUEST", "delay"),
        (
            "/v1/queues/q/jobs",
            r#"{"payload":{},"timeout":"30"}"#,
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
            "timeout",
        ),
        (
            "/v1/queues/q/jobs",
            r#"{"payload":{},"run_at":"tomorrow"}"#,
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
            "run_at",
        ),
        (
            "/v1/queues/q/jobs",
            r#"{"payload":{},"delay":"1s","run_at":"2030-01-01T00:00:00Z"}"#,
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
            "not both",
        ),
        (
            "/v1/queues/bad%20name/jobs",
            r#"{"payload":{}}"#,
            StatusCode::BAD_REQUEST,
            "INVALID_QUEUE_NAME",
            "queue name",
        ),
        ("/v1/queues/q/jobs", &big_payload, StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE", "max_payload_bytes"),
        ("/v1/queues/q/jobs", &big_body, StatusCode::PAYLOAD_TOO_LARGE, "BODY_TOO_LARGE", "max_body_bytes"),
        (
            "/v1/queues/q/jobs/batch",
            r#"{"jobs":[{"payload":1},{"payload":2,"delay":"x"}]}"#,
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
            "jobs[1].delay",
        ),
        ("/v1/queues/q/jobs/batch", r#"{"jobs":[]}"#, StatusCode::BAD_REQUEST, "INVALID_REQUEST", "empty"),
        ("/v1/queues/q/lease", r#"{"max":0}"#, StatusCode::BAD_REQUEST, "INVALID_REQUEST", "max"),
        ("/v1/queues/q/lease", r#"{"wait":"31s"}"#, StatusCode::BAD_REQUEST, "INVALID_REQUEST", "wait"),
        ("/v1/queues/q/lease", r#"{"lease":"0s"}"#, StatusCode::BAD_REQUEST, "INVALID_REQUEST", "lease"),
        ("/v1/jobs/abc/complete", r#"{"lease_token":"t"}"#, StatusCode::BAD_REQUEST, "INVALID_JOB_ID", "job id"),
        (
            "/v1/acks",
            r#"{"complete":[{"id":"x","lease_token":"t"}]}"#,
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
            "complete[0].id",
        ),
    ];
    for (path, body, status, code, needle) in cases {
        let a = app.send(Method::POST, path, Some(body)).await;
        assert_eq!((a.status, a.code()), (status, code), "POST {path} {body}: {}", a.body);
        assert!(a.message().contains(needle), "POST {path}: message `{}` should mention `{needle}`", a.message());
    }
    let bad_state = app.send(Method::GET, "/v1/queues/q/jobs?state=done", None).await;
    assert_eq!(bad_state.status, StatusCode::BAD_REQUEST);
    assert!(bad_state.message().contains("state"));
    let big_batch = json!({"jobs": (0..10_001).map(|_| json!({"payload": 1})).collect::<Vec<_>>()}).to_string();
    let roomy = TestApp::with_config(Config { max_body_bytes: 1 << 20, ..Config::default() }).await;
    let a = roomy.send(Method::POST, "/v1/queues/q/jobs/batch", Some(&big_batch)).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert!(a.message().contains("10000"), "{}", a.message());
    // Nothing was half-written by any refused request.
    let q = app.send(Method::GET, "/v1/queues", None).await;
    assert!(q.body["queues"].as_array().unwrap().iter().all(|q| q["counts"]["available"] == 0));
    let unknown_route = app.send(Method::GET, "/v1/nothing", None).await;
    assert_eq!(unknown_route.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_job_read_with_wait_answers_when_it_ends_or_when_the_wait_is_over() {
    let app = TestApp::new().await;
    let id = app.enqueue("results", r#"{"payload":{}}"#).await;
    let waiting = {
        let app = &app;
        let path = format!("/v1/jobs/{id}?wait=10s");
        async move { app.send(Method::GET, &path, None).await }
    };
    let finish = async {
        // The reader is asleep on the clock before the job ends.
        app.asleep(1).await;
        let leased = app.lease("results", 1).await;
        let token = leased[0]["lease_token"].as_str().unwrap().to_string();
        let body = format!(r#"{{"lease_token":"{token}","result":{{"ok":true}}}}"#);
        let done = app.send_as("worker", Method::POST, &format!("/v1/jobs/{id}/complete"), Some(&body)).await;
        assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    };
    let (answer, ()) = tokio::join!(waiting, finish);
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!((&answer.body["state"], &answer.body["result"]), (&json!("completed"), &json!({"ok": true})));

    let other = app.enqueue("results", r#"{"payload":{}}"#).await;
    let waiting = {
        let app = &app;
        let path = format!("/v1/jobs/{other}?wait=5s");
        async move { app.send(Method::GET, &path, None).await }
    };
    let pass_time = async {
        app.asleep(1).await;
        app.clock.advance(Duration::from_secs(6));
    };
    let (answer, ()) = tokio::join!(waiting, pass_time);
    assert_eq!((answer.status, &answer.body["state"]), (StatusCode::OK, &json!("available")), "{}", answer.body);

    let too_long = app.send(Method::GET, &format!("/v1/jobs/{other}?wait=31s"), None).await;
    assert_eq!(too_long.status, StatusCode::BAD_REQUEST, "{}", too_long.body);
    assert!(too_long.message().contains("at most 30s"), "{}", too_long.body);
}

#[tokio::test]
async fn an_admin_releases_or_fails_a_held_lease_without_its_token() {
    let app = TestApp::new().await;
    let first = app.enqueue("held", r#"{"payload":{},"max_attempts":1}"#).await;
    let second = app.enqueue("held", r#"{"payload":{},"max_attempts":1}"#).await;
    let leased = app.lease("held", 2).await;
    let token = leased[0]["lease_token"].as_str().unwrap().to_string();

    let released = app.send(Method::POST, &format!("/v1/jobs/{first}/lease/release"), None).await;
    assert_eq!(released.status, StatusCode::OK, "{}", released.body);
    assert_eq!(released.body, json!({"id": first, "state": "available"}));
    let job = app.job(&first).await;
    assert_eq!((job["state"].as_str(), job["attempt"].as_u64()), (Some("available"), Some(0)), "not counted");
    // The worker's token no longer holds it.
    let late = app
        .send(Method::POST, &format!("/v1/jobs/{first}/complete"), Some(&format!(r#"{{"lease_token":"{token}"}}"#)))
        .await;
    assert_eq!((late.status, late.code()), (StatusCode::CONFLICT, "LEASE_LOST"));
    let again = app.send(Method::POST, &format!("/v1/jobs/{first}/lease/release"), None).await;
    assert_eq!((again.status, again.code()), (StatusCode::CONFLICT, "INVALID_STATE"));
    assert!(again.message().contains("only an active job has a lease"), "{}", again.body);

    let path = format!("/v1/jobs/{second}/lease/fail");
    let empty = app.send(Method::POST, &path, Some(r#"{"error":""}"#)).await;
    assert_eq!(empty.status, StatusCode::BAD_REQUEST, "{}", empty.body);
    assert!(empty.message().contains("`error`"), "{}", empty.body);
    let failed = app.send(Method::POST, &path, Some(r#"{"error":"hung on a socket"}"#)).await;
    assert_eq!(failed.status, StatusCode::OK, "{}", failed.body);
    assert_eq!(failed.body["state"], "dead", "its only attempt: the retry policy buries it");
    let job = app.job(&second).await;
    assert_eq!(job["last_error"], "failed by an operator (admin-key): hung on a socket", "naming the key");
    let missing = app.send(Method::POST, "/v1/jobs/424242/lease/fail", Some(r#"{"error":"x"}"#)).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND, "{}", missing.body);
}
