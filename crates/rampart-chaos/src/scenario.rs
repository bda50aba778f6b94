//! The scenarios, driving a server through the typed client on one
//! throw-away queue. Each returns `Ok(detail)` to pass or `Err(detail)` to
//! fail, and the queue is cleaned after each (dead jobs purged, what is left
//! cancelled), also when it fails or Ctrl-C interrupts it; after the last
//! one (or the interrupted one) the queue is deleted, unless `--queue`
//! named one of the user's.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rampart_client::client::{Client, ClientError};
use rampart_client::wire::{
    BatchRequest, CompleteRequest, EnqueueRequest, FailRequest, JobView, LeaseRequest, LeasedJobView,
};
use rampart_core::duration::HumanDuration;
use rampart_core::job::JobState;
use rampart_core::time::{Clock as _, SystemClock};
use serde_json::value::RawValue;

use crate::restart::ServerProcess;
use crate::{Backoff, ChaosReport, Outcome, SCENARIOS, SCHEDULING_SLACK, millis, prometheus, row, tally, value_of};

/// How many jobs the worker crash leaves behind.
const CRASH_JOBS: usize = 10;
/// The crashed worker's lease: short, so that recovery is quick.
const CRASH_LEASE: Duration = Duration::from_secs(2);
/// How long a scenario waits for something before it fails, in
/// milliseconds: [`Options::patience`], one run per process.
static PATIENCE_MS: AtomicU64 = AtomicU64::new(120_000);
/// The lease of the jobs this process takes and finishes at once: short,
/// so that an interrupted run's leases soon run out and its cleanup can
/// cancel the jobs.
const OWN_LEASE: Duration = Duration::from_secs(5);
/// The longest the cleanup waits for the leases of an interrupted scenario
/// to run out (its own, or its crashed worker's) before it gives up.
const CLEANUP_WAIT: Duration = Duration::from_secs(10);
/// The long-poll of each lease request.
const POLL: Duration = Duration::from_secs(1);

/// What `rampart chaos` was asked to do.
#[derive(Debug, Clone)]
pub struct Options {
    /// The scenarios to run, from [`SCENARIOS`].
    pub scenarios: Vec<String>,
    /// The retry policy the server applies to the throw-away queue.
    pub backoff: Backoff,
    /// How `worker_crash` starts the worker it kills; `None` leases in
    /// process and drops the leases instead.
    pub worker: Option<WorkerCommand>,
    /// The throw-away queue's name; `None` makes one up (`chaos-<pid>-<n>`).
    pub queue: Option<String>,
    /// How long a scenario waits for something to happen before it fails.
    pub patience: Duration,
    /// The local server `restart` may kill and start again, or why it may not.
    pub restart: Result<ServerProcess, String>,
    /// The database server `store_cut` puts a throw-away node on
    /// (`postgres://…`); `None` skips it.
    pub store_url: Option<String>,
    /// The `rampart` executable that `store_cut` and `push_target` start
    /// throw-away servers with; `None` skips them.
    pub program: Option<PathBuf>,
}

/// A `rampart` command line that `worker_crash` completes with `work QUEUE …`
/// to start a real worker process, then kills with SIGKILL.
#[derive(Debug, Clone)]
pub struct WorkerCommand {
    /// The `rampart` executable.
    pub program: std::path::PathBuf,
    /// Its arguments before `work` (e.g. `--url …`).
    pub args: Vec<String>,
    /// Environment variables to set (e.g. `RAMPART_API_KEY`).
    pub env: Vec<(String, String)>,
}

/// What the scenarios did to the queue, for `queue_metrics` to find.
#[derive(Debug, Default)]
struct Ledger {
    completed: u64,
    retried: u64,
    stalled: u64,
}

/// Runs the scenarios on a fresh queue and reports them; Ctrl-C stops the
/// run after cleaning up, with the interrupted scenario failing.
pub async fn run(client: &Client, options: &Options) -> ChaosReport {
    PATIENCE_MS.store(u64::try_from(options.patience.as_millis()).unwrap_or(u64::MAX), Ordering::Relaxed);
    let queue = options.queue.clone().unwrap_or_else(|| format!("chaos-{}-{}", std::process::id(), unique()));
    let mut ledger = Ledger::default();
    let mut rows = Vec::new();
    let chosen: Vec<&str> = SCENARIOS.iter().copied().filter(|s| options.scenarios.iter().any(|o| o == s)).collect();
    for (i, name) in chosen.iter().enumerate() {
        let started = Instant::now();
        // Whatever a scenario starts (processes, proxies, throw-away
        // servers and databases) is owned by its future: dropped, on
        // Ctrl-C too, it is stopped and removed.
        let scenario = async {
            match *name {
                "worker_crash" => worker_crash(client, &queue, options.worker.as_ref(), &mut ledger).await.into(),
                "restart" => match &options.restart {
                    Ok(server) => crate::own::restart(client, &queue, server).await.into(),
                    Err(why) => Outcome::Skip(why.clone()),
                },
                "retry_policy" => retry_policy(client, &queue, &options.backoff, &mut ledger).await.into(),
                "queue_metrics" => queue_metrics(client, &queue, &mut ledger).await.into(),
                "store_cut" => crate::own::store_cut(options).await,
                "push_target" => crate::own::push_target(options).await,
                _ => monitoring(client).await.into(),
            }
        };
        let (outcome, interrupted) = tokio::select! {
            outcome = scenario => (outcome, false),
            _ = tokio::signal::ctrl_c() => (Outcome::Fail("interrupted (Ctrl-C)".to_string()), true),
        };
        // The queue is removed once, after the last scenario that runs: the
        // scenarios before queue_metrics leave it the totals it checks.
        let last = interrupted || i + 1 == chosen.len();
        let cleaned = match clean(client, &queue).await {
            Ok(note) if last && options.queue.is_none() => remove(client, &queue).await.map(|gone| note.or(gone)),
            other => other,
        };
        let outcome = match (outcome, cleaned) {
            (outcome, Ok(None)) | (outcome @ Outcome::Skip(_), _) => outcome,
            (Outcome::Pass(detail), Ok(Some(note))) => Outcome::Pass(format!("{detail}; {note}")),
            (Outcome::Fail(detail), Ok(Some(note))) => Outcome::Fail(format!("{detail}; {note}")),
            (Outcome::Pass(detail) | Outcome::Fail(detail), Err(e)) => {
                Outcome::Fail(format!("{detail}; cleaning up failed: {e}"))
            }
        };
        rows.push(row(name, outcome, started.elapsed()));
        if interrupted {
            break;
        }
    }
    tally(&queue, rows)
}

/// A number that tells this run's queue from an earlier one of the same pid.
pub(crate) fn unique() -> i64 {
    SystemClock.now().0 % 1_000_000
}

/// Purges the queue's dead jobs and cancels the ones not finished. A leased
/// job cannot be cancelled: an interrupted scenario's leases are waited out
/// (all short, at most [`CLEANUP_WAIT`] or the patience) and their jobs
/// cancelled once back in the queue. Jobs a worker outside this run still
/// holds after that are left, with a note saying so.
async fn clean(client: &Client, queue: &str) -> Result<Option<String>, String> {
    let patience = Duration::from_millis(PATIENCE_MS.load(Ordering::Relaxed));
    let until = Instant::now() + CLEANUP_WAIT.min(patience);
    loop {
        client.dead_purge(queue).await.map_err(|e| e.to_string())?;
        let mut leased = 0;
        for state in [JobState::Scheduled, JobState::Available, JobState::Active] {
            let page = client.jobs(queue, Some(state.as_str()), Some(500), None).await.map_err(|e| e.to_string())?;
            if state == JobState::Active {
                leased = page.jobs.len();
                continue;
            }
            for job in page.jobs {
                // A job that was leased meanwhile refuses the cancel: the next round sees it.
                let _ = client.job_cancel(&job.id.to_string()).await;
            }
        }
        if leased == 0 {
            return Ok(None);
        }
        if Instant::now() > until {
            return Ok(Some(format!("{leased} job(s) left leased by a worker outside this run")));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Deletes the run's own queue once cleaned; a queue never made (the
/// scenarios that ran used none) is no problem. Jobs a worker outside the
/// run still holds keep it, with a note saying so.
async fn remove(client: &Client, queue: &str) -> Result<Option<String>, String> {
    match client.queue_delete(queue).await {
        Ok(_) => Ok(None),
        Err(e) if e.status_code() == Some(404) => Ok(None),
        Err(e) if e.status_code() == Some(409) => Ok(Some(format!("the queue was kept: {e}"))),
        Err(e) => Err(format!("deleting the queue: {e}")),
    }
}

/// Says which call failed.
pub(crate) fn call<T>(what: &str, answer: Result<T, ClientError>) -> Result<T, String> {
    answer.map_err(|e| format!("{what}: {e}"))
}

pub(crate) fn payload(text: &str) -> Box<RawValue> {
    RawValue::from_string(text.into()).unwrap_or_else(|_| RawValue::NULL.to_owned())
}

fn lease_request(worker: &str, max: u32, lease: Duration) -> LeaseRequest {
    LeaseRequest {
        max: Some(max),
        wait: Some(HumanDuration(POLL)),
        lease: Some(HumanDuration(lease)),
        worker: Some(worker.into()),
    }
}

/// How long a scenario may wait for something to happen: [`Options::patience`].
pub(crate) struct Deadline {
    what: &'static str,
    patience: Duration,
    at: Instant,
}

impl Deadline {
    pub(crate) fn new(what: &'static str) -> Deadline {
        let patience = Duration::from_millis(PATIENCE_MS.load(Ordering::Relaxed));
        Deadline { what, patience, at: Instant::now() + patience }
    }

    /// Waits a moment before the next look, or fails when time is up.
    pub(crate) async fn tick(&self) -> Result<(), String> {
        if Instant::now() > self.at {
            return Err(format!("{} did not happen within {}", self.what, millis(self.patience)));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        Ok(())
    }
}

/// 10 jobs leased by a worker that then vanishes without a heartbeat (the
/// crash) must all be completed by another worker once the leases expire.
async fn worker_crash(
    client: &Client,
    queue: &str,
    worker: Option<&WorkerCommand>,
    ledger: &mut Ledger,
) -> Result<String, String> {
    let jobs = (0..CRASH_JOBS).map(|i| payload(&format!("{{\"chaos\":\"worker_crash\",\"n\":{i}}}"))).collect();
    let batch = BatchRequest { jobs: jobs_with_attempts(jobs, 3) };
    let ids = call("enqueue", client.enqueue_batch(queue, &batch).await)?.ids;
    let (expiries, how) = match worker {
        Some(command) => crash_process(client, queue, &ids, command).await?,
        None => (crash_in_process(client, queue).await?, "a worker left"),
    };
    let recoverer = lease_request("chaos-recoverer", 10, OWN_LEASE);
    let mut completed = 0usize;
    let deadline = Deadline::new("completing the 10 jobs by a second worker");
    let recovery = loop {
        let leased = match call("lease", client.lease(queue, &recoverer).await) {
            Ok(answer) => answer.jobs,
            Err(e) => break Err(e),
        };
        for job in leased {
            let done = CompleteRequest { lease_token: job.lease_token, result: None };
            if call("complete", client.complete(&job.id.to_string(), &done).await).is_ok() {
                completed += 1;
            }
        }
        if completed >= CRASH_JOBS {
            break Ok(());
        }
        if let Err(e) = deadline.tick().await {
            break Err(e);
        }
    };
    ledger.completed += completed as u64;
    ledger.stalled += expiries.len() as u64;
    recovery.map_err(|e| format!("{e}: {completed}/{CRASH_JOBS} recovered"))?;
    let mut detections = Vec::new();
    for id in ids.iter().map(ToString::to_string) {
        let job = call("job", client.job(&id).await)?;
        if job.state != JobState::Completed {
            return Err(format!("job {id} is {}, not completed", job.state.as_str()));
        }
        let expired = expiries.get(&id).copied();
        let relet = job
            .history
            .iter()
            .find(|e| e.to == JobState::Active && e.worker.as_deref() == Some("chaos-recoverer"))
            .map(|e| e.at.0);
        if let (Some(expired), Some(relet)) = (expired, relet) {
            detections.push(relet - expired);
        }
    }
    let (low, high) = (detections.iter().min().copied(), detections.iter().max().copied());
    let measured = match (low, high) {
        (Some(low), Some(high)) => format!(
            "lease expiry to re-lease {low}ms to {high}ms (mean {}ms)",
            detections.iter().sum::<i64>() / i64::try_from(detections.len()).unwrap_or(1)
        ),
        _ => "the re-lease is not in the jobs' history".into(),
    };
    Ok(format!(
        "{CRASH_JOBS}/{CRASH_JOBS} recovered (100%) after {how} {CRASH_JOBS} leases of {} without a heartbeat; {measured}",
        millis(CRASH_LEASE)
    ))
}

/// Leases the 10 jobs as a worker that is then never heard from again;
/// answers each job's lease expiry (server time, milliseconds).
async fn crash_in_process(client: &Client, queue: &str) -> Result<BTreeMap<String, i64>, String> {
    let crashed = lease_request("chaos-crashed", u32::try_from(CRASH_JOBS).unwrap_or(u32::MAX), CRASH_LEASE);
    let mut leased = BTreeMap::new();
    let deadline = Deadline::new("leasing the 10 jobs");
    loop {
        for job in call("lease", client.lease(queue, &crashed).await)?.jobs {
            leased.insert(job.id.to_string(), job.lease_expires_at.0);
        }
        if leased.len() >= CRASH_JOBS {
            return Ok(leased);
        }
        deadline.tick().await?;
    }
}

/// Starts `rampart work` on the queue with a command that runs as long as
/// the worker lives, waits until it holds the 10 jobs, and kills it with
/// SIGKILL; answers each job's lease expiry as the server last extended it.
async fn crash_process(
    client: &Client,
    queue: &str,
    ids: &[rampart_core::id::JobId],
    command: &WorkerCommand,
) -> Result<(BTreeMap<String, i64>, &'static str), String> {
    let lease = format!("{}s", CRASH_LEASE.as_secs());
    let concurrency = CRASH_JOBS.to_string();
    let mut child = tokio::process::Command::new(&command.program)
        .args(&command.args)
        .args(["work", queue, "--concurrency", &concurrency, "--lease", &lease, "--name", "chaos-crashed", "--"])
        .args(["sh", "-c", "while kill -0 $PPID 2>/dev/null; do sleep 0.2; done"])
        .envs(command.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot start {} work: {e}", command.program.display()))?;
    let deadline = Deadline::new("the worker process leasing the 10 jobs");
    let held = loop {
        let view = call("queue", client.queue(queue).await)?;
        if view.counts.active >= CRASH_JOBS as u64 {
            break Ok(());
        }
        if let Ok(Some(status)) = child.try_wait() {
            break Err(format!("the worker process exited before holding the jobs ({status})"));
        }
        if let Err(e) = deadline.tick().await {
            break Err(e);
        }
    };
    // The crash: SIGKILL, no chance to give the jobs back.
    let killed = child.kill().await.map_err(|e| format!("cannot kill the worker process: {e}"));
    held?;
    killed?;
    let mut expiries = BTreeMap::new();
    for id in ids.iter().map(ToString::to_string) {
        if let Some(at) = call("job", client.job(&id).await)?.lease_expires_at {
            expiries.insert(id, at.0);
        }
    }
    Ok((expiries, "SIGKILL of a `rampart work` process holding"))
}

fn jobs_with_attempts(payloads: Vec<Box<RawValue>>, max_attempts: u32) -> Vec<EnqueueRequest> {
    payloads
        .into_iter()
        .map(|p| EnqueueRequest { max_attempts: Some(max_attempts), ..EnqueueRequest::new(p) })
        .collect()
}

/// Leases the job `id` (whatever else comes, there is none on this queue).
async fn lease_one(client: &Client, queue: &str, worker: &str) -> Result<LeasedJobView, String> {
    let request = lease_request(worker, 1, OWN_LEASE);
    let deadline = Deadline::new("leasing the job");
    loop {
        if let Some(job) = call("lease", client.lease(queue, &request).await)?.jobs.into_iter().next() {
            return Ok(job);
        }
        deadline.tick().await?;
    }
}

/// A job of 3 attempts failing twice (retryable) completes on attempt 3,
/// each retry waiting what the backoff policy says.
async fn retry_policy(client: &Client, queue: &str, backoff: &Backoff, ledger: &mut Ledger) -> Result<String, String> {
    let job = EnqueueRequest { max_attempts: Some(3), ..EnqueueRequest::new(payload("{\"chaos\":\"retry_policy\"}")) };
    let id = call("enqueue", client.enqueue(queue, &job).await)?.id.to_string();
    let mut announced = Vec::new();
    for attempt in 1..=2 {
        let leased = lease_one(client, queue, "chaos-retrier").await?;
        if leased.attempt != attempt {
            return Err(format!("attempt {attempt} was leased as attempt {}", leased.attempt));
        }
        let fail = FailRequest {
            lease_token: leased.lease_token,
            error: format!("chaos: attempt {attempt} fails on purpose"),
            retryable: Some(true),
        };
        let ack = call("fail", client.fail(&id, &fail).await)?;
        ledger.retried += 1;
        announced.push(ack.retry_at.map(|t| t.0));
    }
    let leased = lease_one(client, queue, "chaos-retrier").await?;
    let done = CompleteRequest { lease_token: leased.lease_token, result: None };
    call("complete", client.complete(&id, &done).await)?;
    ledger.completed += 1;
    let job = call("job", client.job(&id).await)?;
    if job.state != JobState::Completed || job.attempt != 3 {
        return Err(format!(
            "the job is {} after attempt {}, not completed on attempt 3",
            job.state.as_str(),
            job.attempt
        ));
    }
    let mut gaps = Vec::new();
    let mut problems = Vec::new();
    for n in 1..=2u32 {
        let (failed_at, relet_at) = gaps_of(&job, n)?;
        let retry_at = announced.get(n as usize - 1).copied().flatten().unwrap_or(relet_at);
        let scheduled = Duration::from_millis(u64::try_from(retry_at - failed_at).unwrap_or(0));
        let measured = Duration::from_millis(u64::try_from(relet_at - failed_at).unwrap_or(0));
        problems.extend(backoff.judge(n, scheduled, Duration::ZERO).err().map(|e| format!("scheduled {e}")));
        problems.extend(backoff.judge(n, measured, SCHEDULING_SLACK).err().map(|e| format!("measured {e}")));
        gaps.push(format!("retry {n}: {} (policy {})", millis(measured), millis(backoff.wait(n))));
    }
    let gaps = gaps.join(", ");
    if problems.is_empty() {
        Ok(format!(
            "completed on attempt 3/3; {gaps}, within ±{:.0}% jitter (+{}s scheduling slack)",
            backoff.jitter * 100.0,
            SCHEDULING_SLACK.as_secs()
        ))
    } else {
        Err(format!("{}; {gaps}", problems.join("; ")))
    }
}

/// When attempt `n` failed and when attempt `n + 1` was leased, from the
/// job's history (server times, milliseconds).
fn gaps_of(job: &JobView, n: u32) -> Result<(i64, i64), String> {
    let failed = job
        .history
        .iter()
        .find(|e| e.attempt == n && e.from == Some(JobState::Active) && e.to != JobState::Completed)
        .map(|e| e.at.0);
    let relet = job.history.iter().find(|e| e.attempt == n + 1 && e.to == JobState::Active).map(|e| e.at.0);
    failed.zip(relet).ok_or_else(|| format!("the job's history does not show attempt {n} failing and {} leased", n + 1))
}

/// The queue's counts and totals (`GET /v1/queues/{queue}`), its sampled
/// metrics (`GET /v1/monitoring/queue-metrics`) and its `/metrics` series agree
/// with what the scenarios before did.
async fn queue_metrics(client: &Client, queue: &str, ledger: &mut Ledger) -> Result<String, String> {
    if ledger.completed == 0 {
        let id =
            call("enqueue", client.enqueue(queue, &EnqueueRequest::new(payload("{\"chaos\":\"metrics\"}"))).await)?.id;
        let leased = lease_one(client, queue, "chaos-metrics").await?;
        let done = CompleteRequest { lease_token: leased.lease_token, result: None };
        call("complete", client.complete(&id.to_string(), &done).await)?;
        ledger.completed += 1;
    }
    let expected = ledger.completed;
    // Another node's part of the totals (a stall its reaper found) is
    // stored at its next sample: the totals are read until they agree.
    let deadline = Deadline::new("the queue's counts and totals to agree with the scenarios");
    let view = loop {
        let view = call("queue", client.queue(queue).await)?;
        let problems = totals_problems(&view, ledger);
        if problems.is_empty() {
            break view;
        }
        if let Err(e) = deadline.tick().await {
            return Err(format!("{e}: {}", problems.join("; ")));
        }
    };
    // The sampled views follow at the sampler's interval.
    let deadline = Deadline::new("a metrics sample of the queue with its completed jobs");
    let sample = loop {
        let metrics = call("/v1/monitoring/queue-metrics", client.queue_metrics().await)?;
        if let Some(sample) = metrics.queues.into_iter().find(|s| s.queue == queue && s.completed == expected) {
            break sample;
        }
        deadline.tick().await?;
    };
    if !(0.0..=1.0).contains(&sample.failed_rate) || sample.active != 0 || sample.dead != 0 {
        return Err(format!(
            "the sample is inconsistent: failed_rate {}, active {}, dead {}",
            sample.failed_rate, sample.active, sample.dead
        ));
    }
    let deadline = Deadline::new("/metrics to show the queue's completed jobs");
    #[allow(clippy::cast_precision_loss)]
    let want = Some(expected as f64);
    let series = loop {
        let text = call("/metrics", client.metrics().await)?;
        let samples = prometheus(&text).map_err(|e| format!("/metrics: {e}"))?;
        let gauge = value_of(&samples, "rampart_queue_jobs", &[("queue", queue), ("state", "completed")]);
        let counter = value_of(&samples, "rampart_jobs_total", &[("queue", queue), ("outcome", "completed")]);
        if gauge == want && counter == want {
            break samples;
        }
        deadline.tick().await?;
    };
    let stalled = value_of(&series, "rampart_jobs_stalled_total", &[("queue", queue)]);
    let retried = value_of(&series, "rampart_jobs_total", &[("queue", queue), ("outcome", "retried")]);
    Ok(format!(
        "{expected} completed in the queue's counts, totals, sample and /metrics; retries {} (≥ {}), stalled {} (≥ {}), \
         sampled failed_rate {:.2}, /metrics retried {}, stalled {}",
        view.totals.retries,
        ledger.retried,
        view.totals.stalled,
        ledger.stalled,
        sample.failed_rate,
        retried.map_or("absent".into(), |v| v.to_string()),
        stalled.map_or("absent".into(), |v| v.to_string()),
    ))
}

/// What in the queue's counts and totals disagrees with the ledger.
fn totals_problems(view: &rampart_client::wire::QueueView, ledger: &Ledger) -> Vec<String> {
    let expected = ledger.completed;
    let mut problems = Vec::new();
    let mut expect = |what: &str, got: u64, want: u64| {
        if got != want {
            problems.push(format!("{what} is {got}, expected {want}"));
        }
    };
    expect("counts.completed", view.counts.completed, expected);
    expect("counts.active", view.counts.active, 0);
    expect("counts.dead", view.counts.dead, 0);
    expect("totals.completed", view.totals.completed, expected);
    if view.totals.retries < ledger.retried {
        problems.push(format!("totals.retries is {}, expected at least {}", view.totals.retries, ledger.retried));
    }
    if view.totals.stalled < ledger.stalled {
        problems.push(format!("totals.stalled is {}, expected at least {}", view.totals.stalled, ledger.stalled));
    }
    if !view.totals.mean_processing_ms.is_finite() || view.totals.mean_processing_ms < 0.0 {
        problems.push(format!("totals.mean_processing_ms is {}", view.totals.mean_processing_ms));
    }
    problems
}

/// `/health`, `/health/ready`, `/v1/monitoring/system-health` and `/metrics`
/// answer, with valid data.
async fn monitoring(client: &Client) -> Result<String, String> {
    let health = call("/health", client.health().await)?;
    if health.status != "ok" || health.version.is_empty() {
        return Err(format!("/health answers status {:?}, version {:?}", health.status, health.version));
    }
    let ready = call("/health/ready", client.ready().await)?;
    if ready.status != "ready" {
        return Err(format!("/health/ready answers {}", ready.status));
    }
    let system = call("/v1/monitoring/system-health", client.system_health().await)?;
    let text = call("/metrics", client.metrics().await)?;
    let samples = prometheus(&text).map_err(|e| format!("/metrics: {e}"))?;
    for needed in ["rampart_uptime_seconds", "rampart_build_info"] {
        if value_of(&samples, needed, &[]).is_none() {
            return Err(format!("/metrics has no {needed}"));
        }
    }
    Ok(format!(
        "/health ok ({}), /health/ready ready, system-health {} ({} queues), /metrics {} samples",
        health.version,
        system.status,
        system.components.queues.count,
        samples.len()
    ))
}
