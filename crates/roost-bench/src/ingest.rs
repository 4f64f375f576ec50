//! Ingest figures: batched pages and one message per transaction through the store, each beside
//! a bare-SQLite insert of the same rows; and live stream ingest end to end — message frames
//! written one per WebSocket frame by a local frame source, read by the client's real stream
//! task, committed, and announced as `MessagesChanged` — as sustained throughput (flood) and as
//! frame-to-event latency at a paced arrival rate.

use crate::data::{Percentiles, fill_cache, ms_f, new_chat, percentiles, synthetic_message};
use anyhow::{Context, Result, bail};
use futures_util::SinkExt;
use roost_core::store::{CursorRule, IngestOptions, Position, Store};
use roost_core::{Client, ClientConfig, ClientEvent};
use roost_proto::{ChatId, StreamEvent, UserId};
use serde_json::{Value, json};
use std::path::Path;
use std::time::{Duration, Instant};
use tokio::sync::broadcast::error::RecvError;
use tokio_tungstenite::tungstenite::Message as WsMessage;

pub struct IngestSizes {
    pub batched: u64,
    pub one_by_one: u64,
    pub stream_flood: u64,
    pub stream_paced: u64,
    pub stream_rate: u64,
}

impl IngestSizes {
    /// The sizes of a full run, or of a `--quick` smoke run.
    pub fn new(quick: bool) -> IngestSizes {
        if quick {
            IngestSizes {
                batched: 20_000,
                one_by_one: 500,
                stream_flood: 2_000,
                stream_paced: 2_000,
                stream_rate: 20_000,
            }
        } else {
            IngestSizes {
                batched: 200_000,
                one_by_one: 5_000,
                stream_flood: 40_000,
                stream_paced: 40_000,
                stream_rate: 20_000,
            }
        }
    }
}

pub async fn ingest_throughput(scratch: &Path, sizes: &IngestSizes) -> Result<Value> {
    println!("## Ingest throughput");
    println!("| mode | messages | roost-core | floor (bare SQLite, same rows) |");
    println!("|---|---:|---:|---:|");

    let chat = new_chat();
    let path = scratch.join("ingest-batched.db");
    let batched = sizes.batched;
    let fill_started = Instant::now();
    let core_batched = fill_cache(&path, chat, 1..=batched, batched).await?;
    // Up to the store's close, which indexes what the batches queued for the search index.
    let core_batched_indexed = batched as f64 / fill_started.elapsed().as_secs_f64();
    let bare_batched = bare_sqlite_insert(
        &scratch.join("ingest-bare-batched.db"),
        &path,
        batched,
        5_000,
    )?;
    let indexed_batched =
        bare_indexed_insert(&scratch.join("ingest-indexed-batched.db"), batched, 5_000).await?;
    println!(
        "| batched (5,000 per transaction) | {batched} | {core_batched:.0} msg/s ({core_batched_indexed:.0} msg/s with the search index caught up) | {bare_batched:.0} msg/s; in the cache's schema, search queue kept {indexed_batched:.0} msg/s (roost-core at {:.0}% of it) |",
        100.0 * core_batched / indexed_batched
    );

    let one_by_one = sizes.one_by_one;
    let path = scratch.join("ingest-single.db");
    let (store, _) = Store::open(&path).await?;
    let chat = new_chat();
    let started = Instant::now();
    ingest_one_by_one(&store, chat, one_by_one).await?;
    let store_single = one_by_one as f64 / started.elapsed().as_secs_f64();
    store.close().await;
    let bare_single =
        bare_sqlite_insert(&scratch.join("ingest-bare-single.db"), &path, one_by_one, 1)?;
    println!(
        "| store: one message per `Store::ingest` call | {one_by_one} | {store_single:.0} msg/s | {bare_single:.0} msg/s (one per transaction) |"
    );

    let flood = stream_run(scratch, "flood", sizes.stream_flood, None).await?;
    let paced = stream_run(
        scratch,
        "paced",
        sizes.stream_paced,
        Some(sizes.stream_rate),
    )
    .await?;
    print_stream_rows(sizes, &flood, &paced, bare_single);
    println!(
        "Targets: batched ≥ 100,000 msg/s; stream one-by-one ≥ 20,000 msg/s sustained with p99 frame→event ≤ 10 ms. Both sides run with the cache's pragmas (WAL, synchronous=NORMAL).\n"
    );
    Ok(json!({
        "batched_msgs_per_s": batched_rate(core_batched),
        "batched_with_index_msgs_per_s": batched_rate(core_batched_indexed),
        "batched_floor_msgs_per_s": batched_rate(bare_batched),
        "batched_indexed_floor_msgs_per_s": batched_rate(indexed_batched),
        "single_msgs_per_s": batched_rate(flood.rate),
        "single_floor_msgs_per_s": batched_rate(bare_single),
        "store_single_call_msgs_per_s": batched_rate(store_single),
        "stream_flood_frame_to_event_p50_ms": ms_f(flood.latency.p50),
        "stream_flood_frame_to_event_p99_ms": ms_f(flood.latency.p99),
        "stream_flood_cpu_us_per_msg": flood.cpu_us_per_msg,
        "stream_paced_cpu_us_per_msg": paced.cpu_us_per_msg,
        "stream_flood_cpu_us_per_msg_with_index": flood.cpu_us_per_msg_with_index,
        "stream_paced_cpu_us_per_msg_with_index": paced.cpu_us_per_msg_with_index,
        "stream_flood_index_backlog": flood.index_backlog,
        "stream_paced_index_backlog": paced.index_backlog,
        "stream_paced_offered_msgs_per_s": sizes.stream_rate,
        "stream_paced_msgs_per_s": batched_rate(paced.rate),
        "frame_to_event_p50_ms": ms_f(paced.latency.p50),
        "frame_to_event_p99_ms": ms_f(paced.latency.p99),
    }))
}

/// The live stream's two rows of the ingest table.
fn print_stream_rows(
    sizes: &IngestSizes,
    flood: &StreamFigures,
    paced: &StreamFigures,
    bare_single: f64,
) {
    println!(
        "| stream, one message per frame, as fast as the source writes (sustained) | {} | {:.0} msg/s (p50 frame→event {:.3} ms; process CPU {:.1} µs/msg, {}) | {bare_single:.0} msg/s (one per transaction) |",
        sizes.stream_flood,
        flood.rate,
        ms_f(flood.latency.p50),
        flood.cpu_us_per_msg,
        flood.index_note()
    );
    println!(
        "| stream, one message per frame, paced at {} msg/s | {} | {:.0} msg/s; frame→event p50 {:.3} ms, p99 {:.3} ms; process CPU {:.1} µs/msg, {} | — |",
        sizes.stream_rate,
        sizes.stream_paced,
        paced.rate,
        ms_f(paced.latency.p50),
        ms_f(paced.latency.p99),
        paced.cpu_us_per_msg,
        paced.index_note()
    );
}

/// Writes messages `1..=count` of `chat` one store write each, as the stream delivers them
/// (the ingest figure, and the instruction count of `ingest_single`).
pub async fn ingest_one_by_one(store: &Store, chat: ChatId, count: u64) -> Result<()> {
    for seq in 1..=count {
        let mut options = IngestOptions::new(CursorRule::Event(seq));
        options.position = Some(Position {
            last_seq: seq,
            rev: seq,
        });
        store
            .ingest(chat, &[synthetic_message(chat, seq)], &options)
            .await?;
    }
    Ok(())
}

/// Commits `groups` stream groups of `per_group` events each (messages of `chat` in seq order,
/// as the stream's writer does with a burst), through [`Store::ingest_stream`] with the
/// options the stream uses (the instruction counts of a group commit).
/// `count` synthetic messages of `chat`, 5,000 per `Store::ingest` call (pages of history).
pub async fn ingest_batched(store: &Store, chat: ChatId, count: u64) -> Result<()> {
    let mut options = IngestOptions::new(CursorRule::Snapshot(count));
    options.position = Some(Position {
        last_seq: count,
        rev: count,
    });
    let seqs: Vec<u64> = (1..=count).collect();
    for page in seqs.chunks(5_000) {
        let batch: Vec<_> = page
            .iter()
            .map(|&seq| synthetic_message(chat, seq))
            .collect();
        store.ingest(chat, &batch, &options).await?;
    }
    Ok(())
}

pub async fn stream_groups(store: &Store, chat: ChatId, groups: u64, per_group: u64) -> Result<()> {
    let mut options = IngestOptions::new(CursorRule::Keep);
    options.count_unread = true;
    options.me = Some(UserId::new("alice"));
    options.flag_if_behind = true;
    let mut seq = 0;
    for _ in 0..groups {
        let events: Vec<_> = (0..per_group)
            .map(|_| {
                seq += 1;
                let position = Position {
                    last_seq: seq,
                    rev: seq,
                };
                (synthetic_message(chat, seq), position)
            })
            .collect();
        store.ingest_stream(&[(chat, events)], &options).await?;
    }
    Ok(())
}

fn batched_rate(rate: f64) -> f64 {
    rate.round()
}

/// Inserts `count` rows into a copy of the cache's `messages` table alone (taken from
/// `schema_source`; no search index), `batch` rows per transaction, with plain prepared
/// statements.
fn bare_sqlite_insert(path: &Path, schema_source: &Path, count: u64, batch: u64) -> Result<f64> {
    let source = rusqlite::Connection::open(schema_source)?;
    let schema: Vec<String> = source
        .prepare(
            "SELECT sql FROM sqlite_master WHERE type IN ('table','index') AND name = 'messages'",
        )?
        .query_map([], |row| row.get(0))?
        .collect::<Result<_, _>>()?;
    let mut connection = rusqlite::Connection::open(path)?;
    connection.pragma_update(None, "journal_mode", "WAL")?;
    connection.pragma_update(None, "synchronous", "NORMAL")?;
    // The cache's messages table references chats; the floor has no chats table.
    connection.execute_batch(&schema[0].replace("REFERENCES chats(chat_id)", ""))?;
    timed_inserts(&mut connection, new_chat(), count, batch, false)
}

/// The same inserts into a fresh cache with its whole schema and the search queue kept as the
/// store keeps it (since migration 0041: one queue range per transaction, written by the
/// inserting code; the search index is built behind the store): the floor of any ingest into
/// the cache's schema (nothing else of an ingest: no runs, no chat row updates).
pub async fn bare_indexed_insert(path: &Path, count: u64, batch: u64) -> Result<f64> {
    let (store, _) = Store::open(path).await?;
    store.close().await;
    let mut connection = rusqlite::Connection::open(path)?;
    connection.pragma_update(None, "synchronous", "NORMAL")?;
    let chat = new_chat();
    connection.execute(
        "INSERT INTO chats(chat_id, sync_state) VALUES (?1, 'UNKNOWN')",
        [chat.to_string()],
    )?;
    timed_inserts(&mut connection, chat, count, batch, true)
}

/// `count` synthetic rows of `chat`, `batch` per transaction; rows per second. `queue_ranges`:
/// each transaction first queues its seqs for the search index, one range (as the store does).
fn timed_inserts(
    connection: &mut rusqlite::Connection,
    chat: ChatId,
    count: u64,
    batch: u64,
    queue_ranges: bool,
) -> Result<f64> {
    let chat_text = chat.to_string();
    let started = Instant::now();
    let mut seq = 1;
    while seq <= count {
        let transaction = connection.transaction()?;
        if queue_ranges {
            let last = (seq + batch - 1).min(count);
            transaction
                .prepare_cached("INSERT INTO search_queue(chat_id, lo, hi) VALUES (?1, ?2, ?3)")?
                .execute(rusqlite::params![chat_text, seq as i64, last as i64])?;
        }
        {
            let mut statement = transaction.prepare_cached(
                "INSERT INTO messages (chat_id, seq, id, version, author, created_at, edited_at, deleted_at, body, rev)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            )?;
            for _ in 0..batch.min(count - seq + 1) {
                let message = synthetic_message(chat, seq);
                statement.execute(rusqlite::params![
                    chat_text,
                    message.seq as i64,
                    message.id.to_string(),
                    message.version as i64,
                    message.author.as_str(),
                    message.created_at,
                    message.edited_at,
                    message.deleted_at,
                    message.body.to_string(),
                    message.rev as i64,
                ])?;
                seq += 1;
            }
        }
        transaction.commit()?;
    }
    Ok(count as f64 / started.elapsed().as_secs_f64())
}

pub struct StreamFigures {
    /// Messages committed and announced per second, first frame written → last event.
    pub rate: f64,
    /// When each frame was written and its event seen (`roost-bench stream`'s histogram).
    pub frames: FrameTimes,
    latency: Percentiles,
    /// CPU time of the whole process (client, frame source, bench) per message, in
    /// microseconds: steadier than the rate on a shared machine, where other tenants' load
    /// lengthens the wall clock but not the work.
    cpu_us_per_msg: f64,
    /// The same, up to the search index having caught up with the last message.
    cpu_us_per_msg_with_index: f64,
    /// Messages the search index had not yet indexed when the last event came out.
    index_backlog: u64,
    /// How long indexing that backlog took afterwards.
    index_drain: Duration,
}

/// When each frame of a stream run was written and when its event was seen, in seq order.
pub struct FrameTimes {
    /// The run's clock origin.
    pub base: Instant,
    pub sent: Vec<Instant>,
    pub received: Vec<Instant>,
}

impl FrameTimes {
    /// Frame → event per frame, in seq order.
    pub fn latencies(&self) -> Vec<Duration> {
        self.sent
            .iter()
            .zip(&self.received)
            .map(|(sent, received)| received.saturating_duration_since(*sent))
            .collect()
    }
}

impl StreamFigures {
    /// What the search index still had to do after the last event, and the CPU with it.
    fn index_note(&self) -> String {
        format!(
            "{:.1} µs/msg with the search index caught up ({} left to index at the last event, done {:.0} ms later)",
            self.cpu_us_per_msg_with_index,
            self.index_backlog,
            ms_f(self.index_drain)
        )
    }
}

/// CPU time (user + system, every thread) this process has used so far; `None` where
/// `/proc/self/stat` cannot be read.
fn process_cpu() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may hold spaces) start at field 3, `state`.
    let after_name = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    // USER_HZ is 100 on Linux.
    Some(Duration::from_millis(ticks * 10))
}

/// One stream run: a fresh cache, a client connected to a local frame source that writes
/// `count` message frames one per WebSocket frame (`rate`: paced at that many per second,
/// `None`: as fast as it can), and the time from each frame's write to the event announcing it.
pub async fn stream_run(
    scratch: &Path,
    name: &str,
    count: u64,
    rate: Option<u64>,
) -> Result<StreamFigures> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    let chat = new_chat();
    let mut config = ClientConfig::new(format!("http://{address}"), "bench-token")
        .cache_path(scratch.join(format!("stream-{name}.db")))
        .background(false);
    config.user_id = Some(UserId::new("alice"));
    let (client, _) = Client::open(config).await?;
    let mut events = client.subscribe();
    let cpu_before = process_cpu();
    let base = Instant::now();
    let source = tokio::spawn(frame_source(listener, chat, count, rate, base));
    client.start_stream();

    let mut received = vec![None::<Duration>; count as usize + 1];
    let deadline = Instant::now() + Duration::from_secs(300);
    let mut seen = 0u64;
    while seen < count {
        let remaining = deadline.saturating_duration_since(Instant::now());
        let event = match tokio::time::timeout(remaining, events.recv()).await {
            Err(_) => bail!("stream {name}: only {seen} of {count} messages announced in time"),
            Ok(Err(RecvError::Lagged(n))) => bail!("stream {name}: the bench lagged {n} events"),
            Ok(Err(RecvError::Closed)) => bail!("stream {name}: the client closed"),
            Ok(Ok(event)) => event,
        };
        if let ClientEvent::MessagesChanged { chat_id, seqs } = event
            && chat_id == chat
        {
            let at = base.elapsed();
            for seq in seqs {
                if let Some(slot) = received.get_mut(seq as usize)
                    && slot.is_none()
                {
                    *slot = Some(at);
                    seen += 1;
                }
            }
        }
    }
    let sent = source.await.context("frame source")??;
    let cpu_after_events = process_cpu();
    // The search index follows the store (the client's indexer, off the ingest transaction):
    // what it has not indexed by the last event is indexed now, by a search (which drains the
    // queue first), so the CPU figure below includes the whole index upkeep.
    let backlog = client.search_backlog().await?;
    let drain_started = Instant::now();
    client.search(None, "roost-bench-drain", 1).await?;
    let drain = drain_started.elapsed();
    let cpu_with_index = process_cpu();
    client.shutdown().await;
    let per_msg = |after: Option<Duration>| {
        after.zip(cpu_before).map_or(f64::NAN, |(after, before)| {
            (after.saturating_sub(before).as_secs_f64() * 1e6 / count as f64 * 10.0).round() / 10.0
        })
    };
    let mut latencies: Vec<Duration> = (1..=count as usize)
        .map(|seq| received[seq].unwrap_or_default().saturating_sub(sent[seq]))
        .collect();
    let first = sent[1];
    let last = received.iter().flatten().max().copied().unwrap_or_default();
    let frames = FrameTimes {
        base,
        sent: sent[1..].iter().map(|at| base + *at).collect(),
        received: received[1..]
            .iter()
            .map(|at| base + at.unwrap_or_default())
            .collect(),
    };
    Ok(StreamFigures {
        rate: count as f64 / (last - first).as_secs_f64(),
        frames,
        latency: percentiles(&mut latencies),
        cpu_us_per_msg: per_msg(cpu_after_events),
        cpu_us_per_msg_with_index: per_msg(cpu_with_index),
        index_backlog: backlog,
        index_drain: drain,
    })
}

/// Serves one WebSocket stream (other connections, e.g. the catch-up's chat-list request, are
/// refused) and writes `count` message frames; returns when each was written (index = seq).
async fn frame_source(
    listener: tokio::net::TcpListener,
    chat: ChatId,
    count: u64,
    rate: Option<u64>,
    base: Instant,
) -> Result<Vec<Duration>> {
    let mut ws = loop {
        let (socket, _) = listener.accept().await?;
        if let Ok(ws) = tokio_tungstenite::accept_async(socket).await {
            break ws;
        }
    };
    let hello = StreamEvent::Hello {
        user_id: UserId::new("alice"),
        protocol: roost_proto::PROTOCOL_VERSION,
        heartbeat_ms: 60_000,
    };
    ws.send(WsMessage::text(serde_json::to_string(&hello)?))
        .await?;
    let frames: Vec<String> = (1..=count)
        .map(|seq| {
            serde_json::to_string(&StreamEvent::Message {
                chat_id: chat,
                last_seq: seq,
                rev: seq,
                message: synthetic_message(chat, seq),
            })
        })
        .collect::<Result<_, _>>()?;
    let mut sent = vec![Duration::ZERO; count as usize + 1];
    let started = Instant::now();
    for (index, frame) in frames.into_iter().enumerate() {
        if let Some(rate) = rate {
            let due = Duration::from_secs_f64(index as f64 / rate as f64);
            let elapsed = started.elapsed();
            if due > elapsed + Duration::from_micros(500) {
                tokio::time::sleep(due - elapsed).await;
            }
        }
        ws.send(WsMessage::text(frame)).await?;
        sent[index + 1] = base.elapsed();
    }
    // Keep the connection open until the client goes away.
    tokio::spawn(async move {
        use futures_util::StreamExt;
        while let Some(Ok(_)) = ws.next().await {}
    });
    Ok(sent)
}
