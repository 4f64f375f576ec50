//! The cache's dedicated read connection for the hot, UI-facing reads: a chat's record and the
//! newest window of its messages (what `open_chat` needs), each ONE prepared, cached statement.
//!
//! Why not the sqlx pool: sqlx's SQLite driver runs every statement on a worker thread and
//! hands rows back over channels, about 0.15 ms a statement — ten times the read itself. This
//! connection (rusqlite on the same libsqlite3 as sqlx) runs the statement on the caller's
//! thread. It reads the FILE, never a copy: WAL mode gives each statement a consistent snapshot
//! of committed transactions, exactly as a pool connection would see. The reads here are
//! bounded indexed seeks (tens of microseconds), so running them inline is cheaper than any
//! hand-off; when another caller holds the connection, the caller falls back to the pool
//! instead of blocking its async thread.
//!
//! Owns nothing else: every write goes through the store's write lock (message writes on its
//! write connection, `store::writer`; the rest on the pool).

use crate::error::{Error, Result};
use crate::store::ChatRecord;
use crate::sync_state::SyncState;
use roost_proto::{ChatId, Message, MessageId, UserId};
use std::path::Path;
use std::str::FromStr;
use std::sync::Mutex;
use std::time::Duration;

/// The chat's columns plus its cached span (first and last run, by index seeks) and count; the
/// same shape as the store's `CHAT_COLS`.
const CHAT_SQL: &str = "SELECT chat_id, title, members, server_last_seq, server_rev, changes_cursor, unread_count,
        last_message_seq, last_message_preview, last_message_at, sync_state, needs_resync, full_reload_reason, is_open,
        (SELECT start_seq FROM cached_runs r WHERE r.chat_id = chats.chat_id ORDER BY start_seq ASC LIMIT 1),
        (SELECT end_seq FROM cached_runs r WHERE r.chat_id = chats.chat_id ORDER BY start_seq DESC LIMIT 1),
        cached_count,
        EXISTS (SELECT 1 FROM outbox o WHERE o.chat_id = chats.chat_id),
        last_full_reload_reason, last_full_reload_at, left_at
    FROM chats WHERE chat_id = ?1";

const NEWEST_SQL: &str =
    "SELECT seq, id, version, author, created_at, edited_at, deleted_at, body, rev
    FROM messages WHERE chat_id = ?1 ORDER BY seq DESC LIMIT ?2";

/// See the module docs.
pub(crate) struct Reader {
    connection: Mutex<Option<rusqlite::Connection>>,
}

impl std::fmt::Debug for Reader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reader").finish_non_exhaustive()
    }
}

fn cache_error(e: rusqlite::Error) -> Error {
    match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::DatabaseCorrupt | rusqlite::ErrorCode::NotADatabase) => {
            Error::CacheCorrupt(e.to_string())
        }
        _ => Error::Cache(e.to_string()),
    }
}

fn u(v: i64) -> u64 {
    v.max(0) as u64
}

impl Reader {
    /// Opens the read connection on an existing, migrated cache file.
    pub(crate) fn open(path: &Path) -> Result<Reader> {
        let connection = rusqlite::Connection::open_with_flags(
            path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(cache_error)?;
        connection
            .busy_timeout(Duration::from_secs(10))
            .map_err(cache_error)?;
        // This connection never writes.
        connection
            .pragma_update(None, "query_only", true)
            .map_err(cache_error)?;
        Ok(Reader {
            connection: Mutex::new(Some(connection)),
        })
    }

    /// Runs `read` on the connection; `None` when it is busy (another caller) or closed, so the
    /// caller uses the pool instead of waiting.
    fn with<T>(
        &self,
        read: impl FnOnce(&rusqlite::Connection) -> rusqlite::Result<T>,
    ) -> Option<Result<T>> {
        let guard = self.connection.try_lock().ok()?;
        let connection = guard.as_ref()?;
        Some(read(connection).map_err(cache_error))
    }

    /// Closes the connection (before the store seals the file at a clean shutdown).
    pub(crate) fn close(&self) {
        if let Ok(mut guard) = self.connection.lock() {
            guard.take();
        }
    }

    /// One chat's record, or `None` (not cached); the outer `None`: use the pool.
    pub(crate) fn chat(&self, chat: ChatId) -> Option<Result<Option<ChatRecord>>> {
        let raw = self.with(|connection| {
            let mut statement = connection.prepare_cached(CHAT_SQL)?;
            let mut rows = statement.query([chat.to_string()])?;
            let Some(row) = rows.next()? else {
                return Ok(None);
            };
            Ok(Some(RawChat {
                chat_id: row.get(0)?,
                title: row.get(1)?,
                members: row.get(2)?,
                numbers: [row.get(3)?, row.get(4)?, row.get(5)?, row.get(6)?],
                last_message_seq: row.get(7)?,
                last_message_preview: row.get(8)?,
                last_message_at: row.get(9)?,
                sync_state: row.get(10)?,
                needs_resync: row.get(11)?,
                full_reload_reason: row.get(12)?,
                is_open: row.get(13)?,
                local_min: row.get(14)?,
                local_max: row.get(15)?,
                cached_count: row.get(16)?,
                has_outbox: row.get(17)?,
                last_full_reload: (row.get(18)?, row.get(19)?),
                left_at: row.get(20)?,
            }))
        })?;
        Some(raw.and_then(|raw| raw.map(RawChat::into_record).transpose()))
    }

    /// The newest `n` cached messages of the chat, ascending; `None`: use the pool.
    pub(crate) fn newest_messages(&self, chat: ChatId, n: u32) -> Option<Result<Vec<Message>>> {
        let raw = self.with(|connection| {
            let mut statement = connection.prepare_cached(NEWEST_SQL)?;
            let rows =
                statement.query_map(rusqlite::params![chat.to_string(), n.max(1)], |row| {
                    Ok(RawMessage {
                        seq: row.get(0)?,
                        id: row.get(1)?,
                        version: row.get(2)?,
                        author: row.get(3)?,
                        created_at: row.get(4)?,
                        edited_at: row.get(5)?,
                        deleted_at: row.get(6)?,
                        body: row.get(7)?,
                        rev: row.get(8)?,
                    })
                })?;
            rows.collect::<rusqlite::Result<Vec<_>>>()
        })?;
        Some(raw.and_then(|raw| {
            let mut messages = raw
                .into_iter()
                .map(|m| m.into_message(chat))
                .collect::<Result<Vec<_>>>()?;
            messages.reverse();
            Ok(messages)
        }))
    }
}

struct RawChat {
    chat_id: String,
    title: String,
    members: String,
    /// server_last_seq, server_rev, changes_cursor, unread_count.
    numbers: [i64; 4],
    last_message_seq: Option<i64>,
    last_message_preview: Option<String>,
    last_message_at: Option<i64>,
    sync_state: String,
    needs_resync: i64,
    full_reload_reason: Option<String>,
    is_open: i64,
    local_min: Option<i64>,
    local_max: Option<i64>,
    cached_count: i64,
    has_outbox: i64,
    last_full_reload: (Option<String>, Option<i64>),
    left_at: Option<i64>,
}

impl RawChat {
    fn into_record(self) -> Result<ChatRecord> {
        let [server_last_seq, server_rev, changes_cursor, unread_count] = self.numbers;
        Ok(ChatRecord {
            chat_id: ChatId::from_str(&self.chat_id)
                .map_err(|e| Error::CacheCorrupt(format!("chat id {}: {e}", self.chat_id)))?,
            title: self.title,
            members: serde_json::from_str(&self.members).unwrap_or_default(),
            server_last_seq: u(server_last_seq),
            server_rev: u(server_rev),
            changes_cursor: u(changes_cursor),
            unread_count: u(unread_count),
            last_message_seq: self.last_message_seq.map(u),
            last_message_preview: self.last_message_preview,
            last_message_at: self.last_message_at,
            sync_state: SyncState::parse(&self.sync_state),
            needs_resync: self.needs_resync != 0,
            full_reload_reason: self.full_reload_reason,
            is_open: self.is_open != 0,
            local_min: self.local_min.map(u),
            local_max: self.local_max.map(u),
            cached_count: u(self.cached_count),
            has_outbox: self.has_outbox != 0,
            last_full_reload: crate::store::FullReloadNote::from_columns(
                self.last_full_reload.0,
                self.last_full_reload.1,
            ),
            left_at: self.left_at,
        })
    }
}

struct RawMessage {
    seq: i64,
    id: String,
    version: i64,
    author: String,
    created_at: i64,
    edited_at: Option<i64>,
    deleted_at: Option<i64>,
    body: String,
    rev: i64,
}

impl RawMessage {
    fn into_message(self, chat: ChatId) -> Result<Message> {
        Ok(Message {
            id: MessageId::from_str(&self.id)
                .map_err(|e| Error::CacheCorrupt(format!("message id {}: {e}", self.id)))?,
            chat_id: chat,
            seq: u(self.seq),
            version: u(self.version),
            author: UserId(self.author),
            created_at: self.created_at,
            edited_at: self.edited_at,
            deleted_at: self.deleted_at,
            body: serde_json::from_str(&self.body)
                .map_err(|e| Error::CacheCorrupt(format!("message body: {e}")))?,
            rev: u(self.rev),
        })
    }
}
