//! The SQLite message cache (`message_cache.db`): chats, messages, the cached-runs index, the
//! outbox and a little metadata.
//!
//! Owns every byte written to the cache file and its schema (`migrations/client/sqlite`).
//! Every write is ONE transaction; every message write updates `cached_runs` in that same
//! transaction, so gap computation reads the runs (O(gaps)) and never scans messages, and a
//! crash can never leave the index disagreeing with the messages. Merging follows
//! [`crate::merge`] (higher version wins). Must never hard-delete a message, never talk to the
//! network, never emit client events.

use crate::clean_shutdown::{self, FileStamp};
use crate::error::{Error, Result};
use crate::ranges::{self, SeqRange};
use crate::reader::Reader;
use crate::sync_state::{SyncInput, SyncState, is_partial, transition};
pub use roost_model::OutboxState;
use roost_proto::{ChatId, ChatSummary, Message, MessageId, Rev, Seq, UserId};
use serde::{Deserialize, Serialize};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row, Sqlite, SqlitePool, Transaction};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

/// The application identifier shared with the desktop app: the cache lives in
/// `dirs::data_dir()/dev.roost.desktop/`.
pub const APP_IDENTIFIER: &str = "dev.roost.desktop";
/// File name of the cache inside the data directory.
pub const CACHE_FILE_NAME: &str = "message_cache.db";

mod chats;
mod ingest;
mod left;
mod messages;
mod outbox;
pub mod repair;
mod runs;
mod salvage;
mod schema_page;
mod search_index;
pub(crate) mod search_queue;
mod writer;

use chats::ensure_chat;
use ingest::{ingest_events_tx, ingest_tx};
use runs::{load_runs, load_runs_touching, load_tail_runs, replace_runs, write_runs};
pub use search_index::INDEX_BATCH;
pub(crate) use search_index::has_unspaced_script;
use writer::{WriteTx, Writer};

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
    /// Salvaged chats whose whole cached history read back intact and was kept (the others
    /// are flagged for a full resync), see `store::repair`.
    #[serde(default)]
    pub kept_chats: usize,
}

/// The server's position of a chat as told by a response or event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    pub last_seq: Seq,
    pub rev: Rev,
}

pub use roost_model::ingest::CursorRule;

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
    /// behind or was taken back (stream ingest).
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
    /// The batch cached a copy older than the changes cursor, which went back to that copy's
    /// rev (and the chat was flagged `needs_resync`): a changes pass is due.
    pub cursor_lowered: bool,
    /// The ingest flagged the chat for a resync (`needs_resync`).
    pub flagged: bool,
    /// The chat's sync state after the ingest, when the ingest validated it (as stored).
    pub sync_state: Option<SyncState>,
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
    /// The last full reload of this chat (why, when in ms since the epoch): kept after it
    /// succeeded, so a person can be told (SPEC rule 6: a logged exception with its reason).
    #[serde(default)]
    pub last_full_reload: Option<FullReloadNote>,
    /// The user is no longer a member (left, removed, or unlisted by the server) since this
    /// time (Unix ms): the chat is read-only here and never synced.
    #[serde(default)]
    pub left_at: Option<i64>,
}

/// Why and when a chat was last fully reloaded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FullReloadNote {
    pub reason: String,
    pub at: i64,
}

impl FullReloadNote {
    pub(crate) fn from_columns(reason: Option<String>, at: Option<i64>) -> Option<FullReloadNote> {
        reason.map(|reason| FullReloadNote {
            reason,
            at: at.unwrap_or(0),
        })
    }
}

impl ChatRecord {
    /// The user is no longer a member of this chat (see [`ChatRecord::left_at`]).
    pub fn is_left(&self) -> bool {
        self.left_at.is_some()
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
    /// The hot reads of `open_chat` (see [`crate::reader`]); `None` if it could not be opened
    /// (the pool serves every read then).
    reader: Option<std::sync::Arc<Reader>>,
    /// Every message write (ingest, stream group commits, a delivered send): see
    /// [`writer`]. Used only under the write lock.
    writer: std::sync::Arc<Writer>,
    /// The file was exactly as a clean close left it: the whole-file checks were skipped.
    opened_clean: bool,
    path: PathBuf,
    /// Serialises this process's write transactions (SQLite has one writer; doing it here
    /// avoids BUSY on read→write upgrades).
    write: std::sync::Arc<tokio::sync::Mutex<()>>,
    /// Notified after every message write: messages may wait in the search index's queue
    /// ([`search_index`]).
    search_queued: std::sync::Arc<tokio::sync::Notify>,
    /// When the last message write committed: the search indexer holds back while they keep
    /// coming (`search::background_indexer`).
    last_message_write: std::sync::Arc<std::sync::Mutex<Option<std::time::Instant>>>,
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
    let mut opts = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(Duration::from_secs(10))
        .foreign_keys(true);
    // A new cache can return evicted pages to the file system (see `budget`). Only for a new
    // file: on an existing auto-vacuum file the pragma is a write transaction at every
    // connection, which would alter a damaged file before it is judged and moved aside.
    let new_file = std::fs::metadata(path).map_or(true, |m| m.len() == 0);
    if new_file {
        opts = opts.auto_vacuum(sqlx::sqlite::SqliteAutoVacuum::Incremental);
    }
    let pool = SqlitePoolOptions::new().max_connections(4);
    // Tests catch an insert that forgets the search queue (see `search_queue`): every pooled
    // connection takes the guard once the schema has `messages` — when it is opened, and again
    // whenever it is handed out from the idle set (a fresh file's first connection is opened
    // before the migrations ran, when the trigger cannot be created yet). `before_acquire`
    // alone left a connection the pool opened later unguarded for its first use.
    #[cfg(debug_assertions)]
    let pool = pool
        .after_connect(|connection, _| {
            Box::pin(async move {
                search_queue::install_guard(connection).await;
                Ok(())
            })
        })
        .before_acquire(|connection, _| {
            Box::pin(async move {
                search_queue::install_guard(connection).await;
                Ok(true)
            })
        });
    Ok(pool.connect_with(opts).await?)
}

/// `quick_check` (skipped when the file is exactly as a clean close left it, see
/// [`crate::clean_shutdown`]) + migrations, then the clean-shutdown mark is cleared. Returns
/// whether the file was clean; `Err(reason)` when it is not a usable cache.
async fn check_and_migrate(
    pool: &SqlitePool,
    before: Option<FileStamp>,
    wal_empty: bool,
) -> std::result::Result<bool, String> {
    let clean = clean_shutdown::was_clean(pool, before, wal_empty).await;
    if !clean {
        quick_check(pool).await?;
    }
    MIGRATOR
        .run(pool)
        .await
        .map_err(|e| format!("migrations failed: {e}"))?;
    clean_shutdown::clear(pool)
        .await
        .map_err(|e| format!("clearing the clean-shutdown mark failed: {e}"))?;
    Ok(clean)
}

/// `PRAGMA quick_check` over the whole file: O(file), so only after an unclean shutdown.
async fn quick_check(pool: &SqlitePool) -> std::result::Result<(), String> {
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
    Ok(())
}

impl Store {
    /// Opens (creating if needed) the cache at `path`. A file that is not a valid SQLite
    /// database, fails `PRAGMA quick_check` or cannot be migrated is moved aside to
    /// `<path>.corrupt-<unix>` (never deleted), a fresh cache is created, and what can still be
    /// read of its chats, their histories and its outbox is salvaged into it ([`salvage`]); the
    /// report says so.
    pub async fn open(path: impl AsRef<Path>) -> Result<(Store, Option<CorruptionReport>)> {
        let path = path.as_ref().to_path_buf();
        if let Some(dir) = path.parent()
            && !dir.as_os_str().is_empty()
        {
            std::fs::create_dir_all(dir)
                .map_err(|e| Error::Cache(format!("create {}: {e}", dir.display())))?;
        }
        // The file as found, before any connection touches it.
        let stamp = FileStamp::read(&path);
        let wal_empty = clean_shutdown::wal_empty(&path);
        let first = match connect(&path).await {
            Ok(pool) => match check_and_migrate(&pool, stamp, wal_empty).await {
                Ok(clean) => Ok((pool, clean)),
                Err(reason) => {
                    pool.close().await;
                    Err(reason)
                }
            },
            Err(e) => Err(format!("cannot open: {e}")),
        };
        let (pool, opened_clean, report) = match first {
            Ok((pool, clean)) => (pool, clean, None),
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
                check_and_migrate(&pool, None, true)
                    .await
                    .map_err(Error::CacheCorrupt)?;
                (
                    pool,
                    false,
                    Some(CorruptionReport {
                        moved_to,
                        reason,
                        salvaged_chats: 0,
                        salvaged_outbox: 0,
                        kept_chats: 0,
                    }),
                )
            }
        };
        let reader = match Reader::open(&path) {
            Ok(reader) => Some(std::sync::Arc::new(reader)),
            Err(e) => {
                tracing::warn!(error = %e, "no dedicated read connection; reading through the pool");
                None
            }
        };
        let writer = match Writer::open(&path) {
            Ok(writer) => std::sync::Arc::new(writer),
            Err(e) => {
                pool.close().await;
                return Err(e);
            }
        };
        let store = Store {
            pool,
            writer,
            reader,
            opened_clean,
            path,
            write: Default::default(),
            search_queued: Default::default(),
            last_message_write: Default::default(),
        };
        let report = match report {
            Some(mut r) => {
                let salvaged = store.salvage(&r.moved_to).await;
                r.salvaged_chats = salvaged.chats;
                r.salvaged_outbox = salvaged.outbox;
                r.kept_chats = salvaged.kept;
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

    /// Runs `work` as ONE transaction on the write connection without stalling other tasks (see
    /// [`Store::unsignalled_write_tx`]). The write lock is held until the transaction has ended,
    /// even if the caller stops waiting meanwhile. A message write: the search indexer is woken
    /// after it (its text may be queued, see [`search_index`]).
    async fn write_tx<T: Send + 'static>(
        &self,
        work: impl FnOnce(&WriteTx) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let result = self.unsignalled_write_tx(work).await;
        if result.is_ok() {
            if let Ok(mut last) = self.last_message_write.lock() {
                *last = Some(std::time::Instant::now());
            }
            self.search_queued.notify_one();
        }
        result
    }

    /// [`Store::write_tx`] without waking the indexer (the indexer's own transactions).
    async fn unsignalled_write_tx<T: Send + 'static>(
        &self,
        work: impl FnOnce(&WriteTx) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let waiting = tracing::trace_span!(target: "roost_timeline", "write_lock_wait");
        let lock = self.write.clone().lock_owned().await;
        drop(waiting);
        let writer = self.writer.clone();
        // On a multi-threaded runtime (the app's) the transaction runs right here, its worker's
        // other tasks handed to another thread meanwhile: no thread hop to a blocking thread and
        // back per commit, which on a loaded machine is two more waits to be scheduled. (A
        // current-thread runtime cannot lend its only thread: a blocking thread then.)
        if tokio::runtime::Handle::current().runtime_flavor()
            == tokio::runtime::RuntimeFlavor::MultiThread
        {
            let _lock = lock;
            return tokio::task::block_in_place(|| writer.transaction(work));
        }
        let done = tokio::task::spawn_blocking(move || {
            let _lock = lock;
            writer.transaction(work)
        })
        .await;
        match done {
            Ok(result) => result,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(e) => Err(Error::Cache(format!("the cache write did not run: {e}"))),
        }
    }

    /// The file was exactly as a clean close left it, so the whole-file checks (integrity, runs
    /// vs messages) were not needed at this open.
    pub fn opened_clean(&self) -> bool {
        self.opened_clean
    }

    /// Checkpoints the WAL into the main file and closes the pool (waits for running
    /// statements): a cleanly closed cache is one self-contained file.
    ///
    /// The file is then sealed with the clean-shutdown mark ([`crate::clean_shutdown`]), so the
    /// next open can skip the whole-file checks.
    ///
    /// What waits for the search index is indexed first ([`search_index`]; usually little, as
    /// the client's indexer keeps up): a cleanly closed cache is fully indexed, so the next
    /// start does not spend its first seconds indexing a cache filled by a tool or a burst.
    pub async fn close(&self) {
        if !self.pool.is_closed()
            && let Err(e) = self.drain_search_queue().await
        {
            tracing::debug!(error = %e, "indexing the search queue at close failed");
        }
        let _w = self.write.lock().await;
        if let Some(reader) = &self.reader {
            reader.close();
        }
        self.writer.close();
        if self.pool.is_closed() {
            return;
        }
        if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&self.pool)
            .await
        {
            tracing::debug!(error = %e, "checkpoint at close failed");
        }
        let sealed = clean_shutdown::seal(&self.pool, &self.path).await;
        self.pool.close().await;
        if let Some(mtime) = sealed {
            clean_shutdown::stamp(&self.path, mtime);
        }
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

    /// The chat's columns plus its cached span (first and last run, by index seeks) and count:
    /// a chat record costs O(log n) whatever the number of gaps or messages.
    const CHAT_COLS: &'static str = "chat_id, title, members, server_last_seq, server_rev, changes_cursor, unread_count,
        last_message_seq, last_message_preview, last_message_at, sync_state, needs_resync, full_reload_reason, is_open,
        (SELECT start_seq FROM cached_runs r WHERE r.chat_id = chats.chat_id ORDER BY start_seq ASC LIMIT 1),
        (SELECT end_seq FROM cached_runs r WHERE r.chat_id = chats.chat_id ORDER BY start_seq DESC LIMIT 1),
        cached_count,
        EXISTS (SELECT 1 FROM outbox o WHERE o.chat_id = chats.chat_id),
        last_full_reload_reason, last_full_reload_at, left_at";
}
