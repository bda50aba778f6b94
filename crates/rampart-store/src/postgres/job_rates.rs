//! SQL of queue start rates on PostgreSQL: the lease under a rate, in
//! passes inside the queue's lock (see [`crate::rate`]), and the open
//! windows' status. The plain lease is in `jobs.rs`.

use deadpool_postgres::Transaction;
use rampart_core::queue::QueueRate;

use super::Client;
use super::jobs::{duration_ms, lease_rows};
use crate::error::StoreError;
use crate::job::*;
use crate::rate::{self, JobLeased, QueueRateParams, QueueRateStatus, RateWindows};

/// A rated pass's leases: `$5` holds the ids the pass kept, locked by its scan.
const LEASE_IDS_SQL: &str = "WITH leased AS (
        UPDATE jobs j SET state = 'active', attempt = j.attempt + 1,
            lease_token = replace(gen_random_uuid()::text, '-', ''),
            lease_expires_at = $3::bigint, lease_ms = $6::bigint, started_at = $2::bigint, worker = $4::text,
            timeout_at = j.timeout_ms + $2::bigint
        FROM unnest($5::bigint[]) AS picked(id) WHERE j.id = picked.id AND j.queue = $1::text
        RETURNING j.id, j.payload, j.attempt, j.max_attempts, j.lease_token, j.lease_expires_at, j.timeout_at,
                  j.created_at, j.run_at, j.priority, j.tenant, j.pending_children IS NOT NULL, j.steps
    ), relaxed AS (
        SELECT set_config('synchronous_commit', 'off', true)
    )
    SELECT leased.* FROM leased CROSS JOIN relaxed";

/// A lease under a start rate, in passes (see [`crate::rate`]), inside the
/// queue's lock.
pub(super) async fn lease_rated(
    tx: &Transaction<'_>,
    p: &JobLeaseParams,
    rate: &QueueRate,
    max: u32,
) -> Result<JobLeased, StoreError> {
    let (queue, key) = (p.queue.as_str(), rate::key_column(rate));
    let ended =
        tx.prepare_cached("DELETE FROM queue_rates WHERE queue = $1 AND rate_key = $2 AND window_start <= $3").await?;
    tx.execute(&ended, &[&queue, &key, &(p.now.0 - duration_ms(rate.rate.per))]).await?;
    let open = tx
        .prepare_cached("SELECT grp, window_start, started FROM queue_rates WHERE queue = $1 AND rate_key = $2")
        .await?;
    let open = tx
        .query(&open, &[&queue, &key])
        .await?
        .iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
        .collect::<Result<Vec<_>, StoreError>>()?;
    let mut windows = RateWindows::new(*rate, p.now, open);
    let scan = tx
        .prepare_cached(&format!(
            "SELECT id, {group} FROM jobs WHERE queue = $1 AND state = 'available'
               AND NOT EXISTS (SELECT 1 FROM queues WHERE name = $1 AND paused)
               AND NOT ({group} = ANY($2::text[]))
             ORDER BY priority DESC, run_at, id
             LIMIT $3
             FOR UPDATE SKIP LOCKED",
            group = rate::group_sql(rate)
        ))
        .await?;
    let mut left = rate::lease_cap(&windows, max);
    let mut jobs = Vec::new();
    while left > 0 {
        let want = i64::try_from(left).unwrap_or(i64::MAX);
        let rows = tx
            .query(&scan, &[&queue, &windows.full(), &want])
            .await?
            .iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect::<Result<Vec<(i64, String)>, StoreError>>()?;
        let (ids, more) = windows.keep(rows, left);
        left -= ids.len() as u64;
        if !ids.is_empty() {
            jobs.extend(lease_rows(tx, LEASE_IDS_SQL, p, &ids).await?);
        }
        if !more {
            break;
        }
    }
    let count = tx
        .prepare_cached(
            "INSERT INTO queue_rates (queue, rate_key, grp, window_start, started) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (queue, rate_key, grp) DO UPDATE SET started = queue_rates.started + excluded.started",
        )
        .await?;
    for (group, start, n) in windows.taken() {
        tx.execute(&count, &[&queue, &key, &group, &start.0, &n]).await?;
    }
    sort_leased(&mut jobs);
    Ok(JobLeased { jobs, rate_reopens_at: windows.reopens_at() })
}

pub(super) async fn rate_status(c: &mut Client, p: &QueueRateParams) -> Result<QueueRateStatus, StoreError> {
    let stmt = c
        .prepare_cached(
            "SELECT grp, window_start, started FROM queue_rates WHERE queue = $1 AND rate_key = $2 AND window_start > $3",
        )
        .await?;
    let since = p.now.0 - duration_ms(p.rate.rate.per);
    let open = c
        .query(&stmt, &[&p.queue.as_str(), &rate::key_column(&p.rate), &since])
        .await?
        .iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
        .collect::<Result<Vec<_>, StoreError>>()?;
    Ok(RateWindows::new(p.rate, p.now, open).status())
}
