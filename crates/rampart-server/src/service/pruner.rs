//! The pruner: rampart's retention. It deletes completed and dead jobs (with
//! their history), cron runs, cache telemetry (`caches.retention`) and
//! error events (`errors.retention`) past their retention, in batches of
//! [`PrunerConfig::batch`] rows, one transaction each, so the SQLite writer
//! is never held long and the queues never wait on it.
//!
//! It works when told: each run of the built-in `rampart.retention` cron
//! schedule is handed to it through [`PruneRequests`], and it ends that run
//! with what it deleted, or why it failed. The same runs delete AI usage
//! rows and finished reservations older than `usage.retention`. Runs of `rampart.webhooks` clean
//! up webhook intake the same way: first the deliveries whose jobs finished
//! take their outcome into their row (before the jobs go), then expired
//! event ids and idempotency keys, old bodies and old deliveries. On PostgreSQL the deletes claim
//! rows `SKIP LOCKED`, so pruners of several nodes never wait on each other.

use std::collections::BTreeMap;
use std::time::Duration;

use rampart_core::id::QueueName;
use rampart_core::job::JobState;
use rampart_core::time::UnixMillis;
use rampart_store::{CronRunFinishParams, CronRunPruneParams, JobPruneParams, QueueFilter, WebhookPruneParams};
use tokio::sync::mpsc;

use super::loops::{Loops, names};
use crate::config::{Config, RetentionConfig, WebhooksConfig};
use crate::cron::{PruneRequests, PruneRun, WEBHOOKS_RETENTION};
use crate::engine::{Engine, EngineError};
use crate::shutdown::Shutdown;

/// Runs waiting for the pruner; more are ended at once as skipped.
const QUEUED_RUNS: usize = 4;

/// How the pruner deletes.
#[derive(Debug, Clone)]
pub struct PrunerConfig {
    /// The retention of every queue without its own (`[retention]`).
    pub retention: RetentionConfig,
    /// Queues with their own retention: completed, dead (`None`: the default).
    pub queues: BTreeMap<QueueName, (Option<Duration>, Option<Duration>)>,
    /// How long webhook intake's bodies and deliveries are kept (`[webhooks]`).
    pub webhooks: WebhooksConfig,
    /// How long AI usage rows (and finished reservations) are kept (`usage.retention`).
    pub usage: Duration,
    /// How long cache telemetry is kept (`caches.retention`).
    pub caches: Duration,
    /// How long error events are kept (`errors.retention`).
    pub errors: Duration,
    /// Rows deleted per transaction.
    pub batch: u32,
}

impl PrunerConfig {
    /// The retention settings of a configuration.
    pub fn from_config(config: &Config) -> PrunerConfig {
        let queues = config
            .queues
            .iter()
            .filter(|(_, q)| q.retention_completed.is_some() || q.retention_dead.is_some())
            .map(|(name, q)| (name.clone(), (q.retention_completed, q.retention_dead)))
            .collect();
        let webhooks = WebhooksConfig { sources: Default::default(), ..config.webhooks.clone() };
        PrunerConfig {
            retention: config.retention.clone(),
            queues,
            webhooks,
            usage: config.usage.retention,
            caches: config.caches.retention,
            errors: config.errors.retention,
            batch: 1_000,
        }
    }
}

/// What one prune deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct PruneReport {
    /// Completed jobs deleted.
    pub completed_jobs: u64,
    /// Dead jobs deleted.
    pub dead_jobs: u64,
    /// Cron runs deleted.
    pub cron_runs: u64,
    /// AI usage rows deleted.
    pub usage_events: u64,
    /// Settled and expired reservations deleted.
    pub usage_reservations: u64,
    /// Cache telemetry rows deleted (intervals, evictions, silent caches).
    pub cache_rows: u64,
    /// Error events and counts deleted.
    pub error_rows: u64,
    /// What a `rampart.webhooks` run did instead.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub webhooks: Option<WebhookPruneReport>,
}

/// What one `rampart.webhooks` run did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct WebhookPruneReport {
    /// Deliveries that took their finished job's outcome into their row.
    pub settled_deliveries: u64,
    /// Expired event ids and idempotency keys deleted.
    pub expired_keys: u64,
    /// Bodies dropped from the delivery log.
    pub bodies: u64,
    /// Deliveries deleted.
    pub deliveries: u64,
}

/// Deletes what is past its retention.
pub struct Pruner {
    config: PrunerConfig,
    engine: Engine,
    requests: mpsc::Receiver<PruneRun>,
    loops: Loops,
}

/// Why a prune stopped early.
#[derive(Debug, thiserror::Error)]
enum PruneError {
    #[error("stopped by shutdown after deleting {0:?}")]
    Shutdown(PruneReport),
    #[error("{error} (after deleting {done:?})")]
    Failed { error: EngineError, done: PruneReport },
}

impl Pruner {
    /// A pruner over `engine`, and the handle that gives it work.
    pub fn new(config: PrunerConfig, engine: Engine) -> (Pruner, PruneRequests) {
        let (requests, rx) = PruneRequests::channel(QUEUED_RUNS);
        (Pruner { config, engine, requests: rx, loops: Loops::default() }, requests)
    }

    /// Reports each run to `loops` (the server's registry, for the admin diagnostics).
    pub fn with_loops(mut self, loops: Loops) -> Self {
        self.loops = loops;
        self
    }

    /// Does the one waiting run, if any, and ends it; answers what it deleted.
    pub async fn run_once(&mut self) -> Result<Option<PruneReport>, EngineError> {
        let Ok(run) = self.requests.try_recv() else { return Ok(None) };
        self.work(&run, None).await.map(Some)
    }

    /// Prunes for each run handed over, until shutdown.
    pub async fn run(mut self, shutdown: Shutdown) {
        loop {
            let run = tokio::select! {
                run = self.requests.recv() => run,
                _ = shutdown.wait() => return,
            };
            let Some(run) = run else { return };
            let result = self.work(&run, Some(&shutdown)).await;
            self.loops.report(names::PRUNER, &result);
            if let Err(e) = result {
                tracing::warn!(error = %e, "cannot record the end of a retention run");
            }
        }
    }

    async fn work(&self, run: &PruneRun, shutdown: Option<&Shutdown>) -> Result<PruneReport, EngineError> {
        let started = self.engine.now();
        let outcome = if run.schedule.as_str() == WEBHOOKS_RETENTION {
            self.prune_webhooks(started, shutdown).await
        } else {
            self.prune(started, shutdown).await
        };
        let (status, error, report) = match outcome {
            Ok(report) => (JobState::Completed, None, report),
            Err(PruneError::Shutdown(done)) => (JobState::Dead, Some(PruneError::Shutdown(done).to_string()), done),
            Err(PruneError::Failed { error, done }) => {
                tracing::warn!(error = %error, "retention failed; the next run tries again");
                (JobState::Dead, Some(format!("{error}")), done)
            }
        };
        if status == JobState::Completed {
            tracing::info!(
                completed_jobs = report.completed_jobs,
                dead_jobs = report.dead_jobs,
                cron_runs = report.cron_runs,
                cache_rows = report.cache_rows,
                error_rows = report.error_rows,
                "retention ran"
            );
        }
        let finish = CronRunFinishParams {
            id: run.run,
            status,
            started_at: started,
            error,
            result: serde_json::to_string(&report).ok(),
            now: self.engine.now(),
        };
        self.engine.store().cron_run_finish(finish).await?;
        Ok(report)
    }

    /// Deletes everything past its retention at `now`, batch by batch.
    async fn prune(&self, now: UnixMillis, shutdown: Option<&Shutdown>) -> Result<PruneReport, PruneError> {
        let mut done = PruneReport::default();
        let cutoff =
            |keep: Duration| UnixMillis(now.0.saturating_sub(i64::try_from(keep.as_millis()).unwrap_or(i64::MAX)));
        let own: Vec<QueueName> = self.config.queues.keys().cloned().collect();
        let r = &self.config.retention;
        let mut jobs = Vec::new();
        for (state, default) in [(JobState::Completed, r.completed), (JobState::Dead, r.dead)] {
            for (queue, (completed, dead)) in &self.config.queues {
                let keep = if state == JobState::Completed { completed } else { dead };
                jobs.push((state, keep.unwrap_or(default), QueueFilter::Only(queue.clone())));
            }
            jobs.push((state, default, QueueFilter::Except(own.clone())));
        }
        for (state, keep, queues) in jobs {
            loop {
                let params = JobPruneParams {
                    state,
                    older_than: cutoff(keep),
                    queues: queues.clone(),
                    limit: self.config.batch,
                };
                let n = self.step(self.engine.store().job_prune(params), done, shutdown).await?;
                match state {
                    JobState::Completed => done.completed_jobs += n,
                    _ => done.dead_jobs += n,
                }
                if n < u64::from(self.config.batch) {
                    break;
                }
            }
        }
        loop {
            let params = CronRunPruneParams { older_than: cutoff(r.cron_runs), limit: self.config.batch };
            let n = self.step(self.engine.store().cron_run_prune(params), done, shutdown).await?;
            done.cron_runs += n;
            if n < u64::from(self.config.batch) {
                break;
            }
        }
        loop {
            let usage = self.engine.store().usage_prune(cutoff(self.config.usage), self.config.batch);
            let n = self.step(usage, done, shutdown).await?;
            done.usage_events += n.events;
            done.usage_reservations += n.reservations;
            if n.events.max(n.reservations) < u64::from(self.config.batch) {
                break;
            }
        }
        // What apps report: each call deletes up to a batch of each kind of row.
        let store = self.engine.store();
        loop {
            let n = self.step(store.cache_prune(cutoff(self.config.caches), self.config.batch), done, shutdown).await?;
            done.cache_rows += n.rows;
            if n.rows < u64::from(self.config.batch) {
                break;
            }
        }
        loop {
            let n = self.step(store.error_prune(cutoff(self.config.errors), self.config.batch), done, shutdown).await?;
            done.error_rows += n.rows;
            if n.rows < u64::from(self.config.batch) {
                return Ok(done);
            }
        }
    }

    /// Cleans up webhook intake at `now`, batch by batch: settles finished
    /// deliveries, then deletes expired keys, old bodies and old deliveries.
    async fn prune_webhooks(&self, now: UnixMillis, shutdown: Option<&Shutdown>) -> Result<PruneReport, PruneError> {
        let mut done = PruneReport { webhooks: Some(WebhookPruneReport::default()), ..PruneReport::default() };
        let mut report = WebhookPruneReport::default();
        let batch = self.config.batch;
        let store = self.engine.store();
        loop {
            let n = self.step(store.webhook_delivery_settle(batch), done, shutdown).await?;
            report.settled_deliveries += n;
            done.webhooks = Some(report);
            if n < u64::from(batch) {
                break;
            }
        }
        let before =
            |keep: Duration| UnixMillis(now.0.saturating_sub(i64::try_from(keep.as_millis()).unwrap_or(i64::MAX)));
        let params = WebhookPruneParams {
            bodies_before: before(self.config.webhooks.bodies_retention),
            deliveries_before: before(self.config.webhooks.deliveries_retention),
            limit: batch,
            now,
        };
        loop {
            let pruned = self.step(store.webhook_prune(params), done, shutdown).await;
            let pruned = pruned?;
            report.expired_keys += pruned.keys;
            report.bodies += pruned.bodies;
            report.deliveries += pruned.deliveries;
            done.webhooks = Some(report);
            if pruned.keys.max(pruned.bodies).max(pruned.deliveries) < u64::from(batch) {
                return Ok(done);
            }
        }
    }

    /// One batch, unless shutdown came; then lets other tasks (and writes) in.
    async fn step<T>(
        &self,
        batch: impl Future<Output = Result<T, rampart_store::StoreError>>,
        done: PruneReport,
        shutdown: Option<&Shutdown>,
    ) -> Result<T, PruneError> {
        if shutdown.is_some_and(Shutdown::is_triggered) {
            return Err(PruneError::Shutdown(done));
        }
        let n = batch.await.map_err(|e| PruneError::Failed { error: e.into(), done })?;
        tokio::task::yield_now().await;
        Ok(n)
    }
}
