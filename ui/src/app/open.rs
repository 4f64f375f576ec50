//! Opening a chat from its newest window read ahead of the click ([`crate::prefetch`]): the
//! pointer goes down, or the page has been idle a moment, and the cache is read; the click
//! shows those rows at once instead of waiting for the open's round trip (issue 11's click →
//! paint), and the open only marks the chat open in the core.

use super::*;

/// How long the page is left alone before an idle read-ahead pass: after an open settled,
/// after the chat list loaded, after an event dropped a read-ahead (a burst of events
/// postpones it). Not a frame's work in the way of a click: the reads are a few ms each.
const IDLE_READ_AHEAD_DELAY: Duration = Duration::from_millis(250);

/// Reads ahead the chats likeliest to be opened next ([`UiState::idle_read_ahead`]) once the
/// page has been idle for [`IDLE_READ_AHEAD_DELAY`] (`requestIdleCallback` is not in WebKitGTK's
/// default features); the likeliest one held is staged ([`staged::stage`]). A later call
/// replaces the pending pass.
pub(crate) fn read_ahead_when_idle(model: Model) {
    let pass = model.read_ahead_pass.get_value() + 1;
    model.read_ahead_pass.set_value(pass);
    set_timeout(
        move || spawn_local(idle_read_ahead(model, pass)),
        IDLE_READ_AHEAD_DELAY,
    );
}

/// An event took read-ahead windows (`before` held or on their way until it came): they are
/// read again once the page is idle.
pub(crate) fn read_again_if_dropped(model: Model, before: usize) {
    if model.state.with_untracked(UiState::read_ahead_len) < before {
        read_ahead_when_idle(model);
    }
}

/// One idle pass: reads each wanted chat not yet held, one at a time, stopping when another
/// pass was scheduled or an open started; then stages the likeliest held one (in place of
/// rows staged for another chat, which stays held).
async fn idle_read_ahead(model: Model, pass: u64) {
    let busy = move || {
        model.read_ahead_pass.get_value() != pass
            || model.rows_held.get_untracked()
            || model.state.with_untracked(UiState::opening)
    };
    let wanted = model.state.with_untracked(UiState::idle_read_ahead);
    for (chat_id, _) in wanted.iter().filter(|(_, has)| !has) {
        if busy() {
            return;
        }
        read_ahead(model, *chat_id).await;
    }
    if busy() {
        return;
    }
    // Staged rows of a read-ahead that went (evicted by a newer one) go too.
    staged::drop_if_stale(model);
    let likeliest = model.state.with_untracked(|state| {
        wanted
            .iter()
            .find_map(|(chat_id, _)| Some((*chat_id, state.prefetch_held(*chat_id)?)))
    });
    let Some((chat_id, request)) = likeliest else {
        return;
    };
    // Rows staged for a pressed pointer stay: its click is coming.
    let staged_already = model.staged.with_untracked(|staged| {
        staged
            .as_ref()
            .is_some_and(|s| s.pressed || (s.chat_id == chat_id && s.request == request))
    });
    let window = model
        .state
        .with_untracked(|state| state.prefetched_window(chat_id).cloned());
    if !staged_already && let Some(window) = window {
        staged::stage(model, chat_id, request, window, false);
    }
}

/// Reads `chat_id`'s newest window ahead, as the open will (the same size), when none is held
/// or on its way; whether the state kept what was read (nothing dropped it on the way).
async fn read_ahead(model: Model, chat_id: ChatId) -> bool {
    let mut request = None;
    model
        .state
        .update_untracked(|state| request = state.prefetch_requested(chat_id));
    let Some(request) = request else {
        return false;
    };
    let Ok(window) = ipc::cached_window(chat_id, Anchor::Newest, logic::OPEN_WINDOW_LIMIT).await
    else {
        return false;
    };
    let mut kept = false;
    model.state.update_untracked(|state| {
        kept = state.prefetch_arrived(chat_id, request, window);
    });
    kept
}

/// The read-ahead held for `chat_id`: its request and a copy of its window, to stage.
fn held_read_ahead(
    model: Model,
    chat_id: ChatId,
) -> Option<(u64, roost_model::app::ChatWindowView)> {
    model.state.with_untracked(|state| {
        let request = state.prefetch_held(chat_id)?;
        Some((request, state.prefetched_window(chat_id)?.clone()))
    })
}

/// The primary button went down on a chat in the list: reads its newest window as the open
/// will (the same size), unless the page read it ahead while idle, and stages it for the click
/// to show. Nothing is shown until the click.
pub(crate) fn prefetch_chat(model: Model, chat_id: ChatId) {
    // Rows staged for a read-ahead no longer held go.
    staged::drop_if_stale(model);
    // Read ahead already (the page was idle): staged now unless they are.
    if staged::ready(model, chat_id) {
        // Staged by an idle pass: kept for this press's click.
        model.staged.update_untracked(|staged| {
            if let Some(staged) = staged {
                staged.pressed = true;
            }
        });
        return;
    }
    if let Some((request, window)) = held_read_ahead(model, chat_id) {
        staged::stage(model, chat_id, request, window, true);
        return;
    }
    spawn_local(async move {
        if read_ahead(model, chat_id).await
            && let Some((request, window)) = held_read_ahead(model, chat_id)
        {
            staged::stage(model, chat_id, request, window, true);
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
