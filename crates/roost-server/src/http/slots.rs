//! The stream connection caps: a slot is taken before a WebSocket upgrade and given back when
//! the connection ends (its [`StreamSlot`] is dropped), so neither one user nor everyone
//! together can hold more streams than the config allows.

use crate::http::error::ApiError;
use roost_proto::{ErrorKind, UserId};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// How long a refused client should wait before connecting again.
const RETRY_AFTER_SECS: u64 = 5;

/// Streams held per user and in all.
#[derive(Debug, Default)]
pub struct StreamSlots {
    held: Mutex<Held>,
}

#[derive(Debug, Default)]
struct Held {
    total: usize,
    per_user: HashMap<UserId, usize>,
}

/// One held stream slot; dropping it frees the slot.
#[derive(Debug)]
pub struct StreamSlot {
    slots: Arc<StreamSlots>,
    user: UserId,
}

impl StreamSlots {
    /// Takes a slot for `user`, or answers `429 rate_limited` (the user's cap) or `503
    /// overloaded` (the server's cap), both with `Retry-After`.
    pub fn take(
        self: &Arc<Self>,
        user: &UserId,
        max_total: usize,
        max_per_user: usize,
    ) -> Result<StreamSlot, ApiError> {
        let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        if held.total >= max_total {
            return Err(ApiError::retry_after(
                ErrorKind::Overloaded,
                format!("the server holds its maximum of {max_total} streams"),
                RETRY_AFTER_SECS,
            ));
        }
        let mine = held.per_user.get(user).copied().unwrap_or(0);
        if mine >= max_per_user {
            return Err(ApiError::retry_after(
                ErrorKind::RateLimited,
                format!("this user already holds its maximum of {max_per_user} streams"),
                RETRY_AFTER_SECS,
            ));
        }
        held.total += 1;
        held.per_user.insert(user.clone(), mine + 1);
        Ok(StreamSlot {
            slots: self.clone(),
            user: user.clone(),
        })
    }
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let mut held = self.slots.held.lock().unwrap_or_else(|e| e.into_inner());
        held.total = held.total.saturating_sub(1);
        if let Some(count) = held.per_user.get_mut(&self.user) {
            *count -= 1;
            if *count == 0 {
                held.per_user.remove(&self.user);
            }
        }
    }
}
