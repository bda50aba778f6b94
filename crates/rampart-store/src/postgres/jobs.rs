//! SQL of the job lifecycle on PostgreSQL.
//!
//! Claims take rows with `FOR UPDATE SKIP LOCKED`, so nodes never wait on
//! each other's rows and never take the same one; hot-path calls are one
//! statement each (data-modifying CTEs write the history in the same
//! statement); batches travel as arrays through `unnest`. A commit that makes
//! jobs available sends `NOTIFY` (delivered at commit) so other nodes' waiting
//! leases wake.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::LazyLock;
use std::time::Duration;

use deadpool_postgres::{GenericClient, Transaction};
use rampart_core::id::{JobId, QueueName};
use rampart_core::job::{FailureKind, JobState};
use rampart_core::retry::{FailureOutcome, RetryPlanner, retry_not_before};
use rampart_core::time::UnixMillis;
use tokio_postgres::Row;

use super::Client;
use super::flow;
use super::job_rates;
use super::listener::CHANNEL;
use crate::error::StoreError;
use crate::job::*;
use crate::rate::JobLeased;

pub(super) const RECORD_COLUMNS: &str = "id, queue, state, payload, priority, attempt, max_attempts, timeout_ms, unique_key, \
     created_at, run_at, started_at, finished_at, lease_expires_at, timeout_at, worker, last_error, result, tenant, stalls, progress, \
     heartbeat_at, parent_id, pending_children, on_child_dead, flow_timeout_at, steps";

/// The condition of `jobs_unique_live`, repeated so the planner infers it.
const LIVE: &str = "unique_key IS NOT NULL AND state NOT IN ('completed', 'dead', 'cancelled')";

/// Rounds of insert-then-look-up before giving up on a unique key whose
/// live holder keeps finishing between the two (practically never twice).
const UNIQUE_ROUNDS: usize = 3;

/// Queues the insert made jobs available in, told to the other nodes at commit.
pub(super) async fn notify_ready(tx: &Transaction<'_>, node: &str, queues: &[&str]) -> Result<(), StoreError> {
    if queues.is_empty() {
        return Ok(());
    }
    let stmt =
        tx.prepare_cached("SELECT pg_notify($1::text, $2::text || ':' || q) FROM unnest($3::text[]) AS q").await?;
    tx.query(&stmt, &[&CHANNEL, &node, &queues]).await?;
    Ok(())
}

/// The insert statement: ids, queues, jobs and the notification in one
/// round trip. `input` fixes each job's id up front, so answers map to jobs
/// by position whatever order rows are written in. `{ON_CONFLICT}` is empty
/// for batches without unique keys: the clause makes every row a
/// speculative insertion, which costs even when no key is set.
const INSERT_SQL: &str = "WITH input AS MATERIALIZED (
        SELECT nextval('jobs_id_seq') AS id, t.*
        FROM unnest($1::text[], $2::text[], $3::int[], $4::bigint[], $5::int[], $6::bigint[], $7::text[], $8::text[],
                    $12::text[])
             WITH ORDINALITY AS t(queue, state, priority, run_at, max_attempts, timeout_ms, unique_key, payload, tenant,
                                  ord)
    ), ensured AS (
        INSERT INTO queues (name, paused, created_at) SELECT DISTINCT queue, false, $9::bigint FROM input
        ON CONFLICT (name) DO NOTHING
    ), inserted AS (
        INSERT INTO jobs (id, queue, state, priority, run_at, created_at, max_attempts, timeout_ms, unique_key, payload,
                          tenant)
        SELECT id, queue, state, priority, run_at, $9::bigint, max_attempts, timeout_ms, unique_key, payload, tenant
        FROM input
        {ON_CONFLICT}
        RETURNING id, queue, state
    ), told AS (
        SELECT pg_notify($10::text, $11::text || ':' || ready.queue)
        FROM (SELECT DISTINCT queue FROM inserted WHERE state = 'available') AS ready
    )
    SELECT input.id, inserted.id IS NOT NULL, (SELECT count(*) FROM told)
    FROM input LEFT JOIN inserted USING (id)
    ORDER BY input.ord";

/// [`INSERT_SQL`] for batches without unique keys.
static INSERT_PLAIN: LazyLock<String> = LazyLock::new(|| INSERT_SQL.replace("{ON_CONFLICT}", ""));
/// [`INSERT_SQL`] for batches with unique keys: a row whose key a live job
/// holds is skipped.
static INSERT_KEYED: LazyLock<String> = LazyLock::new(|| {
    INSERT_SQL.replace("{ON_CONFLICT}", &format!("ON CONFLICT (queue, unique_key) WHERE {LIVE} DO NOTHING"))
});

pub(super) async fn insert_many(
    c: &mut Client,
    node: &str,
    p: &JobInsertParams,
) -> Result<Vec<JobInserted>, StoreError> {
    if p.jobs.is_empty() {
        return Ok(Vec::new());
    }
    let all: Vec<usize> = (0..p.jobs.len()).collect();
    let mut out: Vec<Option<JobInserted>> = vec![None; p.jobs.len()];
    if p.jobs.iter().all(|j| j.unique_key.is_none()) {
        // Nothing to look up afterwards: one statement is its own transaction.
        let missed = insert_round(&*c, node, p, &all, &mut out).await?;
        debug_assert!(missed.is_empty(), "jobs without a unique key are always inserted");
        return Ok(out.into_iter().flatten().collect());
    }
    // Duplicates are looked up in the same transaction, so the batch stays
    // all-or-nothing.
    let tx = c.transaction().await?;
    let mut pending = all;
    for _ in 0..UNIQUE_ROUNDS {
        pending = insert_round(&tx, node, p, &pending, &mut out).await?;
        if pending.is_empty() {
            break;
        }
    }
    if !pending.is_empty() {
        return Err(StoreError::Conflict(
            "a live job with the same unique_key kept finishing during the insert; enqueue again".into(),
        ));
    }
    tx.commit().await?;
    Ok(out.into_iter().flatten().collect())
}

/// Inserts the jobs at `pending`, resolving unique-key duplicates to their
/// live twin; answers the indexes whose twin finished meanwhile.
pub(super) async fn insert_round(
    c: &impl GenericClient,
    node: &str,
    p: &JobInsertParams,
    pending: &[usize],
    out: &mut [Option<JobInserted>],
) -> Result<Vec<usize>, StoreError> {
    let jobs: Vec<&NewJob> = pending.iter().map(|&i| &p.jobs[i]).collect();
    let states: Vec<JobState> =
        jobs.iter().map(|j| if j.run_at > p.now { JobState::Scheduled } else { JobState::Available }).collect();
    let keyed = jobs.iter().any(|j| j.unique_key.is_some());
    let insert = c.prepare_cached(if keyed { &INSERT_KEYED } else { &INSERT_PLAIN }).await?;
    let rows = c
        .query(
            &insert,
            &[
                &jobs.iter().map(|j| j.queue.as_str()).collect::<Vec<_>>(),
                &states.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
                &jobs.iter().map(|j| j.priority).collect::<Vec<_>>(),
                &jobs.iter().map(|j| j.run_at.0).collect::<Vec<_>>(),
                &jobs.iter().map(|j| int(j.max_attempts)).collect::<Vec<_>>(),
                &jobs.iter().map(|j| j.timeout.map(duration_ms)).collect::<Vec<_>>(),
                &jobs.iter().map(|j| j.unique_key.as_deref()).collect::<Vec<_>>(),
                &jobs.iter().map(|j| j.payload.as_str()).collect::<Vec<_>>(),
                &p.now.0,
                &CHANNEL,
                &node,
                &jobs.iter().map(|j| j.tenant.as_deref()).collect::<Vec<_>>(),
            ],
        )
        .await?;
    let find_live = c
        .prepare_cached(&format!("SELECT id, state FROM jobs WHERE queue = $1 AND unique_key = $2 AND {LIVE}"))
        .await?;
    let mut again = Vec::new();
    for ((row, &i), state) in rows.iter().zip(pending).zip(states) {
        let id = JobId(row.try_get(0)?);
        if row.try_get::<_, bool>(1)? {
            out[i] = Some(JobInserted { id, state, duplicate: false });
            continue;
        }
        let job = &p.jobs[i];
        match c.query_opt(&find_live, &[&job.queue.as_str(), &job.unique_key]).await? {
            Some(row) => {
                out[i] = Some(JobInserted { id: JobId(row.try_get(0)?), state: state_of(&row, 1)?, duplicate: true })
            }
            None => again.push(i),
        }
    }
    Ok(again)
}

/// The lease statement: claim and mark active in one statement. It stores
/// no event: the running attempt is in the row (see `JobRecord::set_history`).
///
/// Its commit does not wait for the WAL flush (`synchronous_commit` off for
/// this transaction only): a lease lost in a database crash puts the job
/// back to `available`, which at-least-once delivery already allows (the
/// worker's ack then answers `LEASE_LOST`), and any later synchronous commit,
/// such as that job's completion, flushes it. Enqueues and acks stay
/// synchronous: those must not be lost.
const LEASE_SQL: &str = "WITH picked AS (
        SELECT id FROM jobs
        WHERE queue = $1 AND state = 'available'
          AND NOT EXISTS (SELECT 1 FROM queues WHERE name = $1 AND paused)
        ORDER BY priority DESC, run_at, id
        LIMIT $5
        FOR UPDATE SKIP LOCKED
    ), leased AS (
        UPDATE jobs j SET state = 'active', attempt = j.attempt + 1,
            lease_token = replace(gen_random_uuid()::text, '-', ''),
            lease_expires_at = $3::bigint, lease_ms = $6::bigint, started_at = $2::bigint, worker = $4::text,
            timeout_at = j.timeout_ms + $2::bigint
        FROM picked WHERE j.id = picked.id
        RETURNING j.id, j.payload, j.attempt, j.max_attempts, j.lease_token, j.lease_expires_at, j.timeout_at,
                  j.created_at, j.run_at, j.priority, j.tenant, j.pending_children IS NOT NULL, j.steps
    ), relaxed AS (
        SELECT set_config('synchronous_commit', 'off', true)
    )
    SELECT leased.* FROM leased CROSS JOIN relaxed";

pub(super) async fn lease(c: &mut Client, p: &JobLeaseParams) -> Result<JobLeased, StoreError> {
    if p.max == 0 {
        return Ok(JobLeased::default());
    }
    if p.concurrency.is_none() && p.rate.is_none() {
        let jobs = lease_rows(&*c, LEASE_SQL, p, &i64::from(p.max)).await?;
        return Ok(JobLeased { jobs, rate_reopens_at: None });
    }
    // Counting and claiming must not interleave across nodes: one
    // transaction-scoped lock per queue makes them atomic, for the active
    // count and the rate's windows alike.
    let tx = c.transaction().await?;
    let lock = tx.prepare_cached("SELECT pg_advisory_xact_lock(hashtextextended($1, 7433))").await?;
    tx.execute(&lock, &[&p.queue.as_str()]).await?;
    let mut max = i64::from(p.max);
    if let Some(limit) = p.concurrency {
        let count = tx.prepare_cached("SELECT count(*) FROM jobs WHERE queue = $1 AND state = 'active'").await?;
        let active: i64 = tx.query_one(&count, &[&p.queue.as_str()]).await?.get(0);
        max = max.min(i64::from(limit) - active);
        if max <= 0 {
            return Ok(JobLeased::default());
        }
    }
    let leased = match &p.rate {
        None => JobLeased { jobs: lease_rows(&tx, LEASE_SQL, p, &max).await?, rate_reopens_at: None },
        Some(rate) => job_rates::lease_rated(&tx, p, rate, u32::try_from(max).unwrap_or(p.max)).await?,
    };
    tx.commit().await?;
    Ok(leased)
}

/// Runs a lease statement whose `$5` is `pick` (a count or ids),
/// answering the leased jobs in lease order.
pub(super) async fn lease_rows(
    c: &impl GenericClient,
    sql: &str,
    p: &JobLeaseParams,
    pick: &(dyn tokio_postgres::types::ToSql + Sync),
) -> Result<Vec<LeasedJob>, StoreError> {
    let stmt = c.prepare_cached(sql).await?;
    let expires = p.now.plus(p.lease);
    let rows =
        c.query(&stmt, &[&p.queue.as_str(), &p.now.0, &expires.0, &p.worker, pick, &duration_ms(p.lease)]).await?;
    leased_jobs(p, &rows)
}

fn leased_jobs(p: &JobLeaseParams, rows: &[Row]) -> Result<Vec<LeasedJob>, StoreError> {
    let mut jobs = rows
        .iter()
        .map(|r| {
            Ok(LeasedJob {
                id: JobId(r.try_get(0)?),
                queue: p.queue.clone(),
                payload: r.try_get(1)?,
                attempt: count(r.try_get(2)?),
                max_attempts: count(r.try_get(3)?),
                lease_token: r.try_get(4)?,
                lease_expires_at: UnixMillis(r.try_get(5)?),
                timeout_at: r.try_get::<_, Option<i64>>(6)?.map(UnixMillis),
                created_at: UnixMillis(r.try_get(7)?),
                run_at: UnixMillis(r.try_get(8)?),
                priority: r.try_get(9)?,
                tenant: r.try_get(10)?,
                // A parent's children are read after the lease (`Store::job_lease`).
                children: r.try_get::<_, bool>(11)?.then(Vec::new),
                steps: crate::step::parse(r.try_get::<_, Option<&str>>(12)?).map_err(StoreError::Internal)?,
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    sort_leased(&mut jobs);
    Ok(jobs)
}

pub(super) async fn heartbeat(c: &mut Client, p: &JobHeartbeatParams) -> Result<UnixMillis, StoreError> {
    let stmt = c
        .prepare_cached(
            "UPDATE jobs SET lease_expires_at = $4 + COALESCE($3::bigint, lease_ms),
                 progress = COALESCE($5::text, progress), heartbeat_at = $4
             WHERE id = $1 AND state = 'active' AND lease_token = $2 AND lease_expires_at > $4
               AND (timeout_at IS NULL OR timeout_at > $4)
             RETURNING lease_expires_at",
        )
        .await?;
    let row = c.query_opt(&stmt, &[&p.id.0, &p.lease_token, &p.lease.map(duration_ms), &p.now.0, &p.progress]).await?;
    match row {
        Some(r) => Ok(UnixMillis(r.try_get(0)?)),
        None => Err(StoreError::LeaseLost),
    }
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

/// Reads `id, queue, attempt, max_attempts, started_at, worker`.
fn held_from(r: &Row) -> Result<Held, StoreError> {
    Ok(Held {
        id: JobId(r.try_get(0)?),
        queue: queue_of(r, 1)?,
        attempt: count(r.try_get(2)?),
        max_attempts: count(r.try_get(3)?),
        started_at: UnixMillis(r.try_get::<_, Option<i64>>(4)?.unwrap_or_default()),
        worker: r.try_get(5)?,
    })
}

pub(super) async fn ack_many(
    c: &mut Client,
    p: &JobAckParams,
) -> Result<Vec<Result<JobAcked, StoreError>>, StoreError> {
    // A job acked twice in one batch: the first ack ends the attempt, the
    // others find the lease gone, as they would one after the other.
    let mut seen = HashSet::new();
    let first: Vec<bool> = p.acks.iter().map(|a| seen.insert(a.id)).collect();
    let completions: Vec<&JobAck> = p
        .acks
        .iter()
        .zip(&first)
        .filter(|(a, first)| **first && matches!(a.outcome, AckOutcome::Complete { .. }))
        .map(|(a, _)| a)
        .collect();
    let tx = c.transaction().await?;
    let mut done: HashMap<JobId, JobAcked> = HashMap::new();
    if !completions.is_empty() {
        let stmt = tx
            .prepare_cached(
                "WITH a AS (SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[]) AS a(id, token, result)),
                 done AS (
                     UPDATE jobs j SET state = 'completed', finished_at = $4, result = a.result,
                         lease_expires_at = NULL, timeout_at = NULL
                     FROM a
                     WHERE j.id = a.id AND j.state = 'active' AND j.lease_token = a.token
                       AND j.lease_expires_at > $4 AND (j.timeout_at IS NULL OR j.timeout_at > $4)
                     RETURNING j.id, j.queue, j.attempt, j.max_attempts, j.started_at, j.worker, j.parent_id
                 )
                 SELECT * FROM done",
            )
            .await?;
        let ids: Vec<i64> = completions.iter().map(|a| a.id.0).collect();
        let tokens: Vec<&str> = completions.iter().map(|a| a.lease_token.as_str()).collect();
        let results: Vec<Option<&str>> = completions
            .iter()
            .map(|a| match &a.outcome {
                AckOutcome::Complete { result } => result.as_deref(),
                AckOutcome::Fail { .. } => None,
            })
            .collect();
        for row in tx.query(&stmt, &[&ids, &tokens, &results, &p.now.0]).await? {
            let held = held_from(&row)?;
            let parent_due = row.try_get::<_, Option<i64>>(6)?.is_some()
                && flow::ended(&tx, held.id, JobState::Completed, p.now).await?;
            done.insert(
                held.id,
                JobAcked {
                    id: held.id,
                    queue: held.queue,
                    state: JobState::Completed,
                    attempt: held.attempt,
                    run_time: p.now.since(held.started_at),
                    retry_at: None,
                    already: false,
                    parent_due,
                },
            );
        }
    }
    let mut out = Vec::with_capacity(p.acks.len());
    for (ack, first) in p.acks.iter().zip(first) {
        let acked = match (&ack.outcome, first) {
            (_, false) => Err(StoreError::LeaseLost),
            (AckOutcome::Complete { .. }, true) => done.remove(&ack.id).ok_or(StoreError::LeaseLost),
            (AckOutcome::Fail { error, retryable, retry_at }, true) => {
                fail(&tx, ack, Failure::error(error, *retryable, *retry_at), p).await?
            }
        };
        out.push(acked);
    }
    repeated(&tx, &p.acks, &mut out).await?;
    tx.commit().await?;
    Ok(out)
}

/// Answers the acks that found no lease: a repeat of the ack that ended its
/// attempt (the worker's own complete or fail left its token in the row)
/// answers the job's state again, in one query for the batch; anything else
/// lost its lease.
async fn repeated(
    tx: &Transaction<'_>,
    acks: &[JobAck],
    out: &mut [Result<JobAcked, StoreError>],
) -> Result<(), StoreError> {
    let lost: Vec<usize> = (0..out.len()).filter(|&i| matches!(out[i], Err(StoreError::LeaseLost))).collect();
    if lost.is_empty() {
        return Ok(());
    }
    let ids: Vec<i64> = lost.iter().map(|&i| acks[i].id.0).collect();
    let tokens: Vec<&str> = lost.iter().map(|&i| acks[i].lease_token.as_str()).collect();
    let stmt = tx
        .prepare_cached(
            "SELECT j.id, j.lease_token, j.queue, j.state, j.attempt, j.run_at
             FROM jobs j JOIN unnest($1::bigint[], $2::text[]) AS a(id, token)
               ON j.id = a.id AND j.lease_token = a.token
             WHERE j.state <> 'active'",
        )
        .await?;
    let mut found = HashMap::new();
    for row in tx.query(&stmt, &[&ids, &tokens]).await? {
        let key: (i64, String) = (row.try_get(0)?, row.try_get(1)?);
        found
            .insert(key, (queue_of(&row, 2)?, state_of(&row, 3)?, count(row.try_get(4)?), UnixMillis(row.try_get(5)?)));
    }
    for i in lost {
        let ack = &acks[i];
        if let Some((queue, state, attempt, run_at)) = found.get(&(ack.id.0, ack.lease_token.clone())) {
            out[i] = repeated_ack(ack, queue.clone(), *state, *attempt, *run_at);
        }
    }
    Ok(())
}

async fn fail(
    tx: &Transaction<'_>,
    ack: &JobAck,
    failure: Failure<'_>,
    p: &JobAckParams,
) -> Result<Result<JobAcked, StoreError>, StoreError> {
    let stmt = tx
        .prepare_cached(
            "SELECT id, queue, attempt, max_attempts, started_at, worker FROM jobs
             WHERE id = $1 AND state = 'active' AND lease_token = $2 AND lease_expires_at > $3
               AND (timeout_at IS NULL OR timeout_at > $3)
             FOR UPDATE",
        )
        .await?;
    let Some(row) = tx.query_opt(&stmt, &[&ack.id.0, &ack.lease_token, &p.now.0]).await? else {
        return Ok(Err(StoreError::LeaseLost));
    };
    let held = held_from(&row)?;
    let (state, retry_at, parent_due) = end_attempt(tx, &held, failure, p.planner.as_ref(), p.now).await?;
    Ok(Ok(JobAcked {
        id: held.id,
        queue: held.queue,
        state,
        attempt: held.attempt,
        run_time: p.now.since(held.started_at),
        retry_at,
        already: false,
        parent_due,
    }))
}

/// Ends a failed attempt: schedules the retry or buries the job.
async fn end_attempt(
    tx: &Transaction<'_>,
    held: &Held,
    failure: Failure<'_>,
    planner: &dyn RetryPlanner,
    now: UnixMillis,
) -> Result<(JobState, Option<UnixMillis>, bool), StoreError> {
    let Failure { kind, error, retryable, not_before } = failure;
    let (state, retry_at, at) = match planner.plan(held.queue.as_str(), held.attempt, held.max_attempts, retryable, now)
    {
        FailureOutcome::Retry(at) => {
            let at = retry_not_before(at, not_before, now);
            (JobState::Scheduled, Some(at), at)
        }
        FailureOutcome::Dead => (JobState::Dead, None, now),
    };
    let stmt = tx
        .prepare_cached(
            "WITH ended AS (
                 UPDATE jobs SET state = $2,
                     run_at = CASE WHEN $2 = 'scheduled' THEN $3 ELSE run_at END,
                     finished_at = CASE WHEN $2 = 'dead' THEN $3 ELSE finished_at END,
                     last_error = $4, lease_token = CASE WHEN $10 THEN lease_token END,
                     lease_expires_at = NULL, timeout_at = NULL
                 WHERE id = $1
                 RETURNING id
             )
             INSERT INTO job_events (job_id, at, from_state, to_state, attempt, worker, reason, error)
             SELECT id, $9::bigint, 'available', 'active', $6::int, $7::text, 'leased', NULL FROM ended
             UNION ALL
             SELECT id, $5::bigint, 'active', $2::text, $6::int, $7::text, $8::text, $4::text FROM ended",
        )
        .await?;
    // The attempt's start leaves the row with the next attempt: it is stored
    // now, before the failure (the order of ids is the order of history).
    tx.execute(
        &stmt,
        &[
            &held.id.0,
            &state.as_str(),
            &at.0,
            &error,
            &now.0,
            &int(held.attempt),
            &held.worker,
            &kind.as_str(),
            &held.started_at.0,
            // A worker's own failure keeps its token in the row, so a repeat
            // of it is recognised; an attempt the reaper ended keeps none.
            &(kind == FailureKind::Error),
        ],
    )
    .await?;
    let parent_due = state == JobState::Dead && flow::ended(tx, held.id, JobState::Dead, now).await?;
    Ok((state, retry_at, parent_due))
}

pub(super) async fn release_many(
    c: &mut Client,
    node: &str,
    p: &JobReleaseParams,
) -> Result<Vec<Result<JobReleased, StoreError>>, StoreError> {
    let tx = c.transaction().await?;
    // An expired lease still held is given back too: nobody else has the job
    // until a reaper fails the attempt, which releasing spares.
    let stmt = tx
        .prepare_cached(
            "WITH released AS (
                 UPDATE jobs SET state = 'available', attempt = attempt - 1,
                     lease_token = NULL, lease_expires_at = NULL, timeout_at = NULL
                 WHERE id = $1 AND state = 'active' AND lease_token = $2
                 RETURNING id, queue, attempt + 1 AS attempt, started_at, worker
             ),
             events AS (
                 INSERT INTO job_events (job_id, at, from_state, to_state, attempt, worker, reason)
                 SELECT id, started_at, 'available', 'active', attempt, worker, 'leased' FROM released
                 UNION ALL
                 SELECT id, $3::bigint, 'active', 'available', attempt, worker, 'released' FROM released
             )
             SELECT queue FROM released",
        )
        .await?;
    let mut out = Vec::with_capacity(p.releases.len());
    let mut queues: Vec<String> = Vec::new();
    for r in &p.releases {
        match tx.query_opt(&stmt, &[&r.id.0, &r.lease_token, &p.now.0]).await? {
            Some(row) => {
                let queue = queue_of(&row, 0)?;
                if !queues.iter().any(|q| q == queue.as_str()) {
                    queues.push(queue.as_str().to_string());
                }
                out.push(Ok(JobReleased { id: r.id, queue }));
            }
            None => out.push(Err(StoreError::LeaseLost)),
        }
    }
    let names: Vec<&str> = queues.iter().map(String::as_str).collect();
    notify_ready(&tx, node, &names).await?;
    tx.commit().await?;
    Ok(out)
}

pub(super) async fn reap(c: &mut Client, node: &str, p: &JobReapParams) -> Result<Vec<JobReaped>, StoreError> {
    let tx = c.transaction().await?;
    let limit = i64::from(p.limit);
    // Timeouts first: a job past both its timeout and its lease timed out.
    let mut due: BTreeMap<JobId, (Held, FailureKind, Option<i64>, u32)> = BTreeMap::new();
    for (sql, kind) in [
        (
            "SELECT id, queue, attempt, max_attempts, started_at, worker, timeout_at - started_at, stalls FROM jobs
             WHERE state = 'active' AND timeout_at IS NOT NULL AND timeout_at <= $1
             ORDER BY timeout_at LIMIT $2 FOR UPDATE SKIP LOCKED",
            FailureKind::Timeout,
        ),
        (
            "SELECT id, queue, attempt, max_attempts, started_at, worker, NULL::bigint, stalls FROM jobs
             WHERE state = 'active' AND lease_expires_at <= $1
             ORDER BY lease_expires_at LIMIT $2 FOR UPDATE SKIP LOCKED",
            FailureKind::LeaseExpired,
        ),
    ] {
        let stmt = tx.prepare_cached(sql).await?;
        for row in tx.query(&stmt, &[&p.now.0, &limit]).await? {
            let held = held_from(&row)?;
            let timeout_ms: Option<i64> = row.try_get(6)?;
            let stalls = count(row.try_get(7)?);
            due.entry(held.id).or_insert((held, kind, timeout_ms, stalls));
        }
    }
    let mut out = Vec::with_capacity(due.len());
    let mut stalled: Vec<String> = Vec::new();
    for (held, kind, timeout_ms, stalls) in due.into_values().take(p.limit as usize) {
        let max_stalls = (p.max_stalls)(held.queue.as_str());
        let state = if kind == FailureKind::LeaseExpired && stalls < max_stalls {
            stall(&tx, &held, stalls + 1, max_stalls, p.now).await?;
            if !stalled.iter().any(|q| q == held.queue.as_str()) {
                stalled.push(held.queue.as_str().to_string());
            }
            JobState::Available
        } else {
            let error = reaped_error(kind, timeout_ms, held.worker.as_deref());
            let failure = Failure { kind, error: &error, retryable: true, not_before: None };
            end_attempt(&tx, &held, failure, p.planner.as_ref(), p.now).await?.0
        };
        out.push(JobReaped {
            id: held.id,
            queue: held.queue.clone(),
            kind,
            state,
            run_time: p.now.since(held.started_at),
        });
    }
    let names: Vec<&str> = stalled.iter().map(String::as_str).collect();
    notify_ready(&tx, node, &names).await?;
    tx.commit().await?;
    Ok(out)
}

/// Gives a job whose lease expired back to its queue without counting the
/// attempt (its `stall`th stall), first in line as before; the history keeps
/// the attempt's `leased` event and the `stalled` one.
async fn stall(
    tx: &Transaction<'_>,
    held: &Held,
    stall: u32,
    max_stalls: u32,
    now: UnixMillis,
) -> Result<(), StoreError> {
    let stmt = tx
        .prepare_cached(
            "WITH stalled AS (
                 UPDATE jobs SET state = 'available', attempt = attempt - 1, stalls = $2,
                     lease_token = NULL, lease_expires_at = NULL, timeout_at = NULL
                 WHERE id = $1
                 RETURNING id
             )
             INSERT INTO job_events (job_id, at, from_state, to_state, attempt, worker, reason, error)
             SELECT id, $3::bigint, 'available', 'active', $4::int, $5::text, 'leased', NULL FROM stalled
             UNION ALL
             SELECT id, $6::bigint, 'active', 'available', $4::int, $5::text, 'stalled', $7::text FROM stalled",
        )
        .await?;
    let error = stalled_error(stall, max_stalls, held.worker.as_deref());
    tx.execute(&stmt, &[&held.id.0, &int(stall), &held.started_at.0, &int(held.attempt), &held.worker, &now.0, &error])
        .await?;
    Ok(())
}

pub(super) async fn promote_due(
    c: &mut Client,
    node: &str,
    now: UnixMillis,
    limit: u32,
) -> Result<Vec<(QueueName, u64)>, StoreError> {
    let tx = c.transaction().await?;
    // Parents past their flow timeout first: a parent that dies of it may
    // make its own parent due (under `ignore`), promoted below.
    flow::sweep_timeouts(&tx, now, limit).await?;
    let stmt = tx
        .prepare_cached(
            "WITH due AS (
                 SELECT id FROM jobs WHERE state = 'scheduled' AND run_at <= $1
                 ORDER BY run_at LIMIT $2 FOR UPDATE SKIP LOCKED
             ), moved AS (
                 UPDATE jobs j SET state = 'available' FROM due WHERE j.id = due.id
                 RETURNING j.id, j.queue, j.attempt
             ), logged AS (
                 INSERT INTO job_events (job_id, at, from_state, to_state, attempt, reason)
                 SELECT id, $1, 'scheduled', 'available', attempt, 'due' FROM moved
             )
             SELECT queue, count(*) FROM moved GROUP BY queue ORDER BY queue",
        )
        .await?;
    let rows = tx.query(&stmt, &[&now.0, &i64::from(limit)]).await?;
    let mut moved = Vec::with_capacity(rows.len());
    for r in &rows {
        moved.push((queue_of(r, 0)?, r.try_get::<_, i64>(1)?.max(0) as u64));
    }
    // Waits whose timeout passed are due rows too: their steps get `null`.
    for queue in super::steps::expire_waits(&tx, now, limit).await? {
        match moved.iter_mut().find(|(q, _)| *q == queue) {
            Some((_, n)) => *n += 1,
            None => moved.push((queue, 1)),
        }
    }
    let queues: Vec<&str> = moved.iter().map(|(q, _)| q.as_str()).collect();
    notify_ready(&tx, node, &queues).await?;
    tx.commit().await?;
    Ok(moved)
}

pub(super) async fn next_due(c: &mut Client) -> Result<Option<UnixMillis>, StoreError> {
    let stmt = c
        .prepare_cached(
            "SELECT min(due) FROM (SELECT min(run_at) AS due FROM jobs WHERE state = 'scheduled'
                                   UNION ALL SELECT min(timeout_at) FROM job_waits) AS d",
        )
        .await?;
    Ok(c.query_one(&stmt, &[]).await?.try_get::<_, Option<i64>>(0)?.map(UnixMillis))
}

/// Locks a job's row; answers its state, queue and attempt.
async fn lock_job(tx: &Transaction<'_>, id: JobId) -> Result<(JobState, QueueName, u32), StoreError> {
    let stmt = tx.prepare_cached("SELECT state, queue, attempt FROM jobs WHERE id = $1 FOR UPDATE").await?;
    let row = tx.query_opt(&stmt, &[&id.0]).await?.ok_or(StoreError::NotFound)?;
    Ok((state_of(&row, 0)?, queue_of(&row, 1)?, count(row.try_get(2)?)))
}

/// Makes a dead or cancelled job available with a fresh set of attempts
/// (with a new payload when `payload` is given: the one it replaces is kept
/// in the `retried` event).
async fn revive(
    tx: &Transaction<'_>,
    id: JobId,
    from: JobState,
    attempt: u32,
    payload: Option<&str>,
    now: UnixMillis,
) -> Result<(), StoreError> {
    // The CTE's statements see the row as it was: `old.payload` is the one replaced.
    let stmt = tx
        .prepare_cached(
            "WITH old AS (
                 SELECT payload FROM jobs WHERE id = $1
             ),
             revived AS (
                 UPDATE jobs SET state = 'available', attempt = 0, stalls = 0, run_at = $2, finished_at = NULL,
                     result = NULL, lease_token = NULL, payload = COALESCE($5::text, payload)
                 WHERE id = $1 RETURNING id
             )
             INSERT INTO job_events (job_id, at, from_state, to_state, attempt, reason, payload)
             SELECT id, $2, $3, 'available', $4, 'retried', CASE WHEN $5::text IS NOT NULL THEN old.payload END
             FROM revived, old",
        )
        .await?;
    tx.execute(&stmt, &[&id.0, &now.0, &from.as_str(), &int(attempt), &payload]).await.map_err(|e| {
        match StoreError::from(e) {
            StoreError::Conflict(_) => StoreError::Conflict(
                "another live job in this queue has the same unique_key; it must finish first".into(),
            ),
            other => other,
        }
    })?;
    // A child retried while its parent still waits (under `ignore`) is
    // pending again: its end was counted once already.
    let recount = tx
        .prepare_cached(
            "UPDATE jobs SET pending_children = pending_children + 1
             WHERE id = (SELECT parent_id FROM jobs WHERE id = $1) AND state = 'waiting'",
        )
        .await?;
    tx.execute(&recount, &[&id.0]).await?;
    Ok(())
}

pub(super) async fn retry(
    c: &mut Client,
    node: &str,
    id: JobId,
    payload: Option<&str>,
    now: UnixMillis,
) -> Result<JobRetried, StoreError> {
    let tx = c.transaction().await?;
    let (state, queue, attempt) = lock_job(&tx, id).await?;
    if !matches!(state, JobState::Dead | JobState::Cancelled) {
        return Err(StoreError::InvalidState(state));
    }
    revive(&tx, id, state, attempt, payload, now).await?;
    notify_ready(&tx, node, &[queue.as_str()]).await?;
    tx.commit().await?;
    Ok(JobRetried { queue })
}

pub(super) async fn cancel(c: &mut Client, id: JobId, now: UnixMillis) -> Result<(), StoreError> {
    let tx = c.transaction().await?;
    let (state, _, attempt) = lock_job(&tx, id).await?;
    match state {
        JobState::Cancelled => return Ok(()),
        JobState::Scheduled | JobState::Available => {}
        JobState::Waiting => {
            let unwait = tx.prepare_cached("DELETE FROM job_waits WHERE job_id = $1").await?;
            tx.execute(&unwait, &[&id.0]).await?;
        }
        other => return Err(StoreError::InvalidState(other)),
    }
    let stmt = tx
        .prepare_cached(
            "WITH cancelled AS (
                 UPDATE jobs SET state = 'cancelled', finished_at = $2, lease_token = NULL, flow_timeout_at = NULL
                 WHERE id = $1 RETURNING id
             )
             INSERT INTO job_events (job_id, at, from_state, to_state, attempt, reason)
             SELECT id, $2, $3, 'cancelled', $4, 'cancelled' FROM cancelled",
        )
        .await?;
    tx.execute(&stmt, &[&id.0, &now.0, &state.as_str(), &int(attempt)]).await?;
    if state == JobState::Waiting {
        flow::cancel_children(&tx, id, now).await?;
    }
    flow::ended(&tx, id, JobState::Cancelled, now).await?;
    tx.commit().await?;
    Ok(())
}

pub(super) async fn retry_dead(
    c: &mut Client,
    node: &str,
    p: &JobRetryDeadParams,
) -> Result<JobRetryDeadPage, StoreError> {
    let mut tx = c.transaction().await?;
    let limit = i64::from(p.limit);
    let rows = match &p.ids {
        Some(ids) => {
            let ids: Vec<i64> = ids.iter().take(p.limit as usize).map(|j| j.0).collect();
            let stmt = tx
                .prepare_cached(
                    "SELECT id, attempt FROM jobs WHERE id = ANY($1) AND queue = $2 AND state = 'dead'
                     ORDER BY id FOR UPDATE SKIP LOCKED",
                )
                .await?;
            tx.query(&stmt, &[&ids, &p.queue.as_str()]).await?
        }
        None => {
            let stmt = tx
                .prepare_cached(
                    "SELECT id, attempt FROM jobs WHERE queue = $1 AND state = 'dead' AND id > $2
                     ORDER BY id LIMIT $3 FOR UPDATE SKIP LOCKED",
                )
                .await?;
            tx.query(&stmt, &[&p.queue.as_str(), &p.after.map_or(0, |j| j.0), &limit]).await?
        }
    };
    let candidates: Vec<(i64, u32)> =
        rows.iter().map(|r| Ok((r.try_get(0)?, count(r.try_get(1)?)))).collect::<Result<_, StoreError>>()?;
    let mut moved = 0;
    for &(id, attempt) in &candidates {
        // A failed statement aborts a PostgreSQL transaction: each revival
        // gets a savepoint, so a job whose unique key a live twin holds
        // stays dead without undoing the others.
        let sp = tx.savepoint("revive").await?;
        match revive(&sp, JobId(id), JobState::Dead, attempt, None, p.now).await {
            Ok(()) => {
                sp.commit().await?;
                moved += 1;
            }
            Err(StoreError::Conflict(_)) => sp.rollback().await?,
            Err(e) => return Err(e),
        }
    }
    if moved > 0 {
        notify_ready(&tx, node, &[p.queue.as_str()]).await?;
    }
    tx.commit().await?;
    let next = match (&p.ids, candidates.last()) {
        (None, Some(&(last, _))) if candidates.len() == p.limit as usize => Some(JobId(last)),
        _ => None,
    };
    Ok(JobRetryDeadPage { moved, next })
}

pub(super) fn duration_ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// An attempt count as stored (INTEGER).
pub(super) fn int(n: u32) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// An attempt count as read back.
pub(super) fn count(n: i32) -> u32 {
    n.max(0) as u32
}

pub(super) fn state_of(r: &Row, i: usize) -> Result<JobState, StoreError> {
    parse_state(&r.try_get::<_, String>(i)?)
}

pub(super) fn parse_state(s: &str) -> Result<JobState, StoreError> {
    s.parse().map_err(|e| StoreError::Internal(format!("stored job state: {e}")))
}

pub(super) fn queue_of(r: &Row, i: usize) -> Result<QueueName, StoreError> {
    let s: String = r.try_get(i)?;
    QueueName::new(&s).map_err(|e| StoreError::Internal(format!("stored queue name: {e}")))
}
