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

#[test]
fn plain_http_to_a_non_loopback_host_is_refused_unless_allowed() {
    for safe in [
        "http://127.0.0.1:7878",
        "http://localhost:7878",
        "http://[::1]:7878",
        "https://roost.example.org",
    ] {
        assert!(Api::new(ApiConfig::new(safe, "t")).is_ok(), "{safe}");
    }
    for unsafe_url in ["http://roost.example.org", "http://10.0.0.5:7878"] {
        let error = Api::new(ApiConfig::new(unsafe_url, "t")).unwrap_err();
        assert!(error.to_string().contains("insecure-http"), "{error}");
        let mut allowed = ApiConfig::new(unsafe_url, "t");
        allowed.allow_insecure_http = true;
        assert!(
            Api::new(allowed).is_ok(),
            "{unsafe_url} with --insecure-http"
        );
    }
}
