//! The outbox: delivering queued sends (idempotent retries with backoff, in order, stopping at
//! the first transient failure) and applying the server's answers to mutations.

use crate::engine::Inner;
use crate::error::Result;
use crate::events::{ClientEvent, Delivered, FlushReport};
use crate::store::{CursorRule, IngestOptions, IngestResult, OutboxEntry, OutboxState, Position};
use backon::BackoffBuilder;
use roost_proto::{ChatId, SendRequest};
use std::sync::Arc;
use std::time::Duration;

/// How one server answer to a mutation is written: its cursor rule, the chat's position it
/// reports, and who the user is (unread counting).
fn mutation_options(inner: &Inner, resp: &roost_proto::MessageResponse) -> IngestOptions {
    let mut opts = IngestOptions::new(mutation_cursor_rule(resp));
    opts.position = Some(Position {
        last_seq: resp.last_seq,
        rev: resp.rev,
    });
    opts.me = inner.me();
    opts
}

/// Applies one server answer to a mutation (send/edit/delete) and emits.
pub(crate) async fn apply_mutation(
    inner: &Inner,
    chat: ChatId,
    resp: &roost_proto::MessageResponse,
) -> Result<IngestResult> {
    let opts = mutation_options(inner, resp);
    let res = inner
        .store()
        .ingest(chat, std::slice::from_ref(&resp.message), &opts)
        .await?;
    inner.mark_known(chat);
    if !res.changed.is_empty() {
        inner.emit(ClientEvent::MessagesChanged {
            chat_id: chat,
            seqs: res.changed.clone(),
        });
    }
    inner.emit_chat(chat).await;
    Ok(res)
}

/// Delivers pending outbox entries, oldest first. Stops at the first transient failure.
pub(crate) async fn flush_outbox(inner: &Arc<Inner>) -> Result<FlushReport> {
    let _one = inner.lock_outbox().await;
    // Sent as the cache's owner only: the token must be confirmed for it first.
    crate::account::ensure_verified(inner).await?;
    let mut report = FlushReport::default();
    let entries = inner.store().outbox_of(inner.me().as_ref()).await?;
    let mut iter = entries
        .into_iter()
        .filter(|e| e.state == OutboxState::Pending);
    while let Some(entry) = iter.next() {
        set_entry_state(inner, &entry, OutboxState::Sending, None).await?;
        let req = SendRequest {
            idempotency_key: entry.idempotency_key.clone(),
            body: entry.body.clone(),
        };
        match inner.api().send(entry.chat_id, &req).await {
            Ok(resp) => report
                .delivered
                .push(record_delivery(inner, &entry, resp).await?),
            Err(e) if !e.is_definite_rejection() => {
                tracing::info!(local_id = %entry.local_id, error = %e, "outbox: send failed, will retry");
                set_entry_state(inner, &entry, OutboxState::Pending, Some(e.to_string())).await?;
                report.pending = 1 + iter.count();
                return if report.delivered.is_empty() && report.failed.is_empty() {
                    Err(e)
                } else {
                    Ok(report)
                };
            }
            Err(e) => {
                tracing::warn!(local_id = %entry.local_id, error = %e, "outbox: send rejected permanently");
                let failed =
                    set_entry_state(inner, &entry, OutboxState::Failed, Some(e.to_string()))
                        .await?;
                report.failed.push(failed);
            }
        }
    }
    Ok(report)
}

/// Moves `entry` to `state` (with `error`, or none) in the store and tells the UI: `Sending`
/// counts one more attempt, and the error of a failed attempt is kept.
async fn set_entry_state(
    inner: &Inner,
    entry: &OutboxEntry,
    state: OutboxState,
    error: Option<String>,
) -> Result<OutboxEntry> {
    inner
        .store()
        .outbox_set_state(&entry.local_id, state, error.as_deref())
        .await?;
    let changed = match state {
        OutboxState::Sending => OutboxEntry {
            state,
            attempts: entry.attempts + 1,
            ..entry.clone()
        },
        _ => OutboxEntry {
            state,
            last_error: error,
            ..entry.clone()
        },
    };
    inner.emit(ClientEvent::OutboxChanged {
        entry: changed.clone(),
        message: None,
    });
    Ok(changed)
}

/// Writes the server's answer to a delivered send (the outbox entry becomes the message, in one
/// transaction) and emits the delivery, the changed seqs and the chat row.
async fn record_delivery(
    inner: &Inner,
    entry: &OutboxEntry,
    resp: roost_proto::MessageResponse,
) -> Result<Delivered> {
    let opts = mutation_options(inner, &resp);
    let res = inner
        .store()
        .outbox_delivered(&entry.local_id, &resp.message, &opts)
        .await?;
    inner.mark_known(entry.chat_id);
    inner.emit(ClientEvent::OutboxChanged {
        entry: OutboxEntry {
            state: OutboxState::Delivered,
            ..entry.clone()
        },
        message: Some(resp.message.clone()),
    });
    if !res.changed.is_empty() {
        inner.emit(ClientEvent::MessagesChanged {
            chat_id: entry.chat_id,
            seqs: res.changed,
        });
    }
    inner.emit_chat(entry.chat_id).await;
    Ok(Delivered {
        local_id: entry.local_id.clone(),
        message: resp.message,
    })
}

/// The outbox worker: delivers on notification (send, retry, reconnect) and retries transient
/// failures with exponential backoff and jitter.
pub(crate) async fn outbox_worker(inner: Arc<Inner>) {
    let builder = backon::ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(200))
        .with_max_delay(Duration::from_secs(30))
        .with_jitter()
        .without_max_times();
    let mut backoff = builder.build();
    loop {
        match flush_outbox(&inner).await {
            Ok(r) if r.pending == 0 => {
                backoff = builder.build();
                inner.outbox_notified().await;
            }
            Ok(_) | Err(_) => {
                let delay = backoff.next().unwrap_or(Duration::from_secs(30));
                tokio::select! {
                    _ = tokio::time::sleep(delay) => {}
                    _ = inner.outbox_notified() => {}
                }
            }
        }
    }
}

/// How a mutation's answer moves the changes cursor. The answer carries the chat's *current*
/// rev; only when that rev is this mutation's own (`message.rev == rev`) is it one committed
/// mutation right after what we know. A replayed send (or deleting a tombstone) answers with an
/// older message rev: treating the chat's rev as ours would step the cursor over an edit we
/// never saw, and that message would stay stale forever.
pub(crate) fn mutation_cursor_rule(resp: &roost_proto::MessageResponse) -> CursorRule {
    if resp.message.rev == resp.rev {
        CursorRule::Event(resp.rev)
    } else {
        CursorRule::Keep
    }
}
