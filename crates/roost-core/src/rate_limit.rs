//! Answers to `429 rate_limited`: the server refused the request before doing anything, so it
//! may always be repeated. A short `Retry-After` is waited out inside the call, the request
//! repeated (a few times at most); a long one, or one without `Retry-After`, is handed back as
//! the error, which is transient (`Error::is_transient`): the outbox keeps the send pending and
//! backs off, the stream reconnects with its own backoff, a resync is retried later. Nothing
//! is ever dropped because of a 429. A refused stream connect (429 or 503) waits at least its
//! `Retry-After` before the next attempt.

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
    let wait = parse_retry_after(headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?)?;
    (wait <= MAX_RETRY_AFTER_WAIT).then_some(wait)
}

/// The longest wait a refused stream connect honours (a larger `Retry-After` is cut to it).
pub(crate) const MAX_STREAM_RETRY_AFTER: Duration = Duration::from_secs(60);

/// How long to wait before connecting the stream again after its upgrade was refused with
/// `status` (`429` past the user's streams or its read budget, `503` at the server's cap) and
/// `Retry-After: retry_after` (delay-seconds): the reconnect waits at least that long instead
/// of knocking sooner on its backoff.
pub(crate) fn refused_upgrade_wait(status: u16, retry_after: Option<&str>) -> Option<Duration> {
    if status != 429 && status != 503 {
        return None;
    }
    Some(parse_retry_after(retry_after?)?.min(MAX_STREAM_RETRY_AFTER))
}

/// `Retry-After` as delay-seconds (the form the Roost server sends).
fn parse_retry_after(text: &str) -> Option<Duration> {
    text.trim().parse().ok().map(Duration::from_secs)
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

    #[test]
    fn a_refused_stream_connect_waits_at_least_its_retry_after() {
        assert_eq!(
            refused_upgrade_wait(429, Some("5")),
            Some(Duration::from_secs(5))
        );
        assert_eq!(
            refused_upgrade_wait(503, Some(" 2")),
            Some(Duration::from_secs(2))
        );
        assert_eq!(
            refused_upgrade_wait(503, Some("3600")),
            Some(MAX_STREAM_RETRY_AFTER)
        );
        assert_eq!(refused_upgrade_wait(429, None), None);
        assert_eq!(refused_upgrade_wait(401, Some("5")), None);
    }
}
