//! The `roost-server` binary: `demo` populates a realistic data set and is idempotent,
//! `add-user` prints a working token; and the library serves an in-memory database.

mod common;

use common::*;
use roost_proto::*;
use roost_server::{DbLocation, ServerConfig};
use serde_json::Value;
use std::process::Command;

fn roost_server(args: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_roost-server"))
        .args(args)
        .output()
        .expect("run roost-server");
    assert!(
        output.status.success(),
        "roost-server {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

fn client_for(base_url: &str, token: &str) -> Client {
    Client {
        base_url: base_url.to_owned(),
        token: Some(token.to_owned()),
        http: reqwest::Client::new(),
    }
}

#[tokio::test]
async fn demo_populates_a_realistic_data_set_and_is_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("demo.db");
    let db_arg = db.to_str().unwrap();
    let first: Value = serde_json::from_str(&roost_server(&[
        "demo",
        "--db",
        db_arg,
        "--big-chat-messages",
        "3000",
    ]))
    .unwrap();
    let second: Value = serde_json::from_str(&roost_server(&[
        "demo",
        "--db",
        db_arg,
        "--big-chat-messages",
        "3000",
    ]))
    .unwrap();
    assert_eq!(
        first["users"], second["users"],
        "same users and tokens on a re-run"
    );
    assert_eq!(first["chats"], second["chats"], "same chats on a re-run");
    assert_eq!(
        (first["created"].as_bool(), second["created"].as_bool()),
        (Some(true), Some(false))
    );
    assert_eq!(first["server_url"], "http://127.0.0.1:7878");

    let users = first["users"].as_array().unwrap();
    let handles: Vec<&str> = users
        .iter()
        .map(|u| u["user_id"].as_str().unwrap())
        .collect();
    assert_eq!(handles, vec!["alice", "bob", "carol", "dave"]);
    let chats = first["chats"].as_array().unwrap();
    assert!(chats.len() >= 6);
    assert!(
        chats.iter().any(|c| !c["members"]
            .as_array()
            .unwrap()
            .contains(&Value::from("alice"))),
        "one chat without alice"
    );

    let server = roost_server::start(ServerConfig::new(DbLocation::File(db.clone())))
        .await
        .unwrap();
    let alice_token = users[0]["token"].as_str().unwrap();
    let alice = client_for(&server.base_url(), alice_token);
    let me: MeResponse = alice.get("/v1/me").await.parse();
    assert_eq!(me.display_name, "Alice Martin");
    let list: ChatListResponse = alice.get("/v1/chats").await.parse();
    assert_eq!(list.chats.len(), chats.len() - 1);
    let general = list
        .chats
        .iter()
        .find(|c| c.title == "General")
        .expect("the big chat");
    assert_eq!(general.last_seq, 3000);
    assert!(general.rev > 3000, "some messages were edited or deleted");
    let changes: ChangesResponse = alice
        .get(&format!("/v1/chats/{}/changes?since_rev=3000", general.id))
        .await
        .parse();
    let ChangesResponse::Changes { messages, .. } = changes else {
        panic!("expected changes")
    };
    assert!(messages.iter().any(|m| m.is_deleted()));
    assert!(messages.iter().any(|m| !m.is_deleted() && m.version == 2));
    let newest: MessagesPage = alice
        .get(&format!("/v1/chats/{}/messages", general.id))
        .await
        .parse();
    assert_eq!(newest.messages.len(), 100);
    assert!(
        newest
            .messages
            .iter()
            .all(|m| m.is_deleted() || m.text().is_some_and(|t| !t.is_empty()))
    );
    server.shutdown().await;
}

#[tokio::test]
async fn add_user_prints_a_token_that_authenticates() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("users.db");
    let token = roost_server(&[
        "add-user",
        "erin",
        "--display-name",
        "Erin Smith",
        "--db",
        db.to_str().unwrap(),
    ]);
    let token = token.trim();
    assert_eq!(token.len(), 64);
    let server = roost_server::start(ServerConfig::new(DbLocation::File(db)))
        .await
        .unwrap();
    let me: MeResponse = client_for(&server.base_url(), token)
        .get("/v1/me")
        .await
        .parse();
    assert_eq!(
        (me.user_id, me.display_name.as_str()),
        (UserId::new("erin"), "Erin Smith")
    );
    server.shutdown().await;
}

#[tokio::test]
async fn an_in_memory_database_serves_like_a_file() {
    let server = spawn_test_server_with(|config| config.db = DbLocation::Memory).await;
    let chat = server.create_chat("Ephemeral", &["alice", "bob"]).await;
    let alice = Client::new(&server, "alice");
    let sent: MessageResponse = alice.send_text(chat, "m", "in memory").await.parse();
    assert_eq!(sent.message.seq, 1);
    let page: MessagesPage = Client::new(&server, "bob")
        .get(&format!("/v1/chats/{chat}/messages"))
        .await
        .parse();
    assert_eq!(page.messages, vec![sent.message]);
}

/// The demo's times are all in the past and consistent (an edit or delete never precedes the
/// message), so the chat list's order by last activity agrees with the times it shows.
#[tokio::test]
async fn demo_times_are_in_the_past_and_the_chat_list_follows_them() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("demo.db");
    let out: Value = serde_json::from_str(&roost_server(&[
        "demo",
        "--db",
        db.to_str().unwrap(),
        "--big-chat-messages",
        "3000",
    ]))
    .unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let server = roost_server::start(ServerConfig::new(DbLocation::File(db.clone())))
        .await
        .unwrap();
    let alice = client_for(
        &server.base_url(),
        out["users"][0]["token"].as_str().unwrap(),
    );
    let list: ChatListResponse = alice.get("/v1/chats").await.parse();
    let times: Vec<i64> = list
        .chats
        .iter()
        .map(|c| c.last_message_at.unwrap_or(i64::MIN))
        .collect();
    let mut sorted = times.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(times, sorted, "the list is ordered by last activity");
    for chat in &list.chats {
        if let Some(at) = chat.last_message_at {
            assert!(
                at <= now,
                "{}: last_message_at {at} is after now {now}",
                chat.title
            );
        }
        let page: MessagesPage = alice
            .get(&format!("/v1/chats/{}/messages?limit=500", chat.id))
            .await
            .parse();
        for m in &page.messages {
            let changed = m.edited_at.into_iter().chain(m.deleted_at);
            assert!(
                m.created_at <= now,
                "{} seq {}: created in the future",
                chat.title,
                m.seq
            );
            for at in changed {
                assert!(
                    m.created_at <= at && at <= now,
                    "{} seq {}: created {} changed {at} (now {now})",
                    chat.title,
                    m.seq,
                    m.created_at
                );
            }
        }
    }
    server.shutdown().await;
}
