//! The changes cursor: the rev up to which every cached message of a chat is known current.
//!
//! **Invariant: every cached message is current up to the cursor** — for each cached seq, no
//! mutation of it with a rev ≤ the cursor is newer than the cached copy. A changes pass from the
//! cursor therefore brings every edit and delete the cache lacks; a cursor past a mutation the
//! cache never applied leaves that message stale for good.
//!
//! What a write tells, step by step in arrival order ([`fold_cursor`]):
//! * every copy written is current as of the rev it was read at (its page's, its event's, its
//!   answer's rev; [`CursorStep::current_at`]);
//! * a copy that *inserts* a seq is the only knowledge of that seq: the cursor may not stay
//!   above its `current_at` — it is lowered to it (into an empty cache it is set to it: an empty
//!   cache claims nothing). A copy that *replaces* a cached one needs no such care: under the
//!   invariant a higher version can only come from a mutation after the cursor;
//! * a step that is one committed mutation (a stream event, a mutation's own answer) advances
//!   the cursor by Telegram's pts rule: to its rev when that is exactly `cursor + 1`; a rev
//!   further on means a mutation was missed (`behind`).
//!
//! A batch of writes (a page, a group of stream events committed as one transaction) is folded
//! with the per-seq versions it has seen so far, so each step is judged exactly as if the steps
//! before it had been committed one at a time: a group commit and one event at a time end with
//! the same cursor by construction (proptested below, and in the core over real SQLite).

use crate::merge::{MergeDecision, decide};
use roost_proto::{Rev, Seq};
use std::collections::HashMap;

/// One message written, as the cursor rule sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CursorStep {
    pub seq: Seq,
    pub version: u64,
    /// The rev as of which this copy is known current (the snapshot it was read in).
    pub current_at: Rev,
    /// The step is one committed mutation at this rev (pts rule).
    pub mutation: Option<Rev>,
}

/// What a fold decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CursorOutcome {
    /// The cursor after the steps; `None` while nothing is cached (an empty cache claims
    /// nothing, whatever its stored cursor).
    pub cursor: Option<Rev>,
    /// A mutation's rev skipped past `cursor + 1`: a mutation was missed.
    pub behind: bool,
    /// A step inserted a copy older than the cursor, which went back to that copy's rev: a
    /// changes pass from there is due.
    pub lowered: bool,
}

/// Folds `steps` (in arrival order) into the cursor `before` (`None`: nothing cached).
/// `cached_version(seq)`: the version cached before the first step.
pub fn fold_cursor(
    before: Option<Rev>,
    cached_version: impl Fn(Seq) -> Option<u64>,
    steps: &[CursorStep],
) -> CursorOutcome {
    let mut out = CursorOutcome {
        cursor: before,
        ..CursorOutcome::default()
    };
    // Versions written by earlier steps of this batch (they shadow the cache).
    let mut seen: HashMap<Seq, u64> = HashMap::new();
    for step in steps {
        let known = seen
            .get(&step.seq)
            .copied()
            .or_else(|| cached_version(step.seq));
        let inserted = decide(known, step.version) == MergeDecision::Insert;
        if known.is_none_or(|v| step.version > v) {
            seen.insert(step.seq, step.version);
        }
        let Some(mut cursor) = out.cursor else {
            if inserted {
                out.cursor = Some(step.current_at);
            }
            continue;
        };
        match step.mutation {
            Some(rev) if rev == cursor + 1 => cursor = rev,
            Some(rev) if rev > cursor + 1 => out.behind = true,
            _ => {}
        }
        if inserted && step.current_at < cursor {
            cursor = step.current_at;
            out.lowered = true;
        }
        out.cursor = Some(cursor);
    }
    out
}

/// After a complete changes pass from `since` to `rev` over every cached seq: the cursor
/// becomes `rev` (or stays, if already past it), unless a write during the pass lowered it
/// below `since` — that copy is older than what the pass covered, so the cursor stays there.
pub fn after_changes_pass(cursor_now: Rev, since: Rev, rev: Rev) -> Option<Rev> {
    (cursor_now >= since).then_some(cursor_now.max(rev))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    /// A server history: mutation `rev` (1-based) sets `seq` to `version`.
    fn history(ops: &[u8]) -> Vec<(Seq, u64)> {
        let mut last = 0u64;
        let mut versions: BTreeMap<Seq, u64> = BTreeMap::new();
        ops.iter()
            .map(|op| {
                let seq = if last == 0 || op % 3 != 0 {
                    last += 1;
                    last
                } else {
                    1 + u64::from(*op) % last
                };
                let v = versions.entry(seq).or_insert(0);
                *v += 1;
                (seq, *v)
            })
            .collect()
    }

    /// The version of `seq` on the server as of `rev` (0: not created yet).
    fn version_at(history: &[(Seq, u64)], seq: Seq, rev: Rev) -> u64 {
        history[..rev as usize]
            .iter()
            .filter(|(s, _)| *s == seq)
            .map(|(_, v)| *v)
            .max()
            .unwrap_or(0)
    }

    /// One write of the client: a stream event (mutation `rev`), a page read at `rev` holding
    /// the seqs `lo..=lo + span` as they were then, or a changes page: every seq changed after
    /// `since` as of `rev`.
    fn write(
        history: &[(Seq, u64)],
        kind: u8,
        rev: Rev,
        (lo, span): (Seq, Seq),
        since: Rev,
    ) -> Vec<CursorStep> {
        if kind % 3 == 2 {
            let mut changed: Vec<Seq> = history[since as usize..rev as usize]
                .iter()
                .map(|(s, _)| *s)
                .collect();
            changed.sort_unstable();
            changed.dedup();
            return changed
                .into_iter()
                .map(|seq| CursorStep {
                    seq,
                    version: version_at(history, seq, rev),
                    current_at: rev,
                    mutation: None,
                })
                .collect();
        }
        if kind.is_multiple_of(3) {
            let (seq, version) = history[rev as usize - 1];
            return vec![CursorStep {
                seq,
                version,
                current_at: rev,
                mutation: Some(rev),
            }];
        }
        (lo..=lo + span)
            .filter_map(|seq| {
                let version = version_at(history, seq, rev);
                (version > 0).then_some(CursorStep {
                    seq,
                    version,
                    current_at: rev,
                    mutation: None,
                })
            })
            .collect()
    }

    struct Cache {
        versions: BTreeMap<Seq, u64>,
        cursor: Rev,
    }

    impl Cache {
        fn apply(&mut self, steps: &[CursorStep]) -> CursorOutcome {
            let before = (!self.versions.is_empty()).then_some(self.cursor);
            let out = fold_cursor(before, |s| self.versions.get(&s).copied(), steps);
            for s in steps {
                let v = self.versions.entry(s.seq).or_insert(0);
                *v = (*v).max(s.version);
            }
            if let Some(c) = out.cursor {
                self.cursor = c;
            }
            out
        }
    }

    proptest! {
        /// Whatever is delivered, in whatever order, dropped or repeated, and however it is
        /// grouped: every cached message is current up to the cursor, and a group ends where
        /// its steps one at a time end.
        #[test]
        fn every_cached_message_is_current_up_to_the_cursor(
            ops in proptest::collection::vec(any::<u8>(), 1..40),
            writes in proptest::collection::vec(
                (any::<u8>(), any::<u16>(), any::<u16>(), 0u64..8, 1usize..5), 1..30),
        ) {
            let history = history(&ops);
            let n = history.len() as u64;
            let mut grouped = Cache { versions: BTreeMap::new(), cursor: 0 };
            let mut single = Cache { versions: BTreeMap::new(), cursor: 0 };
            let mut i = 0;
            while i < writes.len() {
                let group_len = writes[i].4;
                let mut group = Vec::new();
                // A changes pass started before the group (from the cursor then) and ends
                // after it: the group's writes race it.
                let since = grouped.cursor.min(n);
                let mut pass_at = None;
                for (kind, rev, lo, span, _) in writes.iter().skip(i).take(group_len) {
                    let mut rev = 1 + u64::from(*rev) % n;
                    if kind % 3 == 2 {
                        // (The core runs a changes pass only over a cached span.)
                        if grouped.versions.is_empty() {
                            continue;
                        }
                        rev = rev.max(since);
                        pass_at = Some(pass_at.unwrap_or(0).max(rev));
                    }
                    let lo = 1 + u64::from(*lo) % n;
                    group.extend(write(&history, *kind, rev, (lo, *span), since));
                }
                i += group_len;
                let g = grouped.apply(&group);
                let mut s = CursorOutcome::default();
                for step in &group {
                    let one = single.apply(std::slice::from_ref(step));
                    s.behind |= one.behind;
                    s.lowered |= one.lowered;
                }
                if let Some(rev) = pass_at {
                    for cache in [&mut grouped, &mut single] {
                        if !cache.versions.is_empty()
                            && let Some(c) = after_changes_pass(cache.cursor, since, rev)
                        {
                            cache.cursor = c;
                        }
                    }
                }
                prop_assert_eq!(grouped.cursor, single.cursor);
                prop_assert_eq!(&grouped.versions, &single.versions);
                prop_assert_eq!((g.behind, g.lowered), (s.behind, s.lowered));
                for (seq, v) in &grouped.versions {
                    prop_assert!(
                        *v >= version_at(&history, *seq, grouped.cursor),
                        "seq {} cached at v{} but v{} at the cursor {}",
                        seq, v, version_at(&history, *seq, grouped.cursor), grouped.cursor
                    );
                }
            }
        }
    }

    /// Fault seed 0xd09b6aae3dc99e44 in one group: the edit of #1 (rev 4) fills the empty
    /// cache, then #2 v1 (rev 2) arrives, its edit (rev 3) dropped.
    #[test]
    fn a_reordered_older_frame_into_an_empty_cache_takes_the_cursor_to_its_rev() {
        let steps = [
            CursorStep {
                seq: 1,
                version: 2,
                current_at: 4,
                mutation: Some(4),
            },
            CursorStep {
                seq: 2,
                version: 1,
                current_at: 2,
                mutation: Some(2),
            },
        ];
        let out = fold_cursor(None, |_| None, &steps);
        assert_eq!((out.cursor, out.lowered), (Some(2), true));
    }

    /// What broke the first attempt: an older frame of a seq whose newer version came earlier
    /// in the same group is no insert, so it does not lower the cursor (as one at a time).
    #[test]
    fn an_older_frame_after_a_newer_one_of_the_same_seq_leaves_the_cursor() {
        let steps = [
            CursorStep {
                seq: 5,
                version: 2,
                current_at: 4,
                mutation: Some(4),
            },
            CursorStep {
                seq: 5,
                version: 1,
                current_at: 2,
                mutation: Some(2),
            },
        ];
        let out = fold_cursor(Some(3), |_| None, &steps);
        assert_eq!(
            (out.cursor, out.lowered, out.behind),
            (Some(4), false, false)
        );
    }
}
