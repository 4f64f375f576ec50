//! Roost's desktop shell: the only crate that knows Tauri. A thin adapter: it starts the
//! `roost-core` client with the app, exposes its API as commands (`commands`), forwards its
//! events to the UI as ordered changes over a Tauri channel (`session`), speaking the IPC contract of
//! `roost_model::app` (the core's `app_view` builds its shapes), and adds what desktop users expect
//! (`desktop`: unread count in the title, notifications; plugins: single instance, remembered
//! window geometry, logs), with its files where each platform expects them (`platform`) and
//! WebKit's memory kept small by choices made before it starts (`memory`), and the system's
//! light/dark theme and UI font handed to the page (`theme`, `system_font`).
//!
//! It must never hold sync or cache logic of its own: behaviour lives in the core.

mod account_commands;
mod cache_commands;
mod commands;
mod desktop;
pub mod error;
mod first_paint;
pub mod loader;
pub mod memory;
pub mod platform;
mod session;
pub mod startup;
pub mod system_font;
mod system_setting;
pub mod theme;

use session::{AppState, Credentials};
use tauri::Manager;

/// Environment variables that sign the app in at start-up (tests, `./dev run`).
pub const ENV_SERVER_URL: &str = "ROOST_SERVER_URL";
pub const ENV_TOKEN: &str = "ROOST_TOKEN";

/// The sign-in given by [`ENV_SERVER_URL`] and [`ENV_TOKEN`]: none when both are unset (or
/// empty); an error naming the variable and the accepted form when one is missing or the URL
/// cannot be used — a knob that cannot be read must not be ignored silently.
fn env_credentials(
    server_url: Option<String>,
    token: Option<String>,
) -> Result<Option<Credentials>, String> {
    let present = |value: Option<String>| value.filter(|v| !v.trim().is_empty());
    match (present(server_url), present(token)) {
        (None, None) => Ok(None),
        (Some(_), None) => Err(format!(
            "{ENV_SERVER_URL} is set but {ENV_TOKEN} is not: set both (a server URL and a token) or neither"
        )),
        (None, Some(_)) => Err(format!(
            "{ENV_TOKEN} is set but {ENV_SERVER_URL} is not: set both (a server URL and a token) or neither"
        )),
        (Some(server_url), Some(token)) => {
            let server_url = session::normalize_server_url(&server_url).map_err(|_| {
                format!(
                    "{ENV_SERVER_URL}={server_url:?} cannot be used: expected an http:// or https:// URL such as http://127.0.0.1:7878"
                )
            })?;
            Ok(Some(Credentials { server_url, token }))
        }
    }
}

fn env_var(name: &str) -> Result<Option<String>, String> {
    match std::env::var(name) {
        Ok(value) => Ok(Some(value)),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => Err(format!("{name} is not valid UTF-8")),
    }
}

pub fn run() {
    startup::note("main");
    let env_sign_in = match env_var(ENV_SERVER_URL)
        .and_then(|url| Ok((url, env_var(ENV_TOKEN)?)))
        .and_then(|(url, token)| env_credentials(url, token))
    {
        Ok(credentials) => credentials,
        Err(message) => {
            eprintln!("roost-desktop: {message}");
            std::process::exit(2);
        }
    };
    let mut context = tauri::generate_context!();
    // The first page carries the saved session's chat list (`first_paint`).
    // Every load of it carries the system theme (`theme`) and UI font (`system_font`).
    let first_paint = std::sync::Arc::new(first_paint::FirstPaint::default());
    let system_theme = std::sync::Arc::new(theme::CurrentTheme::default());
    let system_font = std::sync::Arc::new(system_font::CurrentFont::default());
    let built = context.set_assets(Box::new(first_paint::NoAssets));
    context.set_assets(Box::new(first_paint::FirstPaintAssets {
        built,
        first: first_paint.clone(),
        theme: system_theme.clone(),
        font: system_font.clone(),
    }));
    let paths = platform::AppPaths::for_this_machine(&context.config().identifier)
        .expect("Roost needs a home directory for its files");
    let log_plugin = tauri_plugin_log::Builder::new()
        .clear_targets()
        .targets([
            tauri_plugin_log::Target::new(tauri_plugin_log::TargetKind::Stdout),
            tauri_plugin_log::Target::new(tauri_plugin_log::TargetKind::Folder {
                path: paths.log_dir.clone(),
                file_name: None,
            }),
        ])
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
        // The notification plugin comes once the page has loaded (`desktop::install_notifications`).
        .setup(move |app| {
            // Tauri built the configured window and its WebView just before this hook.
            // Startup's main-thread time goes to the page first: the tray icon comes after the
            // first paint (`on_page_load` below).
            startup::note("window-created");
            // Before the main loop runs, so before WebKit asks for the page.
            theme::follow_system(app.handle(), desktop::MAIN_WINDOW, system_theme);
            system_font::follow_system(app.handle(), desktop::MAIN_WINDOW, system_font);
            tracing::info!(
                caches = %paths.data_dir.join(roost_core::account::ACCOUNTS_DIR).display(),
                config = %paths.config_dir.display(),
                logs = %paths.log_dir.display(),
                "where Roost keeps its files"
            );
            app.manage(AppState::new(paths.data_dir, paths.config_dir));
            exit_on_terminate(app.handle());
            let handle = app.handle().clone();
            tauri::async_runtime::spawn(async move {
                startup::note("session-task");
                let state = handle.state::<AppState>();
                // Environment credentials (tests, `./dev run`) win over saved ones; neither is
                // verified here: the app starts from its cache even when the server is down.
                let started = match env_sign_in {
                    Some(credentials) => state
                        .start_session(&handle, credentials, false)
                        .await
                        .map(Some),
                    None => state.start_saved(&handle).await,
                };
                if let Err(e) = started {
                    tracing::error!(error = %e, "could not start the saved session");
                }
                first_paint.publish(state.chat_entries().await.as_deref());
                startup::note("session-started");
                state.mark_started();
            });
            Ok(())
        })
        // The tray icon and the notification plugin, off start-up's path: WebKit reports the
        // load finished before the page's first frame (the tray was installed 60–65 ms before
        // it), and both take the main thread (loading the indicator libraries, the icon,
        // D-Bus), which serves the page's requests. Nothing needs them that early (issue 11's
        // cold start), so they come a while later.
        .on_page_load(|webview, payload| {
            if payload.event() == tauri::webview::PageLoadEvent::Finished {
                startup::report_when_painted(webview, true);
                let app = webview.app_handle().clone();
                tauri::async_runtime::spawn(async move {
                    tokio::time::sleep(desktop::AFTER_START).await;
                    let handle = app.clone();
                    let _ = app.run_on_main_thread(move || {
                        startup::note("tray-requested");
                        if desktop::install_tray(&handle) {
                            startup::note("tray-installed");
                        }
                        desktop::install_notifications(&handle);
                    });
                    // Once start-up's transient allocations are freed (the wasm has loaded and
                    // the first lists were read by then): their pages go back to the system.
                    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                    memory::trim_heap();
                });
            }
        })
        .invoke_handler(commands::replied_first(tauri::generate_handler![
            commands::app_status,
            commands::startup_timeline,
            commands::startup_report,
            commands::subscribe,
            commands::sign_in,
            commands::sign_out,
            commands::chats,
            commands::close_chat,
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
            commands::leave_chat,
            commands::forget_chat,
            account_commands::accounts,
            account_commands::switch_account,
            account_commands::sign_out_account,
        ]))
        .build(context)
        .expect("error while building the Roost desktop app")
        .run(|app, event| {
            // Closing the cache on the way out seals it with the clean-shutdown mark; without
            // it every next start runs the whole-file integrity checks (O(messages): seconds
            // with a million cached messages; issue 11's cold start).
            if let tauri::RunEvent::Exit = event
                && let Some(state) = app.try_state::<AppState>()
            {
                tauri::async_runtime::block_on(state.stop_session());
            }
        });
}

/// SIGTERM (a desktop session ending, `kill`) exits through the event loop like closing the
/// window does, so the exit handler closes the cache cleanly (unix; elsewhere nothing to do).
fn exit_on_terminate(app: &tauri::AppHandle) {
    #[cfg(unix)]
    {
        let app = app.clone();
        tauri::async_runtime::spawn(async move {
            use tokio::signal::unix::{SignalKind, signal};
            match signal(SignalKind::terminate()) {
                Ok(mut terminate) => {
                    if terminate.recv().await.is_some() {
                        tracing::info!("SIGTERM: exiting");
                        app.exit(0);
                    }
                }
                Err(e) => tracing::debug!(error = %e, "no SIGTERM handler"),
            }
        });
    }
    #[cfg(not(unix))]
    let _ = app;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_sign_in_is_both_variables_or_neither_and_a_bad_url_is_an_error() {
        let some = |v: &str| Some(v.to_string());
        assert_eq!(env_credentials(None, None), Ok(None));
        assert_eq!(env_credentials(some(" "), some("")), Ok(None));
        assert_eq!(
            env_credentials(some("http://127.0.0.1:7878/"), some("t")),
            Ok(Some(Credentials {
                server_url: "http://127.0.0.1:7878".into(),
                token: "t".into()
            }))
        );
        let error = env_credentials(some("127.0.0.1:7878"), some("t")).unwrap_err();
        assert!(
            error.starts_with("ROOST_SERVER_URL=\"127.0.0.1:7878\" cannot be used")
                && error.contains("http://"),
            "{error}"
        );
        let error = env_credentials(some("http://127.0.0.1:7878"), None).unwrap_err();
        assert!(error.contains("ROOST_TOKEN"), "{error}");
        let error = env_credentials(None, some("t")).unwrap_err();
        assert!(error.contains("ROOST_SERVER_URL"), "{error}");
    }
}
