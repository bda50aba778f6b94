//! SQL of cron schedules, their runs and retention on PostgreSQL.
//!
//! Firing is one transaction: the compare-and-set of `next_run_at` takes
//! the schedule's row lock, so a second node firing the same tick waits for
//! the first to commit, then finds `next_run_at` moved and changes nothing
//! (READ COMMITTED re-checks the condition on the new row version). The job
//! goes in through the job SQL itself (ids, unique keys, `NOTIFY`).
//! Settling and pruning claim rows `FOR UPDATE SKIP LOCKED`, so every node
//! may run them at once.

use rampart_core::id::{CronName, QueueName};
use rampart_core::job::JobState;
use rampart_core::time::UnixMillis;

use super::{Client, jobs};
use crate::cron::*;
use crate::error::StoreError;
use crate::job::{JobInsertParams, JobInserted};

const SCHEDULE_COLUMNS: &str = "name, schedule, timezone, queue, payload, description, misfire, source, paused, \
     next_run_at, created_at, updated_at, tenant, max_attempts";

const RUN_COLUMNS: &str =
    "id, name, scheduled_at, enqueued_at, job_id, trigger, status, started_at, finished_at, attempts, error, result";

/// The condition of `cron_runs_unsettled`, repeated so the planner infers it.
const UNSETTLED: &str = "r.job_id IS NOT NULL AND r.status NOT IN ('completed', 'dead', 'cancelled')";

const PUT_SQL: &str = "INSERT INTO cron_schedules (name, schedule, timezone, queue, payload, description, misfire, \
         source, paused, next_run_at, created_at, updated_at, tenant, max_attempts)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, false, $9, $10, $10, $11, $12)
     ON CONFLICT (name) DO UPDATE SET
         next_run_at = CASE WHEN cron_schedules.schedule = excluded.schedule
                             AND cron_schedules.timezone = excluded.timezone
                            THEN cron_schedules.next_run_at ELSE excluded.next_run_at END,
         schedule = excluded.schedule, timezone = excluded.timezone, queue = excluded.queue,
         payload = excluded.payload, description = excluded.description, misfire = excluded.misfire,
         source = excluded.source, updated_at = excluded.updated_at,
         tenant = excluded.tenant, max_attempts = excluded.max_attempts
     RETURNING ";

async fn put_on(
    c: &impl deadpool_postgres::GenericClient,
    s: &CronSchedulePut,
    now: UnixMillis,
) -> Result<CronScheduleRecord, StoreError> {
    // An unchanged expression and zone keep the stored next tick, so a
    // restart neither skips nor repeats one; the pause always stays.
    let stmt = c.prepare_cached(&format!("{PUT_SQL}{SCHEDULE_COLUMNS}")).await?;
    let row = c
        .query_one(
            &stmt,
            &[
                &s.name.as_str(),
                &s.schedule,
                &s.timezone,
                &s.queue.as_str(),
                &s.payload,
                &s.description,
                &s.misfire.as_str(),
                &s.source.as_str(),
                &s.next_run_at.map(|t| t.0),
                &now.0,
                &s.tenant,
                &s.max_attempts.map(|n| i32::try_from(n).unwrap_or(i32::MAX)),
            ],
        )
        .await?;
    CronScheduleRecord::from_row(&row)
}

pub(super) async fn put(c: &mut Client, p: &CronPutParams) -> Result<CronScheduleRecord, StoreError> {
    put_on(&*c, &p.schedule, p.now).await
}

pub(super) async fn sync(c: &mut Client, p: &CronSyncParams) -> Result<(), StoreError> {
    let tx = c.transaction().await?;
    for s in &p.schedules {
        put_on(&tx, s, p.now).await?;
    }
    let keep: Vec<&str> = p.schedules.iter().map(|s| s.name.as_str()).collect();
    let stmt = tx.prepare_cached("DELETE FROM cron_schedules WHERE source = $1 AND name <> ALL($2::text[])").await?;
    tx.execute(&stmt, &[&p.source.as_str(), &keep]).await?;
    tx.commit().await?;
    Ok(())
}

pub(super) async fn get(c: &mut Client, name: &CronName) -> Result<Option<CronScheduleRecord>, StoreError> {
    let stmt = c.prepare_cached(&format!("SELECT {SCHEDULE_COLUMNS} FROM cron_schedules WHERE name = $1")).await?;
    c.query_opt(&stmt, &[&name.as_str()]).await?.as_ref().map(CronScheduleRecord::from_row).transpose()
}

pub(super) async fn list(c: &mut Client) -> Result<Vec<CronScheduleRecord>, StoreError> {
    let stmt = c.prepare_cached(&format!("SELECT {SCHEDULE_COLUMNS} FROM cron_schedules ORDER BY name")).await?;
    c.query(&stmt, &[]).await?.iter().map(CronScheduleRecord::from_row).collect()
}

pub(super) async fn delete(c: &mut Client, name: &CronName) -> Result<bool, StoreError> {
    let stmt = c.prepare_cached("DELETE FROM cron_schedules WHERE name = $1").await?;
    Ok(c.execute(&stmt, &[&name.as_str()]).await? > 0)
}

pub(super) async fn set_paused(
    c: &mut Client,
    name: &CronName,
    paused: bool,
    now: UnixMillis,
) -> Result<bool, StoreError> {
    let stmt = c.prepare_cached("UPDATE cron_schedules SET paused = $2, updated_at = $3 WHERE name = $1").await?;
    Ok(c.execute(&stmt, &[&name.as_str(), &paused, &now.0]).await? > 0)
}

pub(super) async fn fire(c: &mut Client, node: &str, p: &CronFireParams) -> Result<Option<CronFired>, StoreError> {
    let tx = c.transaction().await?;
    let changed = match p.advance {
        Some(advance) => {
            let stmt = tx
                .prepare_cached("UPDATE cron_schedules SET next_run_at = $3 WHERE name = $1 AND next_run_at = $2")
                .await?;
            tx.execute(&stmt, &[&p.name.as_str(), &advance.expected.0, &advance.next.map(|t| t.0)]).await?
        }
        None => {
            let stmt = tx.prepare_cached("SELECT 1 FROM cron_schedules WHERE name = $1").await?;
            tx.query(&stmt, &[&p.name.as_str()]).await?.len() as u64
        }
    };
    if changed == 0 {
        // Another node fired this tick, or the schedule is gone.
        return Ok(None);
    }
    let Some(run) = &p.run else {
        tx.commit().await?;
        return Ok(Some(CronFired { run: None, job: None }));
    };
    let job = match &run.job {
        Some(job) => {
            let params = JobInsertParams { jobs: vec![job.clone()], now: p.now };
            let mut out: Vec<Option<JobInserted>> = vec![None];
            let missed = jobs::insert_round(&tx, node, &params, &[0], &mut out).await?;
            if !missed.is_empty() {
                return Err(StoreError::Conflict(
                    "a live job with the cron job's unique_key finished during the insert; the tick fires again".into(),
                ));
            }
            out.pop().flatten()
        }
        None => None,
    };
    // Built-in work starts at once, in process.
    let (status, started_at) = match &job {
        Some(j) => (j.state, None),
        None => (JobState::Active, Some(p.now.0)),
    };
    let stmt = tx
        .prepare_cached(&format!(
            "INSERT INTO cron_runs (name, scheduled_at, enqueued_at, job_id, trigger, status, started_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)
             RETURNING {RUN_COLUMNS}"
        ))
        .await?;
    let row = tx
        .query_one(
            &stmt,
            &[
                &p.name.as_str(),
                &run.scheduled_at.0,
                &p.now.0,
                &job.as_ref().map(|j| j.id.0),
                &run.trigger.as_str(),
                &status.as_str(),
                &started_at,
            ],
        )
        .await?;
    let record = CronRunRecord::from_row(&row)?;
    tx.commit().await?;
    Ok(Some(CronFired { run: Some(record), job }))
}

pub(super) async fn run_list(c: &mut Client, p: &CronRunListParams) -> Result<Vec<CronRunRecord>, StoreError> {
    let stmt = c
        .prepare_cached(&format!(
            "SELECT {RUN_COLUMNS} FROM cron_runs WHERE name = $1 AND id < $2 ORDER BY id DESC LIMIT $3"
        ))
        .await?;
    let rows = c.query(&stmt, &[&p.name.as_str(), &p.before.unwrap_or(i64::MAX), &i64::from(p.limit)]).await?;
    rows.iter().map(CronRunRecord::from_row).collect()
}

// One probe of `cron_runs_name` per schedule, however long the history.
pub(super) async fn run_last(c: &mut Client) -> Result<Vec<CronRunRecord>, StoreError> {
    let stmt = c
        .prepare_cached(&format!(
            "SELECT {RUN_COLUMNS} FROM cron_runs WHERE id IN
                 (SELECT (SELECT MAX(r.id) FROM cron_runs r WHERE r.name = s.name) FROM cron_schedules s)
             ORDER BY name"
        ))
        .await?;
    c.query(&stmt, &[]).await?.iter().map(CronRunRecord::from_row).collect()
}

pub(super) async fn run_settle(c: &mut Client) -> Result<u64, StoreError> {
    let stmt = c
        .prepare_cached(&format!(
            "WITH due AS (
                 SELECT r.id, j.state, j.started_at, j.finished_at, j.attempt, j.last_error, j.result
                 FROM cron_runs r JOIN jobs j ON j.id = r.job_id
                 WHERE {UNSETTLED}
                   AND (r.status <> j.state OR r.attempts <> j.attempt
                        OR r.started_at IS DISTINCT FROM j.started_at)
                 ORDER BY r.id
                 FOR UPDATE OF r SKIP LOCKED
             )
             UPDATE cron_runs SET status = due.state, started_at = due.started_at, finished_at = due.finished_at,
                 attempts = due.attempt, error = due.last_error, result = due.result
             FROM due WHERE cron_runs.id = due.id"
        ))
        .await?;
    Ok(c.execute(&stmt, &[]).await?)
}

pub(super) async fn run_finish(c: &mut Client, p: &CronRunFinishParams) -> Result<bool, StoreError> {
    let stmt = c
        .prepare_cached(
            "UPDATE cron_runs SET status = $2, started_at = $3, finished_at = $4, attempts = 1, error = $5, result = $6
             WHERE id = $1 AND job_id IS NULL",
        )
        .await?;
    let n = c.execute(&stmt, &[&p.id, &p.status.as_str(), &p.started_at.0, &p.now.0, &p.error, &p.result]).await?;
    Ok(n > 0)
}

pub(super) async fn run_prune(c: &mut Client, p: &CronRunPruneParams) -> Result<u64, StoreError> {
    let stmt = c
        .prepare_cached(
            "DELETE FROM cron_runs WHERE id IN (
                 SELECT id FROM cron_runs WHERE enqueued_at < $1 ORDER BY enqueued_at LIMIT $2
                 FOR UPDATE SKIP LOCKED)",
        )
        .await?;
    Ok(c.execute(&stmt, &[&p.older_than.0, &i64::from(p.limit)]).await?)
}

pub(super) async fn job_prune(c: &mut Client, p: &JobPruneParams) -> Result<u64, StoreError> {
    let (only, except): (Option<&str>, Vec<&str>) = match &p.queues {
        QueueFilter::Only(q) => (Some(q.as_str()), Vec::new()),
        QueueFilter::Except(qs) => (None, qs.iter().map(QueueName::as_str).collect()),
    };
    let stmt = c
        .prepare_cached(
            "WITH gone AS (
                 DELETE FROM jobs WHERE id IN (
                     SELECT id FROM jobs
                     WHERE state = $1 AND finished_at < $2 AND state NOT IN ('available', 'active')
                       AND ($3::text IS NULL OR queue = $3) AND queue <> ALL($4::text[])
                     LIMIT $5 FOR UPDATE SKIP LOCKED
                 ) RETURNING id
             ), history AS (
                 DELETE FROM job_events WHERE job_id IN (SELECT id FROM gone)
             )
             SELECT count(*) FROM gone",
        )
        .await?;
    let n: i64 = c
        .query_one(&stmt, &[&p.state.as_str(), &p.older_than.0, &only, &except, &i64::from(p.limit)])
        .await?
        .try_get(0)?;
    Ok(n.max(0) as u64)
}
