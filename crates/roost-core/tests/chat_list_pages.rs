//! The client follows the server's paginated chat list: with more chats than one page holds,
//! `Api::chats` returns every chat, once, in as many requests as there are pages.
//! And the transport's guards: plain http only to loopback unless allowed, rate-limited
//! requests waited out and repeated, answers capped at `MAX_RESPONSE_BODY_BYTES`.

use roost_core::api::{Api, ApiConfig};
use roost_server::testing::spawn_test_server;
use std::collections::BTreeSet;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_chat_list_is_read_page_by_page_to_the_end() {
    let server = spawn_test_server().await;
    let total = roost_proto::DEFAULT_CHAT_PAGE_SIZE as usize + 20;
    let mut created = BTreeSet::new();
    for index in 0..total {
        created.insert(
            server
                .create_chat(&format!("chat {index}"), &["alice"])
                .await,
        );
    }
    let api = Api::new(ApiConfig::new(server.base_url(), server.token("alice"))).unwrap();
    let before = api.figures();
    let list = api.chats().await.unwrap();
    let listed: BTreeSet<_> = list.chats.iter().map(|chat| chat.id).collect();
    assert_eq!(list.chats.len(), total, "every chat once");
    assert_eq!(listed, created);
    assert_eq!(list.next_cursor, None);
    assert_eq!(
        api.figures().since(before).requests,
        2,
        "two pages, two requests"
    );
}

#[test]
fn plain_http_to_a_non_loopback_host_is_refused_unless_allowed() {
    for safe in [
        "http://127.0.0.1:7878",
        "http://localhost:7878",
        "http://[::1]:7878",
        "https://roost.example.org",
    ] {
        assert!(Api::new(ApiConfig::new(safe, "t")).is_ok(), "{safe}");
    }
    for unsafe_url in ["http://roost.example.org", "http://10.0.0.5:7878"] {
        let error = Api::new(ApiConfig::new(unsafe_url, "t")).unwrap_err();
        assert!(error.to_string().contains("insecure-http"), "{error}");
        let mut allowed = ApiConfig::new(unsafe_url, "t");
        allowed.allow_insecure_http = true;
        assert!(
            Api::new(allowed).is_ok(),
            "{unsafe_url} with --insecure-http"
        );
    }
}

/// A `429 rate_limited` with a short `Retry-After` is waited out and the request repeated: the
/// caller sees the answer, not a failure (nothing was done by the refused request, so any
/// request may be repeated). A long `Retry-After` is returned at once as a transient error,
/// which the outbox keeps pending (never a definite rejection: nothing is lost).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_limited_request_waits_out_retry_after_and_is_repeated() {
    use roost_server::config::RateLimit;
    let server = roost_server::testing::spawn_test_server_with(|config| {
        config.read_rate_limit = Some(RateLimit {
            per_second: 1.0,
            burst: 1,
        });
        config.write_rate_limit = Some(RateLimit {
            per_second: 1.0 / 600.0,
            burst: 1,
        });
    })
    .await;
    let chat = server.create_chat("General", &["alice"]).await;
    let api = Api::new(ApiConfig::new(server.base_url(), server.token("alice"))).unwrap();
    let before = api.figures();
    for _ in 0..3 {
        let me = api
            .me()
            .await
            .expect("a rate-limited read is repeated, not failed");
        assert_eq!(me.user_id.as_str(), "alice");
    }
    assert!(
        api.figures().since(before).requests > 3,
        "the server did refuse some of the reads (each refusal is a request)"
    );
    let send = |key: &str| roost_proto::SendRequest {
        idempotency_key: key.into(),
        body: serde_json::json!({"text": key}),
    };
    api.send(chat, &send("first")).await.unwrap();
    // The write budget refills in 10 minutes: not worth waiting for inside one call.
    let error = api.send(chat, &send("second")).await.unwrap_err();
    assert_eq!(
        error.server_kind(),
        Some(roost_proto::ErrorKind::RateLimited)
    );
    assert!(error.is_transient());
    assert!(!error.is_definite_rejection(), "the outbox must keep it");
    assert_eq!(server.messages(chat).await.len(), 1);
}

/// A peer on 127.0.0.1 that answers every request with `head` and then, when `stream_forever`,
/// chunked data until the client hangs up.
fn oversized_peer(head: &'static str, stream_forever: bool) -> String {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            if stream.write_all(head.as_bytes()).is_err() {
                continue;
            }
            let chunk = format!("{:x}\r\n{}\r\n", 64 * 1024, "x".repeat(64 * 1024));
            while stream_forever && stream.write_all(chunk.as_bytes()).is_ok() {}
        }
    });
    url
}

/// Every answer the client reads is capped at `MAX_RESPONSE_BODY_BYTES`: one that announces
/// more is refused unread, one that streams more is cut off at the cap; both are protocol
/// violations, never an allocation the server chose.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_over_the_response_cap_is_refused() {
    let announced = oversized_peer(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 16777217\r\n\r\n{",
        false,
    );
    let streamed = oversized_peer(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n",
        true,
    );
    for url in [announced, streamed] {
        let api = Api::new(ApiConfig::new(&url, "t")).unwrap();
        let error = api.me().await.unwrap_err();
        assert!(
            matches!(error, roost_core::Error::ProtocolViolation(ref m) if m.contains("over 16777216 bytes")),
            "{url}: {error:?}"
        );
    }
}
