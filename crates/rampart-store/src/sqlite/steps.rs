//! SQL of job steps on SQLite: a step recorded (and a durable sleep) in one
//! write of the writer thread, which runs one write at a time, so the array
//! read under the lease's check is the one written back.

use rampart_core::job::JobState;
use rampart_core::time::UnixMillis;
use rusqlite::{Connection, OptionalExtension, params};

use super::jobs::{event, queue_at};
use crate::error::StoreError;
use crate::step::{Append, JobStepParams, JobStepRecorded, append, sleep_result};

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
    let p = &JobStepParams { result, ..p.clone() };
    let text = match append(steps.as_deref(), p, attempt)? {
        Append::Existing(result) => {
            return Ok(JobStepRecorded { queue, result, recorded: false, state: JobState::Active, run_at: None });
        }
        Append::New(text) => text,
    };
    c.prepare_cached("UPDATE jobs SET steps = ?2 WHERE id = ?1")?.execute(params![p.id.0, text])?;
    step_event(c, JobState::Active, attempt, worker.as_deref(), "step", p)?;
    let Some(until) = p.sleep_until else {
        return Ok(JobStepRecorded {
            queue,
            result: p.result.clone(),
            recorded: true,
            state: JobState::Active,
            run_at: None,
        });
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
    Ok(JobStepRecorded {
        queue,
        result: p.result.clone(),
        recorded: true,
        state: JobState::Scheduled,
        run_at: Some(until),
    })
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
