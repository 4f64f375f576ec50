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
use crate::store::{MembershipOutcome, MutationOutcome, Store};
use roost_proto::{ChatId, ChatSummary, MessageId, StreamEvent, UserId};
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
            config,
            write_lock: Mutex::new(()),
            shutdown,
            active_streams: Arc::new(AtomicUsize::new(0)),
            stream_slots: Arc::new(crate::http::slots::StreamSlots::default()),
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

    /// Publishes to this process's hub unless the database announces events itself.
    fn publish(&self, members: Vec<UserId>, event: &StreamEvent) {
        if !self.store.announces() {
            self.hub.publish(members, event);
        }
    }

    pub async fn create_chat(
        &self,
        creator: &UserId,
        title: &str,
        members: &[UserId],
    ) -> Result<ChatSummary, DomainError> {
        let _writer = self.writer().await;
        let chat = self
            .store
            .create_chat(creator, title, members, self.config.max_members_per_chat)
            .await?;
        self.publish(
            chat.members.clone(),
            &StreamEvent::Chat { chat: chat.clone() },
        );
        Ok(chat)
    }

    pub async fn send(
        &self,
        user: &UserId,
        chat: ChatId,
        key: &str,
        body: &serde_json::Value,
    ) -> Result<MutationOutcome, DomainError> {
        let _writer = self.writer().await;
        let outcome = self.store.send(user, chat, key, body).await?;
        self.publish_outcome(&outcome);
        Ok(outcome)
    }

    pub async fn edit(
        &self,
        user: &UserId,
        chat: ChatId,
        id: MessageId,
        body: &serde_json::Value,
        expected_version: Option<u64>,
    ) -> Result<MutationOutcome, DomainError> {
        let _writer = self.writer().await;
        let outcome = self
            .store
            .edit(user, chat, id, body, expected_version)
            .await?;
        self.publish_outcome(&outcome);
        Ok(outcome)
    }

    pub async fn delete(
        &self,
        user: &UserId,
        chat: ChatId,
        id: MessageId,
    ) -> Result<MutationOutcome, DomainError> {
        let _writer = self.writer().await;
        let outcome = self.store.delete(user, chat, id).await?;
        self.publish_outcome(&outcome);
        Ok(outcome)
    }

    /// Adds members (see [`Store::add_members`]); the chat's members hear a `chat` event.
    pub async fn add_members(
        &self,
        user: &UserId,
        chat: ChatId,
        members: &[UserId],
    ) -> Result<MembershipOutcome, DomainError> {
        let _writer = self.writer().await;
        let outcome = self
            .store
            .add_members(user, chat, members, self.config.max_members_per_chat)
            .await?;
        self.publish_membership(&outcome);
        Ok(outcome)
    }

    /// Removes a member (see [`Store::remove_member`]): it hears `removed`, the others `chat`.
    pub async fn remove_member(
        &self,
        user: &UserId,
        chat: ChatId,
        member: &UserId,
    ) -> Result<MembershipOutcome, DomainError> {
        let _writer = self.writer().await;
        let outcome = self.store.remove_member(user, chat, member).await?;
        self.publish_membership(&outcome);
        Ok(outcome)
    }

    fn publish_membership(&self, outcome: &MembershipOutcome) {
        for (to, event) in &outcome.events {
            self.publish(to.clone(), event);
        }
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

    fn publish_outcome(&self, outcome: &MutationOutcome) {
        if outcome.changed {
            self.publish(outcome.members.clone(), &outcome.event());
        }
    }
}
