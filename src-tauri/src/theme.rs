//! The system's light/dark theme as the shell reads it, handed to the page so that "follow the
//! system" does not depend on WebKit's own bridge from the toolkit to `prefers-color-scheme`
//! (issue 11's memory: with `WEBKIT_WEB_RENDER_DEVICE_FILE` set, which the software path needs,
//! WebKitGTK 2.50's pages no longer see a dark GTK theme as `prefers-color-scheme: dark`).
//!
//! The page gets it as `data-system-theme` (`light` or `dark`) on `<html>`: in the page as
//! served (`first_paint`, so the first frame already has the right colours) and, when the
//! system's theme changes while Roost runs, set by the shell in the loaded page. The stylesheet
//! (`ui/style.css`) keys on it; the user's explicit choice (`data-theme`, `ui/src/theme.rs`)
//! wins over it; without it (another platform, whose WebView reports the system's preference
//! itself; the UI in a plain browser) `prefers-color-scheme` decides.
//!
//! On Linux the system theme is the one GTK draws Roost's window with: `GTK_THEME`
//! (`Name[:variant]`) when set, else the GTK settings `gtk-application-prefer-dark-theme`
//! and `gtk-theme-name` (XSETTINGS, `settings.ini`; tao also sets the first from the desktop
//! portal's `color-scheme` at start and whenever the portal reports a change).

use crate::system_setting::Current;

/// The system's theme, as the page's `data-system-theme` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SystemTheme {
    Light,
    Dark,
}

impl SystemTheme {
    /// The value of `data-system-theme`.
    pub fn as_str(self) -> &'static str {
        match self {
            SystemTheme::Light => "light",
            SystemTheme::Dark => "dark",
        }
    }

    /// GTK 3's own reading (`gtksettings.c`, `get_theme_name`): a non-empty `GTK_THEME`
    /// (`gtk_theme_env`, `Name` or `Name:variant`) wins over the settings; otherwise the
    /// `dark` variant is asked for by `gtk-application-prefer-dark-theme`. A theme named
    /// `…-dark` (such as `Adwaita-dark`) is dark in itself.
    pub fn from_gtk(
        gtk_theme_env: Option<&str>,
        theme_name: Option<&str>,
        prefer_dark: bool,
    ) -> Self {
        let dark_name = |name: &str| name.to_ascii_lowercase().ends_with("-dark");
        let dark = match gtk_theme_env.filter(|theme| !theme.is_empty()) {
            Some(theme) => match theme.rsplit_once(':') {
                Some((name, variant)) => variant == "dark" || dark_name(name),
                None => dark_name(theme),
            },
            None => prefer_dark || theme_name.is_some_and(dark_name),
        };
        if dark {
            SystemTheme::Dark
        } else {
            SystemTheme::Light
        }
    }
}

/// The system theme as last read (none: not read yet, or a platform where the shell says
/// nothing), shared between the main thread that reads it and the page's server.
pub type CurrentTheme = Current<Option<SystemTheme>>;

/// The page as served with the system theme on its `<html>` element (the page unchanged when
/// it has none).
pub fn with_system_theme(page: &str, theme: SystemTheme) -> Option<String> {
    let at = page.find("<html")? + "<html".len();
    Some(format!(
        "{} data-system-theme=\"{}\"{}",
        &page[..at],
        theme.as_str(),
        &page[at..]
    ))
}

/// The script that sets a new system theme in the loaded page.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))] // only Linux reads a theme
fn apply_script(theme: SystemTheme) -> String {
    format!(
        "document.documentElement.setAttribute('data-system-theme', '{}');",
        theme.as_str()
    )
}

/// Reads the system theme into `current` and follows its changes into the page of the window
/// `window` (Linux; elsewhere nothing: the WebView reports the system's preference itself).
/// Call it on the main thread, once GTK is up (Tauri's `setup`).
pub fn follow_system<R: tauri::Runtime>(
    app: &tauri::AppHandle<R>,
    window: &'static str,
    current: std::sync::Arc<CurrentTheme>,
) {
    #[cfg(target_os = "linux")]
    {
        use crate::system_setting::hand_to_page;
        use gtk::prelude::GtkSettingsExt;
        let Some(settings) = gtk::Settings::default() else {
            tracing::debug!("no GTK settings: the page follows prefers-color-scheme");
            return;
        };
        let read = |settings: &gtk::Settings| {
            let env = std::env::var("GTK_THEME").ok();
            SystemTheme::from_gtk(
                env.as_deref(),
                settings.gtk_theme_name().as_deref(),
                settings.is_gtk_application_prefer_dark_theme(),
            )
        };
        let theme = read(&settings);
        current.set(Some(theme));
        tracing::info!(theme = theme.as_str(), "system theme");
        let app = app.clone();
        let changed = move |settings: &gtk::Settings| {
            let theme = read(settings);
            if current.set(Some(theme)) {
                tracing::info!(theme = theme.as_str(), "system theme changed");
                hand_to_page(&app, window, apply_script(theme), "system theme");
            }
        };
        let on_name = changed.clone();
        settings.connect_gtk_theme_name_notify(move |settings| on_name(settings));
        settings
            .connect_gtk_application_prefer_dark_theme_notify(move |settings| changed(settings));
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (app, window, current);
}

#[cfg(test)]
mod tests {
    use super::*;
    use SystemTheme::{Dark, Light};

    #[test]
    fn gtk_theme_wins_over_the_settings_as_gtk_reads_it() {
        assert_eq!(
            SystemTheme::from_gtk(Some("Adwaita:dark"), None, false),
            Dark
        );
        assert_eq!(
            SystemTheme::from_gtk(Some("Adwaita"), Some("Adwaita-dark"), true),
            Light,
            "GTK_THEME without a variant: the settings are not read"
        );
        assert_eq!(
            SystemTheme::from_gtk(Some("Adwaita-dark"), None, false),
            Dark
        );
        assert_eq!(
            SystemTheme::from_gtk(Some("Adwaita:light"), None, true),
            Light
        );
        assert_eq!(
            SystemTheme::from_gtk(Some(""), None, true),
            Dark,
            "an empty GTK_THEME is unset"
        );
    }

    #[test]
    fn without_gtk_theme_the_dark_preference_or_a_dark_theme_name() {
        assert_eq!(SystemTheme::from_gtk(None, None, false), Light);
        assert_eq!(SystemTheme::from_gtk(None, Some("Adwaita"), false), Light);
        assert_eq!(SystemTheme::from_gtk(None, Some("Adwaita"), true), Dark);
        assert_eq!(SystemTheme::from_gtk(None, Some("Yaru-Dark"), false), Dark);
        assert_eq!(SystemTheme::from_gtk(None, Some("Darkly"), false), Light);
    }

    #[test]
    fn the_page_carries_the_theme_on_its_root_and_a_change_is_stored_once() {
        assert_eq!(
            with_system_theme("<!doctype html>\n<html lang=\"en\"><head>", Dark).as_deref(),
            Some("<!doctype html>\n<html data-system-theme=\"dark\" lang=\"en\"><head>")
        );
        assert_eq!(with_system_theme("<p>no root</p>", Light), None);
        let current = CurrentTheme::default();
        assert_eq!(current.get(), None);
        assert!(current.set(Some(Light)));
        assert!(
            !current.set(Some(Light)),
            "the same theme again is no change"
        );
        assert!(current.set(Some(Dark)));
        assert_eq!(current.get(), Some(Dark));
        assert!(apply_script(Dark).contains("'data-system-theme', 'dark'"));
    }
}
