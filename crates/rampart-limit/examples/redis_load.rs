//! Throughput and latency of the Redis backend: a fixed number of checks in
//! flight over many keys, for a while, through the library.
//!
//! `cargo run --release -p rampart-limit --example redis_load -- [--keys 10000]
//! [--in-flight 64] [--seconds 10] [--url redis://127.0.0.1:6379]
//! [--algorithm sliding_window] [--max-batch 128] [--batches 4] [--limit 1000000]
//! [--workers <cores>]`
//!
//! Prints checks/s and the latency percentiles of one check, as its caller
//! sees it (queueing in the batcher included).

use std::str::FromStr;
use std::time::{Duration, Instant};

use rampart_limit::redis::{RedisCheck, RedisConfig, RedisLimiter};
use rampart_limit::{Algorithm, Policy};

struct Options {
    keys: u64,
    in_flight: usize,
    seconds: u64,
    url: String,
    algorithm: Algorithm,
    max_batch: usize,
    batches: usize,
    limit: u64,
    workers: usize,
}

fn options() -> Result<Options, String> {
    let defaults = RedisConfig::default();
    let mut o = Options {
        keys: 10_000,
        in_flight: 64,
        seconds: 10,
        url: defaults.url,
        algorithm: Algorithm::SlidingWindow,
        max_batch: defaults.max_batch,
        batches: defaults.max_in_flight,
        limit: 1_000_000,
        workers: std::thread::available_parallelism().map_or(2, |n| n.get()),
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        fn parse<T: FromStr>(flag: &str, value: &str) -> Result<T, String> {
            value.parse().map_err(|_| format!("{flag}: cannot read `{value}`"))
        }
        match flag.as_str() {
            "--keys" => o.keys = parse(&flag, &value)?,
            "--in-flight" => o.in_flight = parse(&flag, &value)?,
            "--seconds" => o.seconds = parse(&flag, &value)?,
            "--url" => o.url = value,
            "--algorithm" => o.algorithm = value.parse().map_err(|e| format!("{flag}: {e}"))?,
            "--max-batch" => o.max_batch = parse(&flag, &value)?,
            "--batches" => o.batches = parse(&flag, &value)?,
            "--limit" => o.limit = parse(&flag, &value)?,
            "--workers" => o.workers = parse(&flag, &value)?,
            other => return Err(format!("unknown flag {other}")),
        }
    }
    Ok(o)
}

fn main() {
    let o = match options() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("redis_load: {e}");
            std::process::exit(2);
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(o.workers.max(1))
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(run(o));
}

async fn run(o: Options) {
    let prefix = format!("rampart-bench:{}:", std::process::id());
    let config = RedisConfig {
        url: o.url.clone(),
        prefix: prefix.clone(),
        timeout: Duration::from_secs(1),
        max_batch: o.max_batch,
        max_in_flight: o.batches,
    };
    let limiter = match RedisLimiter::connect(config).await {
        Ok(limiter) => limiter,
        Err(e) => {
            eprintln!("redis_load: {}: {e}", o.url);
            std::process::exit(1);
        }
    };
    let policy = Policy::new(o.limit, Duration::from_secs(60), o.algorithm, None).expect("a valid policy");
    let keys: Vec<String> = (0..o.keys).map(|i| format!("user:{i}")).collect();
    let keys = std::sync::Arc::new(keys);

    // Half a second of warm-up, not counted, then the measured run.
    let warm_up = Duration::from_millis(500);
    let start = Instant::now() + warm_up;
    let end = start + Duration::from_secs(o.seconds);
    let mut info = redis::Client::open(o.url.as_str())
        .expect("the URL connected once")
        .get_multiplexed_async_connection()
        .await
        .expect("Redis answered once");
    let cpu_at_start = tokio::spawn({
        let mut info = info.clone();
        async move {
            tokio::time::sleep_until(start.into()).await;
            (redis_cpu(&mut info).await, own_cpu())
        }
    });
    let workers: Vec<_> = (0..o.in_flight)
        .map(|w| {
            let (limiter, keys) = (limiter.clone(), std::sync::Arc::clone(&keys));
            tokio::spawn(async move {
                let mut rng = 0x9e37_79b9_7f4a_7c15_u64 ^ (w as u64 + 1).wrapping_mul(0xbf58_476d_1ce4_e5b9);
                let mut latencies: Vec<u32> = Vec::with_capacity(1 << 16);
                let (mut allowed, mut errors) = (0u64, 0u64);
                loop {
                    rng ^= rng << 13;
                    rng ^= rng >> 7;
                    rng ^= rng << 17;
                    let key = &keys[(rng % keys.len() as u64) as usize];
                    let check = RedisCheck { name: "bench", policy: &policy, key, cost: 1 };
                    let began = Instant::now();
                    if began >= end {
                        break;
                    }
                    let result = limiter.check(&[check], None).await;
                    if began < start {
                        continue;
                    }
                    latencies.push(u32::try_from(began.elapsed().as_micros()).unwrap_or(u32::MAX));
                    match result {
                        Ok((decision, _)) => allowed += u64::from(decision.allowed),
                        Err(_) => errors += 1,
                    }
                }
                (latencies, allowed, errors)
            })
        })
        .collect();
    let mut latencies = Vec::new();
    let (mut allowed, mut errors) = (0, 0);
    for worker in workers {
        let (l, a, e) = worker.await.expect("a worker");
        latencies.extend(l);
        allowed += a;
        errors += e;
    }
    let (redis_end, own_end) = (redis_cpu(&mut info).await, own_cpu());
    let (redis_start, own_start) = cpu_at_start.await.expect("the CPU sampler");
    latencies.sort_unstable();
    let n = latencies.len();
    let at = |q: f64| latencies.get(((n as f64 * q) as usize).min(n.saturating_sub(1))).copied().unwrap_or(0);
    let ms = |us: u32| f64::from(us) / 1000.0;
    println!(
        "{} checks in {} s over {} keys, {} in flight ({}, max_batch {}, batches {}, {} workers): {:.0} checks/s",
        n,
        o.seconds,
        o.keys,
        o.in_flight,
        o.algorithm,
        o.max_batch,
        o.batches,
        o.workers,
        n as f64 / o.seconds as f64
    );
    println!(
        "latency p50 {:.3} ms, p99 {:.3} ms, p99.9 {:.3} ms, max {:.3} ms; {} allowed, {} errors",
        ms(at(0.50)),
        ms(at(0.99)),
        ms(at(0.999)),
        ms(latencies.last().copied().unwrap_or(0)),
        allowed,
        errors
    );
    // CPU per check does not depend on what else the machine runs the way
    // checks/s does.
    let per_check = |seconds: f64| seconds * 1e6 / n.max(1) as f64;
    println!(
        "CPU per check: Redis {:.2} µs, this process {:.2} µs (both measured over the run, warm-up excluded)",
        per_check(redis_end - redis_start),
        per_check(own_end - own_start)
    );
    cleanup(&o.url, &prefix).await;
}

/// Redis's CPU time so far (user + system), in seconds, from `INFO cpu`.
async fn redis_cpu(conn: &mut redis::aio::MultiplexedConnection) -> f64 {
    let info: String = redis::cmd("INFO").arg("cpu").query_async(conn).await.unwrap_or_default();
    info.lines()
        .filter_map(|line| {
            let (name, value) = line.trim().split_once(':')?;
            matches!(name, "used_cpu_sys" | "used_cpu_user").then(|| value.parse::<f64>().ok())?
        })
        .sum()
}

/// This process's CPU time so far (user + system, every thread), in
/// seconds, from /proc/self/stat (0 where there is none).
fn own_cpu() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // The fields after the command name, which is in parentheses.
    let fields: Vec<&str> =
        stat.rsplit_once(')').map(|(_, rest)| rest.split_whitespace().collect()).unwrap_or_default();
    // utime and stime are fields 14 and 15 of the whole line, in clock ticks (100 a second on Linux).
    let ticks: f64 = fields.get(11..13).map_or(0.0, |t| t.iter().filter_map(|v| v.parse::<f64>().ok()).sum());
    ticks / 100.0
}

/// Deletes the run's keys (they would expire within a minute anyway).
async fn cleanup(url: &str, prefix: &str) {
    let Ok(client) = redis::Client::open(url) else { return };
    let Ok(mut conn) = client.get_multiplexed_async_connection().await else { return };
    let mut cursor = 0u64;
    loop {
        let scanned: Result<(u64, Vec<String>), _> = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(format!("{prefix}*"))
            .arg("COUNT")
            .arg(1000)
            .query_async(&mut conn)
            .await;
        let Ok((next, keys)) = scanned else { return };
        if !keys.is_empty() {
            let _: Result<u64, _> = redis::cmd("DEL").arg(&keys).query_async(&mut conn).await;
        }
        if next == 0 {
            return;
        }
        cursor = next;
    }
}
