//! SQL of queues on PostgreSQL: their job counts per state, the queues
//! known, pausing (resuming wakes other nodes' leases with `NOTIFY`) and
//! deleting a queue that holds only finished jobs.

use deadpool_postgres::GenericClient;
use rampart_core::id::QueueName;
use rampart_core::time::UnixMillis;

use super::Client;
use super::jobs::{notify_ready, queue_of, state_of};
use crate::error::StoreError;
use crate::queue::delete_sql::{DELETE_HISTORY, DELETE_JOBS, DELETE_REST, DELETE_ROW, KNOWN, UNFINISHED, with};
use crate::queue::{QueueCounts, QueueDeleted, QueueRecord};

pub(super) async fn queue_counts(c: &mut Client) -> Result<Vec<QueueCounts>, StoreError> {
    let stmt = c.prepare_cached("SELECT queue, state, count(*) FROM jobs GROUP BY queue, state ORDER BY queue").await?;
    let mut out: Vec<QueueCounts> = Vec::new();
    for r in c.query(&stmt, &[]).await? {
        let queue = queue_of(&r, 0)?;
        let state = state_of(&r, 1)?;
        let n: i64 = r.try_get(2)?;
        if out.last().map(|q| &q.queue) != Some(&queue) {
            out.push(QueueCounts::empty(queue));
        }
        if let Some(q) = out.last_mut() {
            q.set(state, n.max(0) as u64);
        }
    }
    Ok(out)
}

pub(super) async fn queue_list(c: &mut Client) -> Result<Vec<QueueRecord>, StoreError> {
    let stmt = c.prepare_cached("SELECT name, paused FROM queues ORDER BY name").await?;
    c.query(&stmt, &[])
        .await?
        .iter()
        .map(|r| Ok(QueueRecord { name: queue_of(r, 0)?, paused: r.try_get(1)? }))
        .collect()
}

pub(super) async fn queue_ensure(c: &mut Client, names: &[QueueName], now: UnixMillis) -> Result<(), StoreError> {
    let names: Vec<&str> = names.iter().map(QueueName::as_str).collect();
    let stmt = c
        .prepare_cached(
            "INSERT INTO queues (name, paused, created_at) SELECT name, false, $2 FROM unnest($1::text[]) AS name
             ON CONFLICT (name) DO NOTHING",
        )
        .await?;
    c.execute(&stmt, &[&names, &now.0]).await?;
    Ok(())
}

pub(super) async fn queue_set_paused(
    c: &mut Client,
    node: &str,
    name: &QueueName,
    paused: bool,
    now: UnixMillis,
) -> Result<(), StoreError> {
    let tx = c.transaction().await?;
    let stmt = tx
        .prepare_cached(
            "INSERT INTO queues (name, paused, created_at) VALUES ($1, $2, $3)
             ON CONFLICT (name) DO UPDATE SET paused = excluded.paused",
        )
        .await?;
    tx.execute(&stmt, &[&name.as_str(), &paused, &now.0]).await?;
    if !paused {
        notify_ready(&tx, node, &[name.as_str()]).await?;
    }
    tx.commit().await?;
    Ok(())
}

fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

/// Deletes the queue in one transaction. Its row goes first: an enqueue
/// that creates the row again waits for this transaction, then makes the
/// queue anew. The check for unfinished jobs is read after it, so a job
/// committed before the row was taken is seen and nothing is deleted.
pub(super) async fn queue_delete(c: &mut Client, name: &QueueName) -> Result<QueueDeleted, StoreError> {
    let name = name.as_str();
    let tx = c.transaction().await?;
    let row = tx.prepare_cached(&with(DELETE_ROW, "$1")).await?;
    let had_row = tx.execute(&row, &[&name]).await? > 0;
    let unfinished = tx.prepare_cached(&with(UNFINISHED, "$1")).await?;
    let r = tx.query_one(&unfinished, &[&name]).await?;
    let (scheduled, available, active) = (count(r.try_get(0)?), count(r.try_get(1)?), count(r.try_get(2)?));
    if scheduled + available + active > 0 {
        tx.rollback().await?;
        return Ok(QueueDeleted::NotEmpty { scheduled, available, active });
    }
    let known = tx.prepare_cached(&with(KNOWN, "$1")).await?;
    if !had_row && !tx.query_one(&known, &[&name]).await?.try_get::<_, bool>(0)? {
        tx.rollback().await?;
        return Ok(QueueDeleted::Unknown);
    }
    let history = tx.prepare_cached(&with(DELETE_HISTORY, "$1")).await?;
    tx.execute(&history, &[&name]).await?;
    let delete_jobs = tx.prepare_cached(&with(DELETE_JOBS, "$1")).await?;
    let jobs = tx.execute(&delete_jobs, &[&name]).await?;
    for sql in DELETE_REST {
        let stmt = tx.prepare_cached(&with(sql, "$1")).await?;
        tx.execute(&stmt, &[&name]).await?;
    }
    tx.commit().await?;
    Ok(QueueDeleted::Deleted { jobs })
}
