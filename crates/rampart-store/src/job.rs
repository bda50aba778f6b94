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
use crate::step::{self, StepRecord};

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
    /// For a parent, its children's outcomes in id order (at most
    /// [`crate::flow::MAX_CHILDREN_SHOWN`]); `None` for a job that is no parent.
    pub children: Option<Vec<crate::flow::ChildOutcome>>,
    /// The steps recorded so far, in the order they were reached.
    pub steps: Vec<StepRecord>,
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
    /// True when the job's end made its parent due (the last child of a
    /// flow): the promoter has a job to make available now.
    pub parent_due: bool,
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
        parent_due: false,
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

/// Which of a queue's jobs a search or a bulk action takes: every filter
/// given must match.
#[derive(Debug, Clone, Default)]
pub struct JobFilter {
    /// Only jobs in this state.
    pub state: Option<JobState>,
    /// Only this tenant's jobs.
    pub tenant: Option<String>,
    /// Only jobs with this unique key, in every state.
    pub unique_key: Option<String>,
    /// Only jobs created at or after this time.
    pub created_from: Option<UnixMillis>,
    /// Only jobs created before this time.
    pub created_until: Option<UnixMillis>,
    /// Only jobs finished at or after this time.
    pub finished_from: Option<UnixMillis>,
    /// Only jobs finished before this time.
    pub finished_until: Option<UnixMillis>,
    /// Only jobs whose payload text contains this, among the latest
    /// [`PAYLOAD_SEARCH_WINDOW`] jobs of the store (a bounded scan).
    pub payload_contains: Option<String>,
}

/// How many of the store's latest jobs (by id, every queue) a search inside
/// payloads reads: a scan bounded whatever the store holds.
pub const PAYLOAD_SEARCH_WINDOW: i64 = 20_000;

/// A page of a queue's jobs matching a filter, in id order.
#[derive(Debug, Clone)]
pub struct JobSearchParams {
    /// The queue.
    pub queue: QueueName,
    /// What the jobs must match.
    pub filter: JobFilter,
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
    /// `timeout`, `stalled`, `released`, `retried`, `cancelled`, `step`
    /// (a step recorded; the state does not change), `sleeping`; for flows
    /// `children_done`, `child_dead`, `flow_timeout`, `parent_ended`.
    pub reason: String,
    /// The error message, for failures.
    pub error: Option<String>,
    /// The payload this event replaced (a retry with an edited payload).
    pub payload: Option<String>,
    /// The step a `step` or `sleeping` event recorded.
    pub step: Option<String>,
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
    /// When the worker holding it last sent a heartbeat; earlier than
    /// `started_at` when that was an earlier attempt's.
    pub heartbeat_at: Option<UnixMillis>,
    /// The parent of a flow's child.
    pub parent_id: Option<JobId>,
    /// For a parent, its children not yet ended while it waits.
    pub pending_children: Option<u32>,
    /// For a parent, what a child that ends without completing does to it.
    pub on_child_dead: Option<rampart_core::job::ChildDeadPolicy>,
    /// For a waiting parent, when it dies if its children are not done.
    pub flow_timeout_at: Option<UnixMillis>,
    /// For a parent, its children counted by state ([`JobState::ALL`]
    /// order, states with none left out; empty in listings).
    pub children: Vec<(JobState, u64)>,
    /// The steps recorded, in the order they were reached.
    pub steps: Vec<StepRecord>,
    /// Every transition, oldest first (empty in listings).
    pub history: Vec<JobEvent>,
}

impl JobRecord {
    /// The record of a row of `jobs` read with the backends' job columns
    /// (`id, queue, state, payload, priority, attempt, max_attempts,
    /// timeout_ms, unique_key, created_at, run_at, started_at, finished_at,
    /// lease_expires_at, timeout_at, worker, last_error, result, tenant,
    /// stalls, progress, heartbeat_at, parent_id, pending_children,
    /// on_child_dead, flow_timeout_at, steps`), without its history.
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
            heartbeat_at: r.opt_time(21)?,
            parent_id: r.opt_int(22)?.map(JobId),
            pending_children: r.opt_int(23)?.map(|n| u32::try_from(n.max(0)).unwrap_or(u32::MAX)),
            on_child_dead: r.opt_parsed(24, "child policy")?,
            flow_timeout_at: r.opt_time(25)?,
            children: Vec::new(),
            steps: step::parse(r.opt_text(26)?.as_deref()).map_err(|e| r.invalid(26, "steps", e))?,
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
        // A step is recorded between two transitions, but the running
        // attempt's `leased` comes from the row: time orders them (stably).
        rest.sort_by_key(|e| e.at);
        // The job was created in the state its next transition left, or is
        // still in it (`run_at` cannot tell: a retry moves it).
        let created_as = rest.iter().find(|e| e.reason != "step").and_then(|e| e.from).unwrap_or(self.state);
        let mut history = Vec::with_capacity(rest.len() + 1);
        history.push(JobEvent {
            at: self.created_at,
            from: None,
            to: created_as,
            attempt: 0,
            worker: None,
            reason: "enqueued".into(),
            error: None,
            payload: None,
            step: None,
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
            payload: None,
            step: None,
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

/// A value bound to a placeholder of a search's SQL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SearchArg {
    /// Text.
    Text(String),
    /// An integer (times, ids, limits).
    Int(i64),
}

/// How a backend writes the parts of a search that differ between SQL
/// dialects.
pub(crate) struct SearchDialect {
    /// The `n`-th placeholder (from 1).
    pub(crate) placeholder: fn(usize) -> String,
    /// The condition of the partial index on unique keys, word for word.
    pub(crate) has_key: &'static str,
    /// The condition of the partial index on tenants, word for word.
    pub(crate) has_tenant: &'static str,
    /// Appended to a state condition for states off the hot path (the
    /// partial index's condition, word for word), if the planner needs it.
    pub(crate) off_hot_path: &'static str,
    /// Whether the text column `payload` contains the placeholder's text.
    pub(crate) contains: fn(&str) -> String,
}

impl JobSearchParams {
    /// The `WHERE` conditions of the filter (without the page's cursor) and
    /// the arguments of their placeholders, from 1.
    pub(crate) fn conditions(&self, d: &SearchDialect) -> (String, Vec<SearchArg>) {
        let mut args = vec![SearchArg::Text(self.queue.as_str().to_string())];
        let mut sql = format!("queue = {}", (d.placeholder)(1));
        let mut bind = |sql: &mut String, condition: &str, arg: SearchArg| {
            args.push(arg);
            let p = (d.placeholder)(args.len());
            sql.push_str(" AND ");
            sql.push_str(&condition.replace('?', &p));
        };
        let f = &self.filter;
        if let Some(key) = &f.unique_key {
            bind(&mut sql, &format!("unique_key = ? AND {}", d.has_key), SearchArg::Text(key.clone()));
        }
        if let Some(tenant) = &f.tenant {
            bind(&mut sql, &format!("tenant = ? AND {}", d.has_tenant), SearchArg::Text(tenant.clone()));
        }
        if let Some(state) = f.state {
            let extra = match state {
                JobState::Available | JobState::Active => String::new(),
                _ if d.off_hot_path.is_empty() => String::new(),
                _ => format!(" AND {}", d.off_hot_path),
            };
            bind(&mut sql, &format!("state = ?{extra}"), SearchArg::Text(state.as_str().to_string()));
        }
        for (bound, condition) in [
            (f.created_from, "created_at >= ?"),
            (f.created_until, "created_at < ?"),
            (f.finished_from, "finished_at >= ?"),
            (f.finished_until, "finished_at < ?"),
        ] {
            if let Some(t) = bound {
                bind(&mut sql, condition, SearchArg::Int(t.0));
            }
        }
        if let Some(text) = &f.payload_contains {
            bind(&mut sql, "id > (SELECT COALESCE(MAX(id), 0) FROM jobs) - ?", SearchArg::Int(PAYLOAD_SEARCH_WINDOW));
            bind(&mut sql, &(d.contains)("?"), SearchArg::Text(text.clone()));
        }
        (sql, args)
    }

    /// The page's query over `columns`: the filter, the cursor, id order.
    pub(crate) fn page_sql(&self, columns: &str, d: &SearchDialect) -> (String, Vec<SearchArg>) {
        let (conditions, mut args) = self.conditions(d);
        args.push(SearchArg::Int(self.after.map_or(0, |j| j.0)));
        let after = (d.placeholder)(args.len());
        args.push(SearchArg::Int(i64::from(self.limit)));
        let limit = (d.placeholder)(args.len());
        (format!("SELECT {columns} FROM jobs WHERE {conditions} AND id > {after} ORDER BY id LIMIT {limit}"), args)
    }

    /// How many jobs match, counted up to `cap` (the count stops there).
    pub(crate) fn count_sql(&self, cap: u64, d: &SearchDialect) -> (String, Vec<SearchArg>) {
        let (conditions, mut args) = self.conditions(d);
        args.push(SearchArg::Int(i64::try_from(cap).unwrap_or(i64::MAX)));
        let limit = (d.placeholder)(args.len());
        (format!("SELECT COUNT(*) FROM (SELECT 1 FROM jobs WHERE {conditions} LIMIT {limit}) AS matched"), args)
    }
}
