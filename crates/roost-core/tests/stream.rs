//! The stream into the cache: bursts, edits and deletes merged by version, unread counts of
//! chats opened and closed out of order or left before what arrived was shown, and a lost notification leaving a gap that is shown,
//! flagged, and repaired for an open chat.

mod common;

use common::*;
use roost_core::{Anchor, ClientEvent, RequestOrder, SyncState, WindowItem};

#[tokio::test]
async fn a_burst_of_messages_edits_and_deletes_converges_without_any_fetch() {
    let ts = spawn_test_server().await;
    let chat = ts.create_chat("burst", &["bob", "alice"]).await;
    let cache = CacheDir::new();
    let (client, mut events) = streaming_client(&ts, "alice", &cache.path()).await;
    // Let the connect-time catch-up finish before measuring.
    client.refresh_chats().await.unwrap();
    ts.reset_metrics();

    let mut sent = Vec::new();
    for i in 1..=200 {
        sent.push(ts.send("bob", chat, &format!("burst {i}")).await);
    }
    ts.edit("bob", chat, sent[9].id, "edited 10").await;
    let last = ts.delete("bob", chat, sent[19].id).await;
    wait_for(&mut events, |e| matches!(e, ClientEvent::MessagesChanged { chat_id, seqs } if *chat_id == chat && seqs.contains(&last.seq))).await;
    // The delete may be merged in the same transaction as earlier frames; wait for the cursor.
    loop {
        let rec = client.chat(chat).await.unwrap().unwrap();
        if rec.changes_cursor == last.rev {
            break;
        }
        wait_for(&mut events, |e| {
            matches!(e, ClientEvent::ChatUpdated { .. })
        })
        .await;
    }
    assert_cache_equals_server(&client, &ts, chat, 1, 200).await;
    let rec = client.chat(chat).await.unwrap().unwrap();
    assert_eq!(rec.unread_count, 200);
    assert!(!rec.needs_resync);
    let m = ts.metrics();
    assert_eq!(m.route("range").requests + m.route("changes").requests, 0);
}

#[tokio::test]
async fn a_lost_notification_leaves_a_visible_gap_that_is_repaired_in_an_open_chat() {
    let ts = spawn_test_server().await;
    let chat = ts.create_chat("lossy", &["bob", "alice"]).await;
    ts.send("bob", chat, "first").await;
    let cache = CacheDir::new();
    let (client, _) = client_with_cache(&ts, "alice", &cache.path()).await;
    let mut events = client.subscribe();
    client.start_stream();
    wait_for(&mut events, |e| is_state(e, chat, SyncState::InSync)).await;

    // Closed chat: messages 2..=6 are never notified (lost), then 7 arrives.
    ts.send_many("bob", chat, 5).await;
    let seventh = ts.send("bob", chat, "seventh").await;
    wait_for(&mut events, |e| is_state(e, chat, SyncState::OutOfSync)).await;
    let rec = client.chat(chat).await.unwrap().unwrap();
    assert!(rec.needs_resync);
    assert_eq!(rec.last_message_seq, Some(7));
    let window = client.window(chat, Anchor::Newest, 50).await.unwrap();
    assert_eq!(window.items.len(), 3);
    assert_eq!(window.items[1], WindowItem::Gap { from: 2, to: 6 });
    assert_eq!(window.items[2], WindowItem::Message { message: seventh });

    // Opening it (background validation is off for this client) and resyncing fills 2..=6.
    // The cursor stayed at rev 1 (revs 2..=6 were never seen), so the changes endpoint answers
    // with the creates 2..=7 of the cached span: the gap is filled from there (7 comes again,
    // a no-op merge) and no range request is needed.
    client.open_chat(chat, Anchor::Newest, 50).await.unwrap();
    ts.reset_metrics();
    let report = client.resync(chat).await.unwrap();
    assert_eq!((report.changes_applied, report.messages_fetched), (6, 0));
    let m = ts.metrics();
    assert_eq!(m.route("changes").messages + m.route("range").messages, 6);
    assert_eq!(m.route("changes").requests + m.route("range").requests, 1);
    assert_cache_equals_server(&client, &ts, chat, 1, 7).await;

    // Open chat: another loss is repaired without being asked.
    ts.send_many("bob", chat, 3).await;
    ts.send("bob", chat, "eleventh").await;
    wait_for(&mut events, |e| is_state(e, chat, SyncState::OutOfSync)).await;
    wait_for(&mut events, |e| is_state(e, chat, SyncState::InSync)).await;
    assert_cache_equals_server(&client, &ts, chat, 1, 11).await;
}

/// A UI's opens and closes of a chat, numbered as it made them, take effect in that order even
/// when they run out of it (a shell answers each as a task of its own): a close that ran before
/// the open it followed leaves the chat closed, and a late close leaves a later open standing.
/// What arrives then counts as unread exactly when the chat is closed.
#[tokio::test]
async fn opens_and_closes_that_run_out_of_order_take_effect_in_the_order_asked() {
    let OneChat {
        ts,
        chat,
        client,
        mut events,
        cache: _cache,
    } = one_chat_caught_up("switched").await;
    let unread = |client: &roost_core::Client| {
        let client = client.clone();
        async move { client.chat(chat).await.unwrap().unwrap().unread_count }
    };

    // Asked: open (1), close (2). Ran: the close first.
    client
        .close_chat_in_order(chat, RequestOrder(2), None)
        .await
        .unwrap();
    let window = client
        .open_chat_in_order(chat, Anchor::Newest, 50, RequestOrder(1))
        .await
        .unwrap();
    assert_eq!(
        window.items.len(),
        1,
        "the late open still reads the window"
    );
    assert!(!client.chat(chat).await.unwrap().unwrap().is_open);
    let before = unread(&client).await;
    let second = ts.send("bob", chat, "after leaving").await;
    wait_for(&mut events, |e| matches!(e, ClientEvent::MessagesChanged { chat_id, seqs } if *chat_id == chat && seqs.contains(&second.seq))).await;
    assert_eq!(unread(&client).await, before + 1, "closed: it is unread");

    // Asked: open (3), close (4), open (5). Ran: 3, 5, then 4.
    for (order, open) in [(3, true), (5, true), (4, false)] {
        if open {
            client
                .open_chat_in_order(chat, Anchor::Newest, 50, RequestOrder(order))
                .await
                .unwrap();
        } else {
            client
                .close_chat_in_order(chat, RequestOrder(order), None)
                .await
                .unwrap();
        }
    }
    assert!(client.chat(chat).await.unwrap().unwrap().is_open);
    let third = ts.send("bob", chat, "while on screen").await;
    wait_for(&mut events, |e| matches!(e, ClientEvent::MessagesChanged { chat_id, seqs } if *chat_id == chat && seqs.contains(&third.seq))).await;
    assert_eq!(unread(&client).await, 0, "open: read as it arrives");
}

/// A close says up to which seq the UI showed the chat. What arrived while it was open and was
/// never shown counts as unread — above all a message that landed as the user left, before the
/// close reached the engine — and, when nothing of it was shown, what was unread when it
/// opened; a message of the user's own never does. A close that says nothing reads it all.
#[tokio::test]
async fn a_close_counts_as_unread_what_arrived_while_open_and_was_never_shown() {
    let OneChat {
        ts,
        chat,
        client,
        mut events,
        cache: _cache,
    } = one_chat_caught_up("left").await;
    let mut order = 0;
    let mut next = || {
        order += 1;
        RequestOrder(order)
    };
    let open = |order| {
        let client = client.clone();
        async move {
            let window = client
                .open_chat_in_order(chat, Anchor::Newest, 50, order)
                .await
                .unwrap();
            assert_eq!(window.chat.unread_count, 0);
        }
    };
    let close = |order, shown: Option<u64>| {
        let client = client.clone();
        async move {
            client
                .close_chat_in_order(chat, order, shown)
                .await
                .unwrap();
            let rec = client.chat(chat).await.unwrap().unwrap();
            assert!(!rec.is_open);
            rec.unread_count
        }
    };
    open(next()).await;
    let landed = sent(&ts, &mut events, chat, "bob", "landed as alice left").await;
    assert_eq!(landed, 2);
    assert_eq!(
        client.chat(chat).await.unwrap().unwrap().unread_count,
        0,
        "open as it landed"
    );
    assert_eq!(
        close(next(), Some(1)).await,
        1,
        "the UI showed up to 1: seq 2 is unread"
    );

    open(next()).await;
    sent(&ts, &mut events, chat, "alice", "my own").await;
    sent(&ts, &mut events, chat, "bob", "not shown either").await;
    assert_eq!(
        close(next(), Some(2)).await,
        1,
        "the user's own message is not unread"
    );

    open(next()).await;
    let shown = sent(&ts, &mut events, chat, "bob", "shown").await;
    assert_eq!(close(next(), Some(shown)).await, 0, "everything was shown");

    sent(&ts, &mut events, chat, "bob", "while closed").await;
    sent(&ts, &mut events, chat, "bob", "while closed too").await;
    assert_eq!(client.chat(chat).await.unwrap().unwrap().unread_count, 2);
    open(next()).await;
    assert_eq!(
        close(next(), Some(0)).await,
        2,
        "nothing shown: unread as before the open"
    );
    open(next()).await;
    assert_eq!(
        close(next(), Some(1)).await,
        2,
        "an old page shown (a jump into history): still the two"
    );

    open(next()).await;
    sent(
        &ts,
        &mut events,
        chat,
        "bob",
        "read by a close that says nothing",
    )
    .await;
    assert_eq!(close(next(), None).await, 0);
}

/// Sends `text` as `from` and waits until the stream cached it; its seq.
async fn sent(
    ts: &roost_server::testing::TestServer,
    events: &mut tokio::sync::broadcast::Receiver<ClientEvent>,
    chat: roost_proto::ChatId,
    from: &str,
    text: &str,
) -> u64 {
    let sent = ts.send(from, chat, text).await;
    wait_for(events, |e| matches!(e, ClientEvent::MessagesChanged { chat_id, seqs } if *chat_id == chat && seqs.contains(&sent.seq))).await;
    sent.seq
}

/// Alice's streaming client, caught up on chat `title` where Bob wrote one message.
struct OneChat {
    ts: roost_server::testing::TestServer,
    chat: roost_proto::ChatId,
    client: roost_core::Client,
    events: tokio::sync::broadcast::Receiver<ClientEvent>,
    cache: CacheDir,
}

async fn one_chat_caught_up(title: &str) -> OneChat {
    let ts = spawn_test_server().await;
    let chat = ts.create_chat(title, &["bob", "alice"]).await;
    ts.send("bob", chat, "first").await;
    let cache = CacheDir::new();
    let (client, events) = streaming_client(&ts, "alice", &cache.path()).await;
    client.refresh_chats().await.unwrap();
    OneChat {
        ts,
        chat,
        client,
        events,
        cache,
    }
}
