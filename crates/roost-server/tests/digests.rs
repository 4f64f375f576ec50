//! `GET /v1/chats/{chat_id}/digests` over HTTP: buckets and their canonical digests, paging,
//! bad queries, and membership (a non-member learns nothing).

mod common;

use common::*;
use reqwest::StatusCode;
use roost_proto::{DigestsResponse, Message, digest_record};
use sha2::{Digest, Sha256};

roost_server::backend_tests!(
    digests_cover_the_range_in_buckets_of_the_canonical_records,
    digests_of_a_long_range_are_paged,
    bad_digest_queries_are_400_and_a_non_member_gets_the_missing_chat_404,
);

/// What the digest of `messages` (one bucket) must be, from the protocol's definition.
fn expected_digest(messages: &[Message]) -> String {
    let mut hasher = Sha256::new();
    for m in messages {
        hasher.update(digest_record(m.seq, m.version, m.id, m.is_deleted(), &m.body).as_bytes());
    }
    hex::encode(hasher.finalize())
}

async fn digests_cover_the_range_in_buckets_of_the_canonical_records(backend: TestBackend) {
    let server = spawn_test_server_on(&backend).await;
    let chat = server.create_chat("digests", &["alice", "bob"]).await;
    server.send_many("bob", chat, 300).await;
    let all = server.messages(chat).await;
    let deleted = server.delete("bob", chat, all[41].id).await;
    server.edit("bob", chat, all[99].id, "edited").await;
    let all = server.messages(chat).await;
    assert!(all[41].is_deleted() && deleted.seq == 42);

    let alice = Client::new(&server, "alice");
    let reply = alice
        .get(&format!(
            "/v1/chats/{chat}/digests?from_seq=5&to_seq=1000&bucket=100"
        ))
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    let digests: DigestsResponse = reply.parse();
    assert_eq!(
        (digests.last_seq, digests.bucket, digests.next_from_seq),
        (300, 100, None)
    );
    let spans: Vec<(u64, u64, u64)> = digests
        .buckets
        .iter()
        .map(|b| (b.from_seq, b.to_seq, b.count))
        .collect();
    assert_eq!(spans, [(5, 104, 100), (105, 204, 100), (205, 300, 96)]);
    for b in &digests.buckets {
        let inside: Vec<Message> = all
            .iter()
            .filter(|m| m.seq >= b.from_seq && m.seq <= b.to_seq)
            .cloned()
            .collect();
        assert_eq!(
            b.digest,
            expected_digest(&inside),
            "bucket {}-{}",
            b.from_seq,
            b.to_seq
        );
    }

    // A bucket of 1 seq per response limit: cut, with a continuation.
    let digests: DigestsResponse = alice
        .get(&format!(
            "/v1/chats/{chat}/digests?from_seq=1&to_seq=300&bucket=10000"
        ))
        .await
        .parse();
    assert_eq!(digests.buckets.len(), 1);
    assert_eq!(digests.buckets[0].count, 300);
    let small: DigestsResponse = alice
        .get(&format!(
            "/v1/chats/{chat}/digests?from_seq=1&to_seq=300&bucket=1"
        ))
        .await
        .parse();
    assert_eq!(small.buckets.len(), 300);
    assert_eq!(small.next_from_seq, None);
    // Past the end: no buckets.
    let past: DigestsResponse = alice
        .get(&format!("/v1/chats/{chat}/digests?from_seq=301&to_seq=400"))
        .await
        .parse();
    assert!(past.buckets.is_empty());
}

async fn digests_of_a_long_range_are_paged(backend: TestBackend) {
    let server = spawn_test_server_on(&backend).await;
    let chat = server.create_chat("long", &["alice"]).await;
    server.send_many("alice", chat, 2500).await;
    let alice = Client::new(&server, "alice");
    let first: DigestsResponse = alice
        .get(&format!(
            "/v1/chats/{chat}/digests?from_seq=1&to_seq=2500&bucket=1"
        ))
        .await
        .parse();
    assert_eq!(first.buckets.len(), 1000);
    assert_eq!(first.next_from_seq, Some(1001));
}

async fn bad_digest_queries_are_400_and_a_non_member_gets_the_missing_chat_404(
    backend: TestBackend,
) {
    let server = spawn_test_server_on(&backend).await;
    let chat = server.create_chat("members only", &["alice", "bob"]).await;
    server.send_many("bob", chat, 10).await;
    let alice = Client::new(&server, "alice");
    for query in [
        "from_seq=0&to_seq=5",
        "from_seq=6&to_seq=5",
        "from_seq=1&to_seq=5&bucket=0",
        "from_seq=1&to_seq=5&bucket=10001",
        "from_seq=1",
        "from_seq=x&to_seq=5",
    ] {
        let reply = alice
            .get(&format!("/v1/chats/{chat}/digests?{query}"))
            .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{query}");
        assert_eq!(reply.error_kind(), "bad_request", "{query}");
    }
    let carol = Client::new(&server, "carol");
    let as_carol = carol
        .get(&format!("/v1/chats/{chat}/digests?from_seq=1&to_seq=5"))
        .await;
    let missing = roost_proto::ChatId(uuid::Uuid::new_v4());
    let as_missing = alice
        .get(&format!("/v1/chats/{missing}/digests?from_seq=1&to_seq=5"))
        .await;
    assert_eq!(as_carol.status, StatusCode::NOT_FOUND);
    assert_eq!(as_carol.bytes.len(), as_missing.bytes.len());
    assert_eq!(as_carol.error_kind(), as_missing.error_kind());
    assert_eq!(server.metrics().route("digests").requests, 8);
}
