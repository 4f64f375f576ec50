//! Issue 11's guarantees that are not about time: a clean close lets the next open skip the
//! whole-file checks while a crash or any change of the file from outside does not (and the
//! checks then still find what is wrong); and a burst of stream events committed as one group
//! ends exactly where the same events applied one at a time end.

use roost_core::store::{CursorRule, IngestOptions, Position, Store};
use roost_core::{Client, ClientConfig};
use roost_proto::{ChatId, Message, UserId};

fn message(chat: ChatId, seq: u64, version: u64, rev: u64) -> Message {
    Message {
        author: UserId::new("bob"),
        rev,
        ..roost_model::fixtures::message_version(chat, seq, version)
    }
}

async fn filled(path: &std::path::Path, chat: ChatId, count: u64) -> Store {
    let (store, _) = Store::open(path).await.unwrap();
    let batch: Vec<Message> = (1..=count).map(|s| message(chat, s, 1, s)).collect();
    let mut options = IngestOptions::new(CursorRule::Snapshot(count));
    options.position = Some(Position {
        last_seq: count,
        rev: count,
    });
    store.ingest(chat, &batch, &options).await.unwrap();
    store
}

#[tokio::test]
async fn a_clean_close_lets_the_next_open_skip_the_whole_file_checks_but_a_crash_does_not() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("message_cache.db");
    let chat = ChatId(uuid::Uuid::from_u128(7));
    let store = filled(&path, chat, 500).await;
    assert!(!store.opened_clean(), "a new file was never sealed");
    store.close().await;

    let (store, report) = Store::open(&path).await.unwrap();
    assert!(report.is_none());
    assert!(store.opened_clean(), "a cleanly closed file is trusted");
    assert_eq!(store.newest_messages(chat, 10).await.unwrap().len(), 10);
    // A crash: the store goes away without its close (the mark was cleared at open).
    drop(store);

    let (store, _) = Store::open(&path).await.unwrap();
    assert!(
        !store.opened_clean(),
        "after an unclean shutdown the whole-file checks run"
    );
    store.close().await;
    let (store, _) = Store::open(&path).await.unwrap();
    assert!(store.opened_clean());
    store.close().await;
}

#[tokio::test]
async fn a_file_changed_after_a_clean_close_is_checked_in_full_and_repaired() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("message_cache.db");
    let chat = ChatId(uuid::Uuid::from_u128(8));
    filled(&path, chat, 300).await.close().await;
    // Outside the store: a message row disappears, so the runs index no longer agrees.
    {
        let connection = rusqlite::Connection::open(&path).unwrap();
        connection
            .execute(
                "DELETE FROM messages WHERE chat_id = ?1 AND seq = 150",
                [chat.to_string()],
            )
            .unwrap();
    }
    let mut config = ClientConfig::new("http://127.0.0.1:9", "t")
        .cache_path(&path)
        .background(false);
    config.user_id = Some(UserId::new("alice"));
    let (client, info) = Client::open(config).await.unwrap();
    assert_eq!(
        info.repaired_chats,
        vec![chat],
        "the change from outside is found by the full check"
    );
    let map = client.cache_map(chat).await.unwrap();
    assert_eq!(map.cached.len(), 2, "seq 150 is a hole again: {map:?}");
    client.shutdown().await;
}

/// A server history of `n` mutations (creates and edits, rev = index + 1) and a delivery of it
/// with drops, swaps and duplicates, from a seed.
fn delivery(seed: u64, n: u64) -> Vec<(Message, Position)> {
    let chat = ChatId(uuid::Uuid::from_u128(9));
    let mut x = seed | 1;
    let mut next = move |m: u64| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % m
    };
    let mut history = Vec::new();
    let mut last_seq = 0;
    let mut versions = std::collections::HashMap::new();
    for rev in 1..=n {
        let seq = if last_seq > 0 && next(4) == 0 {
            1 + next(last_seq)
        } else {
            last_seq += 1;
            last_seq
        };
        let version = versions.entry(seq).and_modify(|v| *v += 1).or_insert(1);
        history.push((
            message(chat, seq, *version, rev),
            Position { last_seq, rev },
        ));
    }
    let mut out = Vec::new();
    for event in history {
        match next(10) {
            0 => {}                                                   // dropped
            1 => out.extend([event.clone(), event]),                  // duplicated
            2 if !out.is_empty() => out.insert(out.len() - 1, event), // swapped
            _ => out.push(event),
        }
    }
    out
}

#[tokio::test]
async fn a_burst_committed_as_one_group_ends_where_one_event_at_a_time_ends() {
    let dir = tempfile::tempdir().unwrap();
    let chat = ChatId(uuid::Uuid::from_u128(9));
    let mut options = IngestOptions::new(CursorRule::Keep);
    options.count_unread = true;
    options.me = Some(UserId::new("alice"));
    options.flag_if_behind = true;
    for seed in 1..=40u64 {
        let events = delivery(seed * 0x9E37_79B9, 30);
        let (grouped, _) = Store::open(dir.path().join(format!("g{seed}.db")))
            .await
            .unwrap();
        let (single, _) = Store::open(dir.path().join(format!("s{seed}.db")))
            .await
            .unwrap();
        // Split at a seed-dependent point: two groups, as two commits of the writer would be.
        let cut = (seed as usize * 7) % (events.len() + 1);
        let mut flagged_grouped = false;
        for part in [&events[..cut], &events[cut..]] {
            if !part.is_empty() {
                let res = grouped.ingest_events(chat, part, &options).await.unwrap();
                flagged_grouped |= res.flagged;
            }
        }
        let mut flagged_single = false;
        for event in &events {
            let res = single
                .ingest_events(chat, std::slice::from_ref(event), &options)
                .await
                .unwrap();
            flagged_single |= res.flagged;
        }
        let a = grouped.chat(chat).await.unwrap().unwrap();
        let b = single.chat(chat).await.unwrap().unwrap();
        let what = format!("seed {seed}: {events:?}");
        assert_eq!(a.changes_cursor, b.changes_cursor, "cursor, {what}");
        // (Unread counts may differ for out-of-order arrivals: a group counts against the
        // newest seq cached before it, one at a time against the newest so far.)
        assert_eq!(
            a.last_message_seq, b.last_message_seq,
            "last message, {what}"
        );
        assert_eq!(a.cached_count, b.cached_count, "count, {what}");
        assert_eq!(a.server_last_seq, b.server_last_seq, "position, {what}");
        assert_eq!(
            grouped.runs(chat).await.unwrap(),
            single.runs(chat).await.unwrap(),
            "runs, {what}"
        );
        assert_eq!(
            grouped.messages_between(chat, 1, 1_000).await.unwrap(),
            single.messages_between(chat, 1, 1_000).await.unwrap(),
            "messages, {what}"
        );
        // One at a time may flag a hole that a later event of the same group fills; a group
        // never flags what one at a time would not.
        assert!(!flagged_grouped || flagged_single, "flags, {what}");
        grouped.close().await;
        single.close().await;
    }
}

/// Messages whose fields are awkward to carry: escapes, quotes, non-BMP text, nested JSON,
/// extreme numbers, tombstones, author names with JSON in them.
fn awkward_messages(chat: ChatId) -> Vec<Message> {
    let bodies = [
        serde_json::json!({ "text": "quote \" backslash \\ slash / tab \t newline \n" }),
        serde_json::json!({ "text": "caf\u{e9} \u{1F426} \u{4E2D}\u{6587} \u{0}\u{1f}\u{7f}" }),
        serde_json::json!({ "text": "nested", "meta": { "a": [1, 2.5, -3e20, null, true], "b": "" } }),
        serde_json::json!({ "kind": "no text at all", "n": i64::MAX }),
        serde_json::json!({}),
    ];
    bodies
        .into_iter()
        .enumerate()
        .map(|(index, body)| {
            let seq = index as u64 + 1;
            Message {
                author: UserId::new(format!("o'brien \"{seq}\" [\\]")),
                created_at: if seq == 2 {
                    i64::MIN + 1
                } else {
                    i64::MAX - seq as i64
                },
                edited_at: seq.is_multiple_of(2).then_some(-(seq as i64)),
                deleted_at: (seq == 5).then_some(7),
                body,
                ..message(chat, seq, 1, seq)
            }
        })
        .collect()
}

#[tokio::test]
async fn every_field_of_a_message_reads_back_exactly_as_it_was_written_by_any_write_path() {
    let dir = tempfile::tempdir().unwrap();
    let chat = ChatId(uuid::Uuid::from_u128(10));
    let written = awkward_messages(chat);
    let last = written.len() as u64;
    let position = Position {
        last_seq: last,
        rev: last,
    };
    // A page (`Store::ingest`) and a stream group commit (`Store::ingest_stream`).
    let (paged, _) = Store::open(dir.path().join("paged.db")).await.unwrap();
    let mut options = IngestOptions::new(CursorRule::Snapshot(last));
    options.position = Some(position);
    paged.ingest(chat, &written, &options).await.unwrap();
    let (streamed, _) = Store::open(dir.path().join("streamed.db")).await.unwrap();
    let events: Vec<_> = written.iter().map(|m| (m.clone(), position)).collect();
    let mut stream_options = IngestOptions::new(CursorRule::Keep);
    stream_options.flag_if_behind = true;
    streamed
        .ingest_stream(&[(chat, events)], &stream_options)
        .await
        .unwrap();
    for store in [&paged, &streamed] {
        assert_eq!(
            store.messages_between(chat, 1, last).await.unwrap(),
            written
        );
        let record = store.chat(chat).await.unwrap().unwrap();
        assert_eq!(record.cached_count, last);
        assert_eq!((record.server_last_seq, record.server_rev), (last, last));
        assert_eq!(record.last_message_seq, Some(last));
        assert_eq!(store.runs(chat).await.unwrap().len(), 1);
    }
    // An older copy never replaces a newer one, and an older position never lowers the
    // chat's: the same batch at version 0 and position 1 changes nothing.
    let older: Vec<Message> = written
        .iter()
        .map(|m| Message {
            version: 0,
            body: serde_json::json!({ "text": "older" }),
            ..m.clone()
        })
        .collect();
    options.position = Some(Position {
        last_seq: 1,
        rev: 1,
    });
    let res = paged.ingest(chat, &older, &options).await.unwrap();
    assert!(res.changed.is_empty(), "{res:?}");
    assert_eq!(
        paged.messages_between(chat, 1, last).await.unwrap(),
        written
    );
    let record = paged.chat(chat).await.unwrap().unwrap();
    assert_eq!((record.server_last_seq, record.server_rev), (last, last));
    paged.close().await;
    streamed.close().await;
}
