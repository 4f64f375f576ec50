//! Instruction counts of the core paths (`valgrind --tool=callgrind`, every thread counted):
//! repeatable where wall clock on a shared 2-core machine is not. Each figure is the difference
//! between two runs of this binary in its `instr` mode that differ only in the measured work
//! (e.g. K opens vs none), divided by K, so process start-up and cache filling cancel out.

use crate::data::offline_client;
use crate::open::{FilledCache, bare_read};
use anyhow::{Context, Result, bail};
use roost_core::Anchor;
use roost_core::store::Store;
use roost_proto::ChatId;
use serde_json::{Map, Value, json};
use std::path::Path;
use std::process::Command;
use std::str::FromStr;

/// The operations the `instr` mode can repeat.
const OPS: &[&str] = &[
    "none",
    "client_open",
    "open_chat",
    "floor_open",
    "ingest_single",
    "stream_lone",
    "stream_group",
    "stream_frames",
    "queue_only",
    "queue_and_index",
    "ingest_batched",
    "floor_batched",
];

/// Messages of the batched ingest operations (`ingest_batched`, `floor_batched`), written
/// 5,000 per transaction.
const BATCHED_MESSAGES: u64 = 20_000;

/// Events per group of the `stream_group` operation.
const GROUP_EVENTS: u64 = 100;
/// Frames of the `stream_frames` operation (a full run; a quick one a tenth).
const STREAM_FRAMES: u64 = 2_000;

/// `roost-bench instr <op> <cache path> <chat id> <count>`: runs under callgrind.
pub fn instr_main(args: &[String]) -> Result<()> {
    let [op, path, chat, count] = args else {
        bail!("usage: roost-bench instr <op> <cache> <chat> <count> (ops: {OPS:?})");
    };
    let chat = ChatId::from_str(chat).map_err(|e| anyhow::anyhow!("chat id: {e}"))?;
    let count: u64 = count.parse()?;
    let path = Path::new(path);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        match op.as_str() {
            "none" => {}
            "client_open" | "open_chat" => {
                let client = offline_client(path).await?;
                if op == "open_chat" {
                    for _ in 0..count {
                        client.open_chat(chat, Anchor::Newest, 50).await?;
                    }
                    // Closed cleanly, so the next run's open finds the clean-shutdown mark
                    // (`per_op`).
                    client.shutdown().await;
                } else {
                    // Dropped without shutdown: the close (checkpoint) is not start-up's
                    // cost. The file is left as after a crash.
                    drop(client);
                }
            }
            "floor_open" => {
                let connection = rusqlite::Connection::open(path)?;
                for _ in 0..count {
                    bare_read(&connection, chat, 50)?;
                }
            }
            "ingest_single" => {
                let (store, _) = Store::open(path).await?;
                crate::ingest::ingest_one_by_one(&store, chat, count).await?;
            }
            "stream_lone" | "stream_group" => {
                let (store, _) = Store::open(path).await?;
                let per_group = if op == "stream_lone" { 1 } else { GROUP_EVENTS };
                crate::ingest::stream_groups(&store, chat, count, per_group).await?;
            }
            "queue_only" | "queue_and_index" => {
                // `count` messages written in stream groups of [`GROUP_EVENTS`] (queued for
                // the search index), then, for `queue_and_index`, indexed by the store's drain
                // in its batches: the difference is the index upkeep per message.
                let (store, _) = Store::open(path).await?;
                crate::ingest::stream_groups(&store, chat, count / GROUP_EVENTS, GROUP_EVENTS)
                    .await?;
                if op == "queue_and_index" {
                    store.drain_search_queue().await?;
                }
            }
            "ingest_batched" => {
                // `count` messages, 5,000 per `Store::ingest` (a page of history each); the
                // store is dropped unclosed: its close would index the queue.
                let (store, _) = Store::open(path).await?;
                crate::ingest::ingest_batched(&store, chat, count).await?;
                drop(store);
            }
            "floor_batched" => {
                // The same rows, bare SQLite inserts into the cache's schema with the search
                // queue kept (one range per transaction).
                crate::ingest::bare_indexed_insert(path, count, 5_000).await?;
            }
            "stream_frames" => {
                // `count` message frames through a real WebSocket, the client's stream task
                // and its group commits, to the last event (a fresh cache beside `path`).
                let scratch = path.parent().context("a cache path with a directory")?;
                let name = path
                    .file_name()
                    .and_then(|n| n.to_str())
                    .unwrap_or("frames");
                // A fresh cache each run: a cache remembers the server it was bound to.
                for suffix in ["", "-wal", "-shm", ".lock"] {
                    let _ = std::fs::remove_file(scratch.join(format!("stream-{name}.db{suffix}")));
                }
                crate::ingest::stream_run(scratch, name, count, None).await?;
            }
            other => bail!("unknown op {other}"),
        }
        Ok(())
    })
}

/// Instructions executed by one `instr` run.
fn collected(op: &str, path: &Path, chat: ChatId, count: u64) -> Result<u64> {
    let exe = std::env::current_exe()?;
    let output = Command::new("valgrind")
        .args([
            "--tool=callgrind",
            "--callgrind-out-file=/dev/null",
            "--dump-instr=no",
        ])
        .arg(exe)
        .arg("instr")
        .arg(op)
        .arg(path)
        .arg(chat.to_string())
        .arg(count.to_string())
        .env("RUST_LOG", "off")
        .output()
        .context("run valgrind")?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        bail!("callgrind run of {op} failed:\n{stderr}");
    }
    stderr
        .lines()
        .find_map(|line| {
            let (_, rest) = line.split_once("Collected :")?;
            rest.trim().parse().ok()
        })
        .with_context(|| format!("no 'Collected' line in callgrind's output:\n{stderr}"))
}

fn per_op(op: &str, path: &Path, chat: ChatId, count: u64) -> Result<u64> {
    // A first run leaves the file as both measured runs find it. After a `client_open` run
    // (which drops its client: a crash, as far as the file can tell) the next open runs every
    // integrity check, ~14.7 G instructions at 1M cached, whose run-to-run jitter alone moved
    // open_chat's figure from 557k to 832k per open between two runs of the same code.
    collected(op, path, chat, 0)?;
    let zero = collected(op, path, chat, 0)?;
    let many = collected(op, path, chat, count)?;
    Ok(many.saturating_sub(zero) / count)
}

/// `None` when valgrind is not installed.
pub fn instruction_counts(
    scratch: &Path,
    caches: &[FilledCache],
    quick: bool,
) -> Result<Option<Value>> {
    if Command::new("valgrind").arg("--version").output().is_err() {
        println!("## Instruction counts: valgrind not found, skipped\n");
        return Ok(None);
    }
    const REPEATS: u64 = 100;
    println!("## Instruction counts (callgrind, all threads; per operation)");
    println!(
        "| cached messages | Client::open | open_chat | floor (bare SQLite read) | ratio open_chat / floor |"
    );
    println!("|---:|---:|---:|---:|---:|");
    let any_chat = caches.first().map(|c| c.chat).context("no caches")?;
    let base = collected("none", &scratch.join("none.db"), any_chat, 0)?;
    let mut startup = serde_json::Map::new();
    let mut open = Vec::new();
    for cache in caches {
        let client_open =
            collected("client_open", &cache.path, cache.chat, 0)?.saturating_sub(base);
        let open_chat = per_op("open_chat", &cache.path, cache.chat, REPEATS)?;
        let floor = per_op("floor_open", &cache.path, cache.chat, REPEATS)?;
        let ratio = open_chat as f64 / floor.max(1) as f64;
        println!(
            "| {} | {client_open} | {open_chat} | {floor} | {ratio:.1}× |",
            cache.cached
        );
        startup.insert(cache.cached.to_string(), json!(client_open));
        open.push(json!({
            "cached": cache.cached,
            "open_chat": open_chat,
            "floor": floor,
            "ratio": (ratio * 100.0).round() / 100.0,
        }));
    }
    // A `client_open` run drops its client without a close (a crash, as far as the file can
    // tell): the open after it runs every check.
    let mut after_crash = serde_json::Map::new();
    if let Some(cache) = caches.last() {
        collected("client_open", &cache.path, cache.chat, 0)?;
        let unclean = collected("client_open", &cache.path, cache.chat, 0)?.saturating_sub(base);
        println!(
            "Client::open after an unclean shutdown ({} cached, every check runs): {unclean} instructions.",
            cache.cached
        );
        after_crash.insert(cache.cached.to_string(), json!(unclean));
    }
    let mut counts = ingest_instruction_counts(scratch, quick)?.unwrap_or_default();
    counts.insert("client_open".into(), Value::Object(startup));
    counts.insert("client_open_after_crash".into(), Value::Object(after_crash));
    counts.insert("open".into(), Value::Array(open));
    Ok(Some(Value::Object(counts)))
}

/// The ingest paths' instructions: one `Store::ingest` call of one message, a stream group
/// commit of one event and of [`GROUP_EVENTS`] events (per group and per event). Each on a
/// fresh cache file, so every run starts from the same state. `None` without valgrind.
pub fn ingest_instruction_counts(
    scratch: &Path,
    quick: bool,
) -> Result<Option<Map<String, Value>>> {
    if Command::new("valgrind").arg("--version").output().is_err() {
        return Ok(None);
    }
    const REPEATS: u64 = 100;
    let chat = crate::data::new_chat();
    let fresh = |op: &str, count: u64| -> Result<u64> {
        let path = scratch.join(format!("instr-{op}.db"));
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
        collected(op, &path, chat, count)
    };
    let per = |op: &str, count: u64| -> Result<u64> {
        let zero = fresh(op, 0)?;
        Ok(fresh(op, count)?.saturating_sub(zero) / count)
    };
    let ingest_single = per("ingest_single", REPEATS)?;
    let ingest_batched = per("ingest_batched", BATCHED_MESSAGES)?;
    let floor_batched = per("floor_batched", BATCHED_MESSAGES)?;
    let stream_lone = per("stream_lone", REPEATS)?;
    let stream_group = per("stream_group", REPEATS / 10)?;
    let indexed = 50 * GROUP_EVENTS;
    let index_per_message =
        fresh("queue_and_index", indexed)?.saturating_sub(fresh("queue_only", indexed)?) / indexed;
    // Against a shorter run rather than none: a stream run needs at least one frame.
    let frames = if quick {
        STREAM_FRAMES / 10
    } else {
        STREAM_FRAMES
    };
    let stream_frames = fresh("stream_frames", frames)?
        .saturating_sub(fresh("stream_frames", frames / 10)?)
        / (frames - frames / 10);
    println!("Store::ingest of one message (its own transaction): {ingest_single} instructions.");
    println!(
        "Batched ingest (5,000 per Store::ingest): {ingest_batched} instructions per message; floor (bare SQLite inserts into the cache's schema, search queue kept): {floor_batched} per message."
    );
    println!("Stream group commit of one event: {stream_lone} instructions.");
    println!(
        "Stream group commit of {GROUP_EVENTS} events: {stream_group} instructions ({} per event).",
        stream_group / GROUP_EVENTS
    );
    println!(
        "Search index upkeep, off the ingest transaction (the background indexer's batches of {}): {index_per_message} instructions per message.",
        roost_core::store::INDEX_BATCH
    );
    println!(
        "Live stream, {frames} frames as fast as the source writes them, frame → event (client, source and bench): {stream_frames} instructions per message.\n"
    );
    let mut counts = Map::new();
    counts.insert("ingest_single_call".into(), json!(ingest_single));
    counts.insert("ingest_batched_per_msg".into(), json!(ingest_batched));
    counts.insert("ingest_batched_floor_per_msg".into(), json!(floor_batched));
    counts.insert("stream_commit_one_event".into(), json!(stream_lone));
    counts.insert("stream_frame_to_event_per_msg".into(), json!(stream_frames));
    counts.insert("search_index_per_msg".into(), json!(index_per_message));
    counts.insert(
        format!("stream_commit_{GROUP_EVENTS}_events"),
        json!(stream_group),
    );
    Ok(Some(counts))
}
