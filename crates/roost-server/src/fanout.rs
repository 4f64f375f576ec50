//! Cross-instance stream fan-out over PostgreSQL `LISTEN/NOTIFY`, so any number of server
//! instances share one database without sticky sessions: a client may send to one instance and
//! stream from another.
//!
//! Why `NOTIFY` rather than a separate broker: it is transactional. [`Announcer`] queues a
//! mutation's event with `pg_notify` *inside* the mutation's transaction; PostgreSQL delivers it
//! only if and when that transaction commits (committed-before-announced), and delivers the
//! notifications of different transactions in commit order — the same order on every
//! instance. Every instance (the writer's own included) feeds its [`Hub`] only from its
//! [`Listener`], so a chat's events reach every stream in commit order, which per chat is seq
//! and rev order (mutations of a chat serialise on the chat row's lock). A broker beside the
//! database could announce something that then fails to commit, or lose the ordering.
//!
//! A `NOTIFY` payload must stay under 8000 bytes; an event larger than [`INLINE_PAYLOAD_MAX`]
//! is written to `stream_overflow` in the same transaction and announced by row id.
//!
//! Loss: if the listening connection drops, notifications sent meanwhile are gone. The listener
//! then [`Hub::reset`]s: every stream of this instance closes with 1013 and its client catches
//! up, rather than missing events silently.

use crate::error::ServerError;
use crate::hub::Hub;
use roost_proto::{StreamEvent, UserId};
use serde::{Deserialize, Serialize};
use sqlx::AnyPool;
use sqlx::postgres::PgListener;
use sqlx::{AnyConnection, Row};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// The notification channel every instance listens on.
pub const CHANNEL: &str = "roost_stream";
/// Largest payload sent inline (PostgreSQL refuses 8000 bytes and more).
pub const INLINE_PAYLOAD_MAX: usize = 7_900;
/// Overflow rows older than this are deleted by later announcements: a listener that has not
/// read them by then has lagged far beyond any stream's capacity anyway.
const OVERFLOW_KEEP_MILLIS: i64 = 10 * 60 * 1000;

/// What one notification says.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Notice {
    /// The event itself.
    Inline {
        members: Vec<UserId>,
        frame: String,
        is_message: bool,
    },
    /// The event is in `stream_overflow` under this id.
    Stored { id: i64 },
}

/// Queues stream events in the mutation's transaction (see the module docs).
#[derive(Debug, Clone, Default)]
pub struct Announcer;

impl Announcer {
    pub async fn announce_in_tx(
        &self,
        conn: &mut AnyConnection,
        members: &[UserId],
        event: &StreamEvent,
    ) -> Result<(), ServerError> {
        let notice = Notice::Inline {
            members: members.to_vec(),
            frame: serde_json::to_string(event).unwrap_or_default(),
            is_message: matches!(event, StreamEvent::Message { .. }),
        };
        let mut payload = serde_json::to_string(&notice).unwrap_or_default();
        if payload.len() > INLINE_PAYLOAD_MAX {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |elapsed| elapsed.as_millis() as i64);
            sqlx::query("DELETE FROM stream_overflow WHERE created_at < $1")
                .bind(now - OVERFLOW_KEEP_MILLIS)
                .execute(&mut *conn)
                .await?;
            let id: i64 = sqlx::query(
                "INSERT INTO stream_overflow (payload, created_at) VALUES ($1, $2) RETURNING id",
            )
            .bind(&payload)
            .bind(now)
            .fetch_one(&mut *conn)
            .await?
            .try_get("id")?;
            payload = serde_json::to_string(&Notice::Stored { id }).unwrap_or_default();
        }
        // Wrapped in a count: `pg_notify` returns `void`, a type the Any driver cannot decode.
        sqlx::query("SELECT COUNT(*) AS sent FROM (SELECT pg_notify($1, $2)) AS notified")
            .bind(CHANNEL)
            .bind(payload)
            .execute(&mut *conn)
            .await?;
        Ok(())
    }
}

/// The task that feeds this instance's hub from the database's notifications.
#[derive(Debug)]
pub struct Listener {
    task: JoinHandle<()>,
}

impl Listener {
    /// Connects and `LISTEN`s before returning, so every commit after this call reaches the
    /// hub (start it before accepting streams).
    pub async fn start(
        url: &str,
        pool: AnyPool,
        hub: Hub,
        mut shutdown: watch::Receiver<bool>,
    ) -> Result<Listener, ServerError> {
        let mut listener = PgListener::connect(url).await?;
        listener.listen(CHANNEL).await?;
        let task = tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = async { let _ = shutdown.wait_for(|down| *down).await; } => break,
                    received = listener.try_recv() => match received {
                        Ok(Some(notification)) => deliver(&pool, &hub, notification.payload()).await,
                        Ok(None) => {
                            tracing::warn!("fan-out connection to PostgreSQL lost; closing this instance's streams");
                            hub.reset("fan-out connection lost; reconnect and resync");
                        }
                        Err(error) => {
                            tracing::error!(%error, "fan-out listener failed; closing this instance's streams");
                            hub.reset("fan-out listener failed; reconnect and resync");
                            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
                        }
                    },
                }
            }
        });
        Ok(Listener { task })
    }

    pub fn stop(&self) {
        self.task.abort();
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn deliver(pool: &AnyPool, hub: &Hub, payload: &str) {
    let notice = match serde_json::from_str::<Notice>(payload) {
        Ok(Notice::Stored { id }) => match load_overflow(pool, id).await {
            Ok(Some(notice)) => notice,
            Ok(None) | Err(_) => {
                tracing::warn!(
                    id,
                    "an announced event is gone from stream_overflow; closing streams"
                );
                hub.reset("lagged behind; reconnect and resync");
                return;
            }
        },
        Ok(notice) => notice,
        Err(error) => {
            tracing::error!(%error, "unreadable fan-out notification; closing streams");
            hub.reset("fan-out failure; reconnect and resync");
            return;
        }
    };
    match notice {
        Notice::Inline {
            members,
            frame,
            is_message,
        } => hub.publish_frame(members, frame, is_message),
        Notice::Stored { .. } => hub.reset("fan-out failure; reconnect and resync"),
    }
}

async fn load_overflow(pool: &AnyPool, id: i64) -> Result<Option<Notice>, ServerError> {
    let row = sqlx::query("SELECT payload FROM stream_overflow WHERE id = $1")
        .bind(id)
        .fetch_optional(pool)
        .await?;
    let Some(row) = row else { return Ok(None) };
    let payload: String = row.try_get("payload")?;
    serde_json::from_str(&payload)
        .map(Some)
        .map_err(|e| ServerError::Corrupt(format!("stream_overflow payload: {e}")))
}
