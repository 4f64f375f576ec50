//! The outbox (sends survive the server being down and crashes, never duplicate), scenario 4
//! (a corrupt cache file), and a hostile server whose pages must never reach the cache.

mod common;

use common::*;
use roost_core::store::Store;
use roost_core::{Anchor, ClientEvent, OutboxState, SyncState};
use roost_proto::SendRequest;
use std::io::{Seek, SeekFrom, Write};

#[tokio::test]
async fn a_message_sent_while_the_server_is_down_is_delivered_exactly_once_after_it_restarts() {
    let mut ts = spawn_test_server().await;
    let chat = ts.create_chat("outbox", &["bob", "alice"]).await;
    ts.send("bob", chat, "are you there?").await;
    let cache = CacheDir::new();
    let (client, _) = background_client(&ts, "alice", &cache.path()).await;
    let mut events = client.subscribe();
    client.resync(chat).await.unwrap();
    ts.stop().await;

    let entry = client.send(chat, "yes, offline").await.unwrap();
    assert_eq!(entry.state, OutboxState::Pending);
    // The UI shows it at once, as pending.
    let window = client.window(chat, Anchor::Newest, 50).await.unwrap();
    assert_eq!(window.pending.len(), 1);
    // The background worker tried and kept it pending.
    wait_for(&mut events, |e| {
        matches!(e, ClientEvent::OutboxChanged { entry: e2, .. } if e2.state == OutboxState::Pending && e2.last_error.is_some())
    })
    .await;

    ts.restart().await;
    client.start_stream(); // reconnecting wakes the outbox
    let delivered = wait_for(&mut events, |e| {
        matches!(e, ClientEvent::OutboxChanged { entry: e2, .. } if e2.state == OutboxState::Delivered)
    })
    .await;
    let ClientEvent::OutboxChanged {
        message: Some(message),
        ..
    } = delivered
    else {
        panic!("no message")
    };
    let copies = ts
        .messages(chat)
        .await
        .into_iter()
        .filter(|m| m.text() == Some("yes, offline"))
        .count();
    assert_eq!(copies, 1);
    assert!(client.outbox(None).await.unwrap().is_empty());
    assert_eq!(
        cached(&client, chat, message.seq, message.seq).await,
        vec![message]
    );
    // Flushing again sends nothing more.
    client.flush_outbox().await.unwrap();
    assert_eq!(ts.messages(chat).await.len(), 2);
}

#[tokio::test]
async fn a_crash_after_the_server_accepted_a_send_does_not_duplicate_it() {
    let ts = spawn_test_server().await;
    let chat = ts.create_chat("crash", &["bob", "alice"]).await;
    let cache = CacheDir::new();
    // The outbox entry is persisted; the POST reaches the server; the app dies before the
    // delivery is committed locally.
    let (store, _) = Store::open(cache.path()).await.unwrap();
    let entry = store
        .outbox_add(chat, serde_json::json!({"text": "once"}), None)
        .await
        .unwrap();
    store.close().await;
    let api = roost_core::api::Api::new(roost_core::api::ApiConfig::new(
        ts.base_url(),
        ts.token("alice"),
    ))
    .unwrap();
    let first = api
        .send(
            chat,
            &SendRequest {
                idempotency_key: entry.idempotency_key.clone(),
                body: entry.body.clone(),
            },
        )
        .await
        .unwrap();

    let (client, _) = client_with_cache(&ts, "alice", &cache.path()).await;
    let report = client.flush_outbox().await.unwrap();
    assert_eq!(report.delivered.len(), 1);
    assert_eq!(
        report.delivered[0].message.id, first.message.id,
        "the retry got the same message"
    );
    assert_eq!(ts.messages(chat).await.len(), 1);
    assert!(client.outbox(None).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_send_the_server_rejects_is_marked_failed_and_can_be_retried() {
    let ts = spawn_test_server().await;
    let not_mine = ts.create_chat("bob and carol", &["bob", "carol"]).await;
    let cache = CacheDir::new();
    let (client, _) = client_with_cache(&ts, "alice", &cache.path()).await;
    let entry = client.send(not_mine, "let me in").await.unwrap();
    let report = client.flush_outbox().await.unwrap();
    assert_eq!(report.failed.len(), 1);
    assert_eq!(
        client.outbox(None).await.unwrap()[0].state,
        OutboxState::Failed
    );
    client.retry_failed(&entry.local_id).await.unwrap();
    assert_eq!(
        client.outbox(None).await.unwrap()[0].state,
        OutboxState::Pending
    );
    assert_eq!(client.flush_outbox().await.unwrap().failed.len(), 1);
    assert!(ts.messages(not_mine).await.is_empty());
}

#[tokio::test]
async fn scenario_4_a_corrupt_cache_is_moved_aside_and_only_the_lost_chats_are_resynced() {
    let mut ts = spawn_test_server().await;
    let a = ts.create_chat("a", &["bob", "alice"]).await;
    let b = ts.create_chat("b", &["bob", "alice"]).await;
    ts.send_many("bob", a, 3000).await;
    ts.send_many("bob", b, 10).await;
    let cache = CacheDir::new();
    {
        let (client, _) = client_with_cache(&ts, "alice", &cache.path()).await;
        client.refresh_chats().await.unwrap();
        client.resync(a).await.unwrap();
        client.resync(b).await.unwrap();
        for _ in 0..20 {
            client.load_older(a).await.unwrap();
        }
        // An unsent message must survive the corruption too.
        ts.stop().await;
        client.send(b, "written before the crash").await.unwrap();
        client.shutdown().await;
    }
    ts.restart().await;
    // Damage the root page of the messages table: quick_check fails; the chats and outbox
    // tables are intact and can be salvaged.
    let path = cache.path();
    assert!(
        std::fs::metadata(format!("{}-wal", path.display())).map_or(true, |m| m.len() == 0),
        "closed cleanly"
    );
    let (root, page_size) = {
        use sqlx::Connection;
        let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
            .await
            .unwrap();
        let root: i64 =
            sqlx::query_scalar("SELECT rootpage FROM sqlite_master WHERE name = 'messages'")
                .fetch_one(&mut conn)
                .await
                .unwrap();
        let page_size: i64 = sqlx::query_scalar("PRAGMA page_size")
            .fetch_one(&mut conn)
            .await
            .unwrap();
        conn.close().await.unwrap();
        (root as u64, page_size as u64)
    };
    let len = std::fs::metadata(&path).unwrap().len();
    let mut f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    f.seek(SeekFrom::Start((root - 1) * page_size)).unwrap();
    f.write_all(&vec![0xA5u8; page_size as usize]).unwrap();
    drop(f);

    let (client, info) = client_with_cache(&ts, "alice", &path).await;
    let report = info
        .corruption
        .expect("the corruption was detected and reported");
    assert!(
        report.moved_to.exists(),
        "the damaged file is kept, never deleted"
    );
    assert_eq!(std::fs::metadata(&report.moved_to).unwrap().len(), len);
    assert!(
        report
            .moved_to
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("message_cache.db.corrupt-")
    );
    assert_eq!(report.salvaged_chats, 2);
    assert_eq!(report.salvaged_outbox, 1, "the unsent message was not lost");

    // The lost chats get a justified, logged full resync; nothing else is lost.
    let ra = client.resync(a).await.unwrap();
    assert_eq!(ra.full_reload.as_deref(), Some("cache_corrupt"));
    assert_eq!(ra.state, SyncState::InSync);
    assert_cache_equals_server(&client, &ts, a, 2901, 3000).await;
    let again = client.resync(a).await.unwrap();
    assert_eq!(
        again.full_reload, None,
        "the reason is cleared once repaired"
    );
    let flushed = client.flush_outbox().await.unwrap();
    assert_eq!(flushed.delivered.len(), 1);
    assert_eq!(ts.messages(b).await.len(), 11);
}

#[tokio::test]
async fn a_file_that_is_not_a_database_is_moved_aside() {
    let cache = CacheDir::new();
    std::fs::write(cache.path(), b"this is not an sqlite database, just some bytes ................................................").unwrap();
    let (store, report) = Store::open(cache.path()).await.unwrap();
    let report = report.expect("reported");
    assert!(report.moved_to.exists());
    assert!(store.chats().await.unwrap().is_empty());
}

/// A server that answers every request with the same canned JSON body.
async fn hostile_server(body: String) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let body = body.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 8192];
                let _ = sock.read(&mut buf).await;
                let resp = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{}",
                    body.len(),
                    body
                );
                let _ = sock.write_all(resp.as_bytes()).await;
            });
        }
    });
    format!("http://{addr}")
}

#[tokio::test]
async fn a_hostile_page_is_rejected_and_nothing_of_it_is_cached() {
    let ts = spawn_test_server().await;
    let chat = ts.create_chat("real", &["bob", "alice"]).await;
    let other = ts.create_chat("other", &["bob", "alice"]).await;
    ts.send_many("bob", chat, 5).await;
    ts.send_many("bob", other, 5).await;
    // A "page" for `chat` that smuggles in a message of another chat.
    let mut msgs = ts.messages(chat).await;
    msgs[2] = ts.messages(other).await[2].clone();
    let page = roost_proto::MessagesPage {
        chat_id: chat,
        last_seq: 5,
        rev: 5,
        messages: msgs,
        next_from_seq: None,
        next_before_seq: None,
    };
    let url = hostile_server(serde_json::to_string(&page).unwrap()).await;
    let cache = CacheDir::new();
    let mut config = config(&ts, "alice", &cache.path(), false);
    config.server_url = url;
    let (client, _) = roost_core::Client::open(config).await.unwrap();
    let err = client.resync(chat).await.unwrap_err();
    assert_eq!(err.kind(), "protocol_violation", "{err}");
    assert_eq!(client.cache_map(chat).await.unwrap().cached_count, 0);
    assert!(client.chat(chat).await.unwrap().unwrap().needs_resync);
}

#[tokio::test]
async fn a_chat_we_are_not_in_is_not_found_and_leaves_no_trace() {
    let ts = spawn_test_server().await;
    let secret = ts.create_chat("secret", &["bob", "carol"]).await;
    ts.send("bob", secret, "private").await;
    let cache = CacheDir::new();
    let (client, _) = client_with_cache(&ts, "alice", &cache.path()).await;
    let err = client.resync(secret).await.unwrap_err();
    assert_eq!(err.kind(), "not_found");
    assert!(client.chat(secret).await.unwrap().is_none());
    assert!(client.chats().await.unwrap().is_empty());
}
