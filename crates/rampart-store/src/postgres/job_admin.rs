//! SQL of what an operator does to jobs on PostgreSQL, off the hot path:
//! the dashboard's searches (every filter, keyset pages), the token of the
//! lease holding a job (so an operator acts on it without the worker's
//! copy), the delete of finished jobs a bulk purge makes, and the purge of a
//! queue's dead letters.

use rampart_core::id::{JobId, QueueName};
use tokio_postgres::types::ToSql;

use super::Client;
use super::jobs::RECORD_COLUMNS;
use crate::error::StoreError;
use crate::job::*;

const DIALECT: SearchDialect = SearchDialect {
    placeholder: |n| format!("${n}"),
    has_key: "unique_key IS NOT NULL",
    has_tenant: "tenant IS NOT NULL",
    off_hot_path: "",
    contains: |p| format!("strpos(payload, {p}::text) > 0"),
};

fn values(args: &[SearchArg]) -> Vec<&(dyn ToSql + Sync)> {
    args.iter()
        .map(|a| match a {
            SearchArg::Text(s) => s as &(dyn ToSql + Sync),
            SearchArg::Int(i) => i as &(dyn ToSql + Sync),
        })
        .collect()
}

pub(super) async fn search(c: &mut Client, p: &JobSearchParams) -> Result<Vec<JobRecord>, StoreError> {
    let (sql, args) = p.page_sql(RECORD_COLUMNS, &DIALECT);
    let stmt = c.prepare_cached(&sql).await?;
    c.query(&stmt, &values(&args)).await?.iter().map(JobRecord::from_row).collect()
}

pub(super) async fn count(c: &mut Client, p: &JobSearchParams, cap: u64) -> Result<u64, StoreError> {
    let (sql, args) = p.count_sql(cap, &DIALECT);
    let stmt = c.prepare_cached(&sql).await?;
    let n: i64 = c.query_one(&stmt, &values(&args)).await?.try_get(0)?;
    Ok(n.max(0) as u64)
}

pub(super) async fn lease_token(c: &mut Client, id: JobId) -> Result<Option<String>, StoreError> {
    let stmt = c.prepare_cached("SELECT lease_token FROM jobs WHERE id = $1 AND state = 'active'").await?;
    Ok(c.query_opt(&stmt, &[&id.0]).await?.map(|r| r.try_get::<_, Option<String>>(0)).transpose()?.flatten())
}

pub(super) async fn delete_finished(c: &mut Client, queue: &QueueName, ids: &[JobId]) -> Result<u64, StoreError> {
    let ids: Vec<i64> = ids.iter().map(|j| j.0).collect();
    let stmt = c
        .prepare_cached(
            "WITH gone AS (
                 DELETE FROM jobs WHERE id = ANY($1) AND queue = $2 AND state IN ('completed', 'dead', 'cancelled')
                 RETURNING id
             ), history AS (
                 DELETE FROM job_events WHERE job_id IN (SELECT id FROM gone)
             )
             SELECT count(*) FROM gone",
        )
        .await?;
    let n: i64 = c.query_one(&stmt, &[&ids, &queue.as_str()]).await?.try_get(0)?;
    Ok(n.max(0) as u64)
}

pub(super) async fn purge_dead(c: &mut Client, queue: &QueueName, limit: u32) -> Result<u64, StoreError> {
    let stmt = c
        .prepare_cached(
            "WITH gone AS (
                 DELETE FROM jobs WHERE id IN (
                     SELECT id FROM jobs WHERE queue = $1 AND state = 'dead' LIMIT $2 FOR UPDATE SKIP LOCKED
                 ) RETURNING id
             ), history AS (
                 DELETE FROM job_events WHERE job_id IN (SELECT id FROM gone)
             )
             SELECT count(*) FROM gone",
        )
        .await?;
    let n: i64 = c.query_one(&stmt, &[&queue.as_str(), &i64::from(limit)]).await?.try_get(0)?;
    Ok(n.max(0) as u64)
}
