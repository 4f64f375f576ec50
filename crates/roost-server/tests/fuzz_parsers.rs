//! Fuzzing the request parsers over the real HTTP stack with proptest: arbitrary query strings
//! of every route that reads one (range, `seqs` lists, changes, digests, chat list), path ids
//! of every route with one, and the bodies of every route that reads one (arbitrary bytes and
//! near-JSON). Never a 5xx, never a panic (a panic in a handler would drop the connection), and
//! every answer is one the OpenAPI document (`openapi.json`) lists for that route: its status,
//! and for a refusal a JSON error whose kind the document names under that status.
//! `PROPTEST_CASES` sets the cases per property (default 256).

mod common;

use common::*;
use proptest::prelude::*;
use reqwest::Method;
use roost_proto::{ErrorBody, ErrorKind};
use roost_server::http::error::status_for_kind;
use roost_server::http::openapi::{document_json, documented_kinds};
use serde_json::Value;
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

/// The OpenAPI document the server's code generates (the checked-in one is the same:
/// `tests/openapi.rs`).
fn document() -> &'static Value {
    static DOCUMENT: OnceLock<Value> = OnceLock::new();
    DOCUMENT.get_or_init(|| serde_json::from_str(&document_json()).unwrap())
}

/// Sends one request as alice to `path_and_query` (a concrete path of the route `route`, as the
/// document names it) and checks the answer is one the document lists for that route.
fn check(method: Method, route: &str, path_and_query: &str, body: Option<(&str, Vec<u8>)>) {
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
    let what = format!("{method} {path_and_query}");
    assert!(
        status < 500,
        "{what}: {status}: {}",
        String::from_utf8_lossy(&bytes)
    );
    let documented = documented_kinds(document(), method.as_str(), route, status);
    if status < 400 {
        assert!(
            documented.is_some(),
            "{what}: {status} is not documented for {method} {route}"
        );
        return;
    }
    let error: ErrorBody = serde_json::from_slice(&bytes)
        .unwrap_or_else(|e| panic!("{what}: {status} without an error body ({e})"));
    let kind = error.error.kind;
    assert_ne!(kind, ErrorKind::Unknown, "{what}");
    assert_eq!(
        status_for_kind(kind).as_u16(),
        status,
        "{what}: kind {kind} answered with {status}"
    );
    // A path that no longer matches the route (a fuzzed id that is empty or a dot segment)
    // gets the answer the document gives for any unknown path.
    if kind == ErrorKind::NotFound && error.error.message == "no such route" {
        assert!(document()["components"]["responses"]["RouteNotFound"].is_object());
        return;
    }
    let documented = documented.unwrap_or_else(|| {
        panic!("{what}: {status} ({kind}) is not documented for {method} {route}")
    });
    assert!(
        documented.iter().any(|name| name == kind.as_str()),
        "{what}: {status} `{kind}` is not among the kinds the document lists for {method} {route} under {status}: {documented:?}"
    );
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
        // Member lists (create and add members): odd handles, repeats, non-strings.
        (
            prop::collection::vec(
                prop_oneof![
                    "\"[a-z0-9_\\-]{0,40}\"".prop_map(|s| s),
                    "\"[ -~]{0,10}\"".prop_map(|s| s),
                    Just("\"bob\"".to_owned()),
                    Just("7".to_owned()),
                    Just("null".to_owned()),
                ],
                0..6,
            ),
            "[ -~]{0,8}",
        )
            .prop_map(|(members, title)| {
                let title = serde_json::to_string(&title).unwrap();
                format!("{{\"title\":{title},\"members\":[{}]}}", members.join(","))
                    .into_bytes()
            }),
    ]
}

const MESSAGES: &str = "/v1/chats/{chat_id}/messages";
const MESSAGE: &str = "/v1/chats/{chat_id}/messages/{message_id}";

proptest! {
    #[test]
    fn message_range_queries_are_answered_as_documented(
        q in query(&["from_seq", "to_seq", "before_seq", "limit", "seqs", "other"])
    ) {
        check(Method::GET, MESSAGES, &format!("/v1/chats/{}/messages?{q}", fixture().chat), None);
    }

    #[test]
    fn seqs_lists_are_answered_as_documented(
        list in "[0-9,\\-]{0,60}", limit in prop::option::of(0u32..600)
    ) {
        let limit = limit.map(|l| format!("&limit={l}")).unwrap_or_default();
        check(Method::GET, MESSAGES, &format!("/v1/chats/{}/messages?seqs={list}{limit}", fixture().chat), None);
    }

    #[test]
    fn changes_digests_and_chat_list_queries_are_answered_as_documented(
        changes in query(&["since_rev", "min_seq", "max_seq", "limit"]),
        digests in query(&["from_seq", "to_seq", "bucket"]),
        list in query(&["cursor", "limit"]),
    ) {
        let chat = &fixture().chat;
        check(Method::GET, "/v1/chats/{chat_id}/changes", &format!("/v1/chats/{chat}/changes?{changes}"), None);
        check(Method::GET, "/v1/chats/{chat_id}/digests", &format!("/v1/chats/{chat}/digests?{digests}"), None);
        check(Method::GET, "/v1/chats", &format!("/v1/chats?{list}"), None);
    }

    #[test]
    fn queries_on_routes_that_read_none_are_answered_as_documented(q in query(&["limit", "x", "seqs"])) {
        check(Method::GET, "/v1/me", &format!("/v1/me?{q}"), None);
        check(Method::GET, "/v1/health", &format!("/v1/health?{q}"), None);
        check(Method::GET, "/v1/chats/{chat_id}", &format!("/v1/chats/{}?{q}", fixture().chat), None);
    }

    #[test]
    fn path_ids_are_answered_as_documented(id in "[0-9a-zA-Z\\-%._]{0,40}") {
        let fixture = fixture();
        let chat = &fixture.chat;
        check(Method::GET, "/v1/chats/{chat_id}", &format!("/v1/chats/{id}"), None);
        check(Method::GET, MESSAGES, &format!("/v1/chats/{id}/messages"), None);
        check(Method::GET, "/v1/chats/{chat_id}/changes", &format!("/v1/chats/{id}/changes?since_rev=0"), None);
        check(Method::GET, "/v1/chats/{chat_id}/digests", &format!("/v1/chats/{id}/digests?from_seq=1&to_seq=9"), None);
        check(Method::DELETE, MESSAGE, &format!("/v1/chats/{chat}/messages/{id}"), None);
        // Removing a user who is not a member (or not a handle) never removes anyone.
        check(Method::DELETE, "/v1/chats/{chat_id}/members/{user_id}", &format!("/v1/chats/{chat}/members/{id}x"), None);
        check(Method::DELETE, "/v1/chats/{chat_id}/members/{user_id}", &format!("/v1/chats/{id}/members/carol"), None);
    }

    #[test]
    fn bodies_are_answered_as_documented(
        bytes in body(),
        content_type in prop::sample::select(&["application/json", "text/plain", "application/json; charset=utf-8"][..]),
    ) {
        let fixture = fixture();
        let chat = &fixture.chat;
        check(Method::POST, MESSAGES, &format!("/v1/chats/{chat}/messages"), Some((content_type, bytes.clone())));
        check(Method::POST, "/v1/chats", "/v1/chats", Some((content_type, bytes.clone())));
        check(Method::POST, "/v1/chats/{chat_id}/members", &format!("/v1/chats/{chat}/members"), Some((content_type, bytes.clone())));
        check(
            Method::PATCH,
            MESSAGE,
            &format!("/v1/chats/{chat}/messages/{}", fixture.message),
            Some((content_type, bytes)),
        );
    }
}
