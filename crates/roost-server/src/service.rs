//! The mutations as the server performs them, and how their events reach the streams.
//!
//! - SQLite (one process): one writer at a time — a mutex held from the transaction's start
//!   until its event is on the hub — so the stream carries events in commit order, and nothing
//!   is published that was not committed.
//! - PostgreSQL (any number of instances): the store queues each event inside its transaction
//!   and every instance's [`crate::fanout::Listener`] publishes it after commit, in commit
//!   order; mutations of one chat serialise on the chat row's lock, other chats run in parallel,
//!   so there is no process-wide lock.

use crate::config::ServerConfig;
use crate::error::DomainError;
use crate::hub::Hub;
use crate::metrics::Metrics;
use crate::store::{Announced, MembershipOutcome, MutationOutcome, Store};
use roost_proto::{ChatId, ChatSummary, EditRequest, MessageId, SendRequest, UserId};
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use tokio::sync::{Mutex, MutexGuard, watch};

/// Everything a request handler (or a test helper) needs.
#[derive(Debug)]
pub struct AppCore {
    pub store: Store,
    pub hub: Hub,
    pub metrics: Arc<Metrics>,
    pub config: ServerConfig,
    write_lock: Mutex<()>,
    /// Flips to `true` when the server shuts down: open streams close.
    pub shutdown: watch::Receiver<bool>,
    /// Number of live stream connections (shutdown waits for them to close).
    pub active_streams: Arc<AtomicUsize>,
    /// Stream connections held per user and in all, for the connection caps.
    pub stream_slots: Arc<crate::http::slots::StreamSlots>,
    /// Per-token request budgets (reads and writes).
    pub rate_limits: crate::http::limits::RateLimits,
}

impl AppCore {
    pub fn new(
        store: Store,
        hub: Hub,
        metrics: Arc<Metrics>,
        config: ServerConfig,
        shutdown: watch::Receiver<bool>,
    ) -> Self {
        AppCore {
            store,
            hub,
            metrics,
            write_lock: Mutex::new(()),
            shutdown,
            active_streams: Arc::new(AtomicUsize::new(0)),
            stream_slots: Arc::new(crate::http::slots::StreamSlots::default()),
            rate_limits: crate::http::limits::RateLimits::new(&config),
            config,
        }
    }

    /// The in-process writer lock, when this process publishes its own events (see the
    /// module docs); `None` when the database announces them.
    async fn writer(&self) -> Option<MutexGuard<'_, ()>> {
        if self.store.announces() {
            None
        } else {
            Some(self.write_lock.lock().await)
        }
    }

    /// Runs one mutation (`op`, given the core) and publishes what it announces, on a task of
    /// its own: once started it runs to its end even when the request that asked for it is
    /// dropped (the request timeout, a client that hung up), so a commit is never cut off
    /// from its announcement. Under the writer lock on SQLite (see the module docs).
    async fn mutate<T, Op, Fut>(self: &Arc<Self>, op: Op) -> Result<T, DomainError>
    where
        T: Announced + Send + 'static,
        Op: FnOnce(Arc<AppCore>) -> Fut + Send + 'static,
        Fut: Future<Output = Result<T, DomainError>> + Send,
    {
        let app = self.clone();
        let task = tokio::spawn(async move {
            let _writer = app.writer().await;
            let outcome = op(app.clone()).await?;
            if !app.config.pause_after_commit.is_zero() {
                tokio::time::sleep(app.config.pause_after_commit).await;
            }
            if !app.store.announces() {
                for (to, event) in outcome.events() {
                    app.hub.publish(to, &event);
                }
            }
            Ok(outcome)
        });
        match task.await {
            Ok(result) => result,
            Err(error) if error.is_panic() => std::panic::resume_unwind(error.into_panic()),
            Err(error) => Err(DomainError::Internal(crate::ServerError::Io(
                std::io::Error::other(format!("mutation task ended early: {error}")),
            ))),
        }
    }

    pub async fn create_chat(
        self: &Arc<Self>,
        creator: &UserId,
        title: &str,
        members: &[UserId],
    ) -> Result<ChatSummary, DomainError> {
        let (creator, title, members) = (creator.clone(), title.to_owned(), members.to_vec());
        self.mutate(move |app| async move {
            let max = app.config.max_members_per_chat;
            app.store.create_chat(&creator, &title, &members, max).await
        })
        .await
    }

    pub async fn send(
        self: &Arc<Self>,
        user: &UserId,
        chat: ChatId,
        request: &SendRequest,
    ) -> Result<MutationOutcome, DomainError> {
        let (user, request) = (user.clone(), request.clone());
        self.mutate(move |app| async move { app.store.send(&user, chat, &request).await })
            .await
    }

    pub async fn edit(
        self: &Arc<Self>,
        user: &UserId,
        chat: ChatId,
        id: MessageId,
        request: &EditRequest,
    ) -> Result<MutationOutcome, DomainError> {
        let (user, request) = (user.clone(), request.clone());
        self.mutate(move |app| async move { app.store.edit(&user, chat, id, &request).await })
            .await
    }

    pub async fn delete(
        self: &Arc<Self>,
        user: &UserId,
        chat: ChatId,
        id: MessageId,
    ) -> Result<MutationOutcome, DomainError> {
        let user = user.clone();
        self.mutate(move |app| async move { app.store.delete(&user, chat, id).await })
            .await
    }

    /// Adds members (see [`Store::add_members`]); the chat's members hear a `chat` event.
    pub async fn add_members(
        self: &Arc<Self>,
        user: &UserId,
        chat: ChatId,
        members: &[UserId],
    ) -> Result<MembershipOutcome, DomainError> {
        let (user, members) = (user.clone(), members.to_vec());
        self.mutate(move |app| async move {
            let max = app.config.max_members_per_chat;
            app.store.add_members(&user, chat, &members, max).await
        })
        .await
    }

    /// Removes a member (see [`Store::remove_member`]): it hears `removed`, the others `chat`.
    pub async fn remove_member(
        self: &Arc<Self>,
        user: &UserId,
        chat: ChatId,
        member: &UserId,
    ) -> Result<MembershipOutcome, DomainError> {
        let (user, member) = (user.clone(), member.clone());
        self.mutate(move |app| async move { app.store.remove_member(&user, chat, &member).await })
            .await
    }

    /// Bulk append without announcing (see [`Store::bulk_insert`]).
    pub async fn bulk_insert(
        &self,
        chat: ChatId,
        count: usize,
        make: impl FnMut(roost_proto::Seq) -> (UserId, serde_json::Value, roost_proto::UnixMillis),
    ) -> Result<Vec<roost_proto::Message>, DomainError> {
        let _writer = self.writer().await;
        Ok(self.store.bulk_insert(chat, count, make).await?)
    }
}
