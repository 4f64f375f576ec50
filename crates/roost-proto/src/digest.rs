//! Range digests (`GET /v1/chats/{id}/digests`): the wire types and the canonical encoding of a
//! message that both sides hash, so a client can compare its cache with the server by bucket of
//! seqs and refetch only the buckets that differ (PROTOCOL.md, "Digests").
//!
//! The hash itself (SHA-256 over the concatenated records of a bucket) is computed by the server
//! and the client core with the same `sha2` crate; this module keeps the record byte-exact and
//! dependency-free so the UI (wasm32) can still build it.

use crate::{ChatId, MessageId, Rev, Seq};
use serde::{Deserialize, Serialize};

/// Bucket size used when a request does not give `bucket`.
pub const DEFAULT_DIGEST_BUCKET: u32 = 256;
/// Largest `bucket` a server accepts.
pub const MAX_DIGEST_BUCKET: u32 = 10_000;
/// Most buckets one response carries; a longer range continues at `next_from_seq`.
pub const MAX_DIGEST_BUCKETS: u32 = 1_000;
/// Most seqs one response covers (whatever the bucket size), bounding the server's work per
/// request; a longer range continues at `next_from_seq`.
pub const MAX_DIGEST_SEQS: u64 = 100_000;

/// How many buckets of `bucket` seqs one response may carry.
pub fn digest_buckets_per_response(bucket: u32) -> u64 {
    (MAX_DIGEST_SEQS / u64::from(bucket.max(1))).clamp(1, u64::from(MAX_DIGEST_BUCKETS))
}

/// Query of `GET /v1/chats/{chat_id}/digests`: buckets of `bucket` consecutive seqs, the first
/// starting at `from_seq`, covering `from_seq ..= min(to_seq, last_seq)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema, utoipa::IntoParams), into_params(parameter_in = Query))]
pub struct DigestQuery {
    pub from_seq: Seq,
    pub to_seq: Seq,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bucket: Option<u32>,
}

/// One bucket: `count` messages with `from_seq ≤ seq ≤ to_seq` and the lowercase hex SHA-256 of
/// their [`digest_record`]s concatenated in ascending seq order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DigestBucket {
    pub from_seq: Seq,
    pub to_seq: Seq,
    pub count: u64,
    pub digest: String,
}

/// `GET /v1/chats/{chat_id}/digests`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DigestsResponse {
    pub chat_id: ChatId,
    pub last_seq: Seq,
    pub rev: Rev,
    pub bucket: u32,
    pub buckets: Vec<DigestBucket>,
    /// Set when the range held more buckets than one response carries
    /// ([`digest_buckets_per_response`]): ask again from here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_from_seq: Option<Seq>,
}

/// The canonical record of one message, hashed into its bucket's digest:
/// `seq:version:id:state:body\n` with `seq` and `version` in decimal, `id` the hyphenated
/// lowercase UUID, `state` `d` for a tombstone and `m` otherwise, and `body` the
/// [`canonical_json`] of the body (`null` for a tombstone).
pub fn digest_record(
    seq: Seq,
    version: u64,
    id: MessageId,
    deleted: bool,
    body: &serde_json::Value,
) -> String {
    let state = if deleted { 'd' } else { 'm' };
    let mut record = format!("{seq}:{version}:{id}:{state}:");
    if deleted {
        record.push_str("null");
    } else {
        write_canonical_json(&mut record, body);
    }
    record.push('\n');
    record
}

/// JSON without insignificant whitespace, object keys sorted by their UTF-8 bytes, strings
/// escaped as serde_json escapes them, numbers as serde_json prints them. Independent of how the
/// body was stored or whether serde_json keeps key order.
pub fn canonical_json(value: &serde_json::Value) -> String {
    let mut out = String::new();
    write_canonical_json(&mut out, value);
    out
}

fn write_canonical_json(out: &mut String, value: &serde_json::Value) {
    use serde_json::Value;
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => out.push_str(&serde_json::to_string(s).unwrap_or_default()),
        Value::Array(items) => {
            out.push('[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                write_canonical_json(out, item);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort_unstable();
            out.push('{');
            for (index, key) in keys.into_iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                out.push_str(&serde_json::to_string(key).unwrap_or_default());
                out.push(':');
                write_canonical_json(out, &map[key]);
            }
            out.push('}');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_json_sorts_keys_and_drops_whitespace() {
        let value: serde_json::Value =
            serde_json::from_str(r#"{ "z": [1, 2.5, "é\n"], "a": {"y": null, "b": true} }"#)
                .unwrap();
        assert_eq!(
            canonical_json(&value),
            r#"{"a":{"b":true,"y":null},"z":[1,2.5,"é\n"]}"#
        );
    }

    #[test]
    fn record_marks_tombstones_and_ignores_their_body() {
        let id = MessageId(uuid::Uuid::nil());
        let body = serde_json::json!({"text": "hi"});
        assert_eq!(
            digest_record(7, 2, id, false, &body),
            "7:2:00000000-0000-0000-0000-000000000000:m:{\"text\":\"hi\"}\n"
        );
        assert_eq!(
            digest_record(7, 3, id, true, &body),
            "7:3:00000000-0000-0000-0000-000000000000:d:null\n"
        );
    }
}
