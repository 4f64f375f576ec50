//! The app's screens below the root: the sign-in screen, the main screen (sidebar, chat list,
//! open chat) and the chat list, wired to the [`Model`] like the rest of `app`.

use super::*;

#[component]
pub(crate) fn SignInScreen() -> impl IntoView {
    let model = expect_context::<Model>();
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let initial = model
        .status
        .get_untracked()
        .and_then(|s| s.server_url)
        .unwrap_or_else(|| "http://127.0.0.1:7878".into());
    let on_error = Callback::new(move |e: roost_model::app::IpcError| error.set(Some(e.message)));
    let on_submit = Callback::new(move |(server, token): (String, String)| {
        busy.set(true);
        error.set(None);
        spawn_local(async move {
            match ipc::sign_in(&server, &token).await {
                Ok(status) => {
                    model.adding_account.set(false);
                    apply_event(model, UiEvent::Session { status });
                }
                Err(e) => error.set(Some(e.message)),
            }
            busy.set(false);
        });
    });
    view! {
        <div class="sign-in-screen">
            <div class="sign-in-column">
                <SignInForm initial_server=initial error busy on_submit />
                <accounts::SavedAccounts on_error />
            </div>
        </div>
    }
}

#[component]
pub(crate) fn MainScreen() -> impl IntoView {
    let model = expect_context::<Model>();
    let offline = Signal::derive(move || {
        let now = model.clock.get().max(ipc::now_ms());
        !model.online.get()
            && model
                .offline_since
                .get()
                .is_some_and(|since| now - since >= logic::OFFLINE_BANNER_DELAY_MS)
    });
    let sign_out = move |_| {
        spawn_local(async move {
            match ipc::sign_out().await {
                Ok(status) => apply_event(model, UiEvent::Session { status }),
                Err(e) => show_error(model, &e),
            }
        });
    };
    let keys = window_event_listener(leptos::ev::keydown, move |ev| on_global_key(model, &ev));
    on_cleanup(move || keys.remove());
    let on_theme = Callback::new(move |theme: Theme| {
        theme.store_and_apply();
        model.theme.set(theme);
    });
    let on_choose = Callback::new(move |chat_id: ChatId| {
        model.dialog.set(None);
        select_chat(model, chat_id);
        focus_selector("[data-testid=composer]");
    });
    let on_close = Callback::new(move |()| close_dialog(model));
    cache_tools::provide_chat_tools(model);
    // Memos, so that the views built on them are rebuilt when these change, not at every change
    // of the state (every event): rebuilding the chat view stood between an open and its reply
    // (issue 11's click → paint).
    let selected = Memo::new(move |_| model.state.with(|s| s.selected));
    let any_selected = Memo::new(move |_| selected.get().is_some());
    view! {
        <div class="layout" data-testid="layout" data-online=move || model.online.get().to_string()>
            <aside class="sidebar" aria-label="Chats and account">
                <button type="button" class="switcher-button" data-testid="open-switcher"
                    aria-keyshortcuts="Control+K" on:click=move |_| model.dialog.set(Some(Dialog::Switcher))>
                    <span>"Jump to a chat…"</span><kbd>"Ctrl+K"</kbd>
                </button>
                <crate::search::SearchPanel selected
                    on_open=Callback::new(move |(chat_id, seq)| cache_tools::open_search_hit(model, chat_id, seq))
                    on_error=Callback::new(move |text| model.notice.set(Some(text))) />
                <ChatList />
                <footer class="account">
                    <accounts::AccountMenu />
                    <span class="account-actions">
                        <ThemePicker theme=model.theme on_change=on_theme />
                        <crate::search::StorageSettings />
                        <button type="button" class="link" data-testid="show-shortcuts" aria-keyshortcuts="Shift+?"
                            on:click=move |_| model.dialog.set(Some(Dialog::Shortcuts))>"Shortcuts"</button>
                        <button class="link" data-testid="sign-out" on:click=sign_out>"Sign out"</button>
                    </span>
                </footer>
            </aside>
            {move || match model.dialog.get() {
                Some(Dialog::Switcher) => view! { <QuickSwitcher chats=Signal::derive(move || model.state.with(|s| s.chats.clone())) on_choose on_close /> }.into_any(),
                Some(Dialog::Shortcuts) => view! { <ShortcutSheet on_close /> }.into_any(),
                None => ().into_any(),
            }}
            <main class="chat-pane" aria-label="Conversation">
                <ConnectionBanner offline />
                {move || model.notice.get().map(|text| view! {
                    <div class="banner notice" role="status" data-testid="notice">
                        <span>{text}</span>
                        <button class="link" on:click=move |_| model.notice.set(None)>"Dismiss"</button>
                    </div>
                })}
                {move || if any_selected.get() {
                    view! { <ChatView /> }.into_any()
                } else {
                    view! { <div class="empty-pane">"Choose a chat"</div> }.into_any()
                }}
            </main>
        </div>
    }
}

#[component]
pub(crate) fn ChatList() -> impl IntoView {
    let model = expect_context::<Model>();
    let on_select = Callback::new(move |chat_id| select_chat(model, chat_id));
    let on_press = Callback::new(move |chat_id| prefetch_chat(model, chat_id));
    let on_keydown = move |ev: web_sys::KeyboardEvent| {
        let chats = model.state.with_untracked(|s| s.chats.clone());
        let current = model
            .selected()
            .and_then(|id| chats.iter().position(|c| c.chat_id == id));
        if let Some(index) = logic::chat_list_key(&ev.key(), current, chats.len()) {
            ev.prevent_default();
            let chat_id = chats[index].chat_id;
            select_chat(model, chat_id);
            focus_chat_item(chat_id);
        }
    };
    let no_chats = Memo::new(move |_| model.state.with(|s| s.chats.is_empty()));
    view! {
        <nav class="chat-list" role="listbox" aria-label="Chats" data-testid="chat-list" tabindex="0" on:keydown=on_keydown>
            <For
                each=move || model.state.with(|s| s.chats.iter().map(|c| c.chat_id).collect::<Vec<_>>())
                key=|chat_id| *chat_id
                children=move |chat_id| {
                    let chat = Memo::new(move |previous: Option<&ChatEntry>| {
                        model.state.with(|s| s.chats.iter().find(|c| c.chat_id == chat_id).cloned())
                            .or_else(|| previous.cloned())
                            .expect("a listed chat")
                    });
                    let selected = Memo::new(move |_| model.state.with(|s| s.selected) == Some(chat_id));
                    view! { <ChatListItem chat selected on_select on_press /> }
                }
            />
            {move || no_chats.get().then(|| view! { <p class="hint">"No chats yet."</p> })}
        </nav>
    }
}

pub(crate) fn focus_chat_item(chat_id: ChatId) {
    request_animation_frame(move || {
        let selector = format!("[data-chat-id=\"{chat_id}\"]");
        if let Some(el) = document().query_selector(&selector).ok().flatten()
            && let Ok(el) = wasm_bindgen::JsCast::dyn_into::<web_sys::HtmlElement>(el)
        {
            let _ = el.focus();
        }
    });
}
