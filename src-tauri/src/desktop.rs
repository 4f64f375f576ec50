//! What a desktop user expects beyond the window's content: the unread count in the window
//! title and on the tray icon (where the platform has a tray), and a desktop notification for a new message while the window is not focused.
//! Driven by the chat rows the core reports; never decides anything about sync.

use roost_core::ChatRecord;
use roost_proto::ChatId;
use std::collections::HashMap;
use tauri::{AppHandle, Manager};
use tauri_plugin_notification::NotificationExt;

/// Registers the notification plugin, once. Not at start-up: its script for the page asks the
/// shell for the notification permission at every page start, an IPC request that kept WebKit's
/// page loading, and so its first paint, waiting on the busy main thread (issue 11's cold start).
/// Roost shows notifications from Rust only, and the page may not call the plugin anyway
/// (`capabilities/default.json`). Called once the page has loaded, and by the first
/// notification should it come earlier.
pub fn install_notifications(app: &AppHandle) {
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    INSTALLED.call_once(|| {
        if let Err(e) = app.plugin(tauri_plugin_notification::init()) {
            tracing::warn!(error = %e, "no desktop notifications: the plugin did not start");
        }
    });
}

pub const MAIN_WINDOW: &str = "main";
const TRAY_ID: &str = "roost";

/// How long after the page has loaded the tray icon and the notification plugin are installed:
/// after the first paint of the chat list and, usually, the UI's own (issue 11's cold start).
/// The unread count is in the window title meanwhile, and a notification due earlier installs
/// the plugin itself.
pub const AFTER_START: std::time::Duration = std::time::Duration::from_secs(1);

/// A tray icon whose tooltip (and, where the platform shows one, title) carries the unread
/// count; clicking it brings the window back. A desktop without a tray (or a session without
/// one) only loses the icon: failure is logged, never fatal. Whether the icon is there now.
pub fn install_tray(app: &AppHandle) -> bool {
    if app.tray_by_id(TRAY_ID).is_some() {
        return true;
    }
    // Installed after start-up: the window title may already carry an unread count.
    let title = app
        .get_webview_window(MAIN_WINDOW)
        .and_then(|window| window.title().ok())
        .unwrap_or_else(|| APP_TITLE.to_string());
    let mut builder = tauri::tray::TrayIconBuilder::with_id(TRAY_ID)
        .tooltip(&title)
        .on_tray_icon_event(|tray, event| {
            if let tauri::tray::TrayIconEvent::Click { .. } = event
                && let Some(window) = tray.app_handle().get_webview_window(MAIN_WINDOW)
            {
                let _ = window.unminimize();
                let _ = window.show();
                let _ = window.set_focus();
            }
        });
    if let Some(icon) = app.default_window_icon() {
        builder = builder.icon(icon.clone());
    }
    match builder.build(app) {
        Ok(tray) => {
            // As `update_title` sets it: the count, where the platform shows a tray title.
            #[cfg(not(windows))]
            let _ = tray.set_title(unread_in_title(&title).map(|total| total.to_string()));
            #[cfg(windows)]
            let _ = tray;
            true
        }
        Err(e) => {
            tracing::info!(error = %e, "no tray icon on this desktop; the unread count stays in the window title");
            false
        }
    }
}
const APP_TITLE: &str = "Roost";

/// `Roost` or `Roost (3)`.
pub fn window_title(total_unread: u64) -> String {
    if total_unread == 0 {
        APP_TITLE.to_string()
    } else {
        format!("{APP_TITLE} ({total_unread})")
    }
}

/// The unread total a [`window_title`] shows (none: no count, or not such a title).
#[cfg_attr(windows, allow(dead_code))] // Windows' tray shows no title
fn unread_in_title(title: &str) -> Option<u64> {
    let count = title.strip_prefix(APP_TITLE)?.trim().strip_prefix('(')?;
    count
        .strip_suffix(')')?
        .parse()
        .ok()
        .filter(|total| *total > 0)
}

#[derive(Debug)]
pub struct DesktopEffects {
    app: AppHandle,
    unread: HashMap<ChatId, u64>,
    shown_total: Option<u64>,
}

impl DesktopEffects {
    pub fn new(app: AppHandle) -> Self {
        DesktopEffects {
            app,
            unread: HashMap::new(),
            shown_total: None,
        }
    }

    /// Takes the unread counts of the cached chats without notifying about them.
    pub fn seed(&mut self, chats: &[ChatRecord]) {
        for chat in chats {
            self.unread.insert(chat.chat_id, chat.unread_count);
        }
        self.update_title();
    }

    pub fn chat_updated(&mut self, chat: &ChatRecord) {
        let before = self
            .unread
            .insert(chat.chat_id, chat.unread_count)
            .unwrap_or(0);
        if chat.unread_count > before && !self.window_focused() {
            self.notify(chat);
        }
        self.update_title();
    }

    fn window_focused(&self) -> bool {
        self.app
            .get_webview_window(MAIN_WINDOW)
            .and_then(|w| w.is_focused().ok())
            .unwrap_or(false)
    }

    fn update_title(&mut self) {
        let total: u64 = self.unread.values().sum();
        if self.shown_total == Some(total) {
            return;
        }
        self.shown_total = Some(total);
        if let Some(window) = self.app.get_webview_window(MAIN_WINDOW)
            && let Err(e) = window.set_title(&window_title(total))
        {
            tracing::debug!(error = %e, "could not set the window title");
        }
        if let Some(tray) = self.app.tray_by_id(TRAY_ID) {
            let _ = tray.set_tooltip(Some(window_title(total)));
            // A tray icon has no title on Windows: there the tooltip carries the count.
            #[cfg(not(windows))]
            let _ = tray.set_title((total > 0).then(|| total.to_string()));
        }
    }

    fn notify(&self, chat: &ChatRecord) {
        let title = chat.title.clone();
        let body = chat
            .last_message_preview
            .clone()
            .unwrap_or_else(|| "New message".to_string());
        let app = self.app.clone();
        // Showing a notification talks to the desktop's notification daemon; never let a slow
        // or missing daemon hold up the event forwarder.
        tauri::async_runtime::spawn_blocking(move || {
            install_notifications(&app);
            if app
                .try_state::<tauri_plugin_notification::Notification<tauri::Wry>>()
                .is_none()
            {
                return;
            }
            if let Err(e) = app.notification().builder().title(title).body(body).show() {
                tracing::debug!(error = %e, "could not show a desktop notification");
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn title_shows_unread_total() {
        assert_eq!(window_title(0), "Roost");
        assert_eq!(window_title(12), "Roost (12)");
    }

    #[test]
    fn the_unread_total_is_read_back_from_the_title() {
        assert_eq!(unread_in_title(&window_title(12)), Some(12));
        assert_eq!(unread_in_title(&window_title(0)), None);
        assert_eq!(unread_in_title("Roost blank window"), None);
        assert_eq!(unread_in_title("Other (3)"), None);
    }
}
