//! The same-run floor of the release app's cold start and memory (`src-tauri/tests/bench_app/`,
//! issue 11): a blank Tauri window — the same Tauri, WebKitGTK and start-up environment as Roost
//! (`roost_desktop::memory` first in `main`), no plugins, no state, no wasm — whose static page
//! marks its first frame with the mark Roost's UI sets when it paints the chat list
//! (`roost-chat-list-painted`). Cold start to that mark and the process's RSS are what any Tauri
//! window costs here; Roost's own share is its figure minus this one.
//!
//! ```text
//! cargo build --release --locked -p roost-desktop --features custom-protocol --example blank-window
//! ```

// Like the app: no console window on Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

use std::collections::BTreeMap;

/// The shell's start-up steps, as the app answers them (the benchmark reads both the same way).
#[tauri::command]
fn startup_timeline() -> BTreeMap<&'static str, f64> {
    roost_desktop::startup::timeline()
}

/// The page's start-up steps, as the app takes them (`startup::REPORT_ENV`).
#[tauri::command]
fn startup_report(page: serde_json::Value) -> Result<(), String> {
    roost_desktop::startup::write_report(page)
}

fn main() {
    if let Err(message) = roost_desktop::memory::before_any_thread() {
        eprintln!("blank-window: {message}");
        std::process::exit(2);
    }
    roost_desktop::startup::note("main");
    tauri::Builder::default()
        .setup(|_| {
            roost_desktop::startup::note("window-created");
            Ok(())
        })
        .on_page_load(|webview, payload| {
            if payload.event() == tauri::webview::PageLoadEvent::Finished {
                roost_desktop::startup::report_when_painted(webview, false);
            }
        })
        .invoke_handler(tauri::generate_handler![startup_timeline, startup_report])
        .run(tauri::generate_context!(
            "src-tauri/examples/blank_window/tauri.conf.json"
        ))
        .expect("the blank window could not run");
}
