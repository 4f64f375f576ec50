//! Membership changes on both backends: any member adds, a user leaves, only the creator removes
//! others; every change takes the chat's next rev and is journaled; the member limit is a clear
//! 409 that writes nothing; a removed user gets exactly the 404 of a chat that does not exist
//! from every endpoint, and its stream carries nothing of the chat after its `removed` event.

mod common;

use common::*;
use roost_proto::*;
use serde_json::json;

roost_server::backend_tests!(
    any_member_adds_members_and_the_summary_names_the_creator,
    leaving_is_everyones_and_removing_others_is_the_creators,
    a_removed_member_gets_the_same_404_as_for_a_chat_that_does_not_exist,
    the_member_limit_is_a_clear_409_and_writes_nothing,
    membership_changes_reach_the_affected_streams_and_nothing_follows_a_removal,
);

fn members(summary: &ChatSummary) -> Vec<&str> {
    summary.members.iter().map(UserId::as_str).collect()
}

async fn any_member_adds_members_and_the_summary_names_the_creator(backend: TestBackend) {
    let server = spawn_test_server_on(&backend).await;
    let alice = Client::new(&server, "alice");
    let bob = Client::new(&server, "bob");
    let carol = Client::new(&server, "carol");
    let created: ChatSummary = alice
        .post(
            "/v1/chats",
            &json!({"title": "Team", "members": ["bob", "bob", "alice"]}),
        )
        .await
        .parse();
    assert_eq!(members(&created), ["alice", "bob"], "repeats ignored");
    assert_eq!(created.created_by, Some(UserId::new("alice")));
    let chat = created.id;
    server.send("alice", chat, "before carol").await;
    assert_eq!(server.chat_position(chat).await, (1, 1));

    // bob (not the creator) adds carol; carol and repeats of her count once.
    let reply = bob
        .post(
            &format!("/v1/chats/{chat}/members"),
            &json!({"members": ["carol", "carol", "bob"]}),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.json());
    let summary: ChatSummary = reply.parse();
    assert_eq!(members(&summary), ["alice", "bob", "carol"]);
    assert_eq!(summary.created_by, Some(UserId::new("alice")));
    assert_eq!(
        (summary.last_seq, summary.rev),
        (1, 2),
        "the change took the next rev"
    );
    assert_eq!(server.chat_position(chat).await, (1, 2));

    // carol sees the chat and its whole history.
    let list: ChatListResponse = carol.get("/v1/chats").await.parse();
    assert_eq!(list.chats, vec![summary.clone()]);
    let page: MessagesPage = carol
        .get(&format!("/v1/chats/{chat}/messages"))
        .await
        .parse();
    assert_eq!(page.messages.len(), 1);

    // Adding members who are all members already writes nothing.
    let again: ChatSummary = alice
        .post(
            &format!("/v1/chats/{chat}/members"),
            &json!({"members": ["carol"]}),
        )
        .await
        .parse();
    assert_eq!(again, summary);
    assert_eq!(server.chat_position(chat).await, (1, 2));

    // An unknown user, or an empty list, is a 400 and writes nothing.
    let unknown = alice
        .post(
            &format!("/v1/chats/{chat}/members"),
            &json!({"members": ["zed"]}),
        )
        .await;
    assert_eq!(
        (unknown.status.as_u16(), unknown.error_kind().as_str()),
        (400, "bad_request")
    );
    let empty = alice
        .post(
            &format!("/v1/chats/{chat}/members"),
            &json!({"members": []}),
        )
        .await;
    assert_eq!(empty.status, 400);
    assert_eq!(server.chat_position(chat).await, (1, 2));

    let journal = server_journal(&server, chat).await;
    assert_eq!(
        journal,
        vec![(2, "carol".to_owned(), "added".to_owned(), "bob".to_owned())]
    );
}

async fn server_journal(server: &TestServer, chat: ChatId) -> Vec<(u64, String, String, String)> {
    server
        .membership_journal(chat)
        .await
        .into_iter()
        .map(|(rev, user, change, by)| (rev, user.0, change, by.0))
        .collect()
}

async fn leaving_is_everyones_and_removing_others_is_the_creators(backend: TestBackend) {
    let server = spawn_test_server_on(&backend).await;
    let chat = server.create_chat("Team", &["alice", "bob", "carol"]).await;
    let alice = Client::new(&server, "alice");
    let bob = Client::new(&server, "bob");
    let path = |user: &str| format!("/v1/chats/{chat}/members/{user}");

    let refused = bob.delete(&path("carol")).await;
    assert_eq!(
        (refused.status.as_u16(), refused.error_kind().as_str()),
        (403, "forbidden")
    );
    assert_eq!(server.chat_position(chat).await, (0, 0), "nothing written");

    let removed = alice.delete(&path("carol")).await;
    assert_eq!(removed.status, 204);
    assert!(removed.bytes.is_empty());
    let left = bob.delete(&path("bob")).await;
    assert_eq!(left.status, 204);
    assert_eq!(
        server.chat_position(chat).await,
        (0, 2),
        "one rev per change"
    );

    let not_member = alice.delete(&path("bob")).await;
    assert_eq!(
        (not_member.status.as_u16(), not_member.error_kind().as_str()),
        (404, "not_found")
    );
    assert_eq!(not_member.json()["error"]["message"], "member not found");
    let malformed = alice.delete(&path("Not A Handle")).await;
    assert_eq!(malformed.status, 400);
    let summary: ChatSummary = alice.get(&format!("/v1/chats/{chat}")).await.parse();
    assert_eq!(members(&summary), ["alice"]);
    assert_eq!(
        server_journal(&server, chat).await,
        vec![
            (
                1,
                "carol".to_owned(),
                "removed".to_owned(),
                "alice".to_owned()
            ),
            (2, "bob".to_owned(), "removed".to_owned(), "bob".to_owned()),
        ]
    );

    // The creator may leave too; the chat then has no one who may remove others.
    assert_eq!(alice.delete(&path("alice")).await.status, 204);
    assert_eq!(server.chat_position(chat).await, (0, 3));
}

async fn a_removed_member_gets_the_same_404_as_for_a_chat_that_does_not_exist(
    backend: TestBackend,
) {
    let server = spawn_test_server_on(&backend).await;
    let chat = server.create_chat("Team", &["alice", "bob"]).await;
    let bob = Client::new(&server, "bob");
    // bob's own message, and a send key he might retry after being removed.
    let sent = bob.send_text(chat, "k-sent-before", "mine").await;
    assert_eq!(sent.status, 201);
    let message: MessageResponse = sent.parse();
    server.remove_member("alice", chat, "bob").await;
    let position = server.chat_position(chat).await;

    let list: ChatListResponse = bob.get("/v1/chats").await.parse();
    assert!(list.chats.is_empty(), "the chat list omits it");
    assert_same_404_as_a_nonexistent_chat(&bob, chat, &message.message.id.to_string()).await;
    assert_eq!(
        server.chat_position(chat).await,
        position,
        "nothing was written"
    );
}

async fn the_member_limit_is_a_clear_409_and_writes_nothing(backend: TestBackend) {
    let server =
        spawn_test_server_on_with(&backend, |config| config.max_members_per_chat = 3).await;
    server.add_user("dave").await;
    let alice = Client::new(&server, "alice");
    let too_many = alice
        .post(
            "/v1/chats",
            &json!({"title": "Big", "members": ["bob", "carol", "dave"]}),
        )
        .await;
    assert_eq!(too_many.status, 409);
    assert_eq!(too_many.error_kind(), "too_many_members");
    let list: ChatListResponse = alice.get("/v1/chats").await.parse();
    assert!(list.chats.is_empty(), "no chat was created");

    // Repeats do not count against the limit.
    let created: ChatSummary = alice
        .post(
            "/v1/chats",
            &json!({"title": "Small", "members": ["bob", "bob", "alice", "bob", "carol"]}),
        )
        .await
        .parse();
    assert_eq!(members(&created), ["alice", "bob", "carol"]);
    let over = alice
        .post(
            &format!("/v1/chats/{}/members", created.id),
            &json!({"members": ["dave"]}),
        )
        .await;
    assert_eq!(over.status, 409);
    assert_eq!(over.error_kind(), "too_many_members");
    assert!(
        over.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("at most 3")
    );
    assert_eq!(
        server.chat_position(created.id).await,
        (0, 0),
        "nothing written"
    );
    // After someone leaves there is room again.
    server.remove_member("carol", created.id, "carol").await;
    let added = alice
        .post(
            &format!("/v1/chats/{}/members", created.id),
            &json!({"members": ["dave"]}),
        )
        .await;
    assert_eq!(added.status, 200);
}

async fn connect(server: &TestServer, user: &str) -> Socket {
    connect_stream(&server.base_url(), &server.token(user)).await
}

/// The next event that is not a hello or a heartbeat.
async fn next_change(socket: &mut Socket) -> StreamEvent {
    loop {
        match next_event(socket).await.expect("stream closed") {
            StreamEvent::Hello { .. } | StreamEvent::Heartbeat { .. } => continue,
            event => return event,
        }
    }
}

async fn membership_changes_reach_the_affected_streams_and_nothing_follows_a_removal(
    backend: TestBackend,
) {
    let server = spawn_test_server_on(&backend).await;
    let chat = server.create_chat("Team", &["alice", "bob"]).await;
    let mut bob = connect(&server, "bob").await;
    let mut carol = connect(&server, "carol").await;
    let alice = Client::new(&server, "alice");

    let added: ChatSummary = alice
        .post(
            &format!("/v1/chats/{chat}/members"),
            &json!({"members": ["carol"]}),
        )
        .await
        .parse();
    for socket in [&mut carol, &mut bob] {
        loop {
            match next_change(socket).await {
                // On PostgreSQL the chat's creation (rev 0) travels through LISTEN/NOTIFY and
                // can reach a socket that connected after it: a harmless re-announcement.
                StreamEvent::Chat { chat: summary } if summary.id == chat && summary.rev == 0 => {}
                StreamEvent::Chat { chat: summary } => {
                    assert_eq!(summary, added);
                    break;
                }
                other => panic!("expected the chat with carol in it, got {other:?}"),
            }
        }
    }

    assert_eq!(
        alice
            .delete(&format!("/v1/chats/{chat}/members/bob"))
            .await
            .status,
        204
    );
    let after_removal = server.chat_position(chat).await;
    match next_change(&mut bob).await {
        StreamEvent::Removed { chat_id, by, rev } => {
            assert_eq!(
                (chat_id, by.as_str(), rev),
                (chat, "alice", after_removal.1)
            );
        }
        other => panic!("expected bob's removal, got {other:?}"),
    }
    match next_change(&mut carol).await {
        StreamEvent::Chat { chat: summary } => assert_eq!(members(&summary), ["alice", "carol"]),
        other => panic!("expected the chat without bob, got {other:?}"),
    }

    // The chat goes on without bob: carol hears the message, bob's next event is the marker
    // chat below (created after the message), never the message.
    let sent = server.send("alice", chat, "after bob").await;
    match next_change(&mut carol).await {
        StreamEvent::Message { message, .. } => assert_eq!(message.id, sent.id),
        other => panic!("expected the message, got {other:?}"),
    }
    let marker = server.create_chat("marker", &["alice", "bob"]).await;
    match next_change(&mut bob).await {
        StreamEvent::Chat { chat: summary } => assert_eq!(summary.id, marker),
        other => panic!("a removed member heard {other:?}"),
    }
}
