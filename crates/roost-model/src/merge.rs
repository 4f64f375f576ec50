//! Merging server copies of messages into the cache: pure logic, no I/O.
//!
//! Owns the one merge rule of the cache: **a message replaces its cached copy only if its
//! version is higher**; an equal version is a no-op. The rule is idempotent, commutative and
//! order-independent, so duplicated, replayed, raced and reordered deliveries (stream, range
//! pages, changes pages, send responses) all converge to the server's latest state.
//!
//! Must never compare timestamps, revs or bodies to decide, and never delete a message.

use roost_proto::{Message, Seq};
use std::collections::BTreeMap;

/// What merging one incoming copy does to the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MergeDecision {
    /// Nothing cached at this seq: insert.
    Insert,
    /// The incoming version is higher: replace.
    Replace,
    /// Same or lower version: keep the cached copy.
    Keep,
}

/// Decides from the cached version (if any) and the incoming version.
pub fn decide(cached_version: Option<u64>, incoming_version: u64) -> MergeDecision {
    match cached_version {
        None => MergeDecision::Insert,
        Some(v) if incoming_version > v => MergeDecision::Replace,
        Some(_) => MergeDecision::Keep,
    }
}

/// Merges `incoming` into an in-memory map keyed by seq (used by tests and as the model the
/// store's SQL follows).
pub fn merge_into(map: &mut BTreeMap<Seq, Message>, incoming: Message) -> MergeDecision {
    let d = decide(map.get(&incoming.seq).map(|m| m.version), incoming.version);
    if d != MergeDecision::Keep {
        map.insert(incoming.seq, incoming);
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use roost_proto::{ChatId, MessageId, UserId};

    /// The server's copy of message `seq` at `version` (content determined by both).
    fn copy(seq: Seq, version: u64) -> Message {
        Message {
            id: MessageId(uuid::Uuid::from_u128(seq as u128)),
            chat_id: ChatId(uuid::Uuid::nil()),
            seq,
            version,
            author: UserId::new("alice"),
            created_at: seq as i64,
            edited_at: (version > 1).then_some(version as i64),
            deleted_at: None,
            body: serde_json::json!({"text": format!("{seq}@{version}")}),
            rev: seq * 10 + version,
        }
    }

    #[test]
    fn higher_version_wins_equal_is_noop() {
        let mut map = BTreeMap::new();
        assert_eq!(merge_into(&mut map, copy(1, 1)), MergeDecision::Insert);
        assert_eq!(merge_into(&mut map, copy(1, 1)), MergeDecision::Keep);
        assert_eq!(merge_into(&mut map, copy(1, 3)), MergeDecision::Replace);
        assert_eq!(merge_into(&mut map, copy(1, 2)), MergeDecision::Keep);
        assert_eq!(map[&1].version, 3);
    }

    proptest! {
        /// Any duplicated, reordered delivery of the copies converges to the highest version of
        /// every seq, and merging the stream again changes nothing.
        #[test]
        fn order_independent_and_idempotent(
            copies in proptest::collection::vec((1u64..30, 1u64..6), 0..120),
            seed in any::<u64>(),
        ) {
            let stream: Vec<Message> = copies.iter().map(|(s, v)| copy(*s, *v)).collect();
            let mut shuffled = stream.clone();
            // Deterministic shuffle + duplication from the seed.
            let mut x = seed | 1;
            for i in (1..shuffled.len()).rev() {
                x ^= x << 13; x ^= x >> 7; x ^= x << 17;
                shuffled.swap(i, (x % (i as u64 + 1)) as usize);
            }
            let dup: Vec<Message> = shuffled.iter().step_by(3).cloned().collect();
            shuffled.extend(dup);

            let mut a = BTreeMap::new();
            for m in stream.iter().cloned() { merge_into(&mut a, m); }
            let mut b = BTreeMap::new();
            for m in shuffled.iter().cloned() { merge_into(&mut b, m); }
            prop_assert_eq!(&a, &b);

            let mut expected: BTreeMap<Seq, u64> = BTreeMap::new();
            for (s, v) in &copies { let e = expected.entry(*s).or_insert(0); *e = (*e).max(*v); }
            let got: BTreeMap<Seq, u64> = a.iter().map(|(s, m)| (*s, m.version)).collect();
            prop_assert_eq!(got, expected);

            let before = a.clone();
            for m in stream { prop_assert_ne!(merge_into(&mut a, m), MergeDecision::Replace); }
            prop_assert_eq!(a, before);
        }
    }
}
