//! A click that finds nothing read ahead (issue 11's click → paint, `no_read_ahead`): every
//! visible change it makes — the list's selection, the header's Resync and busy state, the
//! composer's edit — is held until its window's reply arrives, so that the page renders one
//! frame with all of it and the rows. Rendering the click's own frame first kept the web
//! process busy when the reply came (the reply waited ~5 ms for it), and then a second frame
//! was needed for the rows.
//!
//! Held means: the state changes at once (every rule and every event after the click sees the
//! new selection), without waking the views ([`RwSignal::update_untracked`]); the release
//! wakes every signal the click changed. Nothing is hidden for long: the release comes with the
//! reply, an error, or [`HOLD_CAP`] after the click, whichever is first — a slow reply shows the
//! selection (and the previous chat's rows, marked busy) as before. Any other change of the
//! state meanwhile (an event that shows something) wakes the views too: what they render is
//! always the current state, never an older one.

use super::*;

/// How long a click's visible changes are held at most, waiting for its window: about a frame.
/// The page marks `roost-open-held-shown` when it shows them, `roost-open-held-cap` first when
/// the cap did (`src-tauri/tests/bench_app/` and the E2E tests read both).
pub(crate) const HOLD_CAP: Duration = Duration::from_millis(16);

/// Whether a click's visible changes are held now ([`hold`] until [`release`]).
pub(crate) fn holding(model: Model) -> bool {
    model.held_click.get_value() != 0
}

/// Holds the visible changes of the click starting now; they are shown by [`release`] of the
/// returned id, or [`HOLD_CAP`] from now. A later click's hold takes over (its release shows
/// both).
pub(crate) fn hold(model: Model) -> u64 {
    let id = model.held_clicks.get_value() + 1;
    model.held_clicks.set_value(id);
    model.held_click.set_value(id);
    set_timeout(
        move || {
            if model.held_click.get_value() == id {
                mark("roost-open-held-cap");
                release(model, id);
            }
        },
        HOLD_CAP,
    );
    id
}

/// Shows the changes held for click `id` (nothing for 0, no click held, when another click's
/// hold took over, or they were shown already).
pub(crate) fn release(model: Model, id: u64) {
    if id == 0 || model.held_click.get_value() != id {
        return;
    }
    model.held_click.set_value(0);
    mark("roost-open-held-shown");
    model.state.notify();
    model.interactive.notify();
    model.resync_busy.notify();
    model.editing.notify();
}

/// `signal` changed by `change`: the views see it now, or, while a click's changes are held,
/// at its [`release`].
pub(crate) fn update<T: 'static + Send + Sync>(
    model: Model,
    signal: RwSignal<T>,
    change: impl FnOnce(&mut T),
) {
    if holding(model) {
        signal.update_untracked(change);
    } else {
        signal.update(change);
    }
}
