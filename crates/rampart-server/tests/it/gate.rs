//! The gate for proxies, `GET /v1/ratelimit/gate/{policy}`, in process: keys
//! from the client IP (through trusted proxies only), a header or the API
//! key's id; `204` or `429` with the headers and the exact body; `403` on
//! request for nginx; every bad request's 4xx.

use std::time::Duration;

use axum::http::{Method, StatusCode};
use rampart_limit::policy::{Algorithm, Policy};
use rampart_server::config::{Config, KeySource, PolicyConfig, PolicyName};
use serde_json::{Value, json};

use crate::harness::{Answer, TestApp};

/// An app with fixed-window policies of (name, limit per 5 minutes, key).
async fn app(policies: &[(&str, u64, &str)], trusted: &[&str]) -> TestApp {
    let mut config = Config::default();
    config.ratelimit.trusted_proxies = trusted.iter().map(|t| t.parse().unwrap()).collect();
    for &(name, limit, key) in policies {
        let policy = PolicyConfig {
            policy: Policy::new(limit, Duration::from_secs(300), Algorithm::FixedWindow, None).unwrap(),
            key: key.parse::<KeySource>().unwrap(),
            backend: Default::default(),
            on_backend_error: Default::default(),
            deny_body: Default::default(),
        };
        config.ratelimit.policies.insert(PolicyName::new(name).unwrap(), policy);
    }
    TestApp::with_config(config).await
}

/// The body of every denial.
fn exceeded(retry_after_s: u64) -> Value {
    json!({
        "error": {"code": "RATE_LIMIT_EXCEEDED", "message": "Too many requests. Please wait a moment."},
        "retry_after_s": retry_after_s
    })
}

/// A gate request from nginx on 127.0.0.1 for a client it saw at `client`,
/// which itself claimed to be 1.1.1.1.
async fn via_nginx(app: &TestApp, path: &str, client: &str) -> Answer {
    app.call(Method::GET, path)
        .role("producer")
        .from("127.0.0.1")
        .header("x-forwarded-for", &format!("1.1.1.1, {client}"))
        .send()
        .await
}

#[tokio::test]
async fn the_gate_admits_then_denies_one_client_ip_behind_a_trusted_proxy() {
    let app = app(&[("oauth", 3, "ip")], &["127.0.0.1"]).await;
    for remaining in ["2", "1", "0"] {
        let a = via_nginx(&app, "/v1/ratelimit/gate/oauth", "203.0.113.7").await;
        assert_eq!(a.status, StatusCode::NO_CONTENT, "{}", a.body);
        assert_eq!(a.body, Value::Null, "204 has no body");
        assert_eq!((a.header("x-ratelimit-limit"), a.header("x-ratelimit-remaining")), ("3", remaining));
        assert_eq!(a.header("ratelimit-policy"), "\"oauth\";q=3;w=300");
        assert_eq!(a.header("retry-after"), "");
    }
    let denied = via_nginx(&app, "/v1/ratelimit/gate/oauth", "203.0.113.7").await;
    assert_eq!(denied.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(denied.body, exceeded(300), "the window started at T0, aligned on 5 minutes");
    assert_eq!(denied.header("retry-after"), "300");
    assert_eq!((denied.header("x-ratelimit-remaining"), denied.header("x-ratelimit-reset")), ("0", "300"));

    // What nginx asks for: the same denial as a 403 it accepts.
    let as_403 = via_nginx(&app, "/v1/ratelimit/gate/oauth?deny_status=403", "203.0.113.7").await;
    assert_eq!((as_403.status, &as_403.body), (StatusCode::FORBIDDEN, &exceeded(300)));
    assert_eq!(as_403.header("retry-after"), "300");

    // Another client behind the same proxy has its own count.
    assert_eq!(via_nginx(&app, "/v1/ratelimit/gate/oauth", "203.0.113.8").await.status, StatusCode::NO_CONTENT);
    // A client connecting directly cannot choose its key with X-Forwarded-For.
    let direct = app
        .call(Method::GET, "/v1/ratelimit/gate/oauth")
        .role("producer")
        .from("203.0.113.7")
        .header("x-forwarded-for", "203.0.113.99")
        .send()
        .await;
    assert_eq!(direct.status, StatusCode::TOO_MANY_REQUESTS, "keyed on the peer, whatever it claims");
    let untrusted =
        app.call(Method::GET, "/v1/ratelimit/gate/oauth").role("producer").from("198.51.100.1").send().await;
    assert_eq!(untrusted.status, StatusCode::NO_CONTENT);

    let state = app.send(Method::GET, "/v1/ratelimit/policies/oauth/keys/203.0.113.7", None).await;
    assert_eq!((&state.body["remaining"], &state.body["fresh"]), (&json!(0), &json!(false)), "{}", state.body);
    let spoofed = app.send(Method::GET, "/v1/ratelimit/policies/oauth/keys/1.1.1.1", None).await;
    assert_eq!(spoofed.body["fresh"], true, "the spoofed address was never counted");
}

#[tokio::test]
async fn the_gate_keys_on_a_header_or_on_the_api_keys_id() {
    let app = app(&[("per_user", 1, "header:X-User-Id"), ("per_caller", 1, "api_key")], &[]).await;
    let gate = |user: Option<&'static str>| {
        let call = app.call(Method::GET, "/v1/ratelimit/gate/per_user").role("worker");
        async move {
            match user {
                Some(user) => call.header("x-user-id", user).send().await,
                None => call.send().await,
            }
        }
    };
    assert_eq!(gate(Some("alice")).await.status, StatusCode::NO_CONTENT);
    assert_eq!(gate(Some("alice")).await.body, exceeded(300));
    assert_eq!(gate(Some("bob")).await.status, StatusCode::NO_CONTENT);
    for (user, problem) in [(None, "is missing"), (Some("  "), "is empty")] {
        let a = gate(user).await;
        assert_eq!((a.status, a.code()), (StatusCode::BAD_REQUEST, "INVALID_REQUEST"), "{}", a.body);
        assert!(a.message().contains(&format!("header `x-user-id` {problem}")), "{}", a.message());
    }

    let caller = |role: &'static str| app.call(Method::GET, "/v1/ratelimit/gate/per_caller").role(role).send();
    assert_eq!(caller("producer").await.status, StatusCode::NO_CONTENT);
    assert_eq!(caller("producer").await.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(caller("worker").await.status, StatusCode::NO_CONTENT, "another key has its own count");

    let keys = app.send(Method::GET, "/v1/keys", None).await;
    let producer = keys.body["keys"].as_array().unwrap().iter().find(|k| k["name"] == "producer-key").unwrap();
    let id = producer["id"].as_str().unwrap();
    let state = app.send(Method::GET, &format!("/v1/ratelimit/policies/per_caller/keys/{id}"), None).await;
    assert_eq!((&state.body["remaining"], &state.body["fresh"]), (&json!(0), &json!(false)), "{}", state.body);
    let secret = &app.keys["producer"];
    let by_secret = app.send(Method::GET, &format!("/v1/ratelimit/policies/per_caller/keys/{secret}"), None).await;
    assert_eq!(by_secret.body["fresh"], true, "the secret is never a key");
}

#[tokio::test]
async fn bad_gate_requests_answer_a_clear_4xx() {
    let app = app(&[("per_user", 5, "header:X-User-Id"), ("oauth", 5, "ip")], &[]).await;
    let long = "u".repeat(257);
    let cases = [
        ("/v1/ratelimit/gate/nope", "producer", StatusCode::NOT_FOUND, "POLICY_NOT_FOUND", "`nope`"),
        (
            "/v1/ratelimit/gate/oauth?deny_status=500",
            "producer",
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
            "`deny_status`",
        ),
        ("/v1/ratelimit/gate/oauth?cost=2", "producer", StatusCode::BAD_REQUEST, "INVALID_REQUEST", "`cost`"),
        ("/v1/ratelimit/gate/per_user", "producer", StatusCode::BAD_REQUEST, "INVALID_REQUEST", "`x-user-id`"),
        ("/v1/ratelimit/gate/oauth", "reader", StatusCode::FORBIDDEN, "FORBIDDEN", "role `reader`"),
        ("/v1/ratelimit/gate/oauth", "", StatusCode::UNAUTHORIZED, "UNAUTHORIZED", "Bearer"),
    ];
    for (path, role, status, code, needle) in cases {
        let a = app.call(Method::GET, path).role(role).send().await;
        assert_eq!((a.status, a.code()), (status, code), "{path} as {role:?}: {}", a.body);
        assert!(a.message().contains(needle), "{path}: {:?} should mention {needle}", a.message());
    }
    let too_long =
        app.call(Method::GET, "/v1/ratelimit/gate/per_user").role("producer").header("x-user-id", &long).send().await;
    assert_eq!(too_long.status, StatusCode::BAD_REQUEST, "{}", too_long.body);
    assert!(too_long.message().contains("header:x-user-id") && too_long.message().contains("max_key_length"));
    let post = app.call(Method::POST, "/v1/ratelimit/gate/oauth").role("producer").send().await;
    assert_eq!(post.status, StatusCode::METHOD_NOT_ALLOWED);

    let policies = app.send(Method::GET, "/v1/ratelimit/policies", None).await;
    for policy in policies.body["policies"].as_array().unwrap() {
        assert_eq!((&policy["allowed"], &policy["denied"]), (&json!(0), &json!(0)), "refused requests count nothing");
    }
}

#[tokio::test]
async fn a_policy_may_answer_denials_in_the_shape_apps_used_before() {
    let app = app(&[], &[]).await;
    let body = json!({"limit": 1, "window": "5m", "algorithm": "fixed_window", "deny_body": "compat"}).to_string();
    let put = app.send(Method::PUT, "/v1/ratelimit/policies/login", Some(&body)).await;
    assert_eq!((put.status, &put.body["deny_body"]), (StatusCode::OK, &json!("compat")), "{}", put.body);
    let gate = || app.call(Method::GET, "/v1/ratelimit/gate/login").role("producer").from("203.0.113.7").send();
    assert_eq!(gate().await.status, StatusCode::NO_CONTENT);
    let denied = gate().await;
    assert_eq!(denied.status, StatusCode::TOO_MANY_REQUESTS);
    let retry_at = app.engine.now().plus(Duration::from_secs(300)).to_rfc3339();
    assert_eq!(
        denied.body,
        json!({"error": "Too many requests. Please wait a moment.", "code": "RATE_LIMIT_EXCEEDED",
               "retryAfter": retry_at, "retryAfterSeconds": 300})
    );
    assert_eq!(denied.header("retry-after"), "300");

    let bad = json!({"limit": 1, "window": "5m", "deny_body": "html"}).to_string();
    let refused = app.send(Method::PUT, "/v1/ratelimit/policies/login", Some(&bad)).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert!(refused.body["error"]["message"].as_str().unwrap_or("").contains("deny_body"), "{}", refused.body);
}
