//! Per-route request figures, readable by tests: how many requests, how many messages and how
//! many response-body bytes each route answered. Bytes are counted on the exact body sent (the
//! HTTP body a client reads, i.e. its Content-Length); for `stream` they are the text frames
//! pushed on WebSockets and `messages` counts `message` frames.

use std::collections::BTreeMap;
use std::sync::Mutex;

/// Figures of one route (or the total).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RouteFigures {
    pub requests: u64,
    pub messages: u64,
    pub bytes: u64,
}

impl RouteFigures {
    fn add(&mut self, other: RouteFigures) {
        self.requests += other.requests;
        self.messages += other.messages;
        self.bytes += other.bytes;
    }
}

/// A point-in-time copy of [`Metrics`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MetricsSnapshot {
    pub routes: BTreeMap<String, RouteFigures>,
}

impl MetricsSnapshot {
    /// Figures of one route name ("health", "me", "chats", "create_chat", "chat", "range",
    /// "changes", "send", "edit", "delete", "stream", "other"); zero when never hit.
    pub fn route(&self, name: &str) -> RouteFigures {
        self.routes.get(name).copied().unwrap_or_default()
    }
    /// Sum over all routes.
    pub fn total(&self) -> RouteFigures {
        let mut total = RouteFigures::default();
        for figures in self.routes.values() {
            total.add(*figures);
        }
        total
    }
}

/// Shared, thread-safe counters (one per server).
#[derive(Debug, Default)]
pub struct Metrics {
    routes: Mutex<BTreeMap<String, RouteFigures>>,
}

impl Metrics {
    pub fn new() -> Self {
        Self::default()
    }

    /// Records one answered request.
    pub fn record_request(&self, route: &str, messages: u64, bytes: u64) {
        self.add(
            route,
            RouteFigures {
                requests: 1,
                messages,
                bytes,
            },
        );
    }

    /// Records a frame pushed on a stream (not a request).
    pub fn record_stream_frame(&self, messages: u64, bytes: u64) {
        self.add(
            "stream",
            RouteFigures {
                requests: 0,
                messages,
                bytes,
            },
        );
    }

    fn add(&self, route: &str, figures: RouteFigures) {
        let mut routes = self
            .routes
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        routes.entry(route.to_owned()).or_default().add(figures);
    }

    pub fn snapshot(&self) -> MetricsSnapshot {
        let routes = self
            .routes
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        MetricsSnapshot {
            routes: routes.clone(),
        }
    }

    pub fn reset(&self) {
        self.routes
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clear();
    }
}
