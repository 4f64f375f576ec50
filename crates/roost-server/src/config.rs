//! Server configuration: where the database lives, where to listen, and the protocol knobs
//! (changes horizon, heartbeat interval).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Default `changes_horizon`: how many revs behind a changes cursor may be.
pub const DEFAULT_CHANGES_HORIZON: u64 = 100_000;
/// Default interval between stream heartbeats.
pub const DEFAULT_HEARTBEAT_INTERVAL: Duration = Duration::from_secs(15);

/// Where the SQLite database lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DbLocation {
    /// A file, created (with its migrations) when missing.
    File(PathBuf),
    /// An in-memory database, gone when the server stops (served through one connection).
    Memory,
}

impl DbLocation {
    /// `":memory:"` means [`DbLocation::Memory`], anything else is a file path.
    pub fn parse(text: &str) -> DbLocation {
        if text == ":memory:" {
            DbLocation::Memory
        } else {
            DbLocation::File(PathBuf::from(text))
        }
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
}

impl ServerConfig {
    /// Defaults for everything but the database: 127.0.0.1 on an ephemeral port.
    pub fn new(db: DbLocation) -> Self {
        ServerConfig {
            db,
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            changes_horizon: DEFAULT_CHANGES_HORIZON,
            heartbeat_interval: DEFAULT_HEARTBEAT_INTERVAL,
        }
    }
}
