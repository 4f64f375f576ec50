//! The client follows the server's paginated chat list: with more chats than one page holds,
//! `Api::chats` returns every chat, once, in as many requests as there are pages.

use roost_core::api::{Api, ApiConfig};
use roost_server::testing::spawn_test_server;
use std::collections::BTreeSet;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_chat_list_is_read_page_by_page_to_the_end() {
    let server = spawn_test_server().await;
    let total = roost_proto::DEFAULT_CHAT_PAGE_SIZE as usize + 20;
    let mut created = BTreeSet::new();
    for index in 0..total {
        created.insert(
            server
                .create_chat(&format!("chat {index}"), &["alice"])
                .await,
        );
    }
    let api = Api::new(ApiConfig::new(server.base_url(), server.token("alice"))).unwrap();
    let before = api.figures();
    let list = api.chats().await.unwrap();
    let listed: BTreeSet<_> = list.chats.iter().map(|chat| chat.id).collect();
    assert_eq!(list.chats.len(), total, "every chat once");
    assert_eq!(listed, created);
    assert_eq!(list.next_cursor, None);
    assert_eq!(
        api.figures().since(before).requests,
        2,
        "two pages, two requests"
    );
}
