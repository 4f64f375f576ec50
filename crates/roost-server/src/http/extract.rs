//! The extractors that turn every rejection into our JSON error: the bearer-token caller
//! ([`AuthUser`], which also charges the token's rate limit), JSON bodies ([`ApiJson`]) and query strings ([`ApiQuery`]), plus the small
//! parameter checks the handlers share.

use crate::http::AppState;
use crate::http::error::ApiError;
use crate::store::sha256_hex;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, FromRequestParts, Query, Request};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use roost_proto::{
    ChatId, DEFAULT_PAGE_SIZE, ErrorKind, MAX_CURSOR_VALUE, MAX_PAGE_SIZE, MAX_REQUEST_BODY_BYTES,
    MessageId, UserId,
};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Response header telling how many messages a response carries.
pub const MESSAGE_COUNT_HEADER: &str = "x-roost-message-count";

/// The authenticated caller (from `Authorization: Bearer <token>`), charged one request of
/// its token's rate limit.
#[derive(Debug, Clone)]
pub struct AuthUser {
    pub user_id: UserId,
    pub display_name: String,
    /// The hash of the token it authenticated with (a stream re-checks it when tokens change).
    pub token_sha256: String,
}

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, ApiError> {
        let header_value = parts
            .headers
            .get(header::AUTHORIZATION)
            .ok_or_else(ApiError::unauthorized)?;
        let text = header_value
            .to_str()
            .map_err(|_| ApiError::unauthorized())?;
        let token = text
            .strip_prefix("Bearer ")
            .or_else(|| text.strip_prefix("bearer "))
            .map(str::trim)
            .filter(|token| !token.is_empty())
            .ok_or_else(ApiError::unauthorized)?;
        let token_sha256 = sha256_hex(token.as_bytes());
        let Some((user_id, display_name)) = app.store.user_by_token_hash(&token_sha256).await?
        else {
            return Err(ApiError::unauthorized());
        };
        // Right after authentication: the token's read or write budget (429 past it).
        app.rate_limits.check(&user_id, &parts.method)?;
        Ok(AuthUser {
            user_id,
            display_name,
            token_sha256,
        })
    }
}

/// `axum::Json` with our error mapping: 415 for a missing/wrong content type, 413 over the body
/// limit, 400 `invalid_json` for bad syntax or shape.
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        match axum::Json::<T>::from_request(request, state).await {
            Ok(axum::Json(value)) => Ok(ApiJson(value)),
            Err(rejection) => Err(match rejection {
                JsonRejection::MissingJsonContentType(_) => ApiError::new(
                    ErrorKind::UnsupportedMediaType,
                    "the request body must be sent as Content-Type: application/json",
                ),
                JsonRejection::JsonDataError(error) => {
                    ApiError::new(ErrorKind::InvalidJson, error.body_text())
                }
                JsonRejection::JsonSyntaxError(error) => {
                    ApiError::new(ErrorKind::InvalidJson, error.body_text())
                }
                JsonRejection::BytesRejection(error)
                    if error.status() == StatusCode::PAYLOAD_TOO_LARGE =>
                {
                    ApiError::new(
                        ErrorKind::PayloadTooLarge,
                        format!("the request body is over {MAX_REQUEST_BODY_BYTES} bytes"),
                    )
                }
                other => ApiError::bad_request(other.body_text()),
            }),
        }
    }
}

/// `axum::Query` whose rejections (non-numeric, negative, overflowing, missing) are 400
/// `bad_request` JSON.
#[derive(Debug)]
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match Query::<T>::from_request_parts(parts, state).await {
            Ok(Query(value)) => Ok(ApiQuery(value)),
            Err(rejection) => Err(ApiError::bad_request(rejection.body_text())),
        }
    }
}

/// `axum::extract::Path` whose rejections (e.g. a percent-escape that decodes to invalid UTF-8,
/// found by `tests/fuzz_parsers.rs`) are 400 `bad_request` JSON instead of axum's plain text.
#[derive(Debug)]
pub struct ApiPath<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(ApiPath(value)),
            Err(rejection) => Err(ApiError::bad_request(rejection.body_text())),
        }
    }
}

pub(crate) fn parse_chat_id(text: &str) -> Result<ChatId, ApiError> {
    text.parse()
        .map_err(|_| ApiError::bad_request(format!("malformed chat id {text:?}: expected a UUID")))
}

pub(crate) fn parse_message_id(text: &str) -> Result<MessageId, ApiError> {
    text.parse().map_err(|_| {
        ApiError::bad_request(format!("malformed message id {text:?}: expected a UUID"))
    })
}

pub(crate) fn check_cursor(name: &str, value: Option<u64>) -> Result<(), ApiError> {
    match value {
        Some(value) if value > MAX_CURSOR_VALUE => Err(ApiError::bad_request(format!(
            "{name} {value} is over the largest cursor value {MAX_CURSOR_VALUE}"
        ))),
        _ => Ok(()),
    }
}

pub(crate) fn check_limit(limit: Option<u32>) -> Result<u32, ApiError> {
    match limit {
        None => Ok(DEFAULT_PAGE_SIZE),
        Some(0) => Err(ApiError::bad_request("limit must be at least 1")),
        Some(limit) if limit > MAX_PAGE_SIZE => Err(ApiError::new(
            ErrorKind::PageSizeTooLarge,
            format!("limit {limit} is over the cap of {MAX_PAGE_SIZE}"),
        )),
        Some(limit) => Ok(limit),
    }
}

/// A JSON response that also carries `x-roost-message-count`.
pub(crate) fn json_with_message_count<T: Serialize>(
    status: StatusCode,
    value: &T,
    message_count: usize,
) -> Response {
    let mut response = (status, axum::Json(value)).into_response();
    response.headers_mut().insert(
        MESSAGE_COUNT_HEADER,
        HeaderValue::from(message_count as u64),
    );
    response
}
