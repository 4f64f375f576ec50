//! One randomized schedule's parts: its seed, its state and random choices, the client it
//! drives (opened through the fault proxy, switched to another account and back) and the
//! snapshots compared at its end. `run_schedule` in `convergence.rs` interleaves them.

use super::*;

/// splitmix64: schedule seeds from the base seed.
pub(super) fn schedule_seed(base: u64, index: u64) -> u64 {
    let mut z = base.wrapping_add(index.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[derive(Debug, Default)]
pub(super) struct Outcome {
    pub(super) figures: FaultFigures,
    pub(super) ops: u64,
    pub(super) restarts: u64,
    pub(super) account_switches: u64,
    pub(super) messages_checked: u64,
    pub(super) lost: u64,
    pub(super) duplicated: u64,
    pub(super) own_sends: u64,
    pub(super) final_range_fetched: u64,
    pub(super) final_missing: u64,
    pub(super) resync_retries: u64,
    /// Own sends the core marked failed under faults (retried by the test, as a user would).
    pub(super) sends_failed: u64,
    /// Evictions/clears and verifies run under the faults; messages the closing verify compared.
    pub(super) evictions: u64,
    pub(super) evicted_messages: u64,
    pub(super) verifies: u64,
    pub(super) verified_clean: u64,
    pub(super) problems: Vec<String>,
    /// What the schedule did, step by step (printed for a replayed or failing seed).
    pub(super) trace: Vec<String>,
}

pub(super) struct Schedule {
    /// This schedule's users (the client's and two others): schedules share a server, and a
    /// user sees only its own chats, so schedules never see each other.
    pub(super) me: String,
    pub(super) others: [String; 2],
    pub(super) rng: StdRng,
    pub(super) seed: u64,
    pub(super) chats: Vec<ChatId>,
    pub(super) texts: u64,
}

impl Schedule {
    pub(super) fn text(&mut self, what: &str) -> String {
        self.texts += 1;
        format!("{what} {:x}/{}", self.seed, self.texts)
    }
    pub(super) fn chat(&mut self) -> ChatId {
        self.chats[self.rng.random_range(0..self.chats.len())]
    }
    pub(super) fn other_user(&mut self) -> String {
        self.others[usize::from(self.rng.random_bool(0.5))].clone()
    }
    pub(super) fn random_http_fault(&mut self) -> HttpFault {
        match self.rng.random_range(0..6) {
            0 => HttpFault::Status503,
            1 => HttpFault::Reset,
            2 => HttpFault::LoseResponse,
            3 => HttpFault::CutBody,
            _ => HttpFault::Hostile(Hostile::ALL[self.rng.random_range(0..Hostile::ALL.len())]),
        }
    }
}

pub(super) fn op_name(roll: u32) -> &'static str {
    match roll {
        0..=17 => "others send (streamed)",
        18..=23 => "others bulk-insert (not streamed)",
        24..=33 => "edit",
        34..=40 => "delete",
        41..=45 => "cut streams",
        46..=49 => "offline (refuse all) for 1-3 ops",
        50..=56 => "random stream faults",
        57..=63 => "random http fault rule",
        64..=66 => "clear http faults",
        67..=71 => "client restart",
        72..=79 => "manual resync",
        80..=84 => "load older",
        85..=88 => "open chat",
        89..=94 => "own send",
        95..=96 => "server refuses range shapes",
        97..=98 => "account switch",
        99..=100 => "evict / clear cached history",
        101..=102 => "verify",
        _ => "sleep",
    }
}

pub(super) async fn open_client(
    proxy: &FaultProxy,
    server: &TestServer,
    me: &str,
    cache: &std::path::Path,
    page_size: u32,
) -> Result<Client, String> {
    let mut config = config_as(me, &proxy.base_url(), &server.token(me), cache);
    config.page_size = page_size;
    let (client, info) = Client::open(config)
        .await
        .map_err(|e| format!("open failed: {e}"))?;
    if let Some(corruption) = &info.corruption {
        return Err(format!(
            "a cache written by the client itself was judged corrupt: {}",
            corruption.reason
        ));
    }
    if !info.repaired_chats.is_empty() {
        return Err(format!(
            "the runs index disagreed with the messages after a restart: {:?}",
            info.repaired_chats
        ));
    }
    client.start_stream();
    Ok(client)
}

/// Another user signs in on this device while alice's client is closed: his own cache file
/// (never alice's — opening hers as him must be refused), a little sync, closed again.
pub(super) async fn switch_account(
    proxy: &FaultProxy,
    server: &TestServer,
    other: &str,
    alices_cache: &std::path::Path,
    chats: &[ChatId],
    problems: &mut Vec<String>,
) -> String {
    let mut as_other = config_as(other, &proxy.base_url(), &server.token(other), alices_cache);
    as_other.background = false;
    match Client::open(as_other).await {
        Err(e) if e.kind() == "wrong_account" => {}
        Err(e) => problems.push(format!(
            "alice's cache opened as {other}: {e} (not wrong_account)"
        )),
        Ok(_) => problems.push(format!("alice's cache was opened by {other}")),
    }
    let own = alices_cache.with_file_name(format!("{other}.db"));
    let config = config_as(other, &proxy.base_url(), &server.token(other), &own);
    match Client::open(config).await {
        Ok((client, _)) => {
            let synced = tokio::time::timeout(Duration::from_secs(5), async {
                let _ = client.refresh_chats().await;
                for chat in chats {
                    let _ = client.resync(*chat).await;
                }
            })
            .await
            .is_ok();
            let cached = client.chats().await.map(|c| c.len()).unwrap_or(0);
            client.shutdown().await;
            format!(" {other} on his own cache: {cached} chats, synced: {synced}")
        }
        Err(e) => {
            problems.push(format!("{other}'s own cache did not open: {e}"));
            String::new()
        }
    }
}

/// Membership changes made by all schedules (printed with the figures).
pub(super) static MEMBERSHIP_CHANGES: std::sync::atomic::AtomicU64 =
    std::sync::atomic::AtomicU64::new(0);

/// Membership churn (issue 9): the chat's creator removes the client's user, the others talk
/// while it is away (messages its stream never carries), then it is added back. The client must
/// end with every message, none twice, like for any other fault. Skipped while the user has
/// unsent messages in that chat: the server rightly refuses a send to a chat one was removed
/// from, which the suite would report as a failed send.
pub(super) async fn remove_and_re_add_me(
    server: &TestServer,
    s: &mut Schedule,
    client: &Client,
) -> String {
    let chat = s.chat();
    if !client
        .outbox(Some(chat))
        .await
        .unwrap_or_default()
        .is_empty()
    {
        return format!(" {chat}: skipped (unsent messages)");
    }
    let creator = s.others[0].clone();
    server.remove_member(&creator, chat, &s.me).await;
    let mut detail = format!(" {chat}: removed");
    for _ in 0..s.rng.random_range(0..=3) {
        let text = s.text("while away");
        let m = server.send(&creator, chat, &text).await;
        detail.push_str(&format!(" #{}", m.seq));
    }
    if s.rng.random_bool(0.5) {
        // Give the client time to hear the removal (and maybe act on it) before the re-add.
        tokio::time::sleep(Duration::from_millis(s.rng.random_range(5..40))).await;
    }
    server.add_members(&creator, chat, &[&s.me]).await;
    MEMBERSHIP_CHANGES.fetch_add(2, std::sync::atomic::Ordering::Relaxed);
    detail + ", added back"
}

pub(super) async fn snapshot(
    client: &Client,
    chats: &[ChatId],
    held: &mut BTreeMap<ChatId, Holdings>,
) {
    for chat in chats {
        let now = holdings(&common::cached(client, *chat).await);
        merge_holdings(held.entry(*chat).or_default(), &now);
    }
}
