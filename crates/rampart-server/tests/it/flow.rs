//! Parent/child flows through the API: a parent waits for its children and
//! its lease carries their outcomes; a dead child fails it (or not, under
//! `ignore`); cancelling it cascades; the limits are refused by name.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::harness::TestApp;

fn children(n: usize, queue: &str) -> Vec<Value> {
    (0..n).map(|i| json!({"queue": queue, "payload": {"shard": i}, "max_attempts": 1})).collect()
}

/// Enqueues a parent into `report`; answers the enqueue's answer.
async fn flow(app: &TestApp, body: Value) -> Value {
    let a = app.send(Method::POST, "/v1/queues/report/jobs", Some(&body.to_string())).await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
    a.body
}

async fn complete(app: &TestApp, job: &Value) {
    let body = json!({"lease_token": job["lease_token"], "result": {"done": job["payload"]}}).to_string();
    let a = app.send(Method::POST, &format!("/v1/jobs/{}/complete", job["id"].as_str().unwrap()), Some(&body)).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
}

async fn fail(app: &TestApp, job: &Value) {
    let body = json!({"lease_token": job["lease_token"], "error": "shard broke", "retryable": false}).to_string();
    let a = app.send(Method::POST, &format!("/v1/jobs/{}/fail", job["id"].as_str().unwrap()), Some(&body)).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
}

fn id(v: &Value) -> &str {
    v["id"].as_str().unwrap()
}

#[tokio::test]
async fn a_parent_with_a_hundred_children_runs_after_the_last_one_with_their_results() {
    let app = TestApp::new().await;
    let parent = flow(&app, json!({"payload": {"report": 1}, "children": children(100, "shard")})).await;
    assert_eq!(parent["state"], "waiting");
    assert_eq!(parent["children"].as_array().unwrap().len(), 100);
    let first_child = parent["children"][0]["id"].as_str().unwrap().to_string();
    assert_eq!(app.job(&first_child).await["parent_id"], parent["id"]);

    let mut leased = app.lease("shard", 100).await;
    assert_eq!(leased.len(), 100);
    let last = leased.pop().unwrap();
    for job in &leased {
        complete(&app, job).await;
    }
    app.engine.promote_once().await.unwrap();
    assert!(app.lease("report", 1).await.is_empty(), "the parent waits for its last child");
    let waiting = app.job(id(&parent)).await;
    assert_eq!((waiting["state"].as_str(), waiting["pending_children"].as_u64()), (Some("waiting"), Some(1)));
    assert_eq!(waiting["children"], json!([{"state": "active", "count": 1}, {"state": "completed", "count": 99}]));
    let queues = app.send(Method::GET, "/v1/queues/report", None).await;
    assert_eq!(queues.body["counts"]["waiting"], 1, "{}", queues.body);

    complete(&app, &last).await;
    app.engine.promote_once().await.unwrap();
    let run = app.lease("report", 1).await;
    assert_eq!(run.len(), 1, "the parent runs after the last child");
    let outcomes = run[0]["children"].as_array().unwrap();
    assert_eq!(outcomes.len(), 100);
    assert!(
        outcomes.iter().all(|c| c["state"] == "completed" && c["queue"] == "shard" && c["result"]["done"].is_object())
    );
    assert!(app.lease("report", 1).await.is_empty(), "and runs once");
}

#[tokio::test]
async fn a_dead_child_fails_the_parent_and_cancels_its_siblings() {
    let app = TestApp::new().await;
    let parent = flow(&app, json!({"payload": {}, "children": children(3, "shard")})).await;
    let held = app.lease("shard", 1).await.remove(0);
    fail(&app, &held).await;
    let dead = app.job(id(&parent)).await;
    assert_eq!(dead["state"], "dead");
    let error = dead["last_error"].as_str().unwrap();
    assert!(error.contains(id(&held)) && error.contains("shard broke"), "{error}");
    assert_eq!(dead["children"], json!([{"state": "dead", "count": 1}, {"state": "cancelled", "count": 2}]));
}

#[tokio::test]
async fn under_ignore_the_parent_runs_with_the_child_s_error() {
    let app = TestApp::new().await;
    let parent = flow(&app, json!({"payload": {}, "on_child_dead": "ignore", "children": children(2, "shard")})).await;
    let held = app.lease("shard", 2).await;
    fail(&app, &held[0]).await;
    complete(&app, &held[1]).await;
    app.engine.promote_once().await.unwrap();
    let run = app.lease("report", 1).await.remove(0);
    assert_eq!(run["id"], parent["id"]);
    let outcomes = run["children"].as_array().unwrap();
    assert_eq!(outcomes[0]["state"], "dead");
    assert_eq!(outcomes[0]["error"], "shard broke");
    assert_eq!(outcomes[1]["state"], "completed");
}

#[tokio::test]
async fn cancelling_a_parent_cancels_its_children_not_started() {
    let app = TestApp::new().await;
    let nested = json!({"queue": "mid", "payload": {}, "children": children(2, "leaf")});
    let mut kids = children(2, "shard");
    kids.push(nested);
    let parent = flow(&app, json!({"payload": {}, "children": kids})).await;
    let running = app.lease("shard", 1).await.remove(0);
    let a = app.send(Method::POST, &format!("/v1/jobs/{}/cancel", id(&parent)), None).await;
    assert!(a.status.is_success(), "{}", a.body);
    assert_eq!(app.job(id(&parent)).await["state"], "cancelled");
    let other = &parent["children"][1];
    assert_eq!(app.job(id(other)).await["state"], "cancelled");
    for leaf in parent["children"][2]["children"].as_array().unwrap() {
        assert_eq!(app.job(id(leaf)).await["state"], "cancelled");
    }
    complete(&app, &running).await;
    assert_eq!(app.job(id(&parent)).await["state"], "cancelled", "a running child finishes and wakes nobody");
}

#[tokio::test]
async fn an_empty_list_of_children_runs_the_parent_at_once() {
    let app = TestApp::new().await;
    let parent = flow(&app, json!({"payload": {}, "children": []})).await;
    assert_eq!(parent["state"], "available");
    let run = app.lease("report", 1).await.remove(0);
    assert_eq!(run["children"], json!([]));
    // A plain job carries no `children` at all.
    app.enqueue("plain", r#"{"payload":{}}"#).await;
    assert!(app.lease("plain", 1).await[0].get("children").is_none());
}

#[tokio::test]
async fn a_child_done_before_anyone_reads_the_parent_is_counted() {
    let app = TestApp::new().await;
    let (a, b) = tokio::join!(flow(&app, json!({"payload": {}, "children": children(1, "fast")})), async {
        // Leases racing the enqueue: the flow commits as one, so a child
        // is never leased before its parent waits.
        loop {
            let got = app.lease("fast", 1).await;
            if let Some(job) = got.into_iter().next() {
                complete(&app, &job).await;
                return job;
            }
            tokio::task::yield_now().await;
        }
    });
    assert_eq!(a["children"][0]["id"], b["id"]);
    assert_eq!(app.job(id(&a)).await["state"], "scheduled");
    app.engine.promote_once().await.unwrap();
    assert_eq!(app.lease("report", 1).await.len(), 1);
}

#[tokio::test]
async fn flow_limits_are_refused_by_name() {
    let app = TestApp::new().await;
    let mut deep = json!({"queue": "q", "payload": {}});
    for _ in 0..5 {
        deep = json!({"queue": "q", "payload": {}, "children": [deep]});
    }
    let cases = [
        (json!({"payload": {}, "children": [deep]}), StatusCode::BAD_REQUEST, "at most 5 levels"),
        (json!({"payload": {}, "children": children(1000, "q")}), StatusCode::BAD_REQUEST, "at most 1000 jobs"),
        (json!({"payload": {}, "children": [{"payload": {}}]}), StatusCode::BAD_REQUEST, "`children[0].queue`"),
        (json!({"payload": {}, "on_child_dead": "ignore"}), StatusCode::BAD_REQUEST, "`on_child_dead`"),
        (json!({"payload": {}, "children": [], "on_child_dead": "maybe"}), StatusCode::BAD_REQUEST, "maybe"),
    ];
    for (body, status, part) in cases {
        let a = app.send(Method::POST, "/v1/queues/report/jobs", Some(&body.to_string())).await;
        assert_eq!(a.status, status, "{}", a.body);
        assert!(a.body["error"]["message"].as_str().unwrap().contains(part), "{}", a.body);
    }
    let keyed = app
        .call(Method::POST, "/v1/queues/report/jobs")
        .role("admin")
        .header("idempotency-key", "k1")
        .body(r#"{"payload":{},"children":[]}"#)
        .send()
        .await;
    assert_eq!(keyed.status, StatusCode::BAD_REQUEST, "{}", keyed.body);
    assert!(keyed.message().contains("Idempotency-Key"));
    let counts = app.send(Method::GET, "/v1/queues", None).await;
    assert!(!counts.body.to_string().contains("\"q\""), "nothing of a refused flow was stored: {}", counts.body);
}

#[tokio::test]
async fn a_batch_may_hold_flows() {
    let app = TestApp::new().await;
    let body = json!({"jobs": [{"payload": {}}, {"payload": {}, "children": children(2, "shard")}]}).to_string();
    let a = app.send(Method::POST, "/v1/queues/report/jobs/batch", Some(&body)).await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
    let ids = a.body["ids"].as_array().unwrap();
    assert_eq!(app.job(ids[1].as_str().unwrap()).await["state"], "waiting");
    assert_eq!(app.lease("shard", 5).await.len(), 2);
}
