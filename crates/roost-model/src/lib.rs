//! Roost's window model, shared by the client core (`roost-core`), the desktop shell
//! (`src-tauri/`) and the UI (`ui/`, wasm): one definition of what a chat window is and how it
//! changes, so the three never disagree.
//!
//! Plain data and pure functions only — no I/O, no clock, no async — and it must build for
//! `wasm32-unknown-unknown` (`cargo check -p roost-model --target wasm32-unknown-unknown`).
//! Modules:
//! * [`ranges`] — cached seq runs, missing ranges, resync plans, window items and windows;
//! * [`window`] — the change operations a view applies to the rows it shows (a span changed,
//!   the server's position moved, a cached page was read);
//! * [`merge`] — the one merge rule (higher version wins);
//! * [`sync_state`] — the sync state machine (UNKNOWN / IN_SYNC / OUT_OF_SYNC / SYNCING);
//! * [`outbox`] — delivery states of unsent messages;
//! * [`cursor`] — the changes cursor rule (every cached message is current up to it);
//! * [`ingest`] — the sans-I/O ingest plan (what one write of incoming messages changes);
//! * [`app`] — the desktop app's IPC contract, built from the types above;
//! * [`accounts`] — the accounts signed in on the device (the account switcher's list);
//! * [`connection`] — the connection state the UI shows, from ordered events and racing replies;
//! * [`app_cache`] — the IPC contract of search, verify & repair and the storage budget;
//! * `fixtures` — test data (messages, window rows), only in tests and with the `fixtures`
//!   feature.

pub mod accounts;
pub mod app;
pub mod app_cache;
pub mod connection;
pub mod cursor;
#[cfg(any(test, feature = "fixtures"))]
pub mod fixtures;
pub mod human;
pub mod ingest;
pub mod merge;
pub mod outbox;
pub mod ranges;
pub mod sync_state;
pub mod window;

pub use outbox::OutboxState;
pub use ranges::{CacheMap, SeqRange, WindowItem};
pub use sync_state::{SyncInput, SyncState};
pub use window::Anchor;
