//! Answers to `429 rate_limited`: the server refused the request before doing anything, so it
//! may always be repeated. A short `Retry-After` is waited out inside the call, the request
//! repeated (a few times at most); a long one, or one without `Retry-After`, is handed back as
//! the error, which is transient (`Error::is_transient`): the outbox keeps the send pending and
//! backs off, the stream reconnects with its own backoff, a resync is retried later. Nothing
//! is ever dropped because of a 429.

use std::time::Duration;

/// How many times one request is repeated after short `Retry-After` answers.
pub(crate) const RATE_LIMIT_RETRIES: u32 = 3;
/// The longest `Retry-After` waited for inside one call.
pub(crate) const MAX_RETRY_AFTER_WAIT: Duration = Duration::from_secs(5);

/// How long to wait before repeating a request answered `status` with these headers: `Some`
/// only for a 429 whose `Retry-After` (delay-seconds) is at most [`MAX_RETRY_AFTER_WAIT`].
pub(crate) fn retry_after_wait(
    status: u16,
    headers: &reqwest::header::HeaderMap,
) -> Option<Duration> {
    if status != 429 {
        return None;
    }
    let seconds: u64 = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    let wait = Duration::from_secs(seconds);
    (wait <= MAX_RETRY_AFTER_WAIT).then_some(wait)
}

/// Sends `request`, repeating it after short `Retry-After` waits; returns the first answer
/// that is not such a 429 (or the last one). `refused` is told of every answer waited out, so
/// the caller's request figures count it.
pub(crate) async fn send_respecting_retry_after(
    request: reqwest::RequestBuilder,
    mut refused: impl FnMut(),
) -> reqwest::Result<reqwest::Response> {
    let mut request = request;
    let mut attempt = 0;
    loop {
        let repeat = request.try_clone();
        let response = request.send().await?;
        let wait = retry_after_wait(response.status().as_u16(), response.headers());
        match (wait, repeat) {
            (Some(wait), Some(repeat)) if attempt < RATE_LIMIT_RETRIES => {
                attempt += 1;
                refused();
                tracing::info!(
                    wait_ms = wait.as_millis() as u64,
                    attempt,
                    "rate limited by the server; repeating the request after Retry-After"
                );
                drop(response);
                tokio::time::sleep(wait).await;
                request = repeat;
            }
            _ => return Ok(response),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderMap, HeaderValue, RETRY_AFTER};

    fn headers(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn only_a_short_retry_after_of_a_429_is_waited_for() {
        assert_eq!(
            retry_after_wait(429, &headers("1")),
            Some(Duration::from_secs(1))
        );
        assert_eq!(
            retry_after_wait(429, &headers("5")),
            Some(MAX_RETRY_AFTER_WAIT)
        );
        assert_eq!(retry_after_wait(429, &headers("6")), None);
        assert_eq!(retry_after_wait(429, &headers("soon")), None);
        assert_eq!(retry_after_wait(429, &HeaderMap::new()), None);
        // A 503 may hide a request that was carried out: never repeated here.
        assert_eq!(retry_after_wait(503, &headers("1")), None);
    }
}
