//! The Redis backend: the memory backend's decisions, exactly, over random
//! sequences; atomicity under concurrency; Redis's clock; expiry; and calls
//! that stay bounded when Redis is gone, stalled or restarted.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rampart_limit::memory::{Check, MemoryLimiter, PolicyId};
use rampart_limit::redis::{RedisCheck, RedisConfig, RedisLimitError, RedisLimiter};
use rampart_limit::{Algorithm, Decision, Nanos, Policy};

use crate::harness::{Harness, OwnRedis, eventually, free_port};

const SECOND_US: u64 = 1_000_000;
/// Somewhere in 2027, in microseconds, on a boundary of every whole-second
/// window up to an hour.
const T0_US: u64 = 1_800_000_000 * SECOND_US;
/// A call that should time out answers within its timeout plus this, or the
/// test calls it a hang.
const HANG: Duration = Duration::from_secs(2);

fn nanos(us: u64) -> Nanos {
    us * 1000
}

fn policy(limit: u64, window: Duration, algorithm: Algorithm) -> Policy {
    Policy::new(limit, window, algorithm, None).unwrap()
}

/// splitmix64: a seeded, reproducible sequence.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// The memory backend's decision as Redis gives it: times in whole
/// microseconds, rounded up.
fn in_micros(d: Decision) -> Decision {
    let up = |d: Duration| Duration::from_micros(u64::try_from(d.as_nanos().div_ceil(1000)).unwrap());
    Decision { reset_after: up(d.reset_after), retry_after: d.retry_after.map(up), ..d }
}

const SEEDS: u64 = 16;
const STEPS: usize = 200;
const KEYS: u64 = 3;

#[tokio::test]
async fn decisions_match_the_memory_backend() {
    let Some(h) = Harness::start("conformance").await else { return };
    for seed in 0..SEEDS {
        conformance(&h.limiter, seed).await;
    }
    h.cleanup().await;
}

/// One random sequence of checks, peeks and resets, run on both backends at
/// the same explicit times.
async fn conformance(redis: &RedisLimiter, seed: u64) {
    let mut rng = Rng(seed);
    let policies: Vec<Policy> = (0..3)
        .map(|_| {
            let algorithm = [Algorithm::FixedWindow, Algorithm::SlidingWindow, Algorithm::Gcra][rng.below(3) as usize];
            let limit = 1 + rng.below(12);
            let window = Duration::from_millis(1 + rng.below(3000));
            let burst = (algorithm == Algorithm::Gcra && rng.below(2) == 0).then(|| 1 + rng.below(15));
            Policy::new(limit, window, algorithm, burst).unwrap()
        })
        .collect();
    let names: Vec<String> = (0..policies.len()).map(|i| format!("p{i}")).collect();
    let keys: Vec<String> = (0..KEYS).map(|k| format!("seed{seed}:k{k}")).collect();
    let memory = MemoryLimiter::new(1000);

    let mut now_us = T0_US + rng.below(10 * SECOND_US);
    let mut last = Instant::now();
    let mut log = String::new();
    for step in 0..STEPS {
        // Virtual time runs at least as fast as real time, so a key Redis
        // expired (on its own clock) is idle in virtual time too.
        let real = u64::try_from(last.elapsed().as_micros()).unwrap();
        last = Instant::now();
        let w = u64::try_from(policies[rng.below(3) as usize].window().as_micros()).unwrap();
        let gap = match rng.below(8) {
            0 => 0,
            1 => rng.below(1000),
            2..=5 => rng.below(w / 4),
            6 => rng.below(w),
            _ => rng.below(3 * w),
        };
        now_us += gap.max(real);
        let now = nanos(now_us);
        let context = |log: &str| format!("seed {seed}, step {step}, policies {policies:?}\n{log}");

        match rng.below(20) {
            0 => {
                let (p, k) = (rng.below(3) as usize, rng.below(KEYS) as usize);
                memory.reset(PolicyId(p as u32), &keys[k]);
                redis.reset(&names[p], &policies[p], &keys[k]).await.unwrap();
                let _ = writeln!(log, "{now_us}: reset p{p} k{k}");
            }
            1 | 2 => {
                let (p, k) = (rng.below(3) as usize, rng.below(KEYS) as usize);
                // `None` means "decides as fresh"; the memory backend can also
                // answer that as a decision (a check at no cost moved its idle
                // time on), so compare what each means.
                let fresh = in_micros(policies[p].evaluate(None, 0, now).0);
                let expected = memory.peek(PolicyId(p as u32), &policies[p], &keys[k], now).map_or(fresh, in_micros);
                let got = redis.peek(&names[p], &policies[p], &keys[k], Some(now)).await.unwrap();
                let _ = writeln!(log, "{now_us}: peek p{p} k{k} -> {got:?}");
                assert_eq!(got.unwrap_or(fresh), expected, "peek differs: {}", context(&log));
            }
            _ => {
                let n = [1, 1, 1, 2, 2, 3][rng.below(6) as usize];
                let picks: Vec<(usize, usize, u64)> = (0..n)
                    .map(|_| {
                        let (p, k) = (rng.below(3) as usize, rng.below(KEYS) as usize);
                        let cost = match rng.below(12) {
                            0 => 0,
                            1 => policies[p].max_cost() + 1 + rng.below(3),
                            _ => 1 + rng.below(3),
                        };
                        (p, k, cost)
                    })
                    .collect();
                let mem_checks: Vec<Check<'_>> = picks
                    .iter()
                    .map(|&(p, k, cost)| Check { id: PolicyId(p as u32), policy: &policies[p], key: &keys[k], cost })
                    .collect();
                let redis_checks: Vec<RedisCheck<'_>> = picks
                    .iter()
                    .map(|&(p, k, cost)| RedisCheck { name: &names[p], policy: &policies[p], key: &keys[k], cost })
                    .collect();
                let (decision, index) = memory.check_all(&mem_checks, now).unwrap();
                let got = redis.check(&redis_checks, Some(now)).await.unwrap();
                let _ = writeln!(log, "{now_us}: check {picks:?} -> {got:?}");
                assert_eq!(got, (in_micros(decision), index), "check differs: {}", context(&log));
            }
        }
    }
}

#[tokio::test]
async fn a_hot_key_admits_exactly_the_limit() {
    const LIMIT: u64 = 300;
    // Small batches, several in flight: the checks race through many script calls.
    let Some(h) = Harness::with("hot", |c| {
        c.max_batch = 8;
        c.max_in_flight = 4;
    })
    .await
    else {
        return;
    };
    let policy = policy(LIMIT, Duration::from_secs(3600), Algorithm::FixedWindow);
    let tasks: Vec<_> = (0..40)
        .map(|_| {
            let limiter = h.limiter.clone();
            tokio::spawn(async move {
                let mut admitted = 0;
                for _ in 0..20 {
                    let check = RedisCheck { name: "hot", policy: &policy, key: "k", cost: 1 };
                    if limiter.check(&[check], Some(nanos(T0_US))).await.unwrap().0.allowed {
                        admitted += 1;
                    }
                }
                admitted
            })
        })
        .collect();
    let mut admitted = 0;
    for task in tasks {
        admitted += task.await.unwrap();
    }
    assert_eq!(admitted, LIMIT);
    h.cleanup().await;
}

#[tokio::test]
async fn requests_in_one_batch_stay_independent() {
    // Each task's own key allows one request; the shared key must count
    // exactly the requests that were allowed, however the batches fell.
    let Some(h) = Harness::start("independent").await else { return };
    let shared = policy(1000, Duration::from_secs(3600), Algorithm::SlidingWindow);
    let own = policy(1, Duration::from_secs(3600), Algorithm::Gcra);
    let (shared, own) = (Arc::new(shared), Arc::new(own));
    let tasks: Vec<_> = (0..50)
        .map(|i| {
            let (limiter, shared, own) = (h.limiter.clone(), Arc::clone(&shared), Arc::clone(&own));
            tokio::spawn(async move {
                let key = format!("user{i}");
                let mut allowed = 0;
                for _ in 0..3 {
                    let checks = [
                        RedisCheck { name: "shared", policy: &shared, key: "all", cost: 1 },
                        RedisCheck { name: "own", policy: &own, key: &key, cost: 1 },
                    ];
                    let (decision, index) = limiter.check(&checks, Some(nanos(T0_US))).await.unwrap();
                    if decision.allowed {
                        allowed += 1;
                    } else {
                        assert_eq!(index, 1, "the own key denies");
                    }
                }
                allowed
            })
        })
        .collect();
    let mut allowed = 0;
    for task in tasks {
        allowed += task.await.unwrap();
    }
    assert_eq!(allowed, 50);
    let left = h.limiter.peek("shared", &shared, "all", Some(nanos(T0_US))).await.unwrap().unwrap();
    assert_eq!(left.remaining, 1000 - 50, "denied requests counted against the shared key");
    h.cleanup().await;
}

#[tokio::test]
async fn multi_checks_follow_the_memory_rules() {
    let Some(h) = Harness::start("multi").await else { return };
    let now = Some(nanos(T0_US));
    let (wide, narrow) = (
        policy(10, Duration::from_secs(1), Algorithm::SlidingWindow),
        policy(1, Duration::from_secs(1), Algorithm::FixedWindow),
    );
    let checks = [
        RedisCheck { name: "wide", policy: &wide, key: "user", cost: 1 },
        RedisCheck { name: "narrow", policy: &narrow, key: "user", cost: 1 },
    ];
    let (decision, index) = h.limiter.check(&checks, now).await.unwrap();
    assert!(decision.allowed);
    assert_eq!((index, decision.remaining), (1, 0), "the one with the least remaining binds");
    let (decision, index) = h.limiter.check(&checks, now).await.unwrap();
    assert_eq!((decision.allowed, index), (false, 1));
    assert_eq!(decision.retry_after, Some(Duration::from_secs(1)));
    let peeked = h.limiter.peek("wide", &wide, "user", now).await.unwrap().unwrap();
    assert_eq!(peeked.remaining, 9, "the denied request counted against none");

    // A key repeated in one request sees its earlier check.
    let fixed = policy(3, Duration::from_secs(1), Algorithm::FixedWindow);
    let twice = RedisCheck { name: "fixed", policy: &fixed, key: "k", cost: 2 };
    assert!(!h.limiter.check(&[twice, twice], now).await.unwrap().0.allowed, "2 + 2 > 3");
    assert_eq!(h.limiter.peek("fixed", &fixed, "k", now).await.unwrap(), None);
    let (decision, index) = h.limiter.check(&[twice, RedisCheck { cost: 1, ..twice }], now).await.unwrap();
    assert_eq!((decision.allowed, index, decision.remaining), (true, 1, 0));

    assert!(h.limiter.reset("fixed", &fixed, "k").await.unwrap());
    assert!(!h.limiter.reset("fixed", &fixed, "k").await.unwrap());
    assert_eq!(h.limiter.check(&[], now).await, Err(RedisLimitError::NoChecks));
    h.cleanup().await;
}

#[tokio::test]
async fn without_now_redis_keeps_the_time() {
    let Some(h) = Harness::start("time").await else { return };
    // GCRA: nothing here depends on where a window boundary falls.
    let gcra = policy(3, Duration::from_secs(3600), Algorithm::Gcra);
    let check = RedisCheck { name: "gcra", policy: &gcra, key: "k", cost: 1 };
    for remaining in [2, 1, 0] {
        let (decision, _) = h.limiter.check(&[check], None).await.unwrap();
        assert!(decision.allowed);
        assert_eq!(decision.remaining, remaining);
    }
    let (denied, _) = h.limiter.check(&[check], None).await.unwrap();
    assert!(!denied.allowed);
    let retry = denied.retry_after.unwrap();
    assert!(retry > Duration::from_secs(1100) && retry <= Duration::from_secs(1200), "{retry:?}");
    assert!(denied.reset_after > Duration::from_secs(3500) && denied.reset_after <= Duration::from_secs(3600));
    let peeked = h.limiter.peek("gcra", &gcra, "k", None).await.unwrap().unwrap();
    assert_eq!(peeked.remaining, 0);
    h.limiter.ping().await.unwrap();
    h.cleanup().await;
}

#[tokio::test]
async fn written_keys_expire_when_their_state_stops_mattering() {
    let Some(h) = Harness::start("expiry").await else { return };
    let at = |s: u64| Some(nanos(T0_US + s * SECOND_US));
    let window = Duration::from_secs(10);
    // (algorithm, cost, PTTL expected in ms): when the state stops
    // mattering, plus a second of slack, plus for GCRA a quarter of the
    // bucket's drain time (10 s × 10 / 10).
    let cases = [
        (Algorithm::FixedWindow, 1, 8_000 + 1_000),
        (Algorithm::SlidingWindow, 1, 18_000 + 1_000),
        (Algorithm::Gcra, 4, 4_000 + 1_000 + 2_500),
    ];
    let mut conn = h.conn().await;
    for (algorithm, cost, expected) in cases {
        let policy = policy(10, window, algorithm);
        let check = RedisCheck { name: algorithm.as_str(), policy: &policy, key: "k", cost };
        let key = h.limiter.key(algorithm.as_str(), &policy, "k");
        let pttl = async |conn: &mut redis::aio::MultiplexedConnection| -> i64 {
            redis::cmd("PTTL").arg(&key).query_async(conn).await.unwrap()
        };
        assert!(h.limiter.check(&[check], at(2)).await.unwrap().0.allowed);
        let ttl = pttl(&mut conn).await;
        // The test's own latency below.
        assert!(ttl > expected - 1000 && ttl <= expected, "{algorithm}: PTTL {ttl}, expected just under {expected}");

        // A check the expiry still covers keeps it; one past it moves it on.
        let cost = RedisCheck { cost: 1, ..check };
        assert!(h.limiter.check(&[cost], at(2)).await.unwrap().0.allowed);
        let kept = pttl(&mut conn).await;
        assert!(kept <= ttl, "{algorithm}: PTTL {kept} after {ttl}");
        if algorithm != Algorithm::Gcra {
            // In the next window, 15 s in: 5 s (fixed) or 15 s (sliding) to go, and the slack.
            assert!(h.limiter.check(&[cost], at(15)).await.unwrap().0.allowed);
            let moved = pttl(&mut conn).await;
            let expected = expected - 3_000;
            assert!(moved > expected - 1000 && moved <= expected, "{algorithm}: PTTL {moved}, expected {expected}");
        }

        // A denied check of a fresh key, and one at no cost, write nothing.
        let fresh = RedisCheck { key: "fresh", cost: 11, ..check };
        assert!(!h.limiter.check(&[fresh], at(2)).await.unwrap().0.allowed);
        assert!(h.limiter.check(&[RedisCheck { cost: 0, ..fresh }], at(2)).await.unwrap().0.allowed);
        let exists: u64 = redis::cmd("EXISTS")
            .arg(h.limiter.key(algorithm.as_str(), &policy, "fresh"))
            .query_async(&mut conn)
            .await
            .unwrap();
        assert_eq!(exists, 0, "{algorithm}");
    }
    assert_eq!(h.keys().await.len(), 3);
    h.cleanup().await;
}

#[tokio::test]
async fn a_closed_port_answers_unavailable_at_once() {
    let port = free_port();
    let started = Instant::now();
    let config = RedisConfig {
        url: format!("redis://127.0.0.1:{port}"),
        timeout: Duration::from_millis(100),
        ..Default::default()
    };
    let result = RedisLimiter::connect(config).await;
    assert!(matches!(result, Err(RedisLimitError::Unavailable(_))), "{result:?}");
    assert!(started.elapsed() < HANG, "took {:?}", started.elapsed());
}

#[tokio::test]
async fn a_server_that_never_answers_times_out() {
    // Accepts connections and never says a word.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let silent = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let started = Instant::now();
    let config = RedisConfig {
        url: format!("redis://127.0.0.1:{port}"),
        timeout: Duration::from_millis(100),
        ..Default::default()
    };
    let result = RedisLimiter::connect(config).await;
    // Connecting gets at least a second of its own.
    assert!(matches!(result, Err(RedisLimitError::Timeout(_))), "{result:?}");
    assert!(started.elapsed() < Duration::from_secs(1) + HANG, "took {:?}", started.elapsed());
    silent.abort();
}

#[tokio::test]
async fn a_stalled_redis_times_out_and_then_serves_again() {
    let Some(redis) = OwnRedis::start().await else { return };
    let timeout = Duration::from_millis(200);
    let config = RedisConfig { url: redis.url(), prefix: "stall:".into(), timeout, ..Default::default() };
    let limiter = RedisLimiter::connect(config).await.unwrap();
    let policy = policy(100, Duration::from_secs(3600), Algorithm::FixedWindow);
    let check = RedisCheck { name: "p", policy: &policy, key: "k", cost: 1 };
    let now = Some(nanos(T0_US));
    assert!(limiter.check(&[check], now).await.unwrap().0.allowed);

    let mut admin = redis.conn().await;
    let () = redis::cmd("CLIENT").arg("PAUSE").arg(1500).arg("ALL").query_async(&mut admin).await.unwrap();
    let started = Instant::now();
    assert_eq!(limiter.check(&[check], now).await, Err(RedisLimitError::Timeout(timeout)));
    assert_eq!(limiter.ping().await, Err(RedisLimitError::Timeout(timeout)));
    assert!(started.elapsed() < 2 * timeout + HANG, "took {:?}", started.elapsed());

    eventually(Duration::from_secs(10), || async { limiter.check(&[check], now).await.ok() }).await;

    // Scripts flushed: the next call loads it again, and answers.
    let () = redis::cmd("SCRIPT").arg("FLUSH").query_async(&mut admin).await.unwrap();
    assert!(limiter.check(&[check], now).await.unwrap().0.allowed);
}

#[tokio::test]
async fn a_restarted_redis_is_reconnected_by_itself() {
    let Some(mut redis) = OwnRedis::start().await else { return };
    let timeout = Duration::from_millis(200);
    let config = RedisConfig { url: redis.url(), prefix: "restart:".into(), timeout, ..Default::default() };
    let limiter = RedisLimiter::connect(config).await.unwrap();
    let policy = policy(1, Duration::from_secs(3600), Algorithm::FixedWindow);
    let check = RedisCheck { name: "p", policy: &policy, key: "k", cost: 1 };
    let now = Some(nanos(T0_US));
    assert!(limiter.check(&[check], now).await.unwrap().0.allowed);
    assert!(!limiter.check(&[check], now).await.unwrap().0.allowed);

    redis.kill();
    let started = Instant::now();
    for _ in 0..3 {
        let result = limiter.check(&[check], now).await;
        assert!(
            matches!(result, Err(RedisLimitError::Unavailable(_) | RedisLimitError::Timeout(_))),
            "Redis is down: {result:?}"
        );
        assert!(limiter.ping().await.is_err());
    }
    assert!(started.elapsed() < 6 * timeout + HANG, "took {:?}", started.elapsed());

    // Back, empty (no persistence) and without the script. Wait with pings:
    // a check that timed out while the connection came back may still
    // have been counted.
    redis.restart().await;
    eventually(Duration::from_secs(10), || async { limiter.ping().await.ok() }).await;
    let (decision, _) = limiter.check(&[check], now).await.unwrap();
    assert!(decision.allowed, "the restarted Redis forgot the key");
}

#[tokio::test]
async fn redis_answers_its_used_memory() {
    let Some(h) = Harness::start("used_memory").await else { return };
    let used = h.limiter.used_memory().await.unwrap();
    assert!(used > 100_000, "a running Redis uses memory: {used}");
    h.cleanup().await;
}
