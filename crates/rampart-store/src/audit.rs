//! The audit log of the dashboard's actions: who did what to which target,
//! and when (migration 0010). Rows are only ever added; the log reads
//! newest first in pages by id, so a page costs one index range however long
//! the log grows.

use rampart_core::time::UnixMillis;

use crate::row::Row;

/// One action to record ([`crate::Store::audit_insert`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditInsert {
    /// Who: the name of the API key the session signed in with.
    pub actor: String,
    /// What, as a short verb phrase (`job.retry`, `queue.pause`, …).
    pub action: String,
    /// What it was done to (a job id, a queue name, …).
    pub target: String,
    /// Anything more an operator needs later (how many jobs moved, …).
    pub detail: String,
    /// When.
    pub now: UnixMillis,
}

/// A recorded action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    /// Its id, increasing with each insert.
    pub id: i64,
    /// When it was done.
    pub at: UnixMillis,
    /// Who did it.
    pub actor: String,
    /// What was done.
    pub action: String,
    /// To what.
    pub target: String,
    /// The rest.
    pub detail: String,
}

/// A page of the audit log ([`crate::Store::audit_list`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuditListParams {
    /// Only records with a smaller id (the last id of the previous page).
    pub before: Option<i64>,
    /// Page size.
    pub limit: u32,
}

impl AuditRecord {
    /// The record of a row read with the columns `id, at, actor, action,
    /// target, detail`.
    pub(crate) fn from_row<R: Row>(r: &R) -> Result<AuditRecord, R::Error> {
        Ok(AuditRecord {
            id: r.int(0)?,
            at: r.time(1)?,
            actor: r.text(2)?,
            action: r.text(3)?,
            target: r.text(4)?,
            detail: r.text(5)?,
        })
    }
}
