//! What the UI shows of the stream's connection (online / offline), from two sources that
//! race each other.
//!
//! Every change reaches the UI as an event on the shell's ordered channel (`UiEvent::Connection`,
//! and `UiEvent::Session`, whose status the shell reads under the channel's lock so it is never
//! older than an event sent before it). A command's reply (`app_status`) carries a snapshot
//! taken while the command ran, but it travels another path than the channel: it can arrive
//! after events that are newer than it. Applying the reply last would show a state the core has
//! already left — the app "offline" with the stream connected, until the next change (seen as
//! an E2E test waiting 20 s for the app to come online after launch).
//!
//! The rule: an event is always the newest word. A reply is taken only if no event was heard
//! since its request was sent; if one was, every change after the snapshot was (or will be)
//! heard as an event too, so the events alone end in the core's state.

/// The connection state the UI shows, and how many events it has heard.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionShown {
    online: bool,
    events_heard: u64,
}

/// Taken when a request whose reply carries a snapshot of the connection is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use = "the reply's snapshot is applied with `ConnectionShown::answered`"]
pub struct SnapshotAsked {
    events_heard: u64,
}

impl ConnectionShown {
    pub fn online(&self) -> bool {
        self.online
    }

    /// A change heard on the ordered channel.
    pub fn heard(&mut self, online: bool) {
        self.online = online;
        self.events_heard += 1;
    }

    /// Marks the sending of a request whose reply carries a snapshot.
    pub fn ask(&self) -> SnapshotAsked {
        SnapshotAsked {
            events_heard: self.events_heard,
        }
    }

    /// A reply's snapshot: applied unless an event was heard since the request was sent.
    /// Returns whether it was.
    pub fn answered(&mut self, asked: SnapshotAsked, online: bool) -> bool {
        if self.events_heard != asked.events_heard {
            return false;
        }
        self.online = online;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_reply_older_than_an_event_heard_after_the_request_is_not_shown() {
        let mut shown = ConnectionShown::default();
        let asked = shown.ask();
        // The snapshot was taken offline; the stream connected before the reply arrived.
        shown.heard(true);
        assert!(!shown.answered(asked, false));
        assert!(shown.online());
    }

    #[test]
    fn a_reply_with_no_event_since_is_shown() {
        let mut shown = ConnectionShown::default();
        shown.heard(false);
        let asked = shown.ask();
        assert!(shown.answered(asked, true));
        assert!(shown.online());
    }

    /// One run of the race: the core changes its state at given times, each change's event is
    /// delivered in order after it, a request is sent, its snapshot taken later and its reply
    /// delivered later still.
    #[derive(Debug, Clone)]
    struct Race {
        /// (time of the change, its new state, delay before its event is delivered).
        changes: Vec<(u32, bool, u32)>,
        asked_at: u32,
        snapshot_after: u32,
        reply_after: u32,
    }

    fn race() -> impl Strategy<Value = Race> {
        (
            proptest::collection::vec((0u32..100, any::<bool>(), 0u32..50), 0..8),
            0u32..100,
            0u32..50,
            0u32..50,
        )
            .prop_map(|(mut changes, asked_at, snapshot_after, reply_after)| {
                changes.sort_by_key(|c| c.0);
                Race {
                    changes,
                    asked_at,
                    snapshot_after,
                    reply_after,
                }
            })
    }

    proptest! {
        /// Whatever the order in which the reply and the events arrive, once everything has
        /// arrived the UI shows the core's state (the channel keeps the events in order; the
        /// reply comes by another path).
        #[test]
        fn the_ui_ends_in_the_cores_state(race in race(), reply_first_on_ties in any::<bool>()) {
            let snapshot_at = race.asked_at + race.snapshot_after;
            let reply_at = snapshot_at + race.reply_after;
            let state_at = |t: u32| {
                race.changes.iter().rev().find(|c| c.0 <= t).is_some_and(|c| c.1)
            };
            // The channel is ordered: an event is delivered no earlier than the one before it.
            let mut deliveries = Vec::new();
            let mut last_delivery = 0;
            for &(at, online, delay) in &race.changes {
                last_delivery = last_delivery.max(at + delay);
                deliveries.push((last_delivery, online));
            }
            // The UI subscribed before it asked: events delivered before the request was sent
            // were heard first. Then events and the reply in arrival order.
            let mut shown = ConnectionShown::default();
            let mut asked = None;
            let mut replied = false;
            for (at, online) in deliveries {
                if at >= race.asked_at {
                    asked.get_or_insert(shown.ask());
                }
                if !replied && (at > reply_at || (at == reply_at && reply_first_on_ties)) {
                    shown.answered(*asked.get_or_insert(shown.ask()), state_at(snapshot_at));
                    replied = true;
                }
                shown.heard(online);
            }
            if !replied {
                shown.answered(*asked.get_or_insert(shown.ask()), state_at(snapshot_at));
            }
            let core_now = race.changes.last().is_some_and(|c| c.1);
            prop_assert_eq!(shown.online(), core_now);
        }
    }
}
