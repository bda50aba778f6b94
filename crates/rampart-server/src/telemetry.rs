//! Logging set-up: human lines on a terminal, JSON with
//! `RAMPART_LOG_FORMAT=json`; the level comes from `RAMPART_LOG`
//! (`info` by default, any `tracing` filter works).
//!
//! With a Sentry DSN (`[sentry]`, `SENTRY_DSN`) `error` events also go to
//! Sentry (warnings and info lines before them ride along as breadcrumbs),
//! every event passed through [`scrub`] first. Without one no client exists
//! and nothing is sent.

pub mod scrub;

use std::io::IsTerminal as _;
use std::sync::Arc;

use ::sentry::{Hub, SentryFutureExt as _};
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

use crate::config::{LogFormat, SentryConfig};

/// Keeps error reporting alive; dropping it (at exit) sends what is still
/// queued, waiting at most two seconds.
#[must_use = "dropping it stops error reporting"]
pub struct Telemetry {
    _sentry: Option<sentry::ClientInitGuard>,
}

/// Runs a request under a Sentry scope tagged with its `x-request-id`, so
/// an error report names the request whose log lines tell the rest. Without
/// a Sentry client it only passes the request on.
pub async fn request_scope(req: Request, next: Next) -> Response {
    if Hub::current().client().is_none() {
        return next.run(req).await;
    }
    let hub = Arc::new(Hub::new_from_top(Hub::current()));
    if let Some(id) = req.headers().get("x-request-id").and_then(|v| v.to_str().ok()) {
        let id = id.to_string();
        hub.configure_scope(|scope| scope.set_tag("request_id", id));
    }
    next.run(req).bind_hub(hub).await
}

/// Installs the global subscriber without error reporting; a second call is
/// a no-op.
pub fn init(format: LogFormat) {
    // No client is made, so there is nothing to keep.
    drop(init_with_sentry(format, &SentryConfig::default()));
}

/// Installs the global subscriber, with error reporting to Sentry when
/// `sentry.dsn` is set; a second call is a no-op.
pub fn init_with_sentry(format: LogFormat, sentry: &SentryConfig) -> Telemetry {
    let filter = EnvFilter::try_from_env("RAMPART_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let guard = sentry.dsn.as_ref().map(|dsn| {
        ::sentry::init(::sentry::ClientOptions {
            dsn: dsn.expose().parse().ok(),
            environment: sentry.environment.clone().map(Into::into),
            sample_rate: sentry.sample_rate,
            release: ::sentry::release_name!(),
            send_default_pii: false,
            before_send: Some(Arc::new(|event| Some(scrub::scrub_event(event)))),
            before_breadcrumb: Some(Arc::new(|crumb| Some(scrub::scrub_breadcrumb(crumb)))),
            ..Default::default()
        })
    });
    // Spans are not sent (no performance tracing), so none is recorded.
    let reporting = guard.as_ref().map(|_| ::sentry::integrations::tracing::layer().span_filter(|_| false));
    // Colours only for a person at a terminal: a log file or collector gets
    // plain text (and each request's span costs less to format).
    let lines =
        tracing_subscriber::fmt::layer().with_writer(std::io::stderr).with_ansi(std::io::stderr().is_terminal());
    let registry = tracing_subscriber::registry().with(filter).with(reporting);
    let _ = match format {
        LogFormat::Json => registry.with(lines.json().flatten_event(true)).try_init(),
        LogFormat::Text => registry.with(lines).try_init(),
    };
    if let Some(dsn) = &sentry.dsn {
        tracing::info!(dsn = %dsn, "errors are reported to Sentry");
    }
    Telemetry { _sentry: guard }
}
