//! `GET /v1/stream`: the WebSocket connection of one user. It subscribes to the
//! [`crate::hub::Hub`] under its user before the upgrade completes, forwards the events the hub
//! routes to it, sends heartbeats, and closes with 1013 when it lags or the hub resets (the client then
//! reconnects and resyncs), with 1008 when its token was revoked or rotated, and with 1001
//! when the server shuts down.

use crate::http::error::ApiError;
use crate::http::extract::AuthUser;
use crate::hub::{HubItem, Received, Subscription};
use crate::service::AppCore;
use crate::store::now_millis;
use axum::extract::State;
use axum::extract::ws::{
    CloseFrame, Message as WsMessage, WebSocket, WebSocketUpgrade,
    rejection::WebSocketUpgradeRejection,
};
use axum::response::{IntoResponse, Response};
use roost_proto::{MAX_CLIENT_STREAM_MESSAGE_BYTES, PROTOCOL_VERSION, StreamEvent};
use std::sync::Arc;
use std::sync::atomic::Ordering;

/// Close code sent to a connection that lagged (RFC 6455 1013: try again later).
pub const CLOSE_CODE_LAGGED: u16 = 1013;
/// Close code sent when the connection's token was revoked or rotated (1008: policy
/// violation); the client needs a new token before it reconnects.
pub const CLOSE_CODE_TOKEN_REVOKED: u16 = 1008;
/// Close code sent when the server shuts down (1001: going away).
pub const CLOSE_CODE_GOING_AWAY: u16 = 1001;
/// Read buffer of a stream connection: twice the largest message a client may send.
const STREAM_READ_BUFFER_BYTES: usize = 2 * MAX_CLIENT_STREAM_MESSAGE_BYTES;

/// `GET /v1/stream`: authenticates BEFORE upgrading (401 JSON otherwise).
#[utoipa::path(get, path = "/v1/stream", responses(
    (status = 101, description = "WebSocket upgrade; then JSON text frames, each a StreamEvent (#/components/schemas/StreamEvent)")
))]
pub async fn stream_handler(
    State(app): State<Arc<AppCore>>,
    user: AuthUser,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let upgrade = match upgrade {
        Ok(upgrade) => upgrade,
        Err(rejection) => {
            return ApiError::bad_request(format!(
                "expected a WebSocket upgrade: {}",
                rejection.body_text()
            ))
            .into_response();
        }
    };
    let slot = match app.stream_slots.take(
        &user.user_id,
        app.config.max_streams,
        app.config.max_streams_per_user,
    ) {
        Ok(slot) => slot,
        Err(refusal) => return refusal.into_response(),
    };
    // Subscribe now, before the upgrade completes, so no event committed after this request
    // was accepted can slip between the upgrade and the first receive.
    let subscription = app.hub.subscribe(&user.user_id);
    // A token revoked between the authentication and the subscription above would never be
    // announced to this connection: check it once more now that it listens.
    match app
        .store
        .token_is_current(&user.user_id, &user.token_sha256)
        .await
    {
        Ok(true) => {}
        Ok(false) => return ApiError::unauthorized().into_response(),
        Err(error) => return ApiError::from(error).into_response(),
    }
    // Clients send nothing meaningful in protocol v1: a few KiB bound what one may make the
    // server buffer (a larger message or frame closes the connection with 1009).
    upgrade
        .max_message_size(MAX_CLIENT_STREAM_MESSAGE_BYTES)
        .max_frame_size(MAX_CLIENT_STREAM_MESSAGE_BYTES)
        // The read buffer is allocated per connection up front (128 KiB by default: 1.3 GB
        // for 10,000 streams); a client sends at most a few KiB, so a small one suffices.
        .read_buffer_size(STREAM_READ_BUFFER_BYTES)
        .on_upgrade(move |socket| async move {
            run_connection(socket, app, user, subscription).await;
            drop(slot);
        })
}

struct ActiveStreamGuard(Arc<std::sync::atomic::AtomicUsize>);

impl Drop for ActiveStreamGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

async fn run_connection(
    mut socket: WebSocket,
    app: Arc<AppCore>,
    caller: AuthUser,
    mut subscription: Subscription,
) {
    let user = caller.user_id.clone();
    app.active_streams.fetch_add(1, Ordering::SeqCst);
    let _guard = ActiveStreamGuard(app.active_streams.clone());
    let mut shutdown = app.shutdown.clone();
    let heartbeat_interval = app.config.heartbeat_interval;
    let hello = StreamEvent::Hello {
        user_id: user.clone(),
        protocol: PROTOCOL_VERSION,
        heartbeat_ms: heartbeat_interval.as_millis() as u64,
    };
    if !send_frame(
        &mut socket,
        &app,
        serde_json::to_string(&hello).unwrap_or_default(),
        false,
    )
    .await
    {
        return;
    }
    tracing::debug!(user = %user, "stream connected");
    let mut heartbeat = tokio::time::interval_at(
        tokio::time::Instant::now() + heartbeat_interval,
        heartbeat_interval,
    );
    heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = async { let _ = shutdown.wait_for(|down| *down).await; } => {
                send_close(&mut socket, &app, CLOSE_CODE_GOING_AWAY, "server shutting down").await;
                break;
            }
            received = subscription.recv() => match received {
                Received::Event(item) => match item.as_ref() {
                    HubItem::Event { frame, is_message } => {
                        if !send_frame(&mut socket, &app, frame.clone(), *is_message).await {
                            break;
                        }
                    }
                    HubItem::TokensChanged => {
                        if !token_still_current(&app, &caller).await {
                            tracing::info!(user = %user, "token revoked or rotated; closing its stream");
                            send_close(&mut socket, &app, CLOSE_CODE_TOKEN_REVOKED, "token revoked or replaced").await;
                            break;
                        }
                    }
                },
                Received::Closed { reason } => {
                    tracing::warn!(user = %user, reason, "stream dropped by the hub (lagged, or its feed was reset); closing it so the client resyncs");
                    send_close(&mut socket, &app, CLOSE_CODE_LAGGED, reason).await;
                    break;
                }
            },
            _ = heartbeat.tick() => {
                let frame = serde_json::to_string(&StreamEvent::Heartbeat { at: now_millis() }).unwrap_or_default();
                if !send_frame(&mut socket, &app, frame, false).await {
                    break;
                }
            }
            incoming = socket.recv() => match incoming {
                // Pings are answered by the WebSocket layer itself; text/binary from the
                // client carry no meaning in protocol v1 and are ignored (they are at most
                // MAX_CLIENT_STREAM_MESSAGE_BYTES: a larger one is an error here and closes).
                Some(Ok(WsMessage::Close(_))) | None | Some(Err(_)) => break,
                Some(Ok(_)) => {}
            },
        }
    }
    tracing::debug!(user = %user, "stream disconnected");
}

/// Whether the connection's token is still its user's. A failed check keeps the connection
/// (the next token change or reconnect checks again) rather than closing healthy streams
/// when the database hiccups.
async fn token_still_current(app: &AppCore, caller: &AuthUser) -> bool {
    match app
        .store
        .token_is_current(&caller.user_id, &caller.token_sha256)
        .await
    {
        Ok(current) => current,
        Err(error) => {
            tracing::warn!(%error, "could not check a stream's token; keeping the stream");
            true
        }
    }
}

fn close_frame(code: u16, reason: &'static str) -> WsMessage {
    WsMessage::Close(Some(CloseFrame {
        code,
        reason: reason.into(),
    }))
}

/// Sends a close frame, giving up after the send timeout (the connection ends either way).
async fn send_close(socket: &mut WebSocket, app: &AppCore, code: u16, reason: &'static str) {
    let _ = tokio::time::timeout(
        app.config.stream_send_timeout,
        socket.send(close_frame(code, reason)),
    )
    .await;
}

async fn send_frame(
    socket: &mut WebSocket,
    app: &AppCore,
    frame: String,
    is_message: bool,
) -> bool {
    let bytes = frame.len() as u64;
    // A client that does not read would otherwise block this connection (its heartbeat and
    // the server's shutdown) forever; past the timeout it is dropped and will resync.
    let sent = tokio::time::timeout(
        app.config.stream_send_timeout,
        socket.send(WsMessage::Text(frame.into())),
    )
    .await;
    match sent {
        Ok(Ok(())) => {
            app.metrics
                .record_stream_frame(u64::from(is_message), bytes);
            true
        }
        Ok(Err(_)) => false,
        Err(_) => {
            tracing::warn!("a stream client did not read within the send timeout; dropping it");
            false
        }
    }
}
