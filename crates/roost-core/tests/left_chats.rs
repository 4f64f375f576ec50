//! Chats the user is no longer a member of ("left"): they stay on the device read-only with
//! what was cached, are never resynced (no 404 loop at each start: requests counted at the
//! server), come back when the user is re-added, and can be removed from the device.

mod common;

use common::*;

/// Route names of every request that concerns one chat's content.
const CHAT_ROUTES: [&str; 3] = ["changes", "range", "chat"];

fn chat_requests(ts: &roost_server::testing::TestServer) -> u64 {
    let m = ts.metrics();
    CHAT_ROUTES.iter().map(|r| m.route(r).requests).sum()
}

/// The defect of issue 9: a chat that vanished from the chat list (the user was removed) was
/// resynced into a 404 at every start, because the 404 path left `needs_resync = 1` behind.
#[tokio::test]
async fn a_chat_that_vanished_is_not_resynced_into_a_404_at_every_start() {
    let ts = spawn_test_server().await;
    let chat = ts.create_chat("gone", &["bob", "alice"]).await;
    ts.send_many("bob", chat, 30).await;
    let cache = CacheDir::new();
    let (client, _) = client_with_cache(&ts, "alice", &cache.path()).await;
    client.refresh_chats().await.unwrap();
    client.resync(chat).await.unwrap();
    client.shutdown().await;
    drop(client);

    ts.remove_member("bob", chat, "alice").await;
    ts.reset_metrics();
    // Five starts, each doing what the app does: resume the resyncs the store says are due,
    // then catch up (chat list, resync what moved). On the first start the user presses Resync
    // before the chat list arrives, so the first thing the client hears is the 404.
    for start in 0..5 {
        let (client, info) = client_with_cache(&ts, "alice", &cache.path()).await;
        if start == 0 {
            assert!(client.resync(chat).await.is_err(), "the server says 404");
        }
        for due in info.resumable_chats {
            let _ = client.resync(due).await;
        }
        for moved in client.refresh_chats().await.unwrap() {
            let _ = client.resync(moved).await;
        }
        client.shutdown().await;
    }
    let requests = chat_requests(&ts);
    println!("left chat: starts=5 chat requests={requests} (the first Resync's 404 only)");
    assert_eq!(requests, 1, "only the first Resync reached the server");

    let (client, _) = client_with_cache(&ts, "alice", &cache.path()).await;
    let record = client
        .chat(chat)
        .await
        .unwrap()
        .expect("kept on the device");
    assert_eq!(record.cached_count, 30, "the cached history is kept");
    assert!(!record.needs_resync);
    assert!(record.is_left(), "marked left");
}

/// Removed while away: the next chat list (which no longer names the chat) marks it left; it
/// stays readable from the cache, every sync path refuses it without a request, sending is
/// refused, and "Remove from this device" deletes exactly its rows.
#[tokio::test]
async fn a_removed_chat_stays_readable_read_only_until_removed_from_the_device() {
    let ts = spawn_test_server().await;
    let gone = ts.create_chat("gone", &["bob", "alice"]).await;
    let kept = ts.create_chat("kept", &["bob", "alice"]).await;
    ts.send_many("bob", gone, 40).await;
    ts.send_many("bob", kept, 10).await;
    let cache = CacheDir::new();
    let (client, _) = client_with_cache(&ts, "alice", &cache.path()).await;
    client.refresh_chats().await.unwrap();
    client.resync(gone).await.unwrap();
    client.resync(kept).await.unwrap();
    let before = cached(&client, gone, 1, 40).await;

    ts.remove_member("bob", gone, "alice").await;
    ts.send_many("bob", gone, 5).await;
    let moved = client.refresh_chats().await.unwrap();
    assert!(!moved.contains(&gone));
    let record = client.chat(gone).await.unwrap().unwrap();
    assert!(record.is_left());
    assert!(!client.chat(kept).await.unwrap().unwrap().is_left());

    ts.reset_metrics();
    let window = client
        .open_chat(gone, roost_core::Anchor::Newest, 50)
        .await
        .unwrap();
    assert!(window.chat.is_left());
    assert_eq!(
        cached(&client, gone, 1, 40).await,
        before,
        "readable as cached"
    );
    for refused in [
        client.resync(gone).await.map(|_| ()),
        client.load_older(gone).await.map(|_| ()),
        client.send(gone, "hello?").await.map(|_| ()),
    ] {
        assert_eq!(refused.unwrap_err().kind(), "chat_left");
    }
    assert_eq!(chat_requests(&ts), 0, "a left chat costs no request");
    assert!(client.outbox(Some(gone)).await.unwrap().is_empty());

    let refused = client.forget_chat(kept).await.unwrap_err();
    assert_eq!(
        refused.kind(),
        "invalid_input",
        "only a left chat can be removed"
    );
    client.forget_chat(gone).await.unwrap();
    assert!(client.chat(gone).await.unwrap().is_none());
    assert!(cached(&client, gone, 1, 45).await.is_empty());
    assert_eq!(client.chats().await.unwrap().len(), 1);
    assert_eq!(
        cached(&client, kept, 1, 10).await.len(),
        10,
        "the other chat is untouched"
    );
    // A later chat list does not bring it back.
    client.refresh_chats().await.unwrap();
    assert!(client.chat(gone).await.unwrap().is_none());
}

/// Leaving: the server no longer lists the chat for us; here it is left at once. Re-added
/// later, it is a member's chat again and a resync brings what was said meanwhile.
#[tokio::test]
async fn leaving_marks_the_chat_left_and_being_added_again_brings_it_back() {
    let ts = spawn_test_server().await;
    let chat = ts.create_chat("team", &["bob", "alice"]).await;
    ts.send_many("bob", chat, 12).await;
    let cache = CacheDir::new();
    let (client, _) = client_with_cache(&ts, "alice", &cache.path()).await;
    client.refresh_chats().await.unwrap();
    client.resync(chat).await.unwrap();

    client.leave_chat(chat).await.unwrap();
    assert!(client.chat(chat).await.unwrap().unwrap().is_left());
    let members = ts.membership_journal(chat).await;
    assert_eq!(
        members
            .last()
            .map(|(_, user, change, _)| (user.as_str(), change.as_str())),
        Some(("alice", "removed"))
    );

    ts.send_many("bob", chat, 3).await;
    ts.add_members("bob", chat, &["alice"]).await;
    let moved = client.refresh_chats().await.unwrap();
    assert!(moved.contains(&chat), "the chat moved while we were away");
    assert!(!client.chat(chat).await.unwrap().unwrap().is_left());
    client.resync(chat).await.unwrap();
    assert_cache_equals_server(&client, &ts, chat, 1, 15).await;
}

/// Connected: the stream's `removed` event marks the chat left at once, without a request.
#[tokio::test]
async fn the_stream_marks_a_removed_chat_left_at_once() {
    let ts = spawn_test_server().await;
    let chat = ts.create_chat("live", &["bob", "alice"]).await;
    ts.send("bob", chat, "hello").await;
    let cache = CacheDir::new();
    let (client, _) = client_with_cache(&ts, "alice", &cache.path()).await;
    let mut events = client.subscribe();
    client.start_stream();
    wait_for(&mut events, |e| {
        matches!(e, roost_core::ClientEvent::Connection { online: true })
    })
    .await;
    client.refresh_chats().await.unwrap();
    client.resync(chat).await.unwrap();
    ts.reset_metrics();

    ts.remove_member("bob", chat, "alice").await;
    wait_for(&mut events, |e| {
        matches!(e, roost_core::ClientEvent::ChatUpdated { chat: record } if record.chat_id == chat && record.is_left())
    })
    .await;
    assert_eq!(chat_requests(&ts), 0);
    assert_eq!(client.chat(chat).await.unwrap().unwrap().cached_count, 1);
}
