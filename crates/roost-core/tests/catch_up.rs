//! Catch-up after a reconnect (issue 9): one chat list, then one request per changed chat
//! whose changes fit a page (1 + N, counted at the server; it was 1 + 2N: a changes call
//! bounded by the cached span, then a `seqs` call for the new messages); and a closed chat that
//! hears of a gap on the stream is resynced in the background, so opening it later is complete.

mod common;

use common::*;
use roost_core::{ClientEvent, SyncState};
use roost_proto::ChatId;
use std::collections::HashSet;

#[tokio::test]
async fn catch_up_after_a_reconnect_costs_one_chat_list_and_one_request_per_changed_chat() {
    let ts = spawn_test_server().await;
    let mut chats = Vec::new();
    for i in 0..5 {
        let chat = ts
            .create_chat(&format!("chat {i}"), &["alice", "bob"])
            .await;
        ts.send_many("bob", chat, 30).await;
        chats.push(chat);
    }
    let cache = CacheDir::new();
    {
        let (client, _) = client_with_cache(&ts, "alice", &cache.path()).await;
        client.refresh_chats().await.unwrap();
        for chat in &chats {
            client.resync(*chat).await.unwrap();
        }
        client.shutdown().await;
    }
    // While alice is away, 3 of the 5 chats change: new messages, an edit, a delete.
    let changed: Vec<ChatId> = chats[..3].to_vec();
    for chat in &changed {
        let first = ts.messages(*chat).await[0].clone();
        ts.edit("bob", *chat, first.id, "edited while away").await;
        ts.send_many("bob", *chat, 12).await;
        let second = ts.messages(*chat).await[1].clone();
        ts.delete("bob", *chat, second.id).await;
    }

    let (client, _) = background_client(&ts, "alice", &cache.path()).await;
    let mut events = client.subscribe();
    ts.reset_metrics();
    client.start_stream();
    let mut synced = HashSet::new();
    while synced.len() < changed.len() {
        if let ClientEvent::SyncStateChanged {
            chat_id,
            state: SyncState::InSync,
        } = wait_for(&mut events, |e| {
            matches!(
                e,
                ClientEvent::SyncStateChanged {
                    state: SyncState::InSync,
                    ..
                }
            )
        })
        .await
            && changed.contains(&chat_id)
        {
            synced.insert(chat_id);
        }
    }
    let m = ts.metrics();
    let n = changed.len() as u64;
    println!(
        "catch-up of {n} changed chats (of 5): chats={} changes={} range={} (1 + N = {})",
        m.route("chats").requests,
        m.route("changes").requests,
        m.route("range").requests,
        1 + n
    );
    assert_eq!(m.route("chats").requests, 1);
    assert_eq!(
        m.route("changes").requests,
        n,
        "one changes request per changed chat"
    );
    assert_eq!(
        m.route("range").requests,
        0,
        "the new messages came with the changes"
    );
    assert_eq!(m.route("changes").messages, n * (12 + 2));
    for chat in &chats {
        assert_cache_equals_server(&client, &ts, *chat, 1, 42).await;
    }
}

#[tokio::test]
async fn a_closed_chat_that_hears_of_a_gap_is_resynced_in_the_background() {
    let ts = spawn_test_server().await;
    let chat = ts.create_chat("closed", &["alice", "bob"]).await;
    ts.send_many("bob", chat, 10).await;
    let cache = CacheDir::new();
    let (client, _) = background_client(&ts, "alice", &cache.path()).await;
    let mut events = client.subscribe();
    client.refresh_chats().await.unwrap();
    client.resync(chat).await.unwrap();
    client.start_stream();
    wait_for(&mut events, |e| {
        matches!(e, ClientEvent::Connection { online: true })
    })
    .await;
    // Messages the stream never announces (bulk insert), then one it does: the client hears of
    // a gap in a chat that is not open.
    ts.send_many("bob", chat, 25).await;
    ts.send("bob", chat, "after the gap").await;
    wait_for(&mut events, |e| {
        matches!(e, ClientEvent::SyncStateChanged { chat_id, state: SyncState::InSync } if *chat_id == chat)
    })
    .await;
    // Wait until the gap is really filled (the InSync above may precede the stream's event).
    loop {
        let rec = client.chat(chat).await.unwrap().unwrap();
        if rec.cached_count == 36 && rec.sync_state == SyncState::InSync {
            assert!(!rec.is_open, "never opened");
            break;
        }
        wait_for(
            &mut events,
            |e| matches!(e, ClientEvent::SyncStateChanged { chat_id, .. } if *chat_id == chat),
        )
        .await;
    }
    assert_cache_equals_server(&client, &ts, chat, 1, 36).await;
}
