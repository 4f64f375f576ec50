//! The first sign-in's check of a server URL and a token, before anything is saved: is there a
//! server at that URL (`GET /v1/health`), is it a Roost server of this protocol version, and
//! does it accept the token (`GET /v1/me`)? Each failure is classified for a person —
//! unreachable (refused, name not found, TLS, timeout), not a Roost server, another protocol
//! version, token refused — with the sentence from [`roost_model::human`] as its `Display`.
//!
//! Owns only this check; a signed-in client's start (which works offline from the cache) does
//! not call it.

use roost_model::human::{self, UnreachableReason};
use roost_proto::{MeResponse, PROTOCOL_VERSION};
use serde::Deserialize;
use std::time::Duration;

/// How long the check waits: a person is looking at the form meanwhile.
#[derive(Debug, Clone, Copy)]
pub struct SignInTimeouts {
    pub connect: Duration,
    pub request: Duration,
}

impl Default for SignInTimeouts {
    fn default() -> Self {
        SignInTimeouts {
            connect: Duration::from_secs(5),
            request: Duration::from_secs(10),
        }
    }
}

/// Why a sign-in check failed. `Display` is the sentence a person reads; `detail` fields keep
/// the technical cause for logs. Never carries the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignInError {
    /// The URL is not an `http://` or `https://` URL.
    #[error("{message}")]
    InvalidUrl { message: String },
    /// Nothing answered at that URL.
    #[error("{}", human::cannot_reach(url, *reason))]
    Unreachable {
        url: String,
        reason: UnreachableReason,
        detail: String,
    },
    /// Something answered, but not as a Roost server does.
    #[error("{}", human::not_a_roost_server(url))]
    NotRoostServer { url: String, detail: String },
    /// A Roost server of another protocol version.
    #[error("{}", human::other_protocol_version(url, *server_protocol))]
    ProtocolVersion { url: String, server_protocol: u32 },
    /// The server refused the token.
    #[error("{}", human::TOKEN_REFUSED)]
    TokenRefused,
    /// The server failed while checking the token (5xx); worth trying again later.
    #[error("{}", human::server_failed(url, *status))]
    ServerFailed {
        url: String,
        status: u16,
        detail: String,
    },
}

impl SignInError {
    /// Stable machine-readable kind (see [`roost_model::human::KINDS`]).
    pub fn kind(&self) -> &'static str {
        match self {
            SignInError::InvalidUrl { .. } => "invalid_input",
            SignInError::Unreachable { .. } => "offline",
            SignInError::NotRoostServer { .. } => "not_roost_server",
            SignInError::ProtocolVersion { .. } => "protocol_version",
            SignInError::TokenRefused => "unauthorized",
            SignInError::ServerFailed { .. } => "server",
        }
    }
}

/// `GET /v1/health` as documented in PROTOCOL.md.
#[derive(Debug, Deserialize)]
struct Health {
    status: String,
    protocol: u32,
}

/// Checks `server_url` (`http(s)://host[:port]`, no `/v1`) and `token` with the default
/// timeouts; on success returns who the token belongs to.
pub async fn verify_sign_in(server_url: &str, token: &str) -> Result<MeResponse, SignInError> {
    verify_sign_in_with(server_url, token, SignInTimeouts::default()).await
}

/// [`verify_sign_in`] with explicit timeouts.
pub async fn verify_sign_in_with(
    server_url: &str,
    token: &str,
    timeouts: SignInTimeouts,
) -> Result<MeResponse, SignInError> {
    let url = server_url.trim().trim_end_matches('/').to_string();
    let parsed = reqwest::Url::parse(&url).map_err(|e| SignInError::InvalidUrl {
        message: format!(
            "{url:?} is not a server address ({e}). Enter it as http://host:port or https://host."
        ),
    })?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(SignInError::InvalidUrl {
            message: format!(
                "{url:?} is not a server address. Enter it as http://host:port or https://host."
            ),
        });
    }
    // The check sends the token: never in clear text across a network (as `Api::new`).
    if !crate::api::transport_is_safe(&url) {
        return Err(SignInError::InvalidUrl {
            message: format!(
                "{url:?} is plain http to another machine: the token would cross the network \
                 unencrypted. Use the server's https:// address."
            ),
        });
    }
    let http = reqwest::Client::builder()
        .connect_timeout(timeouts.connect)
        .timeout(timeouts.request)
        .build()
        .map_err(|e| SignInError::Unreachable {
            url: url.clone(),
            reason: UnreachableReason::Network,
            detail: format!("http client: {e}"),
        })?;
    check_health(&http, &url).await?;
    check_token(&http, &url, token).await
}

/// Sends `request` to the server at `url`: its status and body, or why it could not be asked.
async fn get(request: reqwest::RequestBuilder, url: &str) -> Result<(u16, Vec<u8>), SignInError> {
    let response = request.send().await.map_err(|e| request_failed(url, &e))?;
    let status = response.status().as_u16();
    let bytes = read_body(url, response).await?;
    Ok((status, bytes))
}

async fn check_health(http: &reqwest::Client, url: &str) -> Result<(), SignInError> {
    let (status, bytes) = get(http.get(format!("{url}/v1/health")), url).await?;
    let not_roost = |detail: String| SignInError::NotRoostServer {
        url: url.to_string(),
        detail,
    };
    if status != 200 {
        return Err(not_roost(format!("GET /v1/health answered HTTP {status}")));
    }
    let health: Health = serde_json::from_slice(&bytes)
        .map_err(|e| not_roost(format!("GET /v1/health is not Roost's health answer: {e}")))?;
    if health.status != "ok" {
        return Err(not_roost(format!("health status {:?}", health.status)));
    }
    if health.protocol != PROTOCOL_VERSION {
        return Err(SignInError::ProtocolVersion {
            url: url.to_string(),
            server_protocol: health.protocol,
        });
    }
    Ok(())
}

async fn check_token(
    http: &reqwest::Client,
    url: &str,
    token: &str,
) -> Result<MeResponse, SignInError> {
    let (status, bytes) = get(http.get(format!("{url}/v1/me")).bearer_auth(token), url).await?;
    match status {
        200 => serde_json::from_slice(&bytes).map_err(|e| SignInError::NotRoostServer {
            url: url.to_string(),
            detail: format!("GET /v1/me is not Roost's answer: {e}"),
        }),
        401 | 403 => Err(SignInError::TokenRefused),
        500.. => Err(SignInError::ServerFailed {
            url: url.to_string(),
            status,
            detail: String::from_utf8_lossy(&bytes).chars().take(200).collect(),
        }),
        _ => Err(SignInError::NotRoostServer {
            url: url.to_string(),
            detail: format!("GET /v1/me answered HTTP {status}"),
        }),
    }
}

/// The answer's body, at most `MAX_RESPONSE_BODY_BYTES` (a larger one is not Roost's).
async fn read_body(url: &str, response: reqwest::Response) -> Result<Vec<u8>, SignInError> {
    crate::api::read_capped_body(response)
        .await
        .map_err(|error| match error {
            crate::api::CappedRead::TooLarge => SignInError::NotRoostServer {
                url: url.to_string(),
                detail: crate::api::CappedRead::too_large_text(),
            },
            crate::api::CappedRead::Transport(error) => request_failed(url, &error),
        })
}

/// A request that got no HTTP answer: unreachable (with the reason), or — when the peer
/// answered with something that is not HTTP — not a Roost server.
fn request_failed(url: &str, error: &reqwest::Error) -> SignInError {
    let detail = describe(error);
    match unreachable_reason(error, &detail) {
        Some(reason) => SignInError::Unreachable {
            url: url.to_string(),
            reason,
            detail,
        },
        None => SignInError::NotRoostServer {
            url: url.to_string(),
            detail,
        },
    }
}

/// Classifies a transport failure; `None` when the peer answered but not in HTTP.
fn unreachable_reason(error: &reqwest::Error, detail: &str) -> Option<UnreachableReason> {
    use std::error::Error as _;
    let lower = detail.to_ascii_lowercase();
    let mut source = error.source();
    while let Some(inner) = source {
        if let Some(io) = inner.downcast_ref::<std::io::Error>() {
            match io.kind() {
                std::io::ErrorKind::ConnectionRefused => {
                    return Some(UnreachableReason::ConnectionRefused);
                }
                std::io::ErrorKind::TimedOut => return Some(UnreachableReason::TimedOut),
                _ => {}
            }
        }
        source = inner.source();
    }
    if error.is_timeout() {
        Some(UnreachableReason::TimedOut)
    } else if lower.contains("dns error") || lower.contains("failed to lookup address") {
        Some(UnreachableReason::NameNotFound)
    } else if [
        "certificate",
        "tls",
        "handshake",
        "corrupt message",
        "invalid content type",
    ]
    .iter()
    .any(|word| lower.contains(word))
    {
        Some(UnreachableReason::Tls)
    } else if lower.contains("connection refused") {
        Some(UnreachableReason::ConnectionRefused)
    } else if error.is_connect() {
        Some(UnreachableReason::Network)
    } else if lower.contains("invalid http") || lower.contains("parse") {
        None
    } else {
        Some(UnreachableReason::Network)
    }
}

fn describe(error: &reqwest::Error) -> String {
    use std::error::Error as _;
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(inner) = source {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        source = inner.source();
    }
    text
}
