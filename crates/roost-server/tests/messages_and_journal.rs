//! Sequencing, idempotent send, the edit/delete journal, the range and changes endpoints and
//! the metrics, all over real HTTP against a real server with a temporary database.

mod common;

use common::*;
use roost_proto::*;
use serde_json::json;

roost_server::backend_tests!(
    fifty_concurrent_senders_get_exactly_seqs_one_to_fifty,
    a_retried_send_returns_the_same_message_and_a_reused_key_is_refused,
    concurrent_retries_of_one_send_create_one_message,
    edits_and_deletes_take_new_revs_and_deletes_leave_tombstones,
    changes_returns_the_latest_state_by_rev_with_seq_filters_and_paging,
    changes_from_a_cursor_beyond_the_horizon_is_too_old,
    range_pages_forward_with_continuation_and_include_tombstones,
    a_seqs_list_returns_exactly_the_listed_seqs_in_one_response,
    range_pages_backward_from_the_newest_page,
    the_chat_list_and_chat_show_positions_and_only_the_callers_chats,
    metrics_count_the_messages_and_bytes_the_client_received,
    restart_keeps_every_message_and_the_address,
    pages_read_during_concurrent_sends_agree_with_their_own_last_seq_and_rev,
);

async fn fifty_concurrent_senders_get_exactly_seqs_one_to_fifty(backend: TestBackend) {
    let server = spawn_test_server_on(&backend).await;
    let chat = server.create_chat("Busy", &["alice", "bob", "carol"]).await;
    let mut tasks = Vec::new();
    for index in 0..50 {
        let user = ["alice", "bob", "carol"][index % 3];
        let client = Client::new(&server, user);
        tasks.push(tokio::spawn(async move {
            let reply = client
                .send_text(chat, &format!("key-{index}"), &format!("hello {index}"))
                .await;
            assert_eq!(reply.status, 201, "{}", reply.json());
            reply.parse::<MessageResponse>().message.seq
        }));
    }
    let mut seqs = Vec::new();
    for task in tasks {
        seqs.push(task.await.unwrap());
    }
    assert_exactly_one_to(&server, chat, seqs, 50).await;
}

async fn a_retried_send_returns_the_same_message_and_a_reused_key_is_refused(backend: TestBackend) {
    let server = spawn_test_server_on(&backend).await;
    let chat = server.create_chat("Retry", &["alice", "bob"]).await;
    let alice = Client::new(&server, "alice");

    let first = alice.send_text(chat, "k-1", "hi").await;
    assert_eq!(first.status, 201);
    let retry = alice.send_text(chat, "k-1", "hi").await;
    assert_eq!(
        retry.status, 200,
        "a retry is answered 200 with the original message"
    );
    let (first, retry): (MessageResponse, MessageResponse) = (first.parse(), retry.parse());
    assert_eq!(first.message, retry.message);
    assert_eq!(
        server.chat_position(chat).await,
        (1, 1),
        "no new seq or rev"
    );

    let reused = alice.send_text(chat, "k-1", "something else").await;
    assert_eq!(reused.status, 409);
    assert_eq!(reused.error_kind(), "idempotency_key_reused");

    let other_chat = server.create_chat("Other", &["alice"]).await;
    let reused_elsewhere = alice.send_text(other_chat, "k-1", "hi").await;
    assert_eq!(reused_elsewhere.error_kind(), "idempotency_key_reused");

    // Keys are per user: bob may use the same key.
    let bob = Client::new(&server, "bob");
    assert_eq!(bob.send_text(chat, "k-1", "hi").await.status, 201);
    assert_eq!(server.chat_position(chat).await, (2, 2));
    assert_eq!(server.chat_position(other_chat).await, (0, 0));

    // A retry after an edit returns the message's current state.
    server
        .edit("alice", chat, first.message.id, "hi (edited)")
        .await;
    let after_edit: MessageResponse = alice.send_text(chat, "k-1", "hi").await.parse();
    assert_eq!(after_edit.message.version, 2);
    assert_eq!(after_edit.message.seq, 1);
}

async fn concurrent_retries_of_one_send_create_one_message(backend: TestBackend) {
    let server = spawn_test_server_on(&backend).await;
    let chat = server.create_chat("Flaky network", &["alice"]).await;
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let client = Client::new(&server, "alice");
        tasks.push(tokio::spawn(async move {
            client.send_text(chat, "same-key", "only once").await
        }));
    }
    let mut created = 0;
    let mut ids = std::collections::BTreeSet::new();
    for task in tasks {
        let reply = task.await.unwrap();
        if reply.status == 201 {
            created += 1;
        } else {
            assert_eq!(reply.status, 200);
        }
        ids.insert(reply.parse::<MessageResponse>().message.id);
    }
    assert_eq!((created, ids.len()), (1, 1));
    assert_eq!(server.chat_position(chat).await, (1, 1));
}

async fn edits_and_deletes_take_new_revs_and_deletes_leave_tombstones(backend: TestBackend) {
    let server = spawn_test_server_on(&backend).await;
    let chat = server.create_chat("Journal", &["alice", "bob"]).await;
    let alice = Client::new(&server, "alice");
    let bob = Client::new(&server, "bob");
    let sent: MessageResponse = alice.send_text(chat, "a", "first").await.parse();
    alice.send_text(chat, "b", "second").await;
    let message_path = format!("/v1/chats/{chat}/messages/{}", sent.message.id);

    let edited = alice
        .patch(
            &message_path,
            &json!({"body": {"text": "first!"}, "expected_version": 1}),
        )
        .await;
    assert_eq!(edited.status, 200, "{}", edited.json());
    let edited: MessageResponse = edited.parse();
    assert_eq!(
        (
            edited.message.seq,
            edited.message.version,
            edited.message.rev
        ),
        (1, 2, 3)
    );
    assert!(edited.message.edited_at.is_some());
    assert_eq!((edited.last_seq, edited.rev), (2, 3));

    let stale = alice
        .patch(
            &message_path,
            &json!({"body": {"text": "x"}, "expected_version": 1}),
        )
        .await;
    assert_eq!(
        (stale.status.as_u16(), stale.error_kind().as_str()),
        (409, "version_conflict")
    );

    let not_author = bob
        .patch(&message_path, &json!({"body": {"text": "mine now"}}))
        .await;
    assert_eq!(
        (not_author.status.as_u16(), not_author.error_kind().as_str()),
        (403, "forbidden")
    );
    assert_eq!(bob.delete(&message_path).await.error_kind(), "forbidden");

    let deleted = alice.delete(&message_path).await;
    assert_eq!(deleted.status, 200);
    let deleted: MessageResponse = deleted.parse();
    assert_eq!(
        (
            deleted.message.seq,
            deleted.message.version,
            deleted.message.rev
        ),
        (1, 3, 4)
    );
    assert!(deleted.message.deleted_at.is_some());
    assert_eq!(deleted.message.body, serde_json::Value::Null);

    let deleted_again: MessageResponse = alice.delete(&message_path).await.parse();
    assert_eq!(
        deleted_again.message, deleted.message,
        "deleting a tombstone changes nothing"
    );
    assert_eq!(deleted_again.rev, 4);

    let edit_tombstone = alice
        .patch(&message_path, &json!({"body": {"text": "back"}}))
        .await;
    assert_eq!(edit_tombstone.error_kind(), "version_conflict");
    assert_eq!(server.chat_position(chat).await, (2, 4));

    // The tombstone keeps its seq in the range.
    let page: MessagesPage = alice
        .get(&format!("/v1/chats/{chat}/messages?from_seq=1"))
        .await
        .parse();
    assert_eq!(
        page.messages.iter().map(|m| m.seq).collect::<Vec<_>>(),
        vec![1, 2]
    );
    assert!(page.messages[0].is_deleted());

    let unknown = alice
        .patch(
            &format!("/v1/chats/{chat}/messages/{}", uuid_v4()),
            &json!({"body": {"text": "x"}}),
        )
        .await;
    assert_eq!(
        (unknown.status.as_u16(), unknown.error_kind().as_str()),
        (404, "not_found")
    );
}

fn uuid_v4() -> String {
    // A fixed, valid UUID that no message has.
    "00000000-0000-4000-8000-000000000001".to_owned()
}

async fn changes_returns_the_latest_state_by_rev_with_seq_filters_and_paging(backend: TestBackend) {
    let server = spawn_test_server_on(&backend).await;
    let chat = server.create_chat("Changes", &["alice", "bob"]).await;
    let messages = server.send_many("alice", chat, 10).await; // revs 1..=10
    server
        .edit("alice", chat, messages[2].id, "three, edited")
        .await; // seq 3 → rev 11
    server.delete("alice", chat, messages[7].id).await; // seq 8 → rev 12
    server
        .edit("alice", chat, messages[2].id, "three, edited twice")
        .await; // seq 3 → rev 13
    let bob = Client::new(&server, "bob");

    let reply = bob
        .get(&format!("/v1/chats/{chat}/changes?since_rev=10"))
        .await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.message_count_header(), Some(2));
    match reply.parse::<ChangesResponse>() {
        ChangesResponse::Changes {
            last_seq,
            rev,
            messages,
            next_since_rev,
            ..
        } => {
            assert_eq!((last_seq, rev, next_since_rev), (10, 13, None));
            let summary: Vec<(u64, u64, u64)> =
                messages.iter().map(|m| (m.seq, m.version, m.rev)).collect();
            assert_eq!(
                summary,
                vec![(8, 2, 12), (3, 3, 13)],
                "latest state once per message, by rev"
            );
            assert_eq!(messages[1].text(), Some("three, edited twice"));
            assert!(messages[0].is_deleted());
        }
        other => panic!("unexpected {other:?}"),
    }

    // min/max seq restrict to the span a client caches.
    let filtered: ChangesResponse = bob
        .get(&format!(
            "/v1/chats/{chat}/changes?since_rev=10&min_seq=1&max_seq=5"
        ))
        .await
        .parse();
    let ChangesResponse::Changes { messages, .. } = filtered else {
        panic!("expected changes")
    };
    assert_eq!(messages.iter().map(|m| m.seq).collect::<Vec<_>>(), vec![3]);

    // Paging: limit 4 from rev 0 → 4 pages of the 10 messages' latest states.
    let mut since = 0;
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let page: ChangesResponse = bob
            .get(&format!(
                "/v1/chats/{chat}/changes?since_rev={since}&limit=4"
            ))
            .await
            .parse();
        let ChangesResponse::Changes {
            messages,
            next_since_rev,
            rev,
            ..
        } = page
        else {
            panic!("expected changes")
        };
        pages += 1;
        seen.extend(messages.iter().map(|m| m.rev));
        match next_since_rev {
            Some(next) => since = next,
            None => {
                assert_eq!(rev, 13);
                break;
            }
        }
    }
    assert_eq!(pages, 3);
    let expected: Vec<u64> = vec![1, 2, 4, 5, 6, 7, 9, 10, 12, 13];
    assert_eq!(
        seen, expected,
        "ascending revs, each message once at its latest rev"
    );

    // Nothing newer: empty, not an error.
    let none: ChangesResponse = bob
        .get(&format!("/v1/chats/{chat}/changes?since_rev=13"))
        .await
        .parse();
    let ChangesResponse::Changes { messages, .. } = none else {
        panic!("expected changes")
    };
    assert!(messages.is_empty());

    let ahead = bob
        .get(&format!("/v1/chats/{chat}/changes?since_rev=14"))
        .await;
    assert_eq!(
        (ahead.status.as_u16(), ahead.error_kind().as_str()),
        (400, "bad_request")
    );
}

async fn changes_from_a_cursor_beyond_the_horizon_is_too_old(backend: TestBackend) {
    let server = spawn_test_server_on_with(&backend, |config| config.changes_horizon = 5).await;
    let chat = server.create_chat("Old", &["alice"]).await;
    server.send_many("alice", chat, 10).await;
    let alice = Client::new(&server, "alice");
    let reply: ChangesResponse = alice
        .get(&format!("/v1/chats/{chat}/changes?since_rev=4"))
        .await
        .parse();
    assert_eq!(
        reply,
        ChangesResponse::TooOld {
            chat_id: chat,
            last_seq: 10,
            rev: 10,
            oldest_since_rev: 5
        }
    );
    let at_horizon: ChangesResponse = alice
        .get(&format!("/v1/chats/{chat}/changes?since_rev=5"))
        .await
        .parse();
    assert!(
        matches!(at_horizon, ChangesResponse::Changes { ref messages, .. } if messages.len() == 5)
    );
}

async fn range_pages_forward_with_continuation_and_include_tombstones(backend: TestBackend) {
    let server = spawn_test_server_on(&backend).await;
    let chat = server.create_chat("Range", &["alice"]).await;
    let alice = Client::new(&server, "alice");

    let empty: MessagesPage = alice
        .get(&format!("/v1/chats/{chat}/messages?from_seq=1"))
        .await
        .parse();
    assert_eq!(
        (
            empty.last_seq,
            empty.rev,
            empty.messages.len(),
            empty.next_from_seq
        ),
        (0, 0, 0, None)
    );
    let empty_newest: MessagesPage = alice
        .get(&format!("/v1/chats/{chat}/messages"))
        .await
        .parse();
    assert_eq!(
        (empty_newest.messages.len(), empty_newest.next_before_seq),
        (0, None)
    );

    let messages = server.send_many("alice", chat, 25).await;
    server.delete("alice", chat, messages[4].id).await;

    let first: MessagesPage = alice
        .get(&format!(
            "/v1/chats/{chat}/messages?from_seq=3&to_seq=20&limit=10"
        ))
        .await
        .parse();
    assert_eq!(
        first.messages.iter().map(|m| m.seq).collect::<Vec<_>>(),
        (3..=12).collect::<Vec<_>>()
    );
    assert_eq!(
        (
            first.next_from_seq,
            first.next_before_seq,
            first.last_seq,
            first.rev
        ),
        (Some(13), None, 25, 26)
    );
    assert!(
        first.messages[2].is_deleted(),
        "seq 5 is a tombstone and is included"
    );
    let second: MessagesPage = alice
        .get(&format!(
            "/v1/chats/{chat}/messages?from_seq=13&to_seq=20&limit=10"
        ))
        .await
        .parse();
    assert_eq!(
        second.messages.iter().map(|m| m.seq).collect::<Vec<_>>(),
        (13..=20).collect::<Vec<_>>()
    );
    assert_eq!(second.next_from_seq, None);

    // Exactly the limit left: no continuation.
    let exact: MessagesPage = alice
        .get(&format!("/v1/chats/{chat}/messages?from_seq=16&limit=10"))
        .await
        .parse();
    assert_eq!((exact.messages.len(), exact.next_from_seq), (10, None));

    // to_seq defaults to last_seq; beyond last_seq returns what exists.
    let tail: MessagesPage = alice
        .get(&format!("/v1/chats/{chat}/messages?from_seq=24"))
        .await
        .parse();
    assert_eq!(
        tail.messages.iter().map(|m| m.seq).collect::<Vec<_>>(),
        vec![24, 25]
    );
    let beyond: MessagesPage = alice
        .get(&format!("/v1/chats/{chat}/messages?from_seq=30&to_seq=40"))
        .await
        .parse();
    assert!(beyond.messages.is_empty());
    assert_eq!(beyond.last_seq, 25);
    let beyond_open: MessagesPage = alice
        .get(&format!("/v1/chats/{chat}/messages?from_seq=30"))
        .await
        .parse();
    assert!(beyond_open.messages.is_empty());
}

async fn a_seqs_list_returns_exactly_the_listed_seqs_in_one_response(backend: TestBackend) {
    let server = spawn_test_server_on(&backend).await;
    let chat = server.create_chat("Scattered", &["alice"]).await;
    let alice = Client::new(&server, "alice");
    let messages = server.send_many("alice", chat, 30).await;
    server.delete("alice", chat, messages[9].id).await;

    let query = SeqsQuery::for_ranges(&[(2, 4), (10, 10), (17, 19), (29, 35)]);
    assert_eq!(query.seqs, "2-4,10,17-19,29-35");
    let reply = alice
        .get(&format!(
            "/v1/chats/{chat}/messages?seqs={}&limit={}",
            query.seqs,
            query.limit.unwrap()
        ))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.json());
    let page: MessagesPage = reply.parse();
    assert_eq!(
        page.messages.iter().map(|m| m.seq).collect::<Vec<_>>(),
        vec![2, 3, 4, 10, 17, 18, 19, 29, 30]
    );
    assert!(page.messages[3].is_deleted(), "tombstones are listed too");
    assert_eq!(
        (
            page.last_seq,
            page.rev,
            page.next_from_seq,
            page.next_before_seq
        ),
        (30, 31, None, None)
    );
    assert_eq!(reply.message_count_header(), Some(9));

    let beyond: MessagesPage = alice
        .get(&format!("/v1/chats/{chat}/messages?seqs=40-45"))
        .await
        .parse();
    assert!(beyond.messages.is_empty());
}

async fn range_pages_backward_from_the_newest_page(backend: TestBackend) {
    let server = spawn_test_server_on(&backend).await;
    let chat = server.create_chat("Backward", &["alice"]).await;
    server.send_many("alice", chat, 25).await;
    let alice = Client::new(&server, "alice");

    let newest: MessagesPage = alice
        .get(&format!("/v1/chats/{chat}/messages?limit=10"))
        .await
        .parse();
    assert_eq!(
        newest.messages.iter().map(|m| m.seq).collect::<Vec<_>>(),
        (16..=25).collect::<Vec<_>>()
    );
    assert_eq!(
        (newest.next_before_seq, newest.next_from_seq),
        (Some(16), None)
    );
    let older: MessagesPage = alice
        .get(&format!("/v1/chats/{chat}/messages?before_seq=16&limit=10"))
        .await
        .parse();
    assert_eq!(
        older.messages.iter().map(|m| m.seq).collect::<Vec<_>>(),
        (6..=15).collect::<Vec<_>>()
    );
    assert_eq!(older.next_before_seq, Some(6));
    let oldest: MessagesPage = alice
        .get(&format!("/v1/chats/{chat}/messages?before_seq=6&limit=10"))
        .await
        .parse();
    assert_eq!(
        oldest.messages.iter().map(|m| m.seq).collect::<Vec<_>>(),
        (1..=5).collect::<Vec<_>>()
    );
    assert_eq!(oldest.next_before_seq, None, "nothing older than seq 1");
    let nothing: MessagesPage = alice
        .get(&format!("/v1/chats/{chat}/messages?before_seq=1"))
        .await
        .parse();
    assert!(nothing.messages.is_empty());

    // The default page size is 100 and the cap 500.
    server.send_many("alice", chat, 600).await;
    let default_page = alice.get(&format!("/v1/chats/{chat}/messages")).await;
    assert_eq!(
        default_page.parse::<MessagesPage>().messages.len(),
        DEFAULT_PAGE_SIZE as usize
    );
    let capped: MessagesPage = alice
        .get(&format!("/v1/chats/{chat}/messages?from_seq=1&limit=500"))
        .await
        .parse();
    assert_eq!(
        (capped.messages.len(), capped.next_from_seq),
        (500, Some(501))
    );
    let over = alice
        .get(&format!("/v1/chats/{chat}/messages?from_seq=1&limit=501"))
        .await;
    assert_eq!(
        (over.status.as_u16(), over.error_kind().as_str()),
        (400, "page_size_too_large")
    );
}

async fn the_chat_list_and_chat_show_positions_and_only_the_callers_chats(backend: TestBackend) {
    let server = spawn_test_server_on(&backend).await;
    let shared = server.create_chat("Shared", &["alice", "bob"]).await;
    let secret = server.create_chat("Secret", &["bob", "carol"]).await;
    server.send_many("bob", shared, 3).await;
    server.send_many("bob", secret, 2).await;
    let alice = Client::new(&server, "alice");

    let list: ChatListResponse = alice.get("/v1/chats").await.parse();
    assert_eq!(list.chats.len(), 1);
    assert_eq!(
        (list.chats[0].id, list.chats[0].last_seq, list.chats[0].rev),
        (shared, 3, 3)
    );
    assert_eq!(
        list.chats[0].members,
        vec![UserId::new("alice"), UserId::new("bob")]
    );
    assert!(list.chats[0].last_message_at.is_some());

    let created = alice
        .post(
            "/v1/chats",
            &json!({"title": "Trio", "members": ["bob", "carol", "bob"]}),
        )
        .await;
    assert_eq!(created.status, 201);
    let created: ChatSummary = created.parse();
    assert_eq!(created.members.len(), 3);
    assert_eq!((created.last_seq, created.rev), (0, 0));
    let fetched: ChatSummary = alice
        .get(&format!("/v1/chats/{}", created.id))
        .await
        .parse();
    assert_eq!(fetched, created);

    let unknown_member = alice
        .post(
            "/v1/chats",
            &json!({"title": "Ghosts", "members": ["nobody"]}),
        )
        .await;
    assert_eq!(
        (
            unknown_member.status.as_u16(),
            unknown_member.error_kind().as_str()
        ),
        (400, "bad_request")
    );
    let me: MeResponse = alice.get("/v1/me").await.parse();
    assert_eq!(me.user_id, UserId::new("alice"));
    let list: ChatListResponse = alice.get("/v1/chats").await.parse();
    assert_eq!(list.chats.len(), 2, "the refused chat was not created");
}

async fn metrics_count_the_messages_and_bytes_the_client_received(backend: TestBackend) {
    let server = spawn_test_server_on(&backend).await;
    let chat = server.create_chat("Measured", &["alice"]).await;
    server.send_many("alice", chat, 30).await;
    server.reset_metrics();
    let alice = Client::new(&server, "alice");

    let a = alice
        .get(&format!("/v1/chats/{chat}/messages?from_seq=1&limit=20"))
        .await;
    let b = alice
        .get(&format!("/v1/chats/{chat}/messages?from_seq=21"))
        .await;
    let c = alice
        .get(&format!("/v1/chats/{chat}/changes?since_rev=25"))
        .await;
    let d = alice.send_text(chat, "m-1", "measured").await;
    let e = alice.get("/v1/chats").await;
    assert_eq!(a.message_count_header(), Some(20));
    assert_eq!(
        a.headers["content-length"].to_str().unwrap(),
        a.bytes.len().to_string()
    );

    let figures = server.metrics();
    let range = figures.route("range");
    assert_eq!(
        (range.requests, range.messages, range.bytes),
        (2, 30, (a.bytes.len() + b.bytes.len()) as u64)
    );
    let changes = figures.route("changes");
    assert_eq!(
        (changes.requests, changes.messages, changes.bytes),
        (1, 5, c.bytes.len() as u64)
    );
    let send = figures.route("send");
    assert_eq!(
        (send.requests, send.messages, send.bytes),
        (1, 1, d.bytes.len() as u64)
    );
    assert_eq!(figures.route("chats").bytes, e.bytes.len() as u64);
    assert_eq!(figures.total().requests, 5);
    assert_eq!(figures.total().messages, 36);

    server.reset_metrics();
    assert_eq!(server.metrics().total().requests, 0);
}

async fn restart_keeps_every_message_and_the_address(backend: TestBackend) {
    let mut server = spawn_test_server_on(&backend).await;
    let chat = server.create_chat("Durable", &["alice"]).await;
    server.send_many("alice", chat, 5).await;
    let before = server.messages(chat).await;
    let url = server.base_url();
    server.stop().await;
    let alice = Client::new(&server, "alice");
    assert!(
        alice
            .http
            .get(format!("{url}/v1/health"))
            .send()
            .await
            .is_err(),
        "server is down"
    );
    server.restart().await;
    assert_eq!(server.base_url(), url);
    let page: MessagesPage = alice
        .get(&format!("/v1/chats/{chat}/messages?from_seq=1"))
        .await
        .parse();
    assert_eq!(page.messages, before);
    let next: MessageResponse = alice
        .send_text(chat, "after-restart", "still here")
        .await
        .parse();
    assert_eq!(next.message.seq, 6);
}

async fn pages_read_during_concurrent_sends_agree_with_their_own_last_seq_and_rev(
    backend: TestBackend,
) {
    let server = spawn_test_server_on(&backend).await;
    let chat = server.create_chat("Snapshot", &["alice", "bob"]).await;
    let bob = Client::new(&server, "bob");
    let writer = {
        let alice = Client::new(&server, "alice");
        tokio::spawn(async move {
            for index in 0..100 {
                alice.send_text(chat, &format!("w-{index}"), "tick").await;
            }
        })
    };
    let mut reads = 0;
    while !writer.is_finished() || reads < 10 {
        reads += 1;
        let newest: MessagesPage = bob
            .get(&format!("/v1/chats/{chat}/messages?limit=5"))
            .await
            .parse();
        // One snapshot: the newest message IS last_seq, and no message is newer than rev.
        assert_eq!(newest.messages.last().map_or(0, |m| m.seq), newest.last_seq);
        assert_eq!(
            newest.rev, newest.last_seq,
            "only sends so far: rev equals last_seq"
        );
        let changes: ChangesResponse = bob
            .get(&format!("/v1/chats/{chat}/changes?since_rev=0&limit=500"))
            .await
            .parse();
        let ChangesResponse::Changes {
            messages,
            rev,
            last_seq,
            ..
        } = changes
        else {
            panic!("expected changes")
        };
        assert_eq!(messages.len() as u64, last_seq);
        assert_eq!(messages.last().map_or(0, |m| m.rev), rev);
    }
    writer.await.unwrap();
    assert_eq!(server.chat_position(chat).await, (100, 100));
}
