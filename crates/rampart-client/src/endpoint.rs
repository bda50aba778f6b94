//! Every route of the API declared once: its method, its path (with
//! `{name}` placeholders, as the server's router writes them) and the status
//! it answers on success. The [`Client`](crate::client::Client) builds its
//! requests from these, and `rampart-server` builds its router from them and
//! tests that the two sets are the same, so neither side can drift.

rampart_core::named_enum! {
    /// An HTTP method of the API (named as on the wire).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
    pub enum Method {
        /// `GET`.
        Get = "GET",
        /// `POST`.
        Post = "POST",
        /// `PUT`.
        Put = "PUT",
        /// `DELETE`.
        Delete = "DELETE",
    }
}

/// One route of the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Endpoint {
    /// Its method.
    pub method: Method,
    /// Its path, with `{name}` for each parameter.
    pub path: &'static str,
    /// The status of a successful answer.
    pub status: u16,
}

impl Endpoint {
    /// The path's segments with each `{placeholder}` replaced, in order, by
    /// one of `params` (not encoded: the caller percent-encodes segments).
    /// `None` when the number of parameters does not match.
    pub fn segments<'a>(&self, params: &[&'a str]) -> Option<Vec<&'a str>> {
        let mut params = params.iter();
        let segments = self
            .path
            .trim_start_matches('/')
            .split('/')
            .map(|segment| if segment.starts_with('{') { params.next().copied() } else { Some(segment) })
            .collect::<Option<Vec<_>>>()?;
        params.next().is_none().then_some(segments)
    }
}

/// `GET /health`: Liveness, uptime and version (no key).
pub const HEALTH: Endpoint = Endpoint { method: Method::Get, path: "/health", status: 200 };
/// `GET /health/ready`: Readiness per component (no key); `503` when not ready, with the same body.
pub const HEALTH_READY: Endpoint = Endpoint { method: Method::Get, path: "/health/ready", status: 200 };
/// `GET /metrics`: The Prometheus text exposition.
pub const METRICS: Endpoint = Endpoint { method: Method::Get, path: "/metrics", status: 200 };
/// `POST /v1/queues/{queue}/jobs`: Enqueue one job (`200` when a unique key matched a live job).
pub const JOBS_CREATE: Endpoint = Endpoint { method: Method::Post, path: "/v1/queues/{queue}/jobs", status: 201 };
/// `GET /v1/queues/{queue}/jobs`: A page of a queue's jobs.
pub const JOBS_LIST: Endpoint = Endpoint { method: Method::Get, path: "/v1/queues/{queue}/jobs", status: 200 };
/// `POST /v1/queues/{queue}/jobs/batch`: Enqueue many jobs, all or nothing.
pub const JOBS_CREATE_BATCH: Endpoint =
    Endpoint { method: Method::Post, path: "/v1/queues/{queue}/jobs/batch", status: 201 };
/// `POST /v1/queues/{queue}/lease`: Lease jobs, long-polling up to `wait`.
pub const JOBS_LEASE: Endpoint = Endpoint { method: Method::Post, path: "/v1/queues/{queue}/lease", status: 200 };
/// `GET /v1/jobs/{id}`: A job with its errors and history.
pub const JOBS_GET: Endpoint = Endpoint { method: Method::Get, path: "/v1/jobs/{id}", status: 200 };
/// `POST /v1/jobs/{id}/heartbeat`: Extend an active job's lease.
pub const JOBS_HEARTBEAT: Endpoint = Endpoint { method: Method::Post, path: "/v1/jobs/{id}/heartbeat", status: 200 };
/// `POST /v1/jobs/{id}/complete`: Report an active job as done.
pub const JOBS_COMPLETE: Endpoint = Endpoint { method: Method::Post, path: "/v1/jobs/{id}/complete", status: 200 };
/// `POST /v1/jobs/{id}/fail`: Report an active job's attempt as failed.
pub const JOBS_FAIL: Endpoint = Endpoint { method: Method::Post, path: "/v1/jobs/{id}/fail", status: 200 };
/// `POST /v1/jobs/{id}/release`: Give a lease back without counting the attempt.
pub const JOBS_RELEASE: Endpoint = Endpoint { method: Method::Post, path: "/v1/jobs/{id}/release", status: 200 };
/// `POST /v1/jobs/{id}/retry`: Make a dead or cancelled job available again.
pub const JOBS_RETRY: Endpoint = Endpoint { method: Method::Post, path: "/v1/jobs/{id}/retry", status: 200 };
/// `POST /v1/jobs/{id}/cancel`: Cancel a job that has not started.
pub const JOBS_CANCEL: Endpoint = Endpoint { method: Method::Post, path: "/v1/jobs/{id}/cancel", status: 200 };
/// `POST /v1/acks`: Complete and fail many jobs in one call.
pub const ACKS: Endpoint = Endpoint { method: Method::Post, path: "/v1/acks", status: 200 };
/// `GET /v1/queues`: Every known queue with its counts and totals.
pub const QUEUES_LIST: Endpoint = Endpoint { method: Method::Get, path: "/v1/queues", status: 200 };
/// `GET /v1/queues/{queue}`: One queue with its counts and totals.
pub const QUEUES_GET: Endpoint = Endpoint { method: Method::Get, path: "/v1/queues/{queue}", status: 200 };
/// `POST /v1/queues/{queue}/dead/retry`: Make a queue's dead jobs available again.
pub const QUEUES_DEAD_RETRY: Endpoint =
    Endpoint { method: Method::Post, path: "/v1/queues/{queue}/dead/retry", status: 200 };
/// `DELETE /v1/queues/{queue}/dead`: Delete a queue's dead jobs.
pub const QUEUES_DEAD_PURGE: Endpoint =
    Endpoint { method: Method::Delete, path: "/v1/queues/{queue}/dead", status: 200 };
/// `POST /v1/queues/{queue}/pause`: Stop a queue's jobs from being leased.
pub const QUEUES_PAUSE: Endpoint = Endpoint { method: Method::Post, path: "/v1/queues/{queue}/pause", status: 200 };
/// `POST /v1/queues/{queue}/resume`: Let a paused queue's jobs be leased again.
pub const QUEUES_RESUME: Endpoint = Endpoint { method: Method::Post, path: "/v1/queues/{queue}/resume", status: 200 };
/// `POST /v1/keys`: Create an API key.
pub const KEYS_CREATE: Endpoint = Endpoint { method: Method::Post, path: "/v1/keys", status: 201 };
/// `GET /v1/keys`: Every API key.
pub const KEYS_LIST: Endpoint = Endpoint { method: Method::Get, path: "/v1/keys", status: 200 };
/// `DELETE /v1/keys/{key}`: Revoke an API key by id or name.
pub const KEYS_REVOKE: Endpoint = Endpoint { method: Method::Delete, path: "/v1/keys/{key}", status: 204 };
/// `POST /v1/ratelimit/check`: Check one or several rate limits.
pub const RATELIMIT_CHECK: Endpoint = Endpoint { method: Method::Post, path: "/v1/ratelimit/check", status: 200 };
/// `GET /v1/ratelimit/gate/{policy}`: The proxy gate: a check answered by status alone (`429` when denied).
pub const RATELIMIT_GATE: Endpoint = Endpoint { method: Method::Get, path: "/v1/ratelimit/gate/{policy}", status: 200 };
/// `GET /v1/ratelimit/policies`: Every rate-limit policy.
pub const RATELIMIT_POLICIES: Endpoint = Endpoint { method: Method::Get, path: "/v1/ratelimit/policies", status: 200 };
/// `GET /v1/ratelimit/policies/{name}`: One rate-limit policy.
pub const RATELIMIT_POLICY_GET: Endpoint =
    Endpoint { method: Method::Get, path: "/v1/ratelimit/policies/{name}", status: 200 };
/// `PUT /v1/ratelimit/policies/{name}`: Define or replace a stored rate-limit policy.
pub const RATELIMIT_POLICY_PUT: Endpoint =
    Endpoint { method: Method::Put, path: "/v1/ratelimit/policies/{name}", status: 200 };
/// `DELETE /v1/ratelimit/policies/{name}`: Delete a stored rate-limit policy.
pub const RATELIMIT_POLICY_DELETE: Endpoint =
    Endpoint { method: Method::Delete, path: "/v1/ratelimit/policies/{name}", status: 204 };
/// `GET /v1/ratelimit/policies/{name}/keys/{key}`: A key's state under a policy.
pub const RATELIMIT_KEY_GET: Endpoint =
    Endpoint { method: Method::Get, path: "/v1/ratelimit/policies/{name}/keys/{key}", status: 200 };
/// `DELETE /v1/ratelimit/policies/{name}/keys/{key}`: Reset a key under a policy.
pub const RATELIMIT_KEY_RESET: Endpoint =
    Endpoint { method: Method::Delete, path: "/v1/ratelimit/policies/{name}/keys/{key}", status: 200 };
/// `GET /v1/breakers`: Every circuit breaker.
pub const BREAKERS_LIST: Endpoint = Endpoint { method: Method::Get, path: "/v1/breakers", status: 200 };
/// `GET /v1/breakers/{name}`: One circuit breaker with its latest transitions.
pub const BREAKERS_GET: Endpoint = Endpoint { method: Method::Get, path: "/v1/breakers/{name}", status: 200 };
/// `POST /v1/breakers/{name}/acquire`: Ask a shared breaker whether to make a call.
pub const BREAKERS_ACQUIRE: Endpoint =
    Endpoint { method: Method::Post, path: "/v1/breakers/{name}/acquire", status: 200 };
/// `POST /v1/breakers/{name}/record`: Tell a shared breaker how a call ended.
pub const BREAKERS_RECORD: Endpoint =
    Endpoint { method: Method::Post, path: "/v1/breakers/{name}/record", status: 200 };
/// `POST /v1/breakers/{name}/reset`: Close a breaker and forget its counts.
pub const BREAKERS_RESET: Endpoint = Endpoint { method: Method::Post, path: "/v1/breakers/{name}/reset", status: 200 };
/// `GET /v1/cron`: Every cron schedule.
pub const CRON_LIST: Endpoint = Endpoint { method: Method::Get, path: "/v1/cron", status: 200 };
/// `GET /v1/cron/{name}`: One cron schedule.
pub const CRON_GET: Endpoint = Endpoint { method: Method::Get, path: "/v1/cron/{name}", status: 200 };
/// `PUT /v1/cron/{name}`: Define or replace a stored cron schedule.
pub const CRON_PUT: Endpoint = Endpoint { method: Method::Put, path: "/v1/cron/{name}", status: 200 };
/// `DELETE /v1/cron/{name}`: Delete a stored cron schedule.
pub const CRON_DELETE: Endpoint = Endpoint { method: Method::Delete, path: "/v1/cron/{name}", status: 204 };
/// `GET /v1/cron/{name}/runs`: A page of a schedule's runs, newest first.
pub const CRON_RUNS: Endpoint = Endpoint { method: Method::Get, path: "/v1/cron/{name}/runs", status: 200 };
/// `POST /v1/cron/{name}/trigger`: Run a schedule once now.
pub const CRON_TRIGGER: Endpoint = Endpoint { method: Method::Post, path: "/v1/cron/{name}/trigger", status: 200 };
/// `POST /v1/cron/{name}/pause`: Pause a schedule.
pub const CRON_PAUSE: Endpoint = Endpoint { method: Method::Post, path: "/v1/cron/{name}/pause", status: 200 };
/// `POST /v1/cron/{name}/resume`: Resume a paused schedule.
pub const CRON_RESUME: Endpoint = Endpoint { method: Method::Post, path: "/v1/cron/{name}/resume", status: 200 };
/// `GET /v1/alerts`: A page of alerts, newest first.
pub const ALERTS_LIST: Endpoint = Endpoint { method: Method::Get, path: "/v1/alerts", status: 200 };
/// `GET /v1/alerts/{id}`: One alert.
pub const ALERTS_GET: Endpoint = Endpoint { method: Method::Get, path: "/v1/alerts/{id}", status: 200 };
/// `POST /v1/alerts/{id}/ack`: Acknowledge an alert.
pub const ALERTS_ACK: Endpoint = Endpoint { method: Method::Post, path: "/v1/alerts/{id}/ack", status: 200 };
/// `GET /v1/alerts/silences`: The silences that have not ended.
pub const ALERTS_SILENCES_LIST: Endpoint = Endpoint { method: Method::Get, path: "/v1/alerts/silences", status: 200 };
/// `POST /v1/alerts/silences`: Silence matching alerts for a while.
pub const ALERTS_SILENCES_CREATE: Endpoint =
    Endpoint { method: Method::Post, path: "/v1/alerts/silences", status: 201 };
/// `DELETE /v1/alerts/silences/{id}`: End a silence now.
pub const ALERTS_SILENCES_DELETE: Endpoint =
    Endpoint { method: Method::Delete, path: "/v1/alerts/silences/{id}", status: 204 };
/// `POST /v1/alerts/test`: Send a test message to every alert channel.
pub const ALERTS_TEST: Endpoint = Endpoint { method: Method::Post, path: "/v1/alerts/test", status: 200 };
/// `PUT /v1/integrations/{platform}/connections/{id}`: Report how one of the app's connections stands.
pub const INTEGRATIONS_REPORT: Endpoint =
    Endpoint { method: Method::Put, path: "/v1/integrations/{platform}/connections/{id}", status: 200 };
/// `GET /v1/admin/diagnostics/background-jobs`: The background-jobs diagnostics.
pub const DIAGNOSTICS_BACKGROUND_JOBS: Endpoint =
    Endpoint { method: Method::Get, path: "/v1/admin/diagnostics/background-jobs", status: 200 };
/// `GET /v1/admin/diagnostics/integrations`: The integrations diagnostics.
pub const DIAGNOSTICS_INTEGRATIONS: Endpoint =
    Endpoint { method: Method::Get, path: "/v1/admin/diagnostics/integrations", status: 200 };
/// `GET /v1/monitoring/queue-metrics`: The latest sample of every queue.
pub const MONITORING_QUEUE_METRICS: Endpoint =
    Endpoint { method: Method::Get, path: "/v1/monitoring/queue-metrics", status: 200 };
/// `GET /v1/monitoring/queue-metrics/{queue}`: A queue's latest sample and the ones before it.
pub const MONITORING_QUEUE_METRICS_GET: Endpoint =
    Endpoint { method: Method::Get, path: "/v1/monitoring/queue-metrics/{queue}", status: 200 };
/// `GET /v1/monitoring/queue-health`: Whether each queue is healthy.
pub const MONITORING_QUEUE_HEALTH: Endpoint =
    Endpoint { method: Method::Get, path: "/v1/monitoring/queue-health", status: 200 };
/// `GET /v1/monitoring/system-health`: The whole system's health.
pub const MONITORING_SYSTEM_HEALTH: Endpoint =
    Endpoint { method: Method::Get, path: "/v1/monitoring/system-health", status: 200 };

/// `POST /in/{source}`: Webhook intake (no key: the signature authenticates); `200` also for a duplicate.
pub const WEBHOOK_INTAKE: Endpoint = Endpoint { method: Method::Post, path: "/in/{source}", status: 200 };
/// `GET /v1/webhooks/sources`: Every webhook source, configured or put.
pub const WEBHOOK_SOURCES_LIST: Endpoint = Endpoint { method: Method::Get, path: "/v1/webhooks/sources", status: 200 };
/// `GET /v1/webhooks/sources/{name}`: One webhook source (secrets never show).
pub const WEBHOOK_SOURCES_GET: Endpoint =
    Endpoint { method: Method::Get, path: "/v1/webhooks/sources/{name}", status: 200 };
/// `PUT /v1/webhooks/sources/{name}`: Define or replace a webhook source kept in the store.
pub const WEBHOOK_SOURCES_PUT: Endpoint =
    Endpoint { method: Method::Put, path: "/v1/webhooks/sources/{name}", status: 200 };
/// `DELETE /v1/webhooks/sources/{name}`: Delete a webhook source of the API.
pub const WEBHOOK_SOURCES_DELETE: Endpoint =
    Endpoint { method: Method::Delete, path: "/v1/webhooks/sources/{name}", status: 204 };
/// `GET /v1/webhooks/deliveries`: A page of the delivery log, newest first, filtered.
pub const WEBHOOK_DELIVERIES_LIST: Endpoint =
    Endpoint { method: Method::Get, path: "/v1/webhooks/deliveries", status: 200 };
/// `GET /v1/webhooks/deliveries/{id}`: One delivery with headers, body and its job's history.
pub const WEBHOOK_DELIVERIES_GET: Endpoint =
    Endpoint { method: Method::Get, path: "/v1/webhooks/deliveries/{id}", status: 200 };
/// `POST /v1/webhooks/deliveries/{id}/replay`: Hand a dead-lettered delivery's job to its queue again.
pub const WEBHOOK_DELIVERIES_REPLAY: Endpoint =
    Endpoint { method: Method::Post, path: "/v1/webhooks/deliveries/{id}/replay", status: 200 };
/// `POST /v1/webhooks/deliveries/replay`: Replay every dead-lettered delivery of a source (and tenant).
pub const WEBHOOK_DELIVERIES_REPLAY_ALL: Endpoint =
    Endpoint { method: Method::Post, path: "/v1/webhooks/deliveries/replay", status: 200 };

/// `GET /v1/admin/diagnostics/webhooks`: Each webhook source with its counts, last event and last rejection.
pub const DIAGNOSTICS_WEBHOOKS: Endpoint =
    Endpoint { method: Method::Get, path: "/v1/admin/diagnostics/webhooks", status: 200 };

/// Every endpoint above.
pub const ALL: &[Endpoint] = &[
    HEALTH,
    HEALTH_READY,
    METRICS,
    JOBS_CREATE,
    JOBS_LIST,
    JOBS_CREATE_BATCH,
    JOBS_LEASE,
    JOBS_GET,
    JOBS_HEARTBEAT,
    JOBS_COMPLETE,
    JOBS_FAIL,
    JOBS_RELEASE,
    JOBS_RETRY,
    JOBS_CANCEL,
    ACKS,
    QUEUES_LIST,
    QUEUES_GET,
    QUEUES_DEAD_RETRY,
    QUEUES_DEAD_PURGE,
    QUEUES_PAUSE,
    QUEUES_RESUME,
    KEYS_CREATE,
    KEYS_LIST,
    KEYS_REVOKE,
    RATELIMIT_CHECK,
    RATELIMIT_GATE,
    RATELIMIT_POLICIES,
    RATELIMIT_POLICY_GET,
    RATELIMIT_POLICY_PUT,
    RATELIMIT_POLICY_DELETE,
    RATELIMIT_KEY_GET,
    RATELIMIT_KEY_RESET,
    BREAKERS_LIST,
    BREAKERS_GET,
    BREAKERS_ACQUIRE,
    BREAKERS_RECORD,
    BREAKERS_RESET,
    CRON_LIST,
    CRON_GET,
    CRON_PUT,
    CRON_DELETE,
    CRON_RUNS,
    CRON_TRIGGER,
    CRON_PAUSE,
    CRON_RESUME,
    ALERTS_LIST,
    ALERTS_GET,
    ALERTS_ACK,
    ALERTS_SILENCES_LIST,
    ALERTS_SILENCES_CREATE,
    ALERTS_SILENCES_DELETE,
    ALERTS_TEST,
    INTEGRATIONS_REPORT,
    DIAGNOSTICS_BACKGROUND_JOBS,
    DIAGNOSTICS_INTEGRATIONS,
    MONITORING_QUEUE_METRICS,
    MONITORING_QUEUE_METRICS_GET,
    MONITORING_QUEUE_HEALTH,
    MONITORING_SYSTEM_HEALTH,
    WEBHOOK_INTAKE,
    WEBHOOK_SOURCES_LIST,
    WEBHOOK_SOURCES_GET,
    WEBHOOK_SOURCES_PUT,
    WEBHOOK_SOURCES_DELETE,
    WEBHOOK_DELIVERIES_LIST,
    WEBHOOK_DELIVERIES_GET,
    WEBHOOK_DELIVERIES_REPLAY,
    WEBHOOK_DELIVERIES_REPLAY_ALL,
    DIAGNOSTICS_WEBHOOKS,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_take_the_parameters_in_order() {
        assert_eq!(
            RATELIMIT_KEY_GET.segments(&["p", "k"]),
            Some(vec!["v1", "ratelimit", "policies", "p", "keys", "k"])
        );
        assert_eq!(QUEUES_LIST.segments(&[]), Some(vec!["v1", "queues"]));
        assert_eq!(JOBS_GET.segments(&[]), None);
        assert_eq!(JOBS_GET.segments(&["1", "2"]), None);
    }

    #[test]
    fn each_route_is_declared_once() {
        let mut routes: Vec<(Method, &str)> = ALL.iter().map(|e| (e.method, e.path)).collect();
        routes.sort();
        routes.dedup();
        assert_eq!(routes.len(), ALL.len());
        assert!(ALL.iter().all(|e| e.path.starts_with('/') && (200..300).contains(&e.status)));
    }
}
