//! Opening the database behind `--db`, through sqlx's `Any` driver so that one body of SQL
//! (written in the common subset: `$N` placeholders, `ON CONFLICT`, `RETURNING`) serves both
//! engines. The engine-specific parts live here and in [`Backend`]:
//!
//! - **SQLite** (embedded default): a single-connection write pool — the single writer, so
//!   concurrent senders queue instead of ever seeing `SQLITE_BUSY` — and a small read pool, both
//!   on WAL so readers never block the writer. One process per database file.
//! - **PostgreSQL** (teams, several instances): a write pool at READ COMMITTED, where every
//!   mutation first locks its chat row (see [`crate::store`]), and a read pool whose
//!   transactions are REPEATABLE READ, READ ONLY (one snapshot per response).
//!
//! Each engine has its own migrations folder (`migrations/server/{sqlite,postgres}`); they run
//! at open (PostgreSQL's migrator holds an advisory lock, so instances starting together are
//! safe).

use crate::config::DbLocation;
use crate::error::ServerError;
use sqlx::AnyPool;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{Executor, Row};
use std::str::FromStr;
use std::time::Duration;

/// The SQLite migrations, embedded at compile time.
pub static SQLITE_MIGRATOR: sqlx::migrate::Migrator =
    sqlx::migrate!("../../migrations/server/sqlite");
/// The PostgreSQL migrations, embedded at compile time.
pub static POSTGRES_MIGRATOR: sqlx::migrate::Migrator =
    sqlx::migrate!("../../migrations/server/postgres");

/// Connections per PostgreSQL pool (each instance has a write and a read pool).
const POSTGRES_POOL_SIZE: u32 = 8;

/// Which engine a [`Db`] runs on: decides the few statements that differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The two pools. For `:memory:` both are the same single connection (each SQLite connection
/// to `:memory:` would otherwise see its own, empty database).
#[derive(Debug, Clone)]
pub struct Db {
    pub write: AnyPool,
    pub read: AnyPool,
    pub backend: Backend,
}

impl Db {
    pub async fn open(location: &DbLocation) -> Result<Db, ServerError> {
        sqlx::any::install_default_drivers();
        match location {
            DbLocation::Memory => open_sqlite_memory().await,
            DbLocation::File(path) => open_sqlite_file(path).await,
            DbLocation::Postgres(url) => open_postgres(url).await,
        }
    }

    pub async fn close(&self) {
        self.read.close().await;
        self.write.close().await;
    }
}

async fn open_sqlite_memory() -> Result<Db, ServerError> {
    let options = AnyConnectOptions::from_str("sqlite::memory:")?;
    let pool = AnyPoolOptions::new()
        .max_connections(1)
        .min_connections(1)
        .idle_timeout(None)
        .max_lifetime(None)
        .after_connect(|conn, _| {
            Box::pin(async move {
                conn.execute("PRAGMA foreign_keys = ON").await?;
                Ok(())
            })
        })
        .connect_with(options)
        .await?;
    SQLITE_MIGRATOR.run(&pool).await?;
    drop_unused_demo_tables(&pool).await?;
    Ok(Db {
        write: pool.clone(),
        read: pool,
        backend: Backend::Sqlite,
    })
}

async fn open_sqlite_file(path: &std::path::Path) -> Result<Db, ServerError> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    let url = sqlite_url(&std::path::absolute(path)?);
    // The writer stays open for the server's lifetime: it keeps the WAL index alive and saves
    // reconnecting on the hot path.
    let write = AnyPoolOptions::new()
        .max_connections(1)
        .min_connections(1)
        .idle_timeout(None)
        .max_lifetime(None)
        .after_connect(|conn, _| Box::pin(async move { sqlite_pragmas(conn).await }))
        .connect_with(AnyConnectOptions::from_str(&format!("{url}?mode=rwc"))?)
        .await?;
    SQLITE_MIGRATOR.run(&write).await?;
    drop_unused_demo_tables(&write).await?;
    // Not opened read-only on purpose: a read-only connection cannot recover a WAL database
    // whose -shm file is missing. Nothing ever writes through this pool.
    let read = AnyPoolOptions::new()
        .max_connections(4)
        .after_connect(|conn, _| Box::pin(async move { sqlite_pragmas(conn).await }))
        .connect_with(AnyConnectOptions::from_str(&format!("{url}?mode=rw"))?)
        .await?;
    Ok(Db {
        write,
        read,
        backend: Backend::Sqlite,
    })
}

async fn sqlite_pragmas(conn: &mut sqlx::AnyConnection) -> Result<(), sqlx::Error> {
    // WAL + NORMAL is durable against application crashes, which is what a
    // committed-then-broadcast message needs; power loss may lose the last commits.
    for pragma in [
        "PRAGMA journal_mode = WAL",
        "PRAGMA synchronous = NORMAL",
        "PRAGMA busy_timeout = 30000",
        "PRAGMA foreign_keys = ON",
    ] {
        conn.execute(pragma).await?;
    }
    Ok(())
}

/// `sqlite:///abs/path` with the characters a URL would misread percent-encoded (sqlx decodes
/// them again).
fn sqlite_url(path: &std::path::Path) -> String {
    let mut url = String::from("sqlite://");
    for byte in path.as_os_str().as_encoded_bytes() {
        match byte {
            b' ' | b'"' | b'#' | b'<' | b'>' | b'?' | b'`' | b'{' | b'}' | b'%' => {
                url.push_str(&format!("%{byte:02X}"));
            }
            0..=0x1f | 0x7f.. => url.push_str(&format!("%{byte:02X}")),
            _ => url.push(char::from(*byte)),
        }
    }
    url
}

async fn open_postgres(url: &str) -> Result<Db, ServerError> {
    let options = AnyConnectOptions::from_str(url)?;
    let write = AnyPoolOptions::new()
        .max_connections(POSTGRES_POOL_SIZE)
        .acquire_timeout(Duration::from_secs(30))
        .connect_with(options.clone())
        .await?;
    POSTGRES_MIGRATOR.run(&write).await?;
    let read = AnyPoolOptions::new()
        .max_connections(POSTGRES_POOL_SIZE)
        .acquire_timeout(Duration::from_secs(30))
        .after_connect(|conn, _| {
            Box::pin(async move {
                // Every read transaction sees one snapshot: the messages and the chat position
                // a response carries always agree, as on SQLite.
                conn.execute(
                    "SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY",
                )
                .await?;
                Ok(())
            })
        })
        .connect_with(options)
        .await?;
    Ok(Db {
        write,
        read,
        backend: Backend::Postgres,
    })
}

/// SQLite databases migrated before the demo tables left the production schema still have
/// them (the first migration cannot change: sqlx checks its checksum). Empty ones — every
/// database that is not a demo — are dropped; the demo creates its tables itself.
async fn drop_unused_demo_tables(pool: &AnyPool) -> Result<(), ServerError> {
    let present = sqlx::query(
        "SELECT COUNT(*) AS n FROM sqlite_master WHERE type = 'table' AND name = 'demo_tokens'",
    )
    .fetch_one(pool)
    .await?
    .try_get::<i64, _>("n")?;
    if present == 0 {
        return Ok(());
    }
    let demo_users: i64 = sqlx::query("SELECT COUNT(*) AS n FROM demo_tokens")
        .fetch_one(pool)
        .await?
        .try_get("n")?;
    if demo_users == 0 {
        let mut tx = pool.begin().await?;
        sqlx::query("DROP TABLE IF EXISTS demo_chats")
            .execute(&mut *tx)
            .await?;
        sqlx::query("DROP TABLE IF EXISTS demo_tokens")
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
    }
    Ok(())
}
