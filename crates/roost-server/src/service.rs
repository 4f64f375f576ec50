//! The mutations as the server performs them: one writer at a time (a mutex held from the
//! transaction's start until its event is on the stream hub), so the stream carries events in
//! commit order, and nothing is broadcast that was not committed.

use crate::config::ServerConfig;
use crate::error::ApiError;
use crate::metrics::Metrics;
use crate::store::{MutationOutcome, Store};
use crate::stream::Hub;
use roost_proto::{ChatId, ChatSummary, MessageId, StreamEvent, UserId};
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use tokio::sync::{Mutex, watch};

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
}

impl AppCore {
    pub fn new(
        store: Store,
        metrics: Arc<Metrics>,
        config: ServerConfig,
        shutdown: watch::Receiver<bool>,
    ) -> Self {
        AppCore {
            store,
            hub: Hub::new(),
            metrics,
            config,
            write_lock: Mutex::new(()),
            shutdown,
            active_streams: Arc::new(AtomicUsize::new(0)),
        }
    }

    pub async fn create_chat(
        &self,
        creator: &UserId,
        title: &str,
        members: &[UserId],
    ) -> Result<ChatSummary, ApiError> {
        let _writer = self.write_lock.lock().await;
        let chat = self.store.create_chat(creator, title, members).await?;
        self.hub.publish(
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
    ) -> Result<MutationOutcome, ApiError> {
        let _writer = self.write_lock.lock().await;
        let outcome = self.store.send(user, chat, key, body).await?;
        self.publish(&outcome);
        Ok(outcome)
    }

    pub async fn edit(
        &self,
        user: &UserId,
        chat: ChatId,
        id: MessageId,
        body: &serde_json::Value,
        expected_version: Option<u64>,
    ) -> Result<MutationOutcome, ApiError> {
        let _writer = self.write_lock.lock().await;
        let outcome = self
            .store
            .edit(user, chat, id, body, expected_version)
            .await?;
        self.publish(&outcome);
        Ok(outcome)
    }

    pub async fn delete(
        &self,
        user: &UserId,
        chat: ChatId,
        id: MessageId,
    ) -> Result<MutationOutcome, ApiError> {
        let _writer = self.write_lock.lock().await;
        let outcome = self.store.delete(user, chat, id).await?;
        self.publish(&outcome);
        Ok(outcome)
    }

    /// Bulk append without broadcasting (see [`Store::bulk_insert`]).
    pub async fn bulk_insert(
        &self,
        chat: ChatId,
        count: usize,
        make: impl FnMut(roost_proto::Seq) -> (UserId, serde_json::Value, roost_proto::UnixMillis),
    ) -> Result<Vec<roost_proto::Message>, ApiError> {
        let _writer = self.write_lock.lock().await;
        Ok(self.store.bulk_insert(chat, count, make).await?)
    }

    fn publish(&self, outcome: &MutationOutcome) {
        if !outcome.changed {
            return;
        }
        let event = StreamEvent::Message {
            chat_id: outcome.message.chat_id,
            last_seq: outcome.position.last_seq,
            rev: outcome.position.rev,
            message: outcome.message.clone(),
        };
        self.hub.publish(outcome.members.clone(), &event);
    }
}
