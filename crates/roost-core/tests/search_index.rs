//! The search index kept behind the store (issue 11): a write only queues its text, the indexer
//! drains the queue, and search drains it first. What must never break: a message is found as
//! soon as its event is out; an edit, a tombstone or an eviction of a message still queued (or
//! already indexed) leaves no stale hit; a crash with a non-empty queue loses nothing; an old
//! cache migrates with its complete index and an empty queue, and one with 0040's per-row queue
//! keeps every queued row queued (as ranges); the indexer, which holds back while a burst of
//! writes lasts, indexes the burst once it stops. The queue holds seq ranges queued by the
//! inserting code (migration 0041): a batch queues one range per run of new seqs, and after any
//! interleaving of writes, deletes and index batches the queue rule holds row by row
//! (`assert_queue_rule`, run by every test through `assert_indexes_sound`).

mod common;

use common::*;
use roost_core::ClientEvent;
use roost_core::store::{CursorRule, IngestOptions, Position, Store};
use roost_proto::{ChatId, Message};
use sqlx::sqlite::SqlitePoolOptions;
use std::path::Path;
use std::time::Duration;

async fn raw_pool(cache: &Path) -> sqlx::SqlitePool {
    SqlitePoolOptions::new()
        .max_connections(1)
        .connect(&format!("sqlite://{}", cache.display()))
        .await
        .unwrap()
}

/// Rows of `index` matching `query`, read straight from the file (no drain first).
async fn index_hits(cache: &Path, index: &str, query: &str) -> i64 {
    let pool = raw_pool(cache).await;
    let n = sqlx::query_scalar(&format!(
        "SELECT COUNT(*) FROM {index} WHERE {index} MATCH ?"
    ))
    .bind(query)
    .fetch_one(&pool)
    .await
    .unwrap();
    pool.close().await;
    n
}

/// FTS5's own consistency check of both indexes.
async fn assert_indexes_sound(cache: &Path) {
    let pool = raw_pool(cache).await;
    for index in ["message_words", "message_trigrams"] {
        sqlx::query(&format!(
            "INSERT INTO {index}({index}) VALUES ('integrity-check')"
        ))
        .execute(&pool)
        .await
        .unwrap_or_else(|e| panic!("{index}: {e}"));
    }
    pool.close().await;
    assert_queue_rule(cache).await;
}

/// Seqs the search queue covers.
async fn queued(cache: &Path) -> i64 {
    let pool = raw_pool(cache).await;
    let n = sqlx::query_scalar("SELECT COALESCE(SUM(hi - lo + 1), 0) FROM search_queue")
        .fetch_one(&pool)
        .await
        .unwrap();
    pool.close().await;
    n
}

/// The queue's ranges, in arrival order.
async fn queue_ranges(cache: &Path) -> Vec<(i64, i64)> {
    let pool = raw_pool(cache).await;
    let ranges = sqlx::query_as("SELECT lo, hi FROM search_queue ORDER BY rowid")
        .fetch_all(&pool)
        .await
        .unwrap();
    pool.close().await;
    ranges
}

/// The queue's rule, checked row by row from the file: a seq a range covers has no entry in
/// either index; a live message with text that no range covers is in the word index (and in
/// the trigram index when its text needs it); a chat's ranges never overlap; the indexes hold
/// nothing else.
async fn assert_queue_rule(cache: &Path) {
    let pool = raw_pool(cache).await;
    let overlapping: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM search_queue a JOIN search_queue b
         ON a.chat_id = b.chat_id AND a.rowid < b.rowid AND a.lo <= b.hi AND b.lo <= a.hi",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(overlapping, 0, "queue ranges overlap");
    let covered = "EXISTS (SELECT 1 FROM search_queue q
         WHERE q.chat_id = m.chat_id AND q.lo <= m.seq AND q.hi >= m.seq)";
    let entry =
        "(SELECT (s.chat_no << 40) | m.seq FROM search_chats s WHERE s.chat_id = m.chat_id)";
    let indexable =
        "m.deleted_at IS NULL AND json_valid(m.body) AND json_type(m.body, '$.text') = 'text'";
    for (what, sql) in [
        (
            "a queued seq has an index entry",
            format!(
                "SELECT COUNT(*) FROM messages m WHERE {covered}
                     AND {entry} IN (SELECT rowid FROM message_words)"
            ),
        ),
        (
            "an unqueued message with text is missing from the index",
            format!(
                "SELECT COUNT(*) FROM messages m WHERE {indexable} AND NOT {covered}
                     AND COALESCE({entry} NOT IN (SELECT rowid FROM message_words), 1)"
            ),
        ),
        (
            "the index holds an entry of no unqueued message with text",
            format!(
                "SELECT (SELECT COUNT(*) FROM message_words) - (SELECT COUNT(*) FROM messages m
                     WHERE {indexable} AND NOT {covered})"
            ),
        ),
    ] {
        let n: i64 = sqlx::query_scalar(&sql).fetch_one(&pool).await.unwrap();
        assert_eq!(n, 0, "{what}: {n}");
    }
    pool.close().await;
}

fn text_message(chat: ChatId, seq: u64, version: u64, text: &str) -> Message {
    Message {
        body: serde_json::json!({ "text": text }),
        ..roost_model::fixtures::message_version(chat, seq, version)
    }
}

fn tombstone(chat: ChatId, seq: u64, version: u64) -> Message {
    Message {
        deleted_at: Some(99),
        body: serde_json::Value::Null,
        ..roost_model::fixtures::message_version(chat, seq, version)
    }
}

async fn ingest(store: &Store, chat: ChatId, messages: &[Message]) {
    let mut options = IngestOptions::new(CursorRule::Keep);
    options.position = Some(Position {
        last_seq: 100,
        rev: 1000,
    });
    store.ingest(chat, messages, &options).await.unwrap();
}

async fn found(client: &roost_core::Client, chat: ChatId, query: &str) -> Vec<u64> {
    let mut seqs: Vec<u64> = client
        .search(Some(chat), query, 50)
        .await
        .unwrap()
        .hits
        .into_iter()
        .map(|h| h.seq)
        .collect();
    seqs.sort_unstable();
    seqs
}

#[tokio::test]
async fn a_message_is_found_by_search_as_soon_as_its_event_is_announced() {
    let ts = spawn_test_server().await;
    let chat = ts.create_chat("live", &["bob", "alice"]).await;
    let cache = CacheDir::new();
    let (client, mut events) = streaming_client(&ts, "alice", &cache.path()).await;
    for (n, word) in ["zebra", "quokka", "axolotl"].iter().enumerate() {
        let sent = ts.send("bob", chat, &format!("a {word} crossing")).await;
        wait_for(&mut events, |e| {
            matches!(e, ClientEvent::MessagesChanged { chat_id, seqs } if *chat_id == chat && seqs.contains(&sent.seq))
        })
        .await;
        assert_eq!(
            found(&client, chat, word).await,
            [sent.seq],
            "message {n} is searchable the moment its event is out"
        );
    }
    client.shutdown().await;
}

#[tokio::test]
async fn a_burst_the_indexer_held_back_from_is_indexed_once_the_writes_stop_without_a_search() {
    let ts = spawn_test_server().await;
    let chat = ts.create_chat("burst", &["bob", "alice"]).await;
    let cache = CacheDir::new();
    let (client, mut events) = streaming_client(&ts, "alice", &cache.path()).await;
    let mut last = 0;
    for n in 0..100 {
        last = ts
            .send("bob", chat, &format!("a gannet dives {n}"))
            .await
            .seq;
    }
    wait_for(&mut events, |e| {
        matches!(e, ClientEvent::MessagesChanged { chat_id, seqs } if *chat_id == chat && seqs.contains(&last))
    })
    .await;
    // No search (which drains the queue itself): the indexer alone must empty it once the
    // stream's writes stop (it holds back while they come).
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let left = client.search_backlog().await.unwrap();
        if left == 0 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the indexer left {left} messages queued"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        index_hits(&cache.path(), "message_words", "gannet").await,
        100
    );
    assert_indexes_sound(&cache.path()).await;
    client.shutdown().await;
}

#[tokio::test]
async fn edits_and_tombstones_drop_the_old_text_in_their_own_write_whether_indexed_or_queued() {
    let cache = CacheDir::new();
    let chat = ChatId(uuid::Uuid::from_u128(0x5ea1));
    let (store, _) = Store::open(cache.path()).await.unwrap();
    ingest(
        &store,
        chat,
        &[
            text_message(chat, 1, 1, "walrus indexed"),
            text_message(chat, 2, 1, "walrus indexed tombstone"),
        ],
    )
    .await;
    store.drain_search_queue().await.unwrap();
    assert_eq!(queued(&cache.path()).await, 0);
    assert_eq!(
        index_hits(&cache.path(), "message_words", "walrus").await,
        2
    );
    ingest(
        &store,
        chat,
        &[
            text_message(chat, 3, 1, "narwhal queued"),
            text_message(chat, 4, 1, "narwhal queued tombstone"),
        ],
    )
    .await;
    assert_eq!(
        queued(&cache.path()).await,
        2,
        "new text waits in the queue"
    );
    assert_eq!(
        index_hits(&cache.path(), "message_words", "narwhal").await,
        0
    );

    // Edits and tombstones of both kinds, no drain in between.
    ingest(
        &store,
        chat,
        &[
            text_message(chat, 1, 2, "puffin edited"),
            tombstone(chat, 2, 2),
            text_message(chat, 3, 2, "gannet edited"),
            tombstone(chat, 4, 2),
        ],
    )
    .await;
    for index in ["message_words", "message_trigrams"] {
        assert_eq!(
            index_hits(&cache.path(), index, "walrus").await,
            0,
            "{index}: an indexed row's old text left with the edit's own write"
        );
    }
    assert_eq!(
        queued(&cache.path()).await,
        3,
        "the indexed row's edit waits; the queued rows' range (3..=4) still covers them"
    );
    assert_queue_rule(&cache.path()).await;
    drop(store); // a crash: the queue stays as it is

    let ts = spawn_test_server().await;
    let (client, _) = client_with_cache(&ts, "alice", &cache.path()).await;
    assert_eq!(found(&client, chat, "walrus").await, Vec::<u64>::new());
    assert_eq!(found(&client, chat, "narwhal").await, Vec::<u64>::new());
    assert_eq!(found(&client, chat, "puffin").await, [1]);
    assert_eq!(found(&client, chat, "gannet").await, [3]);
    assert_eq!(found(&client, chat, "edited").await, [1, 3]);
    assert_eq!(queued(&cache.path()).await, 0);
    assert_indexes_sound(&cache.path()).await;
    client.shutdown().await;
}

#[tokio::test]
async fn evicting_queued_and_indexed_messages_leaves_neither_a_hit_nor_a_queue_entry() {
    let ts = spawn_test_server().await;
    let chat = ts.create_chat("evicted", &["bob", "alice"]).await;
    ts.send_many("bob", chat, 300).await;
    let all = ts.messages(chat).await;
    let (last_seq, rev) = ts.chat_position(chat).await;
    let cache = CacheDir::new();
    // 1..=100 indexed, 101..=300 still queued (written by a store alone: no indexer ran).
    seed_cache(&cache.path(), chat, &seqs(&all, 1, 100), (last_seq, rev)).await;
    {
        let (store, _) = Store::open(cache.path()).await.unwrap();
        assert_eq!(
            store.search_backlog().await.unwrap(),
            0,
            "a clean close indexed it"
        );
        store.close().await;
    }
    {
        // Without a clean close (which indexes what is queued): a crash.
        let (store, _) = Store::open(cache.path()).await.unwrap();
        let mut options = IngestOptions::new(CursorRule::Keep);
        options.position = Some(Position { last_seq, rev });
        store
            .ingest(chat, &seqs(&all, 101, 300), &options)
            .await
            .unwrap();
    }
    assert_eq!(queued(&cache.path()).await, 200);

    let (client, _) = client_with_cache(&ts, "alice", &cache.path()).await;
    let report = client
        .clear_cached_history_keeping(Some(chat), 50)
        .await
        .unwrap();
    assert_eq!(report.messages, 250);
    let pool = raw_pool(&cache.path()).await;
    let stale_queue: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM search_queue WHERE lo <= 250")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(stale_queue, 0, "no evicted seq waits to be indexed");
    pool.close().await;
    // `send_many` texts are "message <n>": every cached one matches.
    let hits = found(&client, chat, "message").await;
    assert_eq!(
        hits,
        (251..=300).collect::<Vec<_>>(),
        "only the kept window is found"
    );
    assert_eq!(
        index_hits(&cache.path(), "message_words", "message").await,
        50,
        "the index holds the kept window only"
    );
    assert_indexes_sound(&cache.path()).await;
    client.shutdown().await;
}

#[tokio::test]
async fn a_crash_with_messages_still_queued_loses_none_of_them_and_the_next_start_indexes_them() {
    let cache = CacheDir::new();
    let chat = ChatId(uuid::Uuid::from_u128(0xc4a5));
    let (store, _) = Store::open(cache.path()).await.unwrap();
    let batch: Vec<Message> = (1..=500)
        .map(|seq| text_message(chat, seq, 1, &format!("heron number{seq}")))
        .collect();
    ingest(&store, chat, &batch).await;
    // A crash: the store goes away without its close, the queue full.
    drop(store);
    assert_eq!(queued(&cache.path()).await, 500);
    assert_eq!(index_hits(&cache.path(), "message_words", "heron").await, 0);

    // The next start's indexer drains the queue on its own (no search asked for it).
    let ts = spawn_test_server().await;
    let (client, _) = client_with_cache(&ts, "alice", &cache.path()).await;
    let drained = async {
        while queued(&cache.path()).await > 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(60), drained)
        .await
        .expect("the indexer never drained the queue a crash left");
    assert_eq!(
        index_hits(&cache.path(), "message_words", "heron").await,
        500
    );
    assert_eq!(found(&client, chat, "number377").await, [377]);
    client.shutdown().await;
}

/// The cache schema as it was at migration `version`, on an existing file or a new one.
async fn old_cache(path: &Path, version: i64) -> sqlx::SqlitePool {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../migrations/client/sqlite");
    let mut migrator = sqlx::migrate::Migrator::new(dir).await.unwrap();
    let old: Vec<_> = migrator
        .migrations
        .iter()
        .filter(|m| m.version <= version)
        .cloned()
        .collect();
    assert!(
        old.len() < migrator.migrations.len(),
        "a newer migration exists"
    );
    migrator.migrations = old.into();
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(
            sqlx::sqlite::SqliteConnectOptions::new()
                .filename(path)
                .create_if_missing(true)
                .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal),
        )
        .await
        .unwrap();
    migrator.run(&pool).await.unwrap();
    pool
}

#[tokio::test]
async fn an_old_cache_migrates_with_its_index_complete_and_an_empty_queue() {
    let cache = CacheDir::new();
    let chat = ChatId(uuid::Uuid::from_u128(0x01d));
    {
        let pool = old_cache(&cache.path(), 30).await;
        insert_old_chat(&pool, chat).await;
        // The old triggers index as they write.
        insert_old_rows(&pool, chat, "pelican", 1..=20).await;
        record_old_runs(&pool, chat, &[(1, 20)], 20).await;
        pool.close().await;
    }
    let (store, _) = Store::open(cache.path()).await.unwrap();
    assert_eq!(
        store.search_backlog().await.unwrap(),
        0,
        "an old index is complete"
    );
    assert_eq!(
        index_hits(&cache.path(), "message_words", "pelican").await,
        20
    );
    // Writes after the migration queue instead of indexing.
    ingest(&store, chat, &[text_message(chat, 21, 1, "new pelican")]).await;
    assert_eq!(store.search_backlog().await.unwrap(), 1);
    assert_eq!(
        index_hits(&cache.path(), "message_words", "pelican").await,
        20
    );
    store.close().await;

    let ts = spawn_test_server().await;
    let (client, _) = client_with_cache(&ts, "alice", &cache.path()).await;
    assert_eq!(
        found(&client, chat, "pelican").await,
        (1..=21).collect::<Vec<_>>()
    );
    client.shutdown().await;
}

#[tokio::test]
async fn only_texts_in_scripts_written_without_spaces_go_into_the_trigram_index() {
    let cache = CacheDir::new();
    let chat = ChatId(uuid::Uuid::from_u128(0x7419));
    let (store, _) = Store::open(cache.path()).await.unwrap();
    ingest(
        &store,
        chat,
        &[
            text_message(chat, 1, 1, "meet at Tokyo station"),
            text_message(chat, 2, 1, "東京駅で会いましょう"),
            text_message(chat, 3, 1, "Tokyo 東京都庁 tour"),
            text_message(chat, 4, 1, "สวัสดีครับ"),
        ],
    )
    .await;
    store.drain_search_queue().await.unwrap();
    let pool = raw_pool(&cache.path()).await;
    let trigram_rows: Vec<i64> =
        sqlx::query_scalar("SELECT rowid & 1099511627775 FROM message_trigrams ORDER BY rowid")
            .fetch_all(&pool)
            .await
            .unwrap();
    pool.close().await;
    assert_eq!(trigram_rows, [2, 3, 4]);
    // Edits move texts in and out of it.
    ingest(
        &store,
        chat,
        &[
            text_message(chat, 1, 2, "meet at 東京駅 instead"),
            text_message(chat, 2, 2, "see you at the station"),
        ],
    )
    .await;
    store.close().await;

    let ts = spawn_test_server().await;
    let (client, _) = client_with_cache(&ts, "alice", &cache.path()).await;
    assert_eq!(found(&client, chat, "東京駅").await, [1]);
    assert_eq!(found(&client, chat, "東京都").await, [3]);
    assert_eq!(found(&client, chat, "tokyo 東京都").await, [3]);
    assert_eq!(found(&client, chat, "สวัสดี").await, [4]);
    assert_eq!(found(&client, chat, "station").await, [2]);
    assert_eq!(found(&client, chat, "tokyo").await, [3]);
    assert_indexes_sound(&cache.path()).await;
    client.shutdown().await;
}

/// Adds `chat` to a cache of schema `old_cache(_, version)`.
async fn insert_old_chat(pool: &sqlx::SqlitePool, chat: ChatId) {
    sqlx::query("INSERT INTO chats(chat_id, sync_state) VALUES (?, 'UNKNOWN')")
        .bind(chat.to_string())
        .execute(pool)
        .await
        .unwrap();
}

/// Records `runs` (first and last seq) as cached and `count` as the chat's cached messages, as
/// the store did for the rows `insert_old_rows` wrote.
async fn record_old_runs(pool: &sqlx::SqlitePool, chat: ChatId, runs: &[(i64, i64)], count: i64) {
    for (start, end) in runs {
        sqlx::query("INSERT INTO cached_runs(chat_id, start_seq, end_seq) VALUES (?, ?, ?)")
            .bind(chat.to_string())
            .bind(start)
            .bind(end)
            .execute(pool)
            .await
            .unwrap();
    }
    sqlx::query("UPDATE chats SET cached_count = ? WHERE chat_id = ?")
        .bind(count)
        .bind(chat.to_string())
        .execute(pool)
        .await
        .unwrap();
}

/// Inserts messages reading `old <word> <seq>` the way a cache of schema
/// `old_cache(_, version)` was written (its triggers index or queue them as they fire).
async fn insert_old_rows(
    pool: &sqlx::SqlitePool,
    chat: ChatId,
    word: &str,
    seqs: impl Iterator<Item = i64>,
) {
    for seq in seqs {
        sqlx::query(
            "INSERT INTO messages(chat_id, seq, id, version, author, created_at, body, rev)
             VALUES (?, ?, ?, 1, 'bob', 0, ?, ?)",
        )
        .bind(chat.to_string())
        .bind(seq)
        .bind(uuid::Uuid::from_u128(seq as u128).to_string())
        .bind(serde_json::json!({ "text": format!("old {word} {seq}") }).to_string())
        .bind(seq)
        .execute(pool)
        .await
        .unwrap();
    }
}

#[tokio::test]
async fn messages_queued_one_by_one_before_0041_stay_queued_as_ranges_and_are_all_found() {
    let cache = CacheDir::new();
    let chat = ChatId(uuid::Uuid::from_u128(0x0041));
    {
        // 1..=10 indexed as written (0010's triggers), then 0040's queue: 11..=20 and
        // 25..=30 queued one row each, 21..=24 never cached.
        let pool = old_cache(&cache.path(), 30).await;
        insert_old_chat(&pool, chat).await;
        insert_old_rows(&pool, chat, "cormorant", 1..=10).await;
        pool.close().await;
        let pool = old_cache(&cache.path(), 40).await;
        insert_old_rows(&pool, chat, "cormorant", (25..=30).chain(11..=20)).await;
        let pending: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM search_pending")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(pending, 16, "0040 queued a row per message");
        record_old_runs(&pool, chat, &[(1, 20), (25, 30)], 26).await;
        pool.close().await;
    }
    let (store, _) = Store::open(cache.path()).await.unwrap();
    assert_eq!(
        queue_ranges(&cache.path()).await,
        [(25, 30), (11, 20)],
        "the queued rows, as ranges, in arrival order"
    );
    assert_eq!(
        index_hits(&cache.path(), "message_words", "cormorant").await,
        10
    );
    assert_queue_rule(&cache.path()).await;
    store.close().await;

    let ts = spawn_test_server().await;
    let (client, _) = client_with_cache(&ts, "alice", &cache.path()).await;
    assert_eq!(
        found(&client, chat, "cormorant").await,
        (1..=20).chain(25..=30).collect::<Vec<u64>>()
    );
    assert_eq!(queued(&cache.path()).await, 0);
    assert_indexes_sound(&cache.path()).await;
    client.shutdown().await;
}

#[tokio::test]
async fn an_ingest_queues_one_range_per_run_of_new_seqs_and_never_a_seq_already_queued() {
    let cache = CacheDir::new();
    let chat = ChatId(uuid::Uuid::from_u128(0xba7c4));
    let (store, _) = Store::open(cache.path()).await.unwrap();
    let heron = |seq: u64| text_message(chat, seq, 1, &format!("heron {seq}"));
    ingest(&store, chat, &(1..=5000).map(heron).collect::<Vec<_>>()).await;
    assert_eq!(queue_ranges(&cache.path()).await, [(1, 5000)]);
    // Already cached (same version: not rewritten), new, and new past a gap.
    let batch: Vec<Message> = (4990..=5010).chain(5020..=5021).map(heron).collect();
    ingest(&store, chat, &batch).await;
    assert_eq!(
        queue_ranges(&cache.path()).await,
        [(1, 5000), (5001, 5010), (5020, 5021)]
    );
    // Queued rows go: at a range's end they leave it, in its middle the range stays (the seq
    // has no entry) ...
    let pool = raw_pool(&cache.path()).await;
    for seq in [1, 7, 5010, 5020, 5021] {
        sqlx::query("DELETE FROM messages WHERE chat_id = ? AND seq = ?")
            .bind(chat.to_string())
            .bind(seq)
            .execute(&pool)
            .await
            .unwrap();
    }
    pool.close().await;
    assert_eq!(queue_ranges(&cache.path()).await, [(2, 5000), (5001, 5009)]);
    // ... and come back: seq 7 is still queued, 1 and 5010 are queued anew.
    let batch = [heron(1), heron(6), heron(7), heron(5010), heron(6000)];
    ingest(&store, chat, &batch).await;
    assert_eq!(
        queue_ranges(&cache.path()).await,
        [(2, 5000), (5001, 5009), (1, 1), (5010, 5010), (6000, 6000)],
    );
    assert_queue_rule(&cache.path()).await;
    // Partly indexed: the indexer takes a range in slices.
    store.index_pending(100).await.unwrap();
    assert_eq!(queue_ranges(&cache.path()).await[0], (102, 5000));
    assert_queue_rule(&cache.path()).await;
    store.drain_search_queue().await.unwrap();
    assert_eq!(queued(&cache.path()).await, 0);
    assert_eq!(
        index_hits(&cache.path(), "message_words", "heron").await,
        5011,
        "every message indexed once"
    );
    assert_indexes_sound(&cache.path()).await;
    store.close().await;
}

/// One step of [`any_interleaving_of_writes_deletes_and_index_batches_keeps_the_queue_rule`].
#[derive(Debug, Clone)]
enum Step {
    /// Seqs `lo .. lo + len` at `version` (every `tombstone_every`-th a tombstone; 0: none).
    Ingest {
        lo: u64,
        len: u64,
        version: u64,
        tombstone_every: u64,
    },
    /// A row deleted (as eviction and quarantine do), queued or indexed.
    Delete { seq: u64 },
    /// One index batch of `n` seqs (a range may be taken in part).
    Index { n: u64 },
}

fn step() -> impl proptest::strategy::Strategy<Value = Step> {
    use proptest::prelude::*;
    prop_oneof![
        4 => (1u64..60, 1u64..12, 1u64..4, 0u64..4).prop_map(|(lo, len, version, t)| Step::Ingest {
            lo,
            len,
            version,
            tombstone_every: t,
        }),
        2 => (1u64..64).prop_map(|seq| Step::Delete { seq }),
        1 => (1u64..20).prop_map(|n| Step::Index { n }),
    ]
}

async fn run_steps(steps: &[Step]) {
    let cache = CacheDir::new();
    let chat = ChatId(uuid::Uuid::from_u128(0x57e9));
    let (store, _) = Store::open(cache.path()).await.unwrap();
    for step in steps {
        match *step {
            Step::Ingest {
                lo,
                len,
                version,
                tombstone_every,
            } => {
                let batch: Vec<Message> = (lo..lo + len)
                    .map(|seq| match tombstone_every {
                        t if t > 0 && seq % t == 0 => tombstone(chat, seq, version),
                        _ => text_message(
                            chat,
                            seq,
                            version,
                            &format!("kittiwake s{seq} v{version}"),
                        ),
                    })
                    .collect();
                ingest(&store, chat, &batch).await;
            }
            Step::Delete { seq } => {
                let pool = raw_pool(&cache.path()).await;
                sqlx::query("DELETE FROM messages WHERE chat_id = ? AND seq = ?")
                    .bind(chat.to_string())
                    .bind(seq as i64)
                    .execute(&pool)
                    .await
                    .unwrap();
                pool.close().await;
            }
            Step::Index { n } => {
                store.index_pending(n).await.unwrap();
            }
        }
        assert_queue_rule(&cache.path()).await;
    }
    store.drain_search_queue().await.unwrap();
    assert_eq!(queued(&cache.path()).await, 0);
    assert_indexes_sound(&cache.path()).await;
    store.close().await;
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

    /// Writes (new rows, replacements, edits, tombstones), deletes and partial index batches in
    /// any order: after every step a queued seq has no index entry, an unqueued message with
    /// text has exactly its entry, and ranges never overlap; a drain then leaves an empty queue
    /// and a sound index.
    #[test]
    fn any_interleaving_of_writes_deletes_and_index_batches_keeps_the_queue_rule(
        steps in proptest::collection::vec(step(), 1..14)
    ) {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap()
            .block_on(run_steps(&steps));
    }
}
