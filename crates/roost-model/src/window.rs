//! The change operations a view applies to the window it shows, and where a window is anchored.
//!
//! The shell sends *changes* (this span of this chat now holds these items; the server's
//! position moved; here is a page read from the cache); a view keeps its rows equal to the
//! cache's window by applying them with these functions and never derives gaps on its own.
//! Every operation keeps the rows ascending, disjoint and contiguous, with a skeleton exactly
//! where seqs are not cached.

use crate::merge::merge_into;
use crate::ranges::{SeqRange, WindowItem, push_missing, span_items};
use roost_proto::{Message, Seq};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Where a chat window is anchored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Anchor {
    /// The newest cached messages (and a trailing gap when newer ones are known to exist).
    Newest,
    /// Seqs around this one.
    Around { seq: Seq },
}

/// First and last seq covered by `items` (they are ascending and disjoint).
pub fn coverage(items: &[WindowItem]) -> Option<(Seq, Seq)> {
    Some((items.first()?.seq_span().0, items.last()?.seq_span().1))
}

/// The part of a skeleton item that lies within `from ..= to` (which must intersect it).
fn trimmed(item: &WindowItem, from: Seq, to: Seq) -> WindowItem {
    match item {
        WindowItem::OlderHistory { .. } if from == 1 => WindowItem::OlderHistory { to },
        _ => WindowItem::Gap { from, to },
    }
}

/// Applies a change of `span` (whose new content is `new_items`, covering exactly `span`) to the
/// rows shown. Returns whether the rows changed.
///
/// * A span overlapping what is shown replaces exactly those seqs: a gap or older-history
///   skeleton that only partly overlaps keeps its uncovered remainder, so a skeleton stays
///   exactly where messages are still missing.
/// * A span after the newest shown seq is appended when the view shows the newest messages
///   (`at_newest`), with a gap skeleton for any seqs in between; otherwise it is left for when
///   the user scrolls there (it is in the cache).
/// * A span before the first shown seq is ignored (cached; read on scroll).
pub fn apply_span_change(
    items: &mut Vec<WindowItem>,
    span: SeqRange,
    new_items: Vec<WindowItem>,
    at_newest: bool,
) -> bool {
    let Some((first, last)) = coverage(items) else {
        if !at_newest {
            return false;
        }
        if span.start > 1 {
            items.push(WindowItem::OlderHistory { to: span.start - 1 });
        }
        items.extend(new_items);
        return true;
    };
    if span.end < first {
        return false;
    }
    if span.start > last {
        if !at_newest {
            return false;
        }
        if span.start > last + 1 {
            push_missing(items, last + 1, span.start - 1);
        }
        items.extend(new_items);
        return true;
    }
    // The span's messages are what the view showed there merged with what arrived (higher
    // version wins, a message is never replaced by a skeleton: the cache never loses one), so
    // changes applied late or twice never take the view back to an older copy.
    let mut merged: BTreeMap<Seq, Message> = BTreeMap::new();
    let mut result = Vec::with_capacity(items.len() + new_items.len());
    let mut after = Vec::new();
    for item in items.drain(..) {
        let (a, b) = item.seq_span();
        if b < span.start {
            result.push(item);
        } else if a > span.end {
            after.push(item);
        } else {
            if a < span.start {
                result.push(trimmed(&item, a, span.start - 1));
            }
            if b > span.end {
                after.push(trimmed(&item, span.end + 1, b));
            }
            if let WindowItem::Message { message } = item {
                merge_into(&mut merged, message);
            }
        }
    }
    for item in new_items {
        if let WindowItem::Message { message } = item
            && span.contains(message.seq)
        {
            merge_into(&mut merged, message);
        }
    }
    result.extend(span_items(span, merged.into_values()));
    result.extend(after);
    normalize(&mut result);
    *items = result;
    true
}

/// Puts rows in canonical form: adjacent skeletons merged into one, and a skeleton that starts
/// at seq 1 is `OlderHistory` (the cache's own window never shows it otherwise).
pub fn normalize(items: &mut Vec<WindowItem>) {
    let mut out: Vec<WindowItem> = Vec::with_capacity(items.len());
    for item in items.drain(..) {
        match item {
            WindowItem::Message { .. } => out.push(item),
            skeleton => {
                let (from, to) = skeleton.seq_span();
                push_missing(&mut out, from, to);
            }
        }
    }
    *items = out;
}

/// The server now says the chat goes up to `last_seq`: when the view shows the newest messages,
/// a trailing gap skeleton stands for the ones not cached yet. Returns whether rows changed.
pub fn extend_to_last_seq(items: &mut Vec<WindowItem>, last_seq: Seq, at_newest: bool) -> bool {
    if !at_newest || last_seq == 0 {
        return false;
    }
    let last = coverage(items).map_or(0, |(_, last)| last);
    if last_seq <= last {
        return false;
    }
    push_missing(items, last + 1, last_seq);
    true
}

/// Merges a page read from the cache (`cached_window`) in front of what is shown.
pub fn prepend_cached_page(items: &mut Vec<WindowItem>, page: Vec<WindowItem>) -> bool {
    let first = coverage(items).map_or(Seq::MAX, |(first, _)| first);
    // Keep only what lies before the rows shown; the rest is already there.
    let page: Vec<WindowItem> = page
        .into_iter()
        .filter_map(|item| {
            let (a, b) = item.seq_span();
            if a >= first {
                None
            } else if b >= first {
                Some(trimmed(&item, a, first - 1))
            } else {
                Some(item)
            }
        })
        .collect();
    if page.is_empty() {
        return false;
    }
    let mut merged = page;
    merged.append(items);
    normalize(&mut merged);
    *items = merged;
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{
        gap, message_item as message, message_items as messages, older, shape, span,
    };

    /// Items must be ascending, disjoint and contiguous.
    fn assert_well_formed(items: &[WindowItem]) {
        for pair in items.windows(2) {
            assert_eq!(
                pair[0].seq_span().1 + 1,
                pair[1].seq_span().0,
                "{:?}",
                shape(items)
            );
        }
    }

    #[test]
    fn filling_an_interior_gap_completely_removes_its_skeleton() {
        let mut items = messages(1, 3);
        items.push(gap(4, 6));
        items.extend(messages(7, 8));
        assert!(apply_span_change(
            &mut items,
            span(4, 6),
            messages(4, 6),
            true
        ));
        assert_eq!(shape(&items), ["1", "2", "3", "4", "5", "6", "7", "8"]);
    }

    #[test]
    fn filling_part_of_a_gap_keeps_a_skeleton_exactly_where_seqs_are_still_missing() {
        let mut items = vec![message(1), gap(2, 9), message(10)];
        apply_span_change(&mut items, span(4, 5), messages(4, 5), true);
        assert_eq!(shape(&items), ["1", "gap 2-3", "4", "5", "gap 6-9", "10"]);
        assert_well_formed(&items);
    }

    #[test]
    fn older_history_shrinks_from_below_when_a_page_arrives() {
        let mut items = vec![older(10)];
        items.extend(messages(11, 12));
        apply_span_change(&mut items, span(6, 10), messages(6, 10), true);
        assert_eq!(
            shape(&items),
            ["older ..5", "6", "7", "8", "9", "10", "11", "12"]
        );
        apply_span_change(&mut items, span(1, 5), messages(1, 5), true);
        assert_eq!(items.iter().filter(|i| !i.is_skeleton()).count(), 12);
        assert!(items.iter().all(|i| !i.is_skeleton()));
    }

    #[test]
    fn a_page_inside_older_history_leaves_older_history_above_and_a_gap_below() {
        let mut items = vec![older(10), message(11)];
        apply_span_change(&mut items, span(4, 5), messages(4, 5), true);
        assert_eq!(shape(&items), ["older ..3", "4", "5", "gap 6-10", "11"]);
    }

    #[test]
    fn trailing_gap_is_filled_and_new_messages_append_only_when_at_newest() {
        let mut items = messages(1, 2);
        items.push(gap(3, 5));
        apply_span_change(&mut items, span(3, 5), messages(3, 5), true);
        assert_eq!(shape(&items), ["1", "2", "3", "4", "5"]);
        // A message far after the end: a gap skeleton stands for the seqs in between.
        apply_span_change(&mut items, span(9, 9), vec![message(9)], true);
        assert_eq!(shape(&items), ["1", "2", "3", "4", "5", "gap 6-8", "9"]);
        // Not at the newest (scrolled into older cached history): left in the cache.
        assert!(!apply_span_change(
            &mut items,
            span(12, 12),
            vec![message(12)],
            false
        ));
        assert_eq!(items.len(), 7);
    }

    #[test]
    fn a_change_before_the_rows_shown_is_left_in_the_cache() {
        let mut items = messages(50, 60);
        assert!(!apply_span_change(
            &mut items,
            span(10, 12),
            messages(10, 12),
            true
        ));
        assert_eq!(items.len(), 11);
    }

    #[test]
    fn an_edit_replaces_the_message_in_place() {
        let mut items = messages(1, 3);
        let mut edited = message(2);
        if let WindowItem::Message { message } = &mut edited {
            message.version = 2;
            message.body = serde_json::json!({"text": "edited"});
        }
        apply_span_change(&mut items, span(2, 2), vec![edited.clone()], true);
        assert_eq!(items[1], edited);
        assert_eq!(items.len(), 3);
    }

    #[test]
    fn first_message_of_an_empty_view() {
        let mut items = Vec::new();
        apply_span_change(&mut items, span(1, 1), vec![message(1)], true);
        assert_eq!(shape(&items), ["1"]);
        let mut items = Vec::new();
        apply_span_change(&mut items, span(5, 5), vec![message(5)], true);
        assert_eq!(shape(&items), ["older ..4", "5"]);
    }

    #[test]
    fn server_position_extends_a_trailing_gap() {
        let mut items = messages(1, 3);
        assert!(extend_to_last_seq(&mut items, 7, true));
        assert_eq!(shape(&items), ["1", "2", "3", "gap 4-7"]);
        assert!(extend_to_last_seq(&mut items, 9, true));
        assert_eq!(shape(&items), ["1", "2", "3", "gap 4-9"]);
        assert!(!extend_to_last_seq(&mut items, 9, true));
        assert!(!extend_to_last_seq(&mut items, 20, false));
        let mut empty = Vec::new();
        assert!(extend_to_last_seq(&mut empty, 4, true));
        assert_eq!(shape(&empty), ["older ..4"]);
    }

    #[test]
    fn cached_page_is_prepended_without_overlap() {
        let mut items = messages(201, 205);
        let mut page = vec![older(100)];
        page.extend(messages(101, 203));
        assert!(prepend_cached_page(&mut items, page));
        assert_eq!(coverage(&items), Some((1, 205)));
        assert_well_formed(&items);
        assert!(!prepend_cached_page(&mut items, messages(150, 160)));
    }

    #[test]
    fn a_late_older_copy_never_replaces_a_newer_one_and_a_skeleton_never_hides_a_message() {
        let mut items = messages(1, 3);
        let mut newer = message(2);
        if let WindowItem::Message { message } = &mut newer {
            message.version = 3;
        }
        apply_span_change(&mut items, span(2, 2), vec![newer.clone()], true);
        apply_span_change(&mut items, span(2, 2), vec![message(2)], true);
        assert_eq!(items[1], newer);
        apply_span_change(&mut items, span(2, 3), vec![gap(2, 3)], true);
        assert_eq!(shape(&items), ["1", "2", "3"]);
    }

    fn versioned(seq: Seq, version: u64) -> Message {
        let WindowItem::Message { mut message } = message(seq) else {
            unreachable!()
        };
        message.version = version;
        message
    }

    proptest::proptest! {
        /// Whatever order the span changes of a cache arrive in — late, duplicated, stale — the
        /// rows end equal to the cache's own items over the same seqs.
        #[test]
        fn rows_converge_to_the_cache(
            writes in proptest::collection::vec((1u64..40, 1u64..4), 1..60),
            stale in proptest::collection::vec(0usize..60, 0..20),
        ) {
            let top = 40;
            let mut cache: BTreeMap<Seq, Message> = BTreeMap::new();
            let mut items = span_items(SeqRange::new(1, top), Vec::new());
            let mut sent: Vec<(SeqRange, Vec<WindowItem>)> = Vec::new();
            for (seq, version) in writes {
                merge_into(&mut cache, versioned(seq, version));
                let change = SeqRange::single(seq);
                let new = span_items(change, cache.get(&seq).cloned());
                sent.push((change, new.clone()));
                apply_span_change(&mut items, change, new, true);
            }
            for i in stale {
                if let Some((change, old)) = sent.get(i).cloned() {
                    apply_span_change(&mut items, change, old, true);
                }
            }
            let expected = span_items(SeqRange::new(1, top), cache.values().cloned());
            proptest::prop_assert_eq!(items, expected);
        }
    }
}
