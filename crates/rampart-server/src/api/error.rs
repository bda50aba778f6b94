//! [`ApiError`]: every non-2xx answer, as `{"error": {"code", "message"}}`.
//!
//! User errors carry their message to the client. Internal errors answer a
//! fixed body and are logged once, with the request id from the span.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::auth::AuthError;
use crate::engine::EngineError;
use crate::ratelimit::LimitError;
use rampart_client::wire::{ErrorBody, ErrorDetail};
use rampart_core::step::StepLimit;
use rampart_store::StoreError;

/// An error answer.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable code.
    pub code: &'static str,
    /// For people.
    pub message: String,
}

impl ApiError {
    /// An error with a status, code and message.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError { status, code, message: message.into() }
    }

    /// 400 with a message naming the bad field.
    pub fn invalid(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "INVALID_REQUEST", message)
    }

    /// 404.
    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "NOT_FOUND", message)
    }

    fn internal() -> ApiError {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "INTERNAL",
            "an internal error occurred; the server logged it with this request's x-request-id",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody { error: ErrorDetail { code: self.code.to_string(), message: self.message } };
        (self.status, axum::Json(body)).into_response()
    }
}

impl From<rampart_core::nul::NulError> for ApiError {
    fn from(e: rampart_core::nul::NulError) -> Self {
        ApiError::invalid(e.to_string())
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(m) => {
                tracing::warn!(error = %m, "store unavailable");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "STORE_UNAVAILABLE",
                    "the store is unavailable right now; retry shortly",
                )
            }
            StoreError::NotWritable(m) => {
                tracing::warn!(error = %m, "store cannot write");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "STORE_UNAVAILABLE",
                    "the store cannot write right now (its disk is full or read-only); retry later",
                )
            }
            StoreError::Invalid(m) => ApiError::invalid(m),
            StoreError::NotFound => ApiError::not_found("not found"),
            StoreError::LeaseLost => EngineError::LeaseLost.into(),
            StoreError::InvalidState(s) => EngineError::InvalidState(s).into(),
            StoreError::Conflict(m) => ApiError::new(StatusCode::CONFLICT, "CONFLICT", m),
            StoreError::StepLimit(limit) => {
                let message = limit.to_string();
                match limit {
                    StepLimit::TooMany => ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "TOO_MANY_STEPS", message),
                    StepLimit::StateTooLarge => {
                        ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "STEP_STATE_TOO_LARGE", message)
                    }
                }
            }
            StoreError::Internal(m) => {
                tracing::error!(error = %m, "store error");
                ApiError::internal()
            }
        }
    }
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> Self {
        let message = e.to_string();
        match e {
            EngineError::Invalid(_) => ApiError::invalid(message),
            EngineError::PayloadTooLarge { .. } => {
                ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE", message)
            }
            EngineError::JobNotFound(_) => ApiError::new(StatusCode::NOT_FOUND, "JOB_NOT_FOUND", message),
            EngineError::QueueNotFound(_) => ApiError::new(StatusCode::NOT_FOUND, "QUEUE_NOT_FOUND", message),
            EngineError::QueueNotEmpty { .. } => ApiError::new(StatusCode::CONFLICT, "QUEUE_NOT_EMPTY", message),
            EngineError::LeaseLost => ApiError::new(StatusCode::CONFLICT, "LEASE_LOST", message),
            EngineError::InvalidState(_) => ApiError::new(StatusCode::CONFLICT, "INVALID_STATE", message),
            EngineError::Conflict(_) => ApiError::new(StatusCode::CONFLICT, "CONFLICT", message),
            EngineError::Store(s) => s.into(),
        }
    }
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::Store(s) => s.into(),
            other => ApiError::new(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", other.to_string()),
        }
    }
}

impl From<LimitError> for ApiError {
    fn from(e: LimitError) -> Self {
        let message = e.to_string();
        match e {
            LimitError::PolicyNotFound(_) => ApiError::new(StatusCode::NOT_FOUND, "POLICY_NOT_FOUND", message),
            LimitError::Invalid(_) => ApiError::invalid(message),
            LimitError::BackendUnavailable(_) => {
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "BACKEND_UNAVAILABLE", message)
            }
        }
    }
}
