//! The built `roost` binary against a real test server: send then open, and open with the
//! server stopped (the cache answers; nothing waits for the network).

mod common;
use common::roost;
use roost_server::testing::spawn_test_server;
use serde_json::Value;

fn texts(window: &Value) -> Vec<String> {
    window["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["type"] == "message")
        .map(|i| {
            i["message"]["body"]["text"]
                .as_str()
                .unwrap_or("")
                .to_string()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_then_open_and_open_again_with_the_server_stopped() {
    let mut ts = spawn_test_server().await;
    let chat = ts.create_chat("General", &["alice", "bob"]).await;
    ts.send_many("bob", chat, 30).await;
    let dir = tempfile::tempdir().unwrap();
    let (url, token) = (ts.base_url(), ts.token("alice"));
    let roost_as_alice = async |args: &[&str]| roost(&url, &token, dir.path(), args).await;

    let (ok, sent) = roost_as_alice(&["send", "General", "hello from the cli"]).await;
    assert!(ok, "{sent}");
    assert_eq!(sent["state"], "delivered");
    assert_eq!(sent["message"]["seq"], 31);

    let (ok, report) = roost_as_alice(&["resync", "General"]).await;
    assert!(ok, "{report}");
    assert_eq!(report["gaps_after"], 0);
    assert_eq!(report["state"], "IN_SYNC");
    for key in [
        "gaps_before",
        "messages_fetched",
        "requests",
        "bytes_received",
    ] {
        assert!(report[key].is_u64(), "resync --json has {key}");
    }

    // Only seq 31 is cached (a resync never loads history nobody scrolled to); `older` does.
    let (ok, window) = roost_as_alice(&["open", "General", "--limit", "5"]).await;
    assert!(ok, "{window}");
    assert_eq!(window["items"][0]["type"], "older_history");
    assert_eq!(window["items"][0]["to"], 30);
    let (ok, older) = roost_as_alice(&["older", "General"]).await;
    assert!(ok, "{older}");
    assert_eq!(older["fetched"], 30);
    assert_eq!(older["reached_start"], true);

    let (ok, window) = roost_as_alice(&["open", "General", "--limit", "5"]).await;
    assert!(ok, "{window}");
    assert_eq!(texts(&window).last().unwrap(), "hello from the cli");
    assert_eq!(texts(&window).len(), 5);

    ts.stop().await;
    let (ok, offline) = roost_as_alice(&["open", "General", "--limit", "5"]).await;
    assert!(ok, "{offline}");
    assert_eq!(
        offline["items"], window["items"],
        "the cache answers with the server down"
    );

    let (ok, map) = roost_as_alice(&["cache-map", &chat.to_string()]).await;
    assert!(ok);
    assert_eq!(map["server_last_seq"], 31);
    assert_eq!(map["cached"], serde_json::json!([{"start": 1, "end": 31}]));
    assert_eq!(map["missing"], serde_json::json!([]));

    // A send while the server is down stays queued.
    let (ok, queued) = roost_as_alice(&["send", "General", "later"]).await;
    assert!(ok, "{queued}");
    assert_eq!(queued["state"], "pending");
    let (_, window) = roost_as_alice(&["open", "General"]).await;
    assert_eq!(window["pending"][0]["body"]["text"], "later");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_are_reported_as_kind_and_message() {
    let ts = spawn_test_server().await;
    let dir = tempfile::tempdir().unwrap();
    let (ok, err) = roost(
        &ts.base_url(),
        &ts.token("alice"),
        dir.path(),
        &["open", "No such chat"],
    )
    .await;
    assert!(!ok);
    assert_eq!(err["error"]["kind"], "not_found");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn human_output_says_sentences_while_json_keeps_kind_and_message() {
    let ts = spawn_test_server().await;
    let dir = tempfile::tempdir().unwrap();
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_roost"))
        .args([
            "--server",
            &ts.base_url(),
            "--token",
            "bogus-token",
            "--data-dir",
        ])
        .arg(dir.path())
        .arg("chats")
        .env_remove("ROOST_SERVER")
        .env_remove("ROOST_TOKEN")
        .output()
        .await
        .expect("run roost");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let first_line = stderr.lines().next().unwrap_or_default();
    assert_eq!(
        first_line,
        format!("roost: {}", roost_model::human::TOKEN_REFUSED),
        "{stderr}"
    );
    assert!(!stderr.contains("bogus-token"), "{stderr}");

    let (ok, err) = roost(&ts.base_url(), "bogus-token", dir.path(), &["chats"]).await;
    assert!(!ok);
    assert_eq!(err["error"]["kind"], "server");
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("unauthorized"),
        "{err}"
    );
}

/// Issue 9: `roost` picks the account's own cache — the file the desktop app picks for the
/// same server and token (`roost_core::account::resolve`) — so a message alice queued while
/// offline is never sent by `roost` run with bob's token, and bob never sees alice's chats.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_account_has_its_own_cache_and_the_cli_picks_the_apps_file() {
    let mut ts = spawn_test_server().await;
    let shared = ts.create_chat("Shared", &["alice", "bob"]).await;
    let private = ts.create_chat("Alice and Carol", &["alice", "carol"]).await;
    ts.send("carol", private, "for alice only").await;
    let dir = tempfile::tempdir().unwrap();
    let url = ts.base_url();
    let (alice, bob) = (ts.token("alice"), ts.token("bob"));

    let (ok, chats) = roost(&url, &alice, dir.path(), &["chats"]).await;
    assert!(ok, "{chats}");
    let (ok, _) = roost(&url, &alice, dir.path(), &["resync", &private.to_string()]).await;
    assert!(ok);
    // The file the app would open for alice (resolved offline: the token is known now).
    ts.stop().await;
    let app_file = roost_core::account::resolve(dir.path(), &url, &alice)
        .await
        .unwrap()
        .cache_path;
    assert!(app_file.exists(), "the CLI wrote {}", app_file.display());
    let (ok, queued) = roost(
        &url,
        &alice,
        dir.path(),
        &["send", &shared.to_string(), "queued by alice"],
    )
    .await;
    assert!(!ok || queued["state"] != "delivered", "{queued}");
    ts.restart().await;

    let (ok, bobs) = roost(&url, &bob, dir.path(), &["chats"]).await;
    assert!(ok, "{bobs}");
    let listed = bobs.to_string();
    assert!(
        !listed.contains(&private.to_string()),
        "bob sees alice's chat: {listed}"
    );
    let on_server = ts.messages(shared).await;
    assert!(
        !on_server
            .iter()
            .any(|m| m.text() == Some("queued by alice")),
        "alice's queued message was sent by bob's run"
    );
    // alice's queue is intact and goes out as hers.
    let (ok, _) = roost(
        &url,
        &alice,
        dir.path(),
        &["send", &shared.to_string(), "and another"],
    )
    .await;
    assert!(ok);
    let authors: Vec<_> = ts
        .messages(shared)
        .await
        .iter()
        .map(|m| {
            (
                m.author.as_str().to_string(),
                m.text().unwrap_or_default().to_string(),
            )
        })
        .collect();
    assert_eq!(
        authors,
        vec![
            ("alice".to_string(), "queued by alice".to_string()),
            ("alice".to_string(), "and another".to_string())
        ]
    );
}
