//! The changes journal, page by page: one page of `GET /v1/chats/{id}/changes` asked at the
//! configured page size and merged in one transaction, for every pass that reads the journal
//! (a resync's changes pass, [`crate::resync`]; a full reload, [`crate::fallback`]).
//!
//! Owns the page's query, its merge (edits, deletes and, above the cached span, new messages,
//! at the page's position) and the rule that the journal's cursor advances. It never moves the
//! chat's changes cursor: only the caller knows which span a finished pass covered.

use crate::api::Api;
use crate::engine::Inner;
use crate::error::{Error, Result};
use crate::events::ClientEvent;
use crate::store::{CursorRule, IngestOptions, Position};
use roost_proto::{ChangesQuery, ChangesResponse, ChatId, MAX_PAGE_SIZE, Message};

/// One page of the changes journal as [`changes_page`] leaves it.
pub(crate) enum ChangesPage {
    /// `messages` are merged at the page's position. `next_since_rev`: where the next page
    /// starts (always past the page's `since_rev`); `None`: every matching message is now as
    /// of `rev`.
    Merged {
        rev: u64,
        messages: Vec<Message>,
        next_since_rev: Option<u64>,
        /// The page cached a copy older than the changes cursor, and the store took the
        /// cursor back to the page's rev: the pass's caller asks the changes again.
        cursor_lowered: bool,
    },
    /// The journal no longer reaches `since_rev`; nothing was merged.
    TooOld {
        last_seq: u64,
        rev: u64,
        oldest_since_rev: u64,
    },
}

/// Fetches the changes after `since_rev` of the seqs in `min_seq..=max_seq` (open where
/// `None`), one page of the configured size, and merges it. A next page that does not start
/// past `since_rev` is a protocol violation (the pass would never end).
pub(crate) async fn changes_page(
    inner: &Inner,
    api: &Api,
    chat: ChatId,
    since_rev: u64,
    (min_seq, max_seq): (Option<u64>, Option<u64>),
) -> Result<ChangesPage> {
    let query = ChangesQuery {
        since_rev,
        min_seq,
        max_seq,
        limit: Some(inner.config().page_size.min(MAX_PAGE_SIZE)),
    };
    match api.changes(chat, &query).await? {
        ChangesResponse::Changes {
            last_seq,
            rev,
            messages,
            next_since_rev,
            ..
        } => {
            let cursor_lowered =
                ingest_changes_page(inner, chat, &messages, Position { last_seq, rev }).await?;
            if next_since_rev.is_some_and(|next| next <= since_rev) {
                return Err(Error::ProtocolViolation(
                    "changes cursor does not advance".into(),
                ));
            }
            Ok(ChangesPage::Merged {
                rev,
                messages,
                next_since_rev,
                cursor_lowered,
            })
        }
        ChangesResponse::TooOld {
            last_seq,
            rev,
            oldest_since_rev,
            ..
        } => Ok(ChangesPage::TooOld {
            last_seq,
            rev,
            oldest_since_rev,
        }),
    }
}

/// Merges one page of the changes journal (edits, deletes and, above the cached span, new
/// messages) in one transaction at the page's position; the cursor is the caller's to move
/// (the store only takes it back when the page cached a copy older than it). Returns whether
/// it did.
async fn ingest_changes_page(
    inner: &Inner,
    chat: ChatId,
    messages: &[Message],
    position: Position,
) -> Result<bool> {
    let mut opts = IngestOptions::new(CursorRule::Keep);
    opts.position = Some(position);
    opts.me = inner.me();
    let res = inner.store().ingest(chat, messages, &opts).await?;
    inner.mark_known(chat);
    if !res.changed.is_empty() {
        inner.emit(ClientEvent::MessagesChanged {
            chat_id: chat,
            seqs: res.changed,
        });
    }
    Ok(res.cursor_lowered)
}
