//! The chat list and validation: `GET /v1/chats` into the store (which chats moved), and
//! validating one chat against its server position (rule 4), resyncing it when partial.

use crate::engine::Inner;
use crate::error::Result;
use crate::resync::{load_older, resync_job, wants_older_page};
use crate::sync_state::{SyncInput, is_partial};
use roost_proto::ChatId;
use std::collections::HashSet;
use std::sync::Arc;

/// `GET /v1/chats` into the store; returns the chats that moved vs the store (new
/// messages, or changes past our cursor) plus those flagged `needs_resync`.
pub(crate) async fn refresh_chats(inner: &Arc<Inner>) -> Result<Vec<ChatId>> {
    crate::account::ensure_verified(inner).await?;
    let list = inner.api().chats().await?;
    let before = inner.store().upsert_summaries(&list.chats).await?;
    // The list is complete (every page): a cached chat it does not name is no longer ours.
    let listed: Vec<ChatId> = list.chats.iter().map(|s| s.id).collect();
    crate::left::mark_unlisted_left(inner, &listed).await?;
    let flagged: HashSet<ChatId> = inner
        .store()
        .chats_needing_resync()
        .await?
        .into_iter()
        .collect();
    let mut moved = Vec::new();
    for (s, old) in before {
        inner.mark_known(s.id);
        let is_moved = match &old {
            None => s.last_seq > 0,
            Some(o) => s.last_seq > o.local_max.unwrap_or(0) || s.rev > o.changes_cursor,
        };
        if is_moved || flagged.contains(&s.id) {
            moved.push(s.id);
        }
        inner.emit_chat(s.id).await;
    }
    Ok(moved)
}

/// After the server position is known: validate (rule 4) and resync if partial. With
/// `older_within`, a chat that then holds fewer than that many messages with history above
/// them also gets one page of older history, in the same fetch window.
pub(crate) async fn validate_and_sync(
    inner: &Arc<Inner>,
    chat: ChatId,
    older_within: Option<u32>,
) -> Result<()> {
    let Some(rec) = inner.store().chat(chat).await? else {
        return Ok(());
    };
    if rec.is_left() {
        return Ok(()); // read-only: nothing to validate against, nothing to fetch
    }
    let runs = inner.store().runs(chat).await?;
    let partial = rec.needs_resync || is_partial(&runs, rec.server_last_seq);
    let input = SyncInput::Validated { partial };
    if crate::sync_state::transition(rec.sync_state, input) != rec.sync_state {
        inner
            .sync_input(chat, input, partial.then_some(true))
            .await?;
    }
    if partial {
        resync_job(inner, chat, older_within).await?;
    } else if let Some(limit) = older_within
        && wants_older_page(&runs, limit)
    {
        load_older(inner, chat).await?;
    }
    Ok(())
}
