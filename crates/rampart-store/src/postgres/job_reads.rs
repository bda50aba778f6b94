//! The reads of jobs on PostgreSQL: one job with its history, a page of a
//! queue's jobs, a live job by unique key, and dead jobs per tenant. The
//! lifecycle's writes are in `jobs.rs`.

use rampart_core::id::{JobId, QueueName};
use rampart_core::job::JobState;
use rampart_core::time::UnixMillis;

use super::Client;
use super::jobs::{RECORD_COLUMNS, count, parse_state, queue_of, state_of};
use crate::error::StoreError;
use crate::job::*;

pub(super) async fn find_live_by_key(
    c: &mut Client,
    queue: &QueueName,
    key: &str,
) -> Result<Option<JobId>, StoreError> {
    // The conditions of `jobs_unique_live`, so it is the index used.
    let stmt = c
        .prepare_cached(
            "SELECT id FROM jobs WHERE queue = $1 AND unique_key = $2
             AND unique_key IS NOT NULL AND state NOT IN ('completed', 'dead', 'cancelled')",
        )
        .await?;
    let row = c.query_opt(&stmt, &[&queue.as_str(), &key]).await?;
    Ok(row.map(|r| r.try_get::<_, i64>(0)).transpose()?.map(JobId))
}

pub(super) async fn get(c: &mut Client, id: JobId) -> Result<Option<JobRecord>, StoreError> {
    let stmt = c.prepare_cached(&format!("SELECT {RECORD_COLUMNS} FROM jobs WHERE id = $1")).await?;
    let Some(row) = c.query_opt(&stmt, &[&id.0]).await? else { return Ok(None) };
    let mut job = JobRecord::from_row(&row)?;
    if job.pending_children.is_some() {
        job.children = super::flow::child_counts(&*c, id).await?;
    }
    let stmt = c
        .prepare_cached(
            "SELECT at, from_state, to_state, attempt, worker, reason, error, payload, step FROM job_events
             WHERE job_id = $1 ORDER BY id",
        )
        .await?;
    let mut events = Vec::new();
    for r in c.query(&stmt, &[&id.0]).await? {
        events.push(JobEvent {
            at: UnixMillis(r.try_get(0)?),
            from: r.try_get::<_, Option<String>>(1)?.map(|s| parse_state(&s)).transpose()?,
            to: state_of(&r, 2)?,
            attempt: count(r.try_get(3)?),
            worker: r.try_get(4)?,
            reason: r.try_get(5)?,
            error: r.try_get(6)?,
            payload: r.try_get(7)?,
            step: r.try_get(8)?,
        });
    }
    job.set_history(events);
    Ok(Some(job))
}

pub(super) async fn list(c: &mut Client, p: &JobListParams) -> Result<Vec<JobRecord>, StoreError> {
    let after = p.after.map_or(0, |j| j.0);
    let limit = i64::from(p.limit);
    let rows = match (&p.tenant, p.state) {
        (Some(tenant), state) => {
            // One walk of `jobs_tenant`, whatever the state.
            let stmt = c
                .prepare_cached(&format!(
                    "SELECT {RECORD_COLUMNS} FROM jobs WHERE queue = $1 AND tenant = $2
                     AND ($3::text IS NULL OR state = $3) AND id > $4 ORDER BY id LIMIT $5"
                ))
                .await?;
            let state = state.map(JobState::as_str);
            c.query(&stmt, &[&p.queue.as_str(), tenant, &state, &after, &limit]).await?
        }
        (None, Some(state)) => {
            let stmt = c
                .prepare_cached(&format!(
                    "SELECT {RECORD_COLUMNS} FROM jobs WHERE queue = $1 AND state = $2 AND id > $3
                     ORDER BY id LIMIT $4"
                ))
                .await?;
            c.query(&stmt, &[&p.queue.as_str(), &state.as_str(), &after, &limit]).await?
        }
        (None, None) => {
            let stmt = c
                .prepare_cached(&format!(
                    "SELECT {RECORD_COLUMNS} FROM jobs WHERE queue = $1 AND id > $2 ORDER BY id LIMIT $3"
                ))
                .await?;
            c.query(&stmt, &[&p.queue.as_str(), &after, &limit]).await?
        }
    };
    rows.iter().map(JobRecord::from_row).collect()
}

pub(super) async fn dead_tenants(c: &mut Client, per_queue: u32) -> Result<Vec<DeadTenant>, StoreError> {
    // Dead jobs through the partial indexes on dead jobs; live jobs are never read.
    let stmt = c
        .prepare_cached(
            "SELECT queue, tenant, count(*) AS n FROM jobs
             WHERE state = 'dead' AND tenant IS NOT NULL
             GROUP BY queue, tenant ORDER BY queue, n DESC, tenant",
        )
        .await?;
    let mut rows = Vec::new();
    for r in c.query(&stmt, &[]).await? {
        rows.push(DeadTenant {
            queue: queue_of(&r, 0)?,
            tenant: r.try_get(1)?,
            dead: r.try_get::<_, i64>(2)?.max(0) as u64,
        });
    }
    Ok(top_per_queue(rows, per_queue))
}
