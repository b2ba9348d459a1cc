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
    /// 401: no valid session (or stream token) was presented; the message says what was
    /// wrong with it (missing, expired, revoked, …), never the token.
    #[error("unauthorized: {0}")]
    Unauthorized(String),
    /// 403: the caller's role or jurisdiction does not allow this.
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// 429: too many failed logins for this account or address; retry after the seconds
    /// given (also in `Retry-After`).
    #[error("too many requests: {message}")]
    TooManyRequests {
        /// What is locked and for how long.
        message: String,
        /// Seconds until the lock ends.
        retry_after_secs: u64,
    },
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
    /// 409 `conflict` naming the fields whose values clash with stored data (a camera
    /// number another camera has), each with why, like [`ApiError::Invalid`] does.
    #[error("conflict: {message}")]
    FieldConflict {
        /// A summary.
        message: String,
        /// Each clashing field and why.
        fields: Vec<FieldProblem>,
    },
    /// 409: a command-centre rule refuses the request (a closed incident, open tasks, an
    /// illegal task transition); `code` names the rule (`closed`, `open_tasks`, ...).
    #[error("refused: {message}")]
    Refused {
        /// The rule's stable name.
        code: &'static str,
        /// What was refused and why.
        message: String,
    },
    /// 422: the request is well-formed but its values are not acceptable; every field
    /// that is wrong is named with the reason.
    #[error("invalid: {message}")]
    Invalid {
        /// A summary.
        message: String,
        /// Each wrong field and why.
        fields: Vec<FieldProblem>,
    },
    /// 502: a camera answered with an error or not at all (the message names the camera
    /// and operation, never credentials); `code` is `camera_error` or `camera_auth_failed`.
    #[error("camera failed: {message}")]
    BadGateway {
        /// `camera_error` or `camera_auth_failed`.
        code: &'static str,
        /// What failed.
        message: String,
    },
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
    /// 501: this build cannot do it (a still decoded from the stream without GStreamer).
    #[error("not implemented: {0}")]
    NotImplemented(String),
    /// 500: a bug or an unexpected failure; details go to the log only.
    #[error("internal error: {0}")]
    Internal(String),
}

/// One wrong field of a request: its path (`division.district`, `position.lat`) and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct FieldProblem {
    /// The field's path in the request.
    pub field: String,
    /// Why it is wrong.
    pub reason: String,
}

/// The body of every error answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = Error)]
pub(crate) struct ErrorBody {
    /// A stable code: the kind of error (`not_found`, `invalid`, ...) or the rule that
    /// refused the request (`closed`, `open_tasks`, `illegal_task_transition`, ...).
    error: &'static str,
    /// What went wrong, for people; never internals or credentials.
    message: String,
    /// With `invalid` (422), and with `conflict` (409) when stored data clashes with
    /// named fields (a camera number in use): each wrong field and why.
    #[serde(skip_serializing_if = "Option::is_none")]
    fields: Option<Vec<FieldProblem>>,
}

/// Seconds a client should wait before retrying a 503.
pub const RETRY_AFTER_SECS: u32 = 5;

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code, message) = match &self {
            ApiError::BadRequest(m) => (StatusCode::BAD_REQUEST, "bad_request", m.as_str()),
            ApiError::NotFound(m) => (StatusCode::NOT_FOUND, "not_found", m.as_str()),
            ApiError::Unauthorized(m) => (StatusCode::UNAUTHORIZED, "unauthorized", m.as_str()),
            ApiError::Forbidden(m) => (StatusCode::FORBIDDEN, "forbidden", m.as_str()),
            ApiError::TooManyRequests { message, .. } => (
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_requests",
                message.as_str(),
            ),
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
            ApiError::FieldConflict { message, .. } => {
                (StatusCode::CONFLICT, "conflict", message.as_str())
            }
            ApiError::Refused { code, message } => (StatusCode::CONFLICT, *code, message.as_str()),
            ApiError::Invalid { message, .. } => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid",
                message.as_str(),
            ),
            ApiError::BadGateway { code, message } => {
                (StatusCode::BAD_GATEWAY, *code, message.as_str())
            }
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
            ApiError::NotImplemented(m) => {
                (StatusCode::NOT_IMPLEMENTED, "not_implemented", m.as_str())
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
        if status == StatusCode::BAD_GATEWAY {
            tracing::warn!(error = %self, "camera request failed");
        } else if status.is_server_error() {
            tracing::error!(error = %self, "request failed");
        }
        let mut response = (
            status,
            Json(ErrorBody {
                error: code,
                message: message.to_owned(),
                fields: match &self {
                    ApiError::Invalid { fields, .. } | ApiError::FieldConflict { fields, .. } => {
                        Some(fields.clone())
                    }
                    _ => None,
                },
            }),
        )
            .into_response();
        if let ApiError::TooManyRequests {
            retry_after_secs, ..
        } = &self
        {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_secs));
        }
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"watchpost\""),
            );
        }
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

impl From<watchpost_devices::inventory::InventoryError> for ApiError {
    fn from(err: watchpost_devices::inventory::InventoryError) -> Self {
        use watchpost_devices::inventory::InventoryError as E;
        // Inventory errors name the camera and field and never carry a password; storage
        // and key errors carry internals and go to the log only.
        match err {
            E::Invalid { errors } => ApiError::Invalid {
                message: format!("invalid camera: {} field(s) rejected", errors.len().max(1)),
                fields: errors
                    .into_iter()
                    .map(|e| FieldProblem {
                        field: e.field,
                        reason: e.reason,
                    })
                    .collect(),
            },
            E::NotFound { .. } => ApiError::NotFound(err.to_string()),
            E::Conflict { .. } => ApiError::Conflict(err.to_string()),
            E::NumberTaken { .. } => ApiError::FieldConflict {
                message: err.to_string(),
                fields: vec![FieldProblem {
                    field: "number".to_owned(),
                    reason: err.to_string(),
                }],
            },
            E::PreconditionFailed { .. } => ApiError::PreconditionFailed(err.to_string()),
            E::JsonSyntax { .. } => ApiError::BadRequest(err.to_string()),
            E::Database { .. } => ApiError::Unavailable(err.to_string()),
            _ => ApiError::Internal(err.to_string()),
        }
    }
}

impl From<watchpost_devices::DevicesError> for ApiError {
    fn from(err: watchpost_devices::DevicesError) -> Self {
        use watchpost_devices::DevicesError as E;
        use watchpost_devices::onvif_camera::CameraError;
        use watchpost_media::hub::HubError;
        use watchpost_media::stills::StillError;
        match err {
            E::Inventory(e) => e.into(),
            E::Camera(CameraError::Unsupported { .. }) | E::NoOnvif { .. } | E::Disabled { .. } => {
                ApiError::Conflict(err.to_string())
            }
            // Camera errors name the camera, operation and URL (no credentials).
            E::Camera(ref e) => ApiError::BadGateway {
                code: if e.is_auth_failure() {
                    "camera_auth_failed"
                } else {
                    "camera_error"
                },
                message: err.to_string(),
            },
            E::Hub { source, .. } => source.into(),
            E::Paths(_) | E::BadAddress { .. } => ApiError::BadRequest(err.to_string()),
            E::Discovery(_) => ApiError::Internal(err.to_string()),
            E::Snapshot {
                still: Some(ref still),
                ..
            } if matches!(**still, StillError::Hub(_)) => match &**still {
                StillError::Hub(HubError::StartTimeout { .. }) => {
                    ApiError::SourceUnavailable(err.to_string())
                }
                StillError::Hub(hub) => ApiError::from(hub.clone()),
                _ => ApiError::Internal(err.to_string()),
            },
            E::Snapshot {
                still: Some(ref still),
                ..
            } if matches!(**still, StillError::Unsupported) => {
                ApiError::NotImplemented(err.to_string())
            }
            E::Snapshot { .. } => ApiError::BadGateway {
                code: "camera_error",
                message: err.to_string(),
            },
        }
    }
}

impl From<watchpost_command::incidents::StoreError> for ApiError {
    fn from(err: watchpost_command::incidents::StoreError) -> Self {
        // Store errors name the incident, task or report and the rule; database and
        // corruption errors carry internals and go to the log only.
        let message = err.to_string();
        match err.http_status() {
            422 => ApiError::Invalid {
                message: "invalid request: field(s) rejected".to_owned(),
                fields: field_problems(err.field_errors()),
            },
            404 => ApiError::NotFound(message),
            409 if err.domain_error().is_some() => ApiError::Refused {
                code: err.code(),
                message,
            },
            409 => ApiError::Conflict(message),
            412 => ApiError::PreconditionFailed(message),
            503 => ApiError::Unavailable(message),
            _ => ApiError::Internal(message),
        }
    }
}

impl From<watchpost_command::org::OrgError> for ApiError {
    fn from(err: watchpost_command::org::OrgError) -> Self {
        use watchpost_command::org::OrgError as E;
        // Organisation errors name the record and field; database, migration and
        // corruption errors carry internals and go to the log only.
        let message = err.to_string();
        match err {
            E::Invalid { ref errors, .. } => ApiError::Invalid {
                message: "invalid record: field(s) rejected".to_owned(),
                fields: field_problems(errors),
            },
            E::NotFound { .. } => ApiError::NotFound(message),
            E::Conflict { .. } => ApiError::Conflict(message),
            E::PreconditionFailed { .. } => ApiError::PreconditionFailed(message),
            E::InUse { .. } => ApiError::Refused {
                code: "in_use",
                message,
            },
            E::JsonSyntax { .. } => ApiError::BadRequest(message),
            E::Database { .. } => ApiError::Unavailable(message),
            _ => ApiError::Internal(message),
        }
    }
}

impl From<watchpost_command::walls::WallError> for ApiError {
    fn from(err: watchpost_command::walls::WallError) -> Self {
        use watchpost_command::walls::WallError as E;
        // Wall errors name the wall, monitor, scene or tour; database, migration and
        // corruption errors carry internals.
        let message = err.to_string();
        match err {
            E::Invalid { ref errors, .. } => ApiError::Invalid {
                message,
                fields: field_problems(errors),
            },
            E::NotFound { .. } => ApiError::NotFound(message),
            E::Conflict { .. } => ApiError::Conflict(message),
            E::PreconditionFailed { .. } => ApiError::PreconditionFailed(message),
            E::InUse { .. } | E::NothingToRestore { .. } | E::TourNotRunning { .. } => {
                ApiError::Refused {
                    code: err.code(),
                    message,
                }
            }
            E::Database { .. } => ApiError::Unavailable(message),
            _ => ApiError::Internal(message),
        }
    }
}

impl From<watchpost_command::access::AccessError> for ApiError {
    fn from(err: watchpost_command::access::AccessError) -> Self {
        use watchpost_command::access::AccessError as E;
        // Access errors name the user or session and never a password, hash or token;
        // database, migration and corruption errors carry internals and go to the log.
        let message = err.to_string();
        match err {
            E::Invalid { ref errors, .. } => ApiError::Invalid {
                message: "invalid request: field(s) rejected".to_owned(),
                fields: field_problems(errors),
            },
            E::NotFound { .. } => ApiError::NotFound(message),
            E::Conflict { .. } => ApiError::Conflict(message),
            E::PreconditionFailed { .. } => ApiError::PreconditionFailed(message),
            E::LastAdmin { .. } => ApiError::Refused {
                code: "last_admin",
                message,
            },
            E::SessionRejected { reason, .. } => {
                ApiError::Unauthorized(format!("the session {reason}; log in again"))
            }
            E::Database { .. } => ApiError::Unavailable(message),
            _ => ApiError::Internal(message),
        }
    }
}

/// The wrong fields of a command-module error, as the API names them.
fn field_problems(errors: &[watchpost_command::domain::FieldError]) -> Vec<FieldProblem> {
    errors
        .iter()
        .map(|e| FieldProblem {
            field: e.field.clone(),
            reason: e.reason.clone(),
        })
        .collect()
}
