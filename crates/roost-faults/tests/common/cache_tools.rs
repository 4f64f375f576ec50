//! The fault schedules' steps of issue 12 (evictions, clears, verifies) and their closing check:
//! after convergence a verify of every chat finds nothing to repair.
//!
//! Evicted history is no longer "held": the seqs an eviction or a clear reports leave the
//! holdings, so the lost-message check never counts history the client was told to drop (and a
//! message the client still holds but that an eviction did not report IS counted).

use super::Holdings;
use roost_core::Client;
use roost_core::budget::EvictionReport;
use roost_proto::ChatId;
use std::collections::BTreeMap;
use std::time::Duration;

/// How one eviction step runs.
#[derive(Debug, Clone, Copy)]
pub enum Eviction {
    /// "Clear cached history" of one chat, keeping its newest `keep`.
    ClearChat { chat: ChatId, keep: u64 },
    /// "Clear cached history" of every chat.
    ClearAll { keep: u64 },
    /// A budget of one byte: every chat that is not open loses all but its newest `keep`.
    Budget { keep: u64 },
}

/// Runs `eviction` and drops what it evicted from `held`; returns the step's trace detail and
/// how many messages it evicted.
pub async fn evict(
    client: &Client,
    eviction: Eviction,
    held: &mut BTreeMap<ChatId, Holdings>,
) -> (String, u64) {
    let result = match eviction {
        Eviction::ClearChat { chat, keep } => {
            client.clear_cached_history_keeping(Some(chat), keep).await
        }
        Eviction::ClearAll { keep } => client.clear_cached_history_keeping(None, keep).await,
        Eviction::Budget { keep } => client.enforce_cache_budget_keeping(Some(1), keep).await,
    };
    match result {
        Ok(report) => {
            forget_evicted(&report, held);
            let detail = format!(" {eviction:?}: {} message(s) evicted", report.messages);
            (detail, report.messages)
        }
        Err(e) => (format!(" {eviction:?}: {e}"), 0),
    }
}

fn forget_evicted(report: &EvictionReport, held: &mut BTreeMap<ChatId, Holdings>) {
    for chat in &report.chats {
        if let Some(holdings) = held.get_mut(&chat.chat_id) {
            for range in &chat.ranges {
                holdings.retain(|seq, _| *seq < range.start || *seq > range.end);
            }
        }
    }
}

/// A verify under the faults: may fail (the network is hostile), must never damage the cache.
pub async fn verify_under_faults(client: &Client, chat: ChatId) -> String {
    match tokio::time::timeout(Duration::from_secs(10), client.verify(chat)).await {
        Ok(Ok(r)) => format!(
            " {chat}: {} bucket(s) differing, {} refetched, repaired {:?}",
            r.buckets_differing, r.messages_refetched, r.repaired
        ),
        Ok(Err(e)) => format!(" {chat}: {e}"),
        Err(_) => format!(" {chat}: timed out"),
    }
}

/// After convergence: a verify of every chat must find every bucket equal and repair nothing.
/// Returns (messages compared, problems).
pub async fn verify_finds_nothing(client: &Client, chats: &[ChatId]) -> (u64, Vec<String>) {
    let mut compared = 0;
    let mut problems = Vec::new();
    for chat in chats {
        match client.verify(*chat).await {
            Ok(r) if r.buckets_differing == 0 && r.repaired.is_empty() => {
                compared += r.messages_compared;
            }
            Ok(r) => problems.push(format!(
                "chat {chat}: the closing verify found {} differing bucket(s) and repaired {:?}",
                r.buckets_differing, r.repaired
            )),
            Err(e) => problems.push(format!("chat {chat}: the closing verify failed: {e}")),
        }
    }
    (compared, problems)
}
