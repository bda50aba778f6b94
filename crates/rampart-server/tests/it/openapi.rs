//! The OpenAPI document: one operation for every route and no other, each
//! naming the roles the API really enforces, served openly at
//! `/openapi.json` exactly as `rampart_server::api::openapi_document` builds it.

use std::collections::BTreeSet;

use axum::http::{Method, StatusCode};
use rampart_client::endpoint::ALL;
use rampart_core::auth::Role;
use serde_json::Value;

use rampart_server::config::Config;

use crate::harness::TestApp;
use crate::routes::{concrete, method};

/// Every (method, path) the document has an operation for.
fn operations(doc: &Value) -> BTreeSet<(String, String)> {
    let paths = doc["paths"].as_object().expect("paths");
    paths
        .iter()
        .flat_map(|(path, item)| {
            item.as_object().expect("a path item").keys().map(move |m| (m.to_uppercase(), path.clone()))
        })
        .collect()
}

#[test]
fn the_document_has_an_operation_for_every_route_and_no_other() {
    let doc = rampart_server::api::openapi_document(false);
    assert_eq!(doc["openapi"], "3.1.0");
    let served: BTreeSet<(String, String)> =
        rampart_server::api::endpoints().iter().map(|e| (e.method.as_str().to_string(), e.path.to_string())).collect();
    let declared: BTreeSet<(String, String)> =
        ALL.iter().map(|e| (e.method.as_str().to_string(), e.path.to_string())).collect();
    assert_eq!(operations(&doc), served);
    assert_eq!(served, declared);
    for e in ALL {
        let op = &doc["paths"][e.path][e.method.as_str().to_lowercase()];
        assert_eq!(op["operationId"], e.name.to_lowercase());
        assert!(
            op["responses"][e.status.to_string()].is_object(),
            "{} {}: no {} answer",
            e.method.as_str(),
            e.path,
            e.status
        );
        assert!(op["x-rampart-roles"].is_array(), "{} {}", e.method.as_str(), e.path);
        let params = op["parameters"].as_array().map(Vec::as_slice).unwrap_or_default();
        for placeholder in e.path.split('/').filter(|s| s.starts_with('{')) {
            let name = placeholder.trim_matches(|c| c == '{' || c == '}');
            let param = params.iter().find(|p| p["name"] == name && p["in"] == "path");
            assert!(
                param.is_some_and(|p| p["schema"].is_object()),
                "{} {}: `{name}` is not documented",
                e.method.as_str(),
                e.path
            );
        }
    }
}

#[test]
fn every_error_answer_is_documented_with_the_error_body() {
    let doc = rampart_server::api::openapi_document(false);
    let ops = doc["paths"].as_object().unwrap().values().flat_map(|item| item.as_object().unwrap().values());
    for op in ops {
        for (status, answer) in op["responses"].as_object().unwrap() {
            let error = status.starts_with('4') || status == "503";
            if error && op["operationId"] != "health_ready" {
                let schema = &answer["content"]["application/json"]["schema"]["$ref"];
                assert_eq!(schema, "#/components/schemas/ErrorBody", "{} {status}", op["operationId"]);
            }
            assert!(!status.starts_with('5') || status == "503", "{} documents {status}", op["operationId"]);
        }
    }
    let limit = &doc["paths"]["/v1/queues/{queue}/jobs"]["get"]["parameters"];
    let limit = limit.as_array().unwrap().iter().find(|p| p["name"] == "limit").unwrap();
    assert_eq!((&limit["schema"]["minimum"], &limit["schema"]["maximum"]), (&Value::from(1), &Value::from(1000)));
    let queue = &doc["paths"]["/v1/queues/{queue}/jobs"]["get"]["parameters"][0]["schema"];
    assert_eq!(queue["maxLength"], 128);
    assert!(queue["pattern"].is_string());
    assert_eq!(doc["components"]["securitySchemes"]["bearer"]["scheme"], "bearer");
}

/// The roles the document names for each operation are exactly those the
/// API lets through: walked with a key of every role, and without a key.
#[tokio::test]
async fn every_operations_roles_are_the_ones_the_api_enforces() {
    // Off: the walk sends more anonymous requests than one address may.
    let mut config = Config::default();
    config.ratelimit.api.enabled = false;
    let app = TestApp::with_config(config).await;
    let doc = rampart_server::api::openapi_document(false);
    for e in ALL {
        let op = &doc["paths"][e.path][e.method.as_str().to_lowercase()];
        let roles: BTreeSet<&str> =
            op["x-rampart-roles"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
        let path = concrete(e);
        let body = Some("{}").filter(|_| e.method.as_str() != "GET");
        let anonymous = app.send_as("", method(e), &path, body).await;
        if roles.is_empty() {
            assert_ne!(anonymous.status, StatusCode::UNAUTHORIZED, "{} {path} is open", e.method.as_str());
            assert!(op["security"].as_array().is_some_and(Vec::is_empty), "{} {path}", e.method.as_str());
            continue;
        }
        assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED, "{} {path} without a key", e.method.as_str());
        for role in Role::ALL {
            let a = app.send_as(role.as_str(), method(e), &path, body).await;
            let refused = a.status == StatusCode::FORBIDDEN && a.code() == "FORBIDDEN";
            assert_eq!(
                refused,
                !roles.contains(role.as_str()),
                "{role} on {} {path}: the document says {roles:?}, the API answered {} {}",
                e.method.as_str(),
                a.status,
                a.body
            );
        }
    }
}

#[tokio::test]
async fn the_document_is_served_openly_as_built() {
    let app = TestApp::new().await;
    let a = app.send_as("", Method::GET, "/openapi.json", None).await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.header("content-type"), "application/json");
    assert_eq!(a.body, rampart_server::api::openapi_document(false));
}
