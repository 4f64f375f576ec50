//! Rendering the timeline natively and reading the HTML back as the entries a person sees, for
//! the UI's tests (unit tests here and the model-based screen test in `ui/tests/`). Native only:
//! never part of the wasm app.

use crate::logic;
use crate::timeline::Timeline;
use crate::ux_components::TimelineRows;
use leptos::prelude::*;
use roost_model::app::WindowItem;

/// One entry of a rendered timeline, in document order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Shown {
    /// A message row: its seq, whether it continues its author's group, and what it shows
    /// (its text, or `None` for a tombstone's "Message deleted").
    Message {
        seq: String,
        grouped: bool,
        text: Option<String>,
    },
    /// A skeleton standing for missing seqs: `kind` is `gap` or `older-history`.
    Skeleton {
        kind: String,
        from: String,
        to: String,
    },
    DaySeparator {
        label: String,
    },
    UnreadDivider,
}

/// The whole of `timeline` rendered by [`TimelineRows`] (the component the chat view shows),
/// with `today` as the local day for "Today"/"Yesterday".
pub fn render_timeline(timeline: Timeline, today: i64) -> String {
    let range = (0, timeline.len());
    Owner::new().with(|| {
        view! { <div class="messages"><TimelineRows timeline range today /></div> }.to_html()
    })
}

/// `items` as the chat view renders them: laid out as a timeline (day separators in UTC days,
/// no unread divider) and rendered whole.
pub fn render_items(items: &[WindowItem], today: i64) -> String {
    let timeline = Timeline::build(logic::rows(items, &[]), None, |ms| {
        ms.div_euclid(86_400_000)
    });
    render_timeline(timeline, today)
}

/// The entries of rendered HTML, in document order.
pub fn shown(html: &str) -> Vec<Shown> {
    let parts: Vec<&str> = html.split("data-testid=\"").skip(1).collect();
    let mut entries = Vec::new();
    for (i, part) in parts.iter().enumerate() {
        if part.starts_with("message\"") {
            entries.push(Shown::Message {
                seq: attribute(part, "data-seq"),
                grouped: attribute(part, "data-grouped") == "true",
                text: message_text(&parts[i + 1..]),
            });
        } else if part.starts_with("skeleton\"") {
            entries.push(Shown::Skeleton {
                kind: attribute(part, "data-kind"),
                from: attribute(part, "data-from"),
                to: attribute(part, "data-to"),
            });
        } else if part.starts_with("day-separator\"") {
            entries.push(Shown::DaySeparator {
                label: attribute(part, "aria-label"),
            });
        } else if part.starts_with("unread-divider\"") {
            entries.push(Shown::UnreadDivider);
        }
    }
    entries
}

/// Messages and skeletons only, as short strings: `m<seq>`, `gap a-b`, `older ..b`.
pub fn shown_rows(html: &str) -> Vec<String> {
    shown(html)
        .into_iter()
        .filter_map(|entry| match entry {
            Shown::Message { seq, .. } => Some(format!("m{seq}")),
            Shown::Skeleton { kind, to, .. } if kind == "older-history" => {
                Some(format!("older ..{to}"))
            }
            Shown::Skeleton { from, to, .. } => Some(format!("gap {from}-{to}")),
            _ => None,
        })
        .collect()
}

/// The value of attribute `name` in one element's markup (empty when absent).
fn attribute(part: &str, name: &str) -> String {
    let marker = format!("{name}=\"");
    let element = part.split('>').next().unwrap_or_default();
    element
        .split(&marker)
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap_or_default()
        .to_string()
}

/// What a message row shows, from the parts after its own up to the next row: its text node,
/// or `None` for a tombstone.
fn message_text(rest: &[&str]) -> Option<String> {
    rest.iter()
        .take_while(|p| !p.starts_with("message\"") && !p.starts_with("skeleton\""))
        .find_map(|p| {
            if p.starts_with("deleted\"") {
                Some(None)
            } else if p.starts_with("message-text\"") {
                // The text node: what the element shows (it has no `title`).
                p.split_once('>')
                    .and_then(|(_, rest)| rest.split('<').next())
                    .map(|text| Some(text.to_string()))
            } else {
                None
            }
        })
        .flatten()
}
