//! Sans-I/O ingest: what one write of incoming messages changes in a chat's cache, decided from
//! what the cache holds (read by the store beforehand) and the messages alone. The store reads,
//! calls [`plan_batch`] and [`plan_position`], and executes the plan in one transaction; nothing
//! here touches SQL, so the rules are proptested on their own.
//!
//! Rules: the merge rule per message (higher version wins; a batch may repeat a seq); a seq
//! whose cached message has another id is a protocol violation; inserted seqs join the runs;
//! unread counts inserts above the newest cached seq, not by `me`, in a closed chat; the last
//! message moves only forward; the changes cursor follows [`crate::cursor`] (a batch's messages
//! become [`CursorStep`]s by [`cursor_steps`]); a partial chat, a missed mutation or a lowered
//! cursor flags a resync, through the sync state machine.

use crate::cursor::{CursorOutcome, CursorStep};
use crate::merge::{MergeDecision, decide};
use crate::ranges::{self, SeqRange};
use crate::sync_state::{SyncInput, SyncState, is_partial, transition};
use roost_proto::{ChatId, Message, Rev, Seq, UserId};
use std::collections::{BTreeMap, HashMap};

/// What a batch tells the chat's changes cursor (the rev up to which every cached message is
/// known current, see [`crate::cursor`]). Whatever the rule, a message that inserts a seq is
/// current only as of the rev it was read at: into an empty cache it sets the cursor, below the
/// cursor it lowers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CursorRule {
    /// One committed mutation at this rev (a send/edit/delete answer): the cursor advances only
    /// if `rev == cursor + 1` (Telegram's pts rule).
    Event(Rev),
    /// A consistent snapshot at this rev (a range page): its messages are current as of it.
    Snapshot(Rev),
    /// No mutation of its own: the messages are current as of the batch's told position (changes
    /// pages, re-validation and `seqs` pages).
    Keep,
}

/// The cursor steps of a batch of `messages` read at `told_rev` (the response's position),
/// under `rule`: each message current as of the snapshot's rev (its own rev when none was
/// told), the first one carrying the mutation of an `Event`.
pub fn cursor_steps(
    messages: &[Message],
    rule: CursorRule,
    told_rev: Option<Rev>,
) -> Vec<CursorStep> {
    let read_at = match rule {
        CursorRule::Snapshot(rev) => Some(rev),
        CursorRule::Event(rev) => Some(told_rev.unwrap_or(rev)),
        CursorRule::Keep => told_rev,
    };
    messages
        .iter()
        .enumerate()
        .map(|(i, m)| CursorStep {
            seq: m.seq,
            version: m.version,
            // (The told rev, not the message's: the cursor never passes the server's rev.)
            current_at: read_at.unwrap_or(m.rev),
            mutation: match rule {
                CursorRule::Event(rev) if i == 0 => Some(rev),
                _ => None,
            },
        })
        .collect()
}

/// What the cache holds that a batch can touch, as read by the store.
#[derive(Debug, Clone, Default)]
pub struct ChatSnapshot {
    /// Cached `(version, message id)` of every seq the batch carries.
    pub cached: HashMap<Seq, (u64, String)>,
    /// The runs the batch's seqs can merge with (see the store's `load_runs_touching`).
    pub touched_runs: Vec<SeqRange>,
    /// The newest cached seq before the batch (0: nothing cached).
    pub prev_max: Seq,
    pub last_message_seq: Option<Seq>,
    pub is_open: bool,
}

/// How the batch counts unread messages.
#[derive(Debug, Clone, Copy, Default)]
pub struct UnreadRule<'a> {
    pub count_unread: bool,
    pub me: Option<&'a UserId>,
}

/// What a batch writes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BatchPlan<'m> {
    /// The message to write per seq (the merge rule's winner), ascending.
    pub write: Vec<&'m Message>,
    /// Seqs inserted or replaced, ascending.
    pub changed: Vec<Seq>,
    pub inserted: usize,
    pub replaced: usize,
    /// The touched runs after the write (replace `ChatSnapshot::touched_runs` with these).
    pub runs: Vec<SeqRange>,
    pub runs_changed: bool,
    /// Messages to add to the unread count.
    pub unread: u64,
    /// The chat's new last message, when it moves.
    pub last_message: Option<&'m Message>,
}

/// Why a batch cannot be written: the server's answer breaks the protocol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlanError {
    /// A message of another chat.
    WrongChat { seq: Seq, chat: ChatId },
    /// The cache holds another message at this seq.
    IdMismatch {
        seq: Seq,
        cached: String,
        incoming: String,
    },
}

/// Decides what writing `messages` (all of `chat`) into `snapshot` changes.
pub fn plan_batch<'m>(
    chat: ChatId,
    messages: &'m [Message],
    snapshot: &ChatSnapshot,
    unread_rule: UnreadRule<'_>,
) -> Result<BatchPlan<'m>, PlanError> {
    if let Some(m) = messages.iter().find(|m| m.chat_id != chat) {
        return Err(PlanError::WrongChat {
            seq: m.seq,
            chat: m.chat_id,
        });
    }
    let mut known = snapshot.cached.clone();
    let mut write: BTreeMap<Seq, &Message> = BTreeMap::new();
    let mut plan = BatchPlan {
        runs: snapshot.touched_runs.clone(),
        ..BatchPlan::default()
    };
    for m in messages {
        let cached = known.get(&m.seq);
        if let Some((_, id)) = cached
            && *id != m.id.to_string()
        {
            return Err(PlanError::IdMismatch {
                seq: m.seq,
                cached: id.clone(),
                incoming: m.id.to_string(),
            });
        }
        let decision = decide(cached.map(|c| c.0), m.version);
        if decision == MergeDecision::Keep {
            continue;
        }
        known.insert(m.seq, (m.version, m.id.to_string()));
        write.insert(m.seq, m);
        plan.changed.push(m.seq);
        if decision == MergeDecision::Insert {
            plan.inserted += 1;
            ranges::insert_seq(&mut plan.runs, m.seq);
            plan.runs_changed = true;
            let mine = unread_rule.me == Some(&m.author);
            if unread_rule.count_unread && !snapshot.is_open && !mine && m.seq > snapshot.prev_max {
                plan.unread += 1;
            }
        } else {
            plan.replaced += 1;
        }
        if snapshot.last_message_seq.is_none_or(|l| m.seq >= l)
            && plan.last_message.is_none_or(|n| m.seq >= n.seq)
        {
            plan.last_message = Some(m);
        }
    }
    plan.write = write.into_values().collect();
    plan.changed.sort_unstable();
    plan.changed.dedup();
    Ok(plan)
}

/// What the cache knows after the batch's rows and runs are written.
#[derive(Debug, Clone, Copy)]
pub struct AfterWrite<'a> {
    /// The last (at most two) runs after the write.
    pub tail_runs: &'a [SeqRange],
    /// The changes cursor stored before the batch.
    pub cursor_before: Rev,
    /// The batch's steps folded into the cursor ([`crate::cursor::fold_cursor`]).
    pub cursor: CursorOutcome,
    /// The server's `last_seq` as now known (the batch's position included).
    pub known_last: Seq,
    /// Flag the chat for a resync when partial, behind or lowered (stream ingest).
    pub flag_if_behind: bool,
    /// The chat's sync state before the batch.
    pub state: SyncState,
}

/// The cursor, rule-4 and resync-flag part of an ingest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PositionPlan {
    /// Store this cursor (it may be lower than before: see [`crate::cursor`]).
    pub new_cursor: Option<Rev>,
    /// An event's rev skipped past `cursor + 1`: some mutation was missed.
    pub cursor_behind: bool,
    /// A copy older than the cursor was inserted and the cursor went back to it: a changes
    /// pass is due.
    pub cursor_lowered: bool,
    /// The chat is partially synced (rule 4).
    pub partial: bool,
    /// Flag a resync and store this state.
    pub flag: Option<SyncState>,
}

/// Decides the cursor, rule 4 and the resync flag after a write.
pub fn plan_position(after: AfterWrite<'_>) -> PositionPlan {
    let CursorOutcome {
        cursor,
        behind,
        lowered,
    } = after.cursor;
    // The last two runs decide rule 4: more than one run means a hole; one run is partial
    // exactly when it ends below the server's last_seq.
    let partial = is_partial(after.tail_runs, after.known_last);
    let flag = (after.flag_if_behind && (partial || behind || lowered))
        .then(|| transition(after.state, SyncInput::Validated { partial: true }));
    PositionPlan {
        new_cursor: cursor.filter(|c| *c != after.cursor_before),
        cursor_behind: behind,
        cursor_lowered: lowered,
        partial,
        flag,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merge::merge_into;
    use proptest::prelude::*;

    fn chat() -> ChatId {
        crate::fixtures::chat_id(1)
    }
    fn msg(seq: Seq, version: u64, author: &str) -> Message {
        Message {
            version,
            author: UserId::new(author),
            ..crate::fixtures::message(chat(), seq)
        }
    }

    proptest! {
        /// Batch after batch, the planned writes keep the cache equal to the merge rule's model,
        /// the runs equal to the cached seqs, and unread counts only new messages by others.
        #[test]
        fn plans_follow_the_merge_rule_and_keep_the_runs_exact(
            batches in proptest::collection::vec(
                proptest::collection::vec((1u64..60, 1u64..4, any::<bool>()), 0..12), 1..10),
        ) {
            let me = UserId::new("me");
            let mut model: BTreeMap<Seq, Message> = BTreeMap::new();
            let mut runs: Vec<SeqRange> = Vec::new();
            let mut unread = 0u64;
            for batch in batches {
                let messages: Vec<Message> = batch
                    .iter()
                    .map(|(s, v, mine)| msg(*s, *v, if *mine { "me" } else { "bob" }))
                    .collect();
                let snapshot = ChatSnapshot {
                    cached: model.iter().map(|(s, m)| (*s, (m.version, m.id.to_string()))).collect(),
                    touched_runs: runs.clone(),
                    prev_max: runs.last().map_or(0, |r| r.end),
                    last_message_seq: model.keys().next_back().copied(),
                    is_open: false,
                };
                let rule = UnreadRule { count_unread: true, me: Some(&me) };
                let plan = plan_batch(chat(), &messages, &snapshot, rule).unwrap();
                let prev_max = snapshot.prev_max;
                let mut expected_unread = 0;
                let mut inserted_seqs = std::collections::BTreeSet::new();
                for m in &messages {
                    let d = merge_into(&mut model, m.clone());
                    if d == MergeDecision::Insert && inserted_seqs.insert(m.seq)
                        && m.author != me && m.seq > prev_max {
                        expected_unread += 1;
                    }
                }
                for w in &plan.write {
                    prop_assert_eq!(&model[&w.seq], *w);
                }
                runs = plan.runs.clone();
                prop_assert_eq!(&runs, &ranges::runs_from_seqs(model.keys().copied()));
                unread += plan.unread;
                prop_assert_eq!(plan.unread, expected_unread);
            }
            let _ = unread;
        }

        /// A mutation's answer advances the cursor by one event at a time and jumps only into
        /// an empty cache; a running fetch stays SYNCING when the ingest flags the chat.
        #[test]
        fn cursor_and_flag_rules(cursor in 0u64..20, rev in 1u64..25, was_empty: bool,
                                 cached: bool, state in 0usize..4) {
            let states = [SyncState::Unknown, SyncState::InSync, SyncState::OutOfSync, SyncState::Syncing];
            let tail = [SeqRange::new(1, 3)];
            let answer = [Message { rev, ..msg(3, 1, "me") }];
            let steps = cursor_steps(&answer, CursorRule::Event(rev), Some(rev));
            let before = (!was_empty).then_some(cursor);
            let folded = crate::cursor::fold_cursor(before, |_| cached.then_some(1), &steps);
            let plan = plan_position(AfterWrite {
                tail_runs: &tail,
                cursor_before: cursor,
                cursor: folded,
                known_last: 5,
                flag_if_behind: true,
                state: states[state],
            });
            // Into an empty cache the answer sets the cursor; else it advances it by one, or
            // takes it back to its rev when it inserts a seq older than the cursor.
            let expected = match (was_empty, cached) {
                (true, false) => Some(rev),
                (true, true) => None,
                (false, _) if rev == cursor + 1 => Some(rev),
                (false, false) if rev < cursor => Some(rev),
                (false, _) => None,
            };
            prop_assert_eq!(plan.new_cursor, expected.filter(|r| *r != cursor));
            prop_assert_eq!(plan.cursor_lowered, !was_empty && !cached && rev < cursor);
            if states[state] == SyncState::Syncing {
                prop_assert!(plan.flag.is_none_or(|s| s == SyncState::Syncing));
            } else if let Some(s) = plan.flag {
                prop_assert_eq!(s, SyncState::OutOfSync);
            }
        }
    }
}
