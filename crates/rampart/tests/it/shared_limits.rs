//! Rate limits shared through one Redis by real `rampart serve` processes:
//! two nodes admit exactly what one would, and a Redis cut away mid-run (by
//! a TCP proxy the test controls) leaves checks answering at once through
//! each policy's `on_backend_error`, until they return to Redis by
//! themselves.
//!
//! Each test writes under a key prefix of its own and deletes its keys when
//! it ends. Without Redis on `127.0.0.1:6379` (or `REDIS_URL`) these tests
//! print that they skipped, except under `CI=true`, where they fail.

use std::net::{SocketAddr, ToSocketAddrs as _};
use std::time::{Duration, Instant};

use rampart_client::client::Client;
use rampart_client::wire::{RateLimitCheckRequest, RateLimitCheckResponse};
use tokio::task::JoinSet;

use crate::harness::{TestServer, eventually};
use crate::tcpproxy::TcpProxy;

/// A Redis for one test: its URL and a key prefix nobody else uses, whose
/// keys are deleted on drop.
pub struct TestRedis {
    pub url: String,
    pub prefix: String,
}

impl TestRedis {
    /// The local Redis, or `None` (the test skips) when it does not answer;
    /// under `CI=true` a missing Redis fails the test.
    pub fn connect(test: &str) -> Option<TestRedis> {
        let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_string());
        let answers = redis::Client::open(url.as_str())
            .and_then(|client| client.get_connection_with_timeout(Duration::from_secs(2)))
            .and_then(|mut conn| redis::cmd("PING").query::<String>(&mut conn));
        if let Err(e) = answers {
            assert!(std::env::var("CI").as_deref() != Ok("true"), "CI=true and no Redis at {url}: {e}");
            eprintln!("skipped {test}: no Redis at {url} ({e})");
            return None;
        }
        let redis = TestRedis { url, prefix: format!("rampart-test:{test}:{}:", std::process::id()) };
        // A run killed before its cleanup may have left keys under a reused pid.
        redis.delete_keys();
        Some(redis)
    }

    /// The Redis server's address, for a proxy in front of it.
    pub fn addr(&self) -> SocketAddr {
        let rest = self.url.split_once("://").map_or(self.url.as_str(), |(_, rest)| rest);
        let host = rest.rsplit_once('@').map_or(rest, |(_, host)| host).split('/').next().unwrap_or(rest);
        let host = if host.contains(':') { host.to_string() } else { format!("{host}:6379") };
        host.to_socket_addrs().ok().and_then(|mut a| a.next()).unwrap_or_else(|| panic!("cannot resolve {host}"))
    }

    /// How many keys the test's prefix holds.
    pub fn key_count(&self) -> usize {
        self.keys().len()
    }

    fn keys(&self) -> Vec<String> {
        let Ok(mut conn) = redis::Client::open(self.url.as_str()).and_then(|c| c.get_connection()) else {
            return Vec::new();
        };
        let pattern = format!("{}*", self.prefix);
        redis::cmd("KEYS").arg(&pattern).query(&mut conn).unwrap_or_default()
    }
}

impl Drop for TestRedis {
    fn drop(&mut self) {
        self.delete_keys();
    }
}

impl TestRedis {
    fn delete_keys(&self) {
        let keys = self.keys();
        if keys.is_empty() {
            return;
        }
        if let Ok(mut conn) = redis::Client::open(self.url.as_str()).and_then(|c| c.get_connection()) {
            let _: Result<u64, _> = redis::cmd("DEL").arg(&keys).query(&mut conn);
        }
    }
}

/// A node whose policies count in `redis_url`, from `policies` (TOML tables).
async fn node(redis_url: &str, prefix: &str, extra: &str, policies: &str) -> TestServer {
    let toml = format!("redis_url = \"{redis_url}\"\n[ratelimit]\nredis_prefix = \"{prefix}\"\n{extra}\n{policies}");
    TestServer::builder().config(&toml).start().await
}

async fn check(client: &Client, policy: &str, key: &str) -> RateLimitCheckResponse {
    let req = RateLimitCheckRequest { policy: Some(policy.into()), key: Some(key.into()), ..Default::default() };
    client.ratelimit_check(&req).await.unwrap_or_else(|e| panic!("check {policy}/{key}: {e}"))
}

/// A fixed window so long that no test run crosses one of its boundaries:
/// what is admitted is exactly `limit`.
const SHARED: &str = "[ratelimit.policies.shared]\nlimit = 300\nwindow = \"300d\"\nalgorithm = \"fixed_window\"";

#[tokio::test]
async fn two_nodes_on_one_redis_admit_exactly_what_one_node_would() {
    let Some(redis) = TestRedis::connect("two_nodes") else { return };
    // A timeout no busy machine reaches: this test is about counting, not fallback.
    let patient = "redis_timeout = \"5s\"";
    let a = node(&redis.url, &redis.prefix, patient, SHARED).await;
    let b = node(&redis.url, &redis.prefix, patient, SHARED).await;
    for n in [&a, &b] {
        eventually("the node to reach Redis", || async {
            let policies = n.client().ratelimit_policies().await.ok()?;
            (policies.redis?.status == "up").then_some(())
        })
        .await;
    }

    // 1,200 checks of one key, 16 at a time on each node.
    let mut tasks = JoinSet::new();
    for (node, client) in [("a", a.client().clone()), ("b", b.client().clone())] {
        for _ in 0..16 {
            let client = client.clone();
            tasks.spawn(async move {
                let mut admitted = 0;
                for _ in 0..600 / 16 + 1 {
                    let answer = check(&client, "shared", "user:7").await;
                    assert!(!answer.fallback, "every check counted in Redis");
                    admitted += usize::from(answer.allowed);
                }
                (node, admitted)
            });
        }
    }
    let (mut on_a, mut on_b) = (0, 0);
    while let Some(done) = tasks.join_next().await {
        match done.expect("a check task") {
            ("a", n) => on_a += n,
            (_, n) => on_b += n,
        }
    }
    assert_eq!(on_a + on_b, 300, "admitted {on_a} on a and {on_b} on b");
    assert!(on_a > 0 && on_b > 0, "both nodes admitted some: {on_a} and {on_b}");
    assert!(redis.key_count() >= 1, "the count lives in Redis under the test's prefix");

    // One key's state is one state, whichever node is asked, and a reset
    // through one node unblocks the key on the other.
    let seen = b.client().ratelimit_key("shared", "user:7").await.expect("the key's state on b");
    assert_eq!((seen.remaining, seen.fresh), (0, false), "{seen:?}");
    let reset = a.client().ratelimit_key_reset("shared", "user:7").await.expect("reset on a");
    assert!(reset.reset);
    let again = check(b.client(), "shared", "user:7").await;
    assert!(again.allowed && !again.fallback, "admitted on b after the reset on a: {again:?}");
    assert_eq!(again.remaining, 299);
}

#[tokio::test]
async fn checks_fall_back_at_once_while_redis_is_cut_and_return_by_themselves() {
    let Some(redis) = TestRedis::connect("cut") else { return };
    let proxy = TcpProxy::start(redis.addr());
    let policies = "[ratelimit.policies.local]\nlimit = 100\nwindow = \"1h\"\n\
         [ratelimit.policies.open]\nlimit = 1\nwindow = \"1h\"\non_backend_error = \"allow\"\n\
         [ratelimit.policies.closed]\nlimit = 100\nwindow = \"1h\"\non_backend_error = \"deny\"";
    let url = format!("redis://{}", proxy.addr());
    // Cutting closes the connections, which fails calls at once; the
    // timeout only has to outlast a busy machine before the cut.
    let server = node(&url, &redis.prefix, "redis_timeout = \"2s\"", policies).await;
    let client = server.client();
    eventually("the node to reach Redis", || async {
        (client.ratelimit_policies().await.ok()?.redis?.status == "up").then_some(())
    })
    .await;
    let answer = check(client, "open", "k").await;
    assert!(answer.allowed && !answer.fallback, "{answer:?}");

    proxy.cut();
    // The first check after the cut may wait for the timeout; none may hang.
    let started = Instant::now();
    let answer = check(client, "local", "k").await;
    let first = started.elapsed();
    assert!(answer.allowed && answer.fallback, "counted locally: {answer:?}");
    assert!(first < Duration::from_secs(5), "a check with Redis gone took {first:?}");
    let answer = check(client, "open", "k").await;
    assert!(answer.allowed && answer.fallback, "allow admits although Redis counted this key full: {answer:?}");
    let answer = check(client, "closed", "k").await;
    assert!(!answer.allowed && answer.fallback && answer.retry_after_s == Some(1), "deny refuses: {answer:?}");
    let policies = client.ratelimit_policies().await.expect("policies");
    let state = policies.redis.expect("a Redis backend");
    assert_eq!(state.status, "down", "{state:?}");
    assert!(state.last_error.is_some() && state.failures >= 1, "{state:?}");
    let fallbacks: u64 = policies.policies.iter().map(|p| p.fallbacks).sum();
    assert!(fallbacks >= 3, "every fallback is counted: {fallbacks}");
    let logged = server.stderr();
    assert_eq!(logged.matches("Redis failed").count(), 1, "one log line per transition:\n{logged}");

    proxy.restore();
    eventually("checks to count in Redis again", || async {
        let answer = check(client, "local", "k2").await;
        (!answer.fallback).then_some(())
    })
    .await;
    let answer = check(client, "open", "k").await;
    assert!(!answer.allowed && !answer.fallback, "back on Redis, whose count for the key is full: {answer:?}");
    let state = client.ratelimit_policies().await.expect("policies").redis.expect("a Redis backend");
    assert_eq!(state.status, "up", "{state:?}");
    assert!(server.stderr().contains("count in Redis again"), "the recovery is logged");
}
