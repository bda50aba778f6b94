//! The AI usage bench (`rampart bench usage`): usage events ingested per
//! second in batches over `POST /v1/usage`, then the round trip of a budget
//! reservation (`POST /v1/usage/reserve`).
//!
//! It starts what it measures, in this process: a rampart server on SQLite
//! in a fresh temporary data directory (removed at the end), or on the
//! PostgreSQL of `--database-url`, with two enforced budgets that apply to
//! every call (a global one and one per tenant, both too large to refuse),
//! so each report charges two windows and each reservation holds on two,
//! in one transaction. Requests go over keep-alive HTTP/1.1 on 127.0.0.1
//! with the server's admin key. Every batch must be taken whole and every
//! reservation allowed. One JSON line on stdout gives `events_per_s` and
//! the reservation round trip's percentiles.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use rampart_core::id::BudgetName;
use rampart_core::time::{Clock as _, SystemClock};
use rampart_server::config::{Config, DatabaseUrl};
use rampart_server::server::Server;
use rampart_usage::BudgetSpec;
use serde::Serialize;
use serde_json::json;

use crate::stats::{percentile, rate, round};

/// What the usage bench runs: the options of `rampart bench usage`.
#[derive(Debug, Clone)]
pub struct UsageOptions {
    /// Usage events to report, each once.
    pub events: u64,
    /// Events per `POST /v1/usage`.
    pub batch: u32,
    /// Requests in flight at once.
    pub concurrency: u32,
    /// Reservations to take after the ingest.
    pub reservations: u64,
    /// PostgreSQL to run on instead of SQLite in a temporary directory.
    pub database_url: Option<String>,
}

/// What `rampart bench usage` prints: one JSON object on one line.
#[derive(Debug, Serialize)]
struct Report {
    store: &'static str,
    events: u64,
    batch: u32,
    concurrency: u32,
    ingest_s: f64,
    events_per_s: f64,
    batch_p99_ms: f64,
    reservations: u64,
    reservations_per_s: f64,
    reserve_p50_ms: f64,
    reserve_p99_ms: f64,
}

/// Runs the usage bench and prints its report on stdout.
pub async fn usage(args: UsageOptions) -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("rampart-bench-usage-{}-{}", std::process::id(), SystemClock.now().0));
    let outcome = measure(&args, &dir).await;
    if let Err(e) = std::fs::remove_dir_all(&dir) {
        eprintln!("could not remove the bench data directory {}: {e}", dir.display());
    }
    let report = outcome?;
    println!("{}", serde_json::to_string(&report)?);
    Ok(())
}

fn budget(scope: &str) -> BudgetSpec {
    BudgetSpec {
        scope: Some(scope.into()),
        matches: None,
        amount_usd: 1e9,
        period: Some("month".into()),
        thresholds: None,
        enforce: Some(true),
    }
}

/// Sends `jobs` requests built by `body(n)` to `url`, `concurrency` at a
/// time; answers each one's latency and the wall time.
async fn drive(
    http: &reqwest::Client,
    url: String,
    key: &str,
    jobs: u64,
    concurrency: u32,
    body: Arc<dyn Fn(u64) -> serde_json::Value + Send + Sync>,
    check: fn(&serde_json::Value) -> bool,
) -> anyhow::Result<(Vec<f64>, f64)> {
    let next = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut senders = tokio::task::JoinSet::new();
    for _ in 0..concurrency {
        let (http, url, next, body) = (http.clone(), url.clone(), next.clone(), body.clone());
        let auth = format!("Bearer {key}");
        senders.spawn(async move {
            let mut latencies = Vec::new();
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= jobs {
                    return Ok::<_, anyhow::Error>(latencies);
                }
                let sent = Instant::now();
                let answer = http
                    .post(&url)
                    .header("authorization", &auth)
                    .json(&body(n))
                    .send()
                    .await
                    .context("the server did not answer")?;
                let status = answer.status();
                let value: serde_json::Value = answer.json().await.context("the answer did not arrive")?;
                latencies.push(sent.elapsed().as_secs_f64() * 1000.0);
                if status != reqwest::StatusCode::OK || !check(&value) {
                    bail!("request {n} failed: {status} {value}");
                }
            }
        });
    }
    let mut latencies = Vec::new();
    while let Some(done) = senders.join_next().await {
        latencies.append(&mut done.context("a sender panicked")??);
    }
    let total = started.elapsed().as_secs_f64();
    latencies.sort_by(f64::total_cmp);
    Ok((latencies, total))
}

async fn measure(args: &UsageOptions, dir: &std::path::Path) -> anyhow::Result<Report> {
    let mut config = Config { data_dir: dir.to_path_buf(), listen: "127.0.0.1:0".parse()?, ..Config::default() };
    if let Some(url) = &args.database_url {
        config.database_url = Some(DatabaseUrl::parse(url).map_err(|e| anyhow::anyhow!("--database-url: {e}"))?);
    }
    let store = if config.database_url.is_some() { "postgres" } else { "sqlite" };
    for (name, scope) in [("bench-global", "global"), ("bench-tenant", "tenant")] {
        let name = BudgetName::new(name)?;
        let budget =
            budget(scope).validate(&name).map_err(|p| anyhow::anyhow!("the bench budget is invalid: {p:?}"))?;
        config.usage.budgets.insert(name, budget);
    }
    let server = Server::start(config).await.context("cannot start the in-process server")?;
    let base = format!("http://{}", server.local_addr());
    let key = std::fs::read_to_string(dir.join("admin.key")).context("cannot read the server's admin key")?;
    let key = key.trim().to_string();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(server.run(async move {
        let _ = stopped.await;
    }));
    eprintln!(
        "bench usage: {} events in batches of {}, {} in flight, then {} reservations, {store}",
        args.events, args.batch, args.concurrency, args.reservations
    );
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(args.concurrency as usize)
        .timeout(Duration::from_secs(30))
        .build()?;
    let run = SystemClock.now().0;
    let batch = u64::from(args.batch);
    let batches = args.events.div_ceil(batch);
    let events = args.events;
    let report_body = Arc::new(move |n: u64| {
        let events: Vec<_> = (n * batch..((n + 1) * batch).min(events))
            .map(|i| {
                json!({
                    "call_id": format!("bench-{run}-{i}"), "model": "gpt-4o-mini", "provider": "openai",
                    "input_tokens": 1200, "cached_input_tokens": 400, "output_tokens": 300, "cost_usd": 0.0012,
                    "duration_ms": 800 + i % 400, "success": i % 50 != 0, "feature": "chat",
                    "tenant": format!("org_{}", i % 100), "user": format!("u_{}", i % 1000)
                })
            })
            .collect();
        json!({ "events": events })
    });
    let ingest = drive(&http, format!("{base}/v1/usage"), &key, batches, args.concurrency, report_body, |v| {
        v["duplicates"] == 0
    })
    .await;
    let reserve_body = Arc::new(|n: u64| json!({ "tenant": format!("org_{}", n % 100), "estimated_cost_usd": 0.01 }));
    let reserve = match &ingest {
        Ok(_) => Some(
            drive(
                &http,
                format!("{base}/v1/usage/reserve"),
                &key,
                args.reservations,
                args.concurrency,
                reserve_body,
                |v| v["allowed"] == true,
            )
            .await,
        ),
        Err(_) => None,
    };
    let _ = stop.send(());
    serving.await.context("the in-process server panicked")?.context("the in-process server failed")?;
    let (batch_latencies, ingest_s) = ingest?;
    let (reserve_latencies, reserve_s) = reserve.context("no reservations after a failed ingest")??;
    let ms = |v: Option<f64>| round(v.unwrap_or_default(), 2);
    eprintln!(
        "bench usage: {} events in {ingest_s:.3}s, {} reservations in {reserve_s:.3}s",
        args.events, args.reservations
    );
    Ok(Report {
        store,
        events: args.events,
        batch: args.batch,
        concurrency: args.concurrency,
        ingest_s: round(ingest_s, 3),
        events_per_s: round(rate(args.events, ingest_s), 1),
        batch_p99_ms: ms(percentile(&batch_latencies, 99)),
        reservations: args.reservations,
        reservations_per_s: round(rate(args.reservations, reserve_s), 1),
        reserve_p50_ms: ms(percentile(&reserve_latencies, 50)),
        reserve_p99_ms: ms(percentile(&reserve_latencies, 99)),
    })
}
