//! One ingest inside a transaction: merge rule per message, multi-row upserts, the runs a batch
//! touches, the chat's last message, unread count, position, cursor and resync flag.

use super::*;

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

pub(super) async fn ingest_tx(
    tx: &mut Transaction<'_, Sqlite>,
    chat: ChatId,
    msgs: &[Message],
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
    let cursor = u(cursor);
    // Only the runs this batch can touch are read and rewritten (O(affected runs), not O(gaps)):
    // a chat with 10,000 gaps must not pay 10,000 row writes per incoming message.
    let tail_before = load_tail_runs(tx, chat).await?;
    let was_empty = tail_before.is_empty();
    let prev_max = tail_before.last().map(|r| r.end).unwrap_or(0);
    let batch_lo = msgs.iter().map(|m| m.seq).min().unwrap_or(1).max(1);
    let batch_hi = msgs.iter().map(|m| m.seq).max().unwrap_or(0);
    let touched_before = load_runs_touching(tx, chat, batch_lo, batch_hi).await?;
    let mut runs = touched_before.clone();
    let mut res = IngestResult::default();
    let mut unread = 0u64;
    let mut new_last: Option<&Message> = None;
    let mut runs_changed = false;
    if let Some(m) = msgs.iter().find(|m| m.chat_id != chat) {
        return Err(Error::ProtocolViolation(format!(
            "message seq {} of chat {} ingested into chat {chat}",
            m.seq, m.chat_id
        )));
    }
    // One read for the cached versions of the whole batch and multi-row upserts: per-message
    // round trips to SQLite would cap ingest far below what a stream burst or a page needs.
    let mut known = load_cached_versions(tx, &chat_s, msgs).await?;
    let mut to_write: BTreeMap<Seq, &Message> = BTreeMap::new();
    for m in msgs {
        let cached = known.get(&m.seq);
        if let Some((_, id)) = cached
            && *id != m.id.to_string()
        {
            return Err(Error::ProtocolViolation(format!(
                "seq {} of chat {chat} is message {id} in the cache but {} from the server",
                m.seq, m.id
            )));
        }
        let decision = decide(cached.map(|c| c.0), m.version);
        if decision == MergeDecision::Keep {
            continue;
        }
        known.insert(m.seq, (m.version, m.id.to_string()));
        to_write.insert(m.seq, m);
        res.changed.push(m.seq);
        if decision == MergeDecision::Insert {
            res.inserted += 1;
            ranges::insert_seq(&mut runs, m.seq);
            runs_changed = true;
            let mine = opts.me.as_ref() == Some(&m.author);
            if opts.count_unread && is_open == 0 && !mine && m.seq > prev_max {
                unread += 1;
            }
        } else {
            res.replaced += 1;
        }
        if last_message_seq.is_none_or(|l| m.seq >= u(l)) && new_last.is_none_or(|n| m.seq >= n.seq)
        {
            new_last = Some(m);
        }
    }
    upsert_messages(tx, &chat_s, to_write.values().copied()).await?;
    res.changed.sort_unstable();
    res.changed.dedup();
    if runs_changed {
        replace_runs(tx, chat, &touched_before, &runs).await?;
    }
    let tail_after = if runs_changed {
        load_tail_runs(tx, chat).await?
    } else {
        tail_before
    };
    if let Some(m) = new_last {
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
    if res.inserted > 0 {
        sqlx::query("UPDATE chats SET cached_count = cached_count + ? WHERE chat_id = ?")
            .bind(res.inserted as i64)
            .bind(&chat_s)
            .execute(&mut **tx)
            .await?;
    }
    if unread > 0 {
        sqlx::query("UPDATE chats SET unread_count = unread_count + ? WHERE chat_id = ?")
            .bind(unread as i64)
            .bind(&chat_s)
            .execute(&mut **tx)
            .await?;
    }
    let mut known_last = u(server_last_seq);
    if let Some(pos) = opts.position {
        apply_position(tx, chat, pos).await?;
        known_last = known_last.max(pos.last_seq);
    }
    let new_cursor = match opts.cursor {
        CursorRule::Event(rev) if was_empty && !tail_after.is_empty() => Some(rev),
        CursorRule::Event(rev) if rev == cursor + 1 => Some(rev),
        CursorRule::Event(rev) => {
            res.cursor_behind = rev > cursor + 1;
            None
        }
        CursorRule::Snapshot(rev) if was_empty && !tail_after.is_empty() => Some(rev),
        _ => None,
    };
    if let Some(rev) = new_cursor {
        sqlx::query("UPDATE chats SET changes_cursor = MAX(changes_cursor, ?) WHERE chat_id = ?")
            .bind(i(rev))
            .bind(&chat_s)
            .execute(&mut **tx)
            .await?;
    }
    // The last two runs decide rule 4: more than one run means a hole; one run is partial
    // exactly when it ends below the server's last_seq.
    res.partial = is_partial(&tail_after, known_last);
    if opts.flag_if_behind && (res.partial || res.cursor_behind) {
        // Validated partial: OUT_OF_SYNC, except that a running fetch stays SYNCING.
        let state = transition(
            read_state(tx, chat).await?,
            SyncInput::Validated { partial: true },
        );
        sqlx::query("UPDATE chats SET needs_resync = 1, sync_state = ? WHERE chat_id = ?")
            .bind(state.as_str())
            .bind(&chat_s)
            .execute(&mut **tx)
            .await?;
        res.flagged = true;
        res.sync_state = Some(state);
    }
    Ok(res)
}
