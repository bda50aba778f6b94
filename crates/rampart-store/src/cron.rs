//! Parameters and records of cron schedules, their runs, and retention.
//!
//! The store keeps schedules as the server validated them (the expression
//! and zone as text; the store does not read them) with the one field that
//! decides firing: `next_run_at`. Firing a tick is one call,
//! [`crate::Store::cron_fire`], which compare-and-sets `next_run_at` and, in
//! the same transaction, inserts the job and the run: of several nodes
//! firing the same tick, exactly one changes the row and the others change
//! nothing. Runs copy their job's outcome when
//! [`crate::Store::cron_run_settle`] is called, so the job hot path never
//! touches cron tables.

use rampart_core::cron::Misfire;
use rampart_core::id::{CronName, JobId, QueueName};
use rampart_core::job::JobState;
use rampart_core::time::UnixMillis;

use crate::job::{JobInserted, NewJob};
use crate::row::Row;

rampart_core::named_enum! {
    /// Where a schedule was defined.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum CronSource {
        /// In the configuration (`[[cron]]`); replaced at every start.
        Config = "config",
        /// Through the admin API.
        Api = "api",
        /// Built into rampart (names starting with `rampart.`).
        Builtin = "builtin",
    }
    parse_error: String = |s| format!("`{s}` is not a cron schedule source");
}

rampart_core::named_enum! {
    /// Why a run was made.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum CronTrigger {
        /// A tick came.
        Schedule = "schedule",
        /// An operator asked for a run now.
        Manual = "manual",
        /// Ticks were missed and the schedule's policy is `run_once`.
        Misfire = "misfire",
    }
    parse_error: String = |s| format!("`{s}` is not a cron run trigger");
}

/// A stored schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CronScheduleRecord {
    /// Its name, unique in the store.
    pub name: CronName,
    /// The cron expression, as validated by the server.
    pub schedule: String,
    /// The IANA zone the expression is read in.
    pub timezone: String,
    /// The queue each run's job goes to.
    pub queue: QueueName,
    /// The JSON text of each run's job.
    pub payload: String,
    /// What it is for, for operators.
    pub description: String,
    /// What happens to ticks missed during downtime.
    pub misfire: Misfire,
    /// Where it was defined.
    pub source: CronSource,
    /// A paused schedule fires nothing, and its ticks are skipped.
    pub paused: bool,
    /// The tick that fires next; `None` when it never fires again.
    pub next_run_at: Option<UnixMillis>,
    /// When the name was first stored.
    pub created_at: UnixMillis,
    /// When it was last put.
    pub updated_at: UnixMillis,
    /// The tenant of each run's job.
    pub tenant: Option<String>,
    /// Attempts each run's job is allowed (none: one).
    pub max_attempts: Option<u32>,
}

/// A schedule to store (insert or replace).
#[derive(Debug, Clone)]
pub struct CronSchedulePut {
    /// Its name.
    pub name: CronName,
    /// The cron expression.
    pub schedule: String,
    /// The IANA zone.
    pub timezone: String,
    /// The queue of its jobs.
    pub queue: QueueName,
    /// The JSON text of its jobs.
    pub payload: String,
    /// What it is for.
    pub description: String,
    /// The tenant of each run's job.
    pub tenant: Option<String>,
    /// Attempts each run's job is allowed (none: one).
    pub max_attempts: Option<u32>,
    /// The misfire policy.
    pub misfire: Misfire,
    /// Where it is defined.
    pub source: CronSource,
    /// The next tick computed from now. Used for a new schedule, or when
    /// the expression or zone changed; otherwise the stored next tick (and
    /// the pause) stay, so a restart neither skips nor repeats a tick.
    pub next_run_at: Option<UnixMillis>,
}

/// Stores one schedule.
#[derive(Debug, Clone)]
pub struct CronPutParams {
    /// The schedule.
    pub schedule: CronSchedulePut,
    /// Write time.
    pub now: UnixMillis,
}

/// Makes the stored schedules of one source equal to a list: each is put,
/// and the stored schedules of that source not in the list are deleted.
#[derive(Debug, Clone)]
pub struct CronSyncParams {
    /// The source whose schedules the list holds (`Config` or `Builtin`).
    pub source: CronSource,
    /// Every schedule of that source.
    pub schedules: Vec<CronSchedulePut>,
    /// Write time.
    pub now: UnixMillis,
}

/// Moves `next_run_at` from `expected` to `next`, only if it still is `expected`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CronAdvance {
    /// The next tick the caller read.
    pub expected: UnixMillis,
    /// The next tick to store.
    pub next: Option<UnixMillis>,
}

/// A run to record.
#[derive(Debug, Clone)]
pub struct CronRunNew {
    /// The tick it stands for (now, for a manual run).
    pub scheduled_at: UnixMillis,
    /// Why it runs.
    pub trigger: CronTrigger,
    /// The job to insert with it; `None` for built-in work done in process,
    /// whose run starts `active` and is ended by [`crate::Store::cron_run_finish`].
    pub job: Option<NewJob>,
}

/// Fires a schedule: advances its next tick and records a run, at once.
#[derive(Debug, Clone)]
pub struct CronFireParams {
    /// The schedule.
    pub name: CronName,
    /// The compare-and-set of `next_run_at`; `None` leaves it alone (a manual run).
    pub advance: Option<CronAdvance>,
    /// The run; `None` only advances (ticks skipped).
    pub run: Option<CronRunNew>,
    /// Fire time (the run's enqueue time).
    pub now: UnixMillis,
}

/// What firing did, when it did anything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CronFired {
    /// The run recorded.
    pub run: Option<CronRunRecord>,
    /// The job inserted with it.
    pub job: Option<JobInserted>,
}

/// One run of a schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CronRunRecord {
    /// The run's id; later runs have larger ids.
    pub id: i64,
    /// The schedule.
    pub name: CronName,
    /// The tick it stands for.
    pub scheduled_at: UnixMillis,
    /// When its job was enqueued (or its work began).
    pub enqueued_at: UnixMillis,
    /// Its job; `None` for built-in work.
    pub job_id: Option<JobId>,
    /// Why it ran.
    pub trigger: CronTrigger,
    /// Its job's state as last seen.
    pub status: JobState,
    /// When its job's latest attempt started.
    pub started_at: Option<UnixMillis>,
    /// When its job finished.
    pub finished_at: Option<UnixMillis>,
    /// Attempts its job made.
    pub attempts: u32,
    /// Its job's last error.
    pub error: Option<String>,
    /// Its job's result (JSON text); for built-in work, what it did.
    pub result: Option<String>,
}

/// A page of a schedule's runs, newest first.
#[derive(Debug, Clone)]
pub struct CronRunListParams {
    /// The schedule.
    pub name: CronName,
    /// Only runs with a smaller id (the previous page's last id).
    pub before: Option<i64>,
    /// Most runs.
    pub limit: u32,
}

/// Ends a run of built-in work.
#[derive(Debug, Clone)]
pub struct CronRunFinishParams {
    /// The run.
    pub id: i64,
    /// `completed` or `dead`.
    pub status: JobState,
    /// When the work began.
    pub started_at: UnixMillis,
    /// What went wrong.
    pub error: Option<String>,
    /// What it did, as JSON text.
    pub result: Option<String>,
    /// End time.
    pub now: UnixMillis,
}

/// Which queues a prune covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueueFilter {
    /// One queue.
    Only(QueueName),
    /// Every queue but these (which have their own retention).
    Except(Vec<QueueName>),
}

/// Deletes finished jobs (and their history) in one bounded batch.
#[derive(Debug, Clone)]
pub struct JobPruneParams {
    /// `completed` or `dead` (or `cancelled`).
    pub state: JobState,
    /// Jobs that finished before this go.
    pub older_than: UnixMillis,
    /// The queues covered.
    pub queues: QueueFilter,
    /// Most jobs this call deletes.
    pub limit: u32,
}

/// Deletes old runs in one bounded batch.
#[derive(Debug, Clone)]
pub struct CronRunPruneParams {
    /// Runs enqueued before this go.
    pub older_than: UnixMillis,
    /// Most runs this call deletes.
    pub limit: u32,
}

impl CronScheduleRecord {
    /// The record of a row read with the columns `name, schedule, timezone,
    /// queue, payload, description, misfire, source, paused, next_run_at,
    /// created_at, updated_at, tenant, max_attempts`.
    pub(crate) fn from_row<R: Row>(r: &R) -> Result<CronScheduleRecord, R::Error> {
        Ok(CronScheduleRecord {
            name: r.parsed(0, "cron name")?,
            schedule: r.text(1)?,
            timezone: r.text(2)?,
            queue: r.parsed(3, "cron queue")?,
            payload: r.text(4)?,
            description: r.text(5)?,
            misfire: r.parsed(6, "cron misfire")?,
            source: r.parsed(7, "cron source")?,
            paused: r.flag(8)?,
            next_run_at: r.opt_time(9)?,
            created_at: r.time(10)?,
            updated_at: r.time(11)?,
            tenant: r.opt_text(12)?,
            max_attempts: r.opt_int(13)?.map(|n| u32::try_from(n.max(1)).unwrap_or(u32::MAX)),
        })
    }
}

impl CronRunRecord {
    /// The record of a row read with the columns `id, name, scheduled_at,
    /// enqueued_at, job_id, trigger, status, started_at, finished_at,
    /// attempts, error, result`.
    pub(crate) fn from_row<R: Row>(r: &R) -> Result<CronRunRecord, R::Error> {
        Ok(CronRunRecord {
            id: r.int(0)?,
            name: r.parsed(1, "cron name")?,
            scheduled_at: r.time(2)?,
            enqueued_at: r.time(3)?,
            job_id: r.opt_int(4)?.map(JobId),
            trigger: r.parsed(5, "cron trigger")?,
            status: r.parsed(6, "cron status")?,
            started_at: r.opt_time(7)?,
            finished_at: r.opt_time(8)?,
            attempts: r.count(9)?,
            error: r.opt_text(10)?,
            result: r.opt_text(11)?,
        })
    }
}
