//! One ingest inside a transaction: merge rule per message, one cached upsert per row, the runs a batch
//! touches, the chat's last message, unread count, position, cursor and resync flag.
//!
//! Runs on the write connection ([`super::writer`]): plain blocking calls, prepared statements
//! cached by the connection.

use super::*;
use roost_model::cursor::{CursorStep, fold_cursor};
use roost_model::ingest::{
    AfterWrite, BatchPlan, ChatSnapshot, PlanError, PositionPlan, UnreadRule, cursor_steps,
    plan_batch, plan_position,
};
use writer::WriteTx;

/// The cached (version, id) of every seq the batch carries, in ONE cached statement whatever
/// the batch's size: the seqs' span when the batch covers most of it (a stream group, a page:
/// one index range scan), else the seqs as one JSON array (each an index seek; parsing it cost
/// more than the range scan for a group of a few messages).
pub(super) fn load_cached_versions(
    tx: &WriteTx,
    chat_s: &str,
    msgs: &[Message],
) -> Result<HashMap<Seq, (u64, String)>> {
    let mut seqs: Vec<i64> = msgs.iter().map(|m| i(m.seq)).collect();
    seqs.sort_unstable();
    seqs.dedup();
    let mut known = HashMap::with_capacity(msgs.len());
    let (Some(&lo), Some(&hi)) = (seqs.first(), seqs.last()) else {
        return Ok(known);
    };
    let dense = (hi - lo) as u64 <= 2 * seqs.len() as u64;
    let mut statement;
    let mut rows = if dense {
        statement = tx.prepare_cached(
            "SELECT seq, version, id FROM messages WHERE chat_id = ?1 AND seq BETWEEN ?2 AND ?3",
        )?;
        statement.query(rusqlite::params![chat_s, lo, hi])?
    } else {
        let list = serde_json::to_string(&seqs).map_err(|e| Error::Cache(e.to_string()))?;
        statement = tx.prepare_cached(
            "SELECT seq, version, id FROM messages
             WHERE chat_id = ?1 AND seq IN (SELECT value FROM json_each(?2))",
        )?;
        statement.query(rusqlite::params![chat_s, list])?
    };
    while let Some(row) = rows.next()? {
        let (seq, version, id): (i64, i64, String) = (row.get(0)?, row.get(1)?, row.get(2)?);
        // A dense span may hold cached seqs the batch does not carry.
        if !dense || seqs.binary_search(&seq).is_ok() {
            known.insert(u(seq), (u(version), id));
        }
    }
    Ok(known)
}

/// One row's upsert. The `WHERE` keeps the merge rule in SQL too: a row is only ever replaced
/// by a higher version. (A statement per row: since the search index is kept behind the store
/// (`search_index`), no FTS5 segment is flushed per statement, so a batch no longer needs to be
/// ONE statement through a staging table.)
const UPSERT_SQL: &str = "INSERT INTO messages(chat_id, seq, id, version, author, created_at, edited_at, deleted_at, body, rev)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
     ON CONFLICT(chat_id, seq) DO UPDATE SET
       version = excluded.version, author = excluded.author, created_at = excluded.created_at,
       edited_at = excluded.edited_at, deleted_at = excluded.deleted_at, body = excluded.body,
       rev = excluded.rev
     WHERE excluded.version > messages.version";

/// Writes messages (already decided by the merge rule), see [`UPSERT_SQL`].
pub(super) fn upsert_messages<'m>(
    tx: &WriteTx,
    chat_s: &str,
    msgs: impl Iterator<Item = &'m Message>,
) -> Result<()> {
    let mut upsert = tx.prepare_cached(UPSERT_SQL)?;
    for m in msgs {
        upsert.execute(rusqlite::params![
            chat_s,
            i(m.seq),
            m.id.to_string(),
            i(m.version),
            m.author.as_str(),
            m.created_at,
            m.edited_at,
            m.deleted_at,
            m.body.to_string(),
            i(m.rev),
        ])?;
    }
    Ok(())
}

pub(super) fn preview(m: &Message) -> String {
    if m.is_deleted() {
        return "(deleted)".to_string();
    }
    let text = m
        .text()
        .map(str::to_string)
        .unwrap_or_else(|| m.body.to_string());
    let mut p: String = text.chars().take(120).collect();
    if p.len() < text.len() {
        p.push('…');
    }
    p
}

/// One ingest inside `tx`: reads what the batch can touch, lets the pure planner
/// ([`roost_model::ingest`]) decide, and writes exactly the plan.
pub(super) fn ingest_tx(
    tx: &WriteTx,
    chat: ChatId,
    msgs: &[Message],
    opts: &IngestOptions,
) -> Result<IngestResult> {
    let steps = cursor_steps(msgs, opts.cursor, opts.position.map(|p| p.rev));
    ingest_steps_tx(tx, chat, msgs, &steps, opts)
}

/// [`ingest_tx`] with the batch's cursor steps given (one per message, in arrival order): the
/// cursor is folded step by step over the versions cached before the batch
/// ([`roost_model::cursor`]), so a group of events ends where the same events one at a time end.
fn ingest_steps_tx(
    tx: &WriteTx,
    chat: ChatId,
    msgs: &[Message],
    steps: &[CursorStep],
    opts: &IngestOptions,
) -> Result<IngestResult> {
    ensure_chat(tx, chat)?;
    let chat_s = chat.to_string();
    let (cursor, last_message_seq, is_open, server_last_seq): (i64, Option<i64>, i64, i64) = tx
        .prepare_cached(
            "SELECT changes_cursor, last_message_seq, is_open, server_last_seq FROM chats WHERE chat_id = ?1",
        )?
        .query_row([&chat_s], |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
        })?;
    // Only the runs this batch can touch are read and rewritten (O(affected runs), not O(gaps)):
    // a chat with 10,000 gaps must not pay 10,000 row writes per incoming message.
    let tail_before = load_tail_runs(tx, chat)?;
    let batch_lo = msgs.iter().map(|m| m.seq).min().unwrap_or(1).max(1);
    let batch_hi = msgs.iter().map(|m| m.seq).max().unwrap_or(0);
    let snapshot = ChatSnapshot {
        // One read for the cached versions of the whole batch and multi-row upserts:
        // per-message round trips would cap ingest far below what a burst or a page needs.
        cached: load_cached_versions(tx, &chat_s, msgs)?,
        touched_runs: load_runs_touching(tx, chat, batch_lo, batch_hi)?,
        prev_max: tail_before.last().map(|r| r.end).unwrap_or(0),
        last_message_seq: last_message_seq.map(u),
        is_open: is_open != 0,
    };
    let unread_rule = UnreadRule {
        count_unread: opts.count_unread,
        me: opts.me.as_ref(),
    };
    let plan = plan_batch(chat, msgs, &snapshot, unread_rule).map_err(|e| refusal(chat, e))?;
    // Nothing cached before: the stored cursor claims nothing (see `roost_model::cursor`).
    let folded = fold_cursor(
        (!tail_before.is_empty()).then_some(u(cursor)),
        |seq| snapshot.cached.get(&seq).map(|(version, _)| *version),
        steps,
    );
    write_batch(tx, chat, &snapshot, &plan, opts.position)?;
    let tail_after = if plan.runs_changed {
        load_tail_runs(tx, chat)?
    } else {
        tail_before.clone()
    };
    let mut known_last = u(server_last_seq);
    if let Some(pos) = opts.position {
        // Written with the batch's chat row update (`write_batch`).
        known_last = known_last.max(pos.last_seq);
    }
    let state = if opts.flag_if_behind {
        read_state(tx, chat)?
    } else {
        SyncState::Unknown
    };
    let position = plan_position(AfterWrite {
        tail_runs: &tail_after,
        cursor_before: u(cursor),
        cursor: folded,
        known_last,
        flag_if_behind: opts.flag_if_behind,
        state,
    });
    write_position(tx, &chat_s, &position)?;
    if position.cursor_lowered {
        tracing::info!(%chat, cursor = ?position.new_cursor,
            "a copy older than the changes cursor was cached: the cursor went back to its rev");
    }
    Ok(IngestResult {
        changed: plan.changed,
        inserted: plan.inserted,
        replaced: plan.replaced,
        partial: position.partial,
        cursor_behind: position.cursor_behind,
        cursor_lowered: position.cursor_lowered,
        flagged: position.flag.is_some(),
        sync_state: position.flag,
    })
}

/// A batch the planner refused: the server's answer breaks the protocol.
fn refusal(chat: ChatId, e: PlanError) -> Error {
    match e {
        PlanError::WrongChat { seq, chat: other } => Error::ProtocolViolation(format!(
            "message seq {seq} of chat {other} ingested into chat {chat}"
        )),
        PlanError::IdMismatch {
            seq,
            cached,
            incoming,
        } => Error::ProtocolViolation(format!(
            "seq {seq} of chat {chat} is message {cached} in the cache but {incoming} from the server"
        )),
    }
}

/// The chat row's part of a batch in ONE statement: the last message (when the batch has a
/// newer one: `?1` not NULL), the counts, and the server position told (`?6`, `?7`; NULL:
/// none), which only ever rises.
const CHAT_ROW_SQL: &str = "UPDATE chats SET
       last_message_seq = COALESCE(?1, last_message_seq),
       last_message_preview = CASE WHEN ?1 IS NULL THEN last_message_preview ELSE ?2 END,
       last_message_at = CASE WHEN ?1 IS NULL THEN last_message_at
                              ELSE MAX(COALESCE(last_message_at, 0), ?3) END,
       cached_count = cached_count + ?4, unread_count = unread_count + ?5,
       server_last_seq = MAX(server_last_seq, COALESCE(?6, server_last_seq)),
       server_rev = MAX(server_rev, COALESCE(?7, server_rev))
     WHERE chat_id = ?8";

/// Writes a batch plan: the rows, the touched runs, and the chat row (last message, counts,
/// the position told).
fn write_batch(
    tx: &WriteTx,
    chat: ChatId,
    snapshot: &ChatSnapshot,
    plan: &BatchPlan<'_>,
    position: Option<Position>,
) -> Result<()> {
    let chat_s = chat.to_string();
    // The new rows' seqs are queued for the search index first (one range per contiguous run;
    // a replaced row's text change is queued by its update trigger), see `search_queue`.
    let inserted = plan.write.iter().map(|m| m.seq);
    search_queue::queue_inserted(
        tx,
        &chat_s,
        inserted.filter(|seq| !snapshot.cached.contains_key(seq)),
    )?;
    upsert_messages(tx, &chat_s, plan.write.iter().copied())?;
    if plan.runs_changed {
        replace_runs(tx, chat, &snapshot.touched_runs, &plan.runs)?;
    }
    let last = plan.last_message;
    tx.prepare_cached(CHAT_ROW_SQL)?.execute(rusqlite::params![
        last.map(|m| i(m.seq)),
        last.map(preview),
        last.map(|m| m.created_at),
        plan.inserted as i64,
        plan.unread as i64,
        position.map(|p| i(p.last_seq)),
        position.map(|p| i(p.rev)),
        chat_s,
    ])?;
    Ok(())
}

/// Writes the cursor and the resync flag of a position plan.
fn write_position(tx: &WriteTx, chat_s: &str, position: &PositionPlan) -> Result<()> {
    if let Some(rev) = position.new_cursor {
        // Set, not MAX: the plan was made from the cursor read in this transaction, and it may
        // take the cursor back (a copy older than it was cached). A changes pass is then due.
        tx.prepare_cached(
            "UPDATE chats SET changes_cursor = ?1, needs_resync = MAX(needs_resync, ?2) WHERE chat_id = ?3",
        )?
        .execute(rusqlite::params![i(rev), position.cursor_lowered as i64, chat_s])?;
    }
    if let Some(state) = position.flag {
        // Validated partial: OUT_OF_SYNC, except that a running fetch stays SYNCING.
        tx.prepare_cached("UPDATE chats SET needs_resync = 1, sync_state = ?1 WHERE chat_id = ?2")?
            .execute(rusqlite::params![state.as_str(), chat_s])?;
    }
    Ok(())
}

/// A group of stream events of one chat inside the caller's transaction: ONE batched ingest of
/// their messages at the highest position told, the cursor folded event by event in arrival
/// order (each event one committed mutation, its message current as of its rev), then the
/// resync flag if the result is partial, an event skipped past the cursor or took it back.
pub(super) fn ingest_events_tx(
    tx: &WriteTx,
    chat: ChatId,
    events: &[(Message, Position)],
    template: &IngestOptions,
) -> Result<IngestResult> {
    let messages: Vec<Message> = events.iter().map(|(m, _)| m.clone()).collect();
    let steps: Vec<CursorStep> = events
        .iter()
        .map(|(m, p)| CursorStep {
            seq: m.seq,
            version: m.version,
            current_at: p.rev,
            mutation: Some(p.rev),
        })
        .collect();
    let mut opts = template.clone();
    opts.position = events.iter().map(|(_, p)| *p).reduce(|a, b| Position {
        last_seq: a.last_seq.max(b.last_seq),
        rev: a.rev.max(b.rev),
    });
    ingest_steps_tx(tx, chat, &messages, &steps, &opts)
}

// ----- the chat row on the write connection: the same statements as `chats.rs`'s -------------

fn ensure_chat(tx: &WriteTx, chat: ChatId) -> Result<()> {
    // The state is named, never left to the column's stale default (migration 0003).
    tx.prepare_cached("INSERT OR IGNORE INTO chats(chat_id, sync_state) VALUES (?1, ?2)")?
        .execute(rusqlite::params![
            chat.to_string(),
            SyncState::Unknown.as_str()
        ])?;
    Ok(())
}

fn read_state(tx: &WriteTx, chat: ChatId) -> Result<SyncState> {
    let raw: String = tx
        .prepare_cached("SELECT sync_state FROM chats WHERE chat_id = ?1")?
        .query_row([chat.to_string()], |row| row.get(0))?;
    Ok(SyncState::parse(&raw))
}
