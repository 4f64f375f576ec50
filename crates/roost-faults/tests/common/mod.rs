//! Helpers shared by the fault suites: client configs, comparing a client's cache with the
//! server, and reading a cache file directly (SQLite) when no client has it open.
#![allow(dead_code)]

pub mod cache_tools;

use roost_core::{Client, ClientConfig};
use roost_proto::{ChatId, Message, MessageId, UserId};
use sqlx::Row;
use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::time::Duration;

/// A client config for tests: background work on, short request timeout (stalls end fast).
pub fn config(base_url: &str, token: &str, cache: &Path) -> ClientConfig {
    config_as("alice", base_url, token, cache)
}

/// [`config`] for another user.
pub fn config_as(user: &str, base_url: &str, token: &str, cache: &Path) -> ClientConfig {
    let mut config = ClientConfig::new(base_url, token)
        .cache_path(cache)
        .background(true);
    config.user_id = Some(UserId::new(user));
    config.request_timeout = Duration::from_secs(2);
    config
}

/// Every cached message of a chat, ascending.
pub async fn cached(client: &Client, chat: ChatId) -> Vec<Message> {
    client
        .cached_messages(chat, 1, i64::MAX as u64)
        .await
        .unwrap_or_default()
}

/// `seq -> (id, version)` of what a client has cached: what must never be lost.
pub type Holdings = BTreeMap<u64, (MessageId, u64)>;

pub fn holdings(messages: &[Message]) -> Holdings {
    messages
        .iter()
        .map(|m| (m.seq, (m.id, m.version)))
        .collect()
}

/// Keeps, per seq, the highest version ever seen.
pub fn merge_holdings(into: &mut Holdings, more: &Holdings) {
    for (seq, (id, version)) in more {
        let entry = into.entry(*seq).or_insert((*id, *version));
        if entry.1 < *version {
            *entry = (*id, *version);
        }
    }
}

#[derive(Debug, Default, Clone)]
pub struct ChatCheck {
    pub checked: u64,
    pub lost: u64,
    pub duplicated: u64,
    pub problems: Vec<String>,
}

/// Compares a chat's cache with the server after convergence:
/// * every cached message equals the server's (seq, id, version, body, deleted, author, chat);
/// * no seq and no id twice;
/// * everything held earlier (`earlier`) is still cached, same id, same or newer version;
/// * the cache is one contiguous run ending at the server's last seq (no gap left behind).
pub fn compare_chat(
    chat: ChatId,
    cached: &[Message],
    server: &[Message],
    earlier: &Holdings,
) -> ChatCheck {
    let mut check = ChatCheck::default();
    let mut seqs = HashSet::new();
    let mut ids = HashSet::new();
    for m in cached {
        check.checked += 1;
        if !seqs.insert(m.seq) {
            check.duplicated += 1;
            check.problems.push(format!("seq {} cached twice", m.seq));
        }
        if !ids.insert(m.id) {
            check.duplicated += 1;
            check
                .problems
                .push(format!("message {} cached twice", m.id));
        }
        let Some(truth) = m.seq.checked_sub(1).and_then(|i| server.get(i as usize)) else {
            check.problems.push(format!(
                "seq {} cached but the server has no such seq",
                m.seq
            ));
            continue;
        };
        let same = truth.seq == m.seq
            && truth.id == m.id
            && truth.version == m.version
            && truth.body == m.body
            && truth.deleted_at.is_some() == m.deleted_at.is_some()
            && truth.author == m.author
            && m.chat_id == chat;
        if !same {
            check.problems.push(format!(
                "seq {}: cached (id {}, v{}, deleted {}, body {}) != server (id {}, v{}, deleted {}, body {})",
                m.seq,
                m.id,
                m.version,
                m.deleted_at.is_some(),
                m.body,
                truth.id,
                truth.version,
                truth.deleted_at.is_some(),
                truth.body
            ));
        }
    }
    let now = holdings(cached);
    for (seq, (id, version)) in earlier {
        match now.get(seq) {
            Some((now_id, now_version)) if now_id == id && now_version >= version => {}
            Some((now_id, now_version)) => {
                check.lost += 1;
                check.problems.push(format!(
                    "seq {seq} was (id {id}, v{version}), now (id {now_id}, v{now_version})"
                ));
            }
            None => {
                check.lost += 1;
                check.problems.push(format!(
                    "seq {seq} (id {id}, v{version}) was cached and is gone"
                ));
            }
        }
    }
    if let (Some(first), Some(last)) = (cached.first(), cached.last()) {
        let expected = last.seq - first.seq + 1;
        if expected != cached.len() as u64 {
            check.problems.push(format!(
                "gaps left: {} cached in {}..={}",
                cached.len(),
                first.seq,
                last.seq
            ));
        }
        let server_last = server.last().map_or(0, |m| m.seq);
        if last.seq != server_last {
            check.problems.push(format!(
                "cache ends at {} but the server's last seq is {server_last}",
                last.seq
            ));
        }
    } else if !server.is_empty() {
        check.problems.push(format!(
            "nothing cached of a chat with {} messages",
            server.len()
        ));
    }
    check
}

/// One `messages` row: (seq, id, version, deleted, body).
pub type RawRow = (u64, String, u64, bool, String);

/// What a cache file holds, read directly with SQLite (no client open on it).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RawCache {
    pub integrity: Vec<String>,
    /// chat -> seqs in the messages table.
    pub seqs: BTreeMap<String, Vec<u64>>,
    /// chat -> (start, end) rows of cached_runs.
    pub runs: BTreeMap<String, Vec<(u64, u64)>>,
    /// chat -> (seq, id, version, deleted, body) rows.
    pub rows: BTreeMap<String, Vec<RawRow>>,
}

impl RawCache {
    /// The runs the messages table implies.
    pub fn runs_from_messages(&self, chat: &str) -> Vec<(u64, u64)> {
        let mut runs: Vec<(u64, u64)> = Vec::new();
        for &seq in self.seqs.get(chat).map(Vec::as_slice).unwrap_or(&[]) {
            match runs.last_mut() {
                Some(run) if run.1 + 1 == seq => run.1 = seq,
                _ => runs.push((seq, seq)),
            }
        }
        runs
    }
    /// Chats whose cached_runs rows disagree with their messages.
    pub fn index_disagreements(&self) -> Vec<String> {
        let chats: HashSet<&String> = self.seqs.keys().chain(self.runs.keys()).collect();
        let mut bad = Vec::new();
        for chat in chats {
            let from_index = self.runs.get(chat).cloned().unwrap_or_default();
            let from_messages = self.runs_from_messages(chat);
            if from_index != from_messages {
                bad.push(format!(
                    "{chat}: index {from_index:?} vs messages {from_messages:?}"
                ));
            }
        }
        bad
    }
}

pub async fn read_cache(path: &Path) -> anyhow::Result<RawCache> {
    use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
    let options = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(false);
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await?;
    let mut raw = RawCache {
        integrity: sqlx::query_scalar("PRAGMA integrity_check")
            .fetch_all(&pool)
            .await?,
        ..RawCache::default()
    };
    for row in sqlx::query("SELECT chat_id, seq, id, version, deleted_at IS NOT NULL, body FROM messages ORDER BY chat_id, seq")
        .fetch_all(&pool)
        .await?
    {
        let chat: String = row.try_get(0)?;
        let seq: i64 = row.try_get(1)?;
        raw.seqs.entry(chat.clone()).or_default().push(seq as u64);
        raw.rows.entry(chat).or_default().push((
            seq as u64,
            row.try_get(2)?,
            row.try_get::<i64, _>(3)? as u64,
            row.try_get(4)?,
            row.try_get(5)?,
        ));
    }
    for row in sqlx::query(
        "SELECT chat_id, start_seq, end_seq FROM cached_runs ORDER BY chat_id, start_seq",
    )
    .fetch_all(&pool)
    .await?
    {
        let chat: String = row.try_get(0)?;
        raw.runs.entry(chat).or_default().push((
            row.try_get::<i64, _>(1)? as u64,
            row.try_get::<i64, _>(2)? as u64,
        ));
    }
    pool.close().await;
    Ok(raw)
}

/// Every stored byte of a chat: its messages and runs, each column `quote()`d, in order.
pub async fn chat_rows(cache: &Path, chat: ChatId) -> Vec<String> {
    let opts = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(cache)
        .read_only(true);
    let pool = sqlx::sqlite::SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(opts)
        .await
        .unwrap();
    let mut rows: Vec<String> = sqlx::query_scalar(
        "SELECT quote(seq)||'|'||quote(id)||'|'||quote(version)||'|'||quote(author)||'|'||quote(created_at)
                ||'|'||quote(edited_at)||'|'||quote(deleted_at)||'|'||quote(body)||'|'||quote(rev)
         FROM messages WHERE chat_id = ? ORDER BY seq",
    )
    .bind(chat.to_string())
    .fetch_all(&pool)
    .await
    .unwrap();
    let runs: Vec<String> = sqlx::query_scalar(
        "SELECT 'run '||start_seq||'-'||end_seq FROM cached_runs WHERE chat_id = ? ORDER BY start_seq",
    )
    .bind(chat.to_string())
    .fetch_all(&pool)
    .await
    .unwrap();
    rows.extend(runs);
    pool.close().await;
    rows
}

/// Retries `resync` until it reports IN_SYNC (a resync started before the faults were lifted
/// may be joined and fail); returns the number of attempts.
pub async fn resync_until_in_sync(
    client: &Client,
    chat: ChatId,
    max_attempts: u32,
) -> Result<u32, String> {
    let mut last = String::new();
    for attempt in 1..=max_attempts {
        match tokio::time::timeout(Duration::from_secs(30), client.resync(chat)).await {
            Ok(Ok(report)) if report.state == roost_core::SyncState::InSync => return Ok(attempt),
            Ok(Ok(report)) => {
                last = format!(
                    "resync ended {:?} with {} gap(s) left",
                    report.state, report.gaps_after
                )
            }
            Ok(Err(error)) => last = format!("resync failed: {error}"),
            Err(_) => last = "resync did not finish in 30 s".to_owned(),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Err(last)
}

/// Installs a fmt subscriber once (RUST_LOG decides; silent by default).
pub fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "off".into()),
        )
        .with_test_writer()
        .try_init();
}
