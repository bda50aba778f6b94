//! The one page shell every page renders into, and the embedded assets: our
//! stylesheet and the vendored htmx (2.0.11, 0BSD, `assets/htmx.LICENSE`),
//! both compiled into the binary, never fetched from elsewhere.
//!
//! Pages are plain HTML with forms and links, so they read and act without
//! JavaScript; htmx only refreshes the live counts in place.

use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::{Html, IntoResponse, Response};
use maud::{DOCTYPE, Markup, PreEscaped, html};

use crate::Ui;
use crate::session::Viewer;

const HTMX: &str = include_str!("../assets/htmx.min.js");
const STYLE: &str = include_str!("../assets/style.css");

/// The sections of the navigation, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    /// The overview.
    Overview,
    /// Queues and their jobs.
    Queues,
    /// Alerts.
    Alerts,
    /// Cron schedules.
    Cron,
    /// Circuit breakers.
    Breakers,
    /// Rate limits.
    Limits,
    /// Diagnostics.
    Diagnostics,
    /// The audit log.
    Audit,
}

const NAV: [(Nav, &str, &str); 7] = [
    (Nav::Overview, "/", "Overview"),
    (Nav::Alerts, "/alerts", "Alerts"),
    (Nav::Cron, "/cron", "Cron"),
    (Nav::Breakers, "/breakers", "Breakers"),
    (Nav::Limits, "/limits", "Rate limits"),
    (Nav::Diagnostics, "/diagnostics", "Diagnostics"),
    (Nav::Audit, "/audit", "Audit log"),
];

/// A whole page for a signed-in viewer: the header with the navigation and
/// sign-out, then `body` as the main content.
pub fn page(ui: &Ui, viewer: &Viewer, current: Nav, title: &str, body: Markup) -> Response {
    let prefix = &ui.prefix;
    let nav = html! {
        nav aria-label="Sections" {
            ul {
                @for (section, path, label) in NAV {
                    li {
                        @if section == current || (current == Nav::Queues && section == Nav::Overview) {
                            a href={ (prefix) (path) } aria-current="page" { (label) }
                        } @else {
                            a href={ (prefix) (path) } { (label) }
                        }
                    }
                }
            }
        }
        form.signout method="post" action={ (prefix) "/sign-out" } {
            input type="hidden" name="csrf" value=(viewer.session.csrf);
            span.who { (viewer.session.key_name) " · " (viewer.session.role) }
            button type="submit" { "Sign out" }
        }
    };
    shell(prefix, title, nav, body)
}

/// A page without a session (sign-in, errors).
pub fn bare(prefix: &str, title: &str, body: Markup) -> Response {
    shell(prefix, title, html! {}, body)
}

fn shell(prefix: &str, title: &str, header: Markup, body: Markup) -> Response {
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="referrer" content="same-origin";
                title { (title) " · rampart" }
                link rel="stylesheet" href={ (prefix) "/assets/style.css" };
                script src={ (prefix) "/assets/htmx.min.js" } defer {}
            }
            body {
                header.top {
                    a.brand href={ (prefix) "/" } { "rampart" }
                    (header)
                }
                main id="main" { (body) }
            }
        }
    };
    let mut answer = Html(markup.into_string()).into_response();
    // Pages show live state and may hold a CSRF token: never cached.
    answer.headers_mut().insert(CACHE_CONTROL, axum::http::HeaderValue::from_static("no-store"));
    answer
}

/// A fragment htmx swaps into a page (no shell).
pub fn fragment(markup: Markup) -> Response {
    let mut answer = Html(markup.into_string()).into_response();
    answer.headers_mut().insert(CACHE_CONTROL, axum::http::HeaderValue::from_static("no-store"));
    answer
}

/// The hidden CSRF field every form of a page carries.
pub fn csrf(viewer: &Viewer) -> Markup {
    html! { input type="hidden" name="csrf" value=(viewer.session.csrf); }
}

/// A button that POSTs to `action` (a path under the prefix), as a form of
/// its own so it works without JavaScript.
pub fn button(ui: &Ui, viewer: &Viewer, action: &str, label: &str, class: &str) -> Markup {
    html! {
        form.inline method="post" action=(ui.url(action)) {
            (csrf(viewer))
            button type="submit" class=(class) { (label) }
        }
    }
}

/// The flash message a redirect after an action carries (`?done=`).
pub fn notice(done: Option<&str>) -> Markup {
    html! {
        @if let Some(done) = done.filter(|d| !d.is_empty()) {
            p.notice role="status" { (done) }
        }
    }
}

/// `GET …/assets/htmx.min.js`.
pub async fn htmx() -> Response {
    asset("text/javascript; charset=utf-8", HTMX)
}

/// `GET …/assets/style.css`.
pub async fn style() -> Response {
    asset("text/css; charset=utf-8", STYLE)
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    ([(CONTENT_TYPE, content_type), (CACHE_CONTROL, "public, max-age=3600")], PreEscaped(body).0).into_response()
}
