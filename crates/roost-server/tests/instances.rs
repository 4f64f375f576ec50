//! Several server instances on one PostgreSQL database, no sticky sessions: clients send to
//! any instance and stream from any other. Every member on every instance receives every
//! message, in per-chat seq order; concurrent senders spread over instances still get exactly
//! 1..=N; an instance whose fan-out feed drops closes its streams with 1013 instead of skipping
//! events; a revoked token is refused and its streams closed on every instance. (PostgreSQL only: a SQLite file belongs to one process.)

mod common;

use common::*;
use futures_util::StreamExt;
use roost_proto::*;
use roost_server::{DbLocation, RunningServer};
use std::time::Duration;
use tokio_tungstenite::tungstenite;

/// A safety bound so a broken build fails instead of hanging; never reached when it works.
const HANG_GUARD: Duration = Duration::from_secs(60);

/// A test server on a fresh PostgreSQL database plus `N` more instances on the same database;
/// `None` (the test is skipped) without `ROOST_TEST_PG_URL`.
async fn instances<const N: usize>(test: &str) -> Option<(TestServer, [RunningServer; N])> {
    let backend = TestBackend::postgres_or_skip(test)?;
    let server = spawn_test_server_on(&backend).await;
    let mut others = Vec::with_capacity(N);
    for _ in 0..N {
        others.push(server.start_instance().await);
    }
    let others = others.try_into().expect("N instances");
    Some((server, others))
}

async fn connect(base_url: &str, token: &str) -> Socket {
    let mut socket = connect_stream(base_url, token).await;
    match next_frame(&mut socket).await {
        Frame::Event(StreamEvent::Hello { .. }) => socket,
        other => panic!("expected hello, got {other:?}"),
    }
}

#[derive(Debug)]
enum Frame {
    Event(StreamEvent),
    Closed(Option<u16>),
}

async fn next_frame(socket: &mut Socket) -> Frame {
    loop {
        let next = tokio::time::timeout(HANG_GUARD, socket.next())
            .await
            .expect("hang guard: no frame");
        match next {
            Some(Ok(tungstenite::Message::Text(text))) => {
                return Frame::Event(serde_json::from_str(text.as_str()).expect("a StreamEvent"));
            }
            Some(Ok(tungstenite::Message::Close(frame))) => {
                return Frame::Closed(frame.map(|f| u16::from(f.code)));
            }
            None | Some(Err(_)) => return Frame::Closed(None),
            Some(Ok(_)) => continue,
        }
    }
}

/// Reads message events of `chat` until `count` distinct seqs arrived; returns the seqs in
/// arrival order (each event's message seq).
async fn collect_messages(socket: &mut Socket, chat: ChatId, count: usize) -> Vec<Seq> {
    let mut seqs = Vec::new();
    while seqs.len() < count {
        match next_frame(socket).await {
            Frame::Event(StreamEvent::Message {
                chat_id, message, ..
            }) if chat_id == chat => seqs.push(message.seq),
            Frame::Event(_) => {}
            Frame::Closed(code) => panic!("stream closed ({code:?}) after {} events", seqs.len()),
        }
    }
    seqs
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_member_on_every_instance_receives_every_message_in_seq_order() {
    let Some((server, [second, third])) =
        instances("every_member_on_every_instance_receives_every_message_in_seq_order").await
    else {
        return;
    };
    let urls = [server.base_url(), second.base_url(), third.base_url()];
    let chat = server
        .create_chat("Everywhere", &["alice", "bob", "carol"])
        .await;

    // Every member on every instance.
    let mut streams = Vec::new();
    for url in &urls {
        for user in ["alice", "bob", "carol"] {
            streams.push((url.clone(), user, connect(url, &server.token(user)).await));
        }
    }
    // 60 messages, sent concurrently by three users through all three instances.
    const MESSAGES: usize = 60;
    let mut sends = Vec::new();
    for index in 0..MESSAGES {
        let user = ["alice", "bob", "carol"][index % 3];
        let client = Client::at(&urls[(index / 3) % 3], &server.token(user));
        sends.push(tokio::spawn(async move {
            let reply = client
                .send_text(chat, &format!("key-{index}"), &format!("hello {index}"))
                .await;
            assert_eq!(reply.status, 201, "{}", reply.json());
        }));
    }
    for send in sends {
        send.await.unwrap();
    }
    let expected: Vec<Seq> = (1..=MESSAGES as u64).collect();
    let mut received = 0;
    for (url, user, mut socket) in streams {
        let seqs = collect_messages(&mut socket, chat, MESSAGES).await;
        assert_eq!(
            seqs, expected,
            "{user} on {url}: every message, in seq order"
        );
        received += seqs.len();
    }
    println!(
        "multi-instance fan-out: instances=3 streams=9 messages={MESSAGES} deliveries={received} lost=0 out_of_order=0"
    );
    second.shutdown().await;
    third.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_is_announced_only_after_its_commit_is_visible_on_every_instance() {
    let Some((server, [second])) =
        instances("an_event_is_announced_only_after_its_commit_is_visible_on_every_instance").await
    else {
        return;
    };
    let chat = server.create_chat("Visible", &["alice", "bob"]).await;
    let mut bob_on_second = connect(&second.base_url(), &server.token("bob")).await;
    let bob_reads_second = Client::at(&second.base_url(), &server.token("bob"));
    let alice_sends_first = Client::new(&server, "alice");
    for index in 0..20u64 {
        alice_sends_first
            .send_text(chat, &format!("k{index}"), "x")
            .await;
        let seqs = collect_messages(&mut bob_on_second, chat, 1).await;
        // The moment the event arrives, a read on the other instance already shows it.
        let page: MessagesPage = bob_reads_second
            .get(&format!("/v1/chats/{chat}/messages?from_seq={}", seqs[0]))
            .await
            .parse();
        assert_eq!(page.messages.first().map(|m| m.seq), Some(seqs[0]));
        assert!(page.last_seq >= seqs[0]);
    }
    second.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_senders_over_three_instances_get_exactly_one_to_fifty() {
    let Some((server, [second, third])) =
        instances("fifty_concurrent_senders_over_three_instances_get_exactly_one_to_fifty").await
    else {
        return;
    };
    let urls = [server.base_url(), second.base_url(), third.base_url()];
    let chat = server.create_chat("Busy", &["alice", "bob", "carol"]).await;
    let mut tasks = Vec::new();
    for index in 0..50 {
        let user = ["alice", "bob", "carol"][index % 3];
        let client = Client::at(&urls[index % 3], &server.token(user));
        tasks.push(tokio::spawn(async move {
            // Every send twice (a retry racing its original on another instance): one message.
            let key = format!("key-{index}");
            let first = client.send_text(chat, &key, "hi");
            let retry = client.send_text(chat, &key, "hi");
            let (first, retry) = tokio::join!(first, retry);
            let first: MessageResponse = first.parse();
            let retry: MessageResponse = retry.parse();
            assert_eq!(first.message.id, retry.message.id);
            first.message.seq
        }));
    }
    let mut seqs = Vec::new();
    for task in tasks {
        seqs.push(task.await.unwrap());
    }
    assert_exactly_one_to(&server, chat, seqs, 50).await;
    second.shutdown().await;
    third.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_whose_feed_drops_closes_its_streams_with_1013_then_serves_again() {
    let Some((server, [second])) =
        instances("an_instance_whose_feed_drops_closes_its_streams_with_1013_then_serves_again")
            .await
    else {
        return;
    };
    let chat = server.create_chat("Flaky", &["alice", "bob"]).await;
    let mut bob = connect(&second.base_url(), &server.token("bob")).await;

    // Cut every fan-out connection of this test's database (as a network blip or a restarted
    // PostgreSQL would): events committed meanwhile cannot reach the instances.
    let DbLocation::Postgres(url) = server.config().db.clone() else {
        unreachable!()
    };
    let mut admin = <sqlx::PgConnection as sqlx::Connection>::connect(&url)
        .await
        .unwrap();
    let terminated: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = current_database() AND query ILIKE 'listen %' AND pid <> pg_backend_pid()",
    )
    .fetch_all(&mut admin)
    .await
    .unwrap();
    assert_eq!(terminated.len(), 2, "one fan-out connection per instance");

    loop {
        match next_frame(&mut bob).await {
            Frame::Closed(code) => {
                assert_eq!(code, Some(1013), "closed so the client resyncs");
                break;
            }
            // The chat's creation, announced late through LISTEN/NOTIFY (harmless), or a
            // heartbeat: not what this test is about.
            Frame::Event(StreamEvent::Chat { chat: summary }) if summary.id == chat => {}
            Frame::Event(StreamEvent::Heartbeat { .. }) => {}
            Frame::Event(event) => panic!("expected a 1013 close, got {event:?}"),
        }
    }
    // The instance listens again: a new stream gets new events. A stream opened while the
    // feed was still reconnecting is closed with 1013 too (events may have been lost for it),
    // so the client connects again — as a real client would.
    let mut attempts = 0;
    loop {
        attempts += 1;
        assert!(attempts <= 50, "the feed never came back");
        let mut bob = connect(&second.base_url(), &server.token("bob")).await;
        Client::new(&server, "alice")
            .send_text(chat, &format!("after-{attempts}"), "back")
            .await;
        match next_frame(&mut bob).await {
            Frame::Event(StreamEvent::Message { chat_id, .. }) if chat_id == chat => break,
            Frame::Closed(Some(1013)) => continue,
            other => panic!("expected the new message or a 1013 close, got {other:?}"),
        }
    }
    second.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_too_large_for_a_notify_payload_still_reaches_every_instance() {
    let Some((server, [second])) =
        instances("an_event_too_large_for_a_notify_payload_still_reaches_every_instance").await
    else {
        return;
    };
    let chat = server.create_chat("Long reads", &["alice", "bob"]).await;
    let mut bob_on_second = connect(&second.base_url(), &server.token("bob")).await;
    // Over PostgreSQL's 8000-byte NOTIFY limit, under the protocol's 16 KiB body cap.
    let long_text = "a fairly long line of text. ".repeat(450);
    assert!(long_text.len() > 8_000 && long_text.len() < MAX_MESSAGE_BODY_BYTES - 100);
    let sent: MessageResponse = Client::new(&server, "alice")
        .send_text(chat, "long", &long_text)
        .await
        .parse();
    let short: MessageResponse = Client::new(&server, "alice")
        .send_text(chat, "short", "and a short one")
        .await
        .parse();
    let mut received = Vec::new();
    while received.len() < 2 {
        match next_frame(&mut bob_on_second).await {
            Frame::Event(StreamEvent::Message { message, .. }) => received.push(message),
            Frame::Event(_) => {}
            Frame::Closed(code) => panic!("stream closed ({code:?})"),
        }
    }
    assert_eq!(
        received,
        vec![sent.message, short.message],
        "both, in commit order"
    );
    second.shutdown().await;
}

/// A removal made through one instance stops the removed user's stream on another instance at
/// once: it hears `removed`, then nothing of the chat (its next event is a marker chat created
/// after the chat's next message), while a remaining member on a third instance hears the
/// message.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removal_through_one_instance_stops_the_chat_on_every_instance() {
    let Some((server, [second, third])) =
        instances("a_removal_through_one_instance_stops_the_chat_on_every_instance").await
    else {
        return;
    };
    let chat = server.create_chat("Team", &["alice", "bob", "carol"]).await;
    let mut bob = connect(&second.base_url(), &server.token("bob")).await;
    let mut carol = connect(&third.base_url(), &server.token("carol")).await;
    let alice = Client::at(&server.base_url(), &server.token("alice"));

    let removed = alice.delete(&format!("/v1/chats/{chat}/members/bob")).await;
    assert_eq!(removed.status, 204);
    let sent = alice.send_text(chat, "after-bob", "after bob").await;
    assert_eq!(sent.status, 201);
    let marker = server.create_chat("marker", &["alice", "bob"]).await;

    let mut heard = Vec::new();
    loop {
        match next_frame(&mut bob).await {
            Frame::Event(StreamEvent::Heartbeat { .. }) => {}
            Frame::Event(StreamEvent::Chat { chat: summary }) if summary.id == marker => break,
            // The chat's creation, announced through LISTEN/NOTIFY, may reach an instance
            // after bob's socket said hello there: harmless (a client upserts it), and it
            // precedes the removal.
            Frame::Event(StreamEvent::Chat { chat: summary })
                if summary.id == chat && summary.rev == 0 && heard.is_empty() => {}
            Frame::Event(event) => heard.push(event),
            Frame::Closed(code) => panic!("bob's stream closed ({code:?})"),
        }
    }
    assert!(
        matches!(heard.as_slice(), [StreamEvent::Removed { chat_id, .. }] if *chat_id == chat),
        "bob heard exactly his removal, then nothing of the chat: {heard:?}"
    );
    assert_eq!(collect_messages(&mut carol, chat, 1).await, vec![1]);
}

/// A token revoked in the database (by `roost-server revoke-token`, which talks to no instance)
/// is refused by every instance at once, and every instance closes its streams (1008), while
/// other users' streams carry on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_token_is_refused_and_its_streams_closed_on_every_instance() {
    let Some((server, [second])) =
        instances("a_revoked_token_is_refused_and_its_streams_closed_on_every_instance").await
    else {
        return;
    };
    let chat = server.create_chat("Team", &["alice", "bob"]).await;
    let token = server.token("alice");
    let mut alice_on_first = connect(&server.base_url(), &token).await;
    let mut alice_on_second = connect(&second.base_url(), &token).await;
    let mut bob_on_second = connect(&second.base_url(), &server.token("bob")).await;
    roost_server::change_token(
        &server.config().db,
        "alice",
        roost_server::store::tokens::TokenChange::Revoked,
    )
    .await
    .unwrap();
    for url in [server.base_url(), second.base_url()] {
        assert_eq!(Client::at(&url, &token).get("/v1/me").await.status, 401);
    }
    for socket in [&mut alice_on_first, &mut alice_on_second] {
        loop {
            match next_frame(socket).await {
                Frame::Closed(code) => {
                    assert_eq!(code, Some(1008));
                    break;
                }
                Frame::Event(_) => continue,
            }
        }
    }
    server.send("bob", chat, "still here").await;
    assert_eq!(collect_messages(&mut bob_on_second, chat, 1).await, vec![1]);
    second.shutdown().await;
}
