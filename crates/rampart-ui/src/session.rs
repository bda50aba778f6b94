//! Sign-in sessions: an API key exchanged for a random session token kept
//! in a cookie (`HttpOnly`, `SameSite=Strict`, `Secure` behind TLS, expiring).
//!
//! Sessions live in this node's memory: a restart signs everyone out, which
//! costs an operator one sign-in and keeps no session secret on disk. The
//! map holds the SHA-256 of each token, never the token, and the hash of
//! the key, never the key. Every request looks the key up again by that
//! hash (one indexed read), so revoking a key ends its sessions at once,
//! on every node. Each session has its own CSRF token, which every POST
//! must carry.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::FromRequestParts;
use axum::http::HeaderMap;
use axum::http::header::COOKIE;
use axum::http::request::Parts;
use rampart_core::auth::{Action, Role};
use rampart_core::time::{SharedClock, UnixMillis};
use rampart_server::ratelimit::client_ip::peer_addr;
use sha2::{Digest, Sha256};

use crate::Ui;
use crate::error::UiError;

/// The cookie's name.
pub const COOKIE_NAME: &str = "rampart_session";
/// The most sessions kept at once; past it the oldest are dropped, so a
/// flood of sign-ins cannot grow memory without bound.
const MAX_SESSIONS: usize = 10_000;

/// One signed-in session.
#[derive(Debug, Clone)]
pub struct Session {
    /// The SHA-256 of the key it signed in with, as the store keeps it.
    pub key_hash: String,
    /// The key's name, written to the audit log.
    pub key_name: String,
    /// The key's role when it signed in (checked again on every request).
    pub role: Role,
    /// The token every POST of this session must carry.
    pub csrf: String,
    /// When it ends.
    pub expires_at: UnixMillis,
}

/// The sessions of this node; cheap to clone.
#[derive(Clone)]
pub struct Sessions {
    by_token_hash: Arc<Mutex<HashMap<String, Session>>>,
    ttl: Duration,
    clock: SharedClock,
}

impl Sessions {
    /// No sessions; each lasts `ttl` after sign-in.
    pub fn new(ttl: Duration, clock: SharedClock) -> Sessions {
        Sessions { by_token_hash: Arc::default(), ttl, clock }
    }

    /// How long a session lasts.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Starts a session for a key; answers its token, for the cookie.
    pub fn start(&self, key_hash: String, key_name: String, role: Role) -> String {
        let token = random_token();
        let now = self.clock.now();
        let session = Session { key_hash, key_name, role, csrf: random_token(), expires_at: now.plus(self.ttl) };
        if let Ok(mut map) = self.by_token_hash.lock() {
            map.retain(|_, s| s.expires_at > now);
            if map.len() >= MAX_SESSIONS
                && let Some(oldest) = map.iter().min_by_key(|(_, s)| s.expires_at).map(|(k, _)| k.clone())
            {
                map.remove(&oldest);
            }
            map.insert(digest(&token), session);
        }
        token
    }

    /// The live session of a token, if any (an expired one is dropped).
    pub fn get(&self, token: &str) -> Option<Session> {
        let mut map = self.by_token_hash.lock().ok()?;
        let hash = digest(token);
        let session = map.get(&hash)?.clone();
        if session.expires_at <= self.clock.now() {
            map.remove(&hash);
            return None;
        }
        Some(session)
    }

    /// Ends a session (sign-out, or its key found revoked).
    pub fn end(&self, token: &str) {
        if let Ok(mut map) = self.by_token_hash.lock() {
            map.remove(&digest(token));
        }
    }
}

/// 32 random bytes, hex.
fn random_token() -> String {
    hex::encode(rand::random::<[u8; 32]>())
}

fn digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// The session token a request's cookie carries, if any.
pub fn cookie_token(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE_NAME)
        .map(|(_, value)| value)
        .filter(|v| !v.is_empty())
}

/// The peer address of a request (its connection's), when known.
#[derive(Debug, Clone, Copy)]
pub struct Peer(pub Option<SocketAddr>);

impl<S: Send + Sync> FromRequestParts<S> for Peer {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Peer(peer_addr(&parts.extensions)))
    }
}

/// Whether the request reached us over TLS: only a trusted proxy's
/// `X-Forwarded-Proto: https` says so (rampart itself serves plain HTTP).
pub fn is_secure(ui: &Ui, headers: &HeaderMap, peer: Peer) -> bool {
    let trusted = peer
        .0
        .is_some_and(|a| ui.app.own_limits.trusted_proxies().iter().any(|net| net.contains(a.ip().to_canonical())));
    trusted
        && headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.split(',').next().is_some_and(|p| p.trim().eq_ignore_ascii_case("https")))
}

/// The `Set-Cookie` value of a session: the token, or an expired empty one
/// to clear it (`None`).
pub fn set_cookie(ui: &Ui, token: Option<&str>, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    let path = &ui.prefix;
    match token {
        Some(token) => format!(
            "{COOKIE_NAME}={token}; Path={path}; HttpOnly; SameSite=Strict; Max-Age={}{secure}",
            ui.sessions.ttl().as_secs()
        ),
        None => format!("{COOKIE_NAME}=; Path={path}; HttpOnly; SameSite=Strict; Max-Age=0{secure}"),
    }
}

/// The signed-in viewer of a page: its session, its key checked to still
/// be live. Without one, the request is sent to the sign-in page.
#[derive(Debug, Clone)]
pub struct Viewer {
    /// The session.
    pub session: Session,
}

impl Viewer {
    /// Whether the viewer's role allows `action` (what decides which
    /// buttons a page shows).
    pub fn may(&self, action: Action) -> bool {
        self.session.role.allows(action)
    }

    /// Checks a state-changing request: its CSRF token is the session's and
    /// the role allows `action`, the same permission the API route needs.
    pub fn authorize(&self, csrf: Option<&str>, action: Action) -> Result<(), UiError> {
        let given = csrf.unwrap_or_default().as_bytes();
        let want = self.session.csrf.as_bytes();
        // Compared without an early exit, so the time taken says nothing.
        let same = given.len() == want.len() && given.iter().zip(want).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0;
        if !same {
            return Err(UiError::Csrf);
        }
        if !self.may(action) {
            return Err(UiError::Forbidden(self.session.role));
        }
        Ok(())
    }
}

impl FromRequestParts<Ui> for Viewer {
    type Rejection = UiError;

    async fn from_request_parts(parts: &mut Parts, ui: &Ui) -> Result<Self, Self::Rejection> {
        let sign_in =
            if parts.headers.contains_key("hx-request") { UiError::SignInFromFragment } else { UiError::SignIn };
        let Some(token) = cookie_token(&parts.headers) else {
            return Err(sign_in);
        };
        let Some(session) = ui.sessions.get(token) else {
            return Err(sign_in);
        };
        // The key as the store has it now: revoked, it is gone.
        match ui.app.engine.store().api_key_find(session.key_hash.clone()).await? {
            Some(key) => Ok(Viewer { session: Session { role: key.role, ..session } }),
            None => {
                ui.sessions.end(token);
                Err(sign_in)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use axum::http::HeaderValue;
    use rampart_core::time::ManualClock;

    use super::*;

    fn sessions(clock: &Arc<ManualClock>) -> Sessions {
        Sessions::new(Duration::from_secs(3600), clock.clone())
    }

    #[test]
    fn a_session_lasts_its_ttl_and_ends_when_told() {
        let clock = Arc::new(ManualClock::new(UnixMillis(1_800_000_000_000)));
        let sessions = sessions(&clock);
        let token = sessions.start("hash".into(), "ops".into(), Role::Reader);
        let session = sessions.get(&token).unwrap();
        assert_eq!((session.key_name.as_str(), session.role), ("ops", Role::Reader));
        assert_eq!(session.csrf.len(), 64);
        assert_ne!(session.csrf, token, "the CSRF token is not the session's");
        assert!(sessions.get("not-a-token").is_none());
        clock.advance(Duration::from_secs(3599));
        assert!(sessions.get(&token).is_some());
        clock.advance(Duration::from_secs(1));
        assert!(sessions.get(&token).is_none(), "expired at its ttl");

        let other = sessions.start("hash".into(), "ops".into(), Role::Admin);
        sessions.end(&other);
        assert!(sessions.get(&other).is_none());
    }

    #[test]
    fn the_map_keeps_hashes_of_tokens_and_stays_bounded() {
        let clock = Arc::new(ManualClock::new(UnixMillis(1_800_000_000_000)));
        let sessions = sessions(&clock);
        let first = sessions.start("h".into(), "a".into(), Role::Reader);
        {
            let map = sessions.by_token_hash.lock().unwrap();
            assert!(!map.contains_key(&first), "the token itself is never kept");
        }
        for _ in 0..MAX_SESSIONS {
            clock.advance(Duration::from_millis(1));
            sessions.start("h".into(), "a".into(), Role::Reader);
        }
        assert_eq!(sessions.by_token_hash.lock().unwrap().len(), MAX_SESSIONS);
        assert!(sessions.get(&first).is_none(), "the oldest made room");
    }

    #[test]
    fn the_cookie_is_read_among_others() {
        let mut headers = HeaderMap::new();
        headers.append(COOKIE, HeaderValue::from_static("theme=dark; rampart_session=abc123; x=1"));
        assert_eq!(cookie_token(&headers), Some("abc123"));
        let mut empty = HeaderMap::new();
        empty.append(COOKIE, HeaderValue::from_static("rampart_session="));
        assert_eq!(cookie_token(&empty), None);
        assert_eq!(cookie_token(&HeaderMap::new()), None);
    }
}
