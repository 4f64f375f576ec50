//! Generates the Tauri context from `tauri.conf.json` (at the repository root) and one permission
//! per Roost command, so `src-tauri/capabilities/` can allow exactly those.

const COMMANDS: &[&str] = &[
    "app_status",
    "startup_timeline",
    "startup_report",
    "subscribe",
    "sign_in",
    "sign_out",
    "chats",
    "open_chat",
    "close_chat",
    "cached_window",
    "load_older",
    "resync",
    "send",
    "edit",
    "delete",
    "retry_failed",
    "cache_map",
    "search",
    "fetch_ranges",
    "verify_chat",
    "clear_cached_history",
    "cache_budget",
    "leave_chat",
    "forget_chat",
    "accounts",
    "switch_account",
    "sign_out_account",
];

fn main() {
    let attributes = tauri_build::Attributes::new()
        .capabilities_path_pattern("./src-tauri/capabilities/**/*")
        .app_manifest(tauri_build::AppManifest::new().commands(COMMANDS));
    tauri_build::try_build(attributes).expect("tauri-build failed");
}
