//! Errors: [`ApiError`] is what a handler answers (always the JSON [`roost_proto::ErrorBody`]
//! with a status that matches its kind); [`ServerError`] is what the library's own API
//! (start, admin helpers) returns.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use roost_proto::{ErrorBody, ErrorDetail, ErrorKind};

/// Errors of the library API (starting the server, admin helpers, the store).
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("database migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    #[error("invalid input: {0}")]
    InvalidInput(String),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}

/// An error answered to an HTTP client.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub kind: ErrorKind,
    pub message: String,
}

impl ApiError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        ApiError {
            kind,
            message: message.into(),
        }
    }
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::BadRequest, message)
    }
    /// The one answer for "no such chat" and "not a member": byte-identical on purpose, so a
    /// non-member learns nothing about a chat's existence.
    pub fn chat_not_found() -> Self {
        Self::new(ErrorKind::NotFound, "chat not found")
    }
    pub fn message_not_found() -> Self {
        Self::new(ErrorKind::NotFound, "message not found")
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
        ErrorKind::VersionConflict | ErrorKind::IdempotencyKeyReused => StatusCode::CONFLICT,
        ErrorKind::RateLimited => StatusCode::TOO_MANY_REQUESTS,
        ErrorKind::Overloaded => StatusCode::SERVICE_UNAVAILABLE,
        ErrorKind::Internal | ErrorKind::Unknown => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl From<ServerError> for ApiError {
    fn from(error: ServerError) -> Self {
        match error {
            ServerError::InvalidInput(message) => ApiError::bad_request(message),
            other => {
                // Details stay in the log; the client only learns that nothing happened.
                tracing::error!(error = %other, "internal error while handling a request");
                ApiError::internal()
            }
        }
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(error: sqlx::Error) -> Self {
        ServerError::from(error).into()
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
        response
    }
}
