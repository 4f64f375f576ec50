//! Synthetic chat data and the small helpers every figure shares (filling a cache, percentiles).

use anyhow::Result;
use roost_core::store::{CursorRule, IngestOptions, Position, Store};
use roost_core::{Client, ClientConfig};
use roost_proto::{ChatId, Message, MessageId, UserId};
use std::path::Path;
use std::time::{Duration, Instant};

const CHAT_TEXTS: &[&str] = &[
    "Morning! Did the nightly build go green?",
    "Pushed the fix for the reconnect loop, please take a look when you can.",
    "lunch?",
    "The benchmark numbers are in the issue, p50 is well under target.",
    "Can we move the sync review to Thursday? Wednesday is packed.",
    "👍",
    "I think the cache map should show tombstones too, they are history after all.",
];

pub fn synthetic_message(chat: ChatId, seq: u64) -> Message {
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
pub async fn fill_cache(
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

pub fn new_chat() -> ChatId {
    ChatId(uuid::Uuid::new_v4())
}

/// A client that never reaches a server: opening a chat must not need one.
pub async fn offline_client(path: &Path) -> Result<Client> {
    let mut config = ClientConfig::new("http://127.0.0.1:9", "no-token")
        .cache_path(path)
        .background(false);
    config.user_id = Some(UserId::new("alice"));
    Ok(Client::open(config).await?.0)
}

#[derive(Debug, Clone, Copy)]
pub struct Percentiles {
    pub p50: Duration,
    pub p99: Duration,
}

pub fn percentiles(samples: &mut [Duration]) -> Percentiles {
    samples.sort();
    let at = |q: f64| samples[((samples.len() as f64 - 1.0) * q).round() as usize];
    Percentiles {
        p50: at(0.50),
        p99: at(0.99),
    }
}

pub fn ms(duration: Duration) -> String {
    format!("{:.3} ms", duration.as_secs_f64() * 1e3)
}

pub fn ms_f(duration: Duration) -> f64 {
    (duration.as_secs_f64() * 1e6).round() / 1e3
}
