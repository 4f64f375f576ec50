//! A damaged `message_cache.db` (truncated, garbage, clobbered header, not a database at all)
//! is detected at open, moved aside — never deleted, byte for byte what was there — and a fresh
//! cache is created with a logged reason; the client still starts, and the chats are rebuilt
//! from the server (a justified full resync of each, with its reason). What still reads of the
//! damaged file is salvaged into the fresh one: garbage over any page range loses only the chats
//! whose own pages it hit, even when it hits the schema (`store::salvage`).

mod common;

use rand::{Rng, SeedableRng};
use roost_core::Client;
use roost_proto::ChatId;
use roost_server::testing::{TestServer, spawn_test_server};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Collects every log line written while it is the default subscriber.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Captured {
        self.clone()
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

/// A good cache of two chats (newest pages), closed.
async fn good_cache(server: &TestServer, dir: &Path) -> (PathBuf, Vec<ChatId>) {
    let mut chats = Vec::new();
    for i in 0..2 {
        let chat = server
            .create_chat(&format!("corrupt {i}"), &["bob", "alice"])
            .await;
        server.send_many("bob", chat, 60 + 80 * i).await;
        chats.push(chat);
    }
    let cache = dir.join("message_cache.db");
    let mut config = common::config(&server.base_url(), &server.token("alice"), &cache);
    config.background = false;
    let (client, _) = Client::open(config).await.unwrap();
    client.refresh_chats().await.unwrap();
    for chat in &chats {
        client.resync(*chat).await.unwrap();
    }
    client.send(chats[0], "unsent while offline").await.unwrap(); // an outbox entry
    client.shutdown().await;
    drop(client);
    (cache, chats)
}

fn damage(kind: &str, bytes: &[u8]) -> Vec<u8> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(kind.len() as u64);
    match kind {
        "truncated" => bytes[..bytes.len() / 3].to_vec(),
        "garbage" => (0..bytes.len()).map(|_| rng.random::<u8>()).collect(),
        "clobbered header" => {
            let mut out = bytes.to_vec();
            for b in &mut out[..100] {
                *b = rng.random();
            }
            out
        }
        "not a database" => b"these are not the bytes you are looking for\n".to_vec(),
        "garbage tail" => {
            // The last quarter (page-aligned): message pages, while the header and the first
            // pages (schema, chats) stay readable, so something can be salvaged.
            let mut out = bytes.to_vec();
            let page = 4096;
            let from = (bytes.len() * 3 / 4) / page * page;
            for b in &mut out[from..] {
                *b = rng.random();
            }
            out
        }
        other => unreachable!("{other}"),
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_corrupt_cache_is_moved_aside_and_rebuilt_from_the_server() {
    corrupt_and_rebuild(&["truncated", "garbage", "clobbered header", "not a database"]).await;
}

/// Garbage over the last quarter of the file (page-aligned). On a small cache that is where the
/// schema's leaf pages sit (after the ~20 root pages of an auto-vacuum file, since the search
/// tables outgrew page 1): SQLite then refused the whole file and nothing was salvaged (~5
/// layouts in 6); the salvage now reads past a damaged schema (`store::salvage`).
#[tokio::test(flavor = "current_thread")]
async fn a_cache_with_a_garbage_tail_is_salvaged_chat_by_chat() {
    corrupt_and_rebuild(&["garbage tail"]).await;
}

async fn corrupt_and_rebuild(kinds: &[&str]) {
    let server = spawn_test_server().await;
    let mut summary = Vec::new();
    for &kind in kinds {
        let dir = tempfile::tempdir().unwrap();
        let (cache, chats) = good_cache(&server, dir.path()).await;
        let good = std::fs::read(&cache).unwrap();
        let damaged = damage(kind, &good);
        std::fs::write(&cache, &damaged).unwrap();
        for side in ["-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{side}", cache.display()));
        }

        let logs = Captured::default();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(logs.clone())
            .with_ansi(false)
            .finish();
        let _guard = tracing::subscriber::set_default(subscriber);

        let mut config = common::config(&server.base_url(), &server.token("alice"), &cache);
        config.background = false;
        let (client, info) = Client::open(config)
            .await
            .unwrap_or_else(|e| panic!("{kind}: the client must still start: {e}"));
        let report = info
            .corruption
            .clone()
            .unwrap_or_else(|| panic!("{kind}: corruption not detected"));
        assert!(!report.reason.is_empty());
        assert!(
            report.moved_to.exists(),
            "{kind}: the damaged file must be kept"
        );
        assert!(
            std::fs::read(&report.moved_to).unwrap() == damaged,
            "{kind}: moved aside byte for byte"
        );
        assert!(
            logs.text().contains("corrupt")
                && logs.text().contains(&report.moved_to.display().to_string()),
            "{kind}: the reason must be logged; logs: {}",
            logs.text()
        );
        assert!(
            common::read_cache(&cache).await.unwrap().integrity == ["ok"],
            "{kind}: the fresh cache is sound"
        );

        if kind == "garbage tail" {
            assert!(
                report.salvaged_chats >= chats.len(),
                "{kind}: the readable chat rows must be salvaged: {report:?}"
            );
            let outbox = client.outbox(None).await.unwrap();
            assert!(
                outbox
                    .iter()
                    .any(|e| e.body["text"] == "unsent while offline"),
                "{kind}: the unsent message must survive: {outbox:?}"
            );
        }
        // Rebuilt from the server: every chat, with a reason when its rows were salvaged.
        client.refresh_chats().await.unwrap();
        for chat in &chats {
            let resync = client
                .resync(*chat)
                .await
                .unwrap_or_else(|e| panic!("{kind}: resync after rebuild: {e}"));
            if report.salvaged_chats > 0 {
                assert!(
                    resync.full_reload.is_some(),
                    "{kind}: a full reload must say why: {resync:?}"
                );
            }
            let cached = common::cached(&client, *chat).await;
            let truth = server.messages(*chat).await;
            let check = common::compare_chat(*chat, &cached, &truth, &common::Holdings::new());
            assert!(check.problems.is_empty(), "{kind}: {:?}", check.problems);
            assert!(!cached.is_empty());
        }
        summary.push(format!(
            "{kind}: moved to {}, reason {:?}, salvaged {} chats / {} outbox",
            report.moved_to.file_name().unwrap().to_string_lossy(),
            report.reason,
            report.salvaged_chats,
            report.salvaged_outbox
        ));
        client.shutdown().await;

        // Opening again: nothing corrupt any more, and the damaged file is still there.
        let mut config = common::config(&server.base_url(), &server.token("alice"), &cache);
        config.background = false;
        let (client, info) = Client::open(config).await.unwrap();
        assert!(
            info.corruption.is_none(),
            "{kind}: the rebuilt cache judged corrupt again"
        );
        assert!(report.moved_to.exists());
        client.shutdown().await;
    }
    println!("{}", summary.join("\n"));
}

/// Where a cache's rows live: for each chat, the pages SQLite must read to give its history
/// back (its `messages` leaf pages, every interior page of `messages`, the `chats` pages); the
/// `outbox` pages. Read from the good file with `dbstat`.
struct Layout {
    page_size: usize,
    pages: usize,
    needed: Vec<(ChatId, Vec<usize>)>,
    outbox: Vec<usize>,
    chats: Vec<usize>,
}

async fn layout_of(cache: &Path, chats: &[ChatId]) -> Layout {
    let bytes = std::fs::read(cache).unwrap();
    let page_size = match u16::from_be_bytes([bytes[16], bytes[17]]) {
        1 => 65_536,
        n => n as usize,
    };
    let opts = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(cache)
        .read_only(true)
        .immutable(true);
    let pool = sqlx::sqlite::SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(opts)
        .await
        .unwrap();
    let stat: Vec<(String, i64, Option<String>)> =
        sqlx::query_as("SELECT name, pageno, pagetype FROM dbstat")
            .fetch_all(&pool)
            .await
            .unwrap();
    pool.close().await;
    let pages_of = |table: &str| -> Vec<usize> {
        stat.iter()
            .filter(|(name, _, _)| name == table)
            .map(|(_, page, _)| *page as usize)
            .collect()
    };
    let holds = |page: usize, chat: ChatId| {
        let id = chat.to_string();
        bytes[(page - 1) * page_size..page * page_size]
            .windows(id.len())
            .any(|w| w == id.as_bytes())
    };
    let chat_pages = pages_of("chats");
    let needed = chats
        .iter()
        .map(|&chat| {
            let mut pages: Vec<usize> = stat
                .iter()
                .filter(|(name, _, _)| name == "messages")
                .filter(|(_, page, kind)| {
                    kind.as_deref() == Some("internal") || holds(*page as usize, chat)
                })
                .map(|(_, page, _)| *page as usize)
                .collect();
            pages.extend(&chat_pages);
            (chat, pages)
        })
        .collect();
    Layout {
        page_size,
        pages: bytes.len() / page_size,
        needed,
        outbox: pages_of("outbox"),
        chats: chat_pages,
    }
}

/// `bytes` with pages `first..=last` (1-based) replaced by seeded garbage.
fn garbage_over(bytes: &[u8], page_size: usize, first: usize, last: usize) -> Vec<u8> {
    let mut rng = rand::rngs::StdRng::seed_from_u64((first * 1000 + last) as u64);
    let mut out = bytes.to_vec();
    for b in &mut out[(first - 1) * page_size..last * page_size] {
        *b = rng.random();
    }
    out
}

/// Garbage over every page range of the form "one page" and "from this page to the end" (page
/// 1, the header, excepted: see "clobbered header"), deterministic: every chat whose pages the
/// garbage missed comes back with its history byte for byte, a chat that comes back with rows
/// has exactly its rows, the others are empty and flagged for a full resync, and the unsent
/// message survives whenever the outbox's pages were missed. Whatever the damage hits — the
/// schema, the search index, the runs index, a pointer-map page — nothing else is lost.
#[tokio::test(flavor = "current_thread")]
async fn garbage_over_any_pages_loses_only_the_chats_whose_pages_it_hit() {
    let server = spawn_test_server().await;
    let dir = tempfile::tempdir().unwrap();
    let built = dir.path().join("built");
    std::fs::create_dir_all(&built).unwrap();
    let (good_cache, chats) = good_cache(&server, &built).await;
    let layout = layout_of(&good_cache, &chats).await;
    let good = std::fs::read(&good_cache).unwrap();
    let mut good_rows = Vec::new();
    for &chat in &chats {
        let rows = common::chat_rows(&good_cache, chat).await;
        assert!(!rows.is_empty());
        good_rows.push(rows);
    }
    let mut ranges: Vec<(usize, usize)> = Vec::new();
    for first in 2..=layout.pages {
        ranges.push((first, first));
        if first < layout.pages {
            ranges.push((first, layout.pages));
        }
    }
    let (mut detected, mut kept, mut lost, mut outbox_kept) = (0, 0, 0, 0);
    for (case, &(first, last)) in ranges.iter().enumerate() {
        let what = format!("garbage over pages {first}..={last} of {}", layout.pages);
        let hit = |pages: &[usize]| pages.iter().any(|p| (first..=last).contains(p));
        let case_dir = dir.path().join(format!("case-{case}"));
        std::fs::create_dir_all(&case_dir).unwrap();
        let cache = case_dir.join("message_cache.db");
        let damaged = garbage_over(&good, layout.page_size, first, last);
        std::fs::write(&cache, &damaged).unwrap();

        let mut config = common::config(&server.base_url(), &server.token("alice"), &cache);
        config.background = false;
        let (client, info) = Client::open(config)
            .await
            .unwrap_or_else(|e| panic!("{what}: the client must still start: {e}"));
        if let Some(report) = &info.corruption {
            detected += 1;
            assert!(
                std::fs::read(&report.moved_to).unwrap() == damaged,
                "{what}: moved aside byte for byte"
            );
            if !hit(&layout.chats) {
                assert_eq!(report.salvaged_chats, chats.len(), "{what}: {report:?}");
            }
            if !hit(&layout.outbox) {
                assert_eq!(report.salvaged_outbox, 1, "{what}: {report:?}");
                outbox_kept += 1;
            }
        }
        for ((chat, needed), good_rows) in layout.needed.iter().zip(&good_rows) {
            let rows = common::chat_rows(&cache, *chat).await;
            if !hit(needed) {
                assert_eq!(&rows, good_rows, "{what}: chat {chat}'s pages were intact");
            }
            if rows.is_empty() {
                lost += 1;
                if let Some(record) = client.chat(*chat).await.unwrap() {
                    assert!(
                        record.needs_resync,
                        "{what}: chat {chat} lost its rows unflagged"
                    );
                }
            } else {
                kept += 1;
                assert_eq!(&rows, good_rows, "{what}: chat {chat} came back altered");
            }
        }
        client.shutdown().await;
    }
    println!(
        "garbage sweep: {} page ranges over a {}-page cache of {} chats: {detected} judged corrupt, \
         chats kept whole {kept}, chats emptied and flagged {lost}, outbox salvaged in {outbox_kept}",
        ranges.len(),
        layout.pages,
        chats.len()
    );
}
