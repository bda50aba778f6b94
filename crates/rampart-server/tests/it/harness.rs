//! A test app: a real store, the engine on a manual clock, one key per
//! role, and the router to send requests to; and [`eventually`], the one
//! way these tests wait for something.
//!
//! The store is SQLite in a temp dir, or, with `TEST_STORE=postgres`, a
//! PostgreSQL database of the test's own (`.ci/run` runs these tests both
//! ways): no engine or API test depends on the backend.

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::extract::connect_info::MockConnectInfo;
use axum::http::{HeaderMap, Method, Request, StatusCode, request};
use http_body_util::BodyExt;
use rampart_core::auth::Role;
use rampart_core::time::{ManualClock, UnixMillis};
use rampart_server::api::{self, AppState, Shared};
use rampart_server::auth::Authenticator;
use rampart_server::breaker::{LocalBreakers, SharedBreakers};
use rampart_server::config::Config;
use rampart_server::cron::Cron;
use rampart_server::engine::Engine;
use rampart_server::monitoring::Monitor;
use rampart_server::ratelimit::RateLimiter;
use rampart_server::ratelimit::own::OwnLimits;
use rampart_server::service::Loops;
use rampart_server::service::{Pruner, PrunerConfig};
use rampart_server::shutdown::{Shutdown, ShutdownTrigger};
use rampart_store::Store;
use rampart_store::postgres::PgConfig;
use rampart_store::postgres::testing::TestDatabase;
use rampart_store::sqlite::{Durability, SqliteConfig};
use serde_json::Value;
use tower::ServiceExt;

pub const T0: UnixMillis = UnixMillis(1_800_000_000_000);

/// The peer address of a request that names none (see [`Call::from`]), as
/// if a client had connected from it.
pub const PEER: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 1)), 4711);

/// The longest any awaited condition may take before the test fails: far
/// beyond what a healthy run needs, so a busy machine never fails a test.
pub const PATIENCE: Duration = Duration::from_secs(60);

/// How often [`eventually`] looks again.
const POLL: Duration = Duration::from_millis(10);

/// Polls `probe` until it answers `Some` and answers that, failing the test
/// after [`PATIENCE`] with `what` it waited for. Services sleep on the
/// manual clock, so a test moves the clock and waits here for what follows.
pub async fn eventually<T, F, Fut>(what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        assert!(Instant::now() < deadline, "gave up after {PATIENCE:?} waiting for {what}");
        tokio::time::sleep(POLL).await;
    }
}

pub struct TestApp {
    pub router: Router,
    pub engine: Engine,
    pub limiter: RateLimiter,
    pub monitor: Monitor,
    pub alerting: rampart_server::alert::Alerting,
    pub clock: Arc<ManualClock>,
    pub loops: Loops,
    pub keys: HashMap<&'static str, String>,
    /// The node's in-process breakers, as the API state holds them.
    pub breakers: LocalBreakers,
    /// Cron over the engine; drive it with a `Scheduler`'s `run_once`.
    pub cron: Cron,
    /// The pruner the built-in retention schedule hands its runs to.
    pub pruner: tokio::sync::Mutex<Pruner>,
    _trigger: ShutdownTrigger,
    _dir: tempfile::TempDir,
    _db: Option<TestDatabase>,
}

/// The store a test runs on, chosen by `TEST_STORE` (`sqlite`, the default, or `postgres`).
pub async fn open_store(dir: &std::path::Path) -> (Store, Option<TestDatabase>) {
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
        let (pruner, prune_requests) = Pruner::new(PrunerConfig::from_config(&config), engine.clone());
        let cron = Cron::new(engine.clone(), &config, prune_requests);
        cron.sync(&config).await.unwrap();
        let auth = Authenticator::new(store);
        let loops = Loops::new(clock.clone());
        let monitor = Monitor::new(config.monitoring.clone(), engine.clone());
        let alerting = rampart_server::alert::Alerting::new(&config.alerts.channels);
        let mut keys = HashMap::new();
        for role in Role::ALL {
            let new = auth.create(format!("{role}-key"), role, T0).await.unwrap();
            keys.insert(role.as_str(), new.key);
        }
        let breakers = LocalBreakers::new();
        let state = AppState::new(Shared {
            engine: engine.clone(),
            auth,
            limiter: limiter.clone(),
            own_limits: OwnLimits::new(&config.ratelimit, clock.clone()),
            max_body_bytes: config.max_body_bytes,
            started: Arc::new(Instant::now()),
            breakers: breakers.clone(),
            shared_breakers: SharedBreakers::new(engine.store().clone(), &config, clock.clone()),
            cron: cron.clone(),
            monitor: monitor.clone(),
            alerting: alerting.clone(),
            loops: loops.clone(),
            diagnostics: config.diagnostics.clone(),
            doctor: rampart_server::api::doctor::DoctorSettings::from_config(&config, PEER),
            webhooks: rampart_server::webhook::Intake::new(
                engine.clone(),
                rampart_server::webhook::Sources::new(engine.clone(), config.webhooks.sources.clone()),
            ),
            usage: rampart_server::usage::Usage::new(engine.clone(), config.usage.clone()),
            // Critical error events fire their alert in the store; no notifier runs here.
            insight: rampart_server::insight::Insight::new(engine.clone(), &config).with_alerts(
                rampart_server::insight::AlertHook {
                    channels: alerting.channels.names(),
                    queued: Arc::new(tokio::sync::Notify::new()),
                },
            ),
        });
        // In process there is no connection: requests come from PEER unless they say otherwise.
        let router = api::router(state).layer(MockConnectInfo(PEER));
        let pruner = tokio::sync::Mutex::new(pruner);
        TestApp {
            router,
            engine,
            limiter,
            monitor,
            alerting,
            clock,
            keys,
            loops,
            breakers,
            cron,
            pruner,
            _trigger: trigger,
            _dir: dir,
            _db: db,
        }
    }

    /// Waits until `n` sleepers wait on the app's clock (services between
    /// their runs, long-polling leases), so moving the clock wakes them.
    pub async fn asleep(&self, n: usize) {
        eventually(&format!("{n} sleepers on the clock"), || {
            std::future::ready((self.clock.sleepers() >= n).then_some(()))
        })
        .await;
    }

    /// A request to build up and send; see [`Call`].
    pub fn call(&self, method: Method, path: &str) -> Call<'_> {
        let req = Request::builder().method(method).uri(path).header("content-type", "application/json");
        Call { app: self, req, body: String::new() }
    }

    /// Sends a request with the key of `role` (none when `role` is empty).
    pub async fn send_as(&self, role: &str, method: Method, path: &str, body: Option<&str>) -> Answer {
        self.call(method, path).role(role).body(body.unwrap_or("")).send().await
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

/// One request being built: `app.call(Method::GET, "/v1/queues").role("reader").from("203.0.113.7").send()`.
pub struct Call<'a> {
    app: &'a TestApp,
    req: request::Builder,
    body: String,
}

impl Call<'_> {
    /// With the key of `role` (none when `role` is empty or unknown).
    pub fn role(self, role: &str) -> Self {
        match self.app.keys.get(role) {
            Some(key) => self.header("authorization", &format!("Bearer {key}")),
            None => self,
        }
    }

    /// With a header.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.req = self.req.header(name, value);
        self
    }

    /// From this peer address (an IP, port 4711), instead of [`PEER`].
    pub fn from(mut self, ip: &str) -> Self {
        let addr = SocketAddr::new(ip.parse().expect("an IP address"), 4711);
        self.req = self.req.extension(ConnectInfo(addr));
        self
    }

    /// With this body.
    pub fn body(mut self, body: &str) -> Self {
        self.body = body.to_string();
        self
    }

    /// Sends it through the router and reads the answer.
    pub async fn send(self) -> Answer {
        let req = self.req.body(Body::from(self.body)).unwrap();
        let resp = self.app.router.clone().oneshot(req).await.unwrap();
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
}
