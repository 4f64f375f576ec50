//! Hardening against a signed-in user exhausting the server: stream message/frame size caps, a
//! send timeout for clients that never read, per-user and global stream caps (429/503 with
//! `Retry-After`), and the paginated chat list.

mod common;

use common::*;
use futures_util::{SinkExt, StreamExt};
use roost_proto::*;
use std::collections::BTreeSet;
use std::time::Duration;
use tokio_tungstenite::tungstenite;

roost_server::backend_tests!(
    an_oversized_client_message_closes_the_stream,
    a_client_that_never_reads_is_dropped_after_the_send_timeout,
    streams_past_the_per_user_cap_get_429_with_retry_after,
    streams_past_the_global_cap_get_503_with_retry_after,
    the_chat_list_pages_in_chat_id_order_with_a_cursor,
    the_chat_list_refuses_bad_limits_and_cursors,
    demo_refuses_a_database_with_real_users_and_creates_nothing,
);

fn stream_request_of(server: &TestServer, user: &str) -> tungstenite::handshake::client::Request {
    stream_request(&server.base_url(), &server.token(user))
}

/// A stream past its hello frame.
async fn connect(server: &TestServer, user: &str) -> Socket {
    connect_past_hello(server, user).await
}

/// The HTTP refusal of a stream upgrade: status, error kind and `Retry-After`.
async fn refused_upgrade(server: &TestServer, user: &str) -> (u16, String, Option<String>) {
    match tokio_tungstenite::connect_async(stream_request_of(server, user)).await {
        Err(tungstenite::Error::Http(response)) => {
            let body: ErrorBody =
                serde_json::from_slice(response.body().as_deref().unwrap_or_default())
                    .expect("an error body");
            let retry_after = response
                .headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap().to_owned());
            (
                response.status().as_u16(),
                body.error.kind.as_str().to_owned(),
                retry_after,
            )
        }
        Ok(_) => panic!("the upgrade was accepted past the cap"),
        Err(other) => panic!("unexpected connect error: {other}"),
    }
}

async fn an_oversized_client_message_closes_the_stream(backend: TestBackend) {
    // Heartbeats every second: a server that ignores the message keeps sending them.
    let server = spawn_test_server_on_with(&backend, |config| {
        config.heartbeat_interval = Duration::from_secs(1);
    })
    .await;
    let mut socket = connect(&server, "alice").await;
    let big = "x".repeat(64 * 1024);
    // The server may close while the frame is still being written; either way is fine.
    let _ = socket.send(tungstenite::Message::Text(big.into())).await;
    loop {
        match socket.next().await {
            None | Some(Err(_)) | Some(Ok(tungstenite::Message::Close(_))) => break,
            Some(Ok(tungstenite::Message::Text(text))) => {
                panic!("the stream stayed open after a 64 KiB client message: got {text}")
            }
            Some(Ok(_)) => continue,
        }
    }
    // A small data frame is still ignored: the connection stays usable.
    let mut socket = connect(&server, "alice").await;
    socket
        .send(tungstenite::Message::Text("hi".into()))
        .await
        .unwrap();
    let chat = server.create_chat("General", &["alice"]).await;
    server.send("alice", chat, "after a small frame").await;
    loop {
        match socket.next().await {
            Some(Ok(tungstenite::Message::Text(text))) if text.contains("after a small frame") => {
                break;
            }
            Some(Ok(tungstenite::Message::Text(_))) | Some(Ok(_)) => continue,
            other => panic!("the stream closed after a small client frame: {other:?}"),
        }
    }
}

async fn a_client_that_never_reads_is_dropped_after_the_send_timeout(backend: TestBackend) {
    let server = spawn_test_server_on_with(&backend, |config| {
        config.stream_send_timeout = Duration::from_millis(300);
    })
    .await;
    let chat = server.create_chat("General", &["alice"]).await;
    let socket = connect(&server, "alice").await;
    // ~12 MB of events: far more than loopback socket buffers hold, fewer than the hub keeps
    // (so the connection is not closed for lagging but blocks in a send).
    let text = "y".repeat(15 * 1024);
    for _ in 0..800 {
        server.send("alice", chat, &text).await;
    }
    // Before the timeout existed the blocked send waited forever and the count stayed 1.
    let mut attempts = 0;
    while server.open_streams() > 0 {
        attempts += 1;
        assert!(
            attempts < 600,
            "the stream of a client that never reads is still open"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    drop(socket);
}

async fn streams_past_the_per_user_cap_get_429_with_retry_after(backend: TestBackend) {
    let server = spawn_test_server_on_with(&backend, |config| {
        config.max_streams_per_user = 2;
    })
    .await;
    let _first = connect(&server, "alice").await;
    let second = connect(&server, "alice").await;
    let (status, kind, retry_after) = refused_upgrade(&server, "alice").await;
    assert_eq!((status, kind.as_str()), (429, "rate_limited"));
    assert!(retry_after.is_some_and(|secs| secs.parse::<u64>().unwrap() >= 1));
    // Another user is not affected, and a closed stream frees its slot.
    let _bob = connect(&server, "bob").await;
    drop(second);
    let mut attempts = 0;
    loop {
        match tokio_tungstenite::connect_async(stream_request_of(&server, "alice")).await {
            Ok(_) => break,
            Err(_) if attempts < 200 => {
                attempts += 1;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(error) => panic!("the freed slot was not given back: {error}"),
        }
    }
}

async fn streams_past_the_global_cap_get_503_with_retry_after(backend: TestBackend) {
    let server = spawn_test_server_on_with(&backend, |config| {
        config.max_streams = 2;
    })
    .await;
    let _alice = connect(&server, "alice").await;
    let _bob = connect(&server, "bob").await;
    let (status, kind, retry_after) = refused_upgrade(&server, "carol").await;
    assert_eq!((status, kind.as_str()), (503, "overloaded"));
    assert!(retry_after.is_some());
}

async fn the_chat_list_pages_in_chat_id_order_with_a_cursor(backend: TestBackend) {
    let server = spawn_test_server_on(&backend).await;
    let mut created = BTreeSet::new();
    for index in 0..5 {
        created.insert(
            server
                .create_chat(&format!("chat {index}"), &["alice", "bob"])
                .await,
        );
    }
    server.create_chat("not alice's", &["bob"]).await;
    let alice = Client::new(&server, "alice");
    let mut listed = Vec::new();
    let mut path = "/v1/chats?limit=2".to_owned();
    let mut pages = 0;
    loop {
        let reply = alice.get(&path).await;
        assert_eq!(reply.status, 200);
        let page: ChatListResponse = reply.parse();
        assert!(page.chats.len() <= 2);
        listed.extend(page.chats.iter().map(|chat| chat.id));
        pages += 1;
        match page.next_cursor {
            Some(cursor) => path = format!("/v1/chats?limit=2&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(listed, created.iter().copied().collect::<Vec<_>>());
    // Without parameters: the first DEFAULT_CHAT_PAGE_SIZE chats, here all of them.
    let all: ChatListResponse = alice.get("/v1/chats").await.parse();
    assert_eq!(all.chats.len(), 5);
    assert_eq!(all.next_cursor, None);
}

async fn the_chat_list_refuses_bad_limits_and_cursors(backend: TestBackend) {
    let server = spawn_test_server_on(&backend).await;
    let alice = Client::new(&server, "alice");
    let reply = alice.get("/v1/chats?limit=501").await;
    assert_eq!(
        (reply.status.as_u16(), reply.error_kind().as_str()),
        (400, "page_size_too_large")
    );
    for bad in [
        "/v1/chats?limit=0",
        "/v1/chats?cursor=nope",
        "/v1/chats?limit=x",
    ] {
        let reply = alice.get(bad).await;
        assert_eq!(
            (reply.status.as_u16(), reply.error_kind().as_str()),
            (400, "bad_request"),
            "{bad}"
        );
    }
}

async fn demo_refuses_a_database_with_real_users_and_creates_nothing(backend: TestBackend) {
    // The test server's database holds alice, bob and carol: real, non-demo users.
    let server = spawn_test_server_on(&backend).await;
    let db = roost_server::db::Db::open(&server.config().db)
        .await
        .unwrap();
    let store = roost_server::store::Store::new(db.clone());
    let refused = roost_server::demo::ensure_demo(&store, &server.base_url(), 10).await;
    let error = refused.expect_err("demo ran on a database with real users");
    assert!(error.to_string().contains("not demo users"), "{error}");
    let demo_tokens = sqlx_count_demo_tokens(&db).await;
    assert!(
        demo_tokens.is_err(),
        "a refused database got the demo's token table"
    );
    db.close().await;
}

async fn sqlx_count_demo_tokens(db: &roost_server::db::Db) -> Result<(), String> {
    roost_server::demo::demo_token_count(db)
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
}
