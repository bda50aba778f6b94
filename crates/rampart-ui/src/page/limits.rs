//! Rate limits: every policy in force with its algorithm, limit, window,
//! backend and what it allowed and denied on this node, and the Redis
//! backend's status with how often checks fell back to `on_backend_error`.

use axum::extract::State;
use axum::response::Response;
use maud::html;
use rampart_core::duration::format_duration;

use crate::Ui;
use crate::error::UiError;
use crate::format;
use crate::layout::{self, Nav};
use crate::session::Viewer;

/// `GET …/limits`.
pub async fn show(State(ui): State<Ui>, viewer: Viewer) -> Result<Response, UiError> {
    let limiter = &ui.app.limiter;
    let policies = limiter.policies();
    let body = html! {
        h1 { "Rate limits" }
        section.card aria-labelledby="redis" {
            h2 #redis { "Redis" }
            @match limiter.redis() {
                None => p { "Not configured: every policy counts in this node's memory." },
                Some(redis) => {
                    @let health = redis.health();
                    p {
                        @if redis.is_up() { span.state.state-ok { "up" } } @else { span.state.state-open { "down" } }
                        @if let Some(since) = health.since { " since " (format::when(since)) }
                        " · " (redis.failures()) " failed calls"
                    }
                    @if let Some(e) = &health.last_error { pre.error { (e) } }
                    p.muted { "While Redis is down, each policy decides by its on_backend_error setting (fallback)." }
                }
            }
        }
        h2 { "Policies" }
        div.table-wrap { table {
            thead { tr {
                th scope="col" { "Policy" } th scope="col" { "Algorithm" } th.num scope="col" { "Limit" }
                th scope="col" { "Window" } th scope="col" { "Backend" } th scope="col" { "Source" }
                th.num scope="col" { "Allowed" } th.num scope="col" { "Denied" } th.num scope="col" { "Fallbacks" }
            } }
            tbody {
                @for p in policies.iter() {
                    tr {
                        th scope="row" { code { (p.name) } }
                        td { (p.policy().algorithm()) }
                        td.num { (p.policy().limit()) }
                        td { (format_duration(p.policy().window())) }
                        td { (p.backend) }
                        td { (p.source) }
                        td.num { (p.allowed()) }
                        td.num { (p.denied()) }
                        td.num { (p.fallbacks()) }
                    }
                }
            }
        } }
        @if policies.iter().next().is_none() { p.muted { "No policies: add `[ratelimit.policies.NAME]` or use `rampart ratelimit put`." } }
        p.muted { "Allowed and denied count this node's checks since it started." }
    };
    Ok(layout::page(&ui, &viewer, Nav::Limits, "Rate limits", body))
}
