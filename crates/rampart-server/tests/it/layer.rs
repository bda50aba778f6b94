//! [`RateLimitLayer`] in front of a small axum app of its own, through
//! `tower::ServiceExt::oneshot`: headers on admitted answers, `429` with the
//! `RATE_LIMIT_EXCEEDED` body before the route runs, and each way of keying.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode};
use axum::routing::get;
use http_body_util::BodyExt;
use rampart_core::time::ManualClock;
use rampart_limit::policy::{Algorithm, Policy};
use rampart_server::config::{Config, PolicyConfig, PolicyName};
use rampart_server::ratelimit::RateLimiter;
use rampart_server::ratelimit::layer::RateLimitLayer;
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::harness::T0;

/// A limiter with one policy, `per_client`: 2 a minute, fixed window.
fn limiter() -> RateLimiter {
    let mut config = Config::default();
    let policy = PolicyConfig {
        policy: Policy::new(2, Duration::from_secs(60), Algorithm::FixedWindow, None).unwrap(),
        key: Default::default(),
        backend: Default::default(),
        on_backend_error: Default::default(),
        deny_body: Default::default(),
    };
    config.ratelimit.policies.insert(PolicyName::new("per_client").unwrap(), policy);
    RateLimiter::new(&config.ratelimit, Arc::new(ManualClock::new(T0)))
}

/// The app: `/hello` counts how often it ran; `/own` sets its own limit header.
fn app(layer: RateLimitLayer, runs: Arc<AtomicUsize>) -> Router {
    Router::new()
        .route(
            "/hello",
            get(move || async move {
                runs.fetch_add(1, Ordering::SeqCst);
                "hi"
            }),
        )
        .route("/own", get(|| async { ([("x-ratelimit-limit", "mine")], "own") }))
        .layer(layer)
}

struct Reply {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: Value,
}

impl Reply {
    fn header(&self, name: &str) -> &str {
        self.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
    }
}

async fn send(app: &Router, path: &str, peer: Option<&str>, headers: &[(&str, &str)]) -> Reply {
    let mut req = Request::builder().uri(path);
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    if let Some(ip) = peer {
        req = req.extension(ConnectInfo(SocketAddr::new(ip.parse().unwrap(), 4711)));
    }
    let resp = app.clone().oneshot(req.body(Body::empty()).unwrap()).await.unwrap();
    let (status, headers) = (resp.status(), resp.headers().clone());
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    let body = serde_json::from_slice(&bytes).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()));
    Reply { status, headers, body }
}

#[tokio::test]
async fn the_layer_admits_with_headers_then_answers_429_before_the_route() {
    let runs = Arc::new(AtomicUsize::new(0));
    let layer = RateLimitLayer::new(limiter(), "per_client").by_client_ip(vec!["127.0.0.1".parse().unwrap()]);
    let app = app(layer, runs.clone());
    let behind_proxy = [("x-forwarded-for", "203.0.113.7")];
    for remaining in ["1", "0"] {
        let a = send(&app, "/hello", Some("127.0.0.1"), &behind_proxy).await;
        assert_eq!((a.status, &a.body), (StatusCode::OK, &json!("hi")));
        assert_eq!((a.header("x-ratelimit-limit"), a.header("x-ratelimit-remaining")), ("2", remaining));
        assert_eq!(a.header("ratelimit-policy"), "\"per_client\";q=2;w=60");
    }
    let denied = send(&app, "/hello", Some("127.0.0.1"), &behind_proxy).await;
    assert_eq!(denied.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        denied.body,
        json!({"error": {"code": "RATE_LIMIT_EXCEEDED", "message": "Too many requests. Please wait a moment."}, "retry_after_s": 60})
    );
    assert_eq!((denied.header("retry-after"), denied.header("x-ratelimit-remaining")), ("60", "0"));
    assert_eq!(runs.load(Ordering::SeqCst), 2, "a denied request never reaches the route");

    let other = send(&app, "/hello", Some("127.0.0.1"), &[("x-forwarded-for", "203.0.113.8")]).await;
    assert_eq!(other.status, StatusCode::OK, "another client has its own count");
    let direct = send(&app, "/hello", Some("203.0.113.7"), &[("x-forwarded-for", "198.51.100.1")]).await;
    assert_eq!(direct.status, StatusCode::TOO_MANY_REQUESTS, "a client cannot choose its key");
    let own = send(&app, "/own", Some("198.51.100.9"), &[]).await;
    assert_eq!(
        (own.header("x-ratelimit-limit"), own.header("x-ratelimit-remaining")),
        ("mine", "1"),
        "the route's own header wins"
    );

    let no_peer = send(&app, "/hello", None, &behind_proxy).await;
    assert_eq!(
        (no_peer.status, &no_peer.body["error"]["code"]),
        (StatusCode::INTERNAL_SERVER_ERROR, &json!("INTERNAL"))
    );
}

#[tokio::test]
async fn the_layer_keys_on_a_header_or_a_closure() {
    let runs = Arc::new(AtomicUsize::new(0));
    let by_header =
        app(RateLimitLayer::new(limiter(), "per_client").by_header("x-user-id".parse().unwrap()), runs.clone());
    for _ in 0..2 {
        assert_eq!(send(&by_header, "/hello", None, &[("x-user-id", "alice")]).await.status, StatusCode::OK);
    }
    assert_eq!(send(&by_header, "/hello", None, &[("x-user-id", "alice")]).await.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(send(&by_header, "/hello", None, &[("x-user-id", "bob")]).await.status, StatusCode::OK);
    let missing = send(&by_header, "/hello", None, &[]).await;
    assert_eq!(missing.status, StatusCode::BAD_REQUEST);
    assert_eq!(missing.body["error"]["code"], "INVALID_REQUEST");
    assert!(missing.body["error"]["message"].as_str().unwrap().contains("header `x-user-id` is missing"));
    let long = "u".repeat(300);
    let too_long = send(&by_header, "/hello", None, &[("x-user-id", &long)]).await;
    assert_eq!(too_long.status, StatusCode::BAD_REQUEST, "{}", too_long.body);

    let by_tenant = RateLimitLayer::new(limiter(), "per_client")
        .by(|req| req.uri.path().strip_prefix("/t/").map(|tenant| tenant.to_string()));
    let tenants = Router::new()
        .route("/t/{tenant}", get(|| async { "tenant" }))
        .route("/open", get(|| async { "open" }))
        .layer(by_tenant);
    for _ in 0..2 {
        assert_eq!(send(&tenants, "/t/acme", None, &[]).await.status, StatusCode::OK);
    }
    assert_eq!(send(&tenants, "/t/acme", None, &[]).await.status, StatusCode::TOO_MANY_REQUESTS);
    for _ in 0..5 {
        let open = send(&tenants, "/open", None, &[]).await;
        assert_eq!((open.status, open.header("x-ratelimit-limit")), (StatusCode::OK, ""), "`None` is not limited");
    }

    let unknown = app(RateLimitLayer::new(limiter(), "no_such_policy").by_header("x-user-id".parse().unwrap()), runs);
    let a = send(&unknown, "/hello", None, &[("x-user-id", "alice")]).await;
    assert_eq!(a.status, StatusCode::INTERNAL_SERVER_ERROR, "a policy that does not exist is the app's mistake");
}
