//! The message list as a timeline: what stands between the rows of a chat window — day
//! separators ("Today", "Yesterday", dates), the "New messages" divider at the first unread
//! message — which messages continue their author's group (no repeated name and time), and
//! where every entry sits (entries have different heights; positions are prefix sums, the
//! visible range a binary search). Pure functions, tested natively; `app` wires them.
//!
//! **Invariant: a separator or a group never hides a gap.** The rows of a timeline are exactly
//! the rows it was built from, in the same order (skeletons included); separators and the
//! divider are only inserted between them; a row is grouped only when the entry right before
//! it is a message, so a message after a skeleton always shows its author and time (the missing
//! messages may be anyone's).

use crate::logic::{ROW_HEIGHT_PX, Row};
use roost_model::app::WindowItem;
use roost_proto::{Seq, UnixMillis, UserId};

/// Consecutive messages of one author within this time form a group.
pub const GROUP_WINDOW_MS: UnixMillis = 5 * 60_000;
/// A message that continues its author's group: text only (two lines).
pub const CONTINUATION_HEIGHT_PX: f64 = 44.0;
pub const DAY_SEPARATOR_HEIGHT_PX: f64 = 36.0;
pub const UNREAD_DIVIDER_HEIGHT_PX: f64 = 32.0;
/// When a chat opens at its first unread message, this much of what was read stays above it.
pub const UNREAD_CONTEXT_PX: f64 = 48.0;

const DAY_MS: i64 = 86_400_000;

/// One entry of the timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// Before the first row of a local calendar day (`day`: days since 1970-01-01, local time).
    DaySeparator { day: i64 },
    /// Before the row holding the first unread message (a message, or the skeleton standing
    /// for it).
    UnreadDivider,
    /// A row of the window; `grouped` when it continues the previous message's author group.
    Row { row: Row, grouped: bool },
}

impl Entry {
    pub fn height(&self) -> f64 {
        match self {
            Entry::DaySeparator { .. } => DAY_SEPARATOR_HEIGHT_PX,
            Entry::UnreadDivider => UNREAD_DIVIDER_HEIGHT_PX,
            Entry::Row { grouped: true, .. } => CONTINUATION_HEIGHT_PX,
            Entry::Row { .. } => ROW_HEIGHT_PX,
        }
    }

    /// Stable key for keyed rendering (changes with what the entry shows).
    pub fn key(&self) -> String {
        match self {
            Entry::DaySeparator { day } => format!("d{day}"),
            Entry::UnreadDivider => "unread".to_string(),
            Entry::Row { row, grouped } => {
                format!("{}{}", row.key(), if *grouped { "g" } else { "" })
            }
        }
    }

    /// The seqs this entry stands for (`None` for separators and pending rows).
    pub fn seq_span(&self) -> Option<(Seq, Seq)> {
        match self {
            Entry::Row {
                row: Row::Item(item),
                ..
            } => Some(item.seq_span()),
            _ => None,
        }
    }

    fn message_seq(&self) -> Option<Seq> {
        match self {
            Entry::Row {
                row: Row::Item(WindowItem::Message { message }),
                ..
            } => Some(message.seq),
            _ => None,
        }
    }
}

/// When a row was written (messages and unsent messages; skeletons have no time).
fn written_at(row: &Row) -> Option<UnixMillis> {
    match row {
        Row::Item(WindowItem::Message { message }) => Some(message.created_at),
        Row::Pending(item) => Some(item.created_at),
        Row::Item(_) => None,
    }
}

/// The timeline of a window: entries and their positions.
#[derive(Debug, Clone, PartialEq)]
pub struct Timeline {
    entries: Vec<Entry>,
    /// `tops[i]` is where entry `i` starts; `tops[len]` is the total height.
    tops: Vec<f64>,
}

impl Default for Timeline {
    /// No rows: `tops` still holds the total height (0), as for every timeline.
    fn default() -> Timeline {
        Timeline {
            entries: Vec::new(),
            tops: vec![0.0],
        }
    }
}

impl Timeline {
    /// Builds the timeline of `rows` (window items then unsent messages). `first_unread`: the
    /// seq the "New messages" divider goes before; `day_of`: the local calendar day of a time.
    pub fn build(
        rows: Vec<Row>,
        first_unread: Option<Seq>,
        day_of: impl Fn(UnixMillis) -> i64,
    ) -> Timeline {
        let mut entries = Vec::with_capacity(rows.len() + 8);
        let mut last_day: Option<i64> = None;
        // Author and time of the message right before (None after anything else).
        let mut previous: Option<(UserId, UnixMillis)> = None;
        let mut divider_placed = false;
        for row in rows {
            if let Some(at) = written_at(&row) {
                let day = day_of(at);
                if last_day != Some(day) {
                    entries.push(Entry::DaySeparator { day });
                    previous = None;
                    last_day = Some(day);
                }
            }
            let holds_first_unread = first_unread.is_some_and(|seq| match &row {
                Row::Item(item) => {
                    let (a, b) = item.seq_span();
                    a <= seq && seq <= b
                }
                Row::Pending(_) => false,
            });
            if holds_first_unread && !divider_placed {
                entries.push(Entry::UnreadDivider);
                divider_placed = true;
                previous = None;
            }
            let grouped = match (&row, &previous) {
                (Row::Item(WindowItem::Message { message }), Some((author, at))) => {
                    *author == message.author
                        && message.created_at >= *at
                        && message.created_at - at <= GROUP_WINDOW_MS
                }
                _ => false,
            };
            previous = match &row {
                Row::Item(WindowItem::Message { message }) => {
                    // A group is measured from its last message (a steady conversation keeps
                    // one header), like Slack and Telegram.
                    Some((message.author.clone(), message.created_at))
                }
                _ => None,
            };
            entries.push(Entry::Row { row, grouped });
        }
        let mut tops = Vec::with_capacity(entries.len() + 1);
        let mut top = 0.0;
        for entry in &entries {
            tops.push(top);
            top += entry.height();
        }
        tops.push(top);
        Timeline { entries, tops }
    }

    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn total_height(&self) -> f64 {
        self.tops.last().copied().unwrap_or(0.0)
    }

    pub fn top(&self, index: usize) -> f64 {
        self.tops[index.min(self.entries.len())]
    }

    /// Index of the entry at `y` (clamped to the last entry).
    fn index_at(&self, y: f64) -> usize {
        if self.entries.is_empty() {
            return 0;
        }
        // The first entry whose bottom is below y.
        let index = self.tops[1..].partition_point(|bottom| *bottom <= y);
        index.min(self.entries.len() - 1)
    }

    /// Entries to put in the DOM for a scroll position: `start .. end`, with `overscan`
    /// entries above and below what is visible. Bounded by the viewport, not the chat length.
    pub fn visible_range(
        &self,
        scroll_top: f64,
        viewport_height: f64,
        overscan: usize,
    ) -> (usize, usize) {
        if self.entries.is_empty() {
            return (0, 0);
        }
        let first = self.index_at(scroll_top.max(0.0));
        let last = self.index_at(scroll_top.max(0.0) + viewport_height.max(0.0));
        let start = first.saturating_sub(overscan);
        let end = (last + 1 + overscan).min(self.entries.len());
        (start, end)
    }

    /// Heights of the spacers above and below the rendered entries.
    pub fn spacer_heights(&self, range: (usize, usize)) -> (f64, f64) {
        let total = self.total_height();
        (self.top(range.0), total - self.top(range.1))
    }

    /// Index of the entry standing for `seq` (a message, or the skeleton covering it).
    pub fn index_of_seq(&self, seq: Seq) -> Option<usize> {
        self.entries
            .iter()
            .position(|e| e.seq_span().is_some_and(|(a, b)| a <= seq && seq <= b))
    }

    pub fn top_of_seq(&self, seq: Seq) -> Option<f64> {
        self.index_of_seq(seq).map(|index| self.top(index))
    }

    pub fn unread_divider_top(&self) -> Option<f64> {
        self.entries
            .iter()
            .position(|e| *e == Entry::UnreadDivider)
            .map(|index| self.top(index))
    }

    /// What to keep in place when entries change above the viewport: the first message at or
    /// below the top of the viewport, and the viewport top's offset from it. Never a skeleton
    /// or a separator (they move or vanish when history arrives).
    pub fn scroll_anchor(&self, scroll_top: f64) -> Option<(Seq, f64)> {
        let first = self.index_at(scroll_top.max(0.0));
        (first..self.entries.len()).find_map(|index| {
            self.entries[index]
                .message_seq()
                .map(|seq| (seq, scroll_top - self.top(index)))
        })
    }

    /// Where to scroll so that the anchor sits where it was.
    pub fn restore_anchor(&self, anchor: (Seq, f64)) -> Option<f64> {
        self.top_of_seq(anchor.0).map(|top| top + anchor.1)
    }

    /// Whether the view is scrolled to (within a row of) the bottom.
    pub fn is_at_bottom(&self, scroll_top: f64, viewport_height: f64) -> bool {
        scroll_top + viewport_height >= self.total_height() - ROW_HEIGHT_PX
    }

    /// Highest message seq whose row is entirely in the viewport.
    pub fn last_seq_in_view(&self, scroll_top: f64, viewport_height: f64) -> Option<Seq> {
        if self.entries.is_empty() {
            return None;
        }
        let bottom = scroll_top + viewport_height;
        let (start, _) = self.visible_range(scroll_top, viewport_height, 0);
        let last = self.index_at(bottom);
        (start..=last)
            .rev()
            .filter(|index| self.top(index + 1) <= bottom + 0.5)
            .find_map(|index| self.entries[index].message_seq())
    }

    /// Where a chat that opens at its first unread message scrolls to: the divider near the top
    /// of the viewport, a little of what was read above it. `None` without a divider.
    pub fn unread_scroll_top(&self, viewport_height: f64) -> Option<f64> {
        let top = self.unread_divider_top()?;
        let max = (self.total_height() - viewport_height).max(0.0);
        Some((top - UNREAD_CONTEXT_PX).clamp(0.0, max))
    }
}

/// The first unread message of a window: going back from the newest, the `unread_count`-th
/// message not written by `me` (the core counts only others' new messages as unread). `None`
/// when nothing is unread or the window does not reach back that far (load an earlier page).
pub fn first_unread_seq(
    items: &[WindowItem],
    unread_count: u64,
    me: Option<&UserId>,
) -> Option<Seq> {
    if unread_count == 0 {
        return None;
    }
    let mut counted = 0u64;
    for item in items.iter().rev() {
        if let WindowItem::Message { message } = item
            && me != Some(&message.author)
        {
            counted += 1;
            if counted == unread_count {
                return Some(message.seq);
            }
        }
    }
    None
}

/// Messages below what the user has seen: the chat's newest seq minus the highest seq seen.
pub fn new_messages_below(last_seq: Seq, seen_up_to: Seq) -> u64 {
    last_seq.saturating_sub(seen_up_to)
}

/// Offset of local time from UTC at `unix_ms` (the app's time zone; UTC natively).
pub fn local_offset_ms(unix_ms: UnixMillis) -> i64 {
    #[cfg(target_arch = "wasm32")]
    {
        let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(unix_ms as f64));
        -(date.get_timezone_offset() * 60_000.0) as i64
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        let _ = unix_ms;
        0
    }
}

/// Local calendar day of a time: days since 1970-01-01.
pub fn local_day(unix_ms: UnixMillis) -> i64 {
    (unix_ms + local_offset_ms(unix_ms)).div_euclid(DAY_MS)
}

/// Calendar date (year, month 1–12, day 1–31) of a day number (proleptic Gregorian).
pub fn civil_date(day: i64) -> (i64, u32, u32) {
    let z = day + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

const WEEKDAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];
const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

fn weekday(day: i64) -> &'static str {
    // 1970-01-01 was a Thursday.
    WEEKDAYS[(day + 3).rem_euclid(7) as usize]
}

/// The label of a day separator: "Today", "Yesterday", "Monday, November 23" (this year) or
/// "Monday, November 23, 2025".
pub fn day_label(day: i64, today: i64) -> String {
    match today - day {
        0 => "Today".to_string(),
        1 => "Yesterday".to_string(),
        _ => {
            let (year, month, date) = civil_date(day);
            let (this_year, _, _) = civil_date(today);
            let month = MONTHS[month as usize - 1];
            if year == this_year {
                format!("{}, {month} {date}", weekday(day))
            } else {
                format!("{}, {month} {date}, {year}", weekday(day))
            }
        }
    }
}

/// The time a chat list row shows for its last activity, consistent with the list's order:
/// `HH:MM` today, "Yesterday", a weekday within the week, else a date.
pub fn chat_list_time(unix_ms: UnixMillis, now_ms: UnixMillis) -> String {
    let day = local_day(unix_ms);
    let today = local_day(now_ms);
    match today - day {
        0 => {
            let minutes = (unix_ms + local_offset_ms(unix_ms)).div_euclid(60_000);
            format!(
                "{:02}:{:02}",
                minutes.div_euclid(60).rem_euclid(24),
                minutes.rem_euclid(60)
            )
        }
        1 => "Yesterday".to_string(),
        2..=6 => weekday(day)[..3].to_string(),
        _ => {
            let (year, month, date) = civil_date(day);
            let month = &MONTHS[month as usize - 1][..3];
            if year == civil_date(today).0 {
                format!("{month} {date}")
            } else {
                format!("{month} {date}, {year}")
            }
        }
    }
}

#[cfg(test)]
mod tests;
