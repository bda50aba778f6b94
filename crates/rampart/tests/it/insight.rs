//! What apps report, against the real binary over HTTP: a `ReportingCache`
//! reports itself with a producer key, an app reports error events (one
//! critical), and an operator reads them with `rampart caches` and
//! `rampart errors`, as tables and as JSON.

use rampart_client::cache::ReportingCache;
use rampart_client::client::Client;
use rampart_client::wire::{
    AlertsResponse, CacheDetail, CachesResponse, ErrorReportRequest, ErrorsResponse, KeyCreateRequest,
};
use rampart_core::auth::Role;
use rampart_core::insight::{ErrorLevel, EvictionReason};

use crate::harness::TestServer;

#[tokio::test]
async fn a_reporting_cache_and_error_events_reach_the_cli_and_alerts() {
    let server = TestServer::start().await;
    let producer = server
        .client()
        .key_create(&KeyCreateRequest { name: "model-app".into(), role: Role::Producer })
        .await
        .expect("a producer key");
    let app = Client::new(server.url(), Some(producer.key)).unwrap();

    let cache = ReportingCache::<String, u64>::new("embeddings", 2).with_weigher(|_, _| 1024);
    for key in ["a", "b", "a", "c", "a"] {
        cache.get_or_load(key.to_string(), || 7);
    }
    cache.remove(&"c".to_string());
    cache.report(&app).await.expect("the cache reports itself");

    let cli = server.cli();
    let caches: CachesResponse = cli.json(&["caches"]).await;
    let c = &caches.caches[0];
    assert_eq!((c.name.as_str(), c.size, c.max_size, c.loads), ("embeddings", Some(1), Some(2), Some(3)));
    assert_eq!((c.hits, c.misses, c.memory_bytes), (Some(2), Some(3), Some(1024)));
    assert_eq!((c.last_hour.evicted_lru, c.last_hour.evicted_manual), (1, 1));
    let detail: CacheDetail = cli.json(&["caches", "show", "embeddings"]).await;
    let reasons: Vec<EvictionReason> = detail.evictions.iter().map(|e| e.reason).collect();
    assert_eq!(reasons, [EvictionReason::Manual, EvictionReason::Lru], "newest first");
    let table = cli.run(&["caches"]).await;
    table.expect_code(0);
    assert!(table.stdout.contains("embeddings") && table.stdout.contains("HIT RATE"), "{}", table.stdout);
    let shown = cli.run(&["caches", "show", "embeddings"]).await;
    shown.expect_code(0);
    assert!(shown.stdout.contains("latest evictions (2 kept)"), "{}", shown.stdout);

    let event = |level, message: &str| ErrorReportRequest {
        level,
        kind: "payments.down".into(),
        message: message.into(),
        fingerprint: None,
        tenant: Some("acme".into()),
        tags: Default::default(),
        at: None,
    };
    let kept = app.error_report(&event(ErrorLevel::Error, "charge 1234 for ann@example.com failed")).await.unwrap();
    assert_eq!(kept.message, "charge 1234 for [email] failed");
    app.error_report(&event(ErrorLevel::Critical, "processor unreachable")).await.unwrap();

    let errors: ErrorsResponse = cli.json(&["errors", "list", "--level", "critical"]).await;
    assert_eq!(errors.events.len(), 1);
    let counts = cli.run(&["errors", "counts"]).await;
    counts.expect_code(0);
    assert!(counts.stdout.contains("payments.down"), "{}", counts.stdout);
    let bad = cli.run(&["errors", "list", "--level", "fatal"]).await;
    assert_ne!(bad.code, Some(0), "a bad level is refused");
    let diag = cli.run(&["diag"]).await;
    diag.expect_code(0);
    assert!(diag.stdout.contains("apps report: 1 cache(s)"), "{}", diag.stdout);
    let alerts: AlertsResponse = cli.json(&["alerts", "list"]).await;
    assert!(
        alerts.alerts.iter().any(|a| a.rule.as_str() == "error_critical" && a.subject == "payments.down"),
        "a critical event is an alert at once: {:?}",
        alerts.alerts
    );
}
