//! `GET /health` (liveness) and `GET /health/ready` (readiness), open to
//! everyone so that load balancers and orchestrators need no key.
//!
//! Liveness only says the process answers. Readiness says whether this node
//! can serve jobs now: it pings the store, bounded in time so that a probe
//! never hangs on a database that went silent, and answers 503 when any
//! component is down.

use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use rampart_store::StoreError;

use super::AppState;
use crate::wire::{HealthResponse, ReadyComponents, ReadyResponse, StoreHealth};

/// Longest a readiness probe waits for the store.
const READY_TIMEOUT: Duration = Duration::from_secs(2);

pub(super) fn router() -> Router<AppState> {
    Router::new().route("/health", get(health)).route("/health/ready", get(ready))
}

async fn health(State(state): State<AppState>) -> Json<HealthResponse> {
    Json(HealthResponse {
        status: "ok".into(),
        uptime_s: state.started.elapsed().as_secs(),
        version: env!("CARGO_PKG_VERSION").into(),
    })
}

async fn ready(State(state): State<AppState>) -> (StatusCode, Json<ReadyResponse>) {
    let (status, body) = readiness(store_status(state.engine.store()).await);
    (status, Json(body))
}

/// Pings the store, bounded by [`READY_TIMEOUT`]: up with its latency, or
/// down with why. The admin diagnostics show the same.
pub(super) async fn store_status(store: &rampart_store::Store) -> StoreHealth {
    let started = Instant::now();
    let ping = match tokio::time::timeout(READY_TIMEOUT, store.ping()).await {
        Ok(Ok(())) => Ping::Up(started.elapsed()),
        Ok(Err(e)) => Ping::Failed(e),
        Err(_) => Ping::TimedOut,
    };
    store_health(store.backend(), ping)
}

/// How a ping of the store went.
enum Ping {
    /// It answered, after this long.
    Up(Duration),
    /// It answered with an error.
    Failed(StoreError),
    /// It did not answer within [`READY_TIMEOUT`].
    TimedOut,
}

fn store_health(backend: &str, ping: Ping) -> StoreHealth {
    let down = |error: String| {
        tracing::warn!(backend, error = %error, "readiness: the store is down");
        StoreHealth { status: "down".into(), backend: backend.into(), latency_ms: None, error: Some(error) }
    };
    match ping {
        Ping::Up(took) => StoreHealth {
            status: "up".into(),
            backend: backend.into(),
            latency_ms: Some((took.as_secs_f64() * 1e5).round() / 100.0),
            error: None,
        },
        // Why the database cannot be reached is what the operator needs; it
        // never holds the connection's password.
        Ping::Failed(StoreError::Unavailable(why)) => down(why),
        Ping::Failed(other) => {
            tracing::error!(backend, error = %other, "readiness: the store failed");
            down("the store failed; see the server's log".into())
        }
        Ping::TimedOut => down(format!("no answer within {}s", READY_TIMEOUT.as_secs())),
    }
}

/// The answer: 200 `ready` when every component is up, else 503 `not_ready`.
fn readiness(store: StoreHealth) -> (StatusCode, ReadyResponse) {
    let up = store.status == "up";
    let body =
        ReadyResponse { status: if up { "ready" } else { "not_ready" }.into(), components: ReadyComponents { store } };
    (if up { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE }, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answering_store_is_ready_with_its_latency() {
        let (status, body) = readiness(store_health("sqlite", Ping::Up(Duration::from_micros(1_234))));
        assert_eq!(status, StatusCode::OK);
        let json = serde_json::to_value(&body).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "status": "ready",
                "components": {"store": {"status": "up", "backend": "sqlite", "latency_ms": 1.23}}
            })
        );
    }

    #[test]
    fn a_failing_store_is_not_ready_and_says_why() {
        fn check(ping: Ping, error: &str) {
            let (status, body) = readiness(store_health("postgres", ping));
            assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
            let json = serde_json::to_value(&body).unwrap();
            assert_eq!(
                json,
                serde_json::json!({
                    "status": "not_ready",
                    "components": {"store": {"status": "down", "backend": "postgres", "error": error}}
                })
            );
        }
        check(Ping::Failed(StoreError::Unavailable("connection refused".into())), "connection refused");
        check(Ping::TimedOut, "no answer within 2s");
        // Internal details stay in the log.
        check(
            Ping::Failed(StoreError::Internal("relation \"jobs\" does not exist".into())),
            "the store failed; see the server's log",
        );
    }
}
