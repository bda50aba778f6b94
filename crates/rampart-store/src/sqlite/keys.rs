//! SQL of API keys on SQLite.

use rampart_core::auth::Role;
use rampart_core::time::UnixMillis;
use rusqlite::types::Type;
use rusqlite::{Connection, OptionalExtension, Row, params};

use crate::api_key::{ApiKeyInsert, ApiKeyRecord};
use crate::error::StoreError;

const COLUMNS: &str = "id, name, role, prefix, created_at, revoked_at";

fn record_from(r: &Row<'_>) -> rusqlite::Result<ApiKeyRecord> {
    let role: String = r.get(2)?;
    Ok(ApiKeyRecord {
        id: r.get(0)?,
        name: r.get(1)?,
        role: role
            .parse::<Role>()
            .map_err(|e| rusqlite::Error::FromSqlConversionFailure(2, Type::Text, Box::new(e)))?,
        prefix: r.get(3)?,
        created_at: UnixMillis(r.get(4)?),
        revoked_at: r.get::<_, Option<i64>>(5)?.map(UnixMillis),
    })
}

pub(super) fn insert(c: &Connection, k: &ApiKeyInsert) -> Result<ApiKeyRecord, StoreError> {
    c.prepare_cached("INSERT INTO api_keys (name, role, hash, prefix, created_at) VALUES (?1, ?2, ?3, ?4, ?5)")?
        .execute(params![k.name, k.role.as_str(), k.hash, k.prefix, k.now.0])
        .map_err(|e| match StoreError::from(e) {
            StoreError::Conflict(_) => StoreError::Conflict(format!("a key named `{}` already exists", k.name)),
            other => other,
        })?;
    let id = c.last_insert_rowid();
    Ok(c.prepare_cached(&format!("SELECT {COLUMNS} FROM api_keys WHERE id = ?1"))?.query_row([id], record_from)?)
}

pub(super) fn find(c: &Connection, hash: &str) -> Result<Option<ApiKeyRecord>, StoreError> {
    Ok(c.prepare_cached(&format!("SELECT {COLUMNS} FROM api_keys WHERE hash = ?1 AND revoked_at IS NULL"))?
        .query_row([hash], record_from)
        .optional()?)
}

pub(super) fn list(c: &Connection) -> Result<Vec<ApiKeyRecord>, StoreError> {
    Ok(c.prepare_cached(&format!("SELECT {COLUMNS} FROM api_keys ORDER BY id"))?
        .query_map([], record_from)?
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
