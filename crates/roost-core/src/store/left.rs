//! Left chats: chats the user is no longer a member of (it left, was removed, or the server no
//! longer lists them). Their rows and cached messages stay, read-only; `left_at` takes them out
//! of every sync path (`needs_resync` is cleared and never honoured for them), and forgetting
//! one deletes all its rows. A chat the server lists again (re-added) is a member's chat again:
//! `upsert_summaries` clears `left_at`.

use super::*;

fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

impl Store {
    /// Marks the chat left (if it is cached and not left yet) and drops its resync flag.
    /// Returns whether anything changed.
    pub async fn mark_left(&self, chat: ChatId) -> Result<bool> {
        let _w = self.write.lock().await;
        let done = sqlx::query(
            "UPDATE chats SET left_at = ?, needs_resync = 0 WHERE chat_id = ? AND left_at IS NULL",
        )
        .bind(now_millis())
        .bind(chat.to_string())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// After a complete chat list: every cached chat it does not name is no longer ours. Rows
    /// the server never listed (an `open_chat` guess: no title, nothing cached) are dropped;
    /// the others become left. Returns the chats newly marked left.
    pub async fn mark_unlisted_left(&self, listed: &[ChatId]) -> Result<Vec<ChatId>> {
        let listed: std::collections::HashSet<String> =
            listed.iter().map(ChatId::to_string).collect();
        let cached: Vec<String> =
            sqlx::query_scalar("SELECT chat_id FROM chats WHERE left_at IS NULL")
                .fetch_all(&self.pool)
                .await?;
        let mut left = Vec::new();
        for id in cached.into_iter().filter(|id| !listed.contains(id)) {
            let Ok(chat) = ChatId::from_str(&id) else {
                continue;
            };
            self.forget_empty_chat(chat).await?;
            if self.mark_left(chat).await? {
                left.push(chat);
            }
        }
        Ok(left)
    }

    /// Deletes every row of a left chat: messages, runs, outbox entries and the chat itself, in
    /// one transaction. A chat that is not left is refused (the next chat list would bring it
    /// back, as an empty chat to sync).
    pub async fn forget_left_chat(&self, chat: ChatId) -> Result<()> {
        let _w = self.write.lock().await;
        let mut tx = self.pool.begin().await?;
        let left: Option<Option<i64>> =
            sqlx::query_scalar("SELECT left_at FROM chats WHERE chat_id = ?")
                .bind(chat.to_string())
                .fetch_optional(&mut *tx)
                .await?;
        match left {
            None => return Err(Error::NotFound(format!("chat {chat} is not cached"))),
            Some(None) => {
                return Err(Error::InvalidInput(
                    "only a chat you left can be removed from this device; leave it first".into(),
                ));
            }
            Some(Some(_)) => {}
        }
        for table in ["messages", "cached_runs", "outbox", "chats"] {
            sqlx::query(&format!("DELETE FROM {table} WHERE chat_id = ?"))
                .bind(chat.to_string())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
