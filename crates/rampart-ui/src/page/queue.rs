//! A queue: its counts (sampled, refreshed in place), its settings, its jobs
//! by state in pages by keyset cursor (`?state=dead&after=<last id>`, each
//! page one range of the per-state index), narrowed by the filters of
//! [`super::filter`] (tenant, unique key in every state, created and
//! finished ranges, text inside recent payloads), a search by job id, and
//! the admin's buttons: pause/resume, retry every dead job, purge the dead
//! ones (after a confirmation), and bulk actions on whatever the filter
//! matches ([`super::bulk`]).

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::http::header::LOCATION;
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use rampart_core::auth::Action;
use rampart_core::duration::format_duration;
use rampart_core::id::{JobId, QueueName};
use rampart_core::job::JobState;
use rampart_server::engine::EngineError;
use rampart_store::{JobFilter, JobListParams, JobSearchParams};
use serde::Deserialize;

use super::filter::FilterQuery;
use super::{ActionForm, done};
use crate::Ui;
use crate::audit;
use crate::error::UiError;
use crate::format::{self, count};
use crate::layout::{self, Nav};
use crate::page::overview::LIVE_SECONDS;
use crate::session::Viewer;

/// Jobs per page.
pub const PAGE: u32 = 50;

/// The query of a queue page.
#[derive(Debug, Default, Deserialize)]
pub struct QueueQuery {
    /// Which jobs are listed (the state `dead` by default: what an operator
    /// opens a queue for).
    #[serde(flatten)]
    pub filter: FilterQuery,
    /// The last id of the previous page.
    pub after: Option<String>,
    /// What an action did.
    pub done: Option<String>,
}

/// A queue name from the path, as the API reads it.
pub fn queue_name(raw: &str) -> Result<QueueName, UiError> {
    QueueName::new(raw).map_err(|e| UiError::invalid(e.to_string()))
}

/// `GET …/queues/{queue}`.
pub async fn show(
    State(ui): State<Ui>,
    viewer: Viewer,
    Path(queue): Path<String>,
    Query(query): Query<QueueQuery>,
) -> Result<Response, UiError> {
    let queue = queue_name(&queue)?;
    let record = ui.app.engine.store().queue_list().await?.into_iter().find(|q| q.name == queue);
    let Some(record) = record else {
        return Err(EngineError::QueueNotFound(queue).into());
    };
    let state = query.filter.state()?;
    let after = match query.after.as_deref() {
        None | Some("") => None,
        Some(id) => Some(id.parse::<JobId>().map_err(|e| UiError::invalid(format!("invalid cursor: {e}")))?),
    };
    let jobs = if query.filter.narrows() {
        let params = JobSearchParams { queue: queue.clone(), filter: query.filter.filter()?, after, limit: PAGE };
        ui.app.engine.store().job_search(params).await?
    } else {
        ui.app.engine.jobs(JobListParams { queue: queue.clone(), state, tenant: None, after, limit: PAGE }).await?
    };
    let settings = ui.app.engine.queue_config(&queue);
    let admin = viewer.may(Action::Admin);
    let base = format!("/queues/{queue}");
    let body = html! {
        h1 { "Queue " code { (queue) } @if record.paused { " " span.state { "paused" } } }
        (layout::notice(query.done.as_deref()))
        (counts(&ui, &queue))
        @if admin {
            div.actions aria-label="Queue actions" {
                @if record.paused {
                    (layout::button(&ui, &viewer, &format!("{base}/resume"), "Resume", "primary"))
                } @else {
                    (layout::button(&ui, &viewer, &format!("{base}/pause"), "Pause", ""))
                }
                (layout::button(&ui, &viewer, &format!("{base}/retry-dead"), "Retry all dead", ""))
                details {
                    summary { "Purge dead jobs…" }
                    form method="post" action=(ui.url(&format!("{base}/purge-dead"))) {
                        (layout::csrf(&viewer))
                        p { "This deletes every dead job of " code { (queue) } " for good." }
                        div.field {
                            input #confirm-purge type="checkbox" name="confirm" value="purge" required;
                            " "
                            label for="confirm-purge" style="display:inline" { "Yes, delete them" }
                        }
                        button.danger type="submit" { "Purge dead jobs" }
                    }
                }
            }
        }
        details.card {
            summary { "Settings" }
            dl.facts {
                dt { "Max attempts" } dd { (settings.max_attempts) }
                dt { "Backoff" } dd {
                    (format_duration(settings.backoff.initial)) " ×" (settings.backoff.factor)
                    ", at most " (format_duration(settings.backoff.max))
                }
                dt { "Timeout" } dd { (settings.timeout.map(format_duration).unwrap_or_else(|| "none".into())) }
                dt { "Lease" } dd { (format_duration(settings.lease)) }
                dt { "Concurrency" } dd { (settings.concurrency.map(|c| c.to_string()).unwrap_or_else(|| "unlimited".into())) }
                @if let Some(target) = &settings.target {
                    // The target as the API shows it: its query values hidden.
                    dt { "Push target" } dd { (target) }
                }
            }
        }
        h2 #jobs { "Jobs" }
        div.actions {
            form.inline method="get" action=(ui.url("/jobs")) role="search" {
                label for="job-id" { "Find a job by id" }
                input #job-id type="search" name="id" placeholder="job id" required;
                " " button type="submit" { "Open" }
            }
        }
        nav aria-label="Job states" {
            ul.tabs {
                @for s in JobState::ALL {
                    li {
                        @let href = ui.url(&format!("{base}?{}#jobs", query.filter.query(Some(s.as_str()))));
                        @if Some(s) == state {
                            a href=(href) aria-current="page" { (s) }
                        } @else {
                            a href=(href) { (s) }
                        }
                    }
                }
            }
        }
        details.card open[query.filter.narrows()] {
            summary { "Filter" @if query.filter.narrows() { ": " (query.filter.describe()) } }
            (query.filter.form(&ui, &base, state))
        }
        @if admin {
            div.actions aria-label="Bulk actions" {
                span { "With every job matching " (query.filter.describe()) ":" }
                @for action in ["retry", "cancel", "purge"] {
                    a.button href=(ui.url(&format!("{base}/bulk?action={action}&{}", query.filter.query(None)))) {
                        (action) "…"
                    }
                }
            }
        }
        (job_table(&ui, &jobs))
        nav.pager aria-label="Pages" {
            @if after.is_some() {
                a href=(ui.url(&format!("{base}?{}#jobs", query.filter.query(None)))) { "First page" }
            }
            @if jobs.len() == PAGE as usize && let Some(last) = jobs.last() {
                a href=(ui.url(&format!("{base}?{}&after={}#jobs", query.filter.query(None), last.id))) { "Next page" }
            }
        }
    };
    Ok(layout::page(&ui, &viewer, Nav::Queues, &format!("Queue {queue}"), body))
}

fn job_table(ui: &Ui, jobs: &[rampart_store::JobRecord]) -> Markup {
    html! {
        @if jobs.is_empty() {
            p.muted { "No jobs match." }
        } @else {
            div.table-wrap {
                table {
                    thead { tr {
                        th scope="col" { "Job" } th scope="col" { "State" } th.num scope="col" { "Attempts" }
                        th.hide-narrow scope="col" { "Created" } th scope="col" { "Last error" }
                    } }
                    tbody {
                        @for j in jobs {
                            tr {
                                td { a href=(ui.url(&format!("/jobs/{}", j.id))) { code { (j.id) } } }
                                td { span class={ "state state-" (j.state) } { (j.state) } }
                                td.num { (j.attempt) "/" (j.max_attempts) }
                                td.hide-narrow { (format::when(j.created_at)) }
                                td { @if let Some(e) = &j.last_error { (format::truncate(e, 120).0) } }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The queue's sampled counts, refreshing themselves.
fn counts(ui: &Ui, queue: &QueueName) -> Markup {
    let latest = ui.app.monitor.latest();
    let sample = latest.queues.iter().find(|s| &s.queue == queue);
    html! {
        section.card #queue-counts aria-label="Counts"
            hx-get=(ui.url(&format!("/queues/{queue}/live"))) hx-trigger={ "every " (LIVE_SECONDS) "s" } hx-swap="outerHTML" {
            div.grid {
                @for s in JobState::ALL {
                    div.figure {
                        b { @match sample { Some(q) => (count(q.counts.get(s))), None => "—" } }
                        span { (s) }
                    }
                }
            }
            @if let Some(q) = sample {
                p.muted {
                    "Sampled " (format::when(q.at)) ". Since they were first kept: "
                    (q.totals.completed) " completed, " (q.totals.dead) " dead, " (q.totals.retries) " retries."
                }
            } @else {
                p.muted { "No sample yet: counts appear after the first monitoring interval." }
            }
        }
    }
}

/// `GET …/queues/{queue}/live`: the counts alone, for htmx.
pub async fn live(State(ui): State<Ui>, _viewer: Viewer, Path(queue): Path<String>) -> Result<Response, UiError> {
    let queue = queue_name(&queue)?;
    Ok(layout::fragment(counts(&ui, &queue)))
}

/// The query of a search by unique key.
#[derive(Debug, Default, Deserialize)]
pub struct FindQuery {
    /// The unique key.
    pub key: Option<String>,
}

/// `GET …/queues/{queue}/find?key=…`: the jobs with that unique key, in
/// every state (a finished job's key is free again, so there may be
/// several): to the job when there is one, to the filtered list when more.
pub async fn find(
    State(ui): State<Ui>,
    _viewer: Viewer,
    Path(queue): Path<String>,
    Query(q): Query<FindQuery>,
) -> Result<Response, UiError> {
    let queue = queue_name(&queue)?;
    let key = q.key.unwrap_or_default();
    if key.is_empty() {
        return Err(UiError::invalid("give the unique key to look for"));
    }
    let filter = JobFilter { unique_key: Some(key.clone()), ..JobFilter::default() };
    let params = JobSearchParams { queue: queue.clone(), filter, after: None, limit: 2 };
    let found = ui.app.engine.store().job_search(params).await?;
    let to = match found.as_slice() {
        [] => return Err(UiError::not_found(format!("no job of {queue} has the unique key `{key}`"))),
        [one] => ui.url(&format!("/jobs/{}", one.id)),
        _ => ui.url(&format!("/queues/{queue}?state=any&key={}#jobs", super::encode(&key))),
    };
    Ok((StatusCode::SEE_OTHER, [(LOCATION, to)]).into_response())
}

/// `POST …/queues/{queue}/{pause|resume|retry-dead|purge-dead}`.
pub async fn act(
    State(ui): State<Ui>,
    viewer: Viewer,
    Path((queue, action)): Path<(String, String)>,
    Form(form): Form<ActionForm>,
) -> Result<Response, UiError> {
    viewer.authorize(form.csrf.as_deref(), Action::Admin)?;
    let queue = queue_name(&queue)?;
    let engine = &ui.app.engine;
    let message = match action.as_str() {
        "pause" => {
            engine.queue_set_paused(&queue, true).await?;
            "paused the queue".to_string()
        }
        "resume" => {
            engine.queue_set_paused(&queue, false).await?;
            "resumed the queue".to_string()
        }
        "retry-dead" => format!("retried {} dead job(s)", engine.dead_retry(&queue, None).await?),
        "purge-dead" => {
            if form.confirm.as_deref() != Some("purge") {
                return Err(UiError::invalid("tick the confirmation to purge the dead jobs; nothing was deleted"));
            }
            format!("purged {} dead job(s)", engine.dead_purge(&queue).await?)
        }
        _ => return Err(UiError::not_found("no such action; use pause, resume, retry-dead or purge-dead")),
    };
    audit::record(&ui, &viewer.session.key_name, &format!("queue.{action}"), queue.as_str(), message.clone()).await;
    Ok(done(&ui, &format!("/queues/{queue}"), &message))
}
