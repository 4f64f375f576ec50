//! Crash safety: a client process (`roost-fault-child`, built from roost-core) resyncs, loads
//! older history and ingests a busy stream while the server takes sends, bulk inserts, edits and
//! deletes; it is SIGKILLed at random points, many times, on the same cache file. After every
//! kill: `PRAGMA integrity_check` is ok, the cached-runs index agrees with the messages table,
//! and nothing the child acknowledged as cached (printed after the commit) is gone or older.
//! At the end a fresh client opens the file without repairs, and one resync per chat converges.
//!
//! `ROOST_CRASH_ROUNDS=<n>` (default 100), `ROOST_CRASH_SEED=<seed>`.

mod common;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use roost_core::Client;
use roost_faults::knobs::env_u64_or;
use roost_proto::ChatId;
use roost_server::testing::spawn_test_server;
use std::collections::{BTreeMap, HashMap};
use std::io::BufRead;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Debug, Default)]
struct Acked {
    /// chat -> seq -> highest version acknowledged (1 when only the seq is known).
    seqs: HashMap<String, BTreeMap<u64, u64>>,
    lines: u64,
    opens: u64,
}

impl Acked {
    fn add(&mut self, chat: &str, seq: u64, version: u64) {
        let entry = self
            .seqs
            .entry(chat.to_owned())
            .or_default()
            .entry(seq)
            .or_insert(version);
        *entry = (*entry).max(version);
    }

    /// Parses one complete line of the child's output.
    fn parse(&mut self, line: &str) {
        let mut parts = line.split_whitespace();
        match parts.next() {
            Some("OPEN") => self.opens += 1,
            Some("ACK") => {
                self.lines += 1;
                let chat = parts.next().unwrap_or_default().to_owned();
                for part in parts {
                    if let Some(runs) = part.strip_prefix("runs=") {
                        for run in runs.split(',').filter(|r| !r.is_empty()) {
                            let (a, b) = run.split_once('-').expect("a run");
                            for seq in a.parse::<u64>().unwrap()..=b.parse::<u64>().unwrap() {
                                self.add(&chat, seq, 1);
                            }
                        }
                    } else if let Some(edited) = part.strip_prefix("edited=") {
                        for pair in edited.split(',').filter(|p| !p.is_empty()) {
                            let (seq, version) = pair.split_once(':').expect("seq:version");
                            self.add(&chat, seq.parse().unwrap(), version.parse().unwrap());
                        }
                    }
                }
            }
            Some("SEQS") => {
                self.lines += 1;
                let chat = parts.next().unwrap_or_default().to_owned();
                for seq in parts
                    .next()
                    .unwrap_or_default()
                    .split(',')
                    .filter(|s| !s.is_empty())
                {
                    self.add(&chat, seq.parse().unwrap(), 1);
                }
            }
            _ => {}
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_at_random_points_never_loses_acknowledged_messages() {
    common::init_tracing();
    let rounds = env_u64_or("ROOST_CRASH_ROUNDS", 100);
    let seed = env_u64_or("ROOST_CRASH_SEED", 0xC0A5);
    let mut rng = StdRng::seed_from_u64(seed);
    let server = Arc::new(spawn_test_server().await);
    let mut chats: Vec<ChatId> = Vec::new();
    for i in 0..3 {
        let chat = server
            .create_chat(&format!("crash {i}"), &["bob", "alice", "carol"])
            .await;
        server.send_many("bob", chat, 150 + 100 * i).await;
        chats.push(chat);
    }
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("message_cache.db");
    let acked = Arc::new(Mutex::new(Acked::default()));
    let child_exe = env!("CARGO_BIN_EXE_roost-fault-child");
    let mut kills = 0;
    let mut checks = 0u64;

    for round in 0..rounds {
        let mut command = Command::new(child_exe);
        command
            .arg(server.base_url())
            .arg(server.token("alice"))
            .arg("alice")
            .arg(&cache)
            .args(chats.iter().map(ChatId::to_string))
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        let mut child = command.spawn().expect("start roost-fault-child");
        let stdout = child.stdout.take().unwrap();
        let reader_acked = acked.clone();
        let reader = std::thread::spawn(move || {
            let mut reader = std::io::BufReader::new(stdout);
            let mut line = Vec::new();
            loop {
                line.clear();
                match reader.read_until(b'\n', &mut line) {
                    Ok(0) | Err(_) => break,
                    // Only complete lines count: a kill can cut the last one.
                    Ok(_) if line.last() == Some(&b'\n') => {
                        reader_acked
                            .lock()
                            .unwrap()
                            .parse(&String::from_utf8_lossy(&line));
                    }
                    Ok(_) => break,
                }
            }
        });

        // Heavy ingest while the child works: streamed sends, edits, deletes, bulk inserts.
        let ingest = {
            let server = server.clone();
            let chats = chats.clone();
            let mut rng = StdRng::seed_from_u64(seed ^ round);
            tokio::spawn(async move {
                loop {
                    let chat = chats[rng.random_range(0..chats.len())];
                    match rng.random_range(0..10) {
                        0..=4 => {
                            for _ in 0..rng.random_range(1..=8) {
                                server.send("bob", chat, "burst").await;
                            }
                        }
                        5 => {
                            server
                                .send_many("carol", chat, rng.random_range(1..=60))
                                .await;
                        }
                        6..=7 => {
                            let all = server.messages(chat).await;
                            let m = &all[rng.random_range(0..all.len())];
                            if !m.is_deleted() {
                                server
                                    .edit(m.author.as_str(), chat, m.id, "edited under crash")
                                    .await;
                            }
                        }
                        _ => {
                            let all = server.messages(chat).await;
                            let m = &all[rng.random_range(0..all.len())];
                            if !m.is_deleted() {
                                server.delete(m.author.as_str(), chat, m.id).await;
                            }
                        }
                    }
                    tokio::time::sleep(Duration::from_millis(rng.random_range(0..8))).await;
                }
            })
        };

        let life = Duration::from_millis(rng.random_range(30..800));
        tokio::time::sleep(life).await;
        child.kill().expect("SIGKILL the child"); // std: SIGKILL on Unix
        let _ = child.wait();
        kills += 1;
        ingest.abort();
        let _ = ingest.await;
        reader.join().unwrap();

        // The file as the kill left it.
        if !cache.exists() {
            continue; // killed before the cache was created
        }
        let raw = common::read_cache(&cache)
            .await
            .expect("read the cache after a kill");
        assert_eq!(
            raw.integrity,
            vec!["ok".to_owned()],
            "round {round}: integrity_check after SIGKILL"
        );
        let disagreements = raw.index_disagreements();
        assert!(
            disagreements.is_empty(),
            "round {round}: cached_runs disagrees with messages: {disagreements:?}"
        );
        let acked = acked.lock().unwrap();
        for (chat, seqs) in &acked.seqs {
            let rows: BTreeMap<u64, u64> = raw
                .rows
                .get(chat)
                .map(|rows| rows.iter().map(|r| (r.0, r.2)).collect())
                .unwrap_or_default();
            for (seq, version) in seqs {
                checks += 1;
                match rows.get(seq) {
                    Some(cached) => assert!(
                        cached >= version,
                        "round {round}: chat {chat} seq {seq} acknowledged at v{version}, now v{cached}"
                    ),
                    None => panic!(
                        "round {round}: chat {chat} seq {seq} was acknowledged as cached and is gone"
                    ),
                }
            }
        }
    }

    let (acked_lines, opens) = {
        let acked = acked.lock().unwrap();
        (acked.lines, acked.opens)
    };
    assert!(
        opens >= rounds / 4,
        "the child rarely got as far as opening the cache ({opens} of {rounds})"
    );
    assert!(acked_lines > 0, "the child never acknowledged anything");

    // A fresh client: no repair needed, and one resync per chat converges.
    let mut config = common::config(&server.base_url(), &server.token("alice"), &cache);
    config.background = false;
    let (client, info) = Client::open(config).await.expect("open after the kills");
    assert!(info.corruption.is_none(), "{:?}", info.corruption);
    assert!(
        info.repaired_chats.is_empty(),
        "index repaired after a crash: {:?}",
        info.repaired_chats
    );
    client.refresh_chats().await.expect("chat list");
    let mut checked = 0;
    for chat in &chats {
        let attempts = common::resync_until_in_sync(&client, *chat, 1)
            .await
            .expect("the next resync completes");
        assert_eq!(attempts, 1);
        let cached = common::cached(&client, *chat).await;
        let truth = server.messages(*chat).await;
        let earlier: common::Holdings = BTreeMap::new();
        let check = common::compare_chat(*chat, &cached, &truth, &earlier);
        assert!(
            check.problems.is_empty(),
            "chat {chat}: {:?}",
            check.problems
        );
        checked += check.checked;
    }
    client.shutdown().await;
    let line = format!(
        "roost-faults crash: seed={seed:#x} kills={kills} acknowledged_lines={acked_lines} opens={opens} \
         acknowledged_checks={checks} messages_checked_after={checked} lost=0"
    );
    println!("{line}");
    let _ = std::fs::write(
        std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("roost-faults-crash.txt"),
        format!("{line}\n"),
    );
}
