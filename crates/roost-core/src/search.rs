//! Offline search over the cache that says what it could not search.
//!
//! Owns the query side of the two FTS5 indexes created by `migrations/client/sqlite/0010_search.sql`
//! and the client's background indexer ([`background_indexer`]). The index is kept behind the
//! store (migration `0041_search_queue_ranges.sql`, `store/search_queue.rs`, `store/search_index.rs`): a cache write queues the
//! text to index and drops stale entries in its own transaction, the indexer drains the queue in
//! small batches, and every search drains it first — so the index may lag the store, but an
//! answer never does. Also owns the "not searched" report: per chat in scope, the seq ranges that are not
//! cached, read from the runs index (O(gaps)). Also owns [`Client::fetch_seqs`], which brings
//! exactly such ranges in through the `seqs` shape of the range endpoint, so "fetch what was not
//! searched and search again" never downloads a seq that is already cached.
//!
//! Queries: every whitespace-separated term must match. A term in a script written with spaces
//! is a diacritics- and case-insensitive prefix query on the word index (`cafe` finds "Cafés");
//! a term in a script written without spaces (Han, kana, Thai, Lao, Khmer, Myanmar) is a
//! substring query on the trigram index, and one shorter than three characters (which a trigram
//! index cannot answer) is checked with `instr` on the candidates — or, when it is the only
//! term, by a scan of the chat(s) in scope (the one slow path, documented here on purpose).

use crate::client::Client;
use crate::error::{Error, Result};
use crate::events::ClientEvent;
use crate::ranges::{self, SeqRange};
use crate::store::{CursorRule, IngestOptions, Position, Store};
use roost_proto::{ChatId, MAX_PAGE_SIZE, MAX_SEQ_RANGES_PER_REQUEST, MessageId, Seq, UserId};
use serde::{Deserialize, Serialize};
use sqlx::Row;
use std::str::FromStr;
use std::time::Duration;

/// Bits of an index rowid that hold the seq; the chat's number sits above them.
const SEQ_BITS: u32 = 40;
const SEQ_MASK: i64 = (1 << SEQ_BITS) - 1;
/// Default and largest number of hits one search returns.
pub const DEFAULT_SEARCH_LIMIT: u32 = 50;
pub const MAX_SEARCH_LIMIT: u32 = 500;

/// One cached message that matched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchHit {
    pub chat_id: ChatId,
    pub chat_title: String,
    pub seq: Seq,
    pub message_id: MessageId,
    pub author: UserId,
    pub created_at: i64,
    pub text: String,
}

/// The seqs of one chat that are not on this device, so were not searched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotSearched {
    pub chat_id: ChatId,
    pub chat_title: String,
    /// Every uncached stretch of `1 ..= last_seq` (as far as this device knows the chat).
    pub ranges: Vec<SeqRange>,
    /// How many seqs those ranges hold.
    pub messages: u64,
}

/// The answer of [`Client::search`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchResults {
    /// Newest first within a chat.
    pub hits: Vec<SearchHit>,
    /// More cached messages matched than `limit`.
    pub truncated: bool,
    /// Per chat in scope with anything missing: what was not searched.
    pub not_searched: Vec<NotSearched>,
}

/// What [`Client::fetch_seqs`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FetchSeqsReport {
    pub chat_id: Option<ChatId>,
    /// Seqs asked for that were not cached.
    pub requested: u64,
    pub fetched: u64,
    pub requests: u64,
    pub bytes_received: u64,
}

/// A parsed query: the FTS5 expressions for each index and the short no-space terms.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ParsedQuery {
    pub words: Option<String>,
    pub trigrams: Option<String>,
    pub short_terms: Vec<String>,
}

/// Whether `c` belongs to a script usually written without spaces between words (the ranges
/// the indexer also uses to decide what goes into the trigram index).
pub(crate) fn is_unspaced_script(c: char) -> bool {
    crate::store::has_unspaced_script(c.encode_utf8(&mut [0; 4]))
}

/// An FTS5 string literal (double quotes doubled): user text never becomes query syntax.
fn fts_string(term: &str) -> String {
    format!("\"{}\"", term.replace('"', "\"\""))
}

/// Splits the user's query into index expressions (see the module docs).
pub(crate) fn parse_query(query: &str) -> ParsedQuery {
    let mut words = Vec::new();
    let mut trigrams = Vec::new();
    let mut short_terms = Vec::new();
    for term in query.split_whitespace() {
        if term.chars().any(is_unspaced_script) {
            if term.chars().count() >= 3 {
                trigrams.push(fts_string(term));
            } else {
                short_terms.push(term.to_lowercase());
            }
        } else if term.chars().any(char::is_alphanumeric) {
            words.push(format!("{}*", fts_string(term)));
        }
    }
    let join = |parts: Vec<String>| (!parts.is_empty()).then(|| parts.join(" AND "));
    ParsedQuery {
        words: join(words),
        trigrams: join(trigrams),
        short_terms,
    }
}

/// The index rowid range of one chat, or of every chat.
async fn rowid_span(store: &Store, chat: Option<ChatId>) -> Result<Option<(i64, i64)>> {
    let Some(chat) = chat else {
        return Ok(Some((0, i64::MAX)));
    };
    let chat_no: Option<i64> =
        sqlx::query_scalar("SELECT chat_no FROM search_chats WHERE chat_id = ?")
            .bind(chat.to_string())
            .fetch_optional(store.pool())
            .await?;
    Ok(chat_no.map(|n| (n << SEQ_BITS, (n << SEQ_BITS) | SEQ_MASK)))
}

const HIT_COLUMNS: &str = "m.chat_id, m.seq, m.id, m.author, m.created_at,
    json_extract(m.body, '$.text') AS text, c.title";

/// The SQL of one search and its binds (strings and integers, in order).
fn search_sql(
    parsed: &ParsedQuery,
    span: (i64, i64),
    chat: Option<ChatId>,
    limit: i64,
) -> (String, Vec<Bind>) {
    let mut binds = Vec::new();
    let short_filter: String = parsed
        .short_terms
        .iter()
        .map(|term| {
            binds.push(Bind::Text(term.clone()));
            " AND instr(lower(json_extract(m.body, '$.text')), ?) > 0"
        })
        .collect();
    let short_binds = std::mem::take(&mut binds);
    let (index, expr, other) = match (&parsed.words, &parsed.trigrams) {
        (Some(w), t) => (
            "message_words",
            w,
            t.as_ref().map(|t| ("message_trigrams", t)),
        ),
        (None, Some(t)) => ("message_trigrams", t, None),
        (None, None) => {
            // Only short unspaced terms: a scan of the scope (see the module docs).
            let scope = if chat.is_some() { "m.chat_id = ?" } else { "1" };
            if let Some(chat) = chat {
                binds.push(Bind::Text(chat.to_string()));
            }
            binds.extend(short_binds);
            let sql = format!(
                "SELECT {HIT_COLUMNS} FROM messages m JOIN chats c ON c.chat_id = m.chat_id
                 WHERE {scope} AND m.deleted_at IS NULL{short_filter}
                 ORDER BY m.chat_id, m.seq DESC LIMIT ?"
            );
            return (sql, binds);
        }
    };
    binds.push(Bind::Text(expr.clone()));
    binds.push(Bind::Int(span.0));
    binds.push(Bind::Int(span.1));
    let other_filter = match other {
        Some((table, expr)) => {
            binds.push(Bind::Text(expr.clone()));
            format!(" AND rowid IN (SELECT rowid FROM {table} WHERE {table} MATCH ?)")
        }
        None => String::new(),
    };
    // Without a post-filter the index itself stops at the limit.
    let inner_limit = if short_binds.is_empty() {
        binds.push(Bind::Int(limit));
        " LIMIT ?"
    } else {
        ""
    };
    binds.extend(short_binds);
    // Newest first by rowid: FTS5 walks its doclists backwards and stops at LIMIT, so a common
    // word costs the same as a rare one (ranking every match by bm25 would not).
    let sql = format!(
        "SELECT {HIT_COLUMNS} FROM
           (SELECT rowid AS r FROM {index} WHERE {index} MATCH ? AND rowid BETWEEN ? AND ?{other_filter}
            ORDER BY rowid DESC{inner_limit}) f
         JOIN search_chats s ON s.chat_no = (f.r >> {SEQ_BITS})
         JOIN messages m ON m.chat_id = s.chat_id AND m.seq = (f.r & {SEQ_MASK})
         JOIN chats c ON c.chat_id = m.chat_id
         WHERE 1{short_filter}
         ORDER BY f.r DESC LIMIT ?"
    );
    (sql, binds)
}

#[derive(Debug, Clone)]
enum Bind {
    Text(String),
    Int(i64),
}

/// Cached messages matching `query` in one chat or all, newest first, at most `limit` (+1 to
/// tell truncation).
pub(crate) async fn search_cache(
    store: &Store,
    chat: Option<ChatId>,
    query: &str,
    limit: u32,
) -> Result<(Vec<SearchHit>, bool)> {
    let parsed = parse_query(query);
    if parsed == ParsedQuery::default() {
        return Ok((Vec::new(), false));
    }
    // The index may lag the store: what was cached before this search is indexed first.
    store.drain_search_queue().await?;
    let Some(span) = rowid_span(store, chat).await? else {
        return Ok((Vec::new(), false));
    };
    let fetch = i64::from(limit) + 1;
    let (sql, binds) = search_sql(&parsed, span, chat, fetch);
    let mut q = sqlx::query(&sql);
    for bind in binds {
        q = match bind {
            Bind::Text(text) => q.bind(text),
            Bind::Int(int) => q.bind(int),
        };
    }
    let rows = q.bind(fetch).fetch_all(store.pool()).await?;
    let mut hits = Vec::with_capacity(rows.len());
    for row in &rows {
        let chat_id: String = row.try_get(0)?;
        let id: String = row.try_get(2)?;
        hits.push(SearchHit {
            chat_id: ChatId::from_str(&chat_id)
                .map_err(|e| Error::CacheCorrupt(format!("chat id {chat_id}: {e}")))?,
            seq: row.try_get::<i64, _>(1)?.max(0) as u64,
            message_id: MessageId::from_str(&id)
                .map_err(|e| Error::CacheCorrupt(format!("message id {id}: {e}")))?,
            author: UserId(row.try_get(3)?),
            created_at: row.try_get(4)?,
            text: row.try_get::<Option<String>, _>(5)?.unwrap_or_default(),
            chat_title: row.try_get(6)?,
        });
    }
    let truncated = hits.len() > limit as usize;
    hits.truncate(limit as usize);
    Ok((hits, truncated))
}

/// How long the indexer lets queued messages gather after a write before it indexes them: a
/// batch of many messages pays FTS5's per-transaction flush once. Nothing waits for it (search
/// drains the queue itself), so it only trades index lag for fewer, larger batches.
const INDEX_GATHER: Duration = Duration::from_millis(5);

/// Live ingest goes first: while message writes keep coming (the last one less than this ago;
/// longer than a scheduling stall on a loaded machine), the indexer leaves the queue to grow ...
const INDEX_QUIET: Duration = Duration::from_millis(50);
/// ... indexing only what keeps it under this many messages (a search drains the queue before
/// it answers: about a second of indexing on the 2-core bench machine; a flood of frames left
/// about 33,000 queued before this hold-back) ...
pub(crate) const INDEX_MAX_BACKLOG: u64 = 50_000;
/// ... for at most this long (writes trickling in never leave a quiet moment); then it indexes
/// the whole queue, batch by batch between the writes.
const INDEX_MAX_DEFER: Duration = Duration::from_secs(5);

/// Keeps the search index up with the store for the life of the client: drains what a previous
/// run left queued (a crash), then, after message writes, the new queue (see [`index_queue`]).
pub(crate) async fn background_indexer(store: Store) {
    let signal = store.search_queue_signal();
    loop {
        index_queue(&store).await;
        signal.notified().await;
        tokio::time::sleep(INDEX_GATHER).await;
    }
}

/// Whether the indexer runs a batch now: once message writes have stopped for
/// [`INDEX_QUIET`], once it has held back for [`INDEX_MAX_DEFER`], or while the queue holds
/// [`INDEX_MAX_BACKLOG`] messages or more (`None`: not known, so index).
pub(crate) fn index_batch_due(
    quiet_for: Duration,
    held_back_for: Duration,
    queued: Option<u64>,
) -> bool {
    hold_back_ended(quiet_for, held_back_for)
        || queued.is_none_or(|queued| queued >= INDEX_MAX_BACKLOG)
}

/// The part of [`index_batch_due`] that needs no look at the queue: writes stopped for
/// [`INDEX_QUIET`], or the indexer held back for [`INDEX_MAX_DEFER`].
fn hold_back_ended(quiet_for: Duration, held_back_for: Duration) -> bool {
    quiet_for >= INDEX_QUIET || held_back_for >= INDEX_MAX_DEFER
}

/// Indexes the queue to its end in batches of [`crate::store::INDEX_BATCH`] (each holds the
/// single writer for about a millisecond, and ingest commits go in between) — but while a burst
/// of message writes lasts, only what keeps the queue under [`INDEX_MAX_BACKLOG`]
/// ([`index_batch_due`]). Why: a batch takes the write lock and a core from the frames
/// arriving, and on a 2-core machine that was the stream's frame → event tail (the slow frames
/// waited behind index batches: `roost-bench stream --timeline`). The index upkeep costs about
/// as much CPU as the ingest itself; done after the burst it costs no more, and search drains
/// the queue itself, so no answer waits for this.
async fn index_queue(store: &Store) {
    let started = tokio::time::Instant::now();
    loop {
        // No write yet since the store opened: what is queued is a previous run's, index it.
        let quiet_for = store.since_last_message_write().unwrap_or(INDEX_QUIET);
        let held_back_for = started.elapsed();
        // The queue is measured only while the hold-back lasts.
        if !hold_back_ended(quiet_for, held_back_for)
            && !index_batch_due(
                quiet_for,
                held_back_for,
                store.search_queue_span().await.ok(),
            )
        {
            tokio::time::sleep((INDEX_QUIET - quiet_for).min(INDEX_MAX_DEFER - held_back_for))
                .await;
            continue;
        }
        match store.index_pending(crate::store::INDEX_BATCH).await {
            Ok(taken) if taken == crate::store::INDEX_BATCH => tokio::task::yield_now().await,
            Ok(_) => return,
            Err(e) => {
                tracing::debug!(error = %e, "search indexer: a batch failed; waiting for the next write");
                return;
            }
        }
    }
}

/// Per chat in scope, the uncached stretches of `1 ..= max(server_last_seq, local_max)`.
pub(crate) async fn not_searched(store: &Store, chat: Option<ChatId>) -> Result<Vec<NotSearched>> {
    let chats = match chat {
        Some(chat) => store.chat(chat).await?.into_iter().collect(),
        None => store.chats().await?,
    };
    let mut out = Vec::new();
    for record in chats {
        let runs = store.runs(record.chat_id).await?;
        let map = ranges::cache_map(&runs, record.server_last_seq);
        let messages = map.missing.iter().map(SeqRange::len).sum();
        if messages > 0 {
            out.push(NotSearched {
                chat_id: record.chat_id,
                chat_title: record.title,
                ranges: map.missing,
                messages,
            });
        }
    }
    Ok(out)
}

impl Client {
    /// Searches the cache (no network) in one chat or all; the answer names, per chat, the seq
    /// ranges that are not cached and so were not searched.
    pub async fn search(
        &self,
        chat: Option<ChatId>,
        query: &str,
        limit: u32,
    ) -> Result<SearchResults> {
        let store = &self.engine().store();
        if let Some(chat) = chat
            && store.chat(chat).await?.is_none()
        {
            return Err(Error::NotFound(format!("chat {chat} is not cached")));
        }
        let limit = limit.clamp(1, MAX_SEARCH_LIMIT);
        let (hits, truncated) = search_cache(store, chat, query, limit).await?;
        Ok(SearchResults {
            hits,
            truncated,
            not_searched: not_searched(store, chat).await?,
        })
    }

    /// How many cached messages wait for the search index (it is kept behind the store; a
    /// search indexes them before it answers, so this is about work left, never about results).
    pub async fn search_backlog(&self) -> Result<u64> {
        self.engine().store().search_backlog().await
    }

    /// Fetches exactly the given seqs of a chat that are not cached (the `seqs` shape of the
    /// range endpoint, packed into as few requests as the page size allows) and merges them
    /// like any page (higher version wins). Seqs already cached are never asked for.
    pub async fn fetch_seqs(&self, chat: ChatId, wanted: &[SeqRange]) -> Result<FetchSeqsReport> {
        let inner = self.engine();
        let runs = inner.store().runs(chat).await?;
        let mut missing = Vec::new();
        for range in wanted {
            missing.extend(ranges::uncovered(*range, &runs));
        }
        missing.sort_by_key(|r| r.start);
        let mut report = FetchSeqsReport {
            chat_id: Some(chat),
            requested: missing.iter().map(SeqRange::len).sum(),
            ..Default::default()
        };
        if missing.is_empty() {
            return Ok(report);
        }
        let (api, figures) = inner.api().scoped();
        inner.emit(ClientEvent::FetchStarted { chat_id: chat });
        let result = async {
            let page = u64::from(inner.config().page_size.clamp(1, MAX_PAGE_SIZE));
            for batch in ranges::pack_batches(&missing, page, MAX_SEQ_RANGES_PER_REQUEST) {
                let page = api.listed(chat, &batch).await?;
                let mut opts = IngestOptions::new(CursorRule::Keep);
                opts.position = Some(Position {
                    last_seq: page.last_seq,
                    rev: page.rev,
                });
                opts.me = inner.me();
                let res = inner.store().ingest(chat, &page.messages, &opts).await?;
                report.fetched += page.messages.len() as u64;
                if !res.changed.is_empty() {
                    inner.emit(ClientEvent::MessagesChanged {
                        chat_id: chat,
                        seqs: res.changed,
                    });
                }
            }
            Ok::<_, Error>(())
        }
        .await;
        inner.emit(ClientEvent::FetchFinished {
            chat_id: chat,
            fetched: report.fetched,
        });
        inner.emit_chat(chat).await;
        let f = figures.snapshot();
        report.requests = f.requests;
        report.bytes_received = f.bytes_received;
        result.map(|()| report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The indexer's hold-back: while writes keep coming it indexes only over the backlog
        /// bound and never holds back past the deferral limit; once writes stop it indexes.
        #[test]
        fn the_indexer_holds_back_only_while_writes_come_and_within_its_bounds(
            quiet_ms in 0u64..200,
            held_ms in 0u64..10_000,
            queued in proptest::option::of(0u64..100_000),
        ) {
            let (quiet_for, held_back_for) =
                (Duration::from_millis(quiet_ms), Duration::from_millis(held_ms));
            let due = index_batch_due(quiet_for, held_back_for, queued);
            let writes_coming = quiet_for < INDEX_QUIET;
            let within_bounds =
                held_back_for < INDEX_MAX_DEFER && queued.is_some_and(|q| q < INDEX_MAX_BACKLOG);
            prop_assert_eq!(due, !(writes_coming && within_bounds));
        }
    }

    #[test]
    fn words_become_quoted_prefix_terms() {
        let parsed = parse_query("  café \"roo ");
        assert_eq!(parsed.words.as_deref(), Some("\"café\"* AND \"\"\"roo\"*"));
        assert_eq!(parsed.trigrams, None);
        assert!(parsed.short_terms.is_empty());
    }

    #[test]
    fn unspaced_scripts_go_to_the_trigram_index_or_the_short_filter() {
        let parsed = parse_query("東京都 駅 hello");
        assert_eq!(parsed.trigrams.as_deref(), Some("\"東京都\""));
        assert_eq!(parsed.short_terms, vec!["駅".to_string()]);
        assert_eq!(parsed.words.as_deref(), Some("\"hello\"*"));
    }

    #[test]
    fn punctuation_only_terms_are_ignored() {
        assert_eq!(parse_query("-- ?"), ParsedQuery::default());
    }
}
