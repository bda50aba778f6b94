//! Circuit breakers: the shared ones (kept in the store, with their latest
//! transitions and window counts) and this node's in-process ones, and the
//! admin's reset (the call `api/breakers.rs` makes).

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use maud::html;
use rampart_core::auth::Action;
use rampart_core::id::BreakerName;
use rampart_store::BreakerOp;

use super::{ActionForm, Done, done};
use crate::Ui;
use crate::audit;
use crate::error::UiError;
use crate::format;
use crate::layout::{self, Nav};
use crate::session::Viewer;

/// `GET …/breakers`.
pub async fn show(State(ui): State<Ui>, viewer: Viewer, Query(q): Query<Done>) -> Result<Response, UiError> {
    let shared = &ui.app.shared_breakers;
    let mut records = Vec::new();
    // With their transitions; breakers are few (one per outbound host or name).
    for r in shared.list().await? {
        records.push(shared.get(&r.name).await?.unwrap_or(r));
    }
    let unused: Vec<&BreakerName> = shared.configured().filter(|n| !records.iter().any(|r| &r.name == *n)).collect();
    let local = ui.app.breakers.list();
    let now = shared.now();
    let admin = viewer.may(Action::Admin);
    let body = html! {
        h1 { "Breakers" }
        (layout::notice(q.done.as_deref()))
        h2 { "Shared" }
        @if records.is_empty() && unused.is_empty() { p.muted { "None yet: apps create them on first use." } }
        @for r in &records {
            @let policy = shared.policy(r.name.as_str());
            @let state = r.machine.state_at(policy, now);
            @let window = r.machine.window_counts(policy, now);
            section.card {
                h3 { code { (r.name) } " " span class={ "state state-" (state) } { (state) } }
                p { "Since " (format::when(r.machine.since())) " · in the window: " (window.calls) " calls, "
                    (window.failures) " failures · " (r.machine.consecutive_failures()) " consecutive failures" }
                @if admin && state != rampart_core::breaker::BreakerState::Closed {
                    (layout::button(&ui, &viewer, &format!("/breakers/{}/reset", r.name), "Reset (close)", "primary"))
                }
                @if !r.transitions.is_empty() {
                    ol.timeline {
                        @for t in r.transitions.iter().rev() {
                            li { (t.from) " → " (t.to) " · " (format::when(t.at)) " · " (t.reason) }
                        }
                    }
                }
            }
        }
        @for name in &unused {
            section.card { h3 { code { (name) } " " span.state.state-closed { "closed" } } p.muted { "Configured, not used yet." } }
        }
        h2 { "In this node's process" }
        @if local.is_empty() { p.muted { "None." } }
        ul { @for (name, b) in &local { li { code { (name) } " " (b.state()) } } }
    };
    Ok(layout::page(&ui, &viewer, Nav::Breakers, "Breakers", body))
}

/// `POST …/breakers/{name}/reset`.
pub async fn reset(
    State(ui): State<Ui>,
    viewer: Viewer,
    Path(name): Path<String>,
    Form(form): Form<ActionForm>,
) -> Result<Response, UiError> {
    viewer.authorize(form.csrf.as_deref(), Action::Admin)?;
    let name = BreakerName::new(&name).map_err(|e| UiError::invalid(e.to_string()))?;
    let message = if let Some(local) = ui.app.breakers.get(name.as_str()) {
        local.reset();
        format!("reset {name} in this node's process")
    } else {
        let shared = &ui.app.shared_breakers;
        if !shared.is_configured(name.as_str()) && shared.get(&name).await?.is_none() {
            return Err(UiError::not_found(format!("no breaker {name}")));
        }
        shared.apply(&name, BreakerOp::Reset).await?;
        format!("reset {name}: it is closed")
    };
    audit::record(&ui, &viewer.session.key_name, "breaker.reset", name.as_str(), message.clone()).await;
    Ok(done(&ui, "/breakers", &message))
}
