//! Circuit-breaker routes in process: the shared breakers' semantics over
//! HTTP on a manual clock, bad input, this node's in-process breakers, and
//! many clients at once.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::http::{Method, StatusCode};
use rampart_core::breaker::{BreakerPolicy, FailureRate, Outcome};
use rampart_core::id::BreakerName;
use rampart_guard::Breaker;
use rampart_server::config::Config;
use serde_json::Value;

use crate::harness::{Answer, TestApp};

fn name(s: &str) -> BreakerName {
    BreakerName::new(s).unwrap()
}

/// An app whose breaker `pay` opens after 3 failures and whose `slow`
/// counts calls over 1s as failures.
async fn app() -> TestApp {
    let breakers = BTreeMap::from([
        (name("pay"), BreakerPolicy { failure_threshold: 3, ..BreakerPolicy::default() }),
        (
            name("slow"),
            BreakerPolicy { failure_threshold: 2, slow_call: Some(Duration::from_secs(1)), ..BreakerPolicy::default() },
        ),
        (
            name("rate"),
            BreakerPolicy {
                failure_threshold: 100,
                failure_rate: Some(FailureRate { threshold: 0.5, window: Duration::from_secs(10), min_calls: 4 }),
                ..BreakerPolicy::default()
            },
        ),
    ]);
    TestApp::with_config(Config { breakers, ..Config::default() }).await
}

async fn acquire(app: &TestApp, breaker: &str) -> Answer {
    let a = app.send_as("worker", Method::POST, &format!("/v1/breakers/{breaker}/acquire"), None).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    a
}

async fn record(app: &TestApp, breaker: &str, outcome: &str, duration_ms: u64) -> Answer {
    let body = format!(r#"{{"outcome":"{outcome}","duration_ms":{duration_ms}}}"#);
    let a = app.send_as("producer", Method::POST, &format!("/v1/breakers/{breaker}/record"), Some(&body)).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    a
}

async fn show(app: &TestApp, breaker: &str) -> Value {
    let a = app.send_as("reader", Method::GET, &format!("/v1/breakers/{breaker}"), None).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    a.body
}

#[tokio::test]
async fn threshold_opens_cooldown_half_opens_and_a_probe_success_closes() {
    let app = app().await;
    let first = acquire(&app, "pay").await;
    assert_eq!(
        first.body,
        serde_json::json!({"allowed": true, "state": "closed", "probe": false, "retry_after_s": null})
    );
    assert_eq!(record(&app, "pay", "failure", 20).await.body["transition"], Value::Null);
    record(&app, "pay", "failure", 20).await;
    let opened = record(&app, "pay", "failure", 20).await.body;
    assert_eq!(opened["state"], "open");
    assert_eq!(opened["transition"]["from"], "closed");
    assert_eq!(opened["transition"]["reason"], "3 consecutive failures");

    app.clock.advance(Duration::from_millis(10_500));
    let refused = acquire(&app, "pay").await.body;
    assert_eq!((refused["allowed"].as_bool(), refused["state"].as_str()), (Some(false), Some("open")));
    assert_eq!(refused["retry_after_s"], 20, "19.5 s left, rounded up");

    app.clock.advance(Duration::from_secs(20));
    assert_eq!(show(&app, "pay").await["state"], "half_open", "a caller would now be let through");
    let probe = acquire(&app, "pay").await.body;
    assert_eq!((probe["allowed"].as_bool(), probe["probe"].as_bool()), (Some(true), Some(true)));
    assert_eq!(probe["state"], "half_open");
    assert_eq!(acquire(&app, "pay").await.body["allowed"], false, "one probe at a time");
    let closed = record(&app, "pay", "success", 20).await.body;
    assert_eq!(
        (closed["state"].as_str(), closed["transition"]["reason"].as_str()),
        (Some("closed"), Some("a probe call succeeded"))
    );

    let view = show(&app, "pay").await;
    assert_eq!(view["scope"], "shared");
    assert_eq!(view["policy"]["failure_threshold"], 3);
    assert_eq!(view["policy"]["cooldown"], "30s");
    let path: Vec<(&str, &str)> = view["transitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["from"].as_str().unwrap(), t["to"].as_str().unwrap()))
        .collect();
    assert_eq!(path, [("closed", "open"), ("open", "half_open"), ("half_open", "closed")]);
}

#[tokio::test]
async fn a_failed_probe_opens_again_and_slow_calls_fail() {
    let app = app().await;
    assert_eq!(record(&app, "slow", "success", 1_000).await.body["state"], "closed", "exactly slow_call is not slow");
    record(&app, "slow", "success", 1_001).await;
    let opened = record(&app, "slow", "success", 5_000).await.body;
    assert_eq!(
        (opened["state"].as_str(), opened["transition"]["reason"].as_str()),
        (Some("open"), Some("2 consecutive failures"))
    );
    app.clock.advance(Duration::from_secs(30));
    assert_eq!(acquire(&app, "slow").await.body["probe"], true);
    let reopened = record(&app, "slow", "success", 1_500).await.body;
    assert_eq!(reopened["state"], "open");
    assert_eq!(reopened["transition"]["reason"], "a probe call was too slow");
    assert_eq!(acquire(&app, "slow").await.body["retry_after_s"], 30);
}

#[tokio::test]
async fn the_failure_rate_counts_recent_calls_once_there_are_enough() {
    let app = app().await;
    for outcome in ["failure", "success", "failure"] {
        assert_eq!(record(&app, "rate", outcome, 1).await.body["state"], "closed");
    }
    assert_eq!(show(&app, "rate").await["window_calls"], 3);
    let opened = record(&app, "rate", "failure", 1).await.body;
    assert_eq!(opened["transition"]["reason"], "3 of the last 4 calls failed");
    let view = show(&app, "rate").await;
    assert_eq!((view["policy"]["failure_rate"].as_f64(), view["policy"]["min_calls"].as_u64()), (Some(0.5), Some(4)));
}

#[tokio::test]
async fn unknown_names_use_the_defaults_and_configured_ones_show_before_use() {
    let app = app().await;
    let listed = app.send_as("reader", Method::GET, "/v1/breakers", None).await.body;
    let names: Vec<&str> = listed["breakers"].as_array().unwrap().iter().map(|b| b["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["pay", "rate", "slow"], "configured breakers show before they are used");
    assert_eq!(listed["breakers"][0]["since"], Value::Null);
    assert_eq!(show(&app, "pay").await["state"], "closed");

    acquire(&app, "new-api").await;
    let view = show(&app, "new-api").await;
    assert_eq!(view["policy"]["failure_threshold"], 5, "a name without a table gets [breaker_defaults]");
    assert!(view["since"].is_string());
    let listed = app.send_as("reader", Method::GET, "/v1/breakers", None).await.body;
    assert_eq!(listed["breakers"].as_array().unwrap().len(), 4);
}

#[tokio::test]
async fn bad_input_is_refused_naming_what_is_wrong() {
    let app = app().await;
    let bad_name = app.send_as("worker", Method::POST, "/v1/breakers/has%20space/acquire", None).await;
    assert_eq!((bad_name.status, bad_name.code()), (StatusCode::BAD_REQUEST, "INVALID_BREAKER_NAME"));
    let bad_outcome =
        app.send_as("worker", Method::POST, "/v1/breakers/pay/record", Some(r#"{"outcome":"meh"}"#)).await;
    assert_eq!(bad_outcome.status, StatusCode::BAD_REQUEST);
    assert!(bad_outcome.message().contains("`outcome`"), "{}", bad_outcome.message());
    let missing = app.send_as("worker", Method::POST, "/v1/breakers/pay/record", Some("{}")).await;
    assert_eq!(missing.status, StatusCode::BAD_REQUEST);
    assert!(missing.message().contains("outcome"), "{}", missing.message());
    let unknown_field =
        app.send_as("worker", Method::POST, "/v1/breakers/pay/record", Some(r#"{"outcome":"success","ms":1}"#)).await;
    assert_eq!(unknown_field.status, StatusCode::BAD_REQUEST);
    assert!(unknown_field.message().contains("ms"), "{}", unknown_field.message());
    let negative = app
        .send_as("worker", Method::POST, "/v1/breakers/pay/record", Some(r#"{"outcome":"success","duration_ms":-1}"#))
        .await;
    assert_eq!(negative.status, StatusCode::BAD_REQUEST);
    assert!(negative.message().contains("duration_ms"), "{}", negative.message());
    for (method, path) in [(Method::GET, "/v1/breakers/never"), (Method::POST, "/v1/breakers/never/reset")] {
        let a = app.send(method, path, None).await;
        assert_eq!((a.status, a.code()), (StatusCode::NOT_FOUND, "BREAKER_NOT_FOUND"), "{}", a.body);
    }
}

#[tokio::test]
async fn one_breaker_always_shows_its_transitions_even_none() {
    let app = app().await;
    // Configured, never used.
    assert_eq!(show(&app, "pay").await["transitions"], serde_json::json!([]));
    // Used, and still closed: no transition yet.
    acquire(&app, "pay").await;
    record(&app, "pay", "success", 5).await;
    assert_eq!(show(&app, "pay").await["transitions"], serde_json::json!([]));
    // The list reads no transitions of shared breakers, and says none.
    let listed = app.send_as("reader", Method::GET, "/v1/breakers", None).await.body;
    let pay = listed["breakers"].as_array().unwrap().iter().find(|b| b["name"] == "pay").cloned().unwrap();
    assert!(pay.get("transitions").is_none(), "{pay}");
}

#[tokio::test]
async fn reset_closes_a_shared_breaker_for_everyone() {
    let app = app().await;
    for _ in 0..3 {
        record(&app, "pay", "failure", 1).await;
    }
    let reset = app.send(Method::POST, "/v1/breakers/pay/reset", None).await;
    assert_eq!(reset.status, StatusCode::OK, "{}", reset.body);
    assert_eq!(
        (reset.body["state"].as_str(), reset.body["transition"]["reason"].as_str()),
        (Some("closed"), Some("reset"))
    );
    assert_eq!(acquire(&app, "pay").await.body["allowed"], true);
    let again = app.send(Method::POST, "/v1/breakers/pay/reset", None).await;
    assert_eq!(again.body["transition"], Value::Null, "a closed breaker has no transition to record");
}

#[tokio::test]
async fn this_nodes_breakers_are_listed_read_and_reset_but_not_driven_over_http() {
    let app = app().await;
    let local = Arc::new(
        Breaker::new(BreakerPolicy { failure_threshold: 1, ..BreakerPolicy::default() }, app.clock.clone()).unwrap(),
    );
    app.breakers.register(name("push:hooks.example.com"), Arc::clone(&local));
    local.record(Outcome::Failure, Duration::from_millis(3));
    assert!(!local.acquire().is_allowed());

    let listed = app.send_as("reader", Method::GET, "/v1/breakers", None).await.body;
    let last = listed["breakers"].as_array().unwrap().last().unwrap().clone();
    assert_eq!((last["name"].as_str(), last["scope"].as_str()), (Some("push:hooks.example.com"), Some("node")));
    assert_eq!(last["state"], "open");
    assert_eq!(last["calls"], serde_json::json!({"successes": 0, "failures": 1, "rejections": 1}));
    assert_eq!(show(&app, "push:hooks.example.com").await["transitions"][0]["reason"], "1 consecutive failures");

    let driven = app.send_as("worker", Method::POST, "/v1/breakers/push:hooks.example.com/acquire", None).await;
    assert_eq!((driven.status, driven.code()), (StatusCode::CONFLICT, "BREAKER_IS_LOCAL"));
    let reset = app.send(Method::POST, "/v1/breakers/push:hooks.example.com/reset", None).await;
    assert_eq!(reset.body["state"], "closed");
    assert!(local.acquire().is_allowed(), "the reset reached the dispatcher's own breaker");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_clients_at_once_open_it_once_and_get_one_probe() {
    let app = Arc::new(app().await);
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..32 {
        let app = Arc::clone(&app);
        tasks.spawn(async move {
            let allowed = acquire(&app, "pay").await.body["allowed"].as_bool().unwrap();
            let step = record(&app, "pay", "failure", 5).await.body;
            (allowed, step["transition"]["to"].as_str().map(str::to_string))
        });
    }
    let mut opened = 0;
    while let Some(done) = tasks.join_next().await {
        let (_, transition) = done.unwrap();
        opened += usize::from(transition.as_deref() == Some("open"));
    }
    assert_eq!(opened, 1, "32 clients' failures open the breaker exactly once");

    app.clock.advance(Duration::from_secs(30));
    for _ in 0..32 {
        let app = Arc::clone(&app);
        tasks.spawn(async move { (acquire(&app, "pay").await.body["allowed"].as_bool().unwrap(), None) });
    }
    let mut admitted = 0;
    while let Some(done) = tasks.join_next().await {
        admitted += usize::from(done.unwrap().0);
    }
    assert_eq!(admitted, 1, "one probe among 32 clients");
    let view = show(&app, "pay").await;
    assert_eq!(view["transitions"].as_array().unwrap().len(), 2, "closed → open, open → half_open: {view}");
}
