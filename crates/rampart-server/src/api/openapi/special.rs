//! The answers some handlers build by hand, which their signatures cannot
//! describe: the Prometheus text, the gate's bare statuses, readiness's
//! `503` with its usual body, the document itself, and the `200` of an
//! enqueue that found a duplicate.

use rampart_client::endpoint::{
    ALERTS_SILENCES_CREATE, CRON_PUT, Endpoint, HEALTH_READY, JOBS_CREATE, JOBS_LEASE, JOBS_STEP_RECORD,
    JOBS_STEP_SLEEP, JOBS_STEP_WAIT, KEYS_CREATE, METRICS, OPENAPI, RATELIMIT_GATE, RATELIMIT_POLICY_PUT,
};
use serde_json::{Map, Value, json};

/// The links from an endpoint's success to the operations that use what it
/// returned, for API explorers and schemathesis's stateful tests:
/// (link name, operationId, parameters, request body).
fn links(endpoint: Endpoint) -> Vec<(&'static str, &'static str, Value, Option<Value>)> {
    let job = |op| (op, op, json!({"id": "$response.body#/id"}), None);
    let leased = |op| {
        let body = json!({"lease_token": "$response.body#/jobs/0/lease_token"});
        (op, op, json!({"id": "$response.body#/jobs/0/id"}), Some(body))
    };
    // An operator's calls on a held job need its id only.
    let held = |op| (op, op, json!({"id": "$response.body#/jobs/0/id"}), None);
    let named = |op| (op, op, json!({"name": "$request.path.name"}), None);
    if endpoint == JOBS_CREATE {
        vec![job("jobs_get"), job("jobs_cancel")]
    } else if endpoint == JOBS_LEASE {
        vec![
            leased("jobs_heartbeat"),
            leased("jobs_complete"),
            leased("jobs_fail"),
            leased("jobs_release"),
            held("jobs_lease_release"),
            held("jobs_lease_fail"),
        ]
    } else if endpoint == KEYS_CREATE {
        vec![("keys_revoke", "keys_revoke", json!({"id": "$response.body#/id"}), None)]
    } else if endpoint == ALERTS_SILENCES_CREATE {
        vec![("alerts_silences_delete", "alerts_silences_delete", json!({"id": "$response.body#/id"}), None)]
    } else if endpoint == CRON_PUT {
        vec![named("cron_get"), named("cron_trigger"), named("cron_pause"), named("cron_delete")]
    } else if endpoint == RATELIMIT_POLICY_PUT {
        vec![named("ratelimit_policy_get"), named("ratelimit_policy_delete")]
    } else {
        Vec::new()
    }
}

/// Adjusts `operation` and its `responses` for `endpoint`.
pub fn adjust(endpoint: Endpoint, operation: &mut Map<String, Value>, responses: &mut Map<String, Value>) {
    let links: Map<String, Value> = links(endpoint)
        .into_iter()
        .map(|(name, target, parameters, body)| {
            let mut link = json!({"operationId": target, "parameters": parameters});
            if let (Some(body), Value::Object(fields)) = (body, &mut link) {
                fields.insert("requestBody".into(), body);
            }
            (name.to_string(), link)
        })
        .collect();
    if !links.is_empty()
        && let Some(Value::Object(success)) = responses.get_mut(&endpoint.status.to_string())
    {
        success.insert("links".into(), Value::Object(links));
    }
    if endpoint == METRICS {
        responses.insert(
            "200".into(),
            json!({
                "description": "The Prometheus text exposition (format 0.0.4).",
                "content": {"text/plain": {"schema": {"type": "string"}}},
            }),
        );
    } else if endpoint == OPENAPI {
        responses.insert(
            "200".into(),
            json!({
                "description": "This document.",
                "content": {"application/json": {"schema": {"type": "object"}}},
            }),
        );
    } else if endpoint == HEALTH_READY {
        let ready = responses.get("200").and_then(|r| r.get("content")).cloned().unwrap_or(Value::Null);
        responses.insert(
            "503".into(),
            json!({"description": "Not ready: the same body says which part is down.", "content": ready}),
        );
    } else if endpoint == JOBS_STEP_RECORD || endpoint == JOBS_STEP_SLEEP || endpoint == JOBS_STEP_WAIT {
        responses.insert(
            "422".into(),
            json!({
                "description": "The job already has 1,000 steps, the most one job records.",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}},
            }),
        );
    } else if endpoint == JOBS_CREATE {
        let created = responses.get("201").and_then(|r| r.get("content")).cloned().unwrap_or(Value::Null);
        responses.insert(
            "200".into(),
            json!({"description": "A live job with the same `unique_key` exists: it is returned (`duplicate: true`).", "content": created}),
        );
    } else if endpoint == RATELIMIT_GATE {
        let parameters = operation.entry("parameters").or_insert_with(|| json!([]));
        if let Value::Array(list) = parameters {
            list.push(json!({
                "name": "deny_status",
                "in": "query",
                "required": false,
                "description": "The status of a denial: 429 (the default) or 403.",
                "schema": {"type": "string", "enum": ["429", "403"]},
            }));
        }
        let limit_headers = json!({
            "RateLimit-Limit": {"schema": {"type": "string"}},
            "RateLimit-Remaining": {"schema": {"type": "string"}},
        });
        responses.remove("200");
        responses.insert("204".into(), json!({"description": "Allowed.", "headers": limit_headers}));
        for status in ["429", "403"] {
            let denied = json!({
                "description": "Denied (429, or 403 where `deny_status=403`), or for 403 the key's role may not check limits.",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}},
            });
            responses.insert(status.into(), denied);
        }
    }
}
