//! Model-based test of the screen: the UI's real state reducer (`roost_ui::state::UiState`, the
//! code `app.rs` runs) and its real components — the open chat's timeline as the chat view
//! builds it (`OpenChat::timeline`) through `TimelineRows` — rendered natively (Leptos ssr), driven by long
//! random sequences of what the shell sends, against a real core cache (`roost-core`'s store
//! and client on a SQLite file; events translated by the shell's own `app_view::ui_events`).
//!
//! Per sequence: three chats; random steps — messages arriving (with gaps), gaps filled, edits,
//! deletes, the server's position moving, fetches starting and finishing for open and unopened
//! chats, sends answered with a copy older than the cached one, switching chats (also
//! mid-fetch), the window reply racing the event channel (events before and after it), a chat
//! read ahead on pointerdown or, several at once, by an idle pass (`UiState::idle_read_ahead`;
//! those replies racing the events too) and shown at its click, lagging
//! (a prefix of events lost, then a reload), and model time passing.
//!
//! After every step at which the UI has received everything sent so far (every step, unless the
//! step left events or a window reply in flight — but for the open's reply of a chat shown from
//! its read-ahead: those rows must already be the cache's), it asserts:
//! * the rendered rows equal the cache's window over the rows' span: a message (its cached
//!   version) wherever one is cached, a skeleton exactly where none is, up to the chat's newest
//!   known seq;
//! * the sync indicator is rendered exactly while a fetch of the selected chat runs and has
//!   lasted the indicator delay (model time);
//! * the Resync button is rendered only when the view is ready (window loaded and messages
//!   shown, or the chat is empty);
//! * the open chat is the selected one (the previous chat's rows stay only while it opens);
//! * an event the app applies without a render (`UiState::changes_nothing_shown`) changed
//!   nothing but the chats' `is_open` (checked at every delivered event).
//!
//! Prints: `screen model: sequences=… steps=… checked=… (rows read ahead: …) mismatches=…`.

use leptos::prelude::*;
use roost_core::app_view::{self, ui_events};
use roost_core::store::{CursorRule, IngestOptions, Position, Store};
use roost_core::sync_state::SyncInput;
use roost_core::{
    Anchor, Client, ClientConfig, ClientEvent, OutboxEntry, OutboxState, RequestOrder,
};
use roost_model::app::{ChatWindowView, SyncState, UiEvent, WindowItem};
use roost_model::ranges::{SeqRange, span_items};
use roost_proto::{ChatId, Message, MessageId, Seq, UserId};
use roost_ui::components::{ResyncButton, SyncIndicator};
use roost_ui::logic::{self, INDICATOR_DELAY_MS};
use roost_ui::state::{Effect, UiState};
use roost_ui::testing::{self, Shown};
use std::collections::{HashMap, VecDeque};
use tokio::sync::broadcast;

const SEQUENCES: usize = 1000;
const STEPS: usize = 30;
const CHATS: usize = 3;
const WINDOW: u32 = 30;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

fn message(chat: ChatId, seq: Seq, version: u64, deleted: bool) -> Message {
    Message {
        id: MessageId(uuid::Uuid::from_u128(
            (chat.0.as_u128() & !0xFFFF_FFFF) | u128::from(seq),
        )),
        chat_id: chat,
        seq,
        version,
        author: UserId::new("bob"),
        created_at: seq as i64 * 60_000,
        edited_at: (version > 1).then_some(version as i64),
        deleted_at: deleted.then_some(version as i64),
        body: if deleted {
            serde_json::Value::Null
        } else {
            serde_json::json!({ "text": format!("s{seq}v{version}") })
        },
        rev: seq * 100 + version,
    }
}

#[derive(Debug, Default, Clone, Copy)]
struct Fetch {
    running: bool,
    /// When the UI learnt of it (delivery of FetchStarted, or a reload that found it running).
    known_since: Option<f64>,
}

#[derive(Debug, Default)]
struct Figures {
    sequences: usize,
    steps: usize,
    checked: usize,
    /// Of those, checks of rows shown from a read-ahead (the open's reply still in flight).
    checked_ahead: usize,
    mismatches: usize,
    first_failure: Option<String>,
}

struct World {
    store: Store,
    client: Client,
    client_events: broadcast::Receiver<ClientEvent>,
    ui: UiState,
    /// Sent by the shell, not yet received by the UI.
    queue: VecDeque<UiEvent>,
    /// Window replies in flight (the IPC answer races the event channel).
    replies: VecDeque<(ChatId, u64, ChatWindowView)>,
    /// Windows read ahead (on pointerdown or by an idle pass), in flight.
    ahead: VecDeque<(ChatId, u64, ChatWindowView)>,
    /// The open (chat, request) whose rows were shown from a read-ahead, its reply in flight.
    shown_ahead: Option<(ChatId, u64)>,
    chats: Vec<ChatId>,
    fetches: HashMap<ChatId, Fetch>,
    now: f64,
    rng: Rng,
    /// Opens and closes numbered so far.
    orders: u64,
}

impl World {
    async fn send(&mut self, event: ClientEvent) {
        let events = ui_events(&self.client, event).await;
        self.queue.extend(events);
    }

    /// What the client itself emitted (open/close), as the shell forwards it.
    async fn forward_client_events(&mut self) {
        while let Ok(event) = self.client_events.try_recv() {
            self.send(event).await;
        }
    }

    async fn record(&self, chat: ChatId) -> roost_core::ChatRecord {
        self.client.chat(chat).await.unwrap().unwrap()
    }

    async fn known_last(&self, chat: ChatId) -> Seq {
        match self.client.chat(chat).await.unwrap() {
            Some(r) => r.server_last_seq.max(r.local_max.unwrap_or(0)),
            None => 0,
        }
    }

    async fn ingest(&mut self, chat: ChatId, messages: Vec<Message>, last_seq: Seq) {
        let mut opts = IngestOptions::new(CursorRule::Keep);
        opts.position = Some(Position {
            last_seq,
            rev: last_seq * 100 + 99,
        });
        opts.count_unread = true;
        let res = self.store.ingest(chat, &messages, &opts).await.unwrap();
        if !res.changed.is_empty() {
            self.send(ClientEvent::MessagesChanged {
                chat_id: chat,
                seqs: res.changed,
            })
            .await;
        }
        let chat = self.record(chat).await;
        self.send(ClientEvent::ChatUpdated { chat }).await;
    }

    fn pick_chat(&mut self) -> ChatId {
        self.chats[self.rng.below(CHATS as u64) as usize]
    }

    async fn cached_seq(&mut self, chat: ChatId) -> Option<Message> {
        let last = self.known_last(chat).await;
        let cached = self.client.cached_messages(chat, 1, last).await.unwrap();
        if cached.is_empty() {
            return None;
        }
        Some(cached[self.rng.below(cached.len() as u64) as usize].clone())
    }

    /// One random step.
    async fn step(&mut self) {
        let chat = self.pick_chat();
        match self.rng.below(100) {
            // New messages arrive (some skipped: a gap).
            0..=19 => {
                let last = self.known_last(chat).await;
                let top = last + 1 + self.rng.below(4);
                let seqs: Vec<Message> = (last + 1..=top)
                    .filter(|_| self.rng.chance(70))
                    .map(|seq| message(chat, seq, 1, false))
                    .collect();
                self.ingest(chat, seqs, top).await;
            }
            // A gap (or older history) is filled, partly.
            20..=29 => {
                let last = self.known_last(chat).await;
                let from = 1 + self.rng.below(last.max(1));
                let to = (from + self.rng.below(6)).min(last.max(1));
                let seqs: Vec<Message> = (from..=to)
                    .map(|seq| message(chat, seq, 1, false))
                    .collect();
                self.ingest(chat, seqs, last).await;
            }
            // An edit or a delete of a cached message.
            30..=39 => {
                if let Some(m) = self.cached_seq(chat).await {
                    let deleted = self.rng.chance(30);
                    let last = self.known_last(chat).await;
                    let copy = message(chat, m.seq, m.version + 1, deleted);
                    self.ingest(chat, vec![copy], last).await;
                }
            }
            // The server's position moves (messages exist that are not cached).
            40..=44 => {
                let last = self.known_last(chat).await + 1 + self.rng.below(3);
                self.store
                    .record_position(
                        chat,
                        Position {
                            last_seq: last,
                            rev: last * 100,
                        },
                    )
                    .await
                    .unwrap();
                let chat = self.record(chat).await;
                self.send(ClientEvent::ChatUpdated { chat }).await;
            }
            // A fetch of missing messages starts or finishes (any chat, open or not).
            45..=54 => self.toggle_fetch(chat).await,
            // A send answered with a copy older than the cached one.
            55..=59 => {
                if let Some(m) = self.cached_seq(chat).await {
                    let older = message(chat, m.seq, 1, false);
                    self.send(ClientEvent::OutboxChanged {
                        entry: OutboxEntry {
                            local_id: format!("l{}", m.seq),
                            chat_id: chat,
                            idempotency_key: format!("k{}", m.seq),
                            body: serde_json::json!({"text": "x"}),
                            state: OutboxState::Delivered,
                            attempts: 1,
                            last_error: None,
                            created_at: 0,
                        },
                        message: Some(older),
                    })
                    .await;
                }
            }
            // The user switches chats (mid-fetch or not).
            60..=69 => self.select(chat).await,
            // The window reply arrives.
            70..=79 => self.deliver_reply(),
            // The event channel lags: a prefix of events is lost, the UI is told to reload.
            80..=82 => {
                let lost = self.rng.below(self.queue.len() as u64 + 1) as usize;
                self.queue.drain(..lost);
                self.queue.push_front(UiEvent::Reload);
            }
            // The pointer goes down on a chat: its newest window is read ahead; half the
            // time the read answers and the click follows at once.
            83..=87 => {
                self.press(chat).await;
                if self.rng.chance(50) {
                    while let Some((chat, request, window)) = self.ahead.pop_front() {
                        self.ui.prefetch_arrived(chat, request, window);
                    }
                    self.select(chat).await;
                }
            }
            // A read-ahead's reply arrives.
            88..=91 => {
                if let Some((chat, request, window)) = self.ahead.pop_front() {
                    self.ui.prefetch_arrived(chat, request, window);
                }
            }
            // The page is idle: the chats likeliest to be opened next are read ahead (as
            // `app/open.rs` does), their replies to arrive at later steps.
            92..=94 => {
                for (chat, has) in self.ui.idle_read_ahead() {
                    if !has {
                        self.press(chat).await;
                    }
                }
            }
            // Time passes.
            _ => self.now += self.rng.below(400) as f64,
        }
        // Most steps end with the UI having received what was sent; some leave events in flight
        // (delivered partly, later).
        if self.rng.chance(75) {
            self.deliver(usize::MAX).await;
        } else {
            let n = self.rng.below(3) as usize;
            self.deliver(n).await;
        }
    }

    async fn toggle_fetch(&mut self, chat: ChatId) {
        let running = self.fetches.get(&chat).is_some_and(|f| f.running);
        if running {
            self.send(ClientEvent::FetchFinished {
                chat_id: chat,
                fetched: 0,
            })
            .await;
            let state = self.store.finish_resync(chat).await.unwrap();
            self.send(ClientEvent::SyncStateChanged {
                chat_id: chat,
                state,
            })
            .await;
            self.fetches.insert(chat, Fetch::default());
        } else {
            self.send(ClientEvent::FetchStarted { chat_id: chat }).await;
            let state = self
                .store
                .apply_sync(chat, SyncInput::FetchStarted, Some(true))
                .await
                .unwrap();
            self.send(ClientEvent::SyncStateChanged {
                chat_id: chat,
                state,
            })
            .await;
            self.fetches.insert(
                chat,
                Fetch {
                    running: true,
                    known_since: None,
                },
            );
        }
    }

    /// `prefetch_chat` as the app calls it on pointerdown: the read's reply is held, to arrive
    /// at a later step.
    async fn press(&mut self, chat: ChatId) {
        let Some(request) = self.ui.prefetch_requested(chat) else {
            return;
        };
        if let Ok(window) = self.client.window(chat, Anchor::Newest, WINDOW).await {
            self.ahead
                .push_back((chat, request, app_view::chat_window(window)));
        }
    }

    /// `select_chat` as the app runs it: with a window read ahead, its rows are shown while
    /// the open's reply is in flight.
    async fn select(&mut self, chat: ChatId) {
        let ahead = self.ui.take_prefetched(chat);
        let Some(previous) = self.ui.select(chat) else {
            return;
        };
        // The open, then the close of the chat left with what the view showed of it (as
        // `app/switch.rs` sends them), numbered as the shell numbers them.
        self.open_window(chat).await;
        if let Some(previous) = previous {
            let shown = self.ui.shown_through(previous);
            let order = self.next_order();
            self.client
                .close_chat_in_order(previous, order, Some(shown))
                .await
                .unwrap();
        }
        if let Some(window) = ahead
            && self.ui.window_prefetched(chat, window)
        {
            self.shown_ahead = self.replies.back().map(|(c, r, _)| (*c, *r));
        }
    }

    /// `open_chat` as the app calls it: the reply is held, to arrive at a later step.
    async fn open_window(&mut self, chat: ChatId) {
        self.shown_ahead = None;
        let request = self.ui.window_requested();
        let order = self.next_order();
        let window = self
            .client
            .open_chat_in_order(chat, Anchor::Newest, WINDOW, order)
            .await
            .unwrap();
        self.forward_client_events().await;
        self.replies
            .push_back((chat, request, app_view::chat_window(window)));
    }

    /// The next open or close's number, as the shell gives it at arrival.
    fn next_order(&mut self) -> RequestOrder {
        self.orders += 1;
        RequestOrder(self.orders)
    }

    fn deliver_reply(&mut self) {
        if let Some((chat, request, window)) = self.replies.pop_front() {
            // The open of rows shown from a read-ahead only confirms them (its window is not
            // even decoded).
            if self.shown_ahead == Some((chat, request)) {
                self.shown_ahead = None;
                self.ui.window_confirmed(chat, request);
            } else {
                self.ui.window_opened(chat, request, window);
            }
        }
    }

    async fn deliver(&mut self, n: usize) {
        for _ in 0..n {
            let Some(event) = self.queue.pop_front() else {
                return;
            };
            match &event {
                UiEvent::FetchStarted { chat_id } => {
                    if let Some(f) = self.fetches.get_mut(chat_id)
                        && f.running
                        && f.known_since.is_none()
                    {
                        f.known_since = Some(self.now);
                    }
                }
                // The end of an earlier fetch of the chat: the running one is learnt from its
                // own FetchStarted (still to come).
                UiEvent::FetchFinished { chat_id, .. } => {
                    if let Some(f) = self.fetches.get_mut(chat_id) {
                        f.known_since = None;
                    }
                }
                _ => {}
            }
            // What the app applies without a render must change nothing but the open flag.
            let unshown = self
                .ui
                .changes_nothing_shown(&event)
                .then(|| self.ui.clone());
            let effects = self.ui.apply(event, self.now);
            if let Some(before) = unshown {
                assert_eq!(
                    without_open_flags(&self.ui),
                    without_open_flags(&before),
                    "an event applied without a render changed what is shown"
                );
            }
            if effects.contains(&Effect::Reload) {
                self.reload().await;
            }
        }
    }

    /// What the app does on `Effect::Reload`: the chat list, then the selected chat again.
    async fn reload(&mut self) {
        let chats: Vec<_> = self
            .client
            .chats()
            .await
            .unwrap()
            .iter()
            .map(app_view::chat_entry)
            .collect();
        for chat in &chats {
            if chat.sync_state == SyncState::Syncing
                && let Some(f) = self.fetches.get_mut(&chat.chat_id)
            {
                // Found running by the reload: shown at once (it has been running already).
                let seen = self.now - INDICATOR_DELAY_MS;
                f.known_since = Some(f.known_since.map_or(seen, |s| s.min(seen)));
            }
        }
        self.ui.chats_reloaded(chats, self.now);
        if let Some(chat) = self.ui.selected {
            self.open_window(chat).await;
        }
    }

    /// Every event delivered, and no open's reply in flight but that of rows shown from a
    /// read-ahead (which must show the cache already).
    fn quiescent(&self) -> bool {
        self.queue.is_empty()
            && self
                .replies
                .iter()
                .all(|(c, r, _)| self.shown_ahead == Some((*c, *r)))
    }

    /// The assertions; returns what disagrees.
    async fn check(&self) -> Result<(), String> {
        // The open chat as the chat view renders it: the app's own timeline (day separators, the
        // unread divider, author groups) through the same component, `TimelineRows`.
        let html = match &self.ui.open {
            Some(open) => testing::render_timeline(open.timeline(), 0),
            None => String::new(),
        };
        // The previous chat's rows stay on screen only until the selected chat's window came.
        if self.ui.selected.is_some() && !self.ui.open_is_selected() {
            return Err(format!(
                "everything delivered, yet {:?} is on screen for the selected {:?}",
                self.ui.open_chat_id(),
                self.ui.selected
            ));
        }
        let shown = rendered_shape(&html);
        let expected = match (&self.ui.open, self.ui.selected) {
            (Some(open), _) => {
                let chat = open.chat.chat_id;
                let known_last = self.known_last(chat).await;
                let (lo, hi) = match (open.items.first(), open.items.last()) {
                    (Some(a), Some(b)) => (a.seq_span().0, b.seq_span().1),
                    _ => (1, 0),
                };
                if open.at_newest() && hi != known_last {
                    return Err(format!(
                        "rows end at {hi}, the chat's newest known seq is {known_last}"
                    ));
                }
                if hi >= lo {
                    let cached = self.client.cached_messages(chat, lo, hi).await.unwrap();
                    let items = span_items(SeqRange::new(lo, hi), cached);
                    items.iter().map(item_shape).collect::<Vec<_>>()
                } else {
                    Vec::new()
                }
            }
            (None, _) => Vec::new(),
        };
        if shown != expected {
            return Err(format!("rendered {shown:?}\n cache   {expected:?}"));
        }
        // The indicator: rendered exactly while a fetch of the selected chat runs, after the
        // delay from when the UI learnt of it.
        let expect_indicator = self.ui.selected.is_some_and(|chat| {
            self.fetches.get(&chat).is_some_and(|f| {
                f.running
                    && f.known_since
                        .is_some_and(|s| self.now - s >= INDICATOR_DELAY_MS)
            })
        });
        let visible = self.ui.indicator_visible(self.now);
        let html = Owner::new().with(|| view! { <SyncIndicator visible /> }.to_html());
        if html.contains("data-testid=\"sync-indicator\"") != expect_indicator {
            return Err(format!(
                "indicator rendered={} expected={expect_indicator} at {}",
                !expect_indicator, self.now
            ));
        }
        // Resync only when ready: the window is loaded and shows messages (or the chat is
        // empty) — judged from the cache, not from the UI's own rows.
        let ready = match &self.ui.open {
            None => false,
            Some(open) => {
                let chat = open.chat.chat_id;
                let shows_cached = expected.iter().any(|s| s.starts_with('m'));
                shows_cached || (self.known_last(chat).await == 0 && open.items.is_empty())
            }
        };
        let visible = logic::resync_visible(self.ui.readiness(true, true));
        let html = Owner::new().with(|| {
            view! { <ResyncButton visible busy=false on_click=Callback::new(|_| {}) /> }.to_html()
        });
        if html.contains("data-testid=\"resync-button\"") != ready {
            return Err(format!("resync button rendered={visible} ready={ready}"));
        }
        Ok(())
    }
}

/// `state` with every chat's `is_open` cleared (no view shows it).
fn without_open_flags(state: &UiState) -> UiState {
    let mut state = state.clone();
    for chat in &mut state.chats {
        chat.is_open = false;
    }
    if let Some(open) = state.open.as_mut() {
        open.chat.is_open = false;
    }
    // A read-ahead is not shown (and any event of its chat drops it, an open flag's too).
    state.drop_read_aheads();
    state
}

/// "m<seq>:<text>" for a message (text carries the version; "deleted" for a tombstone),
/// "skel a-b" for a skeleton.
fn item_shape(item: &WindowItem) -> String {
    match item {
        WindowItem::Message { message } if message.is_deleted() => {
            format!("m{}:deleted", message.seq)
        }
        WindowItem::Message { message } => {
            format!("m{}:{}", message.seq, message.text().unwrap_or_default())
        }
        skeleton => {
            let (a, b) = skeleton.seq_span();
            format!("skel {a}-{b}")
        }
    }
}

/// The rows of rendered HTML in document order, shaped like [`item_shape`] (separators and
/// the unread divider are not rows).
fn rendered_shape(html: &str) -> Vec<String> {
    testing::shown(html)
        .into_iter()
        .filter_map(|entry| match entry {
            Shown::Message { seq, text, .. } => {
                Some(format!("m{seq}:{}", text.as_deref().unwrap_or("deleted")))
            }
            Shown::Skeleton { from, to, .. } => Some(format!("skel {from}-{to}")),
            Shown::DaySeparator { .. } | Shown::UnreadDivider => None,
        })
        .collect()
}

#[tokio::test]
async fn the_screen_shows_exactly_what_the_cache_holds() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("message_cache.db");
    let (store, _) = Store::open(&path).await.unwrap();
    // The client never touches the network here: no background work, reads only.
    let config = ClientConfig::new("http://127.0.0.1:9", "unused")
        .cache_path(&path)
        .background(false);
    let (client, _) = Client::open(config).await.unwrap();
    let client_events = client.subscribe();
    let mut world = World {
        store,
        client,
        client_events,
        ui: UiState::default(),
        queue: VecDeque::new(),
        replies: VecDeque::new(),
        ahead: VecDeque::new(),
        shown_ahead: None,
        chats: Vec::new(),
        fetches: HashMap::new(),
        now: 0.0,
        rng: Rng(0x9E37_79B9_7F4A_7C15),
        orders: 0,
    };
    let mut figures = Figures::default();
    for sequence in 0..SEQUENCES {
        world.ui = UiState::default();
        world.queue.clear();
        world.replies.clear();
        world.ahead.clear();
        world.shown_ahead = None;
        world.fetches.clear();
        world.chats = (0..CHATS)
            .map(|c| {
                ChatId(uuid::Uuid::from_u128(
                    ((sequence * CHATS + c + 1) as u128) << 32,
                ))
            })
            .collect();
        for step in 0..STEPS {
            world.step().await;
            world.forward_client_events().await;
            figures.steps += 1;
            if world.quiescent() {
                figures.checked += 1;
                if world.shown_ahead.is_some() {
                    figures.checked_ahead += 1;
                }
                if let Err(why) = world.check().await {
                    figures.mismatches += 1;
                    figures
                        .first_failure
                        .get_or_insert(format!("sequence {sequence} step {step}: {why}"));
                }
            }
        }
        figures.sequences += 1;
    }
    println!(
        "screen model: sequences={} steps={} checked={} (rows read ahead: {}) mismatches={}",
        figures.sequences,
        figures.steps,
        figures.checked,
        figures.checked_ahead,
        figures.mismatches
    );
    assert!(
        figures.checked_ahead > 0,
        "no rows shown from a read-ahead were checked"
    );
    assert_eq!(figures.mismatches, 0, "{:?}", figures.first_failure);
    // About 40% of steps end with everything delivered (the others leave events or a window
    // reply in flight on purpose).
    assert!(
        figures.checked > figures.steps / 3,
        "too few steps were checkable"
    );
}
