//! The clean-shutdown mark: what lets `Store::open` skip the whole-file integrity checks
//! (`PRAGMA quick_check`, the runs-vs-messages count) when the file is exactly as Roost left it.
//!
//! A clean close checkpoints the WAL into the file, then records in the file's `meta` table the
//! file's size and a modification time it then stamps on the file (`clean_shutdown =
//! "v1 <size> <mtime ns>"`). At open the mark is trusted only if the file still has that size
//! and exactly that mtime and no WAL content is pending; the mark is then cleared at once, so a
//! crash (SIGKILL, power loss) during the session leaves no mark and the next open runs every
//! check. Anything that rewrote the file after the close — a truncation, garbage written over
//! pages, a restored copy — changes its mtime (or size) and is checked in full; SQLite still
//! reports a damaged page it reads later as corruption.
//!
//! Start-up therefore costs the same with 1,000 or 1,000,000 cached messages after a clean
//! shutdown, and the checks run exactly when they can find something.

use sqlx::SqlitePool;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const KEY: &str = "clean_shutdown";

/// The file's size and mtime (ns since the epoch), read before any connection touches it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FileStamp {
    size: u64,
    mtime_ns: u128,
}

impl FileStamp {
    pub(crate) fn read(path: &Path) -> Option<FileStamp> {
        let metadata = std::fs::metadata(path).ok()?;
        let mtime_ns = metadata
            .modified()
            .ok()?
            .duration_since(UNIX_EPOCH)
            .ok()?
            .as_nanos();
        Some(FileStamp {
            size: metadata.len(),
            mtime_ns,
        })
    }

    fn encode(self) -> String {
        format!("v1 {} {}", self.size, self.mtime_ns)
    }

    fn decode(mark: &str) -> Option<FileStamp> {
        let mut parts = mark.split(' ');
        if parts.next()? != "v1" {
            return None;
        }
        Some(FileStamp {
            size: parts.next()?.parse().ok()?,
            mtime_ns: parts.next()?.parse().ok()?,
        })
    }
}

fn wal_is_empty(path: &Path) -> bool {
    let wal = format!("{}-wal", path.display());
    std::fs::metadata(wal).map_or(true, |m| m.len() == 0)
}

/// Whether the file is exactly as a clean close left it (`before`: its stamp and WAL state
/// read before connecting). Any doubt (no mark, unreadable mark, no meta table yet) is `false`.
pub(crate) async fn was_clean(
    pool: &SqlitePool,
    before: Option<FileStamp>,
    wal_empty_before: bool,
) -> bool {
    let Some(before) = before else {
        return false;
    };
    let mark: Option<String> = match sqlx::query_scalar("SELECT value FROM meta WHERE key = ?")
        .bind(KEY)
        .fetch_optional(pool)
        .await
    {
        Ok(mark) => mark,
        Err(_) => return false,
    };
    wal_empty_before && mark.as_deref().and_then(FileStamp::decode) == Some(before)
}

/// Whether the WAL of `path` holds nothing (read before connecting).
pub(crate) fn wal_empty(path: &Path) -> bool {
    wal_is_empty(path)
}

/// Clears the mark: from now on a crash leaves the file unmarked.
pub(crate) async fn clear(pool: &SqlitePool) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM meta WHERE key = ?")
        .bind(KEY)
        .execute(pool)
        .await?;
    Ok(())
}

/// Writes the mark and checkpoints it into the file; returns the mtime to stamp on the file
/// with [`stamp`] once the last connection is closed. Call with no write running. Best effort:
/// a failure only costs the next start a full check.
pub(crate) async fn seal(pool: &SqlitePool, path: &Path) -> Option<SystemTime> {
    // The stamp's mtime: now, in whole microseconds (some filesystems keep less than
    // nanoseconds; the comparison at open is exact).
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let mtime = Duration::from_micros(now.as_micros() as u64);
    // The mark's row lives in a page that exists already, so writing it rarely changes the
    // size; if it did, write it again with the new size.
    for _ in 0..3 {
        let current = FileStamp::read(path)?;
        let stamp = FileStamp {
            size: current.size,
            mtime_ns: mtime.as_nanos(),
        };
        let written = sqlx::query(
            "INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        )
        .bind(KEY)
        .bind(stamp.encode())
        .execute(pool)
        .await;
        let checkpointed = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(pool)
            .await;
        if let Err(e) = written.and(checkpointed) {
            tracing::debug!(error = %e, "could not write the clean-shutdown mark");
            return None;
        }
        if FileStamp::read(path).map(|s| s.size) == Some(stamp.size) {
            return Some(UNIX_EPOCH + mtime);
        }
    }
    None
}

/// Stamps the sealed file with the mtime its mark records (after the last connection closed).
pub(crate) fn stamp(path: &Path, mtime: SystemTime) {
    let stamped = std::fs::File::options()
        .write(true)
        .open(path)
        .and_then(|file| file.set_modified(mtime));
    if let Err(e) = stamped {
        tracing::debug!(error = %e, "could not stamp the cache file");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stamp_round_trips_through_its_mark() {
        let stamp = FileStamp {
            size: 4096 * 77,
            mtime_ns: 1_764_000_000_123_456_000,
        };
        assert_eq!(FileStamp::decode(&stamp.encode()), Some(stamp));
        assert_eq!(FileStamp::decode("v2 1 2"), None);
        assert_eq!(FileStamp::decode("v1 x 2"), None);
    }
}
