//! `roost leave`, `roost forget` and the `left` field of `roost chats --json`, with the built
//! binary against a real test server.

mod common;
use common::roost;
use roost_server::testing::spawn_test_server;
use serde_json::Value;

fn listed<'a>(chats: &'a Value, title: &str) -> Option<&'a Value> {
    chats["chats"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["title"] == title)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leave_keeps_the_chat_readable_and_marked_left_until_forget_removes_it() {
    let ts = spawn_test_server().await;
    let chat = ts.create_chat("Book club", &["bob", "alice"]).await;
    ts.send_many("bob", chat, 8).await;
    let dir = tempfile::tempdir().unwrap();
    let (url, token) = (ts.base_url(), ts.token("alice"));
    let run = |args: &'static [&'static str]| roost(&url, &token, dir.path(), args);

    assert!(run(&["resync", "Book club"]).await.0);
    let (ok, chats) = run(&["chats"]).await;
    assert!(ok, "{chats}");
    assert_eq!(listed(&chats, "Book club").unwrap()["left"], false);

    let (ok, refused) = run(&["forget", "Book club"]).await;
    assert!(!ok, "a chat one is a member of is not removed: {refused}");
    assert_eq!(refused["error"]["kind"], "invalid_input");

    let (ok, left) = run(&["leave", "Book club"]).await;
    assert!(ok, "{left}");
    assert_eq!(left["left"], true);
    let journal = ts.membership_journal(chat).await;
    assert_eq!(journal.len(), 1, "the server recorded alice leaving");

    let (ok, chats) = run(&["chats"]).await;
    assert!(ok, "{chats}");
    let entry = listed(&chats, "Book club").expect("still on the device");
    assert_eq!(entry["left"], true);
    assert_eq!(entry["cached_count"], 8);
    let (ok, window) = run(&["open", "Book club"]).await;
    assert!(ok, "{window}");
    let (ok, refused) = run(&["resync", "Book club"]).await;
    assert!(!ok);
    assert_eq!(refused["error"]["kind"], "chat_left");

    let (ok, forgot) = run(&["forget", "Book club"]).await;
    assert!(ok, "{forgot}");
    let (ok, chats) = run(&["chats"]).await;
    assert!(ok);
    assert!(
        listed(&chats, "Book club").is_none(),
        "removed from the device: {chats}"
    );
}
