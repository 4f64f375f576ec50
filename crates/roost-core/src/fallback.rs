//! Degraded servers (SPEC rule 6): which shapes of the range endpoint this server serves, learnt
//! from its refusals during this session, and the full reload of one chat when it serves none.
//!
//! Owns the order of fallbacks: `seqs` lists → the forward range shape per gap → a full reload
//! of the chat through the changes journal from rev 0 (every message's latest state, paged),
//! logged and recorded with its reason (`full_reload_reason`, and the chat's last full reload,
//! kept for the UI). A refusal is a 400 `bad_request`, 405 or 501 answer: what an older or
//! partial implementation says to a query it does not know. Anything else (offline, 5xx, a
//! hostile page) is an ordinary failure, never a reason to downgrade.

use crate::api::Api;
use crate::changes_journal::{ChangesPage, changes_page};
use crate::engine::Inner;
use crate::error::{Error, Result};
use roost_proto::{ChatId, ErrorKind};
use std::sync::atomic::{AtomicBool, Ordering};

/// A range query shape (PROTOCOL.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    /// `?seqs=…`
    Seqs,
    /// `?from_seq=…&to_seq=…`
    Forward,
    /// `?before_seq=…`, or the newest page.
    Backward,
}

/// The shapes the server refused in this session (in memory: a restarted or upgraded server
/// is asked again next session).
#[derive(Debug, Default)]
pub(crate) struct RangeSupport {
    seqs_refused: AtomicBool,
    forward_refused: AtomicBool,
    backward_refused: AtomicBool,
}

impl RangeSupport {
    fn flag(&self, shape: Shape) -> &AtomicBool {
        match shape {
            Shape::Seqs => &self.seqs_refused,
            Shape::Forward => &self.forward_refused,
            Shape::Backward => &self.backward_refused,
        }
    }

    pub(crate) fn serves(&self, shape: Shape) -> bool {
        !self.flag(shape).load(Ordering::SeqCst)
    }

    /// Remembers a refusal (logged once per shape and session).
    pub(crate) fn refused(&self, chat: ChatId, shape: Shape, error: &Error) {
        if !self.flag(shape).swap(true, Ordering::SeqCst) {
            tracing::warn!(%chat, ?shape, %error, "the server refuses this range shape: falling back for the rest of this session");
        }
    }
}

/// The server refused the query's shape (see the module doc).
pub(crate) fn is_refusal(error: &Error) -> bool {
    matches!(
        error,
        Error::Server { status, kind, .. }
            if matches!(status, 400 | 405 | 501)
                && matches!(kind, ErrorKind::BadRequest | ErrorKind::MethodNotAllowed | ErrorKind::Unknown)
    )
}

/// The reason recorded when the server serves no range shape for what a chat misses.
pub(crate) const RANGES_REFUSED: &str = "server_cannot_serve_ranges";

/// Reloads the whole chat through the changes journal from rev 0 (every message's latest
/// state, paged), each page merged in one transaction; logged, and recorded with `reason`.
/// Returns the number of messages received.
pub(crate) async fn full_reload(
    inner: &Inner,
    api: &Api,
    chat: ChatId,
    reason: &str,
) -> Result<u64> {
    tracing::warn!(%chat, %reason, "full reload of this chat (SPEC rule 6): every message through the changes journal");
    let store = inner.store();
    store.record_full_reload(chat, reason).await?;
    inner.emit_chat(chat).await;
    let mut since = 0;
    let mut received = 0;
    loop {
        match changes_page(inner, api, chat, since, (None, None)).await? {
            ChangesPage::Merged {
                rev,
                messages,
                next_since_rev,
                // A cursor taken back meanwhile: this pass from rev 0 covers it.
                cursor_lowered: _,
            } => {
                received += messages.len() as u64;
                match next_since_rev {
                    Some(n) => since = n,
                    None => {
                        // Every seq is now as of `rev`: the cursor may move there.
                        let runs = store.runs(chat).await?;
                        if let (Some(first), Some(last)) = (runs.first(), runs.last()) {
                            let span = crate::ranges::SeqRange::new(first.start, last.end);
                            store
                                .advance_cursor_after_changes(chat, span, (0, rev))
                                .await?;
                        }
                        return Ok(received);
                    }
                }
            }
            ChangesPage::TooOld {
                oldest_since_rev, ..
            } => {
                return Err(Error::Server {
                    status: 410,
                    kind: ErrorKind::Unknown,
                    message: format!(
                        "cannot reload chat {chat}: the server refuses ranges and its changes journal starts at rev {oldest_since_rev}"
                    ),
                });
            }
        }
    }
}
