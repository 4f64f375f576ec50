//! [`UiState`]'s side of a chat read ahead of its click ([`crate::prefetch`]): asked for on
//! pointerdown or while the page is idle, shown at the click, confirmed by the open's answer.

use super::*;
use crate::prefetch::{self, IDLE_READ_AHEAD};

impl UiState {
    /// The pointer went down on `chat_id`: the id of a read of its newest window to send
    /// ahead of the click, or `None` when none is worth sending — the chat is already selected,
    /// a read is on its way, or it has unread messages (it opens at the first of them, which
    /// the newest window may not hold).
    pub fn prefetch_requested(&mut self, chat_id: ChatId) -> Option<u64> {
        let listed = self.chats.iter().find(|c| c.chat_id == chat_id)?;
        if self.selected == Some(chat_id) || listed.unread_count > 0 {
            return None;
        }
        self.prefetch.requested(chat_id)
    }

    /// The chats to read ahead while the page is idle, likeliest next open first
    /// ([`prefetch::idle_candidates`]), and whether each is already held or on its way.
    pub fn idle_read_ahead(&self) -> Vec<(ChatId, bool)> {
        prefetch::idle_candidates(&self.chats, self.selected, IDLE_READ_AHEAD)
            .into_iter()
            .map(|chat_id| (chat_id, self.prefetch.has(chat_id)))
            .collect()
    }

    /// How many chats are read ahead (held or on their way): an event that lowers it dropped
    /// one, to be read again once the page is idle.
    pub fn read_ahead_len(&self) -> usize {
        self.prefetch.len()
    }

    /// `chat_id`'s window read ahead, when held: for the view to render it hidden before the
    /// click ([`UiState::prefetched_timeline`]).
    pub fn prefetched_window(&self, chat_id: ChatId) -> Option<&ChatWindowView> {
        self.prefetch.window(chat_id)
    }

    /// The selected chat's window was asked for and has not answered yet (an open in flight).
    pub fn opening(&self) -> bool {
        self.awaiting
    }

    /// The read ahead of `chat_id` answered `request`: kept unless an event dropped it since.
    /// Returns whether it was kept.
    pub fn prefetch_arrived(
        &mut self,
        chat_id: ChatId,
        request: u64,
        window: ChatWindowView,
    ) -> bool {
        self.prefetch.arrived(chat_id, request, window)
    }

    /// The request whose window is held for `chat_id`'s click (its reply arrived and nothing
    /// dropped it since), if any.
    pub fn prefetch_held(&self, chat_id: ChatId) -> Option<u64> {
        self.prefetch.held(chat_id)
    }

    /// The timeline `window` (read ahead of `chat_id`'s click) will show once the click takes
    /// it ([`UiState::window_prefetched`]): built ahead, so the view can render it hidden before
    /// the click (issue 11's click → paint).
    pub fn prefetched_timeline(&self, window: ChatWindowView) -> Timeline {
        self.opened_from_read_ahead(window).timeline()
    }

    /// The open chat a window read ahead becomes once its click takes it: what the open is
    /// writing (the chat open, nothing in it unread), raised to the chat list's last seq.
    fn opened_from_read_ahead(&self, mut window: ChatWindowView) -> OpenChat {
        window.chat.is_open = true;
        window.chat.unread_count = 0;
        self.raised_to_listed(OpenChat::from_window(window))
    }

    /// `chat_id` was clicked: its window read ahead, if one arrived with nothing since that
    /// could change it. Its read-ahead goes; other chats' stay (their events still drop them).
    pub fn take_prefetched(&mut self, chat_id: ChatId) -> Option<ChatWindowView> {
        self.prefetch.take(chat_id)
    }

    /// Forgets every read-ahead (held or on its way; a later reply is ignored).
    pub fn drop_read_aheads(&mut self) {
        self.prefetch = Prefetch::default();
    }

    /// Shows the window read ahead of the selected chat's click, right after its open was
    /// requested ([`UiState::window_requested`]); the open's answer then only confirms it
    /// ([`UiState::window_confirmed`]). Returns whether it was shown.
    pub fn window_prefetched(&mut self, chat_id: ChatId, window: ChatWindowView) -> bool {
        if self.selected != Some(chat_id) || !self.awaiting || window.chat.chat_id != chat_id {
            return false;
        }
        // No change of the chat can have arrived since: any would have dropped the read.
        self.open = Some(self.opened_from_read_ahead(window));
        true
    }

    /// The open of `chat_id` (`request`) answered while its rows were shown from the window
    /// read ahead ([`UiState::window_prefetched`]): they stay — every change since the read
    /// was applied to them — and the open is no longer awaited. Returns whether it was taken.
    pub fn window_confirmed(&mut self, chat_id: ChatId, request: u64) -> bool {
        if self.selected != Some(chat_id)
            || request != self.request
            || !self.awaiting
            || self.open_chat_id() != Some(chat_id)
        {
            return false;
        }
        self.awaiting = false;
        self.early.clear();
        true
    }
}
