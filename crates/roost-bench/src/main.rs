//! `roost-bench`: the figures issue 3 asks for, printed as tables, each beside the baseline it is
//! judged against. Run with `./dev bench` (release). `--quick` uses small sizes (a smoke run,
//! also exercised by the test suite so the benchmark cannot rot).
//!
//! * open-chat latency (p50/p99) with 1k, 100k and 1M cached messages, against a bare-SQLite
//!   floor: one prepared statement on the same file and schema (rusqlite) reading and decoding
//!   the same rows into the same `Message` values;
//! * ingest throughput, batched and one message per transaction, against a bare-SQLite insert of
//!   the same rows (which maintains no runs index, no chat row and no merge rule);
//! * gap computation with 1, 100 and 10,000 gaps at two cache sizes (it must not depend on the
//!   number of cached messages);
//! * resync bandwidth against the real server over loopback, for 1% scattered, 10% trailing and
//!   one middle gap, against (a) a full reload of the chat and (b) seed 000's notify-refetch
//!   client (one refetch of the open page per notification), all counted on the wire.
//!
//! Nothing here asserts on time; `--check` only checks the wire-count targets (bytes and
//! requests), which are deterministic.

use anyhow::{Context, Result, bail};
use clap::Parser;

mod cache_tools;
use roost_core::store::{CursorRule, IngestOptions, Position, Store};
use roost_core::{Anchor, Client, ClientConfig, ranges};
use roost_proto::{ChatId, MAX_PAGE_SIZE, Message, MessageId, MessagesPage, UserId};
use std::path::Path;
use std::time::{Duration, Instant};

#[derive(Debug, Parser)]
#[command(about = "Roost benchmarks (see crates/roost-bench/src/main.rs)")]
struct Args {
    /// Small sizes: a smoke run in seconds.
    #[arg(long)]
    quick: bool,
    /// Fail (exit 1) when a wire-count target is missed.
    #[arg(long)]
    check: bool,
    /// Window size of an open (messages per screen).
    #[arg(long, default_value_t = 50)]
    window: u32,
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<()> {
    let args = Args::parse();
    let scratch = tempfile::tempdir()?;
    println!(
        "roost-bench ({} run, window {} messages)\n",
        if args.quick { "quick" } else { "full" },
        args.window
    );

    let open_sizes: &[u64] = if args.quick {
        &[1_000, 10_000]
    } else {
        &[1_000, 100_000, 1_000_000]
    };
    open_chat_latency(
        scratch.path(),
        open_sizes,
        args.window,
        if args.quick { 50 } else { 300 },
    )
    .await?;

    let (batched, one_by_one) = if args.quick {
        (20_000, 500)
    } else {
        (200_000, 5_000)
    };
    ingest_throughput(scratch.path(), batched, one_by_one).await?;

    let gap_sizes: &[u64] = if args.quick {
        &[20_000, 40_000]
    } else {
        &[100_000, 1_000_000]
    };
    gap_computation(scratch.path(), &[1, 100, 10_000], gap_sizes).await?;

    let chat_len = if args.quick { 4_000 } else { 20_000 };
    let mut misses = resync_bandwidth(scratch.path(), chat_len, args.window).await?;
    let (search_size, search_chats) = if args.quick { (20_000, 4) } else { (1_000_000, 10) };
    cache_tools::search_latency(scratch.path(), search_size, search_chats, if args.quick { 20 } else { 200 }).await?;
    misses.extend(cache_tools::verify_bytes(scratch.path(), if args.quick { 5_000 } else { 100_000 }).await?);
    if args.check && !misses.is_empty() {
        bail!("wire-count targets missed: {misses:?}");
    }
    Ok(())
}

// ------------------------------------------------------------------------------ data

const CHAT_TEXTS: &[&str] = &[
    "Morning! Did the nightly build go green?",
    "Pushed the fix for the reconnect loop, please take a look when you can.",
    "lunch?",
    "The benchmark numbers are in the issue, p50 is well under target.",
    "Can we move the sync review to Thursday? Wednesday is packed.",
    "👍",
    "I think the cache map should show tombstones too, they are history after all.",
];

fn synthetic_message(chat: ChatId, seq: u64) -> Message {
    let text = format!(
        "{} (#{seq})",
        CHAT_TEXTS[(seq % CHAT_TEXTS.len() as u64) as usize]
    );
    Message {
        id: MessageId(uuid::Uuid::new_v4()),
        chat_id: chat,
        seq,
        version: 1,
        author: UserId::new(["alice", "bob", "carol"][(seq % 3) as usize]),
        created_at: 1_700_000_000_000 + seq as i64 * 1_000,
        edited_at: None,
        deleted_at: None,
        body: serde_json::json!({ "text": text }),
        rev: seq,
    }
}

/// Fills `chat` in the cache at `path` with the given seqs (ascending), in batches, and returns
/// the batched ingest rate.
async fn fill_cache(
    path: &Path,
    chat: ChatId,
    seqs: impl Iterator<Item = u64>,
    last_seq: u64,
) -> Result<f64> {
    let (store, _) = Store::open(path).await?;
    let mut options = IngestOptions::new(CursorRule::Snapshot(last_seq));
    options.position = Some(Position {
        last_seq,
        rev: last_seq,
    });
    let started = Instant::now();
    let mut total = 0usize;
    let mut batch = Vec::with_capacity(5_000);
    for seq in seqs {
        batch.push(synthetic_message(chat, seq));
        if batch.len() == 5_000 {
            store.ingest(chat, &batch, &options).await?;
            total += batch.len();
            batch.clear();
        }
    }
    if !batch.is_empty() {
        total += batch.len();
        store.ingest(chat, &batch, &options).await?;
    }
    let rate = total as f64 / started.elapsed().as_secs_f64();
    store.close().await;
    Ok(rate)
}

fn new_chat() -> ChatId {
    ChatId(uuid::Uuid::new_v4())
}

/// A client that never reaches a server: opening a chat must not need one.
async fn offline_client(path: &Path) -> Result<Client> {
    let mut config = ClientConfig::new("http://127.0.0.1:9", "no-token")
        .cache_path(path)
        .background(false);
    config.user_id = Some(UserId::new("alice"));
    Ok(Client::open(config).await?.0)
}

struct Percentiles {
    p50: Duration,
    p99: Duration,
}

fn percentiles(samples: &mut [Duration]) -> Percentiles {
    samples.sort();
    let at = |q: f64| samples[((samples.len() as f64 - 1.0) * q).round() as usize];
    Percentiles {
        p50: at(0.50),
        p99: at(0.99),
    }
}

fn ms(duration: Duration) -> String {
    format!("{:.3} ms", duration.as_secs_f64() * 1e3)
}

// ------------------------------------------------------------------------------ open-chat

async fn open_chat_latency(
    scratch: &Path,
    sizes: &[u64],
    window: u32,
    iterations: usize,
) -> Result<()> {
    println!("## Open chat from the cache (newest {window} messages; {iterations} opens each)");
    println!(
        "| cached messages | open_chat p50 | p99 | window read p50 | bare SQLite p50 | p99 | ratio p50 (open_chat / bare) | Client::open (startup) |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|");
    for &size in sizes {
        let path = scratch.join(format!("open-{size}.db"));
        let chat = new_chat();
        fill_cache(&path, chat, 1..=size, size).await?;

        let startup = Instant::now();
        let client = offline_client(&path).await?;
        let startup = startup.elapsed();
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
        let client_figures = percentiles(&mut samples);
        let read_figures = percentiles(&mut read_samples);

        let floor = bare_sqlite_open(&path, chat, window, iterations)?;
        println!(
            "| {size} | {} | {} | {} | {} | {} | {:.1}× | {} |",
            ms(client_figures.p50),
            ms(client_figures.p99),
            ms(read_figures.p50),
            ms(floor.p50),
            ms(floor.p99),
            client_figures.p50.as_secs_f64() / floor.p50.as_secs_f64(),
            ms(startup),
        );
    }
    println!(
        "Target: client p50 < 1 ms at 1M cached (required); within 5× of bare SQLite (goal).\n"
    );
    Ok(())
}

/// The floor: one prepared statement reading the newest `window` rows of the chat and decoding
/// them into the same `Message` values the client returns.
fn bare_sqlite_open(
    path: &Path,
    chat: ChatId,
    window: u32,
    iterations: usize,
) -> Result<Percentiles> {
    let connection = rusqlite::Connection::open(path)?;
    let mut statement = connection.prepare(
        "SELECT id, seq, version, author, created_at, edited_at, deleted_at, body, rev
         FROM messages WHERE chat_id = ?1 ORDER BY seq DESC LIMIT ?2",
    )?;
    let chat_text = chat.to_string();
    let mut samples = Vec::with_capacity(iterations);
    for _ in 0..iterations {
        let started = Instant::now();
        let mut messages: Vec<Message> = statement
            .query_map(rusqlite::params![chat_text, window], |row| {
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
        samples.push(started.elapsed());
        if messages.len() != window as usize {
            bail!("bare read returned {} rows", messages.len());
        }
    }
    Ok(percentiles(&mut samples))
}

// ------------------------------------------------------------------------------ ingest

async fn ingest_throughput(scratch: &Path, batched: u64, one_by_one: u64) -> Result<()> {
    println!("## Ingest throughput");
    println!("| mode | messages | roost-core msg/s | bare SQLite msg/s |");
    println!("|---|---:|---:|---:|");

    let chat = new_chat();
    let path = scratch.join("ingest-batched.db");
    let core_rate = fill_cache(&path, chat, 1..=batched, batched).await?;
    let bare_rate = bare_sqlite_insert(
        &scratch.join("ingest-bare-batched.db"),
        &path,
        batched,
        5_000,
    )?;
    println!("| batched (5,000 per transaction) | {batched} | {core_rate:.0} | {bare_rate:.0} |");

    let path = scratch.join("ingest-single.db");
    let (store, _) = Store::open(&path).await?;
    let chat = new_chat();
    let started = Instant::now();
    for seq in 1..=one_by_one {
        let mut options = IngestOptions::new(CursorRule::Event(seq));
        options.position = Some(Position {
            last_seq: seq,
            rev: seq,
        });
        store
            .ingest(chat, &[synthetic_message(chat, seq)], &options)
            .await?;
    }
    let core_single = one_by_one as f64 / started.elapsed().as_secs_f64();
    store.close().await;
    let bare_single =
        bare_sqlite_insert(&scratch.join("ingest-bare-single.db"), &path, one_by_one, 1)?;
    println!(
        "| one message per transaction | {one_by_one} | {core_single:.0} | {bare_single:.0} |"
    );
    println!(
        "Target: batched ≥ 100,000 messages/s. Both sides run with the cache's pragmas (WAL, synchronous=NORMAL).\n"
    );
    Ok(())
}

/// Inserts `count` rows into a copy of the cache schema (taken from `schema_source`), `batch`
/// rows per transaction, with plain prepared statements.
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
    let chat = new_chat();
    let chat_text = chat.to_string();
    let started = Instant::now();
    let mut seq = 1;
    while seq <= count {
        let transaction = connection.transaction()?;
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

// ------------------------------------------------------------------------------ gaps

async fn gap_computation(scratch: &Path, gap_counts: &[u64], cache_sizes: &[u64]) -> Result<()> {
    println!("## Gap computation (cached-runs index read + missing-range math)");
    print!("| gaps |");
    for size in cache_sizes {
        print!(" {size} cached: p50 |");
    }
    println!();
    println!("|---:|{}", "---:|".repeat(cache_sizes.len()));
    for &gaps in gap_counts {
        print!("| {gaps} |");
        for &size in cache_sizes {
            let path = scratch.join(format!("gaps-{gaps}-{size}.db"));
            let chat = new_chat();
            // `gaps` holes of one seq, evenly spread; the last cached seq is `size + gaps`.
            let stride = (size / gaps).max(2);
            let holes: std::collections::HashSet<u64> = (1..=gaps).map(|i| i * stride).collect();
            let last = size + gaps;
            fill_cache(
                &path,
                chat,
                (1..=last).filter(|seq| !holes.contains(seq)),
                last,
            )
            .await?;
            let (store, _) = Store::open(&path).await?;
            let mut samples = Vec::new();
            let mut found = 0;
            for _ in 0..30 {
                let started = Instant::now();
                let runs = store.runs(chat).await?;
                let missing = ranges::missing_ranges(&runs, last);
                samples.push(started.elapsed());
                found = missing.len();
            }
            store.close().await;
            if found as u64 != gaps {
                bail!("expected {gaps} gaps, computed {found}");
            }
            print!(" {} |", ms(percentiles(&mut samples).p50));
        }
        println!();
    }
    println!("Target: a row's figures do not grow with the number of cached messages.\n");
    Ok(())
}

// ------------------------------------------------------------------------------ resync

struct Scenario {
    name: &'static str,
    missing: Vec<u64>,
}

fn scenarios(chat_len: u64) -> Vec<Scenario> {
    // 1% scattered: a deterministic spread (every 100th seq, shifted by a small pseudo-random
    // offset so the holes are not evenly spaced). Seq 1 stays cached: a missing seq 1 is older
    // history, which a resync rightly leaves to scrolling.
    let scattered: Vec<u64> = (0..chat_len / 100)
        .map(|i| i * 100 + 2 + (i * 37 % 97))
        .filter(|s| *s < chat_len)
        .collect();
    let trailing: Vec<u64> = (chat_len - chat_len / 10 + 1..=chat_len).collect();
    let middle: Vec<u64> = (chat_len / 2..chat_len / 2 + chat_len / 20).collect();
    vec![
        Scenario {
            name: "1% scattered",
            missing: scattered,
        },
        Scenario {
            name: "10% trailing",
            missing: trailing,
        },
        Scenario {
            name: "one middle gap (5%)",
            missing: middle,
        },
    ]
}

async fn resync_bandwidth(scratch: &Path, chat_len: u64, window: u32) -> Result<Vec<String>> {
    let server = roost_server::testing::spawn_test_server().await;
    let chat = server.create_chat("Bench", &["alice", "bob"]).await;
    server.send_many("bob", chat, chat_len as usize).await;
    let truth = server.messages(chat).await;
    let token = server.token("alice");

    // (a) a full reload of the chat, measured on the wire.
    let full = wire_fetch(&server.base_url(), &token, chat, |from| {
        format!("from_seq={from}&limit={MAX_PAGE_SIZE}")
    })
    .await?;
    // (b) seed 000's notify-refetch: one refetch of the open page per notification. Measured on
    // the wire for one refetch; a client online for the missed messages pays it per message.
    let page = wire_fetch(&server.base_url(), &token, chat, |_| {
        format!("limit={window}")
    })
    .await?;

    println!("## Resync bandwidth ({chat_len}-message chat on the real server, over loopback)");
    println!(
        "| scenario | missing | gaps | requests (target) | bytes received | bytes of missing msgs | ratio (target ≤ 1.10) | full reload bytes / requests | notify-refetch bytes / requests |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    let mut misses = Vec::new();
    for scenario in scenarios(chat_len) {
        let path = scratch.join(format!("resync-{}.db", scenario.name.replace(' ', "-")));
        let missing: std::collections::HashSet<u64> = scenario.missing.iter().copied().collect();
        let (store, _) = Store::open(&path).await?;
        let mut options = IngestOptions::new(CursorRule::Snapshot(chat_len));
        options.position = Some(Position {
            last_seq: chat_len,
            rev: chat_len,
        });
        let cached: Vec<Message> = truth
            .iter()
            .filter(|m| !missing.contains(&m.seq))
            .cloned()
            .collect();
        for batch in cached.chunks(5_000) {
            store.ingest(chat, batch, &options).await?;
        }
        store.close().await;

        let missing_bytes: u64 = truth
            .iter()
            .filter(|m| missing.contains(&m.seq))
            .map(|m| serde_json::to_vec(m).unwrap().len() as u64)
            .sum();
        let gaps = ranges::runs_from_seqs(scenario.missing.iter().copied()).len() as u64;
        let target_requests = gaps + scenario.missing.len().div_ceil(MAX_PAGE_SIZE as usize) as u64;

        let mut config = ClientConfig::new(server.base_url(), &token)
            .cache_path(&path)
            .background(false);
        config.user_id = Some(UserId::new("alice"));
        config.page_size = MAX_PAGE_SIZE;
        let (client, _) = Client::open(config).await?;
        server.reset_metrics();
        let report = client.resync(chat).await?;
        client.shutdown().await;
        let served = server.metrics();
        let served_bytes = served.route("range").bytes + served.route("changes").bytes;
        if served_bytes != report.bytes_received {
            bail!(
                "client counted {} bytes, server sent {served_bytes}",
                report.bytes_received
            );
        }
        if report.messages_fetched != scenario.missing.len() as u64 || report.gaps_after != 0 {
            bail!(
                "{}: fetched {} of {} missing, {} gaps left",
                scenario.name,
                report.messages_fetched,
                scenario.missing.len(),
                report.gaps_after
            );
        }
        let ratio = report.bytes_received as f64 / missing_bytes as f64;
        if ratio > 1.10 {
            misses.push(format!("{}: byte ratio {ratio:.3}", scenario.name));
        }
        if report.requests > target_requests {
            misses.push(format!(
                "{}: {} requests > {target_requests}",
                scenario.name, report.requests
            ));
        }
        let notifications = scenario.missing.len() as u64;
        println!(
            "| {} | {} | {gaps} | {} ({target_requests}) | {} | {missing_bytes} | {ratio:.3} | {} / {} | {} / {} |",
            scenario.name,
            scenario.missing.len(),
            report.requests,
            report.bytes_received,
            full.bytes,
            full.requests,
            page.bytes * notifications,
            notifications,
        );
    }
    println!(
        "Full reload: every page of the chat with the forward range endpoint. Notify-refetch (seed 000): one refetch of the open {window}-message page ({} bytes on the wire) per missed notification.\n",
        page.bytes
    );
    server_shutdown(server).await;
    Ok(misses)
}

struct WireFigures {
    requests: u64,
    bytes: u64,
}

/// Pages through the chat with plain HTTP (`query(from_seq)` builds each query) and counts
/// requests and response-body bytes. Stops after the first page for queries without a forward
/// continuation.
async fn wire_fetch(
    base_url: &str,
    token: &str,
    chat: ChatId,
    query: impl Fn(u64) -> String,
) -> Result<WireFigures> {
    let http = reqwest::Client::new();
    let mut figures = WireFigures {
        requests: 0,
        bytes: 0,
    };
    let mut from = 1;
    loop {
        let body = http
            .get(format!(
                "{base_url}/v1/chats/{chat}/messages?{}",
                query(from)
            ))
            .bearer_auth(token)
            .send()
            .await?
            .error_for_status()?
            .bytes()
            .await?;
        figures.requests += 1;
        figures.bytes += body.len() as u64;
        let page: MessagesPage = serde_json::from_slice(&body).context("a messages page")?;
        match page.next_from_seq {
            Some(next) => from = next,
            None => return Ok(figures),
        }
    }
}

async fn server_shutdown(mut server: roost_server::testing::TestServer) {
    server.stop().await;
}
