//! The search queue's producers: every path that inserts messages queues their seqs for the
//! search index here, BEFORE it inserts them (migration `0041_search_queue_ranges.sql`; the
//! consumer is `search_index`).
//!
//! Why not a trigger: a per-row `AFTER INSERT` trigger (0040) cost more than the row's own
//! write, and capped a batched ingest below 100k msg/s. A batch's new messages of a chat are
//! almost always one contiguous seq range, so the ingest path queues one range per batch.
//! Edits, tombstones and deletes (rare) keep their triggers.
//!
//! The rule kept: a seq a queue range covers is not in the indexes; an indexable message no
//! range covers is in both with its current text. A chat's ranges never overlap: a producer
//! queues only the parts of its seqs no range covers yet (those are queued already, and have no
//! index entry).
//!
//! A forgotten producer cannot go unnoticed: in debug builds every connection of the store
//! carries [`GUARD_SQL`], a TEMP trigger that aborts the insert of a live message no range
//! covers.

use super::*;
use writer::WriteTx;

/// Whether a queue range covers seq `?2` of chat `?1` (ranges never overlap, so only the one
/// starting at or below it can): one index seek.
macro_rules! covered {
    ($chat:literal, $seq:literal) => {
        concat!(
            "COALESCE((SELECT hi FROM search_queue WHERE chat_id = ",
            $chat,
            " AND lo <= ",
            $seq,
            " ORDER BY lo DESC LIMIT 1) >= ",
            $seq,
            ", 0)"
        )
    };
}

/// In debug builds, installed on every connection of the store that can write (`TEMP`: never
/// in the file): inserting a live message that no queue range covers aborts the statement.
/// Every producer queues before it inserts, so only a forgotten one trips it.
#[cfg_attr(not(debug_assertions), allow(dead_code))]
pub(crate) const GUARD_SQL: &str = concat!(
    "CREATE TEMP TRIGGER IF NOT EXISTS search_queue_guard AFTER INSERT ON main.messages
     WHEN new.deleted_at IS NULL AND NOT ",
    covered!("new.chat_id", "new.seq"),
    " BEGIN SELECT RAISE(ABORT, 'a message was inserted without queueing it for the search index (store/search_queue.rs)'); END"
);

/// [`GUARD_SQL`] on a pooled connection; before the migrations created `messages` it cannot
/// be created yet, and the next acquire tries again.
#[cfg(debug_assertions)]
pub(crate) async fn install_guard(connection: &mut sqlx::SqliteConnection) {
    let _ = sqlx::query(GUARD_SQL).execute(connection).await;
}

/// The queue ranges of chat `?1` that overlap `?2 ..= ?3`, ascending: the one starting at or
/// below `?2` (if it reaches it) and those starting inside.
const OVERLAPPING_SQL: &str = "SELECT lo, hi FROM (
         SELECT lo, hi FROM search_queue WHERE chat_id = ?1 AND lo <= ?2 ORDER BY lo DESC LIMIT 1
     ) WHERE hi >= ?2
     UNION ALL
     SELECT lo, hi FROM search_queue WHERE chat_id = ?1 AND lo > ?2 AND lo <= ?3
     ORDER BY 1";

const QUEUE_RANGE_SQL: &str = "INSERT INTO search_queue(chat_id, lo, hi) VALUES (?1, ?2, ?3)";

/// Queues, inside `tx` and before they are inserted, the seqs of `chat` about to be inserted
/// (`ranges::runs_from_seqs`: one range per contiguous run), minus what the queue covers already
/// (`ranges::uncovered`).
pub(super) fn queue_inserted(
    tx: &WriteTx,
    chat_s: &str,
    seqs: impl IntoIterator<Item = Seq>,
) -> Result<()> {
    for run in ranges::runs_from_seqs(seqs) {
        let covered: Vec<SeqRange> = tx
            .prepare_cached(OVERLAPPING_SQL)?
            .query_map(rusqlite::params![chat_s, i(run.start), i(run.end)], |row| {
                // As read (the table's CHECK keeps hi >= lo): a literal, not `SeqRange::new`,
                // which panics on a damaged row.
                Ok(SeqRange {
                    start: u(row.get(0)?),
                    end: u(row.get(1)?),
                })
            })?
            .collect::<std::result::Result<_, _>>()?;
        let mut queue = tx.prepare_cached(QUEUE_RANGE_SQL)?;
        for part in ranges::uncovered(run, &covered) {
            queue.execute(rusqlite::params![chat_s, i(part.start), i(part.end)])?;
        }
    }
    Ok(())
}

/// Queues one seq of `chat` that is about to be (re)inserted by a path of the pool (a verify
/// repair, a salvage), dropping any index entry it has first: a row put back may have left its
/// entry behind, and a queued seq must have none.
pub(crate) async fn queue_one(
    conn: &mut sqlx::SqliteConnection,
    chat: ChatId,
    seq: Seq,
) -> Result<()> {
    let uncovered = concat!("NOT ", covered!("?1", "?2"));
    for index in ["message_words", "message_trigrams"] {
        sqlx::query(&format!(
            "DELETE FROM {index} WHERE {uncovered} AND rowid =
                 ((SELECT chat_no FROM search_chats WHERE chat_id = ?1) << 40) | ?2"
        ))
        .bind(chat.to_string())
        .bind(i(seq))
        .execute(&mut *conn)
        .await?;
    }
    sqlx::query(&format!(
        "INSERT INTO search_queue(chat_id, lo, hi) SELECT ?1, ?2, ?2 WHERE {uncovered}"
    ))
    .bind(chat.to_string())
    .bind(i(seq))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const INSERT_SQL: &str =
        "INSERT INTO messages(chat_id, seq, id, version, author, created_at, body, rev)
         VALUES (?1, ?2, ?3, 1, 'bob', 0, '{\"text\":\"guarded\"}', 1)";

    /// Debug builds (every test) refuse an insert of a message nobody queued, on the write
    /// connection and on the pool alike; queued first, the same inserts pass.
    #[cfg(debug_assertions)]
    #[tokio::test]
    async fn an_insert_that_forgets_the_search_queue_fails() {
        let dir = tempfile::tempdir().unwrap();
        let (store, _) = Store::open(dir.path().join("cache.db")).await.unwrap();
        let chat = ChatId(uuid::Uuid::from_u128(0x9a4d));
        let chat_s = chat.to_string();
        sqlx::query("INSERT INTO chats(chat_id, sync_state) VALUES (?1, 'UNKNOWN')")
            .bind(&chat_s)
            .execute(store.pool())
            .await
            .unwrap();
        let id = |seq: u64| uuid::Uuid::from_u128(seq.into()).to_string();
        let (c, i1) = (chat_s.clone(), id(1));
        let unqueued = store
            .write_tx(move |tx| Ok(tx.execute(INSERT_SQL, rusqlite::params![c, 1, i1])?))
            .await;
        let e = unqueued.expect_err("the writer inserted an unqueued message");
        assert!(e.to_string().contains("without queueing"), "{e}");
        let unqueued = sqlx::query(INSERT_SQL)
            .bind(&chat_s)
            .bind(2)
            .bind(id(2))
            .execute(store.pool())
            .await;
        let e = unqueued.expect_err("the pool inserted an unqueued message");
        assert!(e.to_string().contains("without queueing"), "{e}");

        let (c, i1) = (chat_s.clone(), id(1));
        store
            .write_tx(move |tx| {
                queue_inserted(tx, &c, [1])?;
                Ok(tx.execute(INSERT_SQL, rusqlite::params![c, 1, i1])?)
            })
            .await
            .unwrap();
        let mut conn = store.pool().acquire().await.unwrap();
        queue_one(&mut conn, chat, 2).await.unwrap();
        sqlx::query(INSERT_SQL)
            .bind(&chat_s)
            .bind(2)
            .bind(id(2))
            .execute(&mut *conn)
            .await
            .unwrap();
        drop(conn);
        assert_eq!(store.search_backlog().await.unwrap(), 2);
        store.close().await;
    }
}
