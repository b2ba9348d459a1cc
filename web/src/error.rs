//! The one place where errors become HTTP responses.
//!
//! Handlers return `Result<_, ApiError>`. The body is `{"error": code, "message": text}`;
//! internal errors are logged with their full context and answered with a generic message,
//! so no SQL, path or credential ever reaches a client.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// An error as the API reports it.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: the request is malformed; the message says how.
    #[error("bad request: {0}")]
    BadRequest(String),
    /// 404: the route or object does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// 405: the resource exists but does not support this method; the message says why.
    #[error("method not allowed: {0}")]
    MethodNotAllowed(String),
    /// 406: nothing the camera sends is acceptable to the client (WHEP codec negotiation).
    #[error("not acceptable: {0}")]
    NotAcceptable(String),
    /// 415: the body is not of the required media type.
    #[error("unsupported media type: {0}")]
    UnsupportedMediaType(String),
    /// 412: a precondition (`If-Match`) does not hold; the message says which.
    #[error("precondition failed: {0}")]
    PreconditionFailed(String),
    /// 409: the request conflicts with the current state.
    #[error("conflict: {0}")]
    Conflict(String),
    /// 504: a camera did not start in time; the message (no credentials) says why.
    #[error("camera not ready: {0}")]
    CameraTimeout(String),
    /// 503: the camera behind a path did not become ready within the start timeout (the
    /// message, without credentials, says why). WHEP answers this instead of 504.
    #[error("source unavailable: {0}")]
    SourceUnavailable(String),
    /// 503: a dependency (the database) is down; the client should retry after a while.
    #[error("service unavailable: {0}")]
    Unavailable(String),
    /// 500: a bug or an unexpected failure; details go to the log only.
    #[error("internal error: {0}")]
    Internal(String),
}

#[derive(Serialize)]
struct Body<'a> {
    error: &'a str,
    message: &'a str,
}

/// Seconds a client should wait before retrying a 503.
pub const RETRY_AFTER_SECS: u32 = 5;

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code, message) = match &self {
            ApiError::BadRequest(m) => (StatusCode::BAD_REQUEST, "bad_request", m.as_str()),
            ApiError::NotFound(m) => (StatusCode::NOT_FOUND, "not_found", m.as_str()),
            ApiError::MethodNotAllowed(m) => (
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                m.as_str(),
            ),
            ApiError::NotAcceptable(m) => {
                (StatusCode::NOT_ACCEPTABLE, "not_acceptable", m.as_str())
            }
            ApiError::UnsupportedMediaType(m) => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                m.as_str(),
            ),
            ApiError::Conflict(m) => (StatusCode::CONFLICT, "conflict", m.as_str()),
            ApiError::PreconditionFailed(m) => (
                StatusCode::PRECONDITION_FAILED,
                "precondition_failed",
                m.as_str(),
            ),
            ApiError::SourceUnavailable(m) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "source_unavailable",
                m.as_str(),
            ),
            ApiError::CameraTimeout(m) => {
                (StatusCode::GATEWAY_TIMEOUT, "camera_timeout", m.as_str())
            }
            ApiError::Unavailable(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "a dependency is unavailable; retry later",
            ),
            ApiError::Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "internal error; see the server log",
            ),
        };
        if status.is_server_error() {
            tracing::error!(error = %self, "request failed");
        }
        let mut response = (
            status,
            Json(Body {
                error: code,
                message,
            }),
        )
            .into_response();
        if matches!(
            status,
            StatusCode::SERVICE_UNAVAILABLE | StatusCode::GATEWAY_TIMEOUT
        ) {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
        }
        response
    }
}

impl From<watchpost_media::hub::HubError> for ApiError {
    fn from(err: watchpost_media::hub::HubError) -> Self {
        use watchpost_media::hub::HubError;
        // Hub errors are written for operators: they name the path and never carry
        // credentials (sources redact their URLs), so their text is safe to return.
        match err {
            HubError::NotFound { .. } => ApiError::NotFound(err.to_string()),
            HubError::InvalidPath { .. } => ApiError::BadRequest(err.to_string()),
            HubError::Exists { .. } => ApiError::Conflict(err.to_string()),
            HubError::StartTimeout { .. } => ApiError::CameraTimeout(err.to_string()),
            HubError::Closed => ApiError::Unavailable(err.to_string()),
        }
    }
}
