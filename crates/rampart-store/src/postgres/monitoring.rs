//! SQL of the stored queue totals and readiness's job figures on PostgreSQL.
//!
//! The totals of all queues are added in one statement (an `UNNEST` of the
//! deltas), once per monitoring interval and node. The figures read only
//! partial indexes of the hot path that already exist (`jobs_available`,
//! `jobs_lease_expiry`): monitoring adds no index a lease or an ack must
//! update.

use rampart_core::queue::QueueCounters;
use rampart_core::time::UnixMillis;

use super::Client;
use crate::error::StoreError;
use crate::monitoring::*;
use crate::node::{FORGET_AFTER, NodeList, NodeRecord, NodeReportParams};
use crate::row::Row as _;

const COLUMNS: &str = "queue, attempts, completed, failed, retries, dead, stalled, timeouts, run_ms, \
                       day, completed_today, dead_today, updated_at";

fn count(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

pub(super) async fn totals_add(c: &mut Client, p: &QueueTotalsAddParams) -> Result<(), StoreError> {
    if p.deltas.is_empty() {
        return Ok(());
    }
    let column = |f: fn(&QueueCounters) -> u64| p.deltas.iter().map(|d| count(f(&d.counts))).collect::<Vec<_>>();
    let queues: Vec<&str> = p.deltas.iter().map(|d| d.queue.as_str()).collect();
    let (attempts, completed, failed) = (column(|n| n.attempts), column(|n| n.completed), column(|n| n.failed));
    let (retries, dead, stalled) = (column(|n| n.retries), column(|n| n.dead), column(|n| n.stalled));
    let (timeouts, run_ms) = (column(|n| n.timeouts), column(|n| n.run_ms));
    let day = utc_day(p.now);
    // Every right-hand side reads the row as it was: `day` is compared
    // before it moves. A delta from a node whose clock is behind midnight
    // counts on the newer day rather than resetting it. Rows are taken in
    // name order, so two nodes adding at once never wait on each other in a
    // cycle.
    let stmt = c
        .prepare_cached(&format!(
            "INSERT INTO queue_totals AS t ({COLUMNS})
             SELECT q, na, nc, nf, nr, nd, ns, nt, nm, $10, nc, nd, $11
             FROM UNNEST($1::text[], $2::int8[], $3::int8[], $4::int8[], $5::int8[], $6::int8[], $7::int8[],
                         $8::int8[], $9::int8[]) AS u(q, na, nc, nf, nr, nd, ns, nt, nm)
             ORDER BY q COLLATE \"C\"
             ON CONFLICT (queue) DO UPDATE SET
                 attempts = t.attempts + excluded.attempts, completed = t.completed + excluded.completed,
                 failed = t.failed + excluded.failed, retries = t.retries + excluded.retries,
                 dead = t.dead + excluded.dead, stalled = t.stalled + excluded.stalled,
                 timeouts = t.timeouts + excluded.timeouts, run_ms = t.run_ms + excluded.run_ms,
                 completed_today = CASE WHEN t.day >= excluded.day THEN t.completed_today + excluded.completed_today
                                        ELSE excluded.completed_today END,
                 dead_today = CASE WHEN t.day >= excluded.day THEN t.dead_today + excluded.dead_today
                                   ELSE excluded.dead_today END,
                 day = GREATEST(t.day, excluded.day), updated_at = excluded.updated_at"
        ))
        .await?;
    c.execute(
        &stmt,
        &[&queues, &attempts, &completed, &failed, &retries, &dead, &stalled, &timeouts, &run_ms, &day, &p.now.0],
    )
    .await?;
    Ok(())
}

pub(super) async fn totals_list(c: &mut Client) -> Result<Vec<QueueTotalsRecord>, StoreError> {
    let stmt = c.prepare_cached(&format!("SELECT {COLUMNS} FROM queue_totals ORDER BY queue")).await?;
    c.query(&stmt, &[]).await?.iter().map(QueueTotalsRecord::from_row).collect()
}

pub(super) async fn job_health_counts(c: &mut Client, now: UnixMillis) -> Result<JobHealthCounts, StoreError> {
    // Each count repeats its partial index's condition, so it reads that index only.
    let stmt = c
        .prepare_cached(
            "SELECT (SELECT count(*) FROM jobs WHERE state = 'available'),
                    (SELECT count(*) FROM jobs WHERE state = 'active'),
                    (SELECT count(*) FROM jobs WHERE state = 'active' AND lease_expires_at <= $1),
                    (SELECT COALESCE(SUM(completed_today), 0)::int8 FROM queue_totals WHERE day = $2),
                    (SELECT COALESCE(SUM(dead_today), 0)::int8 FROM queue_totals WHERE day = $2)",
        )
        .await?;
    let r = c.query_one(&stmt, &[&now.0, &utc_day(now)]).await?;
    Ok(JobHealthCounts {
        available: r.counter(0)?,
        active: r.counter(1)?,
        stale_leases: r.counter(2)?,
        completed_today: r.counter(3)?,
        dead_today: r.counter(4)?,
    })
}

/// The database's clock in Unix milliseconds, read as the statement runs.
const DB_NOW: &str = "(extract(epoch FROM clock_timestamp()) * 1000)::int8";

pub(super) async fn node_report(c: &mut Client, p: &NodeReportParams) -> Result<(), StoreError> {
    let forget = i64::try_from(FORGET_AFTER.as_millis()).unwrap_or(i64::MAX);
    let upsert = c
        .prepare_cached(&format!(
            "INSERT INTO nodes (node, started_at, node_at, db_at) VALUES ($1, $2, $3, {DB_NOW})
             ON CONFLICT (node) DO UPDATE SET started_at = EXCLUDED.started_at, node_at = EXCLUDED.node_at,
                                              db_at = EXCLUDED.db_at"
        ))
        .await?;
    c.execute(&upsert, &[&p.node, &p.started_at.0, &p.now.0]).await?;
    let forget_stmt = c.prepare_cached(&format!("DELETE FROM nodes WHERE db_at < {DB_NOW} - $1")).await?;
    c.execute(&forget_stmt, &[&forget]).await?;
    Ok(())
}

pub(super) async fn node_list(c: &mut Client) -> Result<NodeList, StoreError> {
    let now = c.prepare_cached(&format!("SELECT {DB_NOW}")).await?;
    let db_now = UnixMillis(c.query_one(&now, &[]).await?.try_get(0)?);
    let stmt = c.prepare_cached("SELECT node, started_at, node_at, db_at FROM nodes ORDER BY node").await?;
    let nodes = c
        .query(&stmt, &[])
        .await?
        .iter()
        .map(|r| {
            Ok(NodeRecord {
                node: r.try_get(0)?,
                started_at: UnixMillis(r.try_get(1)?),
                node_at: UnixMillis(r.try_get(2)?),
                db_at: UnixMillis(r.try_get(3)?),
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    Ok(NodeList { db_now, nodes })
}
