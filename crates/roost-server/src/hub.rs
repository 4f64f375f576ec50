//! The in-process stream hub: one tokio broadcast channel whose items carry a chat's member
//! list and the pre-serialised frame. Each WebSocket connection ([`crate::http::stream`])
//! forwards only the items addressed to its user, so a non-member never sees an event. What
//! feeds the hub is the service (SQLite: after each commit, under the write lock) or the
//! PostgreSQL listener ([`crate::fanout`]: every instance's commits, in commit order).
//!
//! A connection that falls behind (broadcast `Lagged`), or every connection when the hub's
//! feed may have lost events ([`Hub::reset`]), is closed with 1013: the client reconnects and
//! catches up through the chat list, which is cheaper and safer than buffering without bound
//! or skipping events silently.

use roost_proto::{StreamEvent, UserId};
use std::sync::Arc;
use tokio::sync::broadcast;

/// How many events a slow connection may be behind before it is closed.
const HUB_CAPACITY: usize = 4096;

/// What the hub carries.
#[derive(Debug)]
pub enum HubItem {
    /// One event for the members of one chat.
    Event {
        members: Vec<UserId>,
        frame: String,
        is_message: bool,
    },
    /// The feed may have lost events: every connection closes (1013) so its client resyncs.
    Reset { reason: &'static str },
    /// These users' tokens were revoked or rotated: each of their connections checks its own
    /// token and closes (1008) when it is no longer current.
    TokensChanged { users: Vec<UserId> },
}

#[derive(Debug, Clone)]
pub struct Hub {
    sender: broadcast::Sender<Arc<HubItem>>,
}

impl Default for Hub {
    fn default() -> Self {
        Self::new()
    }
}

impl Hub {
    pub fn new() -> Self {
        let (sender, _) = broadcast::channel(HUB_CAPACITY);
        Hub { sender }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<HubItem>> {
        self.sender.subscribe()
    }

    /// Queues `event` for every connected member. No receiver is not an error.
    pub fn publish(&self, members: Vec<UserId>, event: &StreamEvent) {
        let frame = serde_json::to_string(event).unwrap_or_default();
        let is_message = matches!(event, StreamEvent::Message { .. });
        self.publish_frame(members, frame, is_message);
    }

    /// Queues an already serialised event frame.
    pub fn publish_frame(&self, members: Vec<UserId>, frame: String, is_message: bool) {
        let _ = self.sender.send(Arc::new(HubItem::Event {
            members,
            frame,
            is_message,
        }));
    }

    /// Tells the connections of `users` that their token may have changed.
    pub fn tokens_changed(&self, users: Vec<UserId>) {
        let _ = self.sender.send(Arc::new(HubItem::TokensChanged { users }));
    }

    /// Closes every connection with 1013 (see [`HubItem::Reset`]).
    pub fn reset(&self, reason: &'static str) {
        let _ = self.sender.send(Arc::new(HubItem::Reset { reason }));
    }
}
