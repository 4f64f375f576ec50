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
