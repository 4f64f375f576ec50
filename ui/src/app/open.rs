//! Opening a chat from its newest window read ahead of the click ([`crate::prefetch`]): the
//! pointer goes down, the cache is read; the click (on the button's release) shows those rows
//! at once instead of waiting for the open's round trip (issue 11's click → paint), and the
//! open only marks the chat open in the core.

use super::*;

/// The primary button went down on a chat in the list: reads its newest window as the open
/// will (the same size), for the click to render from. Nothing is shown until the click.
pub(crate) fn prefetch_chat(model: Model, chat_id: ChatId) {
    let mut request = None;
    model
        .state
        .update_untracked(|state| request = state.prefetch_requested(chat_id));
    // Rows staged for another chat's read-ahead (now replaced) go.
    staged::drop_if_stale(model);
    let Some(request) = request else {
        return;
    };
    spawn_local(async move {
        if let Ok(window) =
            ipc::cached_window(chat_id, Anchor::Newest, logic::OPEN_WINDOW_LIMIT).await
        {
            let mut kept = false;
            // The staged rows are built from the window before the state holds it (a clone
            // either way); only a window the state kept is staged.
            let staged = window.clone();
            model.state.update_untracked(|state| {
                kept = state.prefetch_arrived(chat_id, request, window);
            });
            if kept {
                staged::stage(model, chat_id, request, staged);
            }
        }
    });
}

/// Shows the selected chat's rows from its window read ahead, right after its open was sent;
/// whether they were shown.
pub(crate) fn show_prefetched(
    model: Model,
    chat_id: ChatId,
    window: roost_model::app::ChatWindowView,
) -> bool {
    let mut shown = false;
    model
        .state
        .update(|state| shown = state.window_prefetched(chat_id, window));
    if !shown {
        staged::unstage(model);
        return false;
    }
    mark("roost-open-prefetched");
    forget_previous_chat(model);
    if model.rows_held.get_untracked() {
        // Its rows are staged and shown: the live list takes them after this frame.
        staged::release_after_paint(model, chat_id);
        return true;
    }
    let last_seq = model
        .state
        .with_untracked(|s| s.open.as_ref().map_or(0, |o| o.chat.last_seq));
    show_newest(model, last_seq);
    true
}

/// The open of a chat shown from its read-ahead answered: the view is the open chat's now.
pub(crate) async fn confirm_shown_window(model: Model, chat_id: ChatId, request: u64) {
    mark("roost-open-reply");
    let mut confirmed = false;
    model
        .state
        .update_untracked(|state| confirmed = state.window_confirmed(chat_id, request));
    if confirmed {
        become_interactive(model, chat_id).await;
    }
}
