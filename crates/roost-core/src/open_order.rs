//! Which of a UI's opens and closes of a chat takes effect: the latest it asked for.
//!
//! A UI switching chats fast asks to close one chat and open another many times a second, and
//! a shell that answers each request as a task of its own runs them concurrently: without an
//! order, a close could land before the open it followed and leave that chat open (its new
//! messages counted as read) behind the chat on screen. The receiver numbers the requests as
//! they arrive, in the order the UI made them ([`RequestOrder`]); the engine applies a request
//! only if no later one for the same chat was applied already ([`OpenOrders::admit`]), and
//! holds the chat's turn ([`OpenOrders::turn`]) while it writes, so check and write are one step.

use roost_proto::ChatId;
use std::collections::HashMap;

/// Where an open or a close of a chat stands among a UI's requests: numbered by whoever
/// receives them in the order the UI made them (the desktop shell, as each arrives).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RequestOrder(pub u64);

/// The latest applied open or close per chat, behind one lock that is held across the write.
#[derive(Debug, Default)]
pub(crate) struct OpenOrders {
    applied: tokio::sync::Mutex<HashMap<ChatId, RequestOrder>>,
}

/// The right to change one chat's open flag; the map is locked while it is held.
pub(crate) struct Turn<'a> {
    applied: tokio::sync::MutexGuard<'a, HashMap<ChatId, RequestOrder>>,
}

impl OpenOrders {
    /// Waits for the right to change an open flag (one change at a time for the whole client:
    /// these are a user's clicks, not a stream).
    pub(crate) async fn turn(&self) -> Turn<'_> {
        Turn {
            applied: self.applied.lock().await,
        }
    }
}

impl Turn<'_> {
    /// Whether a request of `order` for `chat` takes effect (no later one was applied; an
    /// unnumbered request always does and leaves the order as it was), recording it if so.
    pub(crate) fn admit(&mut self, chat: ChatId, order: Option<RequestOrder>) -> bool {
        let Some(order) = order else {
            return true;
        };
        if self.applied.get(&chat).is_some_and(|last| *last > order) {
            return false;
        }
        self.applied.insert(chat, order);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_request_older_than_the_last_applied_one_of_its_chat_is_refused() {
        let orders = OpenOrders::default();
        let (a, b) = (
            ChatId(uuid::Uuid::from_u128(1)),
            ChatId(uuid::Uuid::from_u128(2)),
        );
        let mut turn = orders.turn().await;
        assert!(turn.admit(a, Some(RequestOrder(5))));
        assert!(!turn.admit(a, Some(RequestOrder(4))), "older than 5");
        assert!(
            turn.admit(a, Some(RequestOrder(5))),
            "the same request again"
        );
        assert!(
            turn.admit(b, Some(RequestOrder(1))),
            "another chat has its own order"
        );
        assert!(turn.admit(a, None), "unnumbered");
        assert!(
            !turn.admit(a, Some(RequestOrder(3))),
            "unnumbered left the order at 5"
        );
        assert!(turn.admit(a, Some(RequestOrder(6))));
    }
}
