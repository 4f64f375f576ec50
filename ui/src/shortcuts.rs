//! Keyboard shortcuts: which key press does what (pure, tested natively), and the list the
//! shortcuts sheet shows. `app` listens on the window and performs the action.

/// What a global shortcut does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Ctrl+K / Ctrl+P: the quick switcher.
    OpenSwitcher,
    /// `?` (outside text fields) or Ctrl+/: the shortcuts sheet.
    ShowShortcuts,
    /// Alt+↑ / Alt+↓: the chat above / below in the list.
    PreviousChat,
    NextChat,
    /// Escape while a dialog is open.
    CloseDialog,
}

/// One key press, as the window saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct KeyPress<'a> {
    pub key: &'a str,
    /// Ctrl, or Cmd on macOS.
    pub ctrl: bool,
    pub alt: bool,
    pub shift: bool,
    /// Focus is in a text input or textarea (typing `?` there is text, not a shortcut).
    pub in_text_field: bool,
    pub dialog_open: bool,
}

pub fn action_for(press: KeyPress<'_>) -> Option<Action> {
    let key = press.key;
    match key {
        "k" | "K" | "p" | "P" if press.ctrl && !press.alt => Some(Action::OpenSwitcher),
        "/" if press.ctrl => Some(Action::ShowShortcuts),
        "?" if !press.ctrl && !press.alt && !press.in_text_field && !press.dialog_open => {
            Some(Action::ShowShortcuts)
        }
        "ArrowUp" if press.alt && !press.ctrl && !press.dialog_open => Some(Action::PreviousChat),
        "ArrowDown" if press.alt && !press.ctrl && !press.dialog_open => Some(Action::NextChat),
        "Escape" if press.dialog_open => Some(Action::CloseDialog),
        _ => None,
    }
}

/// What a key press in the focused message list does (beyond the browser's own scrolling).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ListKey {
    /// Scroll by this many viewport heights (negative: up).
    Pages(f64),
    /// Scroll by this many pixels.
    Pixels(f64),
    Top,
    Latest,
}

pub fn message_list_key(key: &str) -> Option<ListKey> {
    match key {
        "PageUp" => Some(ListKey::Pages(-0.9)),
        "PageDown" => Some(ListKey::Pages(0.9)),
        "ArrowUp" => Some(ListKey::Pixels(-40.0)),
        "ArrowDown" => Some(ListKey::Pixels(40.0)),
        "Home" => Some(ListKey::Top),
        "End" => Some(ListKey::Latest),
        _ => None,
    }
}

/// Every shortcut the sheet lists: (keys, what they do), grouped by where they apply.
pub const SHEET: &[(&str, &[(&str, &str)])] = &[
    (
        "Anywhere",
        &[
            ("Ctrl+K  ·  Ctrl+P", "Jump to a chat by name"),
            ("Alt+↑  ·  Alt+↓", "Previous / next chat"),
            ("?  ·  Ctrl+/", "This list of shortcuts"),
            (
                "Tab  ·  Shift+Tab",
                "Move between the chat list, Resync, messages and composer",
            ),
            ("Esc", "Close a dialog"),
        ],
    ),
    (
        "Chat list",
        &[("↑  ·  ↓  ·  Home  ·  End", "Choose a chat")],
    ),
    (
        "Messages",
        &[
            ("Page Up  ·  Page Down  ·  ↑  ·  ↓", "Scroll"),
            ("Home", "Oldest loaded message"),
            ("End", "Jump to the latest message"),
        ],
    ),
    (
        "Composer",
        &[
            ("Enter", "Send"),
            ("Shift+Enter", "New line"),
            ("Esc", "Cancel editing"),
        ],
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    fn press(key: &str) -> KeyPress<'_> {
        KeyPress {
            key,
            ..KeyPress::default()
        }
    }

    #[test]
    fn switcher_and_sheet_open_from_anywhere_question_mark_only_outside_text() {
        assert_eq!(
            action_for(KeyPress {
                ctrl: true,
                ..press("k")
            }),
            Some(Action::OpenSwitcher)
        );
        assert_eq!(
            action_for(KeyPress {
                ctrl: true,
                in_text_field: true,
                ..press("p")
            }),
            Some(Action::OpenSwitcher)
        );
        assert_eq!(action_for(press("k")), None, "plain k is text");
        assert_eq!(
            action_for(KeyPress {
                shift: true,
                ..press("?")
            }),
            Some(Action::ShowShortcuts)
        );
        assert_eq!(
            action_for(KeyPress {
                in_text_field: true,
                ..press("?")
            }),
            None
        );
        assert_eq!(
            action_for(KeyPress {
                ctrl: true,
                in_text_field: true,
                ..press("/")
            }),
            Some(Action::ShowShortcuts)
        );
    }

    #[test]
    fn chat_switching_and_escape() {
        assert_eq!(
            action_for(KeyPress {
                alt: true,
                ..press("ArrowUp")
            }),
            Some(Action::PreviousChat)
        );
        assert_eq!(
            action_for(KeyPress {
                alt: true,
                ..press("ArrowDown")
            }),
            Some(Action::NextChat)
        );
        assert_eq!(action_for(press("ArrowDown")), None);
        assert_eq!(
            action_for(press("Escape")),
            None,
            "Esc is the composer's when no dialog is open"
        );
        assert_eq!(
            action_for(KeyPress {
                dialog_open: true,
                ..press("Escape")
            }),
            Some(Action::CloseDialog)
        );
    }

    #[test]
    fn message_list_keys() {
        assert_eq!(message_list_key("PageUp"), Some(ListKey::Pages(-0.9)));
        assert_eq!(message_list_key("End"), Some(ListKey::Latest));
        assert_eq!(message_list_key("a"), None);
    }
}
