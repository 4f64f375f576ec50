//! What the system settings the shell hands to the page (`theme`, `system_font`) share: the
//! value as last read, kept between the main thread that reads it and the page's server, and
//! the hand-over of a change into the loaded page.

use std::sync::Mutex;

/// A system setting as last read, shared between the main thread that reads it (GTK's settings)
/// and the page's server (`first_paint`, which puts it into the page as served).
#[derive(Debug, Default)]
pub struct Current<T>(Mutex<T>);

impl<T: Clone + PartialEq + Default> Current<T> {
    /// The value as last stored (the default when nothing was, or a reader panicked).
    pub fn get(&self) -> T {
        self.0.lock().map(|value| value.clone()).unwrap_or_default()
    }

    /// Stores `value`; whether it differs from what was stored.
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))] // only Linux reads the settings
    pub fn set(&self, value: T) -> bool {
        match self.0.lock() {
            Ok(mut current) if *current != value => {
                *current = value;
                true
            }
            _ => false,
        }
    }
}

/// Runs `script` (which sets a changed setting, `what`) in the page of the window `window`, if
/// that window is open; a failure is logged (the page keeps the value it had).
#[cfg(target_os = "linux")]
pub fn hand_to_page<R: tauri::Runtime>(
    app: &tauri::AppHandle<R>,
    window: &str,
    script: String,
    what: &str,
) {
    use tauri::Manager;
    if let Some(webview) = app.get_webview_window(window)
        && let Err(e) = webview.eval(script)
    {
        tracing::warn!(error = %e, "could not give the page the {what}");
    }
}
