//! The chat list painted before the UI's wasm has loaded (issue 11's cold start): the page the
//! shell serves first carries the saved session's chat list as plain HTML, read from the cache
//! by the same query the `chats` command answers, so WebKit paints it with the page's first
//! frame instead of after the wasm has been fetched, compiled and has asked for the list. The
//! Leptos app renders its own list underneath and removes this one (`#first-paint`) once its
//! own is painted; until then the copy takes no clicks (`pointer-events: none`) and is hidden
//! from assistive technology (the app's list is the one to use).
//!
//! Only the first load of the page gets it (a reload shows the app's own list), and only when
//! the start-up sign-in attempt has finished by then ([`WAIT_FOR_SESSION`]); otherwise the page
//! is served as built. Titles and previews are the server's text: escaped, never markup.
//!
//! Every load of the page also carries the system theme (`theme`) and UI font (`system_font`),
//! so its first frame is already in the system's colours and font.

use crate::system_font::{CurrentFont, with_system_font};
use crate::theme::{CurrentTheme, with_system_theme};
use roost_model::app::{ChatEntry, OfflineCoverage};
use std::borrow::Cow;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;
use tauri::utils::assets::{AssetKey, AssetsIter, CspHash};

/// How long serving the page waits for the start-up sign-in attempt (it usually finished
/// before WebKit asks for the page).
pub const WAIT_FOR_SESSION: Duration = Duration::from_millis(150);

/// The page the list is put into.
const INDEX: &str = "/index.html";

/// What identifies the built page's inline script that applies the theme and marks the list's
/// frame (`ui/first-paint.js`, inlined into the head by `ui/index.html`).
const MARK_SCRIPT_NEEDLE: &str = "roost-chat-list-painted";

#[derive(Debug)]
enum Slot {
    /// The start-up sign-in attempt is still running.
    Waiting,
    /// The list to put into the first page (`None`: no session, or nothing listed).
    Ready(Option<String>),
    /// The first page has been served.
    Served,
}

/// The first page's chat list, handed from the start-up task to the page's first request.
#[derive(Debug)]
pub struct FirstPaint {
    slot: Mutex<Slot>,
    ready: Condvar,
}

impl Default for FirstPaint {
    fn default() -> Self {
        FirstPaint {
            slot: Mutex::new(Slot::Waiting),
            ready: Condvar::new(),
        }
    }
}

impl FirstPaint {
    /// The start-up sign-in attempt finished with these chats (`None`: no session).
    pub fn publish(&self, chats: Option<&[ChatEntry]>) {
        let html = chats.filter(|c| !c.is_empty()).map(chat_list_html);
        if let Ok(mut slot) = self.slot.lock()
            && matches!(*slot, Slot::Waiting)
        {
            *slot = Slot::Ready(html);
            self.ready.notify_all();
        }
    }

    /// The list for the page being served, once: waits up to `wait` for the start-up attempt.
    fn take(&self, wait: Duration) -> Option<String> {
        let slot = self.slot.lock().ok()?;
        let (mut slot, _) = self
            .ready
            .wait_timeout_while(slot, wait, |s| matches!(s, Slot::Waiting))
            .ok()?;
        match std::mem::replace(&mut *slot, Slot::Served) {
            Slot::Ready(html) => html,
            Slot::Waiting | Slot::Served => None,
        }
    }
}

/// The page with the list put in as the body's first child and the theme-and-mark script
/// moved from the head to the end of the list, where it runs before the first frame, finds the
/// list and leaves with it (the body's first element is the app's again once the list is
/// removed). The page as built when there is no `<body>`.
pub fn with_chat_list(page: &str, list: &str) -> Option<String> {
    let (page, script) = take_mark_script(page);
    let body = page.find("<body")?;
    let open_end = body + page[body..].find('>')? + 1;
    let list = match list.rsplit_once("</div>") {
        Some((inside, after)) => format!("{inside}{script}</div>{after}"),
        None => format!("{list}{script}"),
    };
    Some(format!("{}{list}{}", &page[..open_end], &page[open_end..]))
}

/// The page without its mark script, and the script (empty when the page has none).
fn take_mark_script(page: &str) -> (String, &str) {
    let found = page.find(MARK_SCRIPT_NEEDLE).and_then(|at| {
        let start = page[..at].rfind("<script")?;
        let end = at + page[at..].find("</script>")? + "</script>".len();
        Some((start, end))
    });
    match found {
        Some((start, end)) => (
            format!("{}{}", &page[..start], &page[end..]),
            &page[start..end],
        ),
        None => (page.to_string(), ""),
    }
}

/// The top of the app's sidebar (the switcher button and the search box, `ui/src/app/screens.rs`
/// and `ui/src/search.rs`), so the list sits where the app's own will: unfocusable, unclickable.
/// The search box and its checkbox are pictures of them (`.search-field`, `.check`: spans of the
/// same size and place, `ui/style.css`), not inputs: WebKitGTK held the first frame for its form
/// controls (DOMContentLoaded → first paint 16 ms with the two inputs, 11 ms with the pictures,
/// medians of 10 loads of the page as served, 2026-12-01; issue 11's cold start).
const SIDEBAR_TOP: &str = concat!(
    r#"<button type="button" class="switcher-button" tabindex="-1"><span>Jump to a chat…</span><kbd>Ctrl+K</kbd></button>"#,
    r#"<div class="search-panel"><form><span class="search-field">Search messages</span>"#,
    r#"<label class="search-scope"><span class="check"></span>This chat only</label></form></div>"#,
);

/// Text as HTML text (and attribute) content: `&`, `<`, `>`, `"` and `'` escaped.
fn escape(text: &str) -> std::borrow::Cow<'_, str> {
    html_escape::encode_quoted_attribute(text)
}

/// The list as the app's sidebar draws it (its classes, so `style.css` lays it out the same),
/// without the app's test ids or handlers: a picture of the list until the app's own is there.
/// The times are left out (the app formats them in the user's time zone).
pub fn chat_list_html(chats: &[ChatEntry]) -> String {
    let mut html = format!(
        r#"<div id="first-paint" class="first-paint" aria-hidden="true"><div class="layout"><aside class="sidebar">{SIDEBAR_TOP}<nav class="chat-list">"#
    );
    for chat in chats {
        let unread = if chat.unread_count > 0 { " unread" } else { "" };
        html.push_str(&format!(
            r#"<div class="chat-item{unread}"><span class="line"><span class="title">{}</span><span class="time"></span></span><span class="line"><span class="preview">{}</span>"#,
            escape(&chat.title),
            escape(chat.last_message_preview.as_deref().unwrap_or_default()),
        ));
        if chat.left {
            html.push_str(r#"<span class="badge left">Left</span>"#);
        }
        match chat.offline {
            OfflineCoverage::Complete => {
                html.push_str(r#"<span class="badge offline-complete">cached</span>"#)
            }
            OfflineCoverage::Partial => {
                html.push_str(r#"<span class="badge offline-partial">partly cached</span>"#)
            }
            OfflineCoverage::Empty => {}
        }
        if chat.unread_count > 0 {
            html.push_str(&format!(
                r#"<span class="badge unread">{}</span>"#,
                chat.unread_count
            ));
        }
        html.push_str("</span></div>");
    }
    html.push_str("</nav></aside></div></div>");
    html
}

/// The app's built assets, with the first page's chat list and, at every load, the system
/// theme (`theme`) and font (`system_font`) put into `index.html`.
#[allow(missing_debug_implementations)] // the built assets are not `Debug`
pub struct FirstPaintAssets<R: tauri::Runtime> {
    pub built: Box<dyn tauri::Assets<R>>,
    pub first: Arc<FirstPaint>,
    pub theme: Arc<CurrentTheme>,
    pub font: Arc<CurrentFont>,
}

impl<R: tauri::Runtime> tauri::Assets<R> for FirstPaintAssets<R> {
    fn get(&self, key: &AssetKey) -> Option<Cow<'_, [u8]>> {
        let built = self.built.get(key)?;
        if key.as_ref() != INDEX {
            // Start-up's timeline: when the page's script (and then its wasm) was served.
            if key.as_ref().ends_with(".js") {
                crate::startup::note("script-served");
            } else if key.as_ref().ends_with(".wasm") {
                crate::startup::note("wasm-served");
            }
            return Some(built);
        }
        crate::startup::note("page-requested");
        let page = std::str::from_utf8(&built).ok()?;
        let listed = self
            .first
            .take(WAIT_FOR_SESSION)
            .and_then(|list| with_chat_list(page, &list));
        let themed = self
            .theme
            .get()
            .and_then(|theme| with_system_theme(listed.as_deref().unwrap_or(page), theme));
        let changed = themed.or(listed);
        let font = self
            .font
            .get()
            .and_then(|font| with_system_font(changed.as_deref().unwrap_or(page), &font));
        font.or(changed)
            .map(|page| Cow::Owned(page.into_bytes()))
            .or(Some(built))
            .inspect(|_| crate::startup::note("page-served"))
    }

    fn iter(&self) -> Box<AssetsIter<'_>> {
        self.built.iter()
    }

    fn csp_hashes(&self, html_path: &AssetKey) -> Box<dyn Iterator<Item = CspHash<'_>> + '_> {
        // The list adds no script and no style; the built page's inline script is only moved,
        // its nonce with it: the built page's hashes still hold. The system font's style
        // element carries Tauri's nonce placeholder, which Tauri fills in as it serves the page.
        self.built.csp_hashes(html_path)
    }
}

/// Nothing: holds the context's place while its built assets are taken out to be wrapped.
#[derive(Debug)]
pub struct NoAssets;

impl<R: tauri::Runtime> tauri::Assets<R> for NoAssets {
    fn get(&self, _: &AssetKey) -> Option<Cow<'_, [u8]>> {
        None
    }

    fn iter(&self) -> Box<AssetsIter<'_>> {
        Box::new(std::iter::empty())
    }

    fn csp_hashes(&self, _: &AssetKey) -> Box<dyn Iterator<Item = CspHash<'_>> + '_> {
        Box::new(std::iter::empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use roost_model::sync_state::SyncState;
    use roost_proto::ChatId;

    fn entry(title: &str, preview: Option<&str>, unread: u64) -> ChatEntry {
        ChatEntry {
            chat_id: ChatId(uuid::Uuid::new_v4()),
            title: title.into(),
            members: vec![],
            unread_count: unread,
            last_message_preview: preview.map(Into::into),
            last_message_at: None,
            last_seq: 10,
            cached_count: 10,
            offline: OfflineCoverage::Complete,
            sync_state: SyncState::InSync,
            is_open: false,
            full_reload: None,
            left: false,
        }
    }

    #[test]
    fn the_list_is_the_chats_in_order_as_text_never_markup() {
        let chats = [
            entry("<script>alert(1)</script>", Some("a & b \"c\""), 3),
            entry("Small", Some("it's"), 0),
        ];
        let html = chat_list_html(&chats);
        assert!(!html.contains("<script>"), "{html}");
        assert!(
            html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{html}"
        );
        assert!(html.contains("a &amp; b &quot;c&quot;"), "{html}");
        assert!(
            !html.contains("it's"),
            "a single quote is escaped too: {html}"
        );
        assert!(
            html.contains(r#"<span class="badge unread">3</span>"#),
            "{html}"
        );
        let first = html.find("alert").unwrap();
        let second = html.find("Small").unwrap();
        assert!(first < second, "in the order given: {html}");
        assert!(
            !html.contains("data-testid"),
            "the app's list is the one tests (and users) use: {html}"
        );
        assert!(
            !html.contains("<input"),
            "no form control before the first frame (pictures of the search box): {html}"
        );
    }

    #[test]
    fn the_list_goes_first_into_the_body_of_the_first_page_only() {
        let script = "<script nonce=\"n\">mark('roost-chat-list-painted')</script>";
        let page = format!(
            "<html><head>{script}</head><body class=\"x\">\n<div id=\"splash\"></div></body></html>"
        );
        let first = FirstPaint::default();
        first.publish(Some(&[entry("General", Some("hi"), 0)]));
        let list = first.take(Duration::ZERO).expect("the published list");
        let served = with_chat_list(&page, &list).unwrap();
        assert!(
            served.starts_with("<html><head></head><body class=\"x\"><div id=\"first-paint\""),
            "the list first, the script gone from the head: {served}"
        );
        assert!(
            served.ends_with(&format!(
                "{script}</div>\n<div id=\"splash\"></div></body></html>"
            )),
            "the script at the end of the list, inside it: {served}"
        );
        assert_eq!(
            with_chat_list("<html><body></body></html>", "<p>list</p>").as_deref(),
            Some("<html><body><p>list</p></body></html>"),
            "a page without the script still gets the list"
        );
        assert_eq!(
            first.take(Duration::ZERO),
            None,
            "a reload gets the page as built"
        );
    }

    #[test]
    fn without_a_session_or_before_it_started_the_page_is_served_as_built() {
        let none = FirstPaint::default();
        none.publish(None);
        assert_eq!(none.take(Duration::ZERO), None);
        let empty = FirstPaint::default();
        empty.publish(Some(&[]));
        assert_eq!(empty.take(Duration::ZERO), None);
        let late = FirstPaint::default();
        assert_eq!(late.take(Duration::from_millis(5)), None, "not started yet");
        late.publish(Some(&[entry("General", None, 0)]));
        assert_eq!(
            late.take(Duration::ZERO),
            None,
            "the page was served already"
        );
    }
}
