//! SQL of the job lifecycle on SQLite. Every function runs on one connection
//! inside the caller's transaction (writes) or snapshot (reads).

use std::collections::BTreeMap;
use std::sync::LazyLock;
use std::time::Duration;

use rampart_core::id::{JobId, QueueName};
use rampart_core::job::{FailureKind, JobState};
use rampart_core::queue::QueueRate;
use rampart_core::retry::{FailureOutcome, RetryPlanner, retry_not_before};
use rampart_core::time::UnixMillis;
use rusqlite::types::Type;
use rusqlite::{Connection, OptionalExtension, Row, params};

use super::flow;
use crate::error::StoreError;
use crate::job::*;
use crate::queue::{QueueCounts, QueueRecord};
use crate::rate::{self, JobLeased, QueueRateParams, QueueRateStatus, RateWindows};

pub(super) const RECORD_COLUMNS: &str = "id, queue, state, payload, priority, attempt, max_attempts, timeout_ms, unique_key, \
     created_at, run_at, started_at, finished_at, lease_expires_at, timeout_at, worker, last_error, result, tenant, stalls, progress, \
     heartbeat_at, parent_id, pending_children, on_child_dead, flow_timeout_at, steps";

/// The condition of `jobs_unique_live`; queries repeat it word for word so
/// the planner can use that partial index.
const LIVE: &str = "unique_key > '' AND state <> 'completed' AND state <> 'dead' AND state <> 'cancelled'";

pub(super) fn ensure_queue(c: &Connection, queue: &QueueName, now: UnixMillis) -> Result<(), StoreError> {
    c.prepare_cached("INSERT OR IGNORE INTO queues (name, paused, created_at) VALUES (?1, 0, ?2)")?
        .execute(params![queue.as_str(), now.0])?;
    Ok(())
}

pub(super) fn insert_many(c: &Connection, p: &JobInsertParams) -> Result<Vec<JobInserted>, StoreError> {
    let mut out = Vec::with_capacity(p.jobs.len());
    let mut insert = c.prepare_cached(
        "INSERT INTO jobs (queue, state, priority, run_at, created_at, max_attempts, timeout_ms, unique_key, payload,
                           tenant)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?;
    let mut find_live =
        c.prepare_cached(&format!("SELECT id, state FROM jobs WHERE queue = ?1 AND unique_key = ?2 AND {LIVE}"))?;
    let mut last_queue: Option<&QueueName> = None;
    for job in &p.jobs {
        if last_queue != Some(&job.queue) {
            ensure_queue(c, &job.queue, p.now)?;
            last_queue = Some(&job.queue);
        }
        if let Some(key) = &job.unique_key {
            let existing = find_live
                .query_row(params![job.queue.as_str(), key], |r| Ok((r.get::<_, i64>(0)?, state_at(r, 1)?)))
                .optional()?;
            if let Some((id, state)) = existing {
                out.push(JobInserted { id: JobId(id), state, duplicate: true });
                continue;
            }
        }
        let state = if job.run_at > p.now { JobState::Scheduled } else { JobState::Available };
        insert.execute(params![
            job.queue.as_str(),
            state.as_str(),
            job.priority,
            job.run_at.0,
            p.now.0,
            job.max_attempts,
            job.timeout.map(duration_ms),
            job.unique_key,
            job.payload,
            job.tenant,
        ])?;
        out.push(JobInserted { id: JobId(c.last_insert_rowid()), state, duplicate: false });
    }
    Ok(out)
}

/// The lease's update of the picked rows; `{PICK}` selects their ids.
const LEASE_UPDATE: &str = "UPDATE jobs SET state = 'active', attempt = attempt + 1,
         lease_token = lower(hex(randomblob(16))),
         lease_expires_at = ?3, lease_ms = ?6, started_at = ?2, worker = ?4,
         timeout_at = CASE WHEN timeout_ms IS NULL THEN NULL ELSE ?2 + timeout_ms END
     WHERE id IN ({PICK})
     RETURNING id, payload, attempt, max_attempts, lease_token, lease_expires_at, timeout_at,
               created_at, run_at, priority, tenant, pending_children IS NOT NULL, steps";

/// The next `?5` available jobs in lease order.
static LEASE_NEXT: LazyLock<String> = LazyLock::new(|| {
    LEASE_UPDATE.replace(
        "{PICK}",
        "SELECT id FROM jobs WHERE queue = ?1 AND state = 'available' ORDER BY priority DESC, run_at, id LIMIT ?5",
    )
});

/// The jobs a rated pass kept: `?5` is a JSON array of their ids.
static LEASE_IDS: LazyLock<String> =
    LazyLock::new(|| LEASE_UPDATE.replace("{PICK}", "SELECT value FROM json_each(?5)"));

pub(super) fn lease(c: &Connection, p: &JobLeaseParams) -> Result<JobLeased, StoreError> {
    let paused: bool = c
        .prepare_cached("SELECT paused FROM queues WHERE name = ?1")?
        .query_row([p.queue.as_str()], |r| r.get(0))
        .optional()?
        .unwrap_or(false);
    if paused || p.max == 0 {
        return Ok(JobLeased::default());
    }
    let mut max = p.max;
    if let Some(limit) = p.concurrency {
        let active: i64 = c
            .prepare_cached("SELECT COUNT(*) FROM jobs WHERE queue = ?1 AND state = 'active'")?
            .query_row([p.queue.as_str()], |r| r.get(0))?;
        max = max.min(u32::try_from((i64::from(limit) - active).max(0)).unwrap_or(0));
        if max == 0 {
            return Ok(JobLeased::default());
        }
    }
    let mut jobs = match &p.rate {
        None => leased(c, &LEASE_NEXT, p, &i64::from(max))?,
        // The writer thread runs one write at a time: no other lease of the
        // queue can come between the windows read and the counts written.
        Some(rate) => return lease_rated(c, p, rate, max),
    };
    sort_leased(&mut jobs);
    Ok(JobLeased { jobs, rate_reopens_at: None })
}

/// A lease under a start rate, in passes (see [`crate::rate`]).
fn lease_rated(c: &Connection, p: &JobLeaseParams, rate: &QueueRate, max: u32) -> Result<JobLeased, StoreError> {
    let (queue, key) = (p.queue.as_str(), rate::key_column(rate));
    c.prepare_cached("DELETE FROM queue_rates WHERE queue = ?1 AND rate_key = ?2 AND window_start <= ?3")?
        .execute(params![queue, key, p.now.0 - duration_ms(rate.rate.per)])?;
    let open = c
        .prepare_cached("SELECT grp, window_start, started FROM queue_rates WHERE queue = ?1 AND rate_key = ?2")?
        .query_map(params![queue, key], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<Result<Vec<_>, _>>()?;
    let mut windows = RateWindows::new(*rate, p.now, open);
    let scan = format!(
        "SELECT id, {group} FROM jobs WHERE queue = ?1 AND state = 'available'
           AND {group} NOT IN (SELECT value FROM json_each(?2))
         ORDER BY priority DESC, run_at, id LIMIT ?3",
        group = rate::group_sql(rate)
    );
    let mut left = rate::lease_cap(&windows, max);
    let mut jobs = Vec::new();
    while left > 0 {
        let full = serde_json::to_string(&windows.full()).map_err(|e| StoreError::Internal(e.to_string()))?;
        let rows = c
            .prepare_cached(&scan)?
            .query_map(params![queue, full, i64::try_from(left).unwrap_or(i64::MAX)], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<Vec<(i64, String)>, _>>()?;
        let (ids, more) = windows.keep(rows, left);
        left -= ids.len() as u64;
        if !ids.is_empty() {
            let ids = serde_json::to_string(&ids).map_err(|e| StoreError::Internal(e.to_string()))?;
            jobs.extend(leased(c, &LEASE_IDS, p, &ids)?);
        }
        if !more {
            break;
        }
    }
    let mut count = c.prepare_cached(
        "INSERT INTO queue_rates (queue, rate_key, grp, window_start, started) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (queue, rate_key, grp) DO UPDATE SET started = started + excluded.started",
    )?;
    for (group, start, n) in windows.taken() {
        count.execute(params![queue, key, group, start.0, n])?;
    }
    sort_leased(&mut jobs);
    Ok(JobLeased { jobs, rate_reopens_at: windows.reopens_at() })
}

/// Runs a lease update whose `?5` is `pick`, answering the leased jobs.
fn leased(
    c: &Connection,
    sql: &str,
    p: &JobLeaseParams,
    pick: &dyn rusqlite::ToSql,
) -> Result<Vec<LeasedJob>, StoreError> {
    let expires = p.now.plus(p.lease);
    let jobs = c
        .prepare_cached(sql)?
        .query_map(params![p.queue.as_str(), p.now.0, expires.0, p.worker, pick, duration_ms(p.lease)], |r| {
            Ok(LeasedJob {
                id: JobId(r.get(0)?),
                queue: p.queue.clone(),
                payload: r.get(1)?,
                attempt: r.get(2)?,
                max_attempts: r.get(3)?,
                lease_token: r.get(4)?,
                lease_expires_at: UnixMillis(r.get(5)?),
                timeout_at: r.get::<_, Option<i64>>(6)?.map(UnixMillis),
                created_at: UnixMillis(r.get(7)?),
                run_at: UnixMillis(r.get(8)?),
                priority: r.get(9)?,
                tenant: r.get(10)?,
                // A parent's children are read after the lease (`Store::job_lease`).
                children: r.get::<_, bool>(11)?.then(Vec::new),
                steps: crate::step::parse(r.get::<_, Option<String>>(12)?.as_deref())
                    .map_err(|e| rusqlite::Error::FromSqlConversionFailure(12, Type::Text, e.into()))?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    // No event is stored: the running attempt is in the row (see
    // `JobRecord::set_history`).
    Ok(jobs)
}

pub(super) fn rate_status(c: &Connection, p: &QueueRateParams) -> Result<QueueRateStatus, StoreError> {
    let open = c
        .prepare_cached(
            "SELECT grp, window_start, started FROM queue_rates WHERE queue = ?1 AND rate_key = ?2 AND window_start > ?3",
        )?
        .query_map(params![p.queue.as_str(), rate::key_column(&p.rate), p.now.0 - duration_ms(p.rate.rate.per)], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(RateWindows::new(p.rate, p.now, open).status())
}

pub(super) fn heartbeat(c: &Connection, p: &JobHeartbeatParams) -> Result<UnixMillis, StoreError> {
    let expires: Option<i64> = c
        .prepare_cached(
            "UPDATE jobs SET lease_expires_at = ?4 + COALESCE(?3, lease_ms), progress = COALESCE(?5, progress),
                 heartbeat_at = ?4
             WHERE id = ?1 AND state = 'active' AND lease_token = ?2 AND lease_expires_at > ?4
               AND (timeout_at IS NULL OR timeout_at > ?4)
             RETURNING lease_expires_at",
        )?
        .query_row(params![p.id.0, p.lease_token, p.lease.map(duration_ms), p.now.0, p.progress], |r| r.get(0))
        .optional()?;
    expires.map(UnixMillis).ok_or(StoreError::LeaseLost)
}

/// An active job held by a valid lease, as needed to end its attempt.
struct Held {
    id: JobId,
    queue: QueueName,
    attempt: u32,
    max_attempts: u32,
    started_at: UnixMillis,
    worker: Option<String>,
}

fn held_from(r: &Row<'_>) -> rusqlite::Result<Held> {
    Ok(Held {
        id: JobId(r.get(0)?),
        queue: queue_at(r, 1)?,
        attempt: r.get(2)?,
        max_attempts: r.get(3)?,
        started_at: UnixMillis(r.get::<_, Option<i64>>(4)?.unwrap_or_default()),
        worker: r.get(5)?,
    })
}

pub(super) fn ack_many(c: &Connection, p: &JobAckParams) -> Result<Vec<Result<JobAcked, StoreError>>, StoreError> {
    let mut out = Vec::with_capacity(p.acks.len());
    for ack in &p.acks {
        let acked = match &ack.outcome {
            AckOutcome::Complete { result } => complete(c, ack, result.as_deref(), p.now)?,
            AckOutcome::Fail { error, retryable, retry_at } => {
                let held = c
                    .prepare_cached(
                        "SELECT id, queue, attempt, max_attempts, started_at, worker FROM jobs
                         WHERE id = ?1 AND state = 'active' AND lease_token = ?2 AND lease_expires_at > ?3
                           AND (timeout_at IS NULL OR timeout_at > ?3)",
                    )?
                    .query_row(params![ack.id.0, ack.lease_token, p.now.0], held_from)
                    .optional()?;
                match held {
                    Some(held) => {
                        let (state, retry_at, parent_due) = end_attempt(
                            c,
                            &held,
                            Failure::error(error, *retryable, *retry_at),
                            p.planner.as_ref(),
                            p.now,
                        )?;
                        let run_time = p.now.since(held.started_at);
                        Ok(JobAcked {
                            id: held.id,
                            queue: held.queue,
                            state,
                            attempt: held.attempt,
                            run_time,
                            retry_at,
                            already: false,
                            parent_due,
                        })
                    }
                    None => repeated(c, ack)?,
                }
            }
        };
        out.push(acked);
    }
    Ok(out)
}

/// Completes a job held by a valid lease, in one statement (the hot path).
fn complete(
    c: &Connection,
    ack: &JobAck,
    result: Option<&str>,
    now: UnixMillis,
) -> Result<Result<JobAcked, StoreError>, StoreError> {
    // The token stays in the row: a repeat of this ack is recognised by it.
    let held = c
        .prepare_cached(
            "UPDATE jobs SET state = 'completed', finished_at = ?3, result = ?4,
                 lease_expires_at = NULL, timeout_at = NULL
             WHERE id = ?1 AND state = 'active' AND lease_token = ?2 AND lease_expires_at > ?3
               AND (timeout_at IS NULL OR timeout_at > ?3)
             RETURNING id, queue, attempt, max_attempts, started_at, worker, parent_id",
        )?
        .query_row(params![ack.id.0, ack.lease_token, now.0, result], |r| {
            Ok((held_from(r)?, r.get::<_, Option<i64>>(6)?))
        })
        .optional()?;
    let Some((held, parent)) = held else { return repeated(c, ack) };
    let parent_due = parent.is_some() && flow::ended(c, held.id, JobState::Completed, now)?;
    // No event: a completed attempt is in the row (see `JobRecord::set_history`).
    let run_time = now.since(held.started_at);
    Ok(Ok(JobAcked {
        id: held.id,
        queue: held.queue,
        state: JobState::Completed,
        attempt: held.attempt,
        run_time,
        retry_at: None,
        already: false,
        parent_due,
    }))
}

/// An ack whose lease no longer holds its job: a repeat of the ack that
/// ended the attempt (the worker's own complete or fail left its token in
/// the row) answers the job's state again; anything else lost its lease.
fn repeated(c: &Connection, ack: &JobAck) -> Result<Result<JobAcked, StoreError>, StoreError> {
    let row = c
        .prepare_cached(
            "SELECT queue, state, attempt, run_at FROM jobs WHERE id = ?1 AND lease_token = ?2 AND state <> 'active'",
        )?
        .query_row(params![ack.id.0, ack.lease_token], |r| {
            Ok((queue_at(r, 0)?, state_at(r, 1)?, r.get::<_, u32>(2)?, UnixMillis(r.get(3)?)))
        })
        .optional()?;
    Ok(match row {
        Some((queue, state, attempt, run_at)) => repeated_ack(ack, queue, state, attempt, run_at),
        None => Err(StoreError::LeaseLost),
    })
}

/// Ends a failed attempt: schedules the retry or buries the job.
fn end_attempt(
    c: &Connection,
    held: &Held,
    failure: Failure<'_>,
    planner: &dyn RetryPlanner,
    now: UnixMillis,
) -> Result<(JobState, Option<UnixMillis>, bool), StoreError> {
    let Failure { kind, error, retryable, not_before } = failure;
    let mut parent_due = false;
    // A worker's own failure keeps its token in the row, so a repeat of it
    // is recognised; an attempt the reaper ended keeps none.
    let keep_token = kind == FailureKind::Error;
    let (state, retry_at) = match planner.plan(held.queue.as_str(), held.attempt, held.max_attempts, retryable, now) {
        FailureOutcome::Retry(at) => {
            let at = retry_not_before(at, not_before, now);
            c.prepare_cached(
                "UPDATE jobs SET state = 'scheduled', run_at = ?2, last_error = ?3,
                     lease_token = CASE WHEN ?4 THEN lease_token END, lease_expires_at = NULL, timeout_at = NULL
                 WHERE id = ?1",
            )?
            .execute(params![held.id.0, at.0, error, keep_token])?;
            (JobState::Scheduled, Some(at))
        }
        FailureOutcome::Dead => {
            c.prepare_cached(
                "UPDATE jobs SET state = 'dead', finished_at = ?2, last_error = ?3,
                     lease_token = CASE WHEN ?4 THEN lease_token END, lease_expires_at = NULL, timeout_at = NULL
                 WHERE id = ?1",
            )?
            .execute(params![held.id.0, now.0, error, keep_token])?;
            parent_due = flow::ended(c, held.id, JobState::Dead, now)?;
            (JobState::Dead, None)
        }
    };
    // The attempt's start leaves the row with the next attempt: store it now.
    let w = held.worker.as_deref();
    event(c, held.id, held.started_at, Some(JobState::Available), JobState::Active, held.attempt, w, "leased", None)?;
    event(c, held.id, now, Some(JobState::Active), state, held.attempt, w, kind.as_str(), Some(error))?;
    Ok((state, retry_at, parent_due))
}

pub(super) fn release_many(
    c: &Connection,
    p: &JobReleaseParams,
) -> Result<Vec<Result<JobReleased, StoreError>>, StoreError> {
    let mut out = Vec::with_capacity(p.releases.len());
    for r in &p.releases {
        // An expired lease still held is given back too: nobody else has
        // the job until the reaper fails the attempt, which releasing spares.
        let held = c
            .prepare_cached(
                "UPDATE jobs SET state = 'available', attempt = attempt - 1,
                     lease_token = NULL, lease_expires_at = NULL, timeout_at = NULL
                 WHERE id = ?1 AND state = 'active' AND lease_token = ?2
                 RETURNING id, queue, attempt + 1, max_attempts, started_at, worker",
            )?
            .query_row(params![r.id.0, r.lease_token], held_from)
            .optional()?;
        let Some(held) = held else {
            out.push(Err(StoreError::LeaseLost));
            continue;
        };
        let w = held.worker.as_deref();
        event(
            c,
            held.id,
            held.started_at,
            Some(JobState::Available),
            JobState::Active,
            held.attempt,
            w,
            "leased",
            None,
        )?;
        event(c, held.id, p.now, Some(JobState::Active), JobState::Available, held.attempt, w, "released", None)?;
        out.push(Ok(JobReleased { id: held.id, queue: held.queue }));
    }
    Ok(out)
}

pub(super) fn reap(c: &Connection, p: &JobReapParams) -> Result<Vec<JobReaped>, StoreError> {
    // Timeouts first: a job past both its timeout and its lease timed out.
    let mut due: BTreeMap<i64, (Held, FailureKind, Option<i64>, u32)> = BTreeMap::new();
    for (sql, kind) in [
        (
            "SELECT id, queue, attempt, max_attempts, started_at, worker, timeout_at - started_at, stalls FROM jobs
             WHERE state = 'active' AND timeout_at > 0 AND timeout_at <= ?1 ORDER BY timeout_at LIMIT ?2",
            FailureKind::Timeout,
        ),
        (
            "SELECT id, queue, attempt, max_attempts, started_at, worker, NULL, stalls FROM jobs
             WHERE state = 'active' AND lease_expires_at <= ?1 ORDER BY lease_expires_at LIMIT ?2",
            FailureKind::LeaseExpired,
        ),
    ] {
        let rows = c
            .prepare_cached(sql)?
            .query_map(params![p.now.0, p.limit], |r| {
                Ok((held_from(r)?, r.get::<_, Option<i64>>(6)?, r.get::<_, u32>(7)?))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        for (held, timeout_ms, stalls) in rows {
            due.entry(held.id.0).or_insert((held, kind, timeout_ms, stalls));
        }
    }
    let mut out = Vec::with_capacity(due.len());
    for (held, kind, timeout_ms, stalls) in due.into_values().take(p.limit as usize) {
        let max_stalls = (p.max_stalls)(held.queue.as_str());
        let state = if kind == FailureKind::LeaseExpired && stalls < max_stalls {
            stall(c, &held, stalls + 1, max_stalls, p.now)?;
            JobState::Available
        } else {
            let error = reaped_error(kind, timeout_ms, held.worker.as_deref());
            let failure = Failure { kind, error: &error, retryable: true, not_before: None };
            end_attempt(c, &held, failure, p.planner.as_ref(), p.now)?.0
        };
        out.push(JobReaped {
            id: held.id,
            queue: held.queue.clone(),
            kind,
            state,
            run_time: p.now.since(held.started_at),
        });
    }
    Ok(out)
}

/// Gives a job whose lease expired back to its queue without counting the
/// attempt (its `stall`th stall), first in line as before; the history keeps
/// the attempt's `leased` event and the `stalled` one.
fn stall(c: &Connection, held: &Held, stall: u32, max_stalls: u32, now: UnixMillis) -> Result<(), StoreError> {
    c.prepare_cached(
        "UPDATE jobs SET state = 'available', attempt = attempt - 1, stalls = ?2,
             lease_token = NULL, lease_expires_at = NULL, timeout_at = NULL
         WHERE id = ?1",
    )?
    .execute(params![held.id.0, stall])?;
    let w = held.worker.as_deref();
    let error = stalled_error(stall, max_stalls, w);
    event(c, held.id, held.started_at, Some(JobState::Available), JobState::Active, held.attempt, w, "leased", None)?;
    event(c, held.id, now, Some(JobState::Active), JobState::Available, held.attempt, w, "stalled", Some(&error))
}

pub(super) fn promote_due(c: &Connection, now: UnixMillis, limit: u32) -> Result<Vec<(QueueName, u64)>, StoreError> {
    // Parents past their flow timeout first: a parent that dies of it may
    // make its own parent due (under `ignore`), promoted below.
    flow::sweep_timeouts(c, now, limit)?;
    let moved = c
        .prepare_cached(
            "UPDATE jobs SET state = 'available'
             WHERE id IN (SELECT id FROM jobs WHERE state = 'scheduled' AND run_at <= ?1 ORDER BY run_at LIMIT ?2)
             RETURNING id, queue, attempt",
        )?
        .query_map(params![now.0, limit], |r| Ok((JobId(r.get(0)?), queue_at(r, 1)?, r.get::<_, u32>(2)?)))?
        .collect::<Result<Vec<_>, _>>()?;
    let mut per_queue: BTreeMap<QueueName, u64> = BTreeMap::new();
    for (id, queue, attempt) in moved {
        event(c, id, now, Some(JobState::Scheduled), JobState::Available, attempt, None, "due", None)?;
        *per_queue.entry(queue).or_default() += 1;
    }
    // Waits whose timeout passed are due rows too: their steps get `null`.
    for queue in super::steps::expire_waits(c, now, limit)? {
        *per_queue.entry(queue).or_default() += 1;
    }
    Ok(per_queue.into_iter().collect())
}

fn state_and_queue(c: &Connection, id: JobId) -> Result<(JobState, QueueName, u32), StoreError> {
    c.prepare_cached("SELECT state, queue, attempt FROM jobs WHERE id = ?1")?
        .query_row([id.0], |r| Ok((state_at(r, 0)?, queue_at(r, 1)?, r.get(2)?)))
        .optional()?
        .ok_or(StoreError::NotFound)
}

/// Makes a dead or cancelled job available with a fresh set of attempts
/// (with a new payload when `payload` is given: the one it replaces is kept
/// in the `retried` event).
fn revive(
    c: &Connection,
    id: JobId,
    from: JobState,
    attempt: u32,
    payload: Option<&str>,
    now: UnixMillis,
) -> Result<(), StoreError> {
    let replaced: Option<String> = match payload {
        Some(_) => Some(c.prepare_cached("SELECT payload FROM jobs WHERE id = ?1")?.query_row([id.0], |r| r.get(0))?),
        None => None,
    };
    c.prepare_cached(
        "UPDATE jobs SET state = 'available', attempt = 0, stalls = 0, run_at = ?2, finished_at = NULL,
             result = NULL, lease_token = NULL, payload = COALESCE(?3, payload)
         WHERE id = ?1",
    )?
    .execute(params![id.0, now.0, payload])
    .map_err(|e| match StoreError::from(e) {
        StoreError::Conflict(_) => {
            StoreError::Conflict("another live job in this queue has the same unique_key; it must finish first".into())
        }
        other => other,
    })?;
    // A child retried while its parent still waits (under `ignore`) is
    // pending again: its end was counted once already.
    c.prepare_cached(
        "UPDATE jobs SET pending_children = pending_children + 1
         WHERE id = (SELECT parent_id FROM jobs WHERE id = ?1) AND state = 'waiting'",
    )?
    .execute([id.0])?;
    c.prepare_cached(
        "INSERT INTO job_events (job_id, at, from_state, to_state, attempt, reason, payload)
         VALUES (?1, ?2, ?3, 'available', ?4, 'retried', ?5)",
    )?
    .execute(params![id.0, now.0, from.as_str(), attempt, replaced])?;
    Ok(())
}

pub(super) fn retry(
    c: &Connection,
    id: JobId,
    payload: Option<&str>,
    now: UnixMillis,
) -> Result<JobRetried, StoreError> {
    let (state, queue, attempt) = state_and_queue(c, id)?;
    if !matches!(state, JobState::Dead | JobState::Cancelled) {
        return Err(StoreError::InvalidState(state));
    }
    revive(c, id, state, attempt, payload, now)?;
    Ok(JobRetried { queue })
}

pub(super) fn cancel(c: &Connection, id: JobId, now: UnixMillis) -> Result<(), StoreError> {
    let (state, _, attempt) = state_and_queue(c, id)?;
    match state {
        JobState::Cancelled => Ok(()),
        JobState::Scheduled | JobState::Available | JobState::Waiting => {
            c.prepare_cached(
                "UPDATE jobs SET state = 'cancelled', finished_at = ?2, lease_token = NULL, flow_timeout_at = NULL
                 WHERE id = ?1",
            )?
            .execute(params![id.0, now.0])?;
            c.prepare_cached("DELETE FROM job_waits WHERE job_id = ?1")?.execute([id.0])?;
            event(c, id, now, Some(state), JobState::Cancelled, attempt, None, "cancelled", None)?;
            if state == JobState::Waiting {
                flow::cancel_children(c, id, now)?;
            }
            flow::ended(c, id, JobState::Cancelled, now).map(drop)
        }
        other => Err(StoreError::InvalidState(other)),
    }
}

pub(super) fn retry_dead(c: &Connection, p: &JobRetryDeadParams) -> Result<JobRetryDeadPage, StoreError> {
    let candidates: Vec<(i64, u32)> = match &p.ids {
        Some(ids) => {
            let mut stmt =
                c.prepare_cached("SELECT id, attempt FROM jobs WHERE id = ?1 AND queue = ?2 AND state = 'dead'")?;
            let mut found = Vec::new();
            for id in ids.iter().take(p.limit as usize) {
                if let Some(row) =
                    stmt.query_row(params![id.0, p.queue.as_str()], |r| Ok((r.get(0)?, r.get(1)?))).optional()?
                {
                    found.push(row);
                }
            }
            found
        }
        None => c
            .prepare_cached(&format!(
                "SELECT id, attempt FROM jobs WHERE queue = ?1 AND state = 'dead' AND {OFF_HOT_PATH}
                     AND id > ?2 ORDER BY id LIMIT ?3"
            ))?
            .query_map(params![p.queue.as_str(), p.after.map_or(0, |j| j.0), p.limit], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<Vec<_>, _>>()?,
    };
    let mut moved = 0;
    for &(id, attempt) in &candidates {
        match revive(c, JobId(id), JobState::Dead, attempt, None, p.now) {
            Ok(()) => moved += 1,
            // A live twin holds the unique key: this one stays dead.
            Err(StoreError::Conflict(_)) => {}
            Err(e) => return Err(e),
        }
    }
    let next = match (&p.ids, candidates.last()) {
        (None, Some(&(last, _))) if candidates.len() == p.limit as usize => Some(JobId(last)),
        _ => None,
    };
    Ok(JobRetryDeadPage { moved, next })
}

pub(super) fn purge_dead(c: &Connection, queue: &QueueName, limit: u32) -> Result<u64, StoreError> {
    let ids = c
        .prepare_cached(&format!(
            "DELETE FROM jobs WHERE id IN (SELECT id FROM jobs WHERE queue = ?1 AND state = 'dead'
                                           AND {OFF_HOT_PATH} LIMIT ?2)
             RETURNING id"
        ))?
        .query_map(params![queue.as_str(), limit], |r| r.get::<_, i64>(0))?
        .collect::<Result<Vec<_>, _>>()?;
    let mut events = c.prepare_cached("DELETE FROM job_events WHERE job_id = ?1")?;
    for id in &ids {
        events.execute([id])?;
    }
    Ok(ids.len() as u64)
}

pub(super) fn find_live_by_key(c: &Connection, queue: &QueueName, key: &str) -> Result<Option<JobId>, StoreError> {
    // The conditions of `jobs_unique_live`, word for word, so it is the index used.
    Ok(c.prepare_cached(
        "SELECT id FROM jobs WHERE queue = ?1 AND unique_key = ?2
         AND unique_key > '' AND state <> 'completed' AND state <> 'dead' AND state <> 'cancelled'",
    )?
    .query_row(params![queue.as_str(), key], |r| r.get::<_, i64>(0))
    .optional()?
    .map(JobId))
}

pub(super) fn get(c: &Connection, id: JobId) -> Result<Option<JobRecord>, StoreError> {
    let job = c
        .prepare_cached(&format!("SELECT {RECORD_COLUMNS} FROM jobs WHERE id = ?1"))?
        .query_row([id.0], |r| JobRecord::from_row(r))
        .optional()?;
    let Some(mut job) = job else { return Ok(None) };
    if job.pending_children.is_some() {
        job.children = flow::child_counts(c, id)?;
    }
    let events = c
        .prepare_cached(
            "SELECT at, from_state, to_state, attempt, worker, reason, error, payload, step FROM job_events
             WHERE job_id = ?1 ORDER BY id",
        )?
        .query_map([id.0], |r| {
            Ok(JobEvent {
                at: UnixMillis(r.get(0)?),
                from: r.get::<_, Option<String>>(1)?.map(|s| parse_state(&s, 1)).transpose()?,
                to: state_at(r, 2)?,
                attempt: r.get(3)?,
                worker: r.get(4)?,
                reason: r.get(5)?,
                error: r.get(6)?,
                payload: r.get(7)?,
                step: r.get(8)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    job.set_history(events);
    Ok(Some(job))
}

/// The condition of `jobs_queue_state` (the states off the hot path);
/// queries repeat it word for word so the planner can use that partial index.
pub(super) const OFF_HOT_PATH: &str = "state <> 'available' AND state <> 'active'";

pub(super) fn list(c: &Connection, p: &JobListParams) -> Result<Vec<JobRecord>, StoreError> {
    let after = p.after.map_or(0, |j| j.0);
    if let Some(tenant) = &p.tenant {
        // One walk of `jobs_tenant` (its condition repeated word for word),
        // whatever the state.
        let state = p.state.map_or("", JobState::as_str);
        let sql = format!(
            "SELECT {RECORD_COLUMNS} FROM jobs WHERE queue = ?1 AND tenant = ?2 AND tenant > ''
                 AND (?3 = '' OR state = ?3) AND id > ?4 ORDER BY id LIMIT ?5"
        );
        return Ok(c
            .prepare_cached(&sql)?
            .query_map(params![p.queue.as_str(), tenant, state, after, p.limit], |r| JobRecord::from_row(r))?
            .collect::<Result<Vec<_>, _>>()?);
    }
    let states: &[JobState] = match &p.state {
        Some(state) => std::slice::from_ref(state),
        None => &JobState::ALL,
    };
    // One index-backed query per state, merged by id: each state's rows
    // live in a different index.
    let mut rows = Vec::new();
    for state in states {
        let (source, filter) = match state {
            JobState::Available => ("jobs", "state = 'available'".to_string()),
            // Without the hint the planner walks the whole table in id order.
            JobState::Active => ("jobs INDEXED BY jobs_lease_expiry", "state = 'active'".to_string()),
            other => ("jobs", format!("state = '{}' AND {OFF_HOT_PATH}", other.as_str())),
        };
        let sql = format!(
            "SELECT {RECORD_COLUMNS} FROM {source} WHERE queue = ?1 AND {filter} AND id > ?2 ORDER BY id LIMIT ?3"
        );
        let page = c
            .prepare_cached(&sql)?
            .query_map(params![p.queue.as_str(), after, p.limit], |r| JobRecord::from_row(r))?
            .collect::<Result<Vec<_>, _>>()?;
        rows.extend(page);
    }
    rows.sort_by_key(|j| j.id);
    rows.truncate(p.limit as usize);
    Ok(rows)
}

pub(super) fn dead_tenants(c: &Connection, per_queue: u32) -> Result<Vec<DeadTenant>, StoreError> {
    // Dead jobs through `jobs_queue_state`; live jobs are never read.
    let rows = c
        .prepare_cached(&format!(
            "SELECT queue, tenant, COUNT(*) AS n FROM jobs
             WHERE state = 'dead' AND {OFF_HOT_PATH} AND tenant > ''
             GROUP BY queue, tenant ORDER BY queue, n DESC, tenant"
        ))?
        .query_map([], |r| {
            Ok(DeadTenant { queue: queue_at(r, 0)?, tenant: r.get(1)?, dead: r.get::<_, i64>(2)?.max(0) as u64 })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(top_per_queue(rows, per_queue))
}

pub(super) fn queue_counts(c: &Connection) -> Result<Vec<QueueCounts>, StoreError> {
    let mut out: Vec<QueueCounts> = Vec::new();
    let sql = format!(
        "SELECT queue, state, COUNT(*) FROM jobs WHERE {OFF_HOT_PATH} GROUP BY queue, state
         UNION ALL SELECT queue, 'available', COUNT(*) FROM jobs WHERE state = 'available' GROUP BY queue
         UNION ALL SELECT queue, 'active', COUNT(*) FROM jobs WHERE state = 'active' GROUP BY queue
         ORDER BY 1"
    );
    let rows = c
        .prepare_cached(&sql)?
        .query_map([], |r| Ok((queue_at(r, 0)?, state_at(r, 1)?, r.get::<_, i64>(2)?)))?
        .collect::<Result<Vec<_>, _>>()?;
    for (queue, state, n) in rows {
        if out.last().map(|q| &q.queue) != Some(&queue) {
            out.push(QueueCounts::empty(queue));
        }
        if let Some(q) = out.last_mut() {
            q.set(state, n.max(0) as u64);
        }
    }
    Ok(out)
}

pub(super) fn queue_list(c: &Connection) -> Result<Vec<QueueRecord>, StoreError> {
    let rows = c
        .prepare_cached("SELECT name, paused FROM queues ORDER BY name")?
        .query_map([], |r| Ok(QueueRecord { name: queue_at(r, 0)?, paused: r.get(1)? }))?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

#[allow(clippy::too_many_arguments)] // one column each of the event row
pub(super) fn event(
    c: &Connection,
    job: JobId,
    at: UnixMillis,
    from: Option<JobState>,
    to: JobState,
    attempt: u32,
    worker: Option<&str>,
    reason: &str,
    error: Option<&str>,
) -> Result<(), StoreError> {
    c.prepare_cached(
        "INSERT INTO job_events (job_id, at, from_state, to_state, attempt, worker, reason, error)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![job.0, at.0, from.map(JobState::as_str), to.as_str(), attempt, worker, reason, error])?;
    Ok(())
}

pub(super) fn duration_ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

pub(super) fn state_at(r: &Row<'_>, i: usize) -> rusqlite::Result<JobState> {
    parse_state(&r.get::<_, String>(i)?, i)
}

fn parse_state(s: &str, i: usize) -> rusqlite::Result<JobState> {
    s.parse().map_err(|e| rusqlite::Error::FromSqlConversionFailure(i, Type::Text, Box::new(e)))
}

pub(super) fn queue_at(r: &Row<'_>, i: usize) -> rusqlite::Result<QueueName> {
    let s: String = r.get(i)?;
    QueueName::new(&s).map_err(|e| rusqlite::Error::FromSqlConversionFailure(i, Type::Text, Box::new(e)))
}
