//! The engine and its public face, [`Client`]: opening the cache, chat windows, chat-scoped
//! resync (single-flight, under a global semaphore), older history on demand, the outbox, and
//! client events.
//!
//! Owns the order of operations: every message is committed to the cache before any event
//! about it is emitted; `open_chat` reads the cache only and never awaits the network; a resync
//! asks the changes endpoint about the cached span, then fetches only missing seqs, merges each
//! page in one transaction, and re-validates before clearing `OUT_OF_SYNC`. Must never discard
//! cached messages, never fetch a chat's whole history by default, never hold a lock across a
//! network call.

use crate::api::{Api, ApiConfig, FiguresSnapshot};
use crate::error::{Error, Result};
use crate::ranges::{self, CacheMap, SeqRange, WindowItem, build_window, sync_plan};
use crate::store::{
    ChatRecord, CorruptionReport, CursorRule, IngestOptions, IngestResult, OutboxEntry,
    OutboxState, Position, Store,
};
use crate::sync_state::{SyncState, is_partial};
use backon::BackoffBuilder;
use futures_util::FutureExt;
use futures_util::future::{BoxFuture, Shared};
use roost_proto::{
    ChangesQuery, ChangesResponse, ChatId, DEFAULT_PAGE_SIZE, EditRequest, MAX_PAGE_SIZE,
    MAX_SEQ_RANGES_PER_REQUEST, Message, MessageId, MessagesPage, RangeQuery, SendRequest, Seq,
    UserId,
};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{Notify, Semaphore, broadcast};
use tokio::task::AbortHandle;

/// How to start a [`Client`].
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// e.g. `http://127.0.0.1:7878`.
    pub server_url: String,
    pub token: String,
    /// The cache file; default `dirs::data_dir()/dev.roost.desktop/message_cache.db`.
    pub cache_path: PathBuf,
    /// The signed-in user, when known (else learnt from `GET /v1/me` and remembered).
    pub user_id: Option<UserId>,
    /// Background work: resume interrupted resyncs at open, validate (and resync) a chat after
    /// `open_chat`, deliver the outbox with retries. Off for one-shot tools (the CLI).
    pub background: bool,
    /// Resyncs running at once across chats.
    pub max_concurrent_syncs: usize,
    /// `limit` of range/changes requests made by a resync (≤ `MAX_PAGE_SIZE`).
    pub page_size: u32,
    pub request_timeout: Duration,
}

impl ClientConfig {
    pub fn new(server_url: impl Into<String>, token: impl Into<String>) -> Self {
        ClientConfig {
            server_url: server_url.into(),
            token: token.into(),
            cache_path: crate::store::default_cache_path(),
            user_id: None,
            background: true,
            max_concurrent_syncs: 4,
            page_size: MAX_PAGE_SIZE,
            request_timeout: Duration::from_secs(30),
        }
    }
    pub fn cache_path(mut self, path: impl Into<PathBuf>) -> Self {
        self.cache_path = path.into();
        self
    }
    pub fn background(mut self, on: bool) -> Self {
        self.background = on;
        self
    }
}

/// What [`Client::open`] found.
#[derive(Debug, Clone, Serialize)]
pub struct OpenInfo {
    pub cache_path: PathBuf,
    /// The cache file was corrupt: moved aside, fresh cache created.
    pub corruption: Option<CorruptionReport>,
    /// Chats whose runs index disagreed with their messages and was rebuilt.
    pub repaired_chats: Vec<ChatId>,
    /// Chats flagged `needs_resync` (e.g. a resync interrupted by a crash): resumed in the
    /// background when `background` is on, else by the next `resync`.
    pub resumable_chats: Vec<ChatId>,
}

/// Where a chat window is anchored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "seq", rename_all = "snake_case")]
pub enum Anchor {
    /// The newest cached messages (and a trailing gap when newer ones are known to exist).
    Newest,
    /// Seqs around this one.
    Around(Seq),
}

/// A chat as rendered from the cache alone.
#[derive(Debug, Clone, Serialize)]
pub struct ChatWindow {
    pub chat: ChatRecord,
    /// Ascending: messages, and `Gap`/`OlderHistory` markers exactly where seqs are missing.
    pub items: Vec<WindowItem>,
    /// Unsent messages of this chat (pending or failed), oldest first.
    pub pending: Vec<OutboxEntry>,
    /// Cached messages exist just below the first item (read them from the cache on scroll).
    pub has_more_before: bool,
    /// Cached messages exist just above the last item.
    pub has_more_after: bool,
}

/// What one resync did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResyncReport {
    pub chat_id: ChatId,
    /// Missing ranges (interior + trailing, + the newest page of an empty cache) at the start.
    pub gaps_before: usize,
    /// Missing ranges left after re-validation (0 when IN_SYNC).
    pub gaps_after: usize,
    /// Seqs missing at the start (the newest page of an empty cache counts as its size).
    pub missing_before: u64,
    /// Messages received from the range endpoint.
    pub messages_fetched: u64,
    /// Messages received from the changes endpoint (edits, deletes, creates in the span).
    pub changes_applied: u64,
    /// HTTP requests and response-body bytes of this resync.
    pub requests: u64,
    pub bytes_received: u64,
    /// Why this was a full reload of the chat, when it was one (never by default).
    pub full_reload: Option<String>,
    /// Why the cached runs were re-validated with the range endpoint (changes journal too old).
    pub revalidated: Option<String>,
    pub state: SyncState,
}

/// What `load_older` did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LoadOlderReport {
    pub chat_id: ChatId,
    pub fetched: u64,
    /// Seq 1 is now cached (no older history remains).
    pub reached_start: bool,
    pub requests: u64,
    pub bytes_received: u64,
}

/// One outbox entry the server accepted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Delivered {
    pub local_id: String,
    /// The server's copy (now cached in place of the pending entry).
    pub message: Message,
}

/// What `flush_outbox` did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FlushReport {
    pub delivered: Vec<Delivered>,
    pub failed: Vec<OutboxEntry>,
    /// Still pending (the server is unreachable).
    pub pending: usize,
}

/// Everything the UI hears. Every message an event mentions is already in the cache.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientEvent {
    /// A chat row changed (last message, unread count, position, title…).
    ChatUpdated {
        chat: ChatRecord,
    },
    /// Cached messages of a chat were inserted or replaced.
    MessagesChanged {
        chat_id: ChatId,
        seqs: Vec<Seq>,
    },
    SyncStateChanged {
        chat_id: ChatId,
        state: SyncState,
    },
    /// Missing messages of this chat are being fetched: show the sync indicator. Emitted only
    /// around range fetches of missing seqs (resync gaps, newest page, older history), never for
    /// validation or changes calls.
    FetchStarted {
        chat_id: ChatId,
    },
    /// The fetch ended (successfully or not); `fetched` messages were merged.
    FetchFinished {
        chat_id: ChatId,
        fetched: u64,
    },
    /// The stream connected (`true`) or was lost (`false`).
    Connection {
        online: bool,
    },
    /// An outbox entry changed state; `message` is the server's copy once delivered.
    OutboxChanged {
        entry: OutboxEntry,
        message: Option<Message>,
    },
}

type SharedResync = Shared<BoxFuture<'static, Result<ResyncReport>>>;
type SharedLoadOlder = Shared<BoxFuture<'static, Result<LoadOlderReport>>>;
/// Running jobs per chat, for [`single_flight`].
type InflightTable<T> = Mutex<HashMap<ChatId, Shared<BoxFuture<'static, Result<T>>>>>;

#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) store: Store,
    pub(crate) api: Api,
    pub(crate) config: ClientConfig,
    events: broadcast::Sender<ClientEvent>,
    inflight: Mutex<HashMap<ChatId, SharedResync>>,
    /// Running `load_older` per chat: a second scroll into the same skeleton joins it.
    older_inflight: Mutex<HashMap<ChatId, SharedLoadOlder>>,
    sync_permits: Semaphore,
    me: Mutex<Option<UserId>>,
    /// Chats whose server position was learnt in this session (rule 3).
    known: Mutex<HashSet<ChatId>>,
    tasks: Mutex<Vec<AbortHandle>>,
    online: AtomicBool,
    pub(crate) outbox_notify: Notify,
    outbox_lock: tokio::sync::Mutex<()>,
    stream_running: AtomicBool,
}

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

impl Inner {
    pub(crate) fn emit(&self, ev: ClientEvent) {
        let _ = self.events.send(ev);
    }

    pub(crate) fn spawn<F>(self: &Arc<Self>, fut: F) -> tokio::task::JoinHandle<F::Output>
    where
        F: std::future::Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let h = tokio::spawn(fut);
        let mut tasks = self.tasks.lock().unwrap();
        tasks.retain(|t| !t.is_finished());
        tasks.push(h.abort_handle());
        h
    }

    fn abort_tasks(&self) {
        for t in self.tasks.lock().unwrap().drain(..) {
            t.abort();
        }
    }

    pub(crate) fn me(&self) -> Option<UserId> {
        self.me.lock().unwrap().clone()
    }

    pub(crate) fn mark_known(&self, chat: ChatId) {
        self.known.lock().unwrap().insert(chat);
    }

    fn is_known(&self, chat: ChatId) -> bool {
        self.known.lock().unwrap().contains(&chat)
    }

    pub(crate) fn set_online(&self, online: bool) {
        if self.online.swap(online, Ordering::SeqCst) != online {
            self.emit(ClientEvent::Connection { online });
        }
    }

    pub(crate) async fn emit_chat(&self, chat: ChatId) {
        if let Ok(Some(rec)) = self.store.chat(chat).await {
            self.emit(ClientEvent::ChatUpdated { chat: rec });
        }
    }

    async fn set_state(
        &self,
        chat: ChatId,
        state: SyncState,
        needs_resync: Option<bool>,
    ) -> Result<()> {
        self.store.set_sync(chat, state, needs_resync).await?;
        self.emit(ClientEvent::SyncStateChanged {
            chat_id: chat,
            state,
        });
        Ok(())
    }

    /// `GET /v1/chats` into the store; returns the chats that moved vs the store (new
    /// messages, or changes past our cursor) plus those flagged `needs_resync`.
    pub(crate) async fn refresh_chats(self: &Arc<Self>) -> Result<Vec<ChatId>> {
        if self.me().is_none()
            && let Ok(me) = self.api.me().await
        {
            let _ = self.store.set_meta("me", me.user_id.as_str()).await;
            *self.me.lock().unwrap() = Some(me.user_id);
        }
        let list = self.api.chats().await?;
        let before = self.store.upsert_summaries(&list.chats).await?;
        let flagged: HashSet<ChatId> = self
            .store
            .chats_needing_resync()
            .await?
            .into_iter()
            .collect();
        let mut moved = Vec::new();
        for (s, old) in before {
            self.mark_known(s.id);
            let is_moved = match &old {
                None => s.last_seq > 0,
                Some(o) => s.last_seq > o.local_max.unwrap_or(0) || s.rev > o.changes_cursor,
            };
            if is_moved || flagged.contains(&s.id) {
                moved.push(s.id);
            }
            self.emit_chat(s.id).await;
        }
        Ok(moved)
    }

    /// After the server position is known: validate (rule 4) and resync if partial.
    pub(crate) async fn validate_and_sync(self: &Arc<Self>, chat: ChatId) -> Result<()> {
        let Some(rec) = self.store.chat(chat).await? else {
            return Ok(());
        };
        let runs = self.store.runs(chat).await?;
        if rec.needs_resync || is_partial(&runs, rec.server_last_seq) {
            if rec.sync_state != SyncState::Syncing {
                self.set_state(chat, SyncState::OutOfSync, Some(true))
                    .await?;
            }
            resync(self, chat).await?;
        } else if rec.sync_state != SyncState::InSync {
            self.set_state(chat, SyncState::InSync, None).await?;
        }
        Ok(())
    }

    /// Applies one server answer to a mutation (send/edit/delete) and emits.
    async fn apply_mutation(
        &self,
        chat: ChatId,
        resp: &roost_proto::MessageResponse,
    ) -> Result<IngestResult> {
        let mut opts = IngestOptions::new(mutation_cursor_rule(resp));
        opts.position = Some(Position {
            last_seq: resp.last_seq,
            rev: resp.rev,
        });
        opts.me = self.me();
        let res = self
            .store
            .ingest(chat, std::slice::from_ref(&resp.message), &opts)
            .await?;
        self.mark_known(chat);
        if !res.changed.is_empty() {
            self.emit(ClientEvent::MessagesChanged {
                chat_id: chat,
                seqs: res.changed.clone(),
            });
        }
        self.emit_chat(chat).await;
        Ok(res)
    }

    /// Delivers pending outbox entries, oldest first. Stops at the first transient failure.
    pub(crate) async fn flush_outbox(self: &Arc<Self>) -> Result<FlushReport> {
        let _one = self.outbox_lock.lock().await;
        let mut report = FlushReport::default();
        let entries = self.store.outbox(None).await?;
        let mut iter = entries
            .into_iter()
            .filter(|e| e.state == OutboxState::Pending);
        while let Some(entry) = iter.next() {
            self.store
                .outbox_set_state(&entry.local_id, OutboxState::Sending, None)
                .await?;
            self.emit(ClientEvent::OutboxChanged {
                entry: OutboxEntry {
                    state: OutboxState::Sending,
                    attempts: entry.attempts + 1,
                    ..entry.clone()
                },
                message: None,
            });
            let req = SendRequest {
                idempotency_key: entry.idempotency_key.clone(),
                body: entry.body.clone(),
            };
            match self.api.send(entry.chat_id, &req).await {
                Ok(resp) => {
                    let mut opts = IngestOptions::new(mutation_cursor_rule(&resp));
                    opts.position = Some(Position {
                        last_seq: resp.last_seq,
                        rev: resp.rev,
                    });
                    opts.me = self.me();
                    let res = self
                        .store
                        .outbox_delivered(&entry.local_id, &resp.message, &opts)
                        .await?;
                    self.mark_known(entry.chat_id);
                    self.emit(ClientEvent::OutboxChanged {
                        entry: OutboxEntry {
                            state: OutboxState::Delivered,
                            ..entry.clone()
                        },
                        message: Some(resp.message.clone()),
                    });
                    if !res.changed.is_empty() {
                        self.emit(ClientEvent::MessagesChanged {
                            chat_id: entry.chat_id,
                            seqs: res.changed,
                        });
                    }
                    self.emit_chat(entry.chat_id).await;
                    report.delivered.push(Delivered {
                        local_id: entry.local_id.clone(),
                        message: resp.message,
                    });
                }
                Err(e) if !e.is_definite_rejection() => {
                    tracing::info!(local_id = %entry.local_id, error = %e, "outbox: send failed, will retry");
                    let msg = e.to_string();
                    self.store
                        .outbox_set_state(&entry.local_id, OutboxState::Pending, Some(&msg))
                        .await?;
                    self.emit(ClientEvent::OutboxChanged {
                        entry: OutboxEntry {
                            state: OutboxState::Pending,
                            last_error: Some(msg),
                            ..entry
                        },
                        message: None,
                    });
                    report.pending = 1 + iter.count();
                    return if report.delivered.is_empty() && report.failed.is_empty() {
                        Err(e)
                    } else {
                        Ok(report)
                    };
                }
                Err(e) => {
                    tracing::warn!(local_id = %entry.local_id, error = %e, "outbox: send rejected permanently");
                    let msg = e.to_string();
                    self.store
                        .outbox_set_state(&entry.local_id, OutboxState::Failed, Some(&msg))
                        .await?;
                    let failed = OutboxEntry {
                        state: OutboxState::Failed,
                        last_error: Some(msg),
                        ..entry
                    };
                    self.emit(ClientEvent::OutboxChanged {
                        entry: failed.clone(),
                        message: None,
                    });
                    report.failed.push(failed);
                }
            }
        }
        Ok(report)
    }
}

/// The outbox worker: delivers on notification (send, retry, reconnect) and retries transient
/// failures with exponential backoff and jitter.
async fn outbox_worker(inner: Arc<Inner>) {
    let builder = backon::ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(200))
        .with_max_delay(Duration::from_secs(30))
        .with_jitter()
        .without_max_times();
    let mut backoff = builder.build();
    loop {
        match inner.flush_outbox().await {
            Ok(r) if r.pending == 0 => {
                backoff = builder.build();
                inner.outbox_notify.notified().await;
            }
            Ok(_) | Err(_) => {
                let delay = backoff.next().unwrap_or(Duration::from_secs(30));
                tokio::select! {
                    _ = tokio::time::sleep(delay) => {}
                    _ = inner.outbox_notify.notified() => {}
                }
            }
        }
    }
}

/// Single-flight entry point: joins the running resync of `chat` or starts one (in its own
/// task, so a caller that goes away does not cancel it).
pub(crate) async fn resync(inner: &Arc<Inner>, chat: ChatId) -> Result<ResyncReport> {
    single_flight(
        inner,
        |inner| &inner.inflight,
        chat,
        |inner| async move { run_resync(&inner, chat).await },
    )
    .await
}

/// Joins the running job of `chat` in `table` or starts `job` in its own task (so a caller that
/// goes away does not cancel it); the entry is removed when the job ends. The join happens
/// before any `await`, so two triggers can never both start.
async fn single_flight<T, Job, Fut>(
    inner: &Arc<Inner>,
    table: fn(&Inner) -> &InflightTable<T>,
    chat: ChatId,
    job: Job,
) -> Result<T>
where
    T: Clone + Send + Sync + 'static,
    Job: FnOnce(Arc<Inner>) -> Fut,
    Fut: std::future::Future<Output = Result<T>> + Send + 'static,
{
    let fut = {
        let mut map = table(inner).lock().unwrap();
        if let Some(f) = map.get(&chat) {
            f.clone()
        } else {
            let task_inner = inner.clone();
            let running = job(inner.clone());
            let handle = inner.spawn(async move {
                let r = running.await;
                table(&task_inner).lock().unwrap().remove(&chat);
                r
            });
            let f = async move { handle.await.unwrap_or(Err(Error::Shutdown)) }
                .boxed()
                .shared();
            map.insert(chat, f.clone());
            f
        }
    };
    fut.await
}

/// Fetch state of one resync: emits FetchStarted once, before the first missing-seq fetch.
struct FetchScope<'a> {
    inner: &'a Inner,
    chat: ChatId,
    started: bool,
    fetched: u64,
}

impl FetchScope<'_> {
    async fn start(&mut self) -> Result<()> {
        if !self.started {
            self.started = true;
            self.inner
                .emit(ClientEvent::FetchStarted { chat_id: self.chat });
            self.inner
                .set_state(self.chat, SyncState::Syncing, Some(true))
                .await?;
        }
        Ok(())
    }
    /// Emits FetchFinished once (if a fetch started).
    fn finish(&mut self) {
        if self.started {
            self.started = false;
            self.inner.emit(ClientEvent::FetchFinished {
                chat_id: self.chat,
                fetched: self.fetched,
            });
        }
    }
}

async fn ingest_page(
    inner: &Inner,
    chat: ChatId,
    page: &MessagesPage,
    cursor: CursorRule,
    count_unread: bool,
) -> Result<IngestResult> {
    let mut opts = IngestOptions::new(cursor);
    opts.position = Some(Position {
        last_seq: page.last_seq,
        rev: page.rev,
    });
    opts.count_unread = count_unread;
    opts.me = inner.me();
    let res = inner.store.ingest(chat, &page.messages, &opts).await?;
    inner.mark_known(chat);
    if !res.changed.is_empty() {
        inner.emit(ClientEvent::MessagesChanged {
            chat_id: chat,
            seqs: res.changed.clone(),
        });
    }
    Ok(res)
}

/// Fetches `range` with forward pages of `page_size`, merging each page in one transaction.
/// Returns (messages received, first page's rev).
async fn fetch_range(
    inner: &Inner,
    api: &Api,
    chat: ChatId,
    range: SeqRange,
    count_unread: bool,
) -> Result<(u64, Option<u64>)> {
    let mut from = range.start;
    let mut received = 0;
    let mut first_rev = None;
    loop {
        let q = RangeQuery {
            from_seq: Some(from),
            to_seq: Some(range.end),
            before_seq: None,
            limit: Some(inner.config.page_size.min(MAX_PAGE_SIZE)),
        };
        let page = api.range(chat, &q).await?;
        first_rev.get_or_insert(page.rev);
        received += page.messages.len() as u64;
        ingest_page(inner, chat, &page, CursorRule::Keep, count_unread).await?;
        match page.next_from_seq {
            Some(n) if n <= range.end && !page.messages.is_empty() => from = n,
            _ => break,
        }
    }
    Ok((received, first_rev))
}

async fn run_resync(inner: &Arc<Inner>, chat: ChatId) -> Result<ResyncReport> {
    let _permit = inner
        .sync_permits
        .acquire()
        .await
        .map_err(|_| Error::Shutdown)?;
    let (api, figs) = inner.api.scoped();
    let mut scope = FetchScope {
        inner,
        chat,
        started: false,
        fetched: 0,
    };
    let result = resync_steps(inner, &api, chat, &mut scope).await;
    scope.finish();
    let figures = figs.snapshot();
    match result {
        Ok(mut report) => {
            report.requests = figures.requests;
            report.bytes_received = figures.bytes_received;
            tracing::info!(%chat, gaps_before = report.gaps_before, gaps_after = report.gaps_after,
                fetched = report.messages_fetched, changes = report.changes_applied,
                requests = report.requests, bytes = report.bytes_received, "resync finished");
            Ok(report)
        }
        Err(e) if e.kind() == "not_found" => {
            // Not a chat of ours (or it does not exist): drop a row we only guessed at.
            let _ = inner.store.forget_empty_chat(chat).await;
            Err(e)
        }
        Err(e) => {
            tracing::info!(%chat, error = %e, "resync failed; the chat stays flagged for a later resync");
            // The flag stays set: a later resync (reconnect, next open) resumes from the store.
            let state = match inner.store.chat(chat).await {
                Ok(Some(rec)) if rec.sync_state == SyncState::Unknown => SyncState::Unknown,
                _ => SyncState::OutOfSync,
            };
            let _ = inner.set_state(chat, state, Some(true)).await;
            inner.emit_chat(chat).await;
            Err(e)
        }
    }
}

async fn resync_steps(
    inner: &Arc<Inner>,
    api: &Api,
    chat: ChatId,
    scope: &mut FetchScope<'_>,
) -> Result<ResyncReport> {
    let store = &inner.store;
    // Persist the intent first: a crash from here on resumes from the store alone. (A chat the
    // cache never heard of gets its row here; the server answers not_found if we are no member.)
    store
        .set_sync(
            chat,
            store
                .chat(chat)
                .await?
                .map_or(SyncState::Unknown, |r| r.sync_state),
            Some(true),
        )
        .await?;
    let rec = store
        .chat(chat)
        .await?
        .ok_or_else(|| Error::NotFound(format!("chat {chat}")))?;
    let runs = store.runs(chat).await?;
    let plan = sync_plan(&runs, rec.server_last_seq);
    let mut report = ResyncReport {
        chat_id: chat,
        gaps_before: plan.missing.len() + plan.newest_page as usize,
        gaps_after: 0,
        missing_before: plan.missing.iter().map(SeqRange::len).sum::<u64>()
            + if plan.newest_page {
                rec.server_last_seq.min(DEFAULT_PAGE_SIZE as u64)
            } else {
                0
            },
        messages_fetched: 0,
        changes_applied: 0,
        requests: 0,
        bytes_received: 0,
        full_reload: None,
        revalidated: None,
        state: rec.sync_state,
    };
    if let Some(reason) = &rec.full_reload_reason {
        tracing::warn!(%chat, %reason, "full resync of this chat: its cached copy was lost");
        report.full_reload = Some(reason.clone());
    }

    // 1. Changes since the cursor, restricted to the cached span.
    if let (Some(lo), Some(hi)) = (runs.first().map(|r| r.start), runs.last().map(|r| r.end)) {
        let span = SeqRange::new(lo, hi);
        let mut since = rec.changes_cursor;
        loop {
            let q = ChangesQuery {
                since_rev: since,
                min_seq: Some(lo),
                max_seq: Some(hi),
                limit: Some(inner.config.page_size.min(MAX_PAGE_SIZE)),
            };
            match api.changes(chat, &q).await? {
                ChangesResponse::Changes {
                    last_seq,
                    rev,
                    messages,
                    next_since_rev,
                    ..
                } => {
                    let mut opts = IngestOptions::new(CursorRule::Keep);
                    opts.position = Some(Position { last_seq, rev });
                    opts.me = inner.me();
                    let res = store.ingest(chat, &messages, &opts).await?;
                    inner.mark_known(chat);
                    report.changes_applied += messages.len() as u64;
                    if !res.changed.is_empty() {
                        inner.emit(ClientEvent::MessagesChanged {
                            chat_id: chat,
                            seqs: res.changed,
                        });
                    }
                    match next_since_rev {
                        Some(n) if n > since => since = n,
                        Some(_) => {
                            return Err(Error::ProtocolViolation(
                                "changes cursor does not advance".into(),
                            ));
                        }
                        None => {
                            store.advance_cursor_after_changes(chat, span, rev).await?;
                            break;
                        }
                    }
                }
                ChangesResponse::TooOld {
                    last_seq,
                    rev,
                    oldest_since_rev,
                    ..
                } => {
                    let reason = format!(
                        "changes journal starts at rev {oldest_since_rev}, our cursor is {since}: re-validating the {} cached run(s) with the range endpoint",
                        runs.len()
                    );
                    tracing::warn!(%chat, %reason, "changes too old");
                    store
                        .record_position(chat, Position { last_seq, rev })
                        .await?;
                    report.revalidated = Some(reason);
                    let mut first_rev = None;
                    for run in &runs {
                        let (n, r) = fetch_range(inner, api, chat, *run, false).await?;
                        report.changes_applied += n;
                        if first_rev.is_none() {
                            first_rev = r;
                        }
                    }
                    if let Some(r) = first_rev {
                        store.set_cursor(chat, r).await?;
                    }
                    break;
                }
            }
        }
    }

    // 2–3. Fetch only what is missing (recomputed: changes may have filled some). A few rounds
    // pick up messages created while we fetch.
    for _round in 0..3 {
        let rec = store
            .chat(chat)
            .await?
            .ok_or_else(|| Error::NotFound(format!("chat {chat}")))?;
        let runs = store.runs(chat).await?;
        let plan = sync_plan(&runs, rec.server_last_seq);
        if runs.is_empty() {
            // Empty cache: the newest page only; older history loads on demand. Asked even when
            // the chat was last seen empty: a resync re-validates against the server, and the
            // answer for an empty chat is one small page.
            scope.start().await?;
            let q = RangeQuery {
                limit: Some(DEFAULT_PAGE_SIZE),
                ..Default::default()
            };
            let page = api.range(chat, &q).await?;
            report.messages_fetched += page.messages.len() as u64;
            scope.fetched += page.messages.len() as u64;
            ingest_page(inner, chat, &page, CursorRule::Snapshot(page.rev), false).await?;
            if page.messages.is_empty() {
                break;
            }
            continue;
        }
        if plan.missing.is_empty() {
            break;
        }
        scope.start().await?;
        // Exactly the missing seqs: scattered gaps packed into `seqs` lists of up to a page
        // each (a long gap is split across lists), each list one request, merged in one
        // transaction.
        let page = inner.config.page_size.clamp(1, MAX_PAGE_SIZE) as u64;
        for batch in ranges::pack_batches(&plan.missing, page, MAX_SEQ_RANGES_PER_REQUEST) {
            let page = api.listed(chat, &batch).await?;
            let n = page.messages.len() as u64;
            ingest_page(inner, chat, &page, CursorRule::Keep, true).await?;
            report.messages_fetched += n;
            scope.fetched += n;
        }
    }

    scope.finish();
    // 4. Re-validate; clear OUT_OF_SYNC only if it passes.
    let partial = store.finish_resync(chat).await?;
    let rec = store
        .chat(chat)
        .await?
        .ok_or_else(|| Error::NotFound(format!("chat {chat}")))?;
    let runs = store.runs(chat).await?;
    report.gaps_after = sync_plan(&runs, rec.server_last_seq).missing.len();
    report.state = if partial {
        SyncState::OutOfSync
    } else {
        SyncState::InSync
    };
    inner.emit(ClientEvent::SyncStateChanged {
        chat_id: chat,
        state: report.state,
    });
    inner.emit(ClientEvent::ChatUpdated { chat: rec });
    Ok(report)
}

/// `before_seq = local_min` (or the newest page for an empty cache), one page, merged in one
/// transaction; FetchStarted/FetchFinished around it.
/// How a mutation's answer moves the changes cursor. The answer carries the chat's *current*
/// rev; only when that rev is this mutation's own (`message.rev == rev`) is it one committed
/// mutation right after what we know. A replayed send (or deleting a tombstone) answers with an
/// older message rev: treating the chat's rev as ours would step the cursor over an edit we
/// never saw, and that message would stay stale forever.
fn mutation_cursor_rule(resp: &roost_proto::MessageResponse) -> CursorRule {
    if resp.message.rev == resp.rev {
        CursorRule::Event(resp.rev)
    } else {
        CursorRule::Keep
    }
}

/// Single-flight like [`resync`]: concurrent calls for one chat share one fetch.
async fn load_older(inner: &Arc<Inner>, chat: ChatId) -> Result<LoadOlderReport> {
    single_flight(
        inner,
        |inner| &inner.older_inflight,
        chat,
        |inner| async move { run_load_older(&inner, chat).await },
    )
    .await
}

async fn run_load_older(inner: &Arc<Inner>, chat: ChatId) -> Result<LoadOlderReport> {
    let runs = inner.store.runs(chat).await?;
    let (api, figs) = inner.api.scoped();
    let before = runs.first().map(|r| r.start);
    if before == Some(1) {
        return Ok(LoadOlderReport {
            chat_id: chat,
            fetched: 0,
            reached_start: true,
            requests: 0,
            bytes_received: 0,
        });
    }
    let mut scope = FetchScope {
        inner,
        chat,
        started: true,
        fetched: 0,
    };
    inner.emit(ClientEvent::FetchStarted { chat_id: chat });
    let q = RangeQuery {
        before_seq: before,
        limit: Some(DEFAULT_PAGE_SIZE),
        ..Default::default()
    };
    let result = async {
        let page = api.range(chat, &q).await?;
        let cursor = if before.is_none() {
            CursorRule::Snapshot(page.rev)
        } else {
            CursorRule::Keep
        };
        ingest_page(inner, chat, &page, cursor, false).await?;
        Ok::<_, Error>(page.messages.len() as u64)
    }
    .await;
    scope.fetched = *result.as_ref().unwrap_or(&0);
    scope.finish();
    let fetched = result?;
    inner.emit_chat(chat).await;
    let runs = inner.store.runs(chat).await?;
    let f = figs.snapshot();
    Ok(LoadOlderReport {
        chat_id: chat,
        fetched,
        reached_start: runs.first().is_some_and(|r| r.start == 1),
        requests: f.requests,
        bytes_received: f.bytes_received,
    })
}

impl Client {
    /// Opens (or creates) the cache and prepares the engine. Never touches the network itself;
    /// with `background` on, interrupted resyncs are resumed and the outbox is delivered in the
    /// background. A corrupt cache file is moved aside and reported in [`OpenInfo`].
    pub async fn open(config: ClientConfig) -> Result<(Client, OpenInfo)> {
        let (store, corruption) = Store::open(&config.cache_path).await?;
        let mut repaired = Vec::new();
        for chat in store.inconsistent_chats().await? {
            if store.rebuild_runs(chat).await? {
                tracing::warn!(%chat, "cached runs index disagreed with the cached messages: rebuilt it");
                repaired.push(chat);
            }
        }
        store.reset_session().await?;
        let mut api_config = ApiConfig::new(&config.server_url, &config.token);
        api_config.request_timeout = config.request_timeout;
        let api = Api::new(api_config)?;
        let me = match &config.user_id {
            Some(u) => Some(u.clone()),
            None => store.meta("me").await?.map(UserId),
        };
        let (events, _) = broadcast::channel(4096);
        let inner = Arc::new(Inner {
            store,
            api,
            events,
            inflight: Mutex::new(HashMap::new()),
            older_inflight: Mutex::new(HashMap::new()),
            sync_permits: Semaphore::new(config.max_concurrent_syncs.max(1)),
            me: Mutex::new(me),
            known: Mutex::new(HashSet::new()),
            tasks: Mutex::new(Vec::new()),
            online: AtomicBool::new(false),
            outbox_notify: Notify::new(),
            outbox_lock: tokio::sync::Mutex::new(()),
            stream_running: AtomicBool::new(false),
            config,
        });
        let resumable = inner.store.chats_needing_resync().await?;
        if inner.config.background {
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
            cache_path: inner.store.path().to_path_buf(),
            corruption,
            repaired_chats: repaired,
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
        self.inner.events.subscribe()
    }

    /// The path of the cache file.
    pub fn cache_path(&self) -> PathBuf {
        self.inner.store.path().to_path_buf()
    }

    /// The signed-in user, when known.
    pub fn me(&self) -> Option<UserId> {
        self.inner.me()
    }

    /// Requests and response bytes since this client was created.
    pub fn figures(&self) -> FiguresSnapshot {
        self.inner.api.figures()
    }

    /// Whether the stream is currently connected.
    pub fn is_online(&self) -> bool {
        self.inner.online.load(Ordering::SeqCst)
    }

    /// Cached chats, most recent first (no network).
    pub async fn chats(&self) -> Result<Vec<ChatRecord>> {
        self.inner.store.chats().await
    }

    /// One cached chat (no network).
    pub async fn chat(&self, chat: ChatId) -> Result<Option<ChatRecord>> {
        self.inner.store.chat(chat).await
    }

    /// A chat id, or the exact title of a cached chat.
    pub async fn resolve_chat(&self, id_or_title: &str) -> Result<ChatId> {
        if let Ok(id) = ChatId::from_str(id_or_title) {
            return Ok(id);
        }
        let ids = self.inner.store.chats_titled(id_or_title).await?;
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
        self.inner.refresh_chats().await
    }

    /// Connects the WebSocket stream (idempotent): every incoming message is cached at once;
    /// after every (re)connect one chat-list request finds the chats that moved and only those
    /// are resynced; pending sends are delivered.
    pub fn start_stream(&self) {
        if !self.inner.stream_running.swap(true, Ordering::SeqCst) {
            self.inner.spawn(crate::stream::run(self.inner.clone()));
        }
    }

    /// Renders a chat from the cache alone (never awaits the network) and marks it open
    /// (unread reset). With `background` on, validation — and a resync if the chat is partial —
    /// then runs in the background once the chat's server position is known.
    pub async fn open_chat(&self, chat: ChatId, anchor: Anchor, limit: u32) -> Result<ChatWindow> {
        // Read first; write the open flag only when it changes (re-opening an open chat with
        // nothing unread costs no write transaction). A chat never cached gets its row here.
        let mut window = match self.window(chat, anchor, limit).await {
            Err(Error::NotFound(_)) => {
                self.inner.store.set_open(chat, true).await?;
                self.window(chat, anchor, limit).await?
            }
            other => other?,
        };
        if !window.chat.is_open || window.chat.unread_count > 0 {
            self.inner.store.set_open(chat, true).await?;
            window.chat.is_open = true;
            window.chat.unread_count = 0;
        }
        self.inner.emit(ClientEvent::ChatUpdated {
            chat: window.chat.clone(),
        });
        if self.inner.config.background {
            let inner = self.inner.clone();
            self.inner.spawn(async move {
                if !inner.is_known(chat)
                    && let Err(e) = inner.refresh_chats().await
                {
                    tracing::debug!(%chat, error = %e, "chat position unknown (offline?); validation waits");
                    return;
                }
                if let Err(e) = inner.validate_and_sync(chat).await {
                    tracing::debug!(%chat, error = %e, "background validation/resync failed");
                    return;
                }
                // The first screen shows an OlderHistory skeleton with room to spare: fill it
                // with one page now (what a UI would ask for as soon as the skeleton is visible).
                if matches!(anchor, Anchor::Newest)
                    && let Ok(runs) = inner.store.runs(chat).await
                    && runs.first().is_some_and(|r| r.start > 1)
                    && ranges::cached_count(&runs) < limit as u64
                    && let Err(e) = load_older(&inner, chat).await
                {
                    tracing::debug!(%chat, error = %e, "loading the first page of older history failed");
                }
            });
        }
        Ok(window)
    }

    /// Marks a chat closed (new messages count as unread again).
    pub async fn close_chat(&self, chat: ChatId) -> Result<()> {
        self.inner.store.set_open(chat, false).await?;
        self.inner.emit_chat(chat).await;
        Ok(())
    }

    /// The cached window of a chat without marking it open and without any network activity.
    pub async fn window(&self, chat: ChatId, anchor: Anchor, limit: u32) -> Result<ChatWindow> {
        let store = &self.inner.store;
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
            Anchor::Around(seq) => {
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
        self.inner.store.messages_between(chat, lo, hi).await
    }

    /// Cached runs and missing ranges of a chat (no network).
    pub async fn cache_map(&self, chat: ChatId) -> Result<CacheMap> {
        let rec = self
            .inner
            .store
            .chat(chat)
            .await?
            .ok_or_else(|| Error::NotFound(format!("chat {chat} is not cached")))?;
        let runs = self.inner.store.runs(chat).await?;
        Ok(ranges::cache_map(&runs, rec.server_last_seq))
    }

    /// Chat-scoped incremental resync (the Resync button): changes since the cursor over the
    /// cached span, then only the missing seqs, merge, re-validate. A second call while one runs
    /// joins it (same report).
    pub async fn resync(&self, chat: ChatId) -> Result<ResyncReport> {
        // No await before joining: a trigger arriving while a resync runs always joins it.
        resync(&self.inner, chat).await
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
        let entry = self
            .inner
            .store
            .outbox_add(chat, serde_json::json!({ "text": text }))
            .await?;
        self.inner.emit(ClientEvent::OutboxChanged {
            entry: entry.clone(),
            message: None,
        });
        self.inner.outbox_notify.notify_one();
        Ok(entry)
    }

    /// Delivers every pending outbox entry now. `Err` (offline) when nothing could be sent.
    pub async fn flush_outbox(&self) -> Result<FlushReport> {
        self.inner.flush_outbox().await
    }

    /// Unsent messages (pending, sending, failed), of one chat or all.
    pub async fn outbox(&self, chat: Option<ChatId>) -> Result<Vec<OutboxEntry>> {
        self.inner.store.outbox(chat).await
    }

    /// Puts a failed outbox entry back to pending (same idempotency key) and wakes delivery.
    pub async fn retry_failed(&self, local_id: &str) -> Result<OutboxEntry> {
        let entry = self
            .inner
            .store
            .outbox_entry(local_id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("outbox entry {local_id}")))?;
        self.inner
            .store
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
        self.inner.outbox_notify.notify_one();
        Ok(entry)
    }

    /// Edits a message on the server (error when offline) and merges the result.
    pub async fn edit(&self, chat: ChatId, message: MessageId, text: &str) -> Result<Message> {
        let req = EditRequest {
            body: serde_json::json!({ "text": text }),
            expected_version: None,
        };
        let resp = self.inner.api.edit(chat, message, &req).await?;
        self.inner.apply_mutation(chat, &resp).await?;
        Ok(resp.message)
    }

    /// Deletes (tombstones) a message on the server (error when offline) and merges the result.
    pub async fn delete(&self, chat: ChatId, message: MessageId) -> Result<Message> {
        let resp = self.inner.api.delete(chat, message).await?;
        self.inner.apply_mutation(chat, &resp).await?;
        Ok(resp.message)
    }

    /// Stops every background task (stream, outbox worker, running resyncs) and closes the
    /// cache. Work already committed stays; interrupted resyncs stay flagged.
    pub async fn shutdown(&self) {
        self.inner.abort_tasks();
        self.inner.store.close().await;
    }
}
