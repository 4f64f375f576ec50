//! Roost client core: the SQLite message cache, the chat-scoped incremental sync engine and the
//! transport, behind one type, [`Client`]. No Tauri, no UI: the desktop app and the `roost` CLI
//! are thin adapters over this crate.
//!
//! Modules:
//! * pure logic, from the shared model crate `roost-model` (re-exported here, proven with
//!   proptest there) — [`ranges`] (cached runs, missing ranges, windows), [`merge`] (higher
//!   version wins), [`sync_state`] (UNKNOWN / IN_SYNC / OUT_OF_SYNC / SYNCING and SPEC rule 4);
//! * I/O — [`store`] (SQLite, one transaction per write, runs index in the same transaction;
//!   `reader`: the dedicated read connection of `open_chat`; `clean_shutdown`: the mark that
//!   lets a clean start skip the whole-file checks),
//!   [`api`] (HTTP, request figures, validation of hostile responses; `rate_limit`: a 429's
//!   short `Retry-After` waited out), `stream` (WebSocket,
//!   reconnect, catch-up), [`sign_in`] (the first sign-in's check of a URL and a token);
//! * [`account`] — which cache file is whose (one per server + user), the owner binding and
//!   the one-process lock;
//! * the engine — `engine` (shared state, single-flight per chat), `chat_list` (chat list,
//!   validation), `resync` (resync and older history), `fallback` (servers that refuse a range
//!   shape: the next shape, or a logged full reload), `outbox` (delivery), [`events`], and
//!   [`client`] ([`Client`], the public face);
//! * [`app_view`] — the core in the desktop app's IPC shapes (UI events read back from the
//!   cache);
//! * features over the cache (issue 12) — [`search`] (FTS5, "not searched" ranges, fetching
//!   exactly those), [`budget`] (eviction, clear), [`verify`] (digests, repair).

pub use roost_model::{merge, ranges, sync_state};

pub mod account;
pub mod api;
pub mod app_view;
pub mod budget;
mod changes_journal;
mod chat_list;
mod clean_shutdown;
pub mod client;
mod config;
mod engine;
pub mod error;
pub mod events;
mod fallback;
mod left;
mod open_order;
mod outbox;
mod rate_limit;
mod reader;
mod resync;
pub mod search;
pub mod sign_in;
pub mod store;
mod stream;
pub mod verify;

pub use api::FiguresSnapshot;
pub use client::{Client, ClientConfig};
pub use error::{Error, ErrorCode, Result};
pub use events::{
    ChatWindow, ClientEvent, Delivered, FlushReport, LoadOlderReport, OpenInfo, ResyncReport,
};
pub use open_order::RequestOrder;
pub use roost_model::{Anchor, CacheMap, OutboxState, SeqRange, WindowItem};
pub use sign_in::{SignInError, verify_sign_in};
pub use store::{
    ChatRecord, CorruptionReport, FullReloadNote, OutboxEntry, default_cache_path, default_data_dir,
};
pub use sync_state::SyncState;
