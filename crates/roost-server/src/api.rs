//! The HTTP API under `/v1/`: the router, the extractors that turn every rejection into our
//! JSON error (auth, JSON body, query string), the handlers, and the observing middleware that
//! logs each request and feeds [`crate::metrics::Metrics`].

use crate::error::ApiError;
use crate::service::AppCore;
use crate::store::{ChangesRead, ReadPage};
use axum::Router;
use axum::body::Body;
use axum::extract::rejection::JsonRejection;
use axum::extract::{
    DefaultBodyLimit, FromRequest, FromRequestParts, MatchedPath, Path, Query, Request, State,
};
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch};
use roost_proto::{
    ChangesQuery, ChangesResponse, ChatId, ChatListResponse, CreateChatRequest, DEFAULT_PAGE_SIZE,
    EditRequest, ErrorKind, MAX_CURSOR_VALUE, MAX_IDEMPOTENCY_KEY_LEN, MAX_MESSAGE_BODY_BYTES,
    MAX_PAGE_SIZE, MAX_REQUEST_BODY_BYTES, MeResponse, MessageId, MessageResponse,
    PROTOCOL_VERSION, RangeQuery, SendRequest, UserId,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::sync::Arc;
use std::time::Instant;

pub type AppState = Arc<AppCore>;

/// Response header telling how many messages a response carries.
pub const MESSAGE_COUNT_HEADER: &str = "x-roost-message-count";

pub fn router(app: AppState) -> Router {
    Router::new()
        .route("/v1/health", get(health))
        .route("/v1/me", get(me))
        .route("/v1/chats", get(list_chats).post(create_chat))
        .route("/v1/chats/{chat_id}", get(get_chat))
        .route(
            "/v1/chats/{chat_id}/messages",
            get(get_messages).post(send_message),
        )
        .route(
            "/v1/chats/{chat_id}/messages/{message_id}",
            patch(edit_message).delete(delete_message),
        )
        .route("/v1/chats/{chat_id}/changes", get(get_changes))
        .route("/v1/chats/{chat_id}/digests", get(crate::digest::get_digests))
        .route("/v1/stream", get(crate::stream::stream_handler))
        .fallback(route_not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_REQUEST_BODY_BYTES))
        .layer(axum::middleware::from_fn_with_state(app.clone(), observe))
        .with_state(app)
}

// ------------------------------------------------------------------------------- extractors

/// The authenticated caller (from `Authorization: Bearer <token>`).
#[derive(Debug, Clone)]
pub struct AuthUser {
    pub user_id: UserId,
    pub display_name: String,
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
        match app.store.user_by_token(token).await? {
            Some((user_id, display_name)) => Ok(AuthUser {
                user_id,
                display_name,
            }),
            None => Err(ApiError::unauthorized()),
        }
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

fn parse_chat_id(text: &str) -> Result<ChatId, ApiError> {
    text.parse()
        .map_err(|_| ApiError::bad_request(format!("malformed chat id {text:?}: expected a UUID")))
}

fn parse_message_id(text: &str) -> Result<MessageId, ApiError> {
    text.parse().map_err(|_| {
        ApiError::bad_request(format!("malformed message id {text:?}: expected a UUID"))
    })
}

fn check_cursor(name: &str, value: Option<u64>) -> Result<(), ApiError> {
    match value {
        Some(value) if value > MAX_CURSOR_VALUE => Err(ApiError::bad_request(format!(
            "{name} {value} is over the largest cursor value {MAX_CURSOR_VALUE}"
        ))),
        _ => Ok(()),
    }
}

fn check_limit(limit: Option<u32>) -> Result<u32, ApiError> {
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
fn json_with_message_count<T: Serialize>(
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

// ------------------------------------------------------------------------------- handlers

/// `GET /v1/health` (a struct, so the keys keep the documented order).
#[derive(Debug, Serialize)]
struct HealthResponse {
    status: &'static str,
    protocol: u32,
}

async fn health() -> Response {
    axum::Json(HealthResponse {
        status: "ok",
        protocol: PROTOCOL_VERSION,
    })
    .into_response()
}

async fn me(user: AuthUser) -> axum::Json<MeResponse> {
    axum::Json(MeResponse {
        user_id: user.user_id,
        display_name: user.display_name,
    })
}

async fn list_chats(
    State(app): State<AppState>,
    user: AuthUser,
) -> Result<axum::Json<ChatListResponse>, ApiError> {
    let chats = app.store.list_chats(&user.user_id).await?;
    Ok(axum::Json(ChatListResponse { chats }))
}

async fn create_chat(
    State(app): State<AppState>,
    user: AuthUser,
    ApiJson(request): ApiJson<CreateChatRequest>,
) -> Result<Response, ApiError> {
    let chat = app
        .create_chat(&user.user_id, &request.title, &request.members)
        .await?;
    Ok((StatusCode::CREATED, axum::Json(chat)).into_response())
}

async fn get_chat(
    State(app): State<AppState>,
    user: AuthUser,
    Path(chat_id): Path<String>,
) -> Result<Response, ApiError> {
    let chat_id = parse_chat_id(&chat_id)?;
    let chat = app.store.chat_summary(&user.user_id, chat_id).await?;
    Ok(axum::Json(chat).into_response())
}

async fn get_messages(
    State(app): State<AppState>,
    user: AuthUser,
    Path(chat_id): Path<String>,
    ApiQuery(query): ApiQuery<MessagesParams>,
) -> Result<Response, ApiError> {
    let chat_id = parse_chat_id(&chat_id)?;
    if let Some(seqs) = &query.seqs {
        return get_listed_messages(&app, &user, chat_id, seqs, &query).await;
    }
    let query = RangeQuery {
        from_seq: query.from_seq,
        to_seq: query.to_seq,
        before_seq: query.before_seq,
        limit: query.limit,
    };
    check_cursor("from_seq", query.from_seq)?;
    check_cursor("to_seq", query.to_seq)?;
    check_cursor("before_seq", query.before_seq)?;
    let limit = check_limit(query.limit)?;
    let forward = query.from_seq.is_some() || query.to_seq.is_some();
    if forward && query.before_seq.is_some() {
        return Err(ApiError::bad_request(
            "from_seq/to_seq and before_seq cannot be combined",
        ));
    }
    let page = if forward {
        let from = query
            .from_seq
            .ok_or_else(|| ApiError::bad_request("to_seq needs from_seq"))?;
        if from == 0 {
            return Err(ApiError::bad_request(
                "from_seq must be at least 1 (seqs start at 1)",
            ));
        }
        if let Some(to) = query.to_seq
            && from > to
        {
            return Err(ApiError::bad_request(format!(
                "from_seq {from} is greater than to_seq {to}"
            )));
        }
        let page: ReadPage = app
            .store
            .range_forward(&user.user_id, chat_id, from, query.to_seq, limit)
            .await?;
        let next_from_seq = if page.more {
            page.messages.last().map(|m| m.seq + 1)
        } else {
            None
        };
        page.into_messages_page(chat_id, next_from_seq, None)
    } else {
        if query.before_seq == Some(0) {
            return Err(ApiError::bad_request(
                "before_seq must be at least 1 (seqs start at 1)",
            ));
        }
        let page = app
            .store
            .range_backward(&user.user_id, chat_id, query.before_seq, limit)
            .await?;
        let next_before_seq = if page.more {
            page.messages.first().map(|m| m.seq)
        } else {
            None
        };
        page.into_messages_page(chat_id, None, next_before_seq)
    };
    Ok(json_with_message_count(
        StatusCode::OK,
        &page,
        page.messages.len(),
    ))
}

/// Every parameter `GET /v1/chats/{chat_id}/messages` accepts: the [`RangeQuery`] shapes and
/// the [`roost_proto::SeqsQuery`] shape (`seqs`), which cannot be combined.
#[derive(Debug, serde::Deserialize)]
struct MessagesParams {
    from_seq: Option<u64>,
    to_seq: Option<u64>,
    before_seq: Option<u64>,
    limit: Option<u32>,
    seqs: Option<String>,
}

/// The `seqs` shape: exactly the listed seqs (that exist), no continuation.
async fn get_listed_messages(
    app: &AppState,
    user: &AuthUser,
    chat_id: roost_proto::ChatId,
    seqs: &str,
    query: &MessagesParams,
) -> Result<Response, ApiError> {
    if query.from_seq.is_some() || query.to_seq.is_some() || query.before_seq.is_some() {
        return Err(ApiError::bad_request(
            "seqs cannot be combined with from_seq, to_seq or before_seq",
        ));
    }
    let limit = check_limit(query.limit)?;
    let ranges = roost_proto::parse_seq_ranges(seqs).map_err(ApiError::bad_request)?;
    let covered: u64 = ranges.iter().map(|(start, end)| end - start + 1).sum();
    if covered > u64::from(limit) {
        return Err(ApiError::bad_request(format!(
            "seqs covers {covered} seqs, more than limit {limit}"
        )));
    }
    let page = app
        .store
        .range_list(&user.user_id, chat_id, &ranges)
        .await?;
    let page = page.into_messages_page(chat_id, None, None);
    Ok(json_with_message_count(
        StatusCode::OK,
        &page,
        page.messages.len(),
    ))
}

async fn get_changes(
    State(app): State<AppState>,
    user: AuthUser,
    Path(chat_id): Path<String>,
    ApiQuery(query): ApiQuery<ChangesQuery>,
) -> Result<Response, ApiError> {
    let chat_id = parse_chat_id(&chat_id)?;
    check_cursor("since_rev", Some(query.since_rev))?;
    check_cursor("min_seq", query.min_seq)?;
    check_cursor("max_seq", query.max_seq)?;
    let limit = check_limit(query.limit)?;
    if let (Some(min), Some(max)) = (query.min_seq, query.max_seq)
        && min > max
    {
        return Err(ApiError::bad_request(format!(
            "min_seq {min} is greater than max_seq {max}"
        )));
    }
    let read = app
        .store
        .changes(
            &user.user_id,
            chat_id,
            query.since_rev,
            (query.min_seq, query.max_seq),
            limit,
            app.config.changes_horizon,
        )
        .await?;
    let (response, count) = match read {
        ChangesRead::TooOld {
            position,
            oldest_since_rev,
        } => (
            ChangesResponse::TooOld {
                chat_id,
                last_seq: position.last_seq,
                rev: position.rev,
                oldest_since_rev,
            },
            0,
        ),
        ChangesRead::Page(page) => {
            let next_since_rev = if page.more {
                page.messages.last().map(|m| m.rev)
            } else {
                None
            };
            let count = page.messages.len();
            (
                ChangesResponse::Changes {
                    chat_id,
                    last_seq: page.position.last_seq,
                    rev: page.position.rev,
                    messages: page.messages,
                    next_since_rev,
                },
                count,
            )
        }
    };
    Ok(json_with_message_count(StatusCode::OK, &response, count))
}

fn check_message_body(body: &serde_json::Value) -> Result<(), ApiError> {
    let object = body
        .as_object()
        .ok_or_else(|| ApiError::bad_request("body must be a JSON object"))?;
    if let Some(text) = object.get("text")
        && !text.is_string()
    {
        return Err(ApiError::bad_request("body.text must be a string"));
    }
    let encoded_len = serde_json::to_string(body)
        .map(|s| s.len())
        .unwrap_or(usize::MAX);
    if encoded_len > MAX_MESSAGE_BODY_BYTES {
        return Err(ApiError::new(
            ErrorKind::PayloadTooLarge,
            format!(
                "the message body is {encoded_len} bytes encoded, over the cap of {MAX_MESSAGE_BODY_BYTES}"
            ),
        ));
    }
    Ok(())
}

fn message_response(outcome: crate::store::MutationOutcome) -> MessageResponse {
    MessageResponse {
        chat_id: outcome.message.chat_id,
        last_seq: outcome.position.last_seq,
        rev: outcome.position.rev,
        message: outcome.message,
    }
}

async fn send_message(
    State(app): State<AppState>,
    user: AuthUser,
    Path(chat_id): Path<String>,
    ApiJson(request): ApiJson<SendRequest>,
) -> Result<Response, ApiError> {
    let chat_id = parse_chat_id(&chat_id)?;
    let key_len = request.idempotency_key.chars().count();
    if key_len == 0 || key_len > MAX_IDEMPOTENCY_KEY_LEN {
        return Err(ApiError::bad_request(format!(
            "idempotency_key must be 1 to {MAX_IDEMPOTENCY_KEY_LEN} characters, got {key_len}"
        )));
    }
    check_message_body(&request.body)?;
    let outcome = app
        .send(
            &user.user_id,
            chat_id,
            &request.idempotency_key,
            &request.body,
        )
        .await?;
    // 201 for a new message, 200 when this was a retry of an earlier send.
    let status = if outcome.changed {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok(json_with_message_count(
        status,
        &message_response(outcome),
        1,
    ))
}

async fn edit_message(
    State(app): State<AppState>,
    user: AuthUser,
    Path((chat_id, message_id)): Path<(String, String)>,
    ApiJson(request): ApiJson<EditRequest>,
) -> Result<Response, ApiError> {
    let chat_id = parse_chat_id(&chat_id)?;
    let message_id = parse_message_id(&message_id)?;
    check_message_body(&request.body)?;
    let outcome = app
        .edit(
            &user.user_id,
            chat_id,
            message_id,
            &request.body,
            request.expected_version,
        )
        .await?;
    Ok(json_with_message_count(
        StatusCode::OK,
        &message_response(outcome),
        1,
    ))
}

async fn delete_message(
    State(app): State<AppState>,
    user: AuthUser,
    Path((chat_id, message_id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let chat_id = parse_chat_id(&chat_id)?;
    let message_id = parse_message_id(&message_id)?;
    let outcome = app.delete(&user.user_id, chat_id, message_id).await?;
    Ok(json_with_message_count(
        StatusCode::OK,
        &message_response(outcome),
        1,
    ))
}

async fn route_not_found() -> ApiError {
    ApiError::new(ErrorKind::NotFound, "no such route")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        ErrorKind::MethodNotAllowed,
        "method not allowed on this route",
    )
}

// ------------------------------------------------------------------------------- observing

/// The metrics name of a route.
pub fn route_name(method: &Method, matched_path: Option<&str>) -> &'static str {
    match (method.as_str(), matched_path.unwrap_or("")) {
        ("GET", "/v1/health") => "health",
        ("GET", "/v1/me") => "me",
        ("GET", "/v1/chats") => "chats",
        ("POST", "/v1/chats") => "create_chat",
        ("GET", "/v1/chats/{chat_id}") => "chat",
        ("GET", "/v1/chats/{chat_id}/messages") => "range",
        ("POST", "/v1/chats/{chat_id}/messages") => "send",
        ("PATCH", "/v1/chats/{chat_id}/messages/{message_id}") => "edit",
        ("DELETE", "/v1/chats/{chat_id}/messages/{message_id}") => "delete",
        ("GET", "/v1/chats/{chat_id}/changes") => "changes",
        ("GET", "/v1/chats/{chat_id}/digests") => "digests",
        ("GET", "/v1/stream") => "stream",
        _ => "other",
    }
}

/// Logs every request and records its figures. The body is buffered (responses are small JSON
/// documents already in memory) so the byte count is exactly what goes on the wire, and the
/// response gets an exact Content-Length.
async fn observe(State(app): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let matched_path = request
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_owned());
    let path = request.uri().path().to_owned();
    let route = route_name(&method, matched_path.as_deref());
    let response = next.run(request).await;
    let status = response.status();
    let messages = response
        .headers()
        .get(MESSAGE_COUNT_HEADER)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok())
        .unwrap_or(0);
    let (response, bytes) = if status == StatusCode::SWITCHING_PROTOCOLS {
        (response, 0)
    } else {
        let (parts, body) = response.into_parts();
        match axum::body::to_bytes(body, usize::MAX).await {
            Ok(bytes) => {
                let len = bytes.len() as u64;
                (Response::from_parts(parts, Body::from(bytes)), len)
            }
            Err(error) => {
                tracing::error!(%error, "could not buffer a response body");
                (ApiError::internal().into_response(), 0)
            }
        }
    };
    app.metrics.record_request(route, messages, bytes);
    tracing::info!(
        method = %method,
        route,
        path = %path,
        status = status.as_u16(),
        messages,
        bytes,
        latency_us = started.elapsed().as_micros() as u64,
        "request"
    );
    response
}
