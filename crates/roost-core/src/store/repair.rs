//! Per-chat repair: damage confined to one chat quarantines that chat only.
//!
//! A chat is damaged when one of its cached rows cannot be used (a message whose id, body or
//! numbers do not decode) or its cursor is impossible (past every rev the server told). Its
//! cached rows are then dropped in one transaction (messages, runs index, cursor, counts) and it
//! is flagged for a justified full resync (`full_reload_reason = cache_corrupt: …`, kept as its
//! last full reload); every other chat keeps its history untouched. A file SQLite itself calls
//! damaged is salvaged chat by chat (`super::salvage` finds the tables even past a damaged
//! schema): each chat whose rows all read and decode keeps its history, the others come back
//! empty and flagged.
//!
//! Must never touch another chat's rows, and never drop outbox entries (unsent messages).

use super::*;
use sqlx::SqlitePool;

/// Why a chat was quarantined.
pub const REASON_UNDECODABLE: &str = "cache_corrupt: undecodable cached messages";
pub const REASON_CURSOR: &str = "cache_corrupt: impossible changes cursor";

/// Rows of a message the store can use (the same rules as reading one).
fn decodes(id: &str, body: &str, seq: i64, version: i64, rev: i64) -> bool {
    MessageId::from_str(id).is_ok()
        && serde_json::from_str::<serde_json::Value>(body).is_ok()
        && seq >= 1
        && version >= 1
        && rev >= 1
}

const MESSAGE_COLS: &str = "seq, id, version, author, created_at, edited_at, deleted_at, body, rev";

/// One message row as stored, for a byte-exact copy.
type RawMessage = (
    i64,
    String,
    i64,
    String,
    i64,
    Option<i64>,
    Option<i64>,
    String,
    i64,
);

impl Store {
    /// The damaged chats with why (see the module doc). O(cached messages): run only when the
    /// file was not exactly as a clean close left it.
    pub async fn damaged_chats(&self) -> Result<Vec<(ChatId, &'static str)>> {
        let mut out: Vec<(ChatId, &'static str)> = Vec::new();
        // Cheap SQL pre-filter, then the exact decode of the suspects' rows.
        let suspects: Vec<String> = sqlx::query_scalar(
            "SELECT DISTINCT chat_id FROM messages
             WHERE NOT json_valid(body) OR length(id) <> 36 OR seq < 1 OR version < 1 OR rev < 1
                OR typeof(seq) <> 'integer' OR typeof(version) <> 'integer' OR typeof(rev) <> 'integer'",
        )
        .fetch_all(&self.pool)
        .await?;
        for id in suspects {
            if let Ok(chat) = ChatId::from_str(&id) {
                out.push((chat, REASON_UNDECODABLE));
            }
        }
        let cursors: Vec<String> =
            sqlx::query_scalar("SELECT chat_id FROM chats WHERE changes_cursor > server_rev")
                .fetch_all(&self.pool)
                .await?;
        for id in cursors {
            if let Ok(chat) = ChatId::from_str(&id)
                && !out.iter().any(|(c, _)| *c == chat)
            {
                out.push((chat, REASON_CURSOR));
            }
        }
        Ok(out)
    }

    /// Drops every cached row of `chat` and flags it for a full resync with `reason`, in one
    /// transaction (see the module doc). Its outbox entries stay.
    pub async fn quarantine_chat(&self, chat: ChatId, reason: &str) -> Result<()> {
        let _w = self.write.lock().await;
        let mut tx = self.pool.begin().await?;
        let chat_s = chat.to_string();
        for sql in [
            "DELETE FROM messages WHERE chat_id = ?",
            "DELETE FROM cached_runs WHERE chat_id = ?",
        ] {
            sqlx::query(sql).bind(&chat_s).execute(&mut *tx).await?;
        }
        sqlx::query(
            "UPDATE chats SET changes_cursor = 0, cached_count = 0, unread_count = 0,
                 last_message_seq = NULL, last_message_preview = NULL, needs_resync = 1,
                 sync_state = ?1, full_reload_reason = ?2, last_full_reload_reason = ?2,
                 last_full_reload_at = ?3
             WHERE chat_id = ?4",
        )
        .bind(SyncState::OutOfSync.as_str())
        .bind(reason)
        .bind(now_millis())
        .bind(&chat_s)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        tracing::warn!(%chat, %reason, "quarantined this chat's cache: its rows were dropped; a full resync of this chat follows, every other chat is untouched");
        Ok(())
    }

    /// Copies `chat`'s history from the damaged file when every row of it reads and decodes:
    /// the chat row's positions and cursor, its messages byte for byte, then its runs index
    /// rebuilt. `false`: nothing copied (the chat stays flagged for a full resync).
    pub(super) async fn salvage_chat_history(&self, damaged: &SqlitePool, chat_id: &str) -> bool {
        let Ok(chat) = ChatId::from_str(chat_id) else {
            return false;
        };
        let Ok(rows) = sqlx::query_as::<_, RawMessage>(&format!(
            "SELECT {MESSAGE_COLS} FROM messages WHERE chat_id = ? ORDER BY seq"
        ))
        .bind(chat_id)
        .fetch_all(damaged)
        .await
        .inspect_err(|e| tracing::info!(%chat, error = %e, "this chat's messages cannot be read from the damaged file"))
        else {
            return false;
        };
        if !rows.iter().all(|r| decodes(&r.1, &r.7, r.0, r.2, r.8)) {
            return false;
        }
        let Ok(position) = sqlx::query_as::<_, (i64, i64, i64, i64, Option<i64>, Option<String>, Option<i64>)>(
            "SELECT server_last_seq, server_rev, changes_cursor, unread_count, last_message_seq,
                    last_message_preview, last_message_at FROM chats WHERE chat_id = ?",
        )
        .bind(chat_id)
        .fetch_one(damaged)
        .await
        .inspect_err(|e| tracing::info!(%chat, error = %e, "this chat's row cannot be read from the damaged file"))
        else {
            return false;
        };
        if position.2 > position.1 {
            return false; // an impossible cursor: not worth keeping
        }
        match self.copy_history(chat, &rows, position).await {
            Ok(()) => self.rebuild_runs(chat).await.is_ok(),
            Err(e) => {
                tracing::warn!(%chat, error = %e, "salvaging this chat's history failed");
                false
            }
        }
    }

    async fn copy_history(
        &self,
        chat: ChatId,
        rows: &[RawMessage],
        p: (i64, i64, i64, i64, Option<i64>, Option<String>, Option<i64>),
    ) -> Result<()> {
        let _w = self.write.lock().await;
        let mut tx = self.pool.begin().await?;
        let chat_s = chat.to_string();
        for r in rows {
            search_queue::queue_one(&mut tx, chat, u(r.0)).await?;
            sqlx::query(&format!(
                "INSERT OR REPLACE INTO messages(chat_id, {MESSAGE_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            ))
            .bind(&chat_s)
            .bind(r.0)
            .bind(&r.1)
            .bind(r.2)
            .bind(&r.3)
            .bind(r.4)
            .bind(r.5)
            .bind(r.6)
            .bind(&r.7)
            .bind(r.8)
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query(
            "UPDATE chats SET server_last_seq = ?, server_rev = ?, changes_cursor = ?, unread_count = ?,
                 last_message_seq = ?, last_message_preview = ?, last_message_at = ?,
                 needs_resync = 0, full_reload_reason = NULL, sync_state = ?,
                 last_full_reload_reason = NULL, last_full_reload_at = NULL
             WHERE chat_id = ?",
        )
        .bind(p.0)
        .bind(p.1)
        .bind(p.2)
        .bind(p.3)
        .bind(p.4)
        .bind(p.5)
        .bind(p.6)
        .bind(SyncState::Unknown.as_str())
        .bind(&chat_s)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }
}
