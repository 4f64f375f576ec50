//! Native render tests of the timeline and the dialogs: each rule as the HTML a user would get.

use super::*;
use crate::logic::{self, Row};
use crate::testing::{self, Shown};
use roost_model::app::WindowItem;
use roost_model::fixtures::{chat_entry, message_by as message, next_chat_id};
use roost_proto::Seq;

const MINUTE: i64 = 60_000;
const DAY: i64 = 86_400_000;
/// 2026-11-30 00:00 UTC (day 20787).
const TODAY: i64 = 20_787;
const NOV_30: i64 = TODAY * DAY;

fn render(items: &[WindowItem], first_unread: Option<Seq>) -> String {
    let timeline = Timeline::build(logic::rows(items, &[]), first_unread, timeline::local_day);
    testing::render_timeline(timeline, TODAY)
}

/// What the list shows, in document order: "— Today —", "— New messages —", "m<seq>" with a
/// "+" when grouped, "gap a-b" / "older ..b" for skeletons.
fn rendered(html: &str) -> Vec<String> {
    testing::shown(html)
        .into_iter()
        .map(|entry| match entry {
            Shown::Message { seq, grouped, .. } => {
                format!("m{seq}{}", if grouped { "+" } else { "" })
            }
            Shown::Skeleton { kind, to, .. } if kind == "older-history" => format!("older ..{to}"),
            Shown::Skeleton { from, to, .. } => format!("gap {from}-{to}"),
            Shown::DaySeparator { label } => format!("— {label} —"),
            Shown::UnreadDivider => "— New messages —".to_string(),
        })
        .collect()
}

#[test]
fn day_separators_say_today_yesterday_and_dates() {
    let items = [
        message(1, "bob", NOV_30 - 40 * DAY),
        message(2, "bob", NOV_30 - DAY + 60 * MINUTE),
        message(3, "carol", NOV_30 + 60 * MINUTE),
    ];
    assert_eq!(
        rendered(&render(&items, None)),
        [
            "— Wednesday, October 21 —",
            "m1",
            "— Yesterday —",
            "m2",
            "— Today —",
            "m3"
        ]
    );
}

#[test]
fn grouped_messages_show_no_repeated_header_but_keep_the_author_for_screen_readers() {
    let items = [
        message(1, "bob", NOV_30),
        message(2, "bob", NOV_30 + MINUTE),
        message(3, "carol", NOV_30 + 2 * MINUTE),
    ];
    let html = render(&items, None);
    assert_eq!(rendered(&html), ["— Today —", "m1", "m2+", "m3"]);
    assert!(
        html.contains("grouped\""),
        "the grouped row carries the class: {html}"
    );
    assert_eq!(
        html.matches("class=\"author\"").count(),
        3,
        "every row names its author (grouped ones visually hidden)"
    );
}

#[test]
fn skeletons_stay_exactly_at_gaps_next_to_separators_and_groups() {
    let items = [
        WindowItem::OlderHistory { to: 4 },
        message(5, "bob", NOV_30 - DAY),
        message(6, "bob", NOV_30 - DAY + MINUTE),
        WindowItem::Gap { from: 7, to: 9 },
        message(10, "bob", NOV_30 - DAY + 2 * MINUTE),
        WindowItem::Gap { from: 11, to: 11 },
        message(12, "bob", NOV_30),
        message(13, "bob", NOV_30 + MINUTE),
        WindowItem::Gap { from: 14, to: 20 },
    ];
    assert_eq!(
        rendered(&render(&items, None)),
        [
            "older ..4",
            "— Yesterday —",
            "m5",
            "m6+",
            "gap 7-9",
            "m10",
            "gap 11-11",
            "— Today —",
            "m12",
            "m13+",
            "gap 14-20"
        ]
    );
}

#[test]
fn the_new_messages_divider_stands_at_the_first_unread_message_or_its_skeleton() {
    let items = [
        message(1, "bob", NOV_30),
        message(2, "bob", NOV_30 + MINUTE),
        message(3, "bob", NOV_30 + 2 * MINUTE),
    ];
    assert_eq!(
        rendered(&render(&items, Some(2))),
        ["— Today —", "m1", "— New messages —", "m2", "m3+"],
        "after the divider a new group starts"
    );
    let items = [
        message(1, "bob", NOV_30),
        WindowItem::Gap { from: 2, to: 4 },
        message(5, "bob", NOV_30),
    ];
    assert_eq!(
        rendered(&render(&items, Some(3))),
        ["— Today —", "m1", "— New messages —", "gap 2-4", "m5"]
    );
    let html = render(&items, Some(3));
    assert!(html.contains("role=\"separator\""));
}

#[test]
fn only_the_entries_in_range_are_in_the_dom_and_spacers_stand_for_the_rest() {
    let items: Vec<WindowItem> = (1..=10_000)
        .map(|seq| message(seq, ["bob", "carol"][(seq % 2) as usize], NOV_30))
        .collect();
    let timeline = Timeline::build(logic::rows(&items, &[]), None, timeline::local_day);
    let range = timeline.visible_range(timeline.total_height() / 2.0, 700.0, logic::OVERSCAN_ROWS);
    let (above, below) = timeline.spacer_heights(range);
    let html = Owner::new()
        .with(|| view! { <TimelineRows timeline=timeline.clone() range today=TODAY /> }.to_html());
    let shown = rendered(&html);
    assert!(shown.len() <= 30, "{} rows in the DOM", shown.len());
    assert!(
        html.contains(&format!("height:{above}px")) || html.contains(&format!("height: {above}px"))
    );
    assert!(
        html.contains(&format!("height:{below}px")) || html.contains(&format!("height: {below}px"))
    );
}

#[test]
fn message_text_has_no_tooltip() {
    let html = render(&[message(1, "bob", NOV_30)], None);
    assert!(html.contains(">m1<"));
    assert!(!html.contains("title="), "{html}");
}

#[test]
fn jump_to_latest_shows_the_count_of_new_messages_below() {
    let html =
        view! { <JumpToLatest visible=true new_below=3u64 on_click=Callback::new(|_| {}) /> }
            .to_html();
    assert!(html.contains("data-testid=\"jump-to-latest\""));
    assert!(
        html.contains("aria-label=\"Jump to the latest message, 3 new messages\""),
        "{html}"
    );
    assert!(html.contains(">3<"));
    let html =
        view! { <JumpToLatest visible=true new_below=0u64 on_click=Callback::new(|_| {}) /> }
            .to_html();
    assert!(!html.contains("jump-count"));
    let html =
        view! { <JumpToLatest visible=false new_below=3u64 on_click=Callback::new(|_| {}) /> }
            .to_html();
    assert!(!html.contains("jump-to-latest"), "at the bottom: no button");
}

fn chat(title: &str, unread: u64) -> ChatEntry {
    ChatEntry {
        unread_count: unread,
        ..chat_entry(next_chat_id(), title)
    }
}

#[test]
fn quick_switcher_is_a_labelled_modal_combobox_listing_the_chats() {
    let chats = vec![chat("General", 0), chat("Bob", 2), chat("Book club", 0)];
    let html = Owner::new().with(|| {
        view! { <QuickSwitcher chats on_choose=Callback::new(|_| {}) on_close=Callback::new(|_| {}) /> }.to_html()
    });
    assert!(html.contains("role=\"dialog\"") && html.contains("aria-modal=\"true\""));
    assert!(
        html.contains("role=\"combobox\"") && html.contains("aria-controls=\"switcher-results\"")
    );
    assert!(html.contains("aria-activedescendant=\"switcher-option-0\""));
    assert_eq!(html.matches("role=\"option\"").count(), 3);
    assert!(html.contains("aria-label=\"2 unread\""));
    assert!(html.contains("id=\"switcher-option-0\"") && html.contains("aria-selected=\"true\""));
}

#[test]
fn shortcut_sheet_lists_every_shortcut() {
    let html = view! { <ShortcutSheet on_close=Callback::new(|_| {}) /> }.to_html();
    assert!(html.contains("role=\"dialog\"") && html.contains("Keyboard shortcuts"));
    for (_, rows) in shortcuts::SHEET {
        for (_, what) in *rows {
            assert!(html.contains(what), "{what} missing");
        }
    }
    assert!(html.contains("aria-label=\"Close keyboard shortcuts\""));
}

#[test]
fn theme_picker_offers_system_light_and_dark() {
    let html =
        view! { <ThemePicker theme=Theme::Dark on_change=Callback::new(|_| {}) /> }.to_html();
    assert!(html.contains("aria-label=\"Colour theme\""));
    for label in ["System", "Light", "Dark"] {
        assert!(html.contains(&format!(">{label}<")));
    }
    assert!(html.contains("value=\"dark\" selected"), "{html}");
}

#[test]
fn rows_are_unchanged_by_the_timeline() {
    // The same rows the plain list would show, separators aside.
    let items = [
        message(1, "bob", NOV_30),
        WindowItem::Gap { from: 2, to: 3 },
    ];
    let timeline = Timeline::build(logic::rows(&items, &[]), None, timeline::local_day);
    let rows: Vec<Row> = timeline
        .entries()
        .iter()
        .filter_map(|e| match e {
            Entry::Row { row, .. } => Some(row.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(rows, logic::rows(&items, &[]));
}

#[test]
fn chat_list_rows_say_which_day_their_time_is_on() {
    use crate::components::{ChatListItem, now_unix_ms};
    let now = now_unix_ms();
    let at = now - 3 * DAY;
    let entry = ChatEntry {
        last_message_at: Some(at),
        ..chat("Weekend hike", 0)
    };
    let html = view! { <ChatListItem chat=entry selected=false on_select=Callback::new(|_| {}) /> }
        .to_html();
    let label = timeline::chat_list_time(at, now);
    assert_eq!(label.len(), 3, "a weekday, not a bare HH:MM: {label}");
    assert!(html.contains(&format!(">{label}<")), "{html}");
}
