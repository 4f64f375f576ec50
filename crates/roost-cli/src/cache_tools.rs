//! `roost search`, `roost verify`, `roost clear` and `roost budget`: printing the core's search,
//! verify and storage-budget reports. Argument shapes live in `main.rs`; every rule lives in
//! `roost-core` (`search`, `verify`, `budget`).

use crate::{Command, print_json, resolve};
use roost_core::Client;
use roost_core::search::{DEFAULT_SEARCH_LIMIT, SearchResults};
use serde_json::json;

/// Commands that bring history in, after which the cache is brought back within its budget.
pub(crate) fn fetches_history(command: &Command) -> bool {
    matches!(
        command,
        Command::Resync { .. } | Command::Older { .. } | Command::Search { fetch: true, .. }
    )
}

/// `roost search [<chat>] <query> [--fetch] [--limit N]`.
pub async fn search(
    client: &Client,
    terms: &[String],
    fetch: bool,
    limit: Option<u32>,
    json: bool,
) -> anyhow::Result<()> {
    let (chat, query) = match terms {
        [query] => (None, query.as_str()),
        [chat, query] => (Some(resolve(client, chat, fetch).await?), query.as_str()),
        _ => anyhow::bail!("usage: roost search [<chat>] <query>"),
    };
    let limit = limit.unwrap_or(DEFAULT_SEARCH_LIMIT);
    let mut results = client.search(chat, query, limit).await?;
    let mut fetched = Vec::new();
    if fetch && !results.not_searched.is_empty() {
        for missing in &results.not_searched {
            fetched.push(client.fetch_seqs(missing.chat_id, &missing.ranges).await?);
        }
        results = client.search(chat, query, limit).await?;
    }
    if json {
        let mut value = serde_json::to_value(&results)?;
        if fetch {
            value["fetched"] = serde_json::to_value(&fetched)?;
        }
        return print_json(&value);
    }
    print_results(&results);
    Ok(())
}

fn print_results(results: &SearchResults) {
    println!(
        "{} result(s){}",
        results.hits.len(),
        if results.truncated {
            " (more not shown)"
        } else {
            ""
        }
    );
    for hit in &results.hits {
        println!(
            "[{}] #{} {}: {}",
            hit.chat_title, hit.seq, hit.author, hit.text
        );
    }
    for missing in &results.not_searched {
        let ranges: Vec<String> = missing
            .ranges
            .iter()
            .map(|r| format!("{}–{}", r.start, r.end))
            .collect();
        println!(
            "not searched: {} message(s) of {} are not on this device (seqs {})",
            missing.messages,
            missing.chat_title,
            ranges.join(", ")
        );
    }
}

/// `roost verify <chat>`.
pub async fn verify(client: &Client, chat: &str, json: bool) -> anyhow::Result<()> {
    let chat = resolve(client, chat, true).await?;
    let report = client.verify(chat).await?;
    if json {
        return print_json(&report);
    }
    println!(
        "compared {} message(s) in {} bucket(s): {} differ; refetched {} message(s) in {} bucket(s), repaired {}; {} request(s), {} bytes",
        report.messages_compared,
        report.buckets_compared,
        report.buckets_differing,
        report.messages_refetched,
        report.buckets_refetched,
        report.repaired.len(),
        report.requests,
        report.bytes_received
    );
    Ok(())
}

/// `roost clear [<chat>]` (no chat: every chat).
pub async fn clear(client: &Client, chat: Option<&str>, json: bool) -> anyhow::Result<()> {
    let chat = match chat {
        Some(chat) => Some(resolve(client, chat, false).await?),
        None => None,
    };
    let report = client.clear_cached_history(chat).await?;
    if json {
        return print_json(&report);
    }
    println!(
        "cleared {} cached message(s) of {} chat(s); cache {} -> {} bytes",
        report.messages,
        report.chats.len(),
        report.bytes_before,
        report.bytes_after
    );
    Ok(())
}

/// `roost budget [--set BYTES]`.
pub async fn budget(client: &Client, set: Option<u64>, json: bool) -> anyhow::Result<()> {
    if let Some(bytes) = set {
        client.set_cache_budget(bytes).await?;
    }
    let eviction = match set {
        Some(_) => Some(client.enforce_cache_budget(None).await?),
        None => None,
    };
    let status = client.budget_status().await?;
    if json {
        return print_json(&json!({ "status": status, "eviction": eviction }));
    }
    println!(
        "cache uses {} of {} bytes (file {} bytes), {} message(s) cached",
        status.used_bytes, status.budget_bytes, status.file_bytes, status.cached_messages
    );
    if let Some(e) = eviction.filter(|e| e.messages > 0) {
        println!(
            "evicted {} message(s) of {} chat(s)",
            e.messages,
            e.chats.len()
        );
    }
    Ok(())
}

/// After a command that fetched history: keep the cache within its budget.
pub async fn enforce_budget(client: &Client, budget: Option<u64>) -> anyhow::Result<()> {
    let report = client.enforce_cache_budget(budget).await?;
    if report.messages > 0 {
        eprintln!(
            "roost: cache over budget: evicted {} message(s) of {} chat(s)",
            report.messages,
            report.chats.len()
        );
    }
    Ok(())
}
