//! Which of a UI's opens and closes of a chat takes effect: the latest it asked for.
//!
//! A UI switching chats fast asks to close one chat and open another many times a second, and
//! a shell that answers each request as a task of its own runs them concurrently: without an
//! order, a close could land before the open it followed and leave that chat open (its new
//! messages counted as read) behind the chat on screen. The receiver numbers the requests as
//! they arrive, in the order the UI made them ([`RequestOrder`]); the engine applies a request
//! only if no later one for the same chat was applied already ([`Turn::admit`]), and holds the
//! chat's turn ([`OpenOrders::turn`]) while it writes, so check and write are one step.

use roost_proto::ChatId;
use std::collections::HashMap;
use std::sync::Arc;

/// Where an open or a close of a chat stands among a UI's requests: numbered by whoever
/// receives them in the order the UI made them (the desktop shell, as each arrives).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RequestOrder(pub u64);

/// The latest applied open or close of each chat, each behind its own lock, held across the
/// write: an open of one chat never waits for a close of another (a switch's two requests).
#[derive(Debug, Default)]
pub(crate) struct OpenOrders {
    chats: std::sync::Mutex<HashMap<ChatId, Arc<tokio::sync::Mutex<Option<RequestOrder>>>>>,
}

/// The right to change one chat's open flag; the chat's order is locked while it is held.
pub(crate) struct Turn {
    applied: tokio::sync::OwnedMutexGuard<Option<RequestOrder>>,
}

impl OpenOrders {
    /// Waits for the right to change `chat`'s open flag (one change of a chat at a time).
    pub(crate) async fn turn(&self, chat: ChatId) -> Turn {
        let lock = self
            .chats
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .entry(chat)
            .or_default()
            .clone();
        Turn {
            applied: lock.lock_owned().await,
        }
    }
}

impl Turn {
    /// Whether a request of `order` takes effect (no later one of the chat was applied; an
    /// unnumbered request always does and leaves the order as it was), recording it if so.
    pub(crate) fn admit(&mut self, order: Option<RequestOrder>) -> bool {
        let Some(order) = order else {
            return true;
        };
        if self.applied.is_some_and(|last| last > order) {
            return false;
        }
        *self.applied = Some(order);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn orders_and_two_chats() -> (OpenOrders, ChatId, ChatId) {
        let chat = |n| ChatId(uuid::Uuid::from_u128(n));
        (OpenOrders::default(), chat(1), chat(2))
    }

    #[tokio::test]
    async fn a_request_older_than_the_last_applied_one_of_its_chat_is_refused() {
        let (orders, a, b) = orders_and_two_chats();
        let admit = |chat, order: Option<u64>| {
            let orders = &orders;
            async move { orders.turn(chat).await.admit(order.map(RequestOrder)) }
        };
        assert!(admit(a, Some(5)).await);
        assert!(!admit(a, Some(4)).await, "older than 5");
        assert!(admit(a, Some(5)).await, "the same request again");
        assert!(admit(b, Some(1)).await, "another chat has its own order");
        assert!(admit(a, None).await, "unnumbered");
        assert!(!admit(a, Some(3)).await, "unnumbered left the order at 5");
        assert!(admit(a, Some(6)).await);
    }

    #[tokio::test]
    async fn a_chat_s_turn_does_not_wait_for_another_chat_s() {
        let (orders, a, b) = orders_and_two_chats();
        let _held = orders.turn(a).await;
        use futures_util::FutureExt;
        let other = orders.turn(b).now_or_never();
        assert!(other.is_some(), "another chat's turn is free");
        assert!(
            orders.turn(a).now_or_never().is_none(),
            "the same chat's turn waits"
        );
    }
}
