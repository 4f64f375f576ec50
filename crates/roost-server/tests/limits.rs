//! Request limits: per-token rate limits on reads and writes (`429 rate_limited` with
//! `Retry-After`), the request timeout and the global concurrency limit (`503 overloaded` with
//! `Retry-After`). Slowness comes only from the server's own `pause_after_commit` setting, never
//! from sleeps in the test's assertions.

mod common;

use common::*;
use futures_util::StreamExt;
use roost_server::config::RateLimit;
use serde_json::json;
use std::time::Duration;
use tokio_tungstenite::tungstenite;

roost_server::backend_tests!(
    reads_past_the_per_token_rate_get_429_with_retry_after,
    writes_past_the_per_token_rate_get_429_and_write_nothing,
    a_request_past_the_timeout_gets_503_and_its_committed_send_is_still_streamed,
    requests_past_the_concurrency_limit_get_503_overloaded,
);

/// One refill a minute: within a test, only the burst counts.
fn burst_only(burst: u32) -> RateLimit {
    RateLimit {
        per_second: 1.0 / 60.0,
        burst,
    }
}

fn assert_refused(reply: &Reply, status: u16, kind: &str) {
    assert_eq!(
        (reply.status.as_u16(), reply.error_kind().as_str()),
        (status, kind),
        "{}",
        String::from_utf8_lossy(&reply.bytes)
    );
    let retry_after: u64 = reply
        .headers
        .get("retry-after")
        .expect("a Retry-After header")
        .to_str()
        .unwrap()
        .parse()
        .expect("Retry-After in seconds");
    assert!(retry_after >= 1);
}

async fn reads_past_the_per_token_rate_get_429_with_retry_after(backend: TestBackend) {
    let server = spawn_test_server_on_with(&backend, |config| {
        config.read_rate_limit = Some(burst_only(3));
    })
    .await;
    let chat = server.create_chat("General", &["alice", "bob"]).await;
    let alice = Client::new(&server, "alice");
    for _ in 0..3 {
        assert_eq!(alice.get("/v1/me").await.status, 200);
    }
    let refused = alice
        .get(&format!("/v1/chats/{chat}/messages?from_seq=1"))
        .await;
    assert_refused(&refused, 429, "rate_limited");
    // The stream upgrade is a read too.
    let request = stream_request(&server.base_url(), &server.token("alice"));
    match tokio_tungstenite::connect_async(request).await {
        Err(tungstenite::Error::Http(response)) => assert_eq!(response.status(), 429),
        other => panic!("the stream upgrade was not rate limited: {other:?}"),
    }
    // Another token has its own budget, and alice's writes have theirs.
    let bob = Client::new(&server, "bob");
    assert_eq!(bob.get("/v1/me").await.status, 200);
    let sent = alice.send_text(chat, "k1", "still allowed").await;
    assert_eq!(sent.status, 201);
    // Authentication comes first: an unknown token is 401, not 429.
    let stranger = Client::with_token(&server, "not-a-token");
    assert_eq!(stranger.get("/v1/me").await.status, 401);
}

async fn writes_past_the_per_token_rate_get_429_and_write_nothing(backend: TestBackend) {
    let server = spawn_test_server_on_with(&backend, |config| {
        config.write_rate_limit = Some(burst_only(2));
    })
    .await;
    let chat = server.create_chat("General", &["alice", "bob"]).await;
    let alice = Client::new(&server, "alice");
    assert_eq!(alice.send_text(chat, "k1", "one").await.status, 201);
    assert_eq!(alice.send_text(chat, "k2", "two").await.status, 201);
    let refused = alice.send_text(chat, "k3", "three").await;
    assert_refused(&refused, 429, "rate_limited");
    assert_eq!(server.messages(chat).await.len(), 2, "a refused send wrote");
    // Reads are not charged to the write budget; bob writes on his own budget.
    assert_eq!(alice.get("/v1/me").await.status, 200);
    let bob = Client::new(&server, "bob");
    assert_eq!(bob.send_text(chat, "b1", "bob's").await.status, 201);
}

async fn a_request_past_the_timeout_gets_503_and_its_committed_send_is_still_streamed(
    backend: TestBackend,
) {
    let server = spawn_test_server_on_with(&backend, |config| {
        config.request_timeout = Duration::from_millis(200);
        config.pause_after_commit = Duration::from_millis(1500);
    })
    .await;
    let chat = server.create_chat("General", &["alice", "bob"]).await;
    let mut bob_stream = connect_stream(&server.base_url(), &server.token("bob")).await;
    let alice = Client::new(&server, "alice");
    let reply = alice.send_text(chat, "slow-1", "past the timeout").await;
    assert_refused(&reply, 503, "overloaded");
    assert!(
        reply.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("did not finish"),
        "{}",
        reply.json()
    );
    // The send was committed before the answer ran out of time: it is stored once and its
    // event still reaches the stream (a timed-out request is not cut off between its commit
    // and its announcement).
    let heard = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(frame) = bob_stream.next().await {
            if let Ok(tungstenite::Message::Text(text)) = frame
                && text.contains("past the timeout")
            {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(heard, Ok(true), "the committed send was never streamed");
    let stored = server.messages(chat).await;
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].body, json!({"text": "past the timeout"}));
}

async fn requests_past_the_concurrency_limit_get_503_overloaded(backend: TestBackend) {
    let server = spawn_test_server_on_with(&backend, |config| {
        config.max_concurrent_requests = 1;
        config.pause_after_commit = Duration::from_secs(3);
    })
    .await;
    let chat = server.create_chat("General", &["alice", "bob"]).await;
    let alice = Client::new(&server, "alice");
    // The send may itself arrive while one of bob's reads holds the only slot, and be shed:
    // it is sent again (the same idempotency key) until it gets the slot. Without this the test
    // failed on a loaded machine with "no request was shed" (the send had been the one shed).
    let slow = tokio::spawn(async move {
        loop {
            let reply = alice.send_text(chat, "slow", "holds the slot").await;
            if reply.status != 503 {
                return reply;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    });
    let bob = Client::new(&server, "bob");
    // Until the slow send holds the only slot, bob's reads pass; then they are shed at once.
    let mut shed = None;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while shed.is_none() && !slow.is_finished() && tokio::time::Instant::now() < deadline {
        let reply = bob.get("/v1/me").await;
        if reply.status != 200 {
            shed = Some(reply);
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let shed = shed.expect("no request was shed while the only slot was held");
    assert_refused(&shed, 503, "overloaded");
    assert_eq!(slow.await.unwrap().status, 201, "the slot holder completes");
    assert_eq!(
        bob.get("/v1/me").await.status,
        200,
        "the slot is free again"
    );
}
