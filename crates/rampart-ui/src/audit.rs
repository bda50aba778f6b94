//! The audit log every dashboard action writes to (who, what, when), kept
//! in the store (`Store::audit_insert`) so it survives restarts and is the
//! same on every node.

use rampart_store::AuditInsert;

use crate::Ui;

/// Records an action that was done. A failure to record is logged, not
/// shown: the action itself already happened.
pub async fn record(ui: &Ui, actor: &str, action: &str, target: &str, detail: String) {
    let entry = AuditInsert {
        actor: actor.to_string(),
        action: action.to_string(),
        target: target.to_string(),
        detail,
        now: ui.app.engine.now(),
    };
    if let Err(e) = ui.app.engine.store().audit_insert(entry).await {
        tracing::warn!(error = %e, action, target, "could not write the dashboard's audit log");
    }
}
