//! SQL of job steps on PostgreSQL: the job's row locked under the lease's
//! check, its step array extended with [`crate::step::append`] and written
//! back (with the history and, for a durable sleep, the release) in one
//! transaction, so two records of one step cannot both win.

use deadpool_postgres::Transaction;
use rampart_core::id::{JobId, QueueName};
use rampart_core::job::JobState;
use rampart_core::time::UnixMillis;

use super::Client;
use super::jobs::{count, int, queue_of};
use crate::error::StoreError;
use crate::step::{
    Append, EventSendParams, EventSent, JobStepParams, JobStepRecorded, StepWait, append, event_matches, existing,
    sleep_result,
};

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
    let mut p = JobStepParams { result, ..p.clone() };
    if let Some(Append::Existing(result)) = existing(steps.as_deref(), &p)? {
        return Ok(JobStepRecorded::existing(queue, result));
    }
    if let Some(wait) = &p.wait {
        lock_event(&tx, &wait.event).await?;
        match lookback(&tx, wait).await? {
            // An event sent just before the wait: the step is its payload now.
            Some(payload) => p.result = payload,
            None => {
                park(&tx, &p, wait, attempt, started_at, worker.as_deref()).await?;
                tx.commit().await?;
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
    let write = tx.prepare_cached("UPDATE jobs SET steps = $2 WHERE id = $1").await?;
    tx.execute(&write, &[&p.id.0, &text]).await?;
    step_event(&tx, p, JobState::Active, attempt, worker.as_deref(), "step").await?;
    let Some(until) = p.sleep_until else {
        tx.commit().await?;
        return Ok(JobStepRecorded::recorded(queue, p.result.clone(), None));
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
    Ok(JobStepRecorded::recorded(queue, p.result.clone(), Some(until)))
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

/// Serialises registering a wait and sending an event of one name: each
/// sees what the other committed, so no event falls between them.
async fn lock_event(tx: &Transaction<'_>, name: &str) -> Result<(), StoreError> {
    let stmt = tx.prepare_cached("SELECT pg_advisory_xact_lock(hashtextextended($1, 21))").await?;
    tx.execute(&stmt, &[&name]).await?;
    Ok(())
}

/// The newest event of the wait's lookback that matches it, if any.
async fn lookback(tx: &Transaction<'_>, wait: &StepWait) -> Result<Option<String>, StoreError> {
    let stmt = tx.prepare_cached("SELECT payload FROM events WHERE name = $1 AND at >= $2 ORDER BY seq DESC").await?;
    let match_on = wait.match_on.as_ref().map(|(p, v)| (p.as_str(), v.as_str()));
    for row in tx.query(&stmt, &[&wait.event, &wait.lookback_from.0]).await? {
        let payload: String = row.try_get(0)?;
        if event_matches(&payload, match_on) {
            return Ok(Some(payload));
        }
    }
    Ok(None)
}

/// Parks a held job `waiting` with its wait row (and so its timeout), the
/// attempt not counted.
async fn park(
    tx: &Transaction<'_>,
    p: &JobStepParams,
    wait: &StepWait,
    attempt: u32,
    started_at: UnixMillis,
    worker: Option<&str>,
) -> Result<(), StoreError> {
    let stmt = tx
        .prepare_cached(
            "WITH parked AS (
                 UPDATE jobs SET state = 'waiting', attempt = attempt - 1,
                     lease_token = NULL, lease_expires_at = NULL, timeout_at = NULL
                 WHERE id = $1 RETURNING id
             ), waits AS (
                 INSERT INTO job_waits (job_id, step, event, match_path, match_value, timeout_at)
                 SELECT id, $2, $3, $4, $5, $6 FROM parked
             )
             INSERT INTO job_events (job_id, at, from_state, to_state, attempt, worker, reason)
             SELECT id, $7, 'available', 'active', $8, $9, 'leased' FROM parked",
        )
        .await?;
    let (path, value) = wait.match_on.clone().unzip();
    tx.execute(
        &stmt,
        &[
            &p.id.0,
            &p.name.as_str(),
            &wait.event,
            &path,
            &value,
            &wait.timeout_at.0,
            &started_at.0,
            &int(attempt),
            &worker,
        ],
    )
    .await?;
    step_event(tx, p, JobState::Waiting, attempt, worker, "waiting").await
}

pub(super) async fn send_event(c: &mut Client, node: &str, p: &EventSendParams) -> Result<EventSent, StoreError> {
    let tx = c.transaction().await?;
    lock_event(&tx, &p.name).await?;
    if let Some(id) = &p.event_id {
        let seen = tx.prepare_cached("SELECT 1 FROM events WHERE name = $1 AND event_id = $2").await?;
        if tx.query_opt(&seen, &[&p.name, id]).await?.is_some() {
            return Ok(EventSent { duplicate: true, woken: Vec::new() });
        }
    }
    let keep_ms = i64::try_from(p.keep.as_millis()).unwrap_or(i64::MAX);
    let prune = tx.prepare_cached("DELETE FROM events WHERE name = $1 AND at < $2").await?;
    tx.execute(&prune, &[&p.name, &(p.now.0 - keep_ms)]).await?;
    let insert = tx.prepare_cached("INSERT INTO events (name, event_id, payload, at) VALUES ($1, $2, $3, $4)").await?;
    tx.execute(&insert, &[&p.name, &p.event_id, &p.payload, &p.now.0]).await?;
    let waits =
        tx.prepare_cached("SELECT job_id, step, match_path, match_value FROM job_waits WHERE event = $1").await?;
    let mut woken = Vec::new();
    for row in tx.query(&waits, &[&p.name]).await? {
        let (job, step): (i64, String) = (row.try_get(0)?, row.try_get(1)?);
        let (path, value): (Option<String>, Option<String>) = (row.try_get(2)?, row.try_get(3)?);
        if event_matches(&p.payload, path.as_deref().zip(value.as_deref()))
            && let Some(queue) = wake(&tx, JobId(job), &step, &p.payload, "event", p.now).await?
        {
            woken.push((JobId(job), queue));
        }
    }
    let mut queues: Vec<&str> = woken.iter().map(|(_, q)| q.as_str()).collect();
    queues.dedup();
    super::jobs::notify_ready(&tx, node, &queues).await?;
    tx.commit().await?;
    Ok(EventSent { duplicate: false, woken })
}

/// Ends the waits whose timeout passed (skipping rows another node holds):
/// each step's result is `null`, each job available. Answers each woken
/// job's queue.
pub(super) async fn expire_waits(
    tx: &Transaction<'_>,
    now: UnixMillis,
    limit: u32,
) -> Result<Vec<QueueName>, StoreError> {
    let stmt = tx
        .prepare_cached(
            "SELECT job_id, step FROM job_waits WHERE timeout_at <= $1 ORDER BY timeout_at LIMIT $2
             FOR UPDATE SKIP LOCKED",
        )
        .await?;
    let mut queues = Vec::new();
    for row in tx.query(&stmt, &[&now.0, &i64::from(limit)]).await? {
        let (job, step): (i64, String) = (row.try_get(0)?, row.try_get(1)?);
        queues.extend(wake(tx, JobId(job), &step, "null", "wait_timeout", now).await?);
    }
    Ok(queues)
}

/// Records a waiting job's step and makes the job available; `None` when the
/// job no longer waits (only its stale wait row is removed).
async fn wake(
    tx: &Transaction<'_>,
    job: JobId,
    step: &str,
    result: &str,
    reason: &str,
    now: UnixMillis,
) -> Result<Option<QueueName>, StoreError> {
    let unwait = tx.prepare_cached("DELETE FROM job_waits WHERE job_id = $1").await?;
    tx.execute(&unwait, &[&job.0]).await?;
    let held = tx
        .prepare_cached("SELECT queue, attempt, steps FROM jobs WHERE id = $1 AND state = 'waiting' FOR UPDATE")
        .await?;
    let Some(row) = tx.query_opt(&held, &[&job.0]).await? else { return Ok(None) };
    let (queue, attempt, steps): (QueueName, u32, Option<String>) =
        (queue_of(&row, 0)?, count(row.try_get(1)?), row.try_get(2)?);
    let text = crate::step::woken_steps(steps.as_deref(), step, result, attempt + 1, now)?;
    let stmt = tx
        .prepare_cached(
            "WITH woken AS (
                 UPDATE jobs SET state = 'available', run_at = $2, steps = $3 WHERE id = $1 RETURNING id
             )
             INSERT INTO job_events (job_id, at, from_state, to_state, attempt, reason, step)
             SELECT id, $2, 'waiting', 'available', $4, $5, $6 FROM woken",
        )
        .await?;
    tx.execute(&stmt, &[&job.0, &now.0, &text, &int(attempt), &reason, &step]).await?;
    Ok(Some(queue))
}
