//! Fuzzing the request parsers over the real HTTP stack with proptest: arbitrary query strings
//! (range, `seqs` lists, changes, chat list), path ids and request bodies (arbitrary bytes and
//! near-JSON). Every answer must be a documented status — never a 5xx, never a panic (a panic
//! in a handler would drop the connection) — and every refusal a JSON error of a known kind.
//! `PROPTEST_CASES` sets the cases per property (default 256).

mod common;

use common::*;
use proptest::prelude::*;
use reqwest::Method;
use roost_proto::{ErrorBody, ErrorKind};
use std::sync::OnceLock;

/// One server for every case (starting one per case would dominate the run).
struct Fixture {
    runtime: tokio::runtime::Runtime,
    server: TestServer,
    chat: String,
    message: String,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let (server, chat, message) = runtime.block_on(async {
            let server = spawn_test_server().await;
            let chat = server.create_chat("Fuzz", &["alice", "bob"]).await;
            server.send_many("alice", chat, 50).await;
            let message = server.send("alice", chat, "target").await;
            (server, chat.to_string(), message.id.to_string())
        });
        Fixture {
            runtime,
            server,
            chat,
            message,
        }
    })
}

/// Sends one request as alice and checks the answer is documented.
fn check(method: Method, path_and_query: &str, body: Option<(&str, Vec<u8>)>) {
    let fixture = fixture();
    let (status, bytes) = fixture.runtime.block_on(async {
        let client = Client::new(&fixture.server, "alice");
        let mut request = client.request(method.clone(), path_and_query);
        if let Some((content_type, bytes)) = body {
            request = request.header("content-type", content_type).body(bytes);
        }
        let reply = client.send_request(request).await;
        (reply.status.as_u16(), reply.bytes)
    });
    assert!(
        [200, 201, 400, 403, 404, 405, 409, 413, 415].contains(&status),
        "{method} {path_and_query}: undocumented status {status}: {}",
        String::from_utf8_lossy(&bytes)
    );
    if status >= 400 {
        let error: ErrorBody = serde_json::from_slice(&bytes).unwrap_or_else(|e| {
            panic!("{method} {path_and_query}: {status} without an error body ({e})")
        });
        assert_ne!(error.error.kind, ErrorKind::Unknown);
        assert_eq!(
            roost_server::http::error::status_for_kind(error.error.kind).as_u16(),
            status,
            "{method} {path_and_query}: kind {} answered with {status}",
            error.error.kind
        );
    }
}

/// Query parameter values: numbers around the edges, lists, junk and percent-escapes.
fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        "[0-9]{0,21}",
        "-?[0-9]{1,5}",
        "[0-9,\\-]{0,40}",
        "(%[0-9A-Fa-f]{2}|[a-z0-9+&=;,\\-]){0,16}",
        Just("18446744073709551616".to_owned()),
        Just("9223372036854775808".to_owned()),
        Just("9223372036854775807".to_owned()),
        any::<String>().prop_map(|s| urlencode(&s)),
    ]
}

fn urlencode(text: &str) -> String {
    text.bytes().map(|b| format!("%{b:02X}")).collect()
}

fn query(keys: &'static [&'static str]) -> impl Strategy<Value = String> {
    prop::collection::vec((prop::sample::select(keys), value()), 0..5).prop_map(|pairs| {
        pairs
            .into_iter()
            .map(|(key, value)| format!("{key}={value}"))
            .collect::<Vec<_>>()
            .join("&")
    })
}

/// Bodies: arbitrary bytes, and JSON-shaped text with odd values.
fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..256),
        (
            "[a-z_]{0,20}",
            prop_oneof![
                Just("null".to_owned()),
                "-?[0-9]{1,25}".prop_map(|n| n),
                "\"[ -~]{0,30}\"".prop_map(|s| s),
                Just("{\"text\": 5}".to_owned()),
                Just("{\"text\": \"hi\"}".to_owned()),
                Just("[]".to_owned()),
            ],
            "[ -~]{0,40}",
        )
            .prop_map(|(key, value, tail)| {
                format!("{{\"idempotency_key\":\"k\",\"title\":\"t\",\"{key}\":{value},\"body\":{value}}}{tail}")
                    .into_bytes()
            }),
    ]
}

proptest! {
    #[test]
    fn message_range_queries_are_answered_with_documented_statuses(
        q in query(&["from_seq", "to_seq", "before_seq", "limit", "seqs", "other"])
    ) {
        check(Method::GET, &format!("/v1/chats/{}/messages?{q}", fixture().chat), None);
    }

    #[test]
    fn seqs_lists_are_answered_with_documented_statuses(
        list in "[0-9,\\-]{0,60}", limit in prop::option::of(0u32..600)
    ) {
        let limit = limit.map(|l| format!("&limit={l}")).unwrap_or_default();
        check(Method::GET, &format!("/v1/chats/{}/messages?seqs={list}{limit}", fixture().chat), None);
    }

    #[test]
    fn changes_and_chat_list_queries_are_answered_with_documented_statuses(
        changes in query(&["since_rev", "min_seq", "max_seq", "limit"]),
        list in query(&["cursor", "limit"]),
    ) {
        check(Method::GET, &format!("/v1/chats/{}/changes?{changes}", fixture().chat), None);
        check(Method::GET, &format!("/v1/chats?{list}"), None);
    }

    #[test]
    fn path_ids_are_answered_with_documented_statuses(id in "[0-9a-zA-Z\\-%.]{0,40}") {
        check(Method::GET, &format!("/v1/chats/{id}"), None);
        check(Method::DELETE, &format!("/v1/chats/{}/messages/{id}", fixture().chat), None);
    }

    #[test]
    fn bodies_are_answered_with_documented_statuses(
        bytes in body(),
        content_type in prop::sample::select(&["application/json", "text/plain", "application/json; charset=utf-8"][..]),
    ) {
        let fixture = fixture();
        check(Method::POST, &format!("/v1/chats/{}/messages", fixture.chat), Some((content_type, bytes.clone())));
        check(Method::POST, "/v1/chats", Some((content_type, bytes.clone())));
        check(
            Method::PATCH,
            &format!("/v1/chats/{}/messages/{}", fixture.chat, fixture.message),
            Some((content_type, bytes)),
        );
    }
}
