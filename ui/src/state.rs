//! The UI's state and the reducer of everything that changes it: the shell's events, a chat
//! being selected, its window arriving, a reload after lost events. Plain data, no Leptos, no
//! Tauri: `app.rs` holds one [`UiState`] in a signal and performs the [`Effect`]s it returns,
//! and native tests drive the very same reducer.
//!
//! Rules it owns:
//! * the open chat's rows change only through the model's operations
//!   ([`roost_model::window`]); it never derives gaps on its own;
//! * changes of the selected chat that arrive before its window are kept and applied to the
//!   window when it arrives (the window read and the event channel race);
//! * fetches are tracked for every chat, open or not, so a chat opened while its resync runs
//!   shows the indicator; after lost events the trackers are rebuilt from the chat list;
//! * a window read ahead of a click ([`Prefetch`]) is shown only if no event that could change
//!   its chat arrived since its request.

use crate::logic::{self, FetchTracker, ViewReadiness};
use crate::prefetch::Prefetch;
use crate::timeline::{self, Timeline};
use roost_model::app::{
    ChatEntry, ChatWindowView, OutboxItem, OutboxState, SeqRange, SyncState, UiEvent, WindowItem,
};
use roost_model::window;
use roost_proto::{ChatId, Seq};
use std::collections::HashMap;

mod read_ahead;

/// The open chat as the view holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct OpenChat {
    pub chat: ChatEntry,
    pub items: Vec<WindowItem>,
    pub pending: Vec<OutboxItem>,
    pub has_more_before: bool,
    pub has_more_after: bool,
    /// `to` of the OlderHistory skeleton whose page was last requested (one request per shape).
    pub older_requested: Option<Seq>,
    /// First seq before which a cached page was last requested.
    pub cached_page_requested: Option<Seq>,
    /// Where the "New messages" divider stands: the first message unread when the chat opened
    /// (the core resets the count on open; the divider stays until the chat is left).
    pub first_unread: Option<Seq>,
}

impl OpenChat {
    fn from_window(window: ChatWindowView) -> OpenChat {
        OpenChat {
            chat: window.chat,
            items: window.items,
            pending: window.pending,
            has_more_before: window.has_more_before,
            has_more_after: window.has_more_after,
            older_requested: None,
            cached_page_requested: None,
            first_unread: None,
        }
    }

    /// The timeline the chat view renders: its rows laid out with day separators (in local
    /// days) and the unread divider. The app and the screen test build it here alike.
    pub fn timeline(&self) -> Timeline {
        Timeline::build(
            logic::rows(&self.items, &self.pending),
            self.first_unread,
            timeline::local_day,
        )
    }

    /// The view shows the newest messages (changes after them are appended).
    pub fn at_newest(&self) -> bool {
        !self.has_more_after
    }

    fn apply_span(&mut self, span: SeqRange, items: Vec<WindowItem>) -> bool {
        let at_newest = self.at_newest();
        window::apply_span_change(&mut self.items, span, items, at_newest)
    }
}

/// What the app must do after a state change (the reducer performs no I/O itself).
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// The open chat's rows changed: keep what the user looks at in place.
    RowsChanged,
    /// Read the open chat's cache map again.
    RefreshCacheMap(ChatId),
    /// Re-evaluate time-based rules (the indicator delay) at this time.
    TickAt(f64),
    /// Events were lost: read the chat list and the open window again, then call
    /// [`UiState::chats_reloaded`] and [`UiState::window_opened`].
    Reload,
    /// The session changed (signed in or out).
    Session,
}

/// Every piece of UI state the shell's events change.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UiState {
    pub chats: Vec<ChatEntry>,
    pub selected: Option<ChatId>,
    pub open: Option<OpenChat>,
    /// Fetches of missing messages, per chat (open or not).
    fetches: HashMap<ChatId, FetchTracker>,
    /// Span changes of the selected chat received before its window arrived, in order.
    early: Vec<(SeqRange, Vec<WindowItem>)>,
    /// The latest window request of the selected chat (select or reload); only its reply is
    /// taken, with every change since the request applied on top.
    request: u64,
    /// That request's reply has not arrived yet.
    awaiting: bool,
    /// A chat's newest window read ahead of its click (pointerdown).
    prefetch: Prefetch,
}

/// Most recent first, then by title.
pub fn sort_chats(chats: &mut [ChatEntry]) {
    chats.sort_by(|a, b| {
        b.last_message_at
            .cmp(&a.last_message_at)
            .then_with(|| a.title.cmp(&b.title))
    });
}

impl UiState {
    pub fn open_chat_id(&self) -> Option<ChatId> {
        self.open.as_ref().map(|o| o.chat.chat_id)
    }

    /// Applies one event from the shell at time `now_ms`.
    pub fn apply(&mut self, event: UiEvent, now_ms: f64) -> Vec<Effect> {
        self.prefetch.observe(&event);
        match event {
            UiEvent::ChatUpdated { chat } => self.chat_updated(chat),
            UiEvent::WindowChanged {
                chat_id,
                span,
                items,
            } => self.window_changed(chat_id, span, items),
            UiEvent::SyncState { chat_id, state } => {
                if let Some(chat) = self.chats.iter_mut().find(|c| c.chat_id == chat_id) {
                    chat.sync_state = state;
                }
                if state != SyncState::Syncing
                    && let Some(tracker) = self.fetches.get_mut(&chat_id)
                {
                    tracker.clear_assumed();
                }
                Vec::new()
            }
            UiEvent::FetchStarted { chat_id } => {
                self.fetches.entry(chat_id).or_default().started(now_ms);
                vec![Effect::TickAt(now_ms + logic::INDICATOR_DELAY_MS)]
            }
            UiEvent::FetchFinished { chat_id, .. } => {
                if let Some(tracker) = self.fetches.get_mut(&chat_id) {
                    tracker.finished();
                }
                if self.open_chat_id() == Some(chat_id) {
                    vec![Effect::RefreshCacheMap(chat_id)]
                } else {
                    Vec::new()
                }
            }
            UiEvent::Connection { online } => {
                // Let skeletons in view ask again once the server is reachable.
                if online && let Some(open) = self.open.as_mut() {
                    open.older_requested = None;
                }
                Vec::new()
            }
            UiEvent::Outbox { item, message } => self.outbox_changed(item, message.is_some()),
            UiEvent::Session { status } => {
                if !status.signed_in {
                    *self = UiState::default();
                }
                vec![Effect::Session]
            }
            UiEvent::ChatRemoved { chat_id } => self.chat_removed(chat_id),
            UiEvent::Reload => {
                // A lost FetchFinished must not leave an indicator on: start over from the
                // chat list (`chats_reloaded`).
                self.fetches.clear();
                vec![Effect::Reload]
            }
        }
    }

    /// A left chat was removed from the device: its row goes, and the view closes if it was open.
    fn chat_removed(&mut self, chat_id: ChatId) -> Vec<Effect> {
        self.chats.retain(|c| c.chat_id != chat_id);
        self.fetches.remove(&chat_id);
        if self.selected == Some(chat_id) {
            self.selected = None;
            self.early.clear();
            self.awaiting = false;
        }
        // Also the previous chat, still on screen while another opens.
        if self.open_chat_id() == Some(chat_id) {
            self.open = None;
        }
        Vec::new()
    }

    /// The open chat is one the user is no longer a member of (read-only).
    pub fn open_is_left(&self) -> bool {
        self.open.as_ref().is_some_and(|o| o.chat.left)
    }

    fn chat_updated(&mut self, chat: ChatEntry) -> Vec<Effect> {
        let chat_id = chat.chat_id;
        match self.chats.iter_mut().find(|c| c.chat_id == chat_id) {
            Some(existing) => *existing = chat.clone(),
            None => self.chats.push(chat.clone()),
        }
        sort_chats(&mut self.chats);
        match self.open.as_mut() {
            Some(open) if open.chat.chat_id == chat_id => {
                let last_seq = chat.last_seq;
                open.chat = chat;
                let at_newest = open.at_newest();
                window::extend_to_last_seq(&mut open.items, last_seq, at_newest);
                vec![Effect::RowsChanged]
            }
            _ => Vec::new(),
        }
    }

    fn window_changed(
        &mut self,
        chat_id: ChatId,
        span: SeqRange,
        items: Vec<WindowItem>,
    ) -> Vec<Effect> {
        if self.awaiting && self.selected == Some(chat_id) {
            self.early.push((span, items.clone()));
        }
        match self.open.as_mut() {
            Some(open) if open.chat.chat_id == chat_id => {
                if open.apply_span(span, items) {
                    vec![Effect::RowsChanged, Effect::RefreshCacheMap(chat_id)]
                } else {
                    vec![Effect::RefreshCacheMap(chat_id)]
                }
            }
            _ => Vec::new(),
        }
    }

    fn outbox_changed(&mut self, item: OutboxItem, delivered_copy: bool) -> Vec<Effect> {
        match self.open.as_mut() {
            Some(open) if open.chat.chat_id == item.chat_id => {
                open.pending.retain(|p| p.local_id != item.local_id);
                if item.status != OutboxState::Delivered && !delivered_copy {
                    open.pending.push(item);
                }
                vec![Effect::RowsChanged]
            }
            _ => Vec::new(),
        }
    }

    /// The user picked a chat: returns the previously selected chat (to close) when it changed.
    /// Its window is read next ([`UiState::window_opened`]). The previous chat stays open — its
    /// rows on screen and kept current by its events — until that window replaces it: no
    /// empty "opening" view is rendered in between (issue 11's click → paint).
    pub fn select(&mut self, chat_id: ChatId) -> Option<Option<ChatId>> {
        let previous = self.selected;
        if previous == Some(chat_id) {
            return None;
        }
        self.selected = Some(chat_id);
        self.early.clear();
        self.awaiting = false;
        Some(previous)
    }

    /// The newest seq of `chat` the view shows (0: none), for the shell's `close_chat` as the
    /// chat is left: what arrived while it was open and is not shown counts as unread. The
    /// previous chat's rows stay on screen while another opens; a chat left before its window
    /// arrived showed nothing.
    pub fn shown_through(&self, chat: ChatId) -> Seq {
        self.open
            .as_ref()
            .filter(|open| open.chat.chat_id == chat)
            .and_then(|open| {
                open.items.iter().rev().find_map(|item| match item {
                    WindowItem::Message { message } => Some(message.seq),
                    _ => None,
                })
            })
            .unwrap_or(0)
    }

    /// The open chat is the selected one (its window arrived): false while the previous chat's
    /// rows stay on screen for a chat still opening.
    pub fn open_is_selected(&self) -> bool {
        self.open.is_some() && self.open_chat_id() == self.selected
    }

    /// Whether applying `event` leaves everything the UI shows as it is: a `ChatUpdated` whose
    /// row equals the listed one but for `is_open` (no view shows it), as the core sends for a
    /// chat being closed or re-opened with nothing unread. The app applies such an event
    /// without re-rendering: the state still follows the store, and no render stands between
    /// an open's click and its reply.
    pub fn changes_nothing_shown(&self, event: &UiEvent) -> bool {
        let UiEvent::ChatUpdated { chat } = event else {
            return false;
        };
        let same_but_open_flag = |listed: &ChatEntry| {
            listed
                == &ChatEntry {
                    is_open: listed.is_open,
                    ..chat.clone()
                }
        };
        let listed = self.chats.iter().find(|c| c.chat_id == chat.chat_id);
        let open = self
            .open
            .as_ref()
            .filter(|o| o.chat.chat_id == chat.chat_id);
        listed.is_some_and(same_but_open_flag) && open.is_none_or(|o| same_but_open_flag(&o.chat))
    }

    /// The app is about to read the selected chat's window (after `select`, or again after a
    /// reload): returns the request's id for [`UiState::window_opened`]. Changes from now on
    /// are kept for that window; an older request's reply will be ignored.
    pub fn window_requested(&mut self) -> u64 {
        self.request += 1;
        self.awaiting = true;
        self.early.clear();
        self.request
    }

    /// The window of `chat_id` arrived from the cache: it becomes the open chat (when still
    /// selected), with the changes that arrived while it was being read applied on top and the
    /// newest known position of the chat. Returns whether it was taken.
    pub fn window_opened(&mut self, chat_id: ChatId, request: u64, window: ChatWindowView) -> bool {
        if self.selected != Some(chat_id) || request != self.request || !self.awaiting {
            return false;
        }
        self.awaiting = false;
        // A reload of the same chat keeps its divider where it was.
        let first_unread = self
            .open
            .as_ref()
            .filter(|o| o.chat.chat_id == chat_id)
            .and_then(|o| o.first_unread);
        let mut open = OpenChat::from_window(window);
        open.first_unread = first_unread;
        for (span, items) in self.early.drain(..) {
            open.apply_span(span, items);
        }
        self.show(open);
        true
    }

    /// Makes `open` the open chat, its rows reaching the newest seq the chat list knows (a
    /// message listed after the window was read is a gap to fill, not an absence).
    fn show(&mut self, open: OpenChat) {
        self.open = Some(self.raised_to_listed(open));
    }

    /// `open` raised to the chat list's last seq of the chat and extended to it: what
    /// [`UiState::show`] makes of a window.
    fn raised_to_listed(&self, mut open: OpenChat) -> OpenChat {
        if let Some(listed) = self.chats.iter().find(|c| c.chat_id == open.chat.chat_id)
            && listed.last_seq > open.chat.last_seq
        {
            open.chat.last_seq = listed.last_seq;
        }
        let at_newest = open.at_newest();
        window::extend_to_last_seq(&mut open.items, open.chat.last_seq, at_newest);
        open
    }

    /// A page of `chat_id`'s cached history before the open rows was read: it goes in front of
    /// them. Returns whether the rows changed.
    pub fn cached_page_read(
        &mut self,
        chat_id: ChatId,
        items: Vec<WindowItem>,
        has_more_before: bool,
    ) -> bool {
        match self.open.as_mut() {
            Some(open) if open.chat.chat_id == chat_id => {
                open.has_more_before = has_more_before;
                window::prepend_cached_page(&mut open.items, items)
            }
            _ => false,
        }
    }

    /// Places the "New messages" divider of the open chat `chat_id` before `seq`.
    pub fn mark_first_unread(&mut self, chat_id: ChatId, seq: Option<Seq>) {
        if let Some(open) = self.open.as_mut()
            && open.chat.chat_id == chat_id
        {
            open.first_unread = seq;
        }
    }

    /// The chat list was read again (after a reload): it replaces the list, and every chat the
    /// cache says is `SYNCING` counts as fetching (shown at once: it has been running already).
    pub fn chats_reloaded(&mut self, mut chats: Vec<ChatEntry>, now_ms: f64) {
        sort_chats(&mut chats);
        for chat in &chats {
            if chat.sync_state == SyncState::Syncing {
                self.fetches
                    .entry(chat.chat_id)
                    .or_default()
                    .assume_running(now_ms);
            }
        }
        self.chats = chats;
    }

    /// The sync indicator of the selected chat (open or still opening) at `now_ms`.
    pub fn indicator_visible(&self, now_ms: f64) -> bool {
        self.selected
            .and_then(|chat| self.fetches.get(&chat))
            .is_some_and(|tracker| tracker.indicator_visible(now_ms))
    }

    /// Whether a fetch of `chat_id` is being tracked.
    pub fn is_fetching(&self, chat_id: ChatId) -> bool {
        self.fetches
            .get(&chat_id)
            .is_some_and(FetchTracker::is_fetching)
    }

    /// How ready the chat view is, given what only the DOM knows.
    pub fn readiness(&self, container_mounted: bool, interactive: bool) -> ViewReadiness {
        // The previous chat's rows, kept while the selected one opens, are not its window.
        let open = self.open.as_ref().filter(|_| self.open_is_selected());
        let (window_loaded, message_rows, chat_empty) = match open {
            Some(o) => (
                true,
                logic::message_rows(&o.items),
                o.chat.last_seq == 0 && o.items.is_empty(),
            ),
            None => (false, 0, false),
        };
        ViewReadiness {
            window_loaded,
            container_mounted,
            interactive,
            message_rows,
            chat_empty,
        }
    }
}

#[cfg(test)]
mod tests;
