//! The OpenAPI 3.1 document of the API, served at `GET /openapi.json` and
//! printed by `rampart openapi`. It is built from the routes the router
//! serves: each operation from its endpoint's declaration (method, path,
//! success status, summary) and its handler's signature ([`describe`]);
//! the schemas are derived from the wire types the handlers read and write.
//! The few answers a handler builds by hand are described in [`special`].

mod describe;
mod paths;
mod special;

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Extension;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use rampart_client::endpoint::Method;
use rampart_client::wire::ErrorBody;
use serde_json::{Map, Value, json};

pub use describe::{Described, Named, Operation};

use super::route::Served;

/// The document, rendered once when the router is built.
#[derive(Debug, Clone)]
pub struct Document(pub Arc<String>);

/// `GET /openapi.json`.
pub(super) async fn serve(Extension(Document(text)): Extension<Document>) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], text.as_str().to_owned()).into_response()
}

impl describe::Input for Extension<Document> {
    fn describe(_: &mut Operation) {}
}

/// What each error status means, in every operation that can answer it.
fn error_description(status: u16) -> &'static str {
    match status {
        400 => "The request is invalid: the message names the field or parameter and what to send instead.",
        401 => "No API key, or one that is unknown or revoked (`Authorization: Bearer <key>`).",
        403 => "The key's role may not do this (see `x-rampart-roles`).",
        404 => "No such thing: the message names what was not found.",
        408 => "The request body did not arrive in time.",
        409 => "The state does not allow it (a lost lease, a job in another state, a push queue, a name taken).",
        413 => "The request body or a payload is larger than the server's limit.",
        415 => "The request body is not sent as JSON (`Content-Type: application/json`).",
        422 => "The request is well formed but past a limit of what is stored (the message names it).",
        429 => "The API's own rate limit refused the request; retry after `Retry-After` seconds.",
        503 => "The store (or the rate-limit backend) is unavailable; retry shortly.",
        _ => "An error.",
    }
}

/// The document of `served`, as JSON.
pub fn document(served: &[Served]) -> Value {
    let mut paths: BTreeMap<&str, Map<String, Value>> = BTreeMap::new();
    let mut schemas: BTreeMap<String, Value> = BTreeMap::new();
    let error = Named::of::<ErrorBody>();
    add_components(&mut schemas, &error);
    for route in served {
        let endpoint = route.endpoint;
        let op = (route.operation)();
        let mut operation = Map::new();
        operation.insert("operationId".into(), json!(endpoint.name.to_lowercase()));
        operation.insert("summary".into(), json!(endpoint.summary));
        operation.insert("tags".into(), json!([paths::tag(endpoint.path)]));
        let mut parameters = paths::parameters(endpoint.path);
        for p in &op.query {
            parameters.push(to_json(p));
        }
        if !parameters.is_empty() {
            operation.insert("parameters".into(), Value::Array(parameters));
        }
        if let Some(body) = &op.body {
            add_components(&mut schemas, body);
            // An empty body reads as `{}`: it may be left out when no field is required.
            let required = body.components.first().is_some_and(|(_, schema)| {
                to_json(schema).get("required").and_then(Value::as_array).is_some_and(|r| !r.is_empty())
            });
            operation.insert(
                "requestBody".into(),
                json!({"required": required, "content": {"application/json": {"schema": to_json(&body.schema)}}}),
            );
        }
        let mut responses = Map::new();
        let success = match &op.answer {
            Some(answer) => {
                add_components(&mut schemas, answer);
                json!({"description": "Success.", "content": {"application/json": {"schema": to_json(&answer.schema)}}})
            }
            None => json!({"description": "Success, with no body."}),
        };
        responses.insert(endpoint.status.to_string(), success);
        let mut errors = op.errors.clone();
        // The API's own rate limits answer every route.
        errors.insert(429);
        // A change can meet a state that refuses it (a lost lease, a job
        // already done, a built-in schedule, a name taken), or name in its
        // body something that does not exist (a rate-limit policy).
        if endpoint.method != Method::Get && errors.contains(&503) {
            errors.extend([404, 409]);
        }
        for status in errors {
            responses.insert(
                status.to_string(),
                json!({
                    "description": error_description(status),
                    "content": {"application/json": {"schema": to_json(&error.schema)}},
                }),
            );
        }
        match &op.roles {
            Some(roles) => {
                operation.insert("security".into(), json!([{"bearer": []}]));
                operation.insert("x-rampart-roles".into(), json!(roles.iter().map(|r| r.as_str()).collect::<Vec<_>>()));
            }
            None => {
                operation.insert("security".into(), json!([]));
                operation.insert("x-rampart-roles".into(), json!([]));
            }
        }
        special::adjust(endpoint, &mut operation, &mut responses);
        operation.insert("responses".into(), Value::Object(responses));
        paths
            .entry(endpoint.path)
            .or_default()
            .insert(endpoint.method.as_str().to_lowercase(), Value::Object(operation));
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "rampart",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Production safeguards over HTTP: durable jobs, cron, rate limits, circuit breakers, \
                monitoring and alerts. Every error answers `{\"error\": {\"code\", \"message\"}}`. \
                `x-rampart-roles` lists the roles whose keys may call an operation (an empty list: no key needed).",
            "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"},
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "description": "An API key."}},
        },
    })
}

fn add_components(schemas: &mut BTreeMap<String, Value>, named: &Named) {
    for (name, schema) in &named.components {
        schemas.entry(name.clone()).or_insert_with(|| to_json(schema));
    }
}

fn to_json<T: serde::Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}
