//! SQL of job steps on SQLite: a step recorded (and a durable sleep) in one
//! write of the writer thread, which runs one write at a time, so the array
//! read under the lease's check is the one written back.

use rampart_core::id::{JobId, QueueName};
use rampart_core::job::JobState;
use rampart_core::time::UnixMillis;
use rusqlite::{Connection, OptionalExtension, params};

use super::jobs::{event, queue_at};
use crate::error::StoreError;
use crate::step::{
    Append, EventSendParams, EventSent, JobStepParams, JobStepRecorded, StepWait, append, event_matches, existing,
    sleep_result,
};

pub(super) fn record(c: &Connection, p: &JobStepParams) -> Result<JobStepRecorded, StoreError> {
    let held = c
        .prepare_cached(
            "SELECT queue, attempt, steps, started_at, worker FROM jobs
             WHERE id = ?1 AND state = 'active' AND lease_token = ?2 AND lease_expires_at > ?3
               AND (timeout_at IS NULL OR timeout_at > ?3)",
        )?
        .query_row(params![p.id.0, p.lease_token, p.now.0], |r| {
            Ok((
                queue_at(r, 0)?,
                r.get::<_, u32>(1)?,
                r.get::<_, Option<String>>(2)?,
                UnixMillis(r.get::<_, Option<i64>>(3)?.unwrap_or_default()),
                r.get::<_, Option<String>>(4)?,
            ))
        })
        .optional()?;
    let Some((queue, attempt, steps, started_at, worker)) = held else { return Err(StoreError::LeaseLost) };
    let result = match p.sleep_until {
        Some(until) => sleep_result(until),
        None => p.result.clone(),
    };
    let mut p = JobStepParams { result, ..p.clone() };
    if let Some(Append::Existing(result)) = existing(steps.as_deref(), &p)? {
        return Ok(JobStepRecorded::existing(queue, result));
    }
    if let Some(wait) = &p.wait {
        match lookback(c, wait)? {
            // An event sent just before the wait: the step is its payload now.
            Some(payload) => p.result = payload,
            None => {
                park(c, &p, wait, attempt, started_at, worker.as_deref())?;
                return Ok(JobStepRecorded::parked(queue, wait.timeout_at));
            }
        }
    }
    let p = &p;
    let text = match append(steps.as_deref(), p, attempt)? {
        Append::Existing(result) => {
            return Ok(JobStepRecorded::existing(queue, result));
        }
        Append::New(text) => text,
    };
    c.prepare_cached("UPDATE jobs SET steps = ?2 WHERE id = ?1")?.execute(params![p.id.0, text])?;
    step_event(c, JobState::Active, attempt, worker.as_deref(), "step", p)?;
    let Some(until) = p.sleep_until else {
        return Ok(JobStepRecorded::recorded(queue, p.result.clone(), None));
    };
    // The release path with a due time: the attempt is not counted, and the
    // promoter makes the job available at `until`, on any node, after restarts.
    c.prepare_cached(
        "UPDATE jobs SET state = 'scheduled', run_at = ?2, attempt = attempt - 1,
             lease_token = NULL, lease_expires_at = NULL, timeout_at = NULL
         WHERE id = ?1",
    )?
    .execute(params![p.id.0, until.0])?;
    let w = worker.as_deref();
    event(c, p.id, started_at, Some(JobState::Available), JobState::Active, attempt, w, "leased", None)?;
    step_event(c, JobState::Scheduled, attempt, w, "sleeping", p)?;
    Ok(JobStepRecorded::recorded(queue, p.result.clone(), Some(until)))
}

/// A history event naming the step, from `active`, at the record's time.
fn step_event(
    c: &Connection,
    to: JobState,
    attempt: u32,
    worker: Option<&str>,
    reason: &str,
    p: &JobStepParams,
) -> Result<(), StoreError> {
    c.prepare_cached(
        "INSERT INTO job_events (job_id, at, from_state, to_state, attempt, worker, reason, step)
         VALUES (?1, ?2, 'active', ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![p.id.0, p.now.0, to.as_str(), attempt, worker, reason, p.name.as_str()])?;
    Ok(())
}

/// The newest event of the wait's lookback that matches it, if any.
fn lookback(c: &Connection, wait: &StepWait) -> Result<Option<String>, StoreError> {
    let mut stmt = c.prepare_cached("SELECT payload FROM events WHERE name = ?1 AND at >= ?2 ORDER BY seq DESC")?;
    let mut rows = stmt.query(params![wait.event, wait.lookback_from.0])?;
    let match_on = wait.match_on.as_ref().map(|(p, v)| (p.as_str(), v.as_str()));
    while let Some(row) = rows.next()? {
        let payload: String = row.get(0)?;
        if event_matches(&payload, match_on) {
            return Ok(Some(payload));
        }
    }
    Ok(None)
}

/// Parks a held job `waiting` with its wait row (and so its timeout), the
/// attempt not counted.
fn park(
    c: &Connection,
    p: &JobStepParams,
    wait: &StepWait,
    attempt: u32,
    started_at: UnixMillis,
    worker: Option<&str>,
) -> Result<(), StoreError> {
    c.prepare_cached(
        "UPDATE jobs SET state = 'waiting', attempt = attempt - 1,
             lease_token = NULL, lease_expires_at = NULL, timeout_at = NULL
         WHERE id = ?1",
    )?
    .execute([p.id.0])?;
    let (path, value) = wait.match_on.clone().unzip();
    c.prepare_cached(
        "INSERT INTO job_waits (job_id, step, event, match_path, match_value, timeout_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![p.id.0, p.name.as_str(), wait.event, path, value, wait.timeout_at.0])?;
    event(c, p.id, started_at, Some(JobState::Available), JobState::Active, attempt, worker, "leased", None)?;
    step_event(c, JobState::Waiting, attempt, worker, "waiting", p)
}

pub(super) fn send_event(c: &Connection, p: &EventSendParams) -> Result<EventSent, StoreError> {
    if let Some(id) = &p.event_id {
        let seen = c
            .prepare_cached("SELECT 1 FROM events WHERE name = ?1 AND event_id = ?2 AND event_id > ''")?
            .query_row(params![p.name, id], |_| Ok(()))
            .optional()?;
        if seen.is_some() {
            return Ok(EventSent { duplicate: true, woken: Vec::new() });
        }
    }
    let keep_ms = i64::try_from(p.keep.as_millis()).unwrap_or(i64::MAX);
    c.prepare_cached("DELETE FROM events WHERE name = ?1 AND at < ?2")?.execute(params![p.name, p.now.0 - keep_ms])?;
    c.prepare_cached("INSERT INTO events (name, event_id, payload, at) VALUES (?1, ?2, ?3, ?4)")?
        .execute(params![p.name, p.event_id, p.payload, p.now.0])?;
    let waits = c
        .prepare_cached("SELECT job_id, step, match_path, match_value FROM job_waits WHERE event = ?1")?
        .query_map([&p.name], |r| {
            Ok((
                JobId(r.get(0)?),
                r.get::<_, String>(1)?,
                r.get::<_, Option<String>>(2)?,
                r.get::<_, Option<String>>(3)?,
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let mut woken = Vec::new();
    for (job, step, path, value) in waits {
        let match_on = path.as_deref().zip(value.as_deref());
        if event_matches(&p.payload, match_on)
            && let Some(queue) = wake(c, job, &step, &p.payload, "event", p.now)?
        {
            woken.push((job, queue));
        }
    }
    Ok(EventSent { duplicate: false, woken })
}

/// Ends the waits whose timeout passed: each step's result is `null`, each
/// job available. Answers the jobs woken per queue.
pub(super) fn expire_waits(c: &Connection, now: UnixMillis, limit: u32) -> Result<Vec<QueueName>, StoreError> {
    let due = c
        .prepare_cached("SELECT job_id, step FROM job_waits WHERE timeout_at <= ?1 ORDER BY timeout_at LIMIT ?2")?
        .query_map(params![now.0, limit], |r| Ok((JobId(r.get(0)?), r.get::<_, String>(1)?)))?
        .collect::<Result<Vec<_>, _>>()?;
    let mut queues = Vec::new();
    for (job, step) in due {
        queues.extend(wake(c, job, &step, "null", "wait_timeout", now)?);
    }
    Ok(queues)
}

/// Records a waiting job's step and makes the job available; `None` when the
/// job no longer waits (only its stale wait row is removed).
fn wake(
    c: &Connection,
    job: JobId,
    step: &str,
    result: &str,
    reason: &str,
    now: UnixMillis,
) -> Result<Option<QueueName>, StoreError> {
    c.prepare_cached("DELETE FROM job_waits WHERE job_id = ?1")?.execute([job.0])?;
    let row = c
        .prepare_cached("SELECT queue, attempt, steps FROM jobs WHERE id = ?1 AND state = 'waiting'")?
        .query_row([job.0], |r| Ok((queue_at(r, 0)?, r.get::<_, u32>(1)?, r.get::<_, Option<String>>(2)?)))
        .optional()?;
    let Some((queue, attempt, steps)) = row else { return Ok(None) };
    let text = crate::step::woken_steps(steps.as_deref(), step, result, attempt + 1, now)?;
    c.prepare_cached("UPDATE jobs SET state = 'available', run_at = ?2, steps = ?3 WHERE id = ?1")?
        .execute(params![job.0, now.0, text])?;
    c.prepare_cached(
        "INSERT INTO job_events (job_id, at, from_state, to_state, attempt, reason, step)
         VALUES (?1, ?2, 'waiting', 'available', ?3, ?4, ?5)",
    )?
    .execute(params![job.0, now.0, attempt, reason, step])?;
    Ok(Some(queue))
}
