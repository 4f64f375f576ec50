//! Opening the SQLite database: a single-connection write pool (the single writer: concurrent
//! senders queue instead of ever seeing `SQLITE_BUSY`) and a small read pool, both on WAL so
//! readers never block the writer; migrations from `migrations/server/sqlite` run at open.

use crate::config::DbLocation;
use crate::error::ServerError;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use std::str::FromStr;
use std::time::Duration;

/// The server's migrations, embedded at compile time.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/server/sqlite");

/// The two pools. For `:memory:` both are the same single connection (each SQLite connection
/// to `:memory:` would otherwise see its own, empty database).
#[derive(Debug, Clone)]
pub struct Db {
    pub write: SqlitePool,
    pub read: SqlitePool,
}

impl Db {
    pub async fn open(location: &DbLocation) -> Result<Db, ServerError> {
        match location {
            DbLocation::Memory => {
                let options = SqliteConnectOptions::from_str("sqlite::memory:")?.foreign_keys(true);
                let pool = SqlitePoolOptions::new()
                    .max_connections(1)
                    .min_connections(1)
                    .idle_timeout(None)
                    .max_lifetime(None)
                    .connect_with(options)
                    .await?;
                MIGRATOR.run(&pool).await?;
                Ok(Db {
                    write: pool.clone(),
                    read: pool,
                })
            }
            DbLocation::File(path) => {
                if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                    std::fs::create_dir_all(parent)?;
                }
                let base = SqliteConnectOptions::new()
                    .filename(path)
                    .journal_mode(SqliteJournalMode::Wal)
                    // WAL + NORMAL is durable against application crashes, which is what a
                    // committed-then-broadcast message needs; power loss may lose the last commits.
                    .synchronous(SqliteSynchronous::Normal)
                    .busy_timeout(Duration::from_secs(30))
                    .foreign_keys(true);
                // The writer stays open for the server's lifetime: it keeps the WAL index alive and
                // saves reconnecting on the hot path.
                let write = SqlitePoolOptions::new()
                    .max_connections(1)
                    .min_connections(1)
                    .idle_timeout(None)
                    .max_lifetime(None)
                    .connect_with(base.clone().create_if_missing(true))
                    .await?;
                MIGRATOR.run(&write).await?;
                // Not opened read-only on purpose: a read-only connection cannot recover a WAL
                // database whose -shm file is missing. Nothing ever writes through this pool.
                let read = SqlitePoolOptions::new()
                    .max_connections(4)
                    .connect_with(base)
                    .await?;
                Ok(Db { write, read })
            }
        }
    }

    pub async fn close(&self) {
        self.read.close().await;
        self.write.close().await;
    }
}
