//! The step-function bench (`rampart bench steps`): jobs of four no-op
//! steps per second through the HTTP API, each step recorded durably before
//! its answer, the way a step-function worker runs them.
//!
//! Like the push bench it starts what it measures, in this process: a
//! rampart server on SQLite in a fresh temporary data directory (removed at
//! the end). The jobs are enqueued in batches before the clock starts;
//! `--concurrency` workers then lease up to `--batch` jobs at a time and,
//! for each, record four steps (`PUT /v1/jobs/{id}/steps/{step}`) and
//! complete it in one `POST /v1/acks` per lease. The clock stops when the
//! last job is completed; every job must then be completed with four steps.
//! One JSON line on stdout gives `jobs_per_s` and `steps_per_s`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use rampart_client::client::Client;
use rampart_client::wire::{AcksRequest, BatchRequest, CompleteAck, EnqueueRequest, LeaseRequest, StepRecordRequest};
use rampart_core::id::QueueName;
use rampart_core::job::JobState;
use rampart_core::time::{Clock as _, SystemClock};
use rampart_server::config::Config;
use rampart_server::server::Server;
use serde::Serialize;
use serde_json::value::RawValue;

use crate::stats::{rate, round};

/// The queue the bench fills and drains.
const QUEUE: &str = "bench-steps";
/// Steps per job: the seed's photo analysis.
const STEPS: [&str; 4] = ["analyze photos", "generate scope", "save", "update score"];

/// What the steps bench runs: the options of `rampart bench steps`.
#[derive(Debug, Clone)]
pub struct StepsOptions {
    /// Jobs to run, four steps each.
    pub jobs: u64,
    /// Workers at once.
    pub concurrency: u32,
    /// Jobs per lease.
    pub batch: u32,
}

/// What `rampart bench steps` prints: one JSON object on one line.
#[derive(Debug, Serialize)]
struct Report {
    store: &'static str,
    jobs: u64,
    steps_per_job: usize,
    concurrency: u32,
    batch: u32,
    total_s: f64,
    jobs_per_s: f64,
    steps_per_s: f64,
}

/// Runs the steps bench and prints its report on stdout.
pub async fn steps(args: StepsOptions) -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("rampart-bench-steps-{}-{}", std::process::id(), SystemClock.now().0));
    let outcome = measure(&args, &dir).await;
    if let Err(e) = std::fs::remove_dir_all(&dir) {
        eprintln!("could not remove the bench data directory {}: {e}", dir.display());
    }
    let report = outcome?;
    println!("{}", serde_json::to_string(&report)?);
    Ok(())
}

async fn measure(args: &StepsOptions, dir: &std::path::Path) -> anyhow::Result<Report> {
    let config = Config { data_dir: dir.to_path_buf(), listen: "127.0.0.1:0".parse()?, ..Config::default() };
    let server = Server::start(config).await.context("cannot start the in-process server")?;
    let base = format!("http://{}", server.local_addr());
    let key = std::fs::read_to_string(dir.join("admin.key")).context("cannot read the server's admin key")?;
    let client = Client::new(&base, Some(key.trim().to_string()))?;
    let engine = server.engine();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(server.run(async move {
        let _ = stopped.await;
    }));
    eprintln!(
        "bench steps: {} jobs of {} steps, {} workers, {} per lease, SQLite",
        args.jobs,
        STEPS.len(),
        args.concurrency,
        args.batch
    );
    let mut left = args.jobs;
    while left > 0 {
        let n = left.min(1_000);
        let jobs =
            (0..n).map(|_| EnqueueRequest::new(RawValue::from_string("{}".into()).unwrap_or_default())).collect();
        client.enqueue_batch(QUEUE, &BatchRequest { jobs }).await.context("enqueue failed")?;
        left -= n;
    }

    let started = Instant::now();
    let done = Arc::new(AtomicU64::new(0));
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..args.concurrency {
        let (client, done, total, batch) = (client.clone(), done.clone(), args.jobs, args.batch);
        workers.spawn(async move { work(client, done, total, batch).await });
    }
    let mut failure = None;
    while let Some(ended) = workers.join_next().await {
        if let Err(e) = ended.context("a worker panicked")? {
            failure = Some(e);
        }
    }
    let total_s = started.elapsed().as_secs_f64();
    let completed = engine.queue(&QueueName::new(QUEUE)?).await.map(|q| q.counts.get(JobState::Completed));
    let _ = stop.send(());
    serving.await.context("the in-process server panicked")?.context("the in-process server failed")?;
    if let Some(e) = failure {
        return Err(e);
    }
    let completed = completed.context("reading the queue's counts failed")?;
    if completed != args.jobs {
        bail!("{} jobs were enqueued but {completed} completed", args.jobs);
    }
    eprintln!("bench steps: {} jobs in {total_s:.3}s", args.jobs);
    Ok(Report {
        store: "sqlite",
        jobs: args.jobs,
        steps_per_job: STEPS.len(),
        concurrency: args.concurrency,
        batch: args.batch,
        total_s: round(total_s, 3),
        jobs_per_s: round(rate(args.jobs, total_s), 1),
        steps_per_s: round(rate(args.jobs * STEPS.len() as u64, total_s), 1),
    })
}

/// One worker: lease, record each job's steps, complete the lease's jobs in one call.
async fn work(client: Client, done: Arc<AtomicU64>, total: u64, batch: u32) -> anyhow::Result<()> {
    let lease =
        LeaseRequest { max: Some(batch), wait: Some(Duration::from_millis(200).into()), ..LeaseRequest::default() };
    while done.load(Ordering::SeqCst) < total {
        let jobs = client.lease(QUEUE, &lease).await.context("lease failed")?.jobs;
        let mut complete = Vec::with_capacity(jobs.len());
        for job in jobs {
            let id = job.id.to_string();
            for step in STEPS {
                if job.steps.contains_key(step) {
                    continue;
                }
                let result = RawValue::from_string("null".into()).unwrap_or_default();
                let record = StepRecordRequest { lease_token: job.lease_token.clone(), result };
                client.step_record(&id, step, &record).await.with_context(|| format!("step of job {id} failed"))?;
            }
            complete.push(CompleteAck { id: job.id, lease_token: job.lease_token, result: None });
        }
        if complete.is_empty() {
            continue;
        }
        let n = complete.len() as u64;
        client.acks(&AcksRequest { complete, fail: Vec::new() }).await.context("acks failed")?;
        done.fetch_add(n, Ordering::SeqCst);
    }
    Ok(())
}
