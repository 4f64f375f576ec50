//! Membership changes: adding members (any member may) and removing one (a user may always
//! remove itself — leaving —; only the chat's creator may remove others). Each change is one
//! write transaction that locks the chat row like a message mutation, takes the chat's next rev
//! (so the chat list tells every client that the chat moved), journals one
//! `membership_changes` row per user at that rev, and queues its stream events.
//!
//! Why the lock matters for the stream: every mutation reads the member list it announces to
//! under the same lock, so an event committed after a removal is never addressed to the removed
//! user, and one committed before it reaches the user before its `removed` event (commit order).

use crate::error::DomainError;
use crate::store::mutations::{check_users_exist, distinct_members, take_next_rev};
use crate::store::rows::{chat_members, lock_visible_chat};
use crate::store::{Announced, ChatPosition, ChatRow, Store, now_millis, to_i64};
use roost_proto::{ChatId, ChatSummary, StreamEvent, UserId};
use sqlx::AnyConnection;
use std::collections::HashSet;

/// What a membership change did: the chat as it is afterwards and the stream events to publish,
/// each with the users it is addressed to, in order. `changed` is false (and `events` empty)
/// when nothing was written (every user to add was a member already).
#[derive(Debug, Clone)]
pub struct MembershipOutcome {
    pub chat: ChatSummary,
    pub events: Vec<(Vec<UserId>, StreamEvent)>,
    pub changed: bool,
}

impl Announced for MembershipOutcome {
    fn events(&self) -> Vec<(Vec<UserId>, StreamEvent)> {
        self.events.clone()
    }
}

impl Store {
    /// Adds `new_members` (repeats and current members ignored) to `chat` as `user`, keeping
    /// the chat within `max_members`. Unknown users are refused; nothing is written then.
    pub async fn add_members(
        &self,
        user: &UserId,
        chat: ChatId,
        new_members: &[UserId],
        max_members: usize,
    ) -> Result<MembershipOutcome, DomainError> {
        let wanted = distinct_members(new_members);
        let mut tx = self.db.write.begin().await?;
        let row = lock_visible_chat(&mut tx, self.backend(), user, chat).await?;
        let current = chat_members(&mut tx, chat).await?;
        let current_set: HashSet<&str> = current.iter().map(UserId::as_str).collect();
        let added: Vec<UserId> = wanted
            .into_iter()
            .filter(|member| !current_set.contains(member.as_str()))
            .collect();
        if added.is_empty() {
            tx.commit().await?;
            return Ok(MembershipOutcome {
                chat: row.into_summary(current),
                events: Vec::new(),
                changed: false,
            });
        }
        if current.len() + added.len() > max_members {
            return Err(DomainError::TooManyMembers {
                limit: max_members,
                wanted: current.len() + added.len(),
            });
        }
        check_users_exist(&mut tx, &added).await?;
        let position = take_next_rev(&mut tx, chat).await?;
        let at = now_millis();
        for member in &added {
            sqlx::query("INSERT INTO chat_members (chat_id, user_id) VALUES ($1, $2)")
                .bind(chat.to_string())
                .bind(member.as_str())
                .execute(&mut *tx)
                .await?;
            journal(&mut tx, chat, position, member, "added", user, at).await?;
        }
        self.commit_membership_change(tx, row, position, None).await
    }

    /// Removes `member` from `chat` as `user`: itself (leaving) or, for the chat's creator,
    /// anyone. The removed user gets a `removed` event, the remaining members the chat as it is
    /// now; from the commit on, the removed user is a non-member everywhere.
    pub async fn remove_member(
        &self,
        user: &UserId,
        chat: ChatId,
        member: &UserId,
    ) -> Result<MembershipOutcome, DomainError> {
        let mut tx = self.db.write.begin().await?;
        let row = lock_visible_chat(&mut tx, self.backend(), user, chat).await?;
        if member != user && row.created_by.as_ref() != Some(user) {
            return Err(DomainError::NotCreator);
        }
        let deleted = sqlx::query("DELETE FROM chat_members WHERE chat_id = $1 AND user_id = $2")
            .bind(chat.to_string())
            .bind(member.as_str())
            .execute(&mut *tx)
            .await?;
        if deleted.rows_affected() == 0 {
            return Err(DomainError::MemberNotFound);
        }
        let position = take_next_rev(&mut tx, chat).await?;
        journal(
            &mut tx,
            chat,
            position,
            member,
            "removed",
            user,
            now_millis(),
        )
        .await?;
        let removed = (member.clone(), user.clone());
        self.commit_membership_change(tx, row, position, Some(removed))
            .await
    }

    /// The end of every membership change, after its rows are written at `position`: reads
    /// the members under the chat's lock, queues the events — `removed` for the removed user
    /// (`(member, by)`), then the chat as it is now for its members — and commits.
    async fn commit_membership_change(
        &self,
        mut tx: sqlx::Transaction<'static, sqlx::Any>,
        row: ChatRow,
        position: ChatPosition,
        removed: Option<(UserId, UserId)>,
    ) -> Result<MembershipOutcome, DomainError> {
        let chat = row.id;
        let members = chat_members(&mut tx, chat).await?;
        let summary = ChatSummary {
            rev: position.rev,
            ..row.into_summary(members.clone())
        };
        let mut events = Vec::with_capacity(2);
        if let Some((member, by)) = removed {
            let event = StreamEvent::Removed {
                chat_id: chat,
                by,
                rev: position.rev,
            };
            events.push((vec![member], event));
        }
        let event = StreamEvent::Chat {
            chat: summary.clone(),
        };
        events.push((members, event));
        let outcome = MembershipOutcome {
            chat: summary,
            events,
            changed: true,
        };
        self.commit_announced(tx, outcome).await
    }

    /// The membership journal of a chat, oldest first: `(rev, user, change, by)`. For tests and
    /// administration (clients learn membership from the chat list and the stream).
    pub async fn membership_journal(
        &self,
        chat: ChatId,
    ) -> Result<Vec<(u64, UserId, String, UserId)>, DomainError> {
        use sqlx::Row;
        let rows = sqlx::query(
            "SELECT rev, user_id, change, by_user FROM membership_changes WHERE chat_id = $1 \
             ORDER BY rev, user_id",
        )
        .bind(chat.to_string())
        .fetch_all(&self.db.read)
        .await?;
        rows.iter()
            .map(|row| {
                Ok((
                    row.try_get::<i64, _>("rev")?.max(0) as u64,
                    UserId(row.try_get("user_id")?),
                    row.try_get("change")?,
                    UserId(row.try_get("by_user")?),
                ))
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(DomainError::from)
    }
}

async fn journal(
    conn: &mut AnyConnection,
    chat: ChatId,
    position: ChatPosition,
    member: &UserId,
    change: &str,
    by: &UserId,
    at: i64,
) -> Result<(), DomainError> {
    sqlx::query(
        "INSERT INTO membership_changes (chat_id, rev, user_id, change, by_user, at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(chat.to_string())
    .bind(to_i64(position.rev))
    .bind(member.as_str())
    .bind(change)
    .bind(by.as_str())
    .bind(at)
    .execute(&mut *conn)
    .await?;
    Ok(())
}
