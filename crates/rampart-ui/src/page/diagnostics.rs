//! Diagnostics (admin role, as `GET /v1/admin/diagnostics/*`): the store's
//! latency and whether it takes writes, every background loop of this node
//! with its last run and last error, the alert channels' health and the
//! integrations apps report.

use axum::extract::State;
use axum::response::Response;
use maud::html;
use rampart_core::auth::Action;

use crate::Ui;
use crate::error::UiError;
use crate::format;
use crate::layout::{self, Nav};
use crate::session::Viewer;

/// `GET …/diagnostics`.
pub async fn show(State(ui): State<Ui>, viewer: Viewer) -> Result<Response, UiError> {
    if !viewer.may(Action::Admin) {
        let body = html! {
            h1 { "Diagnostics" }
            p { "Diagnostics show the server's internals and need an admin key, as in the API. Sign in with one to see them." }
        };
        return Ok(layout::page(&ui, &viewer, Nav::Diagnostics, "Diagnostics", body));
    }
    let store = ui.app.engine.store();
    let integrations = store.integration_summary().await?;
    let latest = ui.app.monitor.latest();
    let channels = ui.app.alerting.health.snapshot();
    let body = html! {
        h1 { "Diagnostics" }
        section.card aria-labelledby="store" {
            h2 #store { "Store" }
            dl.facts {
                dt { "Latency (last sample)" } dd { (format!("{:.1} ms", latest.store_latency_ms)) }
                dt { "Writes" } dd {
                    @match store.write_failure() {
                        None => span.state.state-ok { "accepted" },
                        Some(failure) => span.state.state-open { "refused: " (failure) },
                    }
                }
                dt { "Redis" } dd {
                    @match ui.app.limiter.redis() {
                        None => "not configured",
                        Some(r) if r.is_up() => span.state.state-ok { "up" },
                        Some(_) => span.state.state-open { "down" },
                    }
                }
            }
        }
        h2 { "Background loops" }
        div.table-wrap { table {
            thead { tr { th scope="col" { "Loop" } th scope="col" { "Status" } th scope="col" { "Last run" }
                th.num scope="col" { "Runs" } th.num scope="col" { "Failures" } th scope="col" { "Last error" } } }
            tbody { @for (name, s) in ui.app.loops.snapshot() { tr {
                th scope="row" { (name) }
                td { @if s.last_run_at.is_none() { span.state { "idle" } } @else if s.failing { span.state.state-open { "failing" } } @else { span.state.state-ok { "ok" } } }
                td { (format::when_opt(s.last_run_at)) }
                td.num { (s.runs) }
                td.num { (s.failures) }
                td { @if let Some(e) = &s.last_error { (format::truncate(e, 200).0) " " (format::when_opt(s.last_error_at)) } }
            } } }
        } }
        h2 { "Alert channels" }
        @if channels.is_empty() { p.muted { "No channels configured." } }
        ul { @for (name, c) in &channels { li {
            code { (name) } " (" (c.kind) ") · last success " (format::when_opt(c.last_success_at))
            @if c.consecutive_failures > 0 { " · " span.error { (c.consecutive_failures) " failures in a row" } }
        } } }
        h2 { "Integrations" }
        @if integrations.is_empty() { p.muted { "No app has reported a connection." } }
        ul { @for i in &integrations { li {
            code { (i.platform) } ": " (i.counts.total) " connections, " (i.counts.connected) " connected, "
            (i.counts.error) " in error, " (i.counts.expired) " expired"
        } } }
    };
    Ok(layout::page(&ui, &viewer, Nav::Diagnostics, "Diagnostics", body))
}
