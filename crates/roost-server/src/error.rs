//! The server's own errors, free of HTTP: [`ServerError`] is what the library API (start,
//! admin helpers, opening the database) returns; [`DomainError`] is what the store and the
//! mutations return — a refusal the protocol names (no such chat, not the author, version
//! conflict…) or an internal failure. Only the HTTP layer ([`crate::http::error`]) maps them to
//! statuses and error kinds.

use crate::config::UnsupportedDbScheme;

/// Errors of the library API (starting the server, admin helpers, the database).
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("database migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    UnsupportedDbScheme(#[from] UnsupportedDbScheme),
    #[error("invalid input: {0}")]
    InvalidInput(String),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}

/// What a request for a chat or message can fail with, in the protocol's terms.
#[derive(Debug, thiserror::Error)]
pub enum DomainError {
    /// The chat does not exist OR the caller is not a member: one answer for both on purpose,
    /// so a non-member learns nothing about a chat's existence.
    #[error("chat not found")]
    ChatNotFound,
    #[error("message not found")]
    MessageNotFound,
    /// Only the author may edit or delete a message; `action` is "edit" or "delete".
    #[error("only the author of a message may {action} it")]
    NotAuthor { action: &'static str },
    #[error("the message is deleted and cannot be edited")]
    EditOfDeleted,
    #[error("expected version {expected} but the message is at version {current}")]
    VersionMismatch { expected: u64, current: u64 },
    #[error("this idempotency key was already used for a different request")]
    IdempotencyKeyReused,
    /// Only the chat's creator may remove other members (anyone may remove itself).
    #[error("only the creator of a chat may remove other members")]
    NotCreator,
    /// The user to remove is not a member of the chat (which the caller does see).
    #[error("member not found")]
    MemberNotFound,
    /// The chat would have more than the server's member limit.
    #[error("a chat may have at most {limit} members; this would make {wanted}")]
    TooManyMembers { limit: usize, wanted: usize },
    /// A request the store refuses as malformed (empty title, unknown member…).
    #[error("{0}")]
    InvalidInput(String),
    /// Anything else: the request had no effect; details belong in the log.
    #[error(transparent)]
    Internal(#[from] ServerError),
}

impl From<sqlx::Error> for DomainError {
    fn from(error: sqlx::Error) -> Self {
        DomainError::Internal(ServerError::Database(error))
    }
}
