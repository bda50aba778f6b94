//! What the Redis tests stand on: a limiter with a prefix of its own on the
//! shared Redis (`REDIS_URL`, default `redis://127.0.0.1:6379`), and private
//! `redis-server` processes for the tests that stop, pause or restart one.
//!
//! Without a Redis, a test prints `skipped: no Redis at …` and passes,
//! except under `CI=true`, where it fails.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use rampart_limit::redis::{RedisConfig, RedisLimiter};

/// Long enough that a loaded machine does not turn a correct answer into a
/// timeout; the failure tests set their own.
const TEST_TIMEOUT: Duration = Duration::from_secs(2);
/// Generous bound on waiting for a Redis to come up or come back.
const READY_WITHIN: Duration = Duration::from_secs(15);

static NEXT: AtomicUsize = AtomicUsize::new(0);

pub fn redis_url() -> String {
    std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// Skips the test (or fails it under CI) for want of `what`.
fn missing(what: &str) {
    if in_ci() {
        panic!("{what} (CI=true: these tests need it)");
    }
    eprintln!("skipped: {what}");
}

/// A limiter on the shared Redis whose keys all start with a prefix no
/// other test uses.
pub struct Harness {
    pub limiter: RedisLimiter,
    pub prefix: String,
    url: String,
}

impl Harness {
    /// A harness named after `test`, or `None` (the test returns) when no
    /// Redis answers.
    pub async fn start(test: &str) -> Option<Harness> {
        Self::with(test, |_| {}).await
    }

    /// [`start`](Self::start) with the configuration adjusted.
    pub async fn with(test: &str, adjust: impl FnOnce(&mut RedisConfig)) -> Option<Harness> {
        let url = redis_url();
        let prefix = format!("rampart-test:{}:{}:{test}:", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
        let mut config =
            RedisConfig { url: url.clone(), prefix: prefix.clone(), timeout: TEST_TIMEOUT, ..Default::default() };
        adjust(&mut config);
        match RedisLimiter::connect(config).await {
            Ok(limiter) => Some(Harness { limiter, prefix, url }),
            Err(e) => {
                missing(&format!("no Redis at {url}: {e}"));
                None
            }
        }
    }

    /// A plain connection to the same Redis, for looking behind the limiter.
    pub async fn conn(&self) -> redis::aio::MultiplexedConnection {
        redis::Client::open(self.url.as_str()).unwrap().get_multiplexed_async_connection().await.unwrap()
    }

    /// Every key under this harness's prefix.
    pub async fn keys(&self) -> Vec<String> {
        let mut conn = self.conn().await;
        let mut cursor = 0u64;
        let mut keys = Vec::new();
        loop {
            let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(format!("{}*", self.prefix))
                .arg("COUNT")
                .arg(1000)
                .query_async(&mut conn)
                .await
                .unwrap();
            keys.extend(batch);
            if next == 0 {
                return keys;
            }
            cursor = next;
        }
    }

    /// Deletes every key the test left (they would expire anyway).
    pub async fn cleanup(self) {
        let keys = self.keys().await;
        let mut conn = self.conn().await;
        for chunk in keys.chunks(500) {
            let _: u64 = redis::cmd("DEL").arg(chunk).query_async(&mut conn).await.unwrap();
        }
    }
}

/// A `redis-server` of the test's own on a free port, killed when dropped.
pub struct OwnRedis {
    child: Option<Child>,
    port: u16,
}

impl OwnRedis {
    /// Starts one and waits until it answers; `None` (the test returns)
    /// when there is no `redis-server` to run.
    pub async fn start() -> Option<OwnRedis> {
        let port = free_port();
        let mut redis = OwnRedis { child: None, port };
        match redis.spawn() {
            Ok(()) => {
                redis.wait_ready().await;
                Some(redis)
            }
            Err(e) => {
                missing(&format!("cannot run redis-server: {e}"));
                None
            }
        }
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// SIGKILL, as a crash would.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port, empty.
    pub async fn restart(&mut self) {
        self.kill();
        self.spawn().expect("redis-server ran before");
        self.wait_ready().await;
    }

    pub async fn conn(&self) -> redis::aio::MultiplexedConnection {
        redis::Client::open(self.url()).unwrap().get_multiplexed_async_connection().await.unwrap()
    }

    fn spawn(&mut self) -> std::io::Result<()> {
        let port = self.port.to_string();
        let child = Command::new(std::env::var("REDIS_SERVER").unwrap_or_else(|_| "redis-server".into()))
            .args(["--port", &port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .args(["--protected-mode", "no", "--loglevel", "warning"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        self.child = Some(child);
        Ok(())
    }

    async fn wait_ready(&mut self) {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.as_mut().and_then(|c| c.try_wait().unwrap()) {
                panic!("redis-server on port {} exited: {status}", self.port);
            }
            let url = self.url();
            let ping = async {
                let mut conn = redis::Client::open(url).ok()?.get_multiplexed_async_connection().await.ok()?;
                redis::cmd("PING").query_async::<String>(&mut conn).await.ok()
            };
            if let Ok(Some(_)) = tokio::time::timeout(Duration::from_millis(500), ping).await {
                return;
            }
            assert!(started.elapsed() < READY_WITHIN, "redis-server on port {} did not answer", self.port);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A port nothing listens on (just now).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Calls `attempt` until it answers `Some`, at most `within`.
pub async fn eventually<T, F: Future<Output = Option<T>>>(within: Duration, mut attempt: impl FnMut() -> F) -> T {
    let started = Instant::now();
    loop {
        if let Some(value) = attempt().await {
            return value;
        }
        assert!(started.elapsed() < within, "no success within {within:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
