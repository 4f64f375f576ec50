//! Cached messages and their runs index: reads, the ingest entry points (one transaction each)
//! and the runs repair.

use super::*;

impl Store {
    /// The chat's cached runs (sorted, disjoint). O(gaps).
    pub async fn runs(&self, chat: ChatId) -> Result<Vec<SeqRange>> {
        let mut conn = self.pool.acquire().await?;
        load_runs(&mut conn, chat).await
    }

    /// Cached messages with `lo <= seq <= hi`, ascending.
    pub async fn messages_between(&self, chat: ChatId, lo: Seq, hi: Seq) -> Result<Vec<Message>> {
        let rows = sqlx::query(
            "SELECT seq, id, version, author, created_at, edited_at, deleted_at, body, rev
             FROM messages WHERE chat_id = ? AND seq BETWEEN ? AND ? ORDER BY seq",
        )
        .bind(chat.to_string())
        .bind(i(lo))
        .bind(i(hi))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| message_from_row(chat, r)).collect()
    }

    /// One cached message by id.
    pub async fn message_by_id(&self, chat: ChatId, id: MessageId) -> Result<Option<Message>> {
        let row = sqlx::query(
            "SELECT seq, id, version, author, created_at, edited_at, deleted_at, body, rev
             FROM messages WHERE chat_id = ? AND id = ?",
        )
        .bind(chat.to_string())
        .bind(id.to_string())
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| message_from_row(chat, &r)).transpose()
    }

    /// The seq of the `n`-th newest cached message (1 = newest), if there are that many;
    /// otherwise the oldest cached seq.
    /// The newest `n` cached messages of the chat, ascending, in one indexed read.
    pub async fn newest_messages(&self, chat: ChatId, n: u32) -> Result<Vec<Message>> {
        if let Some(read) = self
            .reader
            .as_ref()
            .and_then(|r| r.newest_messages(chat, n))
        {
            return read;
        }
        let rows = sqlx::query(
            "SELECT seq, id, version, author, created_at, edited_at, deleted_at, body, rev
             FROM messages WHERE chat_id = ? ORDER BY seq DESC LIMIT ?",
        )
        .bind(chat.to_string())
        .bind(i64::from(n.max(1)))
        .fetch_all(&self.pool)
        .await?;
        let mut messages = rows
            .iter()
            .map(|row| message_from_row(chat, row))
            .collect::<Result<Vec<_>>>()?;
        messages.reverse();
        Ok(messages)
    }

    /// Merges `msgs` (all of chat `chat`) into the cache in ONE transaction, with the runs
    /// index, the chat's last message, position, cursor and unread count.
    pub async fn ingest(
        &self,
        chat: ChatId,
        msgs: &[Message],
        opts: &IngestOptions,
    ) -> Result<IngestResult> {
        let (msgs, opts) = (msgs.to_vec(), opts.clone());
        self.write_tx(move |tx| ingest_tx(tx, chat, &msgs, &opts))
            .await
    }

    /// Stream burst: merges a run of events of one chat in ONE transaction (see
    /// [`Store::ingest_stream`]).
    pub async fn ingest_events(
        &self,
        chat: ChatId,
        events: &[(Message, Position)],
        template: &IngestOptions,
    ) -> Result<IngestResult> {
        let (events, template) = (events.to_vec(), template.clone());
        self.write_tx(move |tx| ingest_events_tx(tx, chat, &events, &template))
            .await
    }

    /// Live stream ingest with group commit: every chat's events of a burst in ONE transaction.
    /// Each chat's messages are merged by one batched ingest (a fixed handful of statements
    /// however many messages), its position is the highest told, and the cursor rule is applied
    /// event by event in arrival order, as one event at a time would. Results are per burst.
    pub async fn ingest_stream(
        &self,
        bursts: &[(ChatId, Vec<(Message, Position)>)],
        template: &IngestOptions,
    ) -> Result<Vec<IngestResult>> {
        let (bursts, template) = (bursts.to_vec(), template.clone());
        self.write_tx(move |tx| {
            bursts
                .iter()
                .map(|(chat, events)| ingest_events_tx(tx, *chat, events, &template))
                .collect()
        })
        .await
    }

    /// Rebuilds a chat's runs from its messages (repair; O(messages)). Returns whether the
    /// index was wrong.
    pub async fn rebuild_runs(&self, chat: ChatId) -> Result<bool> {
        let _w = self.write.lock().await;
        let mut tx = self.pool.begin().await?;
        let seqs: Vec<i64> =
            sqlx::query_scalar("SELECT seq FROM messages WHERE chat_id = ? ORDER BY seq")
                .bind(chat.to_string())
                .fetch_all(&mut *tx)
                .await?;
        let truth = ranges::runs_from_seqs(seqs.into_iter().map(u));
        let current = load_runs(&mut tx, chat).await?;
        let wrong = truth != current;
        if wrong {
            write_runs(&mut tx, chat, &truth).await?;
        }
        sqlx::query("UPDATE chats SET cached_count = ? WHERE chat_id = ?")
            .bind(i(ranges::cached_count(&truth)))
            .bind(chat.to_string())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(wrong)
    }

    /// Checks, per chat, that the runs index agrees with the messages (count, min, max); a
    /// cheap aggregate. Returns the chats that disagree.
    pub async fn inconsistent_chats(&self) -> Result<Vec<ChatId>> {
        let rows = sqlx::query(
            "SELECT c.chat_id,
                    (SELECT COUNT(*) FROM messages m WHERE m.chat_id = c.chat_id),
                    (SELECT COALESCE(SUM(end_seq - start_seq + 1), 0) FROM cached_runs r WHERE r.chat_id = c.chat_id)
             FROM chats c",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::new();
        for r in rows {
            let id: String = r.try_get(0)?;
            let a: i64 = r.try_get(1)?;
            let b: i64 = r.try_get(2)?;
            if a != b
                && let Ok(c) = ChatId::from_str(&id)
            {
                out.push(c);
            }
        }
        Ok(out)
    }
}

pub(super) fn message_from_row(chat: ChatId, r: &sqlx::sqlite::SqliteRow) -> Result<Message> {
    let id: String = r.try_get(1)?;
    let body: String = r.try_get(7)?;
    Ok(Message {
        id: MessageId::from_str(&id)
            .map_err(|e| Error::CacheCorrupt(format!("message id {id}: {e}")))?,
        chat_id: chat,
        seq: u(r.try_get(0)?),
        version: u(r.try_get(2)?),
        author: UserId(r.try_get(3)?),
        created_at: r.try_get(4)?,
        edited_at: r.try_get(5)?,
        deleted_at: r.try_get(6)?,
        body: serde_json::from_str(&body)
            .map_err(|e| Error::CacheCorrupt(format!("message body: {e}")))?,
        rev: u(r.try_get(8)?),
    })
}
