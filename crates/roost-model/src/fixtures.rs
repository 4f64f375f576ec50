//! Test fixtures of the model's data: messages, window items, saved accounts and the compact
//! "shape" tests compare windows by. One definition for every crate's tests (core, shell, UI),
//! compiled only in tests and behind the `fixtures` feature, never in a shipped build.
//!
//! Vary a field with struct update syntax: `Message { version: 2, ..message(chat, 5) }`.

use crate::accounts::SavedAccount;
use crate::app::{ChatEntry, OfflineCoverage};
use crate::ranges::{SeqRange, WindowItem};
use crate::sync_state::SyncState;
use roost_proto::{ChatId, Message, MessageId, Seq, UserId};

/// The chat id `n` (`chat_id(0)` is the nil id).
pub fn chat_id(n: u128) -> ChatId {
    ChatId(uuid::Uuid::from_u128(n))
}

/// A chat id not handed out before in this process (1, 2, 3, …).
pub fn next_chat_id() -> ChatId {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    chat_id(u128::from(
        NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
    ))
}

/// A chat-list row of a chat nothing is known of yet: no messages, nothing cached, not open.
pub fn chat_entry(chat_id: ChatId, title: &str) -> ChatEntry {
    ChatEntry {
        chat_id,
        title: title.into(),
        members: vec![],
        unread_count: 0,
        last_message_preview: None,
        last_message_at: None,
        last_seq: 0,
        cached_count: 0,
        offline: OfflineCoverage::Empty,
        sync_state: SyncState::Unknown,
        is_open: false,
        full_reload: None,
        left: false,
    }
}

/// The account `user` on `server`, signed in with `token`.
pub fn saved_account(server: &str, user: &str, token: &str) -> SavedAccount {
    SavedAccount {
        server_url: server.into(),
        user_id: UserId::new(user),
        token: token.into(),
    }
}

/// Message `seq` of `chat` as the server hands out a fresh one: version 1, `rev = seq`, by
/// `alice` at time 0, text `m<seq>`; its id is unique per (chat, seq) and equals the seq in the
/// nil chat.
pub fn message(chat: ChatId, seq: Seq) -> Message {
    Message {
        id: MessageId(uuid::Uuid::from_u128(
            (u128::from(chat.0.as_u128() as u64) << 64) | u128::from(seq),
        )),
        chat_id: chat,
        seq,
        version: 1,
        author: UserId::new("alice"),
        created_at: 0,
        edited_at: None,
        deleted_at: None,
        body: serde_json::json!({ "text": format!("m{seq}") }),
        rev: seq,
    }
}

/// Message `seq` of `chat` at `version`: text `<seq> v<version>`, created at `seq` ms, edited
/// at `version` ms once edited, `rev = seq * 10 + version` (later versions, later revs).
pub fn message_version(chat: ChatId, seq: Seq, version: u64) -> Message {
    Message {
        version,
        created_at: seq as i64,
        edited_at: (version > 1).then_some(version as i64),
        body: serde_json::json!({ "text": format!("{seq} v{version}") }),
        rev: seq * 10 + version,
        ..message(chat, seq)
    }
}

/// [`message`] `seq` of the nil chat as a window row.
pub fn message_item(seq: Seq) -> WindowItem {
    WindowItem::Message {
        message: message(chat_id(0), seq),
    }
}

/// [`message_item`] `seq` written by `author` at `at` (Unix ms).
pub fn message_by(seq: Seq, author: &str, at: i64) -> WindowItem {
    WindowItem::Message {
        message: Message {
            author: UserId::new(author),
            created_at: at,
            ..message(chat_id(0), seq)
        },
    }
}

/// Rows for messages `from..=to` of the nil chat.
pub fn message_items(from: Seq, to: Seq) -> Vec<WindowItem> {
    (from..=to).map(message_item).collect()
}

pub fn gap(from: Seq, to: Seq) -> WindowItem {
    WindowItem::Gap { from, to }
}

pub fn older(to: Seq) -> WindowItem {
    WindowItem::OlderHistory { to }
}

pub fn span(from: Seq, to: Seq) -> SeqRange {
    SeqRange::new(from, to)
}

/// A window as short strings: `"5"` for message 5, `"gap 3-4"`, `"older ..2"`.
pub fn shape(items: &[WindowItem]) -> Vec<String> {
    items
        .iter()
        .map(|item| match item {
            WindowItem::Message { message } => format!("{}", message.seq),
            WindowItem::Gap { from, to } => format!("gap {from}-{to}"),
            WindowItem::OlderHistory { to } => format!("older ..{to}"),
        })
        .collect()
}
