//! What a desktop user expects beyond the window's content: the unread count in the window
//! title, and a desktop notification for a new message while the window is not focused.
//! Driven by the chat rows the core reports; never decides anything about sync.

use roost_core::ChatRecord;
use roost_proto::ChatId;
use std::collections::HashMap;
use tauri::{AppHandle, Manager};
use tauri_plugin_notification::NotificationExt;

pub const MAIN_WINDOW: &str = "main";
const APP_TITLE: &str = "Roost";

/// `Roost` or `Roost (3)`.
pub fn window_title(total_unread: u64) -> String {
    if total_unread == 0 {
        APP_TITLE.to_string()
    } else {
        format!("{APP_TITLE} ({total_unread})")
    }
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
}
