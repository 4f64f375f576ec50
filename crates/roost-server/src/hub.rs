//! The in-process stream hub: routes each pre-serialised event frame to the stream connections
//! of the chat's members, and only to them. Every connection ([`crate::http::stream`]) holds a
//! [`Subscription`] — a bounded queue registered under its user — so publishing costs one
//! queue push per member connection, whatever the number of other connections. (The first
//! hub was one broadcast channel that every connection read and filtered: each event woke every
//! connection, O(streams) per event, which capped a 10,000-stream server at a few sends per
//! second.) What feeds the hub is the service (SQLite: after each commit, under the write
//! lock) or the PostgreSQL listener ([`crate::fanout`]: every instance's commits, in commit
//! order); publishing never waits, so each connection's queue holds its events in that order.
//!
//! A connection that falls [`HUB_CAPACITY`] events behind, or every connection when the hub's
//! feed may have lost events ([`Hub::reset`]), is unregistered and told why: it closes with 1013
//! and its client reconnects and catches up through the chat list, which is cheaper and safer
//! than buffering without bound or skipping events silently.

use roost_proto::{StreamEvent, UserId};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use tokio::sync::mpsc;

/// How many events a slow connection may be behind before it is closed.
pub const HUB_CAPACITY: usize = 4096;

/// The reason given to a connection that fell [`HUB_CAPACITY`] events behind.
pub const LAGGED: &str = "lagged behind; reconnect and resync";

/// What the hub queues for a connection.
#[derive(Debug)]
pub enum HubItem {
    /// One event for the members of one chat: the frame as sent on the wire.
    Event {
        frame: String,
        /// A `message` event (counted in the stream's message figures).
        is_message: bool,
    },
    /// The connection's user had a token revoked or rotated: the connection checks its own
    /// token and closes (1008) when it is no longer current.
    TokensChanged,
}

/// What a [`Subscription`] yields.
#[derive(Debug)]
pub enum Received {
    Event(Arc<HubItem>),
    /// The hub dropped this connection (it lagged, or the feed was reset): close with 1013.
    Closed {
        reason: &'static str,
    },
}

/// One registered connection, as the hub sees it.
#[derive(Debug)]
struct Registered {
    id: u64,
    queue: mpsc::Sender<Arc<HubItem>>,
    /// Set (once) when the hub drops the connection, with the reason.
    dropped: Arc<OnceLock<&'static str>>,
}

#[derive(Debug, Default)]
struct Registry {
    by_user: Mutex<HashMap<UserId, Vec<Registered>>>,
    next_id: AtomicU64,
}

impl Registry {
    fn connections(&self) -> std::sync::MutexGuard<'_, HashMap<UserId, Vec<Registered>>> {
        // A panic while holding the lock cannot leave the map half-changed in a way that
        // matters (each change is one push/retain), so a poisoned lock is still usable.
        self.by_user
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[derive(Debug, Clone, Default)]
pub struct Hub {
    registry: Arc<Registry>,
}

impl Hub {
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers a connection of `user`: from now on it receives every event published to a
    /// member list naming `user`. Dropping the subscription unregisters it.
    pub fn subscribe(&self, user: &UserId) -> Subscription {
        let (queue, receiver) = mpsc::channel(HUB_CAPACITY);
        let dropped = Arc::new(OnceLock::new());
        let id = self.registry.next_id.fetch_add(1, Ordering::Relaxed);
        self.registry
            .connections()
            .entry(user.clone())
            .or_default()
            .push(Registered {
                id,
                queue,
                dropped: dropped.clone(),
            });
        Subscription {
            receiver,
            dropped,
            registry: self.registry.clone(),
            user: user.clone(),
            id,
        }
    }

    /// Queues `event` for every connected member. No connection is not an error.
    pub fn publish(&self, members: Vec<UserId>, event: &StreamEvent) {
        let frame = serde_json::to_string(event).unwrap_or_default();
        let is_message = matches!(event, StreamEvent::Message { .. });
        self.publish_frame(members, frame, is_message);
    }

    /// Queues an already serialised event frame for the connections of `members`.
    pub fn publish_frame(&self, members: Vec<UserId>, frame: String, is_message: bool) {
        self.push(&members, Arc::new(HubItem::Event { frame, is_message }));
    }

    /// Tells the connections of `users` that their token may have changed.
    pub fn tokens_changed(&self, users: Vec<UserId>) {
        self.push(&users, Arc::new(HubItem::TokensChanged));
    }

    /// Queues `item` for every connection of `users`; a full queue drops its connection.
    fn push(&self, users: &[UserId], item: Arc<HubItem>) {
        let mut connections = self.registry.connections();
        for member in users {
            let Some(registered) = connections.get_mut(member) else {
                continue;
            };
            registered.retain(|connection| match connection.queue.try_send(item.clone()) {
                Ok(()) => true,
                Err(mpsc::error::TrySendError::Full(_)) => {
                    let _ = connection.dropped.set(LAGGED);
                    false
                }
                Err(mpsc::error::TrySendError::Closed(_)) => false,
            });
            if registered.is_empty() {
                connections.remove(member);
            }
        }
    }

    /// Drops every connection with `reason` (they close with 1013): the feed may have lost
    /// events. Connections registered afterwards are not affected.
    pub fn reset(&self, reason: &'static str) {
        let dropped: Vec<Registered> = self
            .registry
            .connections()
            .drain()
            .flat_map(|(_, connections)| connections)
            .collect();
        for connection in dropped {
            let _ = connection.dropped.set(reason);
        }
    }

    /// Connections registered now (for tests and figures).
    pub fn connection_count(&self) -> usize {
        self.registry.connections().values().map(Vec::len).sum()
    }
}

/// A connection's queue of events (see [`Hub::subscribe`]).
#[derive(Debug)]
pub struct Subscription {
    receiver: mpsc::Receiver<Arc<HubItem>>,
    dropped: Arc<OnceLock<&'static str>>,
    registry: Arc<Registry>,
    user: UserId,
    id: u64,
}

impl Subscription {
    /// The next event, or why the hub dropped this connection. A dropped connection learns it
    /// before any event still queued: its client resyncs anyway.
    pub async fn recv(&mut self) -> Received {
        if let Some(reason) = self.dropped.get() {
            return Received::Closed { reason };
        }
        match self.receiver.recv().await {
            Some(item) => match self.dropped.get() {
                Some(reason) => Received::Closed { reason },
                None => Received::Event(item),
            },
            None => Received::Closed {
                reason: self.dropped.get().copied().unwrap_or(LAGGED),
            },
        }
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let mut connections = self.registry.connections();
        if let Some(registered) = connections.get_mut(&self.user) {
            registered.retain(|connection| connection.id != self.id);
            if registered.is_empty() {
                connections.remove(&self.user);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(name: &str) -> UserId {
        UserId::new(name)
    }

    async fn frame_of(subscription: &mut Subscription) -> String {
        match subscription.recv().await {
            Received::Event(item) => match item.as_ref() {
                HubItem::Event { frame, .. } => frame.clone(),
                HubItem::TokensChanged => "tokens changed".into(),
            },
            Received::Closed { reason } => panic!("closed: {reason}"),
        }
    }

    #[tokio::test]
    async fn token_changes_reach_only_the_named_users_connections_in_order() {
        let hub = Hub::new();
        let mut alice = hub.subscribe(&user("alice"));
        let mut bob = hub.subscribe(&user("bob"));
        hub.publish_frame(vec![user("alice"), user("bob")], "one".into(), true);
        hub.tokens_changed(vec![user("alice")]);
        hub.publish_frame(vec![user("alice"), user("bob")], "two".into(), true);
        assert_eq!(frame_of(&mut alice).await, "one");
        assert_eq!(frame_of(&mut alice).await, "tokens changed");
        assert_eq!(frame_of(&mut alice).await, "two");
        assert_eq!(frame_of(&mut bob).await, "one");
        assert_eq!(frame_of(&mut bob).await, "two");
    }

    #[tokio::test]
    async fn events_reach_every_connection_of_the_members_only_in_publish_order() {
        let hub = Hub::new();
        let mut alice_laptop = hub.subscribe(&user("alice"));
        let mut alice_phone = hub.subscribe(&user("alice"));
        let mut carol = hub.subscribe(&user("carol"));
        hub.publish_frame(vec![user("alice"), user("bob")], "one".into(), true);
        hub.publish_frame(vec![user("carol")], "for carol".into(), true);
        hub.publish_frame(vec![user("alice")], "two".into(), true);
        for connection in [&mut alice_laptop, &mut alice_phone] {
            assert_eq!(frame_of(connection).await, "one");
            assert_eq!(frame_of(connection).await, "two");
        }
        assert_eq!(frame_of(&mut carol).await, "for carol");
        assert!(
            carol.receiver.try_recv().is_err(),
            "carol got alice's event"
        );
    }

    #[tokio::test]
    async fn a_dropped_subscription_unregisters() {
        let hub = Hub::new();
        let first = hub.subscribe(&user("alice"));
        let _second = hub.subscribe(&user("alice"));
        assert_eq!(hub.connection_count(), 2);
        drop(first);
        assert_eq!(hub.connection_count(), 1);
    }

    #[tokio::test]
    async fn a_connection_that_falls_behind_is_closed_and_the_others_keep_receiving() {
        let hub = Hub::new();
        let mut slow = hub.subscribe(&user("alice"));
        let mut quick = hub.subscribe(&user("bob"));
        for index in 0..=HUB_CAPACITY {
            hub.publish_frame(vec![user("alice"), user("bob")], index.to_string(), true);
            assert_eq!(frame_of(&mut quick).await, index.to_string());
        }
        assert!(matches!(slow.recv().await, Received::Closed { reason } if reason == LAGGED));
        assert_eq!(hub.connection_count(), 1);
    }

    #[tokio::test]
    async fn a_reset_closes_every_connection_with_its_reason_but_not_later_ones() {
        let hub = Hub::new();
        let mut before = hub.subscribe(&user("alice"));
        hub.publish_frame(vec![user("alice")], "queued".into(), true);
        hub.reset("feed lost");
        let mut after = hub.subscribe(&user("alice"));
        hub.publish_frame(vec![user("alice")], "later".into(), true);
        assert!(
            matches!(before.recv().await, Received::Closed { reason } if reason == "feed lost")
        );
        assert_eq!(frame_of(&mut after).await, "later");
    }
}
