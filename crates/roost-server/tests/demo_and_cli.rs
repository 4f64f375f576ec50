//! The `roost-server` binary: `demo` populates a realistic data set and is idempotent,
//! `add-user` prints a working token, `--db` refuses schemes it does not speak, demo-only tables
//! exist only in demo databases; and the library serves an in-memory database.

mod common;

use common::*;
use roost_proto::*;
use roost_server::db::{Backend, Db};
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

roost_server::backend_tests!(
    demo_populates_a_realistic_data_set_and_is_idempotent,
    add_user_prints_a_token_that_authenticates,
    demo_tables_exist_only_in_demo_databases,
    demo_times_are_in_the_past_and_the_chat_list_follows_them,
);

/// Runs `roost-server` in `dir` and returns whether it succeeded and its stderr.
fn roost_server_in(dir: &std::path::Path, args: &[&str]) -> (bool, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_roost-server"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run roost-server");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

async fn demo_populates_a_realistic_data_set_and_is_idempotent(backend: TestBackend) {
    let dir = tempfile::tempdir().unwrap();
    let db = backend.fresh_database(dir.path()).await;
    let db_arg = &db.to_arg();
    let run_demo = || -> Value {
        let output = roost_server(&["demo", "--db", db_arg, "--big-chat-messages", "3000"]);
        serde_json::from_str(&output).unwrap()
    };
    let first = run_demo();
    let second = run_demo();
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

    let server = roost_server::start(ServerConfig::new(db.clone()))
        .await
        .unwrap();
    let alice_token = users[0]["token"].as_str().unwrap();
    let alice = Client::at(&server.base_url(), alice_token);
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

async fn add_user_prints_a_token_that_authenticates(backend: TestBackend) {
    let dir = tempfile::tempdir().unwrap();
    let db = backend.fresh_database(dir.path()).await;
    let token = roost_server(&[
        "add-user",
        "erin",
        "--display-name",
        "Erin Smith",
        "--db",
        &db.to_arg(),
    ]);
    let token = token.trim();
    assert_eq!(token.len(), 64);
    let server = roost_server::start(ServerConfig::new(db)).await.unwrap();
    let me: MeResponse = Client::at(&server.base_url(), token)
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

/// Whether the database at `location` has a table named `table`.
async fn has_table(location: &DbLocation, table: &str) -> bool {
    let db = Db::open(location).await.unwrap();
    let sql = match db.backend {
        Backend::Sqlite => {
            "SELECT COUNT(*) AS n FROM sqlite_master WHERE type = 'table' AND name = $1"
        }
        Backend::Postgres => {
            "SELECT COUNT(*) AS n FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = $1"
        }
    };
    let count: i64 = sqlx::Row::get(
        &sqlx::query(sql)
            .bind(table)
            .fetch_one(&db.read)
            .await
            .unwrap(),
        "n",
    );
    db.close().await;
    count == 1
}

async fn demo_tables_exist_only_in_demo_databases(backend: TestBackend) {
    let dir = tempfile::tempdir().unwrap();
    let production = backend.fresh_database(dir.path()).await;
    roost_server(&["add-user", "erin", "--db", &production.to_arg()]);
    assert!(!has_table(&production, "demo_tokens").await);
    assert!(!has_table(&production, "demo_chats").await);
    assert!(
        has_table(&production, "users").await,
        "the check can see tables"
    );

    let demo_dir = tempfile::tempdir().unwrap();
    let demo = backend.fresh_database(demo_dir.path()).await;
    roost_server(&["demo", "--db", &demo.to_arg(), "--big-chat-messages", "10"]);
    assert!(has_table(&demo, "demo_tokens").await);
    assert!(has_table(&demo, "demo_chats").await);
}

#[test]
fn a_db_url_with_an_unsupported_scheme_is_a_clear_error_not_a_directory() {
    let dir = tempfile::tempdir().unwrap();
    for db in ["mysql://u@h:3306/db", "redis://h:6379"] {
        let (succeeded, stderr) = roost_server_in(dir.path(), &["add-user", "x", "--db", db]);
        assert!(!succeeded, "--db {db} must fail");
        assert!(
            stderr.contains("unsupported database URL scheme"),
            "--db {db}: {stderr}"
        );
    }
    // A PostgreSQL URL is taken for one (here unreachable), never for a SQLite path.
    let (succeeded, _) = roost_server_in(
        dir.path(),
        &[
            "add-user",
            "x",
            "--db",
            "postgres://u@unreachable.invalid:5432/db",
        ],
    );
    assert!(!succeeded);
    let created: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert!(created.is_empty(), "nothing may be created: {created:?}");
}

/// The demo's times are all in the past and consistent (an edit or delete never precedes the
/// message), so the chat list's order by last activity agrees with the times it shows.
async fn demo_times_are_in_the_past_and_the_chat_list_follows_them(backend: TestBackend) {
    let dir = tempfile::tempdir().unwrap();
    let db = backend.fresh_database(dir.path()).await;
    let out: Value = serde_json::from_str(&roost_server(&[
        "demo",
        "--db",
        &db.to_arg(),
        "--big-chat-messages",
        "3000",
    ]))
    .unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let server = roost_server::start(ServerConfig::new(db)).await.unwrap();
    let alice = Client::at(
        &server.base_url(),
        out["users"][0]["token"].as_str().unwrap(),
    );
    let list: ChatListResponse = alice.get("/v1/chats").await.parse();
    // The server pages the list in ascending chat id order (stable while a client pages, see
    // `store::reads`); ordering by last activity is the client's job (`roost_core::chat_list`).
    let ids: Vec<String> = list.chats.iter().map(|c| c.id.to_string()).collect();
    let mut ascending = ids.clone();
    ascending.sort();
    assert_eq!(
        ids, ascending,
        "the list is paged in ascending chat id order"
    );
    let distinct_times: std::collections::BTreeSet<i64> = list
        .chats
        .iter()
        .filter_map(|c| c.last_message_at)
        .collect();
    assert!(
        distinct_times.len() > 1,
        "the demo's chats have different last activity times: {distinct_times:?}"
    );
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
