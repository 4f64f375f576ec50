use super::*;
use crate::logic::rows;
use proptest::prelude::*;
use roost_model::app::{OutboxItem, OutboxState};
use roost_model::fixtures::{gap, message_by as message};
use roost_proto::ChatId;

const MINUTE: i64 = 60_000;
/// 2026-11-30 00:00 UTC.
const NOV_30: i64 = 20_787 * DAY_MS;

fn utc_day(ms: UnixMillis) -> i64 {
    ms.div_euclid(DAY_MS)
}

/// "sep <day>", "new", "m<seq>" / "m<seq>+" (grouped), "gap a-b", "older ..b", "pending".
fn shape(timeline: &Timeline) -> Vec<String> {
    timeline
        .entries()
        .iter()
        .map(|entry| match entry {
            Entry::DaySeparator { day } => format!("sep {}", day - NOV_30 / DAY_MS),
            Entry::UnreadDivider => "new".to_string(),
            Entry::Row { row, grouped } => {
                let base = match row {
                    Row::Item(WindowItem::Message { message }) => format!("m{}", message.seq),
                    Row::Item(WindowItem::Gap { from, to }) => format!("gap {from}-{to}"),
                    Row::Item(WindowItem::OlderHistory { to }) => format!("older ..{to}"),
                    Row::Pending(_) => "pending".to_string(),
                };
                if *grouped { format!("{base}+") } else { base }
            }
        })
        .collect()
}

fn build(items: &[WindowItem], first_unread: Option<Seq>) -> Timeline {
    Timeline::build(rows(items, &[]), first_unread, utc_day)
}

#[test]
fn civil_dates_and_day_labels() {
    assert_eq!(civil_date(0), (1970, 1, 1));
    assert_eq!(civil_date(NOV_30 / DAY_MS), (2026, 11, 30));
    assert_eq!(civil_date(-1), (1969, 12, 31));
    assert_eq!(civil_date(11_016), (2000, 2, 29));
    let today = NOV_30 / DAY_MS;
    assert_eq!(day_label(today, today), "Today");
    assert_eq!(day_label(today - 1, today), "Yesterday");
    assert_eq!(day_label(today - 2, today), "Saturday, November 28");
    assert_eq!(day_label(today - 40, today), "Wednesday, October 21");
    assert_eq!(day_label(today - 365, today), "Sunday, November 30, 2025");
}

#[test]
fn chat_list_times_say_which_day() {
    let now = NOV_30 + 15 * 60 * MINUTE;
    assert_eq!(
        chat_list_time(NOV_30 + 9 * 60 * MINUTE + 5 * MINUTE, now),
        "09:05"
    );
    assert_eq!(chat_list_time(NOV_30 - 30 * MINUTE, now), "Yesterday");
    assert_eq!(chat_list_time(NOV_30 - 3 * DAY_MS, now), "Fri");
    assert_eq!(chat_list_time(NOV_30 - 20 * DAY_MS, now), "Nov 10");
    assert_eq!(chat_list_time(NOV_30 - 400 * DAY_MS, now), "Oct 26, 2025");
}

#[test]
fn a_day_separator_stands_before_the_first_message_of_each_day() {
    let items = [
        message(1, "bob", NOV_30 - DAY_MS + 23 * 60 * MINUTE),
        message(2, "carol", NOV_30 + 8 * 60 * MINUTE),
        message(3, "bob", NOV_30 + 9 * 60 * MINUTE),
    ];
    assert_eq!(
        shape(&build(&items, None)),
        ["sep -1", "m1", "sep 0", "m2", "m3"]
    );
}

#[test]
fn consecutive_messages_of_one_author_within_minutes_form_a_group() {
    let items = [
        message(1, "bob", NOV_30),
        message(2, "bob", NOV_30 + MINUTE),
        message(3, "bob", NOV_30 + 5 * MINUTE),
        // Measured from the previous message: still the same group.
        message(4, "bob", NOV_30 + 9 * MINUTE),
        // Too long after the previous one: a new header.
        message(5, "bob", NOV_30 + 15 * MINUTE),
        message(6, "carol", NOV_30 + 15 * MINUTE),
        message(7, "bob", NOV_30 + 16 * MINUTE),
    ];
    assert_eq!(
        shape(&build(&items, None)),
        ["sep 0", "m1", "m2+", "m3+", "m4+", "m5", "m6", "m7"]
    );
}

#[test]
fn a_group_never_continues_across_a_gap_or_older_history() {
    let items = [
        message(1, "bob", NOV_30),
        gap(2, 4),
        message(5, "bob", NOV_30 + MINUTE),
        message(6, "bob", NOV_30 + 2 * MINUTE),
    ];
    assert_eq!(
        shape(&build(&items, None)),
        ["sep 0", "m1", "gap 2-4", "m5", "m6+"],
        "the message after the skeleton shows its author: the missing ones may be anyone's"
    );
    let items = [
        WindowItem::OlderHistory { to: 9 },
        message(10, "bob", NOV_30),
        message(11, "bob", NOV_30),
    ];
    assert_eq!(
        shape(&build(&items, None)),
        ["older ..9", "sep 0", "m10", "m11+"]
    );
}

#[test]
fn a_day_separator_next_to_a_gap_leaves_the_skeleton_exactly_at_the_gap() {
    let items = [
        message(1, "bob", NOV_30 - DAY_MS),
        gap(2, 7),
        message(8, "bob", NOV_30),
        gap(9, 9),
    ];
    assert_eq!(
        shape(&build(&items, None)),
        ["sep -1", "m1", "gap 2-7", "sep 0", "m8", "gap 9-9"]
    );
}

#[test]
fn the_unread_divider_stands_before_the_first_unread_message_after_its_day_separator() {
    let items = [
        message(1, "bob", NOV_30 - DAY_MS),
        message(2, "bob", NOV_30 + MINUTE),
        message(3, "bob", NOV_30 + 2 * MINUTE),
    ];
    assert_eq!(
        shape(&build(&items, Some(3))),
        ["sep -1", "m1", "sep 0", "m2", "new", "m3"]
    );
    assert_eq!(
        shape(&build(&items, Some(2))),
        ["sep -1", "m1", "sep 0", "new", "m2", "m3+"]
    );
}

#[test]
fn the_unread_divider_before_a_skeleton_that_holds_the_first_unread_seq() {
    let items = [
        message(1, "bob", NOV_30),
        gap(2, 5),
        message(6, "bob", NOV_30),
    ];
    assert_eq!(
        shape(&build(&items, Some(4))),
        ["sep 0", "m1", "new", "gap 2-5", "m6"]
    );
    assert_eq!(
        shape(&build(&items, Some(99))),
        ["sep 0", "m1", "gap 2-5", "m6"],
        "not in the window: no divider"
    );
}

#[test]
fn unsent_messages_get_a_separator_when_their_day_is_new_and_never_join_a_group() {
    let items = [message(1, "alice", NOV_30 - DAY_MS)];
    let pending = [OutboxItem {
        local_id: "l1".into(),
        chat_id: ChatId(uuid::Uuid::nil()),
        text: "hi".into(),
        status: OutboxState::Pending,
        last_error: None,
        created_at: NOV_30,
    }];
    let timeline = Timeline::build(rows(&items, &pending), None, utc_day);
    assert_eq!(shape(&timeline), ["sep -1", "m1", "sep 0", "pending"]);
}

#[test]
fn positions_follow_the_heights_of_the_entries() {
    let items = [
        message(1, "bob", NOV_30),
        message(2, "bob", NOV_30),
        gap(3, 4),
        message(5, "carol", NOV_30),
    ];
    let timeline = build(&items, None);
    let expected_total =
        DAY_SEPARATOR_HEIGHT_PX + ROW_HEIGHT_PX + CONTINUATION_HEIGHT_PX + 2.0 * ROW_HEIGHT_PX;
    assert_eq!(timeline.total_height(), expected_total);
    assert_eq!(
        timeline.top_of_seq(3),
        timeline.top_of_seq(4),
        "one skeleton for the whole gap"
    );
    assert_eq!(timeline.top_of_seq(5), Some(expected_total - ROW_HEIGHT_PX));
    assert!(timeline.is_at_bottom(expected_total - 300.0, 300.0));
    assert!(!timeline.is_at_bottom(0.0, 100.0));
}

#[test]
fn the_visible_range_of_a_huge_chat_is_bounded() {
    // 100,000 messages, a new author every 3 and a new day every 500.
    let items: Vec<WindowItem> = (1..=100_000u64)
        .map(|seq| {
            message(
                seq,
                ["bob", "carol"][(seq / 3 % 2) as usize],
                NOV_30 + (seq as i64 / 500) * DAY_MS,
            )
        })
        .collect();
    let timeline = build(&items, None);
    for scroll in [
        0.0,
        12_345.0,
        timeline.total_height() / 2.0,
        timeline.total_height() - 700.0,
        1e12,
    ] {
        let (start, end) = timeline.visible_range(scroll, 700.0, 8);
        assert!(start < end && end <= timeline.len());
        assert!(
            end - start <= (700.0 / CONTINUATION_HEIGHT_PX).ceil() as usize + 2 + 16,
            "{start}..{end}"
        );
        let (above, below) = timeline.spacer_heights((start, end));
        let rendered: f64 = timeline.entries()[start..end]
            .iter()
            .map(Entry::height)
            .sum();
        assert!((above + rendered + below - timeline.total_height()).abs() < 1e-6);
    }
}

#[test]
fn the_anchor_keeps_the_message_in_place_when_older_history_and_a_separator_arrive() {
    let mut items = vec![
        WindowItem::OlderHistory { to: 10 },
        message(11, "bob", NOV_30),
        message(12, "bob", NOV_30),
    ];
    let before = build(&items, None);
    let anchor = before.scroll_anchor(10.0).unwrap();
    assert_eq!(
        anchor.0, 11,
        "the skeleton and the separator are never the anchor"
    );
    items.splice(
        0..1,
        (1..=10).map(|seq| message(seq, "carol", NOV_30 - DAY_MS)),
    );
    let after = build(&items, None);
    let restored = after.restore_anchor(anchor).unwrap();
    assert_eq!(
        restored - after.top_of_seq(11).unwrap(),
        10.0 - before.top_of_seq(11).unwrap()
    );
}

#[test]
fn seen_messages_and_the_count_below() {
    let items: Vec<WindowItem> = (1..=20)
        .map(|seq| message(seq, if seq % 2 == 0 { "bob" } else { "carol" }, NOV_30))
        .collect();
    let timeline = build(&items, None);
    // Rows of 68 px after a 36 px separator: rows 1..=4 end at 36 + 4*68 = 308.
    assert_eq!(timeline.last_seq_in_view(0.0, 310.0), Some(4));
    assert_eq!(new_messages_below(20, 4), 16);
    assert_eq!(new_messages_below(20, 25), 0);
}

#[test]
fn opening_at_the_first_unread_puts_the_divider_near_the_top() {
    let items: Vec<WindowItem> = (1..=50)
        .map(|seq| message(seq, if seq % 2 == 0 { "bob" } else { "carol" }, NOV_30))
        .collect();
    let timeline = build(&items, Some(30));
    let divider = timeline.unread_divider_top().unwrap();
    assert_eq!(
        timeline.unread_scroll_top(600.0),
        Some(divider - UNREAD_CONTEXT_PX)
    );
    // Near the end: clamped to the bottom.
    let timeline = build(&items, Some(50));
    assert_eq!(
        timeline.unread_scroll_top(600.0),
        Some(timeline.total_height() - 600.0)
    );
    assert_eq!(build(&items, None).unread_scroll_top(600.0), None);
}

#[test]
fn first_unread_counts_back_over_others_messages_only() {
    let items = [
        message(1, "bob", 0),
        message(2, "alice", 0),
        gap(3, 4),
        message(5, "bob", 0),
        message(6, "alice", 0),
        message(7, "carol", 0),
    ];
    let me = UserId::new("alice");
    assert_eq!(first_unread_seq(&items, 0, Some(&me)), None);
    assert_eq!(first_unread_seq(&items, 1, Some(&me)), Some(7));
    assert_eq!(first_unread_seq(&items, 2, Some(&me)), Some(5));
    assert_eq!(first_unread_seq(&items, 3, Some(&me)), Some(1));
    assert_eq!(
        first_unread_seq(&items, 4, Some(&me)),
        None,
        "reaches before the window"
    );
}

fn arbitrary_items() -> impl Strategy<Value = Vec<WindowItem>> {
    // (kind, author, minutes after the previous item): kind 0..=5 message, 6 gap of 1..=3.
    proptest::collection::vec((0u8..7, 0usize..3, 0i64..2_000, 1u64..4), 0..60).prop_map(|spec| {
        let mut items = Vec::new();
        let mut seq = 1u64;
        let mut at = NOV_30;
        for (index, (kind, author, minutes, len)) in spec.into_iter().enumerate() {
            at += minutes * MINUTE;
            if kind == 6 && index > 0 {
                items.push(gap(seq, seq + len - 1));
                seq += len;
            } else {
                items.push(message(seq, ["alice", "bob", "carol"][author], at));
                seq += 1;
            }
        }
        items
    })
}

proptest! {
    /// Separators and groups never hide a gap: the timeline's rows are exactly the window's, in
    /// order; a grouped row follows a message of the same author and day; every message after a
    /// skeleton shows its header; each day with messages has exactly one separator.
    #[test]
    fn separators_and_groups_never_hide_a_gap(items in arbitrary_items(), unread in proptest::option::of(1u64..80)) {
        let timeline = build(&items, unread);
        let rows_back: Vec<Row> = timeline.entries().iter().filter_map(|e| match e {
            Entry::Row { row, .. } => Some(row.clone()),
            _ => None,
        }).collect();
        prop_assert_eq!(rows_back, rows(&items, &[]));
        for pair in timeline.entries().windows(2) {
            if let Entry::Row { grouped: true, row: Row::Item(WindowItem::Message { message }) } = &pair[1] {
                match &pair[0] {
                    Entry::Row { row: Row::Item(WindowItem::Message { message: before }), .. } => {
                        prop_assert_eq!(&before.author, &message.author);
                        prop_assert!(message.created_at - before.created_at <= GROUP_WINDOW_MS);
                        prop_assert_eq!(utc_day(before.created_at), utc_day(message.created_at));
                    }
                    other => prop_assert!(false, "grouped after {:?}", other),
                }
            }
        }
        let separators = timeline.entries().iter().filter(|e| matches!(e, Entry::DaySeparator { .. })).count();
        let mut days: Vec<i64> = items.iter().filter_map(|i| match i {
            WindowItem::Message { message } => Some(utc_day(message.created_at)),
            _ => None,
        }).collect();
        days.dedup();
        prop_assert_eq!(separators, days.len());
        let dividers = timeline.entries().iter().filter(|e| **e == Entry::UnreadDivider).count();
        let in_window = unread.is_some_and(|seq| items.iter().any(|i| { let (a, b) = i.seq_span(); a <= seq && seq <= b }));
        prop_assert_eq!(dividers, usize::from(in_window));
        let mut top = 0.0;
        for (index, entry) in timeline.entries().iter().enumerate() {
            prop_assert_eq!(timeline.top(index), top);
            top += entry.height();
        }
    }
}

/// The timeline of "no chat open yet" (between selecting a chat and its window arriving) is
/// `Timeline::default()`; the virtual list still asks it for spacers and tops. It panicked
/// (index out of bounds on `tops`), which stopped the whole UI on the second chat opened.
#[test]
fn the_empty_timeline_answers_like_any_other() {
    let empty = Timeline::default();
    assert_eq!(empty.total_height(), 0.0);
    assert_eq!(empty.top(0), 0.0);
    assert_eq!(empty.top(5), 0.0);
    assert_eq!(empty.spacer_heights((0, 0)), (0.0, 0.0));
    assert_eq!(empty.visible_range(0.0, 600.0, 5), (0, 0));
}
