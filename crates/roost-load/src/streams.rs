//! The load's receiving side: one task per WebSocket stream that counts the load messages it
//! receives (once each) and the latency from their send to their arrival.

use futures_util::StreamExt;
use serde::Deserialize;
use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

/// The fields of a stream frame the load test reads.
#[derive(Debug, Deserialize)]
struct Frame {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    message: Option<FrameMessage>,
}

#[derive(Debug, Deserialize)]
struct FrameMessage {
    id: String,
    #[serde(default)]
    body: Option<LoadBody>,
}

/// The body every load message carries: when its send started, in µs since the run's epoch.
#[derive(Debug, Deserialize)]
struct LoadBody {
    sent_at_us: u64,
}

/// What one stream saw.
#[derive(Debug, Default)]
pub struct StreamReport {
    pub received: u64,
    pub duplicates: u64,
    /// Fan-out latencies (send start → arrival), µs.
    pub latencies_us: Vec<u64>,
    /// The server closed the stream (or it broke) before the run ended.
    pub closed_early: bool,
    pub close_reason: Option<String>,
}

/// An open stream, past its `hello` frame.
pub type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Connects one stream and waits for its `hello`; returns it and the time the whole took.
pub async fn connect(base_url: &str, token: &str) -> anyhow::Result<(Socket, Duration)> {
    let started = Instant::now();
    let url = format!("{}/v1/stream", base_url.replacen("http://", "ws://", 1));
    let mut request = url.into_client_request()?;
    request
        .headers_mut()
        .insert("authorization", format!("Bearer {token}").parse()?);
    // 16 KiB of read buffer rather than tungstenite's 128 KiB: 10,000 streams in one process.
    let config = WebSocketConfig::default().read_buffer_size(16 * 1024);
    let (mut socket, _) =
        tokio_tungstenite::connect_async_with_config(request, Some(config), false).await?;
    match tokio::time::timeout(Duration::from_secs(30), socket.next()).await {
        Ok(Some(Ok(WsMessage::Text(text)))) if text.contains("\"hello\"") => {}
        other => anyhow::bail!("expected a hello frame, got {other:?}"),
    }
    Ok((socket, started.elapsed()))
}

/// Reads the stream until `stop` flips, counting load messages.
pub async fn receive(
    mut socket: Socket,
    epoch: Instant,
    mut stop: watch::Receiver<bool>,
    received_total: &AtomicU64,
) -> StreamReport {
    let mut report = StreamReport::default();
    let mut seen: HashSet<String> = HashSet::new();
    loop {
        let frame = tokio::select! {
            _ = stop.wait_for(|stop| *stop) => break,
            frame = socket.next() => frame,
        };
        let text = match frame {
            Some(Ok(WsMessage::Text(text))) => text,
            Some(Ok(WsMessage::Close(close))) => {
                report.closed_early = true;
                report.close_reason = close.map(|c| format!("{} {}", c.code, c.reason));
                break;
            }
            Some(Ok(_)) => continue,
            Some(Err(error)) => {
                report.closed_early = true;
                report.close_reason = Some(error.to_string());
                break;
            }
            None => {
                report.closed_early = true;
                break;
            }
        };
        let arrived_us = epoch.elapsed().as_micros() as u64;
        let Ok(frame) = serde_json::from_str::<Frame>(&text) else {
            continue;
        };
        if frame.kind != "message" {
            continue;
        }
        let Some(message) = frame.message else {
            continue;
        };
        let Some(body) = message.body else { continue };
        if seen.insert(message.id) {
            report.received += 1;
            received_total.fetch_add(1, Ordering::Relaxed);
            report
                .latencies_us
                .push(arrived_us.saturating_sub(body.sent_at_us));
        } else {
            report.duplicates += 1;
        }
    }
    let _ = socket.close(None).await;
    report
}
