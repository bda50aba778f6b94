//! SQL of job steps on PostgreSQL: the job's row locked under the lease's
//! check, its step array extended with [`crate::step::append`] and written
//! back (with the history and, for a durable sleep, the release) in one
//! transaction, so two records of one step cannot both win.

use deadpool_postgres::Transaction;
use rampart_core::job::JobState;
use rampart_core::time::UnixMillis;

use super::Client;
use super::jobs::{count, int, queue_of};
use crate::error::StoreError;
use crate::step::{Append, JobStepParams, JobStepRecorded, append, sleep_result};

pub(super) async fn record(c: &mut Client, p: &JobStepParams) -> Result<JobStepRecorded, StoreError> {
    let tx = c.transaction().await?;
    let held = tx
        .prepare_cached(
            "SELECT queue, attempt, steps, started_at, worker FROM jobs
             WHERE id = $1 AND state = 'active' AND lease_token = $2 AND lease_expires_at > $3
               AND (timeout_at IS NULL OR timeout_at > $3)
             FOR UPDATE",
        )
        .await?;
    let Some(row) = tx.query_opt(&held, &[&p.id.0, &p.lease_token, &p.now.0]).await? else {
        return Err(StoreError::LeaseLost);
    };
    let queue = queue_of(&row, 0)?;
    let attempt = count(row.try_get(1)?);
    let steps: Option<String> = row.try_get(2)?;
    let started_at = UnixMillis(row.try_get::<_, Option<i64>>(3)?.unwrap_or_default());
    let worker: Option<String> = row.try_get(4)?;
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
    let write = tx.prepare_cached("UPDATE jobs SET steps = $2 WHERE id = $1").await?;
    tx.execute(&write, &[&p.id.0, &text]).await?;
    step_event(&tx, p, JobState::Active, attempt, worker.as_deref(), "step").await?;
    let Some(until) = p.sleep_until else {
        tx.commit().await?;
        return Ok(JobStepRecorded {
            queue,
            result: p.result.clone(),
            recorded: true,
            state: JobState::Active,
            run_at: None,
        });
    };
    // The release path with a due time: the attempt is not counted, and a
    // promoter makes the job available at `until`, on any node, after restarts.
    let sleep = tx
        .prepare_cached(
            "WITH slept AS (
                 UPDATE jobs SET state = 'scheduled', run_at = $2, attempt = attempt - 1,
                     lease_token = NULL, lease_expires_at = NULL, timeout_at = NULL
                 WHERE id = $1 RETURNING id
             )
             INSERT INTO job_events (job_id, at, from_state, to_state, attempt, worker, reason)
             SELECT id, $3, 'available', 'active', $4, $5, 'leased' FROM slept",
        )
        .await?;
    tx.execute(&sleep, &[&p.id.0, &until.0, &started_at.0, &int(attempt), &worker]).await?;
    step_event(&tx, p, JobState::Scheduled, attempt, worker.as_deref(), "sleeping").await?;
    tx.commit().await?;
    Ok(JobStepRecorded {
        queue,
        result: p.result.clone(),
        recorded: true,
        state: JobState::Scheduled,
        run_at: Some(until),
    })
}

/// A history event naming the step, from `active`, at the record's time.
async fn step_event(
    tx: &Transaction<'_>,
    p: &JobStepParams,
    to: JobState,
    attempt: u32,
    worker: Option<&str>,
    reason: &str,
) -> Result<(), StoreError> {
    let stmt = tx
        .prepare_cached(
            "INSERT INTO job_events (job_id, at, from_state, to_state, attempt, worker, reason, step)
             VALUES ($1, $2, 'active', $3, $4, $5, $6, $7)",
        )
        .await?;
    tx.execute(&stmt, &[&p.id.0, &p.now.0, &to.as_str(), &int(attempt), &worker, &reason, &p.name.as_str()]).await?;
    Ok(())
}
