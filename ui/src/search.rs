//! Search, verify and clear in the UI (issue 12): the search box with its results and the
//! "not searched" note (with the button that fetches exactly those seqs and searches again), and
//! the chat's "Verify this chat" / "Clear cached history" tools with their result line, and the
//! storage setting (budget, clear the whole device).
//!
//! Presentational pieces (`SearchResults`, `not_searched_note`) are pure and rendered natively
//! in tests; the wired components call `ipc` only.

use crate::ipc;
use leptos::prelude::*;
use leptos::task::spawn_local;
use roost_model::app_cache::{BudgetView, NotSearchedView, SearchView};
use roost_proto::{ChatId, Seq};

/// "3,400 messages of General are not on this device (seqs 1–3,400)".
pub fn not_searched_note(missing: &NotSearchedView) -> String {
    let ranges: Vec<String> = missing
        .ranges
        .iter()
        .map(|r| {
            if r.start == r.end {
                r.start.to_string()
            } else {
                format!("{}–{}", r.start, r.end)
            }
        })
        .collect();
    format!(
        "Not searched: {} message{} of {} not on this device (seqs {})",
        missing.messages,
        if missing.messages == 1 { "" } else { "s" },
        missing.chat_title,
        ranges.join(", ")
    )
}

/// The hits (a click opens the chat around the hit) and, under them, what was not searched.
#[component]
pub fn SearchResults(
    #[prop(into)] results: Signal<Option<SearchView>>,
    #[prop(into)] busy: Signal<bool>,
    on_open: Callback<(ChatId, Seq)>,
    on_fetch_missing: Callback<()>,
) -> impl IntoView {
    move || {
        results.get().map(|view| {
            let count = view.hits.len();
            let summary = format!(
                "{count}{} result{}",
                if view.truncated { "+" } else { "" },
                if count == 1 { "" } else { "s" }
            );
            let hits = view
                .hits
                .into_iter()
                .map(|hit| {
                    let (chat_id, seq) = (hit.chat_id, hit.seq);
                    view! {
                        <li>
                            <button class="search-hit" data-testid="search-hit"
                                data-chat-id=chat_id.to_string() data-seq=seq.to_string()
                                on:click=move |_| on_open.run((chat_id, seq))>
                                <span class="hit-chat">{hit.chat_title}</span>
                                <span class="hit-author">{hit.author}</span>
                                <span class="hit-text">{hit.text}</span>
                            </button>
                        </li>
                    }
                })
                .collect_view();
            let missing = !view.not_searched.is_empty();
            let notes = view
                .not_searched
                .iter()
                .map(|m| view! { <p class="not-searched" data-testid="not-searched">{not_searched_note(m)}</p> })
                .collect_view();
            view! {
                <div class="search-results" data-testid="search-results">
                    <p class="search-summary" data-testid="search-summary">{summary}</p>
                    <ul class="search-hits">{hits}</ul>
                    {notes}
                    {missing.then(|| view! {
                        <button class="link" data-testid="search-fetch-missing"
                            disabled=move || busy.get()
                            on:click=move |_| on_fetch_missing.run(())>
                            {move || if busy.get() { "Fetching…" } else { "Fetch these messages and search again" }}
                        </button>
                    })}
                </div>
            }
        })
    }
}

/// The search box over all chats, or over the selected chat when "this chat only" is ticked.
#[component]
pub fn SearchPanel(
    #[prop(into)] selected: Signal<Option<ChatId>>,
    on_open: Callback<(ChatId, Seq)>,
    on_error: Callback<String>,
) -> impl IntoView {
    let query = RwSignal::new(String::new());
    let this_chat = RwSignal::new(false);
    let results = RwSignal::new(None::<SearchView>);
    let busy = RwSignal::new(false);
    let run = move || {
        let text = query.get_untracked();
        if text.trim().is_empty() {
            results.set(None);
            return;
        }
        let scope = if this_chat.get_untracked() {
            selected.get_untracked()
        } else {
            None
        };
        spawn_local(async move {
            match ipc::search(scope, &text).await {
                Ok(view) => results.set(Some(view)),
                Err(e) => on_error.run(e.message),
            }
        });
    };
    let fetch_missing = Callback::new(move |()| {
        let Some(missing) = results.with_untracked(|r| r.as_ref().map(|r| r.not_searched.clone()))
        else {
            return;
        };
        busy.set(true);
        spawn_local(async move {
            for chat in missing {
                if let Err(e) = ipc::fetch_ranges(chat.chat_id, &chat.ranges).await {
                    on_error.run(e.message);
                    break;
                }
            }
            busy.set(false);
            run();
        });
    });
    view! {
        <div class="search-panel" data-testid="search-panel">
            <form on:submit=move |ev| { ev.prevent_default(); run(); }>
                <input type="search" data-testid="search-input" placeholder="Search messages"
                    prop:value=move || query.get()
                    on:input=move |ev| query.set(event_target_value(&ev)) />
                <label class="search-scope">
                    <input type="checkbox" data-testid="search-this-chat"
                        prop:checked=move || this_chat.get()
                        on:change=move |ev| this_chat.set(event_target_checked(&ev)) />
                    "This chat only"
                </label>
            </form>
            <SearchResults results busy on_open on_fetch_missing=fetch_missing />
        </div>
    }
}

/// What [`ChatTools`] shows and tells, kept above the chat view (provided as context by the
/// main screen): the chat view is rebuilt on every change of the UI state, and a verify that
/// ends after such a rebuild must still show its outcome and have the chat read again (nothing
/// owned by the old view may be touched then). The outcome names its chat, so another chat
/// never shows it.
#[derive(Debug, Clone, Copy)]
pub struct ChatToolsState {
    outcome: RwSignal<Option<(ChatId, String)>>,
    busy: RwSignal<bool>,
    /// Set when a verify repaired or a clear removed cached messages of this chat (with a
    /// counter, so the same chat twice is two changes): the app reads the chat again.
    pub changed: RwSignal<Option<(ChatId, u64)>>,
}

impl ChatToolsState {
    pub fn new() -> Self {
        ChatToolsState {
            outcome: RwSignal::new(None),
            busy: RwSignal::new(false),
            changed: RwSignal::new(None),
        }
    }

    fn mark_changed(&self, chat: ChatId) {
        self.changed
            .update(|c| *c = Some((chat, c.map_or(0, |(_, n)| n + 1))));
    }
}

impl Default for ChatToolsState {
    fn default() -> Self {
        Self::new()
    }
}

/// "Verify this chat" and "Clear cached history" with the outcome of the last one.
#[component]
pub fn ChatTools(
    #[prop(into)] chat_id: Signal<Option<ChatId>>,
    /// False for a chat the user left: nothing to verify against (the server no longer serves
    /// it) and cleared history could never come back, so neither tool is offered.
    #[prop(into, default = Signal::from(true))]
    offered: Signal<bool>,
) -> impl IntoView {
    let tools = use_context::<ChatToolsState>().unwrap_or_default();
    let ChatToolsState { outcome, busy, .. } = tools;
    let verify = move |_| {
        let Some(chat) = chat_id.get_untracked() else {
            return;
        };
        busy.set(true);
        spawn_local(async move {
            let text = match ipc::verify_chat(chat).await {
                Ok(v) if v.repaired.is_empty() => format!(
                    "Verified {} cached messages: all match the server ({} bytes).",
                    v.messages_compared, v.bytes_received
                ),
                Ok(v) => {
                    tools.mark_changed(chat);
                    format!(
                        "Repaired {} message{} that differed from the server (refetched {}).",
                        v.repaired.len(),
                        if v.repaired.len() == 1 { "" } else { "s" },
                        v.messages_refetched
                    )
                }
                Err(e) => format!("Verify failed: {}", e.message),
            };
            outcome.set(Some((chat, text)));
            busy.set(false);
        });
    };
    let clear = move |_| {
        let Some(chat) = chat_id.get_untracked() else {
            return;
        };
        busy.set(true);
        spawn_local(async move {
            let text = match ipc::clear_cached_history(Some(chat)).await {
                Ok(c) => {
                    tools.mark_changed(chat);
                    format!("Cleared {} cached messages; the newest stay.", c.messages)
                }
                Err(e) => format!("Clear failed: {}", e.message),
            };
            outcome.set(Some((chat, text)));
            busy.set(false);
        });
    };
    view! {
        <div class="chat-tools" hidden=move || !offered.get()>
            <button class="resync" data-testid="verify-chat" disabled=move || busy.get() on:click=verify
                title="Compare this chat's cache with the server and repair what differs">"Verify this chat"</button>
            <button class="resync" data-testid="clear-chat-cache" disabled=move || busy.get() on:click=clear
                title="Remove this chat's older cached messages from this device">"Clear cached history"</button>
            {move || outcome.get().filter(|(c, _)| Some(*c) == chat_id.get()).map(|(_, t)| view! { <span class="tool-outcome" role="status" data-testid="chat-tool-outcome">{t}</span> })}
        </div>
    }
}

/// "12.5 MB" (decimal units, one decimal).
pub fn megabytes(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}

/// The storage setting: the cache's size against its budget, a new budget (MB, evicting the
/// oldest history of the least recently opened chats above it), and "Clear cached history" for
/// the whole device (every chat keeps its newest messages).
#[component]
pub fn StorageSettings() -> impl IntoView {
    let open = RwSignal::new(false);
    let status = RwSignal::new(None::<BudgetView>);
    let draft = RwSignal::new(String::new());
    let outcome = RwSignal::new(None::<String>);
    let load = move |budget: Option<u64>| {
        spawn_local(async move {
            match ipc::cache_budget(budget).await {
                Ok(view) => {
                    if budget.is_some() {
                        outcome.set(Some(format!(
                            "Budget set; {} messages evicted.",
                            view.evicted
                        )));
                    }
                    draft.set((view.budget_bytes / 1_000_000).to_string());
                    status.set(Some(view));
                }
                Err(e) => outcome.set(Some(e.message)),
            }
        });
    };
    let toggle = move |_| {
        let now_open = !open.get_untracked();
        open.set(now_open);
        if now_open {
            outcome.set(None);
            load(None);
        }
    };
    let set_budget = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        match draft.get_untracked().trim().parse::<u64>() {
            Ok(mb) if mb > 0 => load(Some(mb.saturating_mul(1_000_000))),
            _ => outcome.set(Some(
                "Enter the budget in MB (a whole number above 0).".into(),
            )),
        }
    };
    let clear_all = move |_| {
        spawn_local(async move {
            match ipc::clear_cached_history(None).await {
                Ok(c) => outcome.set(Some(format!(
                    "Cleared {} cached messages of {} chats; the newest of each stay.",
                    c.messages, c.chats
                ))),
                Err(e) => outcome.set(Some(e.message)),
            }
            load(None);
        });
    };
    view! {
        <button type="button" class="link" data-testid="show-storage" on:click=toggle>"Storage"</button>
        {move || open.get().then(|| view! {
            <div class="storage-settings" data-testid="storage-settings">
                <p data-testid="storage-usage">{move || status.get().map(|s| format!(
                    "Cache: {} of {} ({} messages)",
                    megabytes(s.used_bytes), megabytes(s.budget_bytes), s.cached_messages
                ))}</p>
                <form on:submit=set_budget>
                    <label>"Budget (MB) "
                        <input type="number" min="1" data-testid="storage-budget-input"
                            prop:value=move || draft.get()
                            on:input=move |ev| draft.set(event_target_value(&ev)) />
                    </label>
                    <button type="submit" data-testid="storage-budget-set">"Set"</button>
                </form>
                <button type="button" data-testid="clear-all-cache" on:click=clear_all>
                    "Clear cached history on this device"
                </button>
                {move || outcome.get().map(|t| view! { <p role="status" data-testid="storage-outcome">{t}</p> })}
            </div>
        })}
    }
}

/// Marks the row of `seq` as the chosen search hit, if it is rendered; returns whether it was.
pub fn highlight_seq(seq: Seq) -> bool {
    let document = document();
    if let Ok(Some(old)) = document.query_selector("[data-highlight]") {
        let _ = old.remove_attribute("data-highlight");
    }
    match document.query_selector(&format!(".message[data-seq=\"{seq}\"]")) {
        Ok(Some(row)) => row.set_attribute("data-highlight", "true").is_ok(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use roost_model::SeqRange;
    use roost_model::app_cache::SearchHitView;

    fn chat() -> ChatId {
        "7a1f0e52-3c4b-4c1e-9a3e-1d2b3c4d5e6f".parse().unwrap()
    }

    fn missing() -> NotSearchedView {
        NotSearchedView {
            chat_id: chat(),
            chat_title: "General".into(),
            ranges: vec![SeqRange::new(1, 3400), SeqRange::new(3500, 3500)],
            messages: 3401,
        }
    }

    #[test]
    fn megabytes_have_one_decimal() {
        assert_eq!(megabytes(1 << 30), "1073.7 MB");
        assert_eq!(megabytes(0), "0.0 MB");
    }

    #[test]
    fn the_note_names_the_chat_the_count_and_the_ranges() {
        assert_eq!(
            not_searched_note(&missing()),
            "Not searched: 3401 messages of General not on this device (seqs 1–3400, 3500)"
        );
    }

    #[test]
    fn results_show_hits_the_note_and_the_fetch_button_only_when_something_is_missing() {
        let hit = SearchHitView {
            chat_id: chat(),
            chat_title: "General".into(),
            seq: 42,
            message_id: "0b7c1e0a-9f5e-4d4b-8a41-6f0f4b2f5a10".parse().unwrap(),
            author: "bob".into(),
            created_at: 0,
            text: "<b>café</b>".into(),
        };
        let render = |not_searched: Vec<NotSearchedView>| {
            let results = Signal::stored(Some(SearchView {
                query: "cafe".into(),
                chat_id: None,
                hits: vec![hit.clone()],
                truncated: false,
                not_searched,
            }));
            let noop = Callback::new(|_: (ChatId, Seq)| {});
            let fetch = Callback::new(|()| {});
            view! { <SearchResults results busy=Signal::stored(false) on_open=noop on_fetch_missing=fetch /> }
                .to_html()
        };
        let html = render(vec![missing()]);
        assert!(html.contains("1 result<"), "{html}");
        assert!(html.contains("data-seq=\"42\""));
        assert!(
            html.contains("&lt;b&gt;café&lt;/b&gt;"),
            "text is a text node: {html}"
        );
        assert!(html.contains("data-testid=\"not-searched\""));
        assert!(html.contains("data-testid=\"search-fetch-missing\""));
        let html = render(Vec::new());
        assert!(!html.contains("not-searched") && !html.contains("search-fetch-missing"));
    }
}
