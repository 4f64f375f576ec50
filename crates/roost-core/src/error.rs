//! The core's one error type at its boundary, with a typed, stable [`ErrorCode`] (spelled by
//! `as_str()` for the UI's `{kind, message}` and the CLI's JSON). Owns the mapping from transport,
//! server and storage failures to codes;
//! must never carry secrets (tokens) in messages.

use roost_proto::ErrorKind;

/// Every error the core returns. Cloneable so a joined (single-flight) resync can hand the same
/// error to every waiter.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    /// The server could not be reached (connect error, timeout, connection dropped).
    #[error("offline: {0}")]
    Offline(String),
    /// The server answered with an error body.
    #[error("server error {status} {kind}: {message}")]
    Server {
        status: u16,
        kind: ErrorKind,
        message: String,
    },
    /// The server's answer breaks the protocol (wrong chat, seqs out of range/order, duplicate
    /// seqs, oversized page, undecodable body). Nothing of it was written to the cache.
    #[error("protocol violation: {0}")]
    ProtocolViolation(String),
    /// The cache file is damaged.
    #[error("cache corrupt: {0}")]
    CacheCorrupt(String),
    /// Any other storage failure.
    #[error("cache error: {0}")]
    Cache(String),
    /// Unknown chat, message or outbox entry (locally or on the server).
    #[error("not found: {0}")]
    NotFound(String),
    /// The caller passed something unusable.
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// The client was shut down while the operation ran.
    #[error("client shut down")]
    Shutdown,
    /// The cache file belongs to another account (server + user) than the one signing in, or
    /// the token was never confirmed for its owner: nothing of it is read or sent.
    #[error("wrong account: {0}")]
    WrongAccount(String),
    /// Another process has the cache file open (it is locked while a client uses it).
    #[error("cache in use: {0}")]
    CacheInUse(String),
    /// The user is no longer a member of this chat (it left, was removed, or the server no
    /// longer lists it): the chat is read-only on this device and never synced.
    #[error("no longer a member of chat {0}")]
    Left(roost_proto::ChatId),
}

/// The stable, machine-readable code of an [`Error`]. Callers (the CLI's JSON, the desktop
/// shell's `{kind, message}`) match on this enum; [`ErrorCode::as_str`] is its wire spelling,
/// which the UI and the CLI's JSON contract key on and must never change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    Offline,
    NotFound,
    Server,
    ProtocolViolation,
    CacheCorrupt,
    Cache,
    InvalidInput,
    Shutdown,
    WrongAccount,
    CacheInUse,
    ChatLeft,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::Offline => "offline",
            ErrorCode::NotFound => "not_found",
            ErrorCode::Server => "server",
            ErrorCode::ProtocolViolation => "protocol_violation",
            ErrorCode::CacheCorrupt => "cache_corrupt",
            ErrorCode::Cache => "cache",
            ErrorCode::InvalidInput => "invalid_input",
            ErrorCode::Shutdown => "shutdown",
            ErrorCode::WrongAccount => "wrong_account",
            ErrorCode::CacheInUse => "cache_in_use",
            ErrorCode::ChatLeft => "chat_left",
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Error {
    /// Stable machine-readable code (a server `not_found` answer is `NotFound`).
    pub fn code(&self) -> ErrorCode {
        match self {
            Error::Offline(_) => ErrorCode::Offline,
            Error::Server {
                kind: ErrorKind::NotFound,
                ..
            } => ErrorCode::NotFound,
            Error::Server { .. } => ErrorCode::Server,
            Error::ProtocolViolation(_) => ErrorCode::ProtocolViolation,
            Error::CacheCorrupt(_) => ErrorCode::CacheCorrupt,
            Error::Cache(_) => ErrorCode::Cache,
            Error::NotFound(_) => ErrorCode::NotFound,
            Error::InvalidInput(_) => ErrorCode::InvalidInput,
            Error::Shutdown => ErrorCode::Shutdown,
            Error::WrongAccount(_) => ErrorCode::WrongAccount,
            Error::CacheInUse(_) => ErrorCode::CacheInUse,
            Error::Left(_) => ErrorCode::ChatLeft,
        }
    }

    /// The code's wire spelling (`self.code().as_str()`).
    pub fn kind(&self) -> &'static str {
        self.code().as_str()
    }

    /// The server's error kind, for `Server` errors.
    pub fn server_kind(&self) -> Option<ErrorKind> {
        match self {
            Error::Server { kind, .. } => Some(*kind),
            _ => None,
        }
    }

    /// Worth retrying later (offline, timeouts, 5xx, 408, 429): the outbox keeps such sends
    /// pending; anything else is a permanent rejection.
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Offline(_) => true,
            Error::Server { status, .. } => *status >= 500 || *status == 408 || *status == 429,
            _ => false,
        }
    }
}

impl Error {
    /// The server certainly refused the request (a 4xx other than 408/429). Anything else — a
    /// timeout, a 5xx, a garbled or truncated answer — may hide a request the server did
    /// process; an idempotent retry is then safe and right, so the outbox keeps the message
    /// pending instead of marking it failed next to its delivered copy.
    pub fn is_definite_rejection(&self) -> bool {
        matches!(self, Error::Server { status, .. } if (400..500).contains(status) && *status != 408 && *status != 429)
    }
}

impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &e {
            let msg = db.message().to_ascii_lowercase();
            if msg.contains("malformed") || msg.contains("not a database") {
                return Error::CacheCorrupt(db.message().to_string());
            }
        }
        Error::Cache(e.to_string())
    }
}

/// The write connection's errors (`store::writer`), judged as the pool's are.
impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        match e.sqlite_error_code() {
            Some(rusqlite::ErrorCode::DatabaseCorrupt | rusqlite::ErrorCode::NotADatabase) => {
                Error::CacheCorrupt(e.to_string())
            }
            _ => Error::Cache(e.to_string()),
        }
    }
}

impl From<sqlx::migrate::MigrateError> for Error {
    fn from(e: sqlx::migrate::MigrateError) -> Self {
        Error::Cache(format!("migration: {e}"))
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
