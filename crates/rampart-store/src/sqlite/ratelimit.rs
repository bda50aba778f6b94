//! SQL of rate-limit policies on SQLite.
//!
//! Puts and deletes run on the writer thread, each inside its savepoint, so
//! a policy's row and the revision bump commit together or not at all.

use rampart_core::id::PolicyName;
use rampart_core::time::UnixMillis;
use rusqlite::{Connection, OptionalExtension, params};

use crate::error::StoreError;
use crate::ratelimit::RateLimitPolicyRecord;

const COLUMNS: &str = "name, spec, created_at, updated_at";

fn bump_revision(c: &Connection) -> Result<(), StoreError> {
    let n =
        c.prepare_cached("UPDATE ratelimit_policy_revision SET revision = revision + 1 WHERE id = 1")?.execute([])?;
    if n != 1 {
        return Err(missing_revision());
    }
    Ok(())
}

fn missing_revision() -> StoreError {
    StoreError::Internal("the row of ratelimit_policy_revision is missing".into())
}

pub(super) fn put(
    c: &Connection,
    name: &PolicyName,
    spec: &str,
    now: UnixMillis,
) -> Result<RateLimitPolicyRecord, StoreError> {
    let record = c
        .prepare_cached(&format!(
            "INSERT INTO ratelimit_policies (name, spec, created_at, updated_at) VALUES (?1, ?2, ?3, ?3)
             ON CONFLICT (name) DO UPDATE SET spec = excluded.spec, updated_at = excluded.updated_at
             RETURNING {COLUMNS}"
        ))?
        .query_row(params![name.as_str(), spec, now.0], |r| RateLimitPolicyRecord::from_row(r))?;
    bump_revision(c)?;
    Ok(record)
}

pub(super) fn delete(c: &Connection, name: &PolicyName) -> Result<bool, StoreError> {
    let n = c.prepare_cached("DELETE FROM ratelimit_policies WHERE name = ?1")?.execute([name.as_str()])?;
    if n > 0 {
        bump_revision(c)?;
    }
    Ok(n > 0)
}

pub(super) fn list(c: &Connection) -> Result<Vec<RateLimitPolicyRecord>, StoreError> {
    Ok(c.prepare_cached(&format!("SELECT {COLUMNS} FROM ratelimit_policies ORDER BY name"))?
        .query_map([], |r| RateLimitPolicyRecord::from_row(r))?
        .collect::<Result<Vec<_>, _>>()?)
}

pub(super) fn revision(c: &Connection) -> Result<u64, StoreError> {
    let n: i64 = c
        .prepare_cached("SELECT revision FROM ratelimit_policy_revision WHERE id = 1")?
        .query_row([], |r| r.get(0))
        .optional()?
        .ok_or_else(missing_revision)?;
    u64::try_from(n).map_err(|_| StoreError::Internal(format!("stored policy revision is negative: {n}")))
}
