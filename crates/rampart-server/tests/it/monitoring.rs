//! Monitoring in process: the sampler driven one step at a time on the
//! manual clock, queue metrics and their history, totals that survive a
//! restart, readiness's figures, system and queue health with alerts, and
//! `/metrics` read by a real Prometheus text-format parser.

use std::time::Duration;

use axum::http::{Method, StatusCode};
use prometheus_parse::{LineInfo, Scrape, Value};
use rampart_core::id::QueueName;
use rampart_server::config::{Config, MonitoringConfig};
use rampart_server::engine::Engine;
use rampart_server::monitoring::prometheus::{self, Series};
use rampart_server::monitoring::{FiringAlert, Monitor};
use rampart_server::service::{Sampler, SamplerConfig};
use rampart_server::shutdown::Shutdown;
use serde_json::{Value as Json, json};

use crate::harness::{T0, TestApp};

fn sampler(app: &TestApp) -> Sampler {
    Sampler::new(SamplerConfig::from_config(app.monitor.config()), app.monitor.clone())
}

/// Leases one job of `queue` and completes it (or fails it for good).
async fn finish_one(app: &TestApp, queue: &str, complete: bool, worker: Option<&str>) {
    let body = match worker {
        Some(w) => format!(r#"{{"max":1,"worker":"{w}"}}"#),
        None => r#"{"max":1}"#.to_string(),
    };
    let leased = app.send_as("worker", Method::POST, &format!("/v1/queues/{queue}/lease"), Some(&body)).await;
    let job = &leased.body["jobs"][0];
    let (id, token) = (job["id"].as_str().unwrap(), job["lease_token"].as_str().unwrap());
    app.clock.advance(Duration::from_millis(7));
    let (path, body) = if complete {
        (format!("/v1/jobs/{id}/complete"), format!(r#"{{"lease_token":"{token}"}}"#))
    } else {
        (format!("/v1/jobs/{id}/fail"), format!(r#"{{"lease_token":"{token}","error":"boom","retryable":false}}"#))
    };
    let a = app.send_as("worker", Method::POST, &path, Some(&body)).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
}

#[tokio::test]
async fn samples_hold_counts_totals_and_interval_figures_and_the_ring_keeps_the_last_ones() {
    let config =
        Config { monitoring: MonitoringConfig { retain: 3, ..MonitoringConfig::default() }, ..Config::default() };
    let app = TestApp::with_config(config).await;
    for _ in 0..4 {
        app.enqueue("mail", r#"{"payload":{}}"#).await;
    }
    app.enqueue("mail", r#"{"payload":{},"delay":"1h"}"#).await;
    finish_one(&app, "mail", true, Some("w1")).await;
    finish_one(&app, "mail", true, None).await;
    finish_one(&app, "mail", false, None).await;
    let sampler = sampler(&app);
    let set = sampler.run_once().await.unwrap();
    assert_eq!(set.queues.len(), 1);

    let a = app.send_as("reader", Method::GET, "/v1/monitoring/queue-metrics", None).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!((&a.body["interval"], &a.body["retain"]), (&json!("30s"), &json!(3)));
    assert_eq!(a.body["sampled_at"], json!(T0.plus(Duration::from_millis(21)).to_rfc3339()));
    let mail = &a.body["queues"][0];
    let expected = json!({
        "queue": "mail", "waiting": 1, "delayed": 1, "active": 0,
        "completed": 2, "dead": 1, "failed": 1, "retries": 0, "stalled": 0, "timeouts": 0,
        "interval_attempts": 3, "mean_processing_ms": 7.0,
    });
    for (key, want) in expected.as_object().unwrap() {
        assert_eq!(&mail[key], want, "{key} in {mail}");
    }
    assert!((mail["failed_rate"].as_f64().unwrap() - 1.0 / 3.0).abs() < 1e-9, "{mail}");
    // Three runs of 7 ms, all in the (5, 10] ms bucket.
    assert_eq!(mail["p95_processing_ms"], json!(9.75));
    assert!(mail["store_latency_ms"].as_f64().unwrap() >= 0.0);

    // Nothing ended since: the next interval is empty, the totals stay.
    for _ in 0..4 {
        app.clock.advance(Duration::from_secs(30));
        sampler.run_once().await.unwrap();
    }
    let a = app.send_as("reader", Method::GET, "/v1/monitoring/queue-metrics/mail", None).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let samples = a.body["samples"].as_array().unwrap();
    assert_eq!(samples.len(), 3, "retain = 3 keeps the last three");
    assert_eq!(a.body["latest"], samples[2]);
    assert_eq!((&a.body["latest"]["interval_attempts"], &a.body["latest"]["failed_rate"]), (&json!(0), &json!(0.0)));
    assert_eq!(a.body["latest"]["completed"], 2);
    let times: Vec<&str> = samples.iter().map(|s| s["at"].as_str().unwrap()).collect();
    assert!(times.windows(2).all(|w| w[0] < w[1]), "oldest first: {times:?}");

    let missing = app.send_as("reader", Method::GET, "/v1/monitoring/queue-metrics/nope", None).await;
    assert_eq!((missing.status, missing.code()), (StatusCode::NOT_FOUND, "QUEUE_NOT_FOUND"));
    let bad = app.send_as("reader", Method::GET, "/v1/monitoring/queue-metrics/bad%20name", None).await;
    assert_eq!((bad.status, bad.code()), (StatusCode::BAD_REQUEST, "INVALID_QUEUE_NAME"));
}

#[tokio::test]
async fn totals_are_stored_so_a_restarted_node_goes_on_from_them() {
    let app = TestApp::new().await;
    app.enqueue("q", r#"{"payload":{}}"#).await;
    app.enqueue("q", r#"{"payload":{}}"#).await;
    finish_one(&app, "q", true, None).await;
    sampler(&app).run_once().await.unwrap();
    finish_one(&app, "q", true, None).await;
    // A stopping sampler stores what it counted since its last sample.
    let (trigger, shutdown) = Shutdown::new();
    trigger.trigger();
    sampler(&app).run(shutdown).await;

    // A new engine over the same store: what a restarted server starts with.
    let (_trigger, shutdown) = Shutdown::new();
    let engine = Engine::new(app.engine.store().clone(), &Config::default(), app.clock.clone(), shutdown);
    let restarted = Monitor::new(MonitoringConfig::default(), engine);
    let set = Sampler::new(SamplerConfig::default(), restarted.clone()).run_once().await.unwrap();
    let q = QueueName::new("q").unwrap();
    assert_eq!(set.queues[0].totals.completed, 2, "{set:?}");
    assert_eq!(set.queues[0].interval_attempts, 0);
    assert_eq!(restarted.totals()[&q].completed, 2);
    let ready = app.send_as("", Method::GET, "/health/ready", None).await;
    assert_eq!(ready.body["components"]["jobs"]["completed_today"], 2, "{}", ready.body);
}

#[tokio::test]
async fn readiness_reports_redis_workers_and_job_figures() {
    let app = TestApp::new().await;
    for _ in 0..3 {
        app.enqueue("r", r#"{"payload":{}}"#).await;
    }
    let leased = app.send_as("worker", Method::POST, "/v1/queues/r/lease", Some(r#"{"max":1,"worker":"w-a"}"#)).await;
    assert_eq!(leased.status, StatusCode::OK);
    app.send_as("worker", Method::POST, "/v1/queues/r/lease", Some(r#"{"max":1}"#)).await;
    let ready = app.send_as("", Method::GET, "/health/ready", None).await;
    assert_eq!(ready.status, StatusCode::OK, "{}", ready.body);
    let c = &ready.body["components"];
    assert!(c.get("redis").is_none(), "no Redis configured: {c}");
    assert_eq!(c["workers"], json!({"seen_last_minute": 2, "active_leases": 2, "stale_leases": 0}));
    assert_eq!(c["jobs"], json!({"available": 1, "active": 2, "completed_today": 0, "dead_today": 0}));
    // Past the leases' 30s without a heartbeat, and a minute on: stale until reaped, workers gone.
    app.clock.advance(Duration::from_secs(61));
    let ready = app.send_as("", Method::GET, "/health/ready", None).await;
    let c = &ready.body["components"];
    assert_eq!(c["workers"], json!({"seen_last_minute": 0, "active_leases": 2, "stale_leases": 2}));
}

#[tokio::test]
async fn readiness_turns_503_while_the_store_cannot_write_and_recovers_by_itself() {
    let app = TestApp::new().await;
    // A full disk made for real: SQLite may not grow past its current size.
    let rampart_store::Store::Sqlite(sqlite) = app.engine.store() else { return };
    app.enqueue("full", r#"{"payload":{}}"#).await;
    assert_eq!(app.send_as("", Method::GET, "/health/ready", None).await.status, StatusCode::OK);
    sqlite.max_page_count_set(1).await.unwrap();
    let big = json!({"payload": {"blob": "x".repeat(256 * 1024)}}).to_string();
    let refused = app.send(Method::POST, "/v1/queues/full/jobs", Some(&big)).await;
    assert_eq!(
        (refused.status, refused.code()),
        (StatusCode::SERVICE_UNAVAILABLE, "STORE_UNAVAILABLE"),
        "{}",
        refused.body
    );

    let ready = app.send_as("", Method::GET, "/health/ready", None).await;
    assert_eq!(ready.status, StatusCode::SERVICE_UNAVAILABLE, "{}", ready.body);
    let store = &ready.body["components"]["store"];
    assert_eq!((store["status"].as_str(), ready.body["status"].as_str()), (Some("down"), Some("not_ready")));
    assert!(store["error"].as_str().unwrap_or("").contains("cannot write"), "{store}");
    let sys = app.send_as("reader", Method::GET, "/v1/monitoring/system-health", None).await;
    assert_eq!(sys.body["components"]["store"]["status"], "down", "{}", sys.body);
    // Still full: each probe tries a write, and stays unready.
    assert_eq!(app.send_as("", Method::GET, "/health/ready", None).await.status, StatusCode::SERVICE_UNAVAILABLE);

    // Room again: the next probe's test write goes through, with no other write.
    sqlite.max_page_count_set(u32::MAX.into()).await.unwrap();
    let ready = app.send_as("", Method::GET, "/health/ready", None).await;
    assert_eq!(ready.status, StatusCode::OK, "{}", ready.body);
    assert_eq!(ready.body["components"]["store"]["status"], "up");
    let accepted = app.send(Method::POST, "/v1/queues/full/jobs", Some(&big)).await;
    assert_eq!(accepted.status, StatusCode::CREATED, "{}", accepted.body);
}

#[tokio::test]
async fn system_and_queue_health_turn_degraded_while_an_alert_fires() {
    let app = TestApp::new().await;
    app.enqueue("a", r#"{"payload":{}}"#).await;
    app.enqueue("b", r#"{"payload":{}}"#).await;
    sampler(&app).run_once().await.unwrap();
    let sys = app.send_as("reader", Method::GET, "/v1/monitoring/system-health", None).await;
    assert_eq!(sys.status, StatusCode::OK, "{}", sys.body);
    assert_eq!((&sys.body["healthy"], &sys.body["status"]), (&json!(true), &json!("healthy")));
    let c = &sys.body["components"];
    assert_eq!(c["store"]["status"], "up");
    assert_eq!(c["redis"], Json::Null);
    assert_eq!(c["breakers"], json!({"count": 0, "open": [], "half_open": []}));
    assert_eq!((&c["queues"]["count"], &c["queues"]["waiting"]), (&json!(2), &json!(2)));
    assert_eq!(c["alerts"], json!({"firing": 0, "alerts": [], "failing_channels": []}));
    assert_eq!(c["ratelimit"]["policies"], 13, "the presets");
    assert_eq!(sys.body["timestamp"], T0.to_rfc3339());

    app.monitor.alerts_publish(vec![FiringAlert {
        name: "queue_backlog".into(),
        queue: Some(QueueName::new("b").unwrap()),
        message: "1 job waiting".into(),
        since: T0,
    }]);
    let sys = app.send_as("reader", Method::GET, "/v1/monitoring/system-health", None).await;
    assert_eq!((&sys.body["healthy"], &sys.body["status"]), (&json!(false), &json!("degraded")));
    assert_eq!(sys.body["components"]["queues"]["unhealthy"], 1);
    let health = app.send_as("reader", Method::GET, "/v1/monitoring/queue-health", None).await;
    assert_eq!(
        health.body,
        json!({"queues": [
            {"queue": "a", "healthy": true, "alerts": []},
            {"queue": "b", "healthy": false, "alerts": [
                {"name": "queue_backlog", "queue": "b", "message": "1 job waiting", "since": T0.to_rfc3339()}
            ]},
        ]})
    );
    app.monitor.alerts_publish(Vec::new());
    let sys = app.send_as("reader", Method::GET, "/v1/monitoring/system-health", None).await;
    assert_eq!(sys.body["status"], "healthy");
}

#[tokio::test]
async fn an_open_breaker_degrades_system_health_and_shows_in_the_metrics() {
    let app = TestApp::new().await;
    for _ in 0..5 {
        let acquired = app.send_as("producer", Method::POST, "/v1/breakers/payments/acquire", None).await;
        assert_eq!(acquired.body["allowed"], true, "{}", acquired.body);
        let failure = r#"{"outcome":"failure","duration_ms":3}"#;
        let recorded = app.send_as("producer", Method::POST, "/v1/breakers/payments/record", Some(failure)).await;
        assert_eq!(recorded.status, StatusCode::OK, "{}", recorded.body);
    }
    let sys = app.send_as("reader", Method::GET, "/v1/monitoring/system-health", None).await;
    assert_eq!((&sys.body["healthy"], &sys.body["status"]), (&json!(false), &json!("degraded")));
    assert_eq!(sys.body["components"]["breakers"], json!({"count": 1, "open": ["payments"], "half_open": []}));

    let text = app.call(Method::GET, "/metrics").role("reader").send().await.body.as_str().unwrap().to_string();
    let scrape = parse(&text);
    let state = |s: &str| match find(&scrape, "rampart_breaker_state", &[("breaker", "payments"), ("state", s)]) {
        Some(Value::Gauge(n)) => *n,
        other => panic!("rampart_breaker_state {s}: {other:?}\n{text}"),
    };
    assert_eq!((state("closed"), state("open"), state("half_open")), (0.0, 1.0, 0.0));

    // Past the cooldown it lets a probe through: no longer open.
    app.clock.advance(Duration::from_secs(31));
    let sys = app.send_as("reader", Method::GET, "/v1/monitoring/system-health", None).await;
    assert_eq!(sys.body["components"]["breakers"], json!({"count": 1, "open": [], "half_open": ["payments"]}));
    assert_eq!(sys.body["status"], "healthy");
}

#[tokio::test]
async fn subscribers_see_every_new_sample_set() {
    let app = TestApp::new().await;
    let mut samples = app.monitor.subscribe();
    assert!(samples.borrow_and_update().at.is_none(), "empty before the first sample");
    app.enqueue("s", r#"{"payload":{}}"#).await;
    sampler(&app).run_once().await.unwrap();
    tokio::time::timeout(Duration::from_secs(10), samples.changed()).await.unwrap().unwrap();
    let set = samples.borrow_and_update().clone();
    assert_eq!((set.at, set.queues.len()), (Some(T0), 1));
}

/// Parses an exposition strictly: every line is a comment or a sample the
/// parser understands, and then through the parser.
fn parse(text: &str) -> Scrape {
    for line in text.lines() {
        let ok =
            matches!(LineInfo::parse(line), LineInfo::Doc { .. } | LineInfo::Type { .. } | LineInfo::Sample { .. });
        assert!(ok, "not a line of the text format: {line:?}");
    }
    Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).unwrap()
}

fn find<'a>(scrape: &'a Scrape, metric: &str, labels: &[(&str, &str)]) -> Option<&'a Value> {
    scrape
        .samples
        .iter()
        .find(|s| s.metric == metric && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .map(|s| &s.value)
}

#[tokio::test]
async fn metrics_parse_as_prometheus_text_and_carry_the_documented_series() {
    let app = TestApp::new().await;
    let put = app.send(Method::PUT, "/v1/ratelimit/policies/login", Some(r#"{"limit":1,"window":"1m"}"#)).await;
    assert_eq!(put.status, StatusCode::OK, "{}", put.body);
    for _ in 0..2 {
        let check = r#"{"policy":"login","key":"u1"}"#;
        app.send_as("producer", Method::POST, "/v1/ratelimit/check", Some(check)).await;
    }
    app.enqueue("mail", r#"{"payload":{}}"#).await;
    app.enqueue("mail", r#"{"payload":{}}"#).await;
    finish_one(&app, "mail", true, Some("w1")).await;
    sampler(&app).run_once().await.unwrap();
    finish_one(&app, "mail", false, None).await;
    app.send_as("reader", Method::GET, "/v1/jobs/1", None).await;
    app.send_as("reader", Method::GET, "/no/such/route", None).await;
    for method in ["BREW", "WHEN"] {
        app.send_as("reader", Method::from_bytes(method.as_bytes()).unwrap(), "/v1/queues", None).await;
    }

    let a = app.call(Method::GET, "/metrics").role("reader").send().await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(a.header("content-type"), prometheus::CONTENT_TYPE);
    let text = a.body.as_str().expect("text, not JSON");
    let scrape = parse(text);
    // Every series but Redis's (absent without Redis) is there from the
    // start, with its HELP and TYPE, and each sample carries its series'
    // declared labels.
    let redis = [Series::RedisUp, Series::RedisUsedMemoryBytes];
    for series in Series::ALL.into_iter().filter(|s| !redis.contains(s)) {
        let name = series.name();
        assert_eq!(scrape.docs.get(name).map(String::as_str), Some(series.help()), "# HELP of {name}");
        assert!(text.contains(&format!("# TYPE {name} {}\n", series.kind())), "# TYPE of {name}");
    }
    for sample in &scrape.samples {
        let metric = ["_sum", "_count"].iter().find_map(|end| sample.metric.strip_suffix(end));
        let series = Series::ALL
            .into_iter()
            .find(|s| s.name() == sample.metric || Some(s.name()) == metric)
            .unwrap_or_else(|| panic!("{} is not a declared series", sample.metric));
        let mut labels: Vec<&str> = sample.labels.keys().map(String::as_str).collect();
        let mut declared = series.labels().to_vec();
        labels.sort_unstable();
        declared.sort_unstable();
        assert_eq!(labels, declared, "the labels of {}", sample.metric);
    }
    let counter = |metric, labels: &[(&str, &str)]| match find(&scrape, metric, labels) {
        Some(Value::Counter(n) | Value::Gauge(n) | Value::Untyped(n)) => *n,
        other => panic!("{metric} {labels:?}: {other:?}\n{text}"),
    };
    // Totals: the sampled completion plus the failure counted since, live.
    assert_eq!(counter("rampart_jobs_total", &[("queue", "mail"), ("outcome", "completed")]), 1.0);
    assert_eq!(counter("rampart_jobs_total", &[("queue", "mail"), ("outcome", "dead")]), 1.0);
    assert_eq!(counter("rampart_jobs_total", &[("queue", "mail"), ("outcome", "retried")]), 0.0);
    assert_eq!(counter("rampart_jobs_stalled_total", &[("queue", "mail")]), 0.0);
    assert_eq!(counter("rampart_queue_jobs", &[("queue", "mail"), ("state", "available")]), 1.0);
    assert_eq!(counter("rampart_queue_jobs", &[("queue", "mail"), ("state", "completed")]), 1.0);
    assert_eq!(counter("rampart_workers_seen", &[]), 2.0);
    assert_eq!(counter("rampart_ratelimit_checks_total", &[("policy", "login"), ("decision", "allowed")]), 1.0);
    assert_eq!(counter("rampart_ratelimit_checks_total", &[("policy", "login"), ("decision", "denied")]), 1.0);
    assert!(counter("rampart_store_latency_seconds", &[]) >= 0.0);
    assert!(find(&scrape, "rampart_redis_up", &[]).is_none(), "no Redis configured");
    assert!(find(&scrape, "rampart_redis_used_memory_bytes", &[]).is_none(), "no Redis configured");
    if cfg!(target_os = "linux") {
        let (resident, heap) =
            (counter("rampart_process_resident_memory_bytes", &[]), counter("rampart_process_heap_bytes", &[]));
        assert!(resident > 1e6 && heap > 0.0 && heap <= resident, "{resident} {heap}");
    }
    match find(&scrape, "rampart_job_duration_seconds", &[("queue", "mail")]) {
        Some(Value::Histogram(buckets)) => {
            let at = |le: f64| buckets.iter().find(|b| b.less_than == le).map(|b| b.count);
            assert_eq!((at(0.005), at(0.01), at(f64::INFINITY)), (Some(0.0), Some(2.0), Some(2.0)), "{buckets:?}");
        }
        other => panic!("rampart_job_duration_seconds: {other:?}"),
    }
    // HTTP requests by matched route, never the raw path.
    let job = [("method", "GET"), ("route", "/v1/jobs/:id"), ("status", "200")];
    assert_eq!(counter("rampart_http_requests_total", &job), 1.0);
    assert!(!text.contains("/v1/jobs/1\""), "a raw path became a label");
    let unmatched = [("route", "unmatched"), ("status", "404")];
    assert_eq!(counter("rampart_http_requests_total", &unmatched), 1.0);
    let odd = [("method", "OTHER"), ("route", "/v1/queues"), ("status", "405")];
    assert_eq!(counter("rampart_http_requests_total", &odd), 2.0, "methods outside the standard ones share one label");
    match find(&scrape, "rampart_http_request_duration_seconds", &job) {
        Some(Value::Histogram(buckets)) => assert_eq!(buckets.last().map(|b| b.count), Some(1.0)),
        other => panic!("rampart_http_request_duration_seconds: {other:?}"),
    }
}

#[tokio::test]
async fn metrics_need_a_reader_key_unless_public() {
    let app = TestApp::new().await;
    assert_eq!(app.send_as("", Method::GET, "/metrics", None).await.status, StatusCode::UNAUTHORIZED);
    let public = MonitoringConfig { metrics_public: true, ..MonitoringConfig::default() };
    let app = TestApp::with_config(Config { monitoring: public, ..Config::default() }).await;
    let a = app.send_as("", Method::GET, "/metrics", None).await;
    assert_eq!(a.status, StatusCode::OK);
    parse(a.body.as_str().unwrap());
}

#[tokio::test]
async fn with_monitoring_off_the_sampled_routes_say_so_and_health_still_answers() {
    let off = MonitoringConfig { enabled: false, ..MonitoringConfig::default() };
    let app = TestApp::with_config(Config { monitoring: off, ..Config::default() }).await;
    for path in
        ["/metrics", "/v1/monitoring/queue-metrics", "/v1/monitoring/queue-metrics/q", "/v1/monitoring/queue-health"]
    {
        let a = app.send_as("reader", Method::GET, path, None).await;
        assert_eq!((a.status, a.code()), (StatusCode::NOT_FOUND, "MONITORING_DISABLED"), "{path}");
        assert!(a.message().contains("monitoring.enabled"), "{}", a.message());
    }
    let sys = app.send_as("reader", Method::GET, "/v1/monitoring/system-health", None).await;
    assert_eq!((sys.status, &sys.body["status"]), (StatusCode::OK, &json!("healthy")));
    assert_eq!(sys.body["components"]["queues"]["sampled_at"], Json::Null);
    assert_eq!(app.send_as("", Method::GET, "/health/ready", None).await.status, StatusCode::OK);
    assert!(app.monitor.http().series().is_empty(), "requests are not counted");
}

#[tokio::test]
async fn memory_shows_in_system_health_diagnostics_and_with_redis_in_the_metrics() {
    use rampart_server::config::RedisUrl;
    use rampart_server::ratelimit::RateLimiter;

    let app = TestApp::new().await;
    let health = app.send_as("reader", Method::GET, "/v1/monitoring/system-health", None).await.body;
    let memory = &health["components"]["memory"];
    let diag = app.send(Method::GET, "/v1/admin/diagnostics/background-jobs", None).await.body;
    assert_eq!(memory["redis_used_bytes"], Json::Null, "no Redis configured");
    assert_eq!(diag["memory"]["redis_used_bytes"], Json::Null);
    if cfg!(target_os = "linux") {
        for m in [memory, &diag["memory"]] {
            let (resident, heap) = (m["resident_bytes"].as_u64().unwrap(), m["heap_bytes"].as_u64().unwrap());
            assert!(resident > 1_000_000 && heap > 0 && heap <= resident, "{m}");
        }
    }
    // With the local Redis, every sample asks it its used_memory.
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let clock: rampart_core::time::SharedClock = app.clock.clone();
    let limiter = RateLimiter::with_redis(&Config::default().ratelimit, Some(&RedisUrl::parse(&url).unwrap()), clock);
    if !limiter.redis().unwrap().probe(rampart_core::time::Clock::now(&*app.clock)).await {
        assert!(std::env::var("CI").as_deref() != Ok("true"), "CI=true and no Redis at {url}");
        eprintln!("skipped the Redis part: no Redis at {url}");
        return;
    }
    let sampler = Sampler::new(SamplerConfig::default(), app.monitor.clone()).with_limiter(limiter.clone());
    let used = sampler.run_once().await.unwrap().memory.redis_used_bytes.unwrap();
    assert!(used > 100_000, "{used}");
    let text = prometheus::render(&app.monitor, &limiter, &[], &[], &[], &Default::default(), Duration::from_secs(1));
    match find(&parse(&text), "rampart_redis_used_memory_bytes", &[]) {
        Some(Value::Gauge(v)) => assert_eq!(*v, used as f64),
        other => panic!("rampart_redis_used_memory_bytes: {other:?}\n{text}"),
    }
    let health = app.send_as("reader", Method::GET, "/v1/monitoring/system-health", None).await.body;
    assert_eq!(health["components"]["memory"]["redis_used_bytes"], used, "system health reads the last sample");
}

#[tokio::test]
async fn redis_up_is_absent_without_redis_and_a_sample_with_it() {
    use rampart_server::config::RedisUrl;
    use rampart_server::ratelimit::RateLimiter;

    let app = TestApp::new().await;
    let text = app.call(Method::GET, "/metrics").role("reader").send().await.body.as_str().unwrap().to_string();
    assert!(!text.contains("rampart_redis_up"), "no Redis configured, yet:\n{text}");

    // A Redis nobody listens on: configured, so the series is there, down.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let unused = RedisUrl::parse(&format!("redis://{}", listener.local_addr().unwrap())).unwrap();
    drop(listener);
    let clock: rampart_core::time::SharedClock = app.clock.clone();
    let limiter = RateLimiter::with_redis(&Config::default().ratelimit, Some(&unused), clock);
    let text = prometheus::render(&app.monitor, &limiter, &[], &[], &[], &Default::default(), Duration::from_secs(1));
    let scrape = parse(&text);
    assert_eq!(scrape.docs.get("rampart_redis_up").map(String::as_str), Some(Series::RedisUp.help()));
    assert!(text.contains("# TYPE rampart_redis_up gauge\n"), "{text}");
    // Not connected until the prober reaches it: checks fall back, so 0.
    assert!(matches!(find(&scrape, "rampart_redis_up", &[]), Some(Value::Gauge(v)) if *v == 0.0), "{text}");
}

#[tokio::test]
async fn a_stall_another_node_reaped_shows_in_every_nodes_queue_totals() {
    let app = TestApp::new().await;
    // Another node over the same store: its engine counts what its reaper finds.
    let (_trigger, shutdown) = Shutdown::new();
    let other = Engine::new(app.engine.store().clone(), &Config::default(), app.clock.clone(), shutdown);
    let other_monitor = Monitor::new(MonitoringConfig::default(), other.clone());
    app.enqueue("q", r#"{"payload":{}}"#).await;
    assert_eq!(app.lease("q", 1).await.len(), 1);
    app.clock.advance(Duration::from_secs(60));
    assert_eq!(other.reap_once().await.unwrap(), 1, "the other node's reaper gives the stalled job back");
    // The other node stores its totals at its sample, this node reads them at its own.
    Sampler::new(SamplerConfig::default(), other_monitor).run_once().await.unwrap();
    sampler(&app).run_once().await.unwrap();

    let queue = app.send_as("reader", Method::GET, "/v1/queues/q", None).await;
    assert_eq!(queue.body["totals"]["stalled"], 1, "{}", queue.body);
    let list = app.send_as("reader", Method::GET, "/v1/queues", None).await;
    assert_eq!(list.body["queues"][0]["totals"]["stalled"], 1, "{}", list.body);
}
