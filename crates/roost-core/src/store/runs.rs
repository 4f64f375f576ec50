//! The cached-runs index in SQL: reading all runs, the tail, or only the runs a write touches,
//! and rewriting exactly the rows that changed.

use super::*;
use writer::WriteTx;

pub(super) async fn load_runs(
    conn: &mut sqlx::SqliteConnection,
    chat: ChatId,
) -> Result<Vec<SeqRange>> {
    let rows: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT start_seq, end_seq FROM cached_runs WHERE chat_id = ? ORDER BY start_seq",
    )
    .bind(chat.to_string())
    .fetch_all(&mut *conn)
    .await?;
    canonical_runs(chat, rows.into_iter())
}

/// Rows of `cached_runs` (ascending) as runs, refusing runs that overlap (a damaged index).
fn canonical_runs(chat: ChatId, rows: impl Iterator<Item = (i64, i64)>) -> Result<Vec<SeqRange>> {
    let runs: Vec<SeqRange> = rows
        .map(|(a, b)| SeqRange {
            start: u(a),
            end: u(b),
        })
        .collect();
    if !ranges::is_canonical(&runs) {
        return Err(Error::CacheCorrupt(format!(
            "cached runs of chat {chat} overlap"
        )));
    }
    Ok(runs)
}

/// The last (at most two) runs of the chat, ascending: enough to know the local max and whether
/// the cache has a hole (canonical runs: two runs ⇔ a gap), in O(log n).
pub(super) fn load_tail_runs(tx: &WriteTx, chat: ChatId) -> Result<Vec<SeqRange>> {
    let mut statement = tx.prepare_cached(
        "SELECT start_seq, end_seq FROM cached_runs WHERE chat_id = ?1 ORDER BY start_seq DESC LIMIT 2",
    )?;
    let rows = statement
        .query_map([chat.to_string()], |row| Ok((row.get(0)?, row.get(1)?)))?
        .collect::<rusqlite::Result<Vec<(i64, i64)>>>()?;
    let mut runs = canonical_runs(chat, rows.into_iter().rev())?;
    runs.shrink_to_fit();
    Ok(runs)
}

/// The runs a write of seqs within `lo ..= hi` can merge with: the run starting before `lo`
/// (if it reaches `lo - 1`) and every run starting within `lo ..= hi + 1`. Runs outside can
/// neither change nor be merged, so they are never read or rewritten.
pub(super) fn load_runs_touching(
    tx: &WriteTx,
    chat: ChatId,
    lo: Seq,
    hi: Seq,
) -> Result<Vec<SeqRange>> {
    use rusqlite::OptionalExtension;
    let chat_s = chat.to_string();
    let mut runs = Vec::new();
    let before: Option<(i64, i64)> = tx
        .prepare_cached(
            "SELECT start_seq, end_seq FROM cached_runs WHERE chat_id = ?1 AND start_seq < ?2 ORDER BY start_seq DESC LIMIT 1",
        )?
        .query_row(rusqlite::params![chat_s, i(lo)], |row| {
            Ok((row.get(0)?, row.get(1)?))
        })
        .optional()?;
    if let Some((start, end)) = before
        && u(end).saturating_add(1) >= lo
    {
        runs.push(SeqRange {
            start: u(start),
            end: u(end),
        });
    }
    if hi >= lo {
        let mut statement = tx.prepare_cached(
            "SELECT start_seq, end_seq FROM cached_runs WHERE chat_id = ?1 AND start_seq >= ?2 AND start_seq <= ?3 ORDER BY start_seq",
        )?;
        let within = statement
            .query_map(
                rusqlite::params![chat_s, i(lo), i(hi.saturating_add(1))],
                |row| Ok((row.get::<_, i64>(0)?, row.get::<_, i64>(1)?)),
            )?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        runs.extend(within.into_iter().map(|(a, b)| SeqRange {
            start: u(a),
            end: u(b),
        }));
    }
    if !ranges::is_canonical(&runs) {
        return Err(Error::CacheCorrupt(format!(
            "cached runs of chat {chat} overlap"
        )));
    }
    Ok(runs)
}

/// Replaces the runs `old` (as read by [`load_runs_touching`]) with `new` (the same runs after
/// the write merged seqs into them), writing only rows that changed.
pub(super) fn replace_runs(
    tx: &WriteTx,
    chat: ChatId,
    old: &[SeqRange],
    new: &[SeqRange],
) -> Result<()> {
    let chat_s = chat.to_string();
    let gone: Vec<&SeqRange> = old.iter().filter(|run| !new.contains(run)).collect();
    let added: Vec<&SeqRange> = new.iter().filter(|run| !old.contains(run)).collect();
    // A run that keeps its start and only changed its end (it grew): one UPDATE of its row
    // instead of a DELETE and an INSERT (same start: the history-floor trigger has nothing to
    // lower either way).
    let moved_end = |run: &SeqRange| gone.iter().any(|g| g.start == run.start);
    for run in added.iter().filter(|run| moved_end(run)) {
        tx.prepare_cached(
            "UPDATE cached_runs SET end_seq = ?3 WHERE chat_id = ?1 AND start_seq = ?2",
        )?
        .execute(rusqlite::params![chat_s, i(run.start), i(run.end)])?;
    }
    let kept_start = |run: &SeqRange| added.iter().any(|a| a.start == run.start);
    for run in gone.iter().filter(|run| !kept_start(run)) {
        tx.prepare_cached("DELETE FROM cached_runs WHERE chat_id = ?1 AND start_seq = ?2")?
            .execute(rusqlite::params![chat_s, i(run.start)])?;
    }
    for run in added.iter().filter(|run| !moved_end(run)) {
        tx.prepare_cached(
            "INSERT INTO cached_runs(chat_id, start_seq, end_seq) VALUES (?1, ?2, ?3)",
        )?
        .execute(rusqlite::params![chat_s, i(run.start), i(run.end)])?;
    }
    Ok(())
}

pub(super) async fn write_runs(
    tx: &mut Transaction<'_, Sqlite>,
    chat: ChatId,
    runs: &[SeqRange],
) -> Result<()> {
    sqlx::query("DELETE FROM cached_runs WHERE chat_id = ?")
        .bind(chat.to_string())
        .execute(&mut **tx)
        .await?;
    for r in runs {
        sqlx::query("INSERT INTO cached_runs(chat_id, start_seq, end_seq) VALUES (?, ?, ?)")
            .bind(chat.to_string())
            .bind(i(r.start))
            .bind(i(r.end))
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}
