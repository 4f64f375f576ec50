//! Verify & repair one chat: compare the cache with the server by digest per bucket of seqs and
//! refetch only the buckets that differ.
//!
//! Owns the client side of `GET /v1/chats/{id}/digests` (PROTOCOL.md, "Digests"): the same
//! canonical record (`roost_proto::digest_record`) hashed over the cached rows, a two-level
//! comparison (coarse buckets over every cached run, then fine buckets inside each coarse bucket
//! that differs) and the repair, which — unlike every other cache write — may replace a row
//! with a LOWER version: a damaged row may claim a version higher than the truth, and "higher
//! version wins" would keep the damage forever (only a row unchanged since it was read before
//! the refetch is lowered, so a newer copy the stream delivers meanwhile is never undone).
//! Only cached seqs are compared (a request per cached run), so missing history is neither
//! fetched nor counted as damage; a row the runs index claims but the file lost is damage (its
//! bucket's count differs) and is put back.

use crate::client::Client;
use crate::error::{Error, Result};
use crate::events::ClientEvent;
use crate::ranges::{self, SeqRange};
use crate::store::Store;
use roost_proto::{
    ChatId, DigestBucket, DigestQuery, DigestsResponse, MAX_PAGE_SIZE, MAX_SEQ_RANGES_PER_REQUEST,
    Message, MessageId, Seq, digest_record,
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::Row;
use std::collections::HashMap;

/// Coarse bucket of the first pass.
pub const COARSE_BUCKET: u32 = 256;
/// Fine bucket of the second pass, inside a coarse bucket that differs.
pub const FINE_BUCKET: u32 = 16;

/// What [`Client::verify`] found and did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifyReport {
    pub chat_id: Option<ChatId>,
    /// Cached messages covered by the comparison.
    pub messages_compared: u64,
    /// Coarse buckets compared / differing.
    pub buckets_compared: u64,
    pub buckets_differing: u64,
    /// Fine buckets whose messages were refetched.
    pub buckets_refetched: u64,
    pub messages_refetched: u64,
    /// Seqs whose cached row was wrong and was replaced by the server's copy.
    pub repaired: Vec<Seq>,
    pub requests: u64,
    pub bytes_received: u64,
}

/// The record of one cached row; a row that no longer decodes (damaged id or body) still
/// yields a record, from its raw text, so it differs from the server's instead of failing.
fn cached_record(seq: Seq, version: i64, id: &str, deleted: bool, body: &str) -> String {
    let parsed_id = id.parse::<MessageId>().ok();
    let parsed_body = serde_json::from_str::<serde_json::Value>(body).ok();
    match (parsed_id, parsed_body) {
        (Some(id), Some(body)) if version >= 0 => {
            digest_record(seq, version as u64, id, deleted, &body)
        }
        _ => format!("{seq}:{version}:{id}:damaged:{body}\n"),
    }
}

/// Digests of the cached rows in each of `buckets` (ascending, as the server gave them).
async fn local_digests(
    store: &Store,
    chat: ChatId,
    buckets: &[DigestBucket],
) -> Result<Vec<(u64, String)>> {
    let (Some(first), Some(last)) = (buckets.first(), buckets.last()) else {
        return Ok(Vec::new());
    };
    let rows = sqlx::query(
        "SELECT seq, version, id, deleted_at IS NOT NULL, body FROM messages
         WHERE chat_id = ? AND seq BETWEEN ? AND ? ORDER BY seq",
    )
    .bind(chat.to_string())
    .bind(first.from_seq as i64)
    .bind(last.to_seq as i64)
    .fetch_all(store.pool())
    .await?;
    let mut out = Vec::with_capacity(buckets.len());
    let mut rows = rows.iter().peekable();
    for bucket in buckets {
        let mut hasher = Sha256::new();
        let mut count = 0u64;
        while let Some(row) = rows.peek() {
            let seq = row.try_get::<i64, _>(0)?.max(0) as u64;
            if seq < bucket.from_seq {
                rows.next();
                continue;
            }
            if seq > bucket.to_seq {
                break;
            }
            let record = record_of_row(seq, row, 1)?;
            hasher.update(record.as_bytes());
            count += 1;
            rows.next();
        }
        out.push((count, hex::encode(hasher.finalize())));
    }
    Ok(out)
}

/// The record (as [`cached_record`]) and version of every cached row in `ranges`, read right
/// before their refetch: the repair may lower a version only for a row still exactly like this.
async fn records_before(
    store: &Store,
    chat: ChatId,
    ranges: &[SeqRange],
) -> Result<HashMap<Seq, String>> {
    let mut out = HashMap::new();
    for range in ranges {
        let rows = sqlx::query(
            "SELECT seq, version, id, deleted_at IS NOT NULL, body FROM messages
             WHERE chat_id = ? AND seq BETWEEN ? AND ?",
        )
        .bind(chat.to_string())
        .bind(range.start as i64)
        .bind(range.end as i64)
        .fetch_all(store.pool())
        .await?;
        for row in &rows {
            let seq = row.try_get::<i64, _>(0)?.max(0) as u64;
            out.insert(seq, record_of_row(seq, row, 1)?);
        }
    }
    Ok(out)
}

/// [`cached_record`] of a row whose columns from `first` on are version, id, deleted, body.
fn record_of_row(seq: Seq, row: &sqlx::sqlite::SqliteRow, first: usize) -> Result<String> {
    Ok(cached_record(
        seq,
        row.try_get(first)?,
        &row.try_get::<String, _>(first + 1)?,
        row.try_get::<i64, _>(first + 2)? != 0,
        &row.try_get::<String, _>(first + 3)?,
    ))
}

/// Replaces the cached rows of these seqs with the server's copies in ONE transaction and
/// returns the seqs whose row changed. A row whose cached version is not above the server's is
/// replaced like any merge would; one that claims a HIGHER version is replaced only when it is
/// still exactly as read before the fetch (`before`) — damage, which "higher version wins" would
/// keep forever — and kept when it changed since (a newer copy the stream delivered meanwhile).
async fn force_replace(
    store: &Store,
    chat: ChatId,
    messages: &[Message],
    before: &HashMap<Seq, String>,
) -> Result<Vec<Seq>> {
    let _write = store.write_guard().await;
    let mut tx = store.pool().begin().await?;
    let mut changed = Vec::new();
    for m in messages {
        let current = sqlx::query(
            "SELECT version, id, deleted_at IS NOT NULL, body FROM messages WHERE chat_id = ? AND seq = ?",
        )
        .bind(chat.to_string())
        .bind(m.seq as i64)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(current) = current else {
            // A row the runs index claims but the file lost (deleted behind the client's back)
            // is put back; a seq evicted meanwhile (no longer claimed) stays missing.
            if claims(&mut tx, chat, m.seq).await? {
                insert_lost_row(&mut tx, chat, m).await?;
                changed.push(m.seq);
            }
            continue;
        };
        let version: i64 = current.try_get(0)?;
        if version > m.version as i64
            && before.get(&m.seq) != Some(&record_of_row(m.seq, &current, 0)?)
        {
            continue;
        }
        let update = sqlx::query(
            "UPDATE messages SET id = ?, version = ?, author = ?, created_at = ?, edited_at = ?,
                 deleted_at = ?, body = ?, rev = ?
             WHERE chat_id = ? AND seq = ?
               AND NOT (id IS ? AND version IS ? AND author IS ? AND created_at IS ?
                        AND edited_at IS ? AND deleted_at IS ? AND body IS ? AND rev IS ?)",
        );
        let update = bind_fields(update, m)
            .bind(chat.to_string())
            .bind(m.seq as i64);
        let result = bind_fields(update, m).execute(&mut *tx).await?;
        if result.rows_affected() > 0 {
            changed.push(m.seq);
        }
    }
    tx.commit().await?;
    Ok(changed)
}

type SqliteQuery<'q> = sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments<'q>>;

/// Binds a message's stored fields in the column order `id, version, author, created_at,
/// edited_at, deleted_at, body, rev` (the repair writes and compares them as one row).
fn bind_fields<'q>(query: SqliteQuery<'q>, m: &'q Message) -> SqliteQuery<'q> {
    query
        .bind(m.id.to_string())
        .bind(m.version as i64)
        .bind(m.author.as_str())
        .bind(m.created_at)
        .bind(m.edited_at)
        .bind(m.deleted_at)
        .bind(m.body.to_string())
        .bind(m.rev as i64)
}

/// Whether the runs index claims `seq` is cached.
async fn claims(tx: &mut sqlx::SqliteConnection, chat: ChatId, seq: Seq) -> Result<bool> {
    let hit: Option<i64> = sqlx::query_scalar(
        "SELECT 1 FROM cached_runs WHERE chat_id = ? AND start_seq <= ? AND end_seq >= ?",
    )
    .bind(chat.to_string())
    .bind(seq as i64)
    .bind(seq as i64)
    .fetch_optional(&mut *tx)
    .await?;
    Ok(hit.is_some())
}

/// Inserts the server's copy of a row the runs index (and `cached_count`) already count, so
/// neither changes; the row is queued for the search index first (`store/search_queue.rs`).
async fn insert_lost_row(tx: &mut sqlx::SqliteConnection, chat: ChatId, m: &Message) -> Result<()> {
    crate::store::search_queue::queue_one(&mut *tx, chat, m.seq).await?;
    let insert = sqlx::query(
        "INSERT INTO messages(chat_id, seq, id, version, author, created_at, edited_at, deleted_at, body, rev)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(chat.to_string())
    .bind(m.seq as i64);
    bind_fields(insert, m).execute(&mut *tx).await?;
    tracing::warn!(%chat, seq = m.seq, "a cached message row was missing from the file: put back");
    Ok(())
}

impl crate::api::Api {
    /// `GET /v1/chats/{id}/digests`, checked to answer for this chat (lives here, beside its
    /// only caller, to keep the transport module small).
    pub async fn digests(&self, chat: ChatId, q: &DigestQuery) -> Result<DigestsResponse> {
        let mut params: Vec<(&str, u64)> = vec![("from_seq", q.from_seq), ("to_seq", q.to_seq)];
        if let Some(bucket) = q.bucket {
            params.push(("bucket", u64::from(bucket)));
        }
        let req = self
            .http
            .get(self.url(&format!("/chats/{chat}/digests")))
            .query(&params);
        let resp: DigestsResponse = self.call(req).await?.1;
        if resp.chat_id != chat {
            return Err(Error::ProtocolViolation(format!(
                "digests of chat {} answered for chat {chat}",
                resp.chat_id
            )));
        }
        Ok(resp)
    }
}

/// The server's buckets of `range` (following `next_from_seq`).
async fn server_digests(
    api: &crate::api::Api,
    chat: ChatId,
    range: SeqRange,
    bucket: u32,
) -> Result<Vec<DigestBucket>> {
    let mut out = Vec::new();
    let mut from = range.start;
    loop {
        let resp = api
            .digests(
                chat,
                &DigestQuery {
                    from_seq: from,
                    to_seq: range.end,
                    bucket: Some(bucket),
                },
            )
            .await?;
        let mut expected = from;
        for b in &resp.buckets {
            if b.from_seq != expected || b.to_seq < b.from_seq || b.to_seq > range.end {
                return Err(Error::ProtocolViolation(format!(
                    "digest bucket {}-{} of chat {chat} does not follow {expected} within {}-{}",
                    b.from_seq, b.to_seq, range.start, range.end
                )));
            }
            expected = b.to_seq + 1;
        }
        out.extend(resp.buckets);
        match resp.next_from_seq {
            Some(next) if next == expected && next <= range.end => from = next,
            _ => return Ok(out),
        }
    }
}

/// The buckets of `range` at `bucket` size whose digest or count differs from the cache.
async fn differing(
    store: &Store,
    api: &crate::api::Api,
    chat: ChatId,
    range: SeqRange,
    bucket: u32,
) -> Result<(u64, Vec<SeqRange>)> {
    let remote = server_digests(api, chat, range, bucket).await?;
    let local = local_digests(store, chat, &remote).await?;
    let differ = remote
        .iter()
        .zip(&local)
        .filter(|(r, (count, digest))| r.count != *count || r.digest != *digest)
        .map(|(r, _)| SeqRange::new(r.from_seq, r.to_seq))
        .collect();
    Ok((remote.len() as u64, differ))
}

impl Client {
    /// Verifies every cached message of `chat` against the server and repairs the ones that
    /// differ (wrong version, body, id or tombstone state), fetching only differing buckets.
    pub async fn verify(&self, chat: ChatId) -> Result<VerifyReport> {
        let inner = self.engine();
        let store = inner.store();
        let runs = store.runs(chat).await?;
        let (api, figures) = inner.api().scoped();
        let mut report = VerifyReport {
            chat_id: Some(chat),
            messages_compared: ranges::cached_count(&runs),
            ..Default::default()
        };
        let mut to_refetch = Vec::new();
        for run in &runs {
            let (compared, coarse) = differing(store, &api, chat, *run, COARSE_BUCKET).await?;
            report.buckets_compared += compared;
            report.buckets_differing += coarse.len() as u64;
            for range in coarse {
                let (_, fine) = differing(store, &api, chat, range, FINE_BUCKET).await?;
                to_refetch.extend(fine);
            }
        }
        report.buckets_refetched = to_refetch.len() as u64;
        if !to_refetch.is_empty() {
            inner.emit(ClientEvent::FetchStarted { chat_id: chat });
            let result = async {
                let page = u64::from(inner.config().page_size.clamp(1, MAX_PAGE_SIZE));
                for batch in ranges::pack_batches(&to_refetch, page, MAX_SEQ_RANGES_PER_REQUEST) {
                    let before = records_before(store, chat, &batch).await?;
                    let page = api.listed(chat, &batch).await?;
                    report.messages_refetched += page.messages.len() as u64;
                    let repaired = force_replace(store, chat, &page.messages, &before).await?;
                    report.repaired.extend(repaired);
                }
                Ok::<_, Error>(())
            }
            .await;
            inner.emit(ClientEvent::FetchFinished {
                chat_id: chat,
                fetched: report.messages_refetched,
            });
            result?;
        }
        if !report.repaired.is_empty() {
            tracing::warn!(%chat, repaired = ?report.repaired, "verify replaced damaged cached messages");
            inner.emit(ClientEvent::MessagesChanged {
                chat_id: chat,
                seqs: report.repaired.clone(),
            });
            inner.emit_chat(chat).await;
        }
        let f = figures.snapshot();
        report.requests = f.requests;
        report.bytes_received = f.bytes_received;
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{CursorRule, IngestOptions, Position};

    fn message(chat: ChatId, seq: Seq, version: u64, text: &str) -> Message {
        Message {
            id: MessageId(uuid::Uuid::from_u128(u128::from(seq))),
            chat_id: chat,
            seq,
            version,
            author: roost_proto::UserId::new("bob"),
            created_at: 1,
            edited_at: (version > 1).then_some(2),
            deleted_at: None,
            body: serde_json::json!({ "text": text }),
            rev: seq + version,
        }
    }

    /// The race a verify must not lose: the server's copy was fetched, then the stream cached a
    /// newer version of the same message; the repair must keep the newer one. A row still as it
    /// was read before the fetch (damage claiming a higher version) is lowered.
    #[tokio::test]
    async fn a_repair_lowers_a_version_only_for_a_row_unchanged_since_the_fetch() {
        let dir = tempfile::tempdir().unwrap();
        let (store, _) = Store::open(dir.path().join("c.db")).await.unwrap();
        let chat = ChatId(uuid::Uuid::from_u128(7));
        let mut options = IngestOptions::new(CursorRule::Snapshot(2));
        options.position = Some(Position {
            last_seq: 2,
            rev: 10,
        });
        let cached = [
            message(chat, 1, 3, "newer, from the stream"),
            message(chat, 2, 9, "forged"),
        ];
        store.ingest(chat, &cached, &options).await.unwrap();
        let range = [SeqRange::new(1, 2)];
        let mut before = records_before(&store, chat, &range).await.unwrap();
        // Seq 1 changed after the snapshot (as the stream's newer copy would).
        before.insert(1, "what was cached before the fetch".into());
        let fetched = [
            message(chat, 1, 2, "older server copy"),
            message(chat, 2, 1, "truth"),
        ];
        let repaired = force_replace(&store, chat, &fetched, &before)
            .await
            .unwrap();
        assert_eq!(repaired, vec![2]);
        let now = store.messages_between(chat, 1, 2).await.unwrap();
        assert_eq!((now[0].version, now[1].version), (3, 1));
        assert_eq!(now[1].text(), Some("truth"));
        store.close().await;
    }

    #[test]
    fn a_damaged_row_still_yields_a_record_that_differs() {
        let good = cached_record(
            5,
            2,
            "00000000-0000-0000-0000-000000000000",
            false,
            r#"{"text":"a"}"#,
        );
        assert_eq!(
            good,
            "5:2:00000000-0000-0000-0000-000000000000:m:{\"text\":\"a\"}\n"
        );
        let bad_body = cached_record(
            5,
            2,
            "00000000-0000-0000-0000-000000000000",
            false,
            "{not json",
        );
        let bad_id = cached_record(5, 2, "x", false, r#"{"text":"a"}"#);
        assert_ne!(good, bad_body);
        assert_ne!(good, bad_id);
    }
}
