//! SQL of parent/child flows on PostgreSQL (the rules are in
//! [`crate::flow`]). Every write runs inside the caller's transaction.
//!
//! Locks go up the tree only: a child's row is locked by the change that
//! ends it, then its parent's (`FOR UPDATE`), so children of one parent
//! ending on several nodes take turns on the parent's count. Cancelling a
//! parent's children skips rows another transaction holds (`SKIP LOCKED`):
//! such a child is being leased or ended, and its end then finds no waiting
//! parent. No lock is ever waited for downwards, so flows never deadlock.

use deadpool_postgres::{GenericClient, Transaction};
use rampart_core::id::JobId;
use rampart_core::job::{ChildDeadPolicy, JobState};
use rampart_core::time::UnixMillis;

use super::jobs::{count, duration_ms, queue_of, state_of};
use crate::error::StoreError;
use crate::flow::{self, ChildOutcome, FlowInserted, FlowJob};
use crate::job::JobInserted;

/// Inserts a flow's jobs; answers the queues that received available jobs.
pub(super) async fn insert(
    tx: &Transaction<'_>,
    jobs: &[FlowJob],
    now: UnixMillis,
) -> Result<(Vec<FlowInserted>, Vec<String>), StoreError> {
    let mut ready = Vec::new();
    let mut out = Vec::with_capacity(jobs.len());
    for f in jobs {
        out.push(insert_tree(tx, f, now, &mut ready).await?);
    }
    Ok((out, ready))
}

/// Inserts a job and its children, parents before children, without
/// recursion (an async function cannot call itself without boxing).
async fn insert_tree(
    tx: &Transaction<'_>,
    root: &FlowJob,
    now: UnixMillis,
    ready: &mut Vec<String>,
) -> Result<FlowInserted, StoreError> {
    // Each job is inserted with its parent's id; the answers are assembled
    // afterwards from their paths.
    let mut inserted: Vec<(Vec<usize>, JobInserted)> = Vec::new();
    let mut todo: Vec<(Vec<usize>, &FlowJob, Option<JobId>)> = vec![(Vec::new(), root, None)];
    while let Some((path, f, parent)) = todo.pop() {
        let job = insert_one(tx, f, parent, now).await?;
        if job.state == JobState::Available && !ready.iter().any(|q| q == f.job.queue.as_str()) {
            ready.push(f.job.queue.as_str().to_string());
        }
        if !job.duplicate {
            for (i, child) in f.children.as_deref().unwrap_or_default().iter().enumerate().rev() {
                let mut p = path.clone();
                p.push(i);
                todo.push((p, child, Some(job.id)));
            }
        }
        inserted.push((path, job));
    }
    inserted.sort_by(|a, b| a.0.cmp(&b.0));
    let mut iter = inserted.into_iter().peekable();
    assemble(&mut iter, 0).ok_or_else(|| StoreError::Internal("a flow's insert answered no root job".into()))
}

/// Builds the answer tree from `(path, job)` pairs sorted by path (depth
/// first): the next pair and, after it, every pair one level deeper under it.
fn assemble<I: Iterator<Item = (Vec<usize>, JobInserted)>>(
    iter: &mut std::iter::Peekable<I>,
    depth: usize,
) -> Option<FlowInserted> {
    let (_, job) = iter.next()?;
    let mut children = Vec::new();
    while iter.peek().is_some_and(|(p, _)| p.len() == depth + 1) {
        children.extend(assemble(iter, depth + 1));
    }
    Some(FlowInserted { job, children })
}

async fn insert_one(
    tx: &Transaction<'_>,
    f: &FlowJob,
    parent: Option<JobId>,
    now: UnixMillis,
) -> Result<JobInserted, StoreError> {
    let job = &f.job;
    let ensure = tx
        .prepare_cached("INSERT INTO queues (name, paused, created_at) VALUES ($1, false, $2) ON CONFLICT DO NOTHING")
        .await?;
    tx.execute(&ensure, &[&job.queue.as_str(), &now.0]).await?;
    let state = flow::initial_state(f, now);
    let pending = f.children.as_ref().map(|c| i32::try_from(c.len()).unwrap_or(i32::MAX));
    let policy = f.children.as_ref().map(|_| f.on_child_dead.as_str());
    let deadline = f.timeout.filter(|_| state == JobState::Waiting).map(|t| now.0.saturating_add(duration_ms(t)));
    let insert = tx
        .prepare_cached(
            "INSERT INTO jobs (queue, state, priority, run_at, created_at, max_attempts, timeout_ms, unique_key, payload,
                               tenant, parent_id, pending_children, on_child_dead, flow_timeout_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
             ON CONFLICT (queue, unique_key)
                 WHERE unique_key IS NOT NULL AND state NOT IN ('completed', 'dead', 'cancelled') DO NOTHING
             RETURNING id",
        )
        .await?;
    let row = tx
        .query_opt(
            &insert,
            &[
                &job.queue.as_str(),
                &state.as_str(),
                &job.priority,
                &job.run_at.0,
                &now.0,
                &i32::try_from(job.max_attempts).unwrap_or(i32::MAX),
                &job.timeout.map(duration_ms),
                &job.unique_key,
                &job.payload,
                &job.tenant,
                &parent.map(|p| p.0),
                &pending,
                &policy,
                &deadline,
            ],
        )
        .await?;
    if let Some(row) = row {
        return Ok(JobInserted { id: JobId(row.try_get(0)?), state, duplicate: false });
    }
    let twin = tx
        .prepare_cached(
            "SELECT id, state FROM jobs WHERE queue = $1 AND unique_key = $2
             AND unique_key IS NOT NULL AND state NOT IN ('completed', 'dead', 'cancelled')",
        )
        .await?;
    match tx.query_opt(&twin, &[&job.queue.as_str(), &job.unique_key]).await? {
        Some(r) => Ok(JobInserted { id: JobId(r.try_get(0)?), state: state_of(&r, 1)?, duplicate: true }),
        None => Err(StoreError::Conflict(
            "a live job with the same unique_key finished during the insert; enqueue again".into(),
        )),
    }
}

/// Tells the parent of a job that just ended (completed, dead or
/// cancelled); a parent that dies of it tells its own parent in turn.
/// Answers whether a parent became due (the promoter's to make available).
pub(super) async fn ended(
    tx: &Transaction<'_>,
    id: JobId,
    state: JobState,
    now: UnixMillis,
) -> Result<bool, StoreError> {
    let mut due = false;
    let mut todo = vec![(id, state)];
    while let Some((child, state)) = todo.pop() {
        let of = tx
            .prepare_cached("SELECT parent_id, queue, last_error FROM jobs WHERE id = $1 AND parent_id IS NOT NULL")
            .await?;
        let Some(row) = tx.query_opt(&of, &[&child.0]).await? else { continue };
        let (parent, queue, error) = (JobId(row.try_get(0)?), queue_of(&row, 1)?, row.try_get::<_, Option<String>>(2)?);
        let lock = tx
            .prepare_cached("SELECT on_child_dead, attempt FROM jobs WHERE id = $1 AND state = 'waiting' FOR UPDATE")
            .await?;
        let Some(row) = tx.query_opt(&lock, &[&parent.0]).await? else { continue };
        let policy: ChildDeadPolicy =
            row.try_get::<_, Option<String>>(0)?.and_then(|p| p.parse().ok()).unwrap_or_default();
        let attempt = count(row.try_get(1)?);
        if state == JobState::Completed || policy == ChildDeadPolicy::Ignore {
            let take = tx
                .prepare_cached(
                    "UPDATE jobs SET pending_children = pending_children - 1 WHERE id = $1 RETURNING pending_children",
                )
                .await?;
            let left: i32 = tx.query_one(&take, &[&parent.0]).await?.try_get(0)?;
            if left <= 0 {
                let make_due = tx
                    .prepare_cached(
                        "UPDATE jobs SET state = 'scheduled', run_at = GREATEST(run_at, $2), flow_timeout_at = NULL
                         WHERE id = $1",
                    )
                    .await?;
                tx.execute(&make_due, &[&parent.0, &now.0]).await?;
                event(tx, parent, now, JobState::Waiting, JobState::Scheduled, attempt, "children_done", None).await?;
                due = true;
            }
        } else {
            let error = flow::child_dead_error(child, queue.as_str(), state, error.as_deref());
            kill(tx, parent, attempt, "child_dead", &error, now).await?;
            todo.push((parent, JobState::Dead));
        }
    }
    Ok(due)
}

/// Makes a waiting parent (locked by the caller) dead with `error` and
/// cancels its children not yet started; its own parent is the caller's to tell.
async fn kill(
    tx: &Transaction<'_>,
    parent: JobId,
    attempt: u32,
    reason: &str,
    error: &str,
    now: UnixMillis,
) -> Result<(), StoreError> {
    let stmt = tx
        .prepare_cached(
            "UPDATE jobs SET state = 'dead', finished_at = $2, last_error = $3, flow_timeout_at = NULL WHERE id = $1",
        )
        .await?;
    tx.execute(&stmt, &[&parent.0, &now.0, &error]).await?;
    event(tx, parent, now, JobState::Waiting, JobState::Dead, attempt, reason, Some(error)).await?;
    cancel_children(tx, parent, now).await
}

/// Cancels the children of `root` not yet started, and theirs.
pub(super) async fn cancel_children(tx: &Transaction<'_>, root: JobId, now: UnixMillis) -> Result<(), StoreError> {
    let stmt = tx
        .prepare_cached(
            "WITH picked AS (
                 SELECT id, state FROM jobs WHERE parent_id = $1 AND state IN ('scheduled', 'available', 'waiting')
                 FOR UPDATE SKIP LOCKED
             ), cancelled AS (
                 UPDATE jobs j SET state = 'cancelled', finished_at = $2, lease_token = NULL, flow_timeout_at = NULL
                 FROM picked WHERE j.id = picked.id
                 RETURNING j.id, picked.state AS was, j.attempt
             ), logged AS (
                 INSERT INTO job_events (job_id, at, from_state, to_state, attempt, reason)
                 SELECT id, $2, was, 'cancelled', attempt, 'parent_ended' FROM cancelled
             )
             SELECT id FROM cancelled WHERE was = 'waiting'",
        )
        .await?;
    let mut parents = vec![root];
    while let Some(parent) = parents.pop() {
        for row in tx.query(&stmt, &[&parent.0, &now.0]).await? {
            parents.push(JobId(row.try_get(0)?));
        }
    }
    Ok(())
}

/// Kills up to `limit` waiting parents whose timeout passed.
pub(super) async fn sweep_timeouts(tx: &Transaction<'_>, now: UnixMillis, limit: u32) -> Result<u64, StoreError> {
    let stmt = tx
        .prepare_cached(
            "SELECT id, attempt, pending_children FROM jobs
             WHERE state = 'waiting' AND flow_timeout_at IS NOT NULL AND flow_timeout_at <= $1
             ORDER BY flow_timeout_at LIMIT $2 FOR UPDATE SKIP LOCKED",
        )
        .await?;
    let rows = tx.query(&stmt, &[&now.0, &i64::from(limit)]).await?;
    for row in &rows {
        let (id, attempt) = (JobId(row.try_get(0)?), count(row.try_get(1)?));
        let pending: i32 = row.try_get(2)?;
        kill(tx, id, attempt, "flow_timeout", &flow::timeout_error(i64::from(pending)), now).await?;
        ended(tx, id, JobState::Dead, now).await?;
    }
    Ok(rows.len() as u64)
}

/// The children of a parent, in id order.
pub(super) async fn children(c: &impl GenericClient, parent: JobId) -> Result<Vec<ChildOutcome>, StoreError> {
    let stmt = c
        .prepare_cached(
            "SELECT id, queue, state, result, last_error FROM jobs WHERE parent_id = $1 ORDER BY id LIMIT $2",
        )
        .await?;
    let rows = c.query(&stmt, &[&parent.0, &i64::from(flow::MAX_CHILDREN_SHOWN)]).await?;
    rows.iter()
        .map(|r| {
            Ok(ChildOutcome {
                id: JobId(r.try_get(0)?),
                queue: queue_of(r, 1)?,
                state: state_of(r, 2)?,
                result: r.try_get(3)?,
                error: r.try_get(4)?,
            })
        })
        .collect()
}

/// A parent's children counted by state.
pub(super) async fn child_counts(c: &impl GenericClient, parent: JobId) -> Result<Vec<(JobState, u64)>, StoreError> {
    let stmt = c.prepare_cached("SELECT state, count(*) FROM jobs WHERE parent_id = $1 GROUP BY state").await?;
    let mut out = Vec::new();
    for r in c.query(&stmt, &[&parent.0]).await? {
        out.push((state_of(&r, 0)?, r.try_get::<_, i64>(1)?.max(0) as u64));
    }
    out.sort();
    Ok(out)
}

#[allow(clippy::too_many_arguments)] // one column each of the event row
async fn event(
    tx: &Transaction<'_>,
    job: JobId,
    at: UnixMillis,
    from: JobState,
    to: JobState,
    attempt: u32,
    reason: &str,
    error: Option<&str>,
) -> Result<(), StoreError> {
    let stmt = tx
        .prepare_cached(
            "INSERT INTO job_events (job_id, at, from_state, to_state, attempt, reason, error)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .await?;
    let attempt = i32::try_from(attempt).unwrap_or(i32::MAX);
    tx.execute(&stmt, &[&job.0, &at.0, &from.as_str(), &to.as_str(), &attempt, &reason, &error]).await?;
    Ok(())
}
