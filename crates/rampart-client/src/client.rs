//! The typed HTTP client of the rampart API: one async method per route,
//! taking and returning the [`crate::wire`] shapes, each sent to the
//! [`crate::endpoint`] that declares its method, path and success status.
//!
//! The CLI, remote workers and the end-to-end tests talk to a server through
//! it. A [`Client`] is cheap to clone and shares one pool of keep-alive
//! connections; every request carries the API key as `Authorization: Bearer`.
//! Failures come back as a [`ClientError`] that tells apart a server that
//! cannot be reached, a refused key and an API error with its code.

use std::time::Duration;

use rampart_core::duration::HumanDuration;
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue};
use reqwest::{Method, RequestBuilder, StatusCode, Url};
use serde::de::DeserializeOwned;

use crate::endpoint::{self, *};

mod steps;

use crate::wire::{
    AckResponse, AcksRequest, AcksResponse, BatchRequest, BatchResponse, CompleteRequest, DeadPurgeResponse,
    DeadRetryRequest, DeadRetryResponse, EnqueueRequest, EnqueueResponse, ErrorBody, FailRequest, HealthResponse,
    HeartbeatRequest, HeartbeatResponse, JobListResponse, JobStateResponse, JobView, KeyCreateRequest,
    KeyCreatedResponse, KeysResponse, LeaseFailRequest, LeaseRequest, LeaseResponse, QueueDeletedResponse,
    QueuePausedResponse, QueueView, QueuesResponse, RateLimitCheckRequest, RateLimitCheckResponse, RateLimitKeyView,
    RateLimitPoliciesResponse, RateLimitPolicyPut, RateLimitPolicyView, RateLimitResetResponse, ReadyResponse,
    ReleaseRequest,
};
use crate::wire::{AlertRecordView, AlertTestResponse, AlertsResponse, SilenceRequest, SilenceView, SilencesResponse};
use crate::wire::{BackgroundJobsDiagnostics, IntegrationReportRequest, IntegrationView, IntegrationsDiagnostics};
use crate::wire::{BreakerAcquireResponse, BreakerRecordRequest, BreakerStepResponse, BreakerView, BreakersResponse};
use crate::wire::{
    BudgetView, BudgetsResponse, CacheDetail, CacheReportRequest, CacheReportResponse, CachesResponse, ErrorEventView,
    ErrorReportRequest, ErrorsResponse, ReserveRequest, ReserveResponse, UsageBatch, UsageEvent, UsageResponse,
    UsageSummaryResponse,
};
use crate::wire::{CronListResponse, CronPut, CronRunView, CronRunsResponse, CronView};
use crate::wire::{DoctorReport, ProgressRequest};
use crate::wire::{QueueHealthResponse, QueueMetricsHistory, QueueMetricsResponse, SystemHealthResponse};
use crate::wire::{
    WebhookDeliveriesResponse, WebhookDeliveryDetail, WebhookReplayRequest, WebhookReplayResponse, WebhookSourceView,
    WebhookSourcesResponse,
};

/// How long one request may take. Long enough for a lease that long-polls
/// the server's maximum wait (30s) with room to spare.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// How long to wait for a TCP connection before calling the server unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Added to a lease's `wait` so the answer that ends the long-poll has time to arrive.
const LEASE_MARGIN: Duration = Duration::from_secs(15);

/// Why a call to the server failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The client could not be set up or the request could not be built
    /// (an invalid URL or API key).
    #[error("{0}")]
    InvalidRequest(String),
    /// No answer came: the server is down, the address is wrong, or the
    /// connection broke or timed out.
    #[error(
        "cannot reach the rampart server at {url}: {}; start it with `rampart serve` or set --url / RAMPART_URL",
        root_cause(source)
    )]
    Unreachable {
        /// The server's base URL.
        url: String,
        /// What the HTTP stack reported.
        source: reqwest::Error,
    },
    /// The server answered 401: no API key was sent, or it was refused.
    #[error("{}", unauthorized_message(*key_sent, message))]
    Unauthorized {
        /// Whether the request carried a key at all.
        key_sent: bool,
        /// The server's explanation.
        message: String,
    },
    /// The server answered with an error status and body.
    #[error("{code}: {message}")]
    Api {
        /// The HTTP status.
        status: u16,
        /// The stable SNAKE_CASE code (derived from the status when the body
        /// was not a rampart error, e.g. from a proxy).
        code: String,
        /// What went wrong and what to do.
        message: String,
    },
    /// The server answered with a body or status this client does not understand.
    #[error("unexpected answer from the rampart server: {0}")]
    Decode(String),
}

impl ClientError {
    /// True for an API error with this code (`UNAUTHORIZED` for a 401).
    pub fn is_code(&self, code: &str) -> bool {
        match self {
            ClientError::Api { code: c, .. } => c == code,
            ClientError::Unauthorized { .. } => code == "UNAUTHORIZED",
            _ => false,
        }
    }

    /// The HTTP status the server answered with, when it answered with an error.
    pub fn status_code(&self) -> Option<u16> {
        match self {
            ClientError::Api { status, .. } => Some(*status),
            ClientError::Unauthorized { .. } => Some(401),
            _ => None,
        }
    }
}

/// The innermost cause of a transport error in a few words
/// (`connection refused` rather than reqwest's layered description).
fn root_cause(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        return "no answer in time".to_string();
    }
    let mut cause: &dyn std::error::Error = error;
    while let Some(next) = cause.source() {
        cause = next;
    }
    if let Some(io) = cause.downcast_ref::<std::io::Error>() {
        match io.kind() {
            std::io::ErrorKind::ConnectionRefused => return "connection refused".to_string(),
            std::io::ErrorKind::ConnectionReset => return "connection reset".to_string(),
            std::io::ErrorKind::TimedOut => return "connection timed out".to_string(),
            _ => {}
        }
    }
    cause.to_string()
}

fn unauthorized_message(key_sent: bool, message: &str) -> String {
    if key_sent {
        format!("the server refused the API key: {message}; pass a valid key with --api-key or RAMPART_API_KEY")
    } else {
        // The server's message only says that the key is missing.
        "the server needs an API key: pass one with --api-key or RAMPART_API_KEY \
         (on first start the server writes an admin key to <data_dir>/admin.key)"
            .to_string()
    }
}

/// A server's base URL: http or https, usable as a base.
fn parse_base(base_url: &str) -> Result<Url, ClientError> {
    let invalid = |reason: String| {
        ClientError::InvalidRequest(format!(
            "`{base_url}` is not a server URL: {reason}; write e.g. http://127.0.0.1:7433"
        ))
    };
    let base = Url::parse(base_url.trim()).map_err(|e| invalid(e.to_string()))?;
    if !matches!(base.scheme(), "http" | "https") || base.cannot_be_a_base() {
        return Err(invalid("the scheme must be http or https".to_string()));
    }
    Ok(base)
}

/// A typed client of one rampart server.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    base: Url,
    /// The base URL as given, without a trailing slash, for messages.
    display_url: String,
    key_sent: bool,
}

/// A request being built, with the endpoint whose status it expects.
struct Call {
    endpoint: Endpoint,
    builder: RequestBuilder,
}

impl Call {
    /// With this JSON body.
    fn json<B: serde::Serialize + ?Sized>(self, body: &B) -> Call {
        Call { builder: self.builder.json(body), ..self }
    }

    /// With this timeout instead of the client's.
    fn timeout(self, timeout: Duration) -> Call {
        Call { builder: self.builder.timeout(timeout), ..self }
    }
}

impl Client {
    /// A client of the server at `base_url` (e.g. `http://127.0.0.1:7433`),
    /// authenticating with `api_key` when given.
    pub fn new(base_url: &str, api_key: Option<String>) -> Result<Client, ClientError> {
        let base = parse_base(base_url)?;
        let mut headers = HeaderMap::new();
        if let Some(key) = &api_key {
            let mut value = HeaderValue::from_str(&format!("Bearer {}", key.trim())).map_err(|_| {
                ClientError::InvalidRequest("the API key contains characters that cannot be sent".to_string())
            })?;
            value.set_sensitive(true);
            headers.insert(AUTHORIZATION, value);
        }
        let http = reqwest::Client::builder()
            .default_headers(headers)
            .user_agent(concat!("rampart/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            .pool_idle_timeout(Duration::from_secs(90))
            .build()
            .map_err(|e| ClientError::InvalidRequest(format!("cannot set up the HTTP client: {e}")))?;
        Ok(Client {
            http,
            display_url: base_url.trim().trim_end_matches('/').to_string(),
            base,
            key_sent: api_key.is_some(),
        })
    }

    /// Enqueues one job (`201`, or `200` with `duplicate: true` when its unique key matched).
    pub async fn enqueue(&self, queue: &str, req: &EnqueueRequest) -> Result<EnqueueResponse, ClientError> {
        let request = self.call(JOBS_CREATE, &[queue])?.json(req);
        self.send(request, &[StatusCode::OK]).await
    }

    /// Enqueues many jobs at once, all or nothing.
    pub async fn enqueue_batch(&self, queue: &str, req: &BatchRequest) -> Result<BatchResponse, ClientError> {
        let request = self.call(JOBS_CREATE_BATCH, &[queue])?.json(req);
        self.send(request, &[]).await
    }

    /// Leases jobs, long-polling up to `req.wait` when none is available.
    pub async fn lease(&self, queue: &str, req: &LeaseRequest) -> Result<LeaseResponse, ClientError> {
        let wait = req.wait.map(HumanDuration::get).unwrap_or_default();
        let request = self.call(JOBS_LEASE, &[queue])?.timeout(REQUEST_TIMEOUT.max(wait + LEASE_MARGIN)).json(req);
        self.send(request, &[]).await
    }

    /// Extends the lease of an active job.
    pub async fn heartbeat(&self, id: &str, req: &HeartbeatRequest) -> Result<HeartbeatResponse, ClientError> {
        let request = self.call(JOBS_HEARTBEAT, &[id])?.json(req);
        self.send(request, &[]).await
    }

    /// Keeps an active job's progress (and extends its lease, as a heartbeat does).
    pub async fn progress(&self, id: &str, req: &ProgressRequest) -> Result<HeartbeatResponse, ClientError> {
        let request = self.call(JOBS_PROGRESS, &[id])?.json(req);
        self.send(request, &[]).await
    }

    /// Reports an active job as done.
    pub async fn complete(&self, id: &str, req: &CompleteRequest) -> Result<AckResponse, ClientError> {
        let request = self.call(JOBS_COMPLETE, &[id])?.json(req);
        self.send(request, &[]).await
    }

    /// Reports an active job's attempt as failed.
    pub async fn fail(&self, id: &str, req: &FailRequest) -> Result<AckResponse, ClientError> {
        let request = self.call(JOBS_FAIL, &[id])?.json(req);
        self.send(request, &[]).await
    }

    /// Gives an active job's lease back without counting its attempt: the
    /// job is `available` again at once.
    pub async fn release(&self, id: &str, req: &ReleaseRequest) -> Result<JobStateResponse, ClientError> {
        let request = self.call(JOBS_RELEASE, &[id])?.json(req);
        self.send(request, &[]).await
    }

    /// Completes and fails many jobs in one call; each ack succeeds or fails on its own.
    pub async fn acks(&self, req: &AcksRequest) -> Result<AcksResponse, ClientError> {
        let request = self.call(ACKS, &[])?.json(req);
        self.send(request, &[]).await
    }

    /// A job with its errors and history.
    pub async fn job(&self, id: &str) -> Result<JobView, ClientError> {
        self.send(self.call(JOBS_GET, &[id])?, &[]).await
    }

    /// The job once it has ended (`completed`, `dead` or `cancelled`), the
    /// server long-polling up to `wait` (at most 30s); after that, the job
    /// as it is then. Loop on it to wait longer.
    pub async fn job_when_ended(&self, id: &str, wait: Duration) -> Result<JobView, ClientError> {
        let query = [("wait", rampart_core::duration::format_duration(wait))];
        let call = self.call(JOBS_GET, &[id])?.timeout(REQUEST_TIMEOUT.max(wait + LEASE_MARGIN));
        let call = Call { builder: call.builder.query(&query), ..call };
        self.send(call, &[]).await
    }

    /// Gives back the lease holding an active job without its token (an
    /// admin's call for a job stuck active): available again, the attempt
    /// not counted.
    pub async fn job_lease_release(&self, id: &str) -> Result<JobStateResponse, ClientError> {
        self.send(self.call(JOBS_LEASE_RELEASE, &[id])?, &[]).await
    }

    /// Fails the running attempt of an active job now, without its token
    /// (an admin's call); the queue's retry policy decides what follows.
    pub async fn job_lease_fail(&self, id: &str, req: &LeaseFailRequest) -> Result<JobStateResponse, ClientError> {
        let request = self.call(JOBS_LEASE_FAIL, &[id])?.json(req);
        self.send(request, &[]).await
    }

    /// Makes a dead or cancelled job available again.
    pub async fn job_retry(&self, id: &str) -> Result<JobStateResponse, ClientError> {
        self.send(self.call(JOBS_RETRY, &[id])?, &[]).await
    }

    /// Cancels a job that has not started.
    pub async fn job_cancel(&self, id: &str) -> Result<JobStateResponse, ClientError> {
        self.send(self.call(JOBS_CANCEL, &[id])?, &[]).await
    }

    /// Every known queue with its counts and totals.
    pub async fn queues(&self) -> Result<QueuesResponse, ClientError> {
        self.send(self.call(QUEUES_LIST, &[])?, &[]).await
    }

    /// One queue with its counts and totals.
    pub async fn queue(&self, name: &str) -> Result<QueueView, ClientError> {
        self.send(self.call(QUEUES_GET, &[name])?, &[]).await
    }

    /// A page of a queue's jobs, optionally only those in `state`.
    pub async fn jobs(
        &self,
        queue: &str,
        state: Option<&str>,
        limit: Option<u32>,
        cursor: Option<&str>,
    ) -> Result<JobListResponse, ClientError> {
        let page = self.page(JOBS_LIST, &[queue], state, limit, cursor)?;
        self.send(page, &[]).await
    }

    /// A page of one tenant's jobs in a queue, optionally only those in `state`.
    pub async fn jobs_of_tenant(
        &self,
        queue: &str,
        tenant: &str,
        state: Option<&str>,
        limit: Option<u32>,
        cursor: Option<&str>,
    ) -> Result<JobListResponse, ClientError> {
        let page = self.page(JOBS_LIST, &[queue], state, limit, cursor)?;
        let page = Call { builder: page.builder.query(&[("tenant", tenant)]), ..page };
        self.send(page, &[]).await
    }

    /// Makes a queue's dead jobs (all, or those listed) available again.
    pub async fn dead_retry(&self, queue: &str, req: &DeadRetryRequest) -> Result<DeadRetryResponse, ClientError> {
        let request = self.call(QUEUES_DEAD_RETRY, &[queue])?.json(req);
        self.send(request, &[]).await
    }

    /// Deletes a queue's dead jobs.
    pub async fn dead_purge(&self, queue: &str) -> Result<DeadPurgeResponse, ClientError> {
        self.send(self.call(QUEUES_DEAD_PURGE, &[queue])?, &[]).await
    }

    /// Deletes a queue that holds only finished jobs, with them, its totals
    /// and settings (409 `QUEUE_NOT_EMPTY` naming the unfinished counts otherwise).
    pub async fn queue_delete(&self, queue: &str) -> Result<QueueDeletedResponse, ClientError> {
        self.send(self.call(QUEUES_DELETE, &[queue])?, &[]).await
    }

    /// Stops a queue's jobs from being leased.
    pub async fn queue_pause(&self, queue: &str) -> Result<QueuePausedResponse, ClientError> {
        self.send(self.call(QUEUES_PAUSE, &[queue])?, &[]).await
    }

    /// Lets a paused queue's jobs be leased again.
    pub async fn queue_resume(&self, queue: &str) -> Result<QueuePausedResponse, ClientError> {
        self.send(self.call(QUEUES_RESUME, &[queue])?, &[]).await
    }

    /// Creates an API key; the answer is the only time the key itself is shown.
    pub async fn key_create(&self, req: &KeyCreateRequest) -> Result<KeyCreatedResponse, ClientError> {
        let request = self.call(KEYS_CREATE, &[])?.json(req);
        self.send(request, &[]).await
    }

    /// Every API key, revoked ones included.
    pub async fn keys(&self) -> Result<KeysResponse, ClientError> {
        self.send(self.call(KEYS_LIST, &[])?, &[]).await
    }

    /// Revokes an API key by id or name.
    pub async fn key_revoke(&self, id_or_name: &str) -> Result<(), ClientError> {
        let request = self.call(KEYS_REVOKE, &[id_or_name])?;
        self.execute(request, &[]).await.map(drop)
    }

    /// Checks one or several rate limits and counts the request when all
    /// allow it. A denial is an answer (`allowed: false`), not an error.
    pub async fn ratelimit_check(&self, req: &RateLimitCheckRequest) -> Result<RateLimitCheckResponse, ClientError> {
        let request = self.call(RATELIMIT_CHECK, &[])?.json(req);
        self.send(request, &[]).await
    }

    /// Every rate-limit policy with its counters since start.
    pub async fn ratelimit_policies(&self) -> Result<RateLimitPoliciesResponse, ClientError> {
        self.send(self.call(RATELIMIT_POLICIES, &[])?, &[]).await
    }

    /// One rate-limit policy with its counters.
    pub async fn ratelimit_policy(&self, name: &str) -> Result<RateLimitPolicyView, ClientError> {
        self.send(self.call(RATELIMIT_POLICY_GET, &[name])?, &[]).await
    }

    /// A key's state under a policy, counting nothing.
    pub async fn ratelimit_key(&self, policy: &str, key: &str) -> Result<RateLimitKeyView, ClientError> {
        let request = self.call(RATELIMIT_KEY_GET, &[policy, key])?;
        self.send(request, &[]).await
    }

    /// Resets a key under a policy (admin): its next check starts fresh.
    pub async fn ratelimit_key_reset(&self, policy: &str, key: &str) -> Result<RateLimitResetResponse, ClientError> {
        let request = self.call(RATELIMIT_KEY_RESET, &[policy, key])?;
        self.send(request, &[]).await
    }

    /// Defines or replaces a rate-limit policy kept in the store (admin).
    pub async fn ratelimit_policy_put(
        &self,
        name: &str,
        policy: &RateLimitPolicyPut,
    ) -> Result<RateLimitPolicyView, ClientError> {
        let request = self.call(RATELIMIT_POLICY_PUT, &[name])?.json(policy);
        self.send(request, &[]).await
    }

    /// Deletes a rate-limit policy defined through the API (admin).
    pub async fn ratelimit_policy_delete(&self, name: &str) -> Result<(), ClientError> {
        let request = self.call(RATELIMIT_POLICY_DELETE, &[name])?;
        self.execute(request, &[]).await.map(drop)
    }

    /// Reports how one of the app's connections to a third-party platform
    /// stands (producer or admin).
    pub async fn integration_report(
        &self,
        platform: &str,
        id: &str,
        report: &IntegrationReportRequest,
    ) -> Result<IntegrationView, ClientError> {
        let request = self.call(INTEGRATIONS_REPORT, &[platform, id])?.json(report);
        self.send(request, &[]).await
    }

    /// Reports a cache's snapshot and/or events (producer).
    pub async fn cache_report(
        &self,
        name: &str,
        report: &CacheReportRequest,
    ) -> Result<CacheReportResponse, ClientError> {
        let request = self.call(CACHES_REPORT, &[name])?.json(report);
        self.send(request, &[]).await
    }

    /// Every cache that reports, with its figures.
    pub async fn caches(&self) -> Result<CachesResponse, ClientError> {
        self.send(self.call(MONITORING_CACHES, &[])?, &[]).await
    }

    /// One cache: figures, thresholds, counts per interval, latest evictions.
    pub async fn cache(&self, name: &str) -> Result<CacheDetail, ClientError> {
        self.send(self.call(MONITORING_CACHES_GET, &[name])?, &[]).await
    }

    /// Reports an error event (producer); answers it as kept, scrubbed.
    pub async fn error_report(&self, event: &ErrorReportRequest) -> Result<ErrorEventView, ClientError> {
        let request = self.call(ERRORS_REPORT, &[])?.json(event);
        self.send(request, &[]).await
    }

    /// A page of error events, newest first, with counts per kind and
    /// fingerprint; `filters` are `GET /v1/errors`'s query parameters.
    pub async fn errors(&self, filters: &[(&str, String)]) -> Result<ErrorsResponse, ClientError> {
        let call = self.call(ERRORS_LIST, &[])?;
        let call = if filters.is_empty() { call } else { Call { builder: call.builder.query(filters), ..call } };
        self.send(call, &[]).await
    }

    /// The background-jobs diagnostics (admin): store, Redis, queues, loops, cron.
    pub async fn diagnostics_background_jobs(&self) -> Result<BackgroundJobsDiagnostics, ClientError> {
        let request = self.call(DIAGNOSTICS_BACKGROUND_JOBS, &[])?;
        self.send(request, &[]).await
    }

    /// The integrations diagnostics (admin): platforms, expiring tokens,
    /// push targets and breakers.
    pub async fn diagnostics_integrations(&self) -> Result<IntegrationsDiagnostics, ClientError> {
        let request = self.call(DIAGNOSTICS_INTEGRATIONS, &[])?;
        self.send(request, &[]).await
    }

    /// Every circuit breaker: the shared ones (used or configured), then the
    /// server node's in-process ones.
    pub async fn breakers(&self) -> Result<BreakersResponse, ClientError> {
        self.send(self.call(BREAKERS_LIST, &[])?, &[]).await
    }

    /// One circuit breaker with its latest transitions.
    pub async fn breaker(&self, name: &str) -> Result<BreakerView, ClientError> {
        self.send(self.call(BREAKERS_GET, &[name])?, &[]).await
    }

    /// Asks a shared breaker whether to make a call. A refusal is an answer
    /// (`allowed: false`), not an error.
    pub async fn breaker_acquire(&self, name: &str) -> Result<BreakerAcquireResponse, ClientError> {
        self.send(self.call(BREAKERS_ACQUIRE, &[name])?, &[]).await
    }

    /// Tells a shared breaker how an admitted call ended.
    pub async fn breaker_record(
        &self,
        name: &str,
        req: &BreakerRecordRequest,
    ) -> Result<BreakerStepResponse, ClientError> {
        let request = self.call(BREAKERS_RECORD, &[name])?.json(req);
        self.send(request, &[]).await
    }

    /// Closes a breaker and forgets its counts (admin).
    pub async fn breaker_reset(&self, name: &str) -> Result<BreakerStepResponse, ClientError> {
        self.send(self.call(BREAKERS_RESET, &[name])?, &[]).await
    }

    /// Every cron schedule with its next and last run.
    pub async fn cron_list(&self) -> Result<CronListResponse, ClientError> {
        self.send(self.call(CRON_LIST, &[])?, &[]).await
    }

    /// One cron schedule.
    pub async fn cron_get(&self, name: &str) -> Result<CronView, ClientError> {
        self.send(self.call(CRON_GET, &[name])?, &[]).await
    }

    /// Defines or replaces a cron schedule kept in the store (admin).
    pub async fn cron_put(&self, name: &str, schedule: &CronPut) -> Result<CronView, ClientError> {
        let request = self.call(CRON_PUT, &[name])?.json(schedule);
        self.send(request, &[]).await
    }

    /// Deletes a cron schedule defined through the API (admin); its runs stay.
    pub async fn cron_delete(&self, name: &str) -> Result<(), ClientError> {
        let request = self.call(CRON_DELETE, &[name])?;
        self.execute(request, &[]).await.map(drop)
    }

    /// A page of a schedule's runs, newest first; `cursor` is the previous
    /// page's `next_cursor`.
    pub async fn cron_runs(
        &self,
        name: &str,
        limit: Option<u32>,
        cursor: Option<&str>,
    ) -> Result<CronRunsResponse, ClientError> {
        let page = self.page(CRON_RUNS, &[name], None, limit, cursor)?;
        self.send(page, &[]).await
    }

    /// Runs a schedule once now (admin).
    pub async fn cron_trigger(&self, name: &str) -> Result<CronRunView, ClientError> {
        self.send(self.call(CRON_TRIGGER, &[name])?, &[]).await
    }

    /// Pauses a schedule: its ticks pass without runs (admin).
    pub async fn cron_pause(&self, name: &str) -> Result<CronView, ClientError> {
        self.send(self.call(CRON_PAUSE, &[name])?, &[]).await
    }

    /// Resumes a paused schedule from its next tick (admin).
    pub async fn cron_resume(&self, name: &str) -> Result<CronView, ClientError> {
        self.send(self.call(CRON_RESUME, &[name])?, &[]).await
    }

    /// Every webhook source, configured or put through the API.
    pub async fn webhook_sources(&self) -> Result<WebhookSourcesResponse, ClientError> {
        self.send(self.call(WEBHOOK_SOURCES_LIST, &[])?, &[]).await
    }

    /// One webhook source.
    pub async fn webhook_source(&self, name: &str) -> Result<WebhookSourceView, ClientError> {
        self.send(self.call(WEBHOOK_SOURCES_GET, &[name])?, &[]).await
    }

    /// Defines or replaces a webhook source kept in the store (admin): `spec`
    /// is the JSON of a `[webhooks.NAME]` table.
    pub async fn webhook_source_put(
        &self,
        name: &str,
        spec: &serde_json::Value,
    ) -> Result<WebhookSourceView, ClientError> {
        self.send(self.call(WEBHOOK_SOURCES_PUT, &[name])?.json(spec), &[]).await
    }

    /// Deletes a webhook source of the API (admin).
    pub async fn webhook_source_delete(&self, name: &str) -> Result<(), ClientError> {
        self.execute(self.call(WEBHOOK_SOURCES_DELETE, &[name])?, &[]).await.map(drop)
    }

    /// Reports AI model calls (one or a batch of up to 1,000).
    pub async fn usage_report(&self, events: &[UsageEvent]) -> Result<UsageResponse, ClientError> {
        let body = UsageBatch { events: events.to_vec() };
        self.send(self.call(USAGE_REPORT, &[])?.json(&body), &[]).await
    }

    /// Usage totals; `query` holds the query's `group_by`, `since` and `until`.
    pub async fn usage_summary(&self, query: &[(&str, String)]) -> Result<UsageSummaryResponse, ClientError> {
        let call = self.call(USAGE_SUMMARY, &[])?;
        let call = if query.is_empty() { call } else { Call { builder: call.builder.query(query), ..call } };
        self.send(call, &[]).await
    }

    /// Holds an estimate on every budget that applies to a call.
    pub async fn usage_reserve(&self, request: &ReserveRequest) -> Result<ReserveResponse, ClientError> {
        self.send(self.call(USAGE_RESERVE, &[])?.json(request), &[]).await
    }

    /// Every budget with its current period's figures.
    pub async fn budgets(&self) -> Result<BudgetsResponse, ClientError> {
        self.send(self.call(BUDGETS_LIST, &[])?, &[]).await
    }

    /// One budget.
    pub async fn budget(&self, name: &str) -> Result<BudgetView, ClientError> {
        self.send(self.call(BUDGETS_GET, &[name])?, &[]).await
    }

    /// Defines or replaces a budget kept in the store (admin): `spec` is
    /// the JSON of a `[budgets.NAME]` table.
    pub async fn budget_put(&self, name: &str, spec: &serde_json::Value) -> Result<BudgetView, ClientError> {
        self.send(self.call(BUDGETS_PUT, &[name])?.json(spec), &[]).await
    }

    /// Deletes a budget of the API (admin).
    pub async fn budget_delete(&self, name: &str) -> Result<(), ClientError> {
        self.execute(self.call(BUDGETS_DELETE, &[name])?, &[]).await.map(drop)
    }

    /// A page of the delivery log, newest first; `filters` are the query's
    /// `source`, `tenant`, `status`, `type`, `since` and `cursor`.
    pub async fn webhook_deliveries(
        &self,
        filters: &[(&str, String)],
        limit: Option<u32>,
    ) -> Result<WebhookDeliveriesResponse, ClientError> {
        let mut query: Vec<(&str, String)> = filters.to_vec();
        if let Some(limit) = limit {
            query.push(("limit", limit.to_string()));
        }
        let call = self.call(WEBHOOK_DELIVERIES_LIST, &[])?;
        let call = if query.is_empty() { call } else { Call { builder: call.builder.query(&query), ..call } };
        self.send(call, &[]).await
    }

    /// One delivery with its headers, body and job.
    pub async fn webhook_delivery(&self, id: &str) -> Result<WebhookDeliveryDetail, ClientError> {
        self.send(self.call(WEBHOOK_DELIVERIES_GET, &[id])?, &[]).await
    }

    /// Hands a dead-lettered delivery's job to its queue again (admin).
    pub async fn webhook_replay(&self, id: &str) -> Result<WebhookReplayResponse, ClientError> {
        self.send(self.call(WEBHOOK_DELIVERIES_REPLAY, &[id])?, &[]).await
    }

    /// Replays every dead-lettered delivery of a source, or of one of its tenants (admin).
    pub async fn webhook_replay_all(
        &self,
        request: &WebhookReplayRequest,
    ) -> Result<WebhookReplayResponse, ClientError> {
        self.send(self.call(WEBHOOK_DELIVERIES_REPLAY_ALL, &[])?.json(request), &[]).await
    }

    /// A page of alerts, newest first, optionally only those in `state`
    /// (`firing` or `resolved`).
    pub async fn alerts(
        &self,
        state: Option<&str>,
        limit: Option<u32>,
        cursor: Option<&str>,
    ) -> Result<AlertsResponse, ClientError> {
        let page = self.page(ALERTS_LIST, &[], state, limit, cursor)?;
        self.send(page, &[]).await
    }

    /// One alert.
    pub async fn alert(&self, id: &str) -> Result<AlertRecordView, ClientError> {
        self.send(self.call(ALERTS_GET, &[id])?, &[]).await
    }

    /// Acknowledges an alert: no more reminders for it.
    pub async fn alert_ack(&self, id: &str) -> Result<AlertRecordView, ClientError> {
        self.send(self.call(ALERTS_ACK, &[id])?, &[]).await
    }

    /// The silences that have not ended.
    pub async fn alert_silences(&self) -> Result<SilencesResponse, ClientError> {
        self.send(self.call(ALERTS_SILENCES_LIST, &[])?, &[]).await
    }

    /// Silences matching alerts until the silence ends.
    pub async fn alert_silence(&self, req: &SilenceRequest) -> Result<SilenceView, ClientError> {
        let request = self.call(ALERTS_SILENCES_CREATE, &[])?.json(req);
        self.send(request, &[]).await
    }

    /// Ends a silence now.
    pub async fn alert_silence_delete(&self, id: &str) -> Result<(), ClientError> {
        let request = self.call(ALERTS_SILENCES_DELETE, &[id])?;
        self.execute(request, &[]).await.map(drop)
    }

    /// Sends a test message to every alert channel; answers each one's result.
    pub async fn alert_test(&self) -> Result<AlertTestResponse, ClientError> {
        self.send(self.call(ALERTS_TEST, &[])?, &[]).await
    }

    /// Every doctor check of the deployment (admin key).
    pub async fn doctor(&self) -> Result<DoctorReport, ClientError> {
        self.send(self.call(ADMIN_DOCTOR, &[])?, &[]).await
    }

    /// The server's liveness, uptime and version (needs no key).
    pub async fn health(&self) -> Result<HealthResponse, ClientError> {
        self.send(self.call(HEALTH, &[])?, &[]).await
    }

    /// Whether the server can serve, component by component (needs no key).
    /// A server that is not ready answers too (with 503): see `status`.
    pub async fn ready(&self) -> Result<ReadyResponse, ClientError> {
        let request = self.call(HEALTH_READY, &[])?;
        self.send(request, &[StatusCode::SERVICE_UNAVAILABLE]).await
    }

    /// The latest sample of every queue.
    pub async fn queue_metrics(&self) -> Result<QueueMetricsResponse, ClientError> {
        self.send(self.call(MONITORING_QUEUE_METRICS, &[])?, &[]).await
    }

    /// A queue's latest sample and the ones kept before it.
    pub async fn queue_metrics_history(&self, queue: &str) -> Result<QueueMetricsHistory, ClientError> {
        self.send(self.call(MONITORING_QUEUE_METRICS_GET, &[queue])?, &[]).await
    }

    /// Whether each queue is healthy, with the alerts firing on it.
    pub async fn queue_health(&self) -> Result<QueueHealthResponse, ClientError> {
        self.send(self.call(MONITORING_QUEUE_HEALTH, &[])?, &[]).await
    }

    /// The whole system's health, component by component.
    pub async fn system_health(&self) -> Result<SystemHealthResponse, ClientError> {
        self.send(self.call(MONITORING_SYSTEM_HEALTH, &[])?, &[]).await
    }

    /// `GET /metrics`: the Prometheus text exposition.
    pub async fn metrics(&self) -> Result<String, ClientError> {
        let (_, body) = self.execute(self.call(METRICS, &[])?, &[]).await?;
        String::from_utf8(body).map_err(|e| ClientError::Decode(format!("GET /metrics: {e}")))
    }

    /// The same client for the server at `base_url`: the same API key and
    /// connection pool, another address (e.g. a second node of a cluster).
    pub fn at(&self, base_url: &str) -> Result<Client, ClientError> {
        let base = parse_base(base_url)?;
        Ok(Client { display_url: base_url.trim().trim_end_matches('/').to_string(), base, ..self.clone() })
    }

    /// The base URL with `segments` appended, each percent-encoded.
    fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        // Cannot fail: `new` accepts only http(s) URLs, which can be a base.
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        url
    }

    /// `endpoint`'s URL with its path parameters filled in, in order.
    fn endpoint_url(&self, endpoint: Endpoint, params: &[&str]) -> Result<Url, ClientError> {
        let segments = endpoint.segments(params).ok_or_else(|| {
            ClientError::InvalidRequest(format!("{} takes other path parameters than {params:?}", endpoint.path))
        })?;
        Ok(self.url(&segments))
    }

    /// A request to `endpoint`, with its path parameters.
    fn call(&self, endpoint: Endpoint, params: &[&str]) -> Result<Call, ClientError> {
        let method = match endpoint.method {
            endpoint::Method::Get => Method::GET,
            endpoint::Method::Post => Method::POST,
            endpoint::Method::Put => Method::PUT,
            endpoint::Method::Delete => Method::DELETE,
        };
        Ok(Call { endpoint, builder: self.http.request(method, self.endpoint_url(endpoint, params)?) })
    }

    /// A request for a page of a listing, with whichever of `state`, `limit`
    /// and `cursor` are given.
    fn page(
        &self,
        endpoint: Endpoint,
        params: &[&str],
        state: Option<&str>,
        limit: Option<u32>,
        cursor: Option<&str>,
    ) -> Result<Call, ClientError> {
        let mut query: Vec<(&str, String)> = Vec::new();
        if let Some(state) = state {
            query.push(("state", state.to_string()));
        }
        if let Some(limit) = limit {
            query.push(("limit", limit.to_string()));
        }
        if let Some(cursor) = cursor {
            query.push(("cursor", cursor.to_string()));
        }
        let call = self.call(endpoint, params)?;
        // An empty query would leave a bare `?` behind.
        Ok(if query.is_empty() { call } else { Call { builder: call.builder.query(&query), ..call } })
    }

    /// Sends a request and decodes an answer with the endpoint's status (or
    /// one of `also`).
    async fn send<T: DeserializeOwned>(&self, call: Call, also: &[StatusCode]) -> Result<T, ClientError> {
        let (what, body) = self.execute(call, also).await?;
        serde_json::from_slice(&body).map_err(|e| ClientError::Decode(format!("{what}: {e}")))
    }

    /// Sends a request and returns `METHOD /path` with the body of an answer
    /// with the endpoint's status (or one of `also`); any other answer
    /// becomes an error.
    async fn execute(&self, call: Call, also: &[StatusCode]) -> Result<(String, Vec<u8>), ClientError> {
        let request =
            call.builder.build().map_err(|e| ClientError::InvalidRequest(format!("cannot build the request: {e}")))?;
        let what = format!("{} {}", request.method(), request.url().path());
        let unreachable = |source| ClientError::Unreachable { url: self.display_url.clone(), source };
        let response = self.http.execute(request).await.map_err(unreachable)?;
        let status = response.status();
        let body = response.bytes().await.map_err(unreachable)?;
        if status.as_u16() == call.endpoint.status || also.contains(&status) {
            return Ok((what, body.into()));
        }
        Err(self.error_from(&what, status, &body))
    }

    fn error_from(&self, what: &str, status: StatusCode, body: &[u8]) -> ClientError {
        let parsed = serde_json::from_slice::<ErrorBody>(body).ok().map(|b| b.error);
        if status == StatusCode::UNAUTHORIZED {
            let message = parsed.map_or_else(|| "401 Unauthorized".to_string(), |e| e.message);
            return ClientError::Unauthorized { key_sent: self.key_sent, message };
        }
        if status.is_success() {
            return ClientError::Decode(format!("{what} answered {status}"));
        }
        match parsed {
            Some(error) => ClientError::Api { status: status.as_u16(), code: error.code, message: error.message },
            None => {
                let reason = status.canonical_reason().unwrap_or("HTTP error");
                let text = String::from_utf8_lossy(body);
                let snippet: String = text.trim().chars().take(200).collect();
                ClientError::Api {
                    status: status.as_u16(),
                    code: reason.to_ascii_uppercase().replace([' ', '-'], "_"),
                    message: if snippet.is_empty() {
                        format!("{what} answered {status}")
                    } else {
                        format!("{what} answered {status}: {snippet}")
                    },
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(base: &str) -> Client {
        Client::new(base, Some("rk_test".to_string())).expect("valid client")
    }

    #[test]
    fn path_segments_are_percent_encoded() {
        let c = client("http://127.0.0.1:7433");
        assert_eq!(c.url(&["v1", "keys", "my key/1?"]).as_str(), "http://127.0.0.1:7433/v1/keys/my%20key%2F1%3F");
        assert_eq!(c.url(&["v1", "jobs", "42"]).as_str(), "http://127.0.0.1:7433/v1/jobs/42");
    }

    #[test]
    fn a_base_path_is_kept() {
        let c = client("https://example.test/rampart/");
        assert_eq!(c.url(&["v1", "queues"]).as_str(), "https://example.test/rampart/v1/queues");
        assert_eq!(c.display_url, "https://example.test/rampart");
    }

    #[test]
    fn bad_urls_are_refused_with_an_example() {
        for bad in ["127.0.0.1:7433", "ftp://host", "not a url", ""] {
            let e = Client::new(bad, None).expect_err(bad).to_string();
            assert!(e.contains("http://127.0.0.1:7433"), "{e}");
            let e = client("http://127.0.0.1:7433").at(bad).expect_err(bad).to_string();
            assert!(e.contains("http://127.0.0.1:7433"), "{e}");
        }
    }

    #[test]
    fn another_node_keeps_the_key() {
        let c = client("http://10.0.0.1:7433").at("http://10.0.0.2:7433/").expect("valid URL");
        assert_eq!(c.url(&["v1", "queues"]).as_str(), "http://10.0.0.2:7433/v1/queues");
        assert_eq!(c.display_url, "http://10.0.0.2:7433");
        assert!(c.key_sent);
    }

    #[test]
    fn error_bodies_become_api_errors() {
        let c = client("http://127.0.0.1:7433");
        let body = br#"{"error":{"code":"NOT_FOUND","message":"job 7 does not exist"}}"#;
        let e = c.error_from("GET /v1/jobs/7", StatusCode::NOT_FOUND, body);
        assert_eq!(e.to_string(), "NOT_FOUND: job 7 does not exist");
        assert!(e.is_code("NOT_FOUND"));
        assert_eq!(e.status_code(), Some(404));

        let e = c.error_from("GET /v1/jobs/7", StatusCode::BAD_GATEWAY, b"<html>oops</html>");
        assert!(e.is_code("BAD_GATEWAY"), "{e}");
        assert!(e.to_string().contains("<html>oops</html>"), "{e}");
    }

    #[test]
    fn a_401_says_how_to_pass_a_key() {
        let body = br#"{"error":{"code":"UNAUTHORIZED","message":"missing API key"}}"#;
        let anonymous = Client::new("http://127.0.0.1:7433", None).expect("valid client");
        let e = anonymous.error_from("GET /v1/queues", StatusCode::UNAUTHORIZED, body);
        assert!(matches!(e, ClientError::Unauthorized { key_sent: false, .. }));
        let text = e.to_string();
        assert!(text.contains("--api-key") && text.contains("RAMPART_API_KEY") && text.contains("admin.key"), "{text}");
        assert!(e.is_code("UNAUTHORIZED"));

        let e = client("http://127.0.0.1:7433").error_from("GET /v1/queues", StatusCode::UNAUTHORIZED, body);
        assert!(e.to_string().starts_with("the server refused the API key"), "{e}");
    }

    #[tokio::test]
    async fn an_absent_server_is_reported_as_unreachable() {
        // Bind then drop a listener so the port is very likely closed.
        let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("port").port();
        let c = client(&format!("http://127.0.0.1:{port}"));
        let e = c.health().await.expect_err("nothing listens");
        let text = e.to_string();
        assert!(matches!(e, ClientError::Unreachable { .. }), "{text}");
        assert!(text.contains(&format!("http://127.0.0.1:{port}: connection refused")), "{text}");
        assert!(text.contains("rampart serve"), "{text}");
    }
}
