//! The admin diagnostics and the integrations apps report: what they show,
//! and bad reports answered with a 4xx naming the field.

use std::time::Duration;

use axum::http::{Method, StatusCode};
use rampart_core::time::UnixMillis;
use rampart_server::config::Config;
use serde_json::{Value, json};

use crate::harness::{T0, TestApp};

const DAY_MS: i64 = 86_400_000;

fn at(ms: i64) -> String {
    UnixMillis(T0.0 + ms).to_rfc3339()
}

async fn report(app: &TestApp, role: &str, platform: &str, id: &str, body: Value) -> Value {
    let path = format!("/v1/integrations/{platform}/connections/{id}");
    let a = app.send_as(role, Method::PUT, &path, Some(&body.to_string())).await;
    assert_eq!(a.status, StatusCode::OK, "{path}: {}", a.body);
    a.body
}

#[tokio::test]
async fn integrations_reported_by_apps_are_summarised_for_admins() {
    let app = TestApp::new().await;
    let stored = report(
        &app,
        "producer",
        "gmail",
        "acct-1",
        json!({"status": "connected", "last_synced_at": at(-60_000), "token_expires_at": at(2 * DAY_MS)}),
    )
    .await;
    assert_eq!(stored["reported_by"], "producer-key");
    assert_eq!(stored["created_at"], at(0));
    app.clock.advance(Duration::from_secs(1));
    // The error text is scrubbed before it is stored.
    let failed = report(
        &app,
        "admin",
        "gmail",
        "acct-2",
        json!({"status": "error", "last_error": "invalid_grant for ada@example.com", "last_error_at": at(500)}),
    )
    .await;
    assert_eq!(failed["last_error"], "invalid_grant for [email]");
    app.clock.advance(Duration::from_secs(1));
    report(&app, "producer", "gmail", "acct-3", json!({"status": "expired", "token_expires_at": at(-DAY_MS)})).await;
    report(&app, "producer", "stripe", "acct_9", json!({"status": "connected", "token_expires_at": at(30 * DAY_MS)}))
        .await;
    // A later report keeps what it leaves out.
    app.clock.advance(Duration::from_secs(1));
    let again = report(&app, "producer", "gmail", "acct-1", json!({"status": "connected"})).await;
    assert_eq!(again["last_synced_at"], at(-60_000));

    let a = app.send(Method::GET, "/v1/admin/diagnostics/integrations", None).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let d = a.body;
    assert_eq!(d["token_expiry_horizon"], "7d");
    let gmail = &d["platforms"][0];
    assert_eq!(
        (gmail["platform"].as_str(), gmail["total"].as_u64(), gmail["connected"].as_u64()),
        (Some("gmail"), Some(3), Some(1))
    );
    assert_eq!((gmail["error"].as_u64(), gmail["expired"].as_u64()), (Some(1), Some(1)));
    let recent: Vec<&str> = gmail["recent"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap()).collect();
    assert_eq!(recent, ["acct-1", "acct-3", "acct-2"], "newest first");
    assert_eq!(gmail["recent"][2]["last_error"], "invalid_grant for [email]");
    assert_eq!(d["platforms"][1]["platform"], "stripe");
    let expiring: Vec<&str> = d["expiring"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap()).collect();
    assert_eq!(expiring, ["acct-3", "acct-1"], "within 7 days, expired ones included, soonest first");
}

#[tokio::test]
async fn the_expiry_horizon_and_the_recent_count_come_from_the_config() {
    let mut config = Config::default();
    config.diagnostics.token_expiry_horizon = Duration::from_secs(60 * 86_400);
    config.diagnostics.recent_connections = 1;
    let app = TestApp::with_config(config).await;
    report(&app, "producer", "slack", "a", json!({"status": "connected", "token_expires_at": at(30 * DAY_MS)})).await;
    app.clock.advance(Duration::from_secs(1));
    report(&app, "producer", "slack", "b", json!({"status": "connected"})).await;
    let d = app.send(Method::GET, "/v1/admin/diagnostics/integrations", None).await.body;
    assert_eq!(d["token_expiry_horizon"], "60d");
    assert_eq!(d["expiring"][0]["id"], "a");
    assert_eq!(d["platforms"][0]["total"], 2);
    let recent = d["platforms"][0]["recent"].as_array().unwrap();
    assert_eq!((recent.len(), recent[0]["id"].as_str()), (1, Some("b")));
}

#[tokio::test]
async fn bad_integration_reports_name_the_field_and_store_nothing() {
    let app = TestApp::new().await;
    let long = "x".repeat(2001);
    let cases: Vec<(&str, String, &str, &str)> = vec![
        ("/v1/integrations/stripe/connections/a", r#"{"status":"ok"}"#.into(), "INVALID_REQUEST", "`status`"),
        ("/v1/integrations/stripe/connections/a", r#"{}"#.into(), "INVALID_REQUEST", "status"),
        (
            "/v1/integrations/stripe/connections/a",
            r#"{"status":"error","last_error_at":"yesterday"}"#.into(),
            "INVALID_REQUEST",
            "`last_error_at`",
        ),
        (
            "/v1/integrations/stripe/connections/a",
            r#"{"status":"connected","token_expires_at":"2026-13-01T00:00:00Z"}"#.into(),
            "INVALID_REQUEST",
            "`token_expires_at`",
        ),
        (
            "/v1/integrations/stripe/connections/a",
            r#"{"status":"connected","last_synced_at":5}"#.into(),
            "INVALID_REQUEST",
            "`last_synced_at`",
        ),
        (
            "/v1/integrations/stripe/connections/a",
            format!(r#"{{"status":"error","last_error":"{long}"}}"#),
            "INVALID_REQUEST",
            "`last_error`",
        ),
        (
            "/v1/integrations/stripe/connections/a",
            r#"{"status":"connected","token":"x"}"#.into(),
            "INVALID_REQUEST",
            "token",
        ),
        (
            "/v1/integrations/st%20ripe/connections/a",
            r#"{"status":"connected"}"#.into(),
            "INVALID_PLATFORM",
            "platform",
        ),
        (
            "/v1/integrations/stripe/connections/ada@example.com",
            r#"{"status":"connected"}"#.into(),
            "INVALID_CONNECTION_ID",
            "connection id",
        ),
        ("/v1/integrations/stripe/connections/a", "{".into(), "INVALID_JSON", "JSON"),
    ];
    for (path, body, code, names) in cases {
        let a = app.send_as("producer", Method::PUT, path, Some(&body)).await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{path} {body}: {}", a.body);
        assert_eq!(a.code(), code, "{path} {body}: {}", a.body);
        assert!(a.message().contains(names), "{path} {body}: {}", a.message());
    }
    let d = app.send(Method::GET, "/v1/admin/diagnostics/integrations", None).await.body;
    assert_eq!(d["platforms"], json!([]), "nothing was stored");
}

#[tokio::test]
async fn background_jobs_show_the_store_the_queues_and_every_loop() {
    let app = TestApp::new().await;
    app.enqueue("email-send", r#"{"payload":{}}"#).await;
    app.loops.register("reaper");
    app.loops.register("pruner");
    app.loops.ok("reaper");
    app.clock.advance(Duration::from_secs(2));
    app.loops.failed("reaper", &"database is locked");

    let a = app.send(Method::GET, "/v1/admin/diagnostics/background-jobs", None).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let d = a.body;
    assert_eq!(d["store"]["status"], "up");
    assert!(d["redis"].is_null(), "no redis_url");
    assert_eq!(d["queues"][0]["name"], "email-send");
    assert_eq!(d["queues"][0]["counts"]["available"], 1);
    assert_eq!(
        d["loops"],
        json!([
            {"name": "pruner", "status": "idle", "last_run_at": null, "last_ok_at": null, "last_error": null,
             "last_error_at": null, "runs": 0, "failures": 0},
            {"name": "reaper", "status": "failing", "last_run_at": at(2_000), "last_ok_at": at(0),
             "last_error": "database is locked", "last_error_at": at(2_000), "runs": 2, "failures": 1},
        ])
    );
}

#[tokio::test]
async fn cron_schedules_and_breakers_show_with_their_state() {
    let app = TestApp::new().await;
    let acquired = app.send_as("producer", Method::POST, "/v1/breakers/payments-api/acquire", None).await;
    assert_eq!(acquired.status, StatusCode::OK, "{}", acquired.body);
    let jobs = app.send(Method::GET, "/v1/admin/diagnostics/background-jobs", None).await.body;
    let cron: Vec<&str> = jobs["cron"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert!(cron.contains(&"rampart.retention"), "the built-in schedule is listed: {jobs}");
    let d = app.send(Method::GET, "/v1/admin/diagnostics/integrations", None).await.body;
    assert_eq!(d["breakers"][0]["name"], "payments-api", "{d}");
    assert_eq!(d["breakers"][0]["state"], "closed", "{d}");
    assert_eq!(d["push_targets"], json!([]), "no push queue configured");
}
