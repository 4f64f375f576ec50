//! `GET /v1/chats/{chat_id}/digests` (PROTOCOL.md, "Digests"): checks the query and answers the
//! store's digest read ([`crate::store::digests`]) as the wire type. A non-member gets the same
//! 404 as for a chat that does not exist.

use crate::http::AppState;
use crate::http::error::ApiError;
use crate::http::extract::{ApiPath, ApiQuery, AuthUser, check_cursor, parse_chat_id};
use axum::extract::State;
use roost_proto::{DEFAULT_DIGEST_BUCKET, DigestQuery, DigestsResponse, MAX_DIGEST_BUCKET};

/// The bucket size of a valid query; 400 `bad_request` otherwise.
fn check_query(query: &DigestQuery) -> Result<u32, ApiError> {
    let bucket = query.bucket.unwrap_or(DEFAULT_DIGEST_BUCKET);
    if bucket == 0 || bucket > MAX_DIGEST_BUCKET {
        return Err(ApiError::bad_request(format!(
            "bucket must be within 1..={MAX_DIGEST_BUCKET}"
        )));
    }
    if query.from_seq == 0 {
        return Err(ApiError::bad_request(
            "from_seq must be at least 1 (seqs start at 1)",
        ));
    }
    check_cursor("from_seq", Some(query.from_seq))?;
    check_cursor("to_seq", Some(query.to_seq))?;
    if query.from_seq > query.to_seq {
        return Err(ApiError::bad_request(format!(
            "from_seq {} is greater than to_seq {}",
            query.from_seq, query.to_seq
        )));
    }
    Ok(bucket)
}

#[utoipa::path(get, path = "/v1/chats/{chat_id}/digests", params(
    ("chat_id" = roost_proto::ChatId, Path, description = "The chat (a UUID)"), DigestQuery), responses(
    (status = 200, description = "Digests of consecutive buckets of seqs", body = DigestsResponse)
))]
pub(crate) async fn get_digests(
    State(app): State<AppState>,
    user: AuthUser,
    ApiPath(chat_id): ApiPath<String>,
    ApiQuery(query): ApiQuery<DigestQuery>,
) -> Result<axum::Json<DigestsResponse>, ApiError> {
    let chat_id = parse_chat_id(&chat_id)?;
    let bucket = check_query(&query)?;
    let read = app
        .store
        .digests(&user.user_id, chat_id, query.from_seq, query.to_seq, bucket)
        .await?;
    Ok(axum::Json(DigestsResponse {
        chat_id,
        last_seq: read.position.last_seq,
        rev: read.position.rev,
        bucket,
        buckets: read.buckets,
        next_from_seq: read.next_from_seq,
    }))
}
