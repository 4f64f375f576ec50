//! The chat read ahead of a click, rendered before the click (issue 11's click → paint): when
//! the window read ahead on pointerdown ([`crate::prefetch`]) arrives, its newest rows are put
//! into the chat view hidden (`ReadAheadRows` over the message list: styled and laid out, not
//! painted). The click then only makes them visible, in the same frame as the header and the
//! list's highlight; the live list is held meanwhile (its timeline and range unchanged), so
//! neither Leptos' update of the rows nor their layout is on the click's path. After that frame
//! is painted, the live list takes the chat's rows at its bottom and the staged rows go, in one
//! frame: what is on screen does not change.
//!
//! Never stale: the staged rows are shown only for the read-ahead the click takes, the one
//! [`crate::prefetch`] still holds (any event naming the chat, a reload or a session change
//! drops it), and they are built by the state's own rule ([`UiState::prefetched_timeline`]).
//! Events after the click change the state at once; the live list shows them a frame later.

use super::*;
use roost_model::app::ChatWindowView;

/// The newest rows of a chat read ahead of its click, rendered hidden until the click.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct StagedRows {
    pub(crate) chat_id: ChatId,
    /// The read-ahead request they were built from.
    pub(crate) request: u64,
    /// Staged for a pointer pressed on the chat (its click is coming): an idle pass leaves
    /// them.
    pub(crate) pressed: bool,
    pub(crate) timeline: Timeline,
}

/// The read-ahead of `chat_id` (`request`) arrived and is held: its rows go into the chat view,
/// hidden (`pressed`: for the pointer pressed on it, else for an idle pass). Only with a chat view on screen (the first open of a session has none to cover).
pub(crate) fn stage(
    model: Model,
    chat_id: ChatId,
    request: u64,
    window: ChatWindowView,
    pressed: bool,
) {
    if model.rows_held.get_untracked() || model.scroller.get_untracked().is_none() {
        return;
    }
    let timeline = model
        .state
        .with_untracked(|state| state.prefetched_timeline(window));
    model.staged.set(Some(StagedRows {
        chat_id,
        request,
        pressed,
        timeline,
    }));
}

/// Whether the rows staged are those of `chat_id`'s read-ahead still held: the click may show
/// them. Ask before the click takes the read-ahead.
pub(crate) fn ready(model: Model, chat_id: ChatId) -> bool {
    let Some(held) = model
        .state
        .with_untracked(|state| state.prefetch_held(chat_id))
    else {
        return false;
    };
    !model.rows_held.get_untracked()
        && model.staged.with_untracked(|staged| {
            staged
                .as_ref()
                .is_some_and(|s| s.chat_id == chat_id && s.request == held)
        })
}

/// The click on a chat whose rows are staged: they are shown, the live list is held until
/// [`release_after_paint`].
pub(crate) fn show(model: Model) {
    model.rows_held.set(true);
    model.staged_shown.set(true);
}

/// Staged rows the read-ahead no longer holds (an event dropped it, or another chat was
/// pressed) go; nothing while they are on screen.
pub(crate) fn drop_if_stale(model: Model) {
    if model.rows_held.get_untracked() {
        return;
    }
    let stale = model.staged.with_untracked(|staged| {
        staged.as_ref().is_some_and(|s| {
            model
                .state
                .with_untracked(|state| state.prefetch_held(s.chat_id))
                != Some(s.request)
        })
    });
    if stale {
        model.staged.set(None);
    }
}

/// The frame showing the staged rows of `chat_id` comes next. Once the frame after it has begun
/// (the first is on screen) and rendered, the live list takes the chat's rows at its bottom
/// (scrolled in the following frame's animation callbacks, before its layout), and the staged
/// rows go in that same frame. None of that work runs between the click and the first frame
/// being shown.
pub(crate) fn release_after_paint(model: Model, chat_id: ChatId) {
    request_animation_frame(move || {
        request_animation_frame(move || {
            set_timeout(move || release(model, chat_id), Duration::ZERO);
        });
    });
}

/// The live list is the chat's again (`chat_id`'s newest rows when it is still the open one);
/// the staged rows go in the next frame, after the list's scroll (both callbacks of one frame).
pub(crate) fn release(model: Model, chat_id: ChatId) {
    if !model.rows_held.get_untracked() {
        return;
    }
    model.rows_held.set(false);
    let last_seq = model.state.with_untracked(|s| {
        s.open
            .as_ref()
            .filter(|o| o.chat.chat_id == chat_id)
            .map(|o| o.chat.last_seq)
    });
    if let Some(last_seq) = last_seq {
        show_newest(model, last_seq);
    }
    request_animation_frame(move || unstage(model));
}

/// No staged rows, none shown, the live list free: before any other selection, so a click
/// that comes while staged rows are shown starts from the live list.
pub(crate) fn unstage(model: Model) {
    if model.rows_held.get_untracked() {
        model.rows_held.set(false);
    }
    if model.staged_shown.get_untracked() {
        model.staged_shown.set(false);
    }
    if model.staged.with_untracked(Option::is_some) {
        model.staged.set(None);
    }
}
