//! The cache file on its own: the runs index always equals the set of cached seqs (whatever
//! the order, duplication and batching of writes), merges follow versions, and the file
//! survives being reopened.

use roost_core::ranges::runs_from_seqs;
use roost_core::store::{CursorRule, IngestOptions, Position, Store};
use roost_proto::{ChatId, Message, MessageId, UserId};
use std::collections::BTreeMap;

fn msg(chat: ChatId, seq: u64, version: u64) -> Message {
    Message {
        id: MessageId(uuid::Uuid::from_u128(
            ((chat.0.as_u128() as u64 as u128) << 64) | seq as u128,
        )),
        chat_id: chat,
        seq,
        version,
        author: UserId::new("bob"),
        created_at: seq as i64,
        edited_at: (version > 1).then_some(version as i64),
        deleted_at: None,
        body: serde_json::json!({ "text": format!("{seq} v{version}") }),
        rev: seq * 10 + version,
    }
}

#[tokio::test]
async fn the_runs_index_always_equals_the_cached_seqs() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("message_cache.db");
    let (store, report) = Store::open(&path).await.unwrap();
    assert!(report.is_none());
    let chats = [
        ChatId(uuid::Uuid::from_u128(1)),
        ChatId(uuid::Uuid::from_u128(2)),
    ];
    let mut truth: BTreeMap<(u128, u64), u64> = BTreeMap::new();
    let mut x: u64 = 0x9E3779B97F4A7C15;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for round in 0..60 {
        let chat = chats[round % 2];
        let n = 1 + next() % 40;
        let batch: Vec<Message> = (0..n)
            .map(|_| msg(chat, 1 + next() % 300, 1 + next() % 3))
            .collect();
        let mut opts = IngestOptions::new(CursorRule::Keep);
        opts.position = Some(Position {
            last_seq: 300,
            rev: 3000,
        });
        store.ingest(chat, &batch, &opts).await.unwrap();
        for m in &batch {
            let v = truth.entry((chat.0.as_u128(), m.seq)).or_insert(0);
            *v = (*v).max(m.version);
        }
        for c in chats {
            let seqs = truth
                .keys()
                .filter(|(id, _)| *id == c.0.as_u128())
                .map(|(_, s)| *s);
            assert_eq!(store.runs(c).await.unwrap(), runs_from_seqs(seqs));
        }
    }
    assert!(store.inconsistent_chats().await.unwrap().is_empty());
    for c in chats {
        assert!(
            !store.rebuild_runs(c).await.unwrap(),
            "the index never disagreed"
        );
        let cached = store.messages_between(c, 1, 300).await.unwrap();
        for m in cached {
            assert_eq!(
                m.version,
                truth[&(c.0.as_u128(), m.seq)],
                "highest version wins"
            );
        }
    }
    store.close().await;
    let (again, report) = Store::open(&path).await.unwrap();
    assert!(report.is_none());
    assert_eq!(
        again.runs(chats[0]).await.unwrap(),
        runs_from_seqs(truth.keys().filter(|(id, _)| *id == 1).map(|(_, s)| *s))
    );
}

#[tokio::test]
async fn a_message_whose_id_contradicts_the_cache_is_rejected_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = Store::open(dir.path().join("c.db")).await.unwrap();
    let chat = ChatId(uuid::Uuid::from_u128(5));
    let opts = IngestOptions::new(CursorRule::Keep);
    store.ingest(chat, &[msg(chat, 1, 1)], &opts).await.unwrap();
    let mut impostor = msg(chat, 2, 1);
    let mut clash = msg(chat, 1, 2);
    clash.id = MessageId(uuid::Uuid::from_u128(999));
    impostor.body = serde_json::json!({"text": "2"});
    let err = store
        .ingest(chat, &[impostor, clash], &opts)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), "protocol_violation");
    assert_eq!(
        store.runs(chat).await.unwrap(),
        runs_from_seqs([1]),
        "the whole batch rolled back"
    );
}
