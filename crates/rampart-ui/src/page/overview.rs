//! The overview: system health, firing alerts, every queue with its counts
//! and a sparkline of its recent throughput, breakers that are not closed and
//! the latest failed cron runs.
//!
//! Counts come from the sampler's latest sample set (what `/metrics` shows),
//! trends from the monitor's in-memory history: the page runs no count query.
//! The queue table refreshes itself every few seconds through htmx.

use std::collections::BTreeMap;

use axum::extract::{Query, State};
use axum::response::Response;
use maud::{Markup, html};
use rampart_core::alert::AlertState;
use rampart_core::breaker::BreakerState;
use rampart_core::id::QueueName;
use rampart_core::job::JobState;
use rampart_server::monitoring::QueueSample;
use rampart_store::AlertListParams;
use rampart_store::QueueCounts;

use super::Done;
use crate::Ui;
use crate::error::UiError;
use crate::format::{self, count, sparkline};
use crate::layout::{self, Nav};
use crate::session::Viewer;

/// How often live counts refresh, in seconds.
pub const LIVE_SECONDS: u32 = 5;
/// Firing alerts listed at most.
const ALERTS_SHOWN: u32 = 10;

/// `GET …/`.
pub async fn show(State(ui): State<Ui>, viewer: Viewer, Query(done): Query<Done>) -> Result<Response, UiError> {
    let store = ui.app.engine.store();
    let firing =
        store.alert_list(AlertListParams { state: Some(AlertState::Firing), before: None, limit: ALERTS_SHOWN });
    let (firing, breakers, cron) = tokio::join!(firing, ui.app.shared_breakers.list(), ui.app.cron.list());
    let (firing, breakers, cron) = (firing?, breakers?, cron?);
    let now = ui.app.engine.now();
    let open: Vec<_> = breakers
        .into_iter()
        .filter(|b| b.machine.state_at(ui.app.shared_breakers.policy(b.name.as_str()), now) != BreakerState::Closed)
        .collect();
    let failed_cron: Vec<_> = cron
        .into_iter()
        .filter_map(|c| c.last_run.filter(|r| matches!(r.status, JobState::Dead | JobState::Cancelled)))
        .collect();
    let latest = ui.app.monitor.latest();
    let failing_channels = ui.app.alerting.health.failing();
    let body = html! {
        h1 { "Overview" }
        (layout::notice(done.done.as_deref()))
        section.card aria-labelledby="health" {
            h2 #health { "Health" }
            div.grid {
                div.figure { b { (firing.len()) } span { "alerts firing" } }
                div.figure { b { (open.len()) } span { "breakers not closed" } }
                div.figure {
                    b { (format!("{:.1} ms", latest.store_latency_ms)) }
                    span { "store latency" }
                }
                div.figure {
                    b { (failing_channels.len()) }
                    span { "alert channels failing" }
                }
            }
            @if let Some(at) = latest.at {
                p.muted { "Sampled " (format::when(at)) "." }
            } @else {
                p.muted { "No sample yet: counts appear after the first monitoring interval." }
            }
        }
        section aria-labelledby="queues" {
            h2 #queues { "Queues" }
            form.actions method="get" action=(ui.url("/jobs")) role="search" {
                label for="job-id" { "Find a job by id" }
                input #job-id type="search" name="id" placeholder="job id" required;
                button type="submit" { "Open" }
            }
            (queue_table(&ui).await?)
        }
        section aria-labelledby="firing" {
            h2 #firing { "Firing alerts" }
            @if firing.is_empty() {
                p.muted { "None." }
            } @else {
                ul {
                    @for a in &firing {
                        li {
                            span.state.state-firing { "firing" } " "
                            a href=(ui.url(&format!("/alerts#alert-{}", a.id))) { (a.rule) " on " (a.subject) }
                            " since " (format::when(a.started_at))
                            @if a.acked_at.is_some() { " · acknowledged" }
                        }
                    }
                }
            }
        }
        section aria-labelledby="open-breakers" {
            h2 #open-breakers { "Breakers not closed" }
            @if open.is_empty() {
                p.muted { "None: every breaker is closed." }
            } @else {
                ul {
                    @for b in &open {
                        li { a href=(ui.url("/breakers")) { (b.name) } " " (b.machine.state()) " since " (format::when(b.machine.since())) }
                    }
                }
            }
        }
        section aria-labelledby="cron-failures" {
            h2 #cron-failures { "Latest cron failures" }
            @if failed_cron.is_empty() {
                p.muted { "None: every schedule's last run did not fail." }
            } @else {
                ul {
                    @for r in &failed_cron {
                        li {
                            a href=(ui.url("/cron")) { (r.name) } " " (r.status) " at " (format::when(r.enqueued_at))
                            @if let Some(e) = &r.error { ": " (format::truncate(e, 200).0) }
                        }
                    }
                }
            }
        }
    };
    Ok(layout::page(&ui, &viewer, Nav::Overview, "Overview", body))
}

/// `GET …/live/overview`: the queue table alone, for htmx to swap in.
pub async fn live(State(ui): State<Ui>, _viewer: Viewer) -> Result<Response, UiError> {
    Ok(layout::fragment(queue_table(&ui).await?))
}

/// Every known queue with its sampled counts and trends; refreshes itself.
async fn queue_table(ui: &Ui) -> Result<Markup, UiError> {
    let known = ui.app.engine.store().queue_list().await?;
    let latest = ui.app.monitor.latest();
    let counts: BTreeMap<&QueueName, &QueueCounts> = latest.queues.iter().map(|s| (&s.queue, &s.counts)).collect();
    let shown = [JobState::Available, JobState::Active, JobState::Scheduled, JobState::Dead];
    Ok(html! {
        div.table-wrap #queue-table hx-get=(ui.url("/live/overview")) hx-trigger={ "every " (LIVE_SECONDS) "s" }
            hx-swap="outerHTML" {
            table {
                caption.muted { "Counts as last sampled; they refresh every " (LIVE_SECONDS) " seconds." }
                thead {
                    tr {
                        th scope="col" { "Queue" }
                        @for s in shown { th.num scope="col" { (s) } }
                        th.hide-narrow scope="col" { "Completed per interval" }
                        th.hide-narrow scope="col" { "p95 run time" }
                    }
                }
                tbody {
                    @for q in &known {
                        tr {
                            th scope="row" {
                                a href=(ui.url(&format!("/queues/{}", q.name))) { (q.name) }
                                @if q.paused { " " span.state { "paused" } }
                            }
                            @for s in shown {
                                td.num {
                                    @match counts.get(&q.name) {
                                        Some(c) => (count(c.get(s))),
                                        None => span.muted { "—" },
                                    }
                                }
                            }
                            @let history = ui.app.monitor.history(&q.name).unwrap_or_default();
                            td.hide-narrow { (throughput(&history)) }
                            td.hide-narrow { (latency(&history)) }
                        }
                    }
                    @if known.is_empty() {
                        tr { td colspan="7" { "No queues yet: enqueue a job and its queue appears here." } }
                    }
                }
            }
        }
    })
}

/// Jobs completed per sampling interval, from the monitor's history.
fn throughput(history: &[QueueSample]) -> Markup {
    let points: Vec<f64> =
        history.windows(2).map(|w| w[1].totals.completed.saturating_sub(w[0].totals.completed) as f64).collect();
    sparkline(&points, "completed per interval")
}

/// The 95th percentile run time of each interval's attempts, in milliseconds.
fn latency(history: &[QueueSample]) -> Markup {
    let points: Vec<f64> = history.iter().map(|s| s.p95_processing_ms).collect();
    sparkline(&points, "p95 run time in ms")
}
