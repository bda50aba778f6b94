//! Logging set-up: human lines on a terminal, JSON with
//! `RAMPART_LOG_FORMAT=json`; the level comes from `RAMPART_LOG`
//! (`info` by default, any `tracing` filter works, read by
//! [`log_directives`]).
//!
//! A bare level more verbose than `info` (`RAMPART_LOG=debug`) is
//! rampart's: its own crates and the request traces it sets up
//! (`tower_http`) log at it, every other crate at `info`, so a database
//! driver's or HTTP client's debug output appears only when asked for by
//! name (`RAMPART_LOG=debug,tokio_postgres=debug`). Statement parameters
//! never do, unless their module is named itself: `tokio_postgres::query`
//! prints every statement with its parameters at `debug`, and they hold
//! job payloads and generated secrets.
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
use tracing_subscriber::filter::LevelFilter;
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

/// The targets a bare `RAMPART_LOG` level applies to: rampart's own
/// crates (every target starting with `rampart`) and the request traces
/// of its API.
const OWN_TARGETS: &[&str] = &["rampart", "tower_http"];

/// Modules whose debug lines print statement parameters: held at `info`
/// unless a directive names them exactly.
const PARAMETER_TARGETS: &[&str] = &["tokio_postgres::query"];

/// The filter directives of a `RAMPART_LOG` value (see the module doc): a
/// bare level more verbose than `info` becomes that level for
/// [`OWN_TARGETS`] and `info` for the rest; every other directive stays
/// as written; [`PARAMETER_TARGETS`] not named are held at `info`.
pub fn log_directives(spec: &str) -> String {
    let mut directives = Vec::new();
    for directive in spec.split(',').map(str::trim).filter(|d| !d.is_empty()) {
        match directive.parse::<LevelFilter>() {
            Ok(level) if level > LevelFilter::INFO => {
                directives.extend(OWN_TARGETS.iter().map(|target| format!("{target}={level}")));
                directives.push(LevelFilter::INFO.to_string());
            }
            _ => directives.push(directive.to_string()),
        }
    }
    for target in PARAMETER_TARGETS {
        let named = spec.split(',').any(|d| d.trim().split('=').next() == Some(*target));
        if !named {
            directives.push(format!("{target}=info"));
        }
    }
    directives.join(",")
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
    let spec = std::env::var("RAMPART_LOG").unwrap_or_default();
    let spec = if spec.trim().is_empty() { "info" } else { spec.as_str() };
    let filter = EnvFilter::try_new(log_directives(spec)).unwrap_or_else(|_| EnvFilter::new(log_directives("info")));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bare_level_is_rampart_s_and_parameters_need_their_module_named() {
        let check = |spec: &str, expected: &str| {
            assert_eq!(log_directives(spec), expected, "{spec}");
            assert!(EnvFilter::try_new(expected).is_ok(), "{expected}");
        };
        let held = "tokio_postgres::query=info";
        check("info", &format!("info,{held}"));
        check("warn", &format!("warn,{held}"));
        check("debug", &format!("rampart=debug,tower_http=debug,info,{held}"));
        check(" TRACE ", &format!("rampart=trace,tower_http=trace,info,{held}"));
        check(
            "debug,tokio_postgres=debug",
            &format!("rampart=debug,tower_http=debug,info,tokio_postgres=debug,{held}"),
        );
        check("info,tower_http=debug", &format!("info,tower_http=debug,{held}"));
        check("rampart_store=trace", &format!("rampart_store=trace,{held}"));
        check("tokio_postgres::query=debug", "tokio_postgres::query=debug");
        check("[request]=debug", &format!("[request]=debug,{held}"));
    }
}
