//! Roost's desktop UI (Leptos 0.8, client-side rendered in the Tauri webview, built with
//! trunk). Modules:
//! * `logic` — the view rules as pure functions (skeleton placement, span changes, virtual
//!   window, indicator timing, Resync visibility, cache map), tested natively;
//! * `components` — presentational components, rendered to HTML in native tests;
//! * `state` — the UI state and the reducer of the shell's events (pure, tested natively);
//! * `app` — the state in a signal, effects, and wiring;
//! * `search` — search box and results, verify & clear tools (issue 12);
//! * `ipc` — the only module that touches Tauri.
//!
//! Natively (tests) Leptos is built with `ssr` so views render to HTML; for wasm with `csr`.

pub mod app;
pub mod components;
pub mod ipc;
pub mod logic;
pub mod search;
pub mod state;

/// Mounts the app on `<body>` (wasm entry point).
pub fn mount() {
    leptos::mount::mount_to_body(app::App);
}
