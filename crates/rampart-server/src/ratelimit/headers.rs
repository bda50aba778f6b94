//! A decision as HTTP headers: the conventional `X-RateLimit-*` trio with
//! `Retry-After`, and the IETF draft's structured fields
//! (draft-ietf-httpapi-ratelimit-headers: `RateLimit-Policy` and `RateLimit`).
//!
//! Every duration is written in whole seconds rounded up, so a client that
//! waits what it is told is never early.

use std::time::Duration;

use axum::http::{HeaderMap, HeaderName, HeaderValue};

use super::Verdict;
use crate::config::ResetFormat;

/// `X-RateLimit-Limit`: the binding policy's limit.
pub const X_RATELIMIT_LIMIT: HeaderName = HeaderName::from_static("x-ratelimit-limit");
/// `X-RateLimit-Remaining`: what could still be admitted now.
pub const X_RATELIMIT_REMAINING: HeaderName = HeaderName::from_static("x-ratelimit-remaining");
/// `X-RateLimit-Reset`: when the counters reset, in the configured form.
pub const X_RATELIMIT_RESET: HeaderName = HeaderName::from_static("x-ratelimit-reset");
/// `RateLimit-Policy`: the binding policy's quota and window (IETF draft).
pub const RATELIMIT_POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");
/// `RateLimit`: the binding policy's remaining quota and reset (IETF draft).
pub const RATELIMIT: HeaderName = HeaderName::from_static("ratelimit");

/// A duration in whole seconds, rounded up.
pub fn ceil_secs(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

/// The headers that tell a client the verdict, with the reset written as
/// `format` says.
pub fn headers(verdict: &Verdict, format: ResetFormat) -> HeaderMap {
    let Verdict { decision, ref policy, now, .. } = *verdict;
    let reset_s = ceil_secs(decision.reset_after);
    let reset_at = now.plus(decision.reset_after);
    let reset = match format {
        ResetFormat::Seconds => reset_s.to_string(),
        // Rounded up with the rest: a client waiting until then is not early.
        ResetFormat::Epoch => reset_at.0.saturating_add(999).div_euclid(1000).to_string(),
        ResetFormat::Rfc3339 => reset_at.to_rfc3339(),
    };
    // Policy names are limited to A-Z a-z 0-9 _ . : -, so quoting them as a
    // structured-field string needs no escapes.
    let name = policy.name.as_str();
    let window_s = ceil_secs(policy.config.policy.window());
    let mut map = HeaderMap::with_capacity(6);
    map.insert(X_RATELIMIT_LIMIT, HeaderValue::from(decision.limit));
    map.insert(X_RATELIMIT_REMAINING, HeaderValue::from(decision.remaining));
    insert_text(&mut map, X_RATELIMIT_RESET, reset);
    if let Some(retry) = decision.retry_after.filter(|_| !decision.allowed) {
        map.insert(axum::http::header::RETRY_AFTER, HeaderValue::from(ceil_secs(retry)));
    }
    insert_text(&mut map, RATELIMIT_POLICY, format!("\"{name}\";q={};w={window_s}", decision.limit));
    insert_text(&mut map, RATELIMIT, format!("\"{name}\";r={};t={reset_s}", decision.remaining));
    map
}

/// Inserts a header built from text. Every text here is ASCII digits,
/// punctuation and a checked policy name, so none is refused; were one ever,
/// leaving the header out beats failing the check.
fn insert_text(map: &mut HeaderMap, name: HeaderName, text: String) {
    if let Ok(value) = HeaderValue::try_from(text) {
        map.insert(name, value);
    }
}
