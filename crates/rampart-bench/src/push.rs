//! The push bench (`rampart bench push`): push delivery throughput,
//! enqueue to delivered.
//!
//! Unlike the other benches it starts what it measures, in this process:
//! a no-op receiver on 127.0.0.1 (every POST answers `204` at once) and a
//! rampart server on SQLite in a fresh temporary data directory (removed at
//! the end), with one push queue targeting the receiver and `--concurrency`
//! requests in flight. The server runs its real dispatcher, store and
//! HTTP client; only the receiver is trivial, so the figure is rampart's.
//!
//! The clock starts before the first enqueue. `--jobs` jobs go in through
//! the engine in batches of `--batch` while the dispatcher is already
//! delivering; the clock stops when the store counts every job completed
//! (every delivery answered and its ack committed). One JSON line on
//! stdout gives `jobs_per_s`; progress goes to stderr.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use axum::http::StatusCode;
use rampart_core::id::QueueName;
use rampart_core::job::JobState;
use rampart_core::time::{Clock as _, SystemClock};
use rampart_server::config::{Config, PushTarget, QueueConfig};
use rampart_server::engine::{Engine, JobSpec};
use rampart_server::server::Server;
use serde::Serialize;

use crate::stats::{rate, round};

/// How often the completed count is read.
const POLL_EVERY: Duration = Duration::from_millis(10);

/// How long the run may go without a completion before the bench gives up.
const STALL_LIMIT: Duration = Duration::from_secs(30);

/// What the push bench runs: the options of `rampart bench push`.
#[derive(Debug, Clone)]
pub struct PushOptions {
    /// Jobs to push.
    pub jobs: u64,
    /// Deliveries in flight at once (the push queue's `concurrency`).
    pub concurrency: u32,
    /// Jobs per enqueue call (at most `MAX_ENQUEUE_BATCH`).
    pub batch: u32,
}

/// What `rampart bench push` prints: one JSON object on one line.
#[derive(Debug, Serialize)]
struct Report {
    store: &'static str,
    jobs: u64,
    concurrency: u32,
    batch: u32,
    enqueue_s: f64,
    total_s: f64,
    jobs_per_s: f64,
    requests: u64,
}

/// Runs the push bench and prints its report on stdout.
pub async fn push(args: PushOptions) -> anyhow::Result<()> {
    let delivered = Arc::new(AtomicU64::new(0));
    let receiver = {
        let delivered = delivered.clone();
        axum::Router::new().route(
            "/",
            axum::routing::post(move || {
                let delivered = delivered.clone();
                async move {
                    delivered.fetch_add(1, Ordering::Relaxed);
                    StatusCode::NO_CONTENT
                }
            }),
        )
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.context("cannot start the bench receiver")?;
    let target = format!("http://{}/", listener.local_addr()?);
    let receiving = tokio::spawn(async move { axum::serve(listener, receiver).await });

    let dir = std::env::temp_dir().join(format!("rampart-bench-push-{}-{}", std::process::id(), SystemClock.now().0));
    let outcome = measure(&args, &target, &dir, &delivered).await;
    receiving.abort();
    if let Err(e) = std::fs::remove_dir_all(&dir) {
        eprintln!("could not remove the bench data directory {}: {e}", dir.display());
    }
    let report = outcome?;
    println!("{}", serde_json::to_string(&report)?);
    Ok(())
}

async fn measure(
    args: &PushOptions,
    target: &str,
    dir: &std::path::Path,
    delivered: &AtomicU64,
) -> anyhow::Result<Report> {
    let queue = QueueName::new("bench-push")?;
    let mut config = Config { data_dir: dir.to_path_buf(), listen: "127.0.0.1:0".parse()?, ..Config::default() };
    let push = QueueConfig {
        target: Some(PushTarget::parse(target).map_err(anyhow::Error::msg)?),
        concurrency: Some(args.concurrency),
        timeout: Some(QueueConfig::PUSH_TIMEOUT),
        ..config.queue_defaults.clone()
    };
    config.queues.insert(queue.clone(), push);
    let server = Server::start(config).await.context("cannot start the in-process server")?;
    let engine = server.engine();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(server.run(async move {
        let _ = stopped.await;
    }));
    eprintln!("bench push: {} jobs to a no-op receiver, {} in flight, SQLite", args.jobs, args.concurrency);

    let started = Instant::now();
    enqueue_all(&engine, &queue, args).await?;
    let enqueue_s = started.elapsed().as_secs_f64();
    eprintln!("bench push: enqueued in {enqueue_s:.3}s");
    let done = wait_completed(&engine, &queue, args.jobs).await;
    let total_s = started.elapsed().as_secs_f64();
    let _ = stop.send(());
    serving.await.context("the in-process server panicked")?.context("the in-process server failed")?;
    done?;
    eprintln!("bench push: {} jobs delivered in {total_s:.3}s", args.jobs);
    Ok(Report {
        store: "sqlite",
        jobs: args.jobs,
        concurrency: args.concurrency,
        batch: args.batch,
        enqueue_s: round(enqueue_s, 3),
        total_s: round(total_s, 3),
        jobs_per_s: round(rate(args.jobs, total_s), 1),
        requests: delivered.load(Ordering::Relaxed),
    })
}

async fn enqueue_all(engine: &Engine, queue: &QueueName, args: &PushOptions) -> anyhow::Result<()> {
    let mut next = 0;
    while next < args.jobs {
        let count = u64::from(args.batch).min(args.jobs - next);
        let specs =
            (next..next + count).map(|n| JobSpec { payload: format!("{{\"n\":{n}}}"), ..JobSpec::default() }).collect();
        engine.enqueue(queue, specs).await.context("enqueueing the bench jobs failed")?;
        next += count;
    }
    Ok(())
}

/// Waits until the store counts `jobs` completed jobs in the queue.
async fn wait_completed(engine: &Engine, queue: &QueueName, jobs: u64) -> anyhow::Result<()> {
    let (mut last, mut last_change, mut last_report) = (0, Instant::now(), Instant::now());
    loop {
        let counts = engine.queue(queue).await.context("reading the queue's counts failed")?.counts;
        let completed = counts.get(JobState::Completed);
        if completed >= jobs {
            return Ok(());
        }
        if counts.get(JobState::Dead) > 0 {
            bail!("{} bench jobs are dead: the no-op receiver did not answer them", counts.get(JobState::Dead));
        }
        if completed != last {
            (last, last_change) = (completed, Instant::now());
        } else if last_change.elapsed() > STALL_LIMIT {
            bail!("no delivery completed for {}s ({completed} of {jobs} done)", STALL_LIMIT.as_secs());
        }
        if last_report.elapsed() >= Duration::from_secs(1) {
            eprintln!("bench push: {completed} of {jobs} delivered");
            last_report = Instant::now();
        }
        tokio::time::sleep(POLL_EVERY).await;
    }
}
