//! Request limits: per-token rate limits ([`RateLimits`], token buckets from `governor`,
//! checked right after authentication) and the layers every request passes through
//! ([`overload_layers`]: tower's load shedding, global concurrency limit and timeout).
//!
//! Every refusal is the protocol's JSON error with `Retry-After`: `429 rate_limited` for a
//! token over its budget, `503 overloaded` when the server is at its concurrency limit or a
//! request did not finish in time.

use crate::config::{RateLimit, ServerConfig};
use crate::http::error::ApiError;
use axum::Router;
use axum::error_handling::HandleErrorLayer;
use axum::http::Method;
use governor::clock::Clock;
use governor::{DefaultKeyedRateLimiter, Quota};
use roost_proto::{ErrorKind, UserId};
use std::num::NonZeroU32;
use std::time::Duration;
use tower::limit::GlobalConcurrencyLimitLayer;
use tower::{BoxError, ServiceBuilder};

/// How long a client shed by the concurrency limit or the timeout should wait.
const OVERLOADED_RETRY_AFTER_SECS: u64 = 1;

/// One bucket per token (keyed by its user: a user has exactly one token) for reads and one
/// for writes. Memory is bounded by the number of users that made requests.
#[derive(Debug)]
pub struct RateLimits {
    reads: Option<Bucket>,
    writes: Option<Bucket>,
}

#[derive(Debug)]
struct Bucket {
    limiter: DefaultKeyedRateLimiter<UserId>,
    limit: RateLimit,
}

impl Bucket {
    /// `None` for a limit that allows nothing (a zero rate or burst means "no limit").
    fn new(limit: Option<RateLimit>) -> Option<Bucket> {
        let limit = limit?;
        let burst = NonZeroU32::new(limit.burst)?;
        if !(limit.per_second.is_finite() && limit.per_second > 0.0) {
            return None;
        }
        let quota =
            Quota::with_period(Duration::from_secs_f64(1.0 / limit.per_second))?.allow_burst(burst);
        Some(Bucket {
            limiter: DefaultKeyedRateLimiter::keyed(quota),
            limit,
        })
    }

    fn check(&self, user: &UserId, what: &str) -> Result<(), ApiError> {
        match self.limiter.check_key(user) {
            Ok(()) => Ok(()),
            Err(not_until) => {
                let wait = not_until.wait_time_from(self.limiter.clock().now());
                Err(ApiError::retry_after(
                    ErrorKind::RateLimited,
                    format!(
                        "too many {what} for this token (at most {} at once, then {} per second)",
                        self.limit.burst, self.limit.per_second
                    ),
                    wait.as_secs_f64().ceil() as u64,
                ))
            }
        }
    }
}

impl RateLimits {
    pub fn new(config: &ServerConfig) -> Self {
        RateLimits {
            reads: Bucket::new(config.read_rate_limit),
            writes: Bucket::new(config.write_rate_limit),
        }
    }

    /// Charges one request of `user` to its read budget (GET, HEAD: the stream upgrade
    /// included) or its write budget (everything else): `429 rate_limited` with
    /// `Retry-After` when that budget is spent.
    pub fn check(&self, user: &UserId, method: &Method) -> Result<(), ApiError> {
        let (bucket, what) = if method == Method::GET || method == Method::HEAD {
            (&self.reads, "reads")
        } else {
            (&self.writes, "writes")
        };
        match bucket {
            Some(bucket) => bucket.check(user, what),
            None => Ok(()),
        }
    }

    /// Forgets the buckets that are full again (a user idle long enough is as new).
    pub fn forget_idle(&self) {
        for bucket in [&self.reads, &self.writes].into_iter().flatten() {
            bucket.limiter.retain_recent();
        }
    }
}

/// `router` behind the server-wide limits, outermost first: errors become our JSON answers,
/// a request over the concurrency limit is shed at once (never queued), and one that takes
/// longer than the request timeout is answered `503 overloaded`. The limit is one semaphore
/// for the whole router (`GlobalConcurrencyLimitLayer`), not one per route. A stream counts
/// only while its upgrade is answered.
pub fn with_overload_limits<S>(router: Router<S>, config: &ServerConfig) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    let timeout = if config.request_timeout.is_zero() {
        Duration::MAX
    } else {
        config.request_timeout
    };
    router.layer(
        ServiceBuilder::new()
            .layer(HandleErrorLayer::new(overload_answer))
            .load_shed()
            .layer(GlobalConcurrencyLimitLayer::new(
                config.max_concurrent_requests.max(1),
            ))
            .timeout(timeout),
    )
}

/// The answer for an error of the overload layers.
async fn overload_answer(error: BoxError) -> ApiError {
    if error.is::<tower::load_shed::error::Overloaded>() {
        ApiError::retry_after(
            ErrorKind::Overloaded,
            "the server is handling its maximum of concurrent requests",
            OVERLOADED_RETRY_AFTER_SECS,
        )
    } else if error.is::<tower::timeout::error::Elapsed>() {
        ApiError::retry_after(
            ErrorKind::Overloaded,
            "the request did not finish within the server's request timeout; a send may still \
             have been stored (retry it with the same idempotency key)",
            OVERLOADED_RETRY_AFTER_SECS,
        )
    } else {
        tracing::error!(%error, "request failed in the server's limits");
        ApiError::internal()
    }
}
