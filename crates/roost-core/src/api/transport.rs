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
        let resp = req
            .bearer_auth(&self.config.token)
            .send()
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
pub(super) fn transport_is_safe(base_url: &str) -> bool {
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

/// The response body, refusing one over `MAX_RESPONSE_BODY_BYTES` (announced or actual) as a
/// protocol violation instead of reading it into memory.
async fn read_capped(mut resp: reqwest::Response) -> Result<Vec<u8>> {
    let cap = roost_proto::MAX_RESPONSE_BODY_BYTES;
    let too_large = || Error::ProtocolViolation(format!("response body over {cap} bytes"));
    if resp.content_length().is_some_and(|len| len > cap as u64) {
        return Err(too_large());
    }
    let mut bytes = Vec::new();
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| Error::Offline(describe(&e)))?
    {
        if bytes.len() + chunk.len() > cap {
            return Err(too_large());
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
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
