//! A test app: a real store, the engine on a manual clock, one key per
//! role, and the router to send requests to.
//!
//! The store is SQLite in a temp dir, or, with `TEST_STORE=postgres`, a
//! PostgreSQL database of the test's own (`.ci/run` runs these tests both
//! ways): no engine or API test depends on the backend.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::BodyExt;
use rampart_core::auth::Role;
use rampart_core::time::{ManualClock, UnixMillis};
use rampart_server::api::{self, AppState};
use rampart_server::auth::Authenticator;
use rampart_server::config::Config;
use rampart_server::engine::Engine;
use rampart_server::ratelimit::RateLimiter;
use rampart_server::shutdown::{Shutdown, ShutdownTrigger};
use rampart_store::Store;
use rampart_store::postgres::PgConfig;
use rampart_store::postgres::testing::TestDatabase;
use rampart_store::sqlite::{Durability, SqliteConfig};
use serde_json::Value;
use tower::ServiceExt;

pub const T0: UnixMillis = UnixMillis(1_800_000_000_000);

pub struct TestApp {
    pub router: Router,
    pub engine: Engine,
    pub limiter: RateLimiter,
    pub clock: Arc<ManualClock>,
    pub keys: HashMap<&'static str, String>,
    _trigger: ShutdownTrigger,
    _dir: tempfile::TempDir,
    _db: Option<TestDatabase>,
}

/// The store a test runs on, chosen by `TEST_STORE` (`sqlite`, the default, or `postgres`).
async fn open_store(dir: &std::path::Path) -> (Store, Option<TestDatabase>) {
    match std::env::var("TEST_STORE").as_deref() {
        Ok("postgres") => {
            let db = TestDatabase::create("engine and API tests")
                .await
                .expect("TEST_STORE=postgres needs a reachable PostgreSQL (see TEST_DATABASE_URL)");
            let store = Store::open_postgres(PgConfig { pool_size: 4, ..PgConfig::new(db.url.clone()) }).await.unwrap();
            (store, Some(db))
        }
        Ok("sqlite") | Err(_) => {
            let config = SqliteConfig { data_dir: dir.to_path_buf(), durability: Durability::Normal };
            (Store::open_sqlite(config).await.unwrap(), None)
        }
        Ok(other) => panic!("TEST_STORE must be `sqlite` or `postgres`, not `{other}`"),
    }
}

/// What a request answered.
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Answer {
    /// The error code of an error answer.
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }

    pub fn message(&self) -> &str {
        self.body["error"]["message"].as_str().unwrap_or("")
    }

    /// A header's value as text; empty when absent.
    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
    }
}

impl TestApp {
    pub async fn new() -> TestApp {
        TestApp::with_config(Config::default()).await
    }

    pub async fn with_config(mut config: Config) -> TestApp {
        let dir = tempfile::tempdir().unwrap();
        config.data_dir = dir.path().to_path_buf();
        let (store, db) = open_store(dir.path()).await;
        let clock = Arc::new(ManualClock::new(T0));
        let (trigger, shutdown) = Shutdown::new();
        let engine = Engine::new(store.clone(), &config, clock.clone(), shutdown);
        let limiter = RateLimiter::new(&config.ratelimit, clock.clone());
        let auth = Authenticator::new(store);
        let mut keys = HashMap::new();
        for role in Role::ALL {
            let new = auth.create(format!("{role}-key"), role, T0).await.unwrap();
            keys.insert(role.as_str(), new.key);
        }
        let state = AppState {
            engine: engine.clone(),
            auth,
            limiter: limiter.clone(),
            max_body_bytes: config.max_body_bytes,
            started: Arc::new(Instant::now()),
        };
        TestApp { router: api::router(state), engine, limiter, clock, keys, _trigger: trigger, _dir: dir, _db: db }
    }

    /// Sends a request with the key of `role` (none when `role` is empty).
    pub async fn send_as(&self, role: &str, method: Method, path: &str, body: Option<&str>) -> Answer {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(key) = self.keys.get(role) {
            req = req.header("authorization", format!("Bearer {key}"));
        }
        let req =
            req.header("content-type", "application/json").body(Body::from(body.unwrap_or("").to_string())).unwrap();
        let resp = self.router.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or(Value::String(String::from_utf8_lossy(&bytes).into()))
        };
        Answer { status, headers, body }
    }

    /// Sends as admin.
    pub async fn send(&self, method: Method, path: &str, body: Option<&str>) -> Answer {
        self.send_as("admin", method, path, body).await
    }

    /// Enqueues one job and answers its id.
    pub async fn enqueue(&self, queue: &str, body: &str) -> String {
        let a = self.send(Method::POST, &format!("/v1/queues/{queue}/jobs"), Some(body)).await;
        assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
        a.body["id"].as_str().unwrap().to_string()
    }

    /// Leases without waiting and answers the jobs.
    pub async fn lease(&self, queue: &str, max: u32) -> Vec<Value> {
        let a =
            self.send(Method::POST, &format!("/v1/queues/{queue}/lease"), Some(&format!(r#"{{"max":{max}}}"#))).await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.body);
        a.body["jobs"].as_array().unwrap().clone()
    }

    /// One job as the API shows it.
    pub async fn job(&self, id: &str) -> Value {
        let a = self.send(Method::GET, &format!("/v1/jobs/{id}"), None).await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.body);
        a.body
    }
}
