//! All SQL, one body for both engines (see [`crate::db`]). Reads run in one read transaction
//! per request (one snapshot: the messages and the chat's `last_seq`/`rev` returned together
//! always agree); every mutation is one write transaction that locks and updates the `chats`
//! row to allocate seq/rev, writes the message (and the idempotency row) and — on PostgreSQL —
//! queues its stream announcement ([`crate::fanout`]), so there is never a partial write, never
//! a hole in seq, and never an announcement of something not committed.
//!
//! Errors are [`DomainError`]s: the store knows nothing of HTTP.
//!
//! Submodules: [`rows`] (decoding, shared lookups), [`reads`] (ranges, changes, chat list),
//! [`mutations`] (send, edit, delete, bulk insert), [`digests`] (range digests for verify),
//! [`membership`] (add and remove members), [`tokens`] (users and their bearer tokens: add,
//! look up, revoke, rotate).

pub mod digests;
pub mod membership;
pub mod mutations;
pub mod reads;
pub mod rows;
pub mod tokens;

pub use membership::MembershipOutcome;
pub use mutations::{bulk_insert_tx, delete_message_tx, edit_message_tx, insert_chat_tx};
pub use reads::ChangesRead;
pub use rows::{chat_members, to_i64, visible_chat};

use crate::db::{Backend, Db};
use crate::error::{DomainError, ServerError};
use crate::fanout::Announcer;
use roost_proto::{
    ChatId, ChatSummary, Message, MessagesPage, Rev, Seq, StreamEvent, UnixMillis, UserId,
};
use sha2::{Digest, Sha256};

/// Milliseconds since the Unix epoch, now.
pub fn now_millis() -> UnixMillis {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_millis() as i64)
        .unwrap_or(0)
}

/// Hex SHA-256, used for bearer tokens and idempotent-request fingerprints.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A fresh random bearer token (256 bits, hex).
pub fn generate_token() -> String {
    let bytes: [u8; 32] = rand::random();
    hex::encode(bytes)
}

/// A chat's position: what every chat-related response carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChatPosition {
    pub last_seq: Seq,
    pub rev: Rev,
}

/// A chat row (without members).
#[derive(Debug, Clone)]
pub struct ChatRow {
    pub id: ChatId,
    pub title: String,
    pub last_seq: Seq,
    pub rev: Rev,
    pub last_message_at: Option<UnixMillis>,
    /// `None` for chats created before membership changes were recorded.
    pub created_by: Option<UserId>,
}

impl ChatRow {
    pub fn position(&self) -> ChatPosition {
        ChatPosition {
            last_seq: self.last_seq,
            rev: self.rev,
        }
    }
    pub fn into_summary(self, members: Vec<UserId>) -> ChatSummary {
        ChatSummary {
            id: self.id,
            title: self.title,
            members,
            created_by: self.created_by,
            last_seq: self.last_seq,
            rev: self.rev,
            last_message_at: self.last_message_at,
        }
    }
}

/// The result of a mutation: the message's new state, the chat's position right after it and
/// the members to notify. `changed` is false when nothing was written (idempotent replay,
/// deleting a tombstone): nothing is announced then.
#[derive(Debug, Clone)]
pub struct MutationOutcome {
    pub message: Message,
    pub position: ChatPosition,
    pub members: Vec<UserId>,
    pub changed: bool,
}

impl MutationOutcome {
    /// The stream event that announces this mutation.
    pub fn event(&self) -> StreamEvent {
        StreamEvent::Message {
            chat_id: self.message.chat_id,
            last_seq: self.position.last_seq,
            rev: self.position.rev,
            message: self.message.clone(),
        }
    }
}

/// What a mutation announces: stream events, each with the users it is addressed to, in
/// order. The store queues them in the transaction (PostgreSQL), the service publishes them
/// after commit (SQLite).
pub trait Announced {
    fn events(&self) -> Vec<(Vec<UserId>, StreamEvent)>;
}

impl Announced for ChatSummary {
    /// A new chat: its members hear it.
    fn events(&self) -> Vec<(Vec<UserId>, StreamEvent)> {
        vec![(
            self.members.clone(),
            StreamEvent::Chat { chat: self.clone() },
        )]
    }
}

impl Announced for MutationOutcome {
    /// Nothing when nothing was written (an idempotent replay, deleting a tombstone).
    fn events(&self) -> Vec<(Vec<UserId>, StreamEvent)> {
        if self.changed {
            vec![(self.members.clone(), self.event())]
        } else {
            Vec::new()
        }
    }
}

/// One page of a read (messages plus the chat position from the same snapshot).
#[derive(Debug, Clone)]
pub struct ReadPage {
    pub position: ChatPosition,
    pub messages: Vec<Message>,
    /// True when more rows matched than were returned (cut by limit).
    pub more: bool,
}

impl ReadPage {
    /// The wire page: these messages with the chat position read in the same snapshot.
    pub fn into_messages_page(
        self,
        chat_id: ChatId,
        next_from_seq: Option<Seq>,
        next_before_seq: Option<Seq>,
    ) -> MessagesPage {
        MessagesPage {
            chat_id,
            last_seq: self.position.last_seq,
            rev: self.position.rev,
            messages: self.messages,
            next_from_seq,
            next_before_seq,
        }
    }
}

/// The store: SQL over the two pools, plus (on PostgreSQL) the announcer that queues each
/// committed mutation's stream event inside its transaction.
#[derive(Debug, Clone)]
pub struct Store {
    pub db: Db,
    announcer: Option<Announcer>,
}

impl Store {
    /// A store whose mutations announce nothing themselves (SQLite: the service publishes to
    /// the in-process hub after commit; admin tools: nobody listens).
    pub fn new(db: Db) -> Self {
        Store {
            db,
            announcer: None,
        }
    }

    /// A store whose mutations queue their stream events in the database (PostgreSQL
    /// `NOTIFY`), delivered to every instance after commit, in commit order.
    pub fn with_announcer(db: Db, announcer: Announcer) -> Self {
        Store {
            db,
            announcer: Some(announcer),
        }
    }

    pub fn backend(&self) -> Backend {
        self.db.backend
    }

    /// Whether mutations announce themselves through the database (see [`Store::with_announcer`]).
    pub fn announces(&self) -> bool {
        self.announcer.is_some()
    }

    /// Queues what `outcome` announces (see [`Store::announce_in_tx`]) and commits: the end of
    /// every mutation that wrote something.
    pub(crate) async fn commit_announced<T: Announced>(
        &self,
        mut tx: sqlx::Transaction<'static, sqlx::Any>,
        outcome: T,
    ) -> Result<T, DomainError> {
        self.announce_in_tx(&mut tx, &outcome).await?;
        tx.commit().await?;
        Ok(outcome)
    }

    /// Queues what `outcome` announces inside the mutation's transaction, when this store
    /// announces through the database.
    pub(crate) async fn announce_in_tx(
        &self,
        conn: &mut sqlx::AnyConnection,
        outcome: &impl Announced,
    ) -> Result<(), ServerError> {
        if let Some(announcer) = &self.announcer {
            for (members, event) in outcome.events() {
                announcer.announce_in_tx(conn, &members, &event).await?;
            }
        }
        Ok(())
    }
}

pub fn validate_handle(handle: &str) -> Result<(), ServerError> {
    let valid = !handle.is_empty()
        && handle.len() <= 32
        && handle
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
    if valid {
        Ok(())
    } else {
        Err(ServerError::InvalidInput(format!(
            "user handle {handle:?} must be 1-32 characters of a-z, 0-9, '_' or '-'"
        )))
    }
}

/// `DomainError` for "this title is not acceptable".
pub(crate) fn check_title(title: &str) -> Result<&str, DomainError> {
    let title = title.trim();
    if title.is_empty() {
        return Err(DomainError::InvalidInput("title must not be empty".into()));
    }
    if title.chars().count() > 200 {
        return Err(DomainError::InvalidInput(
            "title is longer than 200 characters".into(),
        ));
    }
    Ok(title)
}
