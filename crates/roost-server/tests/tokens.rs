//! Token management: `roost-server revoke-token <user>` and `rotate-token <user>` (which prints
//! the new token). A revoked or replaced token is `401` on every endpoint at once, and the
//! user's open streams are closed promptly (within the server's token-check interval), while
//! other users' streams carry on.

mod common;

use common::*;
use futures_util::StreamExt;
use std::process::Command;
use std::time::Duration;
use tokio_tungstenite::tungstenite;

roost_server::backend_tests!(
    revoke_token_answers_401_and_closes_the_users_streams,
    rotate_token_prints_a_new_token_and_the_old_one_stops_working,
    revoking_an_unknown_user_is_an_error,
);

/// Runs the built `roost-server` binary; returns (success, stdout, stderr).
fn roost_server(args: &[&str]) -> (bool, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_roost-server"))
        .args(args)
        .output()
        .expect("run roost-server");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// A quick token check so "promptly" is short in tests.
async fn spawn(backend: &TestBackend) -> TestServer {
    spawn_test_server_on_with(backend, |config| {
        config.token_check_interval = Duration::from_millis(100);
    })
    .await
}

async fn connect(server: &TestServer, token: &str) -> Socket {
    let mut socket = connect_stream(&server.base_url(), token).await;
    match next_event(&mut socket).await {
        Some(roost_proto::StreamEvent::Hello { .. }) => socket,
        other => panic!("expected hello, got {other:?}"),
    }
}

/// Reads until the server closes the stream; returns the close code (None: dropped without
/// a close frame). Panics if it stays open for 30 s.
async fn closed_with(socket: &mut Socket) -> Option<u16> {
    let read = async {
        loop {
            match socket.next().await {
                Some(Ok(tungstenite::Message::Close(frame))) => {
                    return frame.map(|f| u16::from(f.code));
                }
                None | Some(Err(_)) => return None,
                Some(Ok(_)) => continue,
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(30), read)
        .await
        .expect("the stream of a revoked token stayed open")
}

/// Reads the stream until a message with `text` arrives; panics if it closes first (or
/// after 30 s).
async fn hears(socket: &mut Socket, text: &str) {
    let read = async {
        loop {
            match next_event(socket).await {
                Some(roost_proto::StreamEvent::Message { message, .. })
                    if message.text() == Some(text) =>
                {
                    return;
                }
                Some(_) => continue,
                None => panic!("the stream closed before {text:?} arrived"),
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(30), read)
        .await
        .unwrap_or_else(|_| panic!("{text:?} never arrived"));
}

async fn revoke_token_answers_401_and_closes_the_users_streams(backend: TestBackend) {
    let server = spawn(&backend).await;
    let chat = server.create_chat("General", &["alice", "bob"]).await;
    let mut alice_stream = connect(&server, &server.token("alice")).await;
    let mut bob_stream = connect(&server, &server.token("bob")).await;
    let (ok, stdout, stderr) = roost_server(&[
        "revoke-token",
        "alice",
        "--db",
        &server.config().db.to_arg(),
    ]);
    assert!(ok, "revoke-token failed: {stderr}");
    assert!(stdout.trim().is_empty(), "revoke prints no token: {stdout}");
    let alice = Client::new(&server, "alice");
    let reply = alice.get("/v1/me").await;
    assert_eq!(
        (reply.status.as_u16(), reply.error_kind().as_str()),
        (401, "unauthorized")
    );
    assert_eq!(alice.get("/v1/chats").await.status, 401);
    assert_eq!(closed_with(&mut alice_stream).await, Some(1008));
    // bob is untouched: his stream still carries the chat's events.
    server.send("bob", chat, "after alice's revocation").await;
    hears(&mut bob_stream, "after alice's revocation").await;
    assert_eq!(Client::new(&server, "bob").get("/v1/me").await.status, 200);
}

async fn rotate_token_prints_a_new_token_and_the_old_one_stops_working(backend: TestBackend) {
    let server = spawn(&backend).await;
    let old_token = server.token("alice");
    let mut old_stream = connect(&server, &old_token).await;
    let (ok, stdout, stderr) = roost_server(&[
        "rotate-token",
        "alice",
        "--db",
        &server.config().db.to_arg(),
    ]);
    assert!(ok, "rotate-token failed: {stderr}");
    let new_token = stdout.trim().to_owned();
    assert_eq!(new_token.len(), 64, "a 256-bit hex token: {stdout:?}");
    assert_ne!(new_token, old_token);
    let old = Client::with_token(&server, &old_token);
    assert_eq!(old.get("/v1/me").await.status, 401);
    let new = Client::with_token(&server, &new_token);
    let me = new.get("/v1/me").await;
    assert_eq!(me.status, 200);
    assert_eq!(me.json()["user_id"], "alice");
    assert_eq!(closed_with(&mut old_stream).await, Some(1008));
    // A stream opened with the new token stays open through later token checks.
    let mut new_stream = connect(&server, &new_token).await;
    let chat = server.create_chat("After rotation", &["alice"]).await;
    server.send("alice", chat, "for the new token").await;
    hears(&mut new_stream, "for the new token").await;
}

async fn revoking_an_unknown_user_is_an_error(backend: TestBackend) {
    let server = spawn(&backend).await;
    let db = server.config().db.to_arg();
    for command in ["revoke-token", "rotate-token"] {
        let (ok, stdout, stderr) = roost_server(&[command, "nobody", "--db", &db]);
        assert!(!ok, "{command} of an unknown user succeeded: {stdout}");
        assert!(stderr.contains("no user \"nobody\""), "{stderr}");
    }
}
