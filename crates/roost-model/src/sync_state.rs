//! A chat's sync state machine (SPEC rules 3–5, 8, 10): pure logic, no I/O.
//!
//! Owns the states `UNKNOWN → IN_SYNC / OUT_OF_SYNC / SYNCING`, the single transition function
//! and the "partially synced" test of SPEC rule 4. Must never decide *what* to fetch (that is
//! [`crate::ranges`]) nor perform a fetch. There is no "synced successfully" state to show:
//! `IN_SYNC` is silent in the UI; only `SYNCING` (a real fetch of missing messages) is visible.

use crate::ranges::{SeqRange, cached_count};
use roost_proto::Seq;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SyncState {
    /// The server's `last_seq` for this chat is not known yet (this session): no validation.
    Unknown,
    /// Validated against the server's position: nothing missing in the cached span.
    InSync,
    /// Partially synced (rule 4): a chat-scoped resync of the missing messages is due.
    OutOfSync,
    /// Missing messages are being fetched right now.
    Syncing,
}

impl SyncState {
    pub fn as_str(self) -> &'static str {
        match self {
            SyncState::Unknown => "UNKNOWN",
            SyncState::InSync => "IN_SYNC",
            SyncState::OutOfSync => "OUT_OF_SYNC",
            SyncState::Syncing => "SYNCING",
        }
    }
    pub fn parse(s: &str) -> SyncState {
        match s {
            "IN_SYNC" => SyncState::InSync,
            "OUT_OF_SYNC" => SyncState::OutOfSync,
            "SYNCING" => SyncState::Syncing,
            _ => SyncState::Unknown,
        }
    }
}

/// What happened to the chat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncInput {
    /// The server's position became known (chat list, page, stream) and the cache was
    /// validated against it: `partial` is the result of [`is_partial`].
    Validated { partial: bool },
    /// A fetch of missing messages started.
    FetchStarted,
    /// A resync finished; `partial` is the re-validation result after merging.
    ResyncFinished { partial: bool },
    /// A resync failed (offline, server error, hostile response): still out of sync.
    ResyncFailed,
    /// The chat was reopened in a new session: its server position must be learnt again.
    Reset,
}

/// The transition function. Never leaves `OUT_OF_SYNC` except by a validated resync or a
/// validation that finds nothing missing.
pub fn transition(state: SyncState, input: SyncInput) -> SyncState {
    use SyncInput::*;
    use SyncState::*;
    match (state, input) {
        (_, Reset) => Unknown,
        // A validation while a fetch runs does not hide the fetch.
        (Syncing, Validated { partial: true }) => Syncing,
        (Syncing, Validated { partial: false }) => Syncing,
        (_, Validated { partial }) => {
            if partial {
                OutOfSync
            } else {
                InSync
            }
        }
        (_, FetchStarted) => Syncing,
        (_, ResyncFinished { partial }) => {
            if partial {
                OutOfSync
            } else {
                InSync
            }
        }
        (Unknown, ResyncFailed) => Unknown,
        (_, ResyncFailed) => OutOfSync,
    }
}

/// SPEC rule 4: the cached seqs are not contiguous, or the cached count is not
/// `max - min + 1`, or the local max is below the server's `last_seq`. (An empty cache of a
/// chat with messages counts as partial: its newest page is missing.) Older history below the
/// oldest cached seq does **not** make a chat partial.
pub fn is_partial(runs: &[SeqRange], server_last_seq: Seq) -> bool {
    match (runs.first(), runs.last()) {
        (Some(first), Some(last)) => {
            runs.len() > 1
                || cached_count(runs) != last.end - first.start + 1
                || last.end < server_last_seq
        }
        _ => server_last_seq > 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_rule() {
        let r = |a, b| SeqRange::new(a, b);
        assert!(!is_partial(&[r(5, 10)], 10));
        assert!(is_partial(&[r(5, 10)], 11));
        assert!(is_partial(&[r(1, 2), r(4, 10)], 10));
        assert!(!is_partial(&[], 0));
        assert!(is_partial(&[], 3));
    }

    #[test]
    fn transitions() {
        use SyncInput::*;
        use SyncState::*;
        assert_eq!(transition(Unknown, Validated { partial: true }), OutOfSync);
        assert_eq!(transition(OutOfSync, FetchStarted), Syncing);
        assert_eq!(transition(Syncing, Validated { partial: false }), Syncing);
        assert_eq!(
            transition(Syncing, ResyncFinished { partial: true }),
            OutOfSync
        );
        assert_eq!(
            transition(Syncing, ResyncFinished { partial: false }),
            InSync
        );
        assert_eq!(transition(Syncing, ResyncFailed), OutOfSync);
        assert_eq!(transition(InSync, Reset), Unknown);
    }
}
