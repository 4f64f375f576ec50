//! HTTP transport: one typed method per protocol v1 endpoint, request figures, and validation of
//! every response against the request that produced it.
//!
//! Owns the wire: URLs, bearer auth, timeouts, error-body decoding, counting requests and
//! response-body bytes ([`RequestFigures`]), and rejecting hostile or broken responses
//! ([`validate_range_page`], [`validate_changes`], [`validate_message_response`]) before anyone
//! can write them to the cache. Must never touch the store or emit client events.

use crate::error::{Error, Result};
use crate::ranges::SeqRange;
use roost_proto::{
    AddMembersRequest, ChangesQuery, ChangesResponse, ChatId, ChatListResponse, ChatSummary,
    DEFAULT_PAGE_SIZE, EditRequest, ErrorBody, MeResponse, Message, MessageId, MessageResponse,
    MessagesPage, RangeQuery, SendRequest, Seq, SeqsQuery, StreamEvent, UserId,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Requests made and response-body bytes received by this client, since it was created.
#[derive(Debug, Default)]
pub struct RequestFigures {
    requests: AtomicU64,
    bytes: AtomicU64,
}

/// A copy of [`RequestFigures`] at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct FiguresSnapshot {
    pub requests: u64,
    pub bytes_received: u64,
}

impl FiguresSnapshot {
    /// Figures since `earlier`.
    pub fn since(self, earlier: FiguresSnapshot) -> FiguresSnapshot {
        FiguresSnapshot {
            requests: self.requests.saturating_sub(earlier.requests),
            bytes_received: self.bytes_received.saturating_sub(earlier.bytes_received),
        }
    }
}

impl RequestFigures {
    pub fn snapshot(&self) -> FiguresSnapshot {
        FiguresSnapshot {
            requests: self.requests.load(Ordering::Relaxed),
            bytes_received: self.bytes.load(Ordering::Relaxed),
        }
    }
}

/// Connection settings of the HTTP API.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// e.g. `http://127.0.0.1:7878` (no trailing `/v1`).
    pub base_url: String,
    pub token: String,
    pub connect_timeout: Duration,
    pub request_timeout: Duration,
    /// Allow plain `http://` to a host that is not loopback (tokens would cross the network
    /// in clear text); off unless the user says `--insecure-http`.
    pub allow_insecure_http: bool,
}

impl ApiConfig {
    pub fn new(base_url: impl Into<String>, token: impl Into<String>) -> Self {
        ApiConfig {
            base_url: base_url.into().trim_end_matches('/').to_string(),
            token: token.into(),
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(30),
            allow_insecure_http: false,
        }
    }
}

/// The typed HTTP client.
#[derive(Debug, Clone)]
pub struct Api {
    pub(crate) http: reqwest::Client,
    config: ApiConfig,
    figures: Arc<RequestFigures>,
    /// Extra figures of one operation (a resync), see [`Api::scoped`].
    scoped: Option<Arc<RequestFigures>>,
}

impl Api {
    pub fn new(config: ApiConfig) -> Result<Api> {
        if !config.allow_insecure_http && !transport_is_safe(&config.base_url) {
            return Err(Error::InvalidInput(format!(
                "refusing plain http to {}: the token would cross the network unencrypted; \
                 use https:// or allow it explicitly (--insecure-http)",
                config.base_url
            )));
        }
        let http = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .timeout(config.request_timeout)
            .build()
            .map_err(|e| Error::InvalidInput(format!("http client: {e}")))?;
        Ok(Api {
            http,
            config,
            figures: Arc::new(RequestFigures::default()),
            scoped: None,
        })
    }

    /// A clone that also counts into fresh figures, for one operation's report.
    pub fn scoped(&self) -> (Api, Arc<RequestFigures>) {
        let figs = Arc::new(RequestFigures::default());
        let mut api = self.clone();
        api.scoped = Some(figs.clone());
        (api, figs)
    }

    fn count(&self, requests: u64, bytes: u64) {
        for f in std::iter::once(&self.figures).chain(self.scoped.iter()) {
            f.requests.fetch_add(requests, Ordering::Relaxed);
            f.bytes.fetch_add(bytes, Ordering::Relaxed);
        }
    }

    pub fn config(&self) -> &ApiConfig {
        &self.config
    }

    pub fn figures(&self) -> FiguresSnapshot {
        self.figures.snapshot()
    }

    /// `ws://…/v1/stream` (or `wss://`).
    pub fn stream_url(&self) -> String {
        let base = &self.config.base_url;
        let ws = if let Some(rest) = base.strip_prefix("https://") {
            format!("wss://{rest}")
        } else if let Some(rest) = base.strip_prefix("http://") {
            format!("ws://{rest}")
        } else {
            base.clone()
        };
        format!("{ws}/v1/stream")
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}/v1{}", self.config.base_url, path)
    }

    pub(crate) async fn call<T: DeserializeOwned>(
        &self,
        req: reqwest::RequestBuilder,
    ) -> Result<(u16, T)> {
        let resp = req
            .bearer_auth(&self.config.token)
            .send()
            .await
            .map_err(|e| Error::Offline(describe(&e)))?;
        let status = resp.status().as_u16();
        let bytes = match read_capped(resp).await {
            Ok(b) => b,
            Err(e) => {
                self.count(1, 0);
                return Err(e);
            }
        };
        self.count(1, bytes.len() as u64);
        if !(200..300).contains(&status) {
            return Err(match serde_json::from_slice::<ErrorBody>(&bytes) {
                Ok(body) => Error::Server {
                    status,
                    kind: body.error.kind,
                    message: body.error.message,
                },
                Err(_) => Error::Server {
                    status,
                    kind: roost_proto::ErrorKind::Unknown,
                    message: format!("HTTP {status} without an error body"),
                },
            });
        }
        // 204 No Content (a removed member) decodes as JSON null: `()`.
        let body: &[u8] = if status == 204 { b"null" } else { &bytes };
        let value = serde_json::from_slice(body)
            .map_err(|e| Error::ProtocolViolation(format!("undecodable response: {e}")))?;
        Ok((status, value))
    }

    /// `GET /v1/me`.
    pub async fn me(&self) -> Result<MeResponse> {
        Ok(self.call(self.http.get(self.url("/me"))).await?.1)
    }

    /// `GET /v1/chats`, every page (following `next_cursor`), as one list.
    pub async fn chats(&self) -> Result<ChatListResponse> {
        let mut all = ChatListResponse {
            chats: Vec::new(),
            next_cursor: None,
        };
        let mut cursor: Option<String> = None;
        loop {
            let mut req = self.http.get(self.url("/chats"));
            if let Some(c) = &cursor {
                req = req.query(&[("cursor", c)]);
            }
            let page: ChatListResponse = self.call(req).await?.1;
            all.chats.extend(page.chats);
            match page.next_cursor {
                Some(next) if Some(&next) != cursor.as_ref() => cursor = Some(next),
                Some(_) => {
                    return Err(Error::ProtocolViolation(
                        "chat list cursor did not advance".into(),
                    ));
                }
                None => return Ok(all),
            }
        }
    }

    /// `GET /v1/chats/{id}/messages`, validated against the query.
    pub async fn range(&self, chat: ChatId, q: &RangeQuery) -> Result<MessagesPage> {
        let mut params: Vec<(&str, u64)> = Vec::new();
        if let Some(v) = q.from_seq {
            params.push(("from_seq", v));
        }
        if let Some(v) = q.to_seq {
            params.push(("to_seq", v));
        }
        if let Some(v) = q.before_seq {
            params.push(("before_seq", v));
        }
        if let Some(v) = q.limit {
            params.push(("limit", v as u64));
        }
        let req = self
            .http
            .get(self.url(&format!("/chats/{chat}/messages")))
            .query(&params);
        let page: MessagesPage = self.call(req).await?.1;
        validate_range_page(chat, q, &page)?;
        Ok(page)
    }

    /// `GET /v1/chats/{id}/messages?seqs=…`: exactly the listed seqs (ascending, disjoint,
    /// at most `MAX_SEQ_RANGES_PER_REQUEST` ranges, at most `MAX_PAGE_SIZE` seqs), validated.
    pub async fn listed(&self, chat: ChatId, ranges: &[SeqRange]) -> Result<MessagesPage> {
        let pairs: Vec<(Seq, Seq)> = ranges.iter().map(|r| (r.start, r.end)).collect();
        let q = SeqsQuery::for_ranges(&pairs);
        let mut params: Vec<(&str, String)> = vec![("seqs", q.seqs.clone())];
        if let Some(l) = q.limit {
            params.push(("limit", l.to_string()));
        }
        let req = self
            .http
            .get(self.url(&format!("/chats/{chat}/messages")))
            .query(&params);
        let page: MessagesPage = self.call(req).await?.1;
        validate_listed_page(chat, ranges, &page)?;
        Ok(page)
    }

    /// `GET /v1/chats/{id}/changes`, validated against the query.
    pub async fn changes(&self, chat: ChatId, q: &ChangesQuery) -> Result<ChangesResponse> {
        let mut params: Vec<(&str, u64)> = vec![("since_rev", q.since_rev)];
        if let Some(v) = q.min_seq {
            params.push(("min_seq", v));
        }
        if let Some(v) = q.max_seq {
            params.push(("max_seq", v));
        }
        if let Some(v) = q.limit {
            params.push(("limit", v as u64));
        }
        let req = self
            .http
            .get(self.url(&format!("/chats/{chat}/changes")))
            .query(&params);
        let resp: ChangesResponse = self.call(req).await?.1;
        validate_changes(chat, q, &resp)?;
        Ok(resp)
    }

    /// `POST /v1/chats/{id}/messages`.
    pub async fn send(&self, chat: ChatId, req: &SendRequest) -> Result<MessageResponse> {
        let r = self
            .http
            .post(self.url(&format!("/chats/{chat}/messages")))
            .json(req);
        let resp: MessageResponse = self.call(r).await?.1;
        validate_message_response(chat, None, &resp)?;
        Ok(resp)
    }

    /// `PATCH /v1/chats/{id}/messages/{message_id}`.
    pub async fn edit(
        &self,
        chat: ChatId,
        message: MessageId,
        req: &EditRequest,
    ) -> Result<MessageResponse> {
        let r = self
            .http
            .patch(self.url(&format!("/chats/{chat}/messages/{message}")))
            .json(req);
        let resp: MessageResponse = self.call(r).await?.1;
        validate_message_response(chat, Some(message), &resp)?;
        Ok(resp)
    }

    /// `POST /v1/chats/{id}/members`: the chat as it is afterwards.
    pub async fn add_members(&self, chat: ChatId, members: &[UserId]) -> Result<ChatSummary> {
        let r = self
            .http
            .post(self.url(&format!("/chats/{chat}/members")))
            .json(&AddMembersRequest {
                members: members.to_vec(),
            });
        let summary: ChatSummary = self.call(r).await?.1;
        if summary.id != chat {
            return Err(Error::ProtocolViolation(
                "add members answered another chat".into(),
            ));
        }
        Ok(summary)
    }

    /// `DELETE /v1/chats/{id}/members/{user_id}` (`user` = the caller: leaving).
    pub async fn remove_member(&self, chat: ChatId, user: &UserId) -> Result<()> {
        let r = self
            .http
            .delete(self.url(&format!("/chats/{chat}/members/{}", user.as_str())));
        self.call::<()>(r).await?;
        Ok(())
    }

    /// `DELETE /v1/chats/{id}/messages/{message_id}`.
    pub async fn delete(&self, chat: ChatId, message: MessageId) -> Result<MessageResponse> {
        let r = self
            .http
            .delete(self.url(&format!("/chats/{chat}/messages/{message}")));
        let resp: MessageResponse = self.call(r).await?.1;
        validate_message_response(chat, Some(message), &resp)?;
        if resp.message.deleted_at.is_none() {
            return Err(Error::ProtocolViolation(
                "delete answered with a message that is not a tombstone".into(),
            ));
        }
        Ok(resp)
    }
}

/// `https://`, or `http://` to a loopback host (127.0.0.0/8, ::1, localhost).
fn transport_is_safe(base_url: &str) -> bool {
    let Ok(url) = reqwest::Url::parse(base_url) else {
        return false;
    };
    match (url.scheme(), url.host_str()) {
        ("https", _) => true,
        ("http", Some(host)) => {
            host.eq_ignore_ascii_case("localhost")
                || host
                    .trim_start_matches('[')
                    .trim_end_matches(']')
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback())
        }
        _ => false,
    }
}

/// The response body, refusing one over `MAX_RESPONSE_BODY_BYTES` (announced or actual) as a
/// protocol violation instead of reading it into memory.
async fn read_capped(mut resp: reqwest::Response) -> Result<Vec<u8>> {
    let cap = roost_proto::MAX_RESPONSE_BODY_BYTES;
    let too_large = || Error::ProtocolViolation(format!("response body over {cap} bytes"));
    if resp.content_length().is_some_and(|len| len > cap as u64) {
        return Err(too_large());
    }
    let mut bytes = Vec::new();
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| Error::Offline(describe(&e)))?
    {
        if bytes.len() + chunk.len() > cap {
            return Err(too_large());
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

fn describe(e: &reqwest::Error) -> String {
    use std::error::Error as _;
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(inner) = src {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        src = inner.source();
    }
    s
}

fn violation(msg: impl Into<String>) -> Error {
    Error::ProtocolViolation(msg.into())
}

/// Checks that hold for any message the server hands us for `chat` at position
/// (`last_seq`, `rev`).
fn check_message(chat: ChatId, m: &Message, last_seq: Seq, rev: u64) -> Result<()> {
    if m.chat_id != chat {
        return Err(violation(format!(
            "message seq {} belongs to chat {}, not {chat}",
            m.seq, m.chat_id
        )));
    }
    if m.seq == 0 || m.version == 0 || m.rev == 0 {
        return Err(violation(format!(
            "message seq {} has a zero seq/version/rev",
            m.seq
        )));
    }
    if m.seq > last_seq {
        return Err(violation(format!(
            "message seq {} is above the chat's last_seq {last_seq}",
            m.seq
        )));
    }
    if m.rev > rev {
        return Err(violation(format!(
            "message seq {} has rev {} above the chat's rev {rev}",
            m.seq, m.rev
        )));
    }
    if m.deleted_at.is_some() && !m.body.is_null() {
        return Err(violation(format!(
            "tombstone seq {} still has a body",
            m.seq
        )));
    }
    Ok(())
}

/// Validates a range page against the query that asked for it. The server's seq is gap-free
/// and tombstones are included, so a page must be **exactly** the contiguous seqs it claims:
/// a forward page `from_seq, from_seq+1, …` (up to `to_seq`/`last_seq`), a backward page ending
/// at `min(before_seq - 1, last_seq)`; never more than `limit` messages, never another chat.
pub fn validate_range_page(chat: ChatId, q: &RangeQuery, page: &MessagesPage) -> Result<()> {
    if page.chat_id != chat {
        return Err(violation(format!(
            "page for chat {} instead of {chat}",
            page.chat_id
        )));
    }
    let limit = q.limit.unwrap_or(DEFAULT_PAGE_SIZE) as usize;
    if page.messages.len() > limit {
        return Err(violation(format!(
            "page holds {} messages, more than the requested limit {limit}",
            page.messages.len()
        )));
    }
    for m in &page.messages {
        check_message(chat, m, page.last_seq, page.rev)?;
    }
    for w in page.messages.windows(2) {
        if w[1].seq == w[0].seq {
            return Err(violation(format!("duplicate seq {} in page", w[0].seq)));
        }
        if w[1].seq < w[0].seq {
            return Err(violation(format!(
                "seqs out of order in page ({} after {})",
                w[1].seq, w[0].seq
            )));
        }
        if w[1].seq != w[0].seq + 1 {
            return Err(violation(format!(
                "page skips seqs {}..={} (seqs are gap-free)",
                w[0].seq + 1,
                w[1].seq - 1
            )));
        }
    }
    let first = page.messages.first().map(|m| m.seq);
    let last = page.messages.last().map(|m| m.seq);
    if let Some(from) = q.from_seq {
        let to = q.to_seq.unwrap_or(u64::MAX).min(page.last_seq);
        if let (Some(f), Some(l)) = (first, last) {
            if f != from {
                return Err(violation(format!(
                    "forward page starts at {f}, asked from {from}"
                )));
            }
            if l > to {
                return Err(violation(format!("page goes to seq {l}, beyond {to}")));
            }
            // A short page must be the end of the range, or say where to continue.
            if l < to && page.next_from_seq.is_none() && page.messages.len() < limit {
                return Err(violation(format!(
                    "page ends at {l} before {to} without a continuation"
                )));
            }
            if let Some(n) = page.next_from_seq
                && n != l + 1
            {
                return Err(violation(format!(
                    "next_from_seq {n} does not follow seq {l}"
                )));
            }
        } else if from <= to {
            return Err(violation(format!(
                "empty page for {from}..={to} although the chat has seq {}",
                page.last_seq
            )));
        }
    } else {
        // Backward (before_seq) or newest page.
        let top = q
            .before_seq
            .map(|b| b.saturating_sub(1))
            .unwrap_or(u64::MAX)
            .min(page.last_seq);
        match (first, last) {
            (Some(f), Some(l)) => {
                if l != top {
                    return Err(violation(format!(
                        "backward page ends at {l}, expected {top}"
                    )));
                }
                if page.messages.len() < limit && f != 1 {
                    return Err(violation(format!(
                        "short backward page starts at {f}, not at seq 1"
                    )));
                }
            }
            _ if top >= 1 => {
                return Err(violation(format!(
                    "empty backward page although seq {top} exists"
                )));
            }
            _ => {}
        }
    }
    Ok(())
}

/// Validates an answer to a `seqs` query: right chat, ascending unique seqs, each one listed,
/// and — seqs being gap-free — every listed seq up to the chat's `last_seq` present; no
/// continuation.
pub fn validate_listed_page(chat: ChatId, ranges: &[SeqRange], page: &MessagesPage) -> Result<()> {
    if page.chat_id != chat {
        return Err(violation(format!(
            "page for chat {} instead of {chat}",
            page.chat_id
        )));
    }
    if page.next_from_seq.is_some() || page.next_before_seq.is_some() {
        return Err(violation("a seqs answer carries a continuation"));
    }
    let mut expected = ranges
        .iter()
        .flat_map(|r| r.start..=r.end.min(page.last_seq));
    for m in &page.messages {
        check_message(chat, m, page.last_seq, page.rev)?;
        match expected.next() {
            Some(s) if s == m.seq => {}
            Some(s) => {
                return Err(violation(format!(
                    "seqs answer has seq {} where {s} was expected (missing, extra, duplicate or out of order)",
                    m.seq
                )));
            }
            None => return Err(violation(format!("seqs answer has unasked seq {}", m.seq))),
        }
    }
    if let Some(s) = expected.next() {
        return Err(violation(format!(
            "seqs answer lacks seq {s} (at most {} exists)",
            page.last_seq
        )));
    }
    Ok(())
}

/// Validates a changes page: right chat, revs above `since_rev` and strictly increasing, seqs
/// inside `[min_seq, max_seq]` and unique, at most `limit` messages.
pub fn validate_changes(chat: ChatId, q: &ChangesQuery, resp: &ChangesResponse) -> Result<()> {
    match resp {
        ChangesResponse::TooOld { chat_id, .. } => {
            if *chat_id != chat {
                return Err(violation(format!(
                    "changes for chat {chat_id} instead of {chat}"
                )));
            }
            Ok(())
        }
        ChangesResponse::Changes {
            chat_id,
            last_seq,
            rev,
            messages,
            next_since_rev,
        } => {
            if *chat_id != chat {
                return Err(violation(format!(
                    "changes for chat {chat_id} instead of {chat}"
                )));
            }
            let limit = q.limit.unwrap_or(DEFAULT_PAGE_SIZE) as usize;
            if messages.len() > limit {
                return Err(violation(format!(
                    "changes page holds {} messages, more than the limit {limit}",
                    messages.len()
                )));
            }
            let mut seen = std::collections::HashSet::new();
            let mut prev_rev = q.since_rev;
            for m in messages {
                check_message(chat, m, *last_seq, *rev)?;
                if m.rev <= prev_rev {
                    return Err(violation(format!(
                        "changes not ordered by rev above {} (seq {} has rev {})",
                        q.since_rev, m.seq, m.rev
                    )));
                }
                prev_rev = m.rev;
                if q.min_seq.is_some_and(|min| m.seq < min)
                    || q.max_seq.is_some_and(|max| m.seq > max)
                {
                    return Err(violation(format!(
                        "change of seq {} outside the asked span",
                        m.seq
                    )));
                }
                if !seen.insert(m.seq) {
                    return Err(violation(format!(
                        "seq {} twice in one changes page",
                        m.seq
                    )));
                }
            }
            if let Some(n) = next_since_rev
                && *n < prev_rev
            {
                return Err(violation(format!("next_since_rev {n} goes backwards")));
            }
            Ok(())
        }
    }
}

/// Validates the answer to a send/edit/delete.
pub fn validate_message_response(
    chat: ChatId,
    message: Option<MessageId>,
    resp: &MessageResponse,
) -> Result<()> {
    if resp.chat_id != chat {
        return Err(violation(format!(
            "answer for chat {} instead of {chat}",
            resp.chat_id
        )));
    }
    if let Some(id) = message
        && resp.message.id != id
    {
        return Err(violation(format!(
            "answer for message {} instead of {id}",
            resp.message.id
        )));
    }
    check_message(chat, &resp.message, resp.last_seq, resp.rev)
}

/// Validates a stream `Message` event.
pub fn validate_stream_event(ev: &StreamEvent) -> Result<()> {
    if let StreamEvent::Message {
        chat_id,
        last_seq,
        rev,
        message,
    } = ev
    {
        check_message(*chat_id, message, *last_seq, *rev)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use roost_proto::UserId;

    fn chat() -> ChatId {
        ChatId(uuid::Uuid::from_u128(7))
    }

    fn msg(seq: Seq) -> Message {
        Message {
            id: MessageId(uuid::Uuid::from_u128(seq as u128)),
            chat_id: chat(),
            seq,
            version: 1,
            author: UserId::new("bob"),
            created_at: 0,
            edited_at: None,
            deleted_at: None,
            body: serde_json::json!({"text": "x"}),
            rev: seq,
        }
    }

    fn page(seqs: &[Seq], last_seq: Seq) -> MessagesPage {
        MessagesPage {
            chat_id: chat(),
            last_seq,
            rev: last_seq,
            messages: seqs.iter().copied().map(msg).collect(),
            next_from_seq: None,
            next_before_seq: None,
        }
    }

    fn fwd(from: Seq, to: Seq, limit: u32) -> RangeQuery {
        RangeQuery {
            from_seq: Some(from),
            to_seq: Some(to),
            before_seq: None,
            limit: Some(limit),
        }
    }

    #[test]
    fn accepts_honest_pages() {
        validate_range_page(chat(), &fwd(3, 5, 10), &page(&[3, 4, 5], 9)).unwrap();
        let mut cut = page(&[3, 4], 9);
        cut.next_from_seq = Some(5);
        validate_range_page(chat(), &fwd(3, 9, 2), &cut).unwrap();
        let back = RangeQuery {
            before_seq: Some(8),
            limit: Some(3),
            ..Default::default()
        };
        validate_range_page(chat(), &back, &page(&[5, 6, 7], 9)).unwrap();
        let newest = RangeQuery {
            limit: Some(3),
            ..Default::default()
        };
        validate_range_page(chat(), &newest, &page(&[1, 2], 2)).unwrap();
    }

    #[test]
    fn rejects_hostile_pages() {
        let q = fwd(3, 5, 10);
        let kind = |p: &MessagesPage| validate_range_page(chat(), &q, p).unwrap_err().kind();
        // Outside the requested range.
        assert_eq!(kind(&page(&[3, 4, 5, 6], 9)), "protocol_violation");
        assert_eq!(kind(&page(&[2, 3, 4], 9)), "protocol_violation");
        // Duplicate seq.
        assert_eq!(kind(&page(&[3, 3, 4], 9)), "protocol_violation");
        // Wrong order.
        assert_eq!(kind(&page(&[3, 5, 4], 9)), "protocol_violation");
        // Missing seq in the middle.
        assert_eq!(kind(&page(&[3, 5], 9)), "protocol_violation");
        // Page larger than requested.
        let q2 = fwd(3, 5, 2);
        assert!(validate_range_page(chat(), &q2, &page(&[3, 4, 5], 9)).is_err());
        // Another chat's message.
        let mut p = page(&[3, 4, 5], 9);
        p.messages[1].chat_id = ChatId(uuid::Uuid::from_u128(8));
        assert_eq!(kind(&p), "protocol_violation");
        // Seq above last_seq.
        assert_eq!(kind(&page(&[3, 4, 5], 4)), "protocol_violation");
        // A tombstone with a body.
        let mut p = page(&[3, 4, 5], 9);
        p.messages[0].deleted_at = Some(1);
        assert_eq!(kind(&p), "protocol_violation");
    }

    #[test]
    fn validates_listed_pages() {
        let r = |a, b| SeqRange::new(a, b);
        let asked = [r(3, 4), r(7, 7), r(9, 12)];
        validate_listed_page(chat(), &asked, &page(&[3, 4, 7, 9, 10], 10)).unwrap();
        validate_listed_page(chat(), &asked, &page(&[3, 4, 7, 9, 10, 11, 12], 12)).unwrap();
        // Missing a listed seq, an unasked seq, a duplicate, wrong order, a continuation.
        assert!(validate_listed_page(chat(), &asked, &page(&[3, 7, 9, 10], 10)).is_err());
        assert!(validate_listed_page(chat(), &asked, &page(&[3, 4, 5, 7, 9, 10], 10)).is_err());
        assert!(validate_listed_page(chat(), &asked, &page(&[3, 4, 4, 7, 9, 10], 10)).is_err());
        assert!(validate_listed_page(chat(), &asked, &page(&[4, 3, 7, 9, 10], 10)).is_err());
        let mut p = page(&[3, 4, 7, 9, 10], 10);
        p.next_from_seq = Some(11);
        assert!(validate_listed_page(chat(), &asked, &p).is_err());
    }

    #[test]
    fn rejects_hostile_changes() {
        let q = ChangesQuery {
            since_rev: 2,
            min_seq: Some(1),
            max_seq: Some(5),
            limit: Some(10),
        };
        let resp = |seqs: &[Seq]| ChangesResponse::Changes {
            chat_id: chat(),
            last_seq: 9,
            rev: 9,
            messages: seqs.iter().copied().map(msg).collect(),
            next_since_rev: None,
        };
        validate_changes(chat(), &q, &resp(&[3, 4])).unwrap();
        assert!(validate_changes(chat(), &q, &resp(&[4, 3])).is_err()); // rev order
        assert!(validate_changes(chat(), &q, &resp(&[1, 3])).is_err()); // rev <= since
        assert!(validate_changes(chat(), &q, &resp(&[3, 6])).is_err()); // outside span
    }
}
