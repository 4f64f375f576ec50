//! Users and their bearer tokens. Only a token's SHA-256 is stored. Revoking replaces it with
//! the hash of a random token nobody is told; rotating with the hash of a new one, which is
//! returned once. Both append to `token_changes` in the same transaction: every serving
//! instance polls that journal ([`Store::token_changes_after`]) to close the streams of users
//! whose token changed (requests with the old token fail the lookup at once).

use crate::db::Backend;
use crate::error::ServerError;
use crate::store::{Store, generate_token, now_millis, sha256_hex, validate_handle};
use roost_proto::UserId;
use sqlx::Row;

/// What happened to a user's token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenChange {
    /// The old token stops working; there is no new one.
    Revoked,
    /// The old token stops working; a new one is printed once.
    Rotated,
}

impl TokenChange {
    fn as_str(self) -> &'static str {
        match self {
            TokenChange::Revoked => "revoked",
            TokenChange::Rotated => "rotated",
        }
    }
}

impl Store {
    /// Creates a user and returns its new bearer token (only the hash is stored).
    pub async fn add_user(&self, handle: &str, display_name: &str) -> Result<String, ServerError> {
        validate_handle(handle)?;
        let token = generate_token();
        let inserted = sqlx::query(
            "INSERT INTO users (id, display_name, token_sha256, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (id) DO NOTHING",
        )
        .bind(handle)
        .bind(display_name)
        .bind(sha256_hex(token.as_bytes()))
        .bind(now_millis())
        .execute(&self.db.write)
        .await?;
        if inserted.rows_affected() == 0 {
            return Err(ServerError::InvalidInput(format!(
                "user {handle:?} already exists"
            )));
        }
        Ok(token)
    }

    /// The user a bearer token belongs to, with its display name.
    pub async fn user_by_token(
        &self,
        token: &str,
    ) -> Result<Option<(UserId, String)>, ServerError> {
        self.user_by_token_hash(&sha256_hex(token.as_bytes())).await
    }

    /// [`Store::user_by_token`] for a token already hashed.
    pub async fn user_by_token_hash(
        &self,
        token_sha256: &str,
    ) -> Result<Option<(UserId, String)>, ServerError> {
        let row = sqlx::query("SELECT id, display_name FROM users WHERE token_sha256 = $1")
            .bind(token_sha256)
            .fetch_optional(&self.db.read)
            .await?;
        match row {
            Some(row) => Ok(Some((
                UserId(row.try_get("id")?),
                row.try_get("display_name")?,
            ))),
            None => Ok(None),
        }
    }

    /// Whether the token with this hash is still `user`'s (not revoked or rotated since).
    pub async fn token_is_current(
        &self,
        user: &UserId,
        token_sha256: &str,
    ) -> Result<bool, ServerError> {
        let row = sqlx::query("SELECT 1 AS one FROM users WHERE id = $1 AND token_sha256 = $2")
            .bind(user.as_str())
            .bind(token_sha256)
            .fetch_optional(&self.db.read)
            .await?;
        Ok(row.is_some())
    }

    /// Replaces `user`'s token: [`TokenChange::Rotated`] returns the new token (printed once),
    /// [`TokenChange::Revoked`] returns `None` (the stored hash is of a token nobody is told).
    /// An unknown user is `InvalidInput`.
    pub async fn change_token(
        &self,
        user: &str,
        change: TokenChange,
    ) -> Result<Option<String>, ServerError> {
        let token = generate_token();
        let mut tx = self.db.write.begin().await?;
        if self.backend() == Backend::Postgres {
            // Journal rows become visible in seq order, so a poller that has seen seq N never
            // misses a smaller seq committed later.
            sqlx::query("LOCK TABLE token_changes IN EXCLUSIVE MODE")
                .execute(&mut *tx)
                .await?;
        }
        let updated = sqlx::query("UPDATE users SET token_sha256 = $1 WHERE id = $2")
            .bind(sha256_hex(token.as_bytes()))
            .bind(user)
            .execute(&mut *tx)
            .await?;
        if updated.rows_affected() == 0 {
            return Err(ServerError::InvalidInput(format!("no user {user:?}")));
        }
        sqlx::query("INSERT INTO token_changes (user_id, change, at) VALUES ($1, $2, $3)")
            .bind(user)
            .bind(change.as_str())
            .bind(now_millis())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(match change {
            TokenChange::Rotated => Some(token),
            TokenChange::Revoked => None,
        })
    }

    /// The newest position of the token journal (0 when empty).
    pub async fn latest_token_change(&self) -> Result<u64, ServerError> {
        let row = sqlx::query("SELECT COALESCE(MAX(seq), 0) AS seq FROM token_changes")
            .fetch_one(&self.db.read)
            .await?;
        Ok(u64::try_from(row.try_get::<i64, _>("seq")?).unwrap_or(0))
    }

    /// The token changes after journal position `after`: `(seq, user)`, oldest first.
    pub async fn token_changes_after(&self, after: u64) -> Result<Vec<(u64, UserId)>, ServerError> {
        let rows = sqlx::query(
            "SELECT seq, user_id FROM token_changes WHERE seq > $1 ORDER BY seq LIMIT 1000",
        )
        .bind(crate::store::to_i64(after))
        .fetch_all(&self.db.read)
        .await?;
        rows.iter()
            .map(|row| {
                Ok((
                    u64::try_from(row.try_get::<i64, _>("seq")?).unwrap_or(0),
                    UserId(row.try_get("user_id")?),
                ))
            })
            .collect()
    }
}
