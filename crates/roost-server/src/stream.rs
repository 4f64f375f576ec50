//! The WebSocket hub behind `GET /v1/stream`: one tokio broadcast channel whose items carry
//! the chat's member list and the pre-serialised frame; each connection forwards only the items
//! addressed to its user, so a non-member never sees an event. A connection that falls behind
//! (broadcast `Lagged`) is closed: the client reconnects and catches up through the chat list,
//! which is cheaper and safer than buffering without bound.

use crate::api::AuthUser;
use crate::error::ApiError;
use crate::service::AppCore;
use crate::store::now_millis;
use axum::extract::State;
use axum::extract::ws::{
    CloseFrame, Message as WsMessage, WebSocket, WebSocketUpgrade,
    rejection::WebSocketUpgradeRejection,
};
use axum::response::{IntoResponse, Response};
use roost_proto::{PROTOCOL_VERSION, StreamEvent, UserId};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use tokio::sync::broadcast;

/// How many events a slow connection may be behind before it is closed.
const HUB_CAPACITY: usize = 4096;
/// Close code sent to a connection that lagged (RFC 6455 1013: try again later).
const CLOSE_CODE_LAGGED: u16 = 1013;
/// Close code sent when the server shuts down (1001: going away).
const CLOSE_CODE_GOING_AWAY: u16 = 1001;

/// One event for the members of one chat.
#[derive(Debug)]
pub struct HubItem {
    pub members: Vec<UserId>,
    pub frame: String,
    pub is_message: bool,
}

#[derive(Debug, Clone)]
pub struct Hub {
    sender: broadcast::Sender<Arc<HubItem>>,
}

impl Default for Hub {
    fn default() -> Self {
        Self::new()
    }
}

impl Hub {
    pub fn new() -> Self {
        let (sender, _) = broadcast::channel(HUB_CAPACITY);
        Hub { sender }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<HubItem>> {
        self.sender.subscribe()
    }

    /// Queues `event` for every connected member. No receiver is not an error.
    pub fn publish(&self, members: Vec<UserId>, event: &StreamEvent) {
        let frame = serde_json::to_string(event).unwrap_or_default();
        let is_message = matches!(event, StreamEvent::Message { .. });
        let _ = self.sender.send(Arc::new(HubItem {
            members,
            frame,
            is_message,
        }));
    }
}

/// `GET /v1/stream`: authenticates BEFORE upgrading (401 JSON otherwise).
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
    // Subscribe now, before the upgrade completes, so no event committed after this request
    // was accepted can slip between the upgrade and the first receive.
    let receiver = app.hub.subscribe();
    upgrade.on_upgrade(move |socket| run_connection(socket, app, user.user_id, receiver))
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
    user: UserId,
    mut receiver: broadcast::Receiver<Arc<HubItem>>,
) {
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
                let _ = socket.send(close_frame(CLOSE_CODE_GOING_AWAY, "server shutting down")).await;
                break;
            }
            item = receiver.recv() => match item {
                Ok(item) => {
                    if item.members.contains(&user) && !send_frame(&mut socket, &app, item.frame.clone(), item.is_message).await {
                        break;
                    }
                }
                Err(broadcast::error::RecvError::Lagged(skipped)) => {
                    tracing::warn!(user = %user, skipped, "stream connection lagged; closing it so the client resyncs");
                    let _ = socket.send(close_frame(CLOSE_CODE_LAGGED, "lagged behind; reconnect and resync")).await;
                    break;
                }
                Err(broadcast::error::RecvError::Closed) => break,
            },
            _ = heartbeat.tick() => {
                let frame = serde_json::to_string(&StreamEvent::Heartbeat { at: now_millis() }).unwrap_or_default();
                if !send_frame(&mut socket, &app, frame, false).await {
                    break;
                }
            }
            incoming = socket.recv() => match incoming {
                // Pings are answered by the WebSocket layer itself; text/binary from the
                // client carry no meaning in protocol v1 and are ignored.
                Some(Ok(WsMessage::Close(_))) | None | Some(Err(_)) => break,
                Some(Ok(_)) => {}
            },
        }
    }
    tracing::debug!(user = %user, "stream disconnected");
}

fn close_frame(code: u16, reason: &'static str) -> WsMessage {
    WsMessage::Close(Some(CloseFrame {
        code,
        reason: reason.into(),
    }))
}

async fn send_frame(
    socket: &mut WebSocket,
    app: &AppCore,
    frame: String,
    is_message: bool,
) -> bool {
    let bytes = frame.len() as u64;
    match socket.send(WsMessage::Text(frame.into())).await {
        Ok(()) => {
            app.metrics
                .record_stream_frame(u64::from(is_message), bytes);
            true
        }
        Err(_) => false,
    }
}
