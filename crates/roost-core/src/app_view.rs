//! The core as the desktop app sees it: its records and events in the shapes of the IPC
//! contract ([`roost_model::app`]).
//!
//! Owns the only conversions that change a shape (a chat record becomes a chat-list row, an
//! outbox entry an outbox row) and the translation of [`ClientEvent`]s into [`UiEvent`]s, which
//! reads every changed span back from the cache, so what reaches the screen is always what the
//! cache holds after the merge rule (never a copy that lost to a newer cached version). Window
//! items, anchors, sync and outbox states and seq ranges are the model's types on both sides and
//! pass through unchanged. Lives here, not in the Tauri shell, so tests drive it natively.

use crate::client::Client;
use crate::error::Result;
use crate::events::{ChatWindow, ClientEvent, ResyncReport};
use crate::ranges::{self, CacheMap, span_items};
use crate::store::{ChatRecord, OutboxEntry};
use roost_model::app::{
    CacheMapView, ChatEntry, ChatWindowView, FullReloadInfo, OfflineCoverage, OutboxItem,
    ResyncOutcome, UiEvent,
};
use roost_proto::{ChatId, Seq};

/// A chat-list row from a chat record.
pub fn chat_entry(record: &ChatRecord) -> ChatEntry {
    let last_seq = record.server_last_seq.max(record.local_max.unwrap_or(0));
    ChatEntry {
        chat_id: record.chat_id,
        title: record.title.clone(),
        members: record.members.clone(),
        unread_count: record.unread_count,
        last_message_preview: record.last_message_preview.clone(),
        last_message_at: record.last_message_at,
        last_seq,
        cached_count: record.cached_count,
        offline: OfflineCoverage::of(record.cached_count, last_seq),
        sync_state: record.sync_state,
        is_open: record.is_open,
        full_reload: record.last_full_reload.as_ref().map(|note| FullReloadInfo {
            reason: note.reason.clone(),
            at: note.at,
        }),
        left: record.is_left(),
    }
}

/// An outbox row (the text only) from an outbox entry.
pub fn outbox_item(entry: &OutboxEntry) -> OutboxItem {
    OutboxItem {
        local_id: entry.local_id.clone(),
        chat_id: entry.chat_id,
        text: entry
            .body
            .get("text")
            .and_then(|t| t.as_str())
            .unwrap_or_default()
            .to_string(),
        status: entry.state,
        last_error: entry.last_error.clone(),
        created_at: entry.created_at,
    }
}

pub fn chat_window(window: ChatWindow) -> ChatWindowView {
    ChatWindowView {
        chat: chat_entry(&window.chat),
        items: window.items,
        pending: window.pending.iter().map(outbox_item).collect(),
        has_more_before: window.has_more_before,
        has_more_after: window.has_more_after,
    }
}

pub fn cache_map(chat_id: ChatId, map: &CacheMap) -> CacheMapView {
    let last_seq = map
        .server_last_seq
        .max(map.cached.last().map_or(0, |r| r.end));
    CacheMapView {
        chat_id,
        last_seq,
        cached: map.cached.clone(),
        missing: map.missing.clone(),
        cached_count: map.cached_count,
    }
}

pub fn resync_outcome(report: &ResyncReport) -> ResyncOutcome {
    ResyncOutcome {
        chat_id: report.chat_id,
        messages_fetched: report.messages_fetched,
        changes_applied: report.changes_applied,
        gaps_before: report.gaps_before,
        gaps_after: report.gaps_after,
        state: report.state,
        full_reload: report.full_reload.clone(),
    }
}

/// `WindowChanged` for every contiguous span of `seqs`, read back from the cache.
async fn changed_spans(client: &Client, chat_id: ChatId, seqs: &[Seq]) -> Result<Vec<UiEvent>> {
    let mut events = Vec::new();
    for span in ranges::runs_from_seqs(seqs.iter().copied()) {
        let cached = client
            .cached_messages(chat_id, span.start, span.end)
            .await?;
        events.push(UiEvent::WindowChanged {
            chat_id,
            span,
            items: span_items(span, cached),
        });
    }
    Ok(events)
}

/// The UI events one client event becomes, in order. Every message they carry is read from the
/// cache (the event only names seqs), so the screen shows the merge rule's winner. A failed
/// read asks the UI to reload rather than guess.
pub async fn ui_events(client: &Client, event: ClientEvent) -> Vec<UiEvent> {
    let read_back = |chat_id: ChatId, seqs: Vec<Seq>| async move {
        match changed_spans(client, chat_id, &seqs).await {
            Ok(events) => events,
            Err(e) => {
                tracing::warn!(%chat_id, error = %e, "could not read changed messages back from the cache");
                vec![UiEvent::Reload]
            }
        }
    };
    match event {
        ClientEvent::ChatUpdated { chat } => vec![UiEvent::ChatUpdated {
            chat: chat_entry(&chat),
        }],
        ClientEvent::ChatForgotten { chat_id } => vec![UiEvent::ChatRemoved { chat_id }],
        ClientEvent::MessagesChanged { chat_id, seqs } => read_back(chat_id, seqs).await,
        ClientEvent::SyncStateChanged { chat_id, state } => {
            vec![UiEvent::SyncState { chat_id, state }]
        }
        ClientEvent::FetchStarted { chat_id } => vec![UiEvent::FetchStarted { chat_id }],
        ClientEvent::FetchFinished { chat_id, fetched } => {
            vec![UiEvent::FetchFinished { chat_id, fetched }]
        }
        ClientEvent::Connection { online } => vec![UiEvent::Connection { online }],
        ClientEvent::OutboxChanged { entry, message } => {
            // The delivered row is replaced by what the cache holds at its seq: the answer
            // itself may be older than a copy the stream or a resync cached first.
            let mut events = match &message {
                Some(m) => read_back(m.chat_id, vec![m.seq]).await,
                None => Vec::new(),
            };
            events.push(UiEvent::Outbox {
                item: outbox_item(&entry),
                message,
            });
            events
        }
    }
}
