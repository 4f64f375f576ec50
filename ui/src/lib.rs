//! Roost's desktop UI (Leptos 0.8, client-side rendered in the Tauri webview, built with
//! trunk). Modules:
//! * `logic` — the view rules as pure functions (the open chat's rows, indicator timing, Resync
//!   visibility, cache map), tested natively;
//! * `components` — presentational components, rendered to HTML in native tests;
//! * `timeline` — day separators, the unread divider, author groups and the variable-height
//!   virtual list, as pure functions; `switcher`, `shortcuts`, `theme` — the quick switcher's
//!   ranking, the keyboard map, the colour theme choice;
//! * `ux_components` — the timeline rows, jump-to-latest, quick switcher, shortcuts sheet and
//!   theme picker components;
//! * `search` — search box and results with the "not searched" note, Verify / Clear cached
//!   history, the storage budget setting (issue 12);
//! * `state` — the UI state and the reducer of the shell's events (pure, tested natively);
//! * `app` — the state in a signal, effects, and wiring; `chat_view` — the open chat's view
//!   (header, timeline, composer) wired to them;
//! * `left_chat` — what a chat the user is no longer a member of allows, and its components;
//! * `accounts` — the account switcher (menu, accounts on the sign-in screen) and its pure
//!   rules;
//! * `ipc` — the only module that touches Tauri;
//! * `prefetch` — chats' newest windows read ahead of their click (on pointerdown, and for the
//!   likeliest next opens while the page is idle), never stale; `app::staged` renders one's rows
//!   hidden before the click (test ids `ahead-…`), which only shows them;
//! * `testing` (native only) — renders the timeline and reads the HTML back, for tests.
//!
//! Natively (tests) Leptos is built with `ssr` so views render to HTML; for wasm with `csr`.

// The app's view tree is one deeply nested type (tachys); its layout query needs more than
// the default 128 levels on native (`ssr`) builds since the search panel joined the sidebar.
#![recursion_limit = "256"]

pub mod accounts;
pub mod app;
pub mod chat_view;
pub mod components;
pub mod ipc;
pub mod left_chat;
pub mod logic;
pub mod prefetch;
pub mod search;
pub mod shortcuts;
pub mod state;
pub mod switcher;
#[cfg(not(target_arch = "wasm32"))]
pub mod testing;
pub mod theme;
pub mod timeline;
pub mod ux_components;

/// Mounts the app on `<body>` (wasm entry point).
pub fn mount() {
    // The start of cold start's "wasm running" phase (`src-tauri/tests/bench_app/`).
    app::mark("roost-wasm-start");
    // When the page gets its first frame after the wasm started (how long WebKit's rendering
    // is held up at start).
    leptos::prelude::request_animation_frame(|| app::mark("roost-first-frame"));
    #[cfg(target_arch = "wasm32")]
    console_error_panic_hook::set_once();
    if let Some(splash) = leptos::prelude::document().get_element_by_id("splash") {
        splash.remove();
    }
    leptos::mount::mount_to_body(app::App);
}
