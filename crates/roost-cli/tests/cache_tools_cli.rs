//! `roost search`, `verify`, `clear` and `budget` (the built binary, `--json`) against a real
//! test server: search offline names what it could not search, `--fetch` brings exactly that,
//! a row damaged in the cache file is repaired by `verify`, `clear` turns history into gaps and
//! `resync` brings exactly them back.

mod common;
use common::roost;
use roost_server::testing::spawn_test_server;
use serde_json::json;
use std::path::Path;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_offline_names_what_is_missing_and_verify_repairs_a_damaged_row() {
    let mut ts = spawn_test_server().await;
    let chat = ts.create_chat("General", &["alice", "bob"]).await;
    ts.send_many("bob", chat, 1000).await;
    let dir = tempfile::tempdir().unwrap();
    let (url, token) = (ts.base_url(), ts.token("alice"));

    // A first resync caches the newest page only: the older history is not on this device.
    let (ok, r) = roost(&url, &token, dir.path(), &["resync", "General"]).await;
    assert!(ok, "{r}");
    let (_, map) = roost(&url, &token, dir.path(), &["cache-map", "General"]).await;
    let oldest_cached = map["cached"][0]["start"].as_u64().unwrap();
    assert!(oldest_cached > 100 && oldest_cached <= 951, "{map}");
    let missing = oldest_cached - 1;
    ts.stop().await;
    let (ok, found) = roost(
        &url,
        &token,
        dir.path(),
        &["search", "General", "message 950"],
    )
    .await;
    assert!(ok, "{found}");
    assert_eq!(found["hits"][0]["seq"], 950);
    let (ok, found) = roost(&url, &token, dir.path(), &["search", "message 77"]).await;
    assert!(ok, "search works with the server down: {found}");
    assert_eq!(found["hits"], json!([]));
    assert_eq!(
        found["not_searched"][0]["ranges"],
        json!([{"start": 1, "end": missing}])
    );
    assert_eq!(found["not_searched"][0]["messages"], missing);

    ts.restart().await;
    ts.reset_metrics();
    let (ok, found) = roost(
        &url,
        &token,
        dir.path(),
        &["search", "message 77", "--fetch"],
    )
    .await;
    assert!(ok, "{found}");
    assert_eq!(found["fetched"][0]["fetched"], missing);
    assert_eq!(
        ts.metrics().route("range").messages,
        missing,
        "exactly the not-searched seqs"
    );
    assert_eq!(found["not_searched"], json!([]));
    let seqs: Vec<u64> = found["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, [779, 778, 777, 776, 775, 774, 773, 772, 771, 770, 77]);

    // Damage one row in the cache file; verify finds and repairs it.
    let pool = sqlx_pool(dir.path(), &url).await;
    sqlx::query("UPDATE messages SET body = '{\"text\":\"forged\"}' WHERE seq = 500")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let (ok, v) = roost(&url, &token, dir.path(), &["verify", "General"]).await;
    assert!(ok, "{v}");
    assert_eq!(v["repaired"], json!([500]));
    assert_eq!(v["buckets_differing"], 1);
    let (_, again) = roost(&url, &token, dir.path(), &["verify", "General"]).await;
    assert_eq!(again["buckets_differing"], 0);

    // Clear: the newest 200 stay, the rest is missing again; budget reports the cache.
    let (ok, cleared) = roost(&url, &token, dir.path(), &["clear", "General"]).await;
    assert!(ok, "{cleared}");
    assert_eq!(cleared["messages"], 800);
    let (_, map) = roost(&url, &token, dir.path(), &["cache-map", "General"]).await;
    assert_eq!(map["missing"], json!([{"start": 1, "end": 800}]));
    assert_eq!(map["evicted"], json!({"start": 1, "end": 800}));
    let (ok, budget) = roost(&url, &token, dir.path(), &["budget"]).await;
    assert!(ok, "{budget}");
    assert_eq!(budget["status"]["cached_messages"], 200);
    assert_eq!(budget["status"]["budget_bytes"], 1u64 << 30);

    // `roost resync` (the user's Resync) brings exactly the cleared history back.
    ts.reset_metrics();
    let (ok, r) = roost(&url, &token, dir.path(), &["resync", "General"]).await;
    assert!(ok, "{r}");
    assert_eq!(r["messages_fetched"], 800);
    assert_eq!(
        ts.metrics().route("range").messages,
        800,
        "exactly the cleared seqs crossed the wire"
    );
    let (_, map) = roost(&url, &token, dir.path(), &["cache-map", "General"]).await;
    assert_eq!(map["missing"], json!([]));
    assert_eq!(map["evicted"], json!(null));
}

/// alice's own cache file (one per account: `roost_core::account`).
async fn sqlx_pool(dir: &Path, url: &str) -> sqlx::SqlitePool {
    let file = roost_core::account::cache_path(dir, url, &roost_proto::UserId::new("alice"));
    sqlx::sqlite::SqlitePoolOptions::new()
        .max_connections(1)
        .connect(&format!("sqlite://{}", file.display()))
        .await
        .unwrap()
}
