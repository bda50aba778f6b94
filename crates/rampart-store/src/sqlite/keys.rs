//! SQL of API keys on SQLite.

use rampart_core::time::UnixMillis;
use rusqlite::{Connection, OptionalExtension, params};

use crate::api_key::{ApiKeyInsert, ApiKeyRecord};
use crate::error::StoreError;

const COLUMNS: &str = "id, name, role, prefix, created_at, revoked_at";

pub(super) fn insert(c: &Connection, k: &ApiKeyInsert) -> Result<ApiKeyRecord, StoreError> {
    c.prepare_cached("INSERT INTO api_keys (name, role, hash, prefix, created_at) VALUES (?1, ?2, ?3, ?4, ?5)")?
        .execute(params![k.name, k.role.as_str(), k.hash, k.prefix, k.now.0])
        .map_err(|e| match StoreError::from(e) {
            StoreError::Conflict(_) => StoreError::Conflict(format!("a key named `{}` already exists", k.name)),
            other => other,
        })?;
    let id = c.last_insert_rowid();
    Ok(c.prepare_cached(&format!("SELECT {COLUMNS} FROM api_keys WHERE id = ?1"))?
        .query_row([id], |r| ApiKeyRecord::from_row(r))?)
}

pub(super) fn find(c: &Connection, hash: &str) -> Result<Option<ApiKeyRecord>, StoreError> {
    Ok(c.prepare_cached(&format!("SELECT {COLUMNS} FROM api_keys WHERE hash = ?1 AND revoked_at IS NULL"))?
        .query_row([hash], |r| ApiKeyRecord::from_row(r))
        .optional()?)
}

pub(super) fn list(c: &Connection) -> Result<Vec<ApiKeyRecord>, StoreError> {
    Ok(c.prepare_cached(&format!("SELECT {COLUMNS} FROM api_keys ORDER BY id"))?
        .query_map([], |r| ApiKeyRecord::from_row(r))?
        .collect::<Result<Vec<_>, _>>()?)
}

pub(super) fn revoke(c: &Connection, id_or_name: &str, now: UnixMillis) -> Result<bool, StoreError> {
    let n = c
        .prepare_cached(
            "UPDATE api_keys SET revoked_at = ?2
             WHERE revoked_at IS NULL AND (name = ?1 OR CAST(id AS TEXT) = ?1)",
        )?
        .execute(params![id_or_name, now.0])?;
    Ok(n > 0)
}
