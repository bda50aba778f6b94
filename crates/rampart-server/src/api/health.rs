//! `GET /health` (liveness) and `GET /health/ready` (readiness), open to
//! everyone so that load balancers and orchestrators need no key.
//!
//! Liveness only says the process answers. Readiness says whether this node
//! can serve jobs now: it pings the store and reads a few job figures from
//! indexes the hot path keeps anyway, bounded in time so that a probe never
//! hangs on a database that went silent, and answers 503 when the store is
//! down. A store that answers but refused a write because it cannot write
//! (a full disk, a read-only file) is down too: while the store keeps that
//! failure ([`Store::write_failure`]) each probe tries a test write
//! ([`Store::write_probe`]), and the node is ready again by itself as soon
//! as one goes through. Redis down is degraded, not unready: rate-limit checks go on by
//! each policy's `on_backend_error`, so the node still serves; readiness
//! shows it, and system health says `degraded`.

use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use rampart_client::endpoint::{HEALTH, HEALTH_READY};
use rampart_core::time::UnixMillis;
use rampart_store::{JobHealthCounts, Store, StoreError};

use super::AppState;
use super::route::Routes;
use crate::ratelimit::RateLimiter;
use rampart_client::wire::{
    HealthResponse, JobsHealth, ReadyComponents, ReadyResponse, RedisBackendView, StoreHealth, WorkersHealth,
};

/// Longest a readiness probe waits for the store.
const READY_TIMEOUT: Duration = Duration::from_secs(2);

pub(super) fn router() -> Routes {
    Routes::new().add(HEALTH, health).add(HEALTH_READY, ready)
}

async fn health(State(state): State<AppState>) -> Json<HealthResponse> {
    Json(HealthResponse {
        status: "ok".into(),
        uptime_s: state.started.elapsed().as_secs(),
        version: env!("CARGO_PKG_VERSION").into(),
    })
}

pub(super) async fn ready(State(state): State<AppState>) -> (StatusCode, Json<ReadyResponse>) {
    let engine = &state.engine;
    let now = engine.now();
    let (store, figures) = probe_store(engine.store(), now, true).await;
    let workers = WorkersHealth {
        seen_last_minute: engine.workers_seen_since(UnixMillis(now.0 - 60_000)) as u64,
        active_leases: figures.map(|f| f.active),
        stale_leases: figures.map(|f| f.stale_leases),
    };
    let components = ReadyComponents {
        store,
        redis: redis_view(&state.limiter),
        workers: Some(workers),
        jobs: figures.map(|f| JobsHealth {
            available: f.available,
            active: f.active,
            completed_today: f.completed_today,
            dead_today: f.dead_today,
        }),
    };
    let (status, body) = readiness(components);
    (status, Json(body))
}

/// Pings the store, tries a test write while it keeps a refused write, and
/// with `figures` reads the job figures readiness reports at `now`, all
/// within [`READY_TIMEOUT`].
pub(super) async fn probe_store(
    store: &Store,
    now: UnixMillis,
    figures: bool,
) -> (StoreHealth, Option<JobHealthCounts>) {
    let probe = async {
        let started = Instant::now();
        store.ping().await?;
        let took = started.elapsed();
        if store.write_failure().is_some() {
            store.write_probe(now).await?;
        }
        let figures = if figures {
            match store.job_health_counts(now).await {
                Ok(f) => Some(f),
                Err(e) => {
                    tracing::warn!(error = %e, "readiness: cannot count the jobs");
                    None
                }
            }
        } else {
            None
        };
        Ok::<_, StoreError>((took, figures))
    };
    let (ping, figures) = match tokio::time::timeout(READY_TIMEOUT, probe).await {
        Ok(Ok((took, figures))) => (Ping::Up(took), figures),
        Ok(Err(e)) => (Ping::Failed(e), None),
        Err(_) => (Ping::TimedOut, None),
    };
    (store_health(store.backend(), ping), figures)
}

/// The rate limiter's Redis as operators see it; `None` without one.
pub(super) fn redis_view(limiter: &RateLimiter) -> Option<RedisBackendView> {
    limiter.redis().map(|redis| {
        let health = redis.health();
        RedisBackendView {
            status: if redis.is_up() { "up" } else { "down" }.to_string(),
            since: health.since,
            last_error: health.last_error,
            failures: redis.failures(),
        }
    })
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
        Ping::Failed(StoreError::NotWritable(why)) => down(format!("the store cannot write: {why}")),
        Ping::Failed(other) => {
            tracing::error!(backend, error = %other, "readiness: the store failed");
            down("the store failed; see the server's log".into())
        }
        Ping::TimedOut => down(format!("no answer within {}s", READY_TIMEOUT.as_secs())),
    }
}

/// The answer: 200 `ready` while the store is up, else 503 `not_ready`.
fn readiness(components: ReadyComponents) -> (StatusCode, ReadyResponse) {
    let up = components.store.status == "up";
    let body = ReadyResponse { status: if up { "ready" } else { "not_ready" }.into(), components };
    (if up { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE }, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn only(store: StoreHealth) -> ReadyComponents {
        ReadyComponents { store, redis: None, workers: None, jobs: None }
    }

    #[test]
    fn an_answering_store_is_ready_with_its_latency() {
        let (status, body) = readiness(only(store_health("sqlite", Ping::Up(Duration::from_micros(1_234)))));
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
            let (status, body) = readiness(only(store_health("postgres", ping)));
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
        check(
            Ping::Failed(StoreError::NotWritable("database or disk is full".into())),
            "the store cannot write: database or disk is full",
        );
        // Internal details stay in the log.
        check(
            Ping::Failed(StoreError::Internal("relation \"jobs\" does not exist".into())),
            "the store failed; see the server's log",
        );
    }

    #[test]
    fn redis_down_is_shown_but_the_node_stays_ready() {
        let redis = RedisBackendView {
            status: "down".into(),
            since: None,
            last_error: Some("connection refused".into()),
            failures: 3,
        };
        let components =
            ReadyComponents { redis: Some(redis), ..only(store_health("sqlite", Ping::Up(Duration::ZERO))) };
        let (status, body) = readiness(components);
        assert_eq!(status, StatusCode::OK);
        let json = serde_json::to_value(&body).unwrap();
        assert_eq!(json["status"], "ready");
        assert_eq!(json["components"]["redis"]["status"], "down");
    }
}
