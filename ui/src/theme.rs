//! The colour theme: follow the system (the default) or an explicit choice, stored on this
//! device (`localStorage`) and applied as `data-theme` on `<html>`, which the stylesheet's
//! palettes key on. "The system" is what the desktop shell says it is (`data-system-theme` on
//! `<html>`, which the shell sets in the page as served and when the system's theme changes:
//! `src-tauri/src/theme.rs`), else the WebView's `prefers-color-scheme` (a plain browser).
//! The UI never writes `data-system-theme`: it only sets or removes its choice over it.

/// The user's theme choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Theme {
    #[default]
    System,
    Light,
    Dark,
}

const STORAGE_KEY: &str = "roost.theme";

impl Theme {
    pub const ALL: [Theme; 3] = [Theme::System, Theme::Light, Theme::Dark];

    pub fn as_str(self) -> &'static str {
        match self {
            Theme::System => "system",
            Theme::Light => "light",
            Theme::Dark => "dark",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Theme::System => "System",
            Theme::Light => "Light",
            Theme::Dark => "Dark",
        }
    }

    /// Unknown or missing values mean "follow the system".
    pub fn parse(value: &str) -> Theme {
        Theme::ALL
            .into_iter()
            .find(|t| t.as_str() == value)
            .unwrap_or_default()
    }

    /// The stored choice (System when none; natively always System).
    pub fn load() -> Theme {
        #[cfg(target_arch = "wasm32")]
        {
            let stored = web_sys::window()
                .and_then(|w| w.local_storage().ok().flatten())
                .and_then(|s| s.get_item(STORAGE_KEY).ok().flatten());
            stored.map(|v| Theme::parse(&v)).unwrap_or_default()
        }
        #[cfg(not(target_arch = "wasm32"))]
        {
            let _ = STORAGE_KEY;
            Theme::System
        }
    }

    /// Stores the choice and applies it to the document.
    pub fn store_and_apply(self) {
        #[cfg(target_arch = "wasm32")]
        if let Some(storage) = web_sys::window().and_then(|w| w.local_storage().ok().flatten()) {
            let _ = storage.set_item(STORAGE_KEY, self.as_str());
        }
        self.apply();
    }

    /// Sets `data-theme` on `<html>` (removed for System, so the system theme decides).
    pub fn apply(self) {
        #[cfg(target_arch = "wasm32")]
        if let Some(root) = web_sys::window()
            .and_then(|w| w.document())
            .and_then(|d| d.document_element())
        {
            let _ = match self {
                Theme::System => root.remove_attribute("data-theme"),
                other => root.set_attribute("data-theme", other.as_str()),
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_round_trips_and_defaults_to_system() {
        for theme in Theme::ALL {
            assert_eq!(Theme::parse(theme.as_str()), theme);
        }
        assert_eq!(Theme::parse(""), Theme::System);
        assert_eq!(Theme::parse("sepia"), Theme::System);
    }
}
