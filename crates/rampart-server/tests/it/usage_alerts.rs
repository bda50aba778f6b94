//! What AI usage alerts on, through the alerter and the alert store:
//! `budget_threshold` (each threshold of a budget's window once per period,
//! the highest reached when several are passed at once, with the window's
//! figures and top models) and `usage_failure_rate` (per model, once enough
//! calls came in the window); AI usage in system health; retention; the
//! bounded model labels of `/metrics`; and summaries by day in the
//! configured zone.

use std::sync::Arc;
use std::time::Duration;

use axum::http::{Method, StatusCode};
use rampart_core::id::BudgetName;
use rampart_server::config::Config;
use rampart_server::service::{Alerter, AlerterConfig};
use rampart_server::usage::Usage;
use rampart_usage::BudgetSpec;
use serde_json::{Value, json};
use tokio::sync::Notify;

use crate::harness::TestApp;

fn config() -> Config {
    let mut config = Config::default();
    config.alerts.rules.store_latency = Duration::from_secs(60);
    config.alerts.timing.fire_after = 1;
    config.alerts.timing.resolve_after = 1;
    config.usage.failure_min_calls = 4;
    config.usage.failure_rate = 0.5;
    let name = BudgetName::new("daily").unwrap();
    let spec = BudgetSpec {
        scope: Some("tenant".into()),
        matches: None,
        amount_usd: 1.0,
        period: Some("day".into()),
        thresholds: None,
        enforce: Some(false),
    };
    config.usage.budgets.insert(name.clone(), spec.validate(&name).unwrap());
    config
}

fn alerter(app: &TestApp, config: &Config) -> Alerter {
    let alerter_config = AlerterConfig {
        alerts: config.alerts.clone(),
        interval: config.monitoring.interval,
        channels: vec![],
        token_expiry_horizon: config.diagnostics.token_expiry_horizon,
    };
    let usage = Usage::new(app.engine.clone(), config.usage.clone());
    Alerter::new(alerter_config, app.engine.clone(), Arc::new(Notify::new())).with_usage(usage)
}

async fn spend(app: &TestApp, call_id: &str, model: &str, cost_usd: f64, success: bool) {
    let body = json!({
        "call_id": call_id, "model": model, "input_tokens": 10, "output_tokens": 10, "duration_ms": 5,
        "success": success, "tenant": "acme", "cost_usd": cost_usd
    });
    let a = app.send_as("producer", Method::POST, "/v1/usage", Some(&body.to_string())).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
}

/// Every alert of `rule`: (subject, state).
async fn alerts(app: &TestApp, rule: &str) -> Vec<(String, String, Value)> {
    let a = app.send(Method::GET, "/v1/alerts", None).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let mut out: Vec<_> = a.body["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["rule"] == rule)
        .map(|a| (a["subject"].as_str().unwrap().to_string(), a["state"].as_str().unwrap().to_string(), a.clone()))
        .collect();
    out.sort_by(|x, y| x.0.cmp(&y.0));
    out
}

#[tokio::test]
async fn each_budget_threshold_notifies_once_per_period_naming_the_window() {
    let config = config();
    let app = TestApp::with_config(config.clone()).await;
    let mut alerter = alerter(&app, &config);
    spend(&app, "a", "gpt-4o", 0.4, true).await;
    spend(&app, "b", "claude", 0.15, true).await;
    alerter.run_once().await.unwrap();
    let fired = alerts(&app, "budget_threshold").await;
    assert_eq!(fired.len(), 1, "{fired:?}");
    let (subject, state, alert) = &fired[0];
    assert_eq!((subject.as_str(), state.as_str()), ("daily/acme@50%", "firing"));
    assert_eq!((alert["value"].as_f64(), alert["threshold"].as_f64()), (Some(0.55), Some(0.5)));
    let b = &alert["budget"];
    assert_eq!(
        (b["name"].as_str(), b["scope"].as_str(), b["subject"].as_str()),
        (Some("daily"), Some("tenant"), Some("acme"))
    );
    assert_eq!(
        (b["period"].as_str(), b["spent_micros"].as_i64(), b["limit_micros"].as_i64()),
        (Some("2027-01-15"), Some(550_000), Some(1_000_000))
    );
    let models: Vec<_> = b["top_models"].as_array().unwrap().iter().map(|m| m["model"].as_str().unwrap()).collect();
    assert_eq!(models, ["gpt-4o", "claude"]);
    // The next sample sees nothing new: the alert resolves (quietly), and
    // 50% never fires again in this period.
    spend(&app, "c", "gpt-4o", 0.1, true).await;
    alerter.run_once().await.unwrap();
    let after = alerts(&app, "budget_threshold").await;
    assert_eq!(
        after.iter().map(|a| (a.0.as_str(), a.1.as_str())).collect::<Vec<_>>(),
        [("daily/acme@50%", "resolved")]
    );
    // Past 80% and 100% at once: the highest notifies, the one below never will.
    spend(&app, "d", "gpt-4o", 0.5, true).await;
    alerter.run_once().await.unwrap();
    alerter.run_once().await.unwrap();
    let subjects: Vec<_> = alerts(&app, "budget_threshold").await.into_iter().map(|a| a.0).collect();
    assert_eq!(subjects, ["daily/acme@100%", "daily/acme@50%"]);
    // System health (and the diagnostics) show the hour's calls and the exhausted window.
    let health = app.send(Method::GET, "/v1/monitoring/system-health", None).await;
    let reported = &health.body["components"]["reported"];
    assert_eq!(reported["usage_calls_last_hour"], 4, "{}", health.body);
    assert_eq!((reported["usage_cost_usd_last_hour"].as_f64(), reported["budgets"].as_u64()), (Some(1.15), Some(1)));
    assert_eq!(reported["budgets_exhausted"], json!(["daily/acme"]));
    // A second alerter (another node) claims nothing already notified.
    let mut other = self::alerter(&app, &config);
    other.run_once().await.unwrap();
    assert_eq!(alerts(&app, "budget_threshold").await.len(), 2);
    // The next day is a new window: its thresholds notify again.
    app.clock.advance(Duration::from_secs(86_400));
    spend(&app, "e", "gpt-4o", 0.6, true).await;
    alerter.run_once().await.unwrap();
    let subjects: Vec<_> = alerts(&app, "budget_threshold").await.into_iter().map(|a| (a.0, a.1)).collect();
    assert!(subjects.contains(&("daily/acme@50%".into(), "firing".into())), "{subjects:?}");
}

#[tokio::test]
async fn a_model_whose_calls_fail_alerts_once_enough_came() {
    let config = config();
    let app = TestApp::with_config(config.clone()).await;
    let mut alerter = alerter(&app, &config);
    // Three failures of three calls: too few calls to tell (4 needed).
    for n in 0..3 {
        spend(&app, &format!("f{n}"), "flaky", 0.0, false).await;
    }
    spend(&app, "ok1", "steady", 0.0, true).await;
    alerter.run_once().await.unwrap();
    assert!(alerts(&app, "usage_failure_rate").await.is_empty());
    spend(&app, "ok2", "flaky", 0.0, true).await;
    alerter.run_once().await.unwrap();
    let fired = alerts(&app, "usage_failure_rate").await;
    assert_eq!(fired.iter().map(|a| (a.0.as_str(), a.1.as_str())).collect::<Vec<_>>(), [("flaky", "firing")]);
    assert_eq!((fired[0].2["value"].as_f64(), fired[0].2["threshold"].as_f64()), (Some(0.75), Some(0.5)));
    // Once the window (15m) passed without calls, it resolves.
    app.clock.advance(Duration::from_secs(16 * 60));
    alerter.run_once().await.unwrap();
    assert_eq!(alerts(&app, "usage_failure_rate").await[0].1, "resolved");
}

#[tokio::test]
async fn a_summary_by_day_counts_the_days_of_the_configured_zone() {
    let mut config = Config::default();
    config.usage.timezone = "Asia/Tokyo".parse().unwrap();
    let app = TestApp::with_config(config).await;
    // 20:00 UTC on the 14th is 05:00 on the 15th in Tokyo.
    let body = json!({
        "call_id": "late", "model": "m", "input_tokens": 1, "output_tokens": 1, "duration_ms": 1,
        "success": true, "at": "2027-01-14T20:00:00Z"
    });
    let a = app.send_as("producer", Method::POST, "/v1/usage", Some(&body.to_string())).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let s = app.send(Method::GET, "/v1/usage/summary?group_by=day&since=2027-01-14T00:00:00Z", None).await;
    assert_eq!(s.status, StatusCode::OK, "{}", s.body);
    assert_eq!(s.body["timezone"], "Asia/Tokyo");
    assert_eq!(s.body["groups"][0]["key"], "2027-01-15");
}

#[tokio::test]
async fn the_retention_run_deletes_usage_past_its_age() {
    let mut config = Config::default();
    config.usage.retention = Duration::from_secs(10 * 86_400);
    let app = TestApp::with_config(config).await;
    spend(&app, "old", "gpt-4o", 0.1, true).await;
    app.clock.advance(Duration::from_secs(9 * 86_400));
    spend(&app, "recent", "gpt-4o", 0.1, true).await;
    // 11 days after the first call: it is past `usage.retention`, the second is not.
    app.clock.advance(Duration::from_secs(2 * 86_400));
    let a = app.send(Method::POST, "/v1/cron/rampart.retention/trigger", None).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let report = app.pruner.lock().await.run_once().await.unwrap().unwrap();
    assert_eq!(report.usage_events, 1);
    let s = app.send(Method::GET, "/v1/usage/summary?since=2027-01-01T00:00:00Z", None).await;
    assert_eq!(s.body["groups"][0]["calls"], 1, "{}", s.body);
}

#[tokio::test]
async fn metrics_label_at_most_the_bounded_set_of_models_never_tenants() {
    let app = TestApp::new().await;
    let max = rampart_server::usage::MAX_METRIC_MODELS;
    let events: Vec<Value> = (0..max + 5)
        .map(|n| {
            json!({"call_id": format!("m{n}"), "model": format!("model-{n:03}"), "input_tokens": 1,
                "output_tokens": 1, "duration_ms": 1, "success": true, "tenant": "acme", "cost_usd": 0.5})
        })
        .collect();
    let body = json!({ "events": events }).to_string();
    let a = app.send_as("producer", Method::POST, "/v1/usage", Some(&body)).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let metrics = app.call(Method::GET, "/metrics").role("reader").send().await;
    let text = metrics.body.as_str().map(str::to_string).unwrap_or_else(|| metrics.body.to_string());
    let series: Vec<&str> = text.lines().filter(|l| l.starts_with("rampart_usage_cost_usd_total{")).collect();
    assert_eq!(series.len(), max + 1, "the first {max} models and `other`");
    assert!(series.contains(&r#"rampart_usage_cost_usd_total{model="other",provider=""} 2.5"#), "{series:?}");
    assert!(!text.contains("acme"), "a tenant became a label");
}
