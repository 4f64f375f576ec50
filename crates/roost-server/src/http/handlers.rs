//! The handlers of the `/v1/` routes: check the request's shape, call the store (reads) or the
//! service (mutations), and answer the wire types of `roost_proto`.

use crate::http::AppState;
use crate::http::error::ApiError;
use crate::http::extract::{
    ApiJson, ApiPath, ApiQuery, AuthUser, check_cursor, check_limit, json_with_message_count,
    parse_chat_id, parse_message_id,
};
use crate::store::{ChangesRead, MutationOutcome, ReadPage};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use roost_proto::{
    AddMembersRequest, ChangesQuery, ChangesResponse, ChatId, ChatListQuery, ChatListResponse,
    CreateChatRequest, DEFAULT_CHAT_PAGE_SIZE, EditRequest, ErrorKind, MAX_CHAT_PAGE_SIZE,
    MAX_IDEMPOTENCY_KEY_LEN, MAX_MESSAGE_BODY_BYTES, MeResponse, MessageResponse, PROTOCOL_VERSION,
    RangeQuery, SendRequest,
};
use serde::Serialize;

/// `GET /v1/health` (a struct, so the keys keep the documented order).
#[derive(Debug, Serialize)]
struct HealthResponse {
    status: &'static str,
    protocol: u32,
}

pub(crate) async fn health() -> Response {
    axum::Json(HealthResponse {
        status: "ok",
        protocol: PROTOCOL_VERSION,
    })
    .into_response()
}

pub(crate) async fn me(user: AuthUser) -> axum::Json<MeResponse> {
    axum::Json(MeResponse {
        user_id: user.user_id,
        display_name: user.display_name,
    })
}

pub(crate) async fn list_chats(
    State(app): State<AppState>,
    user: AuthUser,
    ApiQuery(query): ApiQuery<ChatListQuery>,
) -> Result<axum::Json<ChatListResponse>, ApiError> {
    let limit = match query.limit {
        None => DEFAULT_CHAT_PAGE_SIZE,
        Some(0) => return Err(ApiError::bad_request("limit must be at least 1")),
        Some(limit) if limit > MAX_CHAT_PAGE_SIZE => {
            return Err(ApiError::new(
                ErrorKind::PageSizeTooLarge,
                format!("limit {limit} is over the cap of {MAX_CHAT_PAGE_SIZE}"),
            ));
        }
        Some(limit) => limit,
    };
    // The cursor is the last chat id of the previous page (opaque to clients).
    let after = match query.cursor.as_deref() {
        None => None,
        Some(cursor) => Some(cursor.parse::<ChatId>().map_err(|_| {
            ApiError::bad_request(format!("malformed cursor {cursor:?}: use a next_cursor"))
        })?),
    };
    let (chats, more) = app.store.list_chats(&user.user_id, after, limit).await?;
    let next_cursor = if more {
        chats.last().map(|chat| chat.id.to_string())
    } else {
        None
    };
    Ok(axum::Json(ChatListResponse { chats, next_cursor }))
}

pub(crate) async fn create_chat(
    State(app): State<AppState>,
    user: AuthUser,
    ApiJson(request): ApiJson<CreateChatRequest>,
) -> Result<Response, ApiError> {
    let chat = app
        .create_chat(&user.user_id, &request.title, &request.members)
        .await?;
    Ok((StatusCode::CREATED, axum::Json(chat)).into_response())
}

/// `POST /v1/chats/{chat_id}/members`: `200` with the chat as it is afterwards.
pub(crate) async fn add_members(
    State(app): State<AppState>,
    user: AuthUser,
    ApiPath(chat_id): ApiPath<String>,
    ApiJson(request): ApiJson<AddMembersRequest>,
) -> Result<Response, ApiError> {
    let chat_id = parse_chat_id(&chat_id)?;
    if request.members.is_empty() {
        return Err(ApiError::bad_request("members must name at least one user"));
    }
    let outcome = app
        .add_members(&user.user_id, chat_id, &request.members)
        .await?;
    Ok(axum::Json(outcome.chat).into_response())
}

/// `DELETE /v1/chats/{chat_id}/members/{user_id}`: `204`, no body. The caller may remove itself
/// (leave) and, as the chat's creator, anyone.
pub(crate) async fn remove_member(
    State(app): State<AppState>,
    user: AuthUser,
    ApiPath((chat_id, member)): ApiPath<(String, String)>,
) -> Result<Response, ApiError> {
    let chat_id = parse_chat_id(&chat_id)?;
    crate::store::validate_handle(&member)?;
    let member = roost_proto::UserId(member);
    app.remove_member(&user.user_id, chat_id, &member).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub(crate) async fn get_chat(
    State(app): State<AppState>,
    user: AuthUser,
    ApiPath(chat_id): ApiPath<String>,
) -> Result<Response, ApiError> {
    let chat_id = parse_chat_id(&chat_id)?;
    let chat = app.store.chat_summary(&user.user_id, chat_id).await?;
    Ok(axum::Json(chat).into_response())
}

pub(crate) async fn get_messages(
    State(app): State<AppState>,
    user: AuthUser,
    ApiPath(chat_id): ApiPath<String>,
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
pub(crate) struct MessagesParams {
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

pub(crate) async fn get_changes(
    State(app): State<AppState>,
    user: AuthUser,
    ApiPath(chat_id): ApiPath<String>,
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

fn message_response(outcome: MutationOutcome) -> MessageResponse {
    MessageResponse {
        chat_id: outcome.message.chat_id,
        last_seq: outcome.position.last_seq,
        rev: outcome.position.rev,
        message: outcome.message,
    }
}

pub(crate) async fn send_message(
    State(app): State<AppState>,
    user: AuthUser,
    ApiPath(chat_id): ApiPath<String>,
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

pub(crate) async fn edit_message(
    State(app): State<AppState>,
    user: AuthUser,
    ApiPath((chat_id, message_id)): ApiPath<(String, String)>,
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

pub(crate) async fn delete_message(
    State(app): State<AppState>,
    user: AuthUser,
    ApiPath((chat_id, message_id)): ApiPath<(String, String)>,
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
