//! The dispatcher: delivers the jobs of push queues (those with a `target`)
//! by POSTing them to their target, for apps that cannot keep a worker
//! running.
//!
//! Each push queue has a lane: it keeps up to the queue's `concurrency`
//! deliveries in flight, leasing through the [`Engine`] like any worker
//! (as `dispatcher@<node>`), so leases, timeouts, the reaper and the job's
//! history work as for pull workers. A lane with free slots long-polls the
//! queue, so it sleeps until the engine wakes it for new jobs. Every
//! delivery ends in an ack sent to one acker task, which writes them to the
//! store in batches; a delivery's slot is freed once its ack is written, so
//! the store's count of active jobs and the lane's agree.
//!
//! Every target host (`host:port`) has a circuit breaker, registered as
//! `push:<host>` in the node's [`LocalBreakers`] (so `GET /v1/breakers`
//! lists it), shared by every queue pointing there. A lane asks it before
//! leasing, one admission per job: while it is open the lane leases
//! nothing, so the jobs wait where they are and no attempt is used up;
//! once its cooldown has passed it admits `half_open_max` probes, and the
//! lane leases that many jobs only. An admission that finds no job to lease
//! goes unrecorded; the breaker frees such a probe slot after its cooldown.
//! A job admitted before the breaker opened (while its lane was waiting
//! for jobs) is still delivered.
//!
//! On shutdown the lanes stop leasing, deliveries in flight get up to
//! `shutdown_grace` to finish and are acked; the leases still held after
//! that are released, not failed, so the jobs are available to other nodes
//! at once without losing an attempt. Only then does [`Dispatcher::run`]
//! return.

mod delivery;
mod step;

use delivery::RequestTimeout;
use step::PushStep;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rampart_core::breaker::{Admission, BreakerPolicy, Outcome};
use rampart_core::id::{BreakerName, JobId, QueueName};
use rampart_core::time::SharedClock;
use rampart_core::webhook::WebhookSecret;
use rampart_guard::Breaker;
use rampart_store::{AckOutcome, JobAck, JobRelease, LeasedJob, StepRecord};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tokio::task::JoinSet;

use super::loops::{Loops, names};

use crate::breaker::LocalBreakers;
use crate::config::{Config, PushBreakerConfig, PushTarget, QueueConfig};
use crate::engine::{Engine, EngineError, LeaseRequest, MAX_WAIT, Wake};
use crate::shutdown::Shutdown;
use crate::timer::Timer as _;

/// Added to a push queue's timeout for the length of its leases, so a
/// delivery that runs its whole timeout is still acked within the lease.
const LEASE_MARGIN: Duration = Duration::from_secs(10);

/// Taken off the time left before a job's timeout for its request, so the
/// delivery's own timeout answer reaches the store before the reaper's.
const TIMEOUT_MARGIN: Duration = Duration::from_millis(100);

/// Longest a lane sleeps on an open breaker before asking it again (on the
/// breakers' clock, so moving it brings the next look at once).
const OPEN_RECHECK: Duration = Duration::from_secs(1);

/// Wait before retrying a store call that failed.
const STORE_RETRY: Duration = Duration::from_secs(1);

/// How the dispatcher runs.
#[derive(Debug, Clone)]
pub struct DispatcherConfig {
    /// Who leases, in job histories (`dispatcher@<node>`).
    pub worker: String,
    /// The breaker policy of every target host.
    pub breaker: PushBreakerConfig,
    /// How long deliveries in flight may finish after shutdown is signalled.
    pub shutdown_grace: Duration,
    /// Most acks written in one store call.
    pub ack_batch: usize,
}

impl Default for DispatcherConfig {
    fn default() -> Self {
        DispatcherConfig {
            worker: "dispatcher".into(),
            breaker: PushBreakerConfig::default(),
            shutdown_grace: Duration::from_secs(30),
            ack_batch: 512,
        }
    }
}

/// A push queue as its lane needs it.
#[derive(Debug, Clone)]
struct PushQueue {
    name: QueueName,
    target: PushTarget,
    secret: Option<WebhookSecret>,
    concurrency: u32,
    timeout: Duration,
    retry_4xx: bool,
}

impl PushQueue {
    fn from_config(name: &QueueName, q: &QueueConfig) -> Option<PushQueue> {
        Some(PushQueue {
            name: name.clone(),
            target: q.target.clone()?,
            secret: q.secret.clone(),
            concurrency: q.concurrency.unwrap_or(QueueConfig::PUSH_CONCURRENCY).max(1),
            timeout: q.timeout.unwrap_or(QueueConfig::PUSH_TIMEOUT),
            retry_4xx: q.retry_4xx,
        })
    }
}

/// Delivers the jobs of push queues to their targets.
pub struct Dispatcher {
    config: DispatcherConfig,
    queues: Vec<PushQueue>,
    engine: Engine,
    breakers: LocalBreakers,
    clock: SharedClock,
    client: reqwest::Client,
    loops: Loops,
}

/// A finished delivery on its way to the store, with the slot it frees.
struct Finished {
    ack: JobAck,
    _slot: OwnedSemaphorePermit,
}

/// The leases a lane holds for deliveries in flight, released on shutdown
/// when their delivery did not finish within the grace.
type Held = Arc<Mutex<HashMap<JobId, String>>>;

/// The name of a target host's breaker: `push:` and the host and port,
/// with characters that names do not allow (an IPv6 address's brackets) as `_`.
pub fn breaker_name(target: &PushTarget) -> BreakerName {
    let host: String =
        target.host().chars().map(|c| if c.is_ascii_alphanumeric() || "_.:-".contains(c) { c } else { '_' }).collect();
    BreakerName::new(&format!("push:{host}")).unwrap_or_else(|_| {
        // A host too long for a name: its length-limited start still groups it.
        BreakerName::new(&format!("push:{}", &host[..host.len().min(100)])).unwrap_or_else(|_| unreachable!())
    })
}

/// The signing secret of a push queue: the configured one, else the one
/// kept in the store (made and stored now if there is none yet).
pub async fn push_secret(engine: &Engine, queue: &QueueName) -> Result<WebhookSecret, EngineError> {
    if let Some(secret) = &engine.queue_config(queue).secret {
        return Ok(secret.clone());
    }
    let candidate = WebhookSecret::generate();
    let kept = engine.store().push_secret_ensure(queue, candidate.expose(), engine.now()).await?;
    WebhookSecret::parse(&kept)
        .map_err(|e| EngineError::Store(rampart_store::StoreError::Internal(format!("stored push secret: {e}"))))
}

impl Dispatcher {
    /// A dispatcher for every queue of `app` that has a target, its
    /// breakers registered in `breakers` and reading time from `clock`
    /// (deliveries take their time from the engine).
    pub fn new(
        config: DispatcherConfig,
        app: &Config,
        engine: Engine,
        breakers: LocalBreakers,
        clock: SharedClock,
    ) -> Dispatcher {
        let queues = app.queues.iter().filter_map(|(name, q)| PushQueue::from_config(name, q)).collect();
        // Keep-alive pooling: each lane's requests reuse their connections.
        // Redirects are not followed: a job goes to its configured target or
        // fails (a 3xx is retried, and names where it pointed in its error).
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("rampart/", env!("CARGO_PKG_VERSION")))
            .pool_max_idle_per_host(1024)
            .tcp_nodelay(true)
            .build()
            .unwrap_or_default();
        Dispatcher { config, queues, engine, breakers, clock, client, loops: Loops::default() }
    }

    /// Reports each run to `loops` (the server's registry, for the admin diagnostics).
    pub fn with_loops(mut self, loops: Loops) -> Self {
        self.loops = loops;
        self
    }

    /// Whether any queue is pushed.
    pub fn has_queues(&self) -> bool {
        !self.queues.is_empty()
    }

    /// Delivers until shutdown, then lets deliveries finish within the
    /// grace, acks them, and releases the leases still held.
    pub async fn run(self, shutdown: Shutdown) {
        let (acks, inbox) = mpsc::unbounded_channel();
        let acker = tokio::spawn(ack_loop(self.engine.clone(), inbox, self.config.ack_batch));
        let this = Arc::new(self);
        let mut lanes = JoinSet::new();
        for queue in this.queues.clone() {
            lanes.spawn(Arc::clone(&this).lane(queue, acks.clone(), shutdown.clone()));
        }
        drop(acks);
        while lanes.join_next().await.is_some() {}
        // Every delivery's sender is gone: the acker drains and ends.
        if let Err(e) = acker.await {
            tracing::error!(error = %e, "the push acker stopped abnormally");
        }
    }

    fn breaker(&self, target: &PushTarget) -> Arc<Breaker> {
        let policy = BreakerPolicy {
            failure_threshold: self.config.breaker.failure_threshold,
            cooldown: self.config.breaker.cooldown,
            half_open_max: self.config.breaker.half_open_max,
            ..BreakerPolicy::default()
        };
        let clock = self.clock.clone();
        self.breakers.get_or_insert_with(breaker_name(target), move || {
            // The configuration checked every field of the policy.
            Arc::new(Breaker::new(policy, clock).unwrap_or_else(|e| panic!("push breaker policy: {e}")))
        })
    }

    /// One push queue's deliveries until shutdown, then its share of the
    /// graceful stop.
    async fn lane(self: Arc<Self>, queue: PushQueue, acks: mpsc::UnboundedSender<Finished>, shutdown: Shutdown) {
        let Some(secret) = self.secret(&queue, &shutdown).await else { return };
        let secret = Arc::new(secret);
        let breaker = self.breaker(&queue.target);
        let slots = Arc::new(Semaphore::new(queue.concurrency as usize));
        let held: Held = Arc::default();
        let mut deliveries = JoinSet::new();
        let lease = queue.timeout + LEASE_MARGIN;
        tracing::info!(queue = %queue.name, target = %queue.target, concurrency = queue.concurrency, "pushing jobs");
        loop {
            // Reap finished delivery tasks so the set does not grow.
            while deliveries.try_join_next().is_some() {}
            let first = tokio::select! {
                slot = Arc::clone(&slots).acquire_owned() => match slot {
                    Ok(s) => s,
                    Err(_) => break,
                },
                _ = shutdown.wait() => break,
            };
            let mut free = vec![first];
            while let Ok(s) = Arc::clone(&slots).try_acquire_owned() {
                free.push(s);
            }
            let (admitted, probing, wait_open) = admit(&breaker, free.len());
            if admitted == 0 {
                drop(free);
                tokio::select! {
                    _ = self.clock.sleep(wait_open.clamp(Duration::from_millis(10), OPEN_RECHECK)) => continue,
                    _ = shutdown.wait() => break,
                }
            }
            free.truncate(admitted);
            let request = LeaseRequest {
                max: admitted as u32,
                // A probe does not wait for jobs: its admission is short-lived.
                wait: if probing { Duration::ZERO } else { MAX_WAIT },
                lease: Some(lease),
                worker: Some(self.config.worker.clone()),
            };
            // One report per lease (a batch, or a long-poll's end), never per job.
            let leased = self.engine.lease(&queue.name, request).await;
            self.loops.report(names::DISPATCHER, &leased);
            let jobs = match leased {
                Ok(jobs) => jobs,
                Err(e) => {
                    tracing::warn!(queue = %queue.name, error = %e, "leasing push jobs failed; retrying shortly");
                    drop(free);
                    tokio::select! {
                        _ = self.engine.clock().sleep(STORE_RETRY) => continue,
                        _ = shutdown.wait() => break,
                    }
                }
            };
            if jobs.is_empty() && probing {
                drop(free);
                tokio::select! {
                    _ = self.clock.sleep(OPEN_RECHECK) => continue,
                    _ = shutdown.wait() => break,
                }
            }
            for (job, slot) in jobs.into_iter().zip(free) {
                if let Ok(mut h) = held.lock() {
                    h.insert(job.id, job.lease_token.clone());
                }
                let delivery = Delivery {
                    dispatcher: Arc::clone(&self),
                    queue: queue.clone(),
                    secret: Arc::clone(&secret),
                    breaker: Arc::clone(&breaker),
                    held: Arc::clone(&held),
                    acks: acks.clone(),
                };
                deliveries.spawn(delivery.run(job, slot));
            }
        }
        self.stop_lane(&queue.name, deliveries, held).await;
    }

    /// The lane's share of shutdown: deliveries get the grace to finish;
    /// those still running are cut off and their leases released.
    async fn stop_lane(&self, queue: &QueueName, mut deliveries: JoinSet<()>, held: Held) {
        let in_flight = deliveries.len();
        if in_flight > 0 {
            tracing::info!(queue = %queue, in_flight, grace = ?self.config.shutdown_grace, "letting push deliveries finish");
        }
        let finished =
            tokio::time::timeout(self.config.shutdown_grace, async { while deliveries.join_next().await.is_some() {} })
                .await;
        if finished.is_err() {
            deliveries.abort_all();
            while deliveries.join_next().await.is_some() {}
        }
        let leases: Vec<(JobId, String)> = match held.lock() {
            Ok(mut h) => h.drain().collect(),
            Err(_) => Vec::new(),
        };
        if !leases.is_empty() {
            self.release(queue, leases).await;
        }
    }

    /// Gives leases back without failing their jobs.
    async fn release(&self, queue: &QueueName, leases: Vec<(JobId, String)>) {
        let count = leases.len();
        let releases = leases.into_iter().map(|(id, lease_token)| JobRelease { id, lease_token }).collect();
        match self.engine.release(releases).await {
            Ok(results) => {
                let released = results.iter().filter(|r| r.is_ok()).count();
                tracing::info!(queue = %queue, released, count, "released the leases of cut-off push deliveries");
            }
            Err(e) => {
                tracing::warn!(queue = %queue, error = %e, count, "releasing leases failed; they expire by themselves")
            }
        }
    }

    /// The queue's secret, retrying while the store is unavailable; `None` on shutdown.
    async fn secret(&self, queue: &PushQueue, shutdown: &Shutdown) -> Option<WebhookSecret> {
        if let Some(s) = &queue.secret {
            return Some(s.clone());
        }
        loop {
            match push_secret(&self.engine, &queue.name).await {
                Ok(s) => return Some(s),
                Err(e) => {
                    tracing::warn!(queue = %queue.name, error = %e, "cannot read the push secret; retrying shortly");
                }
            }
            tokio::select! {
                _ = self.engine.clock().sleep(STORE_RETRY) => {}
                _ = shutdown.wait() => return None,
            }
        }
    }
}

/// Asks the breaker once per free slot: how many are admitted, whether they
/// are half-open probes, and when an open breaker may admit again.
fn admit(breaker: &Breaker, free: usize) -> (usize, bool, Duration) {
    let (mut admitted, mut probing) = (0, false);
    for _ in 0..free {
        match breaker.acquire() {
            Admission::Allowed { probe } => {
                admitted += 1;
                probing |= probe;
            }
            Admission::Rejected { retry_after } => return (admitted, probing, retry_after),
        }
    }
    (admitted, probing, Duration::ZERO)
}

/// One job's delivery, as a task of its lane.
struct Delivery {
    dispatcher: Arc<Dispatcher>,
    queue: PushQueue,
    secret: Arc<WebhookSecret>,
    breaker: Arc<Breaker>,
    held: Held,
    acks: mpsc::UnboundedSender<Finished>,
}

impl Delivery {
    async fn run(self, mut job: LeasedJob, slot: OwnedSemaphorePermit) {
        // A step-function target is called once per step, at most once per step a job may record.
        let mut calls = 0;
        let outcome = loop {
            calls += 1;
            let d = self.deliver(&job).await;
            let Some(step) = d.step else { break d.outcome };
            if calls > rampart_core::step::MAX_STEPS {
                let error = "the target answered 206 more often than a job may have steps".to_string();
                break AckOutcome::Fail { error, retryable: false, retry_at: None };
            }
            match self.step(&mut job, step).await {
                Ok(StepDone::Again) => {}
                Ok(StepDone::GivenBack) => {
                    // Asleep: the store holds the job, so there is nothing to ack.
                    if let Ok(mut h) = self.held.lock() {
                        h.remove(&job.id);
                    }
                    drop(slot);
                    return;
                }
                Err(e) => break AckOutcome::Fail { error: e, retryable: true, retry_at: None },
            }
        };
        // From here the ack owns the lease: shutdown must not release it.
        if let Ok(mut h) = self.held.lock() {
            h.remove(&job.id);
        }
        let ack = JobAck { id: job.id, lease_token: job.lease_token, outcome };
        if self.acks.send(Finished { ack, _slot: slot }).is_err() {
            tracing::error!(job = %job.id, "the push acker is gone; the job's lease expires by itself");
        }
    }

    /// One request to the target, its outcome recorded by the host's breaker.
    async fn deliver(&self, job: &LeasedJob) -> delivery::Delivered {
        // The engine's time, which the job's timeout is on.
        let engine = &self.dispatcher.engine;
        let now = engine.now();
        let timeout =
            RequestTimeout::of(job, self.queue.timeout, self.queue.timeout + LEASE_MARGIN, TIMEOUT_MARGIN, now);
        let started = Instant::now();
        let clock = || engine.now();
        let d = delivery::deliver(
            &self.dispatcher.client,
            &self.queue.target,
            &self.secret,
            job,
            timeout,
            self.queue.retry_4xx,
            &clock,
        )
        .await;
        let outcome = if d.host_failed { Outcome::Failure } else { Outcome::Success };
        self.breaker.record(outcome, started.elapsed());
        d
    }

    /// Applies a `206`'s step: a result recorded (the lease renewed for the
    /// next call), or a durable sleep that gives the job back.
    async fn step(&self, job: &mut LeasedJob, step: PushStep) -> Result<StepDone, String> {
        let engine = &self.dispatcher.engine;
        let token = job.lease_token.clone();
        match step {
            PushStep::Record(name, result) => {
                let recorded = engine
                    .step_record(job.id, token.clone(), name.clone(), result)
                    .await
                    .map_err(|e| format!("step `{name}` could not be recorded: {e}"))?;
                if recorded.recorded {
                    let at = engine.now();
                    let attempt = job.attempt;
                    job.steps.push(StepRecord {
                        name: name.as_str().to_string(),
                        result: recorded.result,
                        at,
                        attempt,
                    });
                }
                engine
                    .heartbeat(job.id, token, Some(self.queue.timeout + LEASE_MARGIN))
                    .await
                    .map_err(|e| format!("the lease could not be renewed after step `{name}`: {e}"))?;
                Ok(StepDone::Again)
            }
            PushStep::Sleep(name, duration) => {
                let slept = engine
                    .step_sleep(job.id, token, name.clone(), Wake::After(duration))
                    .await
                    .map_err(|e| format!("step `{name}` could not sleep: {e}"))?;
                Ok(if slept.recorded { StepDone::GivenBack } else { StepDone::Again })
            }
        }
    }
}

/// What a push step left the delivery to do.
enum StepDone {
    /// Call the target again at once.
    Again,
    /// The job was given back (asleep): the delivery ends without an ack.
    GivenBack,
}

/// Writes finished deliveries' acks in batches until every sender is gone.
async fn ack_loop(engine: Engine, mut inbox: mpsc::UnboundedReceiver<Finished>, batch: usize) {
    let mut finished = Vec::with_capacity(batch);
    while inbox.recv_many(&mut finished, batch.max(1)).await > 0 {
        let acks: Vec<JobAck> = finished.iter().map(|f| f.ack.clone()).collect();
        let mut tries = 0;
        loop {
            match engine.ack(acks.clone()).await {
                Ok(results) => {
                    for (ack, r) in acks.iter().zip(results) {
                        if let Err(e) = r {
                            // Its lease ran out first (the reaper failed the attempt).
                            tracing::warn!(job = %ack.id, error = %e, "a push delivery's ack was refused");
                        }
                    }
                    break;
                }
                Err(e) if tries < 5 => {
                    tries += 1;
                    tracing::warn!(error = %e, count = acks.len(), "writing push acks failed; retrying");
                    engine.clock().sleep(STORE_RETRY).await;
                }
                Err(e) => {
                    tracing::error!(error = %e, count = acks.len(), "writing push acks failed; their leases expire by themselves");
                    break;
                }
            }
        }
        // The slots free only now, so the lane's count matches the store's.
        finished.clear();
    }
}
