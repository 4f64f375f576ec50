//! The accept loop, one hyper connection per client connection, and HTTP forwarding with faults.

use crate::hostile::{self, Hostile};
use crate::{FaultKind, HttpFault, RangeShape, Route, RuleId, Shared, stream};
use bytes::Bytes;
use futures_util::StreamExt;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::header::{self, HeaderName, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::Arc;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;

pub(crate) type ProxyBody = BoxBody<Bytes, std::io::Error>;

/// Lets a request handler reset its own connection.
#[derive(Debug, Default)]
pub(crate) struct ConnCtl {
    kill: Notify,
}

impl ConnCtl {
    pub(crate) fn kill(&self) {
        self.kill.notify_one();
    }
}

pub(crate) async fn accept_loop(shared: Arc<Shared>, listener: TcpListener) {
    loop {
        let tcp = match listener.accept().await {
            Ok((tcp, _)) => tcp,
            Err(error) => {
                tracing::warn!(target: "roost_faults", %error, "accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                continue;
            }
        };
        if shared.refusing_all() {
            let _ = tcp.set_zero_linger();
            drop(tcp);
            shared.record(
                FaultKind::ConnectionRefused,
                "connection reset at accept (refusing everything)",
            );
            continue;
        }
        tokio::spawn(serve_connection(shared.clone(), tcp));
    }
}

/// Closes the socket with RST: SO_LINGER 0 is set through a duplicate of its descriptor, so
/// whichever descriptor closes last resets the connection.
fn reset_socket(fd: Option<OwnedFd>) {
    if let Some(fd) = fd
        && let Ok(tcp) = TcpStream::from_std(std::net::TcpStream::from(fd))
    {
        let _ = tcp.set_zero_linger();
    }
}

async fn serve_connection(shared: Arc<Shared>, tcp: TcpStream) {
    let _ = tcp.set_nodelay(true);
    let control_fd = tcp.as_fd().try_clone_to_owned().ok();
    let ctl = Arc::new(ConnCtl::default());
    let service = {
        let shared = shared.clone();
        let ctl = ctl.clone();
        service_fn(move |request| handle(shared.clone(), ctl.clone(), request))
    };
    let connection = http1::Builder::new()
        .serve_connection(TokioIo::new(tcp), service)
        .with_upgrades();
    let mut kill_epoch = shared.kill_epoch.subscribe();
    tokio::select! {
        result = connection => {
            if let Err(error) = result {
                tracing::trace!(target: "roost_faults", %error, "client connection ended with an error");
            }
        }
        _ = ctl.kill.notified() => reset_socket(control_fd),
        _ = kill_epoch.changed() => reset_socket(control_fd),
    }
}

fn is_hop_by_hop(name: &HeaderName) -> bool {
    matches!(
        name.as_str(),
        "connection"
            | "keep-alive"
            | "proxy-connection"
            | "transfer-encoding"
            | "upgrade"
            | "te"
            | "trailer"
            | "host"
            | "content-length"
    )
}

pub(crate) fn full(bytes: impl Into<Bytes>) -> ProxyBody {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed()
}

fn error_json(status: StatusCode, kind: &str, message: &str) -> Response<ProxyBody> {
    let body = serde_json::json!({ "error": { "kind": kind, "message": message } }).to_string();
    let mut response = Response::new(full(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// Resets the connection and never answers.
pub(crate) async fn reset_and_hang(ctl: &ConnCtl) -> Response<ProxyBody> {
    ctl.kill();
    std::future::pending().await
}

/// One client request: the stream is upgraded through [`stream::upgrade`]; anything else is
/// refused, failed or delayed as the rules decide, forwarded, and its response passed back
/// whole, lost, cut, stalled or made hostile.
async fn handle(
    shared: Arc<Shared>,
    ctl: Arc<ConnCtl>,
    request: Request<Incoming>,
) -> Result<Response<ProxyBody>, Infallible> {
    let route = Route::classify(request.method().as_str(), request.uri().path());
    if route == Route::Stream {
        return Ok(stream::upgrade(shared, ctl, request).await);
    }
    let what = format!("{} {}", request.method(), request.uri());
    if route == Route::Range
        && let Some(refusal) = refuse_range_shape(&shared, request.uri().query(), &what)
    {
        return Ok(refusal);
    }
    let decision = shared.decide_http(route);
    if let Some(answer) = fault_before_forwarding(&shared, &ctl, decision, &what).await {
        return Ok(answer);
    }
    let (parts, body) = request.into_parts();
    let upstream = match forward(&shared, route, &parts, body, decision, &what).await {
        Ok(upstream) => upstream,
        Err(()) => return Ok(reset_and_hang(&ctl).await),
    };
    Ok(respond(
        &shared,
        &ctl,
        upstream,
        decision,
        (route, parts.uri.query()),
        &what,
    )
    .await)
}

/// A 400 `bad_request` when the rules say this server does not serve the request's range
/// query shape.
fn refuse_range_shape(
    shared: &Shared,
    query: Option<&str>,
    what: &str,
) -> Option<Response<ProxyBody>> {
    let shape = RangeShape::classify(query);
    if !shared.range_request(shape) {
        return None;
    }
    shared.record(
        FaultKind::RangeShapeRefused(shape),
        &format!("refusing the {} shape: {what}", shape.as_str()),
    );
    Some(error_json(
        StatusCode::BAD_REQUEST,
        "bad_request",
        "fault proxy: this server does not serve this query shape",
    ))
}

/// The faults that strike before the request reaches the server: an answer in its place (503,
/// 403), a reset or a stall; a delay holds the request and lets it through (`None`).
async fn fault_before_forwarding(
    shared: &Shared,
    ctl: &ConnCtl,
    decision: Option<(RuleId, HttpFault)>,
    what: &str,
) -> Option<Response<ProxyBody>> {
    match decision.map(|(_, fault)| fault) {
        Some(HttpFault::Status503) => {
            shared.record(
                FaultKind::Http503,
                &format!("503 instead of forwarding {what}"),
            );
            Some(error_json(
                StatusCode::SERVICE_UNAVAILABLE,
                "internal",
                "fault proxy: injected 503 service unavailable",
            ))
        }
        Some(HttpFault::Reset) => {
            shared.record(
                FaultKind::HttpReset,
                &format!("connection reset before forwarding {what}"),
            );
            Some(reset_and_hang(ctl).await)
        }
        Some(HttpFault::Stall) => {
            shared.record(FaultKind::HttpStall, &format!("stalling {what} forever"));
            std::future::pending().await
        }
        Some(HttpFault::Refuse) => {
            shared.record(
                FaultKind::HttpRefused,
                &format!("403 instead of forwarding {what}"),
            );
            Some(error_json(
                StatusCode::FORBIDDEN,
                "forbidden",
                "fault proxy: injected 403 forbidden",
            ))
        }
        Some(HttpFault::Delay(by)) => {
            shared.record(
                FaultKind::HttpDelay,
                &format!("holding {what} for {} ms", by.as_millis()),
            );
            tokio::time::sleep(by).await;
            None
        }
        _ => None,
    }
}

/// The server's answer to a forwarded request, read whole.
struct Upstream {
    status: StatusCode,
    headers: hyper::HeaderMap,
    bytes: Bytes,
}

/// Forwards the request (its query rewritten by a hostile rule that asks for more than the
/// client did) and reads the answer, counting it per route. `Err`: the client's body, the
/// server or its body failed, and the client's connection is to be reset — what the client
/// would see without the proxy.
async fn forward(
    shared: &Shared,
    route: Route,
    parts: &hyper::http::request::Parts,
    body: Incoming,
    decision: Option<(RuleId, HttpFault)>,
    what: &str,
) -> Result<Upstream, ()> {
    let body = match body.collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(error) => {
            tracing::debug!(target: "roost_faults", %error, "client request body failed");
            return Err(());
        }
    };
    let hostile = match decision {
        Some((_, HttpFault::Hostile(hostile))) => Some(hostile),
        _ => None,
    };
    let upstream_query = hostile::upstream_query(hostile, parts.uri.query());
    let url = match &upstream_query {
        Some(query) => format!("http://{}{}?{}", shared.upstream, parts.uri.path(), query),
        None => format!("http://{}{}", shared.upstream, parts.uri.path()),
    };
    let mut builder = shared.client.request(parts.method.clone(), url);
    for (name, value) in &parts.headers {
        if !is_hop_by_hop(name) {
            builder = builder.header(name, value);
        }
    }
    let upstream = match builder.body(body).send().await {
        Ok(response) => response,
        Err(error) => {
            // The server is down: the client sees what it would see without the proxy.
            tracing::debug!(target: "roost_faults", %error, "upstream unreachable for {what}; resetting the client connection");
            return Err(());
        }
    };
    let status = upstream.status();
    let headers = upstream.headers().clone();
    let served = headers
        .get(MESSAGE_COUNT_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0);
    shared.bump(|figures| {
        figures.http_forwarded += 1;
        *figures.responses_by_route.entry(route).or_default() += 1;
        *figures.messages_by_route.entry(route).or_default() += served;
    });
    match upstream.bytes().await {
        Ok(bytes) => Ok(Upstream {
            status,
            headers,
            bytes,
        }),
        Err(error) => {
            tracing::debug!(target: "roost_faults", %error, "upstream body failed for {what}");
            Err(())
        }
    }
}

/// The server's answer as the client gets it: whole, or lost, cut or stalled halfway, or
/// rewritten by a hostile rule (refunded when it does not apply to this answer).
async fn respond(
    shared: &Shared,
    ctl: &ConnCtl,
    upstream: Upstream,
    decision: Option<(RuleId, HttpFault)>,
    (route, query): (Route, Option<&str>),
    what: &str,
) -> Response<ProxyBody> {
    let Upstream {
        status,
        headers,
        bytes,
    } = upstream;
    let mut out_headers = hyper::HeaderMap::new();
    for (name, value) in &headers {
        if !is_hop_by_hop(name) {
            out_headers.append(name.clone(), value.clone());
        }
    }
    let half = bytes.slice(..bytes.len() / 2);
    let (length, body) = match decision {
        Some((_, HttpFault::LoseResponse)) => {
            shared.record(
                FaultKind::HttpLoseResponse,
                &format!("{what} forwarded ({status}); response lost, connection reset"),
            );
            return reset_and_hang(ctl).await;
        }
        Some((_, HttpFault::CutBody)) => {
            shared.record(
                FaultKind::HttpCutBody,
                &format!(
                    "{what}: cutting the connection after {} of {} body bytes",
                    half.len(),
                    bytes.len()
                ),
            );
            (bytes.len(), half_then_reset(half))
        }
        Some((_, HttpFault::StallBody)) => {
            shared.record(
                FaultKind::HttpStallBody,
                &format!(
                    "{what}: stalling forever after {} of {} body bytes",
                    half.len(),
                    bytes.len()
                ),
            );
            (bytes.len(), half_then_stall(half))
        }
        Some((rule, HttpFault::Hostile(hostile))) => hostile_body(
            shared,
            (rule, hostile),
            (status, route, query),
            bytes,
            &mut out_headers,
            what,
        ),
        _ => (bytes.len(), full(bytes)),
    };
    out_headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    let mut response = Response::new(body);
    *response.status_mut() = status;
    *response.headers_mut() = out_headers;
    response
}

/// What a hostile rule makes of a successful response (the message count header recounted), or
/// the response as it is when the kind does not apply to it (the rule is refunded, so it strikes
/// a later response).
fn hostile_body(
    shared: &Shared,
    (rule, hostile): (RuleId, Hostile),
    (status, route, query): (StatusCode, Route, Option<&str>),
    bytes: Bytes,
    out_headers: &mut hyper::HeaderMap,
    what: &str,
) -> (usize, ProxyBody) {
    match status
        .is_success()
        .then(|| hostile::mutate(hostile, route, query, &bytes))
        .flatten()
    {
        Some(body) => {
            shared.record(
                FaultKind::Hostile(hostile),
                &format!("{what}: hostile response ({})", hostile_detail(hostile)),
            );
            out_headers.remove(MESSAGE_COUNT_HEADER);
            if let Ok(value) = serde_json::from_slice::<serde_json::Value>(&body)
                && let Some(messages) = value.get("messages").and_then(|m| m.as_array())
            {
                out_headers.insert(MESSAGE_COUNT_HEADER, HeaderValue::from(messages.len()));
            }
            (body.len(), full(body))
        }
        None => {
            shared.refund(rule);
            tracing::debug!(target: "roost_faults", "{what}: {} does not apply to this response ({status}); passed through", hostile.as_str());
            (bytes.len(), full(bytes))
        }
    }
}

/// A body that sends `half` and then fails with a connection reset.
fn half_then_reset(half: Bytes) -> ProxyBody {
    // The error comes a moment later so that the headers and the first half are flushed.
    let frames = futures_util::stream::iter(vec![Ok(Frame::data(half))]).chain(
        futures_util::stream::once(async {
            tokio::time::sleep(std::time::Duration::from_millis(30)).await;
            Err(std::io::Error::new(
                std::io::ErrorKind::ConnectionReset,
                "fault proxy: body cut",
            ))
        }),
    );
    BodyExt::boxed(StreamBody::new(frames))
}

/// A body that sends `half` and then nothing, forever.
fn half_then_stall(half: Bytes) -> ProxyBody {
    let frames = futures_util::stream::iter(vec![Ok(Frame::data(half))])
        .chain(futures_util::stream::pending());
    BodyExt::boxed(StreamBody::new(frames))
}

const MESSAGE_COUNT_HEADER: &str = "x-roost-message-count";

fn hostile_detail(hostile: Hostile) -> &'static str {
    match hostile {
        Hostile::OutOfRange => "a message outside the requested range",
        Hostile::Descending => "messages in descending order",
        Hostile::WrongChatId => "another chat's id on the page",
        Hostile::WrongMessageChatId => "another chat's id on a message",
        Hostile::DuplicateSeq => "two messages with one seq",
        Hostile::Oversized => "more messages than the limit",
        Hostile::InvalidJson => "an HTML body instead of JSON",
        Hostile::TruncatedJson => "a JSON body cut in half",
    }
}
