//! Cron in the server: schedules from the configuration, the API and
//! rampart itself, fired through the store so each tick fires once.
//!
//! [`Cron`] is what the API and the [`crate::service::Scheduler`] call. A
//! scheduler pass ([`Cron::tick`]) settles runs from their jobs, then for
//! each schedule whose next tick has come asks
//! [`rampart_core::cron::plan_due`] what to fire (the misfire rule) and fires
//! it with one store call, `cron_fire`, that compare-and-sets the next tick
//! with the job and the run: a node that loses the race changes nothing.
//! The built-in schedule [`RETENTION`] enqueues no job: its runs go to the
//! [`crate::service::Pruner`], which deletes old rows and ends the run.

use std::collections::BTreeSet;
use std::sync::Arc;

use rampart_core::cron::{Misfire, Schedule, Timezone, plan_due};
use rampart_core::id::{CronName, QueueName};
use rampart_core::job::JobState;
use rampart_core::time::{SharedClock, UnixMillis};
use rampart_store::{
    CronAdvance, CronFireParams, CronFired, CronPutParams, CronRunFinishParams, CronRunListParams, CronRunNew,
    CronRunRecord, CronSchedulePut, CronScheduleRecord, CronSource, CronSyncParams, CronTrigger, NewJob, StoreError,
};
use tokio::sync::mpsc;

use crate::config::Config;
use crate::engine::{Engine, EngineError};

/// The name of the built-in retention schedule.
pub const RETENTION: &str = "rampart.retention";

/// The name of the built-in schedule that cleans up webhook intake's
/// records (`[webhooks]`: event ids past their window, old bodies and
/// deliveries), daily at 04:00 UTC by default.
pub const WEBHOOKS_RETENTION: &str = "rampart.webhooks";

/// Most ticks one schedule fires in one pass (catching up within the grace).
const MAX_FIRES_PER_PASS: usize = 100;

/// Most runs one page of history holds.
pub const MAX_RUNS_PAGE: u32 = 1_000;

/// A run of a built-in schedule for the pruner: which schedule, and the run's id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PruneRun {
    /// [`RETENTION`] or [`WEBHOOKS_RETENTION`].
    pub schedule: CronName,
    /// The run, ended by the pruner.
    pub run: i64,
}

/// Hands runs of the built-in schedules to whoever prunes (the server's
/// [`crate::service::Pruner`]). Cloning shares it.
#[derive(Clone)]
pub struct PruneRequests(mpsc::Sender<PruneRun>);

impl PruneRequests {
    /// A handle, and the receiving end the pruner takes runs from; at most
    /// `capacity` runs wait.
    pub fn channel(capacity: usize) -> (PruneRequests, mpsc::Receiver<PruneRun>) {
        let (tx, rx) = mpsc::channel(capacity);
        (PruneRequests(tx), rx)
    }

    /// Queues a run; gives its id back when the pruner has too many waiting.
    pub(crate) fn request(&self, schedule: CronName, run: i64) -> Result<(), i64> {
        self.0.try_send(PruneRun { schedule, run }).map_err(|e| match e {
            mpsc::error::TrySendError::Full(r) | mpsc::error::TrySendError::Closed(r) => r.run,
        })
    }
}

/// What went wrong in a cron call.
#[derive(Debug, Clone, thiserror::Error)]
pub enum CronError {
    /// No schedule of that name.
    #[error("cron schedule `{0}` does not exist")]
    NotFound(CronName),
    /// The name belongs to a schedule of the configuration.
    #[error("cron schedule `{0}` is defined in the configuration; change it there, or use another name here")]
    InConfig(CronName),
    /// The name belongs to rampart's own schedules.
    #[error(
        "`{0}` is rampart's own schedule: names starting with `rampart.` are reserved; its settings are in [retention]"
    )]
    Reserved(CronName),
    /// The engine or store failed.
    #[error(transparent)]
    Engine(#[from] EngineError),
}

impl From<StoreError> for CronError {
    fn from(e: StoreError) -> Self {
        CronError::Engine(e.into())
    }
}

/// A schedule as the API defines it, validated.
#[derive(Debug, Clone)]
pub struct CronSpec {
    /// The parsed expression and zone.
    pub schedule: Schedule,
    /// The queue of its jobs.
    pub queue: QueueName,
    /// Its jobs' payload, JSON text.
    pub payload: String,
    /// What it is for.
    pub description: String,
    /// The misfire policy.
    pub misfire: Misfire,
    /// The tenant of its jobs.
    pub tenant: Option<String>,
    /// Attempts each job gets; one when absent.
    pub max_attempts: Option<u32>,
}

/// A schedule with its latest run.
#[derive(Debug, Clone)]
pub struct CronView {
    /// The schedule.
    pub record: CronScheduleRecord,
    /// Its latest run, if any.
    pub last_run: Option<CronRunRecord>,
}

/// What one scheduler pass did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Tick {
    /// Runs fired.
    pub fired: usize,
    /// The earliest next tick of an unpaused schedule, after the pass.
    pub next_due: Option<UnixMillis>,
}

/// Cron schedules over the engine. Cloning shares it.
#[derive(Clone)]
pub struct Cron {
    inner: Arc<Inner>,
}

struct Inner {
    engine: Engine,
    /// Names of the configuration's schedules: the API may not take them.
    configured: BTreeSet<CronName>,
    /// rampart's own schedules, each with its zone.
    builtins: Vec<(CronSchedulePut, Timezone)>,
    prune: PruneRequests,
}

impl Cron {
    /// Cron over `engine` with the schedules of `config`; runs of the
    /// built-in retention schedule go to `prune`.
    pub fn new(engine: Engine, config: &Config, prune: PruneRequests) -> Cron {
        let configured = config.cron.iter().map(|c| c.name.clone()).collect();
        let r = &config.retention;
        let w = &config.webhooks;
        let days = rampart_core::duration::format_duration;
        let builtin = |name: &str, schedule: &str, timezone: Timezone, description: String| {
            let put = CronSchedulePut {
                name: CronName::new(name).unwrap_or_else(|_| unreachable!("the built-in name is valid")),
                schedule: schedule.to_string(),
                timezone: timezone.name().to_string(),
                queue: QueueName::new(name).unwrap_or_else(|_| unreachable!("the built-in name is valid")),
                payload: "{}".into(),
                description,
                misfire: Misfire::RunOnce,
                tenant: None,
                max_attempts: None,
                source: CronSource::Builtin,
                next_run_at: None,
            };
            (put, timezone)
        };
        let builtins = vec![
            builtin(
                RETENTION,
                &r.schedule,
                r.timezone,
                format!(
                    "rampart's maintenance: deletes completed jobs after {}, dead jobs after {}, cron runs after {}, \
                     cache telemetry after {}, error events after {}",
                    days(r.completed),
                    days(r.dead),
                    days(r.cron_runs),
                    days(config.caches.retention),
                    days(config.errors.retention),
                ),
            ),
            builtin(
                WEBHOOKS_RETENTION,
                &w.schedule,
                w.timezone,
                format!(
                    "webhook intake's cleanup: event ids after their window, bodies after {}, deliveries after {}",
                    days(w.bodies_retention),
                    days(w.deliveries_retention),
                ),
            ),
        ];
        Cron { inner: Arc::new(Inner { engine, configured, builtins, prune }) }
    }

    /// The engine's clock, which the scheduler sleeps on.
    pub fn clock(&self) -> &SharedClock {
        self.inner.engine.clock()
    }

    /// The current time of the engine's clock.
    pub fn now(&self) -> UnixMillis {
        self.inner.engine.now()
    }

    /// Stores the configuration's schedules and the built-in one, deleting
    /// configured schedules no longer configured (at start, on every node).
    pub async fn sync(&self, config: &Config) -> Result<(), StoreError> {
        let now = self.now();
        let next = |expr: &str, tz: Timezone| Schedule::new(expr, tz).ok().and_then(|s| s.next_after(now));
        let schedules = config
            .cron
            .iter()
            .map(|c| CronSchedulePut {
                name: c.name.clone(),
                schedule: c.schedule.clone(),
                timezone: c.timezone.name().to_string(),
                queue: c.queue.clone(),
                payload: c.payload.clone(),
                description: c.description.clone(),
                misfire: c.misfire,
                tenant: c.tenant.clone(),
                max_attempts: c.max_attempts,
                source: CronSource::Config,
                next_run_at: next(&c.schedule, c.timezone),
            })
            .collect();
        let store = self.inner.engine.store();
        store.cron_sync(CronSyncParams { source: CronSource::Config, schedules, now }).await?;
        let builtins = self
            .inner
            .builtins
            .iter()
            .map(|(put, tz)| CronSchedulePut { next_run_at: next(&put.schedule, *tz), ..put.clone() })
            .collect();
        store.cron_sync(CronSyncParams { source: CronSource::Builtin, schedules: builtins, now }).await
    }

    /// Every schedule with its latest run, by name.
    pub async fn list(&self) -> Result<Vec<CronView>, CronError> {
        let store = self.inner.engine.store();
        let (records, last) = tokio::try_join!(store.cron_list(), store.cron_run_last())?;
        let mut last: std::collections::BTreeMap<CronName, CronRunRecord> =
            last.into_iter().map(|r| (r.name.clone(), r)).collect();
        Ok(records.into_iter().map(|record| CronView { last_run: last.remove(&record.name), record }).collect())
    }

    /// One schedule with its latest run.
    pub async fn get(&self, name: &CronName) -> Result<CronView, CronError> {
        let store = self.inner.engine.store();
        let record = store.cron_get(name).await?.ok_or_else(|| CronError::NotFound(name.clone()))?;
        let params = CronRunListParams { name: name.clone(), before: None, limit: 1 };
        let last_run = store.cron_run_list(params).await?.pop();
        Ok(CronView { record, last_run })
    }

    /// Refuses names the API may not change.
    async fn check_api_name(&self, name: &CronName) -> Result<Option<CronScheduleRecord>, CronError> {
        if name.is_reserved() {
            return Err(CronError::Reserved(name.clone()));
        }
        if self.inner.configured.contains(name) {
            return Err(CronError::InConfig(name.clone()));
        }
        let existing = self.inner.engine.store().cron_get(name).await?;
        // Configured by another node's configuration.
        if existing.as_ref().is_some_and(|r| r.source != CronSource::Api) {
            return Err(CronError::InConfig(name.clone()));
        }
        Ok(existing)
    }

    /// Defines or replaces a schedule of the API. An unchanged expression and
    /// zone keep the next tick; a new one starts from now.
    pub async fn put(&self, name: &CronName, spec: CronSpec) -> Result<CronScheduleRecord, CronError> {
        self.check_api_name(name).await?;
        let now = self.now();
        let schedule = CronSchedulePut {
            name: name.clone(),
            schedule: spec.schedule.expression().to_string(),
            timezone: spec.schedule.timezone().name().to_string(),
            queue: spec.queue,
            payload: spec.payload,
            description: spec.description,
            misfire: spec.misfire,
            tenant: spec.tenant,
            max_attempts: spec.max_attempts,
            source: CronSource::Api,
            next_run_at: spec.schedule.next_after(now),
        };
        Ok(self.inner.engine.store().cron_put(CronPutParams { schedule, now }).await?)
    }

    /// Deletes a schedule of the API; its runs stay until retention.
    pub async fn delete(&self, name: &CronName) -> Result<(), CronError> {
        if self.check_api_name(name).await?.is_none() || !self.inner.engine.store().cron_delete(name).await? {
            return Err(CronError::NotFound(name.clone()));
        }
        Ok(())
    }

    /// Pauses or resumes a schedule (any source). A paused schedule's ticks
    /// are skipped, not made up on resume.
    pub async fn set_paused(&self, name: &CronName, paused: bool) -> Result<CronView, CronError> {
        if !self.inner.engine.store().cron_set_paused(name, paused, self.now()).await? {
            return Err(CronError::NotFound(name.clone()));
        }
        self.get(name).await
    }

    /// Runs a schedule once now, leaving its ticks alone (paused or not).
    pub async fn trigger(&self, name: &CronName) -> Result<CronRunRecord, CronError> {
        let record =
            self.inner.engine.store().cron_get(name).await?.ok_or_else(|| CronError::NotFound(name.clone()))?;
        let now = self.now();
        let fired = self.fire(&record, None, Some((now, CronTrigger::Manual))).await?;
        fired.and_then(|f| f.run).ok_or_else(|| CronError::NotFound(name.clone()))
    }

    /// A page of a schedule's runs, newest first (runs of a deleted schedule too).
    pub async fn runs(
        &self,
        name: &CronName,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<CronRunRecord>, CronError> {
        let params = CronRunListParams { name: name.clone(), before, limit: limit.clamp(1, MAX_RUNS_PAGE) };
        let runs = self.inner.engine.store().cron_run_list(params).await?;
        if runs.is_empty() && before.is_none() && self.inner.engine.store().cron_get(name).await?.is_none() {
            return Err(CronError::NotFound(name.clone()));
        }
        Ok(runs)
    }

    /// One scheduler pass: settles runs, then fires every due tick.
    pub async fn tick(&self) -> Result<Tick, CronError> {
        let store = self.inner.engine.store();
        store.cron_run_settle().await?;
        let now = self.now();
        let mut tick = Tick::default();
        for record in store.cron_list().await? {
            match self.tick_one(&record, now).await {
                Ok((fired, next)) => {
                    tick.fired += fired;
                    if let Some(next) = next.filter(|_| !record.paused) {
                        tick.next_due = Some(tick.next_due.map_or(next, |t| t.min(next)));
                    }
                }
                Err(e) => tracing::warn!(cron = %record.name, error = %e, "cannot fire a cron schedule; retrying"),
            }
        }
        Ok(tick)
    }

    /// Fires the due ticks of one schedule; answers how many runs, and its
    /// next tick as far as this node knows.
    async fn tick_one(
        &self,
        record: &CronScheduleRecord,
        now: UnixMillis,
    ) -> Result<(usize, Option<UnixMillis>), CronError> {
        let Some(mut next) = record.next_run_at else { return Ok((0, None)) };
        if next > now {
            return Ok((0, Some(next)));
        }
        let schedule = record
            .timezone
            .parse::<Timezone>()
            .map_err(|e| e.to_string())
            .and_then(|tz| Schedule::new(&record.schedule, tz).map_err(|e| e.to_string()))
            .map_err(|e| CronError::Engine(EngineError::Invalid(e)))?;
        if record.paused {
            // A paused schedule's ticks pass without runs.
            let advance = CronAdvance { expected: next, next: schedule.next_after(now) };
            self.fire(record, Some(advance), None).await?;
            return Ok((0, advance.next));
        }
        let mut fired = 0;
        for _ in 0..MAX_FIRES_PER_PASS {
            let Some(plan) = plan_due(&schedule, next, now, record.misfire) else { break };
            let run = plan.fire.map(|f| {
                if f.missed {
                    tracing::info!(cron = %record.name, scheduled_at = %f.scheduled_at, "running missed ticks once");
                }
                (f.scheduled_at, if f.missed { CronTrigger::Misfire } else { CronTrigger::Schedule })
            });
            if plan.fire.is_none() {
                tracing::info!(cron = %record.name, from = %next, "skipping ticks missed while no scheduler ran");
            }
            let advance = CronAdvance { expected: next, next: plan.next_run_at };
            if self.fire(record, Some(advance), run).await?.is_none() {
                // Another node fired this tick; it owns what follows.
                return Ok((fired, None));
            }
            fired += usize::from(run.is_some());
            match plan.next_run_at {
                Some(n) => next = n,
                None => return Ok((fired, None)),
            }
        }
        Ok((fired, Some(next)))
    }

    /// Fires one run (and/or advances the next tick) in one store call, then
    /// wakes the job's workers, or hands built-in work to the pruner.
    async fn fire(
        &self,
        record: &CronScheduleRecord,
        advance: Option<CronAdvance>,
        run: Option<(UnixMillis, CronTrigger)>,
    ) -> Result<Option<CronFired>, CronError> {
        let engine = &self.inner.engine;
        let builtin = record.source == CronSource::Builtin;
        let now = self.now();
        let job = |queue: &QueueName| {
            let cfg = engine.queue_config(queue);
            NewJob {
                queue: queue.clone(),
                payload: record.payload.clone(),
                run_at: now,
                priority: 0,
                // A failed run waits for the next tick unless the schedule asks for retries.
                max_attempts: record.max_attempts.unwrap_or(1),
                timeout: cfg.timeout,
                unique_key: None,
                tenant: record.tenant.clone(),
            }
        };
        let run = run.map(|(scheduled_at, trigger)| CronRunNew {
            scheduled_at,
            trigger,
            job: (!builtin).then(|| job(&record.queue)),
        });
        let params = CronFireParams { name: record.name.clone(), advance, run, now };
        let fired = engine.store().cron_fire(params).await?;
        if let Some(f) = &fired {
            if let Some(job) = &f.job {
                engine.jobs_inserted(&record.queue, std::slice::from_ref(job));
            }
            if let (true, Some(run)) = (builtin, &f.run)
                && let Err(id) = self.inner.prune.request(record.name.clone(), run.id)
            {
                let finish = CronRunFinishParams {
                    id,
                    status: JobState::Dead,
                    started_at: now,
                    error: Some("skipped: earlier maintenance runs are still going".into()),
                    result: None,
                    now,
                };
                engine.store().cron_run_finish(finish).await?;
            }
        }
        Ok(fired)
    }
}
