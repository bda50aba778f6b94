//! Path parameters and tags, read off an endpoint's path: a placeholder's
//! schema depends on what it names there (`{id}` is a job's id under
//! `/v1/jobs`, an alert's under `/v1/alerts`).

use rampart_core::alert::{AlertId, SilenceId};
use rampart_core::id::{BreakerName, BudgetName, CacheName, CronName, JobId, PolicyName, QueueName};
use rampart_core::schema::{ID_PATTERN, NAME_PATTERN, text};
use serde_json::{Value, json};
use utoipa::PartialSchema;

/// The tag grouping an endpoint: the first segment after `/v1/`
/// (`jobs`, `queues`, …), or `health` for the routes outside `/v1`.
pub fn tag(path: &str) -> &str {
    match path.strip_prefix("/v1/") {
        Some(rest) => match rest.split('/').next() {
            Some("admin") => "diagnostics",
            Some(first) => first,
            None => "health",
        },
        None => "health",
    }
}

/// The path parameters of `path`, in order.
pub fn parameters(path: &str) -> Vec<Value> {
    path.split('/')
        .filter_map(|segment| segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .map(|name| {
            let (schema, description) = schema(path, name);
            json!({"name": name, "in": "path", "required": true, "description": description, "schema": schema})
        })
        .collect()
}

fn of<T: PartialSchema>() -> Value {
    serde_json::to_value(T::schema()).unwrap_or(Value::Null)
}

/// The schema of placeholder `name` in `path`, and what it is.
fn schema(path: &str, name: &str) -> (Value, &'static str) {
    let under = |prefix: &str| path.starts_with(prefix);
    match name {
        "queue" => (of::<QueueName>(), "The queue's name."),
        "id" if under("/v1/jobs/") => (of::<JobId>(), "The job's id."),
        "name" if under("/v1/events/") => (
            json!({"type": "string", "minLength": 1, "maxLength": 200, "pattern": "^[^/\\u0000-\\u001f\\u007f-\\u009f]+$"}),
            "The event's name: 1 to 200 printable characters, no `/` (`order.paid`).",
        ),
        "step" => (
            json!({"type": "string", "minLength": 1, "maxLength": 200, "pattern": "^[^/\\u0000-\\u001f\\u007f-\\u009f]+$"}),
            "The step's name: 1 to 200 printable characters, no `/` (a name used again gets `:1`, `:2`, …).",
        ),
        "id" if under("/v1/alerts/silences/") => (of::<SilenceId>(), "The silence's id."),
        "id" if under("/v1/alerts/") => (of::<AlertId>(), "The alert's id."),
        "id" if under("/v1/integrations/") => (name_schema(), "The connection's id in the app."),
        "platform" => (name_schema(), "The third-party platform (`stripe`, `gmail`, …)."),
        "source" => (name_schema(), "The webhook source's name."),
        "name" if under("/v1/webhooks/sources/") => (name_schema(), "The webhook source's name."),
        "id" if under("/v1/webhooks/deliveries/") => {
            (string(ID_PATTERN, 18, "A delivery's id: digits, as the delivery log lists it."), "The delivery's id.")
        }
        "name" | "policy" if under("/v1/ratelimit/") => (of::<PolicyName>(), "The rate-limit policy's name."),
        "name" if under("/v1/breakers/") => (of::<BreakerName>(), "The circuit breaker's name."),
        "name" if under("/v1/cron/") => (of::<CronName>(), "The cron schedule's name."),
        "name" if under("/v1/budgets/") => (of::<BudgetName>(), "The budget's name."),
        "name" if under("/v1/caches/") || under("/v1/monitoring/caches/") => (of::<CacheName>(), "The cache's name."),
        "key" if under("/v1/ratelimit/") => (
            json!({"type": "string", "minLength": 1, "maxLength": 256, "pattern": "^[^\\u0000]+$"}),
            "The key counted under the policy (at most `max_key_length` bytes, 256 by default).",
        ),
        "id" if under("/v1/keys/") => {
            (json!({"type": "string", "minLength": 1, "pattern": "^[^\\u0000]+$"}), "The key's id or name.")
        }
        _ => (json!({"type": "string"}), "A path parameter."),
    }
}

fn name_schema() -> Value {
    string(NAME_PATTERN, 128, "1 to 128 characters of A-Z, a-z, 0-9, `_`, `.`, `:` and `-`, except `.` and `..`.")
}

/// The core's string schema ([`rampart_core::schema::text`]) as JSON.
fn string(pattern: &str, max_length: usize, description: &str) -> Value {
    serde_json::to_value(text(pattern, Some(max_length), description)).unwrap_or(Value::Null)
}
