use super::*;
use roost_model::app::{AppStatus, OfflineCoverage};
use roost_proto::{Message, UserId};

fn chat_id() -> ChatId {
    roost_model::fixtures::chat_id(7)
}
fn entry(last_seq: Seq, state: SyncState) -> ChatEntry {
    ChatEntry {
        last_seq,
        cached_count: last_seq,
        offline: OfflineCoverage::Complete,
        sync_state: state,
        is_open: true,
        ..roost_model::fixtures::chat_entry(chat_id(), "t")
    }
}
fn message(seq: Seq) -> Message {
    Message {
        author: UserId::new("bob"),
        body: serde_json::json!({"text": seq.to_string()}),
        ..roost_model::fixtures::message(chat_id(), seq)
    }
}
fn window(last: Seq) -> ChatWindowView {
    ChatWindowView {
        chat: entry(last, SyncState::InSync),
        items: roost_model::ranges::span_items(SeqRange::new(1, last), (1..=last).map(message)),
        pending: vec![],
        has_more_before: false,
        has_more_after: false,
    }
}

/// Leaving keeps the open chat's rows and marks it left; removing it from the device drops
/// its row and closes the view.
#[test]
fn a_left_chat_stays_open_read_only_until_it_is_removed_from_the_device() {
    let mut state = UiState::default();
    state.chats_reloaded(vec![entry(3, SyncState::InSync)], 0.0);
    state.select(chat_id());
    let request = state.window_requested();
    state.window_opened(chat_id(), request, window(3));
    assert!(!state.open_is_left());
    let left = ChatEntry {
        left: true,
        ..entry(3, SyncState::InSync)
    };
    state.apply(UiEvent::ChatUpdated { chat: left }, 0.0);
    assert!(state.open_is_left());
    assert_eq!(state.open.as_ref().unwrap().items.len(), 3, "rows kept");
    assert!(state.chats[0].left);
    state.apply(UiEvent::ChatRemoved { chat_id: chat_id() }, 0.0);
    assert!(state.chats.is_empty());
    assert!(state.open.is_none() && state.selected.is_none());
}

/// What a close tells the shell the view showed of the chat left: the newest message on
/// screen (a gap after it is not shown), its rows kept while the next chat opens; nothing
/// for a chat left before its window arrived.
#[test]
fn a_chat_left_was_shown_up_to_its_newest_row_on_screen() {
    let other = roost_model::fixtures::chat_id(8);
    let mut state = UiState::default();
    assert_eq!(state.shown_through(chat_id()), 0);
    state.select(chat_id());
    let request = state.window_requested();
    state.window_opened(chat_id(), request, window(3));
    let span = SeqRange::new(4, 6);
    let items = roost_model::ranges::span_items(span, [message(4)]);
    state.apply(
        UiEvent::WindowChanged {
            chat_id: chat_id(),
            span,
            items,
        },
        0.0,
    );
    assert_eq!(state.shown_through(chat_id()), 4, "5 and 6 are a skeleton");
    assert_eq!(state.select(other), Some(Some(chat_id())));
    assert_eq!(
        state.shown_through(chat_id()),
        4,
        "its rows stay while the next opens"
    );
    assert_eq!(state.shown_through(other), 0, "its window has not arrived");
    assert_eq!(state.select(chat_id()), Some(Some(other)));
    assert_eq!(
        state.shown_through(other),
        0,
        "left before its window arrived"
    );
}

/// Defect: a `WindowChanged` that arrived while the window was being read was dropped, and
/// the `ChatUpdated` after it drew a gap skeleton over the cached message for good.
#[test]
fn a_change_that_arrives_before_the_window_is_applied_to_it() {
    let mut state = UiState::default();
    state.select(chat_id());
    let request = state.window_requested();
    let span = SeqRange::single(11);
    state.apply(
        UiEvent::WindowChanged {
            chat_id: chat_id(),
            span,
            items: vec![WindowItem::Message {
                message: message(11),
            }],
        },
        0.0,
    );
    state.apply(
        UiEvent::ChatUpdated {
            chat: entry(11, SyncState::InSync),
        },
        0.0,
    );
    // The window was read before message 11 was cached.
    assert!(state.window_opened(chat_id(), request, window(10)));
    let open = state.open.as_ref().unwrap();
    assert_eq!(open.items.len(), 11);
    assert!(
        open.items.iter().all(|i| !i.is_skeleton()),
        "{:?}",
        open.items
    );
}

/// Defect: `FetchStarted` of a chat that was not open yet was ignored, so opening a chat
/// whose reconnect resync runs showed skeletons and no indicator.
#[test]
fn a_fetch_that_started_before_the_chat_was_opened_shows_the_indicator() {
    let mut state = UiState::default();
    state.apply(UiEvent::FetchStarted { chat_id: chat_id() }, 1000.0);
    state.select(chat_id());
    let request = state.window_requested();
    assert!(state.indicator_visible(1000.0 + logic::INDICATOR_DELAY_MS));
    state.window_opened(chat_id(), request, window(3));
    assert!(state.indicator_visible(1000.0 + logic::INDICATOR_DELAY_MS));
    state.apply(
        UiEvent::FetchFinished {
            chat_id: chat_id(),
            fetched: 3,
        },
        2000.0,
    );
    assert!(!state.indicator_visible(2000.0));
}

/// Defect: a reload after the event channel lagged kept the fetch tracker, so a lost
/// `FetchFinished` left the indicator on for good. After a reload the trackers follow the
/// chat list: on for a chat the cache says is `SYNCING`, off otherwise.
#[test]
fn a_reload_after_lost_events_rebuilds_the_indicator_from_the_chat_list() {
    let mut state = UiState::default();
    state.select(chat_id());
    let request = state.window_requested();
    state.window_opened(chat_id(), request, window(3));
    state.apply(UiEvent::FetchStarted { chat_id: chat_id() }, 0.0);
    // FetchFinished is lost; the shell asks for a reload.
    assert_eq!(state.apply(UiEvent::Reload, 500.0), vec![Effect::Reload]);
    state.chats_reloaded(vec![entry(3, SyncState::InSync)], 500.0);
    assert!(!state.indicator_visible(10_000.0));
    // A fetch whose FetchStarted was lost shows at once after the reload, and ends with it.
    state.apply(UiEvent::Reload, 600.0);
    state.chats_reloaded(vec![entry(3, SyncState::Syncing)], 600.0);
    assert!(state.indicator_visible(600.0));
    state.apply(
        UiEvent::SyncState {
            chat_id: chat_id(),
            state: SyncState::InSync,
        },
        700.0,
    );
    assert!(!state.indicator_visible(700.0));
}

fn other_chat_id() -> ChatId {
    roost_model::fixtures::chat_id(8)
}
fn other_entry(last_seq: Seq) -> ChatEntry {
    ChatEntry {
        last_seq,
        cached_count: last_seq,
        offline: OfflineCoverage::Complete,
        ..roost_model::fixtures::chat_entry(other_chat_id(), "other")
    }
}
fn other_window(last: Seq) -> ChatWindowView {
    let messages = (1..=last).map(|seq| Message {
        chat_id: other_chat_id(),
        ..message(seq)
    });
    ChatWindowView {
        chat: other_entry(last),
        items: roost_model::ranges::span_items(SeqRange::new(1, last), messages),
        pending: vec![],
        has_more_before: false,
        has_more_after: false,
    }
}
fn appended(chat_id: ChatId, seq: Seq) -> UiEvent {
    UiEvent::WindowChanged {
        chat_id,
        span: SeqRange::single(seq),
        items: vec![WindowItem::Message {
            message: Message {
                chat_id,
                ..message(seq)
            },
        }],
    }
}

/// Issue 11 (click → paint): selecting another chat rendered an empty "opening" view until
/// its window arrived. The previous chat's rows stay, current, until the window replaces
/// them; the view does not count them as the selected chat's (readiness).
#[test]
fn the_previous_chats_rows_stay_until_the_selected_chats_window_arrives() {
    let mut state = UiState::default();
    state.chats_reloaded(vec![entry(3, SyncState::InSync), other_entry(2)], 0.0);
    state.select(chat_id());
    let request = state.window_requested();
    state.window_opened(chat_id(), request, window(3));
    assert!(state.open_is_selected());

    assert_eq!(state.select(other_chat_id()), Some(Some(chat_id())));
    let request = state.window_requested();
    assert_eq!(
        state.open_chat_id(),
        Some(chat_id()),
        "the previous rows stay"
    );
    assert!(!state.open_is_selected());
    assert!(!state.readiness(true, false).window_loaded);
    // A live message of the chat on screen still shows; one of the chat opening is kept
    // for its window.
    assert_eq!(
        state.apply(appended(chat_id(), 4), 0.0),
        vec![Effect::RowsChanged, Effect::RefreshCacheMap(chat_id())]
    );
    assert_eq!(state.open.as_ref().unwrap().items.len(), 4);
    state.apply(appended(other_chat_id(), 3), 0.0);
    assert_eq!(state.open.as_ref().unwrap().items.len(), 4);

    assert!(state.window_opened(other_chat_id(), request, other_window(2)));
    let open = state.open.as_ref().unwrap();
    assert_eq!(open.chat.chat_id, other_chat_id());
    assert_eq!(open.items.len(), 3, "the message that came while it opened");
    assert!(state.open_is_selected());
    assert!(state.readiness(true, true).window_loaded);
}

/// The previous chat, still on screen while another opens, removed from the device: its
/// rows go at once.
#[test]
fn removing_the_chat_still_on_screen_while_another_opens_clears_its_rows() {
    let mut state = UiState::default();
    state.chats_reloaded(vec![entry(3, SyncState::InSync), other_entry(2)], 0.0);
    state.select(chat_id());
    let request = state.window_requested();
    state.window_opened(chat_id(), request, window(3));
    state.select(other_chat_id());
    let request = state.window_requested();
    state.apply(UiEvent::ChatRemoved { chat_id: chat_id() }, 0.0);
    assert!(state.open.is_none());
    assert_eq!(state.selected, Some(other_chat_id()));
    assert!(state.window_opened(other_chat_id(), request, other_window(2)));
}

/// The `ChatUpdated`s of a close and of a re-open with nothing unread differ from the
/// listed row only in `is_open`: they change nothing shown (the app applies them without a
/// render). Any other difference is a change.
#[test]
fn only_an_open_flag_change_counts_as_changing_nothing_shown() {
    let mut state = UiState::default();
    state.chats_reloaded(vec![entry(3, SyncState::InSync), other_entry(2)], 0.0);
    state.select(chat_id());
    let request = state.window_requested();
    state.window_opened(chat_id(), request, window(3));
    let closed = ChatEntry {
        is_open: false,
        ..entry(3, SyncState::InSync)
    };
    let event = UiEvent::ChatUpdated {
        chat: closed.clone(),
    };
    assert!(state.changes_nothing_shown(&event));
    let before = state.clone();
    state.apply(event, 0.0);
    let flag = |s: &UiState| {
        (
            s.chats
                .iter()
                .find(|c| c.chat_id == chat_id())
                .unwrap()
                .is_open,
            s.open.as_ref().unwrap().chat.is_open,
        )
    };
    assert_eq!(flag(&state), (false, false), "the state follows the store");
    let mut reverted = state.clone();
    for c in &mut reverted.chats {
        if c.chat_id == chat_id() {
            c.is_open = true;
        }
    }
    reverted.open.as_mut().unwrap().chat.is_open = true;
    assert_eq!(reverted, before, "nothing else changed");

    let changes = [
        ChatEntry {
            unread_count: 1,
            ..closed.clone()
        },
        ChatEntry {
            last_seq: 4,
            ..closed.clone()
        },
        ChatEntry {
            title: "renamed".into(),
            ..closed.clone()
        },
        ChatEntry {
            sync_state: SyncState::Syncing,
            ..closed.clone()
        },
    ];
    for chat in changes {
        assert!(!state.changes_nothing_shown(&UiEvent::ChatUpdated { chat }));
    }
    // A chat not listed yet is new.
    let unknown = ChatEntry {
        chat_id: roost_model::fixtures::chat_id(9),
        ..closed
    };
    assert!(!state.changes_nothing_shown(&UiEvent::ChatUpdated { chat: unknown }));
    assert!(!state.changes_nothing_shown(&appended(chat_id(), 4)));
}

#[test]
fn signing_out_forgets_everything() {
    let mut state = UiState::default();
    state.select(chat_id());
    let request = state.window_requested();
    state.window_opened(chat_id(), request, window(3));
    state.apply(
        UiEvent::Session {
            status: AppStatus {
                signed_in: false,
                server_url: None,
                user_id: None,
                online: false,
            },
        },
        0.0,
    );
    assert_eq!(state, UiState::default());
}
