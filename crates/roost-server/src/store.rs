//! All SQL. Reads run in one read transaction per request (one snapshot: the messages and the
//! chat's `last_seq`/`rev` returned together always agree); every mutation is one write
//! transaction that allocates seq/rev on the `chats` row and writes the message (and the
//! idempotency row), so there is never a partial write and never a hole in seq.
//!
//! Callers serialise mutations (see [`crate::service`]); the write pool has one connection too.

use crate::db::Db;
use crate::error::{ApiError, ServerError};
use roost_proto::{
    ChatId, ChatSummary, ErrorKind, Message, MessageId, MessagesPage, Rev, Seq, UnixMillis, UserId,
};
use sha2::{Digest, Sha256};
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqliteConnection};
use std::collections::HashMap;

const MESSAGE_COLUMNS: &str =
    "id, chat_id, seq, version, author, created_at, edited_at, deleted_at, body, rev";

/// Milliseconds since the Unix epoch, now.
pub fn now_millis() -> UnixMillis {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_millis() as i64)
        .unwrap_or(0)
}

/// Hex SHA-256, used for bearer tokens and idempotent-request fingerprints.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A fresh random bearer token (256 bits, hex).
pub fn generate_token() -> String {
    let bytes: [u8; 32] = rand::random();
    hex::encode(bytes)
}

/// A chat's position: what every chat-related response carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChatPosition {
    pub last_seq: Seq,
    pub rev: Rev,
}

/// A chat row (without members).
#[derive(Debug, Clone)]
pub struct ChatRow {
    pub id: ChatId,
    pub title: String,
    pub last_seq: Seq,
    pub rev: Rev,
    pub last_message_at: Option<UnixMillis>,
}

impl ChatRow {
    pub fn position(&self) -> ChatPosition {
        ChatPosition {
            last_seq: self.last_seq,
            rev: self.rev,
        }
    }
    pub fn into_summary(self, members: Vec<UserId>) -> ChatSummary {
        ChatSummary {
            id: self.id,
            title: self.title,
            members,
            last_seq: self.last_seq,
            rev: self.rev,
            last_message_at: self.last_message_at,
        }
    }
}

/// The result of a mutation: the message's new state, the chat's position right after it and
/// the members to notify. `changed` is false when nothing was written (idempotent replay,
/// deleting a tombstone): nothing is broadcast then.
#[derive(Debug, Clone)]
pub struct MutationOutcome {
    pub message: Message,
    pub position: ChatPosition,
    pub members: Vec<UserId>,
    pub changed: bool,
}

/// One page of a read (messages plus the chat position from the same snapshot).
#[derive(Debug, Clone)]
pub struct ReadPage {
    pub position: ChatPosition,
    pub messages: Vec<Message>,
    /// True when more rows matched than were returned (cut by limit).
    pub more: bool,
}

impl ReadPage {
    /// The wire page: these messages with the chat position read in the same snapshot.
    pub fn into_messages_page(
        self,
        chat_id: ChatId,
        next_from_seq: Option<Seq>,
        next_before_seq: Option<Seq>,
    ) -> MessagesPage {
        MessagesPage {
            chat_id,
            last_seq: self.position.last_seq,
            rev: self.position.rev,
            messages: self.messages,
            next_from_seq,
            next_before_seq,
        }
    }
}

fn to_u64(value: i64, what: &str) -> Result<u64, ServerError> {
    u64::try_from(value).map_err(|_| ServerError::Corrupt(format!("negative {what}: {value}")))
}

/// Seq/rev values from requests are validated to be ≤ i64::MAX before they get here.
pub fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn parse_uuid(text: &str, what: &str) -> Result<uuid::Uuid, ServerError> {
    uuid::Uuid::parse_str(text)
        .map_err(|_| ServerError::Corrupt(format!("bad {what} uuid {text:?}")))
}

fn message_from_row(row: &SqliteRow) -> Result<Message, ServerError> {
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

fn chat_from_row(row: &SqliteRow) -> Result<ChatRow, ServerError> {
    Ok(ChatRow {
        id: ChatId(parse_uuid(row.try_get("id")?, "chat")?),
        title: row.try_get("title")?,
        last_seq: to_u64(row.try_get("last_seq")?, "last_seq")?,
        rev: to_u64(row.try_get("rev")?, "rev")?,
        last_message_at: row.try_get("last_message_at")?,
    })
}

/// The chat, if it exists AND `user` is a member; `None` otherwise (callers answer both cases
/// with the same "chat not found").
pub async fn visible_chat(
    conn: &mut SqliteConnection,
    user: &UserId,
    chat: ChatId,
) -> Result<Option<ChatRow>, ServerError> {
    let row = sqlx::query(
        "SELECT c.id, c.title, c.last_seq, c.rev, c.last_message_at FROM chats c \
         JOIN chat_members m ON m.chat_id = c.id AND m.user_id = ? WHERE c.id = ?",
    )
    .bind(user.as_str())
    .bind(chat.to_string())
    .fetch_optional(&mut *conn)
    .await?;
    row.as_ref().map(chat_from_row).transpose()
}

async fn visible_chat_or_404(
    conn: &mut SqliteConnection,
    user: &UserId,
    chat: ChatId,
) -> Result<ChatRow, ApiError> {
    visible_chat(conn, user, chat)
        .await?
        .ok_or_else(ApiError::chat_not_found)
}

pub async fn chat_members(
    conn: &mut SqliteConnection,
    chat: ChatId,
) -> Result<Vec<UserId>, ServerError> {
    let rows = sqlx::query("SELECT user_id FROM chat_members WHERE chat_id = ? ORDER BY user_id")
        .bind(chat.to_string())
        .fetch_all(&mut *conn)
        .await?;
    rows.iter()
        .map(|row| Ok(UserId(row.try_get("user_id")?)))
        .collect()
}

async fn message_in_chat(
    conn: &mut SqliteConnection,
    chat: ChatId,
    id: MessageId,
) -> Result<Option<Message>, ServerError> {
    let row = sqlx::query(&format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages WHERE chat_id = ? AND id = ?"
    ))
    .bind(chat.to_string())
    .bind(id.to_string())
    .fetch_optional(&mut *conn)
    .await?;
    row.as_ref().map(message_from_row).transpose()
}

/// Fingerprint of a send request, to tell a retry from a reused key. serde_json (without
/// `preserve_order`) serialises object keys sorted, so equal bodies hash equally.
fn send_fingerprint(chat: ChatId, body: &serde_json::Value) -> String {
    let canonical = serde_json::to_string(body).unwrap_or_default();
    sha256_hex(format!("{chat}\n{canonical}").as_bytes())
}

/// The store: SQL over the two pools.
#[derive(Debug, Clone)]
pub struct Store {
    pub db: Db,
}

impl Store {
    pub fn new(db: Db) -> Self {
        Store { db }
    }

    // ---------------------------------------------------------------- users

    /// Creates a user and returns its new bearer token (only the hash is stored).
    pub async fn add_user(&self, handle: &str, display_name: &str) -> Result<String, ServerError> {
        validate_handle(handle)?;
        let token = generate_token();
        let inserted = sqlx::query(
            "INSERT INTO users (id, display_name, token_sha256, created_at) VALUES (?, ?, ?, ?) ON CONFLICT(id) DO NOTHING",
        )
        .bind(handle)
        .bind(display_name)
        .bind(sha256_hex(token.as_bytes()))
        .bind(now_millis())
        .execute(&self.db.write)
        .await?;
        if inserted.rows_affected() == 0 {
            return Err(ServerError::InvalidInput(format!(
                "user {handle:?} already exists"
            )));
        }
        Ok(token)
    }

    /// The user a bearer token belongs to, with its display name.
    pub async fn user_by_token(
        &self,
        token: &str,
    ) -> Result<Option<(UserId, String)>, ServerError> {
        let row = sqlx::query("SELECT id, display_name FROM users WHERE token_sha256 = ?")
            .bind(sha256_hex(token.as_bytes()))
            .fetch_optional(&self.db.read)
            .await?;
        match row {
            Some(row) => Ok(Some((
                UserId(row.try_get("id")?),
                row.try_get("display_name")?,
            ))),
            None => Ok(None),
        }
    }

    // ---------------------------------------------------------------- chats

    /// Every chat `user` belongs to, most recently active first.
    pub async fn list_chats(&self, user: &UserId) -> Result<Vec<ChatSummary>, ServerError> {
        let mut tx = self.db.read.begin().await?;
        let chat_rows = sqlx::query(
            "SELECT c.id, c.title, c.last_seq, c.rev, c.last_message_at FROM chats c \
             JOIN chat_members m ON m.chat_id = c.id AND m.user_id = ? \
             ORDER BY COALESCE(c.last_message_at, c.created_at) DESC, c.id",
        )
        .bind(user.as_str())
        .fetch_all(&mut *tx)
        .await?;
        let member_rows = sqlx::query(
            "SELECT chat_id, user_id FROM chat_members WHERE chat_id IN \
             (SELECT chat_id FROM chat_members WHERE user_id = ?) ORDER BY user_id",
        )
        .bind(user.as_str())
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        let mut members_by_chat: HashMap<String, Vec<UserId>> = HashMap::new();
        for row in &member_rows {
            members_by_chat
                .entry(row.try_get("chat_id")?)
                .or_default()
                .push(UserId(row.try_get("user_id")?));
        }
        chat_rows
            .iter()
            .map(|row| {
                let chat = chat_from_row(row)?;
                let members = members_by_chat
                    .remove(&chat.id.to_string())
                    .unwrap_or_default();
                Ok(chat.into_summary(members))
            })
            .collect()
    }

    pub async fn chat_summary(&self, user: &UserId, chat: ChatId) -> Result<ChatSummary, ApiError> {
        let mut tx = self.db.read.begin().await?;
        let row = visible_chat_or_404(&mut tx, user, chat).await?;
        let members = chat_members(&mut tx, chat).await?;
        tx.commit().await?;
        Ok(row.into_summary(members))
    }

    /// Creates a chat with `creator` plus `members` (deduplicated). Unknown members → 400.
    pub async fn create_chat(
        &self,
        creator: &UserId,
        title: &str,
        members: &[UserId],
    ) -> Result<ChatSummary, ApiError> {
        let title = title.trim();
        if title.is_empty() {
            return Err(ApiError::bad_request("title must not be empty"));
        }
        if title.chars().count() > 200 {
            return Err(ApiError::bad_request("title is longer than 200 characters"));
        }
        let mut all_members: Vec<UserId> = vec![creator.clone()];
        for member in members {
            if !all_members.contains(member) {
                all_members.push(member.clone());
            }
        }
        let mut tx = self.db.write.begin().await?;
        for member in &all_members {
            let exists = sqlx::query("SELECT 1 FROM users WHERE id = ?")
                .bind(member.as_str())
                .fetch_optional(&mut *tx)
                .await?;
            if exists.is_none() {
                return Err(ApiError::bad_request(format!(
                    "unknown member {:?}",
                    member.as_str()
                )));
            }
        }
        let chat_id = ChatId(uuid::Uuid::new_v4());
        insert_chat_tx(&mut tx, chat_id, title, &all_members, now_millis()).await?;
        let members = chat_members(&mut tx, chat_id).await?;
        tx.commit().await?;
        Ok(ChatSummary {
            id: chat_id,
            title: title.to_owned(),
            members,
            last_seq: 0,
            rev: 0,
            last_message_at: None,
        })
    }

    // ---------------------------------------------------------------- reads

    /// Messages with `from ≤ seq ≤ to` ascending, at most `limit`.
    pub async fn range_forward(
        &self,
        user: &UserId,
        chat: ChatId,
        from: Seq,
        to: Option<Seq>,
        limit: u32,
    ) -> Result<ReadPage, ApiError> {
        let mut tx = self.db.read.begin().await?;
        let row = visible_chat_or_404(&mut tx, user, chat).await?;
        let to = to.unwrap_or(row.last_seq);
        let rows = sqlx::query(&format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages WHERE chat_id = ? AND seq >= ? AND seq <= ? ORDER BY seq LIMIT ?"
        ))
        .bind(chat.to_string())
        .bind(to_i64(from))
        .bind(to_i64(to))
        .bind(i64::from(limit) + 1)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        page_from_rows(row.position(), &rows, limit)
    }

    /// The messages whose seq lies in one of `ranges` (ascending, disjoint, already checked to
    /// cover at most a page), ascending, all read in one snapshot.
    pub async fn range_list(
        &self,
        user: &UserId,
        chat: ChatId,
        ranges: &[(Seq, Seq)],
    ) -> Result<ReadPage, ApiError> {
        let mut tx = self.db.read.begin().await?;
        let row = visible_chat_or_404(&mut tx, user, chat).await?;
        let mut messages = Vec::new();
        for &(from, to) in ranges {
            if from > row.last_seq {
                break;
            }
            let rows = sqlx::query(&format!(
                "SELECT {MESSAGE_COLUMNS} FROM messages WHERE chat_id = ? AND seq >= ? AND seq <= ? ORDER BY seq"
            ))
            .bind(chat.to_string())
            .bind(to_i64(from))
            .bind(to_i64(to))
            .fetch_all(&mut *tx)
            .await?;
            for row in &rows {
                messages.push(message_from_row(row)?);
            }
        }
        tx.commit().await?;
        Ok(ReadPage {
            position: row.position(),
            messages,
            more: false,
        })
    }

    /// The newest `limit` messages with `seq < before`, returned ascending.
    pub async fn range_backward(
        &self,
        user: &UserId,
        chat: ChatId,
        before: Option<Seq>,
        limit: u32,
    ) -> Result<ReadPage, ApiError> {
        let mut tx = self.db.read.begin().await?;
        let row = visible_chat_or_404(&mut tx, user, chat).await?;
        let before = before.unwrap_or(row.last_seq.saturating_add(1));
        let rows = sqlx::query(&format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages WHERE chat_id = ? AND seq < ? ORDER BY seq DESC LIMIT ?"
        ))
        .bind(chat.to_string())
        .bind(to_i64(before))
        .bind(i64::from(limit))
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        let mut messages = rows
            .iter()
            .map(message_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        messages.reverse();
        // Seqs are gap-free from 1, so older messages exist exactly when the oldest returned is > 1.
        let more = messages.first().is_some_and(|m| m.seq > 1);
        Ok(ReadPage {
            position: row.position(),
            messages,
            more,
        })
    }

    /// Latest state of the messages with `rev > since_rev` (and `min ≤ seq ≤ max`), by rev.
    /// Returns the chat position first so the caller can decide "too old" on the same snapshot.
    pub async fn changes(
        &self,
        user: &UserId,
        chat: ChatId,
        since_rev: Rev,
        seq_bounds: (Option<Seq>, Option<Seq>),
        limit: u32,
        horizon: u64,
    ) -> Result<ChangesRead, ApiError> {
        let mut tx = self.db.read.begin().await?;
        let row = visible_chat_or_404(&mut tx, user, chat).await?;
        if since_rev > row.rev {
            return Err(ApiError::bad_request(format!(
                "since_rev {since_rev} is ahead of the chat's rev {}",
                row.rev
            )));
        }
        if row.rev - since_rev > horizon {
            return Ok(ChangesRead::TooOld {
                position: row.position(),
                oldest_since_rev: row.rev - horizon,
            });
        }
        let rows = sqlx::query(&format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages WHERE chat_id = ? AND rev > ? AND seq >= ? AND seq <= ? ORDER BY rev LIMIT ?"
        ))
        .bind(chat.to_string())
        .bind(to_i64(since_rev))
        .bind(to_i64(seq_bounds.0.unwrap_or(0)))
        .bind(to_i64(seq_bounds.1.unwrap_or(u64::MAX)))
        .bind(i64::from(limit) + 1)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(ChangesRead::Page(page_from_rows(
            row.position(),
            &rows,
            limit,
        )?))
    }

    /// Every message of a chat, ascending (no membership check: for tests and admin use).
    pub async fn all_messages(&self, chat: ChatId) -> Result<Vec<Message>, ServerError> {
        let rows = sqlx::query(&format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages WHERE chat_id = ? ORDER BY seq"
        ))
        .bind(chat.to_string())
        .fetch_all(&self.db.read)
        .await?;
        rows.iter().map(message_from_row).collect()
    }

    /// A chat's position without a membership check (tests, admin).
    pub async fn chat_position(&self, chat: ChatId) -> Result<Option<ChatPosition>, ServerError> {
        let row = sqlx::query("SELECT last_seq, rev FROM chats WHERE id = ?")
            .bind(chat.to_string())
            .fetch_optional(&self.db.read)
            .await?;
        match row {
            Some(row) => Ok(Some(ChatPosition {
                last_seq: to_u64(row.try_get("last_seq")?, "last_seq")?,
                rev: to_u64(row.try_get("rev")?, "rev")?,
            })),
            None => Ok(None),
        }
    }

    // ---------------------------------------------------------------- mutations

    /// Sends a message (or replays an earlier send with the same idempotency key).
    pub async fn send(
        &self,
        user: &UserId,
        chat: ChatId,
        idempotency_key: &str,
        body: &serde_json::Value,
    ) -> Result<MutationOutcome, ApiError> {
        let fingerprint = send_fingerprint(chat, body);
        let mut tx = self.db.write.begin().await?;
        let chat_row = visible_chat_or_404(&mut tx, user, chat).await?;
        let earlier = sqlx::query("SELECT chat_id, message_id, request_sha256 FROM idempotency WHERE user_id = ? AND key = ?")
            .bind(user.as_str())
            .bind(idempotency_key)
            .fetch_optional(&mut *tx)
            .await?;
        if let Some(earlier) = earlier {
            let earlier_fingerprint: String = earlier.try_get("request_sha256")?;
            if earlier_fingerprint != fingerprint {
                return Err(ApiError::new(
                    ErrorKind::IdempotencyKeyReused,
                    "this idempotency key was already used for a different request",
                ));
            }
            let message_id = MessageId(parse_uuid(earlier.try_get("message_id")?, "message")?);
            let message = message_in_chat(&mut tx, chat, message_id)
                .await?
                .ok_or_else(|| {
                    ServerError::Corrupt("idempotency row points to a missing message".into())
                })?;
            let members = chat_members(&mut tx, chat).await?;
            tx.commit().await?;
            return Ok(MutationOutcome {
                message,
                position: chat_row.position(),
                members,
                changed: false,
            });
        }
        let now = now_millis();
        let message = insert_message_tx(&mut tx, chat, user, body, now).await?;
        sqlx::query(
            "INSERT INTO idempotency (user_id, key, chat_id, message_id, request_sha256, created_at) VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(user.as_str())
        .bind(idempotency_key)
        .bind(chat.to_string())
        .bind(message.id.to_string())
        .bind(&fingerprint)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let members = chat_members(&mut tx, chat).await?;
        tx.commit().await?;
        let position = ChatPosition {
            last_seq: message.seq,
            rev: message.rev,
        };
        Ok(MutationOutcome {
            message,
            position,
            members,
            changed: true,
        })
    }

    pub async fn edit(
        &self,
        user: &UserId,
        chat: ChatId,
        id: MessageId,
        body: &serde_json::Value,
        expected_version: Option<u64>,
    ) -> Result<MutationOutcome, ApiError> {
        let mut tx = self.db.write.begin().await?;
        visible_chat_or_404(&mut tx, user, chat).await?;
        let current = message_in_chat(&mut tx, chat, id)
            .await?
            .ok_or_else(ApiError::message_not_found)?;
        if &current.author != user {
            return Err(ApiError::new(
                ErrorKind::Forbidden,
                "only the author of a message may edit it",
            ));
        }
        if current.is_deleted() {
            return Err(ApiError::new(
                ErrorKind::VersionConflict,
                "the message is deleted and cannot be edited",
            ));
        }
        if let Some(expected) = expected_version
            && expected != current.version
        {
            return Err(ApiError::new(
                ErrorKind::VersionConflict,
                format!(
                    "expected version {expected} but the message is at version {}",
                    current.version
                ),
            ));
        }
        let (message, position) = edit_message_tx(&mut tx, chat, id, body, now_millis()).await?;
        let members = chat_members(&mut tx, chat).await?;
        tx.commit().await?;
        Ok(MutationOutcome {
            message,
            position,
            members,
            changed: true,
        })
    }

    pub async fn delete(
        &self,
        user: &UserId,
        chat: ChatId,
        id: MessageId,
    ) -> Result<MutationOutcome, ApiError> {
        let mut tx = self.db.write.begin().await?;
        let chat_row = visible_chat_or_404(&mut tx, user, chat).await?;
        let current = message_in_chat(&mut tx, chat, id)
            .await?
            .ok_or_else(ApiError::message_not_found)?;
        if &current.author != user {
            return Err(ApiError::new(
                ErrorKind::Forbidden,
                "only the author of a message may delete it",
            ));
        }
        let members = chat_members(&mut tx, chat).await?;
        if current.is_deleted() {
            // Deleting is idempotent: the tombstone as it is, no new rev.
            tx.commit().await?;
            return Ok(MutationOutcome {
                message: current,
                position: chat_row.position(),
                members,
                changed: false,
            });
        }
        let (message, position) = delete_message_tx(&mut tx, chat, id, now_millis()).await?;
        tx.commit().await?;
        Ok(MutationOutcome {
            message,
            position,
            members,
            changed: true,
        })
    }

    /// Appends many messages in ONE transaction (fast: one seq/rev allocation, one prepared
    /// insert reused). Used by the demo and `testing::TestServer::send_many`; nothing is
    /// broadcast.
    pub async fn bulk_insert(
        &self,
        chat: ChatId,
        count: usize,
        make: impl FnMut(Seq) -> (UserId, serde_json::Value, UnixMillis),
    ) -> Result<Vec<Message>, ServerError> {
        let mut tx = self.db.write.begin().await?;
        let messages = bulk_insert_tx(&mut tx, chat, count, make).await?;
        tx.commit().await?;
        Ok(messages)
    }
}

/// What the changes read found.
#[derive(Debug, Clone)]
pub enum ChangesRead {
    Page(ReadPage),
    TooOld {
        position: ChatPosition,
        oldest_since_rev: Rev,
    },
}

fn page_from_rows(
    position: ChatPosition,
    rows: &[SqliteRow],
    limit: u32,
) -> Result<ReadPage, ApiError> {
    let more = rows.len() > limit as usize;
    let messages = rows
        .iter()
        .take(limit as usize)
        .map(message_from_row)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(ReadPage {
        position,
        messages,
        more,
    })
}

pub fn validate_handle(handle: &str) -> Result<(), ServerError> {
    let valid = !handle.is_empty()
        && handle.len() <= 32
        && handle
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
    if valid {
        Ok(())
    } else {
        Err(ServerError::InvalidInput(format!(
            "user handle {handle:?} must be 1-32 characters of a-z, 0-9, '_' or '-'"
        )))
    }
}

pub async fn insert_chat_tx(
    conn: &mut SqliteConnection,
    chat: ChatId,
    title: &str,
    members: &[UserId],
    created_at: UnixMillis,
) -> Result<(), ServerError> {
    sqlx::query("INSERT INTO chats (id, title, last_seq, rev, last_message_at, created_at) VALUES (?, ?, 0, 0, NULL, ?)")
        .bind(chat.to_string())
        .bind(title)
        .bind(created_at)
        .execute(&mut *conn)
        .await?;
    for member in members {
        sqlx::query("INSERT OR IGNORE INTO chat_members (chat_id, user_id) VALUES (?, ?)")
            .bind(chat.to_string())
            .bind(member.as_str())
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Allocates the chat's next seq and rev and inserts the message, inside the caller's transaction.
pub async fn insert_message_tx(
    conn: &mut SqliteConnection,
    chat: ChatId,
    author: &UserId,
    body: &serde_json::Value,
    created_at: UnixMillis,
) -> Result<Message, ServerError> {
    let allocated = sqlx::query(
        "UPDATE chats SET last_seq = last_seq + 1, rev = rev + 1, last_message_at = ? WHERE id = ? RETURNING last_seq, rev",
    )
    .bind(created_at)
    .bind(chat.to_string())
    .fetch_one(&mut *conn)
    .await?;
    let seq: i64 = allocated.try_get("last_seq")?;
    let rev: i64 = allocated.try_get("rev")?;
    let id = MessageId(uuid::Uuid::new_v4());
    sqlx::query(
        "INSERT INTO messages (chat_id, seq, id, version, author, created_at, edited_at, deleted_at, body, rev) \
         VALUES (?, ?, ?, 1, ?, ?, NULL, NULL, ?, ?)",
    )
    .bind(chat.to_string())
    .bind(seq)
    .bind(id.to_string())
    .bind(author.as_str())
    .bind(created_at)
    .bind(body.to_string())
    .bind(rev)
    .execute(&mut *conn)
    .await?;
    Ok(Message {
        id,
        chat_id: chat,
        seq: to_u64(seq, "seq")?,
        version: 1,
        author: author.clone(),
        created_at,
        edited_at: None,
        deleted_at: None,
        body: body.clone(),
        rev: to_u64(rev, "rev")?,
    })
}

/// See [`Store::bulk_insert`]. `make(seq)` gives the author, body and created_at of the
/// message that gets `seq`.
pub async fn bulk_insert_tx(
    conn: &mut SqliteConnection,
    chat: ChatId,
    count: usize,
    mut make: impl FnMut(Seq) -> (UserId, serde_json::Value, UnixMillis),
) -> Result<Vec<Message>, ServerError> {
    let row = sqlx::query("SELECT last_seq, rev FROM chats WHERE id = ?")
        .bind(chat.to_string())
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| ServerError::InvalidInput(format!("no chat {chat}")))?;
    let mut seq: i64 = row.try_get("last_seq")?;
    let mut rev: i64 = row.try_get("rev")?;
    let mut messages = Vec::with_capacity(count);
    let mut last_created_at = None;
    let chat_text = chat.to_string();
    for _ in 0..count {
        seq += 1;
        rev += 1;
        let (author, body, created_at) = make(to_u64(seq, "seq")?);
        last_created_at = Some(created_at);
        messages.push(Message {
            id: MessageId(uuid::Uuid::new_v4()),
            chat_id: chat,
            seq: to_u64(seq, "seq")?,
            version: 1,
            author,
            created_at,
            edited_at: None,
            deleted_at: None,
            body,
            rev: to_u64(rev, "rev")?,
        });
    }
    // Multi-row inserts: one statement per BULK_ROWS messages keeps 100 000 rows to seconds.
    const BULK_ROWS: usize = 200;
    for chunk in messages.chunks(BULK_ROWS) {
        let placeholders = vec!["(?, ?, ?, 1, ?, ?, NULL, NULL, ?, ?)"; chunk.len()].join(", ");
        let sql = format!(
            "INSERT INTO messages (chat_id, seq, id, version, author, created_at, edited_at, deleted_at, body, rev) VALUES {placeholders}"
        );
        let mut query = sqlx::query(&sql);
        for message in chunk {
            query = query
                .bind(&chat_text)
                .bind(to_i64(message.seq))
                .bind(message.id.to_string())
                .bind(message.author.as_str())
                .bind(message.created_at)
                .bind(message.body.to_string())
                .bind(to_i64(message.rev));
        }
        query.execute(&mut *conn).await?;
    }
    if let Some(last_created_at) = last_created_at {
        sqlx::query("UPDATE chats SET last_seq = ?, rev = ?, last_message_at = ? WHERE id = ?")
            .bind(seq)
            .bind(rev)
            .bind(last_created_at)
            .bind(&chat_text)
            .execute(&mut *conn)
            .await?;
    }
    Ok(messages)
}

async fn take_next_rev(
    conn: &mut SqliteConnection,
    chat: ChatId,
) -> Result<ChatPosition, ServerError> {
    let row = sqlx::query("UPDATE chats SET rev = rev + 1 WHERE id = ? RETURNING last_seq, rev")
        .bind(chat.to_string())
        .fetch_one(&mut *conn)
        .await?;
    Ok(ChatPosition {
        last_seq: to_u64(row.try_get("last_seq")?, "last_seq")?,
        rev: to_u64(row.try_get("rev")?, "rev")?,
    })
}

/// Edits (version + 1, new rev) inside the caller's transaction; checks are the caller's.
pub async fn edit_message_tx(
    conn: &mut SqliteConnection,
    chat: ChatId,
    id: MessageId,
    body: &serde_json::Value,
    edited_at: UnixMillis,
) -> Result<(Message, ChatPosition), ServerError> {
    let position = take_next_rev(conn, chat).await?;
    let row = sqlx::query(&format!(
        "UPDATE messages SET version = version + 1, edited_at = ?, body = ?, rev = ? WHERE chat_id = ? AND id = ? RETURNING {MESSAGE_COLUMNS}"
    ))
    .bind(edited_at)
    .bind(body.to_string())
    .bind(to_i64(position.rev))
    .bind(chat.to_string())
    .bind(id.to_string())
    .fetch_one(&mut *conn)
    .await?;
    Ok((message_from_row(&row)?, position))
}

/// Turns the message into a tombstone (body NULL, version + 1, new rev); seq stays.
pub async fn delete_message_tx(
    conn: &mut SqliteConnection,
    chat: ChatId,
    id: MessageId,
    deleted_at: UnixMillis,
) -> Result<(Message, ChatPosition), ServerError> {
    let position = take_next_rev(conn, chat).await?;
    let row = sqlx::query(&format!(
        "UPDATE messages SET version = version + 1, deleted_at = ?, body = NULL, rev = ? WHERE chat_id = ? AND id = ? RETURNING {MESSAGE_COLUMNS}"
    ))
    .bind(deleted_at)
    .bind(to_i64(position.rev))
    .bind(chat.to_string())
    .bind(id.to_string())
    .fetch_one(&mut *conn)
    .await?;
    Ok((message_from_row(&row)?, position))
}
