//! The desktop app's IPC contract: every type that crosses Tauri IPC between the shell
//! (`src-tauri/`) and the UI (`ui/`, wasm). Window items, anchors, sync states, outbox states
//! and seq ranges are the model's own types (the core uses the same ones), so the shell copies
//! nothing field by field; only shapes that genuinely differ (a chat row, an outbox row) are
//! built from the core's records.
//!
//! This module owns the *shape* of what the UI sees and nothing else. It is not part of the
//! network protocol (`/v1/`): changing it needs no `PROTOCOL.md` update, only the shell and the
//! UI moving together. Like the rest of the crate it must build for `wasm32-unknown-unknown`.
//!
//! Events are *changes* (a chat row changed, a seq span of a chat changed, a fetch started…),
//! never snapshots of the whole state: the UI applies them to what it already shows.

pub use crate::outbox::OutboxState;
pub use crate::ranges::{SeqRange, WindowItem};
pub use crate::sync_state::SyncState;
pub use crate::window::Anchor;
use roost_proto::{ChatId, Message, Seq, UnixMillis, UserId};
use serde::{Deserialize, Serialize};

/// How much of a chat is readable offline (the chat list's offline badge).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OfflineCoverage {
    /// Every seq `1 ..= last_seq` is cached.
    Complete,
    /// Some messages are cached, some are not.
    Partial,
    /// Nothing is cached.
    Empty,
}

impl OfflineCoverage {
    /// Coverage of a chat with `cached_count` cached messages out of `1 ..= last_seq`.
    pub fn of(cached_count: u64, last_seq: Seq) -> OfflineCoverage {
        if cached_count == 0 {
            OfflineCoverage::Empty
        } else if cached_count >= last_seq {
            OfflineCoverage::Complete
        } else {
            OfflineCoverage::Partial
        }
    }
}

/// One row of the chat list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatEntry {
    pub chat_id: ChatId,
    pub title: String,
    pub members: Vec<UserId>,
    pub unread_count: u64,
    /// Text preview of the newest cached message (`None` when nothing is cached).
    pub last_message_preview: Option<String>,
    pub last_message_at: Option<UnixMillis>,
    /// Highest seq known to exist (server's `last_seq`, or the newest cached seq if higher).
    pub last_seq: Seq,
    pub cached_count: u64,
    pub offline: OfflineCoverage,
    pub sync_state: SyncState,
    pub is_open: bool,
    /// The last time this chat had to be fully reloaded (the server could not serve ranges,
    /// or its copy on this device was damaged), shown as a note in the chat (issue 9).
    #[serde(default)]
    pub full_reload: Option<FullReloadInfo>,
    /// The user is no longer a member (left, removed, or no longer listed by the server): the
    /// chat stays readable here with what was cached, never synced, and cannot be written to.
    #[serde(default)]
    pub left: bool,
}

/// Why and when a chat was last fully reloaded; `reason` is a machine reason
/// (`server_cannot_serve_ranges`, `cache_corrupt…`), see `human::full_reload_sentence`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FullReloadInfo {
    pub reason: String,
    pub at: UnixMillis,
}

/// A message in the outbox (no seq: the server assigns it on delivery).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxItem {
    pub local_id: String,
    pub chat_id: ChatId,
    pub text: String,
    pub status: OutboxState,
    pub last_error: Option<String>,
    pub created_at: UnixMillis,
}

/// A chat window as rendered from the cache alone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatWindowView {
    pub chat: ChatEntry,
    pub items: Vec<WindowItem>,
    /// Unsent messages of this chat, oldest first.
    pub pending: Vec<OutboxItem>,
    /// More cached messages exist just before the first item (read from the cache on scroll).
    pub has_more_before: bool,
    /// More cached messages exist just after the last item.
    pub has_more_after: bool,
}

/// What is cached of one chat, for the cache map strip.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CacheMapView {
    pub chat_id: ChatId,
    /// The map covers `1 ..= last_seq`.
    pub last_seq: Seq,
    pub cached: Vec<SeqRange>,
    pub missing: Vec<SeqRange>,
    pub cached_count: u64,
}

/// Result of a manual resync.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResyncOutcome {
    pub chat_id: ChatId,
    pub messages_fetched: u64,
    pub changes_applied: u64,
    pub gaps_before: usize,
    pub gaps_after: usize,
    pub state: SyncState,
    /// Set when this was a full reload of the chat (never by default), with the reason.
    pub full_reload: Option<String>,
}

/// Result of loading one page of older history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoadOlderOutcome {
    pub chat_id: ChatId,
    pub fetched: u64,
    pub reached_start: bool,
}

/// The app's sign-in and connection state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppStatus {
    pub signed_in: bool,
    pub server_url: Option<String>,
    pub user_id: Option<UserId>,
    /// The stream is connected.
    pub online: bool,
}

/// Everything the shell pushes to the UI, in order, over one channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum UiEvent {
    /// A chat row changed (unread count, last message, position, sync state…); upsert it.
    ChatUpdated {
        chat: ChatEntry,
    },
    /// The cached content of `span` in this chat changed: replace whatever the UI shows for
    /// those seqs with `items` (which cover the span exactly).
    WindowChanged {
        chat_id: ChatId,
        span: SeqRange,
        items: Vec<WindowItem>,
    },
    SyncState {
        chat_id: ChatId,
        state: SyncState,
    },
    /// Missing messages of this chat are being fetched (the only time the indicator may show).
    FetchStarted {
        chat_id: ChatId,
    },
    FetchFinished {
        chat_id: ChatId,
        fetched: u64,
    },
    /// The stream connected (`true`) or was lost (`false`).
    Connection {
        online: bool,
    },
    /// An outbox entry changed; `message` is the server's copy once delivered.
    Outbox {
        item: OutboxItem,
        message: Option<Message>,
    },
    /// Signed in or out.
    Session {
        status: AppStatus,
    },
    /// A left chat was removed from this device: drop its row (and close it if open).
    ChatRemoved {
        chat_id: ChatId,
    },
    /// Events were lost (the UI fell behind): reload the chat list and the open window.
    Reload,
}

/// Every error a command returns: `{"kind": …, "message": …}`. The UI matches on `kind`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IpcError {
    pub kind: IpcErrorKind,
    pub message: String,
}

/// Machine-readable error kind of [`IpcError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IpcErrorKind {
    /// No server/token configured yet.
    NotSignedIn,
    /// The server could not be reached.
    Offline,
    /// The server rejected the token.
    Unauthorized,
    NotFound,
    InvalidInput,
    /// Only the author may change a message, or it was deleted meanwhile.
    Forbidden,
    /// The server answered with another error.
    Server,
    /// The local cache failed.
    Cache,
    Internal,
    /// A kind this UI does not know (sent by a newer shell).
    #[serde(other)]
    Unknown,
}

impl std::fmt::Display for IpcError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use roost_proto::ChatId;

    #[test]
    fn offline_coverage_of_counts() {
        assert_eq!(OfflineCoverage::of(0, 0), OfflineCoverage::Empty);
        assert_eq!(OfflineCoverage::of(0, 10), OfflineCoverage::Empty);
        assert_eq!(OfflineCoverage::of(4, 10), OfflineCoverage::Partial);
        assert_eq!(OfflineCoverage::of(10, 10), OfflineCoverage::Complete);
    }

    #[test]
    fn error_and_event_shapes() {
        let e = IpcError {
            kind: IpcErrorKind::NotSignedIn,
            message: "sign in first".into(),
        };
        assert_eq!(
            serde_json::to_string(&e).unwrap(),
            r#"{"kind":"not_signed_in","message":"sign in first"}"#
        );
        let unknown: IpcError =
            serde_json::from_str(r#"{"kind":"brand_new","message":"x"}"#).unwrap();
        assert_eq!(unknown.kind, IpcErrorKind::Unknown);
        let ev = UiEvent::FetchStarted {
            chat_id: ChatId(uuid::Uuid::nil()),
        };
        assert_eq!(
            serde_json::to_string(&ev).unwrap(),
            r#"{"type":"fetch_started","chat_id":"00000000-0000-0000-0000-000000000000"}"#
        );
        let item = WindowItem::Gap { from: 3, to: 5 };
        assert_eq!(
            serde_json::to_string(&item).unwrap(),
            r#"{"type":"gap","from":3,"to":5}"#
        );
        assert_eq!(
            serde_json::to_string(&Anchor::Around { seq: 7 }).unwrap(),
            r#"{"type":"around","seq":7}"#
        );
    }
}
