//! Server configuration: where the database lives (`--db`), where to listen, and the protocol
//! knobs (changes horizon, heartbeat interval, stream caps, rate limits, request timeout and
//! concurrency limit).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Default `changes_horizon`: how many revs behind a changes cursor may be.
pub const DEFAULT_CHANGES_HORIZON: u64 = 100_000;
/// Default interval between stream heartbeats.
pub const DEFAULT_HEARTBEAT_INTERVAL: Duration = Duration::from_secs(15);

/// Where the database lives: an embedded SQLite file (the default), an in-memory SQLite
/// database, or a PostgreSQL server shared by any number of server instances.
#[derive(Clone, PartialEq, Eq)]
pub enum DbLocation {
    /// A SQLite file, created (with its migrations) when missing.
    File(PathBuf),
    /// An in-memory SQLite database, gone when the server stops (served through one connection).
    Memory,
    /// A PostgreSQL database, `postgres://user[:password]@host[:port]/database[?options]`.
    Postgres(String),
}

/// `--db` named a scheme this server does not speak.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unsupported database URL scheme {scheme:?} in --db: use a SQLite file path, `:memory:`, or postgres://user@host:port/database"
)]
pub struct UnsupportedDbScheme {
    pub scheme: String,
}

impl DbLocation {
    /// `":memory:"` is [`DbLocation::Memory`]; `postgres://` or `postgresql://` a PostgreSQL
    /// URL; `sqlite://` or `sqlite:` a SQLite file; any other `scheme://` is refused (it would
    /// otherwise silently become a directory named after the scheme); everything else is a path.
    pub fn parse(text: &str) -> Result<DbLocation, UnsupportedDbScheme> {
        if text == ":memory:" || text == "sqlite::memory:" {
            return Ok(DbLocation::Memory);
        }
        if let Some((scheme, _)) = text.split_once("://") {
            let scheme_is_word = !scheme.is_empty()
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
            if scheme_is_word {
                return match scheme.to_ascii_lowercase().as_str() {
                    "postgres" | "postgresql" => Ok(DbLocation::Postgres(text.to_owned())),
                    "sqlite" => Ok(DbLocation::File(PathBuf::from(&text["sqlite://".len()..]))),
                    _ => Err(UnsupportedDbScheme {
                        scheme: scheme.to_owned(),
                    }),
                };
            }
        }
        if let Some(path) = text.strip_prefix("sqlite:") {
            return Ok(DbLocation::File(PathBuf::from(path)));
        }
        Ok(DbLocation::File(PathBuf::from(text)))
    }

    /// The `--db` value that names this location.
    pub fn to_arg(&self) -> String {
        match self {
            DbLocation::File(path) => path.display().to_string(),
            DbLocation::Memory => ":memory:".into(),
            DbLocation::Postgres(url) => url.clone(),
        }
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self, DbLocation::Postgres(_))
    }
}

/// Debug output never shows a PostgreSQL password.
impl std::fmt::Debug for DbLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DbLocation::File(path) => f.debug_tuple("File").field(path).finish(),
            DbLocation::Memory => f.write_str("Memory"),
            DbLocation::Postgres(url) => f
                .debug_tuple("Postgres")
                .field(&redact_password(url))
                .finish(),
        }
    }
}

/// `postgres://user:secret@host/db` → `postgres://user:***@host/db`.
pub fn redact_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let Some((credentials, host)) = rest.split_once('@') else {
        return url.to_owned();
    };
    match credentials.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_owned(),
    }
}

#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub db: DbLocation,
    pub listen: SocketAddr,
    /// A changes request whose `since_rev` is more than this many revs behind the chat's rev is
    /// answered `too_old` (the client re-validates with the range endpoint instead).
    pub changes_horizon: u64,
    /// Interval between `heartbeat` frames on the stream.
    pub heartbeat_interval: Duration,
    /// How long one send to a stream client may take; a client that does not read is dropped
    /// instead of blocking its heartbeat and the server's shutdown.
    pub stream_send_timeout: Duration,
    /// Most concurrent streams in all (`503 overloaded` past it).
    pub max_streams: usize,
    /// Most concurrent streams of one user (`429 rate_limited` past it).
    pub max_streams_per_user: usize,
    /// Most members of one chat (`409 too_many_members` past it, on create and on add).
    pub max_members_per_chat: usize,
    /// Per-token budget of reads (GET, the stream upgrade included); `None`: unlimited.
    pub read_rate_limit: Option<RateLimit>,
    /// Per-token budget of writes (POST, PATCH, DELETE); `None`: unlimited.
    pub write_rate_limit: Option<RateLimit>,
    /// How long a request may take before it is answered `503 overloaded` (a mutation that
    /// committed by then still completes and is announced).
    pub request_timeout: Duration,
    /// Most requests handled at once in all; past it a request is shed at once with `503
    /// overloaded` (open streams do not count: only their upgrade request does).
    pub max_concurrent_requests: usize,
    /// How often the server looks for revoked or rotated tokens, to close their streams.
    pub token_check_interval: Duration,
    /// A pause after every mutation's commit, before its answer (and, on SQLite, before its
    /// event is published). Zero except in tests and drills of the request timeout and the
    /// concurrency limit: the only way to make the server slow on purpose (no CLI flag).
    pub pause_after_commit: Duration,
}

/// A token bucket: `burst` requests at once, refilled at `per_second` (fractions allowed:
/// `1.0 / 60.0` is one a minute).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    pub per_second: f64,
    pub burst: u32,
}

/// Default [`ServerConfig::read_rate_limit`]: a client's catch-up after a reconnect (the chat
/// list, then one changes request per moved chat) fits the burst; a steady scroll through
/// history stays far below the rate.
pub const DEFAULT_READ_RATE_LIMIT: RateLimit = RateLimit {
    per_second: 50.0,
    burst: 500,
};
/// Default [`ServerConfig::write_rate_limit`]: a person sends far less; an outbox flushing
/// after a long offline period fits the burst.
pub const DEFAULT_WRITE_RATE_LIMIT: RateLimit = RateLimit {
    per_second: 10.0,
    burst: 100,
};
/// Default [`ServerConfig::request_timeout`].
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Default [`ServerConfig::max_concurrent_requests`].
pub const DEFAULT_MAX_CONCURRENT_REQUESTS: usize = 1_024;
/// Default [`ServerConfig::token_check_interval`].
pub const DEFAULT_TOKEN_CHECK_INTERVAL: Duration = Duration::from_secs(2);

/// Default [`ServerConfig::stream_send_timeout`].
pub const DEFAULT_STREAM_SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// Default [`ServerConfig::max_streams`]: above the 10,000 streams one instance is sized for.
pub const DEFAULT_MAX_STREAMS: usize = 20_000;
/// Default [`ServerConfig::max_streams_per_user`]: a user's devices and windows, with room.
pub const DEFAULT_MAX_STREAMS_PER_USER: usize = 16;
/// Default [`ServerConfig::max_members_per_chat`]: a large team's group; every event of a chat
/// is addressed to its member list, so the list must stay bounded.
pub const DEFAULT_MAX_MEMBERS_PER_CHAT: usize = 1_000;

impl ServerConfig {
    /// Defaults for everything but the database: 127.0.0.1 on an ephemeral port.
    pub fn new(db: DbLocation) -> Self {
        ServerConfig {
            db,
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            changes_horizon: DEFAULT_CHANGES_HORIZON,
            heartbeat_interval: DEFAULT_HEARTBEAT_INTERVAL,
            stream_send_timeout: DEFAULT_STREAM_SEND_TIMEOUT,
            max_streams: DEFAULT_MAX_STREAMS,
            max_streams_per_user: DEFAULT_MAX_STREAMS_PER_USER,
            max_members_per_chat: DEFAULT_MAX_MEMBERS_PER_CHAT,
            read_rate_limit: Some(DEFAULT_READ_RATE_LIMIT),
            write_rate_limit: Some(DEFAULT_WRITE_RATE_LIMIT),
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            max_concurrent_requests: DEFAULT_MAX_CONCURRENT_REQUESTS,
            token_check_interval: DEFAULT_TOKEN_CHECK_INTERVAL,
            pause_after_commit: Duration::ZERO,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn db_values_parse_to_the_backend_they_name() {
        assert_eq!(DbLocation::parse(":memory:"), Ok(DbLocation::Memory));
        assert_eq!(
            DbLocation::parse("data/server.db"),
            Ok(DbLocation::File("data/server.db".into()))
        );
        assert_eq!(
            DbLocation::parse("sqlite:///tmp/s.db"),
            Ok(DbLocation::File("/tmp/s.db".into()))
        );
        assert_eq!(
            DbLocation::parse("postgres://u@h:5432/db"),
            Ok(DbLocation::Postgres("postgres://u@h:5432/db".into()))
        );
        assert_eq!(
            DbLocation::parse("postgresql://u@h/db"),
            Ok(DbLocation::Postgres("postgresql://u@h/db".into()))
        );
    }

    #[test]
    fn an_unknown_scheme_is_refused_not_taken_for_a_path() {
        let error = DbLocation::parse("mysql://u@h:3306/db").unwrap_err();
        assert_eq!(error.scheme, "mysql");
        assert!(
            error
                .to_string()
                .contains("unsupported database URL scheme")
        );
        assert!(DbLocation::parse("redis://h").is_err());
    }

    #[test]
    fn debug_output_hides_the_password() {
        let location = DbLocation::Postgres("postgres://u:hunter2@h/db".into());
        let shown = format!("{location:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("u:***@h/db"), "{shown}");
    }
}
