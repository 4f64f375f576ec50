//! The app's side of search, verify and clear (issue 12; components in `crate::search`):
//! opening a search hit through the UI reducer — its chat around the hit's seq, read from the
//! cache, scrolled to and highlighted — and showing a chat again after Verify repaired or Clear
//! removed cached messages (the cleared history comes back as skeletons and older history).

use super::{
    Model, open_chat, refresh_cache_map, reset_chat_view, show_error, switch_selection, take_window,
};
use crate::ipc;
use leptos::prelude::*;
use leptos::task::spawn_local;
use roost_model::app::Anchor;
use roost_proto::{ChatId, Seq};

/// A search hit was chosen: select its chat, read the window around the hit from the cache,
/// scroll the hit into view and highlight it.
pub(super) fn open_search_hit(model: Model, chat_id: ChatId, seq: Seq) {
    let switch = switch_selection(model, chat_id);
    reset_chat_view(model);
    let mut request = 0;
    model
        .state
        .update(|state| request = state.window_requested());
    spawn_local(async move {
        match ipc::open_chat(chat_id, Anchor::Around { seq }).await {
            Ok(window) => {
                if !take_window(model, chat_id, request, window) {
                    return;
                }
                model.follow.set(false);
                model.seen_seq.set(seq);
                reveal(model, chat_id, seq, REVEAL_FRAMES);
                refresh_cache_map(model, chat_id).await;
            }
            Err(e) => show_error(model, &e),
        }
    });
    if let Some(switch) = switch {
        switch.close_left();
    }
}

/// Animation frames a hit's row may take to be mounted and laid out.
const REVEAL_FRAMES: u32 = 60;

/// Scrolls the open chat so the row of `seq` sits a third of a screen from the top, then
/// highlights it; retried frame by frame until the list is mounted and the (virtual) list has
/// rendered that row. The chat becomes interactive (loads what scrolls into view) after that.
fn reveal(model: Model, chat_id: ChatId, seq: Seq, frames_left: u32) {
    request_animation_frame(move || {
        if model.open_chat_id() != Some(chat_id) {
            return;
        }
        if let Some(el) = model.scroller.get_untracked()
            && let Some(top) = model.timeline.with_untracked(|t| t.top_of_seq(seq))
        {
            let height = f64::from(el.client_height());
            let target = (top - height / 3.0).max(0.0);
            el.set_scroll_top(target as i32);
            model.viewport_height.set(height);
            model.scroll_top.set(f64::from(el.scroll_top()));
            if crate::search::highlight_seq(seq) {
                model.interactive.set(true);
                return;
            }
        }
        if frames_left > 0 {
            reveal(model, chat_id, seq, frames_left - 1);
        } else {
            model.interactive.set(true);
        }
    });
}

/// Provides the chat tools' state (see `crate::search::ChatToolsState`) to the views below, and
/// reads the open chat again when a verify repaired or a clear removed its cached messages
/// (evicted history then shows as skeletons, like any missing range).
pub(super) fn provide_chat_tools(model: Model) {
    let tools = crate::search::ChatToolsState::new();
    provide_context(tools);
    Effect::new(move |_| {
        if let Some((chat_id, _)) = tools.changed.get()
            && model.open_chat_id() == Some(chat_id)
        {
            spawn_local(open_chat(model, chat_id));
        }
    });
}
