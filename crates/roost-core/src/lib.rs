//! Roost client core: the SQLite message cache, the chat-scoped incremental sync engine and the
//! transport, behind one type, [`Client`]. No Tauri, no UI: the desktop app and the `roost` CLI
//! are thin adapters over this crate.
//!
//! Modules:
//! * pure logic, proven with proptest — [`ranges`] (cached runs, missing ranges, windows),
//!   [`merge`] (higher version wins), [`sync_state`] (UNKNOWN / IN_SYNC / OUT_OF_SYNC /
//!   SYNCING and SPEC rule 4);
//! * I/O — [`store`] (SQLite, one transaction per write, runs index in the same transaction),
//!   [`api`] (HTTP, request figures, validation of hostile responses), `stream` (WebSocket,
//!   reconnect, catch-up);
//! * the engine — [`client`] ([`Client`], resync, outbox, events).

pub mod api;
pub mod budget;
pub mod client;
pub mod error;
pub mod merge;
pub mod ranges;
pub mod search;
pub mod store;
mod stream;
pub mod sync_state;
pub mod verify;

pub use api::FiguresSnapshot;
pub use client::{
    Anchor, ChatWindow, Client, ClientConfig, ClientEvent, Delivered, FlushReport, LoadOlderReport,
    OpenInfo, ResyncReport,
};
pub use error::{Error, Result};
pub use ranges::{CacheMap, SeqRange, WindowItem};
pub use store::{
    ChatRecord, CorruptionReport, OutboxEntry, OutboxState, default_cache_path, default_data_dir,
};
pub use sync_state::SyncState;
