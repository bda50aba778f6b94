//! SQL of API keys on PostgreSQL.

use rampart_core::time::UnixMillis;

use super::Client;
use crate::api_key::{ApiKeyInsert, ApiKeyRecord};
use crate::error::StoreError;

const COLUMNS: &str = "id, name, role, prefix, created_at, revoked_at";

pub(super) async fn insert(c: &mut Client, k: &ApiKeyInsert) -> Result<ApiKeyRecord, StoreError> {
    let stmt = c
        .prepare_cached(&format!(
            "INSERT INTO api_keys (name, role, hash, prefix, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING {COLUMNS}"
        ))
        .await?;
    let row = c.query_one(&stmt, &[&k.name, &k.role.as_str(), &k.hash, &k.prefix, &k.now.0]).await.map_err(|e| {
        match StoreError::from(e) {
            StoreError::Conflict(_) => StoreError::Conflict(format!("a key named `{}` already exists", k.name)),
            other => other,
        }
    })?;
    ApiKeyRecord::from_row(&row)
}

pub(super) async fn find(c: &mut Client, hash: &str) -> Result<Option<ApiKeyRecord>, StoreError> {
    let stmt =
        c.prepare_cached(&format!("SELECT {COLUMNS} FROM api_keys WHERE hash = $1 AND revoked_at IS NULL")).await?;
    c.query_opt(&stmt, &[&hash]).await?.as_ref().map(ApiKeyRecord::from_row).transpose()
}

pub(super) async fn list(c: &mut Client) -> Result<Vec<ApiKeyRecord>, StoreError> {
    let stmt = c.prepare_cached(&format!("SELECT {COLUMNS} FROM api_keys ORDER BY id")).await?;
    c.query(&stmt, &[]).await?.iter().map(ApiKeyRecord::from_row).collect()
}

pub(super) async fn revoke(c: &mut Client, id_or_name: &str, now: UnixMillis) -> Result<bool, StoreError> {
    let stmt = c
        .prepare_cached(
            "UPDATE api_keys SET revoked_at = $2
             WHERE revoked_at IS NULL AND (name = $1 OR id::text = $1)",
        )
        .await?;
    Ok(c.execute(&stmt, &[&id_or_name, &now.0]).await? > 0)
}
