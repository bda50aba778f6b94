//! rampart-ui: the dashboard, server-rendered by the same binary and served
//! on the API's listener under a prefix (`[ui] prefix`, `/ui` by default).
//!
//! It is another client of the engine, never a second path around it: every
//! page reads through the calls the API's handlers make (`Engine`, `Store`,
//! `Monitor`, `Cron`, the breakers), and every button runs the same call the
//! matching API route runs, allowed to the same roles. Counts come from the
//! figures monitoring already keeps (the sampler's latest sample set), lists
//! are pages by keyset cursor, and no page counts rows per view.
//!
//! Layout:
//! - [`session`]: sign-in sessions kept in memory (cookie, CSRF token,
//!   expiry, the key checked on every request so a revoked key ends them).
//! - [`signin`]: the sign-in form, sign-out, and the limit on wrong keys.
//! - [`layout`]: the one page shell (navigation, the vendored htmx, our CSS)
//!   and the assets, embedded in the binary.
//! - [`format`]: how figures, times, JSON and sparklines are shown.
//! - [`error`]: failures as pages (and the redirect to sign in).
//! - [`page`]: one module per page, each with its own actions.
//! - [`audit`]: the audit log every action writes to.
//! - [`bulk`]: bulk actions by filter, run in the background in batches,
//!   with their progress.

pub mod audit;
pub mod bulk;
pub mod error;
pub mod format;
pub mod layout;
pub mod page;
pub mod session;
pub mod signin;

use std::sync::Arc;

use axum::Router;
use axum::response::Redirect;
use axum::routing::{get, post};
use rampart_config::UiConfig;
use rampart_server::api::AppState;

use crate::bulk::Bulks;
use crate::session::Sessions;
use crate::signin::SignInLimits;

/// What every dashboard handler reaches; cheap to clone.
#[derive(Clone)]
pub struct Ui(Arc<UiInner>);

/// The parts of [`Ui`].
pub struct UiInner {
    /// The API's state: the engine, store, monitor, cron and breakers.
    pub app: AppState,
    /// Signed-in sessions.
    pub sessions: Sessions,
    /// Wrong keys per client address.
    pub limits: SignInLimits,
    /// Bulk actions started on this node, with their progress.
    pub bulks: Bulks,
    /// Where the dashboard is mounted (`/ui`), for links.
    pub prefix: String,
}

impl std::ops::Deref for Ui {
    type Target = UiInner;

    fn deref(&self) -> &UiInner {
        &self.0
    }
}

impl Ui {
    /// A path of the dashboard: `path` (starting with `/`) under the prefix.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.prefix)
    }
}

/// The dashboard's routes under `config.prefix`, to mount beside the API
/// (`Server::mount`).
pub fn router(app: AppState, config: &UiConfig) -> Router<AppState> {
    let clock = app.engine.clock().clone();
    let ui = Ui(Arc::new(UiInner {
        sessions: Sessions::new(config.session_ttl, clock.clone()),
        limits: SignInLimits::new(clock),
        bulks: Bulks::default(),
        prefix: config.prefix.clone(),
        app,
    }));
    let prefix = config.prefix.clone();
    let at = |path: &str| format!("{prefix}{path}");
    let home = at("/");
    Router::new()
        .route(&at(""), get(move || async move { Redirect::to(&home) }))
        .route(&at("/"), get(page::overview::show))
        .route(&at("/live/overview"), get(page::overview::live))
        .route(&at("/assets/htmx.min.js"), get(layout::htmx))
        .route(&at("/assets/style.css"), get(layout::style))
        .route(&at("/sign-in"), get(signin::form).post(signin::submit))
        .route(&at("/sign-out"), post(signin::sign_out))
        .route(&at("/queues/{queue}"), get(page::queue::show))
        .route(&at("/queues/{queue}/live"), get(page::queue::live))
        .route(&at("/queues/{queue}/find"), get(page::queue::find))
        .route(&at("/queues/{queue}/bulk"), get(page::bulk::confirm).post(page::bulk::start))
        .route(&at("/queues/{queue}/{action}"), post(page::queue::act))
        .route(&at("/bulk/{id}"), get(page::bulk::show))
        .route(&at("/bulk/{id}/live"), get(page::bulk::live))
        .route(&at("/jobs"), get(page::job::search))
        .route(&at("/jobs/{id}"), get(page::job::show))
        .route(&at("/jobs/{id}/{action}"), post(page::job::act))
        .route(&at("/alerts"), get(page::alerts::show))
        .route(&at("/alerts/silence"), post(page::alerts::silence))
        .route(&at("/alerts/{id}/ack"), post(page::alerts::ack))
        .route(&at("/cron"), get(page::cron::show))
        .route(&at("/cron/{name}/{action}"), post(page::cron::act))
        .route(&at("/breakers"), get(page::breakers::show))
        .route(&at("/breakers/{name}/reset"), post(page::breakers::reset))
        .route(&at("/limits"), get(page::limits::show))
        .route(&at("/diagnostics"), get(page::diagnostics::show))
        .route(&at("/audit"), get(page::audit::show))
        // Below every other path of the dashboard: a page saying so, not the API's JSON.
        .route(&at("/{*rest}"), get(error::not_found).post(error::not_found))
        .layer(axum::middleware::map_response_with_state(ui.clone(), error::render))
        .with_state(ui)
}
