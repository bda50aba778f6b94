//! Bulk actions by filter, in three steps that each work without
//! JavaScript: a confirmation page (`GET …/queues/{queue}/bulk?action=…&
//! <filter>`) stating how many jobs match and what happens to them, the
//! confirmed POST that starts the run in the background, and the run's
//! progress page (`…/bulk/{id}`), which reloads itself while the run goes
//! on (a `Refresh` header; htmx swaps it in place when scripts run). The
//! start and the end of each run are in the audit log.

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::HeaderValue;
use axum::http::StatusCode;
use axum::http::header::LOCATION;
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use rampart_core::auth::Action;
use rampart_store::JobSearchParams;
use serde::Deserialize;

use super::filter::FilterQuery;
use super::queue::queue_name;
use crate::Ui;
use crate::audit;
use crate::bulk::{self, BulkAction, BulkRun, BulkStart};
use crate::error::UiError;
use crate::format;
use crate::layout::{self, Nav};
use crate::session::Viewer;

/// Matching jobs counted before a run, at most: past it the page says "more than".
const COUNT_CAP: u64 = 100_000;
/// Seconds between reloads of a running run's page.
const REFRESH_SECONDS: u32 = 2;

/// The query of the confirmation page, and the confirmed form.
#[derive(Debug, Default, Deserialize)]
pub struct BulkQuery {
    /// `retry`, `cancel` or `purge`.
    pub action: Option<String>,
    /// The session's CSRF token (the form).
    pub csrf: Option<String>,
    /// The confirmation checkbox (the form).
    pub confirm: Option<String>,
    /// Which jobs.
    #[serde(flatten)]
    pub filter: FilterQuery,
}

fn action_of(q: &BulkQuery) -> Result<BulkAction, UiError> {
    BulkAction::parse(q.action.as_deref().unwrap_or_default())
        .ok_or_else(|| UiError::invalid("`action` must be retry, cancel or purge"))
}

async fn matching(ui: &Ui, queue: &str, q: &BulkQuery) -> Result<(u64, bool), UiError> {
    let params =
        JobSearchParams { queue: queue_name(queue)?, filter: q.filter.filter()?, after: None, limit: bulk::BATCH };
    let n = ui.app.engine.store().job_search_count(params, COUNT_CAP + 1).await?;
    Ok((n.min(COUNT_CAP), n > COUNT_CAP))
}

fn how_many(matched: (u64, bool)) -> String {
    match matched {
        (n, true) => format!("more than {n}"),
        (n, false) => n.to_string(),
    }
}

/// `GET …/queues/{queue}/bulk?action=…&<filter>`: the confirmation.
pub async fn confirm(
    State(ui): State<Ui>,
    viewer: Viewer,
    Path(queue): Path<String>,
    Query(q): Query<BulkQuery>,
) -> Result<Response, UiError> {
    if !viewer.may(Action::Admin) {
        return Err(UiError::Forbidden(viewer.session.role));
    }
    let action = action_of(&q)?;
    let matched = matching(&ui, &queue, &q).await?;
    let words = q.filter.describe();
    let back = format!("/queues/{queue}?{}#jobs", q.filter.query(None));
    let body = html! {
        h1 { "Bulk " (action.as_str()) " in " code { (queue) } }
        section.card {
            p { strong { (how_many(matched)) } " job(s) of " code { (queue) } " match: " (words) "." }
            p { "Of those, " (action.applies_to()) ". The server does it in the background, "
                (bulk::BATCH) " jobs at a time; the next page shows its progress." }
            @if matched.0 == 0 {
                p.muted { "Nothing to do." }
            } @else {
                form method="post" action=(ui.url(&format!("/queues/{queue}/bulk"))) {
                    (layout::csrf(&viewer))
                    input type="hidden" name="action" value=(action.as_str());
                    (hidden_filter(&q.filter))
                    div.field {
                        input #confirm-bulk type="checkbox" name="confirm" value="yes" required;
                        " "
                        label for="confirm-bulk" style="display:inline" { "Yes, " (action.as_str()) " them" }
                    }
                    button type="submit" class=(if action == BulkAction::Retry { "primary" } else { "danger" }) {
                        "Start: " (action.as_str()) " " (how_many(matched)) " job(s)"
                    }
                }
            }
            p { a href=(ui.url(&back)) { "Back to the queue" } }
        }
    };
    Ok(layout::page(&ui, &viewer, Nav::Queues, &format!("Bulk {} in {queue}", action.as_str()), body))
}

/// The filter's given fields as hidden inputs of the confirmed form.
fn hidden_filter(filter: &FilterQuery) -> Markup {
    html! { @for (name, value) in filter.pairs(None) { input type="hidden" name=(name) value=(value); } }
}

/// `POST …/queues/{queue}/bulk`: starts the confirmed run.
pub async fn start(
    State(ui): State<Ui>,
    viewer: Viewer,
    Path(queue): Path<String>,
    Form(q): Form<BulkQuery>,
) -> Result<Response, UiError> {
    viewer.authorize(q.csrf.as_deref(), Action::Admin)?;
    let action = action_of(&q)?;
    if q.confirm.as_deref() != Some("yes") {
        return Err(UiError::invalid("tick the confirmation to start the bulk action; nothing was done"));
    }
    let matched = matching(&ui, &queue, &q).await?;
    let words = q.filter.describe();
    let actor = viewer.session.key_name.clone();
    let queue = queue_name(&queue)?;
    let detail = format!("started on {} job(s): {words}", how_many(matched));
    let run =
        BulkStart { action, queue: queue.clone(), filter: q.filter.filter()?, words, actor: actor.clone(), matched };
    // Recorded before the run starts, so its end never precedes it in the log.
    audit::record(&ui, &actor, &format!("bulk.{}", action.as_str()), queue.as_str(), detail).await;
    let id = bulk::start(&ui, run);
    Ok((StatusCode::SEE_OTHER, [(LOCATION, ui.url(&format!("/bulk/{id}")))]).into_response())
}

fn progress(ui: &Ui, run: &BulkRun) -> Markup {
    let live = run.finished_at.is_none();
    html! {
        section.card #bulk-progress aria-live="polite"
            hx-get=[live.then(|| ui.url(&format!("/bulk/{}/live", run.id)))]
            hx-trigger=[live.then(|| format!("every {REFRESH_SECONDS}s"))] hx-swap=[live.then_some("outerHTML")] {
            @if live {
                p { strong { "Running…" } " This page reloads every " (REFRESH_SECONDS) " seconds." }
            } @else if let Some(error) = &run.error {
                p.error role="alert" { (error) }
            } @else {
                p.notice role="status" { "Finished " (format::when_opt(run.finished_at)) "." }
            }
            @let matched = how_many((run.matched, run.capped));
            progress max=(run.matched.max(1)) value=((run.done + run.skipped).min(run.matched)) {
                (run.done + run.skipped) " of " (matched)
            }
            dl.facts {
                dt { "Matched at the start" } dd { (matched) }
                dt { "Jobs " (run.action.done()) } dd { (run.done) }
                dt { "Skipped" } dd { (run.skipped) " " span.muted { "(" (run.action.applies_to()) ")" } }
                dt { "Started" } dd { (format::when(run.started_at)) " by " (run.actor) }
            }
        }
    }
}

fn run_of(ui: &Ui, id: &str) -> Result<BulkRun, UiError> {
    id.parse::<u64>().ok().and_then(|id| ui.bulks.get(id)).ok_or_else(|| {
        UiError::not_found(
            "no such bulk action on this node (runs are kept in memory, the last 100); see the audit log",
        )
    })
}

/// `GET …/bulk/{id}`: a run's progress.
pub async fn show(State(ui): State<Ui>, viewer: Viewer, Path(id): Path<String>) -> Result<Response, UiError> {
    let run = run_of(&ui, &id)?;
    let body = html! {
        h1 { "Bulk " (run.action.as_str()) " in " a href=(ui.url(&format!("/queues/{}", run.queue))) { code { (run.queue) } } }
        p { "Jobs: " (run.filter) "." }
        (progress(&ui, &run))
    };
    let mut page = layout::page(&ui, &viewer, Nav::Queues, &format!("Bulk {}", run.action.as_str()), body);
    if run.finished_at.is_none()
        && let Ok(refresh) = HeaderValue::from_str(&REFRESH_SECONDS.to_string())
    {
        // Without scripts, the browser reloads the page itself.
        page.headers_mut().insert("refresh", refresh);
    }
    Ok(page)
}

/// `GET …/bulk/{id}/live`: the progress alone, for htmx.
pub async fn live(State(ui): State<Ui>, _viewer: Viewer, Path(id): Path<String>) -> Result<Response, UiError> {
    Ok(layout::fragment(progress(&ui, &run_of(&ui, &id)?)))
}
