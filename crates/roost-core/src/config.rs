//! How a [`crate::Client`] is started.

use roost_proto::{MAX_PAGE_SIZE, UserId};
use std::path::PathBuf;
use std::time::Duration;

/// How to start a [`Client`].
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// e.g. `http://127.0.0.1:7878`.
    pub server_url: String,
    pub token: String,
    /// The cache file; default `dirs::data_dir()/dev.roost.desktop/message_cache.db`.
    pub cache_path: PathBuf,
    /// The signed-in user, when known (else learnt from `GET /v1/me` and remembered).
    pub user_id: Option<UserId>,
    /// Background work: resume interrupted resyncs at open, validate (and resync) a chat after
    /// `open_chat`, deliver the outbox with retries. Off for one-shot tools (the CLI).
    pub background: bool,
    /// Resyncs running at once across chats.
    pub max_concurrent_syncs: usize,
    /// `limit` of range/changes requests made by a resync (≤ `MAX_PAGE_SIZE`).
    pub page_size: u32,
    pub request_timeout: Duration,
}

impl ClientConfig {
    pub fn new(server_url: impl Into<String>, token: impl Into<String>) -> Self {
        ClientConfig {
            server_url: server_url.into(),
            token: token.into(),
            cache_path: crate::store::default_cache_path(),
            user_id: None,
            background: true,
            max_concurrent_syncs: 4,
            page_size: MAX_PAGE_SIZE,
            request_timeout: Duration::from_secs(30),
        }
    }
    pub fn cache_path(mut self, path: impl Into<PathBuf>) -> Self {
        self.cache_path = path.into();
        self
    }
    pub fn background(mut self, on: bool) -> Self {
        self.background = on;
        self
    }
}
