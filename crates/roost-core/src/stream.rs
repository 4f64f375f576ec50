//! The WebSocket stream client: connect, reconnect with exponential backoff and jitter, a
//! heartbeat watchdog, and the catch-up after every (re)connect.
//!
//! Owns turning stream frames into cache writes: every `message` frame is validated and
//! committed before any event about it is emitted, for every chat — open, closed or never
//! seen. The socket reader hands events to one ingest writer that commits them with group
//! commit: whatever arrived while the previous commit ran is written in one transaction. After each connect, ONE `GET /v1/chats` finds the
//! chats that moved vs the store and only those are resynced. Must never be needed for
//! correctness (delivery is at-least-once and lossy across disconnects): it only makes things
//! fast; gaps it leaves are found by the runs index and repaired by resync.

use crate::api::validate_stream_event;
use crate::chat_list::refresh_chats;
use crate::engine::Inner;
use crate::events::ClientEvent;
use crate::resync::resync;
use crate::store::{CursorRule, IngestOptions, Position};
use backon::BackoffBuilder;
use futures_util::{SinkExt, StreamExt};
use roost_proto::{ChatId, Message, StreamEvent};
use std::sync::Arc;
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

/// Most events committed in one group (one transaction).
const MAX_GROUP: usize = 1024;
/// Decoded events waiting for the writer; a full queue stops reading the socket.
const QUEUE_CAPACITY: usize = 8192;
/// Heartbeat interval assumed until the server's `hello` says otherwise.
const DEFAULT_HEARTBEAT: Duration = Duration::from_secs(15);
/// Missed heartbeats before the connection is considered dead.
const MISSED_HEARTBEATS: u32 = 3;

/// What the reader hands the ingest writer, in arrival order.
#[derive(Debug)]
enum Incoming {
    Message(ChatId, Message, Position),
    Chat(roost_proto::ChatSummary),
    /// The user left or was removed from this chat.
    Removed(ChatId),
}

/// Runs forever (until the task is aborted).
pub(crate) async fn run(inner: Arc<Inner>) {
    let builder = backon::ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(100))
        .with_max_delay(Duration::from_secs(10))
        .with_jitter()
        .without_max_times();
    let mut backoff = builder.build();
    // One writer for the life of the stream: frames read before a disconnect are still
    // committed, in order, after it.
    let (incoming, queue) = tokio::sync::mpsc::channel(QUEUE_CAPACITY);
    inner.spawn(ingest_writer(inner.clone(), queue));
    let mut refused_for: Option<Duration> = None;
    loop {
        match connect(&inner).await {
            Ok(ws) => {
                backoff = builder.build();
                inner.set_online(true);
                tracing::info!("stream connected");
                // Catch up: one chat list, then resync only the chats that moved.
                let ci = inner.clone();
                inner.spawn(async move { catch_up(ci).await });
                inner.notify_outbox();
                let reason = read_loop(ws, &incoming).await;
                tracing::info!(%reason, "stream lost; reconnecting");
                inner.set_online(false);
            }
            Err(e) => {
                tracing::debug!(error = %e.reason, "stream connect failed");
                inner.set_online(false);
                refused_for = e.retry_after;
            }
        }
        let delay = backoff.next().unwrap_or(Duration::from_secs(10));
        // A server that refused the upgrade said when to come back: not sooner.
        let delay = delay.max(refused_for.take().unwrap_or_default());
        tokio::time::sleep(delay).await;
    }
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Why a stream connect failed, and (for a refused upgrade) how long the server asked to wait.
#[derive(Debug)]
struct ConnectFailed {
    reason: String,
    retry_after: Option<Duration>,
}

impl From<String> for ConnectFailed {
    fn from(reason: String) -> Self {
        ConnectFailed {
            reason,
            retry_after: None,
        }
    }
}

async fn connect(inner: &Inner) -> Result<Ws, ConnectFailed> {
    // Never ingest another account's events into this cache.
    crate::account::ensure_verified(inner)
        .await
        .map_err(|e| e.to_string())?;
    let mut req = inner
        .api()
        .stream_url()
        .into_client_request()
        .map_err(|e| e.to_string())?;
    let auth = HeaderValue::from_str(&format!("Bearer {}", inner.api().config().token))
        .map_err(|e| e.to_string())?;
    req.headers_mut().insert("Authorization", auth);
    // One event carries at most one message: a larger frame is hostile or broken.
    let limits = tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
        .max_message_size(Some(roost_proto::MAX_SERVER_STREAM_FRAME_BYTES))
        .max_frame_size(Some(roost_proto::MAX_SERVER_STREAM_FRAME_BYTES));
    let connecting = tokio_tungstenite::connect_async_with_config(req, Some(limits), false);
    let (ws, _resp) = tokio::time::timeout(Duration::from_secs(10), connecting)
        .await
        .map_err(|_| "connect timed out".to_string())?
        .map_err(|e| {
            let retry_after = match &e {
                tokio_tungstenite::tungstenite::Error::Http(response) => {
                    crate::rate_limit::refused_upgrade_wait(
                        response.status().as_u16(),
                        response
                            .headers()
                            .get("retry-after")
                            .and_then(|v| v.to_str().ok()),
                    )
                }
                _ => None,
            };
            ConnectFailed {
                reason: e.to_string(),
                retry_after,
            }
        })?;
    Ok(ws)
}

async fn catch_up(inner: Arc<Inner>) {
    match refresh_chats(&inner).await {
        Ok(moved) => {
            if !moved.is_empty() {
                tracing::info!(
                    chats = moved.len(),
                    "catch-up: resyncing the chats that moved"
                );
            }
            for chat in moved {
                let i2 = inner.clone();
                inner.spawn(async move {
                    if let Err(e) = resync(&i2, chat).await {
                        tracing::info!(%chat, error = %e, "catch-up resync failed");
                    }
                });
            }
        }
        Err(e) => tracing::info!(error = %e, "catch-up: chat list failed"),
    }
}

/// Reads frames until the connection ends; returns why. Decoded events go to the ingest writer
/// at once: reading never waits for a commit (only for a full queue, which pushes back on the
/// socket).
async fn read_loop(mut ws: Ws, incoming: &tokio::sync::mpsc::Sender<Incoming>) -> String {
    let mut watchdog = DEFAULT_HEARTBEAT * MISSED_HEARTBEATS;
    loop {
        let frame = match tokio::time::timeout(watchdog, ws.next()).await {
            Err(_) => return format!("no frame for {watchdog:?} (heartbeat watchdog)"),
            Ok(None) => return "closed".into(),
            Ok(Some(Err(e))) => return format!("error: {e}"),
            Ok(Some(Ok(frame))) => frame,
        };
        let event = match frame {
            WsMessage::Text(text) => match serde_json::from_str::<StreamEvent>(text.as_str()) {
                Ok(ev) => ev,
                Err(e) => {
                    tracing::warn!(error = %e, "stream: undecodable frame");
                    continue;
                }
            },
            WsMessage::Ping(p) => {
                let _ = ws.send(WsMessage::Pong(p)).await;
                continue;
            }
            WsMessage::Close(_) => return "closed by server".into(),
            _ => continue,
        };
        if let Err(e) = validate_stream_event(&event) {
            tracing::warn!(error = %e, "stream: dropping a hostile event");
            continue;
        }
        let item = match event {
            StreamEvent::Hello { heartbeat_ms, .. } => {
                watchdog = Duration::from_millis(heartbeat_ms.max(100)) * MISSED_HEARTBEATS;
                continue;
            }
            StreamEvent::Heartbeat { .. } | StreamEvent::Unknown => continue,
            StreamEvent::Removed { chat_id, .. } => Incoming::Removed(chat_id),
            StreamEvent::Chat { chat } => Incoming::Chat(chat),
            StreamEvent::Message {
                chat_id,
                last_seq,
                rev,
                message,
            } => Incoming::Message(chat_id, message, Position { last_seq, rev }),
        };
        if incoming.send(item).await.is_err() {
            return "the ingest writer stopped".into();
        }
    }
}

/// Group commit: waits for the first queued event, takes every event queued behind it (up to
/// [`MAX_GROUP`]) and commits their messages in ONE transaction, then emits. Events that arrive
/// while a commit runs form the next group, so under load the groups grow with the arrival
/// rate and a message waits at most about one commit before its event; an event arriving alone
/// is committed at once (no timer adds latency).
async fn ingest_writer(inner: Arc<Inner>, mut queue: tokio::sync::mpsc::Receiver<Incoming>) {
    let mut group = Vec::with_capacity(MAX_GROUP);
    while queue.recv_many(&mut group, MAX_GROUP).await > 0 {
        let mut messages: Vec<(ChatId, Message, Position)> = Vec::new();
        for item in group.drain(..) {
            match item {
                Incoming::Message(chat, message, position) => {
                    messages.push((chat, message, position));
                }
                Incoming::Chat(chat) => {
                    // Messages before a chat event are committed before it (arrival order).
                    commit(&inner, &mut messages).await;
                    if inner
                        .store()
                        .upsert_summaries(std::slice::from_ref(&chat))
                        .await
                        .is_ok()
                    {
                        inner.mark_known(chat.id);
                        inner.emit_chat(chat.id).await;
                    }
                }
                Incoming::Removed(chat) => {
                    // The chat's earlier messages are committed first (arrival order).
                    commit(&inner, &mut messages).await;
                    if let Err(e) = crate::left::mark_left(&inner, chat, "removed (stream)").await {
                        tracing::error!(%chat, error = %e, "stream: marking a chat left failed");
                    }
                }
            }
        }
        commit(&inner, &mut messages).await;
    }
}

/// Commits buffered message events — every chat's, in ONE transaction — then emits.
async fn commit(inner: &Arc<Inner>, buf: &mut Vec<(ChatId, Message, Position)>) {
    if buf.is_empty() {
        return;
    }
    // From the group's start to its events' emission (`roost-bench stream --timeline`).
    let _timeline = tracing::trace_span!(target: "roost_timeline", "stream_commit", n = buf.len());
    // Per chat, in arrival order (chats in order of their first event).
    let mut bursts: Vec<(ChatId, Vec<(Message, Position)>)> = Vec::new();
    for (chat, message, position) in buf.drain(..) {
        match bursts.iter_mut().find(|(c, _)| *c == chat) {
            Some((_, events)) => events.push((message, position)),
            None => bursts.push((chat, vec![(message, position)])),
        }
    }
    let mut opts = IngestOptions::new(CursorRule::Keep);
    opts.count_unread = true;
    opts.me = inner.me();
    opts.flag_if_behind = true;
    let results = match inner.store().ingest_stream(&bursts, &opts).await {
        Ok(results) => results,
        Err(e) => {
            tracing::error!(error = %e, "stream: caching incoming messages failed");
            return;
        }
    };
    for ((chat, _), res) in bursts.into_iter().zip(results) {
        announce(inner, chat, res).await;
    }
}

/// Emits what one chat's committed burst changed, and repairs an open chat it left behind.
async fn announce(inner: &Arc<Inner>, chat: ChatId, res: crate::store::IngestResult) {
    inner.mark_known(chat);
    if !res.changed.is_empty() {
        inner.emit(ClientEvent::MessagesChanged {
            chat_id: chat,
            seqs: res.changed.clone(),
        });
    }
    // The state the store holds (a running fetch stays SYNCING), never a guess.
    if let Some(state) = res.sync_state {
        inner.emit(ClientEvent::SyncStateChanged {
            chat_id: chat,
            state,
        });
    }
    let open = match inner.store().chat(chat).await {
        Ok(Some(rec)) => {
            let open = rec.is_open;
            inner.emit(ClientEvent::ChatUpdated { chat: rec });
            open
        }
        _ => false,
    };
    // A gap or a missed mutation is repaired now: in an open chat at once, in a closed one in
    // the background too (so opening it later is complete). Concurrency is bounded by the
    // resync permits (`max_concurrent_syncs`); a second trigger joins the chat's running resync.
    if res.flagged && (open || inner.config().background) {
        let i2 = inner.clone();
        inner.spawn(async move {
            let _ = resync(&i2, chat).await;
        });
    }
}
