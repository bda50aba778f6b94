//! rampart's own API under its own rate limits (`[ratelimit.api]`): one
//! middleware around every route, the open ones and the fallback included.
//!
//! Each request makes exactly one in-memory check, before its route runs:
//!
//! - it carries a key this node verified in the last few seconds (the
//!   authenticator's cache): against `per_key`, on the key's id; the route's
//!   [`Auth`](super::extract::Auth) then takes the key from the request
//!   instead of looking it up again;
//! - anything else — no key, a wrong key, a key not verified yet — against
//!   `per_ip`, on the client IP (`X-Forwarded-For` believed from
//!   `trusted_proxies` only). So a key is never looked up in the store
//!   before its address has paid for it: guessing keys, or a client stuck on
//!   a revoked one, is slowed down without costing the store anything.
//!   Requests arriving with a key another request is looking up wait for
//!   that lookup (up to 2 s) instead of each paying: a client opening a
//!   hundred requests at once, or at once as the cache expires, pays once.
//!
//! Webhook intake (`/in/…`) is left out: it carries no key, comes in
//! bursts from a provider's few addresses, and each source may name a
//! policy of its own.
//!
//! Over the limit, the answer is `429 RATE_LIMITED` with the rate-limit
//! headers (`Retry-After` among them) and a message saying what to do.
//! Answers within the limit carry no extra headers: the check and gate
//! routes answer with the headers of the policy they were asked about, which
//! must not be confused with these, and leaving them out keeps every other
//! answer as small as it was.

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rampart_core::duration::format_duration;

use super::extract::{VerifiedKey, bearer};
use super::{ApiError, AppState};
use crate::auth::Joined;
use crate::ratelimit::Verdict;
use crate::ratelimit::client_ip::{client_ip, peer_addr};
use crate::ratelimit::headers::{ceil_secs, headers};
use crate::ratelimit::own::PER_KEY;

/// The middleware: one check, then the route or a `429`.
pub(super) async fn own_limits(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let limits = &state.own_limits;
    // Webhook intake carries no key and arrives in bursts from a provider's
    // few addresses: its signature authenticates it, and a source limits
    // itself with its own `ratelimit` policy.
    if !limits.enabled() || req.uri().path().starts_with("/in/") {
        return next.run(req).await;
    }
    let joined = match bearer(req.headers()) {
        Some(token) => state.auth.join(token).await,
        None => Joined::Unverified,
    };
    let (verdict, lead) = match joined {
        Joined::Verified(key) => {
            let verdict = limits.check_key(key.id);
            req.extensions_mut().insert(VerifiedKey(key));
            (verdict, None)
        }
        unverified => {
            let peer = peer_addr(req.extensions());
            let ip = peer.map(|peer| client_ip(peer.ip(), req.headers(), limits.trusted_proxies()));
            let lead = match unverified {
                Joined::Lead(lead) => Some(lead),
                _ => None,
            };
            (limits.check_ip(ip), lead)
        }
    };
    if verdict.decision.allowed {
        // The lead wakes its waiters once its route looked the key up, or
        // at the latest when the request ends.
        let answer = next.run(req).await;
        drop(lead);
        return answer;
    }
    let mut answer = rate_limited(&verdict).into_response();
    answer.headers_mut().extend(headers(&verdict, limits.reset_format()));
    answer
}

/// The error of a request over one of the two limits, saying what to do.
fn rate_limited(verdict: &Verdict) -> ApiError {
    let decision = verdict.decision;
    let policy = verdict.policy.policy();
    let wait = ceil_secs(decision.retry_after.unwrap_or(decision.reset_after));
    let allows = format!("{} requests per {}", policy.limit(), format_duration(policy.window()));
    let message = if verdict.policy.name.as_str() == PER_KEY {
        format!(
            "this API key sent more requests than rampart allows one key (ratelimit.api.per_key: {allows}); \
             retry after {wait}s (Retry-After) and slow the client down, or raise the limit in the server's \
             configuration"
        )
    } else {
        format!(
            "too many requests from this address without a verified API key (ratelimit.api.per_ip: {allows}); \
             send a valid key as `Authorization: Bearer <key>` and retry after {wait}s (Retry-After)"
        )
    };
    ApiError::new(StatusCode::TOO_MANY_REQUESTS, "RATE_LIMITED", message)
}
