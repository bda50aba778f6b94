//! Parameters and records of job operations.

use std::sync::Arc;
use std::time::Duration;

use rampart_core::id::{JobId, QueueName};
use rampart_core::job::{FailureKind, JobState};
use rampart_core::queue::QueueRate;
use rampart_core::retry::RetryPlanner;
use rampart_core::time::UnixMillis;

use crate::error::StoreError;
use crate::row::Row;

/// A job to insert. Its payload is JSON text, stored as given.
#[derive(Debug, Clone)]
pub struct NewJob {
    /// The queue it goes to.
    pub queue: QueueName,
    /// JSON text.
    pub payload: String,
    /// When it may run; in the future makes it `scheduled`.
    pub run_at: UnixMillis,
    /// Higher runs first.
    pub priority: i32,
    /// Attempts before it is dead (≥ 1).
    pub max_attempts: u32,
    /// How long one attempt may stay active.
    pub timeout: Option<Duration>,
    /// While a live job of the queue has this key, inserting returns it.
    pub unique_key: Option<String>,
    /// The customer the job belongs to.
    pub tenant: Option<String>,
}

/// Inserts a batch of jobs.
#[derive(Debug, Clone)]
pub struct JobInsertParams {
    /// The jobs, inserted all-or-nothing.
    pub jobs: Vec<NewJob>,
    /// Creation time.
    pub now: UnixMillis,
}

/// What inserting one job did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobInserted {
    /// The new job, or the live job with the same unique key.
    pub id: JobId,
    /// Its state.
    pub state: JobState,
    /// True when an existing job was returned instead of a new one.
    pub duplicate: bool,
}

/// Leases jobs of one queue.
#[derive(Debug, Clone)]
pub struct JobLeaseParams {
    /// The queue.
    pub queue: QueueName,
    /// At most this many jobs.
    pub max: u32,
    /// Lease length: the worker must heartbeat or finish within it.
    pub lease: Duration,
    /// Who leases, for the history.
    pub worker: Option<String>,
    /// The queue's limit on active jobs across all workers.
    pub concurrency: Option<u32>,
    /// The queue's start rate: leases past it in a window are not given.
    pub rate: Option<QueueRate>,
    /// Lease time.
    pub now: UnixMillis,
}

/// A leased job, as handed to a worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeasedJob {
    /// The job.
    pub id: JobId,
    /// Its queue.
    pub queue: QueueName,
    /// JSON text.
    pub payload: String,
    /// This attempt's number, from 1.
    pub attempt: u32,
    /// Attempts allowed.
    pub max_attempts: u32,
    /// The token heartbeat, complete and fail must present.
    pub lease_token: String,
    /// When the lease runs out without a heartbeat.
    pub lease_expires_at: UnixMillis,
    /// When this attempt times out, if the job has a timeout.
    pub timeout_at: Option<UnixMillis>,
    /// When the job was created.
    pub created_at: UnixMillis,
    /// When the job became due (for enqueue-to-start latency).
    pub run_at: UnixMillis,
    /// Its priority.
    pub priority: i32,
    /// The customer the job belongs to.
    pub tenant: Option<String>,
}

/// Puts leased jobs in lease order: RETURNING keeps no order, and a rated
/// lease takes its jobs in passes.
pub(crate) fn sort_leased(jobs: &mut [LeasedJob]) {
    jobs.sort_by(|a, b| b.priority.cmp(&a.priority).then(a.run_at.cmp(&b.run_at)).then(a.id.cmp(&b.id)));
}

/// Extends a lease.
#[derive(Debug, Clone)]
pub struct JobHeartbeatParams {
    /// The job.
    pub id: JobId,
    /// The lease token from the lease.
    pub lease_token: String,
    /// New lease length from now; the length of the original lease when absent.
    pub lease: Option<Duration>,
    /// The attempt's progress to keep (JSON text), when the heartbeat carries one.
    pub progress: Option<String>,
    /// Heartbeat time.
    pub now: UnixMillis,
}

/// How an attempt ended, as a worker reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AckOutcome {
    /// Success, with an optional JSON result.
    Complete {
        /// JSON text.
        result: Option<String>,
    },
    /// Failure.
    Fail {
        /// What went wrong.
        error: String,
        /// False sends the job straight to `dead`.
        retryable: bool,
        /// Retry no earlier than this (a receiver's `Retry-After`): the later
        /// of it and the backoff wins, capped at
        /// [`rampart_core::retry::MAX_REQUESTED_DELAY`] from now.
        retry_at: Option<UnixMillis>,
    },
}

/// One completion or failure.
#[derive(Debug, Clone)]
pub struct JobAck {
    /// The job.
    pub id: JobId,
    /// The lease token from the lease.
    pub lease_token: String,
    /// How the attempt ended.
    pub outcome: AckOutcome,
}

/// Applies completions and failures.
#[derive(Clone)]
pub struct JobAckParams {
    /// The acks; each stands or falls on its own.
    pub acks: Vec<JobAck>,
    /// Decides retry time or death for failures.
    pub planner: Arc<dyn RetryPlanner>,
    /// Ack time.
    pub now: UnixMillis,
}

/// What an ack did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobAcked {
    /// The job.
    pub id: JobId,
    /// Its queue.
    pub queue: QueueName,
    /// Its new state: completed, scheduled (to retry) or dead.
    pub state: JobState,
    /// The attempt that ended.
    pub attempt: u32,
    /// How long the attempt ran.
    pub run_time: Duration,
    /// When it runs again, for a retry.
    pub retry_at: Option<UnixMillis>,
    /// True when this ack repeated the one that had ended the attempt (the
    /// same token and outcome): nothing changed, and `state` is the job's
    /// state now (`run_time` is zero).
    pub already: bool,
}

impl AckOutcome {
    /// Whether an attempt that left its job in `state` ended with this
    /// outcome: a complete leaves it completed, a failure anything else.
    pub(crate) fn ended_in(&self, state: JobState) -> bool {
        match self {
            AckOutcome::Complete { .. } => state == JobState::Completed,
            AckOutcome::Fail { .. } => state != JobState::Completed,
        }
    }
}

/// The answer to an ack repeating the one that ended its attempt, from the
/// job's row (found by id and the token the worker's ack left in it, with
/// the job no longer active): success marked `already` when the outcome is
/// the same, else the lease is lost.
pub(crate) fn repeated_ack(
    ack: &JobAck,
    queue: QueueName,
    state: JobState,
    attempt: u32,
    run_at: UnixMillis,
) -> Result<JobAcked, StoreError> {
    if !ack.outcome.ended_in(state) {
        return Err(StoreError::LeaseLost);
    }
    Ok(JobAcked {
        id: ack.id,
        queue,
        state,
        attempt,
        run_time: Duration::ZERO,
        retry_at: (state == JobState::Scheduled).then_some(run_at),
        already: true,
    })
}

/// Gives leases back without ending their attempts: a stopping node hands
/// its unfinished jobs to the others at once instead of letting the leases
/// expire (which would count a failed attempt).
#[derive(Debug, Clone)]
pub struct JobReleaseParams {
    /// The leases to give back; each stands or falls on its own.
    pub releases: Vec<JobRelease>,
    /// Release time.
    pub now: UnixMillis,
}

/// One lease to give back.
#[derive(Debug, Clone)]
pub struct JobRelease {
    /// The job.
    pub id: JobId,
    /// The lease token from the lease.
    pub lease_token: String,
}

/// A released job: `available` again, its attempt not counted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobReleased {
    /// The job.
    pub id: JobId,
    /// Its queue, whose workers may now be woken.
    pub queue: QueueName,
}

/// Fails active jobs whose lease or timeout ran out; a lease that ran out
/// while the job has stalled fewer than `max_stalls` times gives the job
/// back instead (`available`, the attempt not counted, the stall recorded).
#[derive(Clone)]
pub struct JobReapParams {
    /// At most this many jobs per call.
    pub limit: u32,
    /// How many stalls a job of a queue is spared (the queue's `max_stalls`).
    pub max_stalls: Arc<dyn Fn(&str) -> u32 + Send + Sync>,
    /// Decides retry time or death.
    pub planner: Arc<dyn RetryPlanner>,
    /// Reap time.
    pub now: UnixMillis,
}

/// A job the reaper failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobReaped {
    /// The job.
    pub id: JobId,
    /// Its queue.
    pub queue: QueueName,
    /// Lease expiry or timeout.
    pub kind: FailureKind,
    /// Its new state: scheduled (to retry) or dead, or available after a
    /// stall (the attempt not counted).
    pub state: JobState,
    /// How long the attempt ran.
    pub run_time: Duration,
}

/// A retried job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobRetried {
    /// Its queue, whose workers may now be woken.
    pub queue: QueueName,
}

/// Moves dead jobs of a queue back to available.
#[derive(Debug, Clone)]
pub struct JobRetryDeadParams {
    /// The queue.
    pub queue: QueueName,
    /// Only these jobs (those of them that are dead in the queue).
    pub ids: Option<Vec<JobId>>,
    /// Without `ids`: only jobs with a larger id (the `next` of the previous page).
    pub after: Option<JobId>,
    /// At most this many per call.
    pub limit: u32,
    /// Retry time.
    pub now: UnixMillis,
}

/// What one page of a dead-letter retry did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobRetryDeadPage {
    /// Jobs made available.
    pub moved: u64,
    /// Where the next page starts, when there may be more.
    pub next: Option<JobId>,
}

/// Lists a queue's jobs.
#[derive(Debug, Clone)]
pub struct JobListParams {
    /// The queue.
    pub queue: QueueName,
    /// Only jobs in this state.
    pub state: Option<JobState>,
    /// Only this tenant's jobs.
    pub tenant: Option<String>,
    /// Only jobs with a larger id (the last id of the previous page).
    pub after: Option<JobId>,
    /// Page size.
    pub limit: u32,
}

/// A tenant's dead jobs in one queue, for the diagnostics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadTenant {
    /// The queue.
    pub queue: QueueName,
    /// The tenant.
    pub tenant: String,
    /// Its dead jobs in the queue.
    pub dead: u64,
}

/// One transition in a job's history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobEvent {
    /// When it happened.
    pub at: UnixMillis,
    /// The state before (none for creation).
    pub from: Option<JobState>,
    /// The state after.
    pub to: JobState,
    /// The attempt it concerns (0 before the first lease).
    pub attempt: u32,
    /// The worker involved, if any.
    pub worker: Option<String>,
    /// Why: `enqueued`, `due`, `leased`, `completed`, `error`, `lease_expired`,
    /// `timeout`, `stalled`, `released`, `retried`, `cancelled`.
    pub reason: String,
    /// The error message, for failures.
    pub error: Option<String>,
}

/// A job as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobRecord {
    /// The job.
    pub id: JobId,
    /// Its queue.
    pub queue: QueueName,
    /// Its state.
    pub state: JobState,
    /// JSON text.
    pub payload: String,
    /// Higher runs first.
    pub priority: i32,
    /// Attempts made so far.
    pub attempt: u32,
    /// Attempts allowed.
    pub max_attempts: u32,
    /// Per-attempt timeout.
    pub timeout: Option<Duration>,
    /// Its unique key.
    pub unique_key: Option<String>,
    /// When it was created.
    pub created_at: UnixMillis,
    /// When it is or was due.
    pub run_at: UnixMillis,
    /// When the current or last attempt started.
    pub started_at: Option<UnixMillis>,
    /// When it finished (completed, dead or cancelled).
    pub finished_at: Option<UnixMillis>,
    /// The current lease's expiry, while active.
    pub lease_expires_at: Option<UnixMillis>,
    /// The current attempt's timeout, while active.
    pub timeout_at: Option<UnixMillis>,
    /// The worker of the current or last attempt.
    pub worker: Option<String>,
    /// The last failure's message.
    pub last_error: Option<String>,
    /// The JSON result of a completed job.
    pub result: Option<String>,
    /// The customer the job belongs to.
    pub tenant: Option<String>,
    /// Leases that expired and gave the job back without counting an attempt.
    pub stalls: u32,
    /// What the worker last reported of its attempt (JSON text).
    pub progress: Option<String>,
    /// Every transition, oldest first (empty in listings).
    pub history: Vec<JobEvent>,
}

impl JobRecord {
    /// The record of a row of `jobs` read with the backends' job columns
    /// (`id, queue, state, payload, priority, attempt, max_attempts,
    /// timeout_ms, unique_key, created_at, run_at, started_at, finished_at,
    /// lease_expires_at, timeout_at, worker, last_error, result, tenant,
    /// stalls, progress`), without its history.
    pub(crate) fn from_row<R: Row>(r: &R) -> Result<JobRecord, R::Error> {
        Ok(JobRecord {
            id: JobId(r.int(0)?),
            queue: r.parsed(1, "queue name")?,
            state: r.parsed(2, "job state")?,
            payload: r.text(3)?,
            priority: i32::try_from(r.int(4)?).map_err(|e| r.invalid(4, "priority", e))?,
            attempt: r.count(5)?,
            max_attempts: r.count(6)?,
            timeout: r.opt_int(7)?.map(|ms| Duration::from_millis(ms.max(0) as u64)),
            unique_key: r.opt_text(8)?,
            created_at: r.time(9)?,
            run_at: r.time(10)?,
            started_at: r.opt_time(11)?,
            finished_at: r.opt_time(12)?,
            lease_expires_at: r.opt_time(13)?,
            timeout_at: r.opt_time(14)?,
            worker: r.opt_text(15)?,
            last_error: r.opt_text(16)?,
            result: r.opt_text(17)?,
            tenant: r.opt_text(18)?,
            stalls: r.count(19)?,
            progress: r.opt_text(20)?,
            history: Vec::new(),
        })
    }

    /// Sets the job's history from the transitions stored as events.
    ///
    /// Two parts of a history are never stored as events, since they are in
    /// the row: the creation, and the current or last attempt while it runs
    /// or once it completed (`started_at`, `worker`, `finished_at`). So the
    /// hot path — lease, then complete — writes only the job row; an attempt
    /// that fails stores its `leased` event along with its failure.
    pub(crate) fn set_history(&mut self, stored: Vec<JobEvent>) {
        let mut rest = stored;
        if let (JobState::Active | JobState::Completed, Some(started)) = (self.state, self.started_at) {
            rest.push(self.attempt_event(started, JobState::Available, JobState::Active, "leased"));
        }
        if let (JobState::Completed, Some(finished)) = (self.state, self.finished_at) {
            rest.push(self.attempt_event(finished, JobState::Active, JobState::Completed, "completed"));
        }
        // The job was created in the state its next transition left, or is
        // still in it (`run_at` cannot tell: a retry moves it).
        let created_as = rest.first().and_then(|e| e.from).unwrap_or(self.state);
        let mut history = Vec::with_capacity(rest.len() + 1);
        history.push(JobEvent {
            at: self.created_at,
            from: None,
            to: created_as,
            attempt: 0,
            worker: None,
            reason: "enqueued".into(),
            error: None,
        });
        history.extend(rest);
        self.history = history;
    }

    fn attempt_event(&self, at: UnixMillis, from: JobState, to: JobState, reason: &str) -> JobEvent {
        JobEvent {
            at,
            from: Some(from),
            to,
            attempt: self.attempt,
            worker: self.worker.clone(),
            reason: reason.into(),
            error: None,
        }
    }
}

/// The error a reaped attempt records: what ran out, and whose.
pub(crate) fn reaped_error(kind: FailureKind, timeout_ms: Option<i64>, worker: Option<&str>) -> String {
    match (kind, worker) {
        (FailureKind::Timeout, _) => format!(
            "timed out: the attempt ran longer than its timeout of {}",
            rampart_core::duration::format_duration(Duration::from_millis(timeout_ms.unwrap_or(0).max(0) as u64))
        ),
        (_, Some(w)) => format!("lease expired: worker `{w}` sent no heartbeat within the lease"),
        (_, None) => "lease expired: the worker sent no heartbeat within the lease".to_string(),
    }
}

/// The error a stall records: whose lease ran out, and that the attempt
/// was not counted.
pub(crate) fn stalled_error(stall: u32, max_stalls: u32, worker: Option<&str>) -> String {
    let whose = worker.map_or_else(|| "the worker".to_string(), |w| format!("worker `{w}`"));
    format!(
        "stalled: {whose} sent no heartbeat within the lease; the job went back to the queue without counting \
         the attempt (stall {stall} of {max_stalls})"
    )
}

/// A failed attempt as both backends end it.
pub(crate) struct Failure<'a> {
    /// Why the attempt ended.
    pub(crate) kind: FailureKind,
    /// The error recorded.
    pub(crate) error: &'a str,
    /// False buries the job.
    pub(crate) retryable: bool,
    /// Retry no earlier than this (see [`AckOutcome::Fail`]).
    pub(crate) not_before: Option<UnixMillis>,
}

impl<'a> Failure<'a> {
    /// A failure a worker reported.
    pub(crate) fn error(error: &'a str, retryable: bool, not_before: Option<UnixMillis>) -> Failure<'a> {
        Failure { kind: FailureKind::Error, error, retryable, not_before }
    }
}

/// Keeps the first `per_queue` rows of each queue, of rows sorted by queue
/// and then by how many dead jobs, most first.
pub(crate) fn top_per_queue(rows: Vec<DeadTenant>, per_queue: u32) -> Vec<DeadTenant> {
    let mut out: Vec<DeadTenant> = Vec::new();
    let mut taken = 0;
    for row in rows {
        if out.last().is_none_or(|last| last.queue != row.queue) {
            taken = 0;
        }
        if taken < per_queue {
            out.push(row);
            taken += 1;
        }
    }
    out
}
