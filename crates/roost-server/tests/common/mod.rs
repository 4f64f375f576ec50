//! Shared test helpers: a tiny HTTP client speaking to the real server like any client would.
#![allow(dead_code)]

use reqwest::{Method, StatusCode};
#[allow(unused_imports)]
pub use roost_server::testing::{
    TestBackend, TestServer, spawn_test_server, spawn_test_server_on, spawn_test_server_on_with,
    spawn_test_server_with,
};
use serde_json::Value;

/// What a test looks at in a response.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub bytes: Vec<u8>,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.bytes)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.bytes)))
    }
    pub fn parse<T: serde::de::DeserializeOwned>(&self) -> T {
        serde_json::from_slice(&self.bytes).unwrap_or_else(|e| {
            panic!(
                "unexpected shape ({e}): {}",
                String::from_utf8_lossy(&self.bytes)
            )
        })
    }
    /// The `error.kind` of an error body.
    pub fn error_kind(&self) -> String {
        self.json()["error"]["kind"]
            .as_str()
            .unwrap_or_else(|| panic!("not an error body: {}", self.json()))
            .to_owned()
    }
    pub fn message_count_header(&self) -> Option<u64> {
        self.headers
            .get("x-roost-message-count")
            .map(|v| v.to_str().unwrap().parse().unwrap())
    }
}

/// A client acting as one user (or anonymous).
pub struct Client {
    pub base_url: String,
    pub token: Option<String>,
    pub http: reqwest::Client,
}

impl Client {
    pub fn new(server: &TestServer, user: &str) -> Client {
        Client {
            base_url: server.base_url(),
            token: Some(server.token(user)),
            http: reqwest::Client::new(),
        }
    }
    pub fn anonymous(server: &TestServer) -> Client {
        Client {
            base_url: server.base_url(),
            token: None,
            http: reqwest::Client::new(),
        }
    }
    /// A client of another instance (or any server) at `base_url`.
    pub fn at(base_url: &str, token: &str) -> Client {
        Client {
            base_url: base_url.to_owned(),
            token: Some(token.to_owned()),
            http: reqwest::Client::new(),
        }
    }
    pub fn with_token(server: &TestServer, token: &str) -> Client {
        Client {
            base_url: server.base_url(),
            token: Some(token.to_owned()),
            http: reqwest::Client::new(),
        }
    }

    pub fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        let builder = self
            .http
            .request(method, format!("{}{}", self.base_url, path));
        match &self.token {
            Some(token) => builder.bearer_auth(token),
            None => builder,
        }
    }

    pub async fn send_request(&self, builder: reqwest::RequestBuilder) -> Reply {
        let response = builder.send().await.expect("request failed to complete");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.expect("read body").to_vec();
        Reply {
            status,
            headers,
            bytes,
        }
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.send_request(self.request(Method::GET, path)).await
    }
    pub async fn post(&self, path: &str, body: &Value) -> Reply {
        self.send_request(self.request(Method::POST, path).json(body))
            .await
    }
    pub async fn patch(&self, path: &str, body: &Value) -> Reply {
        self.send_request(self.request(Method::PATCH, path).json(body))
            .await
    }
    pub async fn delete(&self, path: &str) -> Reply {
        self.send_request(self.request(Method::DELETE, path)).await
    }

    /// Sends `{"text": text}` with the given idempotency key.
    pub async fn send_text(&self, chat: roost_proto::ChatId, key: &str, text: &str) -> Reply {
        self.post(
            &format!("/v1/chats/{chat}/messages"),
            &serde_json::json!({"idempotency_key": key, "body": {"text": text}}),
        )
        .await
    }
}

// ------------------------------------------------------------------------------- the stream

/// A client WebSocket to `/v1/stream`.
pub type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The upgrade request for `/v1/stream` at `base_url` (`http://…`) with `token`.
pub fn stream_request(
    base_url: &str,
    token: &str,
) -> tokio_tungstenite::tungstenite::handshake::client::Request {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let url = format!("{}/v1/stream", base_url.replacen("http://", "ws://", 1));
    let mut request = url.into_client_request().unwrap();
    request
        .headers_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    request
}

/// A stream of `token` at `base_url`, upgraded (101), before its first frame.
pub async fn connect_stream(base_url: &str, token: &str) -> Socket {
    let (socket, response) = tokio_tungstenite::connect_async(stream_request(base_url, token))
        .await
        .expect("stream connects");
    assert_eq!(response.status(), 101);
    socket
}

/// [`connect_stream`] for a test server's user, past its `hello` frame.
pub async fn connect_past_hello(server: &TestServer, user: &str) -> Socket {
    let mut socket = connect_stream(&server.base_url(), &server.token(user)).await;
    match next_event(&mut socket).await {
        Some(roost_proto::StreamEvent::Hello { .. }) => socket,
        other => panic!("expected hello, got {other:?}"),
    }
}

/// The next protocol event (text frame), or `None` once the socket is closed.
pub async fn next_event(socket: &mut Socket) -> Option<roost_proto::StreamEvent> {
    use futures_util::StreamExt;
    use tokio_tungstenite::tungstenite::Message;
    loop {
        match socket.next().await? {
            Ok(Message::Text(text)) => {
                return Some(serde_json::from_str(text.as_str()).expect("a StreamEvent"));
            }
            Ok(Message::Close(_)) | Err(_) => return None,
            Ok(_) => continue,
        }
    }
}

// ------------------------------------------------------------------- requests about a chat

/// Every endpoint concerning one chat (membership ones included), with valid request bodies:
/// what "a non-member learns nothing" and "401 before anything" tests walk.
pub fn chat_endpoints(chat: &str, message: &str) -> Vec<(Method, String, Option<Value>)> {
    use serde_json::json;
    vec![
        (Method::GET, format!("/v1/chats/{chat}"), None),
        (Method::GET, format!("/v1/chats/{chat}/messages"), None),
        (
            Method::GET,
            format!("/v1/chats/{chat}/messages?seqs=1-2"),
            None,
        ),
        (
            Method::GET,
            format!("/v1/chats/{chat}/changes?since_rev=0"),
            None,
        ),
        (
            Method::POST,
            format!("/v1/chats/{chat}/messages"),
            Some(json!({"idempotency_key": "k-sent-before", "body": {"text": "mine"}})),
        ),
        (
            Method::PATCH,
            format!("/v1/chats/{chat}/messages/{message}"),
            Some(json!({"body": {"text": "x"}})),
        ),
        (
            Method::DELETE,
            format!("/v1/chats/{chat}/messages/{message}"),
            None,
        ),
        (
            Method::POST,
            format!("/v1/chats/{chat}/members"),
            Some(json!({"members": ["bob"]})),
        ),
        (
            Method::DELETE,
            format!("/v1/chats/{chat}/members/bob"),
            None,
        ),
        (
            Method::DELETE,
            format!("/v1/chats/{chat}/members/alice"),
            None,
        ),
    ]
}

/// Sends `(method, path, body)` as `client`.
pub async fn call(client: &Client, method: &Method, path: &str, body: &Option<Value>) -> Reply {
    let mut builder = client.request(method.clone(), path);
    if let Some(body) = body {
        builder = builder.json(body);
    }
    client.send_request(builder).await
}

/// Concurrent sends answered with `seqs` produced exactly `1..=count` (no duplicate, no hole),
/// and the server stores exactly those, at position `(count, count)`.
pub async fn assert_exactly_one_to(
    server: &TestServer,
    chat: roost_proto::ChatId,
    mut seqs: Vec<u64>,
    count: u64,
) {
    seqs.sort();
    let expected: Vec<u64> = (1..=count).collect();
    assert_eq!(seqs, expected, "no duplicate, no hole");
    let stored: Vec<u64> = server.messages(chat).await.iter().map(|m| m.seq).collect();
    assert_eq!(stored, expected);
    assert_eq!(server.chat_position(chat).await, (count, count));
}

/// Every endpoint concerning `chat` answers `client` exactly as for a chat that does not exist:
/// `404 not_found`, byte-identical (`message` is a message id of `chat`).
pub async fn assert_same_404_as_a_nonexistent_chat(
    client: &Client,
    chat: roost_proto::ChatId,
    message: &str,
) {
    let nonexistent = "11111111-1111-4111-8111-111111111111";
    let real = chat_endpoints(&chat.to_string(), message);
    let fake = chat_endpoints(nonexistent, message);
    for ((method, real_path, body), (_, fake_path, _)) in real.iter().zip(fake.iter()) {
        let for_real = call(client, method, real_path, body).await;
        let for_fake = call(client, method, fake_path, body).await;
        assert_eq!(for_real.status, 404, "{method} {real_path}");
        assert_eq!(for_real.error_kind(), "not_found");
        assert_eq!(
            for_real.bytes, for_fake.bytes,
            "{method} {real_path}: byte-identical to a nonexistent chat"
        );
    }
}
