//! What the desktop app is told: client events become UI events whose messages are read back
//! from the cache, so the screen always shows the merge rule's winner.

mod common;

use common::*;
use roost_core::app_view::ui_events;
use roost_core::{ClientEvent, OutboxEntry, OutboxState, WindowItem};
use roost_model::app::UiEvent;

/// Defect: a send's answer was pushed to the UI as is. When the cache already held a newer
/// version (the stream delivered an edit first), the screen showed the older copy.
#[tokio::test]
async fn a_send_answer_older_than_the_cached_copy_shows_the_cached_copy() {
    let ts = spawn_test_server().await;
    let chat = ts.create_chat("answers", &["alice", "bob"]).await;
    let sent = ts.send("alice", chat, "first words").await;
    let edited = ts.edit("alice", chat, sent.id, "second thoughts").await;
    assert!(edited.version > sent.version);
    let (last_seq, rev) = ts.chat_position(chat).await;
    let cache = CacheDir::new();
    seed_cache(
        &cache.path(),
        chat,
        std::slice::from_ref(&edited),
        (last_seq, rev),
    )
    .await;
    let (client, _) = client_with_cache(&ts, "alice", &cache.path()).await;

    let delivered = ClientEvent::OutboxChanged {
        entry: OutboxEntry {
            local_id: "local-1".into(),
            chat_id: chat,
            idempotency_key: "key-1".into(),
            body: serde_json::json!({"text": "first words"}),
            state: OutboxState::Delivered,
            attempts: 1,
            last_error: None,
            created_at: 0,
        },
        message: Some(sent.clone()),
    };
    let events = ui_events(&client, delivered).await;
    let shown: Vec<u64> = events
        .iter()
        .filter_map(|e| match e {
            UiEvent::WindowChanged { items, .. } => Some(items),
            _ => None,
        })
        .flatten()
        .filter_map(|item| match item {
            WindowItem::Message { message } => Some(message.version),
            _ => None,
        })
        .collect();
    assert_eq!(shown, vec![edited.version], "{events:?}");
    assert!(matches!(events.last(), Some(UiEvent::Outbox { .. })));
}
