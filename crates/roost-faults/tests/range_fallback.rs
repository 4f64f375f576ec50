//! SPEC rule 6 against a server that refuses range shapes (the fault proxy answers
//! `400 bad_request` to them, as an older or partial implementation would): the client fetches
//! each gap with the forward shape when `seqs` lists are refused, remembers that, and falls back
//! to a logged full reload of the chat — with its reason recorded — only when ranges are refused
//! altogether. Requests are counted by shape at the proxy; the cache is compared with the
//! server's copy.

mod common;

use common::config;
use roost_core::store::{CursorRule, IngestOptions, Position, Store};
use roost_core::{Client, ClientConfig};
use roost_faults::{FaultKind, FaultProxy, RangeShape, Route};
use roost_proto::{ChatId, Message};
use roost_server::testing::{TestServer, spawn_test_server};
use std::path::Path;

/// A chat of `n` messages on the server, of which the client's cache holds `cached` (server
/// copies, as if received earlier) with the server's current position.
async fn partial_chat(
    server: &TestServer,
    cache: &Path,
    n: usize,
    cached: &[(u64, u64)],
) -> ChatId {
    let chat = server.create_chat("fallback", &["alice", "bob"]).await;
    let all = server.send_many("bob", chat, n).await;
    let (last_seq, rev) = server.chat_position(chat).await;
    let keep: Vec<Message> = all
        .into_iter()
        .filter(|m| cached.iter().any(|(lo, hi)| m.seq >= *lo && m.seq <= *hi))
        .collect();
    let (store, _) = Store::open(cache).await.unwrap();
    let mut opts = IngestOptions::new(CursorRule::Snapshot(rev));
    opts.position = Some(Position { last_seq, rev });
    store.ingest(chat, &keep, &opts).await.unwrap();
    store.close().await;
    chat
}

fn foreground(proxy: &FaultProxy, server: &TestServer, cache: &Path) -> ClientConfig {
    config(&proxy.base_url(), &server.token("alice"), cache).background(false)
}

async fn assert_cache_is_the_servers(client: &Client, server: &TestServer, chat: ChatId) {
    let on_server = server.messages(chat).await;
    let cached = client
        .cached_messages(chat, 1, i64::MAX as u64)
        .await
        .unwrap();
    assert_eq!(cached, on_server, "the cache differs from the server");
}

#[tokio::test]
async fn refused_seqs_lists_fall_back_to_forward_ranges_per_gap_and_are_remembered() {
    let server = spawn_test_server().await;
    let proxy = FaultProxy::start(server.addr(), 11).await;
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache.db");
    // Gaps 11..=19 and 31..=60 in one chat; 6..=40 in another.
    let first = partial_chat(&server, &cache, 60, &[(1, 10), (20, 30)]).await;
    let second = partial_chat(&server, &cache, 40, &[(1, 5)]).await;
    proxy.refuse_range_shapes(&[RangeShape::Seqs]);
    let (client, _) = Client::open(foreground(&proxy, &server, &cache))
        .await
        .unwrap();

    let report = client.resync(first).await.unwrap();
    assert_eq!(report.full_reload, None);
    assert_eq!(report.messages_fetched, 9 + 30, "only the missing seqs");
    assert_cache_is_the_servers(&client, &server, first).await;
    let figures = proxy.figures();
    assert_eq!(
        figures.range_requests(RangeShape::Seqs),
        1,
        "asked once, refused"
    );
    assert_eq!(
        figures.range_requests(RangeShape::Forward),
        2,
        "one forward request per gap (each fits a page)"
    );
    assert_eq!(
        figures.count(FaultKind::RangeShapeRefused(RangeShape::Seqs)),
        1
    );
    assert_eq!(
        figures.messages(Route::Range),
        39,
        "the server served the missing seqs only"
    );

    // The refusal is remembered: the next chat's gap goes straight to the forward shape.
    let report = client.resync(second).await.unwrap();
    assert_eq!(report.messages_fetched, 35);
    assert_cache_is_the_servers(&client, &server, second).await;
    let figures = proxy.figures();
    assert_eq!(
        figures.range_requests(RangeShape::Seqs),
        1,
        "not asked again"
    );
    assert_eq!(figures.range_requests(RangeShape::Forward), 3);
    assert!(
        client
            .chat(first)
            .await
            .unwrap()
            .unwrap()
            .last_full_reload
            .is_none()
    );
}

#[tokio::test]
async fn a_server_that_refuses_every_range_shape_gets_a_logged_full_reload_with_its_reason() {
    let server = spawn_test_server().await;
    let proxy = FaultProxy::start(server.addr(), 12).await;
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache.db");
    let partial = partial_chat(&server, &cache, 50, &[(1, 10), (30, 35)]).await;
    let empty = partial_chat(&server, &cache, 20, &[]).await;
    // An edit and a delete inside the cached span come through the reload as well.
    let msgs = server.messages(partial).await;
    server.edit("bob", partial, msgs[2].id, "edited").await;
    server.delete("bob", partial, msgs[31].id).await;
    proxy.refuse_range_shapes(&RangeShape::ALL);
    let (client, _) = Client::open(foreground(&proxy, &server, &cache))
        .await
        .unwrap();

    let report = client.resync(partial).await.unwrap();
    assert_eq!(
        report.full_reload.as_deref(),
        Some("server_cannot_serve_ranges")
    );
    assert_cache_is_the_servers(&client, &server, partial).await;
    let record = client.chat(partial).await.unwrap().unwrap();
    assert_eq!(
        record.full_reload_reason, None,
        "cleared once the chat validated"
    );
    let note = record
        .last_full_reload
        .expect("the reload is recorded for the UI");
    assert_eq!(note.reason, "server_cannot_serve_ranges");
    assert!(note.at > 0);
    let figures = proxy.figures();
    assert_eq!(figures.range_requests(RangeShape::Seqs), 1);
    assert_eq!(figures.range_requests(RangeShape::Forward), 1);
    assert!(
        figures.responses(Route::Changes) >= 2,
        "changes pass + the reload"
    );

    // Remembered: a chat with nothing cached asks no range shape at all, and is reloaded.
    let before = proxy.figures();
    let report = client.resync(empty).await.unwrap();
    assert_eq!(
        report.full_reload.as_deref(),
        Some("server_cannot_serve_ranges")
    );
    assert_cache_is_the_servers(&client, &server, empty).await;
    let after = proxy.figures();
    for shape in [RangeShape::Seqs, RangeShape::Forward] {
        assert_eq!(
            after.range_requests(shape),
            before.range_requests(shape),
            "{shape:?}"
        );
    }
    assert_eq!(
        after.range_requests(RangeShape::Backward),
        before.range_requests(RangeShape::Backward) + 1,
        "the newest page is asked once, refused"
    );
}

#[tokio::test]
async fn refused_backward_pages_load_older_history_with_the_forward_shape() {
    let server = spawn_test_server().await;
    let proxy = FaultProxy::start(server.addr(), 13).await;
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache.db");
    let chat = partial_chat(&server, &cache, 120, &[(101, 120)]).await;
    proxy.refuse_range_shapes(&[RangeShape::Backward]);
    let (client, _) = Client::open(foreground(&proxy, &server, &cache))
        .await
        .unwrap();
    let report = client.load_older(chat).await.unwrap();
    assert!(report.fetched > 0);
    let cached = client.cached_messages(chat, 1, 100).await.unwrap();
    let on_server = server.messages(chat).await;
    let lo = cached.first().unwrap().seq;
    assert_eq!(cached, on_server[(lo - 1) as usize..100].to_vec());
    assert_eq!(proxy.figures().range_requests(RangeShape::Backward), 1);
    assert_eq!(proxy.figures().range_requests(RangeShape::Forward), 1);
}

/// The full reload pages through the changes journal: small pages, a long chat, edits.
#[tokio::test]
async fn a_full_reload_in_small_pages_brings_the_whole_chat() {
    let server = spawn_test_server().await;
    let proxy = FaultProxy::start(server.addr(), 14).await;
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache.db");
    let chat = partial_chat(&server, &cache, 138, &[(1, 20)]).await;
    let msgs = server.messages(chat).await;
    server.edit("bob", chat, msgs[5].id, "edited").await;
    server.send_many("bob", chat, 10).await;
    proxy.refuse_range_shapes(&RangeShape::ALL);
    let mut config = foreground(&proxy, &server, &cache);
    config.page_size = 7;
    let (client, _) = Client::open(config).await.unwrap();
    client.refresh_chats().await.unwrap();
    let report = client.resync(chat).await.unwrap();
    assert_eq!(
        report.full_reload.as_deref(),
        Some("server_cannot_serve_ranges")
    );
    assert_eq!(report.gaps_after, 0, "{report:?}");
    assert_cache_is_the_servers(&client, &server, chat).await;
}
