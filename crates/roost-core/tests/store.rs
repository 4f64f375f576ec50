//! The cache file on its own: the runs index always equals the set of cached seqs (whatever
//! the order, duplication and batching of writes), merges follow versions, and the file
//! survives being reopened.

use roost_core::ranges::runs_from_seqs;
use roost_core::store::{CursorRule, IngestOptions, Position, Store};
use roost_proto::{ChatId, Message, MessageId, UserId};
use std::collections::BTreeMap;

fn msg(chat: ChatId, seq: u64, version: u64) -> Message {
    Message {
        author: UserId::new("bob"),
        ..roost_model::fixtures::message_version(chat, seq, version)
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

/// The newest window is read with one query of `limit + 1` rows instead of the runs index; it
/// must place messages, gaps and the older-history marker exactly as the window built from the
/// full runs index does, for every shape of cache.
#[tokio::test]
async fn the_newest_window_matches_the_window_built_from_the_full_runs_index() {
    use roost_core::ranges::{SeqRange, build_window, contains};
    use roost_core::{Anchor, Client, ClientConfig};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("message_cache.db");
    let mut x: u64 = 0x2545F4914F6CDD1D;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut chats = Vec::new();
    {
        let (store, _) = Store::open(&path).await.unwrap();
        for index in 0..40u128 {
            let chat = ChatId(uuid::Uuid::from_u128(1000 + index));
            let last = 1 + next() % 120;
            let keep_one_in = 1 + next() % 4;
            let seqs: Vec<u64> = (1..=last).filter(|_| next() % keep_one_in == 0).collect();
            let batch: Vec<Message> = seqs.iter().map(|&seq| msg(chat, seq, 1)).collect();
            let mut opts = IngestOptions::new(CursorRule::Keep);
            opts.position = Some(Position {
                last_seq: last + next() % 5,
                rev: 10_000,
            });
            store.ingest(chat, &batch, &opts).await.unwrap();
            chats.push(chat);
        }
        store.close().await;
    }
    let mut config = ClientConfig::new("http://127.0.0.1:9", "unused")
        .cache_path(&path)
        .background(false);
    config.user_id = Some(UserId::new("alice"));
    let (client, _) = Client::open(config).await.unwrap();
    for chat in chats {
        for limit in [1u32, 3, 10, 50] {
            let window = client.window(chat, Anchor::Newest, limit).await.unwrap();
            let all = client
                .cached_messages(chat, 1, u64::MAX >> 2)
                .await
                .unwrap();
            let runs = runs_from_seqs(all.iter().map(|m| m.seq));
            let known_last = window
                .chat
                .server_last_seq
                .max(runs.last().map_or(0, |r| r.end));
            let expected = match all
                .len()
                .checked_sub(limit as usize)
                .map(|i| &all[i])
                .or(all.first())
            {
                None if known_last > 0 => {
                    vec![roost_core::WindowItem::OlderHistory { to: known_last }]
                }
                None => vec![],
                Some(first) => build_window(
                    &all,
                    &runs,
                    SeqRange::new(first.seq, known_last.max(first.seq)),
                ),
            };
            assert_eq!(window.items, expected, "chat {chat}, limit {limit}");
            let expected_before = window
                .items
                .iter()
                .find_map(|item| match item {
                    roost_core::WindowItem::Message { message } => Some(message.seq),
                    _ => None,
                })
                .is_some_and(|first| {
                    window
                        .items
                        .first()
                        .is_some_and(|i| matches!(i, roost_core::WindowItem::Message { .. }))
                        && first > 1
                        && contains(&runs, first - 1)
                });
            assert_eq!(
                window.has_more_before, expected_before,
                "chat {chat}, limit {limit}"
            );
            assert_eq!(window.chat.cached_count, all.len() as u64);
        }
    }
    client.shutdown().await;
}

/// Defect: the schema's default spelled `'unknown'` while the code writes `'UNKNOWN'`; a row
/// created without a state held a spelling nothing else uses.
#[tokio::test]
async fn a_chat_row_created_without_a_state_holds_the_spelling_the_code_writes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("message_cache.db");
    let (store, _) = Store::open(&path).await.unwrap();
    let chat = ChatId(uuid::Uuid::from_u128(9));
    // `set_open` creates the row with only its id, as every first write does; the chat list
    // creates rows too.
    store.set_open(chat, false).await.unwrap();
    let listed = ChatId(uuid::Uuid::from_u128(10));
    store
        .upsert_summaries(&[roost_proto::ChatSummary {
            id: listed,
            title: "listed".into(),
            members: vec![],
            created_by: None,
            last_seq: 0,
            rev: 0,
            last_message_at: None,
        }])
        .await
        .unwrap();
    store.close().await;
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    let raw: Vec<String> = sqlx::query_scalar("SELECT sync_state FROM chats ORDER BY chat_id")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(raw, vec![roost_core::SyncState::Unknown.as_str(); 2]);
}

/// Defect: a stream ingest that finds a gap while a resync runs left the store `SYNCING` but
/// reported the chat flagged, and the stream announced `OUT_OF_SYNC`. What an ingest reports
/// as the chat's new state must be what the store holds.
#[tokio::test]
async fn a_stream_ingest_reports_the_state_the_store_holds() {
    use roost_core::sync_state::{SyncInput, SyncState};
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = Store::open(dir.path().join("message_cache.db"))
        .await
        .unwrap();
    let chat = ChatId(uuid::Uuid::from_u128(3));
    let mut opts = IngestOptions::new(CursorRule::Keep);
    opts.position = Some(Position {
        last_seq: 1,
        rev: 11,
    });
    store.ingest(chat, &[msg(chat, 1, 1)], &opts).await.unwrap();
    let syncing = store
        .apply_sync(chat, SyncInput::FetchStarted, Some(true))
        .await
        .unwrap();
    assert_eq!(syncing, SyncState::Syncing);
    // Seq 5 arrives on the stream while a fetch runs: 2..=4 are missing.
    let mut opts = IngestOptions::new(CursorRule::Keep);
    opts.flag_if_behind = true;
    let res = store
        .ingest_events(
            chat,
            &[(
                msg(chat, 5, 1),
                Position {
                    last_seq: 5,
                    rev: 51,
                },
            )],
            &opts,
        )
        .await
        .unwrap();
    let stored = store.chat(chat).await.unwrap().unwrap();
    assert!(stored.needs_resync);
    assert_eq!(
        stored.sync_state,
        SyncState::Syncing,
        "a running fetch stays visible"
    );
    assert_eq!(res.sync_state, Some(stored.sync_state), "{res:?}");
}

/// The write connection never checkpoints inside its commits (a stall with the write lock
/// held); checkpoints run beside it. Without them everything would stay in the WAL, and the
/// main file would never grow while the store is open.
#[tokio::test]
async fn the_wal_is_checkpointed_into_the_file_beside_the_writes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("message_cache.db");
    let chat = ChatId(uuid::Uuid::from_u128(0xc4ec));
    let (store, _) = Store::open(&path).await.unwrap();
    let size_at_open = std::fs::metadata(&path).unwrap().len();
    for seq in 1..=400 {
        let mut options = IngestOptions::new(CursorRule::Event(seq));
        options.position = Some(Position {
            last_seq: seq,
            rev: seq,
        });
        store
            .ingest(chat, &[msg(chat, seq, 1)], &options)
            .await
            .unwrap();
    }
    let grown = async {
        while std::fs::metadata(&path).unwrap().len() <= size_at_open {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(60), grown)
        .await
        .expect("no checkpoint copied the WAL into the file while the store was open");
    store.close().await;
    let (store, _) = Store::open(&path).await.unwrap();
    assert_eq!(store.runs(chat).await.unwrap().len(), 1);
    store.close().await;
}
