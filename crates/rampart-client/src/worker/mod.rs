//! Workers: run handlers for jobs, against a remote server or (through
//! `rampart-server`) an engine in the same process.
//!
//! ```no_run
//! # async fn demo(client: rampart_client::client::Client) -> Result<(), rampart_client::worker::WorkerError> {
//! use rampart_client::worker::{JobError, Worker};
//! Worker::new(client)
//!     .concurrency(8)
//!     .handle("email-send", |job| async move {
//!         let to: serde_json::Value = job.payload_as().map_err(|e| JobError::fatal(e.to_string()))?;
//!         println!("sending to {to}");
//!         Ok(None)
//!     })
//!     .run(async { let _ = tokio::signal::ctrl_c().await; })
//!     .await
//! # }
//! ```
//!
//! The worker leases from any [`JobSource`]: the [`Client`](crate::client::Client)
//! implements it over HTTP, and `rampart-server` implements it for its
//! `Engine`. Each queue gets a loop that long-polls for as many jobs as it has free
//! slots, runs each in its own task with a heartbeat every third of the
//! lease, and acknowledges the outcome. On shutdown it stops leasing and
//! lets running jobs finish within the grace period; those still running
//! then are stopped and their leases given back, so another worker takes
//! them at once without an attempt counted.
//!
//! A handler reports how far it got with [`Job::update_progress`] (BullMQ's
//! `job.updateProgress`), kept on the job and shown with it.
//!
//! A server that does not answer (restarting, a network blip) costs no
//! finished work: a heartbeat or an ack that fails is tried again, soon and
//! then at most every [`RETRY_MAX_PAUSE`], until the lease would expire. An
//! ack whose answer was lost is safe to repeat: the server answers the
//! repeat with the job's state (`already`).

mod source;
mod step;

pub use source::{Job, JobSource, Progress, SourceError};
pub use step::{Step, StepAnswer, StepCall, WaitFor};

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rampart_core::id::{JobId, QueueName, QueueNameError};
use rampart_core::time::{Clock, SystemClock};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tracing::Instrument as _;

/// First pause before a failed heartbeat or ack is tried again; it doubles
/// up to [`RETRY_MAX_PAUSE`].
const RETRY_FIRST_PAUSE: Duration = Duration::from_millis(100);
/// Longest pause between two tries of a failed heartbeat or ack.
pub const RETRY_MAX_PAUSE: Duration = Duration::from_secs(2);
/// The longest lease a server grants (`lease` past it is refused).
const MAX_LEASE: Duration = Duration::from_secs(24 * 3600);

/// How an attempt failed, as a handler reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobError {
    /// What went wrong.
    pub message: String,
    /// False sends the job straight to `dead`.
    pub retryable: bool,
    /// The job was given back by a step (a durable sleep, a wait for an
    /// event): the attempt ends without an answer to the server.
    pub given_back: bool,
}

impl JobError {
    /// A failure worth retrying.
    pub fn retryable(message: impl Into<String>) -> JobError {
        JobError { message: message.into(), retryable: true, given_back: false }
    }

    /// A failure that no retry will fix.
    pub fn fatal(message: impl Into<String>) -> JobError {
        JobError { message: message.into(), retryable: false, given_back: false }
    }

    /// The job was given back at step `step` (asleep or waiting for an event).
    pub fn given_back(step: &str) -> JobError {
        JobError { message: format!("given back at step `{step}`"), retryable: true, given_back: true }
    }
}

/// What a handler answers: an optional JSON result, or the failure.
pub type HandlerResult = Result<Option<serde_json::Value>, JobError>;

type BoxedHandler = Arc<dyn Fn(Job) -> Pin<Box<dyn Future<Output = HandlerResult> + Send>> + Send + Sync>;

/// Why a worker could not run.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    /// A handler was registered for an invalid queue name.
    #[error(transparent)]
    InvalidQueue(#[from] QueueNameError),
    /// No handler was registered.
    #[error("the worker has no handlers; register one with .handle(queue, handler)")]
    NoHandlers,
}

/// A set of handlers and how to run them.
pub struct Worker<S> {
    source: Arc<S>,
    name: String,
    concurrency: usize,
    lease: Duration,
    grace: Duration,
    handlers: Vec<(String, BoxedHandler)>,
}

impl<S: JobSource> Worker<S> {
    /// A worker pulling from `source`: concurrency 1, lease 30s, grace 30s.
    pub fn new(source: S) -> Worker<S> {
        let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "worker".into());
        Worker {
            source: Arc::new(source),
            name: format!("{host}:{}", std::process::id()),
            concurrency: 1,
            lease: Duration::from_secs(30),
            grace: Duration::from_secs(30),
            handlers: Vec::new(),
        }
    }

    /// The name recorded in job histories.
    pub fn name(mut self, name: impl Into<String>) -> Worker<S> {
        self.name = name.into();
        self
    }

    /// Jobs run at once per queue (at least 1).
    pub fn concurrency(mut self, n: usize) -> Worker<S> {
        self.concurrency = n.max(1);
        self
    }

    /// Lease length, from 300ms to the server's maximum of 24h (a longer
    /// one is taken as 24h); heartbeats go every third of it.
    pub fn lease(mut self, lease: Duration) -> Worker<S> {
        self.lease = lease.clamp(Duration::from_millis(300), MAX_LEASE);
        self
    }

    /// How long running jobs may take to finish after shutdown starts.
    pub fn grace(mut self, grace: Duration) -> Worker<S> {
        self.grace = grace;
        self
    }

    /// Runs `handler` for every job of `queue`.
    pub fn handle<F, Fut>(mut self, queue: &str, handler: F) -> Worker<S>
    where
        F: Fn(Job) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = HandlerResult> + Send + 'static,
    {
        let boxed: BoxedHandler = Arc::new(move |job| Box::pin(handler(job)));
        self.handlers.push((queue.to_string(), boxed));
        self
    }

    /// Works until `signal` resolves, then drains within the grace period.
    pub async fn run(self, signal: impl Future<Output = ()> + Send + 'static) -> Result<(), WorkerError> {
        if self.handlers.is_empty() {
            return Err(WorkerError::NoHandlers);
        }
        let queues = self
            .handlers
            .iter()
            .map(|(q, h)| Ok((QueueName::new(q)?, h.clone())))
            .collect::<Result<Vec<_>, QueueNameError>>()?;
        let (trigger, shutdown) = Stop::new();
        let mut loops = JoinSet::new();
        for (queue, handler) in queues {
            let lane = Lane {
                source: Arc::clone(&self.source),
                queue,
                handler,
                worker: self.name.clone(),
                concurrency: self.concurrency,
                lease: self.lease,
                grace: self.grace,
            };
            loops.spawn(lane.run(shutdown.clone()));
        }
        tokio::select! {
            _ = signal => {}
            _ = async { while loops.join_next().await.is_some() {} } => {}
        }
        tracing::info!("worker stopping: no new leases; waiting for running jobs");
        trigger.trigger();
        while loops.join_next().await.is_some() {}
        Ok(())
    }
}

/// One queue's lease loop.
struct Lane<S> {
    source: Arc<S>,
    queue: QueueName,
    handler: BoxedHandler,
    worker: String,
    concurrency: usize,
    lease: Duration,
    grace: Duration,
}

impl<S: JobSource> Lane<S> {
    async fn run(self, shutdown: Stop) {
        let slots = Arc::new(Semaphore::new(self.concurrency));
        let mut running = JoinSet::new();
        // The jobs being worked on, so those still running when the grace
        // period ends are given back rather than left to expire.
        let held: Arc<Mutex<HashMap<JobId, Job>>> = Arc::default();
        let mut failures = 0u32;
        loop {
            while running.try_join_next().is_some() {}
            // Shutdown wins over a free slot: after it, nothing new is leased.
            let first = tokio::select! {
                biased;
                _ = shutdown.wait() => break,
                p = slots.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break },
            };
            let mut permits = vec![first];
            while let Ok(p) = slots.clone().try_acquire_owned() {
                permits.push(p);
            }
            let max = u32::try_from(permits.len()).unwrap_or(1);
            let leased = tokio::select! {
                biased;
                _ = shutdown.wait() => break,
                r = self.source.lease_jobs(&self.queue, max, Duration::from_secs(30), self.lease, &self.worker) => r,
            };
            let jobs = match leased {
                Ok(jobs) => {
                    failures = 0;
                    jobs
                }
                Err(e) => {
                    failures += 1;
                    let pause = Duration::from_millis(200 * u64::from(failures.min(25)));
                    tracing::warn!(queue = %self.queue, error = %e, "lease failed; retrying in {pause:?}");
                    tokio::select! {
                        _ = tokio::time::sleep(pause) => continue,
                        _ = shutdown.wait() => break,
                    }
                }
            };
            for job in jobs {
                let Some(permit) = permits.pop() else { break };
                let task =
                    Attempt { source: Arc::clone(&self.source), handler: self.handler.clone(), lease: self.lease };
                held.lock().unwrap_or_else(|e| e.into_inner()).insert(job.id, job.clone());
                let held = Arc::clone(&held);
                // Everything the attempt logs, the handler's own lines
                // included, carries the job's id.
                let span = tracing::info_span!("job", job_id = %job.id, queue = %job.queue, attempt = job.attempt);
                running.spawn(
                    async move {
                        let id = job.id;
                        task.run(job).await;
                        held.lock().unwrap_or_else(|e| e.into_inner()).remove(&id);
                        drop(permit);
                    }
                    .instrument(span),
                );
            }
        }
        let drained = tokio::time::timeout(self.grace, async { while running.join_next().await.is_some() {} }).await;
        if drained.is_err() {
            running.abort_all();
            while running.join_next().await.is_some() {}
            let unfinished: Vec<Job> = held.lock().unwrap_or_else(|e| e.into_inner()).drain().map(|(_, j)| j).collect();
            tracing::warn!(queue = %self.queue, jobs = unfinished.len(), "grace period over; stopping running jobs and giving their leases back");
            for job in unfinished {
                if let Err(e) = self.source.release_job(&job).await {
                    tracing::warn!(job = %job.id, error = %e, "could not give the lease back; the job will be retried when its lease expires");
                }
            }
        }
    }
}

/// One job's run: handler, heartbeats, ack.
struct Attempt<S> {
    source: Arc<S>,
    handler: BoxedHandler,
    lease: Duration,
}

impl<S: JobSource> Attempt<S> {
    async fn run(self, job: Job) {
        // Leased just now: the server's lease started a moment ago.
        let lease_end = LeaseEnd::new(Instant::now() + self.lease);
        let handed = Job {
            progress: Progress::to(Arc::clone(&self.source), &job),
            step: source::steps_of(Arc::clone(&self.source), &job),
            ..job.clone()
        };
        let work = (self.handler)(handed);
        let timeout = job.timeout_at.map(|t| t.since(SystemClock.now()));
        let outcome = tokio::select! {
            r = work => Some(r),
            lost = self.heartbeats(&job, &lease_end) => { tracing::warn!(job = %job.id, "{lost}; abandoning the job"); None }
            _ = sleep_or_never(timeout) => {
                tracing::warn!(job = %job.id, "the attempt reached its timeout; stopping it (the server records the timeout)");
                None
            }
        };
        let Some(outcome) = outcome else { return };
        if outcome.as_ref().is_err_and(|e| e.given_back) {
            // The server holds the job (asleep or waiting): nothing to answer.
            return;
        }
        let acked = match outcome {
            Ok(result) => {
                let result = result.as_ref().map(|v| v.to_string());
                until_lease_ends(&lease_end, "acknowledging the job", || self.source.complete_job(&job, result.clone()))
                    .await
            }
            Err(e) => {
                until_lease_ends(&lease_end, "acknowledging the job", || {
                    self.source.fail_job(&job, e.message.clone(), e.retryable)
                })
                .await
            }
        };
        match acked {
            Ok(()) => {}
            Err(SourceError::LeaseLost) => {
                tracing::warn!(job = %job.id, "the lease was lost before the answer reached the server; the job will be retried");
            }
            Err(e) => {
                tracing::warn!(job = %job.id, error = %e, "could not acknowledge the job within its lease; it will be retried");
            }
        }
    }

    /// Heartbeats until the server says the lease is lost; answers why it
    /// stopped. Past the lease's end without an answer it keeps trying every
    /// third of the lease: only the server knows whether it still holds.
    async fn heartbeats(&self, job: &Job, lease_end: &LeaseEnd) -> String {
        let every = self.lease / 3;
        loop {
            tokio::time::sleep(every).await;
            let sent = Instant::now();
            match until_lease_ends(lease_end, "heartbeating", || self.source.heartbeat_job(job, self.lease)).await {
                Ok(()) => lease_end.extend_to(sent + self.lease),
                Err(SourceError::LeaseLost) => return "the lease was lost".into(),
                Err(e) => {
                    tracing::warn!(job = %job.id, error = %e, "no heartbeat reached the server within the lease; trying again in {every:?}");
                }
            }
        }
    }
}

/// When a lease runs out as far as the worker knows: from when it was
/// leased, then from each heartbeat sent (the server's own end is a little
/// later, by the time the request took to arrive).
struct LeaseEnd(Mutex<Instant>);

impl LeaseEnd {
    fn new(end: Instant) -> LeaseEnd {
        LeaseEnd(Mutex::new(end))
    }

    fn get(&self) -> Instant {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn extend_to(&self, end: Instant) {
        let mut held = self.0.lock().unwrap_or_else(|e| e.into_inner());
        *held = (*held).max(end);
    }
}

/// Runs `call` until it answers anything but [`SourceError::Other`] (a
/// server that did not answer, or answered 5xx), trying again after 100 ms,
/// then twice as long each time up to [`RETRY_MAX_PAUSE`], the last time
/// when the lease ends; answers the last failure once the lease has ended.
async fn until_lease_ends<F, Fut>(lease_end: &LeaseEnd, doing: &str, mut call: F) -> Result<(), SourceError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<(), SourceError>>,
{
    let mut pause = RETRY_FIRST_PAUSE;
    let mut failures = 0u32;
    loop {
        let error = match call().await {
            Err(SourceError::Other(e)) => e,
            done => {
                if failures > 0 {
                    tracing::info!(failures, "{doing}: the server answered again");
                }
                return done;
            }
        };
        let left = lease_end.get().saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(SourceError::Other(error));
        }
        failures += 1;
        if failures == 1 {
            tracing::warn!(error = %error, "{doing} failed; trying again until the lease ends in {left:?}");
        } else {
            tracing::debug!(error = %error, failures, "{doing} failed again");
        }
        tokio::time::sleep(pause.min(left)).await;
        pause = (pause * 2).min(RETRY_MAX_PAUSE);
    }
}

async fn sleep_or_never(d: Option<Duration>) {
    match d {
        Some(d) => tokio::time::sleep(d).await,
        None => std::future::pending().await,
    }
}

/// The worker's own stop signal: the lanes stop leasing once it is sent.
#[derive(Clone)]
struct Stop(watch::Receiver<bool>);

impl Stop {
    /// A new signal and its sender.
    fn new() -> (StopTrigger, Stop) {
        let (tx, rx) = watch::channel(false);
        (StopTrigger(tx), Stop(rx))
    }

    /// Resolves once the stop is sent (or its sender is dropped).
    async fn wait(&self) {
        let mut rx = self.0.clone();
        let _ = rx.wait_for(|stop| *stop).await;
    }
}

/// Sends the [`Stop`].
struct StopTrigger(watch::Sender<bool>);

impl StopTrigger {
    /// Tells every lane to stop.
    fn trigger(&self) {
        self.0.send_replace(true);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::Client;

    #[test]
    fn a_lease_stays_within_what_a_server_grants() {
        let client = Client::new("http://127.0.0.1:7433", None).expect("a client");
        assert_eq!(Worker::new(client.clone()).lease(Duration::from_secs(30 * 3600)).lease, MAX_LEASE);
        assert_eq!(Worker::new(client.clone()).lease(Duration::ZERO).lease, Duration::from_millis(300));
        assert_eq!(Worker::new(client).lease(Duration::from_secs(60)).lease, Duration::from_secs(60));
    }
}
