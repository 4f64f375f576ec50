//! The view rules that matter, as plain functions (no Leptos, no Tauri), tested natively: the
//! rows of the open chat (window items, then unsent messages), when the sync indicator and the
//! Resync button may show, and how the cache map strip is laid out. Which rows are in the DOM
//! (the virtual window, scroll anchoring) is the timeline's (`timeline.rs`), the one layout the
//! app renders.

use roost_model::app::{CacheMapView, OutboxItem, SeqRange, WindowItem};
use roost_proto::Seq;

/// Height of every message row, in CSS pixels. Rows have one fixed height so the timeline's
/// virtual window is exact arithmetic (no measuring) and the DOM stays bounded.
pub const ROW_HEIGHT_PX: f64 = 68.0;
/// Rows rendered above and below the viewport.
pub const OVERSCAN_ROWS: usize = 8;

/// Rows the open chat's list renders above and below the viewport: none until the chat is
/// interactive (two frames after its rows were painted), so the frame that shows an open builds
/// and lays out only the rows in view (issue 11's click → paint); then [`OVERSCAN_ROWS`]. Rows
/// have fixed heights: the ones added later do not move what is in view.
pub fn overscan_rows(interactive: bool) -> usize {
    if interactive { OVERSCAN_ROWS } else { 0 }
}
/// The sync indicator appears only after a fetch has lasted this long (fast fetches never
/// flicker it).
pub const INDICATOR_DELAY_MS: f64 = 180.0;
/// The offline banner appears only after the stream has been down this long (start-up connects
/// in well under this).
pub const OFFLINE_BANNER_DELAY_MS: f64 = 1500.0;
/// Messages in the window an open reads (the shell's `OPEN_WINDOW_LIMIT`): a window read ahead
/// of a click reads as many.
pub const OPEN_WINDOW_LIMIT: u32 = 200;
/// Messages read from the cache per page when scrolling up through cached history.
pub const CACHED_PAGE: u32 = 200;

/// One row of the message list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Row {
    Item(WindowItem),
    Pending(OutboxItem),
}

impl Row {
    /// Stable key for keyed rendering: changes when the row's content changes (an edit bumps the
    /// version, a delivery changes the outbox status), so the row re-renders then and only then.
    pub fn key(&self) -> String {
        match self {
            // By id, not seq: two chats' rows of the same seq meet in one render when a switch
            // replaces the previous chat's rows with the new window.
            Row::Item(WindowItem::Message { message }) => {
                format!("m{}v{}", message.id.0.simple(), message.version)
            }
            Row::Item(WindowItem::Gap { from, to }) => format!("g{from}-{to}"),
            Row::Item(WindowItem::OlderHistory { to }) => format!("o{to}"),
            Row::Pending(item) => format!("p{}-{:?}", item.local_id, item.status),
        }
    }

    pub fn is_skeleton(&self) -> bool {
        matches!(self, Row::Item(item) if item.is_skeleton())
    }
}

/// Window items then unsent messages, in display order.
pub fn rows(items: &[WindowItem], pending: &[OutboxItem]) -> Vec<Row> {
    items
        .iter()
        .cloned()
        .map(Row::Item)
        .chain(pending.iter().cloned().map(Row::Pending))
        .collect()
}

/// Tracks the fetches of missing messages of one chat (between `FetchStarted` and
/// `FetchFinished`). The indicator shows only while at least one runs and the oldest running one
/// has lasted `INDICATOR_DELAY_MS`; there is no "done" state to show.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct FetchTracker {
    active: u32,
    since_ms: Option<f64>,
    /// The running fetch was inferred from the chat list after lost events (its start was not
    /// seen); the next real event of the chat replaces the assumption.
    assumed: bool,
}

impl FetchTracker {
    pub fn started(&mut self, now_ms: f64) {
        if self.assumed {
            // The fetch assumed running is this one (a chat runs one fetch at a time).
            self.assumed = false;
            self.active = 1;
            return;
        }
        if self.active == 0 {
            self.since_ms = Some(now_ms);
        }
        self.active += 1;
    }

    /// A fetch runs whose start was lost (read from the chat list after a reload): it has been
    /// running for a while, so the indicator shows at once.
    pub fn assume_running(&mut self, now_ms: f64) {
        if self.active == 0 {
            self.active = 1;
            self.since_ms = Some(now_ms - INDICATOR_DELAY_MS);
            self.assumed = true;
        }
    }

    /// The chat left `SYNCING`: an assumed fetch has ended (its `FetchFinished` may be lost too).
    pub fn clear_assumed(&mut self) {
        if self.assumed {
            self.reset();
        }
    }

    pub fn finished(&mut self) {
        self.active = self.active.saturating_sub(1);
        self.assumed = false;
        if self.active == 0 {
            self.since_ms = None;
        }
    }

    pub fn reset(&mut self) {
        *self = FetchTracker::default();
    }

    pub fn is_fetching(&self) -> bool {
        self.active > 0
    }

    pub fn indicator_visible(&self, now_ms: f64) -> bool {
        matches!(self.since_ms, Some(since) if self.active > 0 && now_ms - since >= INDICATOR_DELAY_MS)
    }

    /// When the indicator should be re-evaluated (`None`: nothing pending).
    pub fn indicator_due_at(&self) -> Option<f64> {
        self.since_ms.map(|since| since + INDICATOR_DELAY_MS)
    }
}

/// What the chat view knows about its own readiness.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ViewReadiness {
    /// The window came back from the cache and is in the model.
    pub window_loaded: bool,
    /// The message container is in the DOM.
    pub container_mounted: bool,
    /// A frame has passed since mounting: the view is painted and takes input.
    pub interactive: bool,
    /// Message rows (not skeletons) the view holds.
    pub message_rows: usize,
    /// The chat has no messages at all (nothing missing, nothing cached).
    pub chat_empty: bool,
}

/// SPEC rule 9: the Resync button shows only when the chat view is fully ready — rendered,
/// container present, interactive — and never on a skeleton-only first render.
pub fn resync_visible(readiness: ViewReadiness) -> bool {
    readiness.window_loaded
        && readiness.container_mounted
        && readiness.interactive
        && (readiness.message_rows > 0 || readiness.chat_empty)
}

/// Number of message (non-skeleton) items.
pub fn message_rows(items: &[WindowItem]) -> usize {
    items.iter().filter(|item| !item.is_skeleton()).count()
}

/// One segment of the cache map strip, positioned in percent of the strip's width.
#[derive(Debug, Clone, PartialEq)]
pub struct MapSegment {
    pub cached: bool,
    pub from: Seq,
    pub to: Seq,
    pub left_pct: f64,
    pub width_pct: f64,
}

/// Narrowest a segment is drawn (so a single missing message stays visible in a long chat).
pub const MIN_SEGMENT_PCT: f64 = 0.4;

/// Cached runs and missing ranges of `1 ..= last_seq`, in seq order, laid out on a 0–100 strip.
pub fn cache_map_segments(map: &CacheMapView) -> Vec<MapSegment> {
    if map.last_seq == 0 {
        return Vec::new();
    }
    let total = map.last_seq as f64;
    let mut spans: Vec<(bool, SeqRange)> = map
        .cached
        .iter()
        .map(|s| (true, *s))
        .chain(map.missing.iter().map(|s| (false, *s)))
        .filter(|(_, s)| s.start >= 1 && s.start <= map.last_seq)
        .collect();
    spans.sort_by_key(|(_, s)| s.start);
    spans
        .into_iter()
        .map(|(cached, s)| {
            let to = s.end.min(map.last_seq);
            let left_pct = (s.start - 1) as f64 / total * 100.0;
            let width_pct = ((to - s.start + 1) as f64 / total * 100.0).max(MIN_SEGMENT_PCT);
            MapSegment {
                cached,
                from: s.start,
                to,
                left_pct,
                width_pct,
            }
        })
        .collect()
}

/// What a key press in the composer does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ComposerKey {
    Send,
    /// Let the browser insert a newline (Shift+Enter) or handle the key.
    Default,
}

pub fn composer_key(key: &str, shift: bool, is_composing: bool) -> ComposerKey {
    if key == "Enter" && !shift && !is_composing {
        ComposerKey::Send
    } else {
        ComposerKey::Default
    }
}

/// Keyboard navigation of the chat list: the index to select after `key`, if it moves.
pub fn chat_list_key(key: &str, current: Option<usize>, len: usize) -> Option<usize> {
    if len == 0 {
        return None;
    }
    match key {
        "ArrowDown" => Some(current.map_or(0, |i| (i + 1).min(len - 1))),
        "ArrowUp" => Some(current.map_or(len - 1, |i| i.saturating_sub(1))),
        "Home" => Some(0),
        "End" => Some(len - 1),
        _ => None,
    }
}

/// `12 missing messages` / `1 missing message`.
pub fn missing_label(from: Seq, to: Seq) -> String {
    let n = to.saturating_sub(from) + 1;
    if n == 1 {
        "1 missing message".to_string()
    } else {
        format!("{n} missing messages")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use roost_model::fixtures::{gap, message_item as message, span};

    #[test]
    fn indicator_only_while_fetching_and_only_after_the_delay() {
        let mut tracker = FetchTracker::default();
        assert!(
            !tracker.indicator_visible(0.0),
            "nothing shows before a fetch"
        );
        tracker.started(1000.0);
        assert!(
            !tracker.indicator_visible(1000.0 + INDICATOR_DELAY_MS - 1.0),
            "no flicker for fast fetches"
        );
        assert!(tracker.indicator_visible(1000.0 + INDICATOR_DELAY_MS));
        tracker.started(1100.0);
        tracker.finished();
        assert!(
            tracker.indicator_visible(1300.0),
            "still fetching: one fetch remains"
        );
        tracker.finished();
        assert!(
            !tracker.indicator_visible(1300.0),
            "no 'synced' state after the fetch"
        );
        assert!(!tracker.indicator_visible(1e9));
        tracker.finished();
        assert!(
            !tracker.is_fetching(),
            "an unmatched finish never underflows"
        );
        // A fast fetch: started and finished before the delay never shows.
        tracker.started(5000.0);
        tracker.finished();
        assert!(!tracker.indicator_visible(5000.0 + INDICATOR_DELAY_MS));
    }

    #[test]
    fn resync_button_only_when_the_view_is_ready() {
        let ready = ViewReadiness {
            window_loaded: true,
            container_mounted: true,
            interactive: true,
            message_rows: 3,
            chat_empty: false,
        };
        assert!(resync_visible(ready));
        assert!(
            !resync_visible(ViewReadiness {
                window_loaded: false,
                ..ready
            }),
            "during init"
        );
        assert!(
            !resync_visible(ViewReadiness {
                container_mounted: false,
                ..ready
            }),
            "no container"
        );
        assert!(
            !resync_visible(ViewReadiness {
                interactive: false,
                ..ready
            }),
            "not painted yet"
        );
        assert!(
            !resync_visible(ViewReadiness {
                message_rows: 0,
                ..ready
            }),
            "skeleton-only render"
        );
        assert!(resync_visible(ViewReadiness {
            message_rows: 0,
            chat_empty: true,
            ..ready
        }));
        assert!(!resync_visible(ViewReadiness::default()));
    }

    #[test]
    fn cache_map_segments_cover_the_chat_in_order() {
        let map = CacheMapView {
            chat_id: roost_model::fixtures::chat_id(0),
            last_seq: 100,
            cached: vec![span(11, 40), span(51, 100)],
            missing: vec![span(1, 10), span(41, 50)],
            cached_count: 80,
        };
        let segments = cache_map_segments(&map);
        let kinds: Vec<(bool, Seq, Seq)> =
            segments.iter().map(|s| (s.cached, s.from, s.to)).collect();
        assert_eq!(
            kinds,
            vec![
                (false, 1, 10),
                (true, 11, 40),
                (false, 41, 50),
                (true, 51, 100)
            ]
        );
        assert_eq!(segments[0].left_pct, 0.0);
        assert_eq!(segments[1].left_pct, 10.0);
        assert_eq!(segments[3].width_pct, 50.0);
        let total: f64 = segments.iter().map(|s| s.width_pct).sum();
        assert!((total - 100.0).abs() < 1e-9);
        // One missing message among 100,000 stays visible.
        let map = CacheMapView {
            last_seq: 100_000,
            cached: vec![span(1, 49_999), span(50_001, 100_000)],
            missing: vec![span(50_000, 50_000)],
            cached_count: 99_999,
            ..map
        };
        let segments = cache_map_segments(&map);
        assert!(segments[1].width_pct >= MIN_SEGMENT_PCT);
        assert!(
            cache_map_segments(&CacheMapView {
                last_seq: 0,
                cached: vec![],
                missing: vec![],
                ..map
            })
            .is_empty()
        );
    }

    #[test]
    fn composer_enter_sends_and_shift_enter_is_a_newline() {
        assert_eq!(composer_key("Enter", false, false), ComposerKey::Send);
        assert_eq!(composer_key("Enter", true, false), ComposerKey::Default);
        assert_eq!(
            composer_key("Enter", false, true),
            ComposerKey::Default,
            "IME composition"
        );
        assert_eq!(composer_key("a", false, false), ComposerKey::Default);
    }

    #[test]
    fn chat_list_keyboard_navigation() {
        assert_eq!(chat_list_key("ArrowDown", None, 3), Some(0));
        assert_eq!(chat_list_key("ArrowDown", Some(2), 3), Some(2));
        assert_eq!(chat_list_key("ArrowUp", Some(0), 3), Some(0));
        assert_eq!(chat_list_key("ArrowUp", None, 3), Some(2));
        assert_eq!(chat_list_key("End", Some(0), 3), Some(2));
        assert_eq!(chat_list_key("Home", Some(2), 3), Some(0));
        assert_eq!(chat_list_key("x", Some(1), 3), None);
        assert_eq!(chat_list_key("ArrowDown", None, 0), None);
    }

    #[test]
    fn row_keys_change_with_content() {
        let mut edited = message(2);
        if let WindowItem::Message { message } = &mut edited {
            message.version = 2;
        }
        assert_ne!(Row::Item(message(2)).key(), Row::Item(edited).key());
        assert_ne!(Row::Item(gap(1, 2)).key(), Row::Item(gap(1, 3)).key());
    }

    /// Defect (E2E `accounts::switching_accounts_…`, `sync::message_for_a_closed_chat_…`):
    /// since a switch keeps the previous chat's rows until the new window replaces them in one
    /// render, a message keyed by seq and version kept the previous chat's row of the same seq
    /// on screen. Messages are keyed by their id.
    #[test]
    fn the_same_seq_in_two_chats_has_two_keys() {
        let other_chat = roost_model::fixtures::chat_id(1);
        let elsewhere = WindowItem::Message {
            message: roost_model::fixtures::message(other_chat, 2),
        };
        assert_ne!(Row::Item(message(2)).key(), Row::Item(elsewhere).key());
    }
}
