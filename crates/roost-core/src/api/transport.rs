//! One request on the wire: bearer auth, the response-size cap, error bodies decoded into
//! typed errors, counting, and which base URLs may carry a token at all.

use super::Api;
use crate::error::{Error, Result};
use roost_proto::ErrorBody;
use serde::de::DeserializeOwned;

impl Api {
    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}/v1{}", self.config.base_url, path)
    }

    pub(crate) async fn call<T: DeserializeOwned>(
        &self,
        req: reqwest::RequestBuilder,
    ) -> Result<(u16, T)> {
        // A 429 with a short Retry-After is waited out and repeated (see `rate_limit`).
        let resp = crate::rate_limit::send_respecting_retry_after(
            req.bearer_auth(&self.config.token),
            || self.count(1, 0),
        )
        .await
        .map_err(|e| Error::Offline(describe(&e)))?;
        let status = resp.status().as_u16();
        let bytes = match read_capped(resp).await {
            Ok(b) => b,
            Err(e) => {
                self.count(1, 0);
                return Err(e);
            }
        };
        self.count(1, bytes.len() as u64);
        if !(200..300).contains(&status) {
            return Err(match serde_json::from_slice::<ErrorBody>(&bytes) {
                Ok(body) => Error::Server {
                    status,
                    kind: body.error.kind,
                    message: body.error.message,
                },
                Err(_) => Error::Server {
                    status,
                    kind: roost_proto::ErrorKind::Unknown,
                    message: format!("HTTP {status} without an error body"),
                },
            });
        }
        // 204 No Content (a removed member) decodes as JSON null: `()`.
        let body: &[u8] = if status == 204 { b"null" } else { &bytes };
        let value = serde_json::from_slice(body)
            .map_err(|e| Error::ProtocolViolation(format!("undecodable response: {e}")))?;
        Ok((status, value))
    }
}

/// `https://`, or `http://` to a loopback host (127.0.0.0/8, ::1, localhost).
pub(crate) fn transport_is_safe(base_url: &str) -> bool {
    let Ok(url) = reqwest::Url::parse(base_url) else {
        return false;
    };
    match (url.scheme(), url.host_str()) {
        ("https", _) => true,
        ("http", Some(host)) => {
            host.eq_ignore_ascii_case("localhost")
                || host
                    .trim_start_matches('[')
                    .trim_end_matches(']')
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback())
        }
        _ => false,
    }
}

/// Why [`read_capped_body`] gave up.
#[derive(Debug)]
pub(crate) enum CappedRead {
    /// Over `MAX_RESPONSE_BODY_BYTES`, announced or actual: not read any further.
    TooLarge,
    /// The transport failed while the body was read.
    Transport(reqwest::Error),
}

impl CappedRead {
    /// The sentence for a refused body.
    pub(crate) fn too_large_text() -> String {
        format!(
            "response body over {} bytes",
            roost_proto::MAX_RESPONSE_BODY_BYTES
        )
    }
}

/// The response body, refusing one over `MAX_RESPONSE_BODY_BYTES` (announced or actual)
/// instead of reading it into memory. Every response a client reads goes through here.
pub(crate) async fn read_capped_body(
    mut resp: reqwest::Response,
) -> std::result::Result<Vec<u8>, CappedRead> {
    let cap = roost_proto::MAX_RESPONSE_BODY_BYTES;
    if resp.content_length().is_some_and(|len| len > cap as u64) {
        return Err(CappedRead::TooLarge);
    }
    let mut bytes = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(CappedRead::Transport)? {
        if bytes.len() + chunk.len() > cap {
            return Err(CappedRead::TooLarge);
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

/// [`read_capped_body`] in the client's errors: too large is a protocol violation.
async fn read_capped(resp: reqwest::Response) -> Result<Vec<u8>> {
    read_capped_body(resp).await.map_err(|e| match e {
        CappedRead::TooLarge => Error::ProtocolViolation(CappedRead::too_large_text()),
        CappedRead::Transport(e) => Error::Offline(describe(&e)),
    })
}

fn describe(e: &reqwest::Error) -> String {
    use std::error::Error as _;
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(inner) = src {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        src = inner.source();
    }
    s
}
