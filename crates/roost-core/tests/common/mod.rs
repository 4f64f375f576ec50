//! Helpers shared by the client scenario tests: a real server (roost_server::testing), real
//! SQLite caches in temporary directories, and waiting for client events (with a generous hang
//! guard, never a timed assertion).
#![allow(dead_code)]

use roost_core::store::{CursorRule, IngestOptions, Position, Store};
use roost_core::{Client, ClientConfig, ClientEvent, OpenInfo, SyncState};
use roost_proto::{ChatId, Message, Seq};
use roost_server::testing::TestServer;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::sync::broadcast::Receiver;

#[allow(unused_imports)]
pub use roost_server::testing::{spawn_test_server, spawn_test_server_with};

/// A temporary directory holding one client's cache.
pub struct CacheDir {
    pub dir: tempfile::TempDir,
}

impl CacheDir {
    pub fn new() -> CacheDir {
        CacheDir {
            dir: tempfile::tempdir().unwrap(),
        }
    }
    pub fn path(&self) -> PathBuf {
        self.dir.path().join("message_cache.db")
    }
}

pub fn config(ts: &TestServer, user: &str, cache: &Path, background: bool) -> ClientConfig {
    let mut c = ClientConfig::new(ts.base_url(), ts.token(user))
        .cache_path(cache)
        .background(background);
    c.user_id = Some(roost_proto::UserId::new(user));
    c
}

/// A foreground client (no background work: every request is one the test asked for).
pub async fn client_with_cache(ts: &TestServer, user: &str, cache: &Path) -> (Client, OpenInfo) {
    Client::open(config(ts, user, cache, false)).await.unwrap()
}

/// A client as the desktop app runs it: background work on.
pub async fn background_client(ts: &TestServer, user: &str, cache: &Path) -> (Client, OpenInfo) {
    Client::open(config(ts, user, cache, true)).await.unwrap()
}

/// A background client with its stream connected, and its events from before the connection.
pub async fn streaming_client(
    ts: &TestServer,
    user: &str,
    cache: &Path,
) -> (Client, Receiver<ClientEvent>) {
    let (client, _) = background_client(ts, user, cache).await;
    let mut events = client.subscribe();
    client.start_stream();
    wait_for(&mut events, |e| {
        matches!(e, ClientEvent::Connection { online: true })
    })
    .await;
    (client, events)
}

/// Writes `messages` (server copies) into the cache as if they had been received earlier,
/// with the chat's server position `pos`: a partial cache exactly as the test wants it.
pub async fn seed_cache(cache: &Path, chat: ChatId, messages: &[Message], pos: (Seq, u64)) {
    let (store, _) = Store::open(cache).await.unwrap();
    let mut opts = IngestOptions::new(CursorRule::Snapshot(pos.1));
    opts.position = Some(Position {
        last_seq: pos.0,
        rev: pos.1,
    });
    store.ingest(chat, messages, &opts).await.unwrap();
    store.close().await;
}

/// Server copies with seq in `lo..=hi`.
pub fn seqs(all: &[Message], lo: Seq, hi: Seq) -> Vec<Message> {
    all.iter()
        .filter(|m| m.seq >= lo && m.seq <= hi)
        .cloned()
        .collect()
}

/// Waits for the first event matching `pred` (hang guard: 60 s, a failure, not a measure).
pub async fn wait_for(
    rx: &mut Receiver<ClientEvent>,
    mut pred: impl FnMut(&ClientEvent) -> bool,
) -> ClientEvent {
    let fut = async {
        loop {
            match rx.recv().await {
                Ok(ev) if pred(&ev) => return ev,
                Ok(_) => {}
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(e) => panic!("event channel closed: {e}"),
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(60), fut)
        .await
        .expect("the expected client event never came")
}

pub fn is_state(ev: &ClientEvent, chat: ChatId, state: SyncState) -> bool {
    matches!(ev, ClientEvent::SyncStateChanged { chat_id, state: s } if *chat_id == chat && *s == state)
}

/// Cached messages of the chat over `lo..=hi`.
pub async fn cached(client: &Client, chat: ChatId, lo: Seq, hi: Seq) -> Vec<Message> {
    client.cached_messages(chat, lo, hi).await.unwrap()
}

/// The cache holds exactly the server's state of every seq in `lo..=hi`.
pub async fn assert_cache_equals_server(
    client: &Client,
    ts: &TestServer,
    chat: ChatId,
    lo: Seq,
    hi: Seq,
) {
    let server = seqs(&ts.messages(chat).await, lo, hi);
    let cache = cached(client, chat, lo, hi).await;
    assert_eq!(cache.len(), server.len(), "cached count over {lo}..={hi}");
    assert_eq!(
        cache, server,
        "cache differs from the server over {lo}..={hi}"
    );
}
