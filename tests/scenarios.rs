//! SPEC end-to-end scenarios against the real server: incoming messages cached for any chat,
//! opening from the cache with the server down, a message arriving in an open chat, an offline
//! period followed by a reconnect.

// The client test helpers live with the core's tests; shared, not copied.
#[path = "../crates/roost-core/tests/common/mod.rs"]
mod common;

use common::*;
use roost_core::{Anchor, ClientEvent, SyncState, WindowItem};

#[tokio::test]
async fn a_message_for_a_never_opened_chat_is_cached_and_counts_as_unread() {
    let ts = spawn_test_server().await;
    let cache = CacheDir::new();
    let (client, mut events) = streaming_client(&ts, "alice", &cache.path()).await;

    // A chat alice has never seen, and a message in it.
    let chat = ts.create_chat("surprise", &["bob", "alice"]).await;
    let sent = ts.send("bob", chat, "hello alice").await;
    wait_for(
        &mut events,
        |e| matches!(e, ClientEvent::MessagesChanged { chat_id, .. } if *chat_id == chat),
    )
    .await;

    let rec = client
        .chat(chat)
        .await
        .unwrap()
        .expect("the chat row was created on the fly");
    assert_eq!(rec.unread_count, 1);
    assert_eq!(rec.last_message_seq, Some(sent.seq));
    assert_eq!(rec.last_message_preview.as_deref(), Some("hello alice"));
    assert_eq!(cached(&client, chat, 1, 10).await, vec![sent.clone()]);

    // Alice's own message does not count as unread.
    ts.send("alice", chat, "hi bob").await;
    wait_for(&mut events, |e| matches!(e, ClientEvent::MessagesChanged { chat_id, seqs } if *chat_id == chat && seqs.contains(&2))).await;
    assert_eq!(client.chat(chat).await.unwrap().unwrap().unread_count, 1);

    // Opening resets it.
    let window = client.open_chat(chat, Anchor::Newest, 50).await.unwrap();
    assert_eq!(window.chat.unread_count, 0);
    assert_eq!(window.items.len(), 2);
}

#[tokio::test]
async fn opening_with_the_server_stopped_shows_the_cache_with_markers_exactly_where_seqs_are_missing()
 {
    let mut ts = spawn_test_server().await;
    let chat = ts.create_chat("partial", &["bob", "alice"]).await;
    ts.send_many("bob", chat, 50).await;
    let all = ts.messages(chat).await;
    let cache = CacheDir::new();
    let mut part = seqs(&all, 11, 20);
    part.extend(seqs(&all, 31, 40));
    seed_cache(&cache.path(), chat, &part, (50, 50)).await;
    ts.stop().await;

    let (client, _) = background_client(&ts, "alice", &cache.path()).await;
    let window = client.open_chat(chat, Anchor::Newest, 100).await.unwrap();
    let shape: Vec<String> = window
        .items
        .iter()
        .map(|i| match i {
            WindowItem::Message { message } => format!("m{}", message.seq),
            WindowItem::Gap { from, to } => format!("gap{from}-{to}"),
            WindowItem::OlderHistory { to } => format!("older-{to}"),
        })
        .collect();
    let mut expected = vec!["older-10".to_string()];
    expected.extend((11..=20).map(|s| format!("m{s}")));
    expected.push("gap21-30".into());
    expected.extend((31..=40).map(|s| format!("m{s}")));
    expected.push("gap41-50".into());
    assert_eq!(shape, expected);
    assert_eq!(
        window.chat.sync_state,
        SyncState::Unknown,
        "no server position known yet this session"
    );

    // A window around a seq: the part below and above that is not cached is a Gap.
    let around = client
        .window(chat, Anchor::Around { seq: 25 }, 10)
        .await
        .unwrap();
    let spans: Vec<_> = around.items.iter().map(|i| i.span()).collect();
    assert_eq!(
        spans.first().map(|s| s.start),
        Some(20),
        "starts at the cached message before"
    );
    assert!(
        around
            .items
            .iter()
            .any(|i| matches!(i, WindowItem::Gap { from: 21, to: 29 }))
    );

    // Cached messages equal the server copies.
    assert_eq!(cached(&client, chat, 1, 50).await, part);
}

#[tokio::test]
async fn scenario_2_a_message_arriving_in_an_open_chat_is_shown_once_without_a_resync() {
    let ts = spawn_test_server().await;
    let chat = ts.create_chat("open", &["bob", "alice"]).await;
    for i in 1..=3 {
        ts.send("bob", chat, &format!("m{i}")).await;
    }
    let cache = CacheDir::new();
    let (client, _) = background_client(&ts, "alice", &cache.path()).await;
    let mut events = client.subscribe();
    client.start_stream();
    // The catch-up after connecting syncs the chat (newest page).
    wait_for(&mut events, |e| is_state(e, chat, SyncState::InSync)).await;
    let window = client.open_chat(chat, Anchor::Newest, 50).await.unwrap();
    assert_eq!(window.items.len(), 3);

    ts.reset_metrics();
    let sent = ts.send("bob", chat, "live").await;
    wait_for(&mut events, |e| matches!(e, ClientEvent::MessagesChanged { chat_id, seqs } if *chat_id == chat && seqs.contains(&sent.seq))).await;
    // A duplicate delivery (at-least-once) changes nothing either.
    let window = client.window(chat, Anchor::Newest, 50).await.unwrap();
    let seqs_shown: Vec<u64> = window.items.iter().map(|i| i.span().start).collect();
    assert_eq!(seqs_shown, vec![1, 2, 3, 4]);
    assert!(
        window
            .items
            .iter()
            .all(|i| matches!(i, WindowItem::Message { .. }))
    );
    assert_eq!(window.chat.unread_count, 0, "the chat is open");
    let rec = client.chat(chat).await.unwrap().unwrap();
    assert!(!rec.needs_resync);
    assert_eq!(
        rec.changes_cursor, sent.rev,
        "the cursor followed the stream"
    );
    let m = ts.metrics();
    assert_eq!(m.route("range").requests, 0, "no resync");
    assert_eq!(m.route("changes").requests, 0, "no resync");
}

#[tokio::test]
async fn scenario_3_offline_then_reconnect_syncs_only_the_new_messages_and_the_changes() {
    let mut ts = spawn_test_server().await;
    let chat = ts.create_chat("away", &["bob", "alice"]).await;
    let other = ts.create_chat("quiet", &["bob", "alice"]).await;
    for i in 1..=20 {
        ts.send("bob", chat, &format!("before {i}")).await;
    }
    ts.send("bob", other, "nothing new here").await;
    let cache = CacheDir::new();
    let (client, _) = background_client(&ts, "alice", &cache.path()).await;
    let mut events = client.subscribe();
    client.start_stream();
    wait_for(&mut events, |e| is_state(e, chat, SyncState::InSync)).await;
    assert_cache_equals_server(&client, &ts, chat, 1, 20).await;

    // Offline: bob writes 5 messages, edits one cached message and deletes another.
    ts.stop().await;
    wait_for(&mut events, |e| {
        matches!(e, ClientEvent::Connection { online: false })
    })
    .await;
    let before = ts.messages(chat).await;
    for i in 1..=5 {
        ts.send("bob", chat, &format!("while away {i}")).await;
    }
    ts.edit("bob", chat, before[4].id, "edited while away")
        .await;
    ts.delete("bob", chat, before[9].id).await;

    ts.reset_metrics();
    ts.restart().await;
    // Reconnect → one chat list → only the chat that moved is resynced.
    let fetched = wait_for(
        &mut events,
        |e| matches!(e, ClientEvent::FetchFinished { chat_id, .. } if *chat_id == chat),
    )
    .await;
    wait_for(&mut events, |e| is_state(e, chat, SyncState::InSync)).await;
    assert!(matches!(
        fetched,
        ClientEvent::FetchFinished { fetched: 5, .. }
    ));
    let m = ts.metrics();
    assert_eq!(m.route("chats").requests, 1);
    // Catch-up is 1 + N requests: the chat's one changes answer carries the edit, the delete
    // and (open above the cached span) the 5 new messages; no range request is needed.
    assert_eq!(m.route("range").requests, 0, "no range request");
    assert_eq!(
        m.route("changes").messages,
        7,
        "only the new messages, the edit and the delete"
    );
    assert_eq!(
        m.route("changes").requests,
        1,
        "one request for the chat that moved; the quiet chat was not asked about"
    );
    assert_cache_equals_server(&client, &ts, chat, 1, 25).await;
    let shown = client.window(chat, Anchor::Newest, 100).await.unwrap();
    assert_eq!(shown.items.len(), 25);
    assert!(cached(&client, chat, 10, 10).await[0].is_deleted());
}

#[tokio::test]
async fn scenario_1_fresh_start_a_notification_then_open_shows_it_at_once_and_older_history_follows()
 {
    let ts = spawn_test_server().await;
    let chat = ts.create_chat("support", &["bob", "alice"]).await;
    ts.send_many("bob", chat, 49).await;
    let cache = CacheDir::new();
    let (client, _) = background_client(&ts, "alice", &cache.path()).await;
    let mut events = client.subscribe();
    client.start_stream();
    // The catch-up syncs the newest page of the chat; wait for it, then the "notification".
    wait_for(&mut events, |e| is_state(e, chat, SyncState::InSync)).await;
    let sent = ts.send("bob", chat, "ticket #50: printer on fire").await;
    wait_for(
        &mut events,
        |e| matches!(e, ClientEvent::MessagesChanged { seqs, .. } if seqs.contains(&sent.seq)),
    )
    .await;
    assert_eq!(client.chat(chat).await.unwrap().unwrap().unread_count, 1);

    let window = client.open_chat(chat, Anchor::Newest, 100).await.unwrap();
    assert_eq!(window.items.len(), 50, "everything cached shows at once");
    assert!(
        window
            .items
            .iter()
            .all(|i| matches!(i, WindowItem::Message { .. }))
    );

    // A chat whose cache starts late: the first screen has an OlderHistory skeleton, filled next.
    let late = ts.create_chat("late", &["bob", "alice"]).await;
    ts.send_many("bob", late, 150).await;
    let all = ts.messages(late).await;
    let notification = ts.send("bob", late, "new!").await;
    wait_for(
        &mut events,
        |e| matches!(e, ClientEvent::MessagesChanged { chat_id, .. } if *chat_id == late),
    )
    .await;
    let _ = all;
    let window = client.open_chat(late, Anchor::Newest, 100).await.unwrap();
    assert_eq!(
        window.items,
        vec![
            WindowItem::OlderHistory { to: 150 },
            WindowItem::Message {
                message: notification.clone()
            },
        ]
    );
    wait_for(
        &mut events,
        |e| matches!(e, ClientEvent::FetchStarted { chat_id } if *chat_id == late),
    )
    .await;
    let done = wait_for(
        &mut events,
        |e| matches!(e, ClientEvent::FetchFinished { chat_id, .. } if *chat_id == late),
    )
    .await;
    assert!(matches!(
        done,
        ClientEvent::FetchFinished { fetched: 100, .. }
    ));
    let window = client.window(late, Anchor::Newest, 100).await.unwrap();
    assert_eq!(window.items.len(), 100);
    assert_eq!(
        window.items.last(),
        Some(&WindowItem::Message {
            message: notification
        })
    );
    assert_cache_equals_server(&client, &ts, late, 51, 151).await;
}
