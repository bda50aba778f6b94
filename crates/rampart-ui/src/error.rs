//! Failures as pages: each with the status that fits and a message that
//! says what to do, like the API's errors (internal ones are logged once
//! by `ApiError` and shown without detail). A request without a live session
//! is sent to the sign-in page instead.

use axum::extract::State;
use axum::http::StatusCode;
use axum::http::header::LOCATION;
use axum::response::{IntoResponse, Response};
use maud::html;
use rampart_core::auth::Role;
use rampart_server::api::ApiError;
use rampart_server::cron::CronError;
use rampart_server::engine::EngineError;
use rampart_store::StoreError;

use crate::Ui;
use crate::layout;

/// Why a dashboard request failed.
#[derive(Debug)]
pub enum UiError {
    /// No live session: go to the sign-in page.
    SignIn,
    /// No live session behind a fragment htmx asked for: the whole page
    /// goes to sign in (`HX-Redirect`), not the fragment's place.
    SignInFromFragment,
    /// A POST without this session's CSRF token.
    Csrf,
    /// The key's role may not do this.
    Forbidden(Role),
    /// What the API would answer (bad input, not found, store down, …).
    Api(ApiError),
}

impl UiError {
    /// A 400 saying what to change.
    pub fn invalid(message: impl Into<String>) -> UiError {
        UiError::Api(ApiError::invalid(message))
    }

    /// A 404 saying what to do instead.
    pub fn not_found(message: impl Into<String>) -> UiError {
        UiError::Api(ApiError::not_found(message))
    }

    fn status_and_message(self) -> (StatusCode, String) {
        match self {
            UiError::SignIn | UiError::SignInFromFragment => {
                (StatusCode::UNAUTHORIZED, "sign in to see this page".into())
            }
            UiError::Csrf => (
                StatusCode::FORBIDDEN,
                "this form is missing its security token or it is stale; reload the page and try again".into(),
            ),
            UiError::Forbidden(role) => (
                StatusCode::FORBIDDEN,
                format!("a key with role `{role}` may only read; sign in with an admin key to do this"),
            ),
            UiError::Api(e) => (e.status, e.message),
        }
    }

    /// The answer, with links under `prefix`.
    pub fn into_page(self, prefix: &str) -> Response {
        match self {
            UiError::SignIn => {
                return (StatusCode::SEE_OTHER, [(LOCATION, format!("{prefix}/sign-in"))]).into_response();
            }
            UiError::SignInFromFragment => {
                return (StatusCode::OK, [("hx-redirect", format!("{prefix}/sign-in"))]).into_response();
            }
            _ => {}
        }
        let (status, message) = self.status_and_message();
        let reason = status.canonical_reason().unwrap_or("Error");
        let body = html! {
            h1 { (status.as_u16()) " " (reason) }
            p.error role="alert" { (message) }
            p { a href={ (prefix) "/" } { "Back to the overview" } }
        };
        (status, layout::bare(prefix, reason, body)).into_response()
    }
}

impl IntoResponse for UiError {
    /// A placeholder carrying the error: the links of its page depend on the
    /// prefix, which [`render`] (around every dashboard route) knows.
    fn into_response(self) -> Response {
        let mut answer = StatusCode::INTERNAL_SERVER_ERROR.into_response();
        answer.extensions_mut().insert(Unrendered(std::sync::Arc::new(std::sync::Mutex::new(Some(self)))));
        answer
    }
}

/// An error answered by a handler or an extractor, not rendered yet.
#[derive(Clone)]
struct Unrendered(std::sync::Arc<std::sync::Mutex<Option<UiError>>>);

/// Renders the error a route answered as its page, under the prefix.
pub async fn render(State(ui): State<Ui>, mut answer: Response) -> Response {
    let Some(Unrendered(error)) = answer.extensions_mut().remove::<Unrendered>() else {
        return answer;
    };
    let taken = error.lock().ok().and_then(|mut e| e.take());
    match taken {
        Some(error) => error.into_page(&ui.prefix),
        None => answer,
    }
}

impl From<ApiError> for UiError {
    fn from(e: ApiError) -> Self {
        UiError::Api(e)
    }
}

impl From<EngineError> for UiError {
    fn from(e: EngineError) -> Self {
        UiError::Api(e.into())
    }
}

impl From<StoreError> for UiError {
    fn from(e: StoreError) -> Self {
        UiError::Api(e.into())
    }
}

impl From<CronError> for UiError {
    fn from(e: CronError) -> Self {
        match e {
            CronError::NotFound(_) => UiError::not_found(e.to_string()),
            CronError::InConfig(_) | CronError::Reserved(_) => UiError::invalid(e.to_string()),
            CronError::Engine(e) => e.into(),
        }
    }
}

/// The page of a path under the dashboard that is none of its pages.
pub async fn not_found(State(ui): State<Ui>) -> Response {
    UiError::not_found("no such page; start from the overview").into_page(&ui.prefix)
}
