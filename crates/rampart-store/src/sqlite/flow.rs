//! SQL of parent/child flows on SQLite (the rules are in [`crate::flow`]).
//! Every function runs inside the caller's write transaction; the writer
//! thread runs one at a time, so a parent's count is never raced.

use rampart_core::id::JobId;
use rampart_core::job::{ChildDeadPolicy, JobState};
use rampart_core::time::UnixMillis;
use rusqlite::{Connection, OptionalExtension, params};

use super::jobs::{duration_ms, ensure_queue, queue_at, state_at};
use crate::error::StoreError;
use crate::flow::{self, ChildOutcome, FlowInserted, FlowJob, JobFlowInsertParams};
use crate::job::JobInserted;

pub(super) fn insert(c: &Connection, p: &JobFlowInsertParams) -> Result<Vec<FlowInserted>, StoreError> {
    p.jobs.iter().map(|f| insert_one(c, f, None, p.now)).collect()
}

fn insert_one(c: &Connection, f: &FlowJob, parent: Option<JobId>, now: UnixMillis) -> Result<FlowInserted, StoreError> {
    let job = &f.job;
    ensure_queue(c, &job.queue, now)?;
    if let Some(key) = &job.unique_key
        && let Some((id, state)) = c
            .prepare_cached(
                "SELECT id, state FROM jobs WHERE queue = ?1 AND unique_key = ?2
                 AND unique_key > '' AND state <> 'completed' AND state <> 'dead' AND state <> 'cancelled'",
            )?
            .query_row(params![job.queue.as_str(), key], |r| Ok((r.get::<_, i64>(0)?, state_at(r, 1)?)))
            .optional()?
    {
        return Ok(FlowInserted { job: JobInserted { id: JobId(id), state, duplicate: true }, children: Vec::new() });
    }
    let state = flow::initial_state(f, now);
    let pending = f.children.as_ref().map(|c| c.len() as i64);
    let policy = f.children.as_ref().map(|_| f.on_child_dead.as_str());
    let deadline = f.timeout.filter(|_| state == JobState::Waiting).map(|t| now.0.saturating_add(duration_ms(t)));
    c.prepare_cached(
        "INSERT INTO jobs (queue, state, priority, run_at, created_at, max_attempts, timeout_ms, unique_key, payload,
                           tenant, parent_id, pending_children, on_child_dead, flow_timeout_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
    )?
    .execute(params![
        job.queue.as_str(),
        state.as_str(),
        job.priority,
        job.run_at.0,
        now.0,
        job.max_attempts,
        job.timeout.map(duration_ms),
        job.unique_key,
        job.payload,
        job.tenant,
        parent.map(|p| p.0),
        pending,
        policy,
        deadline,
    ])?;
    let id = JobId(c.last_insert_rowid());
    let children = match &f.children {
        Some(children) => children.iter().map(|child| insert_one(c, child, Some(id), now)).collect::<Result<_, _>>()?,
        None => Vec::new(),
    };
    Ok(FlowInserted { job: JobInserted { id, state, duplicate: false }, children })
}

/// Tells the parents of jobs that just ended (completed, dead or
/// cancelled); a parent that dies of it tells its own parent in turn.
/// Answers whether a parent became due (the promoter's to make available).
pub(super) fn ended(c: &Connection, id: JobId, state: JobState, now: UnixMillis) -> Result<bool, StoreError> {
    let mut due = false;
    let mut todo = vec![(id, state)];
    while let Some((child, state)) = todo.pop() {
        let row = c
            .prepare_cached("SELECT parent_id, queue, last_error FROM jobs WHERE id = ?1 AND parent_id IS NOT NULL")?
            .query_row([child.0], |r| Ok((JobId(r.get(0)?), queue_at(r, 1)?, r.get::<_, Option<String>>(2)?)))
            .optional()?;
        let Some((parent, queue, error)) = row else { continue };
        let waiting = c
            .prepare_cached("SELECT on_child_dead, attempt FROM jobs WHERE id = ?1 AND state = 'waiting'")?
            .query_row([parent.0], |r| Ok((r.get::<_, Option<String>>(0)?, r.get::<_, u32>(1)?)))
            .optional()?;
        let Some((policy, attempt)) = waiting else { continue };
        let policy: ChildDeadPolicy = policy.and_then(|p| p.parse().ok()).unwrap_or_default();
        if state == JobState::Completed || policy == ChildDeadPolicy::Ignore {
            let left: i64 = c
                .prepare_cached(
                    "UPDATE jobs SET pending_children = pending_children - 1 WHERE id = ?1 RETURNING pending_children",
                )?
                .query_row([parent.0], |r| r.get(0))?;
            if left <= 0 {
                c.prepare_cached(
                    "UPDATE jobs SET state = 'scheduled', run_at = MAX(run_at, ?2), flow_timeout_at = NULL WHERE id = ?1",
                )?
                .execute(params![parent.0, now.0])?;
                event(c, parent, now, JobState::Waiting, JobState::Scheduled, attempt, "children_done", None)?;
                due = true;
            }
        } else {
            let error = flow::child_dead_error(child, queue.as_str(), state, error.as_deref());
            kill(c, parent, attempt, "child_dead", &error, now)?;
            todo.push((parent, JobState::Dead));
        }
    }
    Ok(due)
}

/// Makes a waiting parent dead with `error` and cancels its children not
/// yet started; its own parent is the caller's to tell.
fn kill(
    c: &Connection,
    parent: JobId,
    attempt: u32,
    reason: &str,
    error: &str,
    now: UnixMillis,
) -> Result<(), StoreError> {
    c.prepare_cached(
        "UPDATE jobs SET state = 'dead', finished_at = ?2, last_error = ?3, flow_timeout_at = NULL WHERE id = ?1",
    )?
    .execute(params![parent.0, now.0, error])?;
    event(c, parent, now, JobState::Waiting, JobState::Dead, attempt, reason, Some(error))?;
    cancel_children(c, parent, now)
}

/// Cancels the children of `root` not yet started, and theirs.
pub(super) fn cancel_children(c: &Connection, root: JobId, now: UnixMillis) -> Result<(), StoreError> {
    let mut parents = vec![root];
    while let Some(parent) = parents.pop() {
        let rows = c
            .prepare_cached(
                "SELECT id, state, attempt FROM jobs WHERE parent_id = ?1
                 AND state IN ('scheduled', 'available', 'waiting')",
            )?
            .query_map([parent.0], |r| Ok((JobId(r.get(0)?), state_at(r, 1)?, r.get::<_, u32>(2)?)))?
            .collect::<Result<Vec<_>, _>>()?;
        for (id, state, attempt) in rows {
            c.prepare_cached(
                "UPDATE jobs SET state = 'cancelled', finished_at = ?2, lease_token = NULL, flow_timeout_at = NULL
                 WHERE id = ?1",
            )?
            .execute(params![id.0, now.0])?;
            event(c, id, now, state, JobState::Cancelled, attempt, "parent_ended", None)?;
            if state == JobState::Waiting {
                parents.push(id);
            }
        }
    }
    Ok(())
}

/// Kills up to `limit` waiting parents whose timeout passed.
pub(super) fn sweep_timeouts(c: &Connection, now: UnixMillis, limit: u32) -> Result<u64, StoreError> {
    let due = c
        .prepare_cached(
            "SELECT id, attempt, pending_children FROM jobs
             WHERE state = 'waiting' AND flow_timeout_at IS NOT NULL AND flow_timeout_at <= ?1
             ORDER BY flow_timeout_at LIMIT ?2",
        )?
        .query_map(params![now.0, limit], |r| Ok((JobId(r.get(0)?), r.get::<_, u32>(1)?, r.get::<_, i64>(2)?)))?
        .collect::<Result<Vec<_>, _>>()?;
    for &(id, attempt, pending) in &due {
        kill(c, id, attempt, "flow_timeout", &flow::timeout_error(pending), now)?;
        ended(c, id, JobState::Dead, now)?;
    }
    Ok(due.len() as u64)
}

/// The children of a parent, in id order.
pub(super) fn children(c: &Connection, parent: JobId) -> Result<Vec<ChildOutcome>, StoreError> {
    Ok(c.prepare_cached(
        "SELECT id, queue, state, result, last_error FROM jobs WHERE parent_id = ?1 ORDER BY id LIMIT ?2",
    )?
    .query_map(params![parent.0, flow::MAX_CHILDREN_SHOWN], |r| {
        Ok(ChildOutcome {
            id: JobId(r.get(0)?),
            queue: queue_at(r, 1)?,
            state: state_at(r, 2)?,
            result: r.get(3)?,
            error: r.get(4)?,
        })
    })?
    .collect::<Result<Vec<_>, _>>()?)
}

/// A parent's children counted by state.
pub(super) fn child_counts(c: &Connection, parent: JobId) -> Result<Vec<(JobState, u64)>, StoreError> {
    let mut rows = c
        .prepare_cached("SELECT state, COUNT(*) FROM jobs WHERE parent_id = ?1 GROUP BY state")?
        .query_map([parent.0], |r| Ok((state_at(r, 0)?, r.get::<_, i64>(1)?.max(0) as u64)))?
        .collect::<Result<Vec<_>, _>>()?;
    rows.sort();
    Ok(rows)
}

#[allow(clippy::too_many_arguments)] // one column each of the event row
fn event(
    c: &Connection,
    job: JobId,
    at: UnixMillis,
    from: JobState,
    to: JobState,
    attempt: u32,
    reason: &str,
    error: Option<&str>,
) -> Result<(), StoreError> {
    c.prepare_cached(
        "INSERT INTO job_events (job_id, at, from_state, to_state, attempt, reason, error)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![job.0, at.0, from.as_str(), to.as_str(), attempt, reason, error])?;
    Ok(())
}
