//! The engine's public face, [`Client`]: opening the cache, chat windows read from the cache,
//! and the operations the CLI and the desktop app call (resync, older history, sends, edits,
//! deletes). The work itself lives in `engine` (shared state), `chat_list`, `resync`, `outbox`
//! and `stream`; this module only wires them.
//!
//! Owns the order of operations: every message is committed to the cache before any event
//! about it is emitted; `open_chat` reads the cache only and never awaits the network; a resync
//! asks the changes endpoint about the cached span, then fetches only missing seqs, merges each
//! page in one transaction, and re-validates before clearing `OUT_OF_SYNC`. Must never discard
//! cached messages, never fetch a chat's whole history by default, never hold a lock across a
//! network call.

use crate::api::{Api, ApiConfig, FiguresSnapshot};
use crate::chat_list::{refresh_chats, validate_and_sync};
pub use crate::config::ClientConfig;
use crate::engine::Inner;
use crate::error::{Error, Result};
use crate::events::{
    ChatWindow, ClientEvent, FlushReport, LoadOlderReport, OpenInfo, ResyncReport,
};
use crate::open_order::RequestOrder;
use crate::outbox::{apply_mutation, flush_outbox, outbox_worker};
use crate::ranges::{self, CacheMap, SeqRange, WindowItem, build_window};
use crate::resync::{load_older, resync};
use crate::store::{ChatRecord, OutboxEntry, OutboxState, Store};
use roost_model::Anchor;
use roost_proto::{ChatId, EditRequest, Message, MessageId, Seq, UserId};
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use tokio::sync::broadcast;

/// Aborts the background tasks when the last `Client` handle is dropped.
#[derive(Debug)]
struct Guard(Arc<Inner>);

impl Drop for Guard {
    fn drop(&mut self) {
        self.0.abort_tasks();
    }
}

/// The Roost client core: a cache-first chat client. Cheap to clone (all clones share one
/// engine); background tasks stop when the last clone is dropped or on [`Client::shutdown`].
#[derive(Debug, Clone)]
pub struct Client {
    inner: Arc<Inner>,
    _guard: Arc<Guard>,
}

impl Client {
    /// Opens (or creates) the cache and prepares the engine. Never touches the network itself;
    /// with `background` on, interrupted resyncs are resumed and the outbox is delivered in the
    /// background. A corrupt cache file is moved aside and reported in [`OpenInfo`].
    pub async fn open(config: ClientConfig) -> Result<(Client, OpenInfo)> {
        // One process per cache file: taken before anything reads, repairs or moves it.
        let cache_lock = crate::account::CacheLock::acquire(&config.cache_path).await?;
        let (store, corruption) = Store::open(&config.cache_path).await?;
        // Whose cache it is, before anything of it is read or sent.
        let binding = match crate::account::bind(&store, &config).await {
            Ok(binding) => binding,
            Err(e) => {
                store.close().await;
                return Err(e);
            }
        };
        let mut repaired = Vec::new();
        let mut quarantined = Vec::new();
        // O(messages): only when the file was not exactly as a clean close left it (every write
        // keeps the runs index in its own transaction, so only damage can break it). Damage
        // confined to a chat quarantines that chat only.
        let suspects = if store.opened_clean() {
            Vec::new()
        } else {
            for (chat, reason) in store.damaged_chats().await? {
                store.quarantine_chat(chat, reason).await?;
                quarantined.push((chat, reason.to_string()));
            }
            store.inconsistent_chats().await?
        };
        for chat in suspects {
            if store.rebuild_runs(chat).await? {
                tracing::warn!(%chat, "cached runs index disagreed with the cached messages: rebuilt it");
                repaired.push(chat);
            }
        }
        store.reset_session().await?;
        let mut api_config = ApiConfig::new(&config.server_url, &config.token);
        api_config.request_timeout = config.request_timeout;
        api_config.allow_insecure_http = config.allow_insecure_http;
        let api = Api::new(api_config)?;
        let inner = Arc::new(Inner::new(store, api, config, binding, cache_lock));
        let resumable = inner.store().chats_needing_resync().await?;
        // Local upkeep, not network work: runs whether or not `background` is on.
        inner.spawn(crate::search::background_indexer(inner.store().clone()));
        if inner.config().background {
            inner.spawn(outbox_worker(inner.clone()));
            if !resumable.is_empty() {
                let i2 = inner.clone();
                let chats = resumable.clone();
                inner.spawn(async move {
                    for chat in chats {
                        let i3 = i2.clone();
                        i2.spawn(async move {
                            if let Err(e) = resync(&i3, chat).await {
                                tracing::info!(%chat, error = %e, "resuming an interrupted resync failed; will retry on reconnect");
                            }
                        });
                    }
                });
            }
        }
        let info = OpenInfo {
            cache_path: inner.store().path().to_path_buf(),
            corruption,
            repaired_chats: repaired,
            quarantined_chats: quarantined,
            resumable_chats: resumable,
        };
        let guard = Arc::new(Guard(inner.clone()));
        Ok((
            Client {
                inner,
                _guard: guard,
            },
            info,
        ))
    }

    /// The engine, for the feature modules (`search`, `budget`, `verify`) that add methods to
    /// `Client` from their own files.
    pub(crate) fn engine(&self) -> &Arc<Inner> {
        &self.inner
    }

    /// Client events. Subscribe before triggering the work you want to observe.
    pub fn subscribe(&self) -> broadcast::Receiver<ClientEvent> {
        self.inner.subscribe()
    }

    /// The path of the cache file.
    pub fn cache_path(&self) -> PathBuf {
        self.inner.store().path().to_path_buf()
    }

    /// The signed-in user, when known.
    pub fn me(&self) -> Option<UserId> {
        self.inner.me()
    }

    /// Requests and response bytes since this client was created.
    pub fn figures(&self) -> FiguresSnapshot {
        self.inner.api().figures()
    }

    /// Whether the stream is currently connected.
    pub fn is_online(&self) -> bool {
        self.inner.is_online()
    }

    /// Cached chats, most recent first (no network).
    pub async fn chats(&self) -> Result<Vec<ChatRecord>> {
        self.inner.store().chats().await
    }

    /// One cached chat (no network).
    pub async fn chat(&self, chat: ChatId) -> Result<Option<ChatRecord>> {
        self.inner.store().chat(chat).await
    }

    /// A chat id, or the exact title of a cached chat.
    pub async fn resolve_chat(&self, id_or_title: &str) -> Result<ChatId> {
        if let Ok(id) = ChatId::from_str(id_or_title) {
            return Ok(id);
        }
        let ids = self.inner.store().chats_titled(id_or_title).await?;
        match ids.as_slice() {
            [id] => Ok(*id),
            [] => Err(Error::NotFound(format!(
                "no cached chat titled {id_or_title:?}"
            ))),
            _ => Err(Error::InvalidInput(format!(
                "several chats are titled {id_or_title:?}; use the chat id"
            ))),
        }
    }

    /// `GET /v1/chats` into the cache. Returns the chats that moved since the cache last heard
    /// (or are flagged for resync).
    pub async fn refresh_chats(&self) -> Result<Vec<ChatId>> {
        refresh_chats(&self.inner).await
    }

    /// Connects the WebSocket stream (idempotent): every incoming message is cached at once;
    /// after every (re)connect one chat-list request finds the chats that moved and only those
    /// are resynced; pending sends are delivered.
    pub fn start_stream(&self) {
        if self.inner.start_stream_once() {
            self.inner.spawn(crate::stream::run(self.inner.clone()));
        }
    }

    /// Renders a chat from the cache alone (never awaits the network) and marks it open
    /// (unread reset). With `background` on, validation — and a resync if the chat is partial —
    /// then runs in the background once the chat's server position is known.
    pub async fn open_chat(&self, chat: ChatId, anchor: Anchor, limit: u32) -> Result<ChatWindow> {
        self.open_chat_as(chat, anchor, limit, None).await
    }

    /// [`Client::open_chat`] as the UI's request number `order`: it marks the chat open only if
    /// no later open or close of the chat took effect already (then it only reads the window,
    /// as [`Client::window`]). For a caller whose requests can run concurrently (a shell that
    /// answers each as a task of its own): see `open_order`.
    pub async fn open_chat_in_order(
        &self,
        chat: ChatId,
        anchor: Anchor,
        limit: u32,
        order: RequestOrder,
    ) -> Result<ChatWindow> {
        self.open_chat_as(chat, anchor, limit, Some(order)).await
    }

    async fn open_chat_as(
        &self,
        chat: ChatId,
        anchor: Anchor,
        limit: u32,
        order: Option<RequestOrder>,
    ) -> Result<ChatWindow> {
        let mut turn = self.inner.open_orders().turn(chat).await;
        if !turn.admit(order) {
            drop(turn);
            return self.window(chat, anchor, limit).await;
        }
        // Read first; write the open flag only when it changes (re-opening an open chat with
        // nothing unread costs no write transaction). A chat never cached gets its row here.
        let mut window = match self.window(chat, anchor, limit).await {
            Err(Error::NotFound(_)) => {
                self.inner.store().set_open(chat, true).await?;
                self.window(chat, anchor, limit).await?
            }
            other => other?,
        };
        if !window.chat.is_open || window.chat.unread_count > 0 {
            let me = self.inner.me();
            let read = self
                .inner
                .store()
                .read_before_unread(
                    chat,
                    window.chat.unread_count,
                    window.chat.last_message_seq,
                    me.as_ref(),
                )
                .await?;
            turn.opened(read);
            self.inner.store().set_open(chat, true).await?;
            window.chat.is_open = true;
            window.chat.unread_count = 0;
        } else {
            turn.opened_again(window.chat.last_message_seq.unwrap_or(0));
        }
        drop(turn);
        self.inner.emit(ClientEvent::ChatUpdated {
            chat: window.chat.clone(),
        });
        if self.inner.config().background {
            let inner = self.inner.clone();
            self.inner.spawn(async move {
                if !inner.is_known(chat)
                    && let Err(e) = refresh_chats(&inner).await
                {
                    tracing::debug!(%chat, error = %e, "chat position unknown (offline?); validation waits");
                    return;
                }
                // The first screen shows an OlderHistory skeleton with room to spare: fill it
                // with one page (what a UI would ask for as soon as the skeleton is visible), in
                // the same fetch window as the resync.
                let older_within = matches!(anchor, Anchor::Newest).then_some(limit);
                if let Err(e) = validate_and_sync(&inner, chat, older_within).await {
                    tracing::debug!(%chat, error = %e, "background validation/resync failed");
                }
            });
        }
        Ok(window)
    }

    /// Marks a chat closed (new messages count as unread again).
    pub async fn close_chat(&self, chat: ChatId) -> Result<()> {
        self.close_chat_as(chat, None, None).await
    }

    /// [`Client::close_chat`] as the UI's request number `order`: no effect if a later open or
    /// close of the chat took effect already (see [`Client::open_chat_in_order`]).
    ///
    /// `shown`: the newest seq of the chat the UI showed (0: none since it opened). What
    /// arrived while the chat was open after both that and what the open marked read counts as
    /// unread: a message that landed just as the user left, before this close reached the
    /// engine, was never seen (`open_order`). `None` reads everything that arrived while open.
    pub async fn close_chat_in_order(
        &self,
        chat: ChatId,
        order: RequestOrder,
        shown: Option<Seq>,
    ) -> Result<()> {
        self.close_chat_as(chat, Some(order), shown).await
    }

    async fn close_chat_as(
        &self,
        chat: ChatId,
        order: Option<RequestOrder>,
        shown: Option<Seq>,
    ) -> Result<()> {
        let mut turn = self.inner.open_orders().turn(chat).await;
        if !turn.admit(order) {
            return Ok(());
        }
        match turn.read_through(shown) {
            Some(read_through) => {
                let me = self.inner.me();
                self.inner
                    .store()
                    .close_with_unseen_unread(chat, read_through, me.as_ref())
                    .await?
            }
            None => self.inner.store().set_open(chat, false).await?,
        }
        drop(turn);
        self.inner.emit_chat(chat).await;
        Ok(())
    }

    /// The cached window of a chat without marking it open and without any network activity.
    /// A chat whose cached rows turn out damaged is quarantined (its rows dropped, flagged for
    /// a full resync) and its now empty window returned: one chat's damage never makes it
    /// unopenable, and never touches another chat.
    pub async fn window(&self, chat: ChatId, anchor: Anchor, limit: u32) -> Result<ChatWindow> {
        match self.cached_window(chat, anchor, limit).await {
            Err(Error::CacheCorrupt(why)) => {
                tracing::warn!(%chat, %why, "a cached row of this chat does not decode");
                self.inner
                    .store()
                    .quarantine_chat(chat, crate::store::repair::REASON_UNDECODABLE)
                    .await?;
                self.inner.emit_chat(chat).await;
                self.cached_window(chat, anchor, limit).await
            }
            other => other,
        }
    }

    async fn cached_window(&self, chat: ChatId, anchor: Anchor, limit: u32) -> Result<ChatWindow> {
        let store = self.inner.store();
        let rec = store
            .chat(chat)
            .await?
            .ok_or_else(|| Error::NotFound(format!("chat {chat} is not cached")))?;
        let limit = limit.max(1);
        let known_last = rec.server_last_seq.max(rec.local_max.unwrap_or(0));
        let pending: Vec<OutboxEntry> = if rec.has_outbox {
            store.outbox(Some(chat)).await?
        } else {
            Vec::new()
        };
        let (items, has_more_before, has_more_after) = match anchor {
            Anchor::Newest => {
                // One indexed read of the newest `limit + 1` rows: the extra row tells whether
                // the seq just below the window is cached, a gap, or older history, and every
                // cached seq at or above it is in the result, so the runs the window needs are
                // the runs of these rows (no read of the runs index).
                let newest = store.newest_messages(chat, limit.saturating_add(1)).await?;
                let shown_from = newest.len().saturating_sub(limit as usize);
                match newest.get(shown_from) {
                    None if known_last > 0 => (
                        vec![WindowItem::OlderHistory { to: known_last }],
                        false,
                        false,
                    ),
                    None => (Vec::new(), false, false),
                    Some(first_shown) => {
                        let span = SeqRange::new(first_shown.seq, known_last.max(first_shown.seq));
                        let runs = ranges::runs_from_seqs(newest.iter().map(|m| m.seq));
                        let items = build_window(&newest, &runs, span);
                        let before = span.start > 1 && ranges::contains(&runs, span.start - 1);
                        (items, before, false)
                    }
                }
            }
            Anchor::Around { seq } => {
                let runs = store.runs(chat).await?;
                let seq = seq.max(1);
                let lo = seq.saturating_sub((limit / 2) as u64).max(1);
                let hi = (lo + limit as u64 - 1).min(known_last.max(seq));
                let span = SeqRange::new(lo, hi.max(lo));
                let msgs = store.messages_between(chat, span.start, span.end).await?;
                let items = build_window(&msgs, &runs, span);
                let before = span.start > 1 && ranges::contains(&runs, span.start - 1);
                let after = ranges::contains(&runs, span.end + 1);
                (items, before, after)
            }
        };
        Ok(ChatWindow {
            chat: rec,
            items,
            pending,
            has_more_before,
            has_more_after,
        })
    }

    /// Cached messages of a chat with `lo <= seq <= hi`, ascending (no network).
    pub async fn cached_messages(&self, chat: ChatId, lo: Seq, hi: Seq) -> Result<Vec<Message>> {
        self.inner.store().messages_between(chat, lo, hi).await
    }

    /// Cached runs and missing ranges of a chat, and which of them is evicted history (no
    /// network).
    pub async fn cache_map(&self, chat: ChatId) -> Result<CacheMap> {
        let rec = self
            .inner
            .store()
            .chat(chat)
            .await?
            .ok_or_else(|| Error::NotFound(format!("chat {chat} is not cached")))?;
        let runs = self.inner.store().runs(chat).await?;
        let floor = crate::budget::history_floor(self.inner.store(), chat).await?;
        Ok(ranges::cache_map_with_floor(
            &runs,
            rec.server_last_seq,
            floor,
        ))
    }

    /// Chat-scoped incremental resync (the Resync button): changes since the cursor over the
    /// cached span, then only the missing seqs — including history the storage budget or a
    /// clear evicted, which background resyncs leave alone — merge, re-validate. A second call
    /// while one runs joins it.
    pub async fn resync(&self, chat: ChatId) -> Result<ResyncReport> {
        // No await before joining: a trigger arriving while a resync runs always joins it.
        crate::resync::manual_resync(&self.inner, chat).await
    }

    /// Fetches the page of history directly above the oldest cached message (the UI calls it
    /// when the user scrolls into an `OlderHistory` skeleton).
    pub async fn load_older(&self, chat: ChatId) -> Result<LoadOlderReport> {
        load_older(&self.inner, chat).await
    }

    /// Queues a text message: persisted in the outbox with a fresh idempotency key and
    /// announced at once (`OutboxChanged` pending); delivered when the server is reachable (by
    /// the background worker, or [`Client::flush_outbox`]). The server's copy replaces the
    /// pending one without duplicate.
    pub async fn send(&self, chat: ChatId, text: &str) -> Result<OutboxEntry> {
        if text.is_empty() {
            return Err(Error::InvalidInput("empty message".into()));
        }
        crate::left::ensure_not_left(&self.inner, chat).await?;
        let entry = self
            .inner
            .store()
            .outbox_add(
                chat,
                serde_json::json!({ "text": text }),
                self.inner.me().as_ref(),
            )
            .await?;
        self.inner.emit(ClientEvent::OutboxChanged {
            entry: entry.clone(),
            message: None,
        });
        self.inner.notify_outbox();
        Ok(entry)
    }

    /// Delivers every pending outbox entry now. `Err` (offline) when nothing could be sent.
    pub async fn flush_outbox(&self) -> Result<FlushReport> {
        flush_outbox(&self.inner).await
    }

    /// Unsent messages (pending, sending, failed), of one chat or all.
    pub async fn outbox(&self, chat: Option<ChatId>) -> Result<Vec<OutboxEntry>> {
        self.inner.store().outbox(chat).await
    }

    /// Puts a failed outbox entry back to pending (same idempotency key) and wakes delivery.
    pub async fn retry_failed(&self, local_id: &str) -> Result<OutboxEntry> {
        let entry = self
            .inner
            .store()
            .outbox_entry(local_id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("outbox entry {local_id}")))?;
        self.inner
            .store()
            .outbox_set_state(local_id, OutboxState::Pending, None)
            .await?;
        let entry = OutboxEntry {
            state: OutboxState::Pending,
            ..entry
        };
        self.inner.emit(ClientEvent::OutboxChanged {
            entry: entry.clone(),
            message: None,
        });
        self.inner.notify_outbox();
        Ok(entry)
    }

    /// Leaves the chat on the server; it stays on this device read-only with what was cached
    /// ("left"), until [`Client::forget_chat`]. Error when offline (nothing changes then).
    pub async fn leave_chat(&self, chat: ChatId) -> Result<()> {
        crate::left::leave(&self.inner, chat).await
    }

    /// "Remove from this device": deletes every cached row of a left chat (messages, runs,
    /// outbox entries, the chat). Refused for a chat the user is still a member of.
    pub async fn forget_chat(&self, chat: ChatId) -> Result<()> {
        self.inner.store().forget_left_chat(chat).await?;
        self.inner.forget_chat_state(chat);
        self.inner
            .emit(ClientEvent::ChatForgotten { chat_id: chat });
        Ok(())
    }

    /// Adds users to the chat on the server (any member may) and records the chat as it is now.
    pub async fn add_members(&self, chat: ChatId, members: &[UserId]) -> Result<()> {
        crate::left::ensure_not_left(&self.inner, chat).await?;
        let summary = self.inner.api().add_members(chat, members).await?;
        self.inner
            .store()
            .upsert_summaries(std::slice::from_ref(&summary))
            .await?;
        self.inner.emit_chat(chat).await;
        Ok(())
    }

    /// Edits a message on the server (error when offline) and merges the result.
    pub async fn edit(&self, chat: ChatId, message: MessageId, text: &str) -> Result<Message> {
        let req = EditRequest {
            body: serde_json::json!({ "text": text }),
            expected_version: None,
        };
        crate::account::ensure_verified(&self.inner).await?;
        let resp = self.inner.api().edit(chat, message, &req).await?;
        apply_mutation(&self.inner, chat, &resp).await?;
        Ok(resp.message)
    }

    /// Deletes (tombstones) a message on the server (error when offline) and merges the result.
    pub async fn delete(&self, chat: ChatId, message: MessageId) -> Result<Message> {
        crate::account::ensure_verified(&self.inner).await?;
        let resp = self.inner.api().delete(chat, message).await?;
        apply_mutation(&self.inner, chat, &resp).await?;
        Ok(resp.message)
    }

    /// Stops every background task (stream, outbox worker, running resyncs) and closes the
    /// cache. Work already committed stays; interrupted resyncs stay flagged.
    pub async fn shutdown(&self) {
        self.inner.abort_tasks();
        self.inner.store().close().await;
        self.inner.release_cache_lock();
    }
}
