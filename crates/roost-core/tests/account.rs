//! A cache belongs to one account (server + user): what is cached or queued for alice is never
//! shown to, or sent as, bob; switching accounts switches files and loses nothing of either; a
//! second process never changes what the first one shows. Real server, real SQLite files.

mod common;

use common::*;
use roost_core::{Anchor, Client, ClientConfig, OutboxState};
use roost_proto::{ChatId, UserId};

/// A client configured as a library user would, before accounts existed: a token and a cache
/// path, no user id (the user is learnt from the server).
fn bare_config(
    ts: &roost_server::testing::TestServer,
    user: &str,
    cache: &std::path::Path,
) -> ClientConfig {
    ClientConfig::new(ts.base_url(), ts.token(user))
        .cache_path(cache)
        .background(false)
}

async fn texts_on_server(
    ts: &roost_server::testing::TestServer,
    chat: roost_proto::ChatId,
) -> Vec<(String, String)> {
    ts.messages(chat)
        .await
        .into_iter()
        .map(|m| {
            (
                m.author.as_str().to_string(),
                m.text().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

/// Issue 9's reproduction: alice queues a message while offline; then the same cache file is
/// opened with bob's token. Bob must not see alice's chats and alice's message must never be
/// posted as bob.
/// The ids of the chats `client`'s cache lists.
async fn chat_ids(client: &Client) -> Vec<ChatId> {
    client
        .chats()
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.chat_id)
        .collect()
}

#[tokio::test]
async fn the_same_cache_file_opened_with_another_users_token_shows_and_sends_nothing_of_the_first()
{
    let mut ts = spawn_test_server().await;
    // bob is a member too, so a message posted with his token would be accepted by the server.
    let chat = ts
        .create_chat("alice, bob and carol", &["alice", "bob", "carol"])
        .await;
    let private = ts.create_chat("alice and carol", &["alice", "carol"]).await;
    ts.send("carol", chat, "hello both").await;
    ts.send("carol", private, "just you, alice").await;
    let cache = CacheDir::new();

    let (alice, _) = Client::open(bare_config(&ts, "alice", &cache.path()))
        .await
        .unwrap();
    alice.refresh_chats().await.unwrap();
    alice.resync(private).await.unwrap();
    ts.stop().await;
    alice.send(chat, "queued by alice").await.unwrap();
    alice.shutdown().await;
    drop(alice);
    ts.restart().await;

    match Client::open(bare_config(&ts, "bob", &cache.path())).await {
        Err(e) => assert_eq!(e.kind(), "wrong_account", "{e}"),
        Ok((bob, _)) => {
            let _ = bob.refresh_chats().await;
            let _ = bob.flush_outbox().await;
            let seen = chat_ids(&bob).await;
            let posted = texts_on_server(&ts, chat).await;
            assert!(
                !posted.iter().any(|(_, t)| t == "queued by alice"),
                "alice's queued message was posted by bob's client: {posted:?}"
            );
            assert!(
                !seen.contains(&private),
                "bob's client shows alice's private chat"
            );
            panic!("a cache of alice's opened with bob's token must be refused");
        }
    }
    // Also when the caller says who the user is.
    let mut as_bob = bare_config(&ts, "bob", &cache.path());
    as_bob.user_id = Some(UserId::new("bob"));
    let err = Client::open(as_bob).await.unwrap_err();
    assert_eq!(err.kind(), "wrong_account", "{err}");

    // Nothing of alice's was lost: her own token opens her cache, her message goes out as hers.
    let (alice, _) = Client::open(bare_config(&ts, "alice", &cache.path()))
        .await
        .unwrap();
    assert_eq!(alice.outbox(None).await.unwrap().len(), 1);
    assert_eq!(cached(&alice, private, 1, 1).await.len(), 1);
    alice.flush_outbox().await.unwrap();
    let posted = texts_on_server(&ts, chat).await;
    assert_eq!(
        posted
            .iter()
            .filter(|(_, t)| t == "queued by alice")
            .collect::<Vec<_>>(),
        vec![&("alice".to_string(), "queued by alice".to_string())]
    );
}

/// The per-account file the desktop app and the CLI both pick: one per (server, user); two
/// accounts on one device never share a file, and switching back and forth loses nothing.
#[tokio::test]
async fn switching_accounts_switches_files_and_loses_nothing_of_either() {
    let mut ts = spawn_test_server().await;
    let shared = ts.create_chat("shared", &["alice", "bob"]).await;
    let alices = ts.create_chat("alice and carol", &["alice", "carol"]).await;
    let bobs = ts.create_chat("bob and carol", &["bob", "carol"]).await;
    ts.send("carol", alices, "for alice").await;
    ts.send("carol", bobs, "for bob").await;
    ts.send("alice", shared, "hello bob").await;
    let data = tempfile::tempdir().unwrap();
    let server = ts.base_url();

    let alice_acct = roost_core::account::resolve(data.path(), &server, &ts.token("alice"))
        .await
        .unwrap();
    let bob_acct = roost_core::account::resolve(data.path(), &server, &ts.token("bob"))
        .await
        .unwrap();
    assert_eq!(alice_acct.user_id, UserId::new("alice"));
    assert_eq!(bob_acct.user_id, UserId::new("bob"));
    assert_ne!(alice_acct.cache_path, bob_acct.cache_path);

    // alice online: her chats are cached; then offline she queues a message.
    let (alice, _) = Client::open(alice_acct.config(&ts.token("alice")).background(false))
        .await
        .unwrap();
    alice.refresh_chats().await.unwrap();
    alice.resync(alices).await.unwrap();
    alice.resync(shared).await.unwrap();
    ts.stop().await;
    alice.send(shared, "queued by alice").await.unwrap();
    let alice_before = alice.chats().await.unwrap();
    alice.shutdown().await;
    drop(alice);
    ts.restart().await;

    // bob signs in on the same device: his own file, none of alice's chats or queue.
    let (bob, _) = Client::open(bob_acct.config(&ts.token("bob")).background(false))
        .await
        .unwrap();
    assert!(bob.chats().await.unwrap().is_empty());
    assert!(bob.outbox(None).await.unwrap().is_empty());
    bob.refresh_chats().await.unwrap();
    bob.resync(bobs).await.unwrap();
    bob.flush_outbox().await.unwrap();
    let bob_ids = chat_ids(&bob).await;
    assert!(!bob_ids.contains(&alices));
    assert!(
        !texts_on_server(&ts, shared)
            .await
            .iter()
            .any(|(_, t)| t == "queued by alice"),
        "bob's session sent alice's queued message"
    );
    bob.shutdown().await;
    drop(bob);

    // Back to alice, offline (the token is known to this device): everything she had is there.
    ts.stop().await;
    let again = roost_core::account::resolve(data.path(), &server, &ts.token("alice"))
        .await
        .unwrap();
    assert_eq!(again.cache_path, alice_acct.cache_path);
    let (alice, _) = Client::open(again.config(&ts.token("alice")).background(false))
        .await
        .unwrap();
    assert_eq!(alice.chats().await.unwrap().len(), alice_before.len());
    let pending = alice.outbox(None).await.unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].state, OutboxState::Pending);
    let window = alice.window(alices, Anchor::Newest, 10).await.unwrap();
    assert_eq!(window.chat.cached_count, 1);
    ts.restart().await;
    alice.flush_outbox().await.unwrap();
    let posted = texts_on_server(&ts, shared).await;
    assert!(posted.contains(&("alice".to_string(), "queued by alice".to_string())));
    alice.shutdown().await;

    // And bob's file still holds his chat.
    let (bob, _) = Client::open(bob_acct.config(&ts.token("bob")).background(false))
        .await
        .unwrap();
    assert_eq!(
        bob.window(bobs, Anchor::Newest, 10)
            .await
            .unwrap()
            .chat
            .cached_count,
        1
    );
}

/// A second process (here: a second client) on the same file must never change what the first
/// one shows: the file is locked while a client has it open, with a clear error.
#[tokio::test]
async fn a_second_client_on_the_same_file_is_refused_and_changes_nothing_of_the_first() {
    let ts = spawn_test_server().await;
    let chat = ts.create_chat("team", &["alice", "bob"]).await;
    ts.send("bob", chat, "hi").await;
    let cache = CacheDir::new();
    let (first, _) = client_with_cache(&ts, "alice", &cache.path()).await;
    first.refresh_chats().await.unwrap();
    first.open_chat(chat, Anchor::Newest, 10).await.unwrap();
    assert!(first.chat(chat).await.unwrap().unwrap().is_open);

    let second = Client::open(config(&ts, "alice", &cache.path(), false)).await;
    if let Err(e) = &second {
        assert_eq!(e.kind(), "cache_in_use", "{e}");
        assert!(e.to_string().contains("another"), "a clear message: {e}");
    }
    assert!(
        first.chat(chat).await.unwrap().unwrap().is_open,
        "a second client on the file reset the first one's open chat"
    );
    assert!(second.is_err(), "the second client was let in");
    drop(second);

    // Once the first client is closed, the file opens again.
    first.shutdown().await;
    drop(first);
    let (again, _) = client_with_cache(&ts, "alice", &cache.path()).await;
    assert_eq!(again.chats().await.unwrap().len(), 1);
}
