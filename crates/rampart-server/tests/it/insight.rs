//! What apps report, end to end in process: cache reports read back with
//! their figures, verdicts, intervals and eviction log; error events
//! scrubbed, fingerprinted, counted and filtered; a critical event firing
//! its alert at once; the cache and error_count rules through the alerter;
//! retention in the built-in run.

use std::sync::Arc;
use std::time::Duration;

use axum::http::{Method, StatusCode};
use rampart_server::config::{Config, ErrorCountRule};
use rampart_server::service::{Alerter, AlerterConfig};
use serde_json::{Value, json};
use tokio::sync::Notify;

use crate::harness::{Answer, TestApp};

async fn report(app: &TestApp, cache: &str, body: Value) -> Answer {
    app.send_as("producer", Method::POST, &format!("/v1/caches/{cache}/report"), Some(&body.to_string())).await
}

async fn error(app: &TestApp, body: Value) -> Answer {
    app.send_as("producer", Method::POST, "/v1/errors", Some(&body.to_string())).await
}

#[tokio::test]
async fn a_cache_report_is_read_back_with_figures_verdicts_intervals_and_evictions() {
    let app = TestApp::new().await;
    let body = json!({
        "snapshot": {"size": 95, "max_size": 100, "loads": 30, "hits": 10, "misses": 20, "avg_load_ms": 12.5,
                     "memory_bytes": 1048576},
        "events": [
            {"type": "evict", "key": "model:a", "user": "u1", "reason": "lru", "idle_ms": 5000},
            {"type": "evict", "key": "model:b", "reason": "timeout"},
            {"type": "hit", "key": "model:c"}
        ]
    });
    let a = report(&app, "models", body).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!((a.body["events"].as_u64(), a.body["evictions"].as_u64()), (Some(3), Some(2)));

    let list = app.send_as("reader", Method::GET, "/v1/monitoring/caches", None).await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.body);
    let c = &list.body["caches"][0];
    assert_eq!(c["name"], "models");
    assert_eq!(c["utilisation"], 0.95);
    assert!((c["hit_rate"].as_f64().unwrap() - 1.0 / 3.0).abs() < 1e-9);
    assert_eq!(c["breaching"], json!(["cache_utilisation", "cache_hit_rate"]));
    assert_eq!(c["last_hour"]["loads"], 30, "the first snapshot counts all its loads");
    assert_eq!(
        (c["last_hour"]["evicted_lru"].as_u64(), c["last_hour"]["evicted_timeout"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(c["last_hour"]["hits"], 10, "a hit event beside a snapshot is not counted twice");

    // A later snapshot adds only what its counters gained.
    let more =
        json!({"snapshot": {"size": 50, "max_size": 100, "loads": 40, "hits": 60, "misses": 20, "avg_load_ms": 10}});
    assert_eq!(report(&app, "models", more).await.status, StatusCode::OK);
    let one = app.send_as("reader", Method::GET, "/v1/monitoring/caches/models", None).await;
    assert_eq!(one.status, StatusCode::OK, "{}", one.body);
    assert_eq!(one.body["last_hour"]["loads"], 40);
    assert_eq!(one.body["last_hour"]["hits"], 60);
    assert_eq!(one.body["breaching"], json!([]));
    assert_eq!(
        one.body["thresholds"],
        json!({"utilisation": 0.9, "hit_rate": 0.5, "min_loads": 20, "memory_bytes": 2147483648u64})
    );
    assert_eq!(one.body["intervals"].as_array().unwrap().len(), 1);
    let evictions = one.body["evictions"].as_array().unwrap();
    assert_eq!(evictions.len(), 2);
    assert_eq!((evictions[0]["key"].as_str(), evictions[0]["reason"].as_str()), (Some("model:b"), Some("timeout")));
    assert_eq!((evictions[1]["user"].as_str(), evictions[1]["idle_ms"].as_f64()), (Some("u1"), Some(5000.0)));

    let metrics = app.send_as("reader", Method::GET, "/metrics", None).await;
    let text = metrics.body.as_str().unwrap();
    for line in [
        "rampart_cache_entries{cache=\"models\"} 50",
        "rampart_cache_utilisation_ratio{cache=\"models\"} 0.5",
        "rampart_cache_lookups_total{cache=\"models\",result=\"hit\"} 60",
        "rampart_cache_evictions_last_hour{cache=\"models\",reason=\"lru\"} 1",
    ] {
        assert!(text.lines().any(|l| l == line), "no `{line}` in\n{text}");
    }
    let health = app.send_as("reader", Method::GET, "/v1/monitoring/system-health", None).await;
    assert_eq!(health.body["components"]["reported"]["caches"], 1, "{}", health.body);
}

#[tokio::test]
async fn bad_cache_reports_are_refused_naming_the_field() {
    let app = TestApp::new().await;
    let cases = [
        (json!({"events": [{"type": "hit"}, {"type": "evict"}]}), "events[1].reason"),
        (json!({"events": [{"type": "hit", "reason": "lru"}]}), "events[0].reason"),
        (json!({"events": [{"type": "evict", "reason": "old"}]}), "events[0].reason"),
        (json!({"events": [{"type": "jump"}]}), "events[0].type"),
        (
            json!({"snapshot": {"size": 1, "max_size": 1, "loads": 1, "hits": 1, "misses": 1, "avg_load_ms": -1}}),
            "snapshot.avg_load_ms",
        ),
        (
            json!({"snapshot": {"size": -1, "max_size": 1, "loads": 1, "hits": 1, "misses": 1, "avg_load_ms": 1}}),
            "snapshot.size",
        ),
        (json!({"events": [{"type": "hit", "key": "k".repeat(257)}]}), "events[0].key"),
    ];
    for (body, field) in cases {
        let a = report(&app, "models", body.clone()).await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{body}: {}", a.body);
        assert!(a.message().contains(field), "{body}: `{}` does not name {field}", a.message());
    }
    let a = report(&app, "bad%20name", json!({"events": [{"type": "hit"}]})).await;
    assert_eq!((a.status, a.code()), (StatusCode::BAD_REQUEST, "INVALID_CACHE_NAME"));
    let body = json!({"events": [{"type": "hit"}]}).to_string();
    let a = app.send_as("reader", Method::POST, "/v1/caches/models/report", Some(&body)).await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    let a = app.send_as("reader", Method::GET, "/v1/monitoring/caches/none", None).await;
    assert_eq!((a.status, a.code()), (StatusCode::NOT_FOUND, "CACHE_NOT_FOUND"));
    let list = app.send_as("reader", Method::GET, "/v1/monitoring/caches", None).await;
    assert_eq!(list.body["caches"], json!([]), "nothing refused was kept");
}

#[tokio::test]
async fn error_events_are_scrubbed_fingerprinted_counted_and_filtered() {
    let app = TestApp::new().await;
    let a = error(
        &app,
        json!({"level": "error", "kind": "db.timeout", "message": "query 4411 for jane@example.com timed out",
               "tenant": "acme", "tags": {"auth": "Bearer abc.def.ghi", "region": "eu"}}),
    )
    .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
    assert_eq!(a.body["message"], "query 4411 for [email] timed out");
    assert_eq!(a.body["tags"]["auth"], "Bearer [redacted]");
    let print = a.body["fingerprint"].as_str().unwrap().to_string();
    let b = error(
        &app,
        json!({"level": "warning", "kind": "db.timeout", "message": "query 97 for bob@example.org timed out"}),
    )
    .await;
    assert_eq!(b.body["fingerprint"], print.as_str(), "ids and addresses do not split a group");
    let c =
        error(&app, json!({"level": "info", "kind": "cache.cold", "message": "warming", "fingerprint": "mine"})).await;
    assert_eq!(c.body["fingerprint"], "mine");

    let all = app.send_as("reader", Method::GET, "/v1/errors", None).await;
    assert_eq!(all.status, StatusCode::OK, "{}", all.body);
    assert_eq!(all.body["events"].as_array().unwrap().len(), 3);
    assert_eq!(
        all.body["counts"][0],
        json!({"kind": "db.timeout", "fingerprint": print, "count": 2,
        "last_interval": all.body["counts"][0]["last_interval"]})
    );
    let kinds = |a: &Answer| {
        a.body["events"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap().to_string()).collect::<Vec<_>>()
    };
    let warn = app.send_as("reader", Method::GET, "/v1/errors?level=warning", None).await;
    assert_eq!(kinds(&warn), ["db.timeout", "db.timeout"]);
    let acme = app.send_as("reader", Method::GET, "/v1/errors?tenant=acme", None).await;
    assert_eq!(acme.body["events"].as_array().unwrap().len(), 1);
    let page = app.send_as("reader", Method::GET, "/v1/errors?limit=2", None).await;
    let cursor = page.body["next_cursor"].as_str().unwrap().to_string();
    let rest = app.send_as("reader", Method::GET, &format!("/v1/errors?limit=2&cursor={cursor}"), None).await;
    assert_eq!(kinds(&rest), ["db.timeout"]);
    assert_eq!(rest.body["next_cursor"], Value::Null);

    let metrics = app.send_as("reader", Method::GET, "/metrics", None).await;
    let text = metrics.body.as_str().unwrap();
    assert!(text.lines().any(|l| l == "rampart_error_events_total{level=\"warning\"} 1"), "{text}");
    let health = app.send_as("reader", Method::GET, "/v1/monitoring/system-health", None).await;
    assert_eq!(health.body["components"]["reported"]["errors_last_hour"], 3, "{}", health.body);

    for (path, field) in
        [("/v1/errors?level=fatal", "level"), ("/v1/errors?limit=0", "limit"), ("/v1/errors?cursor=x", "cursor")]
    {
        let a = app.send_as("reader", Method::GET, path, None).await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{path}");
        assert!(a.message().contains(field), "{path}: {}", a.message());
    }
    for (body, field) in [
        (json!({"level": "fatal", "kind": "k", "message": "m"}), "level"),
        (json!({"level": "error", "kind": "", "message": "m"}), "kind"),
        (json!({"level": "error", "kind": "k", "message": "m", "fingerprint": ""}), "fingerprint"),
        (json!({"level": "error", "kind": "k", "message": "m", "extra": 1}), "extra"),
    ] {
        let a = error(&app, body.clone()).await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{body}");
        assert!(a.message().contains(field), "{body}: {}", a.message());
    }
}

#[tokio::test]
async fn a_critical_error_event_fires_its_alert_at_once_and_once_per_kind() {
    let app = TestApp::new().await;
    for _ in 0..2 {
        let a =
            error(&app, json!({"level": "critical", "kind": "payments.down", "message": "card processor unreachable"}))
                .await;
        assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
    }
    let alerts = app.send(Method::GET, "/v1/alerts?state=firing", None).await;
    let firing: Vec<&Value> =
        alerts.body["alerts"].as_array().unwrap().iter().filter(|a| a["rule"] == "error_critical").collect();
    assert_eq!(firing.len(), 1, "{}", alerts.body);
    assert_eq!(firing[0]["subject"], "payments.down");
}

#[tokio::test]
async fn the_alerter_holds_caches_to_their_thresholds_and_counts_errors_per_rule() {
    let mut config = Config::default();
    config.alerts.rules.store_latency = Duration::from_secs(60);
    config.alerts.timing.fire_after = 1;
    config.caches.caches.insert(
        rampart_core::id::CacheName::new("sessions").unwrap(),
        rampart_insight::cache::CacheThresholds { utilisation: 0.99, ..Default::default() },
    );
    config.errors.rules.insert(
        "db".into(),
        ErrorCountRule { kind: Some("db.timeout".into()), threshold: 2, window: Duration::from_secs(300) },
    );
    let app = TestApp::with_config(config.clone()).await;
    let alerter_config = AlerterConfig {
        alerts: config.alerts.clone(),
        interval: config.monitoring.interval,
        channels: vec![],
        token_expiry_horizon: config.diagnostics.token_expiry_horizon,
    };
    let insight = rampart_server::insight::Insight::new(app.engine.clone(), &config);
    let mut alerter = Alerter::new(alerter_config, app.engine.clone(), Arc::new(Notify::new())).with_insight(insight);
    let snapshot = |size: u64| {
        json!({"snapshot": {"size": size, "max_size": 100, "loads": 100, "hits": 90,
        "misses": 10, "avg_load_ms": 1, "memory_bytes": 3221225472u64}})
    };
    assert_eq!(report(&app, "models", snapshot(95)).await.status, StatusCode::OK);
    assert_eq!(report(&app, "sessions", snapshot(95)).await.status, StatusCode::OK);
    for n in 0..3 {
        let a = error(&app, json!({"level": "error", "kind": "db.timeout", "message": format!("try {n}")})).await;
        assert_eq!(a.status, StatusCode::CREATED);
    }
    alerter.run_once().await.unwrap();
    let alerts = app.send(Method::GET, "/v1/alerts?state=firing", None).await;
    let mut firing: Vec<(String, String)> = alerts.body["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["rule"].as_str().unwrap().to_string(), a["subject"].as_str().unwrap().to_string()))
        .collect();
    firing.sort();
    let expected = [
        ("cache_memory", "models"),
        ("cache_memory", "sessions"),
        ("cache_utilisation", "models"),
        ("error_count", "db"),
    ];
    assert_eq!(firing, expected.map(|(r, s)| (r.to_string(), s.to_string())), "sessions allows 99% full");
}

#[tokio::test]
async fn retention_runs_delete_old_cache_telemetry_and_error_events() {
    let app = TestApp::new().await;
    assert_eq!(
        report(&app, "models", json!({"events": [{"type": "evict", "reason": "manual"}]})).await.status,
        StatusCode::OK
    );
    assert_eq!(error(&app, json!({"level": "error", "kind": "k", "message": "m"})).await.status, StatusCode::CREATED);
    // 31 days later both are past their retention (7 and 30 days).
    app.clock.advance(Duration::from_secs(31 * 86_400));
    let a = app.send(Method::POST, "/v1/cron/rampart.retention/trigger", None).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let report = app.pruner.lock().await.run_once().await.unwrap().unwrap();
    assert_eq!((report.cache_rows, report.error_rows), (3, 2), "interval, eviction, cache; event and count");
    let caches = app.send(Method::GET, "/v1/monitoring/caches", None).await;
    assert_eq!(caches.body["caches"], json!([]));
    let errors = app.send(Method::GET, "/v1/errors", None).await;
    assert_eq!(errors.body["events"], json!([]));
}
