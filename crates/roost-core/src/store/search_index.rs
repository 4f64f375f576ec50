//! The search index's upkeep, kept behind the message store: message writes only queue the
//! seq ranges whose text must be indexed (`search_queue`, migration
//! `0041_search_queue_ranges.sql`: filled by the inserting code, [`super::search_queue`], and by
//! the edit triggers), and this module moves queued seqs into the two FTS5 indexes in small
//! transactions of their own on the write connection.
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

/// The queue ranges one batch takes from: the first `?1` in arrival order queued no later than
/// queue row `?2` (each holds at least one seq, so `?1` ranges hold the batch).
const BATCH_RANGES: &str =
    "SELECT rowid, chat_id, lo, hi FROM search_queue WHERE rowid <= ?2 ORDER BY rowid LIMIT ?1";

/// The indexable texts of one chat's seqs `?2 ..= ?3`.
const RANGE_TEXTS: &str = "SELECT seq, json_extract(body, '$.text') FROM messages
     WHERE chat_id = ?1 AND seq BETWEEN ?2 AND ?3
       AND deleted_at IS NULL AND json_valid(body) AND json_type(body, '$.text') = 'text'";

/// The part of one queue range a batch takes: seqs `lo ..= taken_hi` of the range `rowid`,
/// which ends at `hi`.
struct Slice {
    rowid: i64,
    chat_id: String,
    lo: i64,
    taken_hi: i64,
    hi: i64,
}

/// The first `limit` queued seqs in arrival order (of the ranges up to queue row `upto`).
fn batch_slices(tx: &WriteTx, limit: u64, upto: i64) -> Result<Vec<Slice>> {
    let mut left = i(limit);
    let mut statement = tx.prepare_cached(BATCH_RANGES)?;
    let mut rows = statement.query((i(limit), upto))?;
    let mut slices = Vec::new();
    while left > 0
        && let Some(row) = rows.next()?
    {
        let (rowid, chat_id, lo, hi): (i64, String, i64, i64) =
            (row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?);
        let taken_hi = hi.min(lo + left - 1);
        left -= taken_hi - lo + 1;
        slices.push(Slice {
            rowid,
            chat_id,
            lo,
            taken_hi,
            hi,
        });
    }
    Ok(slices)
}

/// The search index's number for `chat_id` (its rowids' high bits), given on first use.
fn chat_no(tx: &WriteTx, chat_id: &str) -> Result<i64> {
    tx.prepare_cached("INSERT OR IGNORE INTO search_chats(chat_id) VALUES (?1)")?
        .execute([chat_id])?;
    Ok(tx
        .prepare_cached("SELECT chat_no FROM search_chats WHERE chat_id = ?1")?
        .query_row([chat_id], |row| row.get(0))?)
}

/// Whether `text` holds a character of [`UNSPACED_SCRIPTS`] (so belongs in the trigram index).
pub(crate) fn has_unspaced_script(text: &str) -> bool {
    !text.is_ascii()
        && text.chars().any(|c| {
            UNSPACED_SCRIPTS
                .iter()
                .any(|(lo, hi)| (*lo..=*hi).contains(&c))
        })
}

/// Indexes up to `limit` queued seqs (of the ranges up to queue row `upto`) inside `tx`;
/// returns how many left the queue.
///
/// The batch's texts are read once and staged in the connection's `temp.index_rows`
/// ([`writer::INDEX_STAGING_TABLE`]) with their trigram decision made in Rust, then each index
/// takes them in ONE statement: FTS5 flushes its pending terms at the start of every statement
/// that writes to it, so a statement per row would write a segment per row.
pub(super) fn index_pending_tx(tx: &WriteTx, limit: u64, upto: i64) -> Result<u64> {
    let slices = batch_slices(tx, limit, upto)?;
    let mut stage =
        tx.prepare_cached("INSERT INTO temp.index_rows(r, text, unspaced) VALUES (?1, ?2, ?3)")?;
    let mut staged = 0usize;
    for slice in &slices {
        // A queued seq is never in the index (see the migration), so plain inserts; a seq with
        // no message, a tombstone or no text is only dequeued.
        let texts: Vec<(i64, String)> = tx
            .prepare_cached(RANGE_TEXTS)?
            .query_map((&slice.chat_id, slice.lo, slice.taken_hi), |row| {
                Ok((row.get(0)?, row.get(1)?))
            })?
            .collect::<std::result::Result<_, _>>()?;
        if texts.is_empty() {
            continue;
        }
        let chat_no = chat_no(tx, &slice.chat_id)?;
        for (seq, text) in texts {
            stage.execute(((chat_no << 40) | seq, &text, has_unspaced_script(&text)))?;
            staged += 1;
        }
    }
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
    let mut taken = 0;
    for slice in &slices {
        if slice.taken_hi == slice.hi {
            tx.prepare_cached("DELETE FROM search_queue WHERE rowid = ?1")?
                .execute([slice.rowid])?;
        } else {
            tx.prepare_cached("UPDATE search_queue SET lo = ?1 WHERE rowid = ?2")?
                .execute([slice.taken_hi + 1, slice.rowid])?;
        }
        taken += u(slice.taken_hi - slice.lo + 1);
    }
    Ok(taken)
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
            sqlx::query_as("SELECT COALESCE(SUM(hi - lo + 1), 0), MAX(rowid) FROM search_queue")
                .fetch_one(&self.pool)
                .await?;
        let Some(upto) = upto else {
            return Ok(0);
        };
        // Ranges queued before the drain sort first (arrival order), and a range queued after
        // it gets a rowid above `upto` while any of them is left; so at most `queued` seqs are
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

    /// How many seqs wait to be indexed (at least as many as messages: a queued range may
    /// cover a tombstone or an evicted row).
    pub async fn search_backlog(&self) -> Result<u64> {
        let n: i64 = sqlx::query_scalar("SELECT COALESCE(SUM(hi - lo + 1), 0) FROM search_queue")
            .fetch_one(&self.pool)
            .await?;
        Ok(u(n))
    }

    /// Woken after every message write (see [`Store::write_tx`]): the client's indexer waits on
    /// it.
    pub(crate) fn search_queue_signal(&self) -> std::sync::Arc<tokio::sync::Notify> {
        self.search_queued.clone()
    }

    /// At least as many messages as wait to be indexed: [`Store::search_backlog`] (a range per
    /// batch or stream group, so a short read).
    pub(crate) async fn search_queue_span(&self) -> Result<u64> {
        self.search_backlog().await
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
