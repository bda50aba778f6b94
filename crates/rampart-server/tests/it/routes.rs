//! The router serves exactly the endpoints `rampart_client::endpoint`
//! declares: every declared method and path is routed, and every route is
//! declared, so the client and the server cannot drift apart.

use axum::http::{Method, StatusCode};
use rampart_client::endpoint::{self, ALL, Endpoint};

use crate::harness::TestApp;

/// The declared path with each placeholder filled in.
pub fn concrete(e: &Endpoint) -> String {
    let segments = e.path.trim_start_matches('/').split('/').map(|segment| match segment {
        "{queue}" => "q",
        "{id}" => "1",
        "{platform}" => "stripe",
        other if other.starts_with('{') => "x",
        other => other,
    });
    format!("/{}", segments.collect::<Vec<_>>().join("/"))
}

pub fn method(e: &Endpoint) -> Method {
    match e.method {
        endpoint::Method::Get => Method::GET,
        endpoint::Method::Post => Method::POST,
        endpoint::Method::Put => Method::PUT,
        endpoint::Method::Delete => Method::DELETE,
    }
}

#[test]
fn every_route_is_declared_and_every_declared_endpoint_is_routed() {
    let mut served = rampart_server::api::endpoints();
    served.sort();
    let mut declared = ALL.to_vec();
    declared.sort();
    assert_eq!(served, declared);
}

#[tokio::test]
async fn every_declared_endpoint_reaches_a_handler() {
    let app = TestApp::new().await;
    for e in ALL {
        let path = concrete(e);
        let a = app.send(method(e), &path, Some("{}")).await;
        assert_ne!(a.status, StatusCode::METHOD_NOT_ALLOWED, "{} {path}: {}", e.method.as_str(), a.body);
        let unrouted = a.status == StatusCode::NOT_FOUND && a.message().contains("no such route");
        assert!(!unrouted, "{} {path} is declared but not routed", e.method.as_str());
    }
}
