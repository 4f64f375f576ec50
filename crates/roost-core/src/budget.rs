//! The storage budget: evicting the oldest cached history of the chats opened least recently,
//! and "Clear cached history" for one chat or the device.
//!
//! Owns every deletion of cached messages. An eviction is ONE transaction that deletes a prefix
//! of a chat's cached seqs *and* trims the runs index and `cached_count` with it, so evicted
//! history is an ordinary hole — older history or a gap — that the cache map, skeletons, resync,
//! scrolling and search's "not searched" report treat like any missing range (the invariant "a
//! hole means missing here" keeps holding; the search index drops the evicted rows' entries and
//! queue rows by trigger, in the same transaction). Never evicts a
//! chat's newest [`KEEP_NEWEST`] messages, never touches an open chat, never touches the outbox.
//! Freed pages go back to the file system with `PRAGMA incremental_vacuum`.
//!
//! Evicted history stays known as such: a chat's history floor (the lowest seq ever cached,
//! kept by a trigger of migration 0030, never raised) does not move when its prefix is evicted,
//! so the seqs between the floor and the oldest cached message are evicted history that a
//! manual Resync fetches back ([`crate::ranges::evicted_range`]), unlike older history never
//! cached here.

use crate::client::Client;
use crate::error::Result;
use crate::ranges::SeqRange;
use crate::store::Store;
use roost_proto::{ChatId, Seq};
use serde::{Deserialize, Serialize};
use std::str::FromStr;

/// Default budget: 1 GiB.
pub const DEFAULT_CACHE_BUDGET: u64 = 1 << 30;
/// Every chat keeps at least its newest this many cached messages (its first screen).
pub const KEEP_NEWEST: u64 = 200;
/// Eviction aims this far below the budget, so the next few writes do not evict again.
const TARGET_PERCENT: u64 = 90;
const BUDGET_META_KEY: &str = "cache_budget";

/// The cache's size against its budget.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BudgetStatus {
    pub budget_bytes: u64,
    /// Pages in use (what the file holds once vacuumed).
    pub used_bytes: u64,
    /// The main file's size now (pages in use + free pages).
    pub file_bytes: u64,
    pub cached_messages: u64,
}

/// What one chat lost to an eviction or a clear.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvictedChat {
    pub chat_id: ChatId,
    /// The cached seqs removed (now missing).
    pub ranges: Vec<SeqRange>,
    pub messages: u64,
}

/// What an eviction or a clear did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvictionReport {
    pub chats: Vec<EvictedChat>,
    pub messages: u64,
    pub bytes_before: u64,
    pub bytes_after: u64,
}

/// The chat's history floor: the lowest seq ever cached here (`None`: nothing was).
pub(crate) async fn history_floor(store: &Store, chat: ChatId) -> Result<Option<Seq>> {
    let floor: Option<Option<i64>> =
        sqlx::query_scalar("SELECT history_floor FROM chats WHERE chat_id = ?")
            .bind(chat.to_string())
            .fetch_optional(store.pool())
            .await?;
    Ok(floor.flatten().map(|f| f.max(1) as u64))
}

async fn pragma(store: &Store, name: &str) -> Result<u64> {
    let value: i64 = sqlx::query_scalar(&format!("PRAGMA {name}"))
        .fetch_one(store.pool())
        .await?;
    Ok(value.max(0) as u64)
}

async fn sizes(store: &Store) -> Result<(u64, u64)> {
    // The search index may lag the store (`store/search_index.rs`): what is queued is indexed
    // first, so the size is the cache's real one and an eviction never chases an index that
    // grows while it runs.
    store.drain_search_queue().await?;
    let page = pragma(store, "page_size").await?;
    let pages = pragma(store, "page_count").await?;
    let free = pragma(store, "freelist_count").await?;
    Ok(((pages - free.min(pages)) * page, pages * page))
}

/// The cached runs of `chat` at or below `cutoff`, clipped to it.
fn runs_up_to(runs: &[SeqRange], cutoff: Seq) -> Vec<SeqRange> {
    runs.iter()
        .filter(|r| r.start <= cutoff)
        .map(|r| SeqRange::new(r.start, r.end.min(cutoff)))
        .collect()
}

/// Deletes the chat's cached messages with `seq <= cutoff` (capped so the newest
/// `keep` stay) and trims the runs index and count in the same transaction.
async fn evict_prefix(
    store: &Store,
    chat: ChatId,
    cutoff: Seq,
    keep: u64,
) -> Result<Option<EvictedChat>> {
    let chat_s = chat.to_string();
    let _write = store.write_guard().await;
    let mut tx = store.pool().begin().await?;
    let keep_from: Option<i64> = sqlx::query_scalar(
        "SELECT seq FROM messages WHERE chat_id = ? ORDER BY seq DESC LIMIT 1 OFFSET ?",
    )
    .bind(&chat_s)
    .bind((keep.max(1) - 1) as i64)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(keep_from) = keep_from else {
        return Ok(None);
    };
    let cutoff = cutoff.min((keep_from.max(1) - 1) as u64);
    if cutoff == 0 {
        return Ok(None);
    }
    let runs: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT start_seq, end_seq FROM cached_runs WHERE chat_id = ? AND start_seq <= ? ORDER BY start_seq",
    )
    .bind(&chat_s)
    .bind(cutoff as i64)
    .fetch_all(&mut *tx)
    .await?;
    let runs: Vec<SeqRange> = runs
        .into_iter()
        .map(|(a, b)| SeqRange::new(a as u64, b as u64))
        .collect();
    let evicted = runs_up_to(&runs, cutoff);
    let deleted = sqlx::query("DELETE FROM messages WHERE chat_id = ? AND seq <= ?")
        .bind(&chat_s)
        .bind(cutoff as i64)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    sqlx::query("DELETE FROM cached_runs WHERE chat_id = ? AND end_seq <= ?")
        .bind(&chat_s)
        .bind(cutoff as i64)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "UPDATE cached_runs SET start_seq = ? WHERE chat_id = ? AND start_seq <= ? AND end_seq > ?",
    )
    .bind(cutoff as i64 + 1)
    .bind(&chat_s)
    .bind(cutoff as i64)
    .bind(cutoff as i64)
    .execute(&mut *tx)
    .await?;
    sqlx::query("UPDATE chats SET cached_count = MAX(cached_count - ?, 0) WHERE chat_id = ?")
        .bind(deleted as i64)
        .bind(&chat_s)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    let counted: u64 = evicted.iter().map(SeqRange::len).sum();
    if counted != deleted {
        // The runs index disagreed with the messages before we came: say so; the next open's
        // consistency check rebuilds it.
        tracing::warn!(%chat, counted, deleted, "eviction found the runs index out of step");
    }
    Ok(Some(EvictedChat {
        chat_id: chat,
        ranges: evicted,
        messages: deleted,
    }))
}

/// The seq below which evicting `count` of the chat's oldest cached messages cuts.
async fn cutoff_for(store: &Store, chat: ChatId, count: u64) -> Result<Option<Seq>> {
    let seq: Option<i64> = sqlx::query_scalar(
        "SELECT seq FROM messages WHERE chat_id = ? ORDER BY seq LIMIT 1 OFFSET ?",
    )
    .bind(chat.to_string())
    .bind(count.saturating_sub(1) as i64)
    .fetch_optional(store.pool())
    .await?;
    Ok(seq.map(|s| s.max(0) as u64))
}

/// Returns freed pages to the file system; a cache created before incremental vacuum was the
/// default is converted once (a full VACUUM).
async fn reclaim(store: &Store) -> Result<()> {
    let _write = store.write_guard().await;
    let mut conn = store.pool().acquire().await?;
    // A contentless FTS5 index only marks deleted rows; rewriting it drops them, so evicted
    // text really leaves the file (O(index) work, paid per eviction, not per write).
    for index in ["message_words", "message_trigrams"] {
        sqlx::query(&format!("INSERT INTO {index}({index}) VALUES ('optimize')"))
            .execute(&mut *conn)
            .await?;
    }
    let mode: i64 = sqlx::query_scalar("PRAGMA auto_vacuum")
        .fetch_one(&mut *conn)
        .await?;
    if mode != 2 {
        sqlx::query("PRAGMA auto_vacuum = INCREMENTAL")
            .execute(&mut *conn)
            .await?;
        sqlx::query("VACUUM").execute(&mut *conn).await?;
    } else {
        sqlx::query("PRAGMA incremental_vacuum")
            .execute(&mut *conn)
            .await?;
    }
    sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Chats that may be evicted, least recently opened first: not open, more than the newest
/// window cached.
async fn eviction_order(store: &Store, keep: u64) -> Result<Vec<(ChatId, u64)>> {
    let rows: Vec<(String, i64)> = sqlx::query_as(
        "SELECT chat_id, cached_count FROM chats WHERE is_open = 0 AND cached_count > ?
         ORDER BY last_opened_at, chat_id",
    )
    .bind(keep as i64)
    .fetch_all(store.pool())
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(id, count)| Some((ChatId::from_str(&id).ok()?, count.max(0) as u64)))
        .collect())
}

impl Client {
    /// The budget in force: the one set with [`Client::set_cache_budget`], else 1 GiB.
    pub async fn cache_budget(&self) -> Result<u64> {
        let store = &self.engine().store();
        Ok(store
            .meta(BUDGET_META_KEY)
            .await?
            .and_then(|v| v.parse().ok())
            .unwrap_or(DEFAULT_CACHE_BUDGET))
    }

    /// Persists the budget (bytes) in the cache.
    pub async fn set_cache_budget(&self, bytes: u64) -> Result<()> {
        self.engine()
            .store()
            .set_meta(BUDGET_META_KEY, &bytes.to_string())
            .await
    }

    /// The cache's size against its budget (no network).
    pub async fn budget_status(&self) -> Result<BudgetStatus> {
        let store = &self.engine().store();
        let (used_bytes, file_bytes) = sizes(store).await?;
        let cached: i64 = sqlx::query_scalar("SELECT COALESCE(SUM(cached_count), 0) FROM chats")
            .fetch_one(store.pool())
            .await?;
        Ok(BudgetStatus {
            budget_bytes: self.cache_budget().await?,
            used_bytes,
            file_bytes,
            cached_messages: cached.max(0) as u64,
        })
    }

    /// When the cache uses more than `budget` (default: the persisted one), evicts the oldest
    /// cached history of the least recently opened chats until it is below 90% of it (or
    /// nothing evictable is left), then returns the freed pages to the file system.
    pub async fn enforce_cache_budget(&self, budget: Option<u64>) -> Result<EvictionReport> {
        self.enforce_cache_budget_keeping(budget, KEEP_NEWEST).await
    }

    /// [`Client::enforce_cache_budget`] with every chat keeping its newest `keep` messages
    /// (instead of [`KEEP_NEWEST`]): for tests that evict small chats.
    pub async fn enforce_cache_budget_keeping(
        &self,
        budget: Option<u64>,
        keep: u64,
    ) -> Result<EvictionReport> {
        let keep = keep.max(1);
        let store = &self.engine().store();
        let budget = match budget {
            Some(b) => b,
            None => self.cache_budget().await?,
        };
        let (used, _) = sizes(store).await?;
        let mut report = EvictionReport {
            bytes_before: used,
            bytes_after: used,
            ..Default::default()
        };
        if used <= budget {
            return Ok(report);
        }
        let target = budget / 100 * TARGET_PERCENT;
        for _round in 0..4 {
            let (used, _) = sizes(store).await?;
            if used <= target {
                break;
            }
            let status = self.budget_status().await?;
            let per_message = (used / status.cached_messages.max(1)).max(1);
            let mut to_evict = (used - target).div_ceil(per_message);
            let mut evicted_any = false;
            for (chat, cached) in eviction_order(store, keep).await? {
                if to_evict == 0 {
                    break;
                }
                let take = to_evict.min(cached - keep);
                let Some(cutoff) = cutoff_for(store, chat, take).await? else {
                    continue;
                };
                if let Some(evicted) = evict_prefix(store, chat, cutoff, keep).await? {
                    to_evict = to_evict.saturating_sub(evicted.messages);
                    evicted_any |= evicted.messages > 0;
                    self.record_eviction(&mut report, evicted).await;
                }
            }
            reclaim(store).await?;
            if !evicted_any {
                break;
            }
        }
        report.bytes_after = sizes(store).await?.0;
        tracing::info!(
            budget,
            before = report.bytes_before,
            after = report.bytes_after,
            messages = report.messages,
            "cache budget enforced"
        );
        Ok(report)
    }

    /// "Clear cached history": evicts everything but the newest window of one chat (even an
    /// open one: the user asked), or of every chat.
    pub async fn clear_cached_history(&self, chat: Option<ChatId>) -> Result<EvictionReport> {
        self.clear_cached_history_keeping(chat, KEEP_NEWEST).await
    }

    /// [`Client::clear_cached_history`] keeping each chat's newest `keep` messages.
    pub async fn clear_cached_history_keeping(
        &self,
        chat: Option<ChatId>,
        keep: u64,
    ) -> Result<EvictionReport> {
        let store = &self.engine().store();
        let (used, _) = sizes(store).await?;
        let mut report = EvictionReport {
            bytes_before: used,
            ..Default::default()
        };
        let chats = match chat {
            Some(chat) => vec![chat],
            None => store
                .chats()
                .await?
                .into_iter()
                .map(|c| c.chat_id)
                .collect(),
        };
        for chat in chats {
            if let Some(evicted) = evict_prefix(store, chat, Seq::MAX >> 1, keep).await? {
                self.record_eviction(&mut report, evicted).await;
            }
        }
        reclaim(store).await?;
        report.bytes_after = sizes(store).await?.0;
        Ok(report)
    }

    async fn record_eviction(&self, report: &mut EvictionReport, evicted: EvictedChat) {
        if evicted.messages == 0 {
            return;
        }
        let inner = self.engine();
        inner.emit_chat(evicted.chat_id).await;
        report.messages += evicted.messages;
        report.chats.push(evicted);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_up_to_clips_at_the_cutoff() {
        let r = SeqRange::new;
        assert_eq!(
            runs_up_to(&[r(1, 5), r(8, 20), r(30, 40)], 10),
            vec![r(1, 5), r(8, 10)]
        );
        assert_eq!(runs_up_to(&[r(8, 20)], 7), vec![]);
    }
}
