//! The mutations: chat creation, send (idempotent), edit, delete (tombstone) and the bulk
//! insert used by the demo and the test helpers. Each is one write transaction that begins by
//! locking the chat row ([`lock_visible_chat`]) and, before commit, queues its announcement.

use crate::db::Backend;
use crate::error::{DomainError, ServerError};
use crate::store::rows::{
    MESSAGE_COLUMNS, chat_members, lock_visible_chat, message_from_row, message_in_chat,
    parse_uuid, position_from_row, to_i64,
};
use crate::store::{
    ChatPosition, ChatRow, MutationOutcome, Store, check_title, now_millis, sha256_hex,
};
use roost_proto::{
    ChatId, ChatSummary, EditRequest, Message, MessageId, SendRequest, Seq, UnixMillis, UserId,
};
use sqlx::{AnyConnection, Row};

/// How often a send is retried after losing an idempotency-key race to a concurrent send on
/// another chat (PostgreSQL; the retry then finds the winner's row and answers from it).
const SEND_ATTEMPTS: usize = 3;

/// Fingerprint of a send request, to tell a retry from a reused key. serde_json (without
/// `preserve_order`) serialises object keys sorted, so equal bodies hash equally.
fn send_fingerprint(chat: ChatId, body: &serde_json::Value) -> String {
    let canonical = serde_json::to_string(body).unwrap_or_default();
    sha256_hex(format!("{chat}\n{canonical}").as_bytes())
}

fn is_unique_violation(error: &DomainError) -> bool {
    matches!(
        error,
        DomainError::Internal(ServerError::Database(sqlx::Error::Database(db)))
            if db.is_unique_violation()
    )
}

impl Store {
    /// Creates a chat with `creator` plus `members` (deduplicated in O(n)), at most
    /// `max_members` in all. Unknown members are refused.
    pub async fn create_chat(
        &self,
        creator: &UserId,
        title: &str,
        members: &[UserId],
        max_members: usize,
    ) -> Result<ChatSummary, DomainError> {
        let title = check_title(title)?;
        let all_members = distinct_members(std::iter::once(creator).chain(members));
        if all_members.len() > max_members {
            return Err(DomainError::TooManyMembers {
                limit: max_members,
                wanted: all_members.len(),
            });
        }
        let mut tx = self.db.write.begin().await?;
        check_users_exist(&mut tx, &all_members).await?;
        let chat_id = ChatId(uuid::Uuid::new_v4());
        insert_chat_tx(
            &mut tx,
            chat_id,
            title,
            &all_members,
            Some(creator),
            now_millis(),
        )
        .await?;
        let members = chat_members(&mut tx, chat_id).await?;
        let chat = ChatSummary {
            id: chat_id,
            title: title.to_owned(),
            members,
            created_by: Some(creator.clone()),
            last_seq: 0,
            rev: 0,
            last_message_at: None,
        };
        self.commit_announced(tx, chat).await
    }

    /// Sends a message (or replays an earlier send with the same idempotency key).
    pub async fn send(
        &self,
        user: &UserId,
        chat: ChatId,
        request: &SendRequest,
    ) -> Result<MutationOutcome, DomainError> {
        let mut attempt = 1;
        loop {
            match self.send_once(user, chat, request).await {
                Err(error) if attempt < SEND_ATTEMPTS && is_unique_violation(&error) => {
                    attempt += 1;
                }
                result => return result,
            }
        }
    }

    async fn send_once(
        &self,
        user: &UserId,
        chat: ChatId,
        request: &SendRequest,
    ) -> Result<MutationOutcome, DomainError> {
        let fingerprint = send_fingerprint(chat, &request.body);
        let mut tx = self.db.write.begin().await?;
        let chat_row = lock_visible_chat(&mut tx, self.backend(), user, chat).await?;
        let earlier = sqlx::query(
            "SELECT chat_id, message_id, request_sha256 FROM idempotency WHERE user_id = $1 AND key = $2",
        )
        .bind(user.as_str())
        .bind(&request.idempotency_key)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(earlier) = earlier {
            let earlier_fingerprint: String = earlier.try_get("request_sha256")?;
            if earlier_fingerprint != fingerprint {
                return Err(DomainError::IdempotencyKeyReused);
            }
            let message_id = MessageId(parse_uuid(earlier.try_get("message_id")?, "message")?);
            let message = message_in_chat(&mut tx, chat, message_id)
                .await?
                .ok_or_else(|| {
                    ServerError::Corrupt("idempotency row points to a missing message".into())
                })?;
            return commit_unchanged(tx, message, chat_row.position()).await;
        }
        let now = now_millis();
        let message = insert_message_tx(&mut tx, chat, user, &request.body, now).await?;
        sqlx::query(
            "INSERT INTO idempotency (user_id, key, chat_id, message_id, request_sha256, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(user.as_str())
        .bind(&request.idempotency_key)
        .bind(chat.to_string())
        .bind(message.id.to_string())
        .bind(&fingerprint)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let position = ChatPosition {
            last_seq: message.seq,
            rev: message.rev,
        };
        self.commit_changed(tx, message, position).await
    }

    /// Edits message `id` (its author only), at the version the request expects if it names one.
    pub async fn edit(
        &self,
        user: &UserId,
        chat: ChatId,
        id: MessageId,
        request: &EditRequest,
    ) -> Result<MutationOutcome, DomainError> {
        let (mut tx, _, current) = self.begin_on_own_message(user, chat, id, "edit").await?;
        if current.is_deleted() {
            return Err(DomainError::EditOfDeleted);
        }
        if let Some(expected) = request.expected_version
            && expected != current.version
        {
            return Err(DomainError::VersionMismatch {
                expected,
                current: current.version,
            });
        }
        let (message, position) =
            edit_message_tx(&mut tx, chat, id, &request.body, now_millis()).await?;
        self.commit_changed(tx, message, position).await
    }

    pub async fn delete(
        &self,
        user: &UserId,
        chat: ChatId,
        id: MessageId,
    ) -> Result<MutationOutcome, DomainError> {
        let (mut tx, chat_row, current) =
            self.begin_on_own_message(user, chat, id, "delete").await?;
        if current.is_deleted() {
            // Deleting is idempotent: the tombstone as it is, no new rev.
            return commit_unchanged(tx, current, chat_row.position()).await;
        }
        let (message, position) = delete_message_tx(&mut tx, chat, id, now_millis()).await?;
        self.commit_changed(tx, message, position).await
    }

    /// Begins the write of an edit or a delete: locks the chat (as a member) and reads message
    /// `id` of it, which `user` must have written (`action` names the refused operation
    /// otherwise).
    async fn begin_on_own_message(
        &self,
        user: &UserId,
        chat: ChatId,
        id: MessageId,
        action: &'static str,
    ) -> Result<(WriteTx, ChatRow, Message), DomainError> {
        let mut tx = self.db.write.begin().await?;
        let chat_row = lock_visible_chat(&mut tx, self.backend(), user, chat).await?;
        let message = message_in_chat(&mut tx, chat, id)
            .await?
            .ok_or(DomainError::MessageNotFound)?;
        if &message.author != user {
            return Err(DomainError::NotAuthor { action });
        }
        Ok((tx, chat_row, message))
    }

    /// The end of a mutation that wrote `message` at `position`: reads the members to notify
    /// under the chat's lock, queues the announcement and commits.
    async fn commit_changed(
        &self,
        mut tx: WriteTx,
        message: Message,
        position: ChatPosition,
    ) -> Result<MutationOutcome, DomainError> {
        let members = chat_members(&mut tx, message.chat_id).await?;
        let outcome = MutationOutcome {
            message,
            position,
            members,
            changed: true,
        };
        self.commit_announced(tx, outcome).await
    }

    /// Appends many messages in ONE transaction (fast: one seq/rev allocation, multi-row
    /// inserts). Used by the demo and `testing::TestServer::send_many`; nothing is announced.
    pub async fn bulk_insert(
        &self,
        chat: ChatId,
        count: usize,
        make: impl FnMut(Seq) -> (UserId, serde_json::Value, UnixMillis),
    ) -> Result<Vec<Message>, ServerError> {
        let mut tx = self.db.write.begin().await?;
        let messages = bulk_insert_tx(&mut tx, self.backend(), chat, count, make).await?;
        tx.commit().await?;
        Ok(messages)
    }
}

type WriteTx = sqlx::Transaction<'static, sqlx::Any>;

/// The end of a mutation that wrote nothing (an idempotent replay, deleting a tombstone):
/// `message` as it is, the chat at `position`, nothing announced.
async fn commit_unchanged(
    mut tx: WriteTx,
    message: Message,
    position: ChatPosition,
) -> Result<MutationOutcome, DomainError> {
    let members = chat_members(&mut tx, message.chat_id).await?;
    tx.commit().await?;
    Ok(MutationOutcome {
        message,
        position,
        members,
        changed: false,
    })
}

/// `members` without repeats, in first-seen order: one pass with a hash set, O(n).
pub(crate) fn distinct_members<'a>(members: impl IntoIterator<Item = &'a UserId>) -> Vec<UserId> {
    let mut seen = std::collections::HashSet::new();
    members
        .into_iter()
        .filter(|member| seen.insert(member.as_str()))
        .cloned()
        .collect()
}

/// `InvalidInput` naming the first of `members` that is not a user.
pub(crate) async fn check_users_exist(
    conn: &mut AnyConnection,
    members: &[UserId],
) -> Result<(), DomainError> {
    for member in members {
        let exists = sqlx::query("SELECT 1 FROM users WHERE id = $1")
            .bind(member.as_str())
            .fetch_optional(&mut *conn)
            .await?;
        if exists.is_none() {
            return Err(DomainError::InvalidInput(format!(
                "unknown member {:?}",
                member.as_str()
            )));
        }
    }
    Ok(())
}

pub async fn insert_chat_tx(
    conn: &mut AnyConnection,
    chat: ChatId,
    title: &str,
    members: &[UserId],
    created_by: Option<&UserId>,
    created_at: UnixMillis,
) -> Result<(), ServerError> {
    sqlx::query(
        "INSERT INTO chats (id, title, last_seq, rev, last_message_at, created_at, created_by) \
         VALUES ($1, $2, 0, 0, NULL, $3, $4)",
    )
    .bind(chat.to_string())
    .bind(title)
    .bind(created_at)
    .bind(created_by.map(|user| user.as_str().to_owned()))
    .execute(&mut *conn)
    .await?;
    for member in members {
        sqlx::query(
            "INSERT INTO chat_members (chat_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        )
        .bind(chat.to_string())
        .bind(member.as_str())
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Allocates the chat's next seq and rev and inserts the message, inside the caller's
/// transaction (which holds the chat row's lock).
pub async fn insert_message_tx(
    conn: &mut AnyConnection,
    chat: ChatId,
    author: &UserId,
    body: &serde_json::Value,
    created_at: UnixMillis,
) -> Result<Message, ServerError> {
    let allocated = sqlx::query(
        "UPDATE chats SET last_seq = last_seq + 1, rev = rev + 1, last_message_at = $1 WHERE id = $2 \
         RETURNING last_seq, rev",
    )
    .bind(created_at)
    .bind(chat.to_string())
    .fetch_one(&mut *conn)
    .await?;
    let position = position_from_row(&allocated)?;
    let id = MessageId(uuid::Uuid::new_v4());
    sqlx::query(
        "INSERT INTO messages (chat_id, seq, id, version, author, created_at, edited_at, deleted_at, body, rev) \
         VALUES ($1, $2, $3, 1, $4, $5, NULL, NULL, $6, $7)",
    )
    .bind(chat.to_string())
    .bind(to_i64(position.last_seq))
    .bind(id.to_string())
    .bind(author.as_str())
    .bind(created_at)
    .bind(body.to_string())
    .bind(to_i64(position.rev))
    .execute(&mut *conn)
    .await?;
    Ok(Message {
        id,
        chat_id: chat,
        seq: position.last_seq,
        version: 1,
        author: author.clone(),
        created_at,
        edited_at: None,
        deleted_at: None,
        body: body.clone(),
        rev: position.rev,
    })
}

/// See [`Store::bulk_insert`]. `make(seq)` gives the author, body and created_at of the
/// message that gets `seq`.
pub async fn bulk_insert_tx(
    conn: &mut AnyConnection,
    backend: Backend,
    chat: ChatId,
    count: usize,
    mut make: impl FnMut(Seq) -> (UserId, serde_json::Value, UnixMillis),
) -> Result<Vec<Message>, ServerError> {
    let lock = match backend {
        Backend::Sqlite => "",
        Backend::Postgres => " FOR UPDATE",
    };
    let row = sqlx::query(&format!(
        "SELECT last_seq, rev FROM chats WHERE id = $1{lock}"
    ))
    .bind(chat.to_string())
    .fetch_optional(&mut *conn)
    .await?
    .ok_or_else(|| ServerError::InvalidInput(format!("no chat {chat}")))?;
    let start = position_from_row(&row)?;
    let mut messages = Vec::with_capacity(count);
    for offset in 1..=count as u64 {
        let seq = start.last_seq + offset;
        let (author, body, created_at) = make(seq);
        messages.push(Message {
            id: MessageId(uuid::Uuid::new_v4()),
            chat_id: chat,
            seq,
            version: 1,
            author,
            created_at,
            edited_at: None,
            deleted_at: None,
            body,
            rev: start.rev + offset,
        });
    }
    insert_rows(conn, chat, &messages).await?;
    if let Some(last) = messages.last() {
        sqlx::query("UPDATE chats SET last_seq = $1, rev = $2, last_message_at = $3 WHERE id = $4")
            .bind(to_i64(last.seq))
            .bind(to_i64(last.rev))
            .bind(last.created_at)
            .bind(chat.to_string())
            .execute(&mut *conn)
            .await?;
    }
    Ok(messages)
}

/// Multi-row inserts: one statement per `BULK_ROWS` messages keeps 100 000 rows to seconds.
async fn insert_rows(
    conn: &mut AnyConnection,
    chat: ChatId,
    messages: &[Message],
) -> Result<(), ServerError> {
    const BULK_ROWS: usize = 200;
    const COLUMNS_BOUND: usize = 7;
    let chat_text = chat.to_string();
    for chunk in messages.chunks(BULK_ROWS) {
        let placeholders = (0..chunk.len())
            .map(|row| {
                let p = row * COLUMNS_BOUND;
                format!(
                    "(${}, ${}, ${}, 1, ${}, ${}, NULL, NULL, ${}, ${})",
                    p + 1,
                    p + 2,
                    p + 3,
                    p + 4,
                    p + 5,
                    p + 6,
                    p + 7
                )
            })
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "INSERT INTO messages (chat_id, seq, id, version, author, created_at, edited_at, deleted_at, body, rev) VALUES {placeholders}"
        );
        let mut query = sqlx::query(&sql);
        for message in chunk {
            query = query
                .bind(chat_text.clone())
                .bind(to_i64(message.seq))
                .bind(message.id.to_string())
                .bind(message.author.as_str().to_owned())
                .bind(message.created_at)
                .bind(message.body.to_string())
                .bind(to_i64(message.rev));
        }
        query.execute(&mut *conn).await?;
    }
    Ok(())
}

pub(crate) async fn take_next_rev(
    conn: &mut AnyConnection,
    chat: ChatId,
) -> Result<ChatPosition, ServerError> {
    let row = sqlx::query("UPDATE chats SET rev = rev + 1 WHERE id = $1 RETURNING last_seq, rev")
        .bind(chat.to_string())
        .fetch_one(&mut *conn)
        .await?;
    position_from_row(&row)
}

/// Edits (version + 1, new rev) inside the caller's transaction; checks are the caller's.
pub async fn edit_message_tx(
    conn: &mut AnyConnection,
    chat: ChatId,
    id: MessageId,
    body: &serde_json::Value,
    edited_at: UnixMillis,
) -> Result<(Message, ChatPosition), ServerError> {
    let position = take_next_rev(conn, chat).await?;
    let row = sqlx::query(&format!(
        "UPDATE messages SET version = version + 1, edited_at = $1, body = $2, rev = $3 \
         WHERE chat_id = $4 AND id = $5 RETURNING {MESSAGE_COLUMNS}"
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
    conn: &mut AnyConnection,
    chat: ChatId,
    id: MessageId,
    deleted_at: UnixMillis,
) -> Result<(Message, ChatPosition), ServerError> {
    let position = take_next_rev(conn, chat).await?;
    let row = sqlx::query(&format!(
        "UPDATE messages SET version = version + 1, deleted_at = $1, body = NULL, rev = $2 \
         WHERE chat_id = $3 AND id = $4 RETURNING {MESSAGE_COLUMNS}"
    ))
    .bind(deleted_at)
    .bind(to_i64(position.rev))
    .bind(chat.to_string())
    .bind(id.to_string())
    .fetch_one(&mut *conn)
    .await?;
    Ok((message_from_row(&row)?, position))
}
