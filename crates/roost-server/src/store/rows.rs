//! Row decoding and the small lookups every store operation shares (the visible chat, its
//! members, one message), inside the caller's transaction.

use crate::db::Backend;
use crate::error::{DomainError, ServerError};
use crate::store::{ChatPosition, ChatRow};
use roost_proto::{ChatId, Message, MessageId, UserId};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

pub(crate) const MESSAGE_COLUMNS: &str =
    "id, chat_id, seq, version, author, created_at, edited_at, deleted_at, body, rev";

pub(crate) fn to_u64(value: i64, what: &str) -> Result<u64, ServerError> {
    u64::try_from(value).map_err(|_| ServerError::Corrupt(format!("negative {what}: {value}")))
}

/// Seq/rev values from requests are validated to be ≤ i64::MAX before they get here.
pub fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

pub(crate) fn parse_uuid(text: &str, what: &str) -> Result<uuid::Uuid, ServerError> {
    uuid::Uuid::parse_str(text)
        .map_err(|_| ServerError::Corrupt(format!("bad {what} uuid {text:?}")))
}

pub(crate) fn message_from_row(row: &AnyRow) -> Result<Message, ServerError> {
    let body: Option<String> = row.try_get("body")?;
    let body = match body {
        Some(text) => serde_json::from_str(&text)
            .map_err(|e| ServerError::Corrupt(format!("message body: {e}")))?,
        None => serde_json::Value::Null,
    };
    Ok(Message {
        id: MessageId(parse_uuid(row.try_get("id")?, "message")?),
        chat_id: ChatId(parse_uuid(row.try_get("chat_id")?, "chat")?),
        seq: to_u64(row.try_get("seq")?, "seq")?,
        version: to_u64(row.try_get("version")?, "version")?,
        author: UserId(row.try_get("author")?),
        created_at: row.try_get("created_at")?,
        edited_at: row.try_get("edited_at")?,
        deleted_at: row.try_get("deleted_at")?,
        body,
        rev: to_u64(row.try_get("rev")?, "rev")?,
    })
}

pub(crate) fn chat_from_row(row: &AnyRow) -> Result<ChatRow, ServerError> {
    Ok(ChatRow {
        id: ChatId(parse_uuid(row.try_get("id")?, "chat")?),
        title: row.try_get("title")?,
        last_seq: to_u64(row.try_get("last_seq")?, "last_seq")?,
        rev: to_u64(row.try_get("rev")?, "rev")?,
        last_message_at: row.try_get("last_message_at")?,
        created_by: row.try_get::<Option<String>, _>("created_by")?.map(UserId),
    })
}

pub(crate) fn position_from_row(row: &AnyRow) -> Result<ChatPosition, ServerError> {
    Ok(ChatPosition {
        last_seq: to_u64(row.try_get("last_seq")?, "last_seq")?,
        rev: to_u64(row.try_get("rev")?, "rev")?,
    })
}

const VISIBLE_CHAT: &str = "SELECT c.id, c.title, c.last_seq, c.rev, c.last_message_at, c.created_by FROM chats c \
     JOIN chat_members m ON m.chat_id = c.id AND m.user_id = $1 WHERE c.id = $2";

/// The chat, if it exists AND `user` is a member; `None` otherwise (callers answer both cases
/// with the same "chat not found").
pub async fn visible_chat(
    conn: &mut AnyConnection,
    user: &UserId,
    chat: ChatId,
) -> Result<Option<ChatRow>, ServerError> {
    let row = sqlx::query(VISIBLE_CHAT)
        .bind(user.as_str())
        .bind(chat.to_string())
        .fetch_optional(&mut *conn)
        .await?;
    row.as_ref().map(chat_from_row).transpose()
}

pub(crate) async fn visible_chat_or_not_found(
    conn: &mut AnyConnection,
    user: &UserId,
    chat: ChatId,
) -> Result<ChatRow, DomainError> {
    visible_chat(conn, user, chat)
        .await?
        .ok_or(DomainError::ChatNotFound)
}

/// [`visible_chat_or_not_found`] for a mutation: on PostgreSQL it also takes the chat row's
/// lock (`FOR UPDATE`), held to the end of the transaction. Every mutation of a chat writes
/// that row (seq/rev allocation), so mutations of one chat run one after another on every
/// instance, while other chats proceed in parallel; at READ COMMITTED each statement after the
/// lock sees everything the previous holder committed (the idempotency row, the message's
/// current version), so no check works on stale data and no serialisation failure needs a
/// retry. SQLite has one writer connection: its transactions are serial already.
pub(crate) async fn lock_visible_chat(
    conn: &mut AnyConnection,
    backend: Backend,
    user: &UserId,
    chat: ChatId,
) -> Result<ChatRow, DomainError> {
    let sql = match backend {
        Backend::Sqlite => VISIBLE_CHAT.to_owned(),
        Backend::Postgres => format!("{VISIBLE_CHAT} FOR UPDATE OF c"),
    };
    let row = sqlx::query(&sql)
        .bind(user.as_str())
        .bind(chat.to_string())
        .fetch_optional(&mut *conn)
        .await?;
    match row {
        Some(row) => Ok(chat_from_row(&row)?),
        None => Err(DomainError::ChatNotFound),
    }
}

pub async fn chat_members(
    conn: &mut AnyConnection,
    chat: ChatId,
) -> Result<Vec<UserId>, ServerError> {
    let rows = sqlx::query("SELECT user_id FROM chat_members WHERE chat_id = $1 ORDER BY user_id")
        .bind(chat.to_string())
        .fetch_all(&mut *conn)
        .await?;
    rows.iter()
        .map(|row| Ok(UserId(row.try_get("user_id")?)))
        .collect()
}

pub(crate) async fn message_in_chat(
    conn: &mut AnyConnection,
    chat: ChatId,
    id: MessageId,
) -> Result<Option<Message>, ServerError> {
    let row = sqlx::query(&format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages WHERE chat_id = $1 AND id = $2"
    ))
    .bind(chat.to_string())
    .bind(id.to_string())
    .fetch_optional(&mut *conn)
    .await?;
    row.as_ref().map(message_from_row).transpose()
}
