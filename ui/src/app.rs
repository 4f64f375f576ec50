//! The app root: holds the UI state ([`UiState`]) in a signal, feeds it the shell's events
//! through its reducer, performs the effects the reducer asks for, and wires the presentational
//! components to `ipc`. The state rules are in `state`, the view rules in `logic` (both pure,
//! tested natively).

use crate::components::*;
use crate::ipc;
use crate::left_chat::{self, LeaveChatButton, LeftChatNotice};
use crate::logic;
use crate::shortcuts::{self, Action, KeyPress, ListKey};
use crate::state::{Effect as StateEffect, OpenChat, UiState};
use crate::theme::Theme;
use crate::timeline::{self, Timeline};
use crate::ux_components::*;
use leptos::html;
use leptos::prelude::*;
use leptos::task::spawn_local;
use roost_model::app::{
    Anchor, AppStatus, CacheMapView, ChatEntry, IpcErrorKind, UiEvent, WindowItem,
};
use roost_model::window;
use roost_proto::{ChatId, Message, Seq};
use std::time::Duration;

/// The open chat's timeline: its rows laid out with day separators and the unread divider.
fn open_timeline(open: &OpenChat) -> Timeline {
    Timeline::build(
        logic::rows(&open.items, &open.pending),
        open.first_unread,
        timeline::local_day,
    )
}

/// A modal dialog over the main screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dialog {
    Switcher,
    Shortcuts,
}

/// Every piece of UI state; `Copy`, shared through context.
#[derive(Debug, Clone, Copy)]
struct Model {
    status: RwSignal<Option<AppStatus>>,
    online: RwSignal<bool>,
    offline_since: RwSignal<Option<f64>>,
    /// Chats, the selected and open chat, fetch trackers: changed only through its reducer.
    state: RwSignal<UiState>,
    /// Bumped by timers so time-based rules (indicator delay, offline banner) re-evaluate.
    clock: RwSignal<f64>,
    cache_map: RwSignal<Option<CacheMapView>>,
    resync_busy: RwSignal<bool>,
    notice: RwSignal<Option<String>>,
    scroll_top: RwSignal<f64>,
    viewport_height: RwSignal<f64>,
    /// Keep the view at the newest message when rows are added.
    follow: RwSignal<bool>,
    interactive: RwSignal<bool>,
    scroller: NodeRef<html::Div>,
    draft: RwSignal<String>,
    editing: RwSignal<Option<Message>>,
    /// The open chat's entries (rows, day separators, unread divider) and their positions.
    timeline: Memo<Timeline>,
    /// Highest seq the user has had in view in the open chat (new messages are those above it).
    seen_seq: RwSignal<Seq>,
    dialog: RwSignal<Option<Dialog>>,
    theme: RwSignal<Theme>,
}

impl Model {
    fn new() -> Model {
        let state = RwSignal::new(UiState::default());
        Model {
            timeline: Memo::new(move |_| {
                state.with(|s| s.open.as_ref().map(open_timeline).unwrap_or_default())
            }),
            seen_seq: RwSignal::new(0),
            dialog: RwSignal::new(None),
            theme: RwSignal::new(Theme::System),
            status: RwSignal::new(None),
            online: RwSignal::new(false),
            offline_since: RwSignal::new(None),
            state,
            clock: RwSignal::new(0.0),
            cache_map: RwSignal::new(None),
            resync_busy: RwSignal::new(false),
            notice: RwSignal::new(None),
            scroll_top: RwSignal::new(0.0),
            viewport_height: RwSignal::new(600.0),
            follow: RwSignal::new(true),
            interactive: RwSignal::new(false),
            scroller: NodeRef::new(),
            draft: RwSignal::new(String::new()),
            editing: RwSignal::new(None),
        }
    }

    fn open_chat_id(&self) -> Option<ChatId> {
        self.state.with_untracked(UiState::open_chat_id)
    }

    fn selected(&self) -> Option<ChatId> {
        self.state.with_untracked(|s| s.selected)
    }

    fn tick_after(&self, ms: f64) {
        let clock = self.clock;
        set_timeout(
            move || clock.set(ipc::now_ms()),
            Duration::from_millis(ms.max(0.0) as u64 + 5),
        );
    }
}

fn show_error(model: Model, error: &roost_model::app::IpcError) {
    model.notice.set(Some(error.message.clone()));
}

/// A `performance` mark on the frame that paints the first non-empty chat list: the end of
/// "cold start → chat list painted" (`src-tauri/tests/bench_app.rs` reads it).
fn mark_chat_list_painted() {
    request_animation_frame(|| {
        if let Some(performance) = web_sys::window().and_then(|w| w.performance())
            && performance
                .get_entries_by_name("roost-chat-list-painted")
                .length()
                == 0
        {
            let _ = performance.mark("roost-chat-list-painted");
        }
    });
}

async fn reload_chats(model: Model) {
    match ipc::chats().await {
        Ok(chats) => {
            let any = !chats.is_empty();
            let now = ipc::now_ms();
            model.state.update(|s| s.chats_reloaded(chats, now));
            model.tick_after(0.0);
            if any {
                mark_chat_list_painted();
            }
        }
        Err(e) if e.kind == IpcErrorKind::NotSignedIn => model.state.update(|s| s.chats.clear()),
        Err(e) => show_error(model, &e),
    }
}

async fn refresh_cache_map(model: Model, chat_id: ChatId) {
    if let Ok(map) = ipc::cache_map(chat_id).await
        && model.open_chat_id() == Some(chat_id)
    {
        model.cache_map.set(Some(map));
    }
}

fn scroll_to(model: Model, top: f64) {
    request_animation_frame(move || {
        if let Some(el) = model.scroller.get_untracked() {
            el.set_scroll_top(top as i32);
            model.scroll_top.set(el.scroll_top() as f64);
        }
    });
}

fn scroll_to_bottom(model: Model) {
    request_animation_frame(move || {
        if let Some(el) = model.scroller.get_untracked() {
            el.set_scroll_top(el.scroll_height());
            model.scroll_top.set(el.scroll_top() as f64);
            model.viewport_height.set(el.client_height() as f64);
        }
    });
}

/// Changes the open chat's rows with `change`, keeping what the user looks at in place: at the
/// bottom when following, else the first visible row's seq at the same offset.
fn change_rows(model: Model, change: impl FnOnce(&mut UiState) -> bool) {
    let follow = model.follow.get_untracked();
    let scroll_top = model.scroll_top.get_untracked();
    let anchor = model
        .timeline
        .with_untracked(|timeline| timeline.scroll_anchor(scroll_top));
    let mut changed = false;
    model.state.update(|state| changed = change(state));
    if !changed {
        return;
    }
    if follow {
        scroll_to_bottom(model);
    } else if let Some(anchor) = anchor
        && let Some(top) = model
            .timeline
            .with_untracked(|timeline| timeline.restore_anchor(anchor))
    {
        scroll_to(model, top);
    }
}

/// Feeds one shell event to the state's reducer and performs the effects it asks for.
fn apply_event(model: Model, event: UiEvent) {
    match &event {
        UiEvent::Connection { online } => set_online(model, *online),
        UiEvent::Session { status } => {
            set_online(model, status.online);
            model.status.set(Some(status.clone()));
        }
        _ => {}
    }
    let now = ipc::now_ms();
    let mut effects = Vec::new();
    change_rows(model, |state| {
        effects = state.apply(event, now);
        effects.contains(&StateEffect::RowsChanged)
    });
    for effect in effects {
        perform(model, effect);
    }
}

fn perform(model: Model, effect: StateEffect) {
    match effect {
        StateEffect::RowsChanged => {}
        StateEffect::RefreshCacheMap(chat_id) => spawn_local(refresh_cache_map(model, chat_id)),
        StateEffect::TickAt(at) => model.tick_after(at - ipc::now_ms()),
        StateEffect::Reload => spawn_local(async move {
            reload_chats(model).await;
            if let Some(chat_id) = model.selected() {
                open_chat(model, chat_id).await;
            }
        }),
        StateEffect::Session => {
            if model
                .status
                .with_untracked(|s| s.as_ref().is_some_and(|s| s.signed_in))
            {
                spawn_local(reload_chats(model));
            } else {
                model.interactive.set(false);
                model.cache_map.set(None);
            }
        }
    }
}

fn set_online(model: Model, online: bool) {
    model.online.set(online);
    if online {
        model.offline_since.set(None);
    } else if model.offline_since.get_untracked().is_none() {
        model.offline_since.set(Some(ipc::now_ms()));
        model.tick_after(logic::OFFLINE_BANNER_DELAY_MS);
    }
}

async fn open_chat(model: Model, chat_id: ChatId) {
    let mut request = 0;
    model
        .state
        .update(|state| request = state.window_requested());
    // Opening resets the count in the core: read it from the chat list first.
    let unread = model.state.with_untracked(|s| {
        s.chats
            .iter()
            .find(|c| c.chat_id == chat_id)
            .map_or(0, |c| c.unread_count)
    });
    match ipc::open_chat(chat_id, Anchor::Newest).await {
        Ok(window) => {
            let mut taken = false;
            model
                .state
                .update(|state| taken = state.window_opened(chat_id, request, window));
            if !taken {
                return;
            }
            let already_marked = model.state.with_untracked(|s| {
                s.open.as_ref().is_some_and(|o| o.first_unread.is_some())
            });
            if !already_marked {
                let first_unread = reach_first_unread(model, chat_id, unread).await;
                model
                    .state
                    .update(|s| s.mark_first_unread(chat_id, first_unread));
            }
            let Some((first_unread, last_seq)) = model.state.with_untracked(|s| {
                s.open
                    .as_ref()
                    .filter(|o| o.chat.chat_id == chat_id)
                    .map(|o| (o.first_unread, o.chat.last_seq))
            }) else {
                return;
            };
            match first_unread {
                // Like Telegram and Slack: open at the first unread message, not the bottom.
                Some(seq) => {
                    model.seen_seq.set(seq.saturating_sub(1));
                    model.follow.set(false);
                    scroll_to_first_unread(model);
                }
                None => {
                    model.seen_seq.set(last_seq);
                    model.follow.set(true);
                    scroll_to_bottom(model);
                }
            }
            // Interactive once the rows are painted (the frame after the one that scrolls).
            request_animation_frame(move || {
                request_animation_frame(move || {
                    if model.open_chat_id() == Some(chat_id) {
                        model.interactive.set(true);
                    }
                })
            });
            refresh_cache_map(model, chat_id).await;
        }
        Err(e) => show_error(model, &e),
    }
}

/// Cached pages read before the window to reach the first unread message (beyond that, the
/// chat opens at the bottom).
const MAX_UNREAD_PAGES: usize = 5;
const UNREAD_PAGE: u32 = 1000;

/// The first unread message of the open chat `chat_id`, reading earlier cached pages into it
/// (through the reducer) when the unread messages reach further back than the first window.
async fn reach_first_unread(model: Model, chat_id: ChatId, unread: u64) -> Option<Seq> {
    let me = model
        .status
        .with_untracked(|s| s.as_ref().and_then(|s| s.user_id.clone()));
    for _ in 0..MAX_UNREAD_PAGES {
        let (found, has_more_before, first_seq) = model.state.with_untracked(|s| {
            let open = s.open.as_ref().filter(|o| o.chat.chat_id == chat_id)?;
            Some((
                timeline::first_unread_seq(&open.items, unread, me.as_ref()),
                open.has_more_before,
                window::coverage(&open.items).map(|(first, _)| first),
            ))
        })?;
        if found.is_some() {
            return found;
        }
        if unread == 0 || !has_more_before {
            return None;
        }
        let around = first_seq?.saturating_sub(u64::from(UNREAD_PAGE / 2)).max(1);
        let page = ipc::cached_window(chat_id, Anchor::Around { seq: around }, UNREAD_PAGE)
            .await
            .ok()?;
        let mut changed = false;
        change_rows(model, |state| {
            changed = state.cached_page_read(chat_id, page.items, page.has_more_before);
            changed
        });
        if !changed {
            return None;
        }
    }
    None
}

/// Scrolls the open chat so its "New messages" divider is near the top of the view.
fn scroll_to_first_unread(model: Model) {
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
fn note_scroll_position(model: Model) {
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
fn jump_to_latest(model: Model) {
    model.follow.set(true);
    scroll_to_bottom(model);
}

fn focus_selector(selector: &'static str) {
    request_animation_frame(move || {
        if let Some(el) = document().query_selector(selector).ok().flatten()
            && let Ok(el) = wasm_bindgen::JsCast::dyn_into::<web_sys::HtmlElement>(el)
        {
            let _ = el.focus();
        }
    });
}

fn close_dialog(model: Model) {
    model.dialog.set(None);
    if model.selected().is_some() {
        focus_selector("[data-testid=composer]");
    } else {
        focus_selector("[data-testid=chat-list]");
    }
}

/// Global keyboard shortcuts (`shortcuts::action_for`).
fn on_global_key(model: Model, ev: &web_sys::KeyboardEvent) {
    let in_text_field = ev
        .target()
        .and_then(|t| wasm_bindgen::JsCast::dyn_into::<web_sys::Element>(t).ok())
        .is_some_and(|e| matches!(e.tag_name().as_str(), "INPUT" | "TEXTAREA" | "SELECT"));
    let key = ev.key();
    let press = KeyPress {
        key: &key,
        ctrl: ev.ctrl_key() || ev.meta_key(),
        alt: ev.alt_key(),
        shift: ev.shift_key(),
        in_text_field,
        dialog_open: model.dialog.get_untracked().is_some(),
    };
    let Some(action) = shortcuts::action_for(press) else {
        return;
    };
    ev.prevent_default();
    match action {
        Action::OpenSwitcher => model.dialog.set(Some(Dialog::Switcher)),
        Action::ShowShortcuts => model.dialog.set(Some(Dialog::Shortcuts)),
        Action::CloseDialog => close_dialog(model),
        Action::PreviousChat | Action::NextChat => {
            let step = if action == Action::PreviousChat {
                "ArrowUp"
            } else {
                "ArrowDown"
            };
            let chats = model.state.with_untracked(|s| s.chats.clone());
            let current = model
                .selected()
                .and_then(|id| chats.iter().position(|c| c.chat_id == id));
            if let Some(index) = logic::chat_list_key(step, current, chats.len()) {
                select_chat(model, chats[index].chat_id);
                focus_chat_item(chats[index].chat_id);
            }
        }
    }
}

fn select_chat(model: Model, chat_id: ChatId) {
    let mut previous = None;
    model.state.update(|state| previous = state.select(chat_id));
    let Some(previous) = previous else {
        return;
    };
    if let Some(previous) = previous {
        spawn_local(async move {
            let _ = ipc::close_chat(previous).await;
        });
    }
    model.interactive.set(false);
    model.cache_map.set(None);
    model.resync_busy.set(false);
    model.editing.set(None);
    model.scroll_top.set(0.0);
    model.seen_seq.set(0);
    spawn_local(open_chat(model, chat_id));
}

/// Scrolled into a skeleton or the top of the cached rows: ask for exactly that history.
fn load_what_is_in_view(model: Model, range: (usize, usize)) {
    if !model.interactive.get_untracked() {
        return;
    }
    let Some((chat_id, first, has_more_before, older_requested, cached_requested)) =
        model.state.with_untracked(|s| {
            s.open.as_ref().map(|o| {
                (
                    o.chat.chat_id,
                    o.items.first().cloned(),
                    o.has_more_before,
                    o.older_requested,
                    o.cached_page_requested,
                )
            })
        })
    else {
        return;
    };
    if range.0 != 0 {
        return;
    }
    match first {
        Some(WindowItem::OlderHistory { to }) => {
            if older_requested == Some(to)
                || !left_chat::may_fetch_history(model.state.with_untracked(UiState::open_is_left))
            {
                return;
            }
            model.state.update(|s| {
                if let Some(o) = s.open.as_mut() {
                    o.older_requested = Some(to);
                }
            });
            spawn_local(async move {
                if let Err(e) = ipc::load_older(chat_id).await
                    && e.kind != IpcErrorKind::Offline
                {
                    show_error(model, &e);
                }
            });
        }
        Some(item) => {
            let (first_seq, _) = item.seq_span();
            let gap_on_top = matches!(item, WindowItem::Gap { .. });
            if first_seq <= 1
                || !(has_more_before || gap_on_top)
                || cached_requested == Some(first_seq)
            {
                return;
            }
            model.state.update(|s| {
                if let Some(o) = s.open.as_mut() {
                    o.cached_page_requested = Some(first_seq);
                }
            });
            let around = first_seq
                .saturating_sub(u64::from(logic::CACHED_PAGE / 2))
                .max(1);
            spawn_local(async move {
                match ipc::cached_window(
                    chat_id,
                    Anchor::Around { seq: around },
                    logic::CACHED_PAGE,
                )
                .await
                {
                    Ok(page) if model.open_chat_id() == Some(chat_id) => {
                        change_rows(model, move |state| {
                            state.cached_page_read(chat_id, page.items, page.has_more_before)
                        });
                    }
                    Ok(_) => {}
                    Err(e) => show_error(model, &e),
                }
            });
        }
        None => {}
    }
}

#[component]
pub fn App() -> impl IntoView {
    let model = Model::new();
    provide_context(model);
    let theme = Theme::load();
    theme.apply();
    model.theme.set(theme);

    // Subscribe first, then read the state: no change is lost in between.
    spawn_local(async move {
        if let Err(e) = ipc::subscribe(move |event| apply_event(model, event)).await {
            show_error(model, &e);
        }
        match ipc::app_status().await {
            Ok(status) => {
                let signed_in = status.signed_in;
                if signed_in {
                    set_online(model, status.online);
                }
                model.status.set(Some(status));
                if signed_in {
                    reload_chats(model).await;
                }
            }
            Err(e) => {
                model.status.set(Some(AppStatus {
                    signed_in: false,
                    server_url: None,
                    user_id: None,
                    online: false,
                }));
                show_error(model, &e);
            }
        }
    });

    // Only signing in or out swaps the screen; other status changes must not rebuild it.
    let signed_in = Memo::new(move |_| model.status.get().map(|s| s.signed_in));
    view! {
        {move || match signed_in.get() {
            None => view! { <div class="boot" aria-busy="true"></div> }.into_any(),
            Some(false) => view! { <SignInScreen /> }.into_any(),
            Some(true) => view! { <MainScreen /> }.into_any(),
        }}
    }
}

#[component]
fn SignInScreen() -> impl IntoView {
    let model = expect_context::<Model>();
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let initial = model
        .status
        .get_untracked()
        .and_then(|s| s.server_url)
        .unwrap_or_else(|| "http://127.0.0.1:7878".into());
    let on_submit = Callback::new(move |(server, token): (String, String)| {
        busy.set(true);
        error.set(None);
        spawn_local(async move {
            match ipc::sign_in(&server, &token).await {
                Ok(status) => apply_event(model, UiEvent::Session { status }),
                Err(e) => error.set(Some(e.message)),
            }
            busy.set(false);
        });
    });
    view! { <div class="sign-in-screen"><SignInForm initial_server=initial error busy on_submit /></div> }
}

#[component]
fn MainScreen() -> impl IntoView {
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
    let account = move || {
        model.status.get().map(|s| {
            format!(
                "{}{}",
                s.user_id.map(|u| format!("{u} @ ")).unwrap_or_default(),
                s.server_url.unwrap_or_default()
            )
        })
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
    view! {
        <div class="layout" data-testid="layout" data-online=move || model.online.get().to_string()>
            <aside class="sidebar" aria-label="Chats and account">
                <button type="button" class="switcher-button" data-testid="open-switcher"
                    aria-keyshortcuts="Control+K" on:click=move |_| model.dialog.set(Some(Dialog::Switcher))>
                    <span>"Jump to a chat…"</span><kbd>"Ctrl+K"</kbd>
                </button>
                <ChatList />
                <footer class="account">
                    <span class="who" title=account>{account}</span>
                    <span class="account-actions">
                        <ThemePicker theme=model.theme on_change=on_theme />
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
                {move || match model.state.with(|s| s.selected) {
                    None => view! { <div class="empty-pane">"Choose a chat"</div> }.into_any(),
                    Some(_) => view! { <ChatView /> }.into_any(),
                }}
            </main>
        </div>
    }
}

#[component]
fn ChatList() -> impl IntoView {
    let model = expect_context::<Model>();
    let on_select = Callback::new(move |chat_id| select_chat(model, chat_id));
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
                    let selected = Signal::derive(move || model.state.with(|s| s.selected) == Some(chat_id));
                    view! { <ChatListItem chat selected on_select /> }
                }
            />
            {move || model.state.with(|s| s.chats.is_empty()).then(|| view! { <p class="hint">"No chats yet."</p> })}
        </nav>
    }
}

fn focus_chat_item(chat_id: ChatId) {
    request_animation_frame(move || {
        let selector = format!("[data-chat-id=\"{chat_id}\"]");
        if let Some(el) = document().query_selector(&selector).ok().flatten()
            && let Ok(el) = wasm_bindgen::JsCast::dyn_into::<web_sys::HtmlElement>(el)
        {
            let _ = el.focus();
        }
    });
}

#[component]
fn ChatView() -> impl IntoView {
    let model = expect_context::<Model>();
    let timeline = model.timeline;
    let range = Memo::new(move |_| {
        let (top, height) = (model.scroll_top.get(), model.viewport_height.get());
        timeline.with(|t| t.visible_range(top, height, logic::OVERSCAN_ROWS))
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
    let on_list_key = move |ev: web_sys::KeyboardEvent| {
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
    };
    Effect::new(move |_| {
        let range = range.get();
        let _ = model.interactive.get();
        load_what_is_in_view(model, range);
    });
    let readiness = Signal::derive(move || {
        let mounted = model.scroller.get().is_some();
        let interactive = model.interactive.get();
        model.state.with(|s| s.readiness(mounted, interactive))
    });
    let left = Memo::new(move |_| model.state.with(UiState::open_is_left));
    let resync_visible =
        Signal::derive(move || left_chat::resync_offered(readiness.get(), left.get()));
    let leave_visible =
        Signal::derive(move || model.state.with(|s| s.open.is_some()) && !left.get());
    let on_leave = Callback::new(move |()| {
        let Some(chat_id) = model.open_chat_id() else {
            return;
        };
        spawn_local(async move {
            if let Err(e) = ipc::leave_chat(chat_id).await {
                show_error(model, &e);
            }
        });
    });
    let on_forget = Callback::new(move |()| {
        let Some(chat_id) = model.open_chat_id() else {
            return;
        };
        spawn_local(async move {
            if let Err(e) = ipc::forget_chat(chat_id).await {
                show_error(model, &e);
            }
        });
    });
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
    let title = move || {
        model
            .state
            .with(|s| s.open.as_ref().map(|o| o.chat.title.clone()))
            .unwrap_or_default()
    };
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
    view! {
        <section class="chat-view" data-testid="chat-view">
            <header class="chat-header">
                <div class="titles">
                    <h2 data-testid="chat-title">{title}</h2>
                    <span class="members">{members}</span>
                </div>
                <SyncIndicator visible=indicator />
                <ResyncButton visible=resync_visible busy=model.resync_busy on_click=on_resync />
                <LeaveChatButton visible=leave_visible on_leave />
            </header>
            <CacheMapStrip map=model.cache_map />
            {move || if model.state.with(|s| s.open.is_some()) {
                view! {
                    <div class="messages-wrap">
                    <div class="messages" data-testid="messages" node_ref=model.scroller on:scroll=on_scroll tabindex="0"
                        role="log" aria-live="polite" aria-label=move || format!("Messages in {}", title())
                        on:keydown=on_list_key>
                        <TimelineRows timeline range today me
                            on_edit=Some(on_edit) on_delete=Some(on_delete) on_retry=Some(on_retry) />
                    </div>
                    <JumpToLatest visible=jump_visible new_below on_click=on_jump />
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
