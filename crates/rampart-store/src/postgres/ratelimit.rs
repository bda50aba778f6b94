//! SQL of rate-limit policies on PostgreSQL.
//!
//! A put or delete changes the policy's row and bumps the revision in one
//! transaction, always in that order (so two writers never wait on each
//! other's locks in a cycle). A node that reads the revision and then the
//! list sees every change up to that revision.

use rampart_core::id::PolicyName;
use rampart_core::time::UnixMillis;

use super::Client;
use crate::error::StoreError;
use crate::ratelimit::RateLimitPolicyRecord;

const COLUMNS: &str = "name, spec, created_at, updated_at";

async fn bump_revision(tx: &deadpool_postgres::Transaction<'_>) -> Result<(), StoreError> {
    let stmt = tx.prepare_cached("UPDATE ratelimit_policy_revision SET revision = revision + 1 WHERE id = 1").await?;
    if tx.execute(&stmt, &[]).await? != 1 {
        return Err(missing_revision());
    }
    Ok(())
}

fn missing_revision() -> StoreError {
    StoreError::Internal("the row of ratelimit_policy_revision is missing".into())
}

pub(super) async fn put(
    c: &mut Client,
    name: &PolicyName,
    spec: &str,
    now: UnixMillis,
) -> Result<RateLimitPolicyRecord, StoreError> {
    let tx = c.transaction().await?;
    let stmt = tx
        .prepare_cached(&format!(
            "INSERT INTO ratelimit_policies (name, spec, created_at, updated_at) VALUES ($1, $2, $3, $3)
             ON CONFLICT (name) DO UPDATE SET spec = excluded.spec, updated_at = excluded.updated_at
             RETURNING {COLUMNS}"
        ))
        .await?;
    let record = RateLimitPolicyRecord::from_row(&tx.query_one(&stmt, &[&name.as_str(), &spec, &now.0]).await?)?;
    bump_revision(&tx).await?;
    tx.commit().await?;
    Ok(record)
}

pub(super) async fn delete(c: &mut Client, name: &PolicyName) -> Result<bool, StoreError> {
    let tx = c.transaction().await?;
    let stmt = tx.prepare_cached("DELETE FROM ratelimit_policies WHERE name = $1").await?;
    let deleted = tx.execute(&stmt, &[&name.as_str()]).await? > 0;
    if deleted {
        bump_revision(&tx).await?;
    }
    tx.commit().await?;
    Ok(deleted)
}

pub(super) async fn list(c: &mut Client) -> Result<Vec<RateLimitPolicyRecord>, StoreError> {
    let stmt = c.prepare_cached(&format!("SELECT {COLUMNS} FROM ratelimit_policies ORDER BY name")).await?;
    c.query(&stmt, &[]).await?.iter().map(RateLimitPolicyRecord::from_row).collect()
}

pub(super) async fn revision(c: &mut Client) -> Result<u64, StoreError> {
    let stmt = c.prepare_cached("SELECT revision FROM ratelimit_policy_revision WHERE id = 1").await?;
    let n: i64 = c.query_opt(&stmt, &[]).await?.ok_or_else(missing_revision)?.try_get(0)?;
    u64::try_from(n).map_err(|_| StoreError::Internal(format!("stored policy revision is negative: {n}")))
}
