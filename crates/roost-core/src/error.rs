//! The core's one error type at its boundary, with a stable `kind()` string for the UI's
//! `{kind, message}`. Owns the mapping from transport, server and storage failures to kinds;
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
}

impl Error {
    /// Stable machine-readable kind.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::Offline(_) => "offline",
            Error::Server {
                kind: ErrorKind::NotFound,
                ..
            } => "not_found",
            Error::Server { .. } => "server",
            Error::ProtocolViolation(_) => "protocol_violation",
            Error::CacheCorrupt(_) => "cache_corrupt",
            Error::Cache(_) => "cache",
            Error::NotFound(_) => "not_found",
            Error::InvalidInput(_) => "invalid_input",
            Error::Shutdown => "shutdown",
        }
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

impl From<sqlx::migrate::MigrateError> for Error {
    fn from(e: sqlx::migrate::MigrateError) -> Self {
        Error::Cache(format!("migration: {e}"))
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
