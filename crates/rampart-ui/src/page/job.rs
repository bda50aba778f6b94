//! A job: its facts, payload and result (pretty JSON, cut to a few thousand
//! characters with "show all" on demand, so a 10 MB payload does not freeze
//! the page), each attempt's error, the whole history as a timeline, and
//! the admin's retry (also with an edited payload: the original stays in
//! the history) and cancel. A job stuck active shows the worker holding it,
//! its last heartbeat and when its lease ends, with "release lease" (back to
//! available, the attempt not counted) and "fail now" (the attempt fails,
//! the retry policy decides what follows).

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
use rampart_server::api::ApiError;
use rampart_server::engine::EngineError;
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
                @if matches!(job.state, JobState::Available | JobState::Scheduled | JobState::Waiting) {
                    (layout::button(&ui, &viewer, &format!("{base}/cancel"), "Cancel", "danger"))
                }
                @if job.state == JobState::Active {
                    (layout::button(&ui, &viewer, &format!("{base}/release"), "Release lease", ""))
                    details {
                        summary { "Fail now…" }
                        form method="post" action=(ui.url(&format!("{base}/fail"))) {
                            (layout::csrf(&viewer))
                            p { "The running attempt fails at once; the queue's retry policy decides whether it runs again. \
                                The worker's own ack will then be refused." }
                            div.field {
                                label for="fail-reason" { "Reason (recorded in the error)" }
                                input #fail-reason type="text" name="reason" maxlength="500" placeholder="stuck on a dead connection";
                            }
                            button.danger type="submit" { "Fail the attempt" }
                        }
                    }
                }
            }
            @if matches!(job.state, JobState::Dead | JobState::Cancelled) {
                (edit_form(&ui, &viewer, &job))
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
                        @if let Some(before) = &e.payload {
                            details {
                                summary { "The payload before this retry" }
                                pre { code { (format::json(before, SHOWN_CHARS).0) } }
                            }
                        }
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
                dt { "Last heartbeat" } dd {
                    // A beat older than this attempt's start was an earlier attempt's.
                    @match job.heartbeat_at.filter(|b| job.started_at.is_none_or(|s| *b >= s)) {
                        Some(beat) => (format::when(beat)),
                        None => span.muted { "none since the lease began" },
                    }
                }
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

/// The largest payload offered for editing in the page (bytes); a larger
/// one is retried as it is or edited through the API.
const EDITABLE_BYTES: usize = 64 * 1024;

/// The form of a retry with an edited payload, folded.
fn edit_form(ui: &Ui, viewer: &Viewer, job: &JobRecord) -> Markup {
    let base = format!("/jobs/{}", job.id);
    html! {
        details.card {
            summary { "Retry with an edited payload…" }
            @if job.payload.len() > EDITABLE_BYTES {
                p.muted { "The payload is " (job.payload.len()) " bytes, too large to edit here (at most "
                    (EDITABLE_BYTES) ")." }
            } @else {
                form method="post" action=(ui.url(&format!("{base}/retry-edited"))) {
                    (layout::csrf(viewer))
                    div.field {
                        label for="edited-payload" { "Payload (JSON)" }
                        textarea #edited-payload name="payload" rows="12" required spellcheck="false" {
                            (format::json(&job.payload, EDITABLE_BYTES).0)
                        }
                    }
                    p.muted { "A new attempt runs with this payload; the current one stays in the job's history." }
                    button.primary type="submit" { "Retry with this payload" }
                }
            }
        }
    }
}

/// `POST …/jobs/{id}/{retry|retry-edited|cancel|release|fail}`.
pub async fn act(
    State(ui): State<Ui>,
    viewer: Viewer,
    Path((id, action)): Path<(String, String)>,
    Form(form): Form<ActionForm>,
) -> Result<Response, UiError> {
    viewer.authorize(form.csrf.as_deref(), Action::Admin)?;
    let id = job_id(&id)?;
    let engine = &ui.app.engine;
    let who = &viewer.session.key_name;
    let message = match action.as_str() {
        "retry" => {
            engine.job_retry(id).await?;
            "retried the job: it is available again".to_string()
        }
        "retry-edited" => {
            let payload = form.payload.unwrap_or_default();
            let value = serde_json::from_str::<serde_json::Value>(&payload).map_err(|e| {
                UiError::invalid(format!(
                    "the payload is not valid JSON ({e}); nothing was retried, fix it and send again"
                ))
            })?;
            // Stored compact, as the API stores what it is sent.
            engine.job_retry_edited(id, value.to_string()).await?;
            "retried the job with the edited payload; the previous payload is in its history".to_string()
        }
        "cancel" => {
            engine.job_cancel(id).await?;
            "cancelled the job".to_string()
        }
        "release" => {
            engine.job_release_held(id).await.map_err(lease_ended)?;
            "released the lease: the job is available again and the attempt was not counted".to_string()
        }
        "fail" => {
            let reason = form.reason.as_deref().map(str::trim).filter(|r| !r.is_empty()).unwrap_or("no reason given");
            let error = format!("failed by an operator ({who}) from the dashboard: {reason}");
            let acked = engine.job_fail_held(id, error).await.map_err(lease_ended)?;
            format!("failed the attempt: the job is {}", acked.state)
        }
        _ => return Err(UiError::not_found("no such action; use retry, retry-edited, cancel, release or fail")),
    };
    audit::record(&ui, who, &format!("job.{action}"), &id.to_string(), message.clone()).await;
    Ok(done(&ui, &format!("/jobs/{id}"), &message))
}

/// A held lease that ended between the page and the click, said as such.
fn lease_ended(e: EngineError) -> UiError {
    match e {
        EngineError::LeaseLost => UiError::Api(ApiError::new(
            StatusCode::CONFLICT,
            "LEASE_LOST",
            "the attempt ended meanwhile (its worker acked, or the lease ran out and the reaper took it); \
             reload the job to see where it is",
        )),
        other => other.into(),
    }
}
