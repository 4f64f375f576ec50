//! The WebSocket stream: hello first, every committed mutation pushed to connected members
//! only, chat creation, heartbeats, authentication before the upgrade, close on shutdown.

mod common;

use common::*;
use futures_util::{SinkExt, StreamExt};
use roost_proto::*;
use std::time::Duration;
use tokio_tungstenite::tungstenite::{self, client::IntoClientRequest};

roost_server::backend_tests!(
    members_receive_every_mutation_and_non_members_never_do,
    chat_creation_is_announced_to_its_members,
    heartbeats_arrive_at_the_configured_interval_and_pings_are_answered,
    the_stream_refuses_missing_or_bad_tokens_before_upgrading,
    stopping_the_server_closes_the_stream,
);

async fn connect(server: &TestServer, user: &str) -> Socket {
    connect_stream(&server.base_url(), &server.token(user)).await
}

/// The next event that is not a heartbeat.
async fn next_non_heartbeat(socket: &mut Socket) -> StreamEvent {
    loop {
        match next_event(socket)
            .await
            .expect("socket closed unexpectedly")
        {
            StreamEvent::Heartbeat { .. } => continue,
            other => return other,
        }
    }
}

/// The next event that is not a heartbeat nor the announcement of a chat that already existed
/// when the socket connected. On PostgreSQL events travel through LISTEN/NOTIFY, so a chat's
/// creation can be announced just after a socket that connected later said hello; announcing a
/// chat twice is harmless (clients upsert it), so the tests about messages skip it.
async fn next_after_known_chats(socket: &mut Socket, known: &[ChatId]) -> StreamEvent {
    loop {
        match next_non_heartbeat(socket).await {
            StreamEvent::Chat { chat } if known.contains(&chat.id) => continue,
            other => return other,
        }
    }
}

async fn expect_hello(socket: &mut Socket, user: &str) {
    match next_event(socket).await {
        Some(StreamEvent::Hello {
            user_id,
            protocol,
            heartbeat_ms,
        }) => {
            assert_eq!(user_id, UserId::new(user));
            assert_eq!(protocol, PROTOCOL_VERSION);
            assert!(heartbeat_ms > 0);
        }
        other => panic!("expected hello, got {other:?}"),
    }
}

async fn members_receive_every_mutation_and_non_members_never_do(backend: TestBackend) {
    let server = spawn_test_server_on(&backend).await;
    let chat = server.create_chat("Live", &["alice", "bob"]).await;
    let carols_chat = server.create_chat("Carol only", &["carol"]).await;
    let mut bob = connect(&server, "bob").await;
    let mut carol = connect(&server, "carol").await;
    expect_hello(&mut bob, "bob").await;
    expect_hello(&mut carol, "carol").await;

    let alice = Client::new(&server, "alice");
    let sent: MessageResponse = alice.send_text(chat, "s-1", "hello bob").await.parse();
    let edited: MessageResponse = alice
        .patch(
            &format!("/v1/chats/{chat}/messages/{}", sent.message.id),
            &serde_json::json!({"body": {"text": "hello, bob"}}),
        )
        .await
        .parse();
    let deleted: MessageResponse = alice
        .delete(&format!("/v1/chats/{chat}/messages/{}", sent.message.id))
        .await
        .parse();

    for expected in [&sent, &edited, &deleted] {
        match next_after_known_chats(&mut bob, &[chat]).await {
            StreamEvent::Message {
                chat_id,
                last_seq,
                rev,
                message,
            } => {
                assert_eq!(
                    (chat_id, last_seq, rev),
                    (chat, expected.last_seq, expected.rev)
                );
                assert_eq!(message, expected.message);
            }
            other => panic!("expected a message event, got {other:?}"),
        }
    }
    assert_eq!(deleted.message.version, 3);

    // Carol's first message event is from her own chat: nothing of alice and bob's chat leaked.
    let mine = server.send("carol", carols_chat, "talking to myself").await;
    match next_after_known_chats(&mut carol, &[carols_chat]).await {
        StreamEvent::Message {
            chat_id, message, ..
        } => {
            assert_eq!(chat_id, carols_chat);
            assert_eq!(message, mine);
        }
        other => panic!("expected carol's own message, got {other:?}"),
    }
}

async fn chat_creation_is_announced_to_its_members(backend: TestBackend) {
    let server = spawn_test_server_on(&backend).await;
    let mut bob = connect(&server, "bob").await;
    expect_hello(&mut bob, "bob").await;
    let alice = Client::new(&server, "alice");
    let created: ChatSummary = alice
        .post(
            "/v1/chats",
            &serde_json::json!({"title": "New", "members": ["bob"]}),
        )
        .await
        .parse();
    match next_non_heartbeat(&mut bob).await {
        StreamEvent::Chat { chat } => assert_eq!(chat, created),
        other => panic!("expected a chat event, got {other:?}"),
    }
}

async fn heartbeats_arrive_at_the_configured_interval_and_pings_are_answered(backend: TestBackend) {
    let server = spawn_test_server_on_with(&backend, |config| {
        config.heartbeat_interval = Duration::from_millis(50)
    })
    .await;
    let mut alice = connect(&server, "alice").await;
    match next_event(&mut alice).await {
        Some(StreamEvent::Hello { heartbeat_ms, .. }) => assert_eq!(heartbeat_ms, 50),
        other => panic!("expected hello, got {other:?}"),
    }
    alice
        .send(tungstenite::Message::Ping(b"are you there".to_vec().into()))
        .await
        .unwrap();
    let mut heartbeats = 0;
    let mut pong = false;
    while heartbeats < 2 || !pong {
        match alice.next().await.expect("open").expect("frame") {
            tungstenite::Message::Text(text) => {
                assert!(matches!(
                    serde_json::from_str::<StreamEvent>(text.as_str()).unwrap(),
                    StreamEvent::Heartbeat { .. }
                ));
                heartbeats += 1;
            }
            tungstenite::Message::Pong(payload) => {
                assert_eq!(payload.as_ref(), b"are you there");
                pong = true;
            }
            other => panic!("unexpected frame {other:?}"),
        }
    }
    assert!(server.metrics().route("stream").bytes > 0);
}

async fn the_stream_refuses_missing_or_bad_tokens_before_upgrading(backend: TestBackend) {
    let server = spawn_test_server_on(&backend).await;
    let url = format!("ws://{}/v1/stream", server.addr());
    for header in [None, Some("Bearer wrong")] {
        let mut request = url.clone().into_client_request().unwrap();
        if let Some(header) = header {
            request
                .headers_mut()
                .insert("authorization", header.parse().unwrap());
        }
        match tokio_tungstenite::connect_async(request).await {
            Err(tungstenite::Error::Http(response)) => {
                assert_eq!(response.status(), 401);
                let body: ErrorBody =
                    serde_json::from_slice(response.body().as_deref().unwrap()).unwrap();
                assert_eq!(body.error.kind, ErrorKind::Unauthorized);
            }
            other => panic!("expected a 401, got {other:?}"),
        }
    }
}

async fn stopping_the_server_closes_the_stream(backend: TestBackend) {
    let mut server = spawn_test_server_on(&backend).await;
    let mut alice = connect(&server, "alice").await;
    expect_hello(&mut alice, "alice").await;
    server.stop().await;
    assert_eq!(next_event(&mut alice).await, None, "closed by the server");
}
