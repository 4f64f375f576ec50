//! Gap computation at two cache sizes (it must not grow with the cached messages) and resync
//! bandwidth against the real server, counted on the wire, against a full reload and seed 000's
//! notify-refetch client.

use crate::data::{fill_cache, ms, ms_f, new_chat, percentiles};
use anyhow::{Context, Result, bail};
use roost_core::store::{CursorRule, IngestOptions, Position, Store};
use roost_core::{Client, ClientConfig, ResyncReport, ranges};
use roost_proto::{ChatId, MAX_PAGE_SIZE, Message, MessagesPage, UserId};
use roost_server::testing::TestServer;
use serde_json::{Value, json};
use std::collections::HashSet;
use std::path::Path;
use std::time::Instant;

// ------------------------------------------------------------------------------ gaps

pub async fn gap_computation(
    scratch: &Path,
    gap_counts: &[u64],
    cache_sizes: &[u64],
) -> Result<Value> {
    let mut rows = Vec::new();
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
            let p50 = percentiles(&mut samples).p50;
            rows.push(json!({ "gaps": gaps, "cached": size, "p50_ms": ms_f(p50) }));
            print!(" {} |", ms(p50));
        }
        println!();
    }
    println!("Target: a row's figures do not grow with the number of cached messages.\n");
    Ok(Value::Array(rows))
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

/// Returns the JSON rows and the wire-count targets missed.
pub async fn resync_bandwidth(
    scratch: &Path,
    chat_len: u64,
    window: u32,
) -> Result<(Value, Vec<String>)> {
    let mut rows = Vec::new();
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

    print_resync_table_head(chat_len);
    let mut misses = Vec::new();
    for scenario in scenarios(chat_len) {
        let path = scratch.join(format!("resync-{}.db", scenario.name.replace(' ', "-")));
        let missing: HashSet<u64> = scenario.missing.iter().copied().collect();
        cache_all_but(&path, (chat, chat_len), &truth, &missing).await?;

        let missing_bytes: u64 = truth
            .iter()
            .filter(|m| missing.contains(&m.seq))
            .map(|m| serde_json::to_vec(m).unwrap().len() as u64)
            .sum();
        let gaps = ranges::runs_from_seqs(scenario.missing.iter().copied()).len() as u64;
        let target_requests = gaps + scenario.missing.len().div_ceil(MAX_PAGE_SIZE as usize) as u64;

        let report = counted_resync(&server, &token, &path, chat).await?;
        let ratio = judge_resync(
            &scenario,
            &report,
            (missing_bytes, target_requests),
            &mut misses,
        )?;
        let notifications = scenario.missing.len() as u64;
        rows.push(json!({
            "scenario": scenario.name,
            "missing": scenario.missing.len(),
            "gaps": gaps,
            "requests": report.requests,
            "target_requests": target_requests,
            "bytes": report.bytes_received,
            "missing_bytes": missing_bytes,
            "ratio": (ratio * 1000.0).round() / 1000.0,
            "full_reload_bytes": full.bytes,
            "notify_refetch_bytes": page.bytes * notifications,
        }));
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
    Ok((Value::Array(rows), misses))
}

/// The resync section's title and the head of its table (a row per scenario follows).
fn print_resync_table_head(chat_len: u64) {
    println!("## Resync bandwidth ({chat_len}-message chat on the real server, over loopback)");
    println!(
        "| scenario | missing | gaps | requests (target) | bytes received | bytes of missing msgs | ratio (target ≤ 1.10) | full reload bytes / requests | notify-refetch bytes / requests |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
}

/// Fails unless the resync fetched exactly the scenario's missing messages and left no gap;
/// adds the wire-count targets it missed (bytes within 1.10× of the missing messages',
/// requests within `target_requests`) to `misses`. Returns the byte ratio.
fn judge_resync(
    scenario: &Scenario,
    report: &ResyncReport,
    (missing_bytes, target_requests): (u64, u64),
    misses: &mut Vec<String>,
) -> Result<f64> {
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
    Ok(ratio)
}

/// A cache file at `path` holding every message of `truth` (the whole chat, `last_seq`
/// messages) but the `missing` seqs, at the chat's position.
async fn cache_all_but(
    path: &Path,
    (chat, last_seq): (ChatId, u64),
    truth: &[Message],
    missing: &HashSet<u64>,
) -> Result<()> {
    let (store, _) = Store::open(path).await?;
    let mut options = IngestOptions::new(CursorRule::Snapshot(last_seq));
    options.position = Some(Position {
        last_seq,
        rev: last_seq,
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
    Ok(())
}

/// Alice's resync of `chat` from the cache at `path`, in pages of the largest size; fails
/// unless the bytes the client counted are the bytes the server sent.
async fn counted_resync(
    server: &TestServer,
    token: &str,
    path: &Path,
    chat: ChatId,
) -> Result<ResyncReport> {
    let mut config = ClientConfig::new(server.base_url(), token)
        .cache_path(path)
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
    Ok(report)
}

pub(crate) struct WireFigures {
    pub(crate) requests: u64,
    pub(crate) bytes: u64,
}

/// Pages through the chat with plain HTTP (`query(from_seq)` builds each query) and counts
/// requests and response-body bytes. Stops after the first page for queries without a forward
/// continuation.
pub(crate) async fn wire_fetch(
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
