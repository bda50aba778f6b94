//! Cron schedules with their next and last run and recent runs, and the
//! admin's buttons: run now, pause, resume (the calls `api/cron.rs` makes).

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use maud::html;
use rampart_core::auth::Action;
use rampart_core::id::CronName;

use super::{ActionForm, Done, done};
use crate::Ui;
use crate::audit;
use crate::error::UiError;
use crate::format;
use crate::layout::{self, Nav};
use crate::session::Viewer;

/// Runs listed per schedule.
const RUNS: u32 = 5;

/// `GET …/cron`.
pub async fn show(State(ui): State<Ui>, viewer: Viewer, Query(q): Query<Done>) -> Result<Response, UiError> {
    let schedules = ui.app.cron.list().await?;
    let mut runs = Vec::with_capacity(schedules.len());
    for s in &schedules {
        runs.push(ui.app.cron.runs(&s.record.name, None, RUNS).await?);
    }
    let admin = viewer.may(Action::Admin);
    let body = html! {
        h1 { "Cron" }
        (layout::notice(q.done.as_deref()))
        @if schedules.is_empty() {
            p.muted { "No schedules: add `[[cron]]` to the configuration or use `rampart cron put`." }
        }
        @for (s, runs) in schedules.iter().zip(&runs) {
            section.card aria-labelledby={ "cron-" (s.record.name) } {
                h2 id={ "cron-" (s.record.name) } {
                    code { (s.record.name) }
                    @if s.record.paused { " " span.state { "paused" } }
                }
                dl.facts {
                    dt { "Schedule" } dd { code { (s.record.schedule) } " (" (s.record.timezone) ")" }
                    dt { "Queue" } dd { a href=(ui.url(&format!("/queues/{}", s.record.queue))) { (s.record.queue) } }
                    dt { "Next run" } dd { (format::when_opt(s.record.next_run_at)) }
                    dt { "Last run" } dd {
                        @if let Some(r) = &s.last_run {
                            span class={ "state state-" (r.status) } { (r.status) } " " (format::when(r.enqueued_at))
                        } @else { span.muted { "never" } }
                    }
                    @if !s.record.description.is_empty() { dt { "About" } dd { (s.record.description) } }
                }
                @if admin {
                    div.actions {
                        (layout::button(&ui, &viewer, &format!("/cron/{}/trigger", s.record.name), "Run now", "primary"))
                        @if s.record.paused {
                            (layout::button(&ui, &viewer, &format!("/cron/{}/resume", s.record.name), "Resume", ""))
                        } @else {
                            (layout::button(&ui, &viewer, &format!("/cron/{}/pause", s.record.name), "Pause", ""))
                        }
                    }
                }
                @if !runs.is_empty() {
                    div.table-wrap { table {
                        caption.muted { "Latest runs" }
                        thead { tr { th scope="col" { "Enqueued" } th scope="col" { "Trigger" } th scope="col" { "Status" } th scope="col" { "Job" } th scope="col" { "Error" } } }
                        tbody { @for r in runs { tr {
                            td { (format::when(r.enqueued_at)) }
                            td { (r.trigger) }
                            td { span class={ "state state-" (r.status) } { (r.status) } }
                            td { @if let Some(id) = r.job_id { a href=(ui.url(&format!("/jobs/{id}"))) { code { (id) } } } }
                            td { @if let Some(e) = &r.error { (format::truncate(e, 160).0) } }
                        } } }
                    } }
                }
            }
        }
    };
    Ok(layout::page(&ui, &viewer, Nav::Cron, "Cron", body))
}

/// `POST …/cron/{name}/{trigger|pause|resume}`.
pub async fn act(
    State(ui): State<Ui>,
    viewer: Viewer,
    Path((name, action)): Path<(String, String)>,
    Form(form): Form<ActionForm>,
) -> Result<Response, UiError> {
    viewer.authorize(form.csrf.as_deref(), Action::Admin)?;
    let name = CronName::new(&name).map_err(|e| UiError::invalid(e.to_string()))?;
    let message = match action.as_str() {
        "trigger" => {
            let run = ui.app.cron.trigger(&name).await?;
            match run.job_id {
                Some(id) => format!("ran {name} now: job {id}"),
                None => format!("ran {name} now"),
            }
        }
        "pause" => {
            ui.app.cron.set_paused(&name, true).await?;
            format!("paused {name}")
        }
        "resume" => {
            ui.app.cron.set_paused(&name, false).await?;
            format!("resumed {name}")
        }
        _ => return Err(UiError::not_found("no such action; use trigger, pause or resume")),
    };
    audit::record(&ui, &viewer.session.key_name, &format!("cron.{action}"), name.as_str(), message.clone()).await;
    Ok(done(&ui, "/cron", &message))
}
