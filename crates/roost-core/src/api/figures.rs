//! Counting what crossed the wire: requests made and response-body bytes received, for the
//! client as a whole and for one operation ([`super::Api::scoped`]).

use serde::Serialize;
use std::sync::atomic::{AtomicU64, Ordering};

/// Requests made and response-body bytes received by this client, since it was created.
#[derive(Debug, Default)]
pub struct RequestFigures {
    pub(super) requests: AtomicU64,
    pub(super) bytes: AtomicU64,
}

/// A copy of [`RequestFigures`] at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct FiguresSnapshot {
    pub requests: u64,
    pub bytes_received: u64,
}

impl FiguresSnapshot {
    /// Figures since `earlier`.
    pub fn since(self, earlier: FiguresSnapshot) -> FiguresSnapshot {
        FiguresSnapshot {
            requests: self.requests.saturating_sub(earlier.requests),
            bytes_received: self.bytes_received.saturating_sub(earlier.bytes_received),
        }
    }
}

impl RequestFigures {
    pub fn snapshot(&self) -> FiguresSnapshot {
        FiguresSnapshot {
            requests: self.requests.load(Ordering::Relaxed),
            bytes_received: self.bytes.load(Ordering::Relaxed),
        }
    }
}
