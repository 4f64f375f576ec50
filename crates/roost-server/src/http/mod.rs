//! The HTTP API under `/v1/`: the router and the observing middleware that logs each request
//! and feeds [`crate::metrics::Metrics`]; the request limits are in [`limits`]. The only layer that knows HTTP: it maps the domain's
//! errors ([`error`]), extracts requests ([`extract`]), answers them ([`handlers`]) and serves
//! the WebSocket stream ([`stream`]).
//!
//! Dependencies point one way: `http` → [`crate::service`] → [`crate::store`] /
//! [`crate::hub`]; nothing below `http` imports it.

pub mod digests;
pub mod error;
pub mod extract;
pub mod handlers;
pub mod limits;
pub mod openapi;
pub mod slots;
pub mod stream;

use crate::http::error::ApiError;
use crate::http::extract::MESSAGE_COUNT_HEADER;
use crate::service::AppCore;
use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use roost_proto::{ErrorKind, MAX_REQUEST_BODY_BYTES};
use std::sync::Arc;
use std::time::Instant;

pub type AppState = Arc<AppCore>;

pub fn router(app: AppState) -> Router {
    // Every route comes with its OpenAPI operation (see `openapi::api_routes`).
    let (routes, _document) = openapi::api_routes().split_for_parts();
    let routes = routes
        .fallback(route_not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_REQUEST_BODY_BYTES));
    // The timeout and the concurrency limit wrap every route; `observe` wraps them, so shed
    // and timed-out requests are logged and counted like any other.
    limits::with_overload_limits(routes, &app.config)
        .layer(axum::middleware::from_fn_with_state(app.clone(), observe))
        .with_state(app)
}

async fn route_not_found() -> ApiError {
    ApiError::new(ErrorKind::NotFound, "no such route")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        ErrorKind::MethodNotAllowed,
        "method not allowed on this route",
    )
}

// ------------------------------------------------------------------------------- observing

/// The metrics name of a route.
pub fn route_name(method: &Method, matched_path: Option<&str>) -> &'static str {
    match (method.as_str(), matched_path.unwrap_or("")) {
        ("GET", "/v1/health") => "health",
        ("GET", "/v1/openapi.json") => "openapi",
        ("GET", "/v1/me") => "me",
        ("GET", "/v1/chats") => "chats",
        ("POST", "/v1/chats") => "create_chat",
        ("GET", "/v1/chats/{chat_id}") => "chat",
        ("GET", "/v1/chats/{chat_id}/messages") => "range",
        ("POST", "/v1/chats/{chat_id}/messages") => "send",
        ("PATCH", "/v1/chats/{chat_id}/messages/{message_id}") => "edit",
        ("DELETE", "/v1/chats/{chat_id}/messages/{message_id}") => "delete",
        ("GET", "/v1/chats/{chat_id}/changes") => "changes",
        ("GET", "/v1/chats/{chat_id}/digests") => "digests",
        ("POST", "/v1/chats/{chat_id}/members") => "add_members",
        ("DELETE", "/v1/chats/{chat_id}/members/{user_id}") => "remove_member",
        ("GET", "/v1/stream") => "stream",
        _ => "other",
    }
}

/// Logs every request and records its figures. The body is buffered (responses are small JSON
/// documents already in memory) so the byte count is exactly what goes on the wire, and the
/// response gets an exact Content-Length.
async fn observe(State(app): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let matched_path = request
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_owned());
    let path = request.uri().path().to_owned();
    let route = route_name(&method, matched_path.as_deref());
    let response = next.run(request).await;
    let status = response.status();
    let messages = response
        .headers()
        .get(MESSAGE_COUNT_HEADER)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok())
        .unwrap_or(0);
    let (response, bytes) = if status == StatusCode::SWITCHING_PROTOCOLS {
        (response, 0)
    } else {
        let (parts, body) = response.into_parts();
        match axum::body::to_bytes(body, usize::MAX).await {
            Ok(bytes) => {
                let len = bytes.len() as u64;
                (Response::from_parts(parts, Body::from(bytes)), len)
            }
            Err(error) => {
                tracing::error!(%error, "could not buffer a response body");
                (ApiError::internal().into_response(), 0)
            }
        }
    };
    app.metrics.record_request(route, messages, bytes);
    tracing::info!(
        method = %method,
        route,
        path = %path,
        status = status.as_u16(),
        messages,
        bytes,
        latency_us = started.elapsed().as_micros() as u64,
        "request"
    );
    response
}
