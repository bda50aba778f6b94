//! SQL of what an operator does to jobs on SQLite, off the hot path: the
//! dashboard's searches (every filter, keyset pages), the token of the
//! lease holding a job (so an operator acts on it without the worker's
//! copy), and the delete of finished jobs a bulk purge makes.

use rampart_core::id::{JobId, QueueName};
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, params, params_from_iter};

use super::jobs::{OFF_HOT_PATH, RECORD_COLUMNS};
use crate::error::StoreError;
use crate::job::*;

const DIALECT: SearchDialect = SearchDialect {
    placeholder: |n| format!("?{n}"),
    has_key: "unique_key > ''",
    has_tenant: "tenant > ''",
    off_hot_path: OFF_HOT_PATH,
    contains: |p| format!("instr(payload, {p}) > 0"),
};

fn values(args: Vec<SearchArg>) -> impl Iterator<Item = Value> {
    args.into_iter().map(|a| match a {
        SearchArg::Text(s) => Value::Text(s),
        SearchArg::Int(i) => Value::Integer(i),
    })
}

pub(super) fn search(c: &Connection, p: &JobSearchParams) -> Result<Vec<JobRecord>, StoreError> {
    let (sql, args) = p.page_sql(RECORD_COLUMNS, &DIALECT);
    Ok(c.prepare_cached(&sql)?
        .query_map(params_from_iter(values(args)), |r| JobRecord::from_row(r))?
        .collect::<Result<Vec<_>, _>>()?)
}

pub(super) fn count(c: &Connection, p: &JobSearchParams, cap: u64) -> Result<u64, StoreError> {
    let (sql, args) = p.count_sql(cap, &DIALECT);
    let n: i64 = c.prepare_cached(&sql)?.query_row(params_from_iter(values(args)), |r| r.get(0))?;
    Ok(n.max(0) as u64)
}

pub(super) fn lease_token(c: &Connection, id: JobId) -> Result<Option<String>, StoreError> {
    Ok(c.prepare_cached("SELECT lease_token FROM jobs WHERE id = ?1 AND state = 'active'")?
        .query_row([id.0], |r| r.get::<_, Option<String>>(0))
        .optional()?
        .flatten())
}

pub(super) fn delete_finished(c: &Connection, queue: &QueueName, ids: &[JobId]) -> Result<u64, StoreError> {
    let mut job = c.prepare_cached(
        "DELETE FROM jobs WHERE id = ?1 AND queue = ?2
             AND (state = 'completed' OR state = 'dead' OR state = 'cancelled')",
    )?;
    let mut events = c.prepare_cached("DELETE FROM job_events WHERE job_id = ?1")?;
    let mut deleted = 0;
    for id in ids {
        if job.execute(params![id.0, queue.as_str()])? > 0 {
            events.execute([id.0])?;
            deleted += 1;
        }
    }
    Ok(deleted)
}
