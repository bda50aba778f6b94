//! rampart's own API under its own limits (`[ratelimit.api]`), in process:
//! a key over `per_key` gets `429 RATE_LIMITED` and other keys go on;
//! requests without a verified key count per client IP, failed auth
//! included; `enabled = false` turns both off.

use std::time::Duration;

use axum::http::{Method, StatusCode};
use rampart_limit::policy::{Algorithm, Policy};
use rampart_server::config::Config;

use crate::harness::{Answer, TestApp};

/// An app whose own limits are fixed windows of a minute.
async fn app(enabled: bool, per_key: u64, per_ip: u64) -> TestApp {
    let mut config = Config::default();
    let minute = |limit| Policy::new(limit, Duration::from_secs(60), Algorithm::FixedWindow, None).unwrap();
    config.ratelimit.api.enabled = enabled;
    config.ratelimit.api.per_key = minute(per_key);
    config.ratelimit.api.per_ip = minute(per_ip);
    config.ratelimit.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    TestApp::with_config(config).await
}

fn assert_rate_limited(a: &Answer, policy: &str, limit: u64, retry: &str) {
    assert_eq!((a.status, a.code()), (StatusCode::TOO_MANY_REQUESTS, "RATE_LIMITED"), "{}", a.body);
    assert_eq!(a.body.as_object().unwrap().len(), 1, "only the error: {}", a.body);
    assert_eq!(a.header("retry-after"), retry);
    assert_eq!((a.header("x-ratelimit-limit"), a.header("x-ratelimit-remaining")), (&*limit.to_string(), "0"));
    assert_eq!(a.header("ratelimit-policy"), format!("\"{policy}\";q={limit};w=60"));
    assert!(a.message().contains("retry after"), "{}", a.message());
}

#[tokio::test]
async fn a_key_over_its_limit_gets_429_rate_limited_and_other_keys_go_on() {
    let app = app(true, 3, 100).await;
    // The first request verifies the key in the store, and so counts per IP.
    let first = app.send_as("producer", Method::GET, "/v1/queues", None).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    for _ in 0..3 {
        let a = app.send_as("producer", Method::GET, "/v1/queues", None).await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.body);
        assert_eq!(a.header("x-ratelimit-limit"), "", "answers within the limit carry no extra headers");
    }
    let denied = app.send_as("producer", Method::GET, "/v1/queues", None).await;
    assert_rate_limited(&denied, "rampart:per_key", 3, "60");
    assert!(denied.message().contains("ratelimit.api.per_key"), "{}", denied.message());
    // Every route, whatever it would have answered.
    let missing = app.send_as("producer", Method::GET, "/v1/no-such-route", None).await;
    assert_eq!(missing.status, StatusCode::TOO_MANY_REQUESTS);
    let health = app.send_as("producer", Method::GET, "/health", None).await;
    assert_eq!(health.status, StatusCode::TOO_MANY_REQUESTS, "the key counts on open routes too");

    let other = app.send_as("worker", Method::GET, "/v1/queues", None).await;
    assert_eq!(other.status, StatusCode::OK, "another key is unaffected: {}", other.body);
    let anonymous = app.send_as("", Method::GET, "/health", None).await;
    assert_eq!(anonymous.status, StatusCode::OK);

    app.clock.advance(Duration::from_secs(60));
    let again = app.send_as("producer", Method::GET, "/v1/queues", None).await;
    assert_eq!(again.status, StatusCode::OK, "the next window admits the key again: {}", again.body);
}

#[tokio::test]
async fn requests_without_a_verified_key_count_per_client_ip() {
    let app = app(true, 1000, 2).await;
    let health = |ip: &'static str| app.call(Method::GET, "/health").from(ip).send();
    assert_eq!(health("203.0.113.7").await.status, StatusCode::OK);
    assert_eq!(health("203.0.113.7").await.status, StatusCode::OK);
    let denied = health("203.0.113.7").await;
    assert_rate_limited(&denied, "rampart:per_ip", 2, "60");
    assert!(denied.message().contains("Authorization: Bearer"), "{}", denied.message());
    assert_eq!(health("203.0.113.8").await.status, StatusCode::OK, "another address is unaffected");

    // Wrong keys count too, and once over, are refused without a lookup.
    let wrong = || app.call(Method::GET, "/v1/queues").from("198.51.100.1").header("authorization", "Bearer rk_nope");
    assert_eq!(wrong().send().await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong().send().await.status, StatusCode::UNAUTHORIZED);
    assert_rate_limited(&wrong().send().await, "rampart:per_ip", 2, "60");
    let ready = app.call(Method::GET, "/health/ready").from("198.51.100.1").send().await;
    assert_eq!(ready.status, StatusCode::TOO_MANY_REQUESTS);

    // Behind a trusted proxy, each client has its own count.
    let proxied =
        |client: &'static str| app.call(Method::GET, "/health").from("127.0.0.1").header("x-forwarded-for", client);
    assert_eq!(proxied("192.0.2.10").send().await.status, StatusCode::OK);
    assert_eq!(proxied("192.0.2.10").send().await.status, StatusCode::OK);
    assert_eq!(proxied("192.0.2.10").send().await.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(proxied("192.0.2.11").send().await.status, StatusCode::OK);

    // A key verified before its address ran out goes on counting per key;
    // one seen first from an address that ran out is not looked up.
    let admin = app.call(Method::GET, "/v1/queues").role("admin").from("192.0.2.20");
    assert_eq!(admin.send().await.status, StatusCode::OK);
    assert_eq!(app.call(Method::GET, "/health").from("192.0.2.20").send().await.status, StatusCode::OK);
    assert_eq!(app.call(Method::GET, "/health").from("192.0.2.20").send().await.status, StatusCode::TOO_MANY_REQUESTS);
    let admin = app.call(Method::GET, "/v1/queues").role("admin").from("192.0.2.20").send().await;
    assert_eq!(admin.status, StatusCode::OK, "{}", admin.body);
    let reader = app.call(Method::GET, "/v1/queues").role("reader").from("192.0.2.20").send().await;
    assert_rate_limited(&reader, "rampart:per_ip", 2, "60");

    app.clock.advance(Duration::from_secs(60));
    assert_eq!(health("203.0.113.7").await.status, StatusCode::OK, "the next window admits the address again");
}

#[tokio::test]
async fn enabled_false_turns_the_own_limits_off() {
    let app = app(false, 1, 1).await;
    for _ in 0..5 {
        assert_eq!(app.send_as("", Method::GET, "/health", None).await.status, StatusCode::OK);
        assert_eq!(app.send_as("admin", Method::GET, "/v1/queues", None).await.status, StatusCode::OK);
        assert_eq!(app.send_as("", Method::GET, "/v1/queues", None).await.status, StatusCode::UNAUTHORIZED);
    }
}

#[tokio::test]
async fn the_defaults_leave_heavy_use_alone() {
    let app = TestApp::new().await;
    // A frozen clock: the whole burst at once, more than any test sends.
    for _ in 0..2_000 {
        let a = app.send_as("producer", Method::POST, "/v1/ratelimit/check", Some(r#"{"policy":"p","key":"k"}"#)).await;
        assert_eq!(a.status, StatusCode::NOT_FOUND, "{}", a.body);
    }
    for _ in 0..50 {
        assert_eq!(app.send_as("", Method::GET, "/health", None).await.status, StatusCode::OK);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_with_a_key_not_verified_yet_pays_once_and_a_wrong_key_still_pays_each_time() {
    // 10 unverified requests a minute from one address, and a frozen clock.
    let app = std::sync::Arc::new(app(true, 10_000, 10).await);
    let burst = |role: &'static str, header: Option<&'static str>| {
        let mut tasks = Vec::new();
        for _ in 0..150 {
            let app = app.clone();
            tasks.push(tokio::spawn(async move {
                let call = app.call(Method::GET, "/v1/queues").role(role);
                let call = match header {
                    Some(key) => call.header("authorization", key),
                    None => call,
                };
                call.send().await.status
            }));
        }
        async move {
            let mut statuses = Vec::new();
            for t in tasks {
                statuses.push(t.await.unwrap());
            }
            statuses
        }
    };
    // 150 at once with a valid key no request verified yet: one lookup, no 429.
    let valid = burst("producer", None).await;
    assert!(valid.iter().all(|s| *s == StatusCode::OK), "{valid:?}");
    // 150 at once with a wrong key: each pays for itself past the wait.
    let wrong = burst("", Some("Bearer rk_not_a_key_of_this_server")).await;
    let limited = wrong.iter().filter(|s| **s == StatusCode::TOO_MANY_REQUESTS).count();
    let refused = wrong.iter().filter(|s| **s == StatusCode::UNAUTHORIZED).count();
    assert_eq!(limited + refused, 150, "{wrong:?}");
    assert!(limited >= 140, "at most 10 of them reach the key lookup: {wrong:?}");
}
