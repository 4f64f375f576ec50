//! The digest read (`GET /v1/chats/{chat_id}/digests`, PROTOCOL.md "Digests"): per bucket of
//! seqs, the SHA-256 of the canonical records (`roost_proto::digest_record`) of its messages.
//!
//! One read transaction, like every read: membership, the chat's position and the messages come
//! from one snapshot, so a bucket never mixes two states of the chat. The rows are streamed and
//! hashed as they arrive (a response covers up to `MAX_DIGEST_SEQS` seqs) through the same
//! portable SQL and row decoding as the range reads, so both backends answer byte-identical
//! digests. Read-only: never writes, never allocates seq or rev.

use crate::error::DomainError;
use crate::store::rows::{MESSAGE_COLUMNS, message_from_row, to_i64, visible_chat_or_not_found};
use crate::store::{ChatPosition, Store};
use futures_util::TryStreamExt;
use roost_proto::{ChatId, DigestBucket, Seq, UserId, digest_buckets_per_response, digest_record};
use sha2::{Digest, Sha256};

/// What the digest read found: the chat's position, the buckets from `from` up to where this
/// response stops, and where to continue when the range held more than one response carries.
#[derive(Debug, Clone)]
pub struct DigestsRead {
    pub position: ChatPosition,
    pub buckets: Vec<DigestBucket>,
    pub next_from_seq: Option<Seq>,
}

/// One bucket being hashed.
struct OpenBucket {
    from_seq: Seq,
    to_seq: Seq,
    count: u64,
    hasher: Sha256,
}

impl OpenBucket {
    fn new(from_seq: Seq, to_seq: Seq) -> Self {
        OpenBucket {
            from_seq,
            to_seq,
            count: 0,
            hasher: Sha256::new(),
        }
    }

    fn finish(self) -> DigestBucket {
        DigestBucket {
            from_seq: self.from_seq,
            to_seq: self.to_seq,
            count: self.count,
            digest: hex::encode(self.hasher.finalize()),
        }
    }
}

/// The last seq one response covers: `digest_buckets_per_response(bucket)` buckets from `from`,
/// never past `to` or the chat's `last_seq`.
pub fn response_end(from: Seq, to: Seq, last_seq: Seq, bucket: u32) -> Seq {
    let span = u64::from(bucket.max(1));
    let max_end = from
        .saturating_add(span.saturating_mul(digest_buckets_per_response(bucket)))
        .saturating_sub(1);
    to.min(last_seq).min(max_end)
}

impl Store {
    /// Digests of `from ..= min(to, last_seq)` in buckets of `bucket` seqs (the caller checked
    /// `1 ≤ from ≤ to` and `1 ≤ bucket ≤ MAX_DIGEST_BUCKET`).
    pub async fn digests(
        &self,
        user: &UserId,
        chat: ChatId,
        from: Seq,
        to: Seq,
        bucket: u32,
    ) -> Result<DigestsRead, DomainError> {
        let mut tx = self.db.read.begin().await?;
        let row = visible_chat_or_not_found(&mut tx, user, chat).await?;
        let end = response_end(from, to, row.last_seq, bucket);
        let next_from_seq = (end < to.min(row.last_seq)).then_some(end + 1);
        let span = u64::from(bucket.max(1));
        let mut buckets = Vec::new();
        if from <= end {
            let bucket_at =
                |start: Seq| OpenBucket::new(start, start.saturating_add(span - 1).min(end));
            let mut current = bucket_at(from);
            let sql = format!(
                "SELECT {MESSAGE_COLUMNS} FROM messages WHERE chat_id = $1 AND seq >= $2 AND seq <= $3 ORDER BY seq"
            );
            let mut rows = sqlx::query(&sql)
                .bind(chat.to_string())
                .bind(to_i64(from))
                .bind(to_i64(end))
                .fetch(&mut *tx);
            while let Some(row) = rows.try_next().await? {
                let message = message_from_row(&row)?;
                while message.seq > current.to_seq {
                    let next = current.to_seq + 1;
                    buckets.push(std::mem::replace(&mut current, bucket_at(next)).finish());
                }
                let record = digest_record(
                    message.seq,
                    message.version,
                    message.id,
                    message.is_deleted(),
                    &message.body,
                );
                current.hasher.update(record.as_bytes());
                current.count += 1;
            }
            drop(rows);
            // The buckets after the last row (empty ones included) up to `end`.
            loop {
                let done = current.to_seq >= end;
                let next = current.to_seq + 1;
                buckets.push(std::mem::replace(&mut current, bucket_at(next)).finish());
                if done {
                    break;
                }
            }
        }
        tx.commit().await?;
        Ok(DigestsRead {
            position: row.position(),
            buckets,
            next_from_seq,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_response_stops_at_the_bucket_cap_the_range_or_last_seq() {
        assert_eq!(response_end(5, 1000, 300, 100), 300);
        assert_eq!(response_end(1, 50, 300, 100), 50);
        // 10 000-seq buckets: 10 per response (MAX_DIGEST_SEQS = 100 000).
        assert_eq!(
            response_end(1, u64::MAX >> 1, u64::MAX >> 1, 10_000),
            100_000
        );
        // 1-seq buckets: MAX_DIGEST_BUCKETS per response.
        assert_eq!(response_end(7, 1 << 40, 1 << 40, 1), 7 + 1000 - 1);
    }
}
