//! A client process for the crash-safety suite (`tests/crash.rs`), built from `roost-core`'s
//! public API: opens the cache, connects the stream, and resyncs / loads older history of the
//! given chats in a loop until it is killed. After every committed piece of work it prints what
//! is now cached, so the parent knows what was *acknowledged* (committed before the line was
//! written) and can check that a SIGKILL never takes it back:
//!
//! * `OPEN corrupt=<bool> repaired=<n> resumable=<n>` once the cache is open;
//! * `ACK <chat> runs=<a>-<b>,… edited=<seq>:<version>,…` after each resync / load_older;
//! * `SEQS <chat> <seq>,<seq>,…` for each `MessagesChanged` event (emitted after the commit).
//!
//! Usage: `roost-fault-child <server_url> <token> <user> <cache_path> <chat_id>…`

use roost_core::{Client, ClientConfig, ClientEvent};
use roost_proto::{ChatId, UserId};
use std::io::Write;
use std::time::Duration;

fn say(line: String) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

async fn ack(client: &Client, chat: ChatId) {
    let Ok(messages) = client.cached_messages(chat, 1, i64::MAX as u64).await else {
        return;
    };
    let mut runs: Vec<(u64, u64)> = Vec::new();
    for m in &messages {
        match runs.last_mut() {
            Some(run) if run.1 + 1 == m.seq => run.1 = m.seq,
            _ => runs.push((m.seq, m.seq)),
        }
    }
    let runs: Vec<String> = runs.iter().map(|(a, b)| format!("{a}-{b}")).collect();
    let edited: Vec<String> = messages
        .iter()
        .filter(|m| m.version > 1)
        .map(|m| format!("{}:{}", m.seq, m.version))
        .collect();
    say(format!(
        "ACK {chat} runs={} edited={}",
        runs.join(","),
        edited.join(",")
    ));
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 6 {
        eprintln!("usage: roost-fault-child <server_url> <token> <user> <cache_path> <chat_id>…");
        std::process::exit(2);
    }
    let chats: Vec<ChatId> = args[5..]
        .iter()
        .map(|c| c.parse().expect("a chat id"))
        .collect();
    let mut config = ClientConfig::new(&args[1], &args[2])
        .cache_path(&args[4])
        .background(true);
    config.user_id = Some(UserId::new(&args[3]));
    config.page_size = 25;
    config.request_timeout = Duration::from_secs(5);
    let (client, info) = match Client::open(config).await {
        Ok(opened) => opened,
        Err(error) => {
            say(format!("FAILED open: {error}"));
            std::process::exit(1);
        }
    };
    say(format!(
        "OPEN corrupt={} repaired={} resumable={}",
        info.corruption.is_some(),
        info.repaired_chats.len(),
        info.resumable_chats.len()
    ));
    let mut events = client.subscribe();
    tokio::spawn(async move {
        loop {
            match events.recv().await {
                Ok(ClientEvent::MessagesChanged { chat_id, seqs }) => {
                    let seqs: Vec<String> = seqs.iter().map(u64::to_string).collect();
                    say(format!("SEQS {chat_id} {}", seqs.join(",")));
                }
                Ok(_) => {}
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
            }
        }
    });
    client.start_stream();
    let _ = client.refresh_chats().await;
    loop {
        for &chat in &chats {
            if client.resync(chat).await.is_ok() {
                ack(&client, chat).await;
            }
            if client.load_older(chat).await.is_ok() {
                ack(&client, chat).await;
            }
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}
