//! Chats' newest windows read ahead of their click (issue 11's click → paint): on the
//! pointerdown of a mouse click (which fires when the button goes down, the click tens of ms
//! later on release), and, while the page is idle, for the few chats likeliest to be opened
//! next ([`idle_candidates`]: the rows beside the selected one, where the keyboard goes, and the
//! list's top), so that a click with no pointerdown (keyboard, `element.click()`) finds the
//! cache's answer in the page too. The click then renders from it at once, while the open
//! itself (which marks the chat open in the core) still runs; its answer only confirms the rows
//! (every change since the read was applied to them), its window not even decoded.
//!
//! Never stale: each read is the store's own (`cached_window`), held only until the click that
//! selects its chat, and dropped by any event naming the chat — or reloading everything — from
//! the moment its request left (the app reads it again once the page is idle). An event emitted
//! before the read may still arrive after it; dropping on every event since the request covers
//! both orders. Bounded: at most [`READ_AHEAD_CAPACITY`] windows of the open's size.

use roost_model::app::{ChatEntry, ChatWindowView, UiEvent};
use roost_proto::ChatId;

/// How many chats' windows are read ahead when the page is idle ([`idle_candidates`]): the
/// rows next to the selected one and the top of the list.
pub const IDLE_READ_AHEAD: usize = 3;

/// How many read-ahead windows are held at most (each at most the open's 200 rows): the idle
/// ones and one for the chat under the pointer.
pub const READ_AHEAD_CAPACITY: usize = IDLE_READ_AHEAD + 1;

/// The read-ahead windows (or their requests on their way), oldest first, at most
/// [`READ_AHEAD_CAPACITY`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Prefetch {
    ahead: Vec<Ahead>,
    last_request: u64,
}

#[derive(Debug, Clone, PartialEq)]
struct Ahead {
    chat_id: ChatId,
    request: u64,
    /// `None` until the reply arrived.
    window: Option<ChatWindowView>,
}

impl Prefetch {
    /// A read of `chat_id`'s newest window is about to be sent: its request id, or `None` when
    /// one for this chat is already on its way or held. Beyond [`READ_AHEAD_CAPACITY`] the
    /// oldest read-ahead goes.
    pub fn requested(&mut self, chat_id: ChatId) -> Option<u64> {
        if self.ahead.iter().any(|a| a.chat_id == chat_id) {
            return None;
        }
        self.last_request += 1;
        self.ahead.push(Ahead {
            chat_id,
            request: self.last_request,
            window: None,
        });
        if self.ahead.len() > READ_AHEAD_CAPACITY {
            self.ahead.remove(0);
        }
        Some(self.last_request)
    }

    /// The reply to `request` arrived: held when nothing dropped the request since. Returns
    /// whether it was kept.
    pub fn arrived(&mut self, chat_id: ChatId, request: u64, window: ChatWindowView) -> bool {
        match self.ahead.iter_mut().find(|a| a.chat_id == chat_id) {
            Some(ahead) if ahead.request == request && window.chat.chat_id == chat_id => {
                ahead.window = Some(window);
                true
            }
            _ => false,
        }
    }

    /// Every event from the shell passes here first: one that may change what a chat shows
    /// drops its read-ahead (held or still on its way). Returns whether any was dropped.
    pub fn observe(&mut self, event: &UiEvent) -> bool {
        let before = self.ahead.len();
        self.ahead.retain(|ahead| !may_change(event, ahead.chat_id));
        self.ahead.len() != before
    }

    /// The request of `chat_id`'s read-ahead, when its window arrived and is held.
    pub fn held(&self, chat_id: ChatId) -> Option<u64> {
        self.ahead
            .iter()
            .find(|ahead| ahead.chat_id == chat_id && ahead.window.is_some())
            .map(|ahead| ahead.request)
    }

    /// `chat_id`'s window, when held.
    pub fn window(&self, chat_id: ChatId) -> Option<&ChatWindowView> {
        self.ahead
            .iter()
            .find(|ahead| ahead.chat_id == chat_id)
            .and_then(|ahead| ahead.window.as_ref())
    }

    /// Whether a read of `chat_id` is held or on its way.
    pub fn has(&self, chat_id: ChatId) -> bool {
        self.ahead.iter().any(|ahead| ahead.chat_id == chat_id)
    }

    /// How many read-ahead windows are held or on their way.
    pub fn len(&self) -> usize {
        self.ahead.len()
    }

    /// Whether nothing is read ahead.
    pub fn is_empty(&self) -> bool {
        self.ahead.is_empty()
    }

    /// The click selected `chat_id`: its read-ahead window, if it arrived. Its entry goes (a
    /// later reply of its request is ignored); other chats' stay, still dropped by their events.
    pub fn take(&mut self, chat_id: ChatId) -> Option<ChatWindowView> {
        let at = self.ahead.iter().position(|a| a.chat_id == chat_id)?;
        self.ahead.remove(at).window
    }
}

/// The chats worth reading ahead while the page is idle, the likeliest next open first: the
/// row below the selected one and the row above (where ArrowDown and ArrowUp go, or Enter after
/// Tab), then the list's top rows (the first with nothing selected). Never the selected chat
/// nor one with unread messages (it opens at the first of them, which the newest window may
/// not hold); at most `limit`.
pub fn idle_candidates(chats: &[ChatEntry], selected: Option<ChatId>, limit: usize) -> Vec<ChatId> {
    let at = selected.and_then(|id| chats.iter().position(|c| c.chat_id == id));
    let neighbours = at
        .into_iter()
        .flat_map(|i| [i.checked_add(1), i.checked_sub(1)])
        .flatten();
    let mut out = Vec::with_capacity(limit);
    for i in neighbours.chain(0..chats.len()) {
        if out.len() == limit {
            break;
        }
        let Some(chat) = chats.get(i) else {
            continue;
        };
        if Some(chat.chat_id) == selected || chat.unread_count > 0 || out.contains(&chat.chat_id) {
            continue;
        }
        out.push(chat.chat_id);
    }
    out
}

/// Whether `event` may change what chat `chat_id` shows: any event naming it, and the events
/// that start everything over. Only the connection's state names no chat and changes no rows.
fn may_change(event: &UiEvent, chat_id: ChatId) -> bool {
    match event {
        UiEvent::ChatUpdated { chat } => chat.chat_id == chat_id,
        UiEvent::WindowChanged { chat_id: c, .. }
        | UiEvent::SyncState { chat_id: c, .. }
        | UiEvent::FetchStarted { chat_id: c }
        | UiEvent::FetchFinished { chat_id: c, .. }
        | UiEvent::ChatRemoved { chat_id: c } => *c == chat_id,
        UiEvent::Outbox { item, .. } => item.chat_id == chat_id,
        UiEvent::Session { .. } | UiEvent::Reload => true,
        UiEvent::Connection { .. } => false,
    }
}

#[cfg(test)]
mod tests {
    use crate::state::UiState;
    use roost_model::app::{
        ChatEntry, ChatWindowView, OfflineCoverage, OutboxItem, OutboxState, SeqRange, SyncState,
        UiEvent, WindowItem,
    };
    use roost_model::fixtures;
    use roost_proto::{ChatId, Seq};

    fn big() -> ChatId {
        fixtures::chat_id(21)
    }
    fn small() -> ChatId {
        fixtures::chat_id(22)
    }
    fn entry(chat_id: ChatId, last_seq: Seq) -> ChatEntry {
        ChatEntry {
            last_seq,
            cached_count: last_seq,
            offline: OfflineCoverage::Complete,
            sync_state: SyncState::InSync,
            ..fixtures::chat_entry(chat_id, "t")
        }
    }
    fn window(chat_id: ChatId, last: Seq) -> ChatWindowView {
        ChatWindowView {
            chat: entry(chat_id, last),
            items: roost_model::ranges::span_items(
                SeqRange::new(1, last),
                (1..=last).map(|seq| fixtures::message(chat_id, seq)),
            ),
            pending: vec![],
            has_more_before: false,
            has_more_after: false,
        }
    }
    /// Two listed chats, `small` open (its window arrived).
    fn small_open() -> UiState {
        let mut state = UiState::default();
        state.chats_reloaded(vec![entry(big(), 3), entry(small(), 1)], 0.0);
        state.select(small());
        let request = state.window_requested();
        assert!(state.window_opened(small(), request, window(small(), 1)));
        state
    }
    /// The click on `big` as the app makes it: the read-ahead taken, `big` selected, its open
    /// requested and, with a window read ahead, shown. Returns the open's request.
    fn click_big(state: &mut UiState) -> (u64, bool) {
        let ahead = state.take_prefetched(big());
        state.select(big());
        let request = state.window_requested();
        let shown = ahead.is_some_and(|w| state.window_prefetched(big(), w));
        (request, shown)
    }
    fn last_shown_seq(state: &UiState) -> Option<Seq> {
        let open = state.open.as_ref()?;
        (open.chat.chat_id == big()).then(|| window_last(&open.items))
    }
    fn window_last(items: &[WindowItem]) -> Seq {
        roost_model::window::coverage(items).map_or(0, |(_, last)| last)
    }

    #[test]
    fn a_window_read_ahead_of_the_click_is_shown_at_the_click_and_the_open_confirms_it() {
        let mut state = small_open();
        let read = state.prefetch_requested(big()).expect("a read ahead");
        assert_eq!(state.prefetch_requested(big()), None, "one read per chat");
        state.prefetch_arrived(big(), read, window(big(), 3));
        let (request, shown) = click_big(&mut state);
        assert!(shown);
        assert!(state.open_is_selected(), "the rows are the selected chat's");
        assert_eq!(last_shown_seq(&state), Some(3));
        let open = state.open.as_ref().unwrap();
        assert!(open.chat.is_open && open.chat.unread_count == 0);
        // A message arrives before the open's answer, which then only confirms the rows.
        state.apply(appended(big(), 4), 0.0);
        assert_eq!(last_shown_seq(&state), Some(4), "applied to the shown rows");
        assert!(
            !state.window_confirmed(big(), request + 1),
            "another request's"
        );
        assert!(state.window_confirmed(big(), request));
        assert_eq!(last_shown_seq(&state), Some(4));
        assert!(!state.window_confirmed(big(), request), "confirmed once");
    }

    /// The rows the view renders hidden before the click (`app/staged.rs`) are the rows the
    /// click then shows, raised to the chat list's last seq as the open is; the request they
    /// were built from stays held until the click takes it.
    #[test]
    fn the_timeline_staged_ahead_of_the_click_is_the_one_the_click_shows() {
        let mut state = small_open();
        // The list already knows of seq 4, which the read's window does not hold.
        state.chats_reloaded(vec![entry(big(), 4), entry(small(), 1)], 0.0);
        let read = state.prefetch_requested(big()).unwrap();
        assert_eq!(state.prefetch_held(big()), None, "not before the reply");
        assert!(state.prefetch_arrived(big(), read, window(big(), 3)));
        assert_eq!(state.prefetch_held(big()), Some(read));
        assert_eq!(state.prefetch_held(small()), None);
        let staged = state.prefetched_timeline(window(big(), 3));
        let (_, shown) = click_big(&mut state);
        assert!(shown);
        assert_eq!(state.prefetch_held(big()), None, "taken");
        assert_eq!(staged, state.open.as_ref().unwrap().timeline());
        let last = staged.entries().last().and_then(|e| e.seq_span());
        assert_eq!(last.map(|(_, last)| last), Some(4), "raised to seq 4");
    }

    /// Any event that may change the chat, arriving after the read was sent (before or after
    /// its reply), drops it: the click then waits for the open like a click without it.
    #[test]
    fn any_event_of_the_chat_since_the_read_was_sent_drops_it() {
        let events = [
            appended(big(), 4),
            UiEvent::ChatUpdated {
                chat: entry(big(), 4),
            },
            UiEvent::SyncState {
                chat_id: big(),
                state: SyncState::Syncing,
            },
            UiEvent::FetchStarted { chat_id: big() },
            UiEvent::FetchFinished {
                chat_id: big(),
                fetched: 1,
            },
            UiEvent::Outbox {
                item: outbox(big()),
                message: None,
            },
            UiEvent::Reload,
        ];
        for event in events {
            for before_reply in [true, false] {
                let mut state = small_open();
                let read = state.prefetch_requested(big()).unwrap();
                if before_reply {
                    state.apply(event.clone(), 0.0);
                }
                state.prefetch_arrived(big(), read, window(big(), 3));
                if !before_reply {
                    state.apply(event.clone(), 0.0);
                }
                let (_, shown) = click_big(&mut state);
                assert!(!shown, "{event:?}, before the reply: {before_reply}");
                assert_ne!(last_shown_seq(&state), Some(3), "{event:?}");
            }
        }
    }

    #[test]
    fn events_of_other_chats_and_of_the_connection_keep_it() {
        let mut state = small_open();
        let read = state.prefetch_requested(big()).unwrap();
        state.apply(appended(small(), 2), 0.0);
        state.apply(UiEvent::Connection { online: false }, 0.0);
        state.prefetch_arrived(big(), read, window(big(), 3));
        state.apply(
            UiEvent::ChatUpdated {
                chat: entry(small(), 2),
            },
            0.0,
        );
        assert!(click_big(&mut state).1);
    }

    #[test]
    fn a_reply_that_arrives_after_the_click_is_ignored() {
        let mut state = small_open();
        let read = state.prefetch_requested(big()).unwrap();
        let (_, shown) = click_big(&mut state);
        assert!(!shown);
        state.prefetch_arrived(big(), read, window(big(), 3));
        assert_eq!(state.take_prefetched(big()), None);
    }

    /// A chat with unread messages opens at the first of them, which its newest window may
    /// not hold; the selected chat needs no read. A read for another chat replaces the first.
    #[test]
    fn no_read_ahead_for_a_chat_with_unread_messages_or_the_selected_one() {
        let mut state = small_open();
        assert_eq!(state.prefetch_requested(small()), None);
        let unread = ChatEntry {
            unread_count: 2,
            ..entry(big(), 3)
        };
        state.chats_reloaded(vec![unread, entry(small(), 1)], 0.0);
        assert_eq!(state.prefetch_requested(big()), None);
        assert_eq!(
            state.prefetch_requested(fixtures::chat_id(99)),
            None,
            "not listed"
        );
    }

    #[test]
    fn a_read_ahead_of_another_chat_is_not_shown() {
        let mut state = small_open();
        let read = state.prefetch_requested(big()).unwrap();
        state.prefetch_arrived(big(), read, window(big(), 3));
        assert_eq!(state.take_prefetched(small()), None);
        assert!(
            state.take_prefetched(big()).is_some(),
            "another chat's click leaves it held (its events still drop it)"
        );
        assert_eq!(state.take_prefetched(big()), None, "taken once");
    }

    /// The idle read-ahead keeps several chats at once, each dropped by its own events only,
    /// bounded; a click takes its chat's and leaves the others.
    #[test]
    fn idle_read_aheads_are_held_side_by_side_and_dropped_one_by_one() {
        let mut state = small_open();
        let third = fixtures::chat_id(23);
        state.chats_reloaded(
            vec![entry(big(), 3), entry(small(), 1), entry(third, 2)],
            0.0,
        );
        let wanted: Vec<ChatId> = state.idle_read_ahead().iter().map(|(c, _)| *c).collect();
        assert_eq!(wanted, vec![third, big()], "below the selected, above it");
        let big_read = state.prefetch_requested(big()).unwrap();
        let third_read = state.prefetch_requested(third).unwrap();
        assert!(state.idle_read_ahead().iter().all(|(_, has)| *has));
        state.prefetch_arrived(big(), big_read, window(big(), 3));
        state.prefetch_arrived(third, third_read, window(third, 2));
        assert_eq!(state.read_ahead_len(), 2);
        state.apply(appended(third, 3), 0.0);
        assert_eq!(state.read_ahead_len(), 1, "only the chat named");
        assert_eq!(state.prefetch_held(third), None);
        assert_eq!(state.prefetch_held(big()), Some(big_read));
        let (_, shown) = click_big(&mut state);
        assert!(shown);
        assert_eq!(state.read_ahead_len(), 0);
    }

    #[test]
    fn read_aheads_are_bounded_the_oldest_going_first() {
        let mut prefetch = super::Prefetch::default();
        let ids: Vec<ChatId> = (30..40).map(fixtures::chat_id).collect();
        for id in &ids {
            prefetch.requested(*id).unwrap();
            assert!(prefetch.len() <= super::READ_AHEAD_CAPACITY);
        }
        let kept = &ids[ids.len() - super::READ_AHEAD_CAPACITY..];
        assert!(kept.iter().all(|id| prefetch.has(*id)), "the newest kept");
        assert!(!prefetch.has(ids[0]));
    }

    proptest::proptest! {
        /// Whatever the list and selection: at most `limit` distinct listed chats, never the
        /// selected one nor one with unread messages, the row below the selected one first
        /// when it qualifies (ArrowDown's), else the one above.
        #[test]
        fn idle_candidates_are_few_listed_and_openable(
            unread in proptest::collection::vec(proptest::bool::weighted(0.3), 0..12),
            selected in proptest::option::of(0usize..14),
            limit in 0usize..6,
        ) {
            let chats: Vec<ChatEntry> = unread
                .iter()
                .enumerate()
                .map(|(i, unread)| ChatEntry {
                    unread_count: u64::from(*unread),
                    ..entry(fixtures::chat_id(100 + i as u128), 5)
                })
                .collect();
            let selected_id = selected.map(|i| fixtures::chat_id(100 + i as u128));
            let out = super::idle_candidates(&chats, selected_id, limit);
            proptest::prop_assert!(out.len() <= limit);
            let mut seen = std::collections::HashSet::new();
            for id in &out {
                proptest::prop_assert!(seen.insert(*id), "distinct");
                let chat = chats.iter().find(|c| c.chat_id == *id);
                proptest::prop_assert!(chat.is_some_and(|c| c.unread_count == 0));
                proptest::prop_assert!(Some(*id) != selected_id);
            }
            let openable = chats.iter().filter(|c| c.unread_count == 0 && Some(c.chat_id) != selected_id).count();
            proptest::prop_assert_eq!(out.len(), limit.min(openable), "as many as allowed");
            if let Some(i) = selected.filter(|i| *i < chats.len()) && limit > 0 {
                let qualifies = |j: usize| chats.get(j).is_some_and(|c| c.unread_count == 0);
                let first = if qualifies(i + 1) {
                    Some(chats[i + 1].chat_id)
                } else if i > 0 && qualifies(i - 1) {
                    Some(chats[i - 1].chat_id)
                } else {
                    None
                };
                if let Some(first) = first {
                    proptest::prop_assert_eq!(out[0], first);
                }
            }
        }
    }

    fn appended(chat_id: ChatId, seq: Seq) -> UiEvent {
        UiEvent::WindowChanged {
            chat_id,
            span: SeqRange::single(seq),
            items: vec![WindowItem::Message {
                message: fixtures::message(chat_id, seq),
            }],
        }
    }
    fn outbox(chat_id: ChatId) -> OutboxItem {
        OutboxItem {
            local_id: "l1".into(),
            chat_id,
            text: "hi".into(),
            status: OutboxState::Pending,
            last_error: None,
            created_at: 0,
        }
    }
}
