//! The first sign-in's check against real peers on 127.0.0.1: a closed port, a plain HTTP
//! server that is not Roost, a peer that does not speak HTTP, a Roost-like server of another
//! protocol version, a silent peer, TLS to a plain-HTTP port, and the real Roost server with a
//! refused and an accepted token. Each failure must carry the sentence a person reads.

use roost_core::sign_in::{SignInTimeouts, verify_sign_in_with};
use roost_core::{SignInError, verify_sign_in};
use roost_model::human::{self, UnreachableReason};
use roost_server::testing::spawn_test_server;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::Duration;

/// A port nothing listens on (bound, then released).
fn closed_port_url() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}

/// A peer on 127.0.0.1 that answers every connection with `reply` (raw bytes) after reading
/// the request head; `None` accepts and never answers.
fn peer(reply: Option<&'static [u8]>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let Some(reply) = reply else {
                held.push(stream); // keep it open, say nothing
                continue;
            };
            let mut head = Vec::new();
            let mut buf = [0u8; 1024];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => head.extend_from_slice(&buf[..n]),
                }
            }
            let _ = stream.write_all(reply);
        }
    });
    url
}

fn http_reply(status: &str, content_type: &str, body: &str) -> &'static [u8] {
    let text = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    Box::leak(text.into_bytes().into_boxed_slice())
}

/// A peer that answers every request with one HTTP response.
fn http_peer(status: &str, content_type: &str, body: &str) -> String {
    peer(Some(http_reply(status, content_type, body)))
}

/// Signs in at `url` with any token, which must fail the check that the peer is a Roost server.
async fn assert_not_a_roost_server(url: &str) -> SignInError {
    let error = verify_sign_in(url, "any").await.unwrap_err();
    assert!(
        matches!(error, SignInError::NotRoostServer { .. }),
        "{error:?}"
    );
    error
}

#[tokio::test]
async fn a_closed_port_is_unreachable_with_connection_refused() {
    let url = closed_port_url();
    let error = verify_sign_in(&url, "bogus-token").await.unwrap_err();
    assert!(
        matches!(&error, SignInError::Unreachable { reason: UnreachableReason::ConnectionRefused, url: u, .. } if *u == url),
        "{error:?}"
    );
    assert_eq!(error.kind(), "offline");
    let text = error.to_string();
    assert!(
        text.starts_with(&format!("Can't reach {url}: the connection was refused")),
        "{text}"
    );
}

#[tokio::test]
async fn a_web_server_that_is_not_roost_is_said_to_be_not_a_roost_server() {
    let html = http_peer("200 OK", "text/html", "<html><body>It works!</body></html>");
    let error = assert_not_a_roost_server(&html).await;
    assert_eq!(error.kind(), "not_roost_server");
    assert_eq!(error.to_string(), human::not_a_roost_server(&html));

    assert_not_a_roost_server(&http_peer("404 Not Found", "text/plain", "no such page")).await;
}

#[tokio::test]
async fn a_peer_that_does_not_speak_http_is_not_a_roost_server() {
    let ssh = peer(Some(b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n"));
    assert_not_a_roost_server(&ssh).await;
}

#[tokio::test]
async fn a_roost_server_of_another_protocol_version_is_named_with_both_versions() {
    let newer = http_peer(
        "200 OK",
        "application/json",
        r#"{"status":"ok","protocol":2}"#,
    );
    let error = verify_sign_in(&newer, "any").await.unwrap_err();
    assert_eq!(
        error,
        SignInError::ProtocolVersion {
            url: newer.clone(),
            server_protocol: 2
        }
    );
    assert_eq!(error.kind(), "protocol_version");
    assert!(error.to_string().contains("protocol version 2"));
}

#[tokio::test]
async fn a_silent_peer_times_out() {
    let silent = peer(None);
    let timeouts = SignInTimeouts {
        connect: Duration::from_secs(5),
        request: Duration::from_millis(300),
    };
    let error = verify_sign_in_with(&silent, "any", timeouts)
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            SignInError::Unreachable {
                reason: UnreachableReason::TimedOut,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(error.to_string().contains("did not answer in time"));
}

#[tokio::test]
async fn https_to_a_plain_http_port_is_a_tls_failure() {
    let server = spawn_test_server().await;
    let url = server.base_url().replace("http://", "https://");
    let error = verify_sign_in(&url, &server.token("alice"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            SignInError::Unreachable {
                reason: UnreachableReason::Tls,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(error.to_string().contains("secure connection"));
}

#[tokio::test]
async fn an_unresolvable_name_is_said_in_plain_words() {
    // `.invalid` never resolves (RFC 2606). https: plain http to such a host is refused
    // before any lookup (see below).
    let error = verify_sign_in("https://roost.invalid:7878", "any")
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            SignInError::Unreachable {
                reason: UnreachableReason::NameNotFound,
                ..
            }
        ),
        "{error:?}"
    );
}

#[tokio::test]
async fn the_real_server_refuses_a_bogus_token_and_accepts_a_real_one() {
    let server = spawn_test_server().await;
    let url = server.base_url();
    let error = verify_sign_in(&url, "bogus-token").await.unwrap_err();
    assert_eq!(error, SignInError::TokenRefused);
    assert_eq!(error.kind(), "unauthorized");
    assert_eq!(error.to_string(), human::TOKEN_REFUSED);
    assert!(!error.to_string().contains("bogus-token"));

    let me = verify_sign_in(&format!("{url}/"), &server.token("alice"))
        .await
        .unwrap();
    assert_eq!(me.user_id.as_str(), "alice");
}

#[tokio::test]
async fn a_url_that_is_not_http_is_refused_before_any_request() {
    for url in ["127.0.0.1:7878", "ftp://example.org", "http://"] {
        let error = verify_sign_in(url, "any").await.unwrap_err();
        assert!(
            matches!(error, SignInError::InvalidUrl { .. }),
            "{url}: {error:?}"
        );
        assert_eq!(error.kind(), "invalid_input");
        assert!(error.to_string().contains("http://host:port"), "{error}");
    }
}

#[test]
fn every_sign_in_kind_has_a_sentence() {
    let errors = [
        SignInError::InvalidUrl {
            message: "x".into(),
        },
        SignInError::Unreachable {
            url: "u".into(),
            reason: UnreachableReason::Network,
            detail: String::new(),
        },
        SignInError::NotRoostServer {
            url: "u".into(),
            detail: String::new(),
        },
        SignInError::ProtocolVersion {
            url: "u".into(),
            server_protocol: 2,
        },
        SignInError::TokenRefused,
        SignInError::ServerFailed {
            url: "u".into(),
            status: 503,
            detail: String::new(),
        },
    ];
    for error in errors {
        assert!(human::KINDS.contains(&error.kind()), "{}", error.kind());
        assert_ne!(human::sentence(error.kind()), human::FALLBACK);
    }
}

/// The sign-in check sends the token (`GET /v1/me`): over plain `http://` to a host that is not
/// loopback it would cross the network unencrypted, so the check refuses the address before
/// any request, as the client itself does (`Api::new`; the CLI's `--insecure-http` is the only
/// way past it, and the desktop app has none).
#[tokio::test]
async fn plain_http_to_a_non_loopback_host_is_refused_before_the_token_is_sent() {
    let error = verify_sign_in("http://roost.invalid:7878", "secret-token")
        .await
        .unwrap_err();
    assert!(matches!(error, SignInError::InvalidUrl { .. }), "{error:?}");
    assert_eq!(error.kind(), "invalid_input");
    assert!(error.to_string().contains("https://"), "{error}");
}

/// An answer announcing more than `MAX_RESPONSE_BODY_BYTES` is refused without reading it.
#[tokio::test]
async fn an_oversized_answer_is_refused_not_read() {
    let huge = roost_proto::MAX_RESPONSE_BODY_BYTES + 1;
    let reply = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {huge}\r\n\r\n{{\"status\":"
    );
    let liar = peer(Some(Box::leak(reply.into_bytes().into_boxed_slice())));
    let error = verify_sign_in(&liar, "any").await.unwrap_err();
    match &error {
        SignInError::NotRoostServer { detail, .. } => {
            assert!(detail.contains("over 16777216 bytes"), "{detail}")
        }
        other => panic!("expected not a Roost server, got {other:?}"),
    }
}
