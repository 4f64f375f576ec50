//! The reads: the chat list, one chat, message ranges (forward, backward, listed seqs) and the
//! changes journal. Each runs in one read transaction: one snapshot per response.

use crate::error::{DomainError, ServerError};
use crate::store::rows::{
    MESSAGE_COLUMNS, chat_from_row, chat_members, message_from_row, position_from_row, to_i64,
    visible_chat_or_not_found,
};
use crate::store::{ChatPosition, ReadPage, Store};
use roost_proto::{ChatId, ChatSummary, Message, Rev, Seq, UserId};
use sqlx::Row;
use sqlx::any::AnyRow;
use std::collections::HashMap;

/// The changes query: `$1` chat, `$2` since_rev, `$3`..=`$4` seq bounds, `$5` rows to read.
/// The inner scan is answered from the covering index `messages_changes (chat_id, rev, seq)`
/// alone, however many journal entries the seq bounds skip; only the (at most `$5`) messages
/// it picks are read from the table, by primary key (`tests/query_plans.rs` checks the plan
/// on both engines).
pub const CHANGES_SQL: &str = "SELECT m.id, m.chat_id, m.seq, m.version, m.author, m.created_at, \
     m.edited_at, m.deleted_at, m.body, m.rev \
     FROM (SELECT seq, rev FROM messages WHERE chat_id = $1 AND rev > $2 AND seq >= $3 AND seq <= $4 \
           ORDER BY rev LIMIT $5) AS c \
     JOIN messages m ON m.chat_id = $1 AND m.seq = c.seq ORDER BY c.rev";

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
    rows: &[AnyRow],
    limit: u32,
) -> Result<ReadPage, ServerError> {
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

impl Store {
    /// Every chat `user` belongs to, most recently active first.
    /// One page of the chats `user` is a member of, in ascending chat id order after `after`
    /// (a stable order: a chat that becomes active while a client pages is neither skipped nor
    /// listed twice). Returns at most `limit` chats and whether more follow. Both queries walk
    /// `chat_members_by_user (user_id, chat_id)`, so a page costs O(limit), not O(chats).
    pub async fn list_chats(
        &self,
        user: &UserId,
        after: Option<ChatId>,
        limit: u32,
    ) -> Result<(Vec<ChatSummary>, bool), ServerError> {
        let after = after.map(|id| id.to_string()).unwrap_or_default();
        let fetch = i64::from(limit) + 1;
        let mut tx = self.db.read.begin().await?;
        let mut chat_rows = sqlx::query(
            "SELECT c.id, c.title, c.last_seq, c.rev, c.last_message_at, c.created_by FROM chat_members m \
             JOIN chats c ON c.id = m.chat_id \
             WHERE m.user_id = $1 AND m.chat_id > $2 ORDER BY m.chat_id LIMIT $3",
        )
        .bind(user.as_str())
        .bind(&after)
        .bind(fetch)
        .fetch_all(&mut *tx)
        .await?;
        let more = chat_rows.len() as i64 == fetch;
        chat_rows.truncate(limit as usize);
        let member_rows = sqlx::query(
            "SELECT chat_id, user_id FROM chat_members WHERE chat_id IN \
             (SELECT chat_id FROM chat_members WHERE user_id = $1 AND chat_id > $2 \
              ORDER BY chat_id LIMIT $3) ORDER BY user_id",
        )
        .bind(user.as_str())
        .bind(&after)
        .bind(i64::from(limit))
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
        let chats = chat_rows
            .iter()
            .map(|row| {
                let chat = chat_from_row(row)?;
                let members = members_by_chat
                    .remove(&chat.id.to_string())
                    .unwrap_or_default();
                Ok(chat.into_summary(members))
            })
            .collect::<Result<Vec<_>, ServerError>>()?;
        Ok((chats, more))
    }

    pub async fn chat_summary(
        &self,
        user: &UserId,
        chat: ChatId,
    ) -> Result<ChatSummary, DomainError> {
        let mut tx = self.db.read.begin().await?;
        let row = visible_chat_or_not_found(&mut tx, user, chat).await?;
        let members = chat_members(&mut tx, chat).await?;
        tx.commit().await?;
        Ok(row.into_summary(members))
    }

    /// Messages with `from ≤ seq ≤ to` ascending, at most `limit`.
    pub async fn range_forward(
        &self,
        user: &UserId,
        chat: ChatId,
        from: Seq,
        to: Option<Seq>,
        limit: u32,
    ) -> Result<ReadPage, DomainError> {
        let mut tx = self.db.read.begin().await?;
        let row = visible_chat_or_not_found(&mut tx, user, chat).await?;
        let to = to.unwrap_or(row.last_seq);
        let rows = sqlx::query(&format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages WHERE chat_id = $1 AND seq >= $2 AND seq <= $3 ORDER BY seq LIMIT $4"
        ))
        .bind(chat.to_string())
        .bind(to_i64(from))
        .bind(to_i64(to))
        .bind(i64::from(limit) + 1)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(page_from_rows(row.position(), &rows, limit)?)
    }

    /// The messages whose seq lies in one of `ranges` (ascending, disjoint, already checked to
    /// cover at most a page), ascending, all read in one snapshot.
    pub async fn range_list(
        &self,
        user: &UserId,
        chat: ChatId,
        ranges: &[(Seq, Seq)],
    ) -> Result<ReadPage, DomainError> {
        let mut tx = self.db.read.begin().await?;
        let row = visible_chat_or_not_found(&mut tx, user, chat).await?;
        let mut messages = Vec::new();
        for &(from, to) in ranges {
            if from > row.last_seq {
                break;
            }
            let rows = sqlx::query(&format!(
                "SELECT {MESSAGE_COLUMNS} FROM messages WHERE chat_id = $1 AND seq >= $2 AND seq <= $3 ORDER BY seq"
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
    ) -> Result<ReadPage, DomainError> {
        let mut tx = self.db.read.begin().await?;
        let row = visible_chat_or_not_found(&mut tx, user, chat).await?;
        let before = before.unwrap_or(row.last_seq.saturating_add(1));
        let rows = sqlx::query(&format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages WHERE chat_id = $1 AND seq < $2 ORDER BY seq DESC LIMIT $3"
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
    /// Reads the chat position first so "too old" is decided on the same snapshot.
    pub async fn changes(
        &self,
        user: &UserId,
        chat: ChatId,
        since_rev: Rev,
        seq_bounds: (Option<Seq>, Option<Seq>),
        limit: u32,
        horizon: u64,
    ) -> Result<ChangesRead, DomainError> {
        let mut tx = self.db.read.begin().await?;
        let row = visible_chat_or_not_found(&mut tx, user, chat).await?;
        if since_rev > row.rev {
            return Err(DomainError::InvalidInput(format!(
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
        let rows = sqlx::query(CHANGES_SQL)
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
            "SELECT {MESSAGE_COLUMNS} FROM messages WHERE chat_id = $1 ORDER BY seq"
        ))
        .bind(chat.to_string())
        .fetch_all(&self.db.read)
        .await?;
        rows.iter().map(message_from_row).collect()
    }

    /// A chat's position without a membership check (tests, admin).
    pub async fn chat_position(&self, chat: ChatId) -> Result<Option<ChatPosition>, ServerError> {
        let row = sqlx::query("SELECT last_seq, rev FROM chats WHERE id = $1")
            .bind(chat.to_string())
            .fetch_optional(&self.db.read)
            .await?;
        row.as_ref().map(position_from_row).transpose()
    }
}
