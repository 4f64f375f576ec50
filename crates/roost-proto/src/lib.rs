//! Roost protocol v1: every type that crosses the wire between the reference server, the client
//! core and the UI, and the limits both sides agree on.
//!
//! This crate owns the *shape* of the protocol and nothing else: no I/O, no async, no storage.
//! It must keep compiling for `wasm32-unknown-unknown` (the UI uses it), so it depends only on
//! serde, serde_json and uuid (without generation features). `PROTOCOL.md` at the repository
//! root is the prose description of these types; the insta snapshots in `tests/` make every
//! change to the serialized form a visible diff.
//!
//! With the `openapi` feature (used by the server, never by the wasm UI) every wire type also
//! derives `utoipa::ToSchema`, so the server's OpenAPI document is generated from these types.

use serde::{Deserialize, Serialize};
use std::fmt;

pub mod digest;
pub use digest::{
    DEFAULT_DIGEST_BUCKET, DigestBucket, DigestQuery, DigestsResponse, MAX_DIGEST_BUCKET,
    MAX_DIGEST_BUCKETS, MAX_DIGEST_SEQS, canonical_json, digest_buckets_per_response,
    digest_record,
};

/// The protocol version served under `/v1/`.
pub const PROTOCOL_VERSION: u32 = 1;
/// Page size used when a request does not give `limit`.
pub const DEFAULT_PAGE_SIZE: u32 = 100;
/// Largest `limit` a server accepts; a larger one is a `page_size_too_large` error, not a clamp,
/// so a client never mistakes a short page for the end of a range.
pub const MAX_PAGE_SIZE: u32 = 500;
/// Largest request body the server reads.
pub const MAX_REQUEST_BODY_BYTES: usize = 64 * 1024;
/// Largest encoded message `body` the server stores.
pub const MAX_MESSAGE_BODY_BYTES: usize = 16 * 1024;
/// Longest idempotency key accepted on send.
pub const MAX_IDEMPOTENCY_KEY_LEN: usize = 128;
/// Page size of `GET /v1/chats` when a request does not give `limit`.
pub const DEFAULT_CHAT_PAGE_SIZE: u32 = 100;
/// Largest `limit` of `GET /v1/chats`.
pub const MAX_CHAT_PAGE_SIZE: u32 = 500;
/// Largest response body a client reads (a full page of the largest messages fits with room to
/// spare: 500 × 16 KiB = 8 MiB); a longer answer is refused as hostile or broken.
pub const MAX_RESPONSE_BODY_BYTES: usize = 16 * 1024 * 1024;
/// Largest WebSocket message or frame a server accepts from a client on the stream (clients
/// send nothing meaningful in protocol v1; pings and close frames fit easily).
pub const MAX_CLIENT_STREAM_MESSAGE_BYTES: usize = 4 * 1024;
/// Largest stream frame a client reads: one event carries at most one message.
pub const MAX_SERVER_STREAM_FRAME_BYTES: usize = 256 * 1024;
/// Largest seq/rev value a request may carry (SQLite stores them as signed 64-bit integers).
pub const MAX_CURSOR_VALUE: u64 = i64::MAX as u64;

/// Per-chat message sequence number: assigned by the server, strictly increasing, gap-free,
/// starting at 1. A hole in a client's cached seqs always means "missing here".
pub type Seq = u64;
/// Per-chat change-journal position: every create, edit and delete takes the chat's next rev.
pub type Rev = u64;
/// Milliseconds since the Unix epoch (UTC).
pub type UnixMillis = i64;

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        #[serde(transparent)]
        pub struct $name(pub uuid::Uuid);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl std::str::FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                uuid::Uuid::parse_str(s).map($name)
            }
        }
    };
}

uuid_id!(
    /// Identifies a chat (conversation).
    ChatId
);
uuid_id!(
    /// Identifies a message across all chats; stable through edits and deletion.
    MessageId
);

/// Identifies a user: a short lowercase handle such as `alice`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(value_type = String))]
#[serde(transparent)]
pub struct UserId(pub String);

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl UserId {
    pub fn new(handle: impl Into<String>) -> Self {
        UserId(handle.into())
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// One message as the server stores it, at its latest version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Message {
    pub id: MessageId,
    pub chat_id: ChatId,
    pub seq: Seq,
    /// 1 when created; every edit and the delete increment it. The higher version wins.
    pub version: u64,
    pub author: UserId,
    pub created_at: UnixMillis,
    pub edited_at: Option<UnixMillis>,
    /// Set on a tombstone. The row keeps its seq; `body` is then `null`.
    pub deleted_at: Option<UnixMillis>,
    /// The JSON payload: an object, `{"text": "…"}` for a text message; `null` when deleted.
    pub body: serde_json::Value,
    /// The chat's journal position of this message's latest mutation.
    pub rev: Rev,
}

impl Message {
    pub fn is_deleted(&self) -> bool {
        self.deleted_at.is_some()
    }
    /// The message text, if the body carries one.
    pub fn text(&self) -> Option<&str> {
        self.body.get("text").and_then(|t| t.as_str())
    }
}

/// A chat as listed in `GET /v1/chats`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ChatSummary {
    pub id: ChatId,
    pub title: String,
    pub members: Vec<UserId>,
    /// Who created the chat (the only member who may remove others); `null` when the server
    /// does not know (a chat from before membership changes existed, or an older server).
    #[serde(default)]
    pub created_by: Option<UserId>,
    pub last_seq: Seq,
    pub rev: Rev,
    pub last_message_at: Option<UnixMillis>,
}

/// Query of `GET /v1/chats`: one page of the caller's chats, in ascending chat id order (a
/// stable order, so a chat that becomes active while a client pages is neither skipped nor
/// listed twice).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema, utoipa::IntoParams), into_params(parameter_in = Query))]
pub struct ChatListQuery {
    /// The `next_cursor` of the previous page; absent for the first page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    /// 1..=[`MAX_CHAT_PAGE_SIZE`], default [`DEFAULT_CHAT_PAGE_SIZE`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

/// `GET /v1/chats`: one page of the caller's chats.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ChatListResponse {
    pub chats: Vec<ChatSummary>,
    /// Ask again with `cursor` = this value for the next page; `null` on the last page. Absent
    /// from an older server's answer (which was never cut), hence the default.
    #[serde(default)]
    pub next_cursor: Option<String>,
}

/// `POST /v1/chats`: the caller is always a member, whether listed or not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreateChatRequest {
    pub title: String,
    #[serde(default)]
    pub members: Vec<UserId>,
}

/// `POST /v1/chats/{chat_id}/members`: adds these users (any member may add; users already in
/// the chat and repeats are ignored). Answered with the chat's [`ChatSummary`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AddMembersRequest {
    pub members: Vec<UserId>,
}

/// `GET /v1/me`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MeResponse {
    pub user_id: UserId,
    pub display_name: String,
}

/// Query of `GET /v1/chats/{chat_id}/messages`. Exactly one of two shapes:
/// * `from_seq` (and optionally `to_seq`): messages with `from_seq ≤ seq ≤ to_seq`, ascending;
/// * `before_seq` (or nothing: the newest page): the newest `limit` messages with
///   `seq < before_seq`, returned ascending.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema, utoipa::IntoParams), into_params(parameter_in = Query))]
pub struct RangeQuery {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_seq: Option<Seq>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_seq: Option<Seq>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before_seq: Option<Seq>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

/// Most ranges one `seqs` query may list.
pub const MAX_SEQ_RANGES_PER_REQUEST: usize = 256;

/// Query of `GET /v1/chats/{chat_id}/messages` in its third shape: exactly the listed seqs.
/// `seqs` is a comma-separated list of inclusive ranges `a-b` or single seqs `a`, ascending and
/// non-overlapping (`41-44,51-60,75`), at most [`MAX_SEQ_RANGES_PER_REQUEST`] of them, covering
/// at most `limit` seqs in all. This is how a client fills many scattered gaps with one request
/// instead of one request (and one response envelope) per gap. Nothing is cut: the response
/// holds every listed seq that exists, and no continuation.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema, utoipa::IntoParams), into_params(parameter_in = Query))]
pub struct SeqsQuery {
    pub seqs: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

impl SeqsQuery {
    /// A query for exactly these inclusive ranges (which must be ascending and disjoint).
    pub fn for_ranges(ranges: &[(Seq, Seq)]) -> SeqsQuery {
        let covered: u64 = ranges.iter().map(|(start, end)| end - start + 1).sum();
        SeqsQuery {
            seqs: format_seq_ranges(ranges),
            limit: Some(covered.min(u64::from(MAX_PAGE_SIZE)) as u32),
        }
    }
}

/// `[(41, 44), (51, 51)]` → `"41-44,51"`.
pub fn format_seq_ranges(ranges: &[(Seq, Seq)]) -> String {
    let mut text = String::new();
    for (index, (start, end)) in ranges.iter().enumerate() {
        if index > 0 {
            text.push(',');
        }
        if start == end {
            text.push_str(&start.to_string());
        } else {
            text.push_str(&format!("{start}-{end}"));
        }
    }
    text
}

/// Parses a `seqs` list (see [`SeqsQuery`]); the error says what is wrong, for a 400 message.
pub fn parse_seq_ranges(text: &str) -> Result<Vec<(Seq, Seq)>, String> {
    if text.is_empty() {
        return Err("seqs must list at least one seq".into());
    }
    let mut ranges: Vec<(Seq, Seq)> = Vec::new();
    for part in text.split(',') {
        if ranges.len() == MAX_SEQ_RANGES_PER_REQUEST {
            return Err(format!(
                "seqs lists more than {MAX_SEQ_RANGES_PER_REQUEST} ranges"
            ));
        }
        let parse = |number: &str| -> Result<Seq, String> {
            let value: Seq = number
                .parse()
                .map_err(|_| format!("{number:?} in seqs is not a seq number"))?;
            if value == 0 || value > MAX_CURSOR_VALUE {
                return Err(format!(
                    "seq {value} in seqs is out of range (1..={MAX_CURSOR_VALUE})"
                ));
            }
            Ok(value)
        };
        let (start, end) = match part.split_once('-') {
            Some((start, end)) => (parse(start)?, parse(end)?),
            None => {
                let seq = parse(part)?;
                (seq, seq)
            }
        };
        if start > end {
            return Err(format!("range {start}-{end} in seqs is reversed"));
        }
        if let Some(&(_, previous_end)) = ranges.last()
            && start <= previous_end
        {
            return Err(format!(
                "range {part} in seqs is not after the previous one (ascending, disjoint)"
            ));
        }
        ranges.push((start, end));
    }
    Ok(ranges)
}

/// Response of `GET /v1/chats/{chat_id}/messages`. Tombstones are included.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MessagesPage {
    pub chat_id: ChatId,
    /// The chat's `last_seq` at the moment the page was read (same snapshot as `messages`).
    pub last_seq: Seq,
    pub rev: Rev,
    pub messages: Vec<Message>,
    /// Forward query: the `from_seq` that continues this range, when the page was cut by `limit`.
    pub next_from_seq: Option<Seq>,
    /// Backward query: the `before_seq` that continues paging back, when older messages exist.
    pub next_before_seq: Option<Seq>,
}

/// Query of `GET /v1/chats/{chat_id}/changes`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema, utoipa::IntoParams), into_params(parameter_in = Query))]
pub struct ChangesQuery {
    pub since_rev: Rev,
    /// Only messages with `seq ≥ min_seq` (a client asks only about the span it caches).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_seq: Option<Seq>,
    /// Only messages with `seq ≤ max_seq`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_seq: Option<Seq>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

/// Response of `GET /v1/chats/{chat_id}/changes`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum ChangesResponse {
    /// The latest state of every matching message whose rev is greater than `since_rev`,
    /// ordered by rev. When `next_since_rev` is `None` the client has everything up to `rev`.
    Changes {
        chat_id: ChatId,
        last_seq: Seq,
        rev: Rev,
        messages: Vec<Message>,
        next_since_rev: Option<Rev>,
    },
    /// The server will not answer from `since_rev` (it is older than `oldest_since_rev`):
    /// the client must re-validate the range it caches with the range endpoint.
    TooOld {
        chat_id: ChatId,
        last_seq: Seq,
        rev: Rev,
        oldest_since_rev: Rev,
    },
}

/// `POST /v1/chats/{chat_id}/messages`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SendRequest {
    /// Client-generated, unique per user; a retry with the same key returns the first message.
    pub idempotency_key: String,
    pub body: serde_json::Value,
}

/// `PATCH /v1/chats/{chat_id}/messages/{message_id}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EditRequest {
    pub body: serde_json::Value,
    /// When given, the edit applies only if the message is still at this version (else 409).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_version: Option<u64>,
}

/// Response of send, edit and delete: the message at its new state and the chat's position.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MessageResponse {
    pub chat_id: ChatId,
    pub last_seq: Seq,
    pub rev: Rev,
    pub message: Message,
}

/// A frame the server sends on `GET /v1/stream` (WebSocket, JSON text frames).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum StreamEvent {
    /// First frame after the upgrade.
    Hello {
        user_id: UserId,
        protocol: u32,
        heartbeat_ms: u64,
    },
    /// A committed mutation (create, edit or delete) of a message in a chat the user belongs to.
    Message {
        chat_id: ChatId,
        last_seq: Seq,
        rev: Rev,
        message: Message,
    },
    /// A chat the user belongs to was created, the user was added to a chat, or the members of
    /// a chat the user belongs to changed: the chat as it is now.
    Chat { chat: ChatSummary },
    /// The user left or was removed from a chat (`by` is who removed it; the user itself when it
    /// left). The last event of that chat this user receives.
    Removed {
        chat_id: ChatId,
        by: UserId,
        rev: Rev,
    },
    /// Sent every `heartbeat_ms`; a client that hears nothing for a few intervals reconnects.
    Heartbeat { at: UnixMillis },
    /// An event type this client does not know (sent by a newer server): ignore it.
    #[serde(other)]
    Unknown,
}

/// Body of every error response: `{"error": {"kind": …, "message": …}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorDetail {
    pub kind: ErrorKind,
    pub message: String,
}

/// Machine-readable error kind; clients match on this, never on the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// A parameter is missing, malformed, out of range or contradicts another.
    BadRequest,
    /// The body is not JSON, or not of the expected shape.
    InvalidJson,
    /// The body is not `application/json`.
    UnsupportedMediaType,
    /// `limit` is over [`MAX_PAGE_SIZE`].
    PageSizeTooLarge,
    /// The body is over [`MAX_REQUEST_BODY_BYTES`] or the message body over
    /// [`MAX_MESSAGE_BODY_BYTES`].
    PayloadTooLarge,
    /// Missing or unknown bearer token.
    Unauthorized,
    /// No such route, or no such chat/message *visible to the caller*: a non-member gets this
    /// for a chat that exists, with the same message as for one that does not.
    NotFound,
    MethodNotAllowed,
    /// The caller may see the message but not change it (only its author may edit or delete).
    Forbidden,
    /// `expected_version` did not match, or the message is deleted.
    VersionConflict,
    /// The idempotency key was already used for a different request.
    IdempotencyKeyReused,
    /// Adding these members would put the chat over the server's member limit.
    TooManyMembers,
    /// Too many requests (or stream connections) for this token: wait `Retry-After` seconds.
    RateLimited,
    /// The server is at capacity (connection cap, concurrency limit) or the request ran out of
    /// time. Retry after `Retry-After` seconds (a send with the same idempotency key: a timed-out
    /// one may have been stored).
    Overloaded,
    /// A server fault. The request had no effect.
    Internal,
    /// A kind this client does not know (sent by a newer server).
    #[serde(other)]
    Unknown,
}

impl ErrorKind {
    /// Every kind a server answers with: all but [`ErrorKind::Unknown`], which is only a
    /// client's name for a kind it does not know. One list for every test that goes through the
    /// kinds; a new kind does not compile until `tests/wire_snapshots.rs` gives it its place in
    /// this list (`place_among_sent`, an exhaustive match).
    pub const SENT_BY_SERVERS: [ErrorKind; 15] = [
        ErrorKind::BadRequest,
        ErrorKind::InvalidJson,
        ErrorKind::UnsupportedMediaType,
        ErrorKind::PageSizeTooLarge,
        ErrorKind::PayloadTooLarge,
        ErrorKind::Unauthorized,
        ErrorKind::NotFound,
        ErrorKind::MethodNotAllowed,
        ErrorKind::Forbidden,
        ErrorKind::VersionConflict,
        ErrorKind::IdempotencyKeyReused,
        ErrorKind::TooManyMembers,
        ErrorKind::RateLimited,
        ErrorKind::Overloaded,
        ErrorKind::Internal,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::BadRequest => "bad_request",
            ErrorKind::InvalidJson => "invalid_json",
            ErrorKind::UnsupportedMediaType => "unsupported_media_type",
            ErrorKind::PageSizeTooLarge => "page_size_too_large",
            ErrorKind::PayloadTooLarge => "payload_too_large",
            ErrorKind::Unauthorized => "unauthorized",
            ErrorKind::NotFound => "not_found",
            ErrorKind::MethodNotAllowed => "method_not_allowed",
            ErrorKind::Forbidden => "forbidden",
            ErrorKind::VersionConflict => "version_conflict",
            ErrorKind::IdempotencyKeyReused => "idempotency_key_reused",
            ErrorKind::TooManyMembers => "too_many_members",
            ErrorKind::RateLimited => "rate_limited",
            ErrorKind::Overloaded => "overloaded",
            ErrorKind::Internal => "internal",
            ErrorKind::Unknown => "unknown",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
