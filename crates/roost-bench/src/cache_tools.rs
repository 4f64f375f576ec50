//! Figures of search, verify and the storage budget (issue 12): search p50 over a large cache
//! against a `LIKE` scan of the same file in the same run, the size of the two search indexes,
//! verify's bytes against downloading the chat, and what verify refetches for damaged rows.

use crate::data::{fill_cache, ms, ms_f, new_chat, offline_client, percentiles};
use crate::gaps_resync::{WireFigures, wire_fetch};
use anyhow::{Result, bail};
use roost_core::verify::VerifyReport;
use roost_core::{Client, ClientConfig, SeqRange};
use roost_proto::{MAX_PAGE_SIZE, UserId};
use serde_json::{Value, json};
use std::path::Path;
use std::time::{Duration, Instant};

/// One-word queries: common words (in 1/7 of the messages), a rarer one and a number that
/// occurs once.
const QUERIES: &[&str] = &["build", "thursday", "tombstones", "987654"];

/// Search p50/p99 per query over `total` cached messages in `chats` chats, beside a `LIKE` scan
/// of the same file; returns the rows for the JSON figures.
pub async fn search_latency(
    scratch: &Path,
    total: u64,
    chats: u64,
    iterations: usize,
) -> Result<Value> {
    let path = scratch.join(format!("search-{total}.db"));
    let per_chat = total / chats;
    let started = Instant::now();
    for _ in 0..chats {
        fill_cache(&path, new_chat(), 1..=per_chat, per_chat).await?;
    }
    let client = offline_client(&path).await?;
    // The search index is kept behind the store: the first search indexes what the fill
    // queued. That is part of filling (not of a search), so it is done and timed here.
    client.search(None, "roost-bench-drain", 1).await?;
    let fill = started.elapsed();
    println!(
        "## Search over {total} cached messages ({chats} chats; filled with both indexes in {:.1} s)",
        fill.as_secs_f64()
    );
    println!(
        "| query | hits (limit 50) | search p50 | p99 | LIKE scan p50 | ratio p50 (LIKE / search) |"
    );
    println!("|---|---:|---:|---:|---:|---:|");
    let conn = rusqlite::Connection::open(&path)?;
    let mut rows = Vec::new();
    for query in QUERIES {
        let mut samples = Vec::with_capacity(iterations);
        let mut hits = 0;
        for _ in 0..iterations {
            let t = Instant::now();
            let results = client.search(None, query, 50).await?;
            samples.push(t.elapsed());
            hits = results.hits.len();
        }
        let fts = percentiles(&mut samples);
        // The same answer without the index: a scan of every cached body (the first 50 matches;
        // for a common word the scan stops early, for a rare one it reads everything).
        let mut like = Vec::new();
        for _ in 0..iterations.min(5) {
            let t = Instant::now();
            let mut stmt = conn.prepare_cached(
                "SELECT chat_id, seq FROM messages
                 WHERE json_extract(body, '$.text') LIKE '%' || ?1 || '%' ORDER BY chat_id, seq DESC LIMIT 50",
            )?;
            let n = stmt.query_map([query], |_| Ok(()))?.count();
            like.push(t.elapsed());
            std::hint::black_box(n);
        }
        let like = percentiles(&mut like);
        println!(
            "| {query} | {hits} | {} | {} | {} | {:.0}× |",
            ms(fts.p50),
            ms(fts.p99),
            ms(like.p50),
            like.p50.as_secs_f64() / fts.p50.as_secs_f64().max(1e-9)
        );
        rows.push(json!({
            "query": query, "hits": hits, "messages": total,
            "search_p50_ms": ms_f(fts.p50), "search_p99_ms": ms_f(fts.p99),
            "like_p50_ms": ms_f(like.p50),
        }));
    }
    let sizes = index_sizes(&conn);
    println!(
        "Index sizes (dbstat): messages {} MB, word index {} MB, trigram index {} MB; file {} MB.\n",
        sizes.0, sizes.1, sizes.2, sizes.3
    );
    client.shutdown().await;
    Ok(Value::Array(rows))
}

fn index_sizes(conn: &rusqlite::Connection) -> (String, String, String, String) {
    let mb = |bytes: i64| format!("{:.1}", bytes as f64 / 1e6);
    let of = |pattern: &str| -> String {
        conn.query_row(
            "SELECT COALESCE(SUM(pgsize), 0) FROM dbstat WHERE name LIKE ?1",
            [pattern],
            |row| row.get::<_, i64>(0),
        )
        .map(mb)
        .unwrap_or_else(|_| "n/a".into())
    };
    let file: i64 = conn
        .query_row(
            "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()",
            [],
            |row| row.get(0),
        )
        .unwrap_or(0);
    (
        of("messages"),
        of("message_words%"),
        of("message_trigrams%"),
        mb(file),
    )
}

/// Verify of an intact `chat_len`-message chat (bytes against downloading it) and of the same
/// chat with 10 rows damaged in the cache file (buckets refetched); returns the figures and the
/// missed targets (byte and bucket counts are deterministic, so `--check` may judge them).
pub async fn verify_bytes(scratch: &Path, chat_len: u64) -> Result<(Value, Vec<String>)> {
    let server = roost_server::testing::spawn_test_server().await;
    let chat = server.create_chat("Verify bench", &["alice", "bob"]).await;
    server.send_many("bob", chat, chat_len as usize).await;
    let token = server.token("alice");
    let download = wire_fetch(&server.base_url(), &token, chat, |from| {
        format!("from_seq={from}&limit={MAX_PAGE_SIZE}")
    })
    .await?;
    let path = scratch.join("verify.db");
    let mut config = ClientConfig::new(server.base_url(), &token)
        .cache_path(&path)
        .background(false);
    config.user_id = Some(UserId::new("alice"));
    let (client, _) = Client::open(config).await?;
    client.refresh_chats().await?;
    client
        .fetch_seqs(chat, &[SeqRange::new(1, chat_len)])
        .await?;

    server.reset_metrics();
    let t = Instant::now();
    let intact = client.verify(chat).await?;
    let intact_time = t.elapsed();
    let served = server.metrics().total().bytes;
    if served != intact.bytes_received {
        bail!(
            "client counted {} bytes, server sent {served}",
            intact.bytes_received
        );
    }
    let damaged_seqs: Vec<u64> = (1..=10).map(|i| i * chat_len / 11).collect();
    damage_rows(&path, &damaged_seqs)?;
    let t = Instant::now();
    let damaged = client.verify(chat).await?;
    let damaged_time = t.elapsed();
    client.shutdown().await;
    server_stop(server).await;

    let ratio = intact.bytes_received as f64 / download.bytes as f64;
    print_verify_table(
        chat_len,
        &download,
        (&intact, intact_time),
        (&damaged, damaged_time),
    );
    let mut misses = Vec::new();
    if ratio > 0.02 {
        misses.push(format!("verify of an intact chat: byte ratio {ratio:.4}"));
    }
    if damaged.buckets_refetched > 10 || damaged.repaired.len() != 10 {
        misses.push(format!(
            "10 damaged rows: {} buckets refetched, {} repaired",
            damaged.buckets_refetched,
            damaged.repaired.len()
        ));
    }
    let figures = json!({
        "chat_messages": chat_len,
        "download_bytes": download.bytes,
        "intact_bytes": intact.bytes_received,
        "intact_ratio": ratio,
        "intact_buckets_compared": intact.buckets_compared,
        "damaged_rows": 10,
        "damaged_buckets_refetched": damaged.buckets_refetched,
        "damaged_messages_refetched": damaged.messages_refetched,
        "damaged_repaired": damaged.repaired.len(),
    });
    Ok((figures, misses))
}

/// The verify section of the printed figures: the intact chat and the damaged one, beside a
/// full download of the chat.
fn print_verify_table(
    chat_len: u64,
    download: &WireFigures,
    (intact, intact_time): (&VerifyReport, Duration),
    (damaged, damaged_time): (&VerifyReport, Duration),
) {
    let ratio = intact.bytes_received as f64 / download.bytes as f64;
    println!(
        "## Verify & repair ({chat_len}-message chat, fully cached, real server over loopback)"
    );
    println!(
        "| case | digest buckets compared | differing | fine buckets refetched | messages refetched | requests | bytes | bytes / full download | time |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    println!(
        "| intact | {} | 0 | 0 | 0 | {} | {} | {:.4} (target ≤ 0.02) | {} |",
        intact.buckets_compared,
        intact.requests,
        intact.bytes_received,
        ratio,
        ms(intact_time)
    );
    println!(
        "| 10 damaged rows | {} | {} | {} (target ≤ 10) | {} | {} | {} | {:.4} | {} |",
        damaged.buckets_compared,
        damaged.buckets_differing,
        damaged.buckets_refetched,
        damaged.messages_refetched,
        damaged.requests,
        damaged.bytes_received,
        damaged.bytes_received as f64 / download.bytes as f64,
        ms(damaged_time)
    );
    println!(
        "Full download: {} bytes in {} requests (forward range pages of {MAX_PAGE_SIZE}).\n",
        download.bytes, download.requests
    );
}

/// Overwrites the body of each seq with SQL, as a damaged disk or a buggy writer would.
fn damage_rows(path: &Path, seqs: &[u64]) -> Result<()> {
    let conn = rusqlite::Connection::open(path)?;
    conn.busy_timeout(Duration::from_secs(10))?;
    for seq in seqs {
        conn.execute(
            "UPDATE messages SET body = '{\"text\":\"damaged\"}' WHERE seq = ?1",
            [*seq as i64],
        )?;
    }
    Ok(())
}

async fn server_stop(mut server: roost_server::testing::TestServer) {
    server.stop().await;
}
