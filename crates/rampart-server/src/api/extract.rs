//! The extractors every route uses: [`Body`] for JSON requests, read
//! strictly, with errors that name the field, and [`Auth`], the one place roles are checked (it
//! takes the key the API's own rate limits found verified, when they did,
//! instead of looking it up again).

use std::marker::PhantomData;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use rampart_core::auth::Action;
use rampart_store::ApiKeyRecord;
use serde::de::DeserializeOwned;

use super::AppState;
use super::error::ApiError;
use super::json::{self, JsonError};
use crate::connection::BodyTimeout;

/// A JSON request body, read strictly ([`super::json`]). An empty body
/// reads as `{}`, so requests whose fields are all optional need no body.
/// A body must say it is JSON (`Content-Type: application/json` or
/// `application/*+json`) or say nothing: a body sent as another type
/// answers 415.
pub struct Body<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let content_type = req.headers().get(CONTENT_TYPE).cloned();
        let bytes = Bytes::from_request(req, state).await.map_err(|e| match e {
            BytesRejection::FailedToBufferBody(f) if f.status() == StatusCode::PAYLOAD_TOO_LARGE => ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "BODY_TOO_LARGE",
                format!(
                    "the request body is larger than max_body_bytes ({} bytes); send smaller batches",
                    state.max_body_bytes
                ),
            ),
            other => match find_source::<BodyTimeout>(&other) {
                Some(timeout) => ApiError::new(StatusCode::REQUEST_TIMEOUT, "REQUEST_TIMEOUT", timeout.to_string()),
                None => ApiError::invalid(format!("cannot read the request body: {other}")),
            },
        })?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return parse(b"{}").map(Body);
        }
        if let Some(content_type) = content_type.filter(|t| !is_json(t)) {
            let shown: String = String::from_utf8_lossy(content_type.as_bytes()).chars().take(100).collect();
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "UNSUPPORTED_MEDIA_TYPE",
                format!("the request body is sent as `{shown}`; send JSON with `Content-Type: application/json`"),
            ));
        }
        parse(&bytes).map(Body)
    }
}

/// Whether a `Content-Type` names JSON: `application/json` or
/// `application/<anything>+json`, with any parameters, in any case.
fn is_json(content_type: &HeaderValue) -> bool {
    let Ok(text) = content_type.to_str() else { return false };
    let essence = text.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    essence == "application/json" || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// The first error of type `E` in `e`'s chain of sources.
fn find_source<'a, E: std::error::Error + 'static>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a E> {
    let mut next = Some(e);
    while let Some(error) = next {
        if let Some(found) = error.downcast_ref::<E>() {
            return Some(found);
        }
        next = error.source();
    }
    None
}

/// Parses one JSON value strictly ([`super::json`]), naming the path of a
/// bad field in the error.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    json::from_slice(bytes).map_err(|JsonError { path, error }| {
        if error.is_syntax() || error.is_eof() {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "INVALID_JSON",
                format!("the request body is not valid JSON: {error}; send one JSON value"),
            )
        } else if path == "." {
            ApiError::invalid(format!("invalid request: {error}"))
        } else {
            ApiError::invalid(format!("invalid field `{path}`: {error}"))
        }
    })
}

/// What a route needs the caller's key to allow.
pub trait Permission: Send + Sync + 'static {
    /// The action.
    const ACTION: Action;
}

macro_rules! permission {
    ($name:ident, $action:expr, $doc:literal) => {
        #[doc = $doc]
        pub struct $name;
        impl Permission for $name {
            const ACTION: Action = $action;
        }
    };
}

permission!(Read, Action::Read, "Reading jobs, queues and metrics.");
permission!(Enqueue, Action::Enqueue, "Adding jobs.");
permission!(Work, Action::Work, "Leasing and acknowledging jobs.");
permission!(RateLimit, Action::RateLimit, "Checking rate limits.");
permission!(Admin, Action::Admin, "Changing what exists.");
permission!(Report, Action::Report, "Reporting the app's own state (its integrations).");

/// The bearer token of a request (`Authorization: Bearer <key>`), if any.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let header = headers.get(axum::http::header::AUTHORIZATION)?.to_str().ok()?;
    let token = header.strip_prefix("Bearer ").or_else(|| header.strip_prefix("bearer "))?.trim();
    (!token.is_empty()).then_some(token)
}

/// The key of a request that the API's own rate limits found verified (in
/// the authenticator's cache) before the route ran, so [`Auth`] need not
/// look it up again.
#[derive(Debug, Clone)]
pub(crate) struct VerifiedKey(pub(crate) ApiKeyRecord);

/// The caller's key, checked to allow `P`. The only auth check of the API.
pub struct Auth<P: Permission> {
    /// The key that made the request.
    pub key: ApiKeyRecord,
    _p: PhantomData<P>,
}

impl<P: Permission> FromRequestParts<AppState> for Auth<P> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let key = match parts.extensions.remove::<VerifiedKey>() {
            Some(VerifiedKey(key)) => key,
            None => {
                let Some(token) = bearer(&parts.headers) else {
                    return Err(crate::auth::AuthError::Missing.into());
                };
                state.auth.authenticate(token).await?
            }
        };
        if !key.role.allows(P::ACTION) {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "FORBIDDEN",
                format!("a key with role `{}` may not do this; it needs a role allowed to {:?}", key.role, P::ACTION),
            ));
        }
        Ok(Auth { key, _p: PhantomData })
    }
}
