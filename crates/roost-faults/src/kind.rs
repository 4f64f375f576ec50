//! The kinds of fault the proxy injects and counts ([`crate::FaultFigures`]), with the names
//! the figures and logs print.

use crate::{Hostile, RangeShape};
use std::fmt;

/// Every kind of fault the proxy counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FaultKind {
    Http503,
    HttpReset,
    HttpLoseResponse,
    HttpCutBody,
    HttpStall,
    HttpStallBody,
    /// A request held back, then forwarded ([`crate::HttpFault::Delay`]).
    HttpDelay,
    /// A request answered 403 without reaching the server ([`crate::HttpFault::Refuse`]).
    HttpRefused,
    Hostile(Hostile),
    /// A stream frame not relayed.
    StreamDrop,
    /// A stream frame relayed twice.
    StreamDuplicate,
    /// A stream frame relayed late.
    StreamDelay,
    /// A stream frame held back and relayed after a later one.
    StreamReorder,
    /// A stream connection cut by [`crate::FaultProxy::cut_streams`] (or `refuse_all`).
    StreamCut,
    /// A stream connection refused while [`crate::FaultProxy::refuse_streams`] is on.
    StreamRefused,
    /// A TCP connection reset while [`crate::FaultProxy::refuse_all`] is on.
    ConnectionRefused,
    /// A range request of a shape refused by [`crate::FaultProxy::refuse_range_shapes`] (400).
    RangeShapeRefused(RangeShape),
}

impl FaultKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FaultKind::Http503 => "http_503",
            FaultKind::HttpReset => "http_reset",
            FaultKind::HttpLoseResponse => "http_lose_response",
            FaultKind::HttpCutBody => "http_cut_body",
            FaultKind::HttpStall => "http_stall",
            FaultKind::HttpStallBody => "http_stall_body",
            FaultKind::HttpDelay => "http_delay",
            FaultKind::HttpRefused => "http_refused",
            FaultKind::Hostile(hostile) => hostile.as_str(),
            FaultKind::StreamDrop => "stream_drop",
            FaultKind::StreamDuplicate => "stream_duplicate",
            FaultKind::StreamDelay => "stream_delay",
            FaultKind::StreamReorder => "stream_reorder",
            FaultKind::StreamCut => "stream_cut",
            FaultKind::StreamRefused => "stream_refused",
            FaultKind::ConnectionRefused => "connection_refused",
            FaultKind::RangeShapeRefused(RangeShape::Seqs) => "refused_seqs_shape",
            FaultKind::RangeShapeRefused(RangeShape::Forward) => "refused_forward_shape",
            FaultKind::RangeShapeRefused(RangeShape::Backward) => "refused_backward_shape",
        }
    }
}

impl fmt::Display for FaultKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
