//! The queue engine: everything a job goes through, on top of the store.
//!
//! Routes, in-process workers ([`crate::worker`]) and the background services all
//! call the [`Engine`]; it resolves per-queue settings, checks limits, wakes
//! long-polling workers when jobs become available and keeps the running
//! totals since start-up. It never reads the wall clock directly: time comes
//! from the injected [`Clock`], so tests move it by hand.

mod error;
mod flow;
mod operator;
mod spec;
mod steps;
mod totals;
mod wake;
mod workers;

pub use error::EngineError;
pub use flow::child_view;
pub use spec::{InvalidFlow, InvalidSpec, JobSpec, MAX_DELAY, MAX_TIMEOUT, MAX_UNIQUE_KEY_LEN};
pub use steps::{EVENT_KEEP, MAX_EVENT_BYTES, MAX_SLEEP, MAX_WAIT_TIMEOUT, WaitFor, Wake};
pub use totals::{RUN_TIME_BOUNDS_US, RUN_TIME_BUCKETS, RunningTotals};

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use rampart_core::id::{JobId, QueueName};
use rampart_core::job::JobState;
use rampart_core::queue::{QueueCounters, QueueRate};
use rampart_core::retry::{Backoff, RetryPlanner};
use rampart_core::time::{SharedClock, UnixMillis};
use rampart_store::{
    AckOutcome, DeadTenant, JobAck, JobAckParams, JobAcked, JobHeartbeatParams, JobInsertKeyedParams, JobInsertParams,
    JobInserted, JobInsertedKeyed, JobLeaseParams, JobListParams, JobReapParams, JobReaped, JobRecord, JobRelease,
    JobReleaseParams, JobReleased, JobRetryDeadParams, LeasedJob, NewJob, QueueCounts, QueueDeleted, QueueRateParams,
    QueueRateStatus, Store, StoreError, StoreSignal, WebhookIntakeParams, WebhookIntaken,
};

use crate::config::{Config, QueueConfig};
use crate::shutdown::Shutdown;
use crate::timer::Timer as _;
use totals::Totals;
use wake::Wakers;
use workers::Workers;

/// Longest long-poll a lease may ask for.
pub const MAX_WAIT: Duration = Duration::from_secs(30);
/// Longest lease (and heartbeat extension) a worker may ask for: past it a
/// crashed worker's job would wait too long for the reaper.
pub const MAX_LEASE: Duration = Duration::from_secs(24 * 3600);
/// Most jobs one lease call may take.
pub const MAX_LEASE_BATCH: u32 = 1_000;
/// How often a waiter for a job's end reads the job again when nothing on
/// this node woke it.
pub const END_RECHECK: Duration = Duration::from_millis(200);
/// Largest progress a worker may report, in bytes of JSON.
pub const MAX_PROGRESS_BYTES: usize = 16 * 1024;
/// Most jobs one batch enqueue may carry.
pub const MAX_ENQUEUE_BATCH: usize = 10_000;
/// Rows a maintenance step touches per transaction, so it never blocks the queue for long.
const MAINTENANCE_BATCH: u32 = 1_000;

/// What a lease asks for.
#[derive(Debug, Clone, Default)]
pub struct LeaseRequest {
    /// Most jobs (1 to [`MAX_LEASE_BATCH`]).
    pub max: u32,
    /// Long-poll this long when nothing is available (≤ [`MAX_WAIT`]).
    pub wait: Duration,
    /// Lease length; the queue's when absent.
    pub lease: Option<Duration>,
    /// Who leases, for the history.
    pub worker: Option<String>,
}

/// A queue's state as operators see it.
#[derive(Debug, Clone)]
pub struct QueueStatus {
    /// The queue.
    pub name: QueueName,
    /// Whether leasing is paused.
    pub paused: bool,
    /// Jobs per state.
    pub counts: QueueCounts,
    /// What its attempts came to since this server started.
    pub totals: QueueCounters,
    /// Its start rate (`rate`, `rate_key`) with the windows open now; `None`
    /// for a queue without one.
    pub rate: Option<(QueueRate, QueueRateStatus)>,
}

/// The queue engine. Cloning shares it.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    clock: SharedClock,
    policies: Arc<Policies>,
    max_payload_bytes: usize,
    wakers: Wakers,
    totals: Totals,
    workers: Workers,
    shutdown: Shutdown,
}

/// Per-queue settings from the configuration; also the store's retry planner.
pub struct Policies {
    defaults: QueueConfig,
    queues: BTreeMap<QueueName, QueueConfig>,
}

impl Policies {
    /// The settings of a queue.
    pub fn queue(&self, name: &str) -> &QueueConfig {
        self.queues.get(name).unwrap_or(&self.defaults)
    }
}

impl RetryPlanner for Policies {
    fn backoff(&self, queue: &str) -> Backoff {
        self.queue(queue).backoff
    }
}

impl Engine {
    /// An engine over `store`, configured by `config`, stopping long-polls on `shutdown`.
    pub fn new(store: Store, config: &Config, clock: SharedClock, shutdown: Shutdown) -> Engine {
        let policies = Arc::new(Policies { defaults: config.queue_defaults.clone(), queues: config.queues.clone() });
        Engine {
            inner: Arc::new(Inner {
                store,
                clock,
                policies,
                max_payload_bytes: config.max_payload_bytes,
                wakers: Wakers::default(),
                totals: Totals::default(),
                workers: Workers::default(),
                shutdown,
            }),
        }
    }

    /// The store underneath.
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// The clock the engine reads time from, which its services sleep on.
    pub fn clock(&self) -> &SharedClock {
        &self.inner.clock
    }

    /// The server's shutdown signal, for work started on the engine's
    /// behalf that must stop with it (the dashboard's bulk actions).
    pub fn shutdown(&self) -> &Shutdown {
        &self.inner.shutdown
    }

    /// The current time of the engine's clock.
    pub fn now(&self) -> UnixMillis {
        self.inner.clock.now()
    }

    /// The largest payload a job may have (`max_payload_bytes`).
    pub fn max_payload_bytes(&self) -> usize {
        self.inner.max_payload_bytes
    }

    /// The settings of a queue.
    pub fn queue_config(&self, queue: &QueueName) -> &QueueConfig {
        self.inner.policies.queue(queue.as_str())
    }

    /// Enqueues jobs into one queue, all-or-nothing.
    pub async fn enqueue(&self, queue: &QueueName, specs: Vec<JobSpec>) -> Result<Vec<JobInserted>, EngineError> {
        let now = self.now();
        let jobs = self.new_jobs(queue, specs, now)?;
        let ready_now = jobs.iter().any(|j| j.run_at <= now);
        let pending = self.inner.store.job_insert_many(JobInsertParams { jobs, now });
        // Waiting leases are woken while the insert commits: their lease is
        // queued behind it and finds the new jobs, a commit and two thread
        // hand-offs sooner than waking them after the answer.
        if ready_now {
            self.inner.wakers.wake_queue(queue);
        }
        let inserted = pending.await?;
        // And again once committed, for a lease that ran before the insert
        // was visible (it went back to waiting).
        self.jobs_inserted(queue, &inserted);
        Ok(inserted)
    }

    /// Enqueues jobs under an idempotency key kept for `window`: the first
    /// call inserts them (all-or-nothing) and takes the key; a repeat within
    /// the window answers the same jobs, `replayed`, and inserts nothing.
    pub async fn enqueue_keyed(
        &self,
        queue: &QueueName,
        specs: Vec<JobSpec>,
        key: String,
        window: Duration,
    ) -> Result<JobInsertedKeyed, EngineError> {
        let now = self.now();
        let jobs = self.new_jobs(queue, specs, now)?;
        let params = JobInsertKeyedParams { queue: queue.clone(), key, expires_at: now.plus(window), jobs, now };
        let pending = self.inner.store.job_insert_keyed(params);
        self.inner.wakers.wake_queue(queue);
        let keyed = pending.await?;
        self.jobs_inserted(queue, &keyed.jobs);
        Ok(keyed)
    }

    /// Takes a verified webhook event: its job, with the queue's defaults and
    /// `payload`, goes into the store in the one transaction that takes the
    /// event id and logs the delivery (`delivery` fills in the rest of the
    /// call from the job and the time). Jobs are made here and only here.
    pub async fn webhook_intake(
        &self,
        queue: &QueueName,
        payload: String,
        delivery: impl FnOnce(NewJob, UnixMillis) -> WebhookIntakeParams,
    ) -> Result<WebhookIntaken, EngineError> {
        let now = self.now();
        let spec = JobSpec { payload, ..JobSpec::default() };
        let job = self.new_jobs(queue, vec![spec], now)?.pop().ok_or(EngineError::Invalid("no job".into()))?;
        let pending = self.inner.store.webhook_intake(delivery(job, now));
        self.inner.wakers.wake_queue(queue);
        let taken = pending.await?;
        if let WebhookIntaken::Accepted { job, .. } = &taken {
            self.jobs_inserted(queue, std::slice::from_ref(job));
        }
        Ok(taken)
    }

    /// The store's rows of `specs`: the queue's defaults filled in, payload sizes checked.
    fn new_jobs(&self, queue: &QueueName, specs: Vec<JobSpec>, now: UnixMillis) -> Result<Vec<NewJob>, EngineError> {
        if specs.len() > MAX_ENQUEUE_BATCH {
            return Err(EngineError::Invalid(format!(
                "a batch holds at most {MAX_ENQUEUE_BATCH} jobs; this one has {}; split it",
                specs.len()
            )));
        }
        specs.into_iter().enumerate().map(|(i, spec)| self.new_job(queue, spec, now, i)).collect()
    }

    /// The store's row of one spec (the `index`th of its request): the
    /// queue's defaults filled in, its payload's size checked.
    fn new_job(&self, queue: &QueueName, spec: JobSpec, now: UnixMillis, index: usize) -> Result<NewJob, EngineError> {
        if spec.payload.len() > self.inner.max_payload_bytes {
            return Err(EngineError::PayloadTooLarge {
                index,
                size: spec.payload.len(),
                limit: self.inner.max_payload_bytes,
            });
        }
        let cfg = self.queue_config(queue);
        Ok(NewJob {
            queue: queue.clone(),
            payload: spec.payload,
            run_at: spec.run_at.unwrap_or(now),
            priority: spec.priority,
            max_attempts: spec.max_attempts.unwrap_or(cfg.max_attempts),
            timeout: spec.timeout.or(cfg.timeout),
            unique_key: spec.unique_key,
            tenant: spec.tenant,
        })
    }

    /// Wakes what waits on jobs another store call inserted into `queue` (a
    /// cron run's job): leases of the queue, and the promoter for a job that
    /// runs later.
    pub fn jobs_inserted(&self, queue: &QueueName, inserted: &[JobInserted]) {
        if inserted.iter().any(|j| !j.duplicate && j.state == JobState::Available) {
            self.inner.wakers.wake_queue(queue);
        }
        if inserted.iter().any(|j| !j.duplicate && j.state == JobState::Scheduled) {
            self.inner.wakers.wake_promoter();
        }
    }

    /// Leases jobs, long-polling up to `wait` until at least one is available.
    pub async fn lease(&self, queue: &QueueName, req: LeaseRequest) -> Result<Vec<LeasedJob>, EngineError> {
        if req.max == 0 || req.max > MAX_LEASE_BATCH {
            return Err(EngineError::Invalid(format!("`max` must be between 1 and {MAX_LEASE_BATCH}")));
        }
        if req.wait > MAX_WAIT {
            return Err(EngineError::Invalid("`wait` must be at most 30s".into()));
        }
        let cfg = self.queue_config(queue);
        let lease = req.lease.unwrap_or(cfg.lease);
        check_lease(lease)?;
        if let Some(worker) = &req.worker {
            self.worker_seen(queue, worker);
        }
        let deadline = self.now().plus(req.wait);
        // Made once, so wake-ups that find nothing do not push it back.
        let expired = self.inner.clock.sleep_until(deadline);
        tokio::pin!(expired);
        let waker = self.inner.wakers.queue(queue);
        // On a shared store a lost signal must not leave this lease asleep
        // for its whole wait while jobs sit in the queue.
        let fallback = self.inner.store.fallback_poll();
        loop {
            let notified = waker.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let leased = self
                .inner
                .store
                .job_lease(JobLeaseParams {
                    queue: queue.clone(),
                    max: req.max,
                    lease,
                    worker: req.worker.clone(),
                    concurrency: cfg.concurrency,
                    rate: cfg.start_rate(),
                    now: self.now(),
                })
                .await?;
            if !leased.jobs.is_empty() || self.now() >= deadline || self.inner.shutdown.is_triggered() {
                return Ok(leased.jobs);
            }
            // Jobs the start rate held back may start once a full window
            // ends, which no enqueue signals: wake then, on the engine's clock.
            let reopened = leased.rate_reopens_at.map(|at| self.inner.clock.sleep_until(at));
            tokio::select! {
                _ = notified => {}
                _ = look_again_after(fallback) => {}
                _ = reopening(reopened) => {}
                _ = &mut expired => return Ok(Vec::new()),
                _ = self.inner.shutdown.wait() => return Ok(Vec::new()),
            }
        }
    }

    /// Notes that a worker leased from `queue` just now (readiness counts
    /// the workers seen in the last minute, and those of each queue with
    /// `ready_requires_workers`); [`Engine::lease`] notes the named ones itself.
    pub fn worker_seen(&self, queue: &QueueName, who: &str) {
        let now = self.now();
        self.inner.workers.seen(who, now);
        if self.queue_config(queue).ready_requires_workers > 0 {
            self.inner.workers.seen_on(queue, who, now);
        }
    }

    /// The queues whose readiness requires workers (`ready_requires_workers`),
    /// each with the workers that leased from it on this node within its
    /// lease time, and how many it requires; by name.
    pub fn queue_workers(&self) -> Vec<(QueueName, usize, u32)> {
        let now = self.now();
        self.inner
            .policies
            .queues
            .iter()
            .filter(|(_, cfg)| cfg.ready_requires_workers > 0)
            .map(|(name, cfg)| {
                let since = UnixMillis(now.0.saturating_sub(i64::try_from(cfg.lease.as_millis()).unwrap_or(i64::MAX)));
                (name.clone(), self.inner.workers.count_on_since(name, since), cfg.ready_requires_workers)
            })
            .collect()
    }

    /// How many workers leased from this node since `since`.
    pub fn workers_seen_since(&self, since: UnixMillis) -> usize {
        self.inner.workers.count_since(since)
    }

    /// The tenants with the most dead jobs in each queue, at most `per_queue` each.
    pub async fn dead_tenants(&self, per_queue: u32) -> Result<Vec<DeadTenant>, EngineError> {
        Ok(self.inner.store.job_dead_tenants(per_queue).await?)
    }

    /// Every queue's running totals since this server started, by name.
    pub fn running_totals(&self) -> Vec<(QueueName, RunningTotals)> {
        self.inner.totals.all()
    }

    /// Extends a lease by `lease` (the original lease length when absent).
    pub async fn heartbeat(
        &self,
        id: JobId,
        lease_token: String,
        lease: Option<Duration>,
    ) -> Result<UnixMillis, EngineError> {
        self.beat(id, lease_token, lease, None).await
    }

    /// Keeps an active job's progress (JSON text, at most
    /// [`MAX_PROGRESS_BYTES`], checked by the caller) and extends its lease
    /// as a heartbeat does: a worker reporting progress is alive.
    pub async fn progress(
        &self,
        id: JobId,
        lease_token: String,
        lease: Option<Duration>,
        progress: String,
    ) -> Result<UnixMillis, EngineError> {
        self.beat(id, lease_token, lease, Some(progress)).await
    }

    async fn beat(
        &self,
        id: JobId,
        lease_token: String,
        lease: Option<Duration>,
        progress: Option<String>,
    ) -> Result<UnixMillis, EngineError> {
        lease.map(check_lease).transpose()?;
        let params = JobHeartbeatParams { id, lease_token, lease, progress, now: self.now() };
        Ok(self.inner.store.job_heartbeat(params).await?)
    }

    /// Applies completions and failures; each stands or falls on its own. An
    /// ack repeating the one that ended its attempt answers the job's state
    /// again, marked `already`, and is not counted twice.
    pub async fn ack(&self, acks: Vec<JobAck>) -> Result<Vec<Result<JobAcked, EngineError>>, EngineError> {
        if acks.is_empty() {
            return Ok(Vec::new());
        }
        let params = JobAckParams { acks, planner: self.inner.policies.clone(), now: self.now() };
        let results = self.inner.store.job_ack_many(params).await?;
        // A repeated ack (`already`) changed nothing: nothing to count or wake.
        let acked: Vec<&JobAcked> = results.iter().filter_map(|r| r.as_ref().ok()).filter(|a| !a.already).collect();
        self.inner.totals.record_acks(&acked);
        // A retry, or a flow's parent made due by its last child, is the promoter's.
        if acked.iter().any(|a| a.state == JobState::Scheduled || a.parent_due) {
            self.inner.wakers.wake_promoter();
        }
        if acked.iter().any(|a| a.state.is_terminal()) {
            self.inner.wakers.wake_ended();
        }
        // A finished job frees a slot of a queue with a concurrency limit.
        for a in &acked {
            if self.queue_config(&a.queue).concurrency.is_some() {
                self.inner.wakers.wake_queue(&a.queue);
            }
        }
        Ok(results.into_iter().map(|r| r.map_err(EngineError::from)).collect())
    }

    /// Completes one job.
    pub async fn complete(
        &self,
        id: JobId,
        lease_token: String,
        result: Option<String>,
    ) -> Result<JobAcked, EngineError> {
        self.ack_one(JobAck { id, lease_token, outcome: AckOutcome::Complete { result } }).await
    }

    /// Fails one job's attempt.
    pub async fn fail(
        &self,
        id: JobId,
        lease_token: String,
        error: String,
        retryable: bool,
    ) -> Result<JobAcked, EngineError> {
        self.ack_one(JobAck { id, lease_token, outcome: AckOutcome::Fail { error, retryable, retry_at: None } }).await
    }

    async fn ack_one(&self, ack: JobAck) -> Result<JobAcked, EngineError> {
        self.ack(vec![ack])
            .await?
            .pop()
            .unwrap_or(Err(EngineError::Store(StoreError::Internal("no ack result".into()))))
    }

    /// Gives leases back without counting their attempts (a stopping worker
    /// or node hands its unfinished jobs to the others at once); each stands
    /// or falls on its own.
    pub async fn release(
        &self,
        releases: Vec<JobRelease>,
    ) -> Result<Vec<Result<JobReleased, EngineError>>, EngineError> {
        if releases.is_empty() {
            return Ok(Vec::new());
        }
        let results = self.inner.store.job_release_many(JobReleaseParams { releases, now: self.now() }).await?;
        let mut woken: Vec<&QueueName> = Vec::new();
        for r in results.iter().flatten() {
            if !woken.contains(&&r.queue) {
                self.inner.wakers.wake_queue(&r.queue);
                woken.push(&r.queue);
            }
        }
        Ok(results.into_iter().map(|r| r.map_err(EngineError::from)).collect())
    }

    /// One job with its history.
    pub async fn job(&self, id: JobId) -> Result<JobRecord, EngineError> {
        self.inner.store.job_get(id).await?.ok_or(EngineError::JobNotFound(id))
    }

    /// The job once it has ended (completed, dead or cancelled), or as it is
    /// when `wait` (at most [`MAX_WAIT`]) has passed: a long-poll for a
    /// result. Acks on this node wake it at once; an end elsewhere (another
    /// node, the reaper, a cancel) is seen within [`END_RECHECK`].
    pub async fn job_when_ended(&self, id: JobId, wait: Duration) -> Result<JobRecord, EngineError> {
        if wait > MAX_WAIT {
            return Err(EngineError::Invalid("`wait` must be at most 30s".into()));
        }
        let deadline = self.now().plus(wait);
        loop {
            let notified = self.inner.wakers.ended().notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let job = self.job(id).await?;
            let now = self.now();
            if job.state.is_terminal() || now >= deadline || self.inner.shutdown.is_triggered() {
                return Ok(job);
            }
            let recheck = self.inner.clock.sleep_until(deadline.min(now.plus(END_RECHECK)));
            tokio::select! {
                _ = notified => {}
                _ = recheck => {}
                _ = self.inner.shutdown.wait() => {}
            }
        }
    }

    /// A page of a queue's jobs.
    pub async fn jobs(&self, params: JobListParams) -> Result<Vec<JobRecord>, EngineError> {
        Ok(self.inner.store.job_list(params).await?)
    }

    /// Retries a dead or cancelled job.
    pub async fn job_retry(&self, id: JobId) -> Result<(), EngineError> {
        let retried = self.inner.store.job_retry(id, self.now()).await.map_err(|e| not_found_as(e, id))?;
        self.inner.wakers.wake_queue(&retried.queue);
        Ok(())
    }

    /// Cancels a job that has not started.
    pub async fn job_cancel(&self, id: JobId) -> Result<(), EngineError> {
        self.inner.store.job_cancel(id, self.now()).await.map_err(|e| not_found_as(e, id))
    }

    /// Retries a queue's dead jobs (only `ids` when given); answers how many.
    pub async fn dead_retry(&self, queue: &QueueName, ids: Option<Vec<JobId>>) -> Result<u64, EngineError> {
        let mut total = 0;
        let mut after = None;
        let limit = match &ids {
            Some(ids) => u32::try_from(ids.len()).unwrap_or(u32::MAX).max(1),
            None => MAINTENANCE_BATCH,
        };
        loop {
            let params = JobRetryDeadParams { queue: queue.clone(), ids: ids.clone(), after, limit, now: self.now() };
            let page = self.inner.store.job_retry_dead(params).await?;
            total += page.moved;
            if page.moved > 0 {
                self.inner.wakers.wake_queue(queue);
            }
            match page.next {
                Some(next) => after = Some(next),
                None => return Ok(total),
            }
        }
    }

    /// Deletes a queue's dead jobs; answers how many.
    pub async fn dead_purge(&self, queue: &QueueName) -> Result<u64, EngineError> {
        let mut total = 0;
        loop {
            let n = self.inner.store.job_purge_dead(queue.clone(), MAINTENANCE_BATCH).await?;
            total += n;
            if n < u64::from(MAINTENANCE_BATCH) {
                return Ok(total);
            }
        }
    }

    /// Pauses or resumes leasing from a queue.
    pub async fn queue_set_paused(&self, queue: &QueueName, paused: bool) -> Result<(), EngineError> {
        self.inner.store.queue_set_paused(queue.clone(), paused, self.now()).await?;
        if !paused {
            self.inner.wakers.wake_queue(queue);
        }
        Ok(())
    }

    /// Deletes a queue holding no unfinished job, with its finished jobs,
    /// their history, its totals and settings; answers how many jobs went.
    /// A queue of the configuration comes back at the next start.
    pub async fn queue_delete(&self, queue: &QueueName) -> Result<u64, EngineError> {
        match self.inner.store.queue_delete(queue.clone()).await? {
            QueueDeleted::Deleted { jobs } => Ok(jobs),
            QueueDeleted::Unknown => Err(EngineError::QueueNotFound(queue.clone())),
            QueueDeleted::NotEmpty { scheduled, available, active } => {
                Err(EngineError::QueueNotEmpty { queue: queue.clone(), scheduled, available, active })
            }
        }
    }

    /// Every known queue with its counts and totals, by name.
    pub async fn queues(&self) -> Result<Vec<QueueStatus>, EngineError> {
        let (known, counts) = tokio::try_join!(self.inner.store.queue_list(), self.inner.store.queue_counts())?;
        let mut by_name: BTreeMap<QueueName, QueueStatus> = BTreeMap::new();
        for q in known {
            let status = self.status(q.name.clone(), q.paused, QueueCounts::empty(q.name));
            by_name.insert(status.name.clone(), status);
        }
        for c in counts {
            let name = c.queue.clone();
            let paused = by_name.get(&name).is_some_and(|s| s.paused);
            by_name.insert(name.clone(), self.status(name, paused, c));
        }
        self.with_rates(by_name.into_values().collect()).await
    }

    /// One queue's counts and totals.
    pub async fn queue(&self, queue: &QueueName) -> Result<QueueStatus, EngineError> {
        self.queues()
            .await?
            .into_iter()
            .find(|q| &q.name == queue)
            .ok_or_else(|| EngineError::QueueNotFound(queue.clone()))
    }

    fn status(&self, name: QueueName, paused: bool, counts: QueueCounts) -> QueueStatus {
        let totals = self.inner.totals.counts(&name);
        QueueStatus { name, paused, counts, totals, rate: None }
    }

    /// Reads the open start-rate windows of each queue that has a rate.
    async fn with_rates(&self, mut queues: Vec<QueueStatus>) -> Result<Vec<QueueStatus>, EngineError> {
        let now = self.now();
        for q in &mut queues {
            if let Some(rate) = self.queue_config(&q.name).start_rate() {
                let params = QueueRateParams { queue: q.name.clone(), rate, now };
                q.rate = Some((rate, self.inner.store.queue_rate_status(params).await?));
            }
        }
        Ok(queues)
    }

    /// Fails jobs whose lease expired or whose timeout passed, or gives a
    /// stalled job back to its queue (its queue's `max_stalls`); answers how many.
    pub async fn reap_once(&self) -> Result<usize, EngineError> {
        let policies = self.inner.policies.clone();
        let params = JobReapParams {
            limit: MAINTENANCE_BATCH,
            planner: self.inner.policies.clone(),
            max_stalls: Arc::new(move |queue: &str| policies.queue(queue).max_stalls),
            now: self.now(),
        };
        let reaped: Vec<JobReaped> = self.inner.store.job_reap(params).await?;
        if reaped.is_empty() {
            return Ok(0);
        }
        self.inner.totals.record_reaped(&reaped);
        if reaped.iter().any(|r| r.state == JobState::Scheduled) {
            self.inner.wakers.wake_promoter();
        }
        for r in &reaped {
            // A stalled job is available again; a freed slot lets another start.
            if r.state == JobState::Available || self.queue_config(&r.queue).concurrency.is_some() {
                self.inner.wakers.wake_queue(&r.queue);
            }
        }
        for r in &reaped {
            if r.state == JobState::Available {
                tracing::warn!(job = %r.id, queue = %r.queue, "stalled: its lease expired without a heartbeat; the job went back to the queue without counting the attempt");
            } else {
                tracing::warn!(job = %r.id, queue = %r.queue, reason = r.kind.as_str(), state = %r.state, "attempt failed without an answer from its worker");
            }
        }
        Ok(reaped.len())
    }

    /// Makes due scheduled jobs available; answers how many.
    pub async fn promote_once(&self) -> Result<u64, EngineError> {
        let promoted = self.inner.store.job_promote_due(self.now(), MAINTENANCE_BATCH).await?;
        let mut total = 0;
        for (queue, n) in &promoted {
            self.inner.wakers.wake_queue(queue);
            total += n;
        }
        Ok(total)
    }

    /// The earliest time a scheduled job becomes due.
    pub async fn next_due(&self) -> Result<Option<UnixMillis>, EngineError> {
        Ok(self.inner.store.job_next_due().await?)
    }

    /// Resolves when something may have become due earlier than planned.
    pub async fn promoter_woken(&self) {
        self.inner.wakers.promoter_woken().await
    }

    /// Acts on a signal from another node sharing the store: wakes the leases
    /// waiting on a queue that received jobs, or on [`StoreSignal::Resync`]
    /// every waiting lease and the promoter, since anything may have changed.
    pub fn on_store_signal(&self, signal: &StoreSignal) {
        self.inner.wakers.on_signal(signal);
    }
}

/// Resolves when a start rate's window reopens, or never without one.
async fn reopening(reopened: Option<impl Future<Output = ()>>) {
    match reopened {
        Some(at) => at.await,
        None => std::future::pending().await,
    }
}

/// Resolves after `fallback`, or never when there is none.
async fn look_again_after(fallback: Option<Duration>) {
    match fallback {
        Some(d) => tokio::time::sleep(d).await,
        None => std::future::pending().await,
    }
}

fn not_found_as(e: StoreError, id: JobId) -> EngineError {
    match e {
        StoreError::NotFound => EngineError::JobNotFound(id),
        other => other.into(),
    }
}

/// A lease length a worker asked for: longer than zero, at most [`MAX_LEASE`].
fn check_lease(lease: Duration) -> Result<(), EngineError> {
    if lease.is_zero() {
        return Err(EngineError::Invalid("`lease` must be longer than 0s".into()));
    }
    if lease > MAX_LEASE {
        return Err(EngineError::Invalid("invalid field `lease`: must be at most 24h".into()));
    }
    Ok(())
}
