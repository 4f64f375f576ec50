//! The system's UI font as the shell reads it, handed to the page by name (issue 11's cold
//! start), as the system theme is (`theme`).
//!
//! WebKitGTK 2.50 does not resolve CSS `system-ui`: the page's `font-family` list went on past it
//! to the Linux desktops' names (`Roboto, Ubuntu, "Noto Sans", sans-serif`), and WebKit asked
//! fontconfig about each name it could not find, per weight and size, before the first frame
//! (1,069 fontconfig matches at start-up against 184 for a blank page; `docs/benchmarks.md`).
//! With the system's own font first in the list the first lookup of each weight and size finds
//! it, and the page draws the font GTK draws Roost's window with — what `system-ui` means.
//!
//! The page gets it as the custom property `--system-font` on `:root` (a list of CSS strings):
//! in the page as served (a `<style>` element with Tauri's style nonce placeholder, so the CSP
//! lets it apply) and, when the system's font changes while Roost runs, set by the shell in the
//! loaded page. The stylesheet (`ui/style.css`) reads `var(--system-font, system-ui)` first in
//! its `font-family`; without it (another platform, whose WebView resolves `system-ui`; the UI
//! in a plain browser) the list is the one it always was.
//!
//! On Linux the system font is GTK's `gtk-font-name` (a Pango font description such as
//! `Ubuntu 11`, `Noto Sans, 10` or `Cantarell Bold 11`; XSETTINGS from the desktop, else
//! `settings.ini`); only its family is handed over, the page keeps its own sizes and weights.

use crate::system_setting::Current;
use std::fmt::Write as _;

/// The custom property the stylesheet reads.
pub const CSS_PROPERTY: &str = "--system-font";

/// Tauri's placeholder for a style element's CSP nonce: Tauri puts a fresh nonce in its place
/// (and into the CSP) when it serves the page, after `first_paint` has built it.
const STYLE_NONCE_PLACEHOLDER: &str = tauri::utils::assets::STYLE_NONCE_TOKEN;

/// The families of a Pango font description's family field (`Noto Sans,Cantarell` names two),
/// trimmed, empty ones left out.
pub fn split_families(family_field: &str) -> Vec<String> {
    family_field
        .split(',')
        .map(str::trim)
        .filter(|family| !family.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The families a Pango font description names (`gtk-font-name`: `Ubuntu 11` → `Ubuntu`,
/// `Ubuntu Sans Medium 11` → `Ubuntu Sans`), read as GTK reads it (Pango's parser); none when it
/// names no family.
#[cfg(target_os = "linux")]
pub fn families_of_description(description: &str) -> Vec<String> {
    let parsed = gtk::pango::FontDescription::from_string(description);
    parsed
        .family()
        .map(|field| split_families(&field))
        .unwrap_or_default()
}

/// `text` as a CSS string token (`"…"`) that reads back as `text` (a NUL, which CSS reads as
/// U+FFFD, as U+FFFD). Every ASCII character but letters, digits, space, `-`, `_` and `.` is a
/// hex escape, as are control characters: the token cannot end early, start a comment or an
/// escape of the page's own, and holds no `<`, `>`, `&` or quote, so it is safe inside a
/// `<style>` element of the served HTML and inside a script's string literal alike.
pub fn css_string(text: &str) -> String {
    let mut quoted = String::with_capacity(text.len() + 2);
    quoted.push('"');
    for c in text.chars() {
        match c {
            '\0' => quoted.push('\u{FFFD}'),
            c if c.is_ascii_alphanumeric() || matches!(c, ' ' | '-' | '_' | '.') => quoted.push(c),
            c if !c.is_ascii() && !c.is_control() => quoted.push(c),
            // A hex escape ends at its first whitespace, which CSS drops: always one space, so
            // a hex digit or a space after it is read as itself.
            c => {
                let _ = write!(quoted, "\\{:x} ", u32::from(c));
            }
        }
    }
    quoted.push('"');
    quoted
}

/// The value of `--system-font` for `families`: each a CSS string, comma-separated; none for no
/// families.
pub fn css_font_families(families: &[String]) -> Option<String> {
    (!families.is_empty()).then(|| {
        families
            .iter()
            .map(|family| css_string(family))
            .collect::<Vec<_>>()
            .join(", ")
    })
}

/// The page as served with `--system-font: value` on `:root`, as a style element at the start of
/// its `<head>` (the page unchanged, `None`, when it has no head). `value` comes from
/// [`css_font_families`], which escapes it.
pub fn with_system_font(page: &str, value: &str) -> Option<String> {
    let head = page.find("<head")?;
    let at = head + page[head..].find('>')? + 1;
    Some(format!(
        "{}<style nonce=\"{STYLE_NONCE_PLACEHOLDER}\">:root{{{CSS_PROPERTY}:{value}}}</style>{}",
        &page[..at],
        &page[at..]
    ))
}

/// The script that sets a new system font in the loaded page (removes it for none). The value
/// goes in as a JSON string; the CSSOM, unlike a style attribute, is not subject to the CSP.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))] // only Linux reads a font
pub fn apply_script(value: Option<&str>) -> String {
    let property = serde_json::to_string(CSS_PROPERTY).unwrap_or_default();
    match value {
        Some(value) => format!(
            "document.documentElement.style.setProperty({property}, {});",
            serde_json::to_string(value).unwrap_or_else(|_| "''".into())
        ),
        None => format!("document.documentElement.style.removeProperty({property});"),
    }
}

/// The system font's `--system-font` value as last read (none: not read yet, no font named, or
/// a platform where the shell says nothing), shared between the main thread that reads it and
/// the page's server.
pub type CurrentFont = Current<Option<String>>;

/// Reads the system font into `current` and follows its changes into the page of the window
/// `window` (Linux; elsewhere nothing: the WebView resolves `system-ui` itself). Call it on the
/// main thread, once GTK is up (Tauri's `setup`), before the page is requested.
pub fn follow_system<R: tauri::Runtime>(
    app: &tauri::AppHandle<R>,
    window: &'static str,
    current: std::sync::Arc<CurrentFont>,
) {
    #[cfg(target_os = "linux")]
    {
        use crate::system_setting::hand_to_page;
        use gtk::prelude::GtkSettingsExt;
        let Some(settings) = gtk::Settings::default() else {
            return;
        };
        let read = |settings: &gtk::Settings| {
            let name = settings.gtk_font_name();
            css_font_families(&families_of_description(
                name.as_deref().unwrap_or_default(),
            ))
        };
        let font = read(&settings);
        tracing::info!(font = ?font, "system font");
        current.set(font);
        let app = app.clone();
        settings.connect_gtk_font_name_notify(move |settings| {
            let font = read(settings);
            if current.set(font.clone()) {
                tracing::info!(font = ?font, "system font changed");
                hand_to_page(&app, window, apply_script(font.as_deref()), "system font");
            }
        });
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (app, window, current);
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A CSS string token read back (CSS Syntax §4.3.5, for what [`css_string`] writes: hex
    /// escapes with one whitespace after, any other escaped character as itself).
    fn read_css_string(token: &str) -> Option<String> {
        let inner = token.strip_prefix('"')?.strip_suffix('"')?;
        let mut text = String::new();
        let mut chars = inner.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '"' | '\n' => return None, // would end the token early
                '\\' => {
                    let mut hex = String::new();
                    while hex.len() < 6 && chars.peek().is_some_and(char::is_ascii_hexdigit) {
                        hex.extend(chars.next());
                    }
                    if hex.is_empty() {
                        text.extend(chars.next());
                        continue;
                    }
                    if chars.peek().is_some_and(|c| c.is_ascii_whitespace()) {
                        chars.next();
                    }
                    let code = u32::from_str_radix(&hex, 16).ok()?;
                    text.push(
                        char::from_u32(code)
                            .filter(|&c| c != '\0')
                            .unwrap_or('\u{FFFD}'),
                    );
                }
                c => text.push(c),
            }
        }
        Some(text)
    }

    #[test]
    fn a_family_name_is_a_quoted_css_string_with_what_could_break_out_escaped() {
        assert_eq!(css_string("Ubuntu"), "\"Ubuntu\"");
        assert_eq!(css_string("Noto Sans CJK JP"), "\"Noto Sans CJK JP\"");
        assert_eq!(css_string("文泉驿正黑"), "\"文泉驿正黑\"");
        assert_eq!(css_string("a\"b"), "\"a\\22 b\"");
        assert_eq!(css_string("a\\b"), "\"a\\5c b\"");
        assert_eq!(css_string("x</style>"), "\"x\\3c \\2f style\\3e \"");
        assert_eq!(css_string("1\n2"), "\"1\\a 2\"");
        assert_eq!(
            read_css_string(&css_string("a\"b c")).as_deref(),
            Some("a\"b c")
        );
    }

    #[test]
    fn the_families_of_a_gtk_font_name_without_size_or_style() {
        assert_eq!(
            split_families("Noto Sans, Cantarell ,"),
            ["Noto Sans", "Cantarell"]
        );
        assert!(split_families(" , ").is_empty());
        #[cfg(target_os = "linux")]
        {
            assert_eq!(families_of_description("Ubuntu 11"), ["Ubuntu"]);
            assert_eq!(families_of_description("Noto Sans,  10"), ["Noto Sans"]);
            assert_eq!(families_of_description("Cantarell Bold 11"), ["Cantarell"]);
            assert_eq!(
                families_of_description("Ubuntu Sans Medium Italic 11"),
                ["Ubuntu Sans"]
            );
            assert_eq!(families_of_description("Sans 10"), ["Sans"]);
            assert!(families_of_description("").is_empty());
            assert!(
                families_of_description("12").is_empty(),
                "a size alone names no family"
            );
        }
        assert_eq!(
            css_font_families(&["Noto Sans".into(), "Cantarell".into()]).as_deref(),
            Some("\"Noto Sans\", \"Cantarell\"")
        );
        assert_eq!(css_font_families(&[]), None);
    }

    #[test]
    fn the_page_carries_the_font_first_in_its_head_under_the_style_nonce() {
        let page = "<!doctype html>\n<html lang=\"en\"><head>\n<meta charset=\"utf-8\">";
        assert_eq!(
            with_system_font(page, "\"Ubuntu\"").as_deref(),
            Some(
                "<!doctype html>\n<html lang=\"en\"><head><style nonce=\"__TAURI_STYLE_NONCE__\">:root{--system-font:\"Ubuntu\"}</style>\n<meta charset=\"utf-8\">"
            )
        );
        assert_eq!(with_system_font("<p>no head</p>", "\"Ubuntu\""), None);
        assert_eq!(
            apply_script(Some("\"Ubuntu\"")),
            r#"document.documentElement.style.setProperty("--system-font", "\"Ubuntu\"");"#
        );
        assert_eq!(
            apply_script(None),
            r#"document.documentElement.style.removeProperty("--system-font");"#
        );
        let current = CurrentFont::default();
        assert_eq!(current.get(), None);
        assert!(current.set(Some("\"Ubuntu\"".into())));
        assert!(
            !current.set(Some("\"Ubuntu\"".into())),
            "the same font again is no change"
        );
        assert!(current.set(None));
        assert_eq!(current.get(), None);
    }

    proptest! {
        /// Any family name reads back as itself (a NUL as U+FFFD, as CSS reads one), and the
        /// token holds nothing that ends it, the style element or the HTML around it.
        #[test]
        fn any_family_name_reads_back_and_cannot_break_out(name in any::<String>()) {
            let token = css_string(&name);
            let inner = &token[1..token.len() - 1];
            prop_assert!(!inner.contains(['"', '\'', '<', '>', '&', '\n', '\r', '/', '*']), "{}", token);
            prop_assert!(!inner.chars().any(char::is_control), "{}", token);
            prop_assert_eq!(read_css_string(&token), Some(name.replace('\0', "\u{FFFD}")));
        }
    }
}
