//! HTTP transport: one typed method per protocol v1 endpoint, request figures, and validation of
//! every response against the request that produced it.
//!
//! Owns the wire: URLs, bearer auth, timeouts, error-body decoding, counting requests and
//! response-body bytes ([`RequestFigures`]), and rejecting hostile or broken responses
//! ([`validate_range_page`], [`validate_changes`], [`validate_message_response`]) before anyone
//! can write them to the cache. Must never touch the store or emit client events.
//!
//! By concern: this module holds the connection settings and the endpoints; `transport` the
//! request itself (auth, the response-size cap, error bodies, which URLs are safe);
//! `figures` the request and byte counters; `validate` the response checks.

mod figures;
mod transport;
mod validate;

pub use figures::{FiguresSnapshot, RequestFigures};
pub use validate::{
    validate_changes, validate_listed_page, validate_message_response, validate_range_page,
    validate_stream_event,
};

use crate::error::{Error, Result};
use crate::ranges::SeqRange;
use roost_proto::{
    AddMembersRequest, ChangesQuery, ChangesResponse, ChatId, ChatListResponse, ChatSummary,
    EditRequest, MeResponse, MessageId, MessageResponse, MessagesPage, RangeQuery, SendRequest,
    Seq, SeqsQuery, UserId,
};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
pub(crate) use transport::{CappedRead, read_capped_body, transport_is_safe};

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
