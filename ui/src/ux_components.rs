//! Components of the chat experience around the message rows: the timeline (rows with day
//! separators, the "New messages" divider and author groups, virtualised), the jump-to-latest
//! button, the quick switcher (Ctrl+K), the keyboard shortcuts sheet and the theme picker.
//! Presentational like `components`: they show what they are given and report intent through
//! callbacks, so each renders to HTML in a native test.

use crate::components::RowView;
use crate::shortcuts;
use crate::switcher;
use crate::theme::Theme;
use crate::timeline::{self, Entry, Timeline};
use leptos::html;
use leptos::prelude::*;
use roost_model::app::ChatEntry;
use roost_proto::{ChatId, Message, UserId};

/// The entries of `timeline` in `range`, between two spacers standing for the ones not in the
/// DOM (entries leave the DOM, and their views are dropped, as they scroll out of range).
#[component]
pub fn TimelineRows(
    #[prop(into)] timeline: Signal<Timeline>,
    #[prop(into)] range: Signal<(usize, usize)>,
    /// Today's local day number (for "Today"/"Yesterday").
    #[prop(into)]
    today: Signal<i64>,
    #[prop(into, optional)] me: Signal<Option<UserId>>,
    #[prop(default = None)] on_edit: Option<Callback<Message>>,
    #[prop(default = None)] on_delete: Option<Callback<Message>>,
    #[prop(default = None)] on_retry: Option<Callback<String>>,
) -> impl IntoView {
    let visible = move || {
        let (start, end) = range.get();
        timeline.with(|t| {
            let end = end.min(t.len());
            t.entries()[start.min(end)..end].to_vec()
        })
    };
    let spacers = move || {
        let range = range.get();
        timeline.with(|t| t.spacer_heights(range))
    };
    view! {
        <div class="spacer" aria-hidden="true" style:height=move || format!("{}px", spacers().0)></div>
        <For
            each=visible
            key=Entry::key
            children=move |entry| view! { <TimelineEntry entry today me=me.get_untracked() on_edit on_delete on_retry /> }
        />
        <div class="spacer" aria-hidden="true" style:height=move || format!("{}px", spacers().1)></div>
    }
}

/// One entry: a day separator, the unread divider, or a row.
#[component]
pub fn TimelineEntry(
    entry: Entry,
    #[prop(into)] today: Signal<i64>,
    #[prop(default = None)] me: Option<UserId>,
    #[prop(default = None)] on_edit: Option<Callback<Message>>,
    #[prop(default = None)] on_delete: Option<Callback<Message>>,
    #[prop(default = None)] on_retry: Option<Callback<String>>,
) -> impl IntoView {
    match entry {
        Entry::DaySeparator { day } => {
            let label = move || timeline::day_label(day, today.get());
            view! {
                <div class="day-separator" role="separator" data-testid=crate::components::row_testid("day-separator") data-day=day.to_string()
                    aria-label=label>
                    <span class="label">{label}</span>
                </div>
            }
            .into_any()
        }
        Entry::UnreadDivider => view! {
            <div class="unread-divider" role="separator" data-testid=crate::components::row_testid("unread-divider") aria-label="New messages">
                <span class="label">"New messages"</span>
            </div>
        }
        .into_any(),
        Entry::Row { row, grouped } => {
            view! { <RowView row grouped me on_edit on_delete on_retry /> }.into_any()
        }
    }
}

/// Shown while the newest message is out of view: scrolls there; carries the number of new
/// messages below what the user has seen.
#[component]
pub fn JumpToLatest(
    #[prop(into)] visible: Signal<bool>,
    #[prop(into)] new_below: Signal<u64>,
    on_click: Callback<()>,
) -> impl IntoView {
    let label = move || match new_below.get() {
        0 => "Jump to the latest message".to_string(),
        1 => "Jump to the latest message, 1 new message".to_string(),
        n => format!("Jump to the latest message, {n} new messages"),
    };
    view! {
        <Show when=move || visible.get()>
            <button type="button" class="jump-latest" data-testid="jump-to-latest" aria-label=label
                on:click=move |_| on_click.run(())>
                <span class="arrow" aria-hidden="true">"↓"</span>
                {move || {
                    let n = new_below.get();
                    (n > 0).then(|| view! {
                        <span class="badge unread" data-testid="jump-count" aria-hidden="true">{n.to_string()}</span>
                    })
                }}
            </button>
        </Show>
    }
}

/// The quick switcher: type part of a chat's name, ↑/↓ to choose, Enter to open, Esc to close.
#[component]
pub fn QuickSwitcher(
    #[prop(into)] chats: Signal<Vec<ChatEntry>>,
    on_choose: Callback<ChatId>,
    on_close: Callback<()>,
) -> impl IntoView {
    let query = RwSignal::new(String::new());
    let active = RwSignal::new(0usize);
    let results = Memo::new(move |_| query.with(|q| chats.with(|c| switcher::rank(c, q))));
    let input = NodeRef::<html::Input>::new();
    Effect::new(move |_| {
        if let Some(el) = input.get() {
            let _ = el.focus();
        }
    });
    let choose = move |index: usize| {
        if let Some(chat_id) = results.with_untracked(|r| r.get(index).map(|c| c.chat_id)) {
            on_choose.run(chat_id);
        }
    };
    let on_keydown = move |ev: web_sys::KeyboardEvent| {
        let key = ev.key();
        let len = results.with_untracked(Vec::len);
        if let Some(next) = switcher::move_selection(&key, active.get_untracked(), len) {
            ev.prevent_default();
            active.set(next);
        } else if key == "Enter" {
            ev.prevent_default();
            choose(active.get_untracked());
        } else if key == "Escape" {
            ev.prevent_default();
            on_close.run(());
        } else if key == "Tab" {
            // The dialog is modal with one field: focus stays in it.
            ev.prevent_default();
        }
    };
    let options = move || results.get().into_iter().enumerate().collect::<Vec<_>>();
    view! {
        <div class="overlay" data-testid="switcher-overlay" on:click=move |_| on_close.run(())>
            <div class="dialog switcher" role="dialog" aria-modal="true" aria-label="Jump to a chat"
                data-testid="quick-switcher" on:click=|ev| ev.stop_propagation()>
                <input node_ref=input type="text" role="combobox" aria-expanded="true" aria-controls="switcher-results"
                    aria-autocomplete="list" aria-label="Chat name" placeholder="Jump to a chat…" autocomplete="off"
                    spellcheck="false" data-testid="switcher-input"
                    aria-activedescendant=move || format!("switcher-option-{}", active.get())
                    prop:value=move || query.get()
                    on:input=move |ev| { query.set(event_target_value(&ev)); active.set(0); }
                    on:keydown=on_keydown />
                <ul id="switcher-results" class="switcher-results" role="listbox" aria-label="Matching chats">
                    <For each=options key=|(index, chat)| (*index, chat.chat_id)
                        children=move |(index, chat)| {
                            let is_active = move || active.get() == index;
                            let chat_id = chat.chat_id;
                            let unread = chat.unread_count;
                            view! {
                                <li id=format!("switcher-option-{index}") role="option" class="switcher-option"
                                    class:active=is_active aria-selected=move || is_active().to_string()
                                    data-testid="switcher-option" data-chat-title=chat.title.clone()
                                    on:click=move |_| on_choose.run(chat_id)
                                    on:mousemove=move |_| active.set(index)>
                                    <span class="title">{chat.title.clone()}</span>
                                    {(unread > 0).then(|| view! {
                                        <span class="badge unread" aria-label=format!("{unread} unread")>{unread.to_string()}</span>
                                    })}
                                </li>
                            }
                        } />
                </ul>
                {move || results.with(Vec::is_empty).then(|| view! {
                    <p class="hint" role="status" data-testid="switcher-empty">"No chat matches"</p>
                })}
            </div>
        </div>
    }
}

/// The keyboard shortcuts sheet (`?` or Ctrl+/).
#[component]
pub fn ShortcutSheet(on_close: Callback<()>) -> impl IntoView {
    let close = NodeRef::<html::Button>::new();
    Effect::new(move |_| {
        if let Some(el) = close.get() {
            let _ = el.focus();
        }
    });
    let sections = shortcuts::SHEET
        .iter()
        .map(|(section, rows)| {
            let rows = rows
                .iter()
                .map(|(keys, what)| view! { <dt><kbd>{*keys}</kbd></dt><dd>{*what}</dd> })
                .collect_view();
            view! { <section><h3>{*section}</h3><dl>{rows}</dl></section> }
        })
        .collect_view();
    view! {
        <div class="overlay" on:click=move |_| on_close.run(())>
            <div class="dialog shortcuts" role="dialog" aria-modal="true" aria-labelledby="shortcuts-title"
                data-testid="shortcut-sheet" on:click=|ev| ev.stop_propagation()>
                <header>
                    <h2 id="shortcuts-title">"Keyboard shortcuts"</h2>
                    <button type="button" class="link" node_ref=close data-testid="shortcuts-close"
                        aria-label="Close keyboard shortcuts" on:click=move |_| on_close.run(())>"Close"</button>
                </header>
                <div class="sections">{sections}</div>
            </div>
        </div>
    }
}

/// System / Light / Dark.
#[component]
pub fn ThemePicker(
    #[prop(into)] theme: Signal<Theme>,
    on_change: Callback<Theme>,
) -> impl IntoView {
    let options = Theme::ALL
        .into_iter()
        .map(|t| view! { <option value=t.as_str() selected=move || theme.get() == t>{t.label()}</option> })
        .collect_view();
    view! {
        <select class="theme-picker" data-testid="theme-select" aria-label="Colour theme" title="Colour theme"
            prop:value=move || theme.get().as_str()
            on:change=move |ev| on_change.run(Theme::parse(&event_target_value(&ev)))>
            {options}
        </select>
    }
}

#[cfg(test)]
mod tests;
