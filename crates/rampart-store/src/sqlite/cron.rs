//! SQL of cron schedules, their runs and retention on SQLite.
//!
//! Writes run on the writer thread inside their savepoint, so firing (the
//! compare-and-set of `next_run_at`, the job and the run) commits whole or
//! not at all. Jobs are inserted by the job SQL itself, with its unique-key
//! rules.

use rampart_core::id::{CronName, QueueName};
use rampart_core::job::JobState;
use rampart_core::time::UnixMillis;
use rusqlite::{Connection, OptionalExtension, params};

use super::jobs;
use crate::cron::*;
use crate::error::StoreError;
use crate::job::JobInsertParams;

const SCHEDULE_COLUMNS: &str = "name, schedule, timezone, queue, payload, description, misfire, source, paused, \
     next_run_at, created_at, updated_at, tenant, max_attempts";

const RUN_COLUMNS: &str =
    "id, name, scheduled_at, enqueued_at, job_id, trigger, status, started_at, finished_at, attempts, error, result";

/// The condition of `cron_runs_unsettled`, repeated word for word.
const UNSETTLED: &str = "job_id > 0 AND status <> 'completed' AND status <> 'dead' AND status <> 'cancelled'";

pub(super) fn put(c: &Connection, s: &CronSchedulePut, now: UnixMillis) -> Result<CronScheduleRecord, StoreError> {
    // An unchanged expression and zone keep the stored next tick, so a
    // restart neither skips nor repeats one; the pause always stays.
    let record = c
        .prepare_cached(&format!(
            "INSERT INTO cron_schedules ({SCHEDULE_COLUMNS})
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 0, ?9, ?10, ?10, ?11, ?12)
             ON CONFLICT (name) DO UPDATE SET
                 next_run_at = CASE WHEN schedule = excluded.schedule AND timezone = excluded.timezone
                                    THEN next_run_at ELSE excluded.next_run_at END,
                 schedule = excluded.schedule, timezone = excluded.timezone, queue = excluded.queue,
                 payload = excluded.payload, description = excluded.description, misfire = excluded.misfire,
                 source = excluded.source, updated_at = excluded.updated_at,
                 tenant = excluded.tenant, max_attempts = excluded.max_attempts
             RETURNING {SCHEDULE_COLUMNS}"
        ))?
        .query_row(
            params![
                s.name.as_str(),
                s.schedule,
                s.timezone,
                s.queue.as_str(),
                s.payload,
                s.description,
                s.misfire.as_str(),
                s.source.as_str(),
                s.next_run_at.map(|t| t.0),
                now.0,
                s.tenant,
                s.max_attempts,
            ],
            |r| CronScheduleRecord::from_row(r),
        )?;
    Ok(record)
}

pub(super) fn sync(c: &Connection, p: &CronSyncParams) -> Result<(), StoreError> {
    for s in &p.schedules {
        put(c, s, p.now)?;
    }
    let keep: Vec<&str> = p.schedules.iter().map(|s| s.name.as_str()).collect();
    let keep = serde_json::to_string(&keep).map_err(|e| StoreError::Internal(e.to_string()))?;
    c.prepare_cached("DELETE FROM cron_schedules WHERE source = ?1 AND name NOT IN (SELECT value FROM json_each(?2))")?
        .execute(params![p.source.as_str(), keep])?;
    Ok(())
}

pub(super) fn get(c: &Connection, name: &CronName) -> Result<Option<CronScheduleRecord>, StoreError> {
    Ok(c.prepare_cached(&format!("SELECT {SCHEDULE_COLUMNS} FROM cron_schedules WHERE name = ?1"))?
        .query_row([name.as_str()], |r| CronScheduleRecord::from_row(r))
        .optional()?)
}

pub(super) fn list(c: &Connection) -> Result<Vec<CronScheduleRecord>, StoreError> {
    Ok(c.prepare_cached(&format!("SELECT {SCHEDULE_COLUMNS} FROM cron_schedules ORDER BY name"))?
        .query_map([], |r| CronScheduleRecord::from_row(r))?
        .collect::<Result<Vec<_>, _>>()?)
}

pub(super) fn delete(c: &Connection, name: &CronName) -> Result<bool, StoreError> {
    Ok(c.prepare_cached("DELETE FROM cron_schedules WHERE name = ?1")?.execute([name.as_str()])? > 0)
}

pub(super) fn set_paused(c: &Connection, name: &CronName, paused: bool, now: UnixMillis) -> Result<bool, StoreError> {
    let n = c
        .prepare_cached("UPDATE cron_schedules SET paused = ?2, updated_at = ?3 WHERE name = ?1")?
        .execute(params![name.as_str(), paused, now.0])?;
    Ok(n > 0)
}

pub(super) fn fire(c: &Connection, p: &CronFireParams) -> Result<Option<CronFired>, StoreError> {
    let changed = match p.advance {
        Some(advance) => c
            .prepare_cached("UPDATE cron_schedules SET next_run_at = ?3 WHERE name = ?1 AND next_run_at = ?2")?
            .execute(params![p.name.as_str(), advance.expected.0, advance.next.map(|t| t.0)])?,
        None => c
            .prepare_cached("SELECT COUNT(*) FROM cron_schedules WHERE name = ?1")?
            .query_row([p.name.as_str()], |r| r.get::<_, usize>(0))?,
    };
    if changed == 0 {
        // Another node fired this tick, or the schedule is gone.
        return Ok(None);
    }
    let Some(run) = &p.run else { return Ok(Some(CronFired { run: None, job: None })) };
    let job = match &run.job {
        Some(job) => jobs::insert_many(c, &JobInsertParams { jobs: vec![job.clone()], now: p.now })?.pop(),
        None => None,
    };
    // Built-in work starts at once, in process.
    let (status, started_at) = match &job {
        Some(j) => (j.state, None),
        None => (JobState::Active, Some(p.now.0)),
    };
    let record = c
        .prepare_cached(&format!(
            "INSERT INTO cron_runs (name, scheduled_at, enqueued_at, job_id, trigger, status, started_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             RETURNING {RUN_COLUMNS}"
        ))?
        .query_row(
            params![
                p.name.as_str(),
                run.scheduled_at.0,
                p.now.0,
                job.as_ref().map(|j| j.id.0),
                run.trigger.as_str(),
                status.as_str(),
                started_at,
            ],
            |r| CronRunRecord::from_row(r),
        )?;
    Ok(Some(CronFired { run: Some(record), job }))
}

pub(super) fn run_list(c: &Connection, p: &CronRunListParams) -> Result<Vec<CronRunRecord>, StoreError> {
    Ok(c.prepare_cached(&format!(
        "SELECT {RUN_COLUMNS} FROM cron_runs WHERE name = ?1 AND id < ?2 ORDER BY id DESC LIMIT ?3"
    ))?
    .query_map(params![p.name.as_str(), p.before.unwrap_or(i64::MAX), p.limit], |r| CronRunRecord::from_row(r))?
    .collect::<Result<Vec<_>, _>>()?)
}

// One probe of `cron_runs_name` per schedule, however long the history.
pub(super) fn run_last(c: &Connection) -> Result<Vec<CronRunRecord>, StoreError> {
    Ok(c.prepare_cached(&format!(
        "SELECT {RUN_COLUMNS} FROM cron_runs WHERE id IN
             (SELECT (SELECT MAX(r.id) FROM cron_runs r WHERE r.name = s.name) FROM cron_schedules s)
         ORDER BY name"
    ))?
    .query_map([], |r| CronRunRecord::from_row(r))?
    .collect::<Result<Vec<_>, _>>()?)
}

pub(super) fn run_settle(c: &Connection) -> Result<u64, StoreError> {
    let n = c
        .prepare_cached(&format!(
            "UPDATE cron_runs SET status = j.state, started_at = j.started_at, finished_at = j.finished_at,
                 attempts = j.attempt, error = j.last_error, result = j.result
             FROM jobs AS j
             WHERE cron_runs.id IN (SELECT id FROM cron_runs WHERE {UNSETTLED})
               AND j.id = cron_runs.job_id
               AND (cron_runs.status <> j.state OR cron_runs.attempts <> j.attempt
                    OR cron_runs.started_at IS NOT j.started_at)"
        ))?
        .execute([])?;
    Ok(n as u64)
}

pub(super) fn run_finish(c: &Connection, p: &CronRunFinishParams) -> Result<bool, StoreError> {
    let n = c
        .prepare_cached(
            "UPDATE cron_runs SET status = ?2, started_at = ?3, finished_at = ?4, attempts = 1, error = ?5, result = ?6
             WHERE id = ?1 AND job_id IS NULL",
        )?
        .execute(params![p.id, p.status.as_str(), p.started_at.0, p.now.0, p.error, p.result])?;
    Ok(n > 0)
}

pub(super) fn run_prune(c: &Connection, p: &CronRunPruneParams) -> Result<u64, StoreError> {
    let n = c
        .prepare_cached(
            "DELETE FROM cron_runs WHERE id IN
                 (SELECT id FROM cron_runs WHERE enqueued_at < ?1 ORDER BY enqueued_at LIMIT ?2)",
        )?
        .execute(params![p.older_than.0, p.limit])?;
    Ok(n as u64)
}

pub(super) fn job_prune(c: &Connection, p: &JobPruneParams) -> Result<u64, StoreError> {
    // The inner condition repeats `jobs_queue_state`'s, so the index serves it.
    let (filter, queues) = match &p.queues {
        QueueFilter::Only(q) => ("queue = ?4", q.as_str().to_string()),
        QueueFilter::Except(qs) => {
            let names: Vec<&str> = qs.iter().map(QueueName::as_str).collect();
            let names = serde_json::to_string(&names).map_err(|e| StoreError::Internal(e.to_string()))?;
            ("queue NOT IN (SELECT value FROM json_each(?4))", names)
        }
    };
    let ids = c
        .prepare_cached(&format!(
            "DELETE FROM jobs WHERE id IN (
                 SELECT id FROM jobs WHERE state = ?1 AND finished_at < ?2 AND {filter}
                     AND state <> 'available' AND state <> 'active' LIMIT ?3)
             RETURNING id"
        ))?
        .query_map(params![p.state.as_str(), p.older_than.0, p.limit, queues], |r| r.get::<_, i64>(0))?
        .collect::<Result<Vec<_>, _>>()?;
    let mut events = c.prepare_cached("DELETE FROM job_events WHERE job_id = ?1")?;
    for id in &ids {
        events.execute([id])?;
    }
    Ok(ids.len() as u64)
}
