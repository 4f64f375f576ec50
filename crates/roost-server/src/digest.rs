//! `GET /v1/chats/{chat_id}/digests`: per bucket of seqs, the SHA-256 of the canonical records
//! of its messages (PROTOCOL.md, "Digests"; the record is `roost_proto::digest_record`).
//!
//! Owns the handler and its one read transaction (membership and messages read together, so a
//! bucket never mixes two states of the chat). A non-member gets the same 404 as for a chat
//! that does not exist. Read-only: never writes, never allocates seq or rev.

use crate::api::{ApiQuery, AppState, AuthUser};
use crate::error::ApiError;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use futures_util::TryStreamExt;
use roost_proto::{
    ChatId, DEFAULT_DIGEST_BUCKET, DigestBucket, DigestQuery, DigestsResponse, MAX_CURSOR_VALUE,
    MAX_DIGEST_BUCKET, MessageId, Seq, digest_buckets_per_response, digest_record,
};
use sha2::{Digest, Sha256};
use sqlx::Row;

/// One bucket being hashed.
struct OpenBucket {
    from_seq: Seq,
    to_seq: Seq,
    count: u64,
    hasher: Sha256,
}

impl OpenBucket {
    fn new(from_seq: Seq, to_seq: Seq) -> Self {
        OpenBucket {
            from_seq,
            to_seq,
            count: 0,
            hasher: Sha256::new(),
        }
    }
    fn finish(self) -> DigestBucket {
        DigestBucket {
            from_seq: self.from_seq,
            to_seq: self.to_seq,
            count: self.count,
            digest: hex::encode(self.hasher.finalize()),
        }
    }
}

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
    if query.from_seq > MAX_CURSOR_VALUE || query.to_seq > MAX_CURSOR_VALUE {
        return Err(ApiError::bad_request(format!(
            "from_seq and to_seq must be at most {MAX_CURSOR_VALUE}"
        )));
    }
    if query.from_seq > query.to_seq {
        return Err(ApiError::bad_request(format!(
            "from_seq {} is greater than to_seq {}",
            query.from_seq, query.to_seq
        )));
    }
    Ok(bucket)
}

/// The handler (route registered in `api::router`).
pub async fn get_digests(
    State(app): State<AppState>,
    user: AuthUser,
    Path(chat_id): Path<String>,
    ApiQuery(query): ApiQuery<DigestQuery>,
) -> Result<Response, ApiError> {
    let chat: ChatId = chat_id.parse().map_err(|_| {
        ApiError::bad_request(format!("malformed chat id {chat_id:?}: expected a UUID"))
    })?;
    let bucket = check_query(&query)?;
    let mut tx = app.store.db.read.begin().await?;
    let position: Option<(i64, i64)> = sqlx::query_as(
        "SELECT c.last_seq, c.rev FROM chats c
         JOIN chat_members m ON m.chat_id = c.id AND m.user_id = ?
         WHERE c.id = ?",
    )
    .bind(user.user_id.as_str())
    .bind(chat.to_string())
    .fetch_optional(&mut *tx)
    .await?;
    let (last_seq, rev) = position.ok_or_else(ApiError::chat_not_found)?;
    let (last_seq, rev) = (last_seq.max(0) as u64, rev.max(0) as u64);
    let span = u64::from(bucket);
    let max_end = query
        .from_seq
        .saturating_add(span.saturating_mul(digest_buckets_per_response(bucket)))
        .saturating_sub(1);
    let end = query.to_seq.min(last_seq).min(max_end);
    let next_from_seq = (end < query.to_seq.min(last_seq)).then_some(end + 1);
    let mut buckets = Vec::new();
    if query.from_seq <= end {
        let mut current = OpenBucket::new(query.from_seq, (query.from_seq + span - 1).min(end));
        let mut rows = sqlx::query(
            "SELECT seq, version, id, deleted_at, body FROM messages
             WHERE chat_id = ? AND seq BETWEEN ? AND ? ORDER BY seq",
        )
        .bind(chat.to_string())
        .bind(query.from_seq as i64)
        .bind(end as i64)
        .fetch(&mut *tx);
        while let Some(row) = rows.try_next().await? {
            let seq = row.try_get::<i64, _>(0)?.max(0) as u64;
            while seq > current.to_seq {
                let next_from = current.to_seq + 1;
                buckets.push(std::mem::replace(
                    &mut current,
                    OpenBucket::new(next_from, (next_from + span - 1).min(end)),
                ).finish());
            }
            let id: String = row.try_get(2)?;
            let id: MessageId = id
                .parse()
                .map_err(|_| ApiError::internal())?;
            let deleted = row.try_get::<Option<i64>, _>(3)?.is_some();
            let body: Option<String> = row.try_get(4)?;
            let body = match body {
                Some(text) if !deleted => {
                    serde_json::from_str(&text).map_err(|_| ApiError::internal())?
                }
                _ => serde_json::Value::Null,
            };
            let version = row.try_get::<i64, _>(1)?.max(0) as u64;
            current
                .hasher
                .update(digest_record(seq, version, id, deleted, &body).as_bytes());
            current.count += 1;
        }
        drop(rows);
        loop {
            let done = current.to_seq >= end;
            let next_from = current.to_seq + 1;
            buckets.push(std::mem::replace(
                &mut current,
                OpenBucket::new(next_from, (next_from + span - 1).min(end)),
            ).finish());
            if done {
                break;
            }
        }
    }
    tx.commit().await?;
    Ok(axum::Json(DigestsResponse {
        chat_id: chat,
        last_seq,
        rev,
        bucket,
        buckets,
        next_from_seq,
    })
    .into_response())
}
