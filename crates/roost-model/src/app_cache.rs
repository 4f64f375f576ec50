//! The IPC contract of search, verify & repair and the storage budget between the desktop shell
//! and the UI (beside `app`, which holds the rest of the contract). Not part of the wire
//! protocol.

use crate::ranges::SeqRange;
use roost_proto::{ChatId, MessageId, Seq, UnixMillis};
use serde::{Deserialize, Serialize};

/// One cached message that matched a search.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchHitView {
    pub chat_id: ChatId,
    pub chat_title: String,
    pub seq: Seq,
    pub message_id: MessageId,
    pub author: String,
    pub created_at: UnixMillis,
    pub text: String,
}

/// Seqs of one chat that are not on this device and so were not searched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotSearchedView {
    pub chat_id: ChatId,
    pub chat_title: String,
    pub ranges: Vec<SeqRange>,
    pub messages: u64,
}

/// The answer of the `search` command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchView {
    pub query: String,
    /// `None`: every chat.
    pub chat_id: Option<ChatId>,
    pub hits: Vec<SearchHitView>,
    pub truncated: bool,
    pub not_searched: Vec<NotSearchedView>,
}

/// The answer of `fetch_not_searched`: how many messages came in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FetchedView {
    pub fetched: u64,
    pub requests: u64,
    pub bytes_received: u64,
}

/// The answer of `verify_chat`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifyView {
    pub chat_id: ChatId,
    pub messages_compared: u64,
    pub buckets_compared: u64,
    pub buckets_differing: u64,
    pub messages_refetched: u64,
    pub repaired: Vec<Seq>,
    pub bytes_received: u64,
}

/// The answer of `clear_cached_history`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClearView {
    pub messages: u64,
    pub chats: u64,
    pub bytes_before: u64,
    pub bytes_after: u64,
}

/// The answer of `cache_budget` / `set_cache_budget`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BudgetView {
    pub budget_bytes: u64,
    pub used_bytes: u64,
    pub cached_messages: u64,
    /// Messages evicted by this call (set_cache_budget only).
    pub evicted: u64,
}
