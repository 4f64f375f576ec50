//! The app's side of search, verify and clear (issue 12; components in `crate::search`):
//! opening a search hit through the UI reducer — its chat around the hit's seq, read from the
//! cache, scrolled to and highlighted — and showing a chat again after Verify repaired or Clear
//! removed cached messages (the cleared history comes back as skeletons and older history).

use super::{Model, open_chat, refresh_cache_map, scroll_to, show_error};
use crate::ipc;
use leptos::prelude::*;
use leptos::task::spawn_local;
use roost_model::app::Anchor;
use roost_proto::{ChatId, Seq};

/// A search hit was chosen: select its chat, read the window around the hit from the cache,
/// scroll the hit into view and highlight it.
pub(super) fn open_search_hit(model: Model, chat_id: ChatId, seq: Seq) {
    let mut previous = None;
    model.state.update(|state| previous = state.select(chat_id));
    if let Some(Some(previous)) = previous {
        spawn_local(async move {
            let _ = ipc::close_chat(previous).await;
        });
    }
    model.interactive.set(false);
    model.cache_map.set(None);
    model.resync_busy.set(false);
    model.editing.set(None);
    let mut request = 0;
    model.state.update(|state| request = state.window_requested());
    spawn_local(async move {
        match ipc::open_chat(chat_id, Anchor::Around { seq }).await {
            Ok(window) => {
                let mut taken = false;
                model
                    .state
                    .update(|state| taken = state.window_opened(chat_id, request, window));
                if !taken {
                    return;
                }
                model.follow.set(false);
                model.seen_seq.set(seq);
                // A third of a screen above the hit, so it reads in context.
                let height = model.viewport_height.get_untracked();
                if let Some(top) = model.timeline.with_untracked(|t| t.top_of_seq(seq)) {
                    scroll_to(model, (top - height / 3.0).max(0.0));
                }
                request_animation_frame(move || {
                    if model.open_chat_id() == Some(chat_id) {
                        model.interactive.set(true);
                    }
                    crate::search::highlight_seq(seq);
                });
                refresh_cache_map(model, chat_id).await;
            }
            Err(e) => show_error(model, &e),
        }
    });
}

/// Verify repaired or Clear removed cached messages of `chat_id`: when it is the open chat,
/// read its window again (evicted history shows as skeletons, like any missing range).
pub(super) fn reload_open_chat(model: Model, chat_id: ChatId) {
    if model.open_chat_id() == Some(chat_id) {
        spawn_local(open_chat(model, chat_id));
    }
}
