//! SQL of a queue's delete on SQLite: one write on the writer thread, so
//! no enqueue or lease interleaves between the check that the queue holds
//! only finished jobs and the deletes.

use rampart_core::id::QueueName;
use rusqlite::Connection;

use crate::error::StoreError;
use crate::queue::QueueDeleted;
use crate::queue::delete_sql::{DELETE_HISTORY, DELETE_JOBS, DELETE_REST, DELETE_ROW, KNOWN, UNFINISHED, with};

fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

pub(super) fn delete(c: &Connection, queue: &QueueName) -> Result<QueueDeleted, StoreError> {
    let name = queue.as_str();
    let (scheduled, available, active) = c
        .prepare_cached(&with(UNFINISHED, "?1"))?
        .query_row([name], |r| Ok((count(r.get(0)?), count(r.get(1)?), count(r.get(2)?))))?;
    if scheduled + available + active > 0 {
        return Ok(QueueDeleted::NotEmpty { scheduled, available, active });
    }
    if !c.prepare_cached(&with(KNOWN, "?1"))?.query_row([name], |r| r.get::<_, bool>(0))? {
        return Ok(QueueDeleted::Unknown);
    }
    c.prepare_cached(&with(DELETE_HISTORY, "?1"))?.execute([name])?;
    let jobs = c.prepare_cached(&with(DELETE_JOBS, "?1"))?.execute([name])?;
    for sql in DELETE_REST.iter().chain([&DELETE_ROW]) {
        c.prepare_cached(&with(sql, "?1"))?.execute([name])?;
    }
    Ok(QueueDeleted::Deleted { jobs: jobs as u64 })
}
