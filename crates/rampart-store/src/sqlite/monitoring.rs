//! SQL of the stored queue totals and readiness's job figures on SQLite.
//!
//! The figures read only partial indexes of the hot path that already
//! exist (`jobs_available`, `jobs_lease_expiry`): monitoring adds no index
//! that a lease or an ack must update.

use rampart_core::time::UnixMillis;
use rusqlite::{Connection, params};

use crate::error::StoreError;
use crate::monitoring::*;
use crate::node::{FORGET_AFTER, NodeList, NodeRecord, NodeReportParams};

const COLUMNS: &str = "queue, attempts, completed, failed, retries, dead, stalled, timeouts, run_ms, \
                       day, completed_today, dead_today, updated_at";

fn count(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

pub(super) fn totals_add(c: &Connection, p: &QueueTotalsAddParams) -> Result<(), StoreError> {
    let day = utc_day(p.now);
    // Every right-hand side reads the row as it was: `day` is compared
    // before it moves. A delta from a node whose clock is behind midnight
    // counts on the newer day rather than resetting it.
    let mut stmt = c.prepare_cached(&format!(
        "INSERT INTO queue_totals ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?3, ?6, ?11)
         ON CONFLICT (queue) DO UPDATE SET
             attempts = attempts + excluded.attempts, completed = completed + excluded.completed,
             failed = failed + excluded.failed, retries = retries + excluded.retries, dead = dead + excluded.dead,
             stalled = stalled + excluded.stalled, timeouts = timeouts + excluded.timeouts,
             run_ms = run_ms + excluded.run_ms,
             completed_today = CASE WHEN day >= excluded.day THEN completed_today + excluded.completed_today
                                    ELSE excluded.completed_today END,
             dead_today = CASE WHEN day >= excluded.day THEN dead_today + excluded.dead_today
                               ELSE excluded.dead_today END,
             day = MAX(day, excluded.day), updated_at = excluded.updated_at"
    ))?;
    for d in &p.deltas {
        let n = &d.counts;
        stmt.execute(params![
            d.queue.as_str(),
            count(n.attempts),
            count(n.completed),
            count(n.failed),
            count(n.retries),
            count(n.dead),
            count(n.stalled),
            count(n.timeouts),
            count(n.run_ms),
            day,
            p.now.0
        ])?;
    }
    Ok(())
}

pub(super) fn totals_list(c: &Connection) -> Result<Vec<QueueTotalsRecord>, StoreError> {
    Ok(c.prepare_cached(&format!("SELECT {COLUMNS} FROM queue_totals ORDER BY queue"))?
        .query_map([], |r| QueueTotalsRecord::from_row(r))?
        .collect::<Result<Vec<_>, _>>()?)
}

pub(super) fn job_health_counts(c: &Connection, now: UnixMillis) -> Result<JobHealthCounts, StoreError> {
    // Each count spells its index's condition word for word.
    let available: i64 = c
        .prepare_cached("SELECT COUNT(*) FROM jobs INDEXED BY jobs_available WHERE state = 'available'")?
        .query_row([], |r| r.get(0))?;
    let (active, stale): (i64, i64) = c
        .prepare_cached(
            "SELECT COUNT(*), COALESCE(SUM(lease_expires_at <= ?1), 0)
             FROM jobs INDEXED BY jobs_lease_expiry WHERE state = 'active'",
        )?
        .query_row([now.0], |r| Ok((r.get(0)?, r.get(1)?)))?;
    let (completed_today, dead_today): (i64, i64) = c
        .prepare_cached(
            "SELECT COALESCE(SUM(completed_today), 0), COALESCE(SUM(dead_today), 0) FROM queue_totals WHERE day = ?1",
        )?
        .query_row([utc_day(now)], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(JobHealthCounts {
        available: available.max(0) as u64,
        active: active.max(0) as u64,
        stale_leases: stale.max(0) as u64,
        completed_today: completed_today.max(0) as u64,
        dead_today: dead_today.max(0) as u64,
    })
}

/// One node, one clock: the database's time is the node's.
pub(super) fn node_report(c: &Connection, p: &NodeReportParams) -> Result<(), StoreError> {
    let forget = i64::try_from(FORGET_AFTER.as_millis()).unwrap_or(i64::MAX);
    c.prepare_cached(
        "INSERT INTO nodes (node, started_at, node_at, db_at) VALUES (?1, ?2, ?3, ?3)
         ON CONFLICT (node) DO UPDATE SET started_at = excluded.started_at, node_at = excluded.node_at,
                                          db_at = excluded.db_at",
    )?
    .execute(params![p.node, p.started_at.0, p.now.0])?;
    c.prepare_cached("DELETE FROM nodes WHERE db_at < ?1")?.execute(params![p.now.0.saturating_sub(forget)])?;
    Ok(())
}

pub(super) fn node_list(c: &Connection, now: UnixMillis) -> Result<NodeList, StoreError> {
    let nodes = c
        .prepare_cached("SELECT node, started_at, node_at, db_at FROM nodes ORDER BY node")?
        .query_map([], |r| {
            Ok(NodeRecord {
                node: r.get(0)?,
                started_at: UnixMillis(r.get(1)?),
                node_at: UnixMillis(r.get(2)?),
                db_at: UnixMillis(r.get(3)?),
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(NodeList { db_now: now, nodes })
}
