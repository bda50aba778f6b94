//! [`RateLimitLayer`]: a named policy in front of an app's own routes, as a
//! tower layer.
//!
//! Each request is checked (cost 1) against the policy under a key taken
//! from the request: the client IP by default (see [`client_ip`](super::client_ip)),
//! a header, or anything a closure reads. A denied request is answered
//! `429 Too Many Requests` with the rate-limit headers and the body
//! `{"error": {"code": "RATE_LIMIT_EXCEEDED", "message": "Too many requests. Please wait a moment."}, "retry_after_s": N}`
//! without reaching the routes; an admitted one reaches them, and their
//! answer gets the rate-limit headers it does not set itself.
//!
//! ```no_run
//! use std::sync::Arc;
//!
//! use axum::{Router, routing::post};
//! use rampart_core::time::SystemClock;
//! use rampart_server::config::Config;
//! use rampart_server::ratelimit::RateLimiter;
//! use rampart_server::ratelimit::layer::RateLimitLayer;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let config = Config::load(&Default::default())?; // `oauth` is a preset
//! let limiter = RateLimiter::new(&config.ratelimit, Arc::new(SystemClock));
//!
//! let app = Router::new()
//!     .route("/oauth/callback", post(|| async { "signed in" }))
//!     .layer(RateLimitLayer::new(limiter, "oauth").by_client_ip(config.ratelimit.trusted_proxies.clone()));
//!
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//! // The client IP needs the peer address: serve with connect info.
//! axum::serve(listener, app.into_make_service_with_connect_info::<std::net::SocketAddr>()).await?;
//! # Ok(())
//! # }
//! ```
//!
//! Keyed on a header or on anything else in the request:
//!
//! ```
//! # use std::sync::Arc;
//! # use rampart_server::ratelimit::RateLimiter;
//! # use rampart_server::ratelimit::layer::RateLimitLayer;
//! # fn layers(limiter: RateLimiter) {
//! let per_user = RateLimitLayer::new(limiter.clone(), "ai").by_header("x-user-id".parse().unwrap());
//! let per_org = RateLimitLayer::new(limiter, "per_org").by(|req| {
//!     // `None` lets the request through unchecked (here: no org).
//!     req.uri.path().strip_prefix("/orgs/")?.split('/').next().map(str::to_string)
//! });
//! # }
//! ```
//!
//! A request the layer cannot key is answered `400` naming what is missing
//! (the header); a policy that does not exist, or a server run without
//! connect info while keying on the client IP, is the app's mistake: `500`,
//! logged. When the policy's backend fails, its `on_backend_error` decides;
//! with no fallback left the answer is `503`.

use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Json;
use axum::http::request::Parts;
use axum::http::{HeaderName, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use tower::{Layer, Service};

use super::client_ip::{client_ip, peer_addr};
use super::headers::{ceil_secs, headers};
use super::{CheckInput, LimitError, RateLimiter, Verdict};
use crate::config::{DenyBody, IpNet, ResetFormat};
use rampart_client::wire::{ErrorBody, ErrorDetail};

/// The code of the answer to a denied request.
pub const RATE_LIMIT_EXCEEDED: &str = "RATE_LIMIT_EXCEEDED";
/// The message of the answer to a denied request.
pub const RATE_LIMIT_EXCEEDED_MESSAGE: &str = "Too many requests. Please wait a moment.";

/// The body of a denial: the usual error object and how long to wait.
#[derive(Serialize)]
struct Exceeded {
    error: ErrorDetail,
    retry_after_s: u64,
}

/// The body of a denial in the shape apps' own limiters answered
/// (`deny_body = "compat"`), for apps moving from one.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CompatExceeded {
    error: &'static str,
    code: &'static str,
    /// When a retry may succeed, RFC 3339.
    retry_after: String,
    retry_after_seconds: u64,
}

/// The answer to a denied request: `status` (429, or what a proxy needs),
/// the rate-limit headers with `Retry-After`, and the body the policy's
/// `deny_body` says: the `RATE_LIMIT_EXCEEDED` error with `retry_after_s`,
/// or the compatibility shape.
pub fn exceeded(verdict: &Verdict, format: ResetFormat, status: StatusCode) -> Response {
    let decision = verdict.decision;
    // Always set when denied at a cost the policy can admit (cost 1 always is).
    let seconds = ceil_secs(decision.retry_after.unwrap_or(decision.reset_after));
    let headers = headers(verdict, format);
    match verdict.policy.config.deny_body {
        DenyBody::Rampart => {
            let error =
                ErrorDetail { code: RATE_LIMIT_EXCEEDED.to_string(), message: RATE_LIMIT_EXCEEDED_MESSAGE.to_string() };
            (status, headers, Json(Exceeded { error, retry_after_s: seconds })).into_response()
        }
        DenyBody::Compat => {
            let body = CompatExceeded {
                error: RATE_LIMIT_EXCEEDED_MESSAGE,
                code: RATE_LIMIT_EXCEEDED,
                retry_after: verdict.now.plus(Duration::from_secs(seconds)).to_rfc3339(),
                retry_after_seconds: seconds,
            };
            (status, headers, Json(body)).into_response()
        }
    }
}

/// An error answer in rampart's JSON form.
fn error(status: StatusCode, code: &str, message: String) -> Response {
    (status, Json(ErrorBody { error: ErrorDetail { code: code.to_string(), message } })).into_response()
}

/// What a closure given to [`RateLimitLayer::by`] is.
type KeyFn = dyn Fn(&Parts) -> Option<String> + Send + Sync;

/// Where the key of a request comes from.
#[derive(Clone)]
enum KeyFrom {
    /// The client IP, believing `X-Forwarded-For` from these proxies only.
    ClientIp(Arc<[IpNet]>),
    /// A header's value.
    Header(HeaderName),
    /// A closure; `None` means the request is not limited.
    Custom(Arc<KeyFn>),
}

/// A layer checking every request against a named policy of a
/// [`RateLimiter`]; see the [module documentation](self).
#[derive(Clone)]
pub struct RateLimitLayer {
    shared: Arc<Shared>,
}

struct Shared {
    limiter: RateLimiter,
    policy: String,
    key: KeyFrom,
}

impl RateLimitLayer {
    /// Checks requests against `policy`, keyed on the client IP (the peer
    /// address; [`by_client_ip`](Self::by_client_ip) believes proxies).
    pub fn new(limiter: RateLimiter, policy: impl Into<String>) -> RateLimitLayer {
        RateLimitLayer::with_key(limiter, policy.into(), KeyFrom::ClientIp(Arc::from([])))
    }

    /// Keys on the client IP: the peer address, or when the peer is one of
    /// `trusted_proxies`, the client it names in `X-Forwarded-For`. The app
    /// must be served with `into_make_service_with_connect_info::<SocketAddr>()`.
    pub fn by_client_ip(self, trusted_proxies: impl Into<Vec<IpNet>>) -> RateLimitLayer {
        self.keyed(KeyFrom::ClientIp(trusted_proxies.into().into()))
    }

    /// Keys on the value of header `name` (e.g. a user id the app's proxy
    /// sets); a request without it is answered `400`.
    pub fn by_header(self, name: HeaderName) -> RateLimitLayer {
        self.keyed(KeyFrom::Header(name))
    }

    /// Keys on what `key` reads from the request; a request it answers
    /// `None` for goes through unchecked.
    pub fn by(self, key: impl Fn(&Parts) -> Option<String> + Send + Sync + 'static) -> RateLimitLayer {
        self.keyed(KeyFrom::Custom(Arc::new(key)))
    }

    fn keyed(self, key: KeyFrom) -> RateLimitLayer {
        let Shared { limiter, policy, .. } = &*self.shared;
        RateLimitLayer::with_key(limiter.clone(), policy.clone(), key)
    }

    fn with_key(limiter: RateLimiter, policy: String, key: KeyFrom) -> RateLimitLayer {
        RateLimitLayer { shared: Arc::new(Shared { limiter, policy, key }) }
    }
}

impl fmt::Debug for RateLimitLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let key = match &self.shared.key {
            KeyFrom::ClientIp(trusted) => format!("client ip (trusting {} networks)", trusted.len()),
            KeyFrom::Header(name) => format!("header {name}"),
            KeyFrom::Custom(_) => "a closure".to_string(),
        };
        f.debug_struct("RateLimitLayer").field("policy", &self.shared.policy).field("key", &key).finish()
    }
}

impl<S> Layer<S> for RateLimitLayer {
    type Service = RateLimit<S>;

    fn layer(&self, inner: S) -> RateLimit<S> {
        RateLimit { inner, shared: Arc::clone(&self.shared) }
    }
}

/// The service [`RateLimitLayer`] wraps around an app's routes.
#[derive(Clone)]
pub struct RateLimit<S> {
    inner: S,
    shared: Arc<Shared>,
}

impl<S> fmt::Debug for RateLimit<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimit").field("policy", &self.shared.policy).finish_non_exhaustive()
    }
}

/// What a request is counted on.
enum Keyed {
    /// This key.
    Key(String),
    /// Nothing: it goes through unchecked.
    Unlimited,
    /// It cannot be keyed; this is the answer.
    Refused(Response),
}

impl Shared {
    /// What the request is counted on.
    fn key(&self, parts: &Parts) -> Keyed {
        match &self.key {
            KeyFrom::ClientIp(trusted) => match peer_addr(&parts.extensions) {
                Some(peer) => Keyed::Key(client_ip(peer.ip(), &parts.headers, trusted).to_string()),
                None => {
                    tracing::error!(
                        policy = %self.policy,
                        "RateLimitLayer keys on the client IP, but the request has no peer address: serve the app \
                         with into_make_service_with_connect_info::<SocketAddr>()"
                    );
                    Keyed::Refused(internal())
                }
            },
            KeyFrom::Header(name) => match parts.headers.get(name).map(|v| std::str::from_utf8(v.as_bytes())) {
                Some(Ok(value)) if !value.trim().is_empty() => Keyed::Key(value.trim().to_string()),
                Some(Ok(_)) => Keyed::Refused(bad_header(name, "is empty")),
                Some(Err(_)) => Keyed::Refused(bad_header(name, "is not UTF-8 text")),
                None => Keyed::Refused(bad_header(name, "is missing")),
            },
            KeyFrom::Custom(key) => key(parts).map_or(Keyed::Unlimited, Keyed::Key),
        }
    }

    /// The answer to a check that could not be made.
    fn refused(&self, e: LimitError) -> Response {
        match e {
            LimitError::Invalid(why) => {
                error(StatusCode::BAD_REQUEST, "INVALID_REQUEST", format!("the rate-limit key is refused: {why}"))
            }
            LimitError::PolicyNotFound(_) => {
                tracing::error!(policy = %self.policy, error = %e, "RateLimitLayer names a policy that does not exist");
                internal()
            }
            other => error(StatusCode::SERVICE_UNAVAILABLE, "RATE_LIMIT_UNAVAILABLE", other.to_string()),
        }
    }
}

fn bad_header(name: &HeaderName, problem: &str) -> Response {
    let message = format!("header `{name}` {problem}: this route is rate-limited per `{name}`; send it");
    error(StatusCode::BAD_REQUEST, "INVALID_REQUEST", message)
}

fn internal() -> Response {
    let message = "an internal error occurred; the server logged it".to_string();
    error(StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL", message)
}

impl<S, B> Service<Request<B>> for RateLimit<S>
where
    S: Service<Request<B>, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        // The clone goes to the next call; this request takes the one that is ready.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let shared = Arc::clone(&self.shared);
        Box::pin(async move {
            let (parts, body) = req.into_parts();
            let key = match shared.key(&parts) {
                Keyed::Key(key) => key,
                Keyed::Unlimited => return inner.call(Request::from_parts(parts, body)).await,
                Keyed::Refused(answer) => return Ok(answer),
            };
            let input = CheckInput { field: "", policy: &shared.policy, key: &key, cost: 1 };
            let verdict = match shared.limiter.check(&[input]).await {
                Ok(verdict) => verdict,
                Err(e) => return Ok(shared.refused(e)),
            };
            let format = shared.limiter.reset_format();
            if !verdict.decision.allowed {
                return Ok(exceeded(&verdict, format, StatusCode::TOO_MANY_REQUESTS));
            }
            let mut answer = inner.call(Request::from_parts(parts, body)).await?;
            let answer_headers = answer.headers_mut();
            for (name, value) in headers(&verdict, format) {
                if let Some(name) = name.filter(|n| !answer_headers.contains_key(n)) {
                    answer_headers.insert(name, value);
                }
            }
            Ok(answer)
        })
    }
}
