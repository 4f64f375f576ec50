//! The cache's chat rows: records, the server's positions, open flags, the changes cursor and
//! the sync state (every change of it through `roost_model::sync_state::transition`).

use super::*;

impl Store {
    fn chat_from_row(r: &sqlx::sqlite::SqliteRow) -> Result<ChatRecord> {
        let id: String = r.try_get(0)?;
        let members: String = r.try_get(2)?;
        Ok(ChatRecord {
            chat_id: ChatId::from_str(&id)
                .map_err(|e| Error::CacheCorrupt(format!("chat id {id}: {e}")))?,
            title: r.try_get(1)?,
            members: serde_json::from_str(&members).unwrap_or_default(),
            server_last_seq: u(r.try_get(3)?),
            server_rev: u(r.try_get(4)?),
            changes_cursor: u(r.try_get(5)?),
            unread_count: u(r.try_get(6)?),
            last_message_seq: r.try_get::<Option<i64>, _>(7)?.map(u),
            last_message_preview: r.try_get(8)?,
            last_message_at: r.try_get(9)?,
            sync_state: SyncState::parse(&r.try_get::<String, _>(10)?),
            needs_resync: r.try_get::<i64, _>(11)? != 0,
            full_reload_reason: r.try_get(12)?,
            is_open: r.try_get::<i64, _>(13)? != 0,
            local_min: r.try_get::<Option<i64>, _>(14)?.map(u),
            local_max: r.try_get::<Option<i64>, _>(15)?.map(u),
            cached_count: u(r.try_get(16)?),
            has_outbox: r.try_get::<i64, _>(17)? != 0,
            last_full_reload: FullReloadNote::from_columns(r.try_get(18)?, r.try_get(19)?),
            left_at: r.try_get(20)?,
        })
    }

    /// One chat, or `None` if the cache has never heard of it.
    pub async fn chat(&self, chat: ChatId) -> Result<Option<ChatRecord>> {
        if let Some(read) = self.reader.as_ref().and_then(|r| r.chat(chat)) {
            return read;
        }
        let mut conn = self.pool.acquire().await?;
        let row = sqlx::query(&format!(
            "SELECT {} FROM chats WHERE chat_id = ?",
            Self::CHAT_COLS
        ))
        .bind(chat.to_string())
        .fetch_optional(&mut *conn)
        .await?;
        match row {
            None => Ok(None),
            Some(row) => Ok(Some(Self::chat_from_row(&row)?)),
        }
    }

    /// Every cached chat, most recent activity first.
    pub async fn chats(&self) -> Result<Vec<ChatRecord>> {
        let mut conn = self.pool.acquire().await?;
        let rows = sqlx::query(&format!(
            "SELECT {} FROM chats ORDER BY COALESCE(last_message_at, 0) DESC, title",
            Self::CHAT_COLS
        ))
        .fetch_all(&mut *conn)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            out.push(Self::chat_from_row(&row)?);
        }
        Ok(out)
    }

    /// Chats whose title is exactly `title`.
    pub async fn chats_titled(&self, title: &str) -> Result<Vec<ChatId>> {
        self.chat_ids(sqlx::query_scalar("SELECT chat_id FROM chats WHERE title = ?").bind(title))
            .await
    }

    /// Chats flagged `needs_resync` (interrupted or due).
    pub async fn chats_needing_resync(&self) -> Result<Vec<ChatId>> {
        self.chat_ids(sqlx::query_scalar(
            "SELECT chat_id FROM chats WHERE needs_resync = 1 AND left_at IS NULL",
        ))
        .await
    }

    /// The chat ids a `SELECT chat_id …` query lists (a row whose id does not parse is skipped:
    /// no chat can be opened by it).
    async fn chat_ids<'q>(
        &self,
        query: sqlx::query::QueryScalar<'q, Sqlite, String, sqlx::sqlite::SqliteArguments<'q>>,
    ) -> Result<Vec<ChatId>> {
        let ids = query.fetch_all(&self.pool).await?;
        Ok(ids
            .iter()
            .filter_map(|s| ChatId::from_str(s).ok())
            .collect())
    }

    /// Records the chat list in one transaction. Positions only move forward (max). Returns,
    /// per summary, the record as it was before (None: never seen).
    pub async fn upsert_summaries(
        &self,
        summaries: &[ChatSummary],
    ) -> Result<Vec<(ChatSummary, Option<ChatRecord>)>> {
        let mut before = Vec::with_capacity(summaries.len());
        for s in summaries {
            before.push((s.clone(), self.chat(s.id).await?));
        }
        let _w = self.write.lock().await;
        let mut tx = self.pool.begin().await?;
        for s in summaries {
            sqlx::query(
                "INSERT INTO chats(chat_id, title, members, server_last_seq, server_rev, last_message_at, sync_state)
                 VALUES (?, ?, ?, ?, ?, ?, 'UNKNOWN')
                 ON CONFLICT(chat_id) DO UPDATE SET
                   title = excluded.title,
                   members = excluded.members,
                   left_at = NULL,
                   server_last_seq = MAX(chats.server_last_seq, excluded.server_last_seq),
                   server_rev = MAX(chats.server_rev, excluded.server_rev),
                   last_message_at = COALESCE(MAX(chats.last_message_at, excluded.last_message_at), excluded.last_message_at, chats.last_message_at)",
            )
            .bind(s.id.to_string())
            .bind(&s.title)
            .bind(serde_json::to_string(&s.members).unwrap_or_else(|_| "[]".into()))
            .bind(i(s.last_seq))
            .bind(i(s.rev))
            .bind(s.last_message_at)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(before)
    }

    /// Records a server position (max) for a chat, creating the row if needed.
    pub async fn record_position(&self, chat: ChatId, pos: Position) -> Result<()> {
        let _w = self.write.lock().await;
        let mut tx = self.pool.begin().await?;
        ensure_chat(&mut tx, chat).await?;
        apply_position(&mut tx, chat, pos).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Feeds the chat's sync state machine one input: in ONE transaction, reads the state,
    /// applies [`transition`], writes the result (and the `needs_resync` flag when given).
    /// Every sync-state change of the cache goes through here, `finish_resync`, `reset_session`
    /// or an ingest, all by the same transition function.
    pub async fn apply_sync(
        &self,
        chat: ChatId,
        input: SyncInput,
        needs_resync: Option<bool>,
    ) -> Result<SyncState> {
        let _w = self.write.lock().await;
        let mut tx = self.pool.begin().await?;
        ensure_chat(&mut tx, chat).await?;
        let state = transition(read_state(&mut tx, chat).await?, input);
        sqlx::query("UPDATE chats SET sync_state = ?, needs_resync = COALESCE(?, needs_resync) WHERE chat_id = ?")
            .bind(state.as_str())
            .bind(needs_resync.map(|b| b as i64))
            .bind(chat.to_string())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(state)
    }

    /// Runs `update` (an UPDATE of the chat's row) in one write transaction, creating the row
    /// first when the chat is not known yet.
    async fn update_chat_row<'q>(
        &self,
        chat: ChatId,
        update: sqlx::query::Query<'q, Sqlite, sqlx::sqlite::SqliteArguments<'q>>,
    ) -> Result<()> {
        let _w = self.write.lock().await;
        let mut tx = self.pool.begin().await?;
        ensure_chat(&mut tx, chat).await?;
        update.execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Flags the chat for a resync (persisted intent: a crash resumes from the store alone).
    pub async fn flag_needs_resync(&self, chat: ChatId) -> Result<()> {
        self.update_chat_row(
            chat,
            sqlx::query("UPDATE chats SET needs_resync = 1 WHERE chat_id = ?")
                .bind(chat.to_string()),
        )
        .await
    }

    /// Forgets a chat row that holds nothing (no title, messages or outbox entries): used when
    /// the server says a chat we only guessed at does not exist for us.
    pub async fn forget_empty_chat(&self, chat: ChatId) -> Result<()> {
        let _w = self.write.lock().await;
        sqlx::query(
            "DELETE FROM chats WHERE chat_id = ?1 AND title = ''
               AND NOT EXISTS (SELECT 1 FROM messages WHERE chat_id = ?1)
               AND NOT EXISTS (SELECT 1 FROM cached_runs WHERE chat_id = ?1)
               AND NOT EXISTS (SELECT 1 FROM outbox WHERE chat_id = ?1)",
        )
        .bind(chat.to_string())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// A full reload of the chat starts: `reason` becomes its `full_reload_reason` (cleared when
    /// the resync validates) and its last full reload (kept), stamped now.
    pub async fn record_full_reload(&self, chat: ChatId, reason: &str) -> Result<()> {
        self.update_chat_row(
            chat,
            sqlx::query(
                "UPDATE chats SET full_reload_reason = ?1, last_full_reload_reason = ?1,
                     last_full_reload_at = ?2 WHERE chat_id = ?3",
            )
            .bind(reason)
            .bind(now_millis())
            .bind(chat.to_string()),
        )
        .await
    }

    /// Clears the full-reload reason once the chat has been resynced.
    pub async fn clear_full_reload_reason(&self, chat: ChatId) -> Result<()> {
        let _w = self.write.lock().await;
        sqlx::query("UPDATE chats SET full_reload_reason = NULL WHERE chat_id = ?")
            .bind(chat.to_string())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Marks a chat open (resetting its unread count) or closed.
    pub async fn set_open(&self, chat: ChatId, open: bool) -> Result<()> {
        self.update_chat_row(
            chat,
            sqlx::query("UPDATE chats SET is_open = ?, unread_count = CASE WHEN ? THEN 0 ELSE unread_count END WHERE chat_id = ?")
                .bind(open as i64)
                .bind(open)
                .bind(chat.to_string()),
        )
        .await
    }

    /// Where `chat` was read up to before its `unread` newest messages by others (the seq just
    /// before the oldest of them; its newest seq when nothing is unread): what an open marks
    /// read, and what a close that shows nothing gives back (`open_order`).
    pub async fn read_before_unread(
        &self,
        chat: ChatId,
        unread: u64,
        last_message_seq: Option<Seq>,
        me: Option<&UserId>,
    ) -> Result<Seq> {
        if unread == 0 {
            return Ok(last_message_seq.unwrap_or(0));
        }
        let mut conn = self.pool.acquire().await?;
        let oldest_unread: Option<i64> = sqlx::query_scalar(
            "SELECT seq FROM messages WHERE chat_id = ? AND deleted_at IS NULL AND author IS NOT ?
             ORDER BY seq DESC LIMIT 1 OFFSET ?",
        )
        .bind(chat.to_string())
        .bind(me.map(UserId::as_str))
        .bind(i64::try_from(unread - 1).unwrap_or(i64::MAX))
        .fetch_optional(&mut *conn)
        .await?;
        Ok(oldest_unread.map_or(0, |seq| u(seq).saturating_sub(1)))
    }

    /// Marks a chat closed that is read up to `read_through`: if it was open, the messages by
    /// others after that seq (they arrived while it was open, and the UI never showed them) are
    /// now unread; a chat already closed keeps its count (counted as they arrived).
    pub async fn close_with_unseen_unread(
        &self,
        chat: ChatId,
        read_through: Seq,
        me: Option<&UserId>,
    ) -> Result<()> {
        self.update_chat_row(
            chat,
            sqlx::query(
                "UPDATE chats SET is_open = 0, unread_count = CASE WHEN is_open THEN unread_count + (
                   SELECT count(*) FROM messages WHERE chat_id = ?1 AND seq > ?2
                     AND deleted_at IS NULL AND author IS NOT ?3)
                 ELSE unread_count END
                 WHERE chat_id = ?1",
            )
            .bind(chat.to_string())
            .bind(i64::try_from(read_through).unwrap_or(i64::MAX))
            .bind(me.map(|m| m.as_str().to_owned())),
        )
        .await
    }

    /// Closes every chat (a new session starts with none open).
    pub async fn close_all(&self) -> Result<()> {
        let _w = self.write.lock().await;
        sqlx::query("UPDATE chats SET is_open = 0 WHERE is_open = 1")
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// After a complete changes pass from `since` over `[span.start, span.end]` at `rev`: the
    /// cursor becomes `rev`, but only if the cached span is still exactly `span` (anything
    /// cached meanwhile outside it was not covered by the pass), the cursor did not already pass
    /// it, and no write during the pass took it back below `since`
    /// ([`roost_model::cursor::after_changes_pass`]).
    pub async fn advance_cursor_after_changes(
        &self,
        chat: ChatId,
        span: SeqRange,
        (since, rev): (Rev, Rev),
    ) -> Result<bool> {
        let _w = self.write.lock().await;
        let mut tx = self.pool.begin().await?;
        // Only the two ends matter: read the first and the last run, not every run.
        let (first_start, last_end, cursor): (Option<i64>, Option<i64>, i64) = sqlx::query_as(
            "SELECT (SELECT start_seq FROM cached_runs WHERE chat_id = ?1 ORDER BY start_seq ASC LIMIT 1),
                    (SELECT end_seq FROM cached_runs WHERE chat_id = ?1 ORDER BY start_seq DESC LIMIT 1),
                    (SELECT changes_cursor FROM chats WHERE chat_id = ?1)",
        )
        .bind(chat.to_string())
        .fetch_one(&mut *tx)
        .await?;
        // A span ending at `u64::MAX` covered everything from its start up (an open changes
        // pass): only its start must be unchanged.
        let same = first_start.map(u) == Some(span.start)
            && (span.end == u64::MAX || last_end.map(u) == Some(span.end));
        let advanced = roost_model::cursor::after_changes_pass(u(cursor), since, rev);
        if let (true, Some(to)) = (same, advanced) {
            sqlx::query("UPDATE chats SET changes_cursor = ? WHERE chat_id = ?")
                .bind(i(to))
                .bind(chat.to_string())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(same && advanced.is_some())
    }

    /// Ends a resync: in ONE transaction, re-validates the chat (rule 4) against its known
    /// server position and feeds the state machine `ResyncFinished`: IN_SYNC clears
    /// `needs_resync` and the full-reload reason, OUT_OF_SYNC keeps the flag. Returns the new
    /// state.
    pub async fn finish_resync(&self, chat: ChatId) -> Result<SyncState> {
        let _w = self.write.lock().await;
        let mut tx = self.pool.begin().await?;
        ensure_chat(&mut tx, chat).await?;
        let runs = load_runs(&mut tx, chat).await?;
        let last: i64 = sqlx::query_scalar("SELECT server_last_seq FROM chats WHERE chat_id = ?")
            .bind(chat.to_string())
            .fetch_one(&mut *tx)
            .await?;
        let partial = is_partial(&runs, u(last));
        let state = transition(
            read_state(&mut tx, chat).await?,
            SyncInput::ResyncFinished { partial },
        );
        let sql = if partial {
            "UPDATE chats SET sync_state = ?, needs_resync = 1 WHERE chat_id = ?"
        } else {
            "UPDATE chats SET sync_state = ?, needs_resync = 0, full_reload_reason = NULL WHERE chat_id = ?"
        };
        sqlx::query(sql)
            .bind(state.as_str())
            .bind(chat.to_string())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(state)
    }

    /// A new session: every chat's state is UNKNOWN until its server position is learnt again
    /// (`needs_resync` is kept) and none is open.
    pub async fn reset_session(&self) -> Result<()> {
        let _w = self.write.lock().await;
        // `Reset` leads every state to the same one.
        let state = transition(SyncState::Unknown, SyncInput::Reset);
        sqlx::query("UPDATE chats SET sync_state = ?, is_open = 0")
            .bind(state.as_str())
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

pub(super) async fn read_state(
    conn: &mut sqlx::SqliteConnection,
    chat: ChatId,
) -> Result<SyncState> {
    let raw: String = sqlx::query_scalar("SELECT sync_state FROM chats WHERE chat_id = ?")
        .bind(chat.to_string())
        .fetch_one(&mut *conn)
        .await?;
    Ok(SyncState::parse(&raw))
}

pub(super) async fn ensure_chat(tx: &mut Transaction<'_, Sqlite>, chat: ChatId) -> Result<()> {
    // The state is named, never left to the column's stale default (migration 0003).
    sqlx::query("INSERT OR IGNORE INTO chats(chat_id, sync_state) VALUES (?, ?)")
        .bind(chat.to_string())
        .bind(SyncState::Unknown.as_str())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

pub(super) async fn apply_position(
    tx: &mut Transaction<'_, Sqlite>,
    chat: ChatId,
    pos: Position,
) -> Result<()> {
    sqlx::query(
        "UPDATE chats SET server_last_seq = MAX(server_last_seq, ?), server_rev = MAX(server_rev, ?) WHERE chat_id = ?",
    )
    .bind(i(pos.last_seq))
    .bind(i(pos.rev))
    .bind(chat.to_string())
    .execute(&mut **tx)
    .await?;
    Ok(())
}
