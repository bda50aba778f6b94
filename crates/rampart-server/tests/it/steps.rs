//! Step routes end to end in process: a step recorded under the lease
//! (first writer wins), shown by the lease, the job and its steps route; a
//! durable sleep woken by the promoter; the limits with their bodies.

use std::time::Duration;

use axum::http::{Method, StatusCode};
use rampart_server::service::{Promoter, PromoterConfig};
use serde_json::{Value, json};

use crate::harness::TestApp;

async fn put_step(app: &TestApp, id: &str, step: &str, token: &str, result: &str) -> crate::harness::Answer {
    let body = format!(r#"{{"lease_token":"{token}","result":{result}}}"#);
    app.send_as("worker", Method::PUT, &format!("/v1/jobs/{id}/steps/{step}"), Some(&body)).await
}

fn token(job: &Value) -> String {
    job["lease_token"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn a_step_records_once_and_every_lease_carries_the_steps() {
    let app = TestApp::new().await;
    let id = app.enqueue("photos", r#"{"payload":{"album":7},"max_attempts":3}"#).await;
    let leased = app.lease("photos", 1).await.remove(0);
    assert_eq!(leased["steps"], json!({}));
    assert_eq!(leased["step_order"], json!([]));
    let t = token(&leased);
    let first = put_step(&app, &id, "analyze%20photos", &t, r#"{"labels":["cat"]}"#).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    assert_eq!(first.body, json!({"step": "analyze photos", "result": {"labels": ["cat"]}, "recorded": true}));
    let again = put_step(&app, &id, "analyze%20photos", &t, "1").await;
    assert_eq!(again.body, json!({"step": "analyze photos", "result": {"labels": ["cat"]}, "recorded": false}));
    put_step(&app, &id, "scope", &t, r#""small""#).await;
    // The attempt fails; the retry's lease carries both steps, in order.
    let fail = format!(r#"{{"lease_token":"{t}","error":"save failed"}}"#);
    assert_eq!(
        app.send_as("worker", Method::POST, &format!("/v1/jobs/{id}/fail"), Some(&fail)).await.status,
        StatusCode::OK
    );
    app.clock.advance(Duration::from_secs(60));
    Promoter::new(PromoterConfig::default(), app.engine.clone()).run_once().await.unwrap();
    let retry = app.lease("photos", 1).await.remove(0);
    assert_eq!(retry["steps"], json!({"analyze photos": {"labels": ["cat"]}, "scope": "small"}));
    assert_eq!(retry["step_order"], json!(["analyze photos", "scope"]));
    // The old token is no lease any more.
    let stale = put_step(&app, &id, "save", &t, "null").await;
    assert_eq!((stale.status, stale.code()), (StatusCode::CONFLICT, "LEASE_LOST"), "{}", stale.body);
    let job = app.job(&id).await;
    assert_eq!(job["steps"][1]["name"], "scope");
    assert_eq!(job["steps"][0]["attempt"], 1);
    let steps: Vec<&str> = job["history"].as_array().unwrap().iter().filter_map(|e| e["step"].as_str()).collect();
    assert_eq!(steps, ["analyze photos", "scope"]);
    let listed = app.send_as("reader", Method::GET, &format!("/v1/jobs/{id}/steps"), None).await;
    assert_eq!(listed.status, StatusCode::OK);
    assert_eq!(listed.body["steps"].as_array().unwrap().len(), 2);
    assert_eq!(listed.body["steps"][0]["result"], json!({"labels": ["cat"]}));
}

#[tokio::test]
async fn a_durable_sleep_gives_the_job_back_until_the_promoter_wakes_it() {
    let app = TestApp::new().await;
    let id = app.enqueue("naps", r#"{"payload":{}}"#).await;
    let t = token(&app.lease("naps", 1).await.remove(0));
    let body = format!(r#"{{"lease_token":"{t}","duration":"2s"}}"#);
    let slept = app.send_as("worker", Method::POST, &format!("/v1/jobs/{id}/steps/nap/sleep"), Some(&body)).await;
    assert_eq!(slept.status, StatusCode::OK, "{}", slept.body);
    assert_eq!((slept.body["recorded"].as_bool(), slept.body["state"].as_str()), (Some(true), Some("scheduled")));
    let job = app.job(&id).await;
    assert_eq!((job["state"].as_str(), job["attempt"].as_u64()), (Some("scheduled"), Some(0)));
    assert!(app.lease("naps", 1).await.is_empty());
    let promoter = Promoter::new(PromoterConfig::default(), app.engine.clone());
    app.clock.advance(Duration::from_millis(1_999));
    assert_eq!(promoter.run_once().await.unwrap(), 0);
    app.clock.advance(Duration::from_millis(1));
    assert_eq!(promoter.run_once().await.unwrap(), 1);
    let woken = app.lease("naps", 1).await.remove(0);
    assert_eq!(woken["attempt"], 1, "the sleep counted no attempt");
    assert_eq!(woken["step_order"], json!(["nap"]));
    // A replayed sleep is already recorded: the worker goes on holding the job.
    let body = format!(r#"{{"lease_token":"{}","duration":"2s"}}"#, token(&woken));
    let replay = app.send_as("worker", Method::POST, &format!("/v1/jobs/{id}/steps/nap/sleep"), Some(&body)).await;
    assert_eq!((replay.body["recorded"].as_bool(), replay.body["state"].as_str()), (Some(false), Some("active")));
    assert_eq!(replay.body["run_at"], slept.body["run_at"]);
}

#[tokio::test]
async fn step_requests_out_of_bounds_are_refused_with_a_named_reason() {
    let app = TestApp::new().await;
    let id = app.enqueue("bounds", r#"{"payload":{}}"#).await;
    let t = token(&app.lease("bounds", 1).await.remove(0));
    let big = format!("\"{}\"", "x".repeat(256 * 1024));
    let a = put_step(&app, &id, "big", &t, &big).await;
    assert_eq!((a.status, a.code()), (StatusCode::PAYLOAD_TOO_LARGE, "STEP_RESULT_TOO_LARGE"), "{}", a.body);
    let long = "x".repeat(201);
    let a = put_step(&app, &id, &long, &t, "1").await;
    assert_eq!((a.status, a.code()), (StatusCode::BAD_REQUEST, "INVALID_STEP"), "{}", a.body);
    let a = put_step(&app, &id, "a%2Fb", &t, "1").await;
    assert_eq!((a.status, a.code()), (StatusCode::BAD_REQUEST, "INVALID_STEP"), "{}", a.body);
    let path = format!("/v1/jobs/{id}/steps/nap/sleep");
    let a = app.send_as("worker", Method::POST, &path, Some(&format!(r#"{{"lease_token":"{t}"}}"#))).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST, "{}", a.body);
    assert!(a.message().contains("until"), "{}", a.message());
    let a = app
        .send_as("worker", Method::POST, &path, Some(&format!(r#"{{"lease_token":"{t}","duration":"400d"}}"#)))
        .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST, "{}", a.body);
    // A reader may read steps but not record them.
    let a = app
        .send_as("reader", Method::PUT, &format!("/v1/jobs/{id}/steps/s"), Some(r#"{"lease_token":"x","result":1}"#))
        .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    let a = app.send_as("reader", Method::GET, "/v1/jobs/999999/steps", None).await;
    assert_eq!((a.status, a.code()), (StatusCode::NOT_FOUND, "JOB_NOT_FOUND"));
}

#[tokio::test]
async fn a_waiting_job_completes_on_its_event_matches_one_sent_before_and_times_out_to_null() {
    let app = TestApp::new().await;
    let wait = |token: &str| {
        format!(
            r#"{{"lease_token":"{token}","event":"order.paid","match":{{"path":"data.order_id","value":"o-1"}},"timeout":"10m"}}"#
        )
    };
    // Parked until the matching event.
    let id = app.enqueue("orders", r#"{"payload":{}}"#).await;
    let t = token(&app.lease("orders", 1).await.remove(0));
    let path = format!("/v1/jobs/{id}/steps/paid/wait");
    let parked = app.send_as("worker", Method::POST, &path, Some(&wait(&t))).await;
    assert_eq!(parked.status, StatusCode::OK, "{}", parked.body);
    assert_eq!((parked.body["state"].as_str(), parked.body["result"].is_null()), (Some("waiting"), true));
    assert!(parked.body["timeout_at"].is_string());
    assert_eq!(app.job(&id).await["state"], "waiting");
    let queue = app.send(Method::GET, "/v1/queues/orders", None).await;
    assert_eq!(queue.body["counts"]["waiting"], 1, "{}", queue.body);
    let other = app
        .send_as("producer", Method::POST, "/v1/events/order.paid", Some(r#"{"payload":{"data":{"order_id":"o-2"}}}"#))
        .await;
    assert_eq!((other.status, other.body["woken"].as_u64()), (StatusCode::OK, Some(0)), "{}", other.body);
    let paid = r#"{"payload":{"data":{"order_id":"o-1","total":42}},"id":"evt-1"}"#;
    let sent = app.send_as("producer", Method::POST, "/v1/events/order.paid", Some(paid)).await;
    assert_eq!(sent.body, json!({"duplicate": false, "woken": 1}));
    let again = app.send_as("producer", Method::POST, "/v1/events/order.paid", Some(paid)).await;
    assert_eq!(again.body, json!({"duplicate": true, "woken": 0}));
    let resumed = app.lease("orders", 1).await.remove(0);
    assert_eq!(resumed["steps"]["paid"], json!({"data": {"order_id": "o-1", "total": 42}}));
    let done = format!(r#"{{"lease_token":"{}"}}"#, token(&resumed));
    let a = app.send_as("worker", Method::POST, &format!("/v1/jobs/{id}/complete"), Some(&done)).await;
    assert_eq!(a.body["state"], "completed", "{}", a.body);

    // The event came just before the wait: it matches at registration.
    let id = app.enqueue("orders", r#"{"payload":{}}"#).await;
    let t = token(&app.lease("orders", 1).await.remove(0));
    let matched = app.send_as("worker", Method::POST, &format!("/v1/jobs/{id}/steps/paid/wait"), Some(&wait(&t))).await;
    assert_eq!(matched.body["state"], "active", "{}", matched.body);
    assert_eq!(matched.body["result"]["data"]["total"], 42);

    // No event: the promoter times the wait out and the step is null.
    let id = app.enqueue("orders", r#"{"payload":{}}"#).await;
    let t = token(&app.lease("orders", 1).await.remove(0));
    let lonely = wait(&t).replace("o-1", "o-404");
    let a = app.send_as("worker", Method::POST, &format!("/v1/jobs/{id}/steps/paid/wait"), Some(&lonely)).await;
    assert_eq!(a.body["state"], "waiting");
    app.clock.advance(Duration::from_secs(600));
    assert_eq!(Promoter::new(PromoterConfig::default(), app.engine.clone()).run_once().await.unwrap(), 1);
    let resumed = app.lease("orders", 1).await.remove(0);
    assert_eq!(resumed["steps"], json!({"paid": null}));
}

#[tokio::test]
async fn waits_and_events_out_of_bounds_are_refused() {
    let app = TestApp::new().await;
    let id = app.enqueue("bounds", r#"{"payload":{}}"#).await;
    let t = token(&app.lease("bounds", 1).await.remove(0));
    let path = format!("/v1/jobs/{id}/steps/w/wait");
    for body in [
        format!(r#"{{"lease_token":"{t}","event":"e","timeout":"0s"}}"#),
        format!(r#"{{"lease_token":"{t}","event":"","timeout":"1m"}}"#),
        format!(r#"{{"lease_token":"{t}","event":"e","timeout":"1m","match":{{"path":"","value":1}}}}"#),
    ] {
        let a = app.send_as("worker", Method::POST, &path, Some(&body)).await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{body}: {}", a.body);
    }
    let big = format!(r#"{{"payload":"{}"}}"#, "x".repeat(256 * 1024));
    let a = app.send_as("producer", Method::POST, "/v1/events/e", Some(&big)).await;
    assert_eq!((a.status, a.code()), (StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE"), "{}", a.body);
    let a = app.send_as("worker", Method::POST, "/v1/events/e", Some(r#"{"payload":1}"#)).await;
    assert_eq!(a.status, StatusCode::FORBIDDEN, "a worker key sends no events");
}
