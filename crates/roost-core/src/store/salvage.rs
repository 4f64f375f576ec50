//! Salvage of a cache file SQLite calls damaged: what can still be read is copied into the fresh
//! cache table by table and chat by chat; nothing is written to the damaged file (it stays
//! moved aside, byte for byte).
//!
//! The damaged file's own schema cannot be relied upon: with the search tables (FTS5 and its
//! shadow tables, migration 0010) the schema b-tree outgrew page 1, and in an auto-vacuum file
//! its leaf pages sit right after the ~20 root pages, where garbage over the file's tail lands
//! on a small cache — SQLite then refuses the whole file although the pages of `chats`,
//! `messages` and `outbox` are intact. So the salvage works on a throw-away copy (the
//! *workbench*) whose page 1 is rewritten by hand ([`super::schema_page`]) with a schema naming
//! just those three tables at their root pages. The roots come from what is readable of the
//! damaged schema (`PRAGMA writable_schema` tolerates a partial one), else they are found by
//! reading each root page of the file (auto-vacuum keeps every root between page 3 and the
//! header's largest root) as each wanted table and keeping the one whose rows have its shape.
//! SQLite then walks each table's b-tree itself, so only rows behind really damaged pages are
//! lost: chat rows and outbox entries are read until the first damaged page, each chat's
//! messages by their own key range (a chat whose rows all read and decode keeps its history,
//! see `repair`; the others come back empty and flagged for a justified full resync). The
//! search index is never salvaged: the fresh cache's triggers queue the messages copied, and
//! the indexer rebuilds it from them.

use super::schema_page::{FileHeader, schema_page};
use super::*;
use futures_util::StreamExt;
use std::collections::{HashMap, HashSet};

/// A table the salvage copies, and the shape its rows must have to be recognised by content.
struct Wanted {
    name: &'static str,
    without_rowid: bool,
    shape: &'static str,
}

const WANTED: [Wanted; 3] = [
    Wanted {
        name: "chats",
        without_rowid: true,
        shape: "typeof(chat_id) = 'text' AND length(chat_id) = 36 AND typeof(title) = 'text'
                AND json_valid(members) AND json_type(members) = 'array'
                AND typeof(server_rev) = 'integer' AND typeof(changes_cursor) = 'integer'",
    },
    Wanted {
        name: "messages",
        without_rowid: true,
        shape: "typeof(chat_id) = 'text' AND length(chat_id) = 36 AND typeof(seq) = 'integer'
                AND typeof(id) = 'text' AND length(id) = 36 AND typeof(version) = 'integer'
                AND typeof(body) = 'text' AND json_valid(body) AND typeof(rev) = 'integer'",
    },
    Wanted {
        name: "outbox",
        without_rowid: false,
        shape: "typeof(local_id) = 'text' AND typeof(chat_id) = 'text'
                AND typeof(idempotency_key) = 'text' AND json_valid(body)
                AND state IN ('pending', 'sending', 'failed')",
    },
];

/// What the salvage copied: chat rows, outbox entries, chats whose history was kept.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Salvaged {
    pub chats: usize,
    pub outbox: usize,
    pub kept: usize,
}

/// A read-only connection to `path` that ignores any WAL or lock (`immutable`).
async fn read_only(path: &Path) -> Option<SqlitePool> {
    let opts = SqliteConnectOptions::new()
        .filename(path)
        .read_only(true)
        .immutable(true);
    SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(opts)
        .await
        .inspect_err(
            |e| tracing::info!(path = %path.display(), error = %e, "cannot open for salvage"),
        )
        .ok()
}

/// Table name → root page, from whatever of the damaged file's schema reads. With
/// `writable_schema` SQLite keeps the part of the schema it read before a damaged page (the
/// first statement fails, the next one works with that part).
async fn roots_from_schema(damaged: &Path) -> HashMap<String, u32> {
    let mut roots = HashMap::new();
    let Some(pool) = read_only(damaged).await else {
        return roots;
    };
    let _ = sqlx::query("PRAGMA writable_schema = ON")
        .execute(&pool)
        .await;
    for _attempt in 0..2 {
        let mut rows = sqlx::query_as::<_, (String, i64)>(
            "SELECT name, rootpage FROM sqlite_schema WHERE type = 'table' AND rootpage > 0",
        )
        .fetch(&pool);
        while let Some(row) = rows.next().await {
            match row {
                Ok((name, root)) => {
                    roots.insert(name, u32::try_from(root).unwrap_or(0));
                }
                Err(e) => {
                    tracing::info!(error = %e, "the damaged file's schema reads only in part");
                    break;
                }
            }
        }
        if !roots.is_empty() {
            break;
        }
    }
    pool.close().await;
    roots
}

/// The body of a compact `CREATE TABLE` for `wanted` with the fresh cache's columns (same
/// order, primary key and defaults, so records of the damaged file decode the same way).
async fn table_body(pool: &SqlitePool, wanted: &Wanted) -> Result<String> {
    let columns: Vec<(String, Option<String>, i64)> =
        sqlx::query_as("SELECT name, dflt_value, pk FROM pragma_table_info(?) ORDER BY cid")
            .bind(wanted.name)
            .fetch_all(pool)
            .await?;
    let mut parts: Vec<String> = columns
        .iter()
        .map(|(name, default, _)| match default {
            Some(d) => format!("\"{name}\" DEFAULT ({d})"),
            None => format!("\"{name}\""),
        })
        .collect();
    if wanted.without_rowid {
        let mut pk: Vec<&(String, Option<String>, i64)> =
            columns.iter().filter(|c| c.2 > 0).collect();
        pk.sort_by_key(|c| c.2);
        let pk: Vec<String> = pk.iter().map(|c| format!("\"{}\"", c.0)).collect();
        parts.push(format!("PRIMARY KEY ({})", pk.join(", ")));
    }
    let without = if wanted.without_rowid {
        " WITHOUT ROWID"
    } else {
        ""
    };
    Ok(format!("({}){without}", parts.join(", ")))
}

fn create_sql(alias: &str, body: &str) -> String {
    format!("CREATE TABLE \"{alias}\"{body}")
}

/// Writes `page` over page 1 of the workbench.
fn write_page_one(workbench: &Path, page: &[u8]) -> std::io::Result<()> {
    use std::io::{Seek, SeekFrom, Write};
    let mut file = std::fs::OpenOptions::new().write(true).open(workbench)?;
    file.seek(SeekFrom::Start(0))?;
    file.write_all(page)?;
    file.sync_data()
}

/// Finds the root of each of `missing` among `candidates` by reading every candidate as that
/// table: the root whose first rows all have the table's shape. (A table with no rows cannot
/// be recognised, and has nothing to salvage.)
async fn probe_roots(
    workbench: &Path,
    header: &FileHeader,
    bodies: &HashMap<&'static str, String>,
    missing: &[&Wanted],
    mut candidates: Vec<u32>,
) -> HashMap<String, u32> {
    let mut found = HashMap::new();
    for wanted in missing {
        let body = &bodies[wanted.name];
        let mut remaining = candidates.clone();
        'chunks: while !remaining.is_empty() {
            // As many candidates as one schema page holds.
            let mut entries: Vec<(String, u32, String)> = Vec::new();
            while let Some(&root) = remaining.first() {
                let alias = format!("probe_{root}");
                entries.push((alias.clone(), root, create_sql(&alias, body)));
                if schema_page(header, &entries).is_none() {
                    entries.pop();
                    break;
                }
                remaining.remove(0);
            }
            let Some(page) = schema_page(header, &entries).filter(|_| !entries.is_empty()) else {
                break;
            };
            if write_page_one(workbench, &page).is_err() {
                break;
            }
            let Some(pool) = read_only(workbench).await else {
                break;
            };
            for (alias, root, _) in &entries {
                let shape: std::result::Result<(i64, i64), _> = sqlx::query_as(&format!(
                    "SELECT count(*), coalesce(sum({}), 0) FROM (SELECT * FROM \"{alias}\" LIMIT 8)",
                    wanted.shape
                ))
                .fetch_one(&pool)
                .await;
                if let Ok((rows, matching)) = shape
                    && rows > 0
                    && rows == matching
                {
                    tracing::info!(
                        table = wanted.name,
                        root,
                        "found a table's root page by the shape of its rows"
                    );
                    found.insert(wanted.name.to_owned(), *root);
                    candidates.retain(|c| c != root);
                    pool.close().await;
                    break 'chunks;
                }
            }
            pool.close().await;
        }
    }
    found
}

impl Store {
    /// Best effort (see the module doc): copies what still reads of the damaged file at
    /// `damaged` into this fresh cache. Returns what was copied.
    pub(super) async fn salvage(&self, damaged: &Path) -> Salvaged {
        let workbench = PathBuf::from(format!("{}.salvage", damaged.display()));
        let salvaged = match self.salvage_through(damaged, &workbench).await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "salvage of the damaged cache stopped");
                Salvaged::default()
            }
        };
        for suffix in ["", "-wal", "-shm", "-journal"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", workbench.display()));
        }
        salvaged
    }

    async fn salvage_through(&self, damaged: &Path, workbench: &Path) -> Result<Salvaged> {
        let io = |e: std::io::Error| Error::Cache(format!("salvage workbench: {e}"));
        let mut first = vec![0u8; 100];
        {
            use std::io::Read;
            let mut file = std::fs::File::open(damaged).map_err(io)?;
            file.read_exact(&mut first).map_err(io)?;
        }
        let Some(header) = FileHeader::parse(&first) else {
            tracing::info!("the damaged file has no readable SQLite header: nothing to salvage");
            return Ok(Salvaged::default());
        };
        std::fs::copy(damaged, workbench).map_err(io)?;
        let mut bodies = HashMap::new();
        for wanted in &WANTED {
            bodies.insert(wanted.name, table_body(&self.pool, wanted).await?);
        }
        let mut roots = roots_from_schema(damaged).await;
        roots.retain(|name, root| *root > 1 && WANTED.iter().any(|w| w.name == name));
        let missing: Vec<&Wanted> = WANTED
            .iter()
            .filter(|w| !roots.contains_key(w.name))
            .collect();
        if !missing.is_empty() {
            let taken: HashSet<u32> = roots.values().copied().collect();
            let candidates = header
                .root_candidates()
                .into_iter()
                .filter(|r| !taken.contains(r))
                .collect();
            tracing::info!(missing = ?missing.iter().map(|w| w.name).collect::<Vec<_>>(),
                "tables missing from the damaged schema: looking for their root pages");
            roots.extend(probe_roots(workbench, &header, &bodies, &missing, candidates).await);
        }
        let entries: Vec<(String, u32, String)> = WANTED
            .iter()
            .filter_map(|w| {
                let root = *roots.get(w.name)?;
                Some((w.name.to_owned(), root, create_sql(w.name, &bodies[w.name])))
            })
            .collect();
        let page = schema_page(&header, &entries)
            .ok_or_else(|| Error::Cache("the salvage schema does not fit on page 1".into()))?;
        write_page_one(workbench, &page).map_err(io)?;
        let Some(pool) = read_only(workbench).await else {
            return Ok(Salvaged::default());
        };
        let mut salvaged = Salvaged::default();
        if roots.contains_key("chats") {
            (salvaged.chats, salvaged.kept) = self.salvage_chats(&pool).await;
        }
        if roots.contains_key("outbox") {
            salvaged.outbox = self.salvage_outbox(&pool).await;
        }
        pool.close().await;
        Ok(salvaged)
    }

    /// Chat rows until the first damaged page; each re-created flagged, then its history kept
    /// when it all reads (`repair::salvage_chat_history`). Returns (chats, kept).
    async fn salvage_chats(&self, damaged: &SqlitePool) -> (usize, usize) {
        let mut found: Vec<(String, String, String, Option<i64>)> = Vec::new();
        {
            let mut rows =
                sqlx::query_as("SELECT chat_id, title, members, left_at FROM chats").fetch(damaged);
            while let Some(row) = rows.next().await {
                match row {
                    Ok(row) => found.push(row),
                    Err(e) => {
                        tracing::info!(error = %e, read = found.len(), "the damaged file's chat rows read only in part");
                        break;
                    }
                }
            }
        }
        let (mut chats, mut kept) = (0, 0);
        for (id, title, members, left_at) in found {
            if ChatId::from_str(&id).is_err() {
                continue;
            }
            let inserted = sqlx::query(
                "INSERT OR IGNORE INTO chats(chat_id, title, members, left_at, needs_resync, full_reload_reason,
                     sync_state, last_full_reload_reason, last_full_reload_at)
                 VALUES (?, ?, ?, ?, 1, 'cache_corrupt', 'OUT_OF_SYNC', 'cache_corrupt', ?)",
            )
            .bind(&id)
            .bind(title)
            .bind(members)
            .bind(left_at)
            .bind(now_millis())
            .execute(&self.pool)
            .await;
            if inserted.is_ok() {
                chats += 1;
                if self.salvage_chat_history(damaged, &id).await {
                    kept += 1;
                }
            }
        }
        (chats, kept)
    }

    /// Outbox entries (unsent messages) until the first damaged page, with their owner; an
    /// entry that was being sent goes back to pending (its idempotency key makes that safe).
    async fn salvage_outbox(&self, damaged: &SqlitePool) -> usize {
        type OutboxRow = (
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
            Option<i64>,
            Option<String>,
            Option<i64>,
            Option<String>,
        );
        let mut found: Vec<OutboxRow> = Vec::new();
        {
            let mut rows = sqlx::query_as(
                "SELECT local_id, chat_id, idempotency_key, body, state, attempts, last_error, created_at,
                        account_user FROM outbox",
            )
            .fetch(damaged);
            while let Some(row) = rows.next().await {
                match row {
                    Ok(row) => found.push(row),
                    Err(e) => {
                        tracing::info!(error = %e, read = found.len(), "the damaged file's outbox reads only in part");
                        break;
                    }
                }
            }
        }
        let mut copied = 0;
        for r in found {
            let ok = sqlx::query(
                "INSERT OR IGNORE INTO outbox(local_id, chat_id, idempotency_key, body, state, attempts,
                     last_error, created_at, account_user)
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(r.0.unwrap_or_default())
            .bind(r.1.unwrap_or_default())
            .bind(r.2.unwrap_or_default())
            .bind(r.3.unwrap_or_else(|| "null".into()))
            .bind(match r.4.as_deref() {
                Some("failed") => "failed",
                _ => "pending",
            })
            .bind(r.5.unwrap_or(0))
            .bind(r.6)
            .bind(r.7.unwrap_or(0))
            .bind(r.8)
            .execute(&self.pool)
            .await
            .is_ok();
            if ok {
                copied += 1;
            }
        }
        copied
    }
}
