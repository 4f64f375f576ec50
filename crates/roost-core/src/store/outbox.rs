//! The outbox: unsent messages, their delivery states, and the delivered swap (the server's
//! copy replaces the entry in one transaction).

use super::*;

impl Store {
    /// Persists a new outbox entry (state pending) of `account_user` (the cache's owner, when
    /// known) and returns it.
    pub async fn outbox_add(
        &self,
        chat: ChatId,
        body: serde_json::Value,
        account_user: Option<&UserId>,
    ) -> Result<OutboxEntry> {
        let entry = OutboxEntry {
            local_id: uuid::Uuid::new_v4().to_string(),
            chat_id: chat,
            idempotency_key: uuid::Uuid::new_v4().to_string(),
            body,
            state: OutboxState::Pending,
            attempts: 0,
            last_error: None,
            created_at: now_millis(),
        };
        let _w = self.write.lock().await;
        let mut tx = self.pool.begin().await?;
        ensure_chat(&mut tx, chat).await?;
        sqlx::query(
            "INSERT INTO outbox(local_id, chat_id, idempotency_key, body, state, attempts, created_at, account_user)
             VALUES (?, ?, ?, ?, 'pending', 0, ?, ?)",
        )
        .bind(&entry.local_id)
        .bind(chat.to_string())
        .bind(&entry.idempotency_key)
        .bind(entry.body.to_string())
        .bind(entry.created_at)
        .bind(account_user.map(|u| u.as_str().to_string()))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(entry)
    }

    fn outbox_from_row(r: &sqlx::sqlite::SqliteRow) -> Result<OutboxEntry> {
        let chat: String = r.try_get(1)?;
        let body: String = r.try_get(3)?;
        Ok(OutboxEntry {
            local_id: r.try_get(0)?,
            chat_id: ChatId::from_str(&chat)
                .map_err(|e| Error::CacheCorrupt(format!("outbox chat id: {e}")))?,
            idempotency_key: r.try_get(2)?,
            body: serde_json::from_str(&body).unwrap_or(serde_json::Value::Null),
            state: OutboxState::parse(&r.try_get::<String, _>(4)?),
            attempts: u(r.try_get(5)?),
            last_error: r.try_get(6)?,
            created_at: r.try_get(7)?,
        })
    }

    /// Outbox entries, oldest first; of one chat when given.
    pub async fn outbox(&self, chat: Option<ChatId>) -> Result<Vec<OutboxEntry>> {
        let rows = sqlx::query(
            "SELECT local_id, chat_id, idempotency_key, body, state, attempts, last_error, created_at
             FROM outbox WHERE (? IS NULL OR chat_id = ?) ORDER BY created_at, rowid",
        )
        .bind(chat.map(|c| c.to_string()))
        .bind(chat.map(|c| c.to_string()))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(Self::outbox_from_row).collect()
    }

    /// The entries `user` may send, oldest first: those queued as `user`, and those queued
    /// before the cache knew its owner (the owner's, as the file is bound to one account).
    pub async fn outbox_of(&self, user: Option<&UserId>) -> Result<Vec<OutboxEntry>> {
        let rows = sqlx::query(
            "SELECT local_id, chat_id, idempotency_key, body, state, attempts, last_error, created_at
             FROM outbox WHERE account_user IS NULL OR account_user = ? ORDER BY created_at, rowid",
        )
        .bind(user.map(|u| u.as_str().to_string()))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(Self::outbox_from_row).collect()
    }

    pub async fn outbox_entry(&self, local_id: &str) -> Result<Option<OutboxEntry>> {
        let row = sqlx::query(
            "SELECT local_id, chat_id, idempotency_key, body, state, attempts, last_error, created_at
             FROM outbox WHERE local_id = ?",
        )
        .bind(local_id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(Self::outbox_from_row).transpose()
    }

    /// Sets an entry's state (counting an attempt when it becomes `sending`).
    pub async fn outbox_set_state(
        &self,
        local_id: &str,
        state: OutboxState,
        error: Option<&str>,
    ) -> Result<()> {
        let _w = self.write.lock().await;
        sqlx::query(
            "UPDATE outbox SET state = ?, attempts = attempts + CASE WHEN ? = 'sending' THEN 1 ELSE 0 END,
                 last_error = COALESCE(?, last_error) WHERE local_id = ?",
        )
        .bind(state.as_str())
        .bind(state.as_str())
        .bind(error)
        .bind(local_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The server accepted the entry: in ONE transaction, merge its copy into the cache and
    /// remove the entry (so the pending copy is replaced, never duplicated).
    pub async fn outbox_delivered(
        &self,
        local_id: &str,
        message: &Message,
        opts: &IngestOptions,
    ) -> Result<IngestResult> {
        let (local_id, message, opts) = (local_id.to_string(), message.clone(), opts.clone());
        self.write_tx(move |tx| {
            let res = ingest_tx(tx, message.chat_id, std::slice::from_ref(&message), &opts)?;
            tx.prepare_cached("DELETE FROM outbox WHERE local_id = ?1")?
                .execute([&local_id])?;
            Ok(res)
        })
        .await
    }
}
