//! SQL of the dashboard's audit log on SQLite.

use rusqlite::{Connection, params};

use crate::audit::{AuditInsert, AuditListParams, AuditRecord};
use crate::error::StoreError;

const COLUMNS: &str = "id, at, actor, action, target, detail";

pub(super) fn insert(c: &Connection, a: &AuditInsert) -> Result<AuditRecord, StoreError> {
    Ok(c.prepare_cached(&format!(
        "INSERT INTO ui_audit (at, actor, action, target, detail) VALUES (?1, ?2, ?3, ?4, ?5) RETURNING {COLUMNS}"
    ))?
    .query_row(params![a.now.0, a.actor, a.action, a.target, a.detail], |r| AuditRecord::from_row(r))?)
}

pub(super) fn list(c: &Connection, p: AuditListParams) -> Result<Vec<AuditRecord>, StoreError> {
    Ok(c.prepare_cached(&format!("SELECT {COLUMNS} FROM ui_audit WHERE id < ?1 ORDER BY id DESC LIMIT ?2"))?
        .query_map(params![p.before.unwrap_or(i64::MAX), p.limit], |r| AuditRecord::from_row(r))?
        .collect::<Result<Vec<_>, _>>()?)
}
