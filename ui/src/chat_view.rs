//! The open chat: its header (title, sync indicator, Resync), the cache map, the virtualised
//! timeline with jump-to-latest, and the composer (send, edit). State and effects are the app
//! root's (`app`); this module only wires them to the components.

use crate::app::*;
use crate::components::*;
use crate::ipc;
use crate::left_chat::{self, LeaveChatButton, LeftChatNotice};
use crate::logic;
use crate::shortcuts::{self, ListKey};
use crate::state::UiState;
use crate::timeline;
use crate::ux_components::*;
use leptos::context::Provider;
use leptos::prelude::*;
use leptos::task::spawn_local;
use roost_proto::{ChatId, Message};

// Over 80 lines: half of it is the view's markup, one tree that reads best whole.
#[component]
pub(crate) fn ChatView() -> impl IntoView {
    let model = expect_context::<Model>();
    let timeline = model.timeline;
    // Held with the timeline while the rows staged for a click are shown (`app/staged.rs`).
    let range = Memo::new(move |previous: Option<&(usize, usize)>| {
        if model.rows_held.get()
            && let Some(previous) = previous
        {
            return *previous;
        }
        let (top, height) = (model.scroll_top.get(), model.viewport_height.get());
        let overscan = logic::overscan_rows(model.interactive.get());
        timeline.with(|t| t.visible_range(top, height, overscan))
    });
    let today = Signal::derive(move || {
        let _ = model.clock.get();
        timeline::local_day(now_unix_ms())
    });
    let jump_visible = Signal::derive(move || {
        model
            .state
            .with(|s| s.open.as_ref().is_some_and(|o| o.has_more_after))
            || (model.state.with(|s| s.open.is_some()) && !model.follow.get())
    });
    let new_below = Signal::derive(move || {
        let last_seq = model
            .state
            .with(|s| s.open.as_ref().map_or(0, |o| o.chat.last_seq));
        timeline::new_messages_below(last_seq, model.seen_seq.get())
    });
    let on_jump = Callback::new(move |()| jump_to_latest(model));
    let on_list_key = move |ev: web_sys::KeyboardEvent| scroll_by_key(model, &ev);
    Effect::new(move |_| {
        let range = range.get();
        let _ = model.interactive.get();
        load_what_is_in_view(model, range);
    });
    let left = Memo::new(move |_| model.state.with(UiState::open_is_left));
    let on_forget = open_chat_action(model, ipc::forget_chat);
    let me = Signal::derive(move || model.status.get().and_then(|s| s.user_id));
    let on_edit = Callback::new(move |message: Message| {
        model.draft.set(message_text(&message));
        model.editing.set(Some(message));
    });
    let on_delete = Callback::new(move |message: Message| {
        let Some(chat_id) = model.open_chat_id() else {
            return;
        };
        spawn_local(async move {
            if let Err(e) = ipc::delete(chat_id, message.id).await {
                show_error(model, &e);
            }
        });
    });
    let on_retry = Callback::new(move |local_id: String| {
        spawn_local(async move {
            if let Err(e) = ipc::retry_failed(&local_id).await {
                show_error(model, &e);
            }
        });
    });
    let on_scroll = move |_| note_scroll_position(model);
    let resize = window_event_listener(leptos::ev::resize, move |_| {
        if let Some(el) = model.scroller.get_untracked() {
            model.viewport_height.set(el.client_height() as f64);
        }
    });
    on_cleanup(move || resize.remove());
    // The previous chat's rows stay while the selected one opens (`UiState::select`).
    let opening = Memo::new(move |_| model.state.with(|s| !s.open_is_selected()));
    // A memo: the rows' view is rebuilt when a chat opens or closes, not at every event.
    let any_open = Memo::new(move |_| model.state.with(|s| s.open.is_some()));
    view! {
        <section class="chat-view" data-testid="chat-view" aria-busy=move || opening.get().to_string()>
            <ChatHeader left />
            <FullReloadNote note=Signal::derive(move || {
                model.state.with(|s| s.open.as_ref().and_then(|o| o.chat.full_reload.clone()))
            }) />
            <CacheMapStrip map=model.cache_map />
            {move || if any_open.get() {
                view! {
                    <div class="messages-wrap">
                    <div class="messages" data-testid="messages" node_ref=model.scroller on:scroll=on_scroll tabindex="0"
                        role="log" aria-live="polite" aria-label=move || format!("Messages in {}", open_title(model))
                        on:keydown=on_list_key>
                        <TimelineRows timeline range today me
                            on_edit=Some(on_edit) on_delete=Some(on_delete) on_retry=Some(on_retry) />
                    </div>
                    <JumpToLatest visible=jump_visible new_below on_click=on_jump />
                    <ReadAheadRows today me />
                    </div>
                }.into_any()
            } else {
                view! { <div class="messages opening" data-testid="opening"></div> }.into_any()
            }}
            // Both stay in the DOM (hidden as the chat's membership says): the view's structure
            // does not change when the open chat becomes left.
            <div class="composer-slot" hidden=move || left.get()>
                <Composer />
            </div>
            <div class="left-slot" hidden=move || !left.get()>
                <LeftChatNotice on_forget />
            </div>
        </section>
    }
}

/// The newest rows of the chat read ahead of a click, over the message list where its rows
/// will be at the bottom: hidden (laid out, not painted) until the click shows them for the
/// frame before the live list takes them (`app/staged.rs`). Not in the accessibility tree: the
/// live list is the one that is read.
#[component]
fn ReadAheadRows(
    #[prop(into)] today: Signal<i64>,
    #[prop(into)] me: Signal<Option<roost_proto::UserId>>,
) -> impl IntoView {
    let model = expect_context::<Model>();
    let timeline = Memo::new(move |_| {
        model
            .staged
            .with(|staged| staged.as_ref().map(|s| s.timeline.clone()))
            .unwrap_or_default()
    });
    let range = Memo::new(move |_| {
        let height = model.viewport_height.get();
        timeline.with(|t| {
            let bottom = (t.total_height() - height).max(0.0);
            t.visible_range(bottom, height, logic::OVERSCAN_ROWS)
        })
    });
    // Once its rows overflow the list, the list has a scrollbar and is scrolled to its bottom:
    // so are these rows (aligned to the bottom, a gutter as wide); fewer sit at the top.
    let overflows = Memo::new(move |_| {
        let height = model.viewport_height.get();
        timeline.with(|t| t.total_height() > height)
    });
    view! {
        <div class="messages-ahead" class:overflows=overflows data-testid="messages-ahead" aria-hidden="true"
            data-shown=move || model.staged_shown.get().to_string()
            data-chat-id=move || model.staged.with(|s| s.as_ref().map(|s| s.chat_id.to_string()))>
            <Provider value=StagedAhead>
                <TimelineRows timeline range today me />
            </Provider>
        </div>
    }
}

/// The open chat's header: title and members, the sync indicator, Resync, the chat tools and
/// Leave (neither Resync nor Leave for a chat the user has left).
#[component]
fn ChatHeader(#[prop(into)] left: Signal<bool>) -> impl IntoView {
    let model = expect_context::<Model>();
    let readiness = Signal::derive(move || {
        let mounted = model.scroller.get().is_some();
        let interactive = model.interactive.get();
        model.state.with(|s| s.readiness(mounted, interactive))
    });
    let resync_visible =
        Signal::derive(move || left_chat::resync_offered(readiness.get(), left.get()));
    let leave_visible =
        Signal::derive(move || model.state.with(|s| s.open.is_some()) && !left.get());
    let on_leave = open_chat_action(model, ipc::leave_chat);
    let indicator = Signal::derive(move || {
        let now = model.clock.get().max(ipc::now_ms());
        model.state.with(|s| s.indicator_visible(now))
    });
    let on_resync = Callback::new(move |()| {
        let Some(chat_id) = model.open_chat_id() else {
            return;
        };
        model.resync_busy.set(true);
        spawn_local(async move {
            if let Err(e) = ipc::resync(chat_id).await {
                show_error(model, &e);
            }
            model.resync_busy.set(false);
            refresh_cache_map(model, chat_id).await;
        });
    });
    let title = move || open_title(model);
    let members = move || {
        model.state.with(|s| {
            s.open.as_ref().map(|o| {
                o.chat
                    .members
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            })
        })
    };
    view! {
        <header class="chat-header">
            <div class="titles">
                <h2 data-testid="chat-title">{title}</h2>
                <span class="members">{members}</span>
            </div>
            <SyncIndicator visible=indicator />
            <ResyncButton visible=resync_visible busy=model.resync_busy on_click=on_resync />
            <crate::search::ChatTools chat_id=Memo::new(move |_| model.state.with(|s| s.selected))
                offered=Signal::derive(move || !left.get()) />
            <LeaveChatButton visible=leave_visible on_leave />
        </header>
    }
}

/// The open chat's title ("" while none is open).
fn open_title(model: Model) -> String {
    model
        .state
        .with(|s| s.open.as_ref().map(|o| o.chat.title.clone()))
        .unwrap_or_default()
}

/// A callback that runs `action` on the open chat (none: nothing) and shows its error.
fn open_chat_action<Action, Answer>(model: Model, action: fn(ChatId) -> Action) -> Callback<()>
where
    Action: std::future::Future<Output = Result<Answer, roost_model::app::IpcError>> + 'static,
{
    Callback::new(move |()| {
        let Some(chat_id) = model.open_chat_id() else {
            return;
        };
        spawn_local(async move {
            if let Err(e) = action(chat_id).await {
                show_error(model, &e);
            }
        });
    })
}

/// The message list's own keys (page, line, top, latest) scroll it.
fn scroll_by_key(model: Model, ev: &web_sys::KeyboardEvent) {
    // Modified keys are shortcuts (Alt+↓ is the next chat), not scrolling.
    if ev.alt_key() || ev.ctrl_key() || ev.meta_key() {
        return;
    }
    let Some(key) = shortcuts::message_list_key(&ev.key()) else {
        return;
    };
    let Some(el) = model.scroller.get_untracked() else {
        return;
    };
    ev.prevent_default();
    let height = f64::from(el.client_height());
    match key {
        ListKey::Pages(pages) => el.set_scroll_top(el.scroll_top() + (pages * height) as i32),
        ListKey::Pixels(px) => el.set_scroll_top(el.scroll_top() + px as i32),
        ListKey::Top => el.set_scroll_top(0),
        ListKey::Latest => jump_to_latest(model),
    }
}

#[component]
fn Composer() -> impl IntoView {
    let model = expect_context::<Model>();
    let submit = move || {
        let text = model.draft.get_untracked();
        if text.trim().is_empty() {
            return;
        }
        let Some(chat_id) = model.open_chat_id() else {
            return;
        };
        let editing = model.editing.get_untracked();
        model.draft.set(String::new());
        model.editing.set(None);
        if editing.is_none() {
            // Like every messenger: what you send is what you then see, wherever you were.
            jump_to_latest(model);
        }
        spawn_local(async move {
            let result = match editing {
                Some(message) => ipc::edit(chat_id, message.id, &text).await.map(|_| ()),
                // The pending row comes from the shell's ordered events (queued, then
                // delivered); applying this reply too could re-add a row already delivered.
                None => ipc::send(chat_id, &text).await.map(|_| ()),
            };
            if let Err(e) = result {
                show_error(model, &e);
            }
        });
    };
    let on_keydown = move |ev: web_sys::KeyboardEvent| {
        if logic::composer_key(&ev.key(), ev.shift_key(), ev.is_composing())
            == logic::ComposerKey::Send
        {
            ev.prevent_default();
            submit();
        } else if ev.key() == "Escape" && model.editing.get_untracked().is_some() {
            model.editing.set(None);
            model.draft.set(String::new());
        }
    };
    view! {
        <form class="composer" aria-label="Send a message" on:submit=move |ev| { ev.prevent_default(); submit(); }>
            {move || model.editing.get().map(|_| view! {
                <span class="editing">"Editing — Enter to save, Esc to cancel"</span>
            })}
            <textarea data-testid="composer" rows="2" aria-label="Message" placeholder="Message — Enter to send, Shift+Enter for a new line"
                prop:value=move || model.draft.get()
                on:input=move |ev| model.draft.set(event_target_value(&ev))
                on:keydown=on_keydown></textarea>
            <button type="submit" data-testid="send">{move || if model.editing.get().is_some() { "Save" } else { "Send" }}</button>
        </form>
    }
}
