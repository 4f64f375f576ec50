//! The search index's upkeep, kept behind the message store: message writes only queue the
//! (chat, seq) whose text must be indexed (`search_pending`, filled by the triggers of migration
//! `0040_search_queue.sql`), and this module moves queued rows into the two FTS5 indexes in
//! small transactions of their own on the write connection.
//!
//! Why: FTS5's upkeep (tokenizing every text twice and flushing a new segment per index per
//! transaction, with the merges that brings) was most of a live stream commit's instructions,
//! and a stream frame waited for it. Off the ingest transaction, a frame waits for its message
//! row only; the index follows in batches of [`INDEX_BATCH`], each holding the single writer
//! for about a millisecond (so an ingest that queues behind one waits no longer than that), and
//! larger batches pay the per-transaction flush once for many messages.
//!
//! Exactness: [`Store::drain_search_queue`] empties the queue, and search calls it before every
//! query, so a cached message is never missing from results. Stale entries never wait: the
//! triggers drop the entry of an edited, tombstoned or deleted row in the writer's own
//! transaction. The queue is in the file, so a crash loses nothing: the next drain (the client's
//! indexer runs one at start) indexes what was left.

use super::*;
use writer::WriteTx;

/// The scripts usually written without spaces between words (Thai, Lao, Myanmar, Khmer, kana,
/// CJK ideographs), as inclusive code point ranges. Search sends a term to the trigram index
/// only if it holds one of these characters (`search::parse_query`), so a message with none of
/// them can never match there, and the indexer leaves it out of the trigram index: for text in
/// spaced scripts that is most of the index upkeep (a trigram per character) saved.
pub(crate) const UNSPACED_SCRIPTS: &[(char, char)] = &[
    ('\u{0E00}', '\u{0EFF}'),   // Thai, Lao
    ('\u{1000}', '\u{109F}'),   // Myanmar
    ('\u{1780}', '\u{17FF}'),   // Khmer
    ('\u{3040}', '\u{30FF}'),   // Hiragana, Katakana
    ('\u{3400}', '\u{4DBF}'),   // CJK extension A
    ('\u{4E00}', '\u{9FFF}'),   // CJK unified ideographs
    ('\u{F900}', '\u{FAFF}'),   // CJK compatibility ideographs
    ('\u{FF66}', '\u{FF9F}'),   // half-width Katakana
    ('\u{20000}', '\u{3FFFF}'), // CJK extensions B…
];

/// Most queued messages indexed in one transaction: about a millisecond of FTS5 work for short
/// chat messages (see `roost-bench`'s instruction counts), the longest an ingest commit may
/// wait behind the indexer.
pub const INDEX_BATCH: u64 = 64;

/// The queued rows one batch takes: the first `?1` rows in arrival order queued no later than
/// row `?2` (the same rows for every statement of the batch's transaction, as nothing else
/// writes meanwhile).
const BATCH_ROWS: &str =
    "SELECT rowid, chat_id, seq FROM search_pending WHERE rowid <= ?2 ORDER BY rowid LIMIT ?1";

/// Whether `text` holds a character of [`UNSPACED_SCRIPTS`] (so belongs in the trigram index).
pub(crate) fn has_unspaced_script(text: &str) -> bool {
    !text.is_ascii()
        && text.chars().any(|c| {
            UNSPACED_SCRIPTS
                .iter()
                .any(|(lo, hi)| (*lo..=*hi).contains(&c))
        })
}

/// Indexes up to `limit` queued rows (of those up to queue row `upto`) inside `tx`; returns how
/// many left the queue.
///
/// The batch's texts are read once and staged in the connection's `temp.index_rows`
/// ([`writer::INDEX_STAGING_TABLE`]) with their trigram decision made in Rust, then each index
/// takes them in ONE statement: FTS5 flushes its pending terms at the start of every statement
/// that writes to it, so a statement per row would write a segment per row.
pub(super) fn index_pending_tx(tx: &WriteTx, limit: u64, upto: i64) -> Result<u64> {
    let binds = (i(limit), upto);
    tx.prepare_cached(&format!(
        "INSERT INTO search_chats(chat_id)
         SELECT DISTINCT b.chat_id FROM ({BATCH_ROWS}) b
         WHERE NOT EXISTS (SELECT 1 FROM search_chats s WHERE s.chat_id = b.chat_id)"
    ))?
    .execute(binds)?;
    // A queued row is never in the index (see the migration), so plain inserts; a row that is
    // gone or has no text any more is only dequeued.
    let mut texts = tx.prepare_cached(&format!(
        "SELECT (s.chat_no << 40) | m.seq, json_extract(m.body, '$.text')
         FROM ({BATCH_ROWS}) b
         JOIN messages m ON m.chat_id = b.chat_id AND m.seq = b.seq
         JOIN search_chats s ON s.chat_id = b.chat_id
         WHERE m.deleted_at IS NULL AND json_valid(m.body)
           AND json_type(m.body, '$.text') = 'text'"
    ))?;
    let mut stage =
        tx.prepare_cached("INSERT INTO temp.index_rows(r, text, unspaced) VALUES (?1, ?2, ?3)")?;
    let mut rows = texts.query(binds)?;
    let mut staged = 0usize;
    while let Some(row) = rows.next()? {
        let (r, text): (i64, String) = (row.get(0)?, row.get(1)?);
        stage.execute((r, &text, has_unspaced_script(&text)))?;
        staged += 1;
    }
    drop(rows);
    if staged > 0 {
        tx.prepare_cached(
            "INSERT INTO message_words(rowid, text) SELECT r, text FROM temp.index_rows ORDER BY r",
        )?
        .execute([])?;
        tx.prepare_cached(
            "INSERT INTO message_trigrams(rowid, text)
             SELECT r, text FROM temp.index_rows WHERE unspaced ORDER BY r",
        )?
        .execute([])?;
        tx.prepare_cached("DELETE FROM temp.index_rows")?
            .execute([])?;
    }
    let taken = tx
        .prepare_cached(&format!(
            "DELETE FROM search_pending WHERE rowid IN (SELECT rowid FROM ({BATCH_ROWS}))"
        ))?
        .execute(binds)?;
    Ok(taken as u64)
}

impl Store {
    /// Indexes up to `limit` queued messages in ONE transaction on the write connection;
    /// returns how many left the queue (fewer than `limit`: the queue is empty now).
    pub async fn index_pending(&self, limit: u64) -> Result<u64> {
        let _timeline = tracing::trace_span!(target: "roost_timeline", "index_batch", n = limit);
        self.unsignalled_write_tx(move |tx| index_pending_tx(tx, limit, i64::MAX))
            .await
    }

    /// Indexes everything queued when it is called, [`INDEX_BATCH`] messages per transaction
    /// (ingest commits go in between batches). Search calls it first, so its answers cover
    /// every message cached before it; what arrives meanwhile is left to the indexer, so a
    /// search never chases a fast stream.
    pub async fn drain_search_queue(&self) -> Result<u64> {
        let (queued, upto): (i64, Option<i64>) =
            sqlx::query_as("SELECT COUNT(*), MAX(rowid) FROM search_pending")
                .fetch_one(&self.pool)
                .await?;
        let Some(upto) = upto else {
            return Ok(0);
        };
        // Rows queued before the drain sort first (arrival order), and a row queued after it
        // gets a rowid above `upto` while any of them is left; so at most `queued` rows are
        // taken, whatever the stream does meanwhile.
        let mut total = 0;
        while total < u(queued) {
            let taken = self
                .unsignalled_write_tx(move |tx| index_pending_tx(tx, INDEX_BATCH, upto))
                .await?;
            total += taken;
            if taken < INDEX_BATCH {
                break;
            }
        }
        Ok(total)
    }

    /// How many messages wait to be indexed.
    pub async fn search_backlog(&self) -> Result<u64> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM search_pending")
            .fetch_one(&self.pool)
            .await?;
        Ok(u(n))
    }

    /// Woken after every message write (see [`Store::write_tx`]): the client's indexer waits on
    /// it.
    pub(crate) fn search_queue_signal(&self) -> std::sync::Arc<tokio::sync::Notify> {
        self.search_queued.clone()
    }

    /// At least as many messages as wait to be indexed (the span of the queue's rowids, which
    /// are given in arrival order): two index seeks, where a count reads the whole queue.
    pub(crate) async fn search_queue_span(&self) -> Result<u64> {
        let span: i64 = sqlx::query_scalar(
            "SELECT COALESCE(MAX(rowid) - MIN(rowid) + 1, 0) FROM search_pending",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(u(span))
    }

    /// How long ago the last message write committed (`None`: none since the store opened).
    pub(crate) fn since_last_message_write(&self) -> Option<std::time::Duration> {
        let last = *self.last_message_write.lock().ok()?;
        last.map(|at| at.elapsed())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_with_a_character_of_an_unspaced_script_go_to_the_trigram_index() {
        for (lo, hi) in UNSPACED_SCRIPTS {
            assert!(has_unspaced_script(&format!("ab {lo} cd")));
            assert!(has_unspaced_script(&format!("ab {hi} cd")));
            for outside in [*lo as u32 - 1, *hi as u32 + 1] {
                let c = char::from_u32(outside).unwrap();
                assert!(
                    UNSPACED_SCRIPTS.iter().any(|(l, h)| (*l..=*h).contains(&c))
                        || !has_unspaced_script(&format!("ab {c} cd")),
                    "U+{outside:04X}"
                );
            }
        }
        for text in ["Café au lait", "Ж ß 👍", "", "half-width ･ dot"] {
            assert!(!has_unspaced_script(text), "{text}");
        }
    }
}
