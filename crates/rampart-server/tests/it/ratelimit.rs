//! The rate-limit check API in process: decisions, headers at a fixed clock,
//! multi-checks that consume from none when denied, counters, key state and
//! reset, the sweeper, and every bad input's 4xx.

use std::time::Duration;

use axum::http::{Method, StatusCode};
use rampart_limit::policy::{Algorithm, Policy};
use rampart_server::config::{Config, PolicyConfig, PolicyName, ResetFormat};
use rampart_server::service::{Sweeper, SweeperConfig};
use rampart_server::shutdown::Shutdown;
use serde_json::{Value, json};

use crate::harness::{Answer, T0, TestApp};

/// A policy as `[ratelimit.policies.NAME]` would give it.
struct P(&'static str, u64, u64, Algorithm, Option<u64>);

async fn app(policies: &[P], reset_format: ResetFormat) -> TestApp {
    let mut config = Config::default();
    config.ratelimit.reset_format = reset_format;
    // Only the policies given: these tests list and count them all.
    config.ratelimit.presets.clear();
    for &P(name, limit, window_s, algorithm, burst) in policies {
        let policy = Policy::new(limit, Duration::from_secs(window_s), algorithm, burst).unwrap();
        let policy = PolicyConfig {
            policy,
            key: Default::default(),
            backend: Default::default(),
            on_backend_error: Default::default(),
            deny_body: Default::default(),
        };
        config.ratelimit.policies.insert(PolicyName::new(name).unwrap(), policy);
    }
    let app = TestApp::with_config(config).await;
    // 1.5 s into an aligned window (T0 is a multiple of every window here),
    // so rounding up to whole seconds shows.
    app.clock.advance(Duration::from_millis(1500));
    app
}

async fn check(app: &TestApp, body: Value) -> Answer {
    app.send(Method::POST, "/v1/ratelimit/check", Some(&body.to_string())).await
}

fn headers(a: &Answer) -> [&str; 6] {
    ["x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset", "retry-after", "ratelimit-policy", "ratelimit"]
        .map(|h| a.header(h))
}

#[tokio::test]
async fn sliding_window_admits_ten_in_five_minutes_then_denies_with_headers() {
    let app = app(&[P("oauth", 10, 300, Algorithm::SlidingWindow, None)], ResetFormat::Seconds).await;
    for i in 1..=10 {
        let a = check(&app, json!({"policy": "oauth", "key": "1.2.3.4"})).await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.body);
        assert_eq!(a.body["allowed"], true, "check {i}: {}", a.body);
        assert_eq!(a.body["remaining"], 10 - i);
    }
    let first = check(&app, json!({"policy": "oauth", "key": "5.6.7.8"})).await;
    assert_eq!(
        headers(&first),
        ["10", "9", "299", "", "\"oauth\";q=10;w=300", "\"oauth\";r=9;t=299"],
        "an allowed check has no Retry-After"
    );

    let denied = check(&app, json!({"policy": "oauth", "key": "1.2.3.4"})).await;
    assert_eq!(denied.status, StatusCode::OK, "a denial is an answer, not an error");
    // The window ends in 298.5 s; the weighted estimate 10 × (1 − f) + 1
    // fits 10 again 10% (30 s) into the next window: 328.5 s from now.
    assert_eq!(
        denied.body,
        json!({"allowed": false, "policy": "oauth", "limit": 10, "remaining": 0, "reset_after_s": 299, "retry_after_s": 329, "fallback": false})
    );
    assert_eq!(headers(&denied), ["10", "0", "299", "329", "\"oauth\";q=10;w=300", "\"oauth\";r=0;t=299"]);

    app.clock.advance(Duration::from_secs(600));
    let again = check(&app, json!({"policy": "oauth", "key": "1.2.3.4"})).await;
    assert_eq!((&again.body["allowed"], &again.body["remaining"]), (&json!(true), &json!(9)), "{}", again.body);
    assert_eq!(again.body["retry_after_s"], Value::Null);
}

#[tokio::test]
async fn a_denied_multi_check_consumes_from_none() {
    let app = app(
        &[P("per_user", 10, 60, Algorithm::SlidingWindow, None), P("per_org", 2, 60, Algorithm::SlidingWindow, None)],
        ResetFormat::Seconds,
    )
    .await;
    let both = json!({"checks": [{"policy": "per_user", "key": "u1"}, {"policy": "per_org", "key": "org1"}]});
    for remaining in [1, 0] {
        let a = check(&app, both.clone()).await;
        assert_eq!(a.body["allowed"], true, "{}", a.body);
        assert_eq!(
            (&a.body["policy"], &a.body["remaining"]),
            (&json!("per_org"), &json!(remaining)),
            "least remaining"
        );
    }
    let denied = check(&app, both).await;
    assert_eq!(
        (&denied.body["allowed"], &denied.body["policy"]),
        (&json!(false), &json!("per_org")),
        "{}",
        denied.body
    );
    assert_eq!(denied.header("ratelimit-policy"), "\"per_org\";q=2;w=60");
    assert!(!denied.header("retry-after").is_empty());

    let user = app.send(Method::GET, "/v1/ratelimit/policies/per_user/keys/u1", None).await;
    assert_eq!(
        user.body,
        json!({"policy": "per_user", "key": "u1", "limit": 10, "remaining": 8, "reset_after_s": 59, "fresh": false}),
        "the denied request took nothing from per_user"
    );

    let policies = app.send_as("reader", Method::GET, "/v1/ratelimit/policies", None).await;
    assert_eq!(policies.status, StatusCode::OK, "{}", policies.body);
    let counters: Vec<_> = policies.body["policies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["name"].clone(), p["allowed"].clone(), p["denied"].clone()))
        .collect();
    assert_eq!(
        counters,
        [(json!("per_org"), json!(2), json!(1)), (json!("per_user"), json!(2), json!(0))],
        "a denial counts for the policy that denied"
    );
}

#[tokio::test]
async fn gcra_admits_its_burst_then_one_per_interval() {
    // 10 per minute is one every 6 s, with bursts of 3.
    let app = app(&[P("ai", 10, 60, Algorithm::Gcra, Some(3))], ResetFormat::Seconds).await;
    for remaining in [2, 1, 0] {
        let a = check(&app, json!({"policy": "ai", "key": "u"})).await;
        assert_eq!((&a.body["allowed"], &a.body["remaining"]), (&json!(true), &json!(remaining)), "{}", a.body);
    }
    let denied = check(&app, json!({"policy": "ai", "key": "u"})).await;
    assert_eq!(
        denied.body,
        json!({"allowed": false, "policy": "ai", "limit": 10, "remaining": 0, "reset_after_s": 18, "retry_after_s": 6,
               "fallback": false})
    );
    assert_eq!(headers(&denied), ["10", "0", "18", "6", "\"ai\";q=10;w=60", "\"ai\";r=0;t=18"]);
    app.clock.advance(Duration::from_secs(6));
    assert_eq!(check(&app, json!({"policy": "ai", "key": "u"})).await.body["allowed"], true);
    assert_eq!(check(&app, json!({"policy": "ai", "key": "u"})).await.body["allowed"], false);

    let cost = check(&app, json!({"policy": "ai", "key": "other", "cost": 3})).await;
    assert_eq!((&cost.body["allowed"], &cost.body["remaining"]), (&json!(true), &json!(0)), "cost spends the burst");
}

#[tokio::test]
async fn fixed_window_reset_header_in_each_format() {
    let cases = [
        (ResetFormat::Seconds, "59"),
        (ResetFormat::Epoch, "1800000060"),
        (ResetFormat::Rfc3339, "2027-01-15T08:01:00.000Z"),
    ];
    assert_eq!(T0.0, 1_800_000_000_000, "the expected resets assume T0");
    for (format, reset) in cases {
        let app = app(&[P("strict", 5, 60, Algorithm::FixedWindow, None)], format).await;
        let a = check(&app, json!({"policy": "strict", "key": "k"})).await;
        assert_eq!(a.header("x-ratelimit-reset"), reset, "{format:?}");
        assert_eq!(a.header("ratelimit"), "\"strict\";r=4;t=59", "the draft field is always seconds");
    }
}

#[tokio::test]
async fn policies_list_their_settings() {
    let app = app(
        &[P("oauth", 10, 300, Algorithm::SlidingWindow, None), P("ai", 20, 60, Algorithm::Gcra, Some(5))],
        ResetFormat::Seconds,
    )
    .await;
    let a = app.send(Method::GET, "/v1/ratelimit/policies", None).await;
    assert_eq!(
        a.body,
        json!({"policies": [
            {"name": "ai", "limit": 20, "window": "1m", "algorithm": "gcra", "burst": 5, "key": "ip",
             "backend": "memory", "source": "config", "on_backend_error": "local", "deny_body": "rampart",
             "allowed": 0, "denied": 0, "fallbacks": 0},
            {"name": "oauth", "limit": 10, "window": "5m", "algorithm": "sliding_window", "burst": null, "key": "ip",
             "backend": "memory", "source": "config", "on_backend_error": "local", "deny_body": "rampart",
             "allowed": 0, "denied": 0, "fallbacks": 0},
        ], "redis": null})
    );
}

#[tokio::test]
async fn deleting_a_key_resets_it() {
    let app = app(&[P("auth", 1, 900, Algorithm::SlidingWindow, None)], ResetFormat::Seconds).await;
    let fresh = app.send(Method::GET, "/v1/ratelimit/policies/auth/keys/alice", None).await;
    assert_eq!(
        fresh.body,
        json!({"policy": "auth", "key": "alice", "limit": 1, "remaining": 1, "reset_after_s": 899, "fresh": true})
    );
    assert_eq!(check(&app, json!({"policy": "auth", "key": "alice"})).await.body["allowed"], true);
    assert_eq!(check(&app, json!({"policy": "auth", "key": "alice"})).await.body["allowed"], false);
    let peeked = app.send(Method::GET, "/v1/ratelimit/policies/auth/keys/alice", None).await;
    assert_eq!((&peeked.body["remaining"], &peeked.body["fresh"]), (&json!(0), &json!(false)), "{}", peeked.body);

    let reset = app.send(Method::DELETE, "/v1/ratelimit/policies/auth/keys/alice", None).await;
    assert_eq!((reset.status, &reset.body), (StatusCode::OK, &json!({"reset": true})));
    assert_eq!(check(&app, json!({"policy": "auth", "key": "alice"})).await.body["allowed"], true);
    let unknown = app.send(Method::DELETE, "/v1/ratelimit/policies/auth/keys/bob", None).await;
    assert_eq!(unknown.body, json!({"reset": false}));
}

#[tokio::test]
async fn the_sweeper_drops_idle_keys_and_stops_on_shutdown() {
    let app = app(&[P("strict", 5, 10, Algorithm::FixedWindow, None)], ResetFormat::Seconds).await;
    for key in ["a", "b"] {
        check(&app, json!({"policy": "strict", "key": key})).await;
    }
    let sweeper = Sweeper::new(SweeperConfig::default(), app.limiter.clone());
    assert_eq!(sweeper.run_once(), 0, "both keys still count");
    app.clock.advance(Duration::from_secs(10));
    assert_eq!(sweeper.run_once(), 2);

    let (trigger, shutdown) = Shutdown::new();
    let task = tokio::spawn(sweeper.run(shutdown));
    trigger.trigger();
    tokio::time::timeout(Duration::from_secs(5), task).await.expect("the sweeper stops on shutdown").unwrap();
}

#[tokio::test]
async fn bad_input_answers_a_clear_4xx() {
    let app = app(&[P("ai", 10, 60, Algorithm::Gcra, Some(3))], ResetFormat::Seconds).await;
    let long = "k".repeat(257);
    let seventeen: Vec<_> = (0..17).map(|_| json!({"policy": "ai", "key": "k"})).collect();
    let cases = [
        (json!({"policy": "nope", "key": "k"}), StatusCode::NOT_FOUND, "POLICY_NOT_FOUND", "`nope`"),
        (
            json!({"checks": [{"policy": "ai", "key": "k"}, {"policy": "nope", "key": "k"}]}),
            StatusCode::NOT_FOUND,
            "POLICY_NOT_FOUND",
            "`nope`",
        ),
        (json!({"policy": "ai", "key": "k", "cost": 0}), StatusCode::BAD_REQUEST, "INVALID_REQUEST", "`cost`"),
        (json!({"policy": "ai", "key": "k", "cost": -1}), StatusCode::BAD_REQUEST, "INVALID_REQUEST", "`cost`"),
        (json!({"policy": "ai", "key": "k", "cost": 1.5}), StatusCode::BAD_REQUEST, "INVALID_REQUEST", "`cost`"),
        (json!({"policy": "ai", "key": "k", "cost": 4}), StatusCode::BAD_REQUEST, "INVALID_REQUEST", "(3)"),
        (
            json!({"checks": [{"policy": "ai", "key": "k", "cost": -2}]}),
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
            "`checks[0].cost`",
        ),
        (
            json!({"checks": [{"policy": "ai", "key": "k"}, {"policy": "ai", "key": "k", "cost": 0}]}),
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
            "`checks[1].cost`",
        ),
        (json!({"policy": "ai", "key": ""}), StatusCode::BAD_REQUEST, "INVALID_REQUEST", "`key`"),
        (json!({"policy": "ai", "key": long}), StatusCode::BAD_REQUEST, "INVALID_REQUEST", "1 to 256 bytes"),
        (
            json!({"checks": [{"policy": "ai", "key": long}]}),
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
            "`checks[0].key`",
        ),
        (
            json!({"policy": "ai", "key": "k", "checks": [{"policy": "ai", "key": "k"}]}),
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
            "not both",
        ),
        (json!({}), StatusCode::BAD_REQUEST, "INVALID_REQUEST", "neither"),
        (json!({"policy": "ai"}), StatusCode::BAD_REQUEST, "INVALID_REQUEST", "`key`"),
        (json!({"key": "k"}), StatusCode::BAD_REQUEST, "INVALID_REQUEST", "`policy`"),
        (json!({"checks": []}), StatusCode::BAD_REQUEST, "INVALID_REQUEST", "1 to 16"),
        (json!({"checks": seventeen}), StatusCode::BAD_REQUEST, "INVALID_REQUEST", "1 to 16"),
        (json!({"policy": "ai", "key": "k", "weight": 2}), StatusCode::BAD_REQUEST, "INVALID_REQUEST", "`weight`"),
    ];
    for (body, status, code, needle) in cases {
        let a = check(&app, body.clone()).await;
        assert_eq!((a.status, a.code()), (status, code), "{body}: {}", a.body);
        assert!(a.message().contains(needle), "{body}: {:?} should mention {needle}", a.message());
    }
    let policies = app.send(Method::GET, "/v1/ratelimit/policies", None).await;
    assert_eq!(policies.body["policies"][0]["allowed"], 0, "refused input counts nothing");

    let paths = [
        ("/v1/ratelimit/policies/nope/keys/k", StatusCode::NOT_FOUND, "POLICY_NOT_FOUND"),
        (&*format!("/v1/ratelimit/policies/ai/keys/{long}"), StatusCode::BAD_REQUEST, "INVALID_REQUEST"),
    ];
    for (path, status, code) in paths {
        for method in [Method::GET, Method::DELETE] {
            let a = app.send(method.clone(), path, None).await;
            assert_eq!((a.status, a.code()), (status, code), "{method} {path}: {}", a.body);
        }
    }
}
