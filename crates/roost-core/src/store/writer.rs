//! The cache's dedicated write connection for ingest: every message write (`Store::ingest`,
//! stream group commits, a delivered outbox entry) runs here as ONE transaction of prepared,
//! cached statements.
//!
//! Why not the sqlx pool: sqlx's SQLite driver runs every statement on a worker thread and
//! hands results back over channels (~0.15 ms a statement, far more on a busy machine), and a
//! group commit is a dozen and a half statements: the commit, not SQLite, was what a stream
//! frame waited for. This connection (rusqlite on the same libsqlite3 as sqlx, so one SQLite
//! in the process) runs a whole transaction on one blocking thread, statement after statement.
//!
//! Nothing about durability changes: the same file in WAL mode with `synchronous = NORMAL`
//! (the pool's pragmas), the same transaction boundaries, and every write still holds the
//! store's process-wide write lock, so this connection and the pool never write at once.
//! The other writes (chat rows, outbox, budget, repair) stay on the pool.

use crate::error::{Error, Result};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Commits after which the WAL is checkpointed (about as many pages as SQLite's automatic
/// checkpoint's 1,000 for a stream's small commits) ...
const CHECKPOINT_EVERY_COMMITS: u32 = 100;
/// ... or time after the last one, for few but large commits (pages of history).
const CHECKPOINT_EVERY: Duration = Duration::from_millis(250);

/// The texts of one search index batch (`search_index::index_pending_tx`), staged so that each
/// FTS5 index takes them in one statement; `unspaced`: the text goes into the trigram index
/// too. A table of this connection's own temporary database, never in the file, empty outside a
/// batch (a rolled-back transaction empties it too).
pub(super) const INDEX_STAGING_TABLE: &str =
    "CREATE TEMP TABLE IF NOT EXISTS index_rows(r, text, unspaced)";

/// The write connection inside one of its transactions ([`Writer::transaction`]).
pub(super) type WriteTx = rusqlite::Connection;

/// See the module docs.
pub(super) struct Writer {
    connection: Mutex<Option<rusqlite::Connection>>,
    checkpoints: Arc<Checkpoints>,
}

/// The WAL's checkpoints, off the write path. SQLite's automatic checkpoint runs inside the
/// `COMMIT` that crosses its threshold: copying ~1,000 pages into the file and two `fsync`s,
/// while the store's write lock is held and the stream's next group waits (a stall of several
/// milliseconds every few hundred commits: the frame → event tail). The write connection has it
/// off; a passive checkpoint runs on a connection of its own, on a blocking thread, after every
/// [`CHECKPOINT_EVERY_COMMITS`] commits or [`CHECKPOINT_EVERY`] — concurrently with the writer,
/// which only appends to the WAL. Durability is unchanged (`synchronous = NORMAL` never synced
/// a commit; the WAL holds it until a checkpoint), and a clean close still checkpoints fully.
struct Checkpoints {
    connection: Mutex<Option<rusqlite::Connection>>,
    running: AtomicBool,
    commits: AtomicU32,
    last: Mutex<Instant>,
}

impl Checkpoints {
    /// After a commit: starts a checkpoint when one is due and none is running.
    fn after_commit(self: &Arc<Self>) {
        let commits = self.commits.fetch_add(1, Ordering::Relaxed) + 1;
        let due = commits >= CHECKPOINT_EVERY_COMMITS
            || self
                .last
                .lock()
                .map(|last| last.elapsed() >= CHECKPOINT_EVERY)
                .unwrap_or(true);
        if !due || self.running.swap(true, Ordering::AcqRel) {
            return;
        }
        self.commits.store(0, Ordering::Relaxed);
        if let Ok(mut last) = self.last.lock() {
            *last = Instant::now();
        }
        let this = self.clone();
        let run = move || {
            this.run();
            this.running.store(false, Ordering::Release);
        };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => drop(runtime.spawn_blocking(run)),
            Err(_) => run(),
        }
    }

    fn run(&self) {
        let _timeline = tracing::trace_span!(target: "roost_timeline", "wal_checkpoint").entered();
        let guard = self
            .connection
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(connection) = guard.as_ref()
            && let Err(e) = connection.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
        {
            tracing::debug!(error = %e, "a background WAL checkpoint failed");
        }
    }
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writer").finish_non_exhaustive()
    }
}

impl Writer {
    /// Opens the write connection on an existing, migrated cache file, with the pool's pragmas.
    pub(super) fn open(path: &Path) -> Result<Writer> {
        let connection = rusqlite::Connection::open_with_flags(
            path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        connection.busy_timeout(Duration::from_secs(10))?;
        // Per connection, as the pool sets them (`store::connect`); WAL is the file's own mode.
        connection.pragma_update(None, "synchronous", "NORMAL")?;
        connection.pragma_update(None, "foreign_keys", true)?;
        // Room for every statement of an ingest.
        connection.set_prepared_statement_cache_capacity(64);
        connection.execute_batch(INDEX_STAGING_TABLE)?;
        // Tests catch an insert that forgets the search queue (see `search_queue`).
        #[cfg(debug_assertions)]
        connection.execute_batch(super::search_queue::GUARD_SQL)?;
        // Checkpoints run beside this connection, never inside its commits (see `Checkpoints`).
        connection.pragma_update(None, "wal_autocheckpoint", 0)?;
        let checkpointer = rusqlite::Connection::open_with_flags(
            path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        checkpointer.busy_timeout(Duration::from_secs(10))?;
        Ok(Writer {
            connection: Mutex::new(Some(connection)),
            checkpoints: Arc::new(Checkpoints {
                connection: Mutex::new(Some(checkpointer)),
                running: AtomicBool::new(false),
                commits: AtomicU32::new(0),
                last: Mutex::new(Instant::now()),
            }),
        })
    }

    /// Runs `work` in ONE transaction (`BEGIN IMMEDIATE`: the write lock is taken up front, as
    /// the store's write lock already excludes other writers here); commits when it returns
    /// `Ok`, rolls back otherwise (and when `work` panics). Blocking: call it from a blocking
    /// thread. `BEGIN` and `COMMIT` are cached statements like the rest: parsing them anew
    /// was a sixth of a one-message stream commit's instructions.
    pub(super) fn transaction<T>(&self, work: impl FnOnce(&WriteTx) -> Result<T>) -> Result<T> {
        // A panic inside `work` rolled its transaction back as it unwound (`Open`'s drop): the
        // connection is sound, so a poisoned lock is taken over.
        let guard = self
            .connection
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let connection = guard
            .as_ref()
            .ok_or_else(|| Error::Cache("the cache is closed".into()))?;
        let timeline = tracing::trace_span!(target: "roost_timeline", "write_tx").entered();
        connection.prepare_cached("BEGIN IMMEDIATE")?.execute([])?;
        let open = Open(connection);
        let out = work(connection)?;
        connection.prepare_cached("COMMIT")?.execute([])?;
        drop(open); // committed: nothing to roll back
        drop(guard);
        drop(timeline);
        self.checkpoints.after_commit();
        Ok(out)
    }

    /// Closes the connection (before the store checkpoints and seals the file at a clean
    /// shutdown: the last connection to close must be the pool's).
    pub(super) fn close(&self) {
        self.connection
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        // Waits for a running checkpoint (the lock) before the close's full one.
        self.checkpoints
            .connection
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
    }
}

/// An open transaction of the write connection: rolled back when dropped (an error or a panic
/// before its `COMMIT`), as `rusqlite::Transaction` does.
struct Open<'c>(&'c rusqlite::Connection);

impl Drop for Open<'_> {
    fn drop(&mut self) {
        if !self.0.is_autocommit()
            && let Err(e) = self.0.execute_batch("ROLLBACK")
        {
            tracing::warn!(error = %e, "rolling back a cache write failed");
        }
    }
}
