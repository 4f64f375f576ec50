//! The fault proxy against the real server: every fault kind observably happens.

use futures_util::StreamExt;
use roost_faults::{FaultKind, FaultProxy, Hostile, HttpFault, Route, Scope, StreamFaults};
use roost_proto::{ChangesResponse, ChatId, Message, MessagesPage, StreamEvent};
use roost_server::testing::{TestServer, spawn_test_server};
use std::time::Duration;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

async fn setup(messages: usize) -> (TestServer, FaultProxy, ChatId) {
    let server = spawn_test_server().await;
    let proxy = FaultProxy::start(server.addr(), 7).await;
    let chat = server.create_chat("faults", &["alice", "bob"]).await;
    if messages > 0 {
        server.send_many("bob", chat, messages).await;
    }
    (server, proxy, chat)
}

async fn get(
    proxy: &FaultProxy,
    server: &TestServer,
    path: &str,
) -> reqwest::Result<reqwest::Response> {
    http()
        .get(format!("{}{}", proxy.base_url(), path))
        .bearer_auth(server.token("alice"))
        .send()
        .await
}

async fn range(
    proxy: &FaultProxy,
    server: &TestServer,
    chat: ChatId,
    query: &str,
) -> reqwest::Result<bytes::Bytes> {
    get(proxy, server, &format!("/v1/chats/{chat}/messages?{query}"))
        .await?
        .error_for_status()?
        .bytes()
        .await
}

/// The range page for `query` with `hostile` injected into it, decoded (the body must parse).
async fn hostile_range_page(
    proxy: &FaultProxy,
    server: &TestServer,
    chat: ChatId,
    query: &str,
    hostile: Hostile,
) -> MessagesPage {
    proxy.fail_next(Scope::route(Route::Range), 1, HttpFault::Hostile(hostile));
    serde_json::from_slice(&range(proxy, server, chat, query).await.unwrap()).unwrap()
}

async fn connect_stream(proxy: &FaultProxy, token: &str) -> Ws {
    let mut request = format!("ws://{}/v1/stream", proxy.addr())
        .into_client_request()
        .unwrap();
    request
        .headers_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    let (mut ws, _) = tokio_tungstenite::connect_async(request)
        .await
        .expect("stream through the proxy");
    match next_event(&mut ws, Duration::from_secs(5)).await {
        Some(StreamEvent::Hello { .. }) => {}
        other => panic!("expected hello first, got {other:?}"),
    }
    ws
}

/// The next `message`/`chat`/`hello` event, skipping heartbeats; `None` on timeout or close.
async fn next_event(ws: &mut Ws, within: Duration) -> Option<StreamEvent> {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let frame = tokio::time::timeout_at(deadline, ws.next())
            .await
            .ok()??
            .ok()?;
        if let tokio_tungstenite::tungstenite::Message::Text(text) = frame {
            let event: StreamEvent = serde_json::from_str(&text).expect("a valid stream event");
            if !matches!(event, StreamEvent::Heartbeat { .. }) {
                return Some(event);
            }
        }
    }
}

/// `(seq, version)` of the next message events until `within` passes without one.
async fn collect_messages(ws: &mut Ws, within: Duration) -> Vec<(u64, u64)> {
    let mut seen = Vec::new();
    while let Some(event) = next_event(ws, within).await {
        if let StreamEvent::Message { message, .. } = event {
            seen.push((message.seq, message.version));
        }
    }
    seen
}

#[tokio::test]
async fn plain_forwarding_is_transparent() {
    let (server, proxy, chat) = setup(12).await;
    let page: MessagesPage = serde_json::from_slice(
        &range(&proxy, &server, chat, "from_seq=1&limit=5")
            .await
            .unwrap(),
    )
    .unwrap();
    let direct: MessagesPage = http()
        .get(format!(
            "{}/v1/chats/{chat}/messages?from_seq=1&limit=5",
            server.base_url()
        ))
        .bearer_auth(server.token("alice"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(page, direct);
    assert_eq!(page.messages.len(), 5);
    // A POST with a body is forwarded too.
    let sent = http()
        .post(format!("{}/v1/chats/{chat}/messages", proxy.base_url()))
        .bearer_auth(server.token("alice"))
        .json(&serde_json::json!({ "idempotency_key": "k1", "body": { "text": "via proxy" } }))
        .send()
        .await
        .unwrap();
    assert_eq!(sent.status(), 201, "{:?}", sent.text().await);
    assert_eq!(
        server.messages(chat).await.last().unwrap().text(),
        Some("via proxy")
    );
    // Errors pass through unchanged (401 without a token).
    let unauthorized = http()
        .get(format!("{}/v1/chats", proxy.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(unauthorized.status(), 401);
    assert_eq!(proxy.figures().total_faults(), 0);
    assert_eq!(proxy.figures().http_forwarded, 3);
}

#[tokio::test]
async fn status_503_hits_exactly_the_next_n_and_never_reaches_the_server() {
    let (server, proxy, chat) = setup(3).await;
    server.reset_metrics();
    proxy.fail_next(Scope::route(Route::Range), 2, HttpFault::Status503);
    // Other routes are untouched.
    assert_eq!(
        get(&proxy, &server, "/v1/chats").await.unwrap().status(),
        200
    );
    for _ in 0..2 {
        let response = get(&proxy, &server, &format!("/v1/chats/{chat}/messages"))
            .await
            .unwrap();
        assert_eq!(response.status(), 503);
        let body: roost_proto::ErrorBody = response.json().await.unwrap();
        assert_eq!(body.error.kind, roost_proto::ErrorKind::Internal);
    }
    assert_eq!(
        get(&proxy, &server, &format!("/v1/chats/{chat}/messages"))
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(proxy.figures().count(FaultKind::Http503), 2);
    assert_eq!(
        server.metrics().route("range").requests,
        1,
        "a 503 never reaches the server"
    );
    assert_eq!(proxy.pending_http_faults(), 0);
}

#[tokio::test]
async fn refuse_answers_a_definite_403_and_never_reaches_the_server() {
    let (server, proxy, chat) = setup(3).await;
    server.reset_metrics();
    proxy.fail_next(Scope::route(Route::Range), 1, HttpFault::Refuse);
    let response = get(&proxy, &server, &format!("/v1/chats/{chat}/messages"))
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    let body: roost_proto::ErrorBody = response.json().await.unwrap();
    assert_eq!(body.error.kind, roost_proto::ErrorKind::Forbidden);
    assert_eq!(proxy.figures().count(FaultKind::HttpRefused), 1);
    assert_eq!(server.metrics().route("range").requests, 0);
}

#[tokio::test]
async fn delay_holds_a_request_then_forwards_it_unchanged() {
    let (server, proxy, chat) = setup(3).await;
    server.reset_metrics();
    proxy.fail_next(
        Scope::route(Route::Range),
        1,
        HttpFault::Delay(Duration::from_secs(3)),
    );
    let request = tokio::spawn({
        let (base, token) = (proxy.base_url(), server.token("alice"));
        async move {
            http()
                .get(format!("{base}/v1/chats/{chat}/messages"))
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .json::<MessagesPage>()
                .await
                .unwrap()
        }
    });
    // While held, the request has not reached the server (observed, not timed: the proxy
    // records the fault before it sleeps, and the server counts the request when it arrives).
    while proxy.figures().count(FaultKind::HttpDelay) == 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(server.metrics().route("range").requests, 0, "held back");
    let page = request.await.unwrap();
    assert_eq!(page.messages.len(), 3, "the server's own answer");
    assert_eq!(server.metrics().route("range").requests, 1);
}

#[tokio::test]
async fn reset_gives_a_connection_error_and_never_reaches_the_server() {
    let (server, proxy, chat) = setup(3).await;
    server.reset_metrics();
    proxy.fail_next(Scope::Any, 1, HttpFault::Reset);
    let error = get(&proxy, &server, &format!("/v1/chats/{chat}/messages"))
        .await
        .expect_err("reset");
    assert!(error.is_request() || error.is_connect(), "{error:?}");
    assert_eq!(server.metrics().route("range").requests, 0);
    assert_eq!(
        get(&proxy, &server, &format!("/v1/chats/{chat}/messages"))
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(proxy.figures().count(FaultKind::HttpReset), 1);
}

#[tokio::test]
async fn lose_response_applies_the_request_but_the_client_sees_an_error() {
    let (server, proxy, chat) = setup(0).await;
    proxy.fail_next(Scope::route(Route::Send), 1, HttpFault::LoseResponse);
    let send = || {
        http()
            .post(format!("{}/v1/chats/{chat}/messages", proxy.base_url()))
            .bearer_auth(server.token("alice"))
            .json(&serde_json::json!({ "idempotency_key": "same-key", "body": { "text": "once" } }))
            .send()
    };
    assert!(send().await.is_err(), "the response was lost");
    assert_eq!(
        server.messages(chat).await.len(),
        1,
        "the server did apply it"
    );
    // The retry with the same key returns the same message: still one.
    assert!(send().await.unwrap().status().is_success());
    assert_eq!(server.messages(chat).await.len(), 1);
    assert_eq!(proxy.figures().count(FaultKind::HttpLoseResponse), 1);
}

#[tokio::test]
async fn cut_body_gives_the_client_an_error_after_the_headers() {
    let (server, proxy, chat) = setup(50).await;
    proxy.fail_next(Scope::route(Route::Range), 1, HttpFault::CutBody);
    let response = get(
        &proxy,
        &server,
        &format!("/v1/chats/{chat}/messages?from_seq=1"),
    )
    .await
    .unwrap();
    assert_eq!(response.status(), 200);
    let error = response.bytes().await.expect_err("the body was cut");
    assert!(
        error.is_body() || error.is_decode() || error.is_request(),
        "{error:?}"
    );
    assert_eq!(proxy.figures().count(FaultKind::HttpCutBody), 1);
    range(&proxy, &server, chat, "from_seq=1").await.unwrap();
}

#[tokio::test]
async fn stall_and_stalled_body_never_finish() {
    let (server, proxy, chat) = setup(50).await;
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_millis(400))
        .build()
        .unwrap();
    let url = format!("{}/v1/chats/{chat}/messages", proxy.base_url());
    proxy.fail_next(Scope::route(Route::Range), 1, HttpFault::Stall);
    let error = client
        .get(&url)
        .bearer_auth(server.token("alice"))
        .send()
        .await
        .expect_err("stalled");
    assert!(error.is_timeout(), "{error:?}");
    proxy.fail_next(Scope::route(Route::Range), 1, HttpFault::StallBody);
    let response = client
        .get(&url)
        .bearer_auth(server.token("alice"))
        .send()
        .await
        .expect("the headers arrive");
    assert_eq!(response.status(), 200);
    let error = response.bytes().await.expect_err("the body never ends");
    assert!(error.is_timeout(), "{error:?}");
    let figures = proxy.figures();
    assert_eq!(
        (
            figures.count(FaultKind::HttpStall),
            figures.count(FaultKind::HttpStallBody)
        ),
        (1, 1)
    );
    assert!(
        client
            .get(&url)
            .bearer_auth(server.token("alice"))
            .send()
            .await
            .unwrap()
            .status()
            .is_success()
    );
}

#[tokio::test]
async fn probability_rules_are_seeded_and_roughly_proportional() {
    async fn run(seed: u64) -> Vec<u16> {
        let server = spawn_test_server().await;
        let proxy = FaultProxy::start(server.addr(), seed).await;
        proxy.fail_with_probability(Scope::route(Route::Health), 0.3, HttpFault::Status503);
        let mut statuses = Vec::new();
        for _ in 0..100 {
            statuses.push(
                http()
                    .get(format!("{}/v1/health", proxy.base_url()))
                    .send()
                    .await
                    .unwrap()
                    .status()
                    .as_u16(),
            );
        }
        assert_eq!(
            proxy.figures().count(FaultKind::Http503),
            statuses.iter().filter(|s| **s == 503).count() as u64
        );
        statuses
    }
    let first = run(42).await;
    let failed = first.iter().filter(|s| **s == 503).count();
    assert!(
        (10..=55).contains(&failed),
        "{failed} of 100 failed at p = 0.3"
    );
    assert_eq!(first, run(42).await, "same seed, same faults");
}

fn seqs(messages: &[Message]) -> Vec<u64> {
    messages.iter().map(|m| m.seq).collect()
}

#[tokio::test]
async fn hostile_range_pages_are_what_they_claim() {
    let (server, proxy, chat) = setup(40).await;
    let query = "from_seq=3&to_seq=8";
    let honest: MessagesPage =
        serde_json::from_slice(&range(&proxy, &server, chat, query).await.unwrap()).unwrap();
    assert_eq!(seqs(&honest.messages), vec![3, 4, 5, 6, 7, 8]);
    let hostile_page = |hostile| {
        proxy.fail_next(Scope::route(Route::Range), 1, HttpFault::Hostile(hostile));
        async { range(&proxy, &server, chat, query).await.unwrap() }
    };

    let page: MessagesPage =
        serde_json::from_slice(&hostile_page(Hostile::OutOfRange).await).unwrap();
    assert_eq!(
        seqs(&page.messages),
        vec![2, 3, 4, 5, 6, 7],
        "same length, ascending: only the range is wrong"
    );

    let page: MessagesPage =
        serde_json::from_slice(&hostile_page(Hostile::Descending).await).unwrap();
    assert_eq!(seqs(&page.messages), vec![8, 7, 6, 5, 4, 3]);

    let page: MessagesPage =
        serde_json::from_slice(&hostile_page(Hostile::WrongChatId).await).unwrap();
    assert_ne!(page.chat_id, chat);
    assert!(page.messages.iter().all(|m| m.chat_id == chat));

    let page: MessagesPage =
        serde_json::from_slice(&hostile_page(Hostile::WrongMessageChatId).await).unwrap();
    assert_eq!(page.chat_id, chat);
    assert_ne!(page.messages[0].chat_id, chat);

    let page: MessagesPage =
        serde_json::from_slice(&hostile_page(Hostile::DuplicateSeq).await).unwrap();
    assert_eq!(seqs(&page.messages), vec![3, 3, 5, 6, 7, 8]);
    assert_ne!(page.messages[0].id, page.messages[1].id);

    let page = hostile_range_page(
        &proxy,
        &server,
        chat,
        "from_seq=1&limit=5",
        Hostile::Oversized,
    )
    .await;
    assert!(
        page.messages.len() > 5,
        "{} messages for limit 5",
        page.messages.len()
    );

    let body = hostile_page(Hostile::InvalidJson).await;
    assert!(serde_json::from_slice::<serde_json::Value>(&body).is_err());

    let full = range(&proxy, &server, chat, query).await.unwrap();
    let body = hostile_page(Hostile::TruncatedJson).await;
    assert!(serde_json::from_slice::<serde_json::Value>(&body).is_err());
    assert!(full.starts_with(&body) && body.len() < full.len());

    let figures = proxy.figures();
    for hostile in Hostile::ALL {
        assert_eq!(
            figures.count(FaultKind::Hostile(hostile)),
            1,
            "{hostile:?}: {figures}"
        );
    }

    // The listed-seqs shape (`seqs=3-5,9-10`).
    let listed = "seqs=3-5%2C9-10&limit=5";
    let honest: MessagesPage =
        serde_json::from_slice(&range(&proxy, &server, chat, listed).await.unwrap()).unwrap();
    assert_eq!(seqs(&honest.messages), vec![3, 4, 5, 9, 10]);
    let page = hostile_range_page(&proxy, &server, chat, listed, Hostile::OutOfRange).await;
    assert_eq!(seqs(&page.messages), vec![2, 3, 4, 5, 9]);
    let page = hostile_range_page(&proxy, &server, chat, listed, Hostile::Oversized).await;
    assert!(page.messages.len() > 5, "{:?}", seqs(&page.messages));
}

#[tokio::test]
async fn hostile_changes_pages_are_what_they_claim() {
    let (server, proxy, chat) = setup(20).await;
    let all = server.messages(chat).await;
    for message in &all[4..8] {
        server.edit("bob", chat, message.id, "edited").await;
    }
    let (_, rev) = server.chat_position(chat).await;
    let since = rev - 4;
    let query = format!("/v1/chats/{chat}/changes?since_rev={since}&min_seq=3&max_seq=10");
    let fetch = |hostile: Option<Hostile>| {
        if let Some(hostile) = hostile {
            proxy.fail_next(Scope::route(Route::Changes), 1, HttpFault::Hostile(hostile));
        }
        let query = query.clone();
        let (proxy, server) = (&proxy, &server);
        async move {
            get(proxy, server, &query)
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap()
        }
    };
    let changes = |bytes: &[u8]| match serde_json::from_slice::<ChangesResponse>(bytes).unwrap() {
        ChangesResponse::Changes {
            chat_id, messages, ..
        } => (chat_id, messages),
        other => panic!("expected changes, got {other:?}"),
    };
    let (_, honest) = changes(&fetch(None).await);
    assert_eq!(seqs(&honest), vec![5, 6, 7, 8]);

    let (_, messages) = changes(&fetch(Some(Hostile::OutOfRange)).await);
    assert_eq!(
        seqs(&messages),
        vec![5, 6, 7, 2],
        "the last change replaced by one below min_seq"
    );
    assert!(messages.windows(2).all(|w| w[0].rev <= w[1].rev));
    let (_, messages) = changes(&fetch(Some(Hostile::Descending)).await);
    assert_eq!(seqs(&messages), vec![8, 7, 6, 5]);
    let (chat_id, _) = changes(&fetch(Some(Hostile::WrongChatId)).await);
    assert_ne!(chat_id, chat);
    let (_, messages) = changes(&fetch(Some(Hostile::WrongMessageChatId)).await);
    assert_ne!(messages[0].chat_id, chat);
    let (_, messages) = changes(&fetch(Some(Hostile::DuplicateSeq)).await);
    assert_eq!(seqs(&messages), vec![5, 5, 7, 8]);
    assert!(
        serde_json::from_slice::<serde_json::Value>(&fetch(Some(Hostile::InvalidJson)).await)
            .is_err()
    );
    assert!(
        serde_json::from_slice::<serde_json::Value>(&fetch(Some(Hostile::TruncatedJson)).await)
            .is_err()
    );
    // Oversized: ask for 2 changes, get more.
    proxy.fail_next(
        Scope::route(Route::Changes),
        1,
        HttpFault::Hostile(Hostile::Oversized),
    );
    let bytes = get(
        &proxy,
        &server,
        &format!("/v1/chats/{chat}/changes?since_rev={since}&limit=2"),
    )
    .await
    .unwrap()
    .bytes()
    .await
    .unwrap();
    let (_, messages) = changes(&bytes);
    assert!(messages.len() > 2);
}

#[tokio::test]
async fn a_hostile_fault_that_cannot_apply_waits_for_one_that_can() {
    let (server, proxy, chat) = setup(1).await;
    proxy.fail_next(
        Scope::route(Route::Range),
        1,
        HttpFault::Hostile(Hostile::Descending),
    );
    // One message: cannot be reversed; passed through honestly, the fault stays pending.
    let page: MessagesPage =
        serde_json::from_slice(&range(&proxy, &server, chat, "").await.unwrap()).unwrap();
    assert_eq!(seqs(&page.messages), vec![1]);
    assert_eq!(proxy.pending_http_faults(), 1);
    server.send("bob", chat, "second").await;
    let page: MessagesPage =
        serde_json::from_slice(&range(&proxy, &server, chat, "").await.unwrap()).unwrap();
    assert_eq!(seqs(&page.messages), vec![2, 1]);
    assert_eq!(proxy.pending_http_faults(), 0);
}

#[tokio::test]
async fn stream_frames_are_relayed_dropped_duplicated_reordered_and_delayed() {
    let (server, proxy, chat) = setup(0).await;
    let mut ws = connect_stream(&proxy, &server.token("alice")).await;
    let quiet = Duration::from_millis(400);

    server.send("bob", chat, "1").await;
    assert_eq!(
        collect_messages(&mut ws, quiet).await,
        vec![(1, 1)],
        "relayed"
    );

    proxy.drop_next_frames(1);
    server.send("bob", chat, "2").await;
    server.send("bob", chat, "3").await;
    assert_eq!(
        collect_messages(&mut ws, quiet).await,
        vec![(3, 1)],
        "seq 2 dropped"
    );

    proxy.duplicate_next_frames(1);
    server.send("bob", chat, "4").await;
    assert_eq!(
        collect_messages(&mut ws, quiet).await,
        vec![(4, 1), (4, 1)],
        "seq 4 twice"
    );

    proxy.set_max_hold(Duration::from_secs(3)); // released by frame 6, not by the timer
    proxy.hold_next_frames(1);
    server.send("bob", chat, "5").await;
    server.send("bob", chat, "6").await;
    assert_eq!(
        collect_messages(&mut ws, quiet).await,
        vec![(6, 1), (5, 1)],
        "5 held back until 6 passed"
    );

    proxy.set_max_hold(Duration::from_millis(100));
    proxy.hold_next_frames(1);
    server.send("bob", chat, "7").await;
    assert_eq!(
        collect_messages(&mut ws, quiet).await,
        vec![(7, 1)],
        "a held frame is released after the hold time"
    );

    proxy.delay_next_frames(1, Duration::from_millis(300));
    server.send("bob", chat, "8").await;
    server.send("bob", chat, "9").await;
    assert_eq!(
        collect_messages(&mut ws, Duration::from_secs(1)).await,
        vec![(9, 1), (8, 1)],
        "8 delayed past 9"
    );

    let figures = proxy.figures();
    assert_eq!(figures.count(FaultKind::StreamDrop), 1);
    assert_eq!(figures.count(FaultKind::StreamDuplicate), 1);
    assert_eq!(figures.count(FaultKind::StreamReorder), 2);
    assert_eq!(figures.count(FaultKind::StreamDelay), 1);
}

#[tokio::test]
async fn random_stream_faults_follow_their_probabilities() {
    let (server, proxy, chat) = setup(0).await;
    let mut ws = connect_stream(&proxy, &server.token("alice")).await;
    proxy.set_stream_faults(StreamFaults {
        drop: 0.25,
        duplicate: 0.25,
        ..StreamFaults::default()
    });
    for i in 0..80 {
        server.send("bob", chat, &i.to_string()).await;
    }
    let seen = collect_messages(&mut ws, Duration::from_millis(500)).await;
    let figures = proxy.figures();
    let (dropped, duplicated) = (
        figures.count(FaultKind::StreamDrop),
        figures.count(FaultKind::StreamDuplicate),
    );
    assert!(dropped > 5 && duplicated > 5, "{figures}");
    assert_eq!(seen.len() as u64, 80 - dropped + duplicated);
}

#[tokio::test]
async fn cut_and_refused_streams() {
    let (server, proxy, chat) = setup(0).await;
    let token = server.token("alice");
    let mut ws = connect_stream(&proxy, &token).await;
    assert_eq!(proxy.active_streams(), 1);
    proxy.cut_streams();
    assert!(
        next_event(&mut ws, Duration::from_secs(5)).await.is_none(),
        "the stream ended"
    );
    assert_eq!(proxy.figures().count(FaultKind::StreamCut), 1);

    proxy.refuse_streams(true);
    let mut request = format!("ws://{}/v1/stream", proxy.addr())
        .into_client_request()
        .unwrap();
    request
        .headers_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    assert!(
        tokio_tungstenite::connect_async(request).await.is_err(),
        "refused"
    );
    assert_eq!(proxy.figures().count(FaultKind::StreamRefused), 1);
    // HTTP still works while streams are refused.
    assert_eq!(
        get(&proxy, &server, "/v1/chats").await.unwrap().status(),
        200
    );

    proxy.refuse_streams(false);
    let mut ws = connect_stream(&proxy, &token).await;
    server.send("bob", chat, "back").await;
    assert_eq!(
        collect_messages(&mut ws, Duration::from_millis(300)).await,
        vec![(1, 1)]
    );

    // A bad token gets the upstream's 401, not an upgrade.
    let mut request = format!("ws://{}/v1/stream", proxy.addr())
        .into_client_request()
        .unwrap();
    request
        .headers_mut()
        .insert("authorization", "Bearer nope".parse().unwrap());
    match tokio_tungstenite::connect_async(request).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 401)
        }
        other => panic!("expected 401, got {other:?}"),
    }
}

#[tokio::test]
async fn refuse_all_makes_the_server_unreachable_until_lifted() {
    let (server, proxy, _chat) = setup(0).await;
    let client = http();
    let token = server.token("alice");
    let mut ws = connect_stream(&proxy, &token).await;
    assert_eq!(
        client
            .get(format!("{}/v1/chats", proxy.base_url()))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    proxy.refuse_all(true);
    assert!(
        next_event(&mut ws, Duration::from_secs(5)).await.is_none(),
        "the open stream is cut"
    );
    // Same client (its pooled keep-alive connection was reset too).
    let error = client
        .get(format!("{}/v1/chats", proxy.base_url()))
        .bearer_auth(&token)
        .send()
        .await
        .expect_err("unreachable");
    assert!(error.is_connect() || error.is_request(), "{error:?}");
    assert!(proxy.figures().count(FaultKind::ConnectionRefused) >= 1);
    proxy.refuse_all(false);
    assert_eq!(
        client
            .get(format!("{}/v1/chats", proxy.base_url()))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

#[tokio::test]
async fn the_proxy_survives_a_server_restart() {
    let (mut server, proxy, chat) = setup(3).await;
    let token = server.token("alice");
    let mut ws = connect_stream(&proxy, &token).await;
    server.stop().await;
    assert!(
        next_event(&mut ws, Duration::from_secs(5)).await.is_none(),
        "the stream ends with the server"
    );
    assert!(
        get(&proxy, &server, "/v1/chats").await.is_err(),
        "server down: connection error through the proxy"
    );
    server.restart().await;
    let page: MessagesPage =
        serde_json::from_slice(&range(&proxy, &server, chat, "").await.unwrap()).unwrap();
    assert_eq!(page.messages.len(), 3);
    let mut ws = connect_stream(&proxy, &token).await;
    server.send("bob", chat, "after restart").await;
    assert_eq!(
        collect_messages(&mut ws, Duration::from_millis(300)).await,
        vec![(4, 1)]
    );
}
