//! The rate-limit bench (`rampart bench ratelimit`): rate-limit checks
//! over HTTP against a running server, the way an app asks before doing
//! its work.
//!
//! It defines a policy of its own through the admin API (`bench-…`, a limit
//! no run reaches, so every check is an admitted write; `--backend` picks
//! `memory` or `redis`), then `--concurrency` tasks each loop for
//! `--seconds`: `POST /v1/ratelimit/check` with the next of `--keys` keys,
//! timing each answer. The policy is deleted at the end. One JSON line on
//! stdout gives checks per second and nearest-rank p50 / p99 / max latency;
//! progress goes to stderr. It needs an admin key (the CLI's default).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use rampart_client::client::Client;
use rampart_client::wire::{RateLimitCheckRequest, RateLimitPolicyPut};
use serde::Serialize;
use tokio::task::JoinSet;

use crate::stats::{percentile, round};

/// What the rate-limit bench runs: the options of `rampart bench ratelimit`.
#[derive(Debug, Clone)]
pub struct RatelimitOptions {
    /// Distinct keys the checks go round.
    pub keys: u64,
    /// Checks in flight at once.
    pub concurrency: u32,
    /// How long to run, in seconds.
    pub seconds: u64,
    /// Where the bench policy counts: `memory` or `redis`.
    pub backend: String,
    /// The bench policy's algorithm: `sliding_window`, `fixed_window` or `gcra`.
    pub algorithm: String,
}

/// What `rampart bench ratelimit` prints: one JSON object on one line.
#[derive(Debug, Serialize)]
struct Report {
    backend: String,
    algorithm: String,
    keys: u64,
    concurrency: u32,
    checks: u64,
    seconds: f64,
    checks_per_s: f64,
    p50_ms: Option<f64>,
    p99_ms: Option<f64>,
    max_ms: Option<f64>,
    /// Checks answered by a fallback: the backend failed during the run.
    fallbacks: u64,
}

/// Runs the rate-limit bench against the server `client` talks to and
/// prints its report on stdout.
pub async fn ratelimit(args: RatelimitOptions, client: Client) -> anyhow::Result<()> {
    let name = format!("bench-{}", std::process::id());
    let policy = RateLimitPolicyPut {
        limit: Some(1 << 40),
        window: Some("1h".into()),
        algorithm: Some(args.algorithm.clone()),
        burst: (args.algorithm == "gcra").then_some(1 << 40),
        backend: Some(args.backend.clone()),
        ..RateLimitPolicyPut::default()
    };
    client
        .ratelimit_policy_put(&name, &policy)
        .await
        .context("cannot define the bench policy (an admin key is needed)")?;
    let measured = measure(&args, &client, &name).await;
    if let Err(e) = client.ratelimit_policy_delete(&name).await {
        eprintln!("could not delete the bench policy {name}: {e}");
    }
    let (mut latencies, fallbacks, elapsed) = measured?;
    latencies.sort_by(f64::total_cmp);
    let checks = latencies.len() as u64;
    let seconds = elapsed.as_secs_f64();
    let report = Report {
        backend: args.backend,
        algorithm: args.algorithm,
        keys: args.keys,
        concurrency: args.concurrency,
        checks,
        seconds: round(seconds, 3),
        checks_per_s: round(checks as f64 / seconds, 0),
        p50_ms: percentile(&latencies, 50).map(|v| round(v, 3)),
        p99_ms: percentile(&latencies, 99).map(|v| round(v, 3)),
        max_ms: latencies.last().map(|v| round(*v, 3)),
        fallbacks,
    };
    println!("{}", serde_json::to_string(&report)?);
    Ok(())
}

/// Every check's latency in milliseconds, the fallbacks seen, and the wall time.
async fn measure(args: &RatelimitOptions, client: &Client, policy: &str) -> anyhow::Result<(Vec<f64>, u64, Duration)> {
    let keys: Arc<[String]> = (0..args.keys).map(|i| format!("user:{i}")).collect();
    let next = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = started + Duration::from_secs(args.seconds);
    let mut tasks = JoinSet::new();
    for _ in 0..args.concurrency {
        let (client, keys, next, done, policy) =
            (client.clone(), Arc::clone(&keys), Arc::clone(&next), Arc::clone(&done), policy.to_string());
        tasks.spawn(async move {
            let mut latencies = Vec::with_capacity(64 * 1024);
            let mut fallbacks = 0;
            while Instant::now() < deadline {
                let i = next.fetch_add(1, Ordering::Relaxed) % keys.len() as u64;
                let req = RateLimitCheckRequest {
                    policy: Some(policy.clone()),
                    key: Some(keys[i as usize].clone()),
                    ..RateLimitCheckRequest::default()
                };
                let sent = Instant::now();
                let answer = client.ratelimit_check(&req).await?;
                latencies.push(sent.elapsed().as_secs_f64() * 1000.0);
                if !answer.allowed {
                    bail!("the bench policy denied a check; is another bench using it?");
                }
                fallbacks += u64::from(answer.fallback);
                done.fetch_add(1, Ordering::Relaxed);
            }
            anyhow::Ok((latencies, fallbacks))
        });
    }
    let progress = {
        let done = Arc::clone(&done);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            tick.tick().await;
            let mut last = 0;
            loop {
                tick.tick().await;
                let now = done.load(Ordering::Relaxed);
                eprintln!("ratelimit: {now} checks, {}/s", now - last);
                last = now;
            }
        })
    };
    let (mut latencies, mut fallbacks) = (Vec::new(), 0);
    while let Some(task) = tasks.join_next().await {
        let (mine, fell_back) = task.context("a bench task failed")??;
        latencies.extend(mine);
        fallbacks += fell_back;
    }
    progress.abort();
    Ok((latencies, fallbacks, started.elapsed()))
}
