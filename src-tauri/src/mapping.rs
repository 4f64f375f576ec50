//! Maps `roost-core`'s types onto the IPC types of `roost_proto::app`. Pure functions only: the
//! shell adds no behaviour of its own here, it only changes shapes.

use roost_core::{
    CacheMap, ChatRecord, ChatWindow, OutboxEntry, OutboxState, ResyncReport, SyncState,
};
use roost_proto::app::{
    CacheMapView, ChatEntry, ChatSyncState, ChatWindowView, OfflineCoverage, OutboxItem,
    OutboxStatus, ResyncOutcome, SeqSpan, WindowAnchor, WindowItem,
};
use roost_proto::{ChatId, Message, Seq};

pub fn sync_state(state: SyncState) -> ChatSyncState {
    match state {
        SyncState::Unknown => ChatSyncState::Unknown,
        SyncState::InSync => ChatSyncState::InSync,
        SyncState::OutOfSync => ChatSyncState::OutOfSync,
        SyncState::Syncing => ChatSyncState::Syncing,
    }
}

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
        sync_state: sync_state(record.sync_state),
        is_open: record.is_open,
    }
}

pub fn window_item(item: roost_core::WindowItem) -> WindowItem {
    match item {
        roost_core::WindowItem::Message { message } => WindowItem::Message { message },
        roost_core::WindowItem::Gap { from, to } => WindowItem::Gap { from, to },
        roost_core::WindowItem::OlderHistory { to } => WindowItem::OlderHistory { to },
    }
}

pub fn outbox_status(state: OutboxState) -> OutboxStatus {
    match state {
        OutboxState::Pending => OutboxStatus::Pending,
        OutboxState::Sending => OutboxStatus::Sending,
        OutboxState::Failed => OutboxStatus::Failed,
        OutboxState::Delivered => OutboxStatus::Delivered,
    }
}

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
        status: outbox_status(entry.state),
        last_error: entry.last_error.clone(),
        created_at: entry.created_at,
    }
}

pub fn chat_window(window: ChatWindow) -> ChatWindowView {
    ChatWindowView {
        chat: chat_entry(&window.chat),
        items: window.items.into_iter().map(window_item).collect(),
        pending: window.pending.iter().map(outbox_item).collect(),
        has_more_before: window.has_more_before,
        has_more_after: window.has_more_after,
    }
}

pub fn anchor(anchor: WindowAnchor) -> roost_core::Anchor {
    match anchor {
        WindowAnchor::Newest => roost_core::Anchor::Newest,
        WindowAnchor::Around { seq } => roost_core::Anchor::Around(seq),
    }
}

pub fn cache_map(chat_id: ChatId, map: &CacheMap) -> CacheMapView {
    let span = |r: &roost_core::SeqRange| SeqSpan {
        from: r.start,
        to: r.end,
    };
    let last_seq = map
        .server_last_seq
        .max(map.cached.last().map_or(0, |r| r.end));
    CacheMapView {
        chat_id,
        last_seq,
        cached: map.cached.iter().map(span).collect(),
        missing: map.missing.iter().map(span).collect(),
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
        state: sync_state(report.state),
        full_reload: report.full_reload.clone(),
    }
}

/// Splits changed seqs into maximal contiguous spans, ascending (`[5, 3, 4, 9]` → `3..=5, 9..=9`).
pub fn contiguous_spans(seqs: &[Seq]) -> Vec<SeqSpan> {
    let mut sorted = seqs.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut spans: Vec<SeqSpan> = Vec::new();
    for seq in sorted {
        match spans.last_mut() {
            Some(span) if span.to + 1 == seq => span.to = seq,
            _ => spans.push(SeqSpan { from: seq, to: seq }),
        }
    }
    spans
}

/// The items covering exactly `span`, from the cached messages in it (seqs the cache does not
/// hold become a gap, never an invented message).
pub fn span_items(span: SeqSpan, cached: Vec<Message>) -> Vec<WindowItem> {
    let mut items = Vec::with_capacity(cached.len());
    let mut next = span.from;
    for message in cached
        .into_iter()
        .filter(|m| m.seq >= span.from && m.seq <= span.to)
    {
        if message.seq < next {
            continue;
        }
        if message.seq > next {
            items.push(WindowItem::Gap {
                from: next,
                to: message.seq - 1,
            });
        }
        next = message.seq + 1;
        items.push(WindowItem::Message { message });
    }
    if next <= span.to {
        items.push(WindowItem::Gap {
            from: next,
            to: span.to,
        });
    }
    items
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contiguous_spans_groups_runs() {
        let spans = contiguous_spans(&[9, 5, 3, 4, 4, 11, 10]);
        assert_eq!(
            spans,
            vec![SeqSpan { from: 3, to: 5 }, SeqSpan { from: 9, to: 11 }]
        );
        assert!(contiguous_spans(&[]).is_empty());
    }

    #[test]
    fn span_items_marks_uncached_seqs_as_gaps() {
        let message = |seq| Message {
            id: roost_proto::MessageId(uuid::Uuid::from_u128(seq as u128)),
            chat_id: ChatId(uuid::Uuid::nil()),
            seq,
            version: 1,
            author: roost_proto::UserId::new("alice"),
            created_at: 0,
            edited_at: None,
            deleted_at: None,
            body: serde_json::json!({"text": "hi"}),
            rev: seq,
        };
        let items = span_items(SeqSpan { from: 1, to: 5 }, vec![message(2), message(3)]);
        let spans: Vec<_> = items.iter().map(WindowItem::seq_span).collect();
        assert_eq!(spans, vec![(1, 1), (2, 2), (3, 3), (4, 5)]);
        assert!(items[0].is_skeleton() && items[3].is_skeleton());
    }
}
