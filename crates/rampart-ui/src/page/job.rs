//! A job: its facts, payload and result (pretty JSON, cut to a few thousand
//! characters with "show all" on demand, so a 10 MB payload does not freeze
//! the page), each attempt's error, the whole history as a timeline, and
//! the admin's retry and cancel. A job stuck active shows the worker holding
//! it and when its lease ends.

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::http::header::LOCATION;
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use rampart_core::auth::Action;
use rampart_core::duration::format_duration;
use rampart_core::id::JobId;
use rampart_core::job::JobState;
use rampart_store::{JobEvent, JobRecord};
use serde::Deserialize;

use super::{ActionForm, done};
use crate::Ui;
use crate::audit;
use crate::error::UiError;
use crate::format::{self, EXPANDED_CHARS, SHOWN_CHARS};
use crate::layout::{self, Nav};
use crate::session::Viewer;

/// The query of a job page.
#[derive(Debug, Default, Deserialize)]
pub struct JobQuery {
    /// `payload` or `result`: show that one whole (up to a bound).
    pub full: Option<String>,
    /// What an action did.
    pub done: Option<String>,
}

/// The query of the search.
#[derive(Debug, Default, Deserialize)]
pub struct SearchQuery {
    /// A job id.
    pub id: Option<String>,
}

fn job_id(raw: &str) -> Result<JobId, UiError> {
    raw.trim().parse::<JobId>().map_err(|e| UiError::invalid(format!("`{}` is not a job id: {e}", raw.trim())))
}

/// `GET …/jobs?id=…`: to the job's page.
pub async fn search(State(ui): State<Ui>, _viewer: Viewer, Query(q): Query<SearchQuery>) -> Result<Response, UiError> {
    let id = job_id(q.id.as_deref().unwrap_or_default())?;
    Ok((StatusCode::SEE_OTHER, [(LOCATION, ui.url(&format!("/jobs/{id}")))]).into_response())
}

/// `GET …/jobs/{id}`.
pub async fn show(
    State(ui): State<Ui>,
    viewer: Viewer,
    Path(id): Path<String>,
    Query(query): Query<JobQuery>,
) -> Result<Response, UiError> {
    let job = ui.app.engine.job(job_id(&id)?).await?;
    let admin = viewer.may(Action::Admin);
    let base = format!("/jobs/{}", job.id);
    let full = query.full.as_deref();
    let errors: Vec<&JobEvent> = job.history.iter().filter(|e| e.error.is_some()).collect();
    let body = html! {
        h1 { "Job " code { (job.id) } " " span class={ "state state-" (job.state) } { (job.state) } }
        (layout::notice(query.done.as_deref()))
        p { "In queue " a href=(ui.url(&format!("/queues/{}?state={}", job.queue, job.state))) { code { (job.queue) } } }
        @if admin {
            div.actions aria-label="Job actions" {
                @if matches!(job.state, JobState::Dead | JobState::Cancelled) {
                    (layout::button(&ui, &viewer, &format!("{base}/retry"), "Retry", "primary"))
                }
                @if matches!(job.state, JobState::Available | JobState::Scheduled) {
                    (layout::button(&ui, &viewer, &format!("{base}/cancel"), "Cancel", "danger"))
                }
            }
        }
        section.card aria-labelledby="facts" {
            h2 #facts { "Facts" }
            (facts(&job))
        }
        @if let Some(error) = &job.last_error {
            section aria-labelledby="last-error" {
                h2 #last-error { "Last error" }
                pre.error { (format::truncate(error, SHOWN_CHARS).0) }
            }
        }
        section aria-labelledby="payload" {
            h2 #payload { "Payload" }
            (json_block(&ui, &base, "payload", &job.payload, full == Some("payload")))
        }
        @if let Some(result) = &job.result {
            section aria-labelledby="result" {
                h2 #result { "Result" }
                (json_block(&ui, &base, "result", result, full == Some("result")))
            }
        }
        section aria-labelledby="attempts" {
            h2 #attempts { "Errors by attempt" }
            @if errors.is_empty() {
                p.muted { "No attempt has failed." }
            } @else {
                ol {
                    @for e in &errors {
                        li {
                            "Attempt " (e.attempt) ", " (e.reason) " at " (format::when(e.at))
                            @if let Some(w) = &e.worker { " on " code { (w) } }
                            pre.error { (format::truncate(e.error.as_deref().unwrap_or_default(), SHOWN_CHARS).0) }
                        }
                    }
                }
            }
        }
        section aria-labelledby="history" {
            h2 #history { "History" }
            ol.timeline {
                @for e in &job.history {
                    li class=(event_class(e)) {
                        strong { (e.reason) } " "
                        @if let Some(from) = e.from { (from) " → " }
                        (e.to) " · attempt " (e.attempt) " · " (format::when(e.at))
                        @if let Some(w) = &e.worker { " · " code { (w) } }
                        @if let Some(err) = &e.error { br; span.error { (format::truncate(err, 200).0) } }
                    }
                }
            }
        }
    };
    Ok(layout::page(&ui, &viewer, Nav::Queues, &format!("Job {}", job.id), body))
}

fn facts(job: &JobRecord) -> Markup {
    html! {
        dl.facts {
            dt { "Attempts" } dd { (job.attempt) " of " (job.max_attempts) }
            dt { "Priority" } dd { (job.priority) }
            @if let Some(key) = &job.unique_key { dt { "Unique key" } dd { code { (key) } } }
            dt { "Created" } dd { (format::when(job.created_at)) }
            dt { "Due" } dd { (format::when(job.run_at)) }
            dt { "Started" } dd { (format::when_opt(job.started_at)) }
            dt { "Finished" } dd { (format::when_opt(job.finished_at)) }
            @if let Some(t) = job.timeout { dt { "Timeout" } dd { (format_duration(t)) } }
            @if job.state == JobState::Active {
                dt { "Held by" } dd { @if let Some(w) = &job.worker { code { (w) } } @else { "—" } }
                dt { "Lease ends" } dd { (format::when_opt(job.lease_expires_at)) }
            } @else if let Some(w) = &job.worker {
                dt { "Last worker" } dd { code { (w) } }
            }
        }
    }
}

fn event_class(e: &JobEvent) -> &'static str {
    match e.to {
        JobState::Completed => "good",
        JobState::Dead => "bad",
        _ if e.error.is_some() => "bad",
        _ => "",
    }
}

/// JSON shown pretty and cut, with a link to show it whole (bounded too).
fn json_block(ui: &Ui, base: &str, which: &str, text: &str, expanded: bool) -> Markup {
    let limit = if expanded { EXPANDED_CHARS } else { SHOWN_CHARS };
    let (shown, cut) = format::json(text, limit);
    html! {
        pre { code { (shown) } }
        @if cut && !expanded {
            p { "Showing the first " (SHOWN_CHARS) " characters of " (text.len()) " bytes. "
                a href=(ui.url(&format!("{base}?full={which}#{which}"))) { "Show all" } }
        } @else if cut {
            p.muted { "Cut at " (EXPANDED_CHARS) " characters; read the whole job with `rampart jobs get`." }
        } @else if expanded {
            p { a href=(ui.url(&format!("{base}#{which}"))) { "Show less" } }
        }
    }
}

/// `POST …/jobs/{id}/{retry|cancel}`.
pub async fn act(
    State(ui): State<Ui>,
    viewer: Viewer,
    Path((id, action)): Path<(String, String)>,
    Form(form): Form<ActionForm>,
) -> Result<Response, UiError> {
    viewer.authorize(form.csrf.as_deref(), Action::Admin)?;
    let id = job_id(&id)?;
    let message = match action.as_str() {
        "retry" => {
            ui.app.engine.job_retry(id).await?;
            "retried the job: it is available again"
        }
        "cancel" => {
            ui.app.engine.job_cancel(id).await?;
            "cancelled the job"
        }
        _ => return Err(UiError::not_found("no such action; use retry or cancel")),
    };
    audit::record(&ui, &viewer.session.key_name, &format!("job.{action}"), &id.to_string(), message.to_string()).await;
    Ok(done(&ui, &format!("/jobs/{id}"), message))
}
