//! Presentational components: they show what they are given and report user intent through
//! callbacks. No IPC here (that is `ipc.rs`, wired in `app.rs`), so every component renders to
//! HTML in a native `cargo test`.
//!
//! Message text is always a text node (`{text}`), never `inner_html`: markup in a message is
//! shown as typed.

use crate::logic::{self, MapSegment, Row};
use leptos::prelude::*;
use roost_model::app::{
    CacheMapView, ChatEntry, FullReloadInfo, OfflineCoverage, OutboxItem, OutboxState, WindowItem,
};
use roost_proto::{ChatId, Message, UserId};

/// `HH:MM` of a timestamp, local time in the app (UTC when rendered natively).
pub fn format_time(unix_ms: i64) -> String {
    #[cfg(target_arch = "wasm32")]
    {
        let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(unix_ms as f64));
        format!("{:02}:{:02}", date.get_hours(), date.get_minutes())
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        let minutes = unix_ms.div_euclid(60_000);
        format!(
            "{:02}:{:02}",
            minutes.div_euclid(60).rem_euclid(24),
            minutes.rem_euclid(60)
        )
    }
}

/// Wall-clock now in Unix milliseconds.
pub fn now_unix_ms() -> i64 {
    #[cfg(target_arch = "wasm32")]
    {
        js_sys::Date::now() as i64
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64)
    }
}

/// The text a message shows (its `text`, or the JSON of another payload).
pub fn message_text(message: &Message) -> String {
    match message.text() {
        Some(text) => text.to_string(),
        None if message.body.is_null() => String::new(),
        None => message.body.to_string(),
    }
}

/// Provided (with `leptos::context::Provider`) over the rows staged hidden ahead of a click
/// (`chat_view::ReadAheadRows`): their test ids are prefixed `ahead-`, so that what a test finds
/// as the page's rows (`message`, `message-text`, `skeleton`, …) is the live list's only.
#[derive(Debug, Clone, Copy)]
pub struct StagedAhead;

/// A timeline row's test id: `name`, or `ahead-{name}` for rows staged ahead ([`StagedAhead`]).
pub fn row_testid(name: &'static str) -> String {
    if use_context::<StagedAhead>().is_some() {
        format!("ahead-{name}")
    } else {
        name.to_string()
    }
}

/// One cached message: author, time, text; tombstones and edits marked as such.
#[component]
pub fn MessageRow(
    message: Message,
    #[prop(optional)] mine: bool,
    /// Continues its author's group (`timeline`): the name is for screen readers only and the
    /// time shows on hover.
    #[prop(optional)]
    grouped: bool,
    #[prop(default = None)] on_edit: Option<Callback<Message>>,
    #[prop(default = None)] on_delete: Option<Callback<Message>>,
) -> impl IntoView {
    let deleted = message.is_deleted();
    let edited = message.edited_at.is_some() && !deleted;
    let text = message_text(&message);
    let seq = message.seq.to_string();
    let author = message.author.to_string();
    let time = format_time(message.created_at);
    let actions = (mine && !deleted).then(|| {
        let for_edit = message.clone();
        let for_delete = message.clone();
        view! {
            <span class="actions">
                <button class="link" aria-label="Edit this message" data-testid=row_testid("edit-message")
                    on:click=move |_| if let Some(cb) = on_edit { cb.run(for_edit.clone()) }>"Edit"</button>
                <button class="link" aria-label="Delete this message" data-testid=row_testid("delete-message")
                    on:click=move |_| if let Some(cb) = on_delete { cb.run(for_delete.clone()) }>"Delete"</button>
            </span>
        }
    });
    view! {
        <div class="row message" class:mine=mine class:deleted=deleted class:grouped=grouped data-testid=row_testid("message") data-seq=seq
            data-grouped=grouped.to_string()>
            <div class="meta">
                <span class="author">{author}</span>
                <span class="time">{time}</span>
                {edited.then(|| view! { <span class="badge edited" data-testid=row_testid("edited")>"edited"</span> })}
                {actions}
            </div>
            {if deleted {
                view! { <div class="text tombstone" data-testid=row_testid("deleted")>"Message deleted"</div> }.into_any()
            } else {
                // No `title`: a tooltip repeating the whole text is noise.
                view! { <div class="text" data-testid=row_testid("message-text")>{text}</div> }.into_any()
            }}
        </div>
    }
}

/// A skeleton placeholder: stands exactly where messages are missing.
#[component]
pub fn SkeletonRow(item: WindowItem) -> impl IntoView {
    let (from, to) = item.seq_span();
    let kind = if matches!(item, WindowItem::OlderHistory { .. }) {
        "older-history"
    } else {
        "gap"
    };
    let label = if kind == "older-history" {
        "Older messages".to_string()
    } else {
        logic::missing_label(from, to)
    };
    let aria_label = label.clone();
    view! {
        <div class="row skeleton" data-testid=row_testid("skeleton") data-kind=kind data-from=from.to_string() data-to=to.to_string()
            aria-busy="true" aria-label=aria_label>
            <div class="bar short"></div>
            <div class="bar long"></div>
            <span class="skeleton-label">{label}</span>
        </div>
    }
}

/// An unsent message: pending (queued or sending) or failed (with Retry).
#[component]
pub fn PendingRow(
    item: OutboxItem,
    #[prop(default = None)] on_retry: Option<Callback<String>>,
) -> impl IntoView {
    let failed = item.status == OutboxState::Failed;
    let status = match item.status {
        OutboxState::Pending => "Waiting to send",
        OutboxState::Sending => "Sending…",
        OutboxState::Failed => "Not sent",
        OutboxState::Delivered => "Sent",
    };
    let local_id = item.local_id.clone();
    let error = item.last_error.clone().unwrap_or_default();
    view! {
        <div class="row message mine pending" class:failed=failed data-testid=row_testid("pending-message") data-state=item.status.as_str()>
            <div class="meta">
                <span class="author">"You"</span>
                <span class="badge status" title=error>{status}</span>
                {failed.then(|| view! {
                    <button class="link" data-testid=row_testid("retry-send")
                        on:click=move |_| if let Some(cb) = on_retry { cb.run(local_id.clone()) }>"Retry"</button>
                })}
            </div>
            <div class="text">{item.text.clone()}</div>
        </div>
    }
}

/// One row of the list, whatever it is.
#[component]
pub fn RowView(
    row: Row,
    #[prop(optional)] grouped: bool,
    #[prop(default = None)] me: Option<UserId>,
    #[prop(default = None)] on_edit: Option<Callback<Message>>,
    #[prop(default = None)] on_delete: Option<Callback<Message>>,
    #[prop(default = None)] on_retry: Option<Callback<String>>,
) -> impl IntoView {
    match row {
        Row::Item(WindowItem::Message { message }) => {
            let mine = me.as_ref() == Some(&message.author);
            view! { <MessageRow message mine grouped on_edit on_delete /> }.into_any()
        }
        Row::Item(item) => view! { <SkeletonRow item /> }.into_any(),
        Row::Pending(item) => view! { <PendingRow item on_retry /> }.into_any(),
    }
}

/// The per-chat Resync button; present in the DOM only when `visible`.
#[component]
pub fn ResyncButton(
    #[prop(into)] visible: Signal<bool>,
    #[prop(into)] busy: Signal<bool>,
    on_click: Callback<()>,
) -> impl IntoView {
    view! {
        <Show when=move || visible.get()>
            <button class="resync" data-testid="resync-button" disabled=move || busy.get()
                title="Fetch only the missing messages of this chat"
                on:click=move |_| on_click.run(())>
                {move || if busy.get() { "Resyncing…" } else { "Resync" }}
            </button>
        </Show>
    }
}

/// A note in the open chat when it had to be fully reloaded (why, and when), so a person knows
/// why its whole history was fetched again (issue 9; SPEC rule 6's logged exception).
#[component]
pub fn FullReloadNote(#[prop(into)] note: Signal<Option<FullReloadInfo>>) -> impl IntoView {
    view! {
        {move || note.get().map(|note| view! {
            <p class="full-reload-note" data-testid="full-reload-note" role="note">
                {roost_model::human::full_reload_sentence(&note.reason)}
                " "
                <span class="when">{format!("(at {})", format_time(note.at))}</span>
            </p>
        })}
    }
}

/// Shown only while missing messages are being fetched (and after the anti-flicker delay).
#[component]
pub fn SyncIndicator(#[prop(into)] visible: Signal<bool>) -> impl IntoView {
    view! {
        <Show when=move || visible.get()>
            <span class="sync-indicator" data-testid="sync-indicator" role="status">
                <span class="spinner" aria-hidden="true"></span>
                "Fetching missing messages…"
            </span>
        </Show>
    }
}

#[component]
pub fn ConnectionBanner(#[prop(into)] offline: Signal<bool>) -> impl IntoView {
    view! {
        <Show when=move || offline.get()>
            <div class="banner offline" data-testid="connection-banner" role="alert">
                "Offline — showing messages cached on this device. Messages you send are queued."
            </div>
        </Show>
    }
}

/// The cache map strip: cached runs and gaps over `1 ..= last_seq`.
#[component]
pub fn CacheMapStrip(#[prop(into)] map: Signal<Option<CacheMapView>>) -> impl IntoView {
    let segments = move || {
        map.get()
            .map(|m| logic::cache_map_segments(&m))
            .unwrap_or_default()
    };
    let summary = move || {
        map.get()
            .map(|m| {
                format!(
                    "{} of {} messages available offline",
                    m.cached_count, m.last_seq
                )
            })
            .unwrap_or_default()
    };
    view! {
        <div class="cache-map" data-testid="cache-map" title=summary aria-label=summary>
            {move || segments().into_iter().map(|s: MapSegment| {
                let kind = if s.cached { "cached" } else { "missing" };
                let title = format!("{} {}–{}", kind, s.from, s.to);
                view! {
                    <span class=format!("segment {kind}") data-from=s.from.to_string() data-to=s.to.to_string() title=title
                        style:left=format!("{:.3}%", s.left_pct) style:width=format!("{:.3}%", s.width_pct)></span>
                }
            }).collect_view()}
        </div>
    }
}

fn offline_badge(coverage: OfflineCoverage) -> Option<(&'static str, &'static str)> {
    match coverage {
        OfflineCoverage::Complete => Some(("offline-complete", "cached")),
        OfflineCoverage::Partial => Some(("offline-partial", "partly cached")),
        OfflineCoverage::Empty => None,
    }
}

/// One chat in the list: title, unread count, last message, offline badge.
#[component]
pub fn ChatListItem(
    /// Keyed by chat id in the list: the row stays the same DOM node (keeping keyboard focus)
    /// while its content follows the chat.
    #[prop(into)]
    chat: Signal<ChatEntry>,
    #[prop(into)] selected: Signal<bool>,
    on_select: Callback<ChatId>,
    /// The primary button went down on it (its click follows on release): a chance to read
    /// ahead.
    #[prop(optional)]
    on_press: Option<Callback<ChatId>>,
) -> impl IntoView {
    let chat_id = chat.with_untracked(|c| c.chat_id);
    let unread = move || chat.with(|c| c.unread_count);
    let title = move || chat.with(|c| c.title.clone());
    let preview = move || chat.with(|c| c.last_message_preview.clone().unwrap_or_default());
    let time = move || {
        chat.with(|c| {
            c.last_message_at
                .map(|at| crate::timeline::chat_list_time(at, now_unix_ms()))
                .unwrap_or_default()
        })
    };
    let badge =
        move || {
            offline_badge(chat.with(|c| c.offline)).map(|(class, label)| view! {
            <span class=format!("badge {class}") data-testid="offline-badge"
                title="How much of this chat is readable without a connection">{label}</span>
        })
        };
    let left_badge = move || {
        chat.with(|c| c.left).then(|| view! {
            <span class="badge left" data-testid="left-badge"
                title="You are no longer a member: read-only, with what was cached">"Left"</span>
        })
    };
    let unread_badge = move || {
        let unread = unread();
        (unread > 0).then(|| view! {
            <span class="badge unread" data-testid="unread-badge" aria-label=format!("{unread} unread")>{unread.to_string()}</span>
        })
    };
    view! {
        <button class="chat-item" class:selected=move || selected.get() class:unread={move || unread() > 0}
            class:left=move || chat.with(|c| c.left)
            role="option" aria-selected=move || selected.get().to_string()
            data-testid="chat-item" data-chat-id=chat_id.to_string() data-chat-title=title
            tabindex=move || if selected.get() { "0" } else { "-1" }
            on:pointerdown=move |ev| if ev.button() == 0 && let Some(cb) = on_press { cb.run(chat_id) }
            on:click=move |_| on_select.run(chat_id)>
            <span class="line">
                <span class="title">{title}</span>
                <span class="time">{time}</span>
            </span>
            <span class="line">
                <span class="preview" data-testid="chat-preview">{preview}</span>
                {left_badge}
                {badge}
                {unread_badge}
            </span>
        </button>
    }
}

#[component]
pub fn SignInForm(
    #[prop(into)] initial_server: String,
    #[prop(into)] error: Signal<Option<String>>,
    #[prop(into)] busy: Signal<bool>,
    on_submit: Callback<(String, String)>,
) -> impl IntoView {
    let server = RwSignal::new(initial_server);
    let token = RwSignal::new(String::new());
    view! {
        <form class="sign-in" data-testid="sign-in"
            on:submit=move |ev| {
                ev.prevent_default();
                on_submit.run((server.get_untracked(), token.get_untracked()));
            }>
            <h1>"Roost"</h1>
            <p class="hint">"Sign in to your Roost server. Messages are cached on this device and stay readable offline."</p>
            <label>"Server URL"
                <input type="url" required=true data-testid="signin-server" placeholder="http://127.0.0.1:7878"
                    prop:value=move || server.get() on:input=move |ev| server.set(event_target_value(&ev)) />
            </label>
            <label>"Token"
                <input type="password" required=true data-testid="signin-token" autocomplete="off"
                    prop:value=move || token.get() on:input=move |ev| token.set(event_target_value(&ev)) />
            </label>
            {move || error.get().map(|e| view! { <p class="error" role="alert" data-testid="signin-error">{e}</p> })}
            <button type="submit" data-testid="signin-submit" disabled=move || busy.get()>
                {move || if busy.get() { "Signing in…" } else { "Sign in" }}
            </button>
        </form>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use roost_model::app::{SeqRange, SyncState};
    use roost_proto::ChatId;

    #[test]
    fn a_full_reload_note_says_why_and_when_and_is_absent_otherwise() {
        let none = view! { <FullReloadNote note=Signal::derive(|| None) /> }.to_html();
        assert!(!none.contains("full-reload-note"), "{none}");
        for (reason, says) in [
            (
                "server_cannot_serve_ranges",
                "could not send just the missing parts",
            ),
            (
                "cache_corrupt: undecodable cached messages",
                "copy on this device was damaged",
            ),
        ] {
            let info = FullReloadInfo {
                reason: reason.to_string(),
                at: 13 * 3_600_000 + 7 * 60_000,
            };
            let html = view! { <FullReloadNote note=Signal::derive(move || Some(info.clone())) /> }
                .to_html();
            assert!(html.contains("data-testid=\"full-reload-note\""), "{html}");
            assert!(html.contains(says), "{reason}: {html}");
            assert!(html.contains("(at 13:07)"), "when: {html}");
            assert!(
                !html.contains(reason),
                "a sentence, not the machine reason: {html}"
            );
        }
    }

    fn message(seq: u64, text: &str) -> Message {
        Message {
            body: serde_json::json!({ "text": text }),
            ..roost_model::fixtures::message(roost_model::fixtures::chat_id(0), seq)
        }
    }
    fn item(seq: u64) -> WindowItem {
        roost_model::fixtures::message_item(seq)
    }

    /// The rows the chat view renders for `items` (through the timeline).
    fn render_rows(items: Vec<WindowItem>) -> String {
        crate::testing::render_items(&items, 0)
    }

    /// Rendered rows in document order: "m<seq>" for messages, "gap a-b" / "older ..b" for
    /// skeletons.
    fn rendered_shape(html: &str) -> Vec<String> {
        crate::testing::shown_rows(html)
    }

    #[test]
    fn no_skeleton_when_history_is_complete() {
        let html = render_rows((1..=4).map(item).collect());
        assert_eq!(rendered_shape(&html), ["m1", "m2", "m3", "m4"]);
        assert!(!html.contains("skeleton"));
    }

    #[test]
    fn skeleton_at_an_interior_gap_only() {
        let items = vec![
            item(1),
            item(2),
            WindowItem::Gap { from: 3, to: 7 },
            item(8),
        ];
        assert_eq!(
            rendered_shape(&render_rows(items)),
            ["m1", "m2", "gap 3-7", "m8"]
        );
    }

    #[test]
    fn skeleton_at_several_gaps_including_single_seq_gaps() {
        let items = vec![
            item(1),
            WindowItem::Gap { from: 2, to: 2 },
            item(3),
            WindowItem::Gap { from: 4, to: 9 },
            item(10),
        ];
        assert_eq!(
            rendered_shape(&render_rows(items)),
            ["m1", "gap 2-2", "m3", "gap 4-9", "m10"]
        );
    }

    #[test]
    fn skeleton_for_a_trailing_gap_after_the_newest_cached_message() {
        let items = vec![item(1), item(2), WindowItem::Gap { from: 3, to: 12 }];
        assert_eq!(
            rendered_shape(&render_rows(items)),
            ["m1", "m2", "gap 3-12"]
        );
    }

    #[test]
    fn skeleton_for_older_history_above_the_oldest_cached_message() {
        let items = vec![WindowItem::OlderHistory { to: 40 }, item(41), item(42)];
        let html = render_rows(items);
        assert_eq!(rendered_shape(&html), ["older ..40", "m41", "m42"]);
        assert!(html.contains("data-kind=\"older-history\""));
    }

    #[test]
    fn older_history_and_gaps_together() {
        let items = vec![
            WindowItem::OlderHistory { to: 9 },
            item(10),
            WindowItem::Gap { from: 11, to: 19 },
            item(20),
            WindowItem::Gap { from: 21, to: 30 },
        ];
        assert_eq!(
            rendered_shape(&render_rows(items)),
            ["older ..9", "m10", "gap 11-19", "m20", "gap 21-30"]
        );
    }

    #[test]
    fn only_latest_message_cached_shows_older_history_and_the_message() {
        let items = vec![WindowItem::OlderHistory { to: 99 }, item(100)];
        assert_eq!(rendered_shape(&render_rows(items)), ["older ..99", "m100"]);
    }

    #[test]
    fn nothing_cached_is_one_older_history_skeleton_not_a_loading_screen() {
        let html = render_rows(vec![WindowItem::OlderHistory { to: 5 }]);
        assert_eq!(rendered_shape(&html), ["older ..5"]);
        assert!(!html.contains("loading"));
    }

    #[test]
    fn empty_chat_renders_no_skeleton() {
        let html = render_rows(Vec::new());
        assert!(rendered_shape(&html).is_empty());
    }

    #[test]
    fn markup_in_a_message_is_escaped_text() {
        let evil = "<img src=x onerror=alert(1)>";
        let html = view! { <MessageRow message=message(1, evil) /> }.to_html();
        assert!(!html.contains("<img"), "{html}");
        assert!(
            html.contains("&lt;img src=x onerror=alert(1)&gt;"),
            "{html}"
        );
        let chat = ChatEntry {
            unread_count: 1,
            last_message_preview: Some(evil.into()),
            last_message_at: Some(0),
            last_seq: 1,
            cached_count: 1,
            offline: OfflineCoverage::Complete,
            sync_state: SyncState::InSync,
            ..roost_model::fixtures::chat_entry(roost_model::fixtures::chat_id(0), "<b>bold</b>")
        };
        let html = view! { <ChatListItem chat selected=false on_select=Callback::new(|_| {}) /> }
            .to_html();
        assert!(!html.contains("<img") && !html.contains("<b>"), "{html}");
        assert!(html.contains("&lt;b&gt;bold&lt;/b&gt;"));
    }

    #[test]
    fn edited_and_deleted_messages_are_marked() {
        let mut edited = message(1, "new text");
        edited.edited_at = Some(5);
        edited.version = 2;
        let html = view! { <MessageRow message=edited /> }.to_html();
        assert!(html.contains("data-testid=\"edited\"") && html.contains("new text"));
        let mut deleted = message(2, "");
        deleted.deleted_at = Some(9);
        deleted.body = serde_json::Value::Null;
        let html = view! { <MessageRow message=deleted mine=true /> }.to_html();
        assert!(html.contains("data-testid=\"deleted\"") && html.contains("Message deleted"));
        assert!(
            !html.contains("delete-message"),
            "a tombstone offers no actions"
        );
    }

    #[test]
    fn resync_button_renders_only_when_visible() {
        let hidden =
            view! { <ResyncButton visible=false busy=false on_click=Callback::new(|_| {}) /> }
                .to_html();
        assert!(!hidden.contains("resync-button"));
        let shown =
            view! { <ResyncButton visible=true busy=false on_click=Callback::new(|_| {}) /> }
                .to_html();
        assert!(shown.contains("data-testid=\"resync-button\"") && shown.contains("Resync"));
        // Wired to the readiness rule: a skeleton-only first render never shows it.
        let readiness = logic::ViewReadiness {
            window_loaded: true,
            container_mounted: true,
            interactive: true,
            message_rows: logic::message_rows(&[WindowItem::OlderHistory { to: 9 }]),
            chat_empty: false,
        };
        let visible = logic::resync_visible(readiness);
        let html =
            view! { <ResyncButton visible busy=false on_click=Callback::new(|_| {}) /> }.to_html();
        assert!(!visible && !html.contains("resync-button"));
    }

    #[test]
    fn sync_indicator_renders_only_during_a_fetch_past_the_delay() {
        let mut tracker = logic::FetchTracker::default();
        let render = |visible: bool| view! { <SyncIndicator visible /> }.to_html();
        assert!(
            !render(tracker.indicator_visible(0.0)).contains("sync-indicator"),
            "idle"
        );
        tracker.started(0.0);
        assert!(
            !render(tracker.indicator_visible(50.0)).contains("sync-indicator"),
            "fast fetch: no flicker"
        );
        assert!(
            render(tracker.indicator_visible(200.0)).contains("sync-indicator"),
            "slow fetch"
        );
        tracker.finished();
        let after = render(tracker.indicator_visible(400.0));
        assert!(
            !after.contains("sync-indicator") && !after.to_lowercase().contains("synced"),
            "no success state"
        );
    }

    #[test]
    fn pending_and_failed_outbox_rows() {
        let item = OutboxItem {
            local_id: "l1".into(),
            chat_id: ChatId(uuid::Uuid::nil()),
            text: "hello".into(),
            status: OutboxState::Failed,
            last_error: Some("too large".into()),
            created_at: 0,
        };
        let html = view! { <PendingRow item=item.clone() /> }.to_html();
        assert!(html.contains("Not sent") && html.contains("retry-send"));
        let html =
            view! { <PendingRow item=OutboxItem { status: OutboxState::Pending, ..item } /> }
                .to_html();
        assert!(html.contains("Waiting to send") && !html.contains("retry-send"));
    }

    #[test]
    fn cache_map_strip_draws_runs_and_gaps() {
        let map = CacheMapView {
            chat_id: ChatId(uuid::Uuid::nil()),
            last_seq: 10,
            cached: vec![SeqRange::new(1, 4), SeqRange::new(8, 10)],
            missing: vec![SeqRange::new(5, 7)],
            cached_count: 7,
        };
        let html = view! { <CacheMapStrip map=Some(map) /> }.to_html();
        assert_eq!(html.matches("segment cached").count(), 2);
        assert_eq!(html.matches("segment missing").count(), 1);
        assert!(html.contains("7 of 10 messages available offline"));
    }

    #[test]
    fn chat_list_item_shows_unread_preview_and_offline_badge() {
        let chat = ChatEntry {
            unread_count: 3,
            last_message_preview: Some("see you".into()),
            last_seq: 10,
            cached_count: 4,
            offline: OfflineCoverage::Partial,
            sync_state: SyncState::OutOfSync,
            ..roost_model::fixtures::chat_entry(roost_model::fixtures::chat_id(0), "General")
        };
        let html =
            view! { <ChatListItem chat selected=true on_select=Callback::new(|_| {}) /> }.to_html();
        assert!(html.contains("data-testid=\"unread-badge\"") && html.contains(">3<"));
        assert!(html.contains("see you") && html.contains("partly cached"));
    }

    #[test]
    fn connection_banner_only_when_offline() {
        assert!(
            view! { <ConnectionBanner offline=true /> }
                .to_html()
                .contains("connection-banner")
        );
        assert!(
            !view! { <ConnectionBanner offline=false /> }
                .to_html()
                .contains("connection-banner")
        );
    }
}
