//! Queue start rates through the API: a long-poll held back by a full
//! window wakes when the window ends (on the manual clock), and the queue's
//! view and the diagnostics show the rate with its open window.

use std::time::Duration;

use axum::http::{Method, StatusCode};
use rampart_core::id::QueueName;
use rampart_server::config::{Config, QueueConfig};
use serde_json::{Value, json};

use crate::harness::TestApp;

#[tokio::test]
async fn a_long_poll_held_back_by_the_rate_wakes_when_the_window_ends() {
    let mut config = Config::default();
    let rate = Some("2/1m".parse().unwrap());
    config.queues.insert(QueueName::new("sync").unwrap(), QueueConfig { rate, ..QueueConfig::default() });
    let app = TestApp::with_config(config).await;
    for _ in 0..3 {
        app.enqueue("sync", r#"{"payload":{}}"#).await;
    }
    assert_eq!(app.lease("sync", 10).await.len(), 2, "the window opened now admits two");
    app.clock.advance(Duration::from_secs(40));
    assert!(app.lease("sync", 10).await.is_empty(), "the third waits, available");

    let shown = app.send(Method::GET, "/v1/queues/sync", None).await;
    let reopens = "2027-01-15T08:01:00.000Z";
    assert_eq!(
        shown.body["rate"],
        json!({"rate": "2/1m", "started": 2, "groups": 1, "full": 1, "reopens_at": reopens}),
        "{}",
        shown.body
    );
    let diagnostics = app.send(Method::GET, "/v1/admin/diagnostics/background-jobs", None).await;
    let queues = diagnostics.body["queues"].as_array().unwrap();
    assert_eq!(queues.iter().find(|q| q["name"] == "sync").unwrap()["rate"], shown.body["rate"]);

    // A poll of 30s ends at +70s; the window ends at +60s, no enqueue
    // signals it, and the poll must start the job then.
    let poll = {
        let router = app.router.clone();
        let key = app.keys["worker"].clone();
        tokio::spawn(async move {
            use tower::ServiceExt;
            let req = axum::http::Request::post("/v1/queues/sync/lease")
                .header("authorization", format!("Bearer {key}"))
                .header("content-type", "application/json")
                .body(axum::body::Body::from(r#"{"max":5,"wait":"30s"}"#))
                .unwrap();
            let resp = router.oneshot(req).await.unwrap();
            assert_eq!(resp.status(), StatusCode::OK);
            let bytes = http_body_util::BodyExt::collect(resp.into_body()).await.unwrap().to_bytes();
            serde_json::from_slice::<Value>(&bytes).unwrap()
        })
    };
    // Asleep on its deadline and on the window's end.
    app.asleep(2).await;
    app.clock.advance(Duration::from_secs(20));
    let answer = tokio::time::timeout(Duration::from_secs(20), poll)
        .await
        .expect("the poll answers when the window ends, before its own deadline")
        .unwrap();
    assert_eq!(answer["jobs"].as_array().unwrap().len(), 1, "{answer}");
    let shown = app.send(Method::GET, "/v1/queues/sync", None).await;
    assert_eq!(shown.body["rate"]["started"], 1, "a new window opened with that start: {}", shown.body);
}
