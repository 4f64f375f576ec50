//! The open chat's scroll position: set (to a row, the bottom, the first unread message) in the
//! frame that renders, and read back into the model as the user scrolls.

use super::*;

pub(crate) fn scroll_to(model: Model, top: f64) {
    request_animation_frame(move || {
        if let Some(el) = model.scroller.get_untracked() {
            el.set_scroll_top(top as i32);
            model.scroll_top.set(el.scroll_top() as f64);
        }
    });
}

pub(crate) fn scroll_to_bottom(model: Model) {
    request_animation_frame(move || {
        if let Some(el) = model.scroller.get_untracked() {
            el.set_scroll_top(el.scroll_height());
            model.scroll_top.set(el.scroll_top() as f64);
            model.viewport_height.set(el.client_height() as f64);
        }
    });
}

/// The open chat shows its newest rows, followed (at the bottom) and read up to `last_seq`.
pub(crate) fn show_newest(model: Model, last_seq: Seq) {
    model.seen_seq.set(last_seq);
    model.follow.set(true);
    // The first render shows the newest rows already: with the list's position still at the
    // top, the window's oldest rows would be built only to be replaced a frame later (issue
    // 11's click → paint).
    let bottom = model.timeline.with_untracked(Timeline::total_height)
        - model.viewport_height.get_untracked();
    model.scroll_top.set(bottom.max(0.0));
    scroll_to_bottom(model);
}

/// Scrolls the open chat so its "New messages" divider is near the top of the view.
pub(crate) fn scroll_to_first_unread(model: Model) {
    request_animation_frame(move || {
        if let Some(el) = model.scroller.get_untracked() {
            let height = el.client_height() as f64;
            if let Some(top) = model
                .timeline
                .with_untracked(|timeline| timeline.unread_scroll_top(height))
            {
                el.set_scroll_top(top as i32);
            }
            note_scroll_position(model);
        }
    });
}

/// Reads the list's scroll position into the model: what is in view, whether the view follows
/// the newest message, and the highest seq seen.
pub(crate) fn note_scroll_position(model: Model) {
    let Some(el) = model.scroller.get_untracked() else {
        return;
    };
    let top = el.scroll_top() as f64;
    let height = el.client_height() as f64;
    model.scroll_top.set(top);
    model.viewport_height.set(height);
    let (at_newest, last_seq) = model.state.with_untracked(|s| {
        s.open
            .as_ref()
            .map_or((false, 0), |o| (o.at_newest(), o.chat.last_seq))
    });
    let (at_bottom, in_view) = model.timeline.with_untracked(|timeline| {
        (
            timeline.is_at_bottom(top, height),
            timeline.last_seq_in_view(top, height),
        )
    });
    let follow = at_newest && at_bottom;
    model.follow.set(follow);
    let seen = if follow { Some(last_seq) } else { in_view };
    if let Some(seen) = seen
        && seen > model.seen_seq.get_untracked()
    {
        model.seen_seq.set(seen);
    }
}

/// Back to the newest message (the jump-to-latest button, End in the list, sending).
pub(crate) fn jump_to_latest(model: Model) {
    model.follow.set(true);
    scroll_to_bottom(model);
}
