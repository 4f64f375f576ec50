//! Closing the streams of revoked and rotated tokens. `roost-server revoke-token` and
//! `rotate-token` run as separate processes (possibly against another instance's database), so
//! a serving instance cannot be told directly: each instance polls the `token_changes` journal
//! every `token_check_interval` and tells its hub which users' tokens changed; each of their
//! connections then checks its own token and closes (1008) when it is no longer current.
//! HTTP requests need none of this: the old token's hash simply no longer matches.
//!
//! The same tick forgets idle rate-limit buckets, so their memory follows the active users.

use crate::service::AppCore;
use std::collections::BTreeSet;
use std::sync::Arc;
use tokio::task::JoinHandle;

/// Starts the poller; it ends when the server shuts down.
pub fn watch_token_changes(app: Arc<AppCore>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut shutdown = app.shutdown.clone();
        let mut seen = match app.store.latest_token_change().await {
            Ok(seq) => seq,
            Err(error) => {
                tracing::error!(%error, "cannot read the token journal; revoked tokens' streams stay open until they reconnect");
                return;
            }
        };
        let mut tick = tokio::time::interval(app.config.token_check_interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = shutdown.wait_for(|down| *down) => return,
                _ = tick.tick() => {}
            }
            app.rate_limits.forget_idle();
            match app.store.token_changes_after(seen).await {
                Ok(changes) if !changes.is_empty() => {
                    let users: BTreeSet<_> = changes.iter().map(|(_, user)| user.clone()).collect();
                    seen = changes.last().map_or(seen, |(seq, _)| *seq);
                    tracing::info!(
                        users = users.len(),
                        "tokens changed; their streams re-check"
                    );
                    app.hub.tokens_changed(users.into_iter().collect());
                }
                Ok(_) => {}
                Err(error) => tracing::warn!(%error, "could not poll the token journal"),
            }
        }
    })
}
