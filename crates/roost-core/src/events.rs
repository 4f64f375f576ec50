//! What the engine reports: its events ([`ClientEvent`], every message they mention already
//! cached) and the reports of its operations (open, window, resync, older history, outbox).

use crate::store::{ChatRecord, CorruptionReport, OutboxEntry};
use crate::sync_state::SyncState;
use roost_model::WindowItem;
use roost_proto::{ChatId, Message, Seq};
use serde::Serialize;
use std::path::PathBuf;

/// What [`Client::open`] found.
#[derive(Debug, Clone, Serialize)]
pub struct OpenInfo {
    pub cache_path: PathBuf,
    /// The cache file was corrupt: moved aside, fresh cache created.
    pub corruption: Option<CorruptionReport>,
    /// Chats whose runs index disagreed with their messages and was rebuilt.
    pub repaired_chats: Vec<ChatId>,
    /// Chats whose cached rows were damaged (undecodable rows, an impossible cursor): their
    /// rows were dropped and they are flagged for a full resync, with why; no other chat was
    /// touched (`store::repair`).
    pub quarantined_chats: Vec<(ChatId, String)>,
    /// Chats flagged `needs_resync` (e.g. a resync interrupted by a crash): resumed in the
    /// background when `background` is on, else by the next `resync`.
    pub resumable_chats: Vec<ChatId>,
}

/// A chat as rendered from the cache alone.
#[derive(Debug, Clone, Serialize)]
pub struct ChatWindow {
    pub chat: ChatRecord,
    /// Ascending: messages, and `Gap`/`OlderHistory` markers exactly where seqs are missing.
    pub items: Vec<WindowItem>,
    /// Unsent messages of this chat (pending or failed), oldest first.
    pub pending: Vec<OutboxEntry>,
    /// Cached messages exist just below the first item (read them from the cache on scroll).
    pub has_more_before: bool,
    /// Cached messages exist just above the last item.
    pub has_more_after: bool,
}

/// What one resync did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResyncReport {
    pub chat_id: ChatId,
    /// Missing ranges (interior + trailing, + the newest page of an empty cache) at the start.
    pub gaps_before: usize,
    /// Missing ranges left after re-validation (0 when IN_SYNC).
    pub gaps_after: usize,
    /// Seqs missing at the start (the newest page of an empty cache counts as its size).
    pub missing_before: u64,
    /// Messages received from the range endpoint.
    pub messages_fetched: u64,
    /// Messages received from the changes endpoint (edits, deletes, creates in the span).
    pub changes_applied: u64,
    /// Cached messages fetched again by range because the changes journal no longer reached
    /// our cursor (re-validation; neither missing messages nor changes).
    pub revalidation_fetched: u64,
    /// HTTP requests and response-body bytes of this resync.
    pub requests: u64,
    pub bytes_received: u64,
    /// Why this was a full reload of the chat, when it was one (never by default).
    pub full_reload: Option<String>,
    /// Why the cached runs were re-validated with the range endpoint (changes journal too old).
    pub revalidated: Option<String>,
    pub state: SyncState,
}

/// What `load_older` did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LoadOlderReport {
    pub chat_id: ChatId,
    pub fetched: u64,
    /// Seq 1 is now cached (no older history remains).
    pub reached_start: bool,
    pub requests: u64,
    pub bytes_received: u64,
}

/// One outbox entry the server accepted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Delivered {
    pub local_id: String,
    /// The server's copy (now cached in place of the pending entry).
    pub message: Message,
}

/// What `flush_outbox` did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FlushReport {
    pub delivered: Vec<Delivered>,
    pub failed: Vec<OutboxEntry>,
    /// Still pending (the server is unreachable).
    pub pending: usize,
}

/// Everything the UI hears. Every message an event mentions is already in the cache.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientEvent {
    /// A chat row changed (last message, unread count, position, title…).
    ChatUpdated {
        chat: ChatRecord,
    },
    /// A left chat was removed from this device (every row of it is gone).
    ChatForgotten {
        chat_id: ChatId,
    },
    /// Cached messages of a chat were inserted or replaced.
    MessagesChanged {
        chat_id: ChatId,
        seqs: Vec<Seq>,
    },
    SyncStateChanged {
        chat_id: ChatId,
        state: SyncState,
    },
    /// Missing messages of this chat are being fetched: show the sync indicator. Emitted only
    /// around range fetches of missing seqs (resync gaps, newest page, older history), never for
    /// validation or changes calls.
    FetchStarted {
        chat_id: ChatId,
    },
    /// The fetch ended (successfully or not); `fetched` messages were merged.
    FetchFinished {
        chat_id: ChatId,
        fetched: u64,
    },
    /// The stream connected (`true`) or was lost (`false`).
    Connection {
        online: bool,
    },
    /// An outbox entry changed state; `message` is the server's copy once delivered.
    OutboxChanged {
        entry: OutboxEntry,
        message: Option<Message>,
    },
}
