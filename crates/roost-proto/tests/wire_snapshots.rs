//! Every serialized wire type has a snapshot: a protocol change shows up as a diff here.

use roost_proto::*;
use serde_json::json;

fn chat_id() -> ChatId {
    "7a1f0e52-3c4b-4c1e-9a3e-1d2b3c4d5e6f".parse().unwrap()
}

fn message() -> Message {
    Message {
        id: "0b7c1e0a-9f5e-4d4b-8a41-6f0f4b2f5a10".parse().unwrap(),
        chat_id: chat_id(),
        seq: 42,
        version: 2,
        author: UserId::new("alice"),
        created_at: 1_700_000_000_000,
        edited_at: Some(1_700_000_060_000),
        deleted_at: None,
        body: json!({"text": "hello <b>world</b>"}),
        rev: 97,
    }
}

#[test]
fn message_snapshot() {
    insta::assert_json_snapshot!(message());
}

#[test]
fn messages_page_snapshot() {
    insta::assert_json_snapshot!(MessagesPage {
        chat_id: chat_id(),
        last_seq: 120,
        rev: 130,
        messages: vec![message()],
        next_from_seq: Some(43),
        next_before_seq: None,
    });
}

#[test]
fn changes_responses_snapshot() {
    insta::assert_json_snapshot!(vec![
        ChangesResponse::Changes {
            chat_id: chat_id(),
            last_seq: 120,
            rev: 130,
            messages: vec![message()],
            next_since_rev: None,
        },
        ChangesResponse::TooOld {
            chat_id: chat_id(),
            last_seq: 120,
            rev: 130,
            oldest_since_rev: 30
        },
    ]);
}

#[test]
fn stream_events_snapshot() {
    insta::assert_json_snapshot!(vec![
        StreamEvent::Hello {
            user_id: UserId::new("alice"),
            protocol: PROTOCOL_VERSION,
            heartbeat_ms: 15_000
        },
        StreamEvent::Message {
            chat_id: chat_id(),
            last_seq: 42,
            rev: 97,
            message: message()
        },
        StreamEvent::Heartbeat {
            at: 1_700_000_000_000
        },
        StreamEvent::Removed {
            chat_id: chat_id(),
            by: UserId::new("alice"),
            rev: 131
        },
    ]);
}

fn chat_summary() -> ChatSummary {
    ChatSummary {
        id: chat_id(),
        title: "Team".into(),
        members: vec![UserId::new("alice"), UserId::new("bob")],
        created_by: Some(UserId::new("alice")),
        last_seq: 120,
        rev: 130,
        last_message_at: Some(1_700_000_000_000),
    }
}

#[test]
fn responses_snapshot() {
    insta::assert_json_snapshot!(json!({
        "chats": ChatListResponse { chats: vec![chat_summary()], next_cursor: None },
        "me": MeResponse { user_id: UserId::new("alice"), display_name: "Alice".into() },
        "mutation": MessageResponse { chat_id: chat_id(), last_seq: 120, rev: 130, message: message() },
    }));
}

#[test]
fn chat_stream_event_snapshot() {
    insta::assert_json_snapshot!(StreamEvent::Chat {
        chat: chat_summary()
    });
}

#[test]
fn requests_snapshot() {
    insta::assert_json_snapshot!(json!({
        "send": SendRequest { idempotency_key: "k-1".into(), body: json!({"text": "hi"}) },
        "edit": EditRequest { body: json!({"text": "hi!"}), expected_version: Some(1) },
        "create_chat": CreateChatRequest { title: "Team".into(), members: vec![UserId::new("bob")] },
        "add_members": AddMembersRequest { members: vec![UserId::new("carol")] },
        "range": RangeQuery { from_seq: Some(1), to_seq: Some(100), before_seq: None, limit: Some(50) },
        "changes": ChangesQuery { since_rev: 10, min_seq: Some(1), max_seq: Some(100), limit: None },
    }));
}

#[test]
fn error_body_snapshot() {
    insta::assert_json_snapshot!(ErrorBody {
        error: ErrorDetail {
            kind: ErrorKind::PageSizeTooLarge,
            message: "limit 501 is over the cap of 500".into()
        }
    });
}

#[test]
fn unknown_error_kind_from_a_newer_server_is_tolerated() {
    let parsed: ErrorBody =
        serde_json::from_str(r#"{"error":{"kind":"teapot_overheated","message":"slow down"}}"#)
            .unwrap();
    assert_eq!(parsed.error.kind, ErrorKind::Unknown);
}

#[test]
fn an_unknown_stream_event_from_a_newer_server_is_tolerated() {
    let event: StreamEvent =
        serde_json::from_str(r#"{"type":"typing","chat_id":"x","user":"bob"}"#).unwrap();
    assert_eq!(event, StreamEvent::Unknown);
}

#[test]
fn a_chat_summary_from_an_older_server_has_no_creator() {
    let summary: ChatSummary = serde_json::from_value(json!({
        "id": chat_id(), "title": "T", "members": ["alice"], "last_seq": 0, "rev": 0,
        "last_message_at": null
    }))
    .unwrap();
    assert_eq!(summary.created_by, None);
}

#[test]
fn error_kind_as_str_matches_serde() {
    for kind in ErrorKind::SENT_BY_SERVERS {
        assert_eq!(serde_json::to_value(kind).unwrap(), json!(kind.as_str()));
    }
}

/// Each kind's place in `ErrorKind::SENT_BY_SERVERS` (`None`: servers never send it). An
/// exhaustive match: a new kind does not compile until it is given its place here.
fn place_among_sent(kind: ErrorKind) -> Option<usize> {
    match kind {
        ErrorKind::BadRequest => Some(0),
        ErrorKind::InvalidJson => Some(1),
        ErrorKind::UnsupportedMediaType => Some(2),
        ErrorKind::PageSizeTooLarge => Some(3),
        ErrorKind::PayloadTooLarge => Some(4),
        ErrorKind::Unauthorized => Some(5),
        ErrorKind::NotFound => Some(6),
        ErrorKind::MethodNotAllowed => Some(7),
        ErrorKind::Forbidden => Some(8),
        ErrorKind::VersionConflict => Some(9),
        ErrorKind::IdempotencyKeyReused => Some(10),
        ErrorKind::TooManyMembers => Some(11),
        ErrorKind::RateLimited => Some(12),
        ErrorKind::Overloaded => Some(13),
        ErrorKind::Internal => Some(14),
        // Only a client's name for a kind it does not know.
        ErrorKind::Unknown => None,
    }
}

#[test]
fn every_kind_a_server_sends_is_listed_once_in_its_place() {
    for (place, kind) in ErrorKind::SENT_BY_SERVERS.into_iter().enumerate() {
        assert_eq!(place_among_sent(kind), Some(place), "{kind}");
    }
    assert_eq!(place_among_sent(ErrorKind::Unknown), None);
}

#[test]
fn seq_ranges_round_trip_and_reject_bad_lists() {
    let ranges = vec![(41, 44), (51, 51), (60, 75)];
    let text = format_seq_ranges(&ranges);
    assert_eq!(text, "41-44,51,60-75");
    assert_eq!(parse_seq_ranges(&text).unwrap(), ranges);
    let query = SeqsQuery::for_ranges(&ranges);
    assert_eq!(query.limit, Some(4 + 1 + 16));
    for bad in [
        "",
        "0",
        "5-3",
        "3,3",
        "4-9,7",
        "a",
        "1-",
        "-4",
        "18446744073709551615",
        "1,,2",
    ] {
        assert!(parse_seq_ranges(bad).is_err(), "{bad:?} should be rejected");
    }
    let too_many: Vec<(u64, u64)> = (1..=MAX_SEQ_RANGES_PER_REQUEST as u64 + 1)
        .map(|i| (i * 2, i * 2))
        .collect();
    assert!(parse_seq_ranges(&format_seq_ranges(&too_many)).is_err());
}
