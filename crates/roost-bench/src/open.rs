//! Opening a chat from the cache (p50/p99 of `Client::open_chat`) beside its floor — one prepared
//! bare-SQLite statement reading and decoding the same rows — and `Client::open` (start-up) at
//! each cache size.

use crate::data::{Percentiles, fill_cache, ms, ms_f, new_chat, offline_client, percentiles};
use anyhow::{Result, bail};
use roost_core::Anchor;
use roost_proto::{ChatId, Message, UserId};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// A filled cache kept for the other figures (instruction counts reuse the files).
#[derive(Debug, Clone)]
pub struct FilledCache {
    pub cached: u64,
    pub path: PathBuf,
    pub chat: ChatId,
}

pub async fn fill_caches(scratch: &Path, sizes: &[u64]) -> Result<Vec<FilledCache>> {
    let mut out = Vec::new();
    for &size in sizes {
        let path = scratch.join(format!("open-{size}.db"));
        let chat = new_chat();
        fill_cache(&path, chat, 1..=size, size).await?;
        out.push(FilledCache {
            cached: size,
            path,
            chat,
        });
    }
    Ok(out)
}

/// Returns `(open rows, startup_ms object, start-up after a crash at the largest size)` for the
/// JSON report.
pub async fn open_chat_latency(
    caches: &[FilledCache],
    window: u32,
    iterations: usize,
    startups: usize,
) -> Result<(Vec<Value>, Value, Value)> {
    println!("## Open chat from the cache (newest {window} messages; {iterations} opens each)");
    println!(
        "| cached messages | open_chat p50 | p99 | window read p50 | bare SQLite p50 | p99 | ratio p50 (open_chat / bare) | Client::open (startup, median of {startups}) |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|");
    let mut rows = Vec::new();
    let mut startup_ms = serde_json::Map::new();
    let mut after_crash = serde_json::Map::new();
    for cache in caches {
        let FilledCache {
            cached: size,
            path,
            chat,
        } = cache;
        let (size, chat) = (*size, *chat);
        let startup = startup_median(path, startups).await?;
        if Some(size) == caches.last().map(|c| c.cached) {
            let after = startup_after_crash(path).await?;
            after_crash.insert(size.to_string(), json!(ms_f(after)));
        }
        let (client_figures, read_figures) =
            open_and_window_read(path, chat, window, iterations).await?;

        let floor = bare_sqlite_open(path, chat, window, iterations)?;
        let ratio = client_figures.p50.as_secs_f64() / floor.p50.as_secs_f64();
        println!(
            "| {size} | {} | {} | {} | {} | {} | {ratio:.1}× | {} |",
            ms(client_figures.p50),
            ms(client_figures.p99),
            ms(read_figures.p50),
            ms(floor.p50),
            ms(floor.p99),
            ms(startup),
        );
        rows.push(json!({
            "cached": size,
            "p50_ms": ms_f(client_figures.p50),
            "p99_ms": ms_f(client_figures.p99),
            "window_read_p50_ms": ms_f(read_figures.p50),
            "floor_p50_ms": ms_f(floor.p50),
            "floor_p99_ms": ms_f(floor.p99),
            "ratio_p50": (ratio * 100.0).round() / 100.0,
        }));
        startup_ms.insert(size.to_string(), json!(ms_f(startup)));
    }
    println!(
        "Targets: open p50 within 5× of bare SQLite at 1M cached (goal 3×); Client::open at 1M within 2× of 1k.\n"
    );
    Ok((rows, Value::Object(startup_ms), Value::Object(after_crash)))
}

/// The median of `startups` client start-ups (`Client::open`, offline) on the cache at `path`.
async fn startup_median(path: &Path, startups: usize) -> Result<Duration> {
    let mut startup_samples = Vec::new();
    for _ in 0..startups {
        let started = Instant::now();
        let client = offline_client(path).await?;
        startup_samples.push(started.elapsed());
        client.shutdown().await;
    }
    Ok(percentiles(&mut startup_samples).p50)
}

/// One start-up after a crash: the client before it goes away without its close, so this open
/// checks it all.
async fn startup_after_crash(path: &Path) -> Result<Duration> {
    drop(offline_client(path).await?);
    let started = Instant::now();
    let client = offline_client(path).await?;
    let elapsed = started.elapsed();
    client.shutdown().await;
    Ok(elapsed)
}

/// `iterations` opens of the newest `window` messages of `chat` (`open_chat`, each checked to
/// return a full window), then as many reads of the window alone: their percentiles.
async fn open_and_window_read(
    path: &Path,
    chat: ChatId,
    window: u32,
    iterations: usize,
) -> Result<(Percentiles, Percentiles)> {
    let client = offline_client(path).await?;
    let mut samples = Vec::with_capacity(iterations);
    for _ in 0..iterations {
        let started = Instant::now();
        let window_items = client.open_chat(chat, Anchor::Newest, window).await?;
        samples.push(started.elapsed());
        if window_items.items.len() < window as usize {
            bail!(
                "the open returned {} items, expected {window}",
                window_items.items.len()
            );
        }
    }
    let mut read_samples = Vec::with_capacity(iterations);
    for _ in 0..iterations {
        let started = Instant::now();
        client.window(chat, Anchor::Newest, window).await?;
        read_samples.push(started.elapsed());
    }
    client.shutdown().await;
    Ok((percentiles(&mut samples), percentiles(&mut read_samples)))
}

/// The floor: one prepared statement reading the newest `window` rows of the chat and decoding
/// them into the same `Message` values the client returns.
pub fn bare_sqlite_open(
    path: &Path,
    chat: ChatId,
    window: u32,
    iterations: usize,
) -> Result<Percentiles> {
    let connection = rusqlite::Connection::open(path)?;
    let mut samples = Vec::with_capacity(iterations);
    for _ in 0..iterations {
        let started = Instant::now();
        let messages = bare_read(&connection, chat, window)?;
        samples.push(started.elapsed());
        if messages.len() != window as usize {
            bail!("bare read returned {} rows", messages.len());
        }
    }
    Ok(percentiles(&mut samples))
}

/// One floor read (the statement is prepared once per connection and cached).
pub fn bare_read(
    connection: &rusqlite::Connection,
    chat: ChatId,
    window: u32,
) -> Result<Vec<Message>> {
    let mut statement = connection.prepare_cached(
        "SELECT id, seq, version, author, created_at, edited_at, deleted_at, body, rev
         FROM messages WHERE chat_id = ?1 ORDER BY seq DESC LIMIT ?2",
    )?;
    let mut messages: Vec<Message> = statement
        .query_map(rusqlite::params![chat.to_string(), window], |row| {
            let id: String = row.get(0)?;
            let body: String = row.get(7)?;
            Ok(Message {
                id: id.parse().map_err(|_| rusqlite::Error::InvalidQuery)?,
                chat_id: chat,
                seq: row.get::<_, i64>(1)? as u64,
                version: row.get::<_, i64>(2)? as u64,
                author: UserId(row.get(3)?),
                created_at: row.get(4)?,
                edited_at: row.get(5)?,
                deleted_at: row.get(6)?,
                body: serde_json::from_str(&body).map_err(|_| rusqlite::Error::InvalidQuery)?,
                rev: row.get::<_, i64>(8)? as u64,
            })
        })?
        .collect::<Result<_, _>>()?;
    messages.reverse();
    Ok(messages)
}
