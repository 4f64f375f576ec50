//! One ingest inside a transaction: merge rule per message, multi-row upserts, the runs a batch
//! touches, the chat's last message, unread count, position, cursor and resync flag.

use super::*;
use roost_model::cursor::{CursorStep, fold_cursor};
use roost_model::ingest::{
    AfterWrite, BatchPlan, ChatSnapshot, PlanError, PositionPlan, UnreadRule, cursor_steps,
    plan_batch, plan_position,
};

/// The cached (version, id) of every seq the batch carries, read in chunks of `IN (…)` lists.
pub(super) async fn load_cached_versions(
    conn: &mut sqlx::SqliteConnection,
    chat_s: &str,
    msgs: &[Message],
) -> Result<HashMap<Seq, (u64, String)>> {
    let mut seqs: Vec<Seq> = msgs.iter().map(|m| m.seq).collect();
    seqs.sort_unstable();
    seqs.dedup();
    let mut known = HashMap::with_capacity(seqs.len());
    for chunk in seqs.chunks(500) {
        let placeholders = vec!["?"; chunk.len()].join(",");
        let sql = format!(
            "SELECT seq, version, id FROM messages WHERE chat_id = ? AND seq IN ({placeholders})"
        );
        let mut query = sqlx::query_as::<_, (i64, i64, String)>(&sql).bind(chat_s);
        for seq in chunk {
            query = query.bind(i(*seq));
        }
        for (seq, version, id) in query.fetch_all(&mut *conn).await? {
            known.insert(u(seq), (u(version), id));
        }
    }
    Ok(known)
}

/// Writes messages (already decided by the merge rule) with multi-row upserts. The `WHERE`
/// keeps the merge rule in SQL too: a row is only ever replaced by a higher version.
pub(super) async fn upsert_messages<'m>(
    conn: &mut sqlx::SqliteConnection,
    chat_s: &str,
    msgs: impl Iterator<Item = &'m Message>,
) -> Result<()> {
    const ROWS_PER_STATEMENT: usize = 100; // 10 binds a row; far below SQLite's bind limit
    let msgs: Vec<&Message> = msgs.collect();
    for chunk in msgs.chunks(ROWS_PER_STATEMENT) {
        let rows = vec!["(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"; chunk.len()].join(",");
        let sql = format!(
            "INSERT INTO messages(chat_id, seq, id, version, author, created_at, edited_at, deleted_at, body, rev)
             VALUES {rows}
             ON CONFLICT(chat_id, seq) DO UPDATE SET
               version = excluded.version, author = excluded.author, created_at = excluded.created_at,
               edited_at = excluded.edited_at, deleted_at = excluded.deleted_at, body = excluded.body,
               rev = excluded.rev
             WHERE excluded.version > messages.version"
        );
        let mut query = sqlx::query(&sql);
        for m in chunk {
            query = query
                .bind(chat_s)
                .bind(i(m.seq))
                .bind(m.id.to_string())
                .bind(i(m.version))
                .bind(m.author.as_str())
                .bind(m.created_at)
                .bind(m.edited_at)
                .bind(m.deleted_at)
                .bind(m.body.to_string())
                .bind(i(m.rev));
        }
        query.execute(&mut *conn).await?;
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
pub(super) async fn ingest_tx(
    tx: &mut Transaction<'_, Sqlite>,
    chat: ChatId,
    msgs: &[Message],
    opts: &IngestOptions,
) -> Result<IngestResult> {
    let steps = cursor_steps(msgs, opts.cursor, opts.position.map(|p| p.rev));
    ingest_steps_tx(tx, chat, msgs, &steps, opts).await
}

/// [`ingest_tx`] with the batch's cursor steps given (one per message, in arrival order): the
/// cursor is folded step by step over the versions cached before the batch
/// ([`roost_model::cursor`]), so a group of events ends where the same events one at a time end.
async fn ingest_steps_tx(
    tx: &mut Transaction<'_, Sqlite>,
    chat: ChatId,
    msgs: &[Message],
    steps: &[CursorStep],
    opts: &IngestOptions,
) -> Result<IngestResult> {
    ensure_chat(tx, chat).await?;
    let chat_s = chat.to_string();
    let (cursor, last_message_seq, is_open, server_last_seq): (i64, Option<i64>, i64, i64) = sqlx::query_as(
        "SELECT changes_cursor, last_message_seq, is_open, server_last_seq FROM chats WHERE chat_id = ?",
    )
    .bind(&chat_s)
    .fetch_one(&mut **tx)
    .await?;
    // Only the runs this batch can touch are read and rewritten (O(affected runs), not O(gaps)):
    // a chat with 10,000 gaps must not pay 10,000 row writes per incoming message.
    let tail_before = load_tail_runs(tx, chat).await?;
    let batch_lo = msgs.iter().map(|m| m.seq).min().unwrap_or(1).max(1);
    let batch_hi = msgs.iter().map(|m| m.seq).max().unwrap_or(0);
    let snapshot = ChatSnapshot {
        // One read for the cached versions of the whole batch and multi-row upserts:
        // per-message round trips would cap ingest far below what a burst or a page needs.
        cached: load_cached_versions(tx, &chat_s, msgs).await?,
        touched_runs: load_runs_touching(tx, chat, batch_lo, batch_hi).await?,
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
    write_batch(tx, chat, &snapshot, &plan).await?;
    let tail_after = if plan.runs_changed {
        load_tail_runs(tx, chat).await?
    } else {
        tail_before.clone()
    };
    let mut known_last = u(server_last_seq);
    if let Some(pos) = opts.position {
        apply_position(tx, chat, pos).await?;
        known_last = known_last.max(pos.last_seq);
    }
    let state = if opts.flag_if_behind {
        read_state(tx, chat).await?
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
    write_position(tx, &chat_s, &position).await?;
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

/// Writes a batch plan: the rows, the touched runs, the last message, counts.
async fn write_batch(
    tx: &mut Transaction<'_, Sqlite>,
    chat: ChatId,
    snapshot: &ChatSnapshot,
    plan: &BatchPlan<'_>,
) -> Result<()> {
    let chat_s = chat.to_string();
    upsert_messages(tx, &chat_s, plan.write.iter().copied()).await?;
    if plan.runs_changed {
        replace_runs(tx, chat, &snapshot.touched_runs, &plan.runs).await?;
    }
    if let Some(m) = plan.last_message {
        sqlx::query(
            "UPDATE chats SET last_message_seq = ?, last_message_preview = ?,
               last_message_at = MAX(COALESCE(last_message_at, 0), ?) WHERE chat_id = ?",
        )
        .bind(i(m.seq))
        .bind(preview(m))
        .bind(m.created_at)
        .bind(&chat_s)
        .execute(&mut **tx)
        .await?;
    }
    sqlx::query(
        "UPDATE chats SET cached_count = cached_count + ?, unread_count = unread_count + ? WHERE chat_id = ?",
    )
    .bind(plan.inserted as i64)
    .bind(plan.unread as i64)
    .bind(&chat_s)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Writes the cursor and the resync flag of a position plan.
async fn write_position(
    tx: &mut Transaction<'_, Sqlite>,
    chat_s: &str,
    position: &PositionPlan,
) -> Result<()> {
    if let Some(rev) = position.new_cursor {
        // Set, not MAX: the plan was made from the cursor read in this transaction, and it may
        // take the cursor back (a copy older than it was cached). A changes pass is then due.
        sqlx::query(
            "UPDATE chats SET changes_cursor = ?, needs_resync = MAX(needs_resync, ?) WHERE chat_id = ?",
        )
        .bind(i(rev))
        .bind(position.cursor_lowered as i64)
        .bind(chat_s)
        .execute(&mut **tx)
        .await?;
    }
    if let Some(state) = position.flag {
        // Validated partial: OUT_OF_SYNC, except that a running fetch stays SYNCING.
        sqlx::query("UPDATE chats SET needs_resync = 1, sync_state = ? WHERE chat_id = ?")
            .bind(state.as_str())
            .bind(chat_s)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// A group of stream events of one chat inside the caller's transaction: ONE batched ingest of
/// their messages at the highest position told, the cursor folded event by event in arrival
/// order (each event one committed mutation, its message current as of its rev), then the
/// resync flag if the result is partial, an event skipped past the cursor or took it back.
pub(super) async fn ingest_events_tx(
    tx: &mut Transaction<'_, Sqlite>,
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
    ingest_steps_tx(tx, chat, &messages, &steps, &opts).await
}
