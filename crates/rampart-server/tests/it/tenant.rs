//! Tenants on jobs through the API, the diagnostics' dead jobs by tenant,
//! progress reports, and readiness that requires workers.

use std::time::Duration;

use axum::http::{Method, StatusCode};
use rampart_core::id::QueueName;
use rampart_server::config::{Config, QueueConfig};
use serde_json::Value;

use crate::harness::TestApp;

fn ids(page: &Value) -> Vec<&str> {
    page["jobs"].as_array().unwrap().iter().map(|j| j["id"].as_str().unwrap()).collect()
}

async fn list(app: &TestApp, query: &str) -> crate::harness::Answer {
    app.send(Method::GET, &format!("/v1/queues/sync/jobs?{query}"), None).await
}

#[tokio::test]
async fn a_tenant_goes_with_its_job_to_workers_listings_and_details() {
    let app = TestApp::new().await;
    let acme = app.enqueue("sync", r#"{"payload":{},"tenant":"acme"}"#).await;
    let batch = app
        .send(
            Method::POST,
            "/v1/queues/sync/jobs/batch",
            Some(r#"{"jobs":[{"payload":{},"tenant":"globex"},{"payload":{}},{"payload":{},"tenant":"acme"}]}"#),
        )
        .await;
    assert_eq!(batch.status, StatusCode::CREATED, "{}", batch.body);
    let batch: Vec<&str> = batch.body["ids"].as_array().unwrap().iter().map(|i| i.as_str().unwrap()).collect();

    let leased = app.lease("sync", 1).await;
    assert_eq!((leased[0]["id"].as_str(), leased[0]["tenant"].as_str()), (Some(acme.as_str()), Some("acme")));
    assert_eq!(app.job(&acme).await["tenant"], "acme");
    assert_eq!(app.job(batch[1]).await["tenant"], Value::Null);

    let page = list(&app, "tenant=acme").await;
    assert_eq!(ids(&page.body), [acme.as_str(), batch[2]]);
    assert_eq!(page.body["jobs"][0]["tenant"], "acme");
    assert_eq!(ids(&list(&app, "tenant=acme&state=available").await.body), [batch[2]]);
    assert_eq!(ids(&list(&app, "tenant=globex").await.body), [batch[0]]);
    assert_eq!(ids(&list(&app, "tenant=acme&limit=1").await.body), [acme.as_str()]);
    assert!(ids(&list(&app, "tenant=initech").await.body).is_empty());

    for (method, path, body) in [
        (Method::POST, "/v1/queues/sync/jobs", Some(r#"{"payload":{},"tenant":""}"#)),
        (Method::POST, "/v1/queues/sync/jobs/batch", Some(r#"{"jobs":[{"payload":{},"tenant":"a\nb"}]}"#)),
        (Method::GET, "/v1/queues/sync/jobs?tenant=", None),
    ] {
        let refused = app.send(method, path, body).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{path}: {}", refused.body);
        assert!(refused.message().contains("tenant"), "{path}: {}", refused.body);
    }
}

#[tokio::test]
async fn the_diagnostics_count_dead_jobs_per_tenant() {
    let app = TestApp::new().await;
    for tenant in ["acme", "acme", "globex"] {
        app.enqueue("billing", &format!(r#"{{"payload":{{}},"tenant":"{tenant}","max_attempts":1}}"#)).await;
    }
    app.enqueue("billing", r#"{"payload":{},"max_attempts":1}"#).await;
    for job in app.lease("billing", 10).await {
        let body = format!(r#"{{"lease_token":"{}","error":"boom"}}"#, job["lease_token"].as_str().unwrap());
        let path = format!("/v1/jobs/{}/fail", job["id"].as_str().unwrap());
        assert_eq!(app.send(Method::POST, &path, Some(&body)).await.status, StatusCode::OK);
    }
    let d = app.send(Method::GET, "/v1/admin/diagnostics/background-jobs", None).await;
    assert_eq!(d.status, StatusCode::OK, "{}", d.body);
    assert_eq!(
        d.body["dead_tenants"],
        serde_json::json!([
            {"queue": "billing", "tenant": "acme", "dead": 2},
            {"queue": "billing", "tenant": "globex", "dead": 1},
        ])
    );
}

#[tokio::test]
async fn readiness_waits_for_the_workers_a_queue_requires() {
    let mut config = Config::default();
    let lease = Duration::from_secs(30);
    config.queues.insert(
        QueueName::new("email").unwrap(),
        QueueConfig { ready_requires_workers: 2, lease, ..QueueConfig::default() },
    );
    let app = TestApp::with_config(config).await;
    let ready = || app.send(Method::GET, "/health/ready", None);
    let not_ready = ready().await;
    assert_eq!(not_ready.status, StatusCode::SERVICE_UNAVAILABLE, "{}", not_ready.body);
    assert_eq!(
        not_ready.body["components"]["workers"]["queues"],
        serde_json::json!([{"queue": "email", "seen": 0, "required": 2}])
    );
    for worker in ["w1", "w2", "w2"] {
        let body = format!(r#"{{"worker":"{worker}"}}"#);
        assert_eq!(app.send(Method::POST, "/v1/queues/email/lease", Some(&body)).await.status, StatusCode::OK);
        let expected = if worker == "w1" { StatusCode::SERVICE_UNAVAILABLE } else { StatusCode::OK };
        assert_eq!(ready().await.status, expected, "after a lease by {worker}");
    }
    // Workers that stop leasing for longer than the lease no longer count.
    app.clock.advance(lease + Duration::from_millis(1));
    assert_eq!(ready().await.status, StatusCode::SERVICE_UNAVAILABLE);
}

#[tokio::test]
async fn progress_is_kept_on_the_job_from_its_route_and_from_heartbeats() {
    let app = TestApp::new().await;
    let id = app.enqueue("import", r#"{"payload":{}}"#).await;
    let token = app.lease("import", 1).await[0]["lease_token"].as_str().unwrap().to_string();
    let path = format!("/v1/jobs/{id}/progress");
    let report =
        app.send(Method::POST, &path, Some(&format!(r#"{{"lease_token":"{token}","progress":{{"done":40}}}}"#))).await;
    assert_eq!(report.status, StatusCode::OK, "{}", report.body);
    assert!(report.body["lease_expires_at"].is_string());
    assert_eq!(app.job(&id).await["progress"], serde_json::json!({"done": 40}));

    let beat = format!(r#"{{"lease_token":"{token}","progress":80}}"#);
    assert_eq!(app.send(Method::POST, &format!("/v1/jobs/{id}/heartbeat"), Some(&beat)).await.status, StatusCode::OK);
    assert_eq!(app.job(&id).await["progress"], 80);
    // A heartbeat without progress keeps the last one.
    let bare = format!(r#"{{"lease_token":"{token}"}}"#);
    assert_eq!(app.send(Method::POST, &format!("/v1/jobs/{id}/heartbeat"), Some(&bare)).await.status, StatusCode::OK);
    assert_eq!(app.job(&id).await["progress"], 80);

    let big = format!(r#"{{"lease_token":"{token}","progress":"{}"}}"#, "x".repeat(16 * 1024));
    let refused = app.send(Method::POST, &path, Some(&big)).await;
    assert_eq!((refused.status, refused.code()), (StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE"));
    assert!(refused.message().contains("`progress`"), "{}", refused.body);
    let lost = app.send(Method::POST, &path, Some(r#"{"lease_token":"other","progress":1}"#)).await;
    assert_eq!((lost.status, lost.code()), (StatusCode::CONFLICT, "LEASE_LOST"));
    let missing = app.send(Method::POST, &path, Some(&bare)).await;
    assert_eq!(missing.status, StatusCode::BAD_REQUEST, "{}", missing.body);
    assert!(missing.message().contains("progress"), "{}", missing.body);
}
