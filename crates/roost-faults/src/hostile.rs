//! Hostile responses: well-formed HTTP 200s whose content breaks the protocol's promises.

use crate::Route;
use roost_proto::{DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE};
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// How a hostile response lies. The structural kinds apply to the range
/// (`GET /v1/chats/{id}/messages`) and changes (`GET /v1/chats/{id}/changes`) routes;
/// [`Hostile::InvalidJson`] and [`Hostile::TruncatedJson`] to any JSON route.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Hostile {
    /// A fabricated message whose seq is outside the requested range (just below
    /// `from_seq`/`min_seq`/the first listed seq, just above `to_seq`/`max_seq`/the last listed
    /// seq, at `before_seq`, or above `last_seq`).
    /// On a range page it is inserted where its seq sorts and a message at the other end is
    /// dropped (same length, still ascending and contiguous-looking), so that only a range check
    /// catches it; on a changes page it replaces the last change (keeping the rev order).
    OutOfRange,
    /// The page's messages in reverse order (needs at least two).
    Descending,
    /// The envelope's `chat_id` is another (random) chat.
    WrongChatId,
    /// The first message's `chat_id` is another (random) chat; the envelope is right.
    WrongMessageChatId,
    /// The second message replaced by a twin of the first: same seq, another id and body (the
    /// page keeps its length; a one-message page gets the twin appended).
    DuplicateSeq,
    /// More messages than the request's `limit` (the upstream is asked for a bigger page — for a
    /// `seqs` query, a longer list; the fault applies only if the chat has enough messages).
    Oversized,
    /// The body is an HTML error page, not JSON.
    InvalidJson,
    /// The body is cut in half (the HTTP framing is correct: a shorter Content-Length).
    TruncatedJson,
}

impl Hostile {
    pub const ALL: [Hostile; 8] = [
        Hostile::OutOfRange,
        Hostile::Descending,
        Hostile::WrongChatId,
        Hostile::WrongMessageChatId,
        Hostile::DuplicateSeq,
        Hostile::Oversized,
        Hostile::InvalidJson,
        Hostile::TruncatedJson,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Hostile::OutOfRange => "hostile_out_of_range",
            Hostile::Descending => "hostile_descending",
            Hostile::WrongChatId => "hostile_wrong_chat_id",
            Hostile::WrongMessageChatId => "hostile_wrong_message_chat_id",
            Hostile::DuplicateSeq => "hostile_duplicate_seq",
            Hostile::Oversized => "hostile_oversized",
            Hostile::InvalidJson => "hostile_invalid_json",
            Hostile::TruncatedJson => "hostile_truncated_json",
        }
    }

    pub(crate) fn applies_to(self, route: Route) -> bool {
        match self {
            Hostile::InvalidJson | Hostile::TruncatedJson => route != Route::Stream,
            _ => matches!(route, Route::Range | Route::Changes),
        }
    }
}

/// The numeric parameters of a query string.
#[derive(Debug, Clone, Default)]
pub(crate) struct Params(BTreeMap<String, String>);

impl Params {
    pub(crate) fn parse(query: Option<&str>) -> Params {
        let mut map = BTreeMap::new();
        for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            map.insert(key.to_owned(), value.to_owned());
        }
        Params(map)
    }
    fn get(&self, key: &str) -> Option<u64> {
        self.0.get(key).and_then(|v| v.parse().ok())
    }
    /// The `seqs` list (`41-44,51-60,75`, commas possibly percent-encoded) as ranges.
    fn seqs(&self) -> Option<Vec<(u64, u64)>> {
        let text = self.0.get("seqs")?.replace("%2C", ",").replace("%2c", ",");
        text.split(',')
            .filter(|p| !p.is_empty())
            .map(|part| match part.split_once('-') {
                Some((a, b)) => Some((a.parse().ok()?, b.parse().ok()?)),
                None => part.parse().ok().map(|v| (v, v)),
            })
            .collect()
    }
    fn limit(&self) -> u64 {
        self.get("limit").unwrap_or(u64::from(DEFAULT_PAGE_SIZE))
    }
    fn encode(&self) -> String {
        self.0
            .iter()
            .map(|(k, v)| {
                if v.is_empty() {
                    k.clone()
                } else {
                    format!("{k}={v}")
                }
            })
            .collect::<Vec<_>>()
            .join("&")
    }
}

/// The query string to send upstream (only [`Hostile::Oversized`] changes it: a bigger limit).
pub(crate) fn upstream_query(hostile: Option<Hostile>, query: Option<&str>) -> Option<String> {
    let query = query.map(str::to_owned);
    if hostile != Some(Hostile::Oversized) {
        return query;
    }
    let mut params = Params::parse(query.as_deref());
    let asked = params.limit();
    let bigger = (asked * 2 + 1).min(u64::from(MAX_PAGE_SIZE));
    params.0.insert("limit".to_owned(), bigger.to_string());
    // A `seqs` list bounds the answer: list more seqs (the last range extended).
    if let Some(mut ranges) = params.seqs()
        && let Some(last) = ranges.last_mut()
    {
        last.1 += bigger - asked;
        let text: Vec<String> = ranges
            .iter()
            .map(|(a, b)| {
                if a == b {
                    a.to_string()
                } else {
                    format!("{a}-{b}")
                }
            })
            .collect();
        params.0.insert("seqs".to_owned(), text.join("%2C"));
    }
    Some(params.encode())
}

fn fabricate(template: Option<&Value>, chat_id: &Value, seq: u64, rev: u64, text: &str) -> Value {
    let mut message = template.cloned().unwrap_or_else(|| {
        json!({
            "author": "mallory",
            "created_at": 0,
            "edited_at": null,
            "deleted_at": null,
        })
    });
    message["id"] = json!(uuid::Uuid::new_v4().to_string());
    message["chat_id"] = chat_id.clone();
    message["seq"] = json!(seq);
    message["version"] = json!(1);
    message["deleted_at"] = Value::Null;
    message["body"] = json!({ "text": text });
    message["rev"] = json!(rev);
    message
}

/// The hostile body for a 2xx response on `route`, or `None` when this kind cannot apply to
/// this response (too few messages, a `too_old` changes answer, not enough data to oversize).
pub(crate) fn mutate(
    hostile: Hostile,
    route: Route,
    query: Option<&str>,
    body: &[u8],
) -> Option<Vec<u8>> {
    match hostile {
        Hostile::InvalidJson => {
            return Some(
                b"<!DOCTYPE html><html><body><h1>502 Bad Gateway</h1></body></html>".to_vec(),
            );
        }
        Hostile::TruncatedJson => {
            return (body.len() >= 2).then(|| body[..body.len() / 2].to_vec());
        }
        _ => {}
    }
    let mut value: Value = serde_json::from_slice(body).ok()?;
    let params = Params::parse(query);
    let chat_id = value.get("chat_id")?.clone();
    let last_seq = value.get("last_seq")?.as_u64()?;
    let rev = value.get("rev")?.as_u64()?;
    if hostile == Hostile::WrongChatId {
        value["chat_id"] = json!(uuid::Uuid::new_v4().to_string());
        return serde_json::to_vec(&value).ok();
    }
    let messages = value.get_mut("messages")?.as_array_mut()?;
    match hostile {
        Hostile::OutOfRange => {
            let seq = out_of_range_seq(route, &params, last_seq);
            insert_out_of_range(messages, route, &chat_id, seq, rev);
        }
        Hostile::Descending => {
            if messages.len() < 2 {
                return None;
            }
            messages.reverse();
        }
        Hostile::WrongMessageChatId => {
            let first = messages.first_mut()?;
            first["chat_id"] = json!(uuid::Uuid::new_v4().to_string());
        }
        Hostile::DuplicateSeq => duplicate_first_seq(messages, &chat_id, rev)?,
        Hostile::Oversized => {
            if messages.len() as u64 <= params.limit() {
                return None;
            }
        }
        Hostile::WrongChatId | Hostile::InvalidJson | Hostile::TruncatedJson => {
            unreachable!("handled above")
        }
    }
    serde_json::to_vec(&value).ok()
}

/// A seq just outside what the request asked for: below its first seq (or range), else above
/// its last, else above the chat's `last_seq` (an open-ended or newest-page request).
fn out_of_range_seq(route: Route, params: &Params, last_seq: u64) -> u64 {
    match route {
        Route::Range if params.seqs().is_some() => {
            let ranges = params.seqs().unwrap_or_default();
            match (ranges.first(), ranges.last()) {
                (Some(first), _) if first.0 > 1 => first.0 - 1,
                (_, Some(last)) => last.1 + 1,
                _ => last_seq + 1,
            }
        }
        Route::Range => match (
            params.get("from_seq"),
            params.get("to_seq"),
            params.get("before_seq"),
        ) {
            (Some(from), _, _) if from > 1 => from - 1,
            (Some(_), Some(to), _) => to + 1,
            (Some(_), None, _) => last_seq + 1,
            (None, _, Some(before)) => before,
            (None, _, None) => last_seq + 1,
        },
        _ => match (params.get("min_seq"), params.get("max_seq")) {
            (Some(min), _) if min > 1 => min - 1,
            (_, Some(max)) => max + 1,
            _ => last_seq + 1,
        },
    }
}

/// Puts a fabricated message at `seq` into the page: a range page keeps its order and length
/// (a longer page would be caught as oversized instead), a changes page gets it last, at the
/// page's last rev.
fn insert_out_of_range(
    messages: &mut Vec<Value>,
    route: Route,
    chat_id: &Value,
    seq: u64,
    rev: u64,
) {
    if route == Route::Range {
        let extra = fabricate(messages.first(), chat_id, seq, rev, "hostile: out of range");
        let at = messages
            .iter()
            .position(|m| m["seq"].as_u64().unwrap_or(0) > seq)
            .unwrap_or(messages.len());
        messages.insert(at, extra);
        if messages.len() > 1 {
            if at == messages.len() - 1 {
                messages.remove(0);
            } else {
                messages.pop();
            }
        }
    } else {
        let last_rev = messages
            .last()
            .and_then(|m| m["rev"].as_u64())
            .unwrap_or(rev);
        let extra = fabricate(
            messages.first(),
            chat_id,
            seq,
            last_rev,
            "hostile: out of range",
        );
        if messages.len() > 1 {
            messages.pop();
        }
        messages.push(extra);
    }
}

/// The second message becomes a twin of the first (same seq, another id and body, the
/// second's rev); a one-message page gets the twin appended. `None` for an empty page.
fn duplicate_first_seq(messages: &mut Vec<Value>, chat_id: &Value, rev: u64) -> Option<()> {
    let first = messages.first()?.clone();
    let seq = first["seq"].as_u64()?;
    let twin_rev = messages
        .get(1)
        .and_then(|m| m["rev"].as_u64())
        .or_else(|| first["rev"].as_u64())
        .unwrap_or(rev);
    let twin = fabricate(
        Some(&first),
        chat_id,
        seq,
        twin_rev,
        "hostile: duplicate seq",
    );
    if messages.len() > 1 {
        messages[1] = twin;
    } else {
        messages.push(twin);
    }
    Some(())
}
