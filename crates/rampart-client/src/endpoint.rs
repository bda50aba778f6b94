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
    /// The name of its constant here (`JOBS_CREATE`); in lower case, its
    /// OpenAPI `operationId`.
    pub name: &'static str,
    /// What it does, in one line.
    pub summary: &'static str,
}

/// Declares each endpoint as a constant (its name, method, path, success
/// status and a one-line summary, which is also its doc comment) and `ALL`,
/// the list of every one, so no endpoint can be declared and left out.
macro_rules! endpoints {
    ($( #[doc = $summary:literal] $name:ident = $method:ident $path:literal => $status:literal; )+) => {
        $(
            #[doc = concat!("`", stringify!($method), " ", $path, "`:", $summary)]
            pub const $name: Endpoint = Endpoint {
                method: Method::from_token(stringify!($method)),
                path: $path,
                status: $status,
                name: stringify!($name),
                summary: $summary.trim_ascii_start(),
            };
        )+

        /// Every endpoint above.
        pub const ALL: &[Endpoint] = &[$($name),+];
    };
}

impl Method {
    /// The method named by an upper-case token, at compile time.
    const fn from_token(token: &str) -> Method {
        match token.as_bytes() {
            b"GET" => Method::Get,
            b"POST" => Method::Post,
            b"PUT" => Method::Put,
            b"DELETE" => Method::Delete,
            _ => panic!("an endpoint's method is GET, POST, PUT or DELETE"),
        }
    }
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

endpoints! {
    /// Liveness, uptime and version (no key).
    HEALTH = GET "/health" => 200;
    /// Readiness per component (no key); `503` when not ready, with the same body.
    HEALTH_READY = GET "/health/ready" => 200;
    /// The Prometheus text exposition.
    METRICS = GET "/metrics" => 200;
    /// This API's OpenAPI 3.1 document (no key).
    OPENAPI = GET "/openapi.json" => 200;
    /// Enqueue one job (`200` when a unique key matched a live job).
    JOBS_CREATE = POST "/v1/queues/{queue}/jobs" => 201;
    /// A page of a queue's jobs.
    JOBS_LIST = GET "/v1/queues/{queue}/jobs" => 200;
    /// Enqueue many jobs, all or nothing.
    JOBS_CREATE_BATCH = POST "/v1/queues/{queue}/jobs/batch" => 201;
    /// Lease jobs, long-polling up to `wait`.
    JOBS_LEASE = POST "/v1/queues/{queue}/lease" => 200;
    /// A job with its errors and history.
    JOBS_GET = GET "/v1/jobs/{id}" => 200;
    /// Extend an active job's lease.
    JOBS_HEARTBEAT = POST "/v1/jobs/{id}/heartbeat" => 200;
    /// Keep an active job's progress (also a heartbeat).
    JOBS_PROGRESS = POST "/v1/jobs/{id}/progress" => 200;
    /// Report an active job as done.
    JOBS_COMPLETE = POST "/v1/jobs/{id}/complete" => 200;
    /// Report an active job's attempt as failed.
    JOBS_FAIL = POST "/v1/jobs/{id}/fail" => 200;
    /// Give a lease back without counting the attempt.
    JOBS_RELEASE = POST "/v1/jobs/{id}/release" => 200;
    /// A job's recorded steps, in the order they were reached.
    JOBS_STEPS = GET "/v1/jobs/{id}/steps" => 200;
    /// Record a step's result while holding the lease; a step records once (first writer wins).
    JOBS_STEP_RECORD = PUT "/v1/jobs/{id}/steps/{step}" => 200;
    /// A durable sleep: record the step and give the job back scheduled for its wake time, no attempt counted.
    JOBS_STEP_SLEEP = POST "/v1/jobs/{id}/steps/{step}/sleep" => 200;
    /// Wait for an event: the job is parked `waiting` until a matching event or the timeout, no attempt counted.
    JOBS_STEP_WAIT = POST "/v1/jobs/{id}/steps/{step}/wait" => 200;
    /// Send an event: kept for the lookback, it wakes every job waiting for it.
    EVENTS_SEND = POST "/v1/events/{name}" => 200;
    /// Give back an active job's lease without its token (admin): available again, the attempt not counted.
    JOBS_LEASE_RELEASE = POST "/v1/jobs/{id}/lease/release" => 200;
    /// Fail an active job's running attempt now without its token (admin); the retry policy applies.
    JOBS_LEASE_FAIL = POST "/v1/jobs/{id}/lease/fail" => 200;
    /// Make a dead or cancelled job available again.
    JOBS_RETRY = POST "/v1/jobs/{id}/retry" => 200;
    /// Cancel a job that has not started.
    JOBS_CANCEL = POST "/v1/jobs/{id}/cancel" => 200;
    /// Complete and fail many jobs in one call.
    ACKS = POST "/v1/acks" => 200;
    /// Every known queue with its counts and totals.
    QUEUES_LIST = GET "/v1/queues" => 200;
    /// One queue with its counts and totals.
    QUEUES_GET = GET "/v1/queues/{queue}" => 200;
    /// Delete a queue holding only finished jobs, with them, its totals and settings.
    QUEUES_DELETE = DELETE "/v1/queues/{queue}" => 200;
    /// Make a queue's dead jobs available again.
    QUEUES_DEAD_RETRY = POST "/v1/queues/{queue}/dead/retry" => 200;
    /// Delete a queue's dead jobs.
    QUEUES_DEAD_PURGE = DELETE "/v1/queues/{queue}/dead" => 200;
    /// Stop a queue's jobs from being leased.
    QUEUES_PAUSE = POST "/v1/queues/{queue}/pause" => 200;
    /// Let a paused queue's jobs be leased again.
    QUEUES_RESUME = POST "/v1/queues/{queue}/resume" => 200;
    /// Create an API key.
    KEYS_CREATE = POST "/v1/keys" => 201;
    /// Every API key.
    KEYS_LIST = GET "/v1/keys" => 200;
    /// Revoke an API key by id or name.
    KEYS_REVOKE = DELETE "/v1/keys/{id}" => 204;
    /// Check one or several rate limits.
    RATELIMIT_CHECK = POST "/v1/ratelimit/check" => 200;
    /// The proxy gate: a check answered by status alone (`429` when denied).
    RATELIMIT_GATE = GET "/v1/ratelimit/gate/{policy}" => 204;
    /// Every rate-limit policy.
    RATELIMIT_POLICIES = GET "/v1/ratelimit/policies" => 200;
    /// One rate-limit policy.
    RATELIMIT_POLICY_GET = GET "/v1/ratelimit/policies/{name}" => 200;
    /// Define or replace a stored rate-limit policy.
    RATELIMIT_POLICY_PUT = PUT "/v1/ratelimit/policies/{name}" => 200;
    /// Delete a stored rate-limit policy.
    RATELIMIT_POLICY_DELETE = DELETE "/v1/ratelimit/policies/{name}" => 204;
    /// A key's state under a policy.
    RATELIMIT_KEY_GET = GET "/v1/ratelimit/policies/{name}/keys/{key}" => 200;
    /// Reset a key under a policy.
    RATELIMIT_KEY_RESET = DELETE "/v1/ratelimit/policies/{name}/keys/{key}" => 200;
    /// Every circuit breaker.
    BREAKERS_LIST = GET "/v1/breakers" => 200;
    /// One circuit breaker with its latest transitions.
    BREAKERS_GET = GET "/v1/breakers/{name}" => 200;
    /// Ask a shared breaker whether to make a call.
    BREAKERS_ACQUIRE = POST "/v1/breakers/{name}/acquire" => 200;
    /// Tell a shared breaker how a call ended.
    BREAKERS_RECORD = POST "/v1/breakers/{name}/record" => 200;
    /// Close a breaker and forget its counts.
    BREAKERS_RESET = POST "/v1/breakers/{name}/reset" => 200;
    /// Every cron schedule.
    CRON_LIST = GET "/v1/cron" => 200;
    /// One cron schedule.
    CRON_GET = GET "/v1/cron/{name}" => 200;
    /// Define or replace a stored cron schedule.
    CRON_PUT = PUT "/v1/cron/{name}" => 200;
    /// Delete a stored cron schedule.
    CRON_DELETE = DELETE "/v1/cron/{name}" => 204;
    /// A page of a schedule's runs, newest first.
    CRON_RUNS = GET "/v1/cron/{name}/runs" => 200;
    /// Run a schedule once now.
    CRON_TRIGGER = POST "/v1/cron/{name}/trigger" => 200;
    /// Pause a schedule.
    CRON_PAUSE = POST "/v1/cron/{name}/pause" => 200;
    /// Resume a paused schedule.
    CRON_RESUME = POST "/v1/cron/{name}/resume" => 200;
    /// A page of alerts, newest first.
    ALERTS_LIST = GET "/v1/alerts" => 200;
    /// One alert.
    ALERTS_GET = GET "/v1/alerts/{id}" => 200;
    /// Acknowledge an alert.
    ALERTS_ACK = POST "/v1/alerts/{id}/ack" => 200;
    /// The silences that have not ended.
    ALERTS_SILENCES_LIST = GET "/v1/alerts/silences" => 200;
    /// Silence matching alerts for a while.
    ALERTS_SILENCES_CREATE = POST "/v1/alerts/silences" => 201;
    /// End a silence now.
    ALERTS_SILENCES_DELETE = DELETE "/v1/alerts/silences/{id}" => 204;
    /// Send a test message to every alert channel.
    ALERTS_TEST = POST "/v1/alerts/test" => 200;
    /// Report how one of the app's connections stands.
    INTEGRATIONS_REPORT = PUT "/v1/integrations/{platform}/connections/{id}" => 200;
    /// The background-jobs diagnostics.
    DIAGNOSTICS_BACKGROUND_JOBS = GET "/v1/admin/diagnostics/background-jobs" => 200;
    /// The integrations diagnostics.
    DIAGNOSTICS_INTEGRATIONS = GET "/v1/admin/diagnostics/integrations" => 200;
    /// The latest sample of every queue.
    MONITORING_QUEUE_METRICS = GET "/v1/monitoring/queue-metrics" => 200;
    /// A queue's latest sample and the ones before it.
    MONITORING_QUEUE_METRICS_GET = GET "/v1/monitoring/queue-metrics/{queue}" => 200;
    /// Whether each queue is healthy.
    MONITORING_QUEUE_HEALTH = GET "/v1/monitoring/queue-health" => 200;
    /// The whole system's health.
    MONITORING_SYSTEM_HEALTH = GET "/v1/monitoring/system-health" => 200;
    /// Webhook intake (no key: the signature authenticates); `200` also for a duplicate.
    WEBHOOK_INTAKE = POST "/in/{source}" => 200;
    /// Every webhook source, configured or put.
    WEBHOOK_SOURCES_LIST = GET "/v1/webhooks/sources" => 200;
    /// One webhook source (secrets never show).
    WEBHOOK_SOURCES_GET = GET "/v1/webhooks/sources/{name}" => 200;
    /// Define or replace a webhook source kept in the store.
    WEBHOOK_SOURCES_PUT = PUT "/v1/webhooks/sources/{name}" => 200;
    /// Delete a webhook source of the API.
    WEBHOOK_SOURCES_DELETE = DELETE "/v1/webhooks/sources/{name}" => 204;
    /// A page of the delivery log, newest first, filtered.
    WEBHOOK_DELIVERIES_LIST = GET "/v1/webhooks/deliveries" => 200;
    /// One delivery with headers, body and its job's history.
    WEBHOOK_DELIVERIES_GET = GET "/v1/webhooks/deliveries/{id}" => 200;
    /// Hand a dead-lettered delivery's job to its queue again.
    WEBHOOK_DELIVERIES_REPLAY = POST "/v1/webhooks/deliveries/{id}/replay" => 200;
    /// Replay every dead-lettered delivery of a source (and tenant).
    WEBHOOK_DELIVERIES_REPLAY_ALL = POST "/v1/webhooks/deliveries/replay" => 200;
    /// Each webhook source with its counts, last event and last rejection.
    DIAGNOSTICS_WEBHOOKS = GET "/v1/admin/diagnostics/webhooks" => 200;
    /// Report a cache's snapshot and events.
    CACHES_REPORT = POST "/v1/caches/{name}/report" => 200;
    /// Every cache that reports, with its figures.
    MONITORING_CACHES = GET "/v1/monitoring/caches" => 200;
    /// One cache: figures, counts per interval, latest evictions.
    MONITORING_CACHES_GET = GET "/v1/monitoring/caches/{name}" => 200;
    /// Report an error event (scrubbed before it is kept).
    ERRORS_REPORT = POST "/v1/errors" => 201;
    /// A page of error events, filtered, with counts per kind and fingerprint.
    ERRORS_LIST = GET "/v1/errors" => 200;
    /// The deployment's launch checklist: every doctor check, PASS / WARN / FAIL.
    ADMIN_DOCTOR = GET "/v1/admin/doctor" => 200;
    /// Report AI model calls, one or a batch of up to 1,000; idempotent on `call_id`.
    USAGE_REPORT = POST "/v1/usage" => 200;
    /// Totals of calls, failures, tokens, cost and p50/p95 duration, grouped.
    USAGE_SUMMARY = GET "/v1/usage/summary" => 200;
    /// Hold an estimate on every budget that applies to a call, all or none.
    USAGE_RESERVE = POST "/v1/usage/reserve" => 200;
    /// Every budget with its current period's spent, reserved and limit.
    BUDGETS_LIST = GET "/v1/budgets" => 200;
    /// One budget with its current period's figures.
    BUDGETS_GET = GET "/v1/budgets/{name}" => 200;
    /// Define or replace a budget kept in the store.
    BUDGETS_PUT = PUT "/v1/budgets/{name}" => 200;
    /// Delete a budget of the API.
    BUDGETS_DELETE = DELETE "/v1/budgets/{name}" => 204;
}

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
