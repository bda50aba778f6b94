//! `GET /v1/ratelimit/gate/{policy}`: a rate-limit decision for a proxy's
//! sub-request (nginx `auth_request`, Traefik `forwardAuth`, Caddy
//! `forward_auth`, Envoy `ext_authz`), keyed on the request as the policy's
//! `key` says.
//!
//! - `ip`: the client IP ([`client_ip`]: the peer, or from a trusted proxy
//!   the client it names in `X-Forwarded-For`);
//! - `header:NAME`: that header's value (`400` naming it when missing);
//! - `api_key`: the id of the API key the sub-request carries (never the
//!   secret).
//!
//! It counts cost 1 and answers `204` with the rate-limit headers, or, when
//! denied, `429` with the headers and the `RATE_LIMIT_EXCEEDED` body.
//! nginx's `auth_request` turns any status but 2xx, 401 and 403 into a 500,
//! so `?deny_status=403` makes a denial answer `403` (same headers, same
//! body) for nginx to map back to a real `429`; see
//! `docs/nginx/rampart-gate.conf`.

use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use rampart_client::endpoint::RATELIMIT_GATE;

use super::extract::{Auth, RateLimit};
use super::route::Routes;
use super::{ApiError, AppState};
use crate::config::KeySource;
use crate::ratelimit::client_ip::{client_ip, peer_addr};
use crate::ratelimit::headers::headers;
use crate::ratelimit::layer::exceeded;
use crate::ratelimit::{CheckInput, LimitError};

pub(super) fn router() -> Routes {
    Routes::new().add(RATELIMIT_GATE, ratelimit_gate)
}

async fn ratelimit_gate(
    State(state): State<AppState>,
    auth: Auth<RateLimit>,
    Path(name): Path<String>,
    req: Request,
) -> Result<Response, ApiError> {
    let deny_status = deny_status(req.uri().query())?;
    let policy = state.limiter.policy(&name)?;
    let key = match &policy.config.key {
        KeySource::Ip => {
            let Some(peer) = peer_addr(req.extensions()) else {
                // Never from `rampart serve`, which serves with connect info.
                tracing::error!("the gate keys on the client IP, but the request has no peer address");
                return Err(ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "INTERNAL",
                    "the server does not know the client's address; serve the API with connect info",
                ));
            };
            client_ip(peer.ip(), req.headers(), state.own_limits.trusted_proxies()).to_string()
        }
        KeySource::ApiKey => auth.key.id.to_string(),
        KeySource::Header(header) => {
            let bad = |problem: &str| {
                ApiError::invalid(format!(
                    "header `{header}` {problem}: policy `{name}` counts on it (key = \"header:{header}\"); \
                     have the proxy send it on the sub-request"
                ))
            };
            match req.headers().get(header).map(|v| std::str::from_utf8(v.as_bytes())) {
                Some(Ok(value)) if !value.trim().is_empty() => value.trim().to_string(),
                Some(Ok(_)) => return Err(bad("is empty")),
                Some(Err(_)) => return Err(bad("is not UTF-8 text")),
                None => return Err(bad("is missing")),
            }
        }
    };
    let input = CheckInput { field: "", policy: &name, key: &key, cost: 1 };
    let verdict = state.limiter.check(&[input]).await.map_err(|e| match e {
        // The key came from the request, not from a field.
        LimitError::Invalid(why) => ApiError::invalid(format!(
            "the key taken from the request (key = \"{}\") is refused: {why}",
            policy.config.key
        )),
        other => other.into(),
    })?;
    let format = state.limiter.reset_format();
    if verdict.decision.allowed {
        Ok((StatusCode::NO_CONTENT, headers(&verdict, format)).into_response())
    } else {
        Ok(exceeded(&verdict, format, deny_status))
    }
}

/// The status of a denial: `429`, or `deny_status` from the query (`429` or
/// `403`, for proxies that accept no other).
fn deny_status(query: Option<&str>) -> Result<StatusCode, ApiError> {
    let mut status = StatusCode::TOO_MANY_REQUESTS;
    for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        match name {
            "deny_status" => {
                status = match value {
                    "429" => StatusCode::TOO_MANY_REQUESTS,
                    "403" => StatusCode::FORBIDDEN,
                    _ => {
                        return Err(ApiError::invalid(format!(
                            "invalid query parameter `deny_status`: {value:?} is not 429 or 403"
                        )));
                    }
                }
            }
            _ => {
                return Err(ApiError::invalid(format!(
                    "unknown query parameter `{name}`: the gate takes only `deny_status` (429 or 403)"
                )));
            }
        }
    }
    Ok(status)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deny_status_is_429_or_403() {
        assert_eq!(deny_status(None).unwrap(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(deny_status(Some("")).unwrap(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(deny_status(Some("deny_status=403")).unwrap(), StatusCode::FORBIDDEN);
        assert_eq!(deny_status(Some("deny_status=429&")).unwrap(), StatusCode::TOO_MANY_REQUESTS);
        for (query, needle) in [
            ("deny_status=500", "`deny_status`"),
            ("deny_status=", "`deny_status`"),
            ("deny_status", "`deny_status`"),
            ("status=403", "`status`"),
        ] {
            let e = deny_status(Some(query)).unwrap_err();
            assert_eq!(e.status, StatusCode::BAD_REQUEST, "{query}");
            assert!(e.message.contains(needle), "{query}: {}", e.message);
        }
    }
}
