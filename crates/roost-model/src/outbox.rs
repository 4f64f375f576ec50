//! Delivery states of an unsent message (the outbox), shared by the cache, the IPC contract and
//! the UI.

use serde::{Deserialize, Serialize};

/// Delivery state of an unsent message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutboxState {
    Pending,
    Sending,
    Failed,
    /// Not stored: the server's copy replaced the entry (events only).
    Delivered,
}

impl OutboxState {
    /// The stored spelling (`outbox.state`).
    pub fn as_str(self) -> &'static str {
        match self {
            OutboxState::Pending => "pending",
            OutboxState::Sending => "sending",
            OutboxState::Failed => "failed",
            OutboxState::Delivered => "delivered",
        }
    }

    /// Reads the stored spelling; anything unknown is pending (it will be delivered again,
    /// idempotently).
    pub fn parse(s: &str) -> OutboxState {
        match s {
            "sending" => OutboxState::Sending,
            "failed" => OutboxState::Failed,
            _ => OutboxState::Pending,
        }
    }
}
