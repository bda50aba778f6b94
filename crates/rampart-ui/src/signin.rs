//! Signing in with an API key and out again, and the limit on wrong keys:
//! five from one client address within 15 minutes, then a wait. The address
//! is read as the API's own limits read it (`X-Forwarded-For` believed from
//! `ratelimit.trusted_proxies` only), and counted in memory with the same
//! limiter the API's limits use.

use std::time::Duration;

use axum::Form;
use axum::extract::State;
use axum::http::header::{LOCATION, SET_COOKIE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use rampart_core::auth::Action;
use rampart_core::time::SharedClock;
use rampart_limit::memory::{MemoryLimiter, PolicyId};
use rampart_limit::policy::{Algorithm, Policy};
use rampart_server::auth::hash_key;
use rampart_server::ratelimit::client_ip::client_ip;
use serde::Deserialize;

use crate::Ui;
use crate::audit;
use crate::error::UiError;
use crate::layout;
use crate::session::{Peer, Viewer, cookie_token, is_secure, set_cookie};

/// Wrong keys allowed from one address per window.
pub const WRONG_KEYS: u64 = 5;
/// The window.
pub const WRONG_KEY_WINDOW: Duration = Duration::from_secs(15 * 60);
/// Addresses tracked at most (the limiter evicts beyond).
const MAX_ADDRESSES: usize = 100_000;

/// Wrong keys counted per client address.
pub struct SignInLimits {
    memory: MemoryLimiter,
    policy: Policy,
    clock: SharedClock,
}

impl SignInLimits {
    /// No wrong keys yet.
    pub fn new(clock: SharedClock) -> SignInLimits {
        let policy = Policy::new(WRONG_KEYS, WRONG_KEY_WINDOW, Algorithm::FixedWindow, None)
            .expect("5 per 15 minutes is a valid policy");
        SignInLimits { memory: MemoryLimiter::new(MAX_ADDRESSES), policy, clock }
    }

    fn nanos(&self) -> u64 {
        u64::try_from(self.clock.now().0).unwrap_or(0).saturating_mul(1_000_000)
    }

    /// How long `address` must wait before trying again, if it used up its
    /// wrong keys.
    fn blocked(&self, address: &str) -> Option<Duration> {
        let decision = self.memory.peek(PolicyId(0), &self.policy, address, self.nanos())?;
        (decision.remaining == 0).then_some(decision.reset_after)
    }

    fn count_wrong(&self, address: &str) {
        self.memory.check(PolicyId(0), &self.policy, address, 1, self.nanos());
    }
}

/// The sign-in form.
#[derive(Debug, Deserialize)]
pub struct SignInForm {
    /// The API key.
    #[serde(default)]
    pub key: String,
}

/// `GET …/sign-in`.
pub async fn form(State(ui): State<Ui>) -> Response {
    sign_in_page(&ui, StatusCode::OK, None)
}

fn sign_in_page(ui: &Ui, status: StatusCode, problem: Option<&str>) -> Response {
    let body: Markup = html! {
        section.card.signin {
            h1 { "Sign in" }
            p.muted { "Use an API key. Its role decides what you can do here: a reader sees everything and changes nothing." }
            @if let Some(problem) = problem {
                p.error role="alert" id="signin-error" { (problem) }
            }
            form method="post" action=(ui.url("/sign-in")) {
                div.field {
                    label for="key" { "API key" }
                    input #key type="password" name="key" autocomplete="current-password" required
                        aria-describedby=[problem.map(|_| "signin-error")] autofocus;
                }
                button.primary type="submit" { "Sign in" }
            }
        }
    };
    (status, layout::bare(&ui.prefix, "Sign in", body)).into_response()
}

/// The address wrong keys count against.
fn client(ui: &Ui, headers: &HeaderMap, peer: Peer) -> String {
    match peer.0 {
        Some(peer) => client_ip(peer.ip(), headers, ui.app.own_limits.trusted_proxies()).to_string(),
        None => "unknown".to_string(),
    }
}

/// `POST …/sign-in`: a valid key starts a session; a wrong one counts.
pub async fn submit(
    State(ui): State<Ui>,
    peer: Peer,
    headers: HeaderMap,
    Form(form): Form<SignInForm>,
) -> Result<Response, UiError> {
    let address = client(&ui, &headers, peer);
    if let Some(wait) = ui.limits.blocked(&address) {
        let minutes = wait.as_secs().div_ceil(60).max(1);
        let message = format!(
            "too many wrong keys from this address; try again in {minutes} minute(s), with a key from `rampart keys create`"
        );
        return Ok(sign_in_page(&ui, StatusCode::TOO_MANY_REQUESTS, Some(&message)));
    }
    let key = form.key.trim();
    let hash = hash_key(key);
    let found = if key.is_empty() { None } else { ui.app.engine.store().api_key_find(hash.clone()).await? };
    let Some(record) = found.filter(|k| k.role.allows(Action::Read)) else {
        ui.limits.count_wrong(&address);
        let message = "that key is not valid (unknown or revoked); check it and try again";
        return Ok(sign_in_page(&ui, StatusCode::UNAUTHORIZED, Some(message)));
    };
    let token = ui.sessions.start(hash, record.name.clone(), record.role);
    audit::record(&ui, &record.name, "session.sign_in", "dashboard", format!("role {}", record.role)).await;
    let cookie = set_cookie(&ui, Some(&token), is_secure(&ui, &headers, peer));
    Ok((StatusCode::SEE_OTHER, [(LOCATION, ui.url("/")), (SET_COOKIE, cookie)]).into_response())
}

/// The sign-out form: only its CSRF token.
#[derive(Debug, Deserialize)]
pub struct CsrfForm {
    /// The session's CSRF token.
    pub csrf: Option<String>,
}

/// `POST …/sign-out`: ends the session here, on the server, and clears the cookie.
pub async fn sign_out(
    State(ui): State<Ui>,
    viewer: Viewer,
    peer: Peer,
    headers: HeaderMap,
    Form(form): Form<CsrfForm>,
) -> Result<Response, UiError> {
    // Every role may sign out; the token still proves the form is ours.
    viewer.authorize(form.csrf.as_deref(), Action::Read)?;
    if let Some(token) = cookie_token(&headers) {
        ui.sessions.end(token);
    }
    audit::record(&ui, &viewer.session.key_name, "session.sign_out", "dashboard", String::new()).await;
    let cookie = set_cookie(&ui, None, is_secure(&ui, &headers, peer));
    Ok((StatusCode::SEE_OTHER, [(LOCATION, ui.url("/sign-in")), (SET_COOKIE, cookie)]).into_response())
}
