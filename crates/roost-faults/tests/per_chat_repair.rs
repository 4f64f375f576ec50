//! Per-chat repair (issue 9, SPEC scenario 4): damage confined to one chat — undecodable rows,
//! an impossible cursor, runs that disagree with the messages — repairs or quarantines that chat
//! only (its rows dropped, a full resync of it follows) while every other chat keeps its history
//! byte for byte and opens normally; a file SQLite itself calls damaged is salvaged chat by
//! chat. Damage is done with SQL and with byte edits of the closed file.

mod common;

use roost_core::{Anchor, Client};
use roost_proto::ChatId;
use roost_server::testing::{TestServer, spawn_test_server};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
use std::path::{Path, PathBuf};

const MARKER: &str = "MARKER-OF-THE-DAMAGED-CHAT";

/// Three chats fully cached, closed cleanly: the first (to be damaged) spans many pages and
/// holds [`MARKER`] in the middle.
async fn synced_cache(server: &TestServer, dir: &Path) -> (PathBuf, [ChatId; 3]) {
    let damaged = server.create_chat("damaged", &["bob", "alice"]).await;
    server.send_many("bob", damaged, 150).await;
    server.send("bob", damaged, MARKER).await;
    server.send_many("bob", damaged, 150).await;
    let kept = server.create_chat("kept", &["bob", "alice"]).await;
    server.send_many("bob", kept, 80).await;
    let other = server.create_chat("other", &["bob", "alice"]).await;
    server.send_many("bob", other, 50).await;
    let cache = dir.join("cache.db");
    let mut config = common::config(&server.base_url(), &server.token("alice"), &cache);
    config.background = false;
    let (client, _) = Client::open(config).await.unwrap();
    client.refresh_chats().await.unwrap();
    for chat in [damaged, kept, other] {
        client.resync(chat).await.unwrap();
        while !client.load_older(chat).await.unwrap().reached_start {}
    }
    client.shutdown().await;
    drop(client);
    (cache, [damaged, kept, other])
}

async fn execute(cache: &Path, sql: &str, chat: ChatId) {
    let opts = SqliteConnectOptions::new().filename(cache);
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(opts)
        .await
        .unwrap();
    sqlx::query(sql)
        .bind(chat.to_string())
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
}

async fn open(server: &TestServer, cache: &Path) -> (Client, roost_core::OpenInfo) {
    let mut config = common::config(&server.base_url(), &server.token("alice"), cache);
    config.background = false;
    Client::open(config).await.unwrap()
}

/// The undamaged chats: byte for byte as before, and they open with their whole history.
async fn assert_intact(
    client: &Client,
    cache: &Path,
    before: &[(ChatId, Vec<String>)],
    server: &TestServer,
) {
    for (chat, rows) in before {
        let window = client.window(*chat, Anchor::Newest, 30).await.unwrap();
        assert_eq!(
            window.chat.cached_count,
            server.messages(*chat).await.len() as u64
        );
        assert!(!window.chat.needs_resync, "an undamaged chat was flagged");
        assert_eq!(
            &common::chat_rows(cache, *chat).await,
            rows,
            "an undamaged chat's rows changed"
        );
    }
}

/// The damaged chat: empty, flagged for a full resync with why, recorded for the UI; a resync
/// brings its newest page back from the server.
async fn assert_quarantined_then_resynced(client: &Client, server: &TestServer, chat: ChatId) {
    let window = client.window(chat, Anchor::Newest, 30).await.unwrap();
    assert_eq!(window.chat.cached_count, 0);
    assert!(window.chat.needs_resync);
    let reason = window.chat.full_reload_reason.clone().unwrap();
    assert!(reason.starts_with("cache_corrupt"), "{reason}");
    assert_eq!(
        window.chat.last_full_reload.as_ref().unwrap().reason,
        reason
    );
    let report = client.resync(chat).await.unwrap();
    assert_eq!(report.full_reload.as_deref(), Some(reason.as_str()));
    let server_copy = server.messages(chat).await;
    let cached = client.cached_messages(chat, 1, u64::MAX / 2).await.unwrap();
    assert!(!cached.is_empty());
    assert_eq!(cached[..], server_copy[server_copy.len() - cached.len()..]);
    let record = client.chat(chat).await.unwrap().unwrap();
    assert_eq!(
        record.full_reload_reason, None,
        "cleared after the resync validated"
    );
    assert!(record.last_full_reload.is_some(), "kept for the UI");
}

#[tokio::test]
async fn damage_to_one_chat_by_sql_quarantines_or_repairs_that_chat_only() {
    let server = spawn_test_server().await;
    let cases = [
        (
            "undecodable body",
            "UPDATE messages SET body = '{\"text\": broken' WHERE chat_id = ? AND seq = 7",
            true,
        ),
        (
            "undecodable id",
            "UPDATE messages SET id = 'this-is-not-a-uuid-but-36-chars-long' WHERE chat_id = ? AND seq = 295",
            true,
        ),
        (
            "impossible cursor",
            "UPDATE chats SET changes_cursor = server_rev + 1000 WHERE chat_id = ?",
            true,
        ),
        (
            "runs disagree with messages",
            "UPDATE cached_runs SET end_seq = end_seq + 500 WHERE chat_id = ?",
            false,
        ),
    ];
    for (what, sql, quarantined) in cases {
        let dir = tempfile::tempdir().unwrap();
        let (cache, [damaged, kept, other]) = synced_cache(&server, dir.path()).await;
        let before = vec![
            (kept, common::chat_rows(&cache, kept).await),
            (other, common::chat_rows(&cache, other).await),
        ];
        execute(&cache, sql, damaged).await;
        let (client, info) = open(&server, &cache).await;
        assert!(
            info.corruption.is_none(),
            "{what}: the file is not moved aside"
        );
        if quarantined {
            assert_quarantined_then_resynced(&client, &server, damaged).await;
        } else {
            assert_eq!(info.repaired_chats, vec![damaged], "{what}");
            let window = client.window(damaged, Anchor::Newest, 30).await.unwrap();
            assert_eq!(
                window.chat.cached_count, 301,
                "{what}: rebuilt from its messages, nothing lost"
            );
        }
        assert_intact(&client, &cache, &before, &server).await;
        client.shutdown().await;
        println!(
            "per-chat repair: {what}: damaged chat {}, 2 other chats byte-identical",
            if quarantined {
                "quarantined and resynced"
            } else {
                "runs rebuilt"
            }
        );
    }
}

/// The byte offset of `needle` in `hay`.
fn find(hay: &[u8], needle: &[u8]) -> usize {
    hay.windows(needle.len())
        .position(|w| w == needle)
        .expect("the marker is in the file")
}

#[tokio::test]
async fn a_byte_edit_inside_one_chats_message_quarantines_that_chat_only() {
    let server = spawn_test_server().await;
    let dir = tempfile::tempdir().unwrap();
    let (cache, [damaged, kept, other]) = synced_cache(&server, dir.path()).await;
    let before = vec![
        (kept, common::chat_rows(&cache, kept).await),
        (other, common::chat_rows(&cache, other).await),
    ];
    // The opening quote of the marker's JSON string becomes a control byte: same length, so
    // SQLite sees a valid record (quick_check passes) whose body is no longer JSON.
    let mut bytes = std::fs::read(&cache).unwrap();
    let at = find(&bytes, MARKER.as_bytes());
    assert_eq!(bytes[at - 1], b'"');
    bytes[at - 1] = 0x01;
    std::fs::write(&cache, &bytes).unwrap();

    let (client, info) = open(&server, &cache).await;
    assert!(info.corruption.is_none());
    assert_eq!(info.quarantined_chats.len(), 1);
    assert_eq!(info.quarantined_chats[0].0, damaged);
    assert_quarantined_then_resynced(&client, &server, damaged).await;
    assert_intact(&client, &cache, &before, &server).await;
}

#[tokio::test]
async fn a_damaged_page_of_one_chat_moves_the_file_aside_and_every_other_chat_is_salvaged_whole() {
    common::init_tracing();
    let server = spawn_test_server().await;
    let dir = tempfile::tempdir().unwrap();
    let (cache, [damaged, kept, other]) = synced_cache(&server, dir.path()).await;
    let before = vec![
        (kept, common::chat_rows(&cache, kept).await),
        (other, common::chat_rows(&cache, other).await),
    ];
    // The b-tree page header of the leaf page holding the marker is overwritten: SQLite's own
    // check fails, and that page of the damaged chat can no longer be read.
    let mut bytes = std::fs::read(&cache).unwrap();
    let page_size = match u16::from_be_bytes([bytes[16], bytes[17]]) {
        1 => 65_536,
        n => n as usize,
    };
    // A leaf page of the messages b-tree (type 0x0A: an index leaf, as WITHOUT ROWID tables
    // are stored) holding rows of the damaged chat only (every row carries its chat id).
    let holds = |p: usize, chat: ChatId| {
        let id = chat.to_string();
        bytes[p * page_size..(p + 1) * page_size]
            .windows(id.len())
            .any(|w| w == id.as_bytes())
    };
    let pages = bytes.len() / page_size;
    let page = (1..pages)
        .filter(|&p| bytes[p * page_size] == 0x0A && holds(p, damaged))
        .filter(|&p| !holds(p, kept) && !holds(p, other))
        .nth(3)
        .expect("the damaged chat spans several leaf pages of its own");
    for b in &mut bytes[page * page_size..page * page_size + 12] {
        *b = 0xFF;
    }
    std::fs::write(&cache, &bytes).unwrap();

    let (client, info) = open(&server, &cache).await;
    let report = info.corruption.expect("SQLite calls the file damaged");
    assert!(report.moved_to.exists(), "moved aside, never deleted");
    assert_eq!(report.salvaged_chats, 3);
    assert_eq!(
        report.kept_chats, 2,
        "every chat but the damaged one kept its history"
    );
    assert_intact(&client, &cache, &before, &server).await;
    let window = client.window(damaged, Anchor::Newest, 30).await.unwrap();
    assert_eq!(window.chat.cached_count, 0);
    assert_eq!(
        window.chat.full_reload_reason.as_deref(),
        Some("cache_corrupt")
    );
    client.resync(damaged).await.unwrap();
    println!(
        "per-chat repair: damaged page: file moved aside, {} of {} chats kept whole, the damaged one resynced",
        report.kept_chats, report.salvaged_chats
    );
}
