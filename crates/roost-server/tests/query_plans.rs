//! The changes query walks a covering index: the journal scan (chat, rev, and the seq bounds a
//! client restricts it to) reads only the index, and only the messages it returns are read from
//! the table. Checked on the real database of a test server with the engine's own planner:
//! `EXPLAIN QUERY PLAN` on SQLite, `EXPLAIN` on PostgreSQL (sequential and bitmap scans off,
//! since a planner rightly prefers them on a table of a few rows).

mod common;

use common::*;
use roost_server::db::{Backend, Db};
use roost_server::store::reads::CHANGES_SQL;
use sqlx::Row;

roost_server::backend_tests!(the_changes_query_scans_a_covering_index);

/// `CHANGES_SQL` with its parameters written in, so any planner can explain it.
fn changes_sql_with_values(chat: &str) -> String {
    let values = [
        format!("'{chat}'"),
        "5".into(),
        "10".into(),
        "20".into(),
        "101".into(),
    ];
    let mut sql = CHANGES_SQL.to_owned();
    // Highest first, so `$1` does not also replace the start of a `$10`.
    for (index, value) in values.iter().enumerate().rev() {
        sql = sql.replace(&format!("${}", index + 1), value);
    }
    sql
}

async fn the_changes_query_scans_a_covering_index(backend: TestBackend) {
    let server = spawn_test_server_on(&backend).await;
    let chat = server.create_chat("General", &["alice"]).await;
    server.send_many("alice", chat, 50).await;
    let db = Db::open(&server.config().db).await.unwrap();
    let sql = changes_sql_with_values(&chat.to_string());
    let mut conn = db.read.acquire().await.unwrap();
    let plan: Vec<String> = match db.backend {
        Backend::Sqlite => sqlx::query(&format!("EXPLAIN QUERY PLAN {sql}"))
            .fetch_all(&mut *conn)
            .await
            .unwrap()
            .iter()
            .map(|row| row.try_get::<String, _>("detail").unwrap())
            .collect(),
        Backend::Postgres => {
            for setting in ["SET enable_seqscan = off", "SET enable_bitmapscan = off"] {
                sqlx::query(setting).execute(&mut *conn).await.unwrap();
            }
            sqlx::query(&format!("EXPLAIN {sql}"))
                .fetch_all(&mut *conn)
                .await
                .unwrap()
                .iter()
                .map(|row| row.try_get::<String, _>(0).unwrap())
                .collect()
        }
    };
    let plan = plan.join("\n");
    let covering = match db.backend {
        Backend::Sqlite => "USING COVERING INDEX messages_changes",
        Backend::Postgres => "Index Only Scan using messages_changes",
    };
    assert!(
        plan.contains(covering),
        "no covering index scan in:\n{plan}"
    );
    drop(conn);
    db.close().await;
}
