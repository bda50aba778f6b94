//! Rate-limit policies defined through the admin API: kept in the store,
//! used at once by the node that took them, reloaded by every other node's
//! syncer, refused with the field named when bad, and never allowed to
//! shadow a policy of the configuration.

use std::time::Duration;

use axum::http::{Method, StatusCode};
use rampart_core::id::PolicyName;
use rampart_limit::policy::{Algorithm, Policy};
use rampart_server::config::{Config, PolicyConfig};
use rampart_server::service::{PolicySyncer, PolicySyncerConfig};
use serde_json::json;

use crate::harness::{Answer, TestApp};

async fn put(app: &TestApp, name: &str, body: serde_json::Value) -> Answer {
    app.send(Method::PUT, &format!("/v1/ratelimit/policies/{name}"), Some(&body.to_string())).await
}

async fn check(app: &TestApp, policy: &str, key: &str) -> Answer {
    let body = json!({"policy": policy, "key": key}).to_string();
    app.send(Method::POST, "/v1/ratelimit/check", Some(&body)).await
}

#[tokio::test]
async fn a_policy_put_through_the_api_is_used_at_once_and_gone_once_deleted() {
    let app = TestApp::new().await;
    assert_eq!(check(&app, "signup", "1.2.3.4").await.code(), "POLICY_NOT_FOUND");

    let made = put(&app, "signup", json!({"limit": 2, "window": "1m", "algorithm": "fixed_window"})).await;
    assert_eq!(made.status, StatusCode::OK, "{}", made.body);
    assert_eq!(made.body["source"], "api");
    assert_eq!((&made.body["limit"], &made.body["window"]), (&json!(2), &json!("1m")));
    for allowed in [true, true, false] {
        assert_eq!(check(&app, "signup", "1.2.3.4").await.body["allowed"], allowed);
    }

    // Raising the limit keeps what the key has used.
    let raised = put(&app, "signup", json!({"limit": 3, "window": "1m", "algorithm": "fixed_window"})).await;
    assert_eq!(raised.status, StatusCode::OK, "{}", raised.body);
    let a = check(&app, "signup", "1.2.3.4").await;
    assert_eq!((&a.body["allowed"], &a.body["remaining"]), (&json!(true), &json!(0)), "{}", a.body);
    let listed = app.send(Method::GET, "/v1/ratelimit/policies/signup", None).await;
    assert_eq!((&listed.body["limit"], &listed.body["allowed"]), (&json!(3), &json!(3)), "{}", listed.body);

    let deleted = app.send(Method::DELETE, "/v1/ratelimit/policies/signup", None).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.body);
    assert_eq!(check(&app, "signup", "1.2.3.4").await.code(), "POLICY_NOT_FOUND");
    let again = app.send(Method::DELETE, "/v1/ratelimit/policies/signup", None).await;
    assert_eq!((again.status, again.code()), (StatusCode::NOT_FOUND, "POLICY_NOT_FOUND"));
}

#[tokio::test]
async fn a_fresh_server_has_the_presets_which_the_api_may_replace_but_not_delete() {
    let app = TestApp::new().await;
    let listed = app.send(Method::GET, "/v1/ratelimit/policies", None).await;
    let presets: Vec<&str> = listed.body["policies"]
        .as_array()
        .expect("a list")
        .iter()
        .filter(|p| p["source"] == "preset")
        .filter_map(|p| p["name"].as_str())
        .collect();
    let expected = [
        "admin",
        "ai",
        "auth",
        "connection",
        "lenient",
        "moderate",
        "oauth",
        "per_ip",
        "per_org",
        "public",
        "staff",
        "strict",
        "sync",
    ];
    assert_eq!(presets, expected, "{}", listed.body);
    for allowed in [true, true, true, true, true, false] {
        assert_eq!(check(&app, "auth", "203.0.113.7").await.body["allowed"], allowed, "5 sign-ins per 15 minutes");
    }
    let ai = app.send(Method::GET, "/v1/ratelimit/policies/ai", None).await;
    assert_eq!(
        (&ai.body["limit"], &ai.body["window"], &ai.body["key"]),
        (&json!(20), &json!("1m"), &json!("header:x-user-id"))
    );

    let replaced = put(&app, "ai", json!({"limit": 100, "window": "1m"})).await;
    assert_eq!((replaced.status, &replaced.body["source"]), (StatusCode::OK, &json!("api")), "{}", replaced.body);
    let deleted = app.send(Method::DELETE, "/v1/ratelimit/policies/ai", None).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.body);
    let back = app.send(Method::GET, "/v1/ratelimit/policies/ai", None).await;
    assert_eq!((&back.body["source"], &back.body["limit"]), (&json!("preset"), &json!(20)), "the preset is back");
    let refused = app.send(Method::DELETE, "/v1/ratelimit/policies/ai", None).await;
    assert_eq!((refused.status, refused.code()), (StatusCode::CONFLICT, "POLICY_IS_PRESET"), "{}", refused.body);
}

#[tokio::test]
async fn another_nodes_change_arrives_through_the_syncer() {
    let app = TestApp::new().await;
    let store = app.engine.store().clone();
    let mut syncer = PolicySyncer::new(PolicySyncerConfig::default(), store.clone(), app.limiter.clone());
    assert!(syncer.run_once().await.unwrap(), "the first look loads");
    assert!(!syncer.run_once().await.unwrap(), "nothing moved");

    // What another node's PUT leaves in the shared store.
    let name = PolicyName::new("summarise").unwrap();
    store.ratelimit_policy_put(&name, r#"{"limit":1,"window":"10s"}"#, app.engine.now()).await.unwrap();
    assert_eq!(check(&app, "summarise", "u1").await.code(), "POLICY_NOT_FOUND", "not before the syncer looks");
    assert!(syncer.run_once().await.unwrap());
    assert_eq!(check(&app, "summarise", "u1").await.body["allowed"], true);
    assert_eq!(check(&app, "summarise", "u1").await.body["allowed"], false);

    store.ratelimit_policy_delete(&name).await.unwrap();
    assert!(syncer.run_once().await.unwrap());
    assert_eq!(check(&app, "summarise", "u1").await.code(), "POLICY_NOT_FOUND");
}

#[tokio::test]
async fn a_configured_policy_cannot_be_replaced_or_deleted_through_the_api() {
    let mut config = Config::default();
    let policy = Policy::new(5, Duration::from_secs(60), Algorithm::SlidingWindow, None).unwrap();
    let policy = PolicyConfig {
        policy,
        key: Default::default(),
        backend: None,
        on_backend_error: Default::default(),
        deny_body: Default::default(),
    };
    config.ratelimit.policies.insert(PolicyName::new("login").unwrap(), policy);
    let app = TestApp::with_config(config).await;

    let a = put(&app, "login", json!({"limit": 500, "window": "1m"})).await;
    assert_eq!((a.status, a.code()), (StatusCode::CONFLICT, "POLICY_IN_CONFIG"), "{}", a.body);
    let a = app.send(Method::DELETE, "/v1/ratelimit/policies/login", None).await;
    assert_eq!((a.status, a.code()), (StatusCode::CONFLICT, "POLICY_IN_CONFIG"));
    let listed = app.send(Method::GET, "/v1/ratelimit/policies/login", None).await;
    assert_eq!((&listed.body["limit"], &listed.body["source"]), (&json!(5), &json!("config")));
}

#[tokio::test]
async fn a_bad_policy_is_refused_with_each_field_named_and_nothing_stored() {
    let app = TestApp::new().await;
    let cases = [
        (json!({"window": "1m"}), &["`limit`", "missing"][..]),
        (json!({"limit": 0, "window": "1m"}), &["`limit`", "between 1 and"]),
        (json!({"limit": 1_u64 << 50, "window": "1m"}), &["`limit`", "between 1 and"]),
        (json!({"limit": -1, "window": "1m"}), &["`limit`"]),
        (json!({"limit": 5, "window": "0s"}), &["`window`"]),
        (json!({"limit": 5, "window": "soon"}), &["`window`"]),
        (json!({"limit": 5, "window": "1m", "burst": 3}), &["`burst`", "gcra"]),
        (json!({"limit": 5, "window": "1m", "algorithm": "leaky"}), &["`algorithm`", "leaky"]),
        (json!({"limit": 5, "window": "1m", "key": "cookie"}), &["`key`"]),
        (json!({"limit": 5, "window": "1m", "backend": "redis"}), &["`backend`", "redis_url"]),
        (json!({"limit": 5, "window": "1m", "colour": "red"}), &["colour"]),
        (json!({"window": "soon"}), &["`limit`", "missing", "`window`"]),
    ];
    for (body, needles) in cases {
        let a = put(&app, "p", body.clone()).await;
        assert_eq!((a.status, a.code()), (StatusCode::BAD_REQUEST, "INVALID_REQUEST"), "{body}: {}", a.body);
        for needle in needles {
            assert!(a.message().contains(needle), "{body}: {:?} lacks {needle:?}", a.message());
        }
    }
    let a = put(&app, "bad%20name", json!({"limit": 5, "window": "1m"})).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST, "{}", a.body);
    assert!(app.engine.store().ratelimit_policy_list().await.unwrap().is_empty(), "nothing stored");
}
