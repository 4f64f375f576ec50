//! `/v1/stream`: the proxy terminates the client's WebSocket, opens its own to the upstream
//! (with the client's `Authorization`) and relays frames, injecting stream faults.

use crate::http::{ConnCtl, ProxyBody, full, reset_and_hang};
use crate::{FaultKind, FrameAction, Shared};
use futures_util::{SinkExt, StreamExt};
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use std::sync::Arc;
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::Role;
use tokio_tungstenite::tungstenite::{self, Message, Utf8Bytes};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// Answers a client's stream upgrade: reset when streams are refused, the upstream's own answer
/// when it refuses (e.g. 401), else `101 Switching Protocols` with the relay started behind it.
pub(crate) async fn upgrade(
    shared: Arc<Shared>,
    ctl: Arc<ConnCtl>,
    mut request: Request<Incoming>,
) -> Response<ProxyBody> {
    if shared.refusing_streams() {
        shared.record(
            FaultKind::StreamRefused,
            "stream connection reset before the upgrade (refusing streams)",
        );
        return reset_and_hang(&ctl).await;
    }
    let upstream = match connect_upstream(&shared, &ctl, &request).await {
        Ok(upstream) => upstream,
        Err(answer) => return answer,
    };
    let Some(key) = request.headers().get(header::SEC_WEBSOCKET_KEY).cloned() else {
        return plain(
            StatusCode::BAD_REQUEST,
            "fault proxy: expected a WebSocket upgrade".to_owned(),
        );
    };
    let accept = derive_accept_key(key.as_bytes());
    let on_upgrade = hyper::upgrade::on(&mut request);
    // Subscribe before answering, so a cut right after the upgrade is not missed.
    let stream_epoch = shared.stream_epoch.subscribe();
    let kill_epoch = shared.kill_epoch.subscribe();
    let release_epoch = shared.release_epoch.subscribe();
    tokio::spawn(async move {
        match on_upgrade.await {
            Ok(upgraded) => {
                let client =
                    WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, None)
                        .await;
                relay(
                    shared,
                    client,
                    upstream,
                    Epochs {
                        stream_epoch,
                        kill_epoch,
                        release_epoch,
                    },
                )
                .await;
            }
            Err(error) => tracing::debug!(target: "roost_faults", %error, "client upgrade failed"),
        }
    });
    let mut response = Response::new(full(Vec::new()));
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let headers = response.headers_mut();
    headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    headers.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    if let Ok(accept) = HeaderValue::from_str(&accept) {
        headers.insert(header::SEC_WEBSOCKET_ACCEPT, accept);
    }
    response
}

/// The proxy's own stream to the upstream, with the client's `Authorization`. `Err`: the
/// answer the client gets instead — the upstream's refusal as it gave it, or a reset when the
/// upstream is unreachable.
async fn connect_upstream(
    shared: &Shared,
    ctl: &ConnCtl,
    request: &Request<Incoming>,
) -> Result<WebSocketStream<MaybeTlsStream<TcpStream>>, Response<ProxyBody>> {
    let mut upstream_request =
        match format!("ws://{}/v1/stream", shared.upstream).into_client_request() {
            Ok(upstream_request) => upstream_request,
            Err(error) => {
                return Err(plain(
                    StatusCode::BAD_GATEWAY,
                    format!("fault proxy: {error}"),
                ));
            }
        };
    if let Some(auth) = request.headers().get(header::AUTHORIZATION) {
        upstream_request
            .headers_mut()
            .insert(header::AUTHORIZATION, auth.clone());
    }
    match tokio_tungstenite::connect_async(upstream_request).await {
        Ok((upstream, _)) => Ok(upstream),
        Err(tungstenite::Error::Http(refused)) => {
            // E.g. 401: give the client exactly the upstream's answer.
            let (parts, body) = (*refused).into_parts();
            let mut response = Response::new(full(body.unwrap_or_default()));
            *response.status_mut() = parts.status;
            for (name, value) in &parts.headers {
                if matches!(name.as_str(), "content-type" | "www-authenticate") {
                    response.headers_mut().insert(name.clone(), value.clone());
                }
            }
            Err(response)
        }
        Err(error) => {
            tracing::debug!(target: "roost_faults", %error, "upstream stream unreachable; resetting the client connection");
            Err(reset_and_hang(ctl).await)
        }
    }
}

fn plain(status: StatusCode, message: String) -> Response<ProxyBody> {
    let body =
        serde_json::json!({ "error": { "kind": "bad_request", "message": message } }).to_string();
    let mut response = Response::new(full(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

struct Epochs {
    stream_epoch: tokio::sync::watch::Receiver<u64>,
    kill_epoch: tokio::sync::watch::Receiver<u64>,
    release_epoch: tokio::sync::watch::Receiver<u64>,
}

/// `message` and `chat` frames are subject to faults; `hello` and `heartbeat` always pass.
fn data_frame_summary(text: &str) -> Option<String> {
    let value: serde_json::Value = serde_json::from_str(text).ok()?;
    match value.get("type")?.as_str()? {
        "message" => {
            let message = value.get("message")?;
            Some(format!(
                "message chat={} seq={} version={}",
                value.get("chat_id").and_then(|c| c.as_str()).unwrap_or("?"),
                message.get("seq").and_then(|s| s.as_u64()).unwrap_or(0),
                message.get("version").and_then(|s| s.as_u64()).unwrap_or(0),
            ))
        }
        "chat" => Some("chat".to_owned()),
        _ => None,
    }
}

// Over 80 lines on purpose: one `select!` over every source of a relayed stream (cuts,
// releases, the hold deadline, delayed frames, both sockets); its arms share the `send!`
// macro's `break` and the held frames, which pieces would have to pass around.
async fn relay<C, U>(
    shared: Arc<Shared>,
    client: WebSocketStream<C>,
    upstream: WebSocketStream<U>,
    mut epochs: Epochs,
) where
    C: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    U: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    shared.bump(|figures| figures.stream_connections += 1);
    let (mut to_client, mut from_client) = client.split();
    let (mut to_upstream, mut from_upstream) = upstream.split();
    let (delayed_tx, mut delayed_rx) = tokio::sync::mpsc::unbounded_channel::<Utf8Bytes>();
    let mut held: Vec<Utf8Bytes> = Vec::new();
    let mut hold_deadline: Option<Instant> = None;

    macro_rules! send {
        ($frame:expr) => {{
            shared.bump(|figures| figures.frames_relayed += 1);
            if to_client.send(Message::Text($frame)).await.is_err() {
                break;
            }
        }};
    }

    loop {
        let deadline = hold_deadline;
        tokio::select! {
            _ = epochs.stream_epoch.changed() => {
                shared.record(FaultKind::StreamCut, "stream connection cut");
                break;
            }
            _ = epochs.kill_epoch.changed() => {
                shared.record(FaultKind::StreamCut, "stream connection cut (all connections reset)");
                break;
            }
            _ = epochs.release_epoch.changed() => {
                hold_deadline = None;
                for frame in std::mem::take(&mut held) {
                    send!(frame);
                }
            }
            _ = async move {
                match deadline {
                    Some(deadline) => tokio::time::sleep_until(deadline).await,
                    None => std::future::pending().await,
                }
            } => {
                hold_deadline = None;
                for frame in std::mem::take(&mut held) {
                    send!(frame);
                }
            }
            Some(frame) = delayed_rx.recv() => send!(frame),
            incoming = from_upstream.next() => match incoming {
                Some(Ok(Message::Text(text))) => {
                    let Some(summary) = data_frame_summary(&text) else {
                        send!(text);
                        continue;
                    };
                    match shared.decide_frame() {
                        FrameAction::Pass => {
                            send!(text);
                            hold_deadline = None;
                            for frame in std::mem::take(&mut held) {
                                send!(frame);
                            }
                        }
                        FrameAction::Drop => shared.record(FaultKind::StreamDrop, &format!("dropped {summary}")),
                        FrameAction::Duplicate => {
                            shared.record(FaultKind::StreamDuplicate, &format!("duplicated {summary}"));
                            send!(text.clone());
                            send!(text);
                        }
                        FrameAction::Delay(by) => {
                            shared.record(FaultKind::StreamDelay, &format!("delayed {summary} by {by:?}"));
                            let delayed_tx = delayed_tx.clone();
                            tokio::spawn(async move {
                                tokio::time::sleep(by).await;
                                let _ = delayed_tx.send(text);
                            });
                        }
                        FrameAction::Hold => {
                            shared.record(FaultKind::StreamReorder, &format!("held back {summary}"));
                            held.push(text);
                            if hold_deadline.is_none() {
                                hold_deadline = Some(Instant::now() + shared.max_hold());
                            }
                        }
                    }
                }
                Some(Ok(Message::Binary(bytes))) => {
                    shared.bump(|figures| figures.frames_relayed += 1);
                    if to_client.send(Message::Binary(bytes)).await.is_err() {
                        break;
                    }
                }
                Some(Ok(Message::Close(frame))) => {
                    let _ = to_client.send(Message::Close(frame)).await;
                    break;
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => break,
            },
            incoming = from_client.next() => match incoming {
                Some(Ok(message @ (Message::Text(_) | Message::Binary(_)))) => {
                    if to_upstream.send(message).await.is_err() {
                        break;
                    }
                }
                Some(Ok(Message::Close(frame))) => {
                    let _ = to_upstream.send(Message::Close(frame)).await;
                    break;
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => break,
            },
        }
    }
}
