//! Search that names what it could not search, the storage budget (eviction and clear turn
//! cached history back into gaps) and verify & repair by digests — all against the real server,
//! counting what crossed the wire at the server's metrics.

mod common;

use common::*;
use roost_core::SeqRange;
use roost_core::store::Store;
use roost_proto::ChatId;
use sqlx::sqlite::SqlitePoolOptions;
use std::path::Path;

async fn raw_pool(cache: &Path) -> sqlx::SqlitePool {
    SqlitePoolOptions::new()
        .max_connections(1)
        .connect(&format!("sqlite://{}", cache.display()))
        .await
        .unwrap()
}

/// Every chat's runs index agrees with its messages, and `cached_count` with both.
async fn assert_runs_match_messages(cache: &Path, chat: ChatId) {
    let pool = raw_pool(cache).await;
    let seqs: Vec<i64> =
        sqlx::query_scalar("SELECT seq FROM messages WHERE chat_id = ? ORDER BY seq")
            .bind(chat.to_string())
            .fetch_all(&pool)
            .await
            .unwrap();
    let truth = roost_core::ranges::runs_from_seqs(seqs.iter().map(|s| *s as u64));
    let runs: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT start_seq, end_seq FROM cached_runs WHERE chat_id = ? ORDER BY start_seq",
    )
    .bind(chat.to_string())
    .fetch_all(&pool)
    .await
    .unwrap();
    let runs: Vec<SeqRange> = runs
        .into_iter()
        .map(|(a, b)| SeqRange::new(a as u64, b as u64))
        .collect();
    assert_eq!(runs, truth, "runs index == messages");
    let count: i64 = sqlx::query_scalar("SELECT cached_count FROM chats WHERE chat_id = ?")
        .bind(chat.to_string())
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(count as usize, seqs.len(), "cached_count == messages");
    pool.close().await;
}

#[tokio::test]
async fn the_bundled_sqlite_has_fts5_with_trigram_and_contentless_delete() {
    let cache = CacheDir::new();
    let (store, _) = Store::open(cache.path()).await.unwrap();
    store.close().await;
    let pool = raw_pool(&cache.path()).await;
    let fts5: i64 = sqlx::query_scalar("SELECT sqlite_compileoption_used('ENABLE_FTS5')")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(fts5, 1);
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE name IN ('message_words', 'message_trigrams') ORDER BY name",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(tables, ["message_trigrams", "message_words"]);
}

#[tokio::test]
async fn search_folds_diacritics_matches_prefixes_and_unspaced_scripts_and_follows_edits_and_deletes()
 {
    let ts = spawn_test_server().await;
    let chat = ts.create_chat("Général", &["bob", "alice"]).await;
    let cafe = ts
        .send("bob", chat, "On se retrouve au Café de Flore ?")
        .await;
    ts.send("bob", chat, "東京都に行きます").await;
    ts.send("bob", chat, "a naïve approach").await;
    ts.send("bob", chat, "nothing to see").await;
    let cache = CacheDir::new();
    let (client, _) = client_with_cache(&ts, "alice", &cache.path()).await;
    client.refresh_chats().await.unwrap();
    client.resync(chat).await.unwrap();

    let texts = |r: roost_core::search::SearchResults| -> Vec<String> {
        r.hits.into_iter().map(|h| h.text).collect()
    };
    let found = |q: &'static str| {
        let client = client.clone();
        async move { texts(client.search(Some(chat), q, 50).await.unwrap()) }
    };
    assert_eq!(found("cafe").await, ["On se retrouve au Café de Flore ?"]);
    assert_eq!(
        found("CAF").await,
        ["On se retrouve au Café de Flore ?"],
        "prefix, any case"
    );
    assert_eq!(
        found("naive appro").await,
        ["a naïve approach"],
        "every term must match"
    );
    assert_eq!(
        found("京都に").await,
        ["東京都に行きます"],
        "trigram substring"
    );
    assert_eq!(
        found("東京").await,
        ["東京都に行きます"],
        "two-character unspaced term"
    );
    assert!(found("flores").await.is_empty());
    let all = client.search(None, "cafe", 50).await.unwrap();
    assert_eq!(all.hits.len(), 1);
    assert!(
        all.not_searched.is_empty(),
        "the chat is fully cached: {:?}",
        all.not_searched
    );

    // An edit re-indexes, a delete removes, in the same transaction as the cache write.
    ts.edit("bob", chat, cafe.id, "Rendez-vous au salon de thé")
        .await;
    client.resync(chat).await.unwrap();
    assert!(found("cafe").await.is_empty());
    assert_eq!(found("the salon").await, ["Rendez-vous au salon de thé"]);
    ts.delete("bob", chat, cafe.id).await;
    client.resync(chat).await.unwrap();
    assert!(found("salon").await.is_empty());
}

#[tokio::test]
async fn search_names_the_seqs_it_could_not_search_and_fetching_them_brings_exactly_those() {
    let ts = spawn_test_server().await;
    let chat = ts.create_chat("history", &["bob", "alice"]).await;
    ts.send_many("bob", chat, 1000).await;
    let all = ts.messages(chat).await;
    let (last_seq, rev) = ts.chat_position(chat).await;
    let cache = CacheDir::new();
    let mut held = seqs(&all, 101, 300);
    held.extend(seqs(&all, 901, 1000));
    seed_cache(&cache.path(), chat, &held, (last_seq, rev)).await;
    let (client, _) = client_with_cache(&ts, "alice", &cache.path()).await;

    // "message 777" (terms are prefixes: 777*) matches seq 777 only; here it is not cached.
    let results = client.search(Some(chat), "message 777", 50).await.unwrap();
    assert!(results.hits.is_empty());
    assert_eq!(results.not_searched.len(), 1);
    let missing = &results.not_searched[0];
    assert_eq!(
        missing.ranges,
        [SeqRange::new(1, 100), SeqRange::new(301, 900)]
    );
    assert_eq!(missing.messages, 700);

    ts.reset_metrics();
    let report = client.fetch_seqs(chat, &missing.ranges).await.unwrap();
    let m = ts.metrics();
    assert_eq!(report.fetched, 700);
    assert_eq!(
        m.route("range").messages,
        700,
        "exactly the not-searched seqs crossed the wire"
    );
    assert_eq!(m.route("range").requests, report.requests);
    // Asking again costs nothing: they are cached now.
    ts.reset_metrics();
    let again = client.fetch_seqs(chat, &missing.ranges).await.unwrap();
    assert_eq!(
        (again.requested, ts.metrics().route("range").requests),
        (0, 0)
    );

    let results = client.search(Some(chat), "message 777", 50).await.unwrap();
    assert!(results.not_searched.is_empty());
    assert_eq!(results.hits.len(), 1);
    assert_eq!(results.hits[0].seq, 777);
    assert_cache_equals_server(&client, &ts, chat, 1, 1000).await;
}

/// A chat fully cached through the seeding path (server copies, one snapshot).
async fn cached_chat(
    ts: &roost_server::testing::TestServer,
    title: &str,
    n: usize,
    cache: &Path,
) -> ChatId {
    let chat = ts.create_chat(title, &["bob", "alice"]).await;
    ts.send_many("bob", chat, n).await;
    let all = ts.messages(chat).await;
    let (last_seq, rev) = ts.chat_position(chat).await;
    seed_cache(cache, chat, &all, (last_seq, rev)).await;
    chat
}

#[tokio::test]
async fn eviction_turns_the_oldest_history_of_the_least_recently_opened_chat_into_gaps() {
    let ts = spawn_test_server().await;
    let cache = CacheDir::new();
    let old = cached_chat(&ts, "old", 4000, &cache.path()).await;
    let recent = cached_chat(&ts, "recent", 4000, &cache.path()).await;
    let open = cached_chat(&ts, "open", 4000, &cache.path()).await;
    let (client, _) = client_with_cache(&ts, "alice", &cache.path()).await;
    client.refresh_chats().await.unwrap();
    client
        .open_chat(old, roost_core::Anchor::Newest, 50)
        .await
        .unwrap();
    client.close_chat(old).await.unwrap();
    // Stamps are milliseconds: make "recent" surely later than "old".
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    client
        .open_chat(recent, roost_core::Anchor::Newest, 50)
        .await
        .unwrap();
    client.close_chat(recent).await.unwrap();
    client
        .open_chat(open, roost_core::Anchor::Newest, 50)
        .await
        .unwrap();
    let pending = client.send(old, "queued while offline").await.unwrap();

    let before = client.budget_status().await.unwrap();
    assert_eq!(before.cached_messages, 12_000);
    // A budget a little under the current size: only the least recently opened chat loses.
    let budget = before.used_bytes * 95 / 100;
    let report = client.enforce_cache_budget(Some(budget)).await.unwrap();
    assert!(report.messages > 0);
    assert!(
        report.chats.iter().all(|c| c.chat_id == old),
        "{:?}",
        report.chats
    );
    let after = client.budget_status().await.unwrap();
    assert!(
        after.used_bytes <= budget,
        "{} > {budget}",
        after.used_bytes
    );
    assert!(
        after.file_bytes < before.file_bytes,
        "incremental vacuum returned pages"
    );

    let evicted = &report.chats[0];
    assert_eq!(evicted.ranges.len(), 1);
    let ev = evicted.ranges[0];
    assert_eq!(ev.start, 1);
    assert!(ev.end <= 4000 - 200, "the newest window stays");
    assert_runs_match_messages(&cache.path(), old).await;
    let map = client.cache_map(old).await.unwrap();
    assert_eq!(map.missing, [ev], "every evicted seq is reported missing");
    let w = client
        .window(old, roost_core::Anchor::Around { seq: ev.end }, 20)
        .await
        .unwrap();
    // The window draws a skeleton exactly over the evicted seqs, then the cached messages.
    use roost_core::WindowItem;
    assert!(
        matches!(w.items[0], WindowItem::Gap { to, .. } | WindowItem::OlderHistory { to } if to == ev.end),
        "{:?}",
        w.items[0]
    );
    assert!(matches!(&w.items[1], WindowItem::Message { message } if message.seq == ev.end + 1));
    assert_eq!(
        client.cache_map(open).await.unwrap().cached_count,
        4000,
        "an open chat is never evicted"
    );
    assert_eq!(client.cache_map(recent).await.unwrap().cached_count, 4000);
    assert_eq!(
        client.outbox(Some(old)).await.unwrap()[0].local_id,
        pending.local_id
    );
    let results = client.search(Some(old), "message", 1).await.unwrap();
    assert_eq!(results.not_searched[0].ranges, [ev]);

    // Fetching the evicted ranges brings exactly those back.
    ts.reset_metrics();
    let back = client.fetch_seqs(old, &evicted.ranges).await.unwrap();
    assert_eq!(back.fetched, evicted.messages);
    assert_eq!(ts.metrics().route("range").messages, evicted.messages);
    assert_runs_match_messages(&cache.path(), old).await;
    assert_cache_equals_server(&client, &ts, old, 1, 4000).await;
}

#[tokio::test]
async fn clear_keeps_the_newest_window_and_a_resync_or_scroll_refills_only_what_was_cleared() {
    let ts = spawn_test_server().await;
    let cache = CacheDir::new();
    let chat = cached_chat(&ts, "general", 1000, &cache.path()).await;
    let other = cached_chat(&ts, "other", 300, &cache.path()).await;
    let (client, _) = client_with_cache(&ts, "alice", &cache.path()).await;
    client.refresh_chats().await.unwrap();

    let report = client.clear_cached_history(Some(chat)).await.unwrap();
    assert_eq!(report.messages, 800);
    assert_eq!(report.chats[0].ranges, [SeqRange::new(1, 800)]);
    assert_runs_match_messages(&cache.path(), chat).await;
    assert_eq!(client.cache_map(other).await.unwrap().cached_count, 300);
    assert_eq!(
        client.cache_map(chat).await.unwrap().missing,
        [SeqRange::new(1, 800)]
    );

    // Scrolling up refills from the oldest cached seq downwards, one page per request.
    ts.reset_metrics();
    let mut fetched = 0;
    loop {
        let r = client.load_older(chat).await.unwrap();
        fetched += r.fetched;
        if r.reached_start {
            break;
        }
    }
    assert_eq!(fetched, 800);
    assert_eq!(ts.metrics().route("range").messages, 800);
    assert_cache_equals_server(&client, &ts, chat, 1, 1000).await;

    // The device-wide clear, then the budget's own accounting agrees with the runs.
    let all = client.clear_cached_history(None).await.unwrap();
    assert_eq!(all.messages, 800 + 100);
    assert_runs_match_messages(&cache.path(), other).await;
    assert_eq!(client.budget_status().await.unwrap().cached_messages, 400);
}

/// Damages rows of the cache file with SQL, behind the client's back.
async fn damage(cache: &Path, chat: ChatId, sql: &str, seq: u64) {
    let pool = raw_pool(cache).await;
    let done = sqlx::query(sql)
        .bind(chat.to_string())
        .bind(seq as i64)
        .execute(&pool)
        .await
        .unwrap();
    assert_eq!(done.rows_affected(), 1, "{sql}");
    pool.close().await;
}

#[tokio::test]
async fn verify_finds_and_repairs_a_wrong_version_body_id_and_tombstone_state_fetching_only_their_buckets()
 {
    let ts = spawn_test_server().await;
    let cache = CacheDir::new();
    let chat = cached_chat(&ts, "audited", 3000, &cache.path()).await;
    let all = ts.messages(chat).await;
    ts.delete("bob", chat, all[2499].id).await; // seq 2500 becomes a tombstone on the server …
    let (client, _) = client_with_cache(&ts, "alice", &cache.path()).await;
    client.refresh_chats().await.unwrap();
    client.resync(chat).await.unwrap(); // … and in the cache

    // An intact chat: nothing differs, nothing is fetched.
    ts.reset_metrics();
    let intact = client.verify(chat).await.unwrap();
    let m = ts.metrics();
    assert_eq!(intact.messages_compared, 3000);
    assert_eq!(
        (intact.buckets_differing, intact.messages_refetched),
        (0, 0)
    );
    assert_eq!(m.route("range").requests, 0);
    assert_eq!(m.total().bytes, m.route("digests").bytes);

    // Damage: a body, a version claiming to be newer, an id, a tombstone that is not one on the
    // server, and a live body where the server has a tombstone.
    let cache_path = cache.path();
    damage(
        &cache_path,
        chat,
        r#"UPDATE messages SET body = '{"text":"forged"}' WHERE chat_id = ? AND seq = ?"#,
        10,
    )
    .await;
    damage(
        &cache_path,
        chat,
        "UPDATE messages SET version = version + 5 WHERE chat_id = ? AND seq = ?",
        700,
    )
    .await;
    damage(&cache_path, chat, "UPDATE messages SET id = '00000000-0000-0000-0000-000000000000' WHERE chat_id = ? AND seq = ?", 1500).await;
    damage(
        &cache_path,
        chat,
        "UPDATE messages SET deleted_at = 1, body = 'null' WHERE chat_id = ? AND seq = ?",
        2000,
    )
    .await;
    damage(&cache_path, chat, r#"UPDATE messages SET deleted_at = NULL, body = '{"text":"back from the dead"}' WHERE chat_id = ? AND seq = ?"#, 2500).await;
    assert_eq!(
        client
            .search(Some(chat), "forged", 5)
            .await
            .unwrap()
            .hits
            .len(),
        1
    );

    ts.reset_metrics();
    let report = client.verify(chat).await.unwrap();
    let m = ts.metrics();
    assert_eq!(report.buckets_differing, 5);
    assert_eq!(
        report.buckets_refetched, 5,
        "one fine bucket per damaged row"
    );
    assert_eq!(report.repaired, [10, 700, 1500, 2000, 2500]);
    assert!(report.messages_refetched <= 5 * u64::from(roost_core::verify::FINE_BUCKET));
    assert_eq!(m.route("range").messages, report.messages_refetched);
    assert_cache_equals_server(&client, &ts, chat, 1, 3000).await;
    assert!(
        client
            .search(Some(chat), "forged", 5)
            .await
            .unwrap()
            .hits
            .is_empty()
    );
    let again = client.verify(chat).await.unwrap();
    assert_eq!((again.buckets_differing, again.messages_refetched), (0, 0));
}

#[tokio::test]
async fn verify_compares_only_cached_seqs_and_a_non_member_learns_nothing() {
    let ts = spawn_test_server().await;
    let chat = ts.create_chat("partial", &["bob", "alice"]).await;
    ts.send_many("bob", chat, 1000).await;
    let all = ts.messages(chat).await;
    let (last_seq, rev) = ts.chat_position(chat).await;
    let cache = CacheDir::new();
    let mut held = seqs(&all, 50, 120);
    held.extend(seqs(&all, 700, 1000));
    seed_cache(&cache.path(), chat, &held, (last_seq, rev)).await;
    let (client, _) = client_with_cache(&ts, "alice", &cache.path()).await;
    ts.reset_metrics();
    let report = client.verify(chat).await.unwrap();
    assert_eq!(report.messages_compared, 71 + 301);
    assert_eq!(
        (report.buckets_differing, report.messages_refetched),
        (0, 0)
    );
    assert_eq!(
        ts.metrics().route("digests").requests,
        2,
        "one request per cached run"
    );
    assert_eq!(
        client.cache_map(chat).await.unwrap().cached_count,
        372,
        "verify never fills gaps"
    );

    let carol_cache = CacheDir::new();
    seed_cache(&carol_cache.path(), chat, &held, (last_seq, rev)).await;
    let (carol, _) = client_with_cache(&ts, "carol", &carol_cache.path()).await;
    let err = carol.verify(chat).await.unwrap_err();
    assert_eq!(err.kind(), "not_found");
    let nothing_cached = ChatId(uuid::Uuid::nil());
    let report = client.verify(nothing_cached).await.unwrap();
    assert_eq!(
        report.buckets_compared, 0,
        "a chat with nothing cached has nothing to compare"
    );
}

/// Issue 12: "after eviction … a resync brings exactly those back". A chat cached from seq 301
/// (1–300 never cached here) is cleared down to its newest 200 (301–800 cleared), another is
/// evicted by the budget. The automatic resyncs of a reconnect leave both evicted ranges alone
/// (the budget would evict them again at once), catching up only the new messages; the user's
/// Resync of each chat fetches exactly its evicted seqs — counted at the server — and never the
/// history that was never cached here.
#[tokio::test]
async fn a_manual_resync_brings_back_exactly_the_evicted_history_and_a_catch_up_does_not() {
    let ts = spawn_test_server().await;
    let cache = CacheDir::new();
    let cleared = ts.create_chat("cleared", &["bob", "alice"]).await;
    ts.send_many("bob", cleared, 1000).await;
    let (last_seq, rev) = ts.chat_position(cleared).await;
    seed_cache(
        &cache.path(),
        cleared,
        &seqs(&ts.messages(cleared).await, 301, 1000),
        (last_seq, rev),
    )
    .await;
    let evicted = cached_chat(&ts, "evicted", 1000, &cache.path()).await;
    let evicted_ranges = {
        let (client, _) = client_with_cache(&ts, "alice", &cache.path()).await;
        client.refresh_chats().await.unwrap();
        let report = client.clear_cached_history(Some(cleared)).await.unwrap();
        assert_eq!(report.chats[0].ranges, [SeqRange::new(301, 800)]);
        // The cleared chat keeps only its newest window, so the budget can take only the other.
        let used = client.budget_status().await.unwrap().used_bytes;
        let report = client
            .enforce_cache_budget(Some(used * 95 / 100))
            .await
            .unwrap();
        // (One entry per eviction round.)
        let mut ranges = Vec::new();
        for chat in &report.chats {
            assert_eq!(chat.chat_id, evicted);
            for range in &chat.ranges {
                roost_core::ranges::insert_range(&mut ranges, *range);
            }
        }
        assert_eq!(ranges.len(), 1);
        assert_eq!(ranges[0].start, 1);
        assert_eq!(client.cache_map(evicted).await.unwrap().missing, ranges);
        client.shutdown().await;
        ranges
    };
    let evicted_count: u64 = evicted_ranges.iter().map(|r| r.len()).sum();

    // While away, one new message in each chat; the reconnect's catch-up resyncs both.
    ts.send_many("bob", cleared, 1).await;
    ts.send_many("bob", evicted, 1).await;
    let (client, _) = background_client(&ts, "alice", &cache.path()).await;
    let mut events = client.subscribe();
    ts.reset_metrics();
    client.start_stream();
    let mut caught_up = std::collections::HashSet::new();
    while caught_up.len() < 2 {
        if let roost_core::ClientEvent::SyncStateChanged { chat_id, .. } =
            wait_for(&mut events, |e| {
                [cleared, evicted]
                    .iter()
                    .any(|c| is_state(e, *c, roost_core::SyncState::InSync))
            })
            .await
        {
            caught_up.insert(chat_id);
        }
    }
    assert_eq!(
        client.cache_map(cleared).await.unwrap().missing,
        [SeqRange::new(1, 800)],
        "the catch-up fetched the new message and left the cleared history alone"
    );
    assert_eq!(
        client.cache_map(evicted).await.unwrap().missing,
        evicted_ranges
    );
    assert_cache_equals_server(&client, &ts, cleared, 801, 1001).await;
    let catch_up = ts.metrics().route("range").messages;
    assert!(catch_up <= 2, "only the new messages: {catch_up}");

    // The user's Resync: exactly the evicted seqs come back, nothing else.
    ts.reset_metrics();
    let report = client.resync(cleared).await.unwrap();
    assert_eq!(report.messages_fetched, 500);
    assert_eq!(report.missing_before, 500);
    assert_eq!(report.gaps_after, 0);
    let m = ts.metrics();
    println!(
        "figures: cleared 500 (seqs 301-800), manual resync fetched {} over {} range request(s)",
        m.route("range").messages,
        m.route("range").requests
    );
    assert_eq!(m.route("range").messages, 500, "exactly the cleared seqs");
    assert_eq!(
        client.cache_map(cleared).await.unwrap().missing,
        [SeqRange::new(1, 300)],
        "history never cached here stays older history"
    );
    assert_runs_match_messages(&cache.path(), cleared).await;
    assert_cache_equals_server(&client, &ts, cleared, 301, 1001).await;

    ts.reset_metrics();
    let report = client.resync(evicted).await.unwrap();
    let m = ts.metrics();
    println!(
        "figures: evicted {evicted_count} ({evicted_ranges:?}), manual resync fetched {} over {} range request(s)",
        m.route("range").messages,
        m.route("range").requests
    );
    assert_eq!(report.messages_fetched, evicted_count);
    assert_eq!(
        m.route("range").messages,
        evicted_count,
        "exactly the evicted seqs"
    );
    assert!(client.cache_map(evicted).await.unwrap().missing.is_empty());
    assert_runs_match_messages(&cache.path(), evicted).await;
    assert_cache_equals_server(&client, &ts, evicted, 1, 1001).await;

    // Nothing is missing any more: a second Resync fetches no message.
    ts.reset_metrics();
    client.resync(evicted).await.unwrap();
    assert_eq!(ts.metrics().route("range").messages, 0);
    client.shutdown().await;
}

/// A message row deleted from the file behind the client's back while the runs index still
/// claims its seq: verify sees the bucket's count differ, fetches it and puts the row back (the
/// runs index and count were right all along).
#[tokio::test]
async fn verify_puts_back_a_row_deleted_behind_the_clients_back() {
    let ts = spawn_test_server().await;
    let cache = CacheDir::new();
    let chat = cached_chat(&ts, "holed", 600, &cache.path()).await;
    let (client, _) = client_with_cache(&ts, "alice", &cache.path()).await;
    client.refresh_chats().await.unwrap();
    damage(
        &cache.path(),
        chat,
        "DELETE FROM messages WHERE chat_id = ? AND seq = ?",
        321,
    )
    .await;

    ts.reset_metrics();
    let report = client.verify(chat).await.unwrap();
    assert_eq!(report.buckets_differing, 1);
    assert_eq!(report.repaired, [321]);
    assert!(report.messages_refetched <= u64::from(roost_core::verify::FINE_BUCKET));
    assert_eq!(
        ts.metrics().route("range").messages,
        report.messages_refetched
    );
    assert_runs_match_messages(&cache.path(), chat).await;
    assert_cache_equals_server(&client, &ts, chat, 1, 600).await;
    assert_eq!(
        client
            .search(Some(chat), "321", 5)
            .await
            .unwrap()
            .hits
            .len(),
        1,
        "the row is searchable again"
    );
    let again = client.verify(chat).await.unwrap();
    assert_eq!((again.buckets_differing, again.messages_refetched), (0, 0));
}

/// The user presses Resync while an automatic resync of the chat (opening it) is fetching: the
/// press joins the running fetch (one fetch job per chat), which leaves evicted history alone,
/// and then fetches the evicted history itself. Every message crosses the wire once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resync_pressed_during_an_automatic_one_still_brings_the_evicted_history_back() {
    let ts = spawn_test_server().await;
    let cache = CacheDir::new();
    let chat = cached_chat(&ts, "busy", 4000, &cache.path()).await;
    {
        let (client, _) = client_with_cache(&ts, "alice", &cache.path()).await;
        let report = client.clear_cached_history(Some(chat)).await.unwrap();
        assert_eq!(report.chats[0].ranges, [SeqRange::new(1, 3800)]);
        client.shutdown().await;
    }
    ts.send_many("bob", chat, 3000).await; // the automatic resync has these to fetch

    let (client, _) = background_client(&ts, "alice", &cache.path()).await;
    let mut events = client.subscribe();
    ts.reset_metrics();
    client
        .open_chat(chat, roost_core::Anchor::Newest, 50)
        .await
        .unwrap();
    wait_for(
        &mut events,
        |e| matches!(e, roost_core::ClientEvent::FetchStarted { chat_id } if *chat_id == chat),
    )
    .await;
    client.resync(chat).await.unwrap();

    let map = client.cache_map(chat).await.unwrap();
    assert_eq!((map.missing.clone(), map.evicted), (vec![], None));
    let m = ts.metrics();
    println!(
        "figures: evicted 3800 + 3000 new; range {} + changes {} messages",
        m.route("range").messages,
        m.route("changes").messages
    );
    assert_eq!(
        m.route("range").messages + m.route("changes").messages,
        3800 + 3000,
        "every message crossed the wire once"
    );
    assert_runs_match_messages(&cache.path(), chat).await;
    assert_cache_equals_server(&client, &ts, chat, 1, 7000).await;
    client.shutdown().await;
}
