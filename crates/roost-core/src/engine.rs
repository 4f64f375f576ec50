//! The engine's shared state, [`Inner`]: the store, the transport, the configuration, the event
//! channel, the per-chat fetch jobs and the background tasks, behind methods (no field is seen
//! outside this module). Every other module of the engine — `client` (the public face),
//! `chat_list`, `resync`, `outbox`, `stream` — works through these methods, so none of them
//! imports another through this state and there is no import cycle among them.
//!
//! Owns single-flight per chat ([`single_flight`]): one fetch job of a chat at a time, a second
//! trigger of a running kind joins it.

use crate::api::Api;
use crate::config::ClientConfig;
use crate::error::{Error, Result};
use crate::events::{ClientEvent, LoadOlderReport, ResyncReport};
use crate::store::Store;
use crate::sync_state::{SyncInput, SyncState};
use futures_util::FutureExt;
use futures_util::future::{BoxFuture, Shared};
use roost_proto::{ChatId, UserId};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::{Notify, Semaphore, SemaphorePermit, broadcast};
use tokio::task::AbortHandle;

pub(crate) type SharedJob<T> = Shared<BoxFuture<'static, Result<T>>>;

/// The fetch jobs of one chat. One job runs at a time (a resync and a page of older history of
/// the same chat never fetch at once: one fetch window for the indicator, no interleaved
/// writes); a second trigger of a running kind joins it.
#[derive(Debug, Default)]
pub(crate) struct ChatJobs {
    pub(crate) resync: Option<SharedJob<ResyncReport>>,
    pub(crate) older: Option<SharedJob<LoadOlderReport>>,
    /// Held by the running job; a job of the other kind waits for it.
    gate: Arc<tokio::sync::Mutex<()>>,
}

#[derive(Debug)]
pub(crate) struct Inner {
    store: Store,
    api: Api,
    config: ClientConfig,
    events: broadcast::Sender<ClientEvent>,
    /// Fetch jobs per chat ([`single_flight`]).
    jobs: Mutex<HashMap<ChatId, ChatJobs>>,
    sync_permits: Semaphore,
    me: Mutex<Option<UserId>>,
    /// Chats whose server position was learnt in this session (rule 3).
    known: Mutex<HashSet<ChatId>>,
    tasks: Mutex<Vec<AbortHandle>>,
    online: AtomicBool,
    outbox_notify: Notify,
    outbox_lock: tokio::sync::Mutex<()>,
    stream_running: AtomicBool,
    /// The token is confirmed for the cache's owner (`account::bind`, or the first `GET /v1/me`
    /// of this session): until then nothing is sent or fetched.
    account_verified: AtomicBool,
    /// This process's lock on the cache file (`account::CacheLock`), released at shutdown.
    cache_lock: Mutex<Option<crate::account::CacheLock>>,
    /// The range shapes the server refused in this session (`fallback`).
    range_support: crate::fallback::RangeSupport,
    /// The latest applied open or close of each chat (`open_order`).
    open_orders: crate::open_order::OpenOrders,
}

impl Inner {
    pub(crate) fn new(
        store: Store,
        api: Api,
        config: ClientConfig,
        binding: crate::account::Binding,
        cache_lock: crate::account::CacheLock,
    ) -> Inner {
        let (events, _) = broadcast::channel(4096);
        Inner {
            store,
            api,
            events,
            jobs: Mutex::new(HashMap::new()),
            sync_permits: Semaphore::new(config.max_concurrent_syncs.max(1)),
            me: Mutex::new(binding.me),
            known: Mutex::new(HashSet::new()),
            tasks: Mutex::new(Vec::new()),
            online: AtomicBool::new(false),
            outbox_notify: Notify::new(),
            outbox_lock: tokio::sync::Mutex::new(()),
            stream_running: AtomicBool::new(false),
            account_verified: AtomicBool::new(binding.verified),
            cache_lock: Mutex::new(Some(cache_lock)),
            range_support: Default::default(),
            open_orders: Default::default(),
            config,
        }
    }

    pub(crate) fn store(&self) -> &Store {
        &self.store
    }

    pub(crate) fn api(&self) -> &Api {
        &self.api
    }

    pub(crate) fn open_orders(&self) -> &crate::open_order::OpenOrders {
        &self.open_orders
    }

    pub(crate) fn config(&self) -> &ClientConfig {
        &self.config
    }

    pub(crate) fn subscribe(&self) -> broadcast::Receiver<ClientEvent> {
        self.events.subscribe()
    }

    pub(crate) fn set_me(&self, me: UserId) {
        *self.me.lock().unwrap() = Some(me);
    }

    pub(crate) fn range_support(&self) -> &crate::fallback::RangeSupport {
        &self.range_support
    }

    pub(crate) fn account_verified(&self) -> bool {
        self.account_verified.load(Ordering::SeqCst)
    }

    pub(crate) fn set_account_verified(&self) {
        self.account_verified.store(true, Ordering::SeqCst);
    }

    /// Lets another process open the cache (after the store is closed).
    pub(crate) fn release_cache_lock(&self) {
        self.cache_lock.lock().unwrap().take();
    }

    pub(crate) fn is_online(&self) -> bool {
        self.online.load(Ordering::SeqCst)
    }

    /// Wakes the outbox worker.
    pub(crate) fn notify_outbox(&self) {
        self.outbox_notify.notify_one();
    }

    pub(crate) async fn outbox_notified(&self) {
        self.outbox_notify.notified().await
    }

    /// One outbox delivery at a time.
    pub(crate) async fn lock_outbox(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.outbox_lock.lock().await
    }

    /// `true` the first time only: the stream is started once.
    pub(crate) fn start_stream_once(&self) -> bool {
        !self.stream_running.swap(true, Ordering::SeqCst)
    }

    /// A permit of the global resync semaphore.
    pub(crate) async fn sync_permit(&self) -> Result<SemaphorePermit<'_>> {
        self.sync_permits
            .acquire()
            .await
            .map_err(|_| Error::Shutdown)
    }

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

    pub(crate) fn abort_tasks(&self) {
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

    /// Drops what this process remembers about a chat removed from the device.
    pub(crate) fn forget_chat_state(&self, chat: ChatId) {
        self.known.lock().unwrap().remove(&chat);
    }

    pub(crate) fn is_known(&self, chat: ChatId) -> bool {
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

    /// Feeds the chat's sync state machine one input (the store applies
    /// [`crate::sync_state::transition`] in one transaction) and announces the result.
    pub(crate) async fn sync_input(
        &self,
        chat: ChatId,
        input: SyncInput,
        needs_resync: Option<bool>,
    ) -> Result<SyncState> {
        let state = self.store.apply_sync(chat, input, needs_resync).await?;
        self.emit(ClientEvent::SyncStateChanged {
            chat_id: chat,
            state,
        });
        Ok(state)
    }
}

/// Joins the running job of `chat` in its `slot` or starts `job` in its own task (so a caller
/// that goes away does not cancel it); the slot is cleared when the job ends. The join happens
/// before any `await`, so two triggers can never both start. A started job first takes the
/// chat's gate: jobs of different kinds for one chat run one after the other.
pub(crate) async fn single_flight<T, Job, Fut>(
    inner: &Arc<Inner>,
    slot: fn(&mut ChatJobs) -> &mut Option<SharedJob<T>>,
    chat: ChatId,
    job: Job,
) -> Result<T>
where
    T: Clone + Send + Sync + 'static,
    Job: FnOnce(Arc<Inner>) -> Fut,
    Fut: std::future::Future<Output = Result<T>> + Send + 'static,
{
    let fut = {
        let mut jobs = inner.jobs.lock().unwrap();
        let entry = jobs.entry(chat).or_default();
        if let Some(f) = slot(entry) {
            f.clone()
        } else {
            let task_inner = inner.clone();
            let gate = entry.gate.clone();
            let running = job(inner.clone());
            let handle = inner.spawn(async move {
                let r = {
                    let _turn = gate.lock_owned().await;
                    running.await
                };
                if let Some(jobs) = task_inner.jobs.lock().unwrap().get_mut(&chat) {
                    *slot(jobs) = None;
                }
                r
            });
            let f = async move { handle.await.unwrap_or(Err(Error::Shutdown)) }
                .boxed()
                .shared();
            *slot(entry) = Some(f.clone());
            f
        }
    };
    fut.await
}
