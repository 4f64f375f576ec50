//! A chat the user is no longer a member of ("left"): what it allows and how it looks. It stays
//! readable with what was cached; nothing is fetched for it (no Resync, no older history), the
//! composer is replaced by a sentence saying why, and "Remove from this device" deletes it.
//! While the user is a member, "Leave chat" asks once more before leaving.

use crate::logic::{self, ViewReadiness};
use leptos::prelude::*;

/// What the composer's place says in a left chat.
pub const LEFT_CHAT_NOTICE: &str = "You are no longer a member of this chat. Its cached messages stay readable on this device, but nothing new arrives and you cannot send here.";

/// The Resync button is offered only in a ready view (SPEC rule 9) of a chat the user is a
/// member of: a left chat has nothing to sync against.
pub fn resync_offered(readiness: ViewReadiness, left: bool) -> bool {
    !left && logic::resync_visible(readiness)
}

/// Older history above the cache is fetched only for a member's chat.
pub fn may_fetch_history(left: bool) -> bool {
    !left
}

/// In place of the composer in a left chat: why nothing can be sent, and the way to remove the
/// chat from the device.
#[component]
pub fn LeftChatNotice(on_forget: Callback<()>) -> impl IntoView {
    view! {
        <div class="left-chat" data-testid="left-notice" role="note">
            <p>{LEFT_CHAT_NOTICE}</p>
            <button class="forget" data-testid="forget-chat"
                title="Delete this chat's cached messages from this device"
                on:click=move |_| on_forget.run(())>
                "Remove from this device"
            </button>
        </div>
    }
}

/// "Leave chat" in a member's chat header, confirmed by a second click.
#[component]
pub fn LeaveChatButton(
    #[prop(into)] visible: Signal<bool>,
    on_leave: Callback<()>,
) -> impl IntoView {
    let confirming = RwSignal::new(false);
    view! {
        <span class="leave-slot" hidden=move || !visible.get()>
            {move || if confirming.get() {
                view! {
                    <span class="leave-confirm" data-testid="leave-confirm">
                        "Leave this chat?"
                        <button data-testid="leave-chat-confirm"
                            on:click=move |_| { confirming.set(false); on_leave.run(()); }>"Leave"</button>
                        <button data-testid="leave-chat-cancel"
                            on:click=move |_| confirming.set(false)>"Cancel"</button>
                    </span>
                }.into_any()
            } else {
                view! {
                    <button class="leave" data-testid="leave-chat"
                        title="Leave this chat; what is cached stays readable here"
                        on:click=move |_| confirming.set(true)>"Leave chat"</button>
                }.into_any()
            }}
        </span>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ready() -> ViewReadiness {
        ViewReadiness {
            window_loaded: true,
            container_mounted: true,
            interactive: true,
            message_rows: 3,
            chat_empty: false,
        }
    }

    #[test]
    fn a_left_chat_offers_no_resync_and_fetches_no_history() {
        assert!(resync_offered(ready(), false));
        assert!(!resync_offered(ready(), true));
        assert!(!resync_offered(ViewReadiness::default(), false));
        assert!(may_fetch_history(false));
        assert!(!may_fetch_history(true));
    }

    #[test]
    fn the_notice_says_why_and_offers_removal() {
        let html = view! { <LeftChatNotice on_forget=Callback::new(|_| {}) /> }.to_html();
        assert!(html.contains("data-testid=\"left-notice\""), "{html}");
        assert!(html.contains("no longer a member"), "{html}");
        assert!(
            html.contains("data-testid=\"forget-chat\"")
                && html.contains("Remove from this device")
        );
    }

    #[test]
    fn leave_is_offered_only_when_visible() {
        let shown =
            view! { <LeaveChatButton visible=true on_leave=Callback::new(|_| {}) /> }.to_html();
        assert!(shown.contains("data-testid=\"leave-chat\"") && shown.contains("Leave chat"));
        let hidden =
            view! { <LeaveChatButton visible=false on_leave=Callback::new(|_| {}) /> }.to_html();
        assert!(
            hidden.contains("hidden"),
            "kept in the DOM, hidden: {hidden}"
        );
        assert!(!shown.contains("hidden"), "{shown}");
    }
}
