//! Every refusal: authentication, membership (a non-member sees exactly what a nonexistent
//! chat looks like), and every kind of bad input → the right 4xx kind and nothing written.

mod common;

use common::*;
use reqwest::Method;
use roost_proto::*;
use serde_json::json;

roost_server::backend_tests!(
    health_needs_no_token_but_everything_else_does,
    a_non_member_gets_the_same_404_as_for_a_chat_that_does_not_exist,
    bad_inputs_are_refused_with_the_right_kind_and_write_nothing,
);

async fn health_needs_no_token_but_everything_else_does(backend: TestBackend) {
    let server = spawn_test_server_on(&backend).await;
    let chat = server.create_chat("Private", &["alice"]).await;
    let message = server.send("alice", chat, "hi").await;
    let anonymous = Client::anonymous(&server);
    let health = anonymous.get("/v1/health").await;
    assert_eq!(health.status, 200);
    assert_eq!(health.json(), json!({"status": "ok", "protocol": 1}));

    let mut endpoints = chat_endpoints(&chat.to_string(), &message.id.to_string());
    endpoints.push((Method::GET, "/v1/me".into(), None));
    endpoints.push((Method::GET, "/v1/chats".into(), None));
    endpoints.push((
        Method::POST,
        "/v1/chats".into(),
        Some(json!({"title": "x"})),
    ));
    endpoints.push((Method::GET, "/v1/stream".into(), None));
    for client in [anonymous, Client::with_token(&server, "not-a-real-token")] {
        for (method, path, body) in &endpoints {
            let reply = call(&client, method, path, body).await;
            assert_eq!(reply.status, 401, "{method} {path}");
            assert_eq!(reply.error_kind(), "unauthorized", "{method} {path}");
            assert_eq!(reply.headers["www-authenticate"], "Bearer");
        }
    }
    let wrong_scheme = server.base_url() + "/v1/me";
    let reply = reqwest::Client::new()
        .get(wrong_scheme)
        .header("authorization", format!("Basic {}", server.token("alice")))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 401);
    assert_eq!(
        server.chat_position(chat).await,
        (1, 1),
        "nothing was written"
    );
}

async fn a_non_member_gets_the_same_404_as_for_a_chat_that_does_not_exist(backend: TestBackend) {
    let server = spawn_test_server_on(&backend).await;
    let secret = server.create_chat("Secret", &["alice", "bob"]).await;
    let message = server.send("alice", secret, "psst").await;
    let carol = Client::new(&server, "carol");

    let list: ChatListResponse = carol.get("/v1/chats").await.parse();
    assert!(list.chats.is_empty(), "the chat list does not show it");
    assert_same_404_as_a_nonexistent_chat(&carol, secret, &message.id.to_string()).await;
    assert_eq!(
        server.chat_position(secret).await,
        (1, 1),
        "nothing was written"
    );
    assert_eq!(server.messages(secret).await[0].text(), Some("psst"));
}

async fn bad_inputs_are_refused_with_the_right_kind_and_write_nothing(backend: TestBackend) {
    let server = spawn_test_server_on(&backend).await;
    let chat = server.create_chat("Strict", &["alice"]).await;
    let message = server.send("alice", chat, "original").await;
    let alice = Client::new(&server, "alice");
    let messages = format!("/v1/chats/{chat}/messages");
    let changes = format!("/v1/chats/{chat}/changes");
    let message_path = format!("{messages}/{}", message.id);

    let cases: Vec<(&str, Reply, u16, &str)> = vec![
        (
            "from after to",
            alice.get(&format!("{messages}?from_seq=5&to_seq=2")).await,
            400,
            "bad_request",
        ),
        (
            "from 0",
            alice.get(&format!("{messages}?from_seq=0")).await,
            400,
            "bad_request",
        ),
        (
            "before 0",
            alice.get(&format!("{messages}?before_seq=0")).await,
            400,
            "bad_request",
        ),
        (
            "mixed",
            alice
                .get(&format!("{messages}?from_seq=1&before_seq=5"))
                .await,
            400,
            "bad_request",
        ),
        (
            "to without from",
            alice.get(&format!("{messages}?to_seq=5")).await,
            400,
            "bad_request",
        ),
        (
            "limit 0",
            alice.get(&format!("{messages}?limit=0")).await,
            400,
            "bad_request",
        ),
        (
            "limit 501",
            alice.get(&format!("{messages}?limit=501")).await,
            400,
            "page_size_too_large",
        ),
        (
            "negative",
            alice.get(&format!("{messages}?from_seq=-1")).await,
            400,
            "bad_request",
        ),
        (
            "not a number",
            alice.get(&format!("{messages}?from_seq=abc")).await,
            400,
            "bad_request",
        ),
        (
            "over i64",
            alice
                .get(&format!("{messages}?from_seq=9223372036854775808"))
                .await,
            400,
            "bad_request",
        ),
        (
            "over u64",
            alice
                .get(&format!("{messages}?from_seq=99999999999999999999999"))
                .await,
            400,
            "bad_request",
        ),
        (
            "seqs empty",
            alice.get(&format!("{messages}?seqs=")).await,
            400,
            "bad_request",
        ),
        (
            "seqs reversed",
            alice.get(&format!("{messages}?seqs=9-3")).await,
            400,
            "bad_request",
        ),
        (
            "seqs overlapping",
            alice.get(&format!("{messages}?seqs=1-5,4-8")).await,
            400,
            "bad_request",
        ),
        (
            "seqs zero",
            alice.get(&format!("{messages}?seqs=0-3")).await,
            400,
            "bad_request",
        ),
        (
            "seqs garbage",
            alice.get(&format!("{messages}?seqs=1-x")).await,
            400,
            "bad_request",
        ),
        (
            "seqs over limit",
            alice.get(&format!("{messages}?seqs=1-101")).await,
            400,
            "bad_request",
        ),
        (
            "seqs with from",
            alice.get(&format!("{messages}?seqs=1&from_seq=1")).await,
            400,
            "bad_request",
        ),
        (
            "changes without since_rev",
            alice.get(&changes).await,
            400,
            "bad_request",
        ),
        (
            "changes min after max",
            alice
                .get(&format!("{changes}?since_rev=0&min_seq=5&max_seq=1"))
                .await,
            400,
            "bad_request",
        ),
        (
            "changes limit",
            alice
                .get(&format!("{changes}?since_rev=0&limit=1000"))
                .await,
            400,
            "page_size_too_large",
        ),
        (
            "malformed chat id",
            alice.get("/v1/chats/not-a-uuid/messages").await,
            400,
            "bad_request",
        ),
        (
            "malformed message id",
            alice.delete(&format!("{messages}/nope")).await,
            400,
            "bad_request",
        ),
        (
            "unknown route",
            alice.get("/v1/nothing-here").await,
            404,
            "not_found",
        ),
        (
            "wrong method",
            alice
                .send_request(alice.request(Method::PUT, "/v1/chats"))
                .await,
            405,
            "method_not_allowed",
        ),
        (
            "empty key",
            alice
                .post(
                    &messages,
                    &json!({"idempotency_key": "", "body": {"text": "x"}}),
                )
                .await,
            400,
            "bad_request",
        ),
        (
            "long key",
            alice
                .post(
                    &messages,
                    &json!({"idempotency_key": "k".repeat(129), "body": {"text": "x"}}),
                )
                .await,
            400,
            "bad_request",
        ),
        (
            "body not object",
            alice
                .post(&messages, &json!({"idempotency_key": "k", "body": "text"}))
                .await,
            400,
            "bad_request",
        ),
        (
            "text not string",
            alice
                .post(
                    &messages,
                    &json!({"idempotency_key": "k", "body": {"text": 5}}),
                )
                .await,
            400,
            "bad_request",
        ),
        (
            "missing body",
            alice
                .post(&messages, &json!({"idempotency_key": "k"}))
                .await,
            400,
            "invalid_json",
        ),
        (
            "message body too big",
            alice
                .post(
                    &messages,
                    &json!({"idempotency_key": "k", "body": {"text": "x".repeat(17 * 1024)}}),
                )
                .await,
            413,
            "payload_too_large",
        ),
        (
            "request too big",
            alice
                .post(
                    &messages,
                    &json!({"idempotency_key": "k", "body": {"text": "x".repeat(70 * 1024)}}),
                )
                .await,
            413,
            "payload_too_large",
        ),
        (
            "syntax error",
            alice
                .send_request(
                    alice
                        .request(Method::POST, &messages)
                        .header("content-type", "application/json")
                        .body("{nope"),
                )
                .await,
            400,
            "invalid_json",
        ),
        (
            "no content type",
            alice
                .send_request(
                    alice
                        .request(Method::POST, &messages)
                        .body(r#"{"idempotency_key":"k","body":{}}"#),
                )
                .await,
            415,
            "unsupported_media_type",
        ),
        (
            "text/plain",
            alice
                .send_request(
                    alice
                        .request(Method::POST, &messages)
                        .header("content-type", "text/plain")
                        .body(r#"{"idempotency_key":"k","body":{}}"#),
                )
                .await,
            415,
            "unsupported_media_type",
        ),
        (
            "edit not object",
            alice.patch(&message_path, &json!({"body": [1]})).await,
            400,
            "bad_request",
        ),
        (
            "edit too big",
            alice
                .patch(
                    &message_path,
                    &json!({"body": {"text": "y".repeat(17 * 1024)}}),
                )
                .await,
            413,
            "payload_too_large",
        ),
        (
            "empty title",
            alice.post("/v1/chats", &json!({"title": "  "})).await,
            400,
            "bad_request",
        ),
        (
            "title wrong type",
            alice.post("/v1/chats", &json!({"title": 7})).await,
            400,
            "invalid_json",
        ),
    ];
    for (name, reply, status, kind) in cases {
        assert_eq!(
            reply.status.as_u16(),
            status,
            "{name}: {}",
            String::from_utf8_lossy(&reply.bytes)
        );
        assert_eq!(reply.error_kind(), kind, "{name}");
        assert!(
            !reply.json()["error"]["message"]
                .as_str()
                .unwrap()
                .is_empty(),
            "{name}: a clear message"
        );
    }
    assert_eq!(
        server.chat_position(chat).await,
        (1, 1),
        "no write happened"
    );
    assert_eq!(server.messages(chat).await, vec![message]);
    let list: ChatListResponse = alice.get("/v1/chats").await.parse();
    assert_eq!(list.chats.len(), 1, "no chat was created");
}
