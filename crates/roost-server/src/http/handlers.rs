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
    ChatSummary, CreateChatRequest, DEFAULT_CHAT_PAGE_SIZE, EditRequest, ErrorKind,
    MAX_CHAT_PAGE_SIZE, MAX_IDEMPOTENCY_KEY_LEN, MAX_MESSAGE_BODY_BYTES, MeResponse, MessageId,
    MessageResponse, MessagesPage, PROTOCOL_VERSION, RangeQuery, SendRequest, UserId,
};
use serde::Serialize;

/// `GET /v1/health` (a struct, so the keys keep the documented order).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct HealthResponse {
    status: &'static str,
    protocol: u32,
}

#[utoipa::path(get, path = "/v1/health", responses(
    (status = 200, description = "The server is up", body = HealthResponse)
))]
pub(crate) async fn health() -> Response {
    axum::Json(HealthResponse {
        status: "ok",
        protocol: PROTOCOL_VERSION,
    })
    .into_response()
}

#[utoipa::path(get, path = "/v1/me", responses(
    (status = 200, description = "The caller", body = MeResponse)
))]
pub(crate) async fn me(user: AuthUser) -> axum::Json<MeResponse> {
    axum::Json(MeResponse {
        user_id: user.user_id,
        display_name: user.display_name,
    })
}

#[utoipa::path(get, path = "/v1/chats", params(ChatListQuery), responses(
    (status = 200, description = "One page of the caller's chats", body = ChatListResponse)
))]
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

#[utoipa::path(post, path = "/v1/chats", request_body = CreateChatRequest, responses(
    (status = 201, description = "The new chat (the caller is a member)", body = ChatSummary)
))]
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

#[utoipa::path(post, path = "/v1/chats/{chat_id}/members", params(("chat_id" = ChatId, Path, description = "The chat (a UUID)")),
    request_body = AddMembersRequest, responses(
    (status = 200, description = "The chat as it is afterwards", body = ChatSummary)
))]
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

#[utoipa::path(delete, path = "/v1/chats/{chat_id}/members/{user_id}", params(("chat_id" = ChatId, Path, description = "The chat (a UUID)"),
    ("user_id" = UserId, Path, description = "The member to remove (the caller itself: leave)")), responses(
    (status = 204, description = "Removed")
))]
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

#[utoipa::path(get, path = "/v1/chats/{chat_id}", params(("chat_id" = ChatId, Path, description = "The chat (a UUID)")), responses(
    (status = 200, description = "The chat", body = ChatSummary)
))]
pub(crate) async fn get_chat(
    State(app): State<AppState>,
    user: AuthUser,
    ApiPath(chat_id): ApiPath<String>,
) -> Result<Response, ApiError> {
    let chat_id = parse_chat_id(&chat_id)?;
    let chat = app.store.chat_summary(&user.user_id, chat_id).await?;
    Ok(axum::Json(chat).into_response())
}

#[utoipa::path(get, path = "/v1/chats/{chat_id}/messages", params(("chat_id" = ChatId, Path, description = "The chat (a UUID)"), MessagesParams), responses(
    (status = 200, description = "Messages of the range, ascending, tombstones included", body = MessagesPage)
))]
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
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct MessagesParams {
    /// Forward shape: the first seq (with `to_seq`, the last one).
    from_seq: Option<u64>,
    /// Forward shape: the last seq (needs `from_seq`).
    to_seq: Option<u64>,
    /// Backward shape: the newest messages with a smaller seq (absent: the newest page).
    before_seq: Option<u64>,
    /// 1..=500, default 100.
    limit: Option<u32>,
    /// Listed shape: `41-44,51-60,75` (ascending, disjoint, at most 256 ranges, covering at most
    /// `limit` seqs); not with the other shapes.
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

#[utoipa::path(get, path = "/v1/chats/{chat_id}/changes", params(("chat_id" = ChatId, Path, description = "The chat (a UUID)"), ChangesQuery), responses(
    (status = 200, description = "The changes after since_rev, or too_old", body = ChangesResponse)
))]
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

#[utoipa::path(post, path = "/v1/chats/{chat_id}/messages", params(("chat_id" = ChatId, Path, description = "The chat (a UUID)")), request_body = SendRequest, responses(
    (status = 201, description = "A new message", body = MessageResponse),
    (status = 200, description = "A retry of an earlier send: the original message, nothing created", body = MessageResponse)
))]
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
    let outcome = app.send(&user.user_id, chat_id, &request).await?;
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

#[utoipa::path(patch, path = "/v1/chats/{chat_id}/messages/{message_id}", params(("chat_id" = ChatId, Path, description = "The chat (a UUID)"), ("message_id" = MessageId, Path, description = "The message (a UUID)")),
    request_body = EditRequest, responses(
    (status = 200, description = "The edited message", body = MessageResponse)
))]
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
        .edit(&user.user_id, chat_id, message_id, &request)
        .await?;
    Ok(json_with_message_count(
        StatusCode::OK,
        &message_response(outcome),
        1,
    ))
}

#[utoipa::path(delete, path = "/v1/chats/{chat_id}/messages/{message_id}", params(("chat_id" = ChatId, Path, description = "The chat (a UUID)"), ("message_id" = MessageId, Path, description = "The message (a UUID)")), responses(
    (status = 200, description = "The tombstone (deleting a tombstone again changes nothing)", body = MessageResponse)
))]
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
