//! The quick switcher's ranking (Ctrl+K / Ctrl+P): which chats match what was typed, best
//! first. Pure; the dialog is `ux_components::QuickSwitcher`.
//!
//! A title matches when the query (case-insensitive, trimmed) is its prefix, the prefix of one
//! of its words, a substring, or a subsequence (typing "wkh" finds "Weekend hike"), in that
//! order of rank; ties keep the chat list's order (most recent activity first), so the chat you
//! talked in last wins.

use roost_model::app::ChatEntry;

/// How many results the switcher shows.
pub const MAX_RESULTS: usize = 8;

/// How well `title` matches `query` (lower is better), `None` when it does not.
pub fn match_rank(title: &str, query: &str) -> Option<u8> {
    let title = title.to_lowercase();
    let query = query.trim().to_lowercase();
    if query.is_empty() {
        return Some(0);
    }
    if title.starts_with(&query) {
        return Some(0);
    }
    let word_start = title.char_indices().filter(|(i, _)| *i > 0).any(|(i, _)| {
        let before = title[..i].chars().next_back();
        before.is_some_and(|c| !c.is_alphanumeric()) && title[i..].starts_with(&query)
    });
    if word_start {
        return Some(1);
    }
    if title.contains(&query) {
        return Some(2);
    }
    let mut rest = query.chars().filter(|c| !c.is_whitespace()).peekable();
    for c in title.chars() {
        if rest.peek() == Some(&c) {
            rest.next();
        }
    }
    rest.peek().is_none().then_some(3)
}

/// The chats to show for `query`, best first, at most [`MAX_RESULTS`]. `chats` is in the chat
/// list's order.
pub fn rank(chats: &[ChatEntry], query: &str) -> Vec<ChatEntry> {
    let mut matches: Vec<(u8, usize, &ChatEntry)> = chats
        .iter()
        .enumerate()
        .filter_map(|(index, chat)| match_rank(&chat.title, query).map(|rank| (rank, index, chat)))
        .collect();
    matches.sort_by_key(|(rank, index, _)| (*rank, *index));
    matches
        .into_iter()
        .take(MAX_RESULTS)
        .map(|(_, _, chat)| chat.clone())
        .collect()
}

/// Moves the highlighted result with the arrow keys (wrapping), `None` for other keys.
pub fn move_selection(key: &str, current: usize, len: usize) -> Option<usize> {
    if len == 0 {
        return None;
    }
    match key {
        "ArrowDown" => Some((current + 1) % len),
        "ArrowUp" => Some((current + len - 1) % len),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use roost_model::fixtures::{chat_entry, next_chat_id};

    fn chat(title: &str) -> ChatEntry {
        chat_entry(next_chat_id(), title)
    }

    fn titles(chats: &[ChatEntry], query: &str) -> Vec<String> {
        rank(chats, query).into_iter().map(|c| c.title).collect()
    }

    #[test]
    fn prefix_then_word_start_then_substring_then_subsequence() {
        assert_eq!(match_rank("General", "gen"), Some(0));
        assert_eq!(match_rank("Weekend hike 🥾", "HIKE"), Some(1));
        assert_eq!(match_rank("Release 1.0 planning", "lease"), Some(2));
        assert_eq!(match_rank("Weekend hike", "wkh"), Some(3));
        assert_eq!(match_rank("Bob", "xyz"), None);
        let chats = [
            chat("Book club"),
            chat("Bob"),
            chat("Weekend hike"),
            chat("Design review"),
        ];
        assert_eq!(
            titles(&chats, "bo"),
            ["Book club", "Bob"],
            "ties keep the list order"
        );
        assert_eq!(titles(&chats, "re"), ["Design review"]);
        assert_eq!(
            titles(&chats, " "),
            ["Book club", "Bob", "Weekend hike", "Design review"]
        );
        assert!(titles(&chats, "zz").is_empty());
    }

    #[test]
    fn results_are_bounded_and_arrows_wrap() {
        let chats: Vec<ChatEntry> = (0..20).map(|i| chat(&format!("chat {i}"))).collect();
        assert_eq!(rank(&chats, "chat").len(), MAX_RESULTS);
        assert_eq!(move_selection("ArrowDown", 7, 8), Some(0));
        assert_eq!(move_selection("ArrowUp", 0, 8), Some(7));
        assert_eq!(move_selection("Enter", 0, 8), None);
        assert_eq!(move_selection("ArrowDown", 0, 0), None);
    }
}
