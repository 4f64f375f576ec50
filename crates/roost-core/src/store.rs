//! The SQLite message cache (`message_cache.db`): chats, messages, the cached-runs index, the
//! outbox and a little metadata.
//!
//! Owns every byte written to the cache file and its schema (`migrations/client/sqlite`).
//! Every write is ONE transaction; every message write updates `cached_runs` in that same
//! transaction, so gap computation reads the runs (O(gaps)) and never scans messages, and a
//! crash can never leave the index disagreeing with the messages. Merging follows
//! [`crate::merge`] (higher version wins). Must never hard-delete a message, never talk to the
//! network, never emit client events.

use crate::error::{Error, Result};
use crate::merge::{MergeDecision, decide};
use crate::ranges::{self, SeqRange};
use crate::sync_state::{SyncState, is_partial};
use roost_proto::{ChatId, ChatSummary, Message, MessageId, Rev, Seq, UserId};
use serde::{Deserialize, Serialize};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row, Sqlite, SqlitePool, Transaction};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

/// The application identifier shared with the desktop app: the cache lives in
/// `dirs::data_dir()/dev.roost.desktop/`.
pub const APP_IDENTIFIER: &str = "dev.roost.desktop";
/// File name of the cache inside the data directory.
pub const CACHE_FILE_NAME: &str = "message_cache.db";

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/client/sqlite");

/// `dirs::data_dir()/dev.roost.desktop` (falls back to `./dev.roost.desktop`).
pub fn default_data_dir() -> PathBuf {
    dirs::data_dir()
        .unwrap_or_else(|| PathBuf::from("."))
        .join(APP_IDENTIFIER)
}

/// `default_data_dir()/message_cache.db`.
pub fn default_cache_path() -> PathBuf {
    default_data_dir().join(CACHE_FILE_NAME)
}

/// The cache file was damaged at open: it was moved aside (never deleted) and a fresh cache
/// created.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CorruptionReport {
    /// Where the damaged file now is: `message_cache.db.corrupt-<unix seconds>`.
    pub moved_to: PathBuf,
    /// Why it was judged corrupt.
    pub reason: String,
    /// Chats whose rows could be read from the damaged file: re-created (empty) and flagged for
    /// a justified full resync.
    pub salvaged_chats: usize,
    /// Outbox entries (unsent messages) read back from the damaged file and kept.
    pub salvaged_outbox: usize,
}

/// The server's position of a chat as told by a response or event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    pub last_seq: Seq,
    pub rev: Rev,
}

/// How an ingest moves the chat's changes cursor (the rev up to which every cached message is
/// known current).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CursorRule {
    /// One committed mutation at this rev (stream event, send/edit/delete answer): the cursor
    /// advances only if `rev == cursor + 1` (Telegram's pts rule), or is set if the cache was
    /// empty.
    Event(Rev),
    /// A consistent snapshot at this rev (a range page): sets the cursor only if the cache was
    /// empty before (then every cached message comes from this snapshot).
    Snapshot(Rev),
    /// Leave the cursor alone (changes pages, re-validation pages).
    Keep,
}

/// Options of [`Store::ingest`].
#[derive(Debug, Clone)]
pub struct IngestOptions {
    pub position: Option<Position>,
    pub cursor: CursorRule,
    /// Count inserted messages newer than the newest cached one, not authored by `me`, as
    /// unread when the chat is not open.
    pub count_unread: bool,
    pub me: Option<UserId>,
    /// Mark the chat OUT_OF_SYNC + needs_resync when the result is partial or the cursor fell
    /// behind (stream ingest).
    pub flag_if_behind: bool,
}

impl IngestOptions {
    pub fn new(cursor: CursorRule) -> Self {
        IngestOptions {
            position: None,
            cursor,
            count_unread: false,
            me: None,
            flag_if_behind: false,
        }
    }
}

/// What an ingest changed.
#[derive(Debug, Clone, Default)]
pub struct IngestResult {
    /// Seqs inserted or replaced (ascending).
    pub changed: Vec<Seq>,
    pub inserted: usize,
    pub replaced: usize,
    /// After the write, the chat is partially synced (rule 4).
    pub partial: bool,
    /// An event's rev skipped past `cursor + 1`: some mutation was missed.
    pub cursor_behind: bool,
    /// The ingest flagged the chat OUT_OF_SYNC.
    pub flagged: bool,
}

/// A chat as the cache knows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatRecord {
    pub chat_id: ChatId,
    pub title: String,
    pub members: Vec<UserId>,
    /// Highest `last_seq` the server has told (0 = never told).
    pub server_last_seq: Seq,
    pub server_rev: Rev,
    /// Every cached message is current up to this rev.
    pub changes_cursor: Rev,
    pub unread_count: u64,
    pub last_message_seq: Option<Seq>,
    pub last_message_preview: Option<String>,
    pub last_message_at: Option<i64>,
    pub sync_state: SyncState,
    pub needs_resync: bool,
    pub full_reload_reason: Option<String>,
    pub is_open: bool,
    /// Oldest and newest cached seq, from the runs index.
    pub local_min: Option<Seq>,
    pub local_max: Option<Seq>,
    pub cached_count: u64,
    /// The chat has outbox entries (pending or failed sends).
    #[serde(default)]
    pub has_outbox: bool,
}

/// Delivery state of an unsent message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutboxState {
    Pending,
    Sending,
    Failed,
    /// Not stored: the server's copy replaced the entry (events only).
    Delivered,
}

impl OutboxState {
    fn as_str(self) -> &'static str {
        match self {
            OutboxState::Pending => "pending",
            OutboxState::Sending => "sending",
            OutboxState::Failed => "failed",
            OutboxState::Delivered => "delivered",
        }
    }
    fn parse(s: &str) -> OutboxState {
        match s {
            "sending" => OutboxState::Sending,
            "failed" => OutboxState::Failed,
            _ => OutboxState::Pending,
        }
    }
}

/// A message waiting in the outbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxEntry {
    pub local_id: String,
    pub chat_id: ChatId,
    pub idempotency_key: String,
    pub body: serde_json::Value,
    pub state: OutboxState,
    pub attempts: u64,
    pub last_error: Option<String>,
    pub created_at: i64,
}

/// The cache.
#[derive(Debug, Clone)]
pub struct Store {
    pool: SqlitePool,
    path: PathBuf,
    /// Serialises this process's write transactions (SQLite has one writer; doing it here
    /// avoids BUSY on read→write upgrades).
    write: std::sync::Arc<tokio::sync::Mutex<()>>,
}

fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn i(v: u64) -> i64 {
    v.min(i64::MAX as u64) as i64
}

fn u(v: i64) -> u64 {
    v.max(0) as u64
}

async fn connect(path: &Path) -> Result<SqlitePool> {
    let opts = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(Duration::from_secs(10))
        // A new cache can return evicted pages to the file system (see `budget`).
        .auto_vacuum(sqlx::sqlite::SqliteAutoVacuum::Incremental)
        .foreign_keys(true);
    Ok(SqlitePoolOptions::new()
        .max_connections(4)
        .connect_with(opts)
        .await?)
}

/// `quick_check` + migrations; `Err(reason)` when the file is not a usable cache.
async fn check_and_migrate(pool: &SqlitePool) -> std::result::Result<(), String> {
    let rows = sqlx::query("PRAGMA quick_check")
        .fetch_all(pool)
        .await
        .map_err(|e| format!("quick_check failed: {e}"))?;
    let results: Vec<String> = rows
        .iter()
        .filter_map(|r| r.try_get::<String, _>(0).ok())
        .collect();
    if results != ["ok"] {
        return Err(format!("quick_check: {}", results.join("; ")));
    }
    MIGRATOR
        .run(pool)
        .await
        .map_err(|e| format!("migrations failed: {e}"))?;
    Ok(())
}

impl Store {
    /// Opens (creating if needed) the cache at `path`. A file that is not a valid SQLite
    /// database, fails `PRAGMA quick_check` or cannot be migrated is moved aside to
    /// `<path>.corrupt-<unix>` (never deleted), what can still be read of its chats and outbox is
    /// salvaged, and a fresh cache is created; the report says so.
    pub async fn open(path: impl AsRef<Path>) -> Result<(Store, Option<CorruptionReport>)> {
        let path = path.as_ref().to_path_buf();
        if let Some(dir) = path.parent()
            && !dir.as_os_str().is_empty()
        {
            std::fs::create_dir_all(dir)
                .map_err(|e| Error::Cache(format!("create {}: {e}", dir.display())))?;
        }
        let first = match connect(&path).await {
            Ok(pool) => match check_and_migrate(&pool).await {
                Ok(()) => Ok(pool),
                Err(reason) => {
                    pool.close().await;
                    Err(reason)
                }
            },
            Err(e) => Err(format!("cannot open: {e}")),
        };
        let (pool, report) = match first {
            Ok(pool) => (pool, None),
            Err(reason) => {
                let unix = now_millis() / 1000;
                let moved_to = PathBuf::from(format!("{}.corrupt-{unix}", path.display()));
                tracing::warn!(path = %path.display(), moved_to = %moved_to.display(), %reason,
                    "message cache is corrupt: moving it aside and starting a fresh cache");
                std::fs::rename(&path, &moved_to).map_err(|e| {
                    Error::CacheCorrupt(format!("{reason}; moving it aside failed: {e}"))
                })?;
                for suffix in ["-wal", "-shm"] {
                    let side = PathBuf::from(format!("{}{suffix}", path.display()));
                    if side.exists() {
                        let _ = std::fs::rename(&side, format!("{}{suffix}", moved_to.display()));
                    }
                }
                let pool = connect(&path).await?;
                check_and_migrate(&pool)
                    .await
                    .map_err(Error::CacheCorrupt)?;
                (
                    pool,
                    Some(CorruptionReport {
                        moved_to,
                        reason,
                        salvaged_chats: 0,
                        salvaged_outbox: 0,
                    }),
                )
            }
        };
        let store = Store {
            pool,
            path,
            write: Default::default(),
        };
        let report = match report {
            Some(mut r) => {
                let (chats, outbox) = store.salvage(&r.moved_to).await;
                r.salvaged_chats = chats;
                r.salvaged_outbox = outbox;
                Some(r)
            }
            None => None,
        };
        // A crash while sending leaves entries "sending": they go back to pending (the
        // idempotency key makes the retry safe).
        sqlx::query("UPDATE outbox SET state = 'pending' WHERE state = 'sending'")
            .execute(&store.pool)
            .await?;
        Ok((store, report))
    }

    /// Best effort: reads chat rows and outbox entries from the damaged file, read-only. Chats
    /// come back empty and flagged `needs_resync` with `full_reload_reason = cache_corrupt`.
    async fn salvage(&self, damaged: &Path) -> (usize, usize) {
        let opts = SqliteConnectOptions::new()
            .filename(damaged)
            .read_only(true)
            .immutable(true);
        let Ok(pool) = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(opts)
            .await
        else {
            return (0, 0);
        };
        let mut chats = 0;
        let mut outbox = 0;
        if let Ok(rows) = sqlx::query("SELECT chat_id, title, members FROM chats")
            .fetch_all(&pool)
            .await
        {
            for r in rows {
                let (Ok(id), Ok(title), Ok(members)) = (
                    r.try_get::<String, _>(0),
                    r.try_get::<String, _>(1),
                    r.try_get::<String, _>(2),
                ) else {
                    continue;
                };
                if sqlx::query(
                    "INSERT OR IGNORE INTO chats(chat_id, title, members, needs_resync, full_reload_reason, sync_state)
                     VALUES (?, ?, ?, 1, 'cache_corrupt', 'OUT_OF_SYNC')",
                )
                .bind(id)
                .bind(title)
                .bind(members)
                .execute(&self.pool)
                .await
                .is_ok()
                {
                    chats += 1;
                }
            }
        }
        if let Ok(rows) = sqlx::query(
            "SELECT local_id, chat_id, idempotency_key, body, state, attempts, last_error, created_at FROM outbox",
        )
        .fetch_all(&pool)
        .await
        {
            for r in rows {
                let ok = sqlx::query(
                    "INSERT OR IGNORE INTO outbox(local_id, chat_id, idempotency_key, body, state, attempts, last_error, created_at)
                     VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                )
                .bind(r.try_get::<String, _>(0).unwrap_or_default())
                .bind(r.try_get::<String, _>(1).unwrap_or_default())
                .bind(r.try_get::<String, _>(2).unwrap_or_default())
                .bind(r.try_get::<String, _>(3).unwrap_or_else(|_| "null".into()))
                .bind(match r.try_get::<String, _>(4).as_deref() {
                    Ok("failed") => "failed",
                    _ => "pending",
                })
                .bind(r.try_get::<i64, _>(5).unwrap_or(0))
                .bind(r.try_get::<Option<String>, _>(6).unwrap_or(None))
                .bind(r.try_get::<i64, _>(7).unwrap_or(0))
                .execute(&self.pool)
                .await
                .is_ok();
                if ok {
                    outbox += 1;
                }
            }
        }
        pool.close().await;
        (chats, outbox)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The pool, for the cache's feature modules (`search`, `budget`, `verify`) that keep their
    /// own SQL in their own files. Writes must hold [`Store::write_guard`].
    pub(crate) fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// This process's single-writer lock (see the field).
    pub(crate) async fn write_guard(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.write.lock().await
    }

    /// Checkpoints the WAL into the main file and closes the pool (waits for running
    /// statements): a cleanly closed cache is one self-contained file.
    pub async fn close(&self) {
        let _w = self.write.lock().await;
        if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&self.pool)
            .await
        {
            tracing::debug!(error = %e, "checkpoint at close failed");
        }
        self.pool.close().await;
    }

    // ----- metadata -------------------------------------------------------------------------

    pub async fn meta(&self, key: &str) -> Result<Option<String>> {
        Ok(sqlx::query_scalar("SELECT value FROM meta WHERE key = ?")
            .bind(key)
            .fetch_optional(&self.pool)
            .await?)
    }

    pub async fn set_meta(&self, key: &str, value: &str) -> Result<()> {
        let _w = self.write.lock().await;
        sqlx::query("INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value")
            .bind(key)
            .bind(value)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    // ----- chats ----------------------------------------------------------------------------

    /// The chat's columns plus its cached span (first and last run, by index seeks) and count:
    /// a chat record costs O(log n) whatever the number of gaps or messages.
    const CHAT_COLS: &'static str = "chat_id, title, members, server_last_seq, server_rev, changes_cursor, unread_count,
        last_message_seq, last_message_preview, last_message_at, sync_state, needs_resync, full_reload_reason, is_open,
        (SELECT start_seq FROM cached_runs r WHERE r.chat_id = chats.chat_id ORDER BY start_seq ASC LIMIT 1),
        (SELECT end_seq FROM cached_runs r WHERE r.chat_id = chats.chat_id ORDER BY start_seq DESC LIMIT 1),
        cached_count,
        EXISTS (SELECT 1 FROM outbox o WHERE o.chat_id = chats.chat_id)";

    fn chat_from_row(r: &sqlx::sqlite::SqliteRow) -> Result<ChatRecord> {
        let id: String = r.try_get(0)?;
        let members: String = r.try_get(2)?;
        Ok(ChatRecord {
            chat_id: ChatId::from_str(&id)
                .map_err(|e| Error::CacheCorrupt(format!("chat id {id}: {e}")))?,
            title: r.try_get(1)?,
            members: serde_json::from_str(&members).unwrap_or_default(),
            server_last_seq: u(r.try_get(3)?),
            server_rev: u(r.try_get(4)?),
            changes_cursor: u(r.try_get(5)?),
            unread_count: u(r.try_get(6)?),
            last_message_seq: r.try_get::<Option<i64>, _>(7)?.map(u),
            last_message_preview: r.try_get(8)?,
            last_message_at: r.try_get(9)?,
            sync_state: SyncState::parse(&r.try_get::<String, _>(10)?),
            needs_resync: r.try_get::<i64, _>(11)? != 0,
            full_reload_reason: r.try_get(12)?,
            is_open: r.try_get::<i64, _>(13)? != 0,
            local_min: r.try_get::<Option<i64>, _>(14)?.map(u),
            local_max: r.try_get::<Option<i64>, _>(15)?.map(u),
            cached_count: u(r.try_get(16)?),
            has_outbox: r.try_get::<i64, _>(17)? != 0,
        })
    }

    /// One chat, or `None` if the cache has never heard of it.
    pub async fn chat(&self, chat: ChatId) -> Result<Option<ChatRecord>> {
        let mut conn = self.pool.acquire().await?;
        let row = sqlx::query(&format!(
            "SELECT {} FROM chats WHERE chat_id = ?",
            Self::CHAT_COLS
        ))
        .bind(chat.to_string())
        .fetch_optional(&mut *conn)
        .await?;
        match row {
            None => Ok(None),
            Some(row) => Ok(Some(Self::chat_from_row(&row)?)),
        }
    }

    /// Every cached chat, most recent activity first.
    pub async fn chats(&self) -> Result<Vec<ChatRecord>> {
        let mut conn = self.pool.acquire().await?;
        let rows = sqlx::query(&format!(
            "SELECT {} FROM chats ORDER BY COALESCE(last_message_at, 0) DESC, title",
            Self::CHAT_COLS
        ))
        .fetch_all(&mut *conn)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            out.push(Self::chat_from_row(&row)?);
        }
        Ok(out)
    }

    /// Chats whose title is exactly `title`.
    pub async fn chats_titled(&self, title: &str) -> Result<Vec<ChatId>> {
        let ids: Vec<String> = sqlx::query_scalar("SELECT chat_id FROM chats WHERE title = ?")
            .bind(title)
            .fetch_all(&self.pool)
            .await?;
        Ok(ids
            .iter()
            .filter_map(|s| ChatId::from_str(s).ok())
            .collect())
    }

    /// Chats flagged `needs_resync` (interrupted or due).
    pub async fn chats_needing_resync(&self) -> Result<Vec<ChatId>> {
        let ids: Vec<String> =
            sqlx::query_scalar("SELECT chat_id FROM chats WHERE needs_resync = 1")
                .fetch_all(&self.pool)
                .await?;
        Ok(ids
            .iter()
            .filter_map(|s| ChatId::from_str(s).ok())
            .collect())
    }

    /// Records the chat list in one transaction. Positions only move forward (max). Returns,
    /// per summary, the record as it was before (None: never seen).
    pub async fn upsert_summaries(
        &self,
        summaries: &[ChatSummary],
    ) -> Result<Vec<(ChatSummary, Option<ChatRecord>)>> {
        let mut before = Vec::with_capacity(summaries.len());
        for s in summaries {
            before.push((s.clone(), self.chat(s.id).await?));
        }
        let _w = self.write.lock().await;
        let mut tx = self.pool.begin().await?;
        for s in summaries {
            sqlx::query(
                "INSERT INTO chats(chat_id, title, members, server_last_seq, server_rev, last_message_at)
                 VALUES (?, ?, ?, ?, ?, ?)
                 ON CONFLICT(chat_id) DO UPDATE SET
                   title = excluded.title,
                   members = excluded.members,
                   server_last_seq = MAX(chats.server_last_seq, excluded.server_last_seq),
                   server_rev = MAX(chats.server_rev, excluded.server_rev),
                   last_message_at = COALESCE(MAX(chats.last_message_at, excluded.last_message_at), excluded.last_message_at, chats.last_message_at)",
            )
            .bind(s.id.to_string())
            .bind(&s.title)
            .bind(serde_json::to_string(&s.members).unwrap_or_else(|_| "[]".into()))
            .bind(i(s.last_seq))
            .bind(i(s.rev))
            .bind(s.last_message_at)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(before)
    }

    /// Records a server position (max) for a chat, creating the row if needed.
    pub async fn record_position(&self, chat: ChatId, pos: Position) -> Result<()> {
        let _w = self.write.lock().await;
        let mut tx = self.pool.begin().await?;
        ensure_chat(&mut tx, chat).await?;
        apply_position(&mut tx, chat, pos).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Sets the sync state, and the `needs_resync` flag when given.
    pub async fn set_sync(
        &self,
        chat: ChatId,
        state: SyncState,
        needs_resync: Option<bool>,
    ) -> Result<()> {
        let _w = self.write.lock().await;
        let mut tx = self.pool.begin().await?;
        ensure_chat(&mut tx, chat).await?;
        sqlx::query("UPDATE chats SET sync_state = ?, needs_resync = COALESCE(?, needs_resync) WHERE chat_id = ?")
            .bind(state.as_str())
            .bind(needs_resync.map(|b| b as i64))
            .bind(chat.to_string())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Forgets a chat row that holds nothing (no title, messages or outbox entries): used when
    /// the server says a chat we only guessed at does not exist for us.
    pub async fn forget_empty_chat(&self, chat: ChatId) -> Result<()> {
        let _w = self.write.lock().await;
        sqlx::query(
            "DELETE FROM chats WHERE chat_id = ?1 AND title = ''
               AND NOT EXISTS (SELECT 1 FROM messages WHERE chat_id = ?1)
               AND NOT EXISTS (SELECT 1 FROM cached_runs WHERE chat_id = ?1)
               AND NOT EXISTS (SELECT 1 FROM outbox WHERE chat_id = ?1)",
        )
        .bind(chat.to_string())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Clears the full-reload reason once the chat has been resynced.
    pub async fn clear_full_reload_reason(&self, chat: ChatId) -> Result<()> {
        let _w = self.write.lock().await;
        sqlx::query("UPDATE chats SET full_reload_reason = NULL WHERE chat_id = ?")
            .bind(chat.to_string())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Marks a chat open (resetting its unread count) or closed.
    pub async fn set_open(&self, chat: ChatId, open: bool) -> Result<()> {
        let _w = self.write.lock().await;
        let mut tx = self.pool.begin().await?;
        ensure_chat(&mut tx, chat).await?;
        sqlx::query("UPDATE chats SET is_open = ?, unread_count = CASE WHEN ? THEN 0 ELSE unread_count END WHERE chat_id = ?")
            .bind(open as i64)
            .bind(open)
            .bind(chat.to_string())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Closes every chat (a new session starts with none open).
    pub async fn close_all(&self) -> Result<()> {
        let _w = self.write.lock().await;
        sqlx::query("UPDATE chats SET is_open = 0 WHERE is_open = 1")
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// After a complete changes pass over `[span.start, span.end]` at `rev`: the cursor becomes
    /// `rev`, but only if the cached span is still exactly `span` (anything cached meanwhile
    /// outside it was not covered by the pass) and the cursor did not already pass it.
    pub async fn advance_cursor_after_changes(
        &self,
        chat: ChatId,
        span: SeqRange,
        rev: Rev,
    ) -> Result<bool> {
        let _w = self.write.lock().await;
        let mut tx = self.pool.begin().await?;
        // Only the two ends matter: read the first and the last run, not every run.
        let (first_start, last_end): (Option<i64>, Option<i64>) = sqlx::query_as(
            "SELECT (SELECT start_seq FROM cached_runs WHERE chat_id = ?1 ORDER BY start_seq ASC LIMIT 1),
                    (SELECT end_seq FROM cached_runs WHERE chat_id = ?1 ORDER BY start_seq DESC LIMIT 1)",
        )
        .bind(chat.to_string())
        .fetch_one(&mut *tx)
        .await?;
        let same = first_start.map(u) == Some(span.start) && last_end.map(u) == Some(span.end);
        if same {
            sqlx::query(
                "UPDATE chats SET changes_cursor = MAX(changes_cursor, ?) WHERE chat_id = ?",
            )
            .bind(i(rev))
            .bind(chat.to_string())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(same)
    }

    /// Sets the cursor unconditionally (after re-validating every cached run from `rev` on).
    pub async fn set_cursor(&self, chat: ChatId, rev: Rev) -> Result<()> {
        let _w = self.write.lock().await;
        sqlx::query("UPDATE chats SET changes_cursor = ? WHERE chat_id = ?")
            .bind(i(rev))
            .bind(chat.to_string())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    // ----- messages -------------------------------------------------------------------------

    /// The chat's cached runs (sorted, disjoint). O(gaps).
    pub async fn runs(&self, chat: ChatId) -> Result<Vec<SeqRange>> {
        let mut conn = self.pool.acquire().await?;
        load_runs(&mut conn, chat).await
    }

    /// Cached messages with `lo <= seq <= hi`, ascending.
    pub async fn messages_between(&self, chat: ChatId, lo: Seq, hi: Seq) -> Result<Vec<Message>> {
        let rows = sqlx::query(
            "SELECT seq, id, version, author, created_at, edited_at, deleted_at, body, rev
             FROM messages WHERE chat_id = ? AND seq BETWEEN ? AND ? ORDER BY seq",
        )
        .bind(chat.to_string())
        .bind(i(lo))
        .bind(i(hi))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| message_from_row(chat, r)).collect()
    }

    /// One cached message by id.
    pub async fn message_by_id(&self, chat: ChatId, id: MessageId) -> Result<Option<Message>> {
        let row = sqlx::query(
            "SELECT seq, id, version, author, created_at, edited_at, deleted_at, body, rev
             FROM messages WHERE chat_id = ? AND id = ?",
        )
        .bind(chat.to_string())
        .bind(id.to_string())
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| message_from_row(chat, &r)).transpose()
    }

    /// The seq of the `n`-th newest cached message (1 = newest), if there are that many;
    /// otherwise the oldest cached seq.
    /// The newest `n` cached messages of the chat, ascending, in one indexed read.
    pub async fn newest_messages(&self, chat: ChatId, n: u32) -> Result<Vec<Message>> {
        let rows = sqlx::query(
            "SELECT seq, id, version, author, created_at, edited_at, deleted_at, body, rev
             FROM messages WHERE chat_id = ? ORDER BY seq DESC LIMIT ?",
        )
        .bind(chat.to_string())
        .bind(i64::from(n.max(1)))
        .fetch_all(&self.pool)
        .await?;
        let mut messages = rows
            .iter()
            .map(|row| message_from_row(chat, row))
            .collect::<Result<Vec<_>>>()?;
        messages.reverse();
        Ok(messages)
    }

    /// Merges `msgs` (all of chat `chat`) into the cache in ONE transaction, with the runs
    /// index, the chat's last message, position, cursor and unread count.
    pub async fn ingest(
        &self,
        chat: ChatId,
        msgs: &[Message],
        opts: &IngestOptions,
    ) -> Result<IngestResult> {
        let _w = self.write.lock().await;
        let mut tx = self.pool.begin().await?;
        let res = ingest_tx(&mut tx, chat, msgs, opts).await?;
        tx.commit().await?;
        Ok(res)
    }

    /// Stream burst: merges a run of events of one chat in ONE transaction, applying each
    /// event's position and the cursor rule in order.
    pub async fn ingest_events(
        &self,
        chat: ChatId,
        events: &[(Message, Position)],
        template: &IngestOptions,
    ) -> Result<IngestResult> {
        let _w = self.write.lock().await;
        let mut tx = self.pool.begin().await?;
        let mut total = IngestResult::default();
        for (m, pos) in events {
            let mut opts = template.clone();
            opts.position = Some(*pos);
            opts.cursor = CursorRule::Event(pos.rev);
            let r = ingest_tx(&mut tx, chat, std::slice::from_ref(m), &opts).await?;
            total.changed.extend(r.changed);
            total.inserted += r.inserted;
            total.replaced += r.replaced;
            total.partial = r.partial;
            total.cursor_behind |= r.cursor_behind;
            total.flagged |= r.flagged;
        }
        tx.commit().await?;
        total.changed.sort_unstable();
        total.changed.dedup();
        Ok(total)
    }

    /// Ends a resync: in ONE transaction, re-validates the chat (rule 4) against its known
    /// server position and sets IN_SYNC (clearing `needs_resync` and the full-reload reason)
    /// or OUT_OF_SYNC (keeping the flag). Returns whether the chat is still partial.
    pub async fn finish_resync(&self, chat: ChatId) -> Result<bool> {
        let _w = self.write.lock().await;
        let mut tx = self.pool.begin().await?;
        ensure_chat(&mut tx, chat).await?;
        let runs = load_runs(&mut tx, chat).await?;
        let last: i64 = sqlx::query_scalar("SELECT server_last_seq FROM chats WHERE chat_id = ?")
            .bind(chat.to_string())
            .fetch_one(&mut *tx)
            .await?;
        let partial = is_partial(&runs, u(last));
        if partial {
            sqlx::query(
                "UPDATE chats SET sync_state = 'OUT_OF_SYNC', needs_resync = 1 WHERE chat_id = ?",
            )
            .bind(chat.to_string())
            .execute(&mut *tx)
            .await?;
        } else {
            sqlx::query(
                "UPDATE chats SET sync_state = 'IN_SYNC', needs_resync = 0, full_reload_reason = NULL WHERE chat_id = ?",
            )
            .bind(chat.to_string())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(partial)
    }

    /// A new session: every chat's state is UNKNOWN until its server position is learnt again
    /// (`needs_resync` is kept) and none is open.
    pub async fn reset_session(&self) -> Result<()> {
        let _w = self.write.lock().await;
        sqlx::query("UPDATE chats SET sync_state = 'UNKNOWN', is_open = 0")
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Rebuilds a chat's runs from its messages (repair; O(messages)). Returns whether the
    /// index was wrong.
    pub async fn rebuild_runs(&self, chat: ChatId) -> Result<bool> {
        let _w = self.write.lock().await;
        let mut tx = self.pool.begin().await?;
        let seqs: Vec<i64> =
            sqlx::query_scalar("SELECT seq FROM messages WHERE chat_id = ? ORDER BY seq")
                .bind(chat.to_string())
                .fetch_all(&mut *tx)
                .await?;
        let truth = ranges::runs_from_seqs(seqs.into_iter().map(u));
        let current = load_runs(&mut tx, chat).await?;
        let wrong = truth != current;
        if wrong {
            write_runs(&mut tx, chat, &truth).await?;
        }
        sqlx::query("UPDATE chats SET cached_count = ? WHERE chat_id = ?")
            .bind(i(ranges::cached_count(&truth)))
            .bind(chat.to_string())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(wrong)
    }

    /// Checks, per chat, that the runs index agrees with the messages (count, min, max); a
    /// cheap aggregate. Returns the chats that disagree.
    pub async fn inconsistent_chats(&self) -> Result<Vec<ChatId>> {
        let rows = sqlx::query(
            "SELECT c.chat_id,
                    (SELECT COUNT(*) FROM messages m WHERE m.chat_id = c.chat_id),
                    (SELECT COALESCE(SUM(end_seq - start_seq + 1), 0) FROM cached_runs r WHERE r.chat_id = c.chat_id)
             FROM chats c",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::new();
        for r in rows {
            let id: String = r.try_get(0)?;
            let a: i64 = r.try_get(1)?;
            let b: i64 = r.try_get(2)?;
            if a != b
                && let Ok(c) = ChatId::from_str(&id)
            {
                out.push(c);
            }
        }
        Ok(out)
    }

    // ----- outbox ---------------------------------------------------------------------------

    /// Persists a new outbox entry (state pending) and returns it.
    pub async fn outbox_add(&self, chat: ChatId, body: serde_json::Value) -> Result<OutboxEntry> {
        let entry = OutboxEntry {
            local_id: uuid::Uuid::new_v4().to_string(),
            chat_id: chat,
            idempotency_key: uuid::Uuid::new_v4().to_string(),
            body,
            state: OutboxState::Pending,
            attempts: 0,
            last_error: None,
            created_at: now_millis(),
        };
        let _w = self.write.lock().await;
        let mut tx = self.pool.begin().await?;
        ensure_chat(&mut tx, chat).await?;
        sqlx::query(
            "INSERT INTO outbox(local_id, chat_id, idempotency_key, body, state, attempts, created_at)
             VALUES (?, ?, ?, ?, 'pending', 0, ?)",
        )
        .bind(&entry.local_id)
        .bind(chat.to_string())
        .bind(&entry.idempotency_key)
        .bind(entry.body.to_string())
        .bind(entry.created_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(entry)
    }

    fn outbox_from_row(r: &sqlx::sqlite::SqliteRow) -> Result<OutboxEntry> {
        let chat: String = r.try_get(1)?;
        let body: String = r.try_get(3)?;
        Ok(OutboxEntry {
            local_id: r.try_get(0)?,
            chat_id: ChatId::from_str(&chat)
                .map_err(|e| Error::CacheCorrupt(format!("outbox chat id: {e}")))?,
            idempotency_key: r.try_get(2)?,
            body: serde_json::from_str(&body).unwrap_or(serde_json::Value::Null),
            state: OutboxState::parse(&r.try_get::<String, _>(4)?),
            attempts: u(r.try_get(5)?),
            last_error: r.try_get(6)?,
            created_at: r.try_get(7)?,
        })
    }

    /// Outbox entries, oldest first; of one chat when given.
    pub async fn outbox(&self, chat: Option<ChatId>) -> Result<Vec<OutboxEntry>> {
        let rows = sqlx::query(
            "SELECT local_id, chat_id, idempotency_key, body, state, attempts, last_error, created_at
             FROM outbox WHERE (? IS NULL OR chat_id = ?) ORDER BY created_at, rowid",
        )
        .bind(chat.map(|c| c.to_string()))
        .bind(chat.map(|c| c.to_string()))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(Self::outbox_from_row).collect()
    }

    pub async fn outbox_entry(&self, local_id: &str) -> Result<Option<OutboxEntry>> {
        let row = sqlx::query(
            "SELECT local_id, chat_id, idempotency_key, body, state, attempts, last_error, created_at
             FROM outbox WHERE local_id = ?",
        )
        .bind(local_id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(Self::outbox_from_row).transpose()
    }

    /// Sets an entry's state (counting an attempt when it becomes `sending`).
    pub async fn outbox_set_state(
        &self,
        local_id: &str,
        state: OutboxState,
        error: Option<&str>,
    ) -> Result<()> {
        let _w = self.write.lock().await;
        sqlx::query(
            "UPDATE outbox SET state = ?, attempts = attempts + CASE WHEN ? = 'sending' THEN 1 ELSE 0 END,
                 last_error = COALESCE(?, last_error) WHERE local_id = ?",
        )
        .bind(state.as_str())
        .bind(state.as_str())
        .bind(error)
        .bind(local_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The server accepted the entry: in ONE transaction, merge its copy into the cache and
    /// remove the entry (so the pending copy is replaced, never duplicated).
    pub async fn outbox_delivered(
        &self,
        local_id: &str,
        message: &Message,
        opts: &IngestOptions,
    ) -> Result<IngestResult> {
        let _w = self.write.lock().await;
        let mut tx = self.pool.begin().await?;
        let res = ingest_tx(
            &mut tx,
            message.chat_id,
            std::slice::from_ref(message),
            opts,
        )
        .await?;
        sqlx::query("DELETE FROM outbox WHERE local_id = ?")
            .bind(local_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(res)
    }
}

fn message_from_row(chat: ChatId, r: &sqlx::sqlite::SqliteRow) -> Result<Message> {
    let id: String = r.try_get(1)?;
    let body: String = r.try_get(7)?;
    Ok(Message {
        id: MessageId::from_str(&id)
            .map_err(|e| Error::CacheCorrupt(format!("message id {id}: {e}")))?,
        chat_id: chat,
        seq: u(r.try_get(0)?),
        version: u(r.try_get(2)?),
        author: UserId(r.try_get(3)?),
        created_at: r.try_get(4)?,
        edited_at: r.try_get(5)?,
        deleted_at: r.try_get(6)?,
        body: serde_json::from_str(&body)
            .map_err(|e| Error::CacheCorrupt(format!("message body: {e}")))?,
        rev: u(r.try_get(8)?),
    })
}

async fn load_runs(conn: &mut sqlx::SqliteConnection, chat: ChatId) -> Result<Vec<SeqRange>> {
    let rows: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT start_seq, end_seq FROM cached_runs WHERE chat_id = ? ORDER BY start_seq",
    )
    .bind(chat.to_string())
    .fetch_all(&mut *conn)
    .await?;
    let runs: Vec<SeqRange> = rows
        .into_iter()
        .map(|(a, b)| SeqRange {
            start: u(a),
            end: u(b),
        })
        .collect();
    if !ranges::is_canonical(&runs) {
        return Err(Error::CacheCorrupt(format!(
            "cached runs of chat {chat} overlap"
        )));
    }
    Ok(runs)
}

/// The cached (version, id) of every seq the batch carries, read in chunks of `IN (…)` lists.
async fn load_cached_versions(
    conn: &mut sqlx::SqliteConnection,
    chat_s: &str,
    msgs: &[Message],
) -> Result<HashMap<Seq, (u64, String)>> {
    let mut seqs: Vec<Seq> = msgs.iter().map(|m| m.seq).collect();
    seqs.sort_unstable();
    seqs.dedup();
    let mut known = HashMap::with_capacity(seqs.len());
    for chunk in seqs.chunks(500) {
        let placeholders = vec!["?"; chunk.len()].join(",");
        let sql = format!(
            "SELECT seq, version, id FROM messages WHERE chat_id = ? AND seq IN ({placeholders})"
        );
        let mut query = sqlx::query_as::<_, (i64, i64, String)>(&sql).bind(chat_s);
        for seq in chunk {
            query = query.bind(i(*seq));
        }
        for (seq, version, id) in query.fetch_all(&mut *conn).await? {
            known.insert(u(seq), (u(version), id));
        }
    }
    Ok(known)
}

/// Writes messages (already decided by the merge rule) with multi-row upserts. The `WHERE`
/// keeps the merge rule in SQL too: a row is only ever replaced by a higher version.
async fn upsert_messages<'m>(
    conn: &mut sqlx::SqliteConnection,
    chat_s: &str,
    msgs: impl Iterator<Item = &'m Message>,
) -> Result<()> {
    const ROWS_PER_STATEMENT: usize = 100; // 10 binds a row; far below SQLite's bind limit
    let msgs: Vec<&Message> = msgs.collect();
    for chunk in msgs.chunks(ROWS_PER_STATEMENT) {
        let rows = vec!["(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"; chunk.len()].join(",");
        let sql = format!(
            "INSERT INTO messages(chat_id, seq, id, version, author, created_at, edited_at, deleted_at, body, rev)
             VALUES {rows}
             ON CONFLICT(chat_id, seq) DO UPDATE SET
               version = excluded.version, author = excluded.author, created_at = excluded.created_at,
               edited_at = excluded.edited_at, deleted_at = excluded.deleted_at, body = excluded.body,
               rev = excluded.rev
             WHERE excluded.version > messages.version"
        );
        let mut query = sqlx::query(&sql);
        for m in chunk {
            query = query
                .bind(chat_s)
                .bind(i(m.seq))
                .bind(m.id.to_string())
                .bind(i(m.version))
                .bind(m.author.as_str())
                .bind(m.created_at)
                .bind(m.edited_at)
                .bind(m.deleted_at)
                .bind(m.body.to_string())
                .bind(i(m.rev));
        }
        query.execute(&mut *conn).await?;
    }
    Ok(())
}

/// The last (at most two) runs of the chat, ascending: enough to know the local max and whether
/// the cache has a hole (canonical runs: two runs ⇔ a gap), in O(log n).
async fn load_tail_runs(conn: &mut sqlx::SqliteConnection, chat: ChatId) -> Result<Vec<SeqRange>> {
    let rows: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT start_seq, end_seq FROM cached_runs WHERE chat_id = ? ORDER BY start_seq DESC LIMIT 2",
    )
    .bind(chat.to_string())
    .fetch_all(&mut *conn)
    .await?;
    let mut runs: Vec<SeqRange> = rows
        .into_iter()
        .rev()
        .map(|(a, b)| SeqRange {
            start: u(a),
            end: u(b),
        })
        .collect();
    if !ranges::is_canonical(&runs) {
        return Err(Error::CacheCorrupt(format!(
            "cached runs of chat {chat} overlap"
        )));
    }
    runs.shrink_to_fit();
    Ok(runs)
}

/// The runs a write of seqs within `lo ..= hi` can merge with: the run starting before `lo`
/// (if it reaches `lo - 1`) and every run starting within `lo ..= hi + 1`. Runs outside can
/// neither change nor be merged, so they are never read or rewritten.
async fn load_runs_touching(
    conn: &mut sqlx::SqliteConnection,
    chat: ChatId,
    lo: Seq,
    hi: Seq,
) -> Result<Vec<SeqRange>> {
    let chat_s = chat.to_string();
    let mut runs = Vec::new();
    let before: Option<(i64, i64)> = sqlx::query_as(
        "SELECT start_seq, end_seq FROM cached_runs WHERE chat_id = ? AND start_seq < ? ORDER BY start_seq DESC LIMIT 1",
    )
    .bind(&chat_s)
    .bind(i(lo))
    .fetch_optional(&mut *conn)
    .await?;
    if let Some((start, end)) = before
        && u(end).saturating_add(1) >= lo
    {
        runs.push(SeqRange {
            start: u(start),
            end: u(end),
        });
    }
    if hi >= lo {
        let within: Vec<(i64, i64)> = sqlx::query_as(
            "SELECT start_seq, end_seq FROM cached_runs WHERE chat_id = ? AND start_seq >= ? AND start_seq <= ? ORDER BY start_seq",
        )
        .bind(&chat_s)
        .bind(i(lo))
        .bind(i(hi.saturating_add(1)))
        .fetch_all(&mut *conn)
        .await?;
        runs.extend(within.into_iter().map(|(a, b)| SeqRange {
            start: u(a),
            end: u(b),
        }));
    }
    if !ranges::is_canonical(&runs) {
        return Err(Error::CacheCorrupt(format!(
            "cached runs of chat {chat} overlap"
        )));
    }
    Ok(runs)
}

/// Replaces the runs `old` (as read by [`load_runs_touching`]) with `new` (the same runs after
/// the write merged seqs into them), writing only rows that changed.
async fn replace_runs(
    tx: &mut Transaction<'_, Sqlite>,
    chat: ChatId,
    old: &[SeqRange],
    new: &[SeqRange],
) -> Result<()> {
    let chat_s = chat.to_string();
    for run in old.iter().filter(|run| !new.contains(run)) {
        sqlx::query("DELETE FROM cached_runs WHERE chat_id = ? AND start_seq = ?")
            .bind(&chat_s)
            .bind(i(run.start))
            .execute(&mut **tx)
            .await?;
    }
    for run in new.iter().filter(|run| !old.contains(run)) {
        sqlx::query("INSERT INTO cached_runs(chat_id, start_seq, end_seq) VALUES (?, ?, ?)")
            .bind(&chat_s)
            .bind(i(run.start))
            .bind(i(run.end))
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

async fn write_runs(
    tx: &mut Transaction<'_, Sqlite>,
    chat: ChatId,
    runs: &[SeqRange],
) -> Result<()> {
    sqlx::query("DELETE FROM cached_runs WHERE chat_id = ?")
        .bind(chat.to_string())
        .execute(&mut **tx)
        .await?;
    for r in runs {
        sqlx::query("INSERT INTO cached_runs(chat_id, start_seq, end_seq) VALUES (?, ?, ?)")
            .bind(chat.to_string())
            .bind(i(r.start))
            .bind(i(r.end))
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

async fn ensure_chat(tx: &mut Transaction<'_, Sqlite>, chat: ChatId) -> Result<()> {
    sqlx::query("INSERT OR IGNORE INTO chats(chat_id) VALUES (?)")
        .bind(chat.to_string())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

async fn apply_position(
    tx: &mut Transaction<'_, Sqlite>,
    chat: ChatId,
    pos: Position,
) -> Result<()> {
    sqlx::query(
        "UPDATE chats SET server_last_seq = MAX(server_last_seq, ?), server_rev = MAX(server_rev, ?) WHERE chat_id = ?",
    )
    .bind(i(pos.last_seq))
    .bind(i(pos.rev))
    .bind(chat.to_string())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

fn preview(m: &Message) -> String {
    if m.is_deleted() {
        return "(deleted)".to_string();
    }
    let text = m
        .text()
        .map(str::to_string)
        .unwrap_or_else(|| m.body.to_string());
    let mut p: String = text.chars().take(120).collect();
    if p.len() < text.len() {
        p.push('…');
    }
    p
}

async fn ingest_tx(
    tx: &mut Transaction<'_, Sqlite>,
    chat: ChatId,
    msgs: &[Message],
    opts: &IngestOptions,
) -> Result<IngestResult> {
    ensure_chat(tx, chat).await?;
    let chat_s = chat.to_string();
    let (cursor, last_message_seq, is_open, server_last_seq): (i64, Option<i64>, i64, i64) = sqlx::query_as(
        "SELECT changes_cursor, last_message_seq, is_open, server_last_seq FROM chats WHERE chat_id = ?",
    )
    .bind(&chat_s)
    .fetch_one(&mut **tx)
    .await?;
    let cursor = u(cursor);
    // Only the runs this batch can touch are read and rewritten (O(affected runs), not O(gaps)):
    // a chat with 10,000 gaps must not pay 10,000 row writes per incoming message.
    let tail_before = load_tail_runs(tx, chat).await?;
    let was_empty = tail_before.is_empty();
    let prev_max = tail_before.last().map(|r| r.end).unwrap_or(0);
    let batch_lo = msgs.iter().map(|m| m.seq).min().unwrap_or(1).max(1);
    let batch_hi = msgs.iter().map(|m| m.seq).max().unwrap_or(0);
    let touched_before = load_runs_touching(tx, chat, batch_lo, batch_hi).await?;
    let mut runs = touched_before.clone();
    let mut res = IngestResult::default();
    let mut unread = 0u64;
    let mut new_last: Option<&Message> = None;
    let mut runs_changed = false;
    if let Some(m) = msgs.iter().find(|m| m.chat_id != chat) {
        return Err(Error::ProtocolViolation(format!(
            "message seq {} of chat {} ingested into chat {chat}",
            m.seq, m.chat_id
        )));
    }
    // One read for the cached versions of the whole batch and multi-row upserts: per-message
    // round trips to SQLite would cap ingest far below what a stream burst or a page needs.
    let mut known = load_cached_versions(tx, &chat_s, msgs).await?;
    let mut to_write: BTreeMap<Seq, &Message> = BTreeMap::new();
    for m in msgs {
        let cached = known.get(&m.seq);
        if let Some((_, id)) = cached
            && *id != m.id.to_string()
        {
            return Err(Error::ProtocolViolation(format!(
                "seq {} of chat {chat} is message {id} in the cache but {} from the server",
                m.seq, m.id
            )));
        }
        let decision = decide(cached.map(|c| c.0), m.version);
        if decision == MergeDecision::Keep {
            continue;
        }
        known.insert(m.seq, (m.version, m.id.to_string()));
        to_write.insert(m.seq, m);
        res.changed.push(m.seq);
        if decision == MergeDecision::Insert {
            res.inserted += 1;
            ranges::insert_seq(&mut runs, m.seq);
            runs_changed = true;
            let mine = opts.me.as_ref() == Some(&m.author);
            if opts.count_unread && is_open == 0 && !mine && m.seq > prev_max {
                unread += 1;
            }
        } else {
            res.replaced += 1;
        }
        if last_message_seq.is_none_or(|l| m.seq >= u(l)) && new_last.is_none_or(|n| m.seq >= n.seq)
        {
            new_last = Some(m);
        }
    }
    upsert_messages(tx, &chat_s, to_write.values().copied()).await?;
    res.changed.sort_unstable();
    res.changed.dedup();
    if runs_changed {
        replace_runs(tx, chat, &touched_before, &runs).await?;
    }
    let tail_after = if runs_changed {
        load_tail_runs(tx, chat).await?
    } else {
        tail_before
    };
    if let Some(m) = new_last {
        sqlx::query(
            "UPDATE chats SET last_message_seq = ?, last_message_preview = ?,
               last_message_at = MAX(COALESCE(last_message_at, 0), ?) WHERE chat_id = ?",
        )
        .bind(i(m.seq))
        .bind(preview(m))
        .bind(m.created_at)
        .bind(&chat_s)
        .execute(&mut **tx)
        .await?;
    }
    if res.inserted > 0 {
        sqlx::query("UPDATE chats SET cached_count = cached_count + ? WHERE chat_id = ?")
            .bind(res.inserted as i64)
            .bind(&chat_s)
            .execute(&mut **tx)
            .await?;
    }
    if unread > 0 {
        sqlx::query("UPDATE chats SET unread_count = unread_count + ? WHERE chat_id = ?")
            .bind(unread as i64)
            .bind(&chat_s)
            .execute(&mut **tx)
            .await?;
    }
    let mut known_last = u(server_last_seq);
    if let Some(pos) = opts.position {
        apply_position(tx, chat, pos).await?;
        known_last = known_last.max(pos.last_seq);
    }
    let new_cursor = match opts.cursor {
        CursorRule::Event(rev) if was_empty && !tail_after.is_empty() => Some(rev),
        CursorRule::Event(rev) if rev == cursor + 1 => Some(rev),
        CursorRule::Event(rev) => {
            res.cursor_behind = rev > cursor + 1;
            None
        }
        CursorRule::Snapshot(rev) if was_empty && !tail_after.is_empty() => Some(rev),
        _ => None,
    };
    if let Some(rev) = new_cursor {
        sqlx::query("UPDATE chats SET changes_cursor = MAX(changes_cursor, ?) WHERE chat_id = ?")
            .bind(i(rev))
            .bind(&chat_s)
            .execute(&mut **tx)
            .await?;
    }
    // The last two runs decide rule 4: more than one run means a hole; one run is partial
    // exactly when it ends below the server's last_seq.
    res.partial = is_partial(&tail_after, known_last);
    if opts.flag_if_behind && (res.partial || res.cursor_behind) {
        sqlx::query("UPDATE chats SET needs_resync = 1, sync_state = 'OUT_OF_SYNC' WHERE chat_id = ? AND sync_state != 'SYNCING'")
            .bind(&chat_s)
            .execute(&mut **tx)
            .await?;
        sqlx::query("UPDATE chats SET needs_resync = 1 WHERE chat_id = ?")
            .bind(&chat_s)
            .execute(&mut **tx)
            .await?;
        res.flagged = true;
    }
    Ok(res)
}
