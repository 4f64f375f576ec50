//! The app root: holds the UI state ([`UiState`]) in a signal, feeds it the shell's events
//! through its reducer, performs the effects the reducer asks for, and wires the presentational
//! components to `ipc`. The state rules are in `state`, the view rules in `logic` (both pure,
//! tested natively).

use crate::accounts;
use crate::chat_view::ChatView;
use crate::components::*;
use crate::ipc;
use crate::left_chat;
use crate::logic;
use crate::shortcuts::{self, Action, KeyPress};
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
use roost_model::connection::ConnectionShown;
use roost_model::window;
use roost_proto::{ChatId, Message, Seq};
use std::time::Duration;

mod cache_tools;
mod held;
mod open;
mod screens;
mod scroll;
mod staged;
mod switch;

pub(crate) use open::prefetch_chat;
pub(crate) use screens::*;
pub(crate) use scroll::*;
pub(crate) use switch::switch_selection;

/// A modal dialog over the main screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialog {
    Switcher,
    Shortcuts,
}

/// Every piece of UI state; `Copy`, shared through context.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Model {
    pub(crate) status: RwSignal<Option<AppStatus>>,
    pub(crate) online: RwSignal<bool>,
    /// What `online` is derived from (`show_connection`): the channel's events and the status
    /// reply, which race (`roost_model::connection`).
    pub(crate) connection: StoredValue<ConnectionShown>,
    pub(crate) offline_since: RwSignal<Option<f64>>,
    /// Chats, the selected and open chat, fetch trackers: changed only through its reducer.
    pub(crate) state: RwSignal<UiState>,
    /// Bumped by timers so time-based rules (indicator delay, offline banner) re-evaluate.
    pub(crate) clock: RwSignal<f64>,
    pub(crate) cache_map: RwSignal<Option<CacheMapView>>,
    pub(crate) resync_busy: RwSignal<bool>,
    pub(crate) notice: RwSignal<Option<String>>,
    pub(crate) scroll_top: RwSignal<f64>,
    pub(crate) viewport_height: RwSignal<f64>,
    /// Keep the view at the newest message when rows are added.
    pub(crate) follow: RwSignal<bool>,
    pub(crate) interactive: RwSignal<bool>,
    pub(crate) scroller: NodeRef<html::Div>,
    pub(crate) draft: RwSignal<String>,
    pub(crate) editing: RwSignal<Option<Message>>,
    /// The open chat's entries (rows, day separators, unread divider) and their positions;
    /// held (unchanged) while `rows_held`.
    pub(crate) timeline: Memo<Timeline>,
    /// The live list keeps its timeline and range while the rows staged for a click are shown
    /// ([`staged`]).
    pub(crate) rows_held: RwSignal<bool>,
    /// The newest rows of the chat read ahead of a click, rendered hidden ([`staged`]).
    pub(crate) staged: RwSignal<Option<staged::StagedRows>>,
    /// The staged rows are on screen (the click came; the live list is held).
    pub(crate) staged_shown: RwSignal<bool>,
    /// The latest idle read-ahead pass scheduled ([`open::read_ahead_when_idle`]); an earlier
    /// one still running stops.
    pub(crate) read_ahead_pass: StoredValue<u64>,
    /// The click whose visible changes are held until its window arrives ([`held`]; 0: none).
    pub(crate) held_click: StoredValue<u64>,
    /// The last id [`held::hold`] gave.
    pub(crate) held_clicks: StoredValue<u64>,
    /// Highest seq the user has had in view in the open chat (new messages are those above it).
    pub(crate) seen_seq: RwSignal<Seq>,
    pub(crate) dialog: RwSignal<Option<Dialog>>,
    pub(crate) theme: RwSignal<Theme>,
    /// The accounts signed in on this device (`accounts`), as the shell last listed them.
    pub(crate) accounts: RwSignal<Vec<roost_model::accounts::AccountEntry>>,
    /// "Add account": the sign-in form over a session that stays signed in.
    pub(crate) adding_account: RwSignal<bool>,
}

impl Model {
    pub(crate) fn new() -> Model {
        let state = RwSignal::new(UiState::default());
        let rows_held = RwSignal::new(false);
        Model {
            timeline: Memo::new(move |previous: Option<&Timeline>| {
                if rows_held.get()
                    && let Some(previous) = previous
                {
                    return previous.clone();
                }
                state.with(|s| s.open.as_ref().map(OpenChat::timeline).unwrap_or_default())
            }),
            rows_held,
            staged: RwSignal::new(None),
            staged_shown: RwSignal::new(false),
            read_ahead_pass: StoredValue::new(0),
            held_click: StoredValue::new(0),
            held_clicks: StoredValue::new(0),
            seen_seq: RwSignal::new(0),
            dialog: RwSignal::new(None),
            theme: RwSignal::new(Theme::System),
            accounts: RwSignal::new(Vec::new()),
            adding_account: RwSignal::new(false),
            status: RwSignal::new(None),
            online: RwSignal::new(false),
            connection: StoredValue::new(ConnectionShown::default()),
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

    pub(crate) fn open_chat_id(&self) -> Option<ChatId> {
        self.state.with_untracked(UiState::open_chat_id)
    }

    pub(crate) fn selected(&self) -> Option<ChatId> {
        self.state.with_untracked(|s| s.selected)
    }

    pub(crate) fn tick_after(&self, ms: f64) {
        let clock = self.clock;
        set_timeout(
            move || clock.set(ipc::now_ms()),
            Duration::from_millis(ms.max(0.0) as u64 + 5),
        );
    }
}

pub(crate) fn show_error(model: Model, error: &roost_model::app::IpcError) {
    model.notice.set(Some(error.message.clone()));
}

/// `performance` marks on the frame that paints the app's first non-empty chat list: the end
/// of "cold start → chat list painted" (`roost-chat-list-painted`, unless the list the shell
/// put into the page was painted first: `first-paint.js` marks it then) and of "→ the app's
/// own list" (`roost-app-chat-list-painted`); `src-tauri/tests/bench_app/` reads both.
pub(crate) fn mark_chat_list_painted() {
    const CHAT_LIST_PAINTED: &str = "roost-chat-list-painted";
    const APP_CHAT_LIST_PAINTED: &str = "roost-app-chat-list-painted";
    request_animation_frame(|| {
        let marked = |name: &str| {
            web_sys::window()
                .and_then(|w| w.performance())
                .is_some_and(|p| p.get_entries_by_name(name).length() > 0)
        };
        if !marked(CHAT_LIST_PAINTED) {
            mark(CHAT_LIST_PAINTED);
        }
        if !marked(APP_CHAT_LIST_PAINTED) {
            mark(APP_CHAT_LIST_PAINTED);
        }
    });
}

/// Removes the chat list the shell put into the first page (`src-tauri/src/first_paint.rs`)
/// on the next frame: the frame that paints the app's own list, or whatever the app shows
/// instead (an empty list, an error).
pub(crate) fn remove_first_paint() {
    request_animation_frame(|| {
        if let Some(list) = leptos::prelude::document().get_element_by_id("first-paint") {
            list.remove();
        }
    });
}

/// A `performance` mark named `name` now: the phases of opening a chat (`roost-open-*`) and of
/// cold start (`roost-wasm-start`, `roost-status-reply`, `roost-chats-reply`), which
/// `src-tauri/tests/bench_app/` reads to say where the time goes.
pub fn mark(name: &str) {
    if let Some(performance) = web_sys::window().and_then(|w| w.performance()) {
        let _ = performance.mark(name);
    }
}

pub(crate) async fn reload_chats(model: Model) {
    mark("roost-chats-invoke");
    match ipc::chats().await {
        Ok(chats) => {
            mark("roost-chats-reply");
            let any = !chats.is_empty();
            let now = ipc::now_ms();
            model.state.update(|s| s.chats_reloaded(chats, now));
            model.tick_after(0.0);
            if any {
                mark_chat_list_painted();
                open::read_ahead_when_idle(model);
            }
        }
        Err(e) if e.kind == IpcErrorKind::NotSignedIn => model.state.update(|s| s.chats.clear()),
        Err(e) => show_error(model, &e),
    }
}

pub(crate) async fn refresh_cache_map(model: Model, chat_id: ChatId) {
    if let Ok(map) = ipc::cache_map(chat_id).await
        && model.open_chat_id() == Some(chat_id)
    {
        model.cache_map.set(Some(map));
    }
}

/// Changes the open chat's rows with `change`, keeping what the user looks at in place: at the
/// bottom when following, else the first visible row's seq at the same offset.
pub(crate) fn change_rows(model: Model, change: impl FnOnce(&mut UiState) -> bool) {
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
pub(crate) fn apply_event(model: Model, event: UiEvent) {
    match &event {
        UiEvent::Connection { online } => heard_connection(model, *online),
        UiEvent::Session { status } => {
            if model
                .status
                .with_untracked(|previous| accounts::account_changed(previous.as_ref(), status))
            {
                // Another account: nothing shown of the previous one may stay.
                model.state.set(UiState::default());
                model.cache_map.set(None);
                model.dialog.set(None);
                model.notice.set(None);
                model.draft.set(String::new());
                model.editing.set(None);
            }
            heard_connection(model, status.online);
            model.status.set(Some(status.clone()));
            accounts::refresh_accounts(model);
        }
        _ => {}
    }
    let now = ipc::now_ms();
    let read_ahead = model.state.with_untracked(UiState::read_ahead_len);
    if model
        .state
        .with_untracked(|state| state.changes_nothing_shown(&event))
    {
        // Kept in the state (it follows the store) without waking every view: the close and
        // open of a switch send two of these, which would otherwise re-render the page ahead
        // of the open's reply (issue 11's click → paint).
        model.state.update_untracked(|state| {
            state.apply(event, now);
        });
        staged::drop_if_stale(model);
        open::read_again_if_dropped(model, read_ahead);
        return;
    }
    let mut effects = Vec::new();
    change_rows(model, |state| {
        effects = state.apply(event, now);
        effects.contains(&StateEffect::RowsChanged)
    });
    staged::drop_if_stale(model);
    open::read_again_if_dropped(model, read_ahead);
    for effect in effects {
        perform(model, effect);
    }
}

pub(crate) fn perform(model: Model, effect: StateEffect) {
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

/// A connection state heard on the ordered channel: always the newest.
fn heard_connection(model: Model, online: bool) {
    model.connection.update_value(|c| c.heard(online));
    show_connection(model);
}

/// Shows the connection state the rule holds (`model.online` is only ever its copy).
fn show_connection(model: Model) {
    let online = model.connection.with_value(ConnectionShown::online);
    model.online.set(online);
    if online {
        model.offline_since.set(None);
    } else if model.offline_since.get_untracked().is_none() {
        model.offline_since.set(Some(ipc::now_ms()));
        model.tick_after(logic::OFFLINE_BANNER_DELAY_MS);
    }
}

pub(crate) async fn open_chat(model: Model, chat_id: ChatId) {
    start_open(model, chat_id, None).await;
}

/// Asks the core for the selected chat's window now — the request leaves before the UI
/// re-renders for the click (issue 11's click → paint) — and returns the rest of the open, to
/// be spawned or awaited. `ahead`: the chat's newest window read ahead of the click, shown now
/// ([`open::show_prefetched`]); the open then only marks the chat open in the core, its window
/// not even decoded: the rows shown, with every event since applied to them, are already the
/// cache's (any event of the chat between the read and the click dropped the read).
pub(crate) fn start_open(
    model: Model,
    chat_id: ChatId,
    ahead: Option<roost_model::app::ChatWindowView>,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()>>> {
    let mut request = 0;
    held::update(model, model.state, |state| {
        request = state.window_requested();
    });
    // Opening resets the count in the core: read it from the chat list first.
    let unread = model.state.with_untracked(|s| {
        s.chats
            .iter()
            .find(|c| c.chat_id == chat_id)
            .map_or(0, |c| c.unread_count)
    });
    let shown_ahead = ahead.is_some_and(|window| open::show_prefetched(model, chat_id, window));
    mark("roost-open-invoke");
    if shown_ahead {
        let marked_open = ipc::open_chat_without_window(chat_id, Anchor::Newest);
        return Box::pin(async move {
            match marked_open.await {
                Ok(()) => open::confirm_shown_window(model, chat_id, request).await,
                Err(e) => show_error(model, &e),
            }
        });
    }
    let reply = ipc::open_chat(chat_id, Anchor::Newest);
    // The click's changes, held while nothing was read ahead, are shown with the reply.
    let held = model.held_click.get_value();
    Box::pin(async move {
        let reply = reply.await;
        held::release(model, held);
        match reply {
            Ok(window) => window_arrived(model, chat_id, request, unread, window).await,
            Err(e) => show_error(model, &e),
        }
    })
}

/// The selected chat's window arrived: it becomes the open chat, scrolled to its first unread
/// message or to the bottom.
async fn window_arrived(
    model: Model,
    chat_id: ChatId,
    request: u64,
    unread: u64,
    window: roost_model::app::ChatWindowView,
) {
    mark("roost-open-reply");
    let taken = take_window(model, chat_id, request, window);
    mark("roost-open-applied");
    if !taken {
        return;
    }
    let already_marked = model
        .state
        .with_untracked(|s| s.open.as_ref().is_some_and(|o| o.first_unread.is_some()));
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
        None => show_newest(model, last_seq),
    }
    become_interactive(model, chat_id).await;
}

/// Interactive once the rows are painted (the frame after the one that scrolls); then the
/// cache map.
pub(crate) async fn become_interactive(model: Model, chat_id: ChatId) {
    request_animation_frame(move || {
        request_animation_frame(move || {
            if model.open_chat_id() == Some(chat_id) {
                model.interactive.set(true);
            }
        })
    });
    refresh_cache_map(model, chat_id).await;
    open::read_ahead_when_idle(model);
}

/// Cached pages read before the window to reach the first unread message (beyond that, the
/// chat opens at the bottom).
pub(crate) const MAX_UNREAD_PAGES: usize = 5;
pub(crate) const UNREAD_PAGE: u32 = 1000;

/// The first unread message of the open chat `chat_id`, reading earlier cached pages into it
/// (through the reducer) when the unread messages reach further back than the first window.
pub(crate) async fn reach_first_unread(model: Model, chat_id: ChatId, unread: u64) -> Option<Seq> {
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

pub(crate) fn focus_selector(selector: &'static str) {
    request_animation_frame(move || {
        if let Some(el) = document().query_selector(selector).ok().flatten()
            && let Ok(el) = wasm_bindgen::JsCast::dyn_into::<web_sys::HtmlElement>(el)
        {
            let _ = el.focus();
        }
    });
}

pub(crate) fn close_dialog(model: Model) {
    model.dialog.set(None);
    if model.selected().is_some() {
        focus_selector("[data-testid=composer]");
    } else {
        focus_selector("[data-testid=chat-list]");
    }
}

/// Global keyboard shortcuts (`shortcuts::action_for`).
pub(crate) fn on_global_key(model: Model, ev: &web_sys::KeyboardEvent) {
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

pub(crate) fn select_chat(model: Model, chat_id: ChatId) {
    // A click while another's staged rows are still on screen starts from the live list.
    if model.rows_held.get_untracked() {
        staged::unstage(model);
    }
    let staged = staged::ready(model, chat_id);
    let mut ahead = None;
    model
        .state
        .update_untracked(|state| ahead = state.take_prefetched(chat_id));
    if staged && ahead.is_some() {
        // Before the selection changes the state: the live list stays as it is this frame.
        staged::show(model);
    } else {
        staged::drop_if_stale(model);
    }
    // Nothing read ahead: what the click changes on screen waits for its window (or about a
    // frame), so the page is idle when the window comes and renders one frame with all of it.
    // Not for the session's first open: the chat view it mounts is what a caller then focuses
    // (the quick switcher, the composer) in the next frame.
    let held = (ahead.is_none()
        && model.selected() != Some(chat_id)
        && model.scroller.get_untracked().is_some())
    .then(|| held::hold(model));
    let Some(switch) = switch_selection(model, chat_id) else {
        staged::unstage(model);
        if let Some(held) = held {
            held::release(model, held);
        }
        return;
    };
    reset_chat_view(model);
    // The open (which marks the chat open in the core) runs either way; with a window read
    // ahead of the click its rows are shown at once.
    let open = start_open(model, chat_id, ahead);
    switch.close_left();
    spawn_local(open);
}

/// The selected chat's window replaced the previous chat's rows (kept on screen until now):
/// what the view knew of their position and map goes with them.
fn forget_previous_chat(model: Model) {
    model.scroll_top.set(0.0);
    model.seen_seq.set(0);
    model.cache_map.set(None);
}

/// Gives the state the window answered to `request`; whether it was taken (a later request or
/// another selection makes it stale). A window of another chat than the one on screen replaces
/// the previous chat's rows: their position and map go too ([`forget_previous_chat`]).
pub(crate) fn take_window(
    model: Model,
    chat_id: ChatId,
    request: u64,
    window: roost_model::app::ChatWindowView,
) -> bool {
    let switched = model.open_chat_id() != Some(chat_id);
    let mut taken = false;
    model
        .state
        .update(|state| taken = state.window_opened(chat_id, request, window));
    if taken && switched {
        forget_previous_chat(model);
    }
    taken
}

/// Forgets what the view knew of the previous chat (readiness, a running Resync, an edit in
/// progress) as another is selected; its rows, their position and its cache map stay until the
/// new window arrives ([`forget_previous_chat`]).
pub(crate) fn reset_chat_view(model: Model) {
    held::update(model, model.interactive, |interactive| *interactive = false);
    held::update(model, model.resync_busy, |busy| *busy = false);
    held::update(model, model.editing, |editing| *editing = None);
}

/// Scrolled into a skeleton or the top of the cached rows: ask for exactly that history.
pub(crate) fn load_what_is_in_view(model: Model, range: (usize, usize)) {
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
        // The reply may arrive after newer connection events: taken only if none came since.
        let asked = model.connection.with_value(ConnectionShown::ask);
        match ipc::app_status().await {
            Ok(status) => {
                mark("roost-status-reply");
                let signed_in = status.signed_in;
                if signed_in
                    && model
                        .connection
                        .try_update_value(|c| c.answered(asked, status.online))
                        .unwrap_or(false)
                {
                    show_connection(model);
                }
                model.status.set(Some(status));
                accounts::refresh_accounts(model);
                if signed_in {
                    reload_chats(model).await;
                }
                remove_first_paint();
            }
            Err(e) => {
                remove_first_paint();
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

    // Only signing in or out (or "Add account") swaps the screen; other status changes must
    // not rebuild it.
    let signed_in = Memo::new(move |_| {
        model
            .status
            .get()
            .map(|s| s.signed_in && !model.adding_account.get())
    });
    view! {
        {move || match signed_in.get() {
            None => view! { <div class="boot" aria-busy="true"></div> }.into_any(),
            Some(false) => view! { <SignInScreen /> }.into_any(),
            Some(true) => view! { <MainScreen /> }.into_any(),
        }}
    }
}
