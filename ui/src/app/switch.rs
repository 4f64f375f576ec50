//! Changing the selected chat: the state's selection, and the close of the chat left, which
//! says how far the view showed it (what arrived after that counts as unread in the core).

use super::*;

/// Selects `chat_id` in the state; the switch made, `None` when it was selected already.
pub(crate) fn switch_selection(model: Model, chat_id: ChatId) -> Option<Switch> {
    let mut switch = None;
    held::update(model, model.state, |state| {
        switch = state.select(chat_id).map(|previous| Switch {
            left: previous.map(|previous| (previous, state.shown_through(previous))),
        });
    });
    switch
}

/// A change of the selected chat, whose previous chat is still to be closed on the shell's
/// side ([`Switch::close_left`]).
#[must_use = "the chat left stays open in the core until closed"]
pub(crate) struct Switch {
    /// The chat left and the newest seq of it the view showed.
    left: Option<(ChatId, Seq)>,
}

impl Switch {
    /// Closes the chat left, saying how far it was shown: what arrived after that counts as
    /// unread. Sent now, right after the selected chat's open (a click sends both in one
    /// turn): switches made in one task reach the shell in the order made, and the open is
    /// not queued behind the close's write.
    pub(crate) fn close_left(self) {
        if let Some((chat_id, shown)) = self.left {
            let closed = ipc::close_chat(chat_id, shown);
            spawn_local(async move {
                let _ = closed.await;
            });
        }
    }
}
