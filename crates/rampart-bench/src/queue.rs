//! The queue bench (`rampart bench queue`): drives a running server over
//! HTTP the way real producers and workers do, and reports what it
//! measured as one JSON line.
//!
//! It starts nothing itself; point it at a server with the global `--url`
//! and `--api-key`. Three phases run one after the other:
//!
//! 1. **Enqueue.** `--jobs` jobs with a tiny payload (`{"n":…}`) go to the
//!    queue in batches of `--batch` through `POST /v1/queues/{q}/jobs/batch`,
//!    `--producers` batches in flight at once. The wall time from the first
//!    request to the last answer gives `enqueue_per_s`.
//! 2. **Drain** (skipped with `--skip-drain`). `--concurrency` pull workers
//!    share one connection pool; each loops: lease up to `--lease-batch` jobs
//!    (long-polling `1s`), then complete them all in one `POST /v1/acks`. The
//!    phase ends when the completions the server confirmed reach `--jobs`;
//!    the time from the first lease to that moment gives `process_per_s`.
//! 3. **Latency** (skipped with `--skip-drain` or `--latency-samples 0`). On
//!    a queue of its own (`<queue>-latency`), one idle worker long-polls for a
//!    single job (`30s`) while a producer enqueues one job at a time. Each
//!    sample starts at the instant before the enqueue request; *start* is when
//!    the worker's lease answer carrying that job arrives, *complete* when the
//!    worker's `complete` call for it returns. The next job is enqueued only
//!    after the previous one completed (and a short pause that lets the worker
//!    get back into its long-poll), so every sample measures the wake-up of a
//!    waiting worker. The report gives nearest-rank p50 and p99 of both.
//!
//! With `--worker-url` the drain workers and the latency worker talk to
//! another node while jobs are enqueued through `--url` (same API key): with
//! two nodes on one PostgreSQL, the latency is then enqueue on one node to
//! start on the other, a wake-up that crosses the database.
//!
//! With `--server-pid` (Linux) the server's resident memory (`VmRSS` in
//! `/proc/<pid>/status`) is read before the enqueue, after it and at the end;
//! `--skip-drain` with a million jobs shows the memory a full queue costs.
//!
//! Progress goes to stderr about once a second; stdout gets only the report,
//! so scripts can collect it. Any failed request ends the bench with an error
//! naming the phase.

use std::sync::Arc;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow, bail};
use rampart_client::client::Client;
use rampart_client::wire::{
    AckResult, AcksRequest, BatchRequest, CompleteAck, CompleteRequest, EnqueueRequest, LeaseRequest,
};
use rampart_core::id::QueueName;
use rampart_core::job::JobState;
use rampart_core::time::{Clock as _, SystemClock};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use tokio::sync::mpsc;
use tokio::task::{JoinHandle, JoinSet};

use crate::stats::{percentile, rate, round};

/// How often progress is written to stderr.
const PROGRESS_EVERY: Duration = Duration::from_secs(1);

/// How long the drain may go without a single completion before the bench
/// gives up (another consumer on the queue, or a stuck server).
const DRAIN_STALL_LIMIT: Duration = Duration::from_secs(30);

/// How long a drain worker long-polls when the queue looks empty.
const DRAIN_WAIT: Duration = Duration::from_secs(1);

/// How long the latency worker long-polls (the server's maximum).
const LATENCY_WAIT: Duration = Duration::from_secs(30);

/// The lease length asked for: far longer than any ack takes here, so no
/// lease expires during a run.
const LEASE_LENGTH: Duration = Duration::from_secs(60);

/// The pause before each latency sample, so the worker is back in its
/// long-poll and the sample measures a wake-up, not a job already waiting.
const SAMPLE_GAP: Duration = Duration::from_millis(5);

/// How long one latency sample may take before the bench gives up.
const SAMPLE_TIMEOUT: Duration = Duration::from_secs(30);

/// What the queue bench runs: the options of `rampart bench queue`.
#[derive(Debug, Clone)]
pub struct QueueOptions {
    /// Jobs to enqueue and then drain.
    pub jobs: u64,
    /// Concurrent pull workers in the drain.
    pub concurrency: u32,
    /// Jobs per enqueue batch request.
    pub batch: u32,
    /// Most jobs one lease call takes.
    pub lease_batch: u32,
    /// Enqueue batch requests in flight at once.
    pub producers: u32,
    /// Jobs enqueued one at a time to measure latency (0 skips the phase).
    pub latency_samples: u32,
    /// The queue to use (`bench-<unix millis>` when `None`); the latency
    /// phase uses `<queue>-latency`.
    pub queue: Option<QueueName>,
    /// Only enqueue, and leave the jobs waiting.
    pub skip_drain: bool,
    /// The server's process id, to report its resident memory (Linux).
    pub server_pid: Option<u32>,
    /// Other nodes of the same cluster for the workers to lease from, round
    /// robin (the latency worker uses the first); empty for the `client`'s.
    pub worker_url: Vec<String>,
}

/// What `rampart bench queue` prints: one JSON object on one line. Fields
/// of phases that did not run are `null`.
#[derive(Debug, Default, Serialize)]
struct Report {
    queue: String,
    /// The store of the `--url` server (`sqlite`, `postgres`), when it says.
    store: Option<String>,
    /// The servers the workers used, when not the `--url` one.
    worker_urls: Vec<String>,
    jobs: u64,
    batch: u32,
    concurrency: u32,
    lease_batch: u32,
    producers: u32,
    enqueue_s: Option<f64>,
    enqueue_per_s: Option<f64>,
    process_s: Option<f64>,
    process_per_s: Option<f64>,
    start_p50_ms: Option<f64>,
    start_p99_ms: Option<f64>,
    complete_p50_ms: Option<f64>,
    complete_p99_ms: Option<f64>,
    latency_samples: Option<u32>,
    server_rss_mb_before: Option<f64>,
    server_rss_mb_after_enqueue: Option<f64>,
    server_rss_mb_end: Option<f64>,
}

/// Runs the queue bench against the server `client` talks to and prints
/// its report on stdout.
pub async fn queue(args: QueueOptions, client: Client) -> anyhow::Result<()> {
    // Also tags the latency payloads, so leftovers of an earlier run on the
    // same queue are never taken for this run's samples.
    let run_id = SystemClock.now().0;
    let queue = match args.queue.clone() {
        Some(queue) => queue,
        None => QueueName::new(&format!("bench-{run_id}"))?,
    };
    let latency_queue = QueueName::new(&format!("{queue}-latency"))
        .context("the latency phase needs `<queue>-latency` as a queue name; choose a shorter --queue")?;
    let rss = |pid: Option<u32>| pid.map(server_rss_mb).transpose();
    let workers = match args.worker_url.as_slice() {
        [] => vec![client.clone()],
        urls => urls.iter().map(|url| client.at(url)).collect::<Result<Vec<_>, _>>()?,
    };
    // Only to label the report: a server without readiness still gets benched.
    let store = client.ready().await.ok().map(|ready| ready.components.store.backend);

    let mut report = Report {
        queue: queue.to_string(),
        store: store.clone(),
        worker_urls: args.worker_url.clone(),
        jobs: args.jobs,
        batch: args.batch,
        concurrency: args.concurrency,
        lease_batch: args.lease_batch,
        producers: args.producers,
        ..Report::default()
    };
    report.server_rss_mb_before = rss(args.server_pid)?;
    eprintln!(
        "bench queue: {} jobs to queue `{queue}` in batches of {}, {} producers; store {}",
        args.jobs,
        args.batch,
        args.producers,
        store.as_deref().unwrap_or("unknown")
    );
    if !args.worker_url.is_empty() {
        eprintln!("bench queue: workers lease from {}", args.worker_url.join(", "));
    }

    let enqueue_s = enqueue_phase(&client, &queue, &args).await?;
    report.enqueue_s = Some(round(enqueue_s, 3));
    report.enqueue_per_s = Some(round(rate(args.jobs, enqueue_s), 1));
    report.server_rss_mb_after_enqueue = rss(args.server_pid)?;

    if !args.skip_drain {
        let process_s = drain_phase(&workers, &queue, &args).await?;
        report.process_s = Some(round(process_s, 3));
        report.process_per_s = Some(round(rate(args.jobs, process_s), 1));

        if args.latency_samples > 0 {
            let latency = latency_phase(&client, &workers[0], &latency_queue, args.latency_samples, run_id).await?;
            report.start_p50_ms = percentile(&latency.start_ms, 50).map(|v| round(v, 3));
            report.start_p99_ms = percentile(&latency.start_ms, 99).map(|v| round(v, 3));
            report.complete_p50_ms = percentile(&latency.complete_ms, 50).map(|v| round(v, 3));
            report.complete_p99_ms = percentile(&latency.complete_ms, 99).map(|v| round(v, 3));
            report.latency_samples = Some(args.latency_samples);
        }
    }
    report.server_rss_mb_end = rss(args.server_pid)?;

    println!("{}", serde_json::to_string(&report)?);
    Ok(())
}

/// Enqueues `--jobs` jobs in batches, `--producers` batches at a time, and
/// returns the wall time in seconds.
async fn enqueue_phase(client: &Client, queue: &QueueName, args: &QueueOptions) -> anyhow::Result<f64> {
    let total = args.jobs;
    let batch = u64::from(args.batch);
    let batches = total.div_ceil(batch);
    let next_batch = Arc::new(AtomicU64::new(0));
    let enqueued = Arc::new(AtomicU64::new(0));

    let started = Instant::now();
    let mut tasks = JoinSet::new();
    for _ in 0..args.producers {
        let (client, queue) = (client.clone(), queue.clone());
        let (next_batch, enqueued) = (next_batch.clone(), enqueued.clone());
        tasks.spawn(async move {
            loop {
                let index = next_batch.fetch_add(1, Ordering::Relaxed);
                if index >= batches {
                    return Ok(());
                }
                let first = index * batch;
                let count = batch.min(total - first);
                let jobs = (first..first + count)
                    .map(|n| tiny_payload(&format!("{{\"n\":{n}}}")).map(EnqueueRequest::new))
                    .collect::<anyhow::Result<Vec<_>>>()?;
                let answer = client
                    .enqueue_batch(queue.as_str(), &BatchRequest { jobs })
                    .await
                    .with_context(|| format!("enqueue phase: a batch of {count} jobs to queue `{queue}` failed"))?;
                if answer.ids.len() as u64 != count {
                    bail!("enqueue phase: the server took {} of a batch of {count} jobs", answer.ids.len());
                }
                enqueued.fetch_add(count, Ordering::Relaxed);
            }
        });
    }
    supervise("enqueue", &mut tasks, &enqueued, total, None).await?;
    let seconds = started.elapsed().as_secs_f64();
    eprintln!("bench queue: enqueue done: {total} jobs in {seconds:.3}s, {:.0} jobs/s", rate(total, seconds));
    Ok(seconds)
}

/// Drains the queue with `--concurrency` pull workers until the server has
/// confirmed `--jobs` completions, and returns the time that took in seconds.
async fn drain_phase(clients: &[Client], queue: &QueueName, args: &QueueOptions) -> anyhow::Result<f64> {
    let target = args.jobs;
    let completed = Arc::new(AtomicU64::new(0));
    // Set by the worker whose ack brings the count to the target, so the
    // last idle long-polls winding down do not count in the time.
    let finished = Arc::new(OnceLock::new());
    let lease = LeaseRequest {
        max: Some(args.lease_batch),
        wait: Some(DRAIN_WAIT.into()),
        lease: Some(LEASE_LENGTH.into()),
        worker: None,
    };

    eprintln!("bench queue: draining with {} workers, up to {} jobs per lease", args.concurrency, args.lease_batch);
    let started = Instant::now();
    let mut tasks = JoinSet::new();
    for index in 0..args.concurrency {
        let (client, queue) = (clients[index as usize % clients.len()].clone(), queue.clone());
        let (completed, finished) = (completed.clone(), finished.clone());
        let lease = LeaseRequest { worker: Some(format!("bench-{index}")), ..lease.clone() };
        tasks.spawn(async move {
            while completed.load(Ordering::Relaxed) < target {
                let leased = client
                    .lease(queue.as_str(), &lease)
                    .await
                    .with_context(|| format!("drain phase: worker {index} could not lease from queue `{queue}`"))?;
                if leased.jobs.is_empty() {
                    continue;
                }
                let acks = AcksRequest {
                    complete: leased
                        .jobs
                        .into_iter()
                        .map(|j| CompleteAck { id: j.id, lease_token: j.lease_token, result: None })
                        .collect(),
                    fail: Vec::new(),
                };
                let answer = client
                    .acks(&acks)
                    .await
                    .with_context(|| format!("drain phase: worker {index} could not ack its jobs"))?;
                let mut done = 0;
                for result in &answer.results {
                    if result.state != Some(JobState::Completed) {
                        bail!("drain phase: {}", refused_ack(result));
                    }
                    done += 1;
                }
                let before = completed.fetch_add(done, Ordering::Relaxed);
                if before < target && before + done >= target {
                    // Only the first setter matters; a later one is no news.
                    let _ = finished.set(Instant::now());
                }
            }
            Ok(())
        });
    }
    supervise("drain", &mut tasks, &completed, target, Some(DRAIN_STALL_LIMIT)).await?;
    let seconds = finished.get().copied().unwrap_or_else(Instant::now).duration_since(started).as_secs_f64();
    eprintln!("bench queue: drain done: {target} jobs in {seconds:.3}s, {:.0} jobs/s", rate(target, seconds));
    Ok(seconds)
}

/// Why the server did not complete a job in a batch ack.
fn refused_ack(result: &AckResult) -> String {
    match (&result.state, &result.error) {
        (_, Some(error)) => {
            format!("the server refused to complete job {}: {}: {}", result.id, error.code, error.message)
        }
        (Some(state), None) => format!("job {} went to `{state}` instead of `completed`", result.id),
        (None, None) => format!("the server answered neither a state nor an error for job {}", result.id),
    }
}

/// The instant before one latency job's enqueue, passed from the producer
/// to the worker before the request goes out (the worker may see the job
/// before the producer sees the enqueue's answer).
#[derive(Debug, Clone, Copy)]
struct SampleStart {
    seq: u32,
    at: Instant,
}

/// One measured job: enqueue to lease answer, and enqueue to completion.
#[derive(Debug, Clone, Copy)]
struct Sample {
    start: Duration,
    complete: Duration,
}

/// The payload of a latency job.
#[derive(Debug, Deserialize)]
struct LatencyTag {
    n: u32,
    run: i64,
}

/// Latency samples in milliseconds, each list sorted.
struct Latency {
    start_ms: Vec<f64>,
    complete_ms: Vec<f64>,
}

/// Aborts a spawned task when dropped, so an early return does not leave
/// the latency worker long-polling.
struct AbortOnDrop<T>(JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Enqueues `samples` jobs one at a time through `client` while one idle
/// worker takes them through `workers`.
async fn latency_phase(
    client: &Client,
    workers: &Client,
    queue: &QueueName,
    samples: u32,
    run_id: i64,
) -> anyhow::Result<Latency> {
    eprintln!("bench queue: latency: {samples} jobs one at a time through queue `{queue}`");
    let (starts_tx, starts_rx) = mpsc::unbounded_channel();
    let (samples_tx, mut samples_rx) = mpsc::unbounded_channel();
    // A clone shares the connection pool, but an HTTP/1.1 connection carries
    // one request at a time: the worker's long-poll holds a connection of its
    // own and the producer's enqueue never waits behind it.
    let mut worker =
        AbortOnDrop(tokio::spawn(latency_worker(workers.clone(), queue.clone(), run_id, starts_rx, samples_tx)));

    let mut start_ms = Vec::with_capacity(samples as usize);
    let mut complete_ms = Vec::with_capacity(samples as usize);
    let mut last_report = Instant::now();
    for seq in 0..samples {
        tokio::time::sleep(SAMPLE_GAP).await;
        let payload = tiny_payload(&format!("{{\"n\":{seq},\"run\":{run_id}}}"))?;
        let at = Instant::now();
        if starts_tx.send(SampleStart { seq, at }).is_err() {
            return Err(worker_failure(&mut worker).await);
        }
        client
            .enqueue(queue.as_str(), &EnqueueRequest::new(payload))
            .await
            .with_context(|| format!("latency phase: enqueueing job {seq} to queue `{queue}` failed"))?;
        let sample = match tokio::time::timeout(SAMPLE_TIMEOUT, samples_rx.recv()).await {
            Ok(Some(sample)) => sample,
            Ok(None) => return Err(worker_failure(&mut worker).await),
            Err(_) => bail!(
                "latency phase: job {seq} was not completed within {}s; is another worker taking jobs from queue `{queue}`?",
                SAMPLE_TIMEOUT.as_secs()
            ),
        };
        start_ms.push(sample.start.as_secs_f64() * 1e3);
        complete_ms.push(sample.complete.as_secs_f64() * 1e3);
        if last_report.elapsed() >= PROGRESS_EVERY {
            last_report = Instant::now();
            eprintln!("bench queue: latency {}/{samples} samples", seq + 1);
        }
    }
    drop(worker);

    start_ms.sort_by(f64::total_cmp);
    complete_ms.sort_by(f64::total_cmp);
    let p = |v: &[f64], n| percentile(v, n).unwrap_or(f64::NAN);
    eprintln!(
        "bench queue: latency done: start p50 {:.3}ms p99 {:.3}ms, complete p50 {:.3}ms p99 {:.3}ms",
        p(&start_ms, 50),
        p(&start_ms, 99),
        p(&complete_ms, 50),
        p(&complete_ms, 99)
    );
    Ok(Latency { start_ms, complete_ms })
}

/// The error that stopped the latency worker.
async fn worker_failure(worker: &mut AbortOnDrop<anyhow::Result<()>>) -> anyhow::Error {
    match (&mut worker.0).await {
        Ok(Err(e)) => e,
        Ok(Ok(())) => anyhow!("latency phase: the worker stopped early"),
        Err(e) => anyhow!("latency phase: the worker failed: {e}"),
    }
}

/// The idle worker of the latency phase: long-polls for one job, completes
/// it, and reports the sample when the job is the one the producer announced.
async fn latency_worker(
    client: Client,
    queue: QueueName,
    run_id: i64,
    mut starts: mpsc::UnboundedReceiver<SampleStart>,
    samples: mpsc::UnboundedSender<Sample>,
) -> anyhow::Result<()> {
    let lease = LeaseRequest {
        max: Some(1),
        wait: Some(LATENCY_WAIT.into()),
        lease: Some(LEASE_LENGTH.into()),
        worker: Some("bench-latency".to_string()),
    };
    let mut pending: Option<SampleStart> = None;
    loop {
        let leased = client
            .lease(queue.as_str(), &lease)
            .await
            .with_context(|| format!("latency phase: the worker could not lease from queue `{queue}`"))?;
        let leased_at = Instant::now();
        let Some(leased) = leased.jobs.into_iter().next() else {
            continue;
        };
        // The producer announces a job before enqueueing it, so its start is here by now.
        while let Ok(start) = starts.try_recv() {
            pending = Some(start);
        }
        let tag = serde_json::from_str::<LatencyTag>(leased.payload.get()).ok();
        let sampled = pending.filter(|p| tag.is_some_and(|t| t.run == run_id && t.n == p.seq));
        let acked = client
            .complete(&leased.id.to_string(), &CompleteRequest { lease_token: leased.lease_token, result: None })
            .await
            .with_context(|| format!("latency phase: the worker could not complete job {}", leased.id))?;
        let completed_at = Instant::now();
        if acked.state != JobState::Completed {
            bail!("latency phase: job {} went to `{}` instead of `completed`", acked.id, acked.state);
        }
        if let Some(start) = sampled {
            pending = None;
            let sample =
                Sample { start: leased_at.duration_since(start.at), complete: completed_at.duration_since(start.at) };
            if samples.send(sample).is_err() {
                return Ok(());
            }
        }
    }
}

/// Waits for a phase's tasks while writing progress to stderr about once a
/// second. Returns the first task error; the caller dropping `tasks` then
/// aborts the others. With `stall_limit`, fails when `done` has not moved
/// for that long before reaching `total`.
async fn supervise(
    phase: &str,
    tasks: &mut JoinSet<anyhow::Result<()>>,
    done: &AtomicU64,
    total: u64,
    stall_limit: Option<Duration>,
) -> anyhow::Result<()> {
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + PROGRESS_EVERY, PROGRESS_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let (mut last_at, mut last_done) = (Instant::now(), 0);
    let mut last_change = Instant::now();
    loop {
        tokio::select! {
            joined = tasks.join_next() => match joined {
                None => return Ok(()),
                Some(Ok(Ok(()))) => {}
                Some(Ok(Err(e))) => return Err(e),
                Some(Err(e)) => bail!("{phase} phase: a task failed: {e}"),
            },
            _ = tick.tick() => {
                let now_done = done.load(Ordering::Relaxed);
                let now = Instant::now();
                let current = (now_done - last_done) as f64 / now.duration_since(last_at).as_secs_f64();
                eprintln!("bench queue: {phase} {now_done}/{total} jobs, {current:.0} jobs/s");
                if now_done != last_done {
                    last_change = now;
                }
                if let Some(limit) = stall_limit
                    && now_done < total
                    && now.duration_since(last_change) >= limit
                {
                    bail!(
                        "{phase} phase: no progress for {}s at {now_done} of {total} jobs; is another worker taking jobs from the queue, or is the server stuck?",
                        limit.as_secs()
                    );
                }
                (last_at, last_done) = (now, now_done);
            }
        }
    }
}

fn tiny_payload(json: &str) -> anyhow::Result<Box<RawValue>> {
    RawValue::from_string(json.to_string()).with_context(|| format!("`{json}` is not JSON"))
}

/// The server's resident memory in MiB, from `/proc/<pid>/status`.
fn server_rss_mb(pid: u32) -> anyhow::Result<f64> {
    let path = format!("/proc/{pid}/status");
    let status = std::fs::read_to_string(&path).with_context(|| {
        format!("cannot read the server's memory from {path}; is --server-pid the running server's pid (Linux only)?")
    })?;
    let kib = vm_rss_kib(&status).with_context(|| format!("{path} has no VmRSS line"))?;
    Ok(round(kib as f64 / 1024.0, 1))
}

/// The `VmRSS` of a `/proc/<pid>/status` text, in KiB (`VmRSS:  1234 kB`).
fn vm_rss_kib(status: &str) -> Option<u64> {
    let value = status.lines().find_map(|line| line.strip_prefix("VmRSS:"))?;
    let mut words = value.split_whitespace();
    let kib = words.next()?.parse().ok()?;
    (words.next() == Some("kB")).then_some(kib)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vm_rss_is_read_from_proc_status() {
        fn check(status: &str, expected: Option<u64>) {
            assert_eq!(vm_rss_kib(status), expected, "{status:?}");
        }
        let status =
            "Name:\trampart\nVmPeak:\t  912340 kB\nVmHWM:\t   60312 kB\nVmRSS:\t   58212 kB\nRssAnon:\t   40000 kB\n";
        check(status, Some(58_212));
        check("VmRSS: 0 kB", Some(0));
        // Kernel threads have no VmRSS line.
        check("Name:\tkthreadd\nState:\tS (sleeping)\n", None);
        check("VmRSS:\t   58212 MB\n", None);
        check("VmRSS:\t   lots kB\n", None);
        check("VmRSS:\n", None);
        check("", None);
    }

    #[test]
    fn rss_of_this_process_is_readable() {
        if cfg!(target_os = "linux") {
            let mb = server_rss_mb(std::process::id()).expect("own /proc status");
            assert!(mb > 0.0, "{mb}");
        }
    }

    #[test]
    fn the_report_has_every_field_and_nulls_for_skipped_phases() {
        let report = Report { queue: "q".into(), jobs: 10, enqueue_s: Some(0.5), ..Report::default() };
        let value = serde_json::to_value(&report).expect("serializes");
        let object = value.as_object().expect("an object");
        assert_eq!(object.len(), 20);
        assert_eq!(object["enqueue_s"], 0.5);
        assert!(object["process_per_s"].is_null());
    }
}
