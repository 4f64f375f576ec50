//! Chat-scoped incremental resync against the real server: only missing seqs and changes cross
//! the wire, concurrent triggers join, an interrupted resync resumes from the store alone.

mod common;

use common::*;
use roost_core::{ClientEvent, SyncState, WindowItem};
use roost_proto::MAX_PAGE_SIZE;

#[tokio::test]
async fn resync_after_offline_edits_and_deletes_fetches_exactly_the_missing_seqs_and_the_changes() {
    let ts = spawn_test_server().await;
    let chat = ts.create_chat("project", &["bob", "alice"]).await;
    ts.send_many("bob", chat, 1000).await;
    let all = ts.messages(chat).await;
    let (_, rev_when_cached) = ts.chat_position(chat).await;

    // The cache holds three runs: 1..=100, 301..=400, 601..=700, current as of now.
    let cache = CacheDir::new();
    let mut cached_msgs = seqs(&all, 1, 100);
    cached_msgs.extend(seqs(&all, 301, 400));
    cached_msgs.extend(seqs(&all, 601, 700));
    seed_cache(&cache.path(), chat, &cached_msgs, (1000, rev_when_cached)).await;

    // While the client is away: edits of cached messages, an edit inside a gap, a delete of a
    // cached message, and 120 new messages.
    let id = |seq: u64| all[(seq - 1) as usize].id;
    ts.edit("bob", chat, id(50), "edited 50").await;
    ts.edit("bob", chat, id(350), "edited 350").await;
    ts.edit("bob", chat, id(200), "edited 200 (not cached)")
        .await;
    ts.delete("bob", chat, id(650)).await;
    ts.send_many("bob", chat, 120).await;
    let changed_cached = 3; // 50, 350, 650

    let (client, _) = client_with_cache(&ts, "alice", &cache.path()).await;
    client.refresh_chats().await.unwrap();
    let map = client.cache_map(chat).await.unwrap();
    assert_eq!(map.cached_count, 300);

    ts.reset_metrics();
    let report = client.resync(chat).await.unwrap();
    let m = ts.metrics();

    // Missing before: 101..=300, 401..=600, 701..=1120.
    assert_eq!(report.gaps_before, 3);
    assert_eq!(report.missing_before, 200 + 200 + 420);
    assert_eq!(report.gaps_after, 0);
    assert_eq!(report.state, SyncState::InSync);
    assert_eq!(report.full_reload, None);
    // The changes endpoint returned the 4 changed messages of the cached span (200 included,
    // which then need not be fetched by range) and, open above the span since the server has
    // newer messages, the 120 created after the cursor (issue 9: catch-up in one request).
    assert_eq!(report.changes_applied, 4);
    assert_eq!(m.route("changes").messages, 4 + 120);
    assert_eq!(report.messages_fetched, 820 - 1);
    assert_eq!(m.route("range").messages, 819 - 120);
    // Exactly missing + changed crossed the wire.
    assert_eq!(
        m.route("range").messages + m.route("changes").messages,
        report.missing_before + changed_cached
    );
    // Requests: one changes page, then the missing seqs in lists of ≤ MAX_PAGE_SIZE: 4 gaps
    // after 200 split 101..=300.
    assert_eq!(m.route("changes").requests, 1);
    let gaps_after_changes = 4u64;
    assert!(
        m.route("range").requests <= gaps_after_changes + 819u64.div_ceil(MAX_PAGE_SIZE as u64)
    );
    // Packed into `seqs` lists of up to a page: ceil(699 / 500) requests.
    assert_eq!(m.route("range").requests, 2);
    // The client's own figures agree with the server's.
    assert_eq!(
        report.requests,
        m.route("range").requests + m.route("changes").requests
    );
    assert_eq!(
        report.bytes_received,
        m.route("range").bytes + m.route("changes").bytes
    );
    // The cache now equals the server over everything it covers.
    assert_cache_equals_server(&client, &ts, chat, 1, 1120).await;
    let rec = client.chat(chat).await.unwrap().unwrap();
    assert_eq!(rec.sync_state, SyncState::InSync);
    assert!(!rec.needs_resync);

    // A second resync finds nothing to do: one changes request, no range request.
    ts.reset_metrics();
    let again = client.resync(chat).await.unwrap();
    assert_eq!(
        (
            again.messages_fetched,
            again.changes_applied,
            again.gaps_before
        ),
        (0, 0, 0)
    );
    assert_eq!(ts.metrics().route("range").requests, 0);
    assert_eq!(ts.metrics().route("changes").requests, 1);
}

#[tokio::test]
async fn two_concurrent_resyncs_of_one_chat_make_one_set_of_requests() {
    let ts = spawn_test_server().await;
    let chat = ts.create_chat("busy", &["bob", "alice"]).await;
    ts.send_many("bob", chat, 900).await;
    let all = ts.messages(chat).await;
    let (_, rev) = ts.chat_position(chat).await;
    let cache = CacheDir::new();
    let mut part = seqs(&all, 1, 50);
    part.extend(seqs(&all, 400, 450));
    seed_cache(&cache.path(), chat, &part, (900, rev)).await;

    let (client, _) = client_with_cache(&ts, "alice", &cache.path()).await;
    ts.reset_metrics();
    let (a, b) = tokio::join!(client.resync(chat), client.resync(chat));
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a, b, "the second trigger joined the first");
    let m = ts.metrics();
    assert_eq!(
        m.route("changes").requests + m.route("range").requests,
        a.requests
    );
    assert_eq!(m.route("range").messages, 900 - 101);
    assert_eq!(m.route("range").messages, a.messages_fetched);
    assert_cache_equals_server(&client, &ts, chat, 1, 900).await;
}

#[tokio::test]
async fn two_concurrent_loads_of_older_history_make_one_request() {
    let ts = spawn_test_server().await;
    let chat = ts.create_chat("scrolling", &["bob", "alice"]).await;
    ts.send_many("bob", chat, 600).await;
    let all = ts.messages(chat).await;
    let (_, rev) = ts.chat_position(chat).await;
    let cache = CacheDir::new();
    seed_cache(&cache.path(), chat, &seqs(&all, 501, 600), (600, rev)).await;
    let (client, _) = client_with_cache(&ts, "alice", &cache.path()).await;

    ts.reset_metrics();
    let (a, b) = tokio::join!(client.load_older(chat), client.load_older(chat));
    assert_eq!(
        a.unwrap(),
        b.unwrap(),
        "the second scroll joined the first fetch"
    );
    let m = ts.metrics();
    assert_eq!(m.route("range").requests, 1);
    assert_eq!(
        m.route("range").messages,
        roost_proto::DEFAULT_PAGE_SIZE as u64
    );
    assert_cache_equals_server(&client, &ts, chat, 401, 600).await;
}

#[tokio::test]
async fn an_empty_cache_fetches_only_the_newest_page_and_older_history_on_demand() {
    let ts = spawn_test_server().await;
    let chat = ts.create_chat("long", &["bob", "alice"]).await;
    ts.send_many("bob", chat, 1000).await;
    let cache = CacheDir::new();
    let (client, _) = client_with_cache(&ts, "alice", &cache.path()).await;
    client.refresh_chats().await.unwrap();

    ts.reset_metrics();
    let report = client.resync(chat).await.unwrap();
    assert_eq!(
        report.messages_fetched,
        roost_proto::DEFAULT_PAGE_SIZE as u64
    );
    assert_eq!(ts.metrics().route("range").requests, 1);
    assert_eq!(
        report.state,
        SyncState::InSync,
        "older history is not 'partial'"
    );

    let window = client
        .open_chat(chat, roost_core::Anchor::Newest, 50)
        .await
        .unwrap();
    assert!(window.has_more_before);
    let window = client
        .window(chat, roost_core::Anchor::Newest, 500)
        .await
        .unwrap();
    assert_eq!(window.items[0], WindowItem::OlderHistory { to: 900 });

    let older = client.load_older(chat).await.unwrap();
    assert_eq!(older.fetched, 100);
    assert_eq!(ts.metrics().route("range").requests, 2);
    let map = client.cache_map(chat).await.unwrap();
    assert_eq!(map.cached, vec![roost_core::SeqRange::new(801, 1000)]);
    assert_cache_equals_server(&client, &ts, chat, 801, 1000).await;
}

#[tokio::test]
async fn a_resync_interrupted_by_a_crash_resumes_from_the_store_alone() {
    let ts = spawn_test_server().await;
    let chat = ts.create_chat("big", &["bob", "alice"]).await;
    ts.send_many("bob", chat, 1510).await;
    let all = ts.messages(chat).await;
    let (_, rev) = ts.chat_position(chat).await;
    let cache = CacheDir::new();
    seed_cache(&cache.path(), chat, &seqs(&all, 1, 10), (1510, rev)).await;

    // First run: killed right after its first range page is committed.
    {
        let (client, _) = client_with_cache(&ts, "alice", &cache.path()).await;
        let mut events = client.subscribe();
        let c2 = client.clone();
        let running = tokio::spawn(async move { c2.resync(chat).await });
        wait_for(&mut events, |e| {
            matches!(e, ClientEvent::FetchStarted { .. })
        })
        .await;
        wait_for(&mut events, |e| {
            matches!(e, ClientEvent::MessagesChanged { .. })
        })
        .await;
        client.shutdown().await;
        let _ = running.await;
    }
    // What survived is a consistent prefix, flagged for resync.
    let (probe, info) = client_with_cache(&ts, "alice", &cache.path()).await;
    assert_eq!(info.resumable_chats, vec![chat]);
    let survived = probe.cache_map(chat).await.unwrap();
    assert!(survived.cached_count > 10, "the first page was committed");
    assert!(
        survived.cached_count < 1510,
        "the crash interrupted the resync"
    );
    assert_eq!(
        survived.cached.len(),
        1,
        "pages are committed whole and in order"
    );
    probe.shutdown().await;
    drop(probe);

    // Reopen with background work on: the flagged chat is resumed without being asked.
    ts.reset_metrics();
    let (client, info) = background_client(&ts, "alice", &cache.path()).await;
    assert_eq!(info.resumable_chats, vec![chat]);
    let mut events = client.subscribe();
    // The resume may already be running: join it (single-flight) rather than wait for events.
    let report = client.resync(chat).await.unwrap();
    let _ = &mut events;
    assert_eq!(report.state, SyncState::InSync);
    // Only what was still missing was fetched.
    assert_eq!(
        ts.metrics().route("range").messages,
        1510 - survived.cached_count
    );
    assert_cache_equals_server(&client, &ts, chat, 1, 1510).await;
    let rec = client.chat(chat).await.unwrap().unwrap();
    assert!(!rec.needs_resync);
}

#[tokio::test]
async fn when_the_changes_journal_is_too_old_the_cached_runs_are_revalidated_by_range() {
    let ts = spawn_test_server_with(|c| c.changes_horizon = 5).await;
    let chat = ts.create_chat("old", &["bob", "alice"]).await;
    ts.send_many("bob", chat, 100).await;
    let all = ts.messages(chat).await;
    let (_, rev) = ts.chat_position(chat).await;
    let cache = CacheDir::new();
    let mut part = seqs(&all, 1, 20);
    part.extend(seqs(&all, 41, 60));
    seed_cache(&cache.path(), chat, &part, (100, rev)).await;
    for seq in [5u64, 10, 45, 50, 55, 58, 59] {
        ts.edit(
            "bob",
            chat,
            all[(seq - 1) as usize].id,
            &format!("late edit {seq}"),
        )
        .await;
    }

    let (client, _) = client_with_cache(&ts, "alice", &cache.path()).await;
    ts.reset_metrics();
    let report = client.resync(chat).await.unwrap();
    assert!(report.revalidated.is_some(), "the reason is reported");
    // Defect: the re-validation's range pages were counted as changes.
    assert_eq!(report.changes_applied, 0, "{report:?}");
    assert_eq!(report.revalidation_fetched, 40, "{report:?}");
    assert_eq!(
        report.full_reload, None,
        "re-validating the cached runs is not a full reload"
    );
    let m = ts.metrics();
    assert_eq!(m.route("changes").requests, 1);
    // The cached runs (40) once, then only the missing seqs (21..=40 and 61..=100).
    assert_eq!(m.route("range").messages, 40 + 20 + 40);
    assert_cache_equals_server(&client, &ts, chat, 1, 100).await;
    assert_eq!(report.state, SyncState::InSync);
    // The cursor is current again: the next resync is one changes request.
    ts.reset_metrics();
    let again = client.resync(chat).await.unwrap();
    assert_eq!(again.revalidated, None);
    assert_eq!(ts.metrics().route("range").requests, 0);
}

/// Defect: resync and load_older had separate single-flight tables, so both could fetch one chat
/// at once (two overlapping fetch windows). One chat runs one fetch job at a time.
#[tokio::test]
async fn resync_and_load_older_of_one_chat_never_fetch_at_once() {
    let ts = spawn_test_server().await;
    let chat = ts.create_chat("both", &["bob", "alice"]).await;
    ts.send_many("bob", chat, 600).await;
    let all = ts.messages(chat).await;
    let (_, rev) = ts.chat_position(chat).await;
    let cache = CacheDir::new();
    seed_cache(&cache.path(), chat, &seqs(&all, 301, 310), (600, rev)).await;
    let (client, _) = client_with_cache(&ts, "alice", &cache.path()).await;
    let mut events = client.subscribe();
    let (a, b) = tokio::join!(client.resync(chat), client.load_older(chat));
    a.unwrap();
    b.unwrap();
    let mut depth = 0i32;
    let mut deepest = 0;
    while let Ok(ev) = events.try_recv() {
        match ev {
            ClientEvent::FetchStarted { chat_id } if chat_id == chat => depth += 1,
            ClientEvent::FetchFinished { chat_id, .. } if chat_id == chat => depth -= 1,
            _ => {}
        }
        deepest = deepest.max(depth);
    }
    assert_eq!(depth, 0);
    assert_eq!(deepest, 1, "two fetches of one chat overlapped");
}

/// Defect: opening a partial chat ran its resync and then the first page of older history as
/// two fetch windows, so the indicator hid and showed again (flicker). It is one window.
#[tokio::test]
async fn opening_a_partial_chat_is_one_fetch_window() {
    let ts = spawn_test_server().await;
    let chat = ts.create_chat("open", &["bob", "alice"]).await;
    ts.send_many("bob", chat, 500).await;
    let all = ts.messages(chat).await;
    let (_, rev) = ts.chat_position(chat).await;
    let cache = CacheDir::new();
    seed_cache(&cache.path(), chat, &seqs(&all, 391, 400), (400, rev)).await;
    let (client, _) = background_client(&ts, "alice", &cache.path()).await;
    let mut events = client.subscribe();
    client
        .open_chat(chat, roost_core::Anchor::Newest, 200)
        .await
        .unwrap();
    // Wait until the resync (401..=500) and one page of older history (below 391) are cached.
    let mut windows = 0;
    loop {
        let ev = tokio::time::timeout(std::time::Duration::from_secs(20), events.recv())
            .await
            .expect("the background work finishes")
            .unwrap();
        match ev {
            ClientEvent::FetchStarted { chat_id } if chat_id == chat => windows += 1,
            ClientEvent::FetchFinished { chat_id, .. } if chat_id == chat => {
                let map = client.cache_map(chat).await.unwrap();
                if map
                    .cached
                    .first()
                    .is_some_and(|r| r.start < 391 && r.end == 500)
                {
                    break;
                }
            }
            _ => {}
        }
    }
    assert_eq!(
        windows, 1,
        "one fetch window from opening to the first older page"
    );
}

/// Defect (found by the E2E test of the indicator on a slow server): a resync of a chat with
/// missing messages opened its fetch window only after the changes pass, so while a slow
/// changes request ran the screen showed skeletons and no indicator. The window opens first.
#[tokio::test]
async fn a_resync_with_missing_messages_opens_its_fetch_window_before_the_changes_pass() {
    let ts = spawn_test_server().await;
    let chat = ts.create_chat("gap", &["bob", "alice"]).await;
    ts.send_many("bob", chat, 6).await;
    let all = ts.messages(chat).await;
    let (_, rev) = ts.chat_position(chat).await;
    // Cached: 1..=2 and 5..=6, so 3..=4 are missing inside the cached span (the changes pass
    // does not reach them); then seq 1 is edited (for the changes pass).
    let cache = CacheDir::new();
    let mut cached = seqs(&all, 1, 2);
    cached.extend(seqs(&all, 5, 6));
    seed_cache(&cache.path(), chat, &cached, (6, rev)).await;
    ts.edit("bob", chat, all[0].id, "edited").await;
    let (client, _) = client_with_cache(&ts, "alice", &cache.path()).await;
    let mut events = client.subscribe();
    let report = client.resync(chat).await.unwrap();
    assert_eq!(report.changes_applied, 1);
    assert_eq!(report.messages_fetched, 2);
    let mut order = Vec::new();
    while let Ok(ev) = events.try_recv() {
        match ev {
            ClientEvent::FetchStarted { chat_id } if chat_id == chat => order.push("started"),
            // The edit and the new messages may come in one changes answer (catch-up: 1 + N).
            ClientEvent::MessagesChanged { chat_id, .. }
                if chat_id == chat && order.last() != Some(&"changed") =>
            {
                order.push("changed")
            }
            ClientEvent::FetchFinished { chat_id, .. } if chat_id == chat => order.push("finished"),
            _ => {}
        }
    }
    assert_eq!(order, ["started", "changed", "finished"]);
}
