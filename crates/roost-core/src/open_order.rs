//! Which of a UI's opens and closes of a chat takes effect: the latest it asked for.
//!
//! A UI switching chats fast asks to close one chat and open another many times a second, and
//! a shell that answers each request as a task of its own runs them concurrently: without an
//! order, a close could land before the open it followed and leave that chat open (its new
//! messages counted as read) behind the chat on screen. The receiver numbers the requests as
//! they arrive, in the order the UI made them ([`RequestOrder`]); the engine applies a request
//! only if no later one for the same chat was applied already ([`Turn::admit`]), and holds the
//! chat's turn ([`OpenOrders::turn`]) while it writes, so check and write are one step.
//!
//! The turn also keeps where the chat was read up to when it opened ([`Turn::opened`]): a
//! close that says what the UI showed of the chat ([`Turn::read_through`]) counts everything
//! else that arrived meanwhile as unread. A message that lands in the chat just as the user
//! leaves it — before the close reaches the engine — was never seen, and is not read.

use roost_proto::{ChatId, Seq};
use std::collections::HashMap;
use std::sync::Arc;

/// Where an open or a close of a chat stands among a UI's requests: numbered by whoever
/// receives them in the order the UI made them (the desktop shell, as each arrives).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RequestOrder(pub u64);

/// The open state of each chat ([`ChatOpening`]), each behind its own lock, held across the
/// write: an open of one chat never waits for a close of another (a switch's two requests).
#[derive(Debug, Default)]
pub(crate) struct OpenOrders {
    chats: std::sync::Mutex<HashMap<ChatId, Arc<tokio::sync::Mutex<ChatOpening>>>>,
}

/// What the engine remembers of one chat's opens and closes in this process.
#[derive(Debug, Default)]
pub(crate) struct ChatOpening {
    /// The latest numbered open or close applied.
    applied: Option<RequestOrder>,
    /// While the chat is open: the newest seq read when it opened (everything after it that
    /// arrived since was not counted as unread, the chat being open).
    read_at_open: Option<Seq>,
}

/// The right to change one chat's open flag; the chat's state is locked while it is held.
pub(crate) struct Turn {
    chat: tokio::sync::OwnedMutexGuard<ChatOpening>,
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
            chat: lock.lock_owned().await,
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
        if self.chat.applied.is_some_and(|last| last > order) {
            return false;
        }
        self.chat.applied = Some(order);
        true
    }

    /// The chat was marked open; before that, it had been read up to `read` (its newest seq
    /// with nothing unread).
    pub(crate) fn opened(&mut self, read: Seq) {
        self.chat.read_at_open = Some(read);
    }

    /// The chat, open already, was opened again (read up to `read` now): it keeps the mark of
    /// the open that opened it (this process's first, when it was open before it started).
    pub(crate) fn opened_again(&mut self, read: Seq) {
        self.chat.read_at_open.get_or_insert(read);
    }

    /// The chat is being closed after the UI showed it up to seq `shown` (0: nothing of it):
    /// the seq up to which it is read, after which what arrived counts as unread. `None` when
    /// there is nothing to recount: the close does not say what was shown, or this process
    /// never marked the chat open. Forgets the open's mark.
    pub(crate) fn read_through(&mut self, shown: Option<Seq>) -> Option<Seq> {
        let read = self.chat.read_at_open.take()?;
        shown.map(|shown| read.max(shown))
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
    async fn a_close_reads_the_chat_up_to_the_later_of_its_open_and_what_was_shown() {
        let (orders, a, b) = orders_and_two_chats();
        let mut turn = orders.turn(a).await;
        assert_eq!(turn.read_through(Some(7)), None, "never opened here");
        turn.opened(10);
        turn.opened_again(12);
        assert_eq!(
            turn.read_through(Some(0)),
            Some(10),
            "nothing shown: the first open's mark"
        );
        turn.opened(9);
        turn.opened(8);
        assert_eq!(
            turn.read_through(Some(0)),
            Some(8),
            "opened again after a close not seen here"
        );
        assert_eq!(
            turn.read_through(Some(11)),
            None,
            "the close forgot the mark"
        );
        turn.opened(10);
        assert_eq!(turn.read_through(Some(14)), Some(14), "shown past the open");
        turn.opened(10);
        assert_eq!(turn.read_through(None), None, "a close that says nothing");
        assert_eq!(turn.read_through(Some(14)), None);
        drop(turn);
        let mut other = orders.turn(b).await;
        other.opened(3);
        drop(other);
        assert_eq!(
            orders.turn(a).await.read_through(Some(5)),
            None,
            "another chat's mark"
        );
        assert_eq!(orders.turn(b).await.read_through(Some(1)), Some(3));
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
