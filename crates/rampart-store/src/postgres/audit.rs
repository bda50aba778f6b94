//! SQL of the dashboard's audit log on PostgreSQL.

use super::Client;
use crate::audit::{AuditInsert, AuditListParams, AuditRecord};
use crate::error::StoreError;

const COLUMNS: &str = "id, at, actor, action, target, detail";

pub(super) async fn insert(c: &mut Client, a: &AuditInsert) -> Result<AuditRecord, StoreError> {
    let stmt = c
        .prepare_cached(&format!(
            "INSERT INTO ui_audit (at, actor, action, target, detail) VALUES ($1, $2, $3, $4, $5) RETURNING {COLUMNS}"
        ))
        .await?;
    let row = c.query_one(&stmt, &[&a.now.0, &a.actor, &a.action, &a.target, &a.detail]).await?;
    AuditRecord::from_row(&row)
}

pub(super) async fn list(c: &mut Client, p: AuditListParams) -> Result<Vec<AuditRecord>, StoreError> {
    let stmt =
        c.prepare_cached(&format!("SELECT {COLUMNS} FROM ui_audit WHERE id < $1 ORDER BY id DESC LIMIT $2")).await?;
    let limit = i64::from(p.limit);
    c.query(&stmt, &[&p.before.unwrap_or(i64::MAX), &limit]).await?.iter().map(AuditRecord::from_row).collect()
}
