//! The audit log: every action taken from the dashboard, newest first, in
//! pages by cursor.

use axum::extract::{Query, State};
use axum::response::Response;
use maud::html;
use rampart_store::AuditListParams;
use serde::Deserialize;

use crate::Ui;
use crate::error::UiError;
use crate::format;
use crate::layout::{self, Nav};
use crate::session::Viewer;

/// Entries per page.
const PAGE: u32 = 100;

/// The query of the audit page.
#[derive(Debug, Default, Deserialize)]
pub struct AuditQuery {
    /// The last id of the previous page.
    pub before: Option<i64>,
}

/// `GET …/audit`.
pub async fn show(State(ui): State<Ui>, viewer: Viewer, Query(q): Query<AuditQuery>) -> Result<Response, UiError> {
    let entries = ui.app.engine.store().audit_list(AuditListParams { before: q.before, limit: PAGE }).await?;
    let body = html! {
        h1 { "Audit log" }
        p.muted { "Every action taken from the dashboard: who, what, when." }
        @if entries.is_empty() { p.muted { "Nothing yet." } }
        @else {
            div.table-wrap { table {
                thead { tr { th scope="col" { "When" } th scope="col" { "Who" } th scope="col" { "What" }
                    th scope="col" { "Target" } th scope="col" { "Outcome" } } }
                tbody { @for e in &entries { tr {
                    td { (format::when(e.at)) } td { (e.actor) } td { code { (e.action) } }
                    td { code { (e.target) } } td { (e.detail) }
                } } }
            } }
        }
        nav.pager aria-label="Pages" {
            @if q.before.is_some() { a href=(ui.url("/audit")) { "Newest" } }
            @if entries.len() == PAGE as usize && let Some(last) = entries.last() {
                a href=(ui.url(&format!("/audit?before={}", last.id))) { "Older" }
            }
        }
    };
    Ok(layout::page(&ui, &viewer, Nav::Audit, "Audit log", body))
}
