//! Roost's desktop shell: the only crate that knows Tauri. A thin adapter: it starts the
//! `roost-core` client with the app, exposes its API as commands (`commands`), forwards its
//! events to the UI as ordered changes over a Tauri channel (`session`), speaking the IPC contract of
//! `roost_model::app` (the core's `app_view` builds its shapes), and adds what desktop users expect
//! (`desktop`: unread count in the title, notifications; plugins: single instance, remembered
//! window geometry, logs in the app log dir).
//!
//! It must never hold sync or cache logic of its own: behaviour lives in the core.

mod cache_commands;
mod commands;
mod desktop;
pub mod error;
mod session;

use session::{AppState, Credentials};
use tauri::Manager;

/// Environment variables that sign the app in at start-up (tests, `./dev run`).
pub const ENV_SERVER_URL: &str = "ROOST_SERVER_URL";
pub const ENV_TOKEN: &str = "ROOST_TOKEN";

fn env_credentials() -> Option<Credentials> {
    let server_url = std::env::var(ENV_SERVER_URL)
        .ok()
        .filter(|v| !v.trim().is_empty())?;
    let token = std::env::var(ENV_TOKEN)
        .ok()
        .filter(|v| !v.trim().is_empty())?;
    Some(Credentials { server_url, token })
}

pub fn run() {
    let log_plugin = tauri_plugin_log::Builder::new()
        .level(log::LevelFilter::Info)
        .max_file_size(10 * 1024 * 1024)
        .rotation_strategy(tauri_plugin_log::RotationStrategy::KeepSome(3))
        .build();
    tauri::Builder::default()
        // First, so a second launch only focuses the running window.
        .plugin(tauri_plugin_single_instance::init(|app, _args, _cwd| {
            if let Some(window) = app.get_webview_window(desktop::MAIN_WINDOW) {
                let _ = window.unminimize();
                let _ = window.show();
                let _ = window.set_focus();
            }
        }))
        .plugin(log_plugin)
        .plugin(tauri_plugin_window_state::Builder::default().build())
        .plugin(tauri_plugin_notification::init())
        .setup(|app| {
            desktop::install_tray(app.handle());
            let data_dir = app.path().app_data_dir()?;
            let config_dir = app.path().app_config_dir()?;
            app.manage(AppState::new(data_dir, config_dir));
            let handle = app.handle().clone();
            tauri::async_runtime::spawn(async move {
                let state = handle.state::<AppState>();
                // Environment credentials (tests, `./dev run`) win over saved ones; neither is
                // verified here: the app starts from its cache even when the server is down.
                if let Some(credentials) = env_credentials().or_else(|| state.load_credentials())
                    && let Err(e) = state.start_session(&handle, credentials, false).await
                {
                    tracing::error!(error = %e, "could not start the saved session");
                }
                state.mark_started();
            });
            Ok(())
        })
        .invoke_handler(tauri::generate_handler![
            commands::app_status,
            commands::subscribe,
            commands::sign_in,
            commands::sign_out,
            commands::chats,
            commands::open_chat,
            commands::close_chat,
            commands::cached_window,
            commands::load_older,
            commands::resync,
            commands::send,
            commands::edit,
            commands::delete,
            commands::retry_failed,
            commands::cache_map,
            cache_commands::search,
            cache_commands::fetch_ranges,
            cache_commands::verify_chat,
            cache_commands::clear_cached_history,
            cache_commands::cache_budget,
        ])
        .run(tauri::generate_context!())
        .expect("error while running the Roost desktop app");
}
