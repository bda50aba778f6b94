//! AI usage and budgets end to end in process: reports (one or a batch)
//! normalised, priced from the table and kept once per call id; summaries;
//! budgets from the configuration and the API; reservations held all or
//! none and settled by the call's report; 100 concurrent reservations
//! against room for 10.

use std::time::Duration;

use axum::http::{Method, StatusCode};
use rampart_core::id::BudgetName;
use rampart_server::config::Config;
use rampart_server::service::{Releaser, ReleaserConfig};
use rampart_usage::{BudgetSpec, PriceSpec, PriceTable};
use serde_json::{Value, json};

use crate::harness::{Answer, TestApp};

async fn app() -> TestApp {
    let mut config = Config::default();
    let price = PriceSpec {
        model: "gpt-4o*".into(),
        effective_from: None,
        input: 2.5,
        output: 10.0,
        cached_input: Some(1.25),
        cache_write: None,
    };
    config.usage.prices = PriceTable::new(vec![price.validate().unwrap()]);
    let name = BudgetName::new("per-tenant").unwrap();
    let spec = BudgetSpec {
        scope: Some("tenant".into()),
        matches: None,
        amount_usd: 1.0,
        period: Some("day".into()),
        thresholds: None,
        enforce: Some(true),
    };
    config.usage.budgets.insert(name.clone(), spec.validate(&name).unwrap());
    TestApp::with_config(config).await
}

async fn post(app: &TestApp, path: &str, body: Value) -> Answer {
    app.send_as("producer", Method::POST, path, Some(&body.to_string())).await
}

fn event(call_id: &str) -> Value {
    json!({
        "call_id": call_id, "model": "gpt-4o-mini", "provider": "openai", "input_tokens": 1_000_000,
        "cached_input_tokens": 400_000, "output_tokens": 100_000, "duration_ms": 120, "success": true,
        "feature": "chat", "tenant": "acme"
    })
}

#[tokio::test]
async fn reports_are_priced_normalised_and_kept_once_per_call() {
    let app = app().await;
    let one = post(&app, "/v1/usage", event("c1")).await;
    assert_eq!(one.status, StatusCode::OK, "{}", one.body);
    // 600k uncached at $2.50/M + 400k cached at $1.25/M + 100k out at $10/M.
    assert_eq!(one.body["events"][0]["cost_usd"], json!(3.0));
    assert_eq!(one.body["events"][0]["price_version"], "gpt-4o*");
    assert_eq!((one.body["accepted"].as_u64(), one.body["duplicates"].as_u64()), (Some(1), Some(0)));
    let mut given = event("c2");
    given["cost_usd"] = json!(0.5);
    given["success"] = json!(false);
    given["duration_ms"] = json!(300);
    let batch = post(&app, "/v1/usage", json!({ "events": [event("c1"), given] })).await;
    assert_eq!(batch.status, StatusCode::OK, "{}", batch.body);
    assert_eq!(batch.body["events"][0]["duplicate"], true);
    assert_eq!(batch.body["events"][1]["cost_usd"], json!(0.5));
    let summary = app.send(Method::GET, "/v1/usage/summary?group_by=model&since=2027-01-01T00:00:00Z", None).await;
    assert_eq!(summary.status, StatusCode::OK, "{}", summary.body);
    let g = &summary.body["groups"][0];
    assert_eq!(g["key"], "gpt-4o-mini");
    assert_eq!((g["calls"].as_u64(), g["failures"].as_u64()), (Some(2), Some(1)));
    assert_eq!((g["input_tokens"].as_i64(), g["cached_input_tokens"].as_i64()), (Some(1_200_000), Some(800_000)));
    assert_eq!(g["cost_usd"], json!(3.5));
    assert_eq!((g["p50_ms"].as_i64(), g["p95_ms"].as_i64()), (Some(120), Some(300)));
    // The per-tenant budget counted both.
    let budget = app.send(Method::GET, "/v1/budgets/per-tenant", None).await;
    assert_eq!(budget.body["windows"][0]["subject"], "acme");
    assert_eq!(budget.body["windows"][0]["spent_usd"], json!(3.5));
    // Counted by model and provider on /metrics, never by tenant or user.
    let metrics = app.call(Method::GET, "/metrics").role("reader").send().await;
    let text = metrics.body.as_str().map(str::to_string).unwrap_or_else(|| metrics.body.to_string());
    assert!(text.contains(r#"rampart_usage_cost_usd_total{model="gpt-4o-mini",provider="openai"} 3.5"#), "{text}");
    assert!(text.contains(r#"rampart_usage_calls_total{model="gpt-4o-mini",provider="openai",outcome="failure"} 1"#));
    assert!(!text.contains("acme"));
}

#[tokio::test]
async fn bad_reports_are_refused_naming_the_field() {
    let app = app().await;
    let mut cached = event("c1");
    cached["cached_input_tokens"] = json!(2_000_000);
    let a = post(&app, "/v1/usage", json!({ "events": [event("ok"), cached] })).await;
    assert_eq!((a.status, a.code()), (StatusCode::BAD_REQUEST, "INVALID_USAGE"));
    assert!(a.message().contains("events[1].cached_input_tokens"), "{}", a.message());
    let mut missing = event("c1");
    missing.as_object_mut().unwrap().remove("model");
    let a = post(&app, "/v1/usage", missing).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert!(a.message().contains("model"), "{}", a.message());
    let mut negative = event("c1");
    negative["cost_usd"] = json!(-1);
    let a = post(&app, "/v1/usage", negative).await;
    assert!(a.message().contains("cost_usd"), "{}", a.message());
    let many: Vec<Value> = (0..1001).map(|i| event(&format!("c{i}"))).collect();
    let a = post(&app, "/v1/usage", json!({ "events": many })).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert!(a.message().contains("1000"), "{}", a.message());
    let a = app.send_as("reader", Method::POST, "/v1/usage", Some(&event("r").to_string())).await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    // Nothing of the refused batches was kept.
    let summary = app.send(Method::GET, "/v1/usage/summary?since=2027-01-01T00:00:00Z", None).await;
    assert_eq!(summary.body["groups"][0]["calls"], 0);
}

#[tokio::test]
async fn budgets_are_put_listed_and_deleted_over_the_api() {
    let app = app().await;
    let put = app
        .send(Method::PUT, "/v1/budgets/all", Some(r#"{"amount_usd": 100, "period": "month", "enforce": false}"#))
        .await;
    assert_eq!(put.status, StatusCode::OK, "{}", put.body);
    assert_eq!((put.body["origin"].as_str(), put.body["window"].as_str()), (Some("api"), Some("2027-01")));
    assert_eq!(put.body["thresholds"], json!([50, 80, 100]));
    let list = app.send_as("reader", Method::GET, "/v1/budgets", None).await;
    let names: Vec<_> = list.body["budgets"].as_array().unwrap().iter().map(|b| b["name"].clone()).collect();
    assert_eq!(names, [json!("all"), json!("per-tenant")]);
    let bad = app.send(Method::PUT, "/v1/budgets/x", Some(r#"{"amount_usd": 1, "scope": "planet"}"#)).await;
    assert_eq!((bad.status, bad.code()), (StatusCode::BAD_REQUEST, "INVALID_BUDGET"));
    assert!(bad.message().contains("scope"), "{}", bad.message());
    let config = app.send(Method::DELETE, "/v1/budgets/per-tenant", None).await;
    assert_eq!((config.status, config.code()), (StatusCode::CONFLICT, "BUDGET_IN_CONFIG"));
    assert_eq!(app.send(Method::DELETE, "/v1/budgets/all", None).await.status, StatusCode::NO_CONTENT);
    let gone = app.send(Method::GET, "/v1/budgets/all", None).await;
    assert_eq!((gone.status, gone.code()), (StatusCode::NOT_FOUND, "BUDGET_NOT_FOUND"));
    let producer = app.send_as("producer", Method::PUT, "/v1/budgets/all", Some(r#"{"amount_usd": 1}"#)).await;
    assert_eq!(producer.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_reservation_is_held_then_settled_by_the_calls_report() {
    let app = app().await;
    let r = post(&app, "/v1/usage/reserve", json!({ "tenant": "acme", "estimated_cost_usd": 0.6 })).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!((r.body["allowed"].as_bool(), r.body["remaining"].as_f64()), (Some(true), Some(0.4)));
    let id = r.body["reservation_id"].as_str().unwrap().to_string();
    // The next one does not fit: refused, holding nothing.
    let refused = post(&app, "/v1/usage/reserve", json!({ "tenant": "acme", "estimated_cost_usd": 0.5 })).await;
    assert_eq!(refused.body["allowed"], false);
    assert_eq!(refused.body["reservation_id"], Value::Null);
    assert_eq!(refused.body["refused_by"], "per-tenant");
    // Another tenant has a budget of its own; a call without a tenant none.
    let other = post(&app, "/v1/usage/reserve", json!({ "tenant": "globex", "estimated_cost_usd": 0.5 })).await;
    assert_eq!(other.body["allowed"], true);
    let free = post(&app, "/v1/usage/reserve", json!({ "estimated_cost_usd": 5 })).await;
    assert_eq!((free.body["allowed"].as_bool(), free.body["remaining"].as_f64()), (Some(true), None));
    // Settled at the real cost, once.
    let mut report = event("call-1");
    report["cost_usd"] = json!(0.7);
    report["reservation_id"] = json!(id);
    let settled = post(&app, "/v1/usage", report.clone()).await;
    assert_eq!(settled.body["settled"], 1, "{}", settled.body);
    assert_eq!(post(&app, "/v1/usage", report).await.body["settled"], 0);
    let budget = app.send(Method::GET, "/v1/budgets/per-tenant", None).await;
    let acme = &budget.body["windows"][0];
    assert_eq!(
        (acme["subject"].as_str(), acme["spent_usd"].as_f64(), acme["reserved_usd"].as_f64()),
        (Some("acme"), Some(0.7), Some(0.0))
    );
    // Priced from max_tokens without an estimate; refused without either.
    let priced = post(
        &app,
        "/v1/usage/reserve",
        json!({ "tenant": "acme", "model": "gpt-4o", "input_tokens": 10_000, "max_tokens": 1_000 }),
    )
    .await;
    assert_eq!(priced.body["estimated_cost_usd"], json!(0.035), "{}", priced.body);
    let none = post(&app, "/v1/usage/reserve", json!({ "tenant": "acme" })).await;
    assert_eq!(none.status, StatusCode::BAD_REQUEST);
    assert!(none.message().contains("estimated_cost_usd"), "{}", none.message());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_concurrent_reservations_admit_exactly_the_room_for_ten() {
    let app = std::sync::Arc::new(app().await);
    let mut tasks = Vec::new();
    for _ in 0..100 {
        let app = app.clone();
        tasks.push(tokio::spawn(async move {
            post(&app, "/v1/usage/reserve", json!({ "tenant": "acme", "estimated_cost_usd": 0.1 })).await.body["allowed"]
                == true
        }));
    }
    let mut admitted = 0;
    for t in tasks {
        admitted += usize::from(t.await.unwrap());
    }
    assert_eq!(admitted, 10);
    let budget = app.send(Method::GET, "/v1/budgets/per-tenant", None).await;
    assert_eq!(budget.body["windows"][0]["reserved_usd"], json!(1.0), "{}", budget.body);
    assert_eq!(budget.body["windows"][0]["remaining_usd"], json!(0.0), "{}", budget.body);
}

#[tokio::test]
async fn a_leaked_reservation_is_released_after_its_ttl() {
    let app = app().await;
    let leak = post(&app, "/v1/usage/reserve", json!({ "tenant": "acme", "estimated_cost_usd": 1.0 })).await;
    assert_eq!(leak.body["allowed"], true);
    let blocked = post(&app, "/v1/usage/reserve", json!({ "tenant": "acme", "estimated_cost_usd": 0.01 })).await;
    assert_eq!(blocked.body["allowed"], false);
    let releaser = Releaser::new(ReleaserConfig::default(), app.engine.clone());
    app.clock.advance(Duration::from_secs(599));
    assert_eq!(releaser.run_once().await.unwrap(), 0);
    app.clock.advance(Duration::from_secs(1));
    assert_eq!(releaser.run_once().await.unwrap(), 1);
    let again = post(&app, "/v1/usage/reserve", json!({ "tenant": "acme", "estimated_cost_usd": 0.01 })).await;
    assert_eq!(again.body["allowed"], true, "{}", again.body);
}
