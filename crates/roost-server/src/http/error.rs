//! [`ApiError`]: what a handler answers — always the JSON [`roost_proto::ErrorBody`] with the
//! status that matches its kind. The one place that maps [`DomainError`] and [`ServerError`] to
//! the protocol's error kinds.

use crate::error::{DomainError, ServerError};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use roost_proto::{ErrorBody, ErrorDetail, ErrorKind};

/// An error answered to an HTTP client.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub kind: ErrorKind,
    pub message: String,
    /// Seconds for the `Retry-After` header (`rate_limited`, `overloaded`).
    pub retry_after_secs: Option<u64>,
}

impl ApiError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        ApiError {
            kind,
            message: message.into(),
            retry_after_secs: None,
        }
    }
    /// `kind` (`rate_limited` or `overloaded`) answered with `Retry-After: secs` (at least 1).
    pub fn retry_after(kind: ErrorKind, message: impl Into<String>, secs: u64) -> Self {
        ApiError {
            retry_after_secs: Some(secs.max(1)),
            ..Self::new(kind, message)
        }
    }
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::BadRequest, message)
    }
    pub fn unauthorized() -> Self {
        Self::new(ErrorKind::Unauthorized, "missing or invalid bearer token")
    }
    pub fn internal() -> Self {
        Self::new(
            ErrorKind::Internal,
            "internal server error; the request had no effect",
        )
    }

    pub fn status(&self) -> StatusCode {
        status_for_kind(self.kind)
    }
}

/// The HTTP status each error kind is answered with (PROTOCOL.md lists the same table).
pub fn status_for_kind(kind: ErrorKind) -> StatusCode {
    match kind {
        ErrorKind::BadRequest | ErrorKind::InvalidJson => StatusCode::BAD_REQUEST,
        ErrorKind::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ErrorKind::PageSizeTooLarge => StatusCode::BAD_REQUEST,
        ErrorKind::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        ErrorKind::Unauthorized => StatusCode::UNAUTHORIZED,
        ErrorKind::NotFound => StatusCode::NOT_FOUND,
        ErrorKind::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
        ErrorKind::Forbidden => StatusCode::FORBIDDEN,
        ErrorKind::VersionConflict
        | ErrorKind::IdempotencyKeyReused
        | ErrorKind::TooManyMembers => StatusCode::CONFLICT,
        ErrorKind::RateLimited => StatusCode::TOO_MANY_REQUESTS,
        ErrorKind::Overloaded => StatusCode::SERVICE_UNAVAILABLE,
        ErrorKind::Internal | ErrorKind::Unknown => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl From<DomainError> for ApiError {
    fn from(error: DomainError) -> Self {
        let kind = match &error {
            DomainError::ChatNotFound
            | DomainError::MessageNotFound
            | DomainError::MemberNotFound => ErrorKind::NotFound,
            DomainError::NotAuthor { .. } | DomainError::NotCreator => ErrorKind::Forbidden,
            DomainError::TooManyMembers { .. } => ErrorKind::TooManyMembers,
            DomainError::EditOfDeleted | DomainError::VersionMismatch { .. } => {
                ErrorKind::VersionConflict
            }
            DomainError::IdempotencyKeyReused => ErrorKind::IdempotencyKeyReused,
            DomainError::InvalidInput(_) => ErrorKind::BadRequest,
            DomainError::Internal(_) => {
                // Details stay in the log; the client only learns that nothing happened.
                tracing::error!(%error, "internal error while handling a request");
                return ApiError::internal();
            }
        };
        ApiError::new(kind, error.to_string())
    }
}

impl From<ServerError> for ApiError {
    fn from(error: ServerError) -> Self {
        match error {
            ServerError::InvalidInput(message) => ApiError::bad_request(message),
            other => DomainError::Internal(other).into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let body = ErrorBody {
            error: ErrorDetail {
                kind: self.kind,
                message: self.message,
            },
        };
        let mut response = (status, axum::Json(body)).into_response();
        if self.kind == ErrorKind::Unauthorized {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let Some(secs) = self.retry_after_secs {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}
