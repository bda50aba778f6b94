//! The HTTP API: one module per resource, each with a `router()`.
//!
//! A request flows: tower layers (request id, trace span, body limit) →
//! [`edge`] (URI and header limits; the standard body on the framework's
//! own error answers) → `guard`, the API's own rate limits (one in-memory
//! check) →
//! [`extract::Auth`] checks the key's role → [`extract::Body`] parses JSON
//! strictly ([`json`]) →
//! the handler turns wire types into engine calls → [`view`] turns records
//! back into wire types, or [`error::ApiError`] answers the failure.

mod alerts;
mod breakers;
mod caches;
mod cron;
mod diagnostics;
pub mod doctor;
mod edge;
pub mod error;
mod errors;
mod events;
pub mod extract;
mod gate;
mod guard;
mod health;
mod integrations;
mod jobs;
pub mod json;
mod keys;
mod monitoring;
pub mod openapi;
mod queues;
mod ratelimit;
mod route;
mod steps;
mod usage;
mod view;
mod webhooks;

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, Request, StatusCode};
use rampart_client::endpoint::{Endpoint, OPENAPI};
use rampart_core::id::{JobId, QueueName};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use crate::auth::Authenticator;
use crate::breaker::{LocalBreakers, SharedBreakers};
use crate::config::DiagnosticsConfig;
use crate::engine::Engine;
use crate::monitoring::Monitor;
use crate::ratelimit::RateLimiter;
use crate::ratelimit::own::OwnLimits;
use crate::service::Loops;
pub use error::ApiError;
use route::Routes;

/// What every handler can reach, behind one `Arc`: axum clones the state
/// for every request, and one reference count is cheaper than one per part.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl AppState {
    /// The state over its parts.
    pub fn new(shared: Shared) -> AppState {
        AppState(Arc::new(shared))
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// The parts of [`AppState`].
pub struct Shared {
    /// The queue engine.
    pub engine: Engine,
    /// API-key checks.
    pub auth: Authenticator,
    /// The rate limiter and its policies.
    pub limiter: RateLimiter,
    /// The limits on this API itself (`[ratelimit.api]`), and how client
    /// addresses are read.
    pub own_limits: OwnLimits,
    /// The body limit, for its error message.
    pub max_body_bytes: usize,
    /// When the server started.
    pub started: Arc<Instant>,
    /// What each background loop last did, for the admin diagnostics.
    pub loops: Loops,
    /// Settings of the admin diagnostics (`[diagnostics]`).
    pub diagnostics: DiagnosticsConfig,
    /// This node's in-process circuit breakers (listed as per-node).
    pub breakers: LocalBreakers,
    /// The breakers apps share over HTTP, kept in the store.
    pub shared_breakers: SharedBreakers,
    /// Cron schedules and their runs.
    pub cron: crate::cron::Cron,
    /// Queue samples, totals, alerts firing and HTTP request counters.
    pub monitor: Monitor,
    /// Alert channels and their health on this node.
    pub alerting: crate::alert::Alerting,
    /// Webhook intake and its sources.
    pub webhooks: crate::webhook::Intake,
    /// What apps report about themselves: cache telemetry, error events.
    pub insight: crate::insight::Insight,
    /// What the doctor checks need of the configuration.
    pub doctor: doctor::DoctorSettings,
    /// AI usage, budgets and reservations.
    pub usage: crate::usage::Usage,
}

/// Every route of the API, each module's.
fn routes(metrics_public: bool) -> Routes {
    Routes::new()
        .merge(health::router())
        .merge(jobs::router())
        .merge(steps::router())
        .merge(events::router())
        .merge(queues::router())
        .merge(keys::router())
        .merge(ratelimit::router())
        .merge(breakers::router())
        .merge(cron::router())
        .merge(gate::router())
        .merge(alerts::router())
        .merge(diagnostics::router())
        .merge(doctor::router())
        .merge(integrations::router())
        .merge(monitoring::router(metrics_public))
        .merge(webhooks::router())
        .merge(usage::router())
        .merge(caches::router())
        .merge(errors::router())
        .merge(Routes::new().add(OPENAPI, openapi::serve))
}

/// The endpoints the API serves (method and path), for the test that checks
/// they are exactly those `rampart_client::endpoint::ALL` declares.
pub fn endpoints() -> Vec<Endpoint> {
    routes(false).into_parts().1.into_iter().map(|s| s.endpoint).collect()
}

/// The OpenAPI document of the API a server with `metrics_public` serves
/// (`/metrics` needs no key when it is set).
pub fn openapi_document(metrics_public: bool) -> serde_json::Value {
    openapi::document(&routes(metrics_public).into_parts().1)
}

/// The whole API with its layers. Serve it with
/// `into_make_service_with_connect_info::<SocketAddr>()`: the gate and the
/// per-IP limit read the peer address (without it, every request counts as
/// coming from one unknown address).
pub fn router(state: AppState) -> Router {
    router_with(state, Router::new())
}

/// The whole API with its layers, plus `mounted`: routes of another part
/// served on the same listener (the dashboard), under the same request ids,
/// tracing, edge limits and request metrics, but outside the API's own rate
/// limits and its JSON fallback (they answer for themselves).
pub fn router_with(state: AppState, mounted: Router<AppState>) -> Router {
    let request_id = HeaderName::from_static("x-request-id");
    let max_body = state.max_body_bytes;
    let monitoring = state.monitor.config().clone();
    let (routes, served) = routes(monitoring.metrics_public).into_parts();
    let document = openapi::Document(Arc::new(openapi::document(&served).to_string()));
    let routes = routes
        .layer(axum::Extension(document))
        .fallback(|| async { ApiError::not_found("no such route; see the API reference in the README") })
        .layer(axum::middleware::from_fn_with_state(state.clone(), guard::own_limits))
        .merge(mounted);
    // Outside the own limits, so their refusals count too.
    let routes = if monitoring.enabled {
        routes
            .layer(axum::middleware::from_fn_with_state(state.monitor.clone(), crate::monitoring::http::count_requests))
    } else {
        routes
    };
    routes
        .with_state(state)
        .layer(axum::middleware::from_fn(edge::edge))
        .layer(DefaultBodyLimit::max(max_body))
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|req: &Request<_>| {
                    let id = req.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("-");
                    tracing::info_span!("request", request_id = %id, method = %req.method(), path = %req.uri().path())
                })
                // `ApiError` logs each failure once, at the level it deserves
                // (a database outage is a warning, not an error per request).
                .on_failure(()),
        )
        .layer(axum::middleware::from_fn(crate::telemetry::request_scope))
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
}

/// A queue name from the path.
pub(crate) fn queue_name(raw: &str) -> Result<QueueName, ApiError> {
    QueueName::new(raw).map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "INVALID_QUEUE_NAME", e.to_string()))
}

/// A job id from the path.
pub(crate) fn job_id(raw: &str) -> Result<JobId, ApiError> {
    raw.parse().map_err(|e: rampart_core::id::JobIdError| {
        ApiError::new(StatusCode::BAD_REQUEST, "INVALID_JOB_ID", e.to_string())
    })
}
