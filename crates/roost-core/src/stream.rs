//! The WebSocket stream client: connect, reconnect with exponential backoff and jitter, a
//! heartbeat watchdog, and the catch-up after every (re)connect.
//!
//! Owns turning stream frames into cache writes: every `message` frame is validated and
//! committed (bursts in one transaction per chat) before any event about it is emitted, for
//! every chat — open, closed or never seen. After each connect, ONE `GET /v1/chats` finds the
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
use futures_util::{FutureExt, SinkExt, StreamExt};
use roost_proto::{ChatId, Message, StreamEvent};
use std::sync::Arc;
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

/// Frames drained without waiting and ingested together (one transaction per chat).
const MAX_BURST: usize = 256;
/// Heartbeat interval assumed until the server's `hello` says otherwise.
const DEFAULT_HEARTBEAT: Duration = Duration::from_secs(15);
/// Missed heartbeats before the connection is considered dead.
const MISSED_HEARTBEATS: u32 = 3;

/// Runs forever (until the task is aborted).
pub(crate) async fn run(inner: Arc<Inner>) {
    let builder = backon::ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(100))
        .with_max_delay(Duration::from_secs(10))
        .with_jitter()
        .without_max_times();
    let mut backoff = builder.build();
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
                let reason = read_loop(&inner, ws).await;
                tracing::info!(%reason, "stream lost; reconnecting");
                inner.set_online(false);
            }
            Err(e) => {
                tracing::debug!(error = %e, "stream connect failed");
                inner.set_online(false);
            }
        }
        let delay = backoff.next().unwrap_or(Duration::from_secs(10));
        tokio::time::sleep(delay).await;
    }
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(inner: &Inner) -> Result<Ws, String> {
    let mut req = inner
        .api()
        .stream_url()
        .into_client_request()
        .map_err(|e| e.to_string())?;
    let auth = HeaderValue::from_str(&format!("Bearer {}", inner.api().config().token))
        .map_err(|e| e.to_string())?;
    req.headers_mut().insert("Authorization", auth);
    let connecting = tokio_tungstenite::connect_async(req);
    let (ws, _resp) = tokio::time::timeout(Duration::from_secs(10), connecting)
        .await
        .map_err(|_| "connect timed out".to_string())?
        .map_err(|e| e.to_string())?;
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

/// Reads frames until the connection ends; returns why.
async fn read_loop(inner: &Arc<Inner>, mut ws: Ws) -> String {
    let mut watchdog = DEFAULT_HEARTBEAT * MISSED_HEARTBEATS;
    loop {
        let next = match tokio::time::timeout(watchdog, ws.next()).await {
            Err(_) => return format!("no frame for {watchdog:?} (heartbeat watchdog)"),
            Ok(None) => return "closed".into(),
            Ok(Some(Err(e))) => return format!("error: {e}"),
            Ok(Some(Ok(frame))) => frame,
        };
        let mut frames = vec![next];
        // Drain a burst that is already there, without waiting.
        while frames.len() < MAX_BURST {
            match ws.next().now_or_never() {
                Some(Some(Ok(f))) => frames.push(f),
                Some(Some(Err(e))) => return format!("error: {e}"),
                Some(None) => break,
                None => break,
            }
        }
        let mut messages: Vec<(ChatId, Message, Position)> = Vec::new();
        for frame in frames {
            match frame {
                WsMessage::Text(text) => match serde_json::from_str::<StreamEvent>(text.as_str()) {
                    Ok(ev) => {
                        if let Err(e) = validate_stream_event(&ev) {
                            tracing::warn!(error = %e, "stream: dropping a hostile event");
                            continue;
                        }
                        match ev {
                            StreamEvent::Hello { heartbeat_ms, .. } => {
                                watchdog = Duration::from_millis(heartbeat_ms.max(100))
                                    * MISSED_HEARTBEATS;
                            }
                            StreamEvent::Heartbeat { .. } => {}
                            StreamEvent::Chat { chat } => {
                                flush(inner, &mut messages).await;
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
                            StreamEvent::Message {
                                chat_id,
                                last_seq,
                                rev,
                                message,
                            } => {
                                messages.push((chat_id, message, Position { last_seq, rev }));
                            }
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "stream: undecodable frame"),
                },
                WsMessage::Ping(p) => {
                    let _ = ws.send(WsMessage::Pong(p)).await;
                }
                WsMessage::Close(_) => {
                    flush(inner, &mut messages).await;
                    return "closed by server".into();
                }
                _ => {}
            }
        }
        flush(inner, &mut messages).await;
    }
}

/// Commits buffered message events (one transaction per chat run), then emits.
async fn flush(inner: &Arc<Inner>, buf: &mut Vec<(ChatId, Message, Position)>) {
    let mut i = 0;
    while i < buf.len() {
        let chat = buf[i].0;
        let mut j = i;
        while j < buf.len() && buf[j].0 == chat {
            j += 1;
        }
        let events: Vec<(Message, Position)> =
            buf[i..j].iter().map(|(_, m, p)| (m.clone(), *p)).collect();
        let mut opts = IngestOptions::new(CursorRule::Keep);
        opts.count_unread = true;
        opts.me = inner.me();
        opts.flag_if_behind = true;
        match inner.store().ingest_events(chat, &events, &opts).await {
            Ok(res) => {
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
                // A gap or a missed mutation in an open chat is repaired now; closed chats keep
                // the flag and are resynced when opened or at the next catch-up.
                if res.flagged && open {
                    let i2 = inner.clone();
                    inner.spawn(async move {
                        let _ = resync(&i2, chat).await;
                    });
                }
            }
            Err(e) => {
                tracing::error!(%chat, error = %e, "stream: caching incoming messages failed")
            }
        }
        i = j;
    }
    buf.clear();
}
