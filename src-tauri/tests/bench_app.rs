//! The release app's figures for `./dev bench` (issue 11): click → painted messages of a
//! 100,000-message chat, cold start → chat list painted, and resident memory of the app process
//! (WebKit's processes reported separately) with 100,000 and 1,000,000 cached messages. Offline:
//! the app signs in with an unreachable server URL, so nothing but the cache and the UI is
//! measured. The E2E harness itself (`e2e/harness.rs`, included as a module: tauri-driver in its
//! own process group, WebDriver over fantoccini, fresh XDG dirs per desktop).
//!
//! ```text
//! (cd ui && trunk build --release)
//! flock /tmp/roost-e2e.lock xvfb-run -a -s "-screen 0 1280x800x24 -noreset" \
//!   cargo test --release -p roost-desktop --features custom-protocol --test bench_app -- --ignored
//! ```
//!
//! Click → paint is measured twice: a plain click (`element.click()`, as a keyboard or
//! WebDriver click: no pointerdown, so nothing is read ahead) and a mouse's click (pointerdown,
//! the button held `ROOST_BENCH_APP_PRESS_MS`, 60, then the click; the UI reads the chat ahead on
//! pointerdown): `click_to_paint_ms` and its `after_pointerdown`, both from the click.
//!
//! Knobs (decimal): `ROOST_BENCH_APP_RUNS` (timed opens of the 100k chat, 41, each way),
//! `ROOST_BENCH_APP_TRACE` (opens traced on the page's clock and printed, 0),
//! `ROOST_BENCH_APP_COLD_RUNS` (launches per cache size, the median is reported; 3),
//! `ROOST_BENCH_APP_CACHED` (cache sizes, comma-separated; `100000,1000000`),
//! `ROOST_BENCH_FLOOR_APP` (the same-run floor's blank Tauri window; default `blank-window`
//! beside the app or in its `examples/`: `cargo build --release -p roost-desktop --features
//! custom-protocol --example blank-window`, which `./dev bench` does). The floor is launched as
//! often as the app, right before the app's launches of each cache size, and gives
//! `cold_start_floor_ms` (the last size's; `cold_start_floor_ms_by_cached`), `rss_floor_mb` and
//! `webkit_rss_floor_mb`; `rss_breakdown` says where the app's RSS is (anonymous or which files).
//!
//! Writes one JSON object to `$ROOST_BENCH_APP_OUT` (default `target/e2e-artifacts/bench-app.json`),
//! which `roost-bench --app-figures` merges into its own. Prints figures; asserts only that every
//! open rendered the newest cached messages and that the DOM holds a bounded window of rows.

// The E2E harness (tauri-driver in its own process group, fresh XDG dirs per desktop); this
// binary uses part of it.
#[path = "e2e/harness.rs"]
#[allow(dead_code, unused_imports)]
mod harness;

use harness::{
    App, Client, Context, Desktop, Duration, Instant, Locator, PathBuf, Result, app_binary,
    artifacts_dir, bail, json,
};
use roost_core::store::{CursorRule, IngestOptions, Position, Store};
use roost_proto::{ChatId, ChatSummary, Message, MessageId, UserId};
use serde_json::Value;
use std::time::{SystemTime, UNIX_EPOCH};

/// The unreachable server the app signs in to: a port nothing listens on.
const OFFLINE_URL: &str = "http://127.0.0.1:9";
const BENCH_TOKEN: &str = "bench-token";
/// A million cached messages take longer than the E2E tests' wait to list.
const WAIT: Duration = Duration::from_secs(60);

fn epoch_ms() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64() * 1e3)
        .unwrap_or(0.0)
}

/// One user's desktop environment (XDG dirs), signed in as alice to an unreachable server.
fn offline_desktop() -> Desktop {
    Desktop::new(Some((OFFLINE_URL.to_string(), BENCH_TOKEN.to_string())))
}

/// Fills alice's cache through the core's own store, as if each chat had been synced.
async fn seed(desktop: &Desktop, chats: &[(&str, u64)]) -> Result<Vec<ChatId>> {
    let path = desktop.cache_file_of("alice");
    std::fs::create_dir_all(path.parent().unwrap())?;
    let (store, _) = Store::open(&path).await?;
    let mut ids = Vec::new();
    for (index, (title, count)) in chats.iter().enumerate() {
        let chat = ChatId(uuid::Uuid::new_v4());
        let summary = ChatSummary {
            id: chat,
            title: title.to_string(),
            members: vec![UserId::new("bob"), UserId::new("alice")],
            created_by: None,
            last_seq: *count,
            rev: *count,
            last_message_at: Some(1_700_000_000_000 + index as i64),
        };
        store.upsert_summaries(&[summary]).await?;
        let mut options = IngestOptions::new(CursorRule::Snapshot(*count));
        options.position = Some(Position {
            last_seq: *count,
            rev: *count,
        });
        let mut seq = 1;
        while seq <= *count {
            let batch: Vec<Message> = (seq..=(*count).min(seq + 4_999))
                .map(|s| message(chat, s))
                .collect();
            seq += batch.len() as u64;
            store.ingest(chat, &batch, &options).await?;
        }
        ids.push(chat);
    }
    store.close().await;
    Ok(ids)
}

/// Starts the app (through a fresh tauri-driver) and returns the WebDriver session and the
/// moment the session (and so the app's launch) was requested. A launch whose app never comes
/// up (seen: GTK failing to open the display while Xvfb resets after the previous app left) is
/// given up after a while and tried again, up to three times.
async fn launch(desktop: &Desktop) -> Result<BenchApp> {
    launch_binary(desktop, &app_binary()).await
}

/// [`launch`] of another binary (the same-run floor's blank window).
async fn launch_binary(desktop: &Desktop, binary: &str) -> Result<BenchApp> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        match launch_once(desktop, binary).await {
            Ok(app) => return Ok(app),
            Err(e) if attempt < 3 => eprintln!("launch {attempt} failed, trying again: {e:#}"),
            Err(e) => return Err(e),
        }
    }
}

async fn launch_once(desktop: &Desktop, binary: &str) -> Result<BenchApp> {
    let (driver, port, log) = desktop.start_driver("warn", &[])?;
    // Wait until the driver listens, so the session request below is what starts the app.
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if started.elapsed() > WAIT {
            bail!("tauri-driver did not listen on {port}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut capabilities = serde_json::Map::new();
    capabilities.insert("browserName".into(), json!("wry"));
    capabilities.insert("tauri:options".into(), json!({ "application": binary }));
    let requested_at = epoch_ms();
    let mut builder = harness::ClientBuilder::native();
    builder.capabilities(capabilities);
    let url = format!("http://127.0.0.1:{port}");
    let client = match tokio::time::timeout(WAIT, builder.connect(&url)).await {
        Ok(client) => client.context("no WebDriver session")?,
        Err(_) => {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            let tail = &text[text.len().saturating_sub(600)..];
            bail!("no WebDriver session within {WAIT:?}; the driver's log ends: {tail}");
        }
    };
    Ok(BenchApp {
        app: App {
            client: Some(client),
            _driver: driver,
            log,
        },
        requested_at,
        comm: comm_of(binary),
    })
}

/// The name `/proc/<pid>/stat` gives a process started from `binary` (its file name, cut to the
/// kernel's 15 bytes).
fn comm_of(binary: &str) -> String {
    let name = std::path::Path::new(binary)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    name.chars().take(15).collect()
}

fn message(chat: ChatId, seq: u64) -> Message {
    Message {
        id: MessageId(uuid::Uuid::new_v4()),
        chat_id: chat,
        seq,
        version: 1,
        author: UserId::new(["alice", "bob", "carol"][(seq % 3) as usize]),
        created_at: 1_700_000_000_000 + seq as i64 * 1_000,
        edited_at: None,
        deleted_at: None,
        body: json!({ "text": format!("Message number {seq}: did the nightly build go green?") }),
        rev: seq,
    }
}

/// The app under measurement and when its launch was requested.
struct BenchApp {
    app: App,
    requested_at: f64,
    /// Its process's name (`roost-desktop`, or the floor's `blank-window`).
    comm: String,
}

/// One process as `/proc/<pid>/stat` shows it.
struct Proc {
    pid: u32,
    ppid: u32,
    comm: String,
}

fn processes() -> Vec<Proc> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return out;
    };
    for entry in entries.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let comm = stat[open + 1..close].to_string();
        let fields: Vec<&str> = stat[close + 2..].split(' ').collect();
        let ppid = fields.get(1).and_then(|p| p.parse().ok()).unwrap_or(0);
        out.push(Proc { pid, ppid, comm });
    }
    out
}

fn rss_mb(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status.lines().find_map(|line| {
                let rest = line.strip_prefix("VmRSS:")?;
                rest.trim()
                    .trim_end_matches("kB")
                    .trim()
                    .parse::<f64>()
                    .ok()
            })
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

/// Where a process's resident memory is, from `/proc/<pid>/smaps` (MB): anonymous (heap,
/// stacks, `[anon]`) against file-backed, and the files holding the most; `mesa_mapped` says
/// which path the process took (`roost_desktop::memory`): whether a Mesa driver (`*_dri.so`)
/// or its LLVM is mapped (the software path keeps both out).
fn rss_breakdown(pid: u32) -> Value {
    let Ok(smaps) = std::fs::read_to_string(format!("/proc/{pid}/smaps")) else {
        return Value::Null;
    };
    let mut by_file: std::collections::BTreeMap<String, f64> = Default::default();
    let (mut anon, mut file) = (0.0, 0.0);
    let mut mapping = String::new();
    for line in smaps.lines() {
        let mut fields = line.split_whitespace();
        let first = fields.next().unwrap_or("");
        if first.contains('-') && !first.ends_with(':') {
            // A mapping's header: range, perms, offset, dev, inode, path.
            mapping = fields.nth(4).unwrap_or("").to_string();
        } else if first == "Rss:" {
            let kb: f64 = fields.next().and_then(|v| v.parse().ok()).unwrap_or(0.0);
            if mapping.starts_with('/') {
                file += kb;
                let name = mapping.rsplit('/').next().unwrap_or(&mapping).to_string();
                *by_file.entry(name).or_default() += kb;
            } else {
                anon += kb;
            }
        }
    }
    let mesa_mapped = by_file
        .keys()
        .any(|name| name.contains("_dri.so") || name.starts_with("libLLVM"));
    let mut files: Vec<(String, f64)> = by_file.into_iter().collect();
    files.sort_by(|a, b| b.1.total_cmp(&a.1));
    let mb = |kb: f64| round(kb / 1024.0);
    json!({
        "anon_mb": mb(anon),
        "file_mb": mb(file),
        "mesa_mapped": mesa_mapped,
        "top_files_mb": Value::Object(
            files.iter().take(12).map(|(name, kb)| (name.clone(), json!(mb(*kb)))).collect()
        ),
    })
}

impl BenchApp {
    fn c(&self) -> &Client {
        self.app.c()
    }

    /// Ends the app the way a desktop session does (SIGTERM, then it exits on its own, closing
    /// its cache cleanly), so the next launch measures a normal start, not one after a crash.
    async fn quit(self) {
        if let Ok(pid) = self.app_pid() {
            let _ = std::process::Command::new("kill")
                .arg(pid.to_string())
                .status();
            let started = Instant::now();
            while harness::process_running(pid) && started.elapsed() < WAIT {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        self.app.quit().await;
    }

    /// (app process RSS, sum of the WebKit processes the app started), in MB.
    fn memory(&self) -> Result<(f64, f64)> {
        let all = processes();
        let app = self.app_pid()?;
        let mut descendants = vec![app];
        let mut index = 0;
        while index < descendants.len() {
            let parent = descendants[index];
            descendants.extend(all.iter().filter(|p| p.ppid == parent).map(|p| p.pid));
            index += 1;
        }
        let webkit: f64 = all
            .iter()
            .filter(|p| descendants[1..].contains(&p.pid) && p.comm.starts_with("WebKit"))
            .map(|p| rss_mb(p.pid))
            .sum();
        Ok((rss_mb(app), webkit))
    }

    /// The app process (the `roost-desktop`, or the floor's binary, the driver started).
    fn app_pid(&self) -> Result<u32> {
        let all = processes();
        let mut family = vec![self.app._driver.0.id()];
        let mut index = 0;
        while index < family.len() {
            let parent = family[index];
            family.extend(all.iter().filter(|p| p.ppid == parent).map(|p| p.pid));
            index += 1;
        }
        all.iter()
            .find(|p| family.contains(&p.pid) && p.comm == self.comm)
            .map(|p| p.pid)
            .context("the app process")
    }

    /// Cold start, session request → painted chat list, and its steps on one clock (epoch ms):
    /// the app process's start (from `/proc`, 10 ms resolution), the shell's steps (`main`, the
    /// window and WebView created, the session's cache open: the `startup_timeline` command),
    /// the page's navigation start (`performance.timeOrigin`) and its marks (`roost-wasm-start`,
    /// `roost-status-reply`, `roost-chats-reply`, `roost-chat-list-painted`).
    ///
    /// With `app_list`, waits for the app's own list too (`roost-app-chat-list-painted`): the
    /// list the shell put into the page is painted before the wasm has even started.
    async fn cold_start(&self, app_list: bool) -> Result<ColdStart> {
        let script = r#"
            const [appList, done] = arguments;
            const first = (n) => {
                const e = performance.getEntriesByName(n);
                return e.length ? performance.timeOrigin + e[0].startTime : null;
            };
            const check = () => {
                const painted = first('roost-chat-list-painted');
                if (painted === null || (appList && first('roost-app-chat-list-painted') === null)) {
                    setTimeout(check, 5);
                    return;
                }
                const nav = performance.getEntriesByType('navigation')[0];
                window.__TAURI__.core.invoke('startup_timeline').then((shell) => done({
                    shell,
                    page_start: performance.timeOrigin,
                    html_loaded: nav ? performance.timeOrigin + nav.responseEnd : null,
                    dom_ready: nav ? performance.timeOrigin + nav.domContentLoadedEventEnd : null,
                    wasm_start: first('roost-wasm-start'),
                    first_frame: first('roost-first-frame'),
                    status_reply: first('roost-status-reply'),
                    chats_invoke: first('roost-chats-invoke'),
                    chats_reply: first('roost-chats-reply'),
                    painted,
                    app_painted: first('roost-app-chat-list-painted'),
                    // The page's steps (ms after navigation start): what the first frame may
                    // have waited for.
                    page_steps: [
                        ...(nav ? ['responseEnd', 'domInteractive', 'domContentLoadedEventStart',
                            'loadEventStart'].map((k) => [k, Math.round(nav[k])]) : []),
                        ...performance.getEntriesByType('paint').map((e) => [e.name, Math.round(e.startTime)]),
                        ...performance.getEntriesByType('mark').map((e) => [e.name, Math.round(e.startTime)]),
                    ],
                }), (e) => done({ error: String(e) }));
            };
            check();
        "#;
        let value = self
            .c()
            .execute_async(script, vec![json!(app_list)])
            .await?;
        if let Some(error) = value.get("error") {
            bail!("startup_timeline: {error}");
        }
        eprintln!(
            "  page steps (ms after navigation): {}",
            value["page_steps"]
        );
        let process_start = self.app_pid().ok().and_then(process_start_epoch_ms);
        Ok(ColdStart::from_steps(
            self.requested_at,
            process_start,
            &value,
        ))
    }

    /// Clicks the chat titled `title` and measures until its newest rows (seq ≥ `min_seq`) are
    /// painted, with the UI's `roost-open-*` marks and the frame steps (ms after the click;
    /// `None` when the UI did not reach one). "Painted" is the start of the frame after the
    /// first frame whose rendering found the rows in the DOM: WebKitGTK starts a frame only once
    /// the compositor has shown the previous one. (Before 2026-11-30 10:30 the figure ran to a
    /// task after that next frame's own rendering too: `frame_after`, kept for comparison.)
    async fn click_to_paint(&self, title: &str, min_seq: u64) -> Result<(f64, OpenPhases)> {
        self.press_to_paint(title, min_seq, None).await
    }

    /// [`BenchApp::click_to_paint`], the click coming `press_ms` after a pointerdown of the
    /// primary button (a mouse click: the button goes down, then up) when given; the figure
    /// still runs from the click. `OpenPhases::prefetched` says whether the rows came from the
    /// window read ahead on pointerdown.
    async fn press_to_paint(
        &self,
        title: &str,
        min_seq: u64,
        press_ms: Option<f64>,
    ) -> Result<(f64, OpenPhases)> {
        let script = r#"
            const [title, minSeq, pressMs, done] = arguments;
            const names = ['roost-open-invoke', 'roost-open-reply', 'roost-open-applied', 'roost-open-prefetched'];
            names.forEach((n) => performance.clearMarks(n));
            const item = document.querySelector(`[data-testid=chat-item][data-chat-title="${title}"]`);
            const run = () => {
            const started = performance.now();
            item.click();
            const at = (n) => {
                const e = performance.getEntriesByName(n);
                return e.length ? e[e.length - 1].startTime - started : null;
            };
            const since = () => performance.now() - started;
            const check = () => {
                const heading = document.querySelector('[data-testid=chat-title]');
                const row = document.querySelector('[data-testid=message]');
                if (heading && heading.textContent === title && row && Number(row.dataset.seq) >= minSeq) {
                    const frame = since();
                    let rendered = null;
                    // After this frame's style, layout and layer flush.
                    setTimeout(() => { rendered = since(); }, 0);
                    requestAnimationFrame(() => {
                        const painted = since();
                        setTimeout(() => done([painted, ...names.map(at), frame, rendered, since()]), 0);
                    });
                } else {
                    requestAnimationFrame(check);
                }
            };
            check();
            };
            if (pressMs === null) {
                run();
            } else {
                const pointer = { bubbles: true, button: 0, pointerType: 'mouse', isPrimary: true };
                item.dispatchEvent(new PointerEvent('pointerdown', { ...pointer, buttons: 1 }));
                setTimeout(() => {
                    item.dispatchEvent(new PointerEvent('pointerup', pointer));
                    run();
                }, pressMs);
            }
        "#;
        let value = self
            .c()
            .execute_async(script, vec![json!(title), json!(min_seq), json!(press_ms)])
            .await?;
        let total = value[0].as_f64().context("a number of milliseconds")?;
        let phases = OpenPhases {
            invoke: value[1].as_f64(),
            reply: value[2].as_f64(),
            applied: value[3].as_f64(),
            prefetched: value[4].as_f64().is_some(),
            frame: value[5].as_f64(),
            rendered: value[6].as_f64(),
            frame_after: value[7].as_f64(),
        };
        Ok((total, phases))
    }

    /// One open of `title` traced on the page's clock (ms after the click, for
    /// `ROOST_BENCH_APP_TRACE`): the `roost-open-*` marks, every animation frame's start, and
    /// every stretch of more than 1 ms in which the page's main thread ran no task of its own
    /// (a `MessageChannel` ping-pong: the page was busy rendering or handling other tasks).
    async fn click_trace(&self, title: &str, min_seq: u64) -> Result<Value> {
        let script = r#"
            const [title, minSeq, done] = arguments;
            const names = ['roost-open-invoke', 'roost-open-reply', 'roost-open-applied'];
            names.forEach((n) => performance.clearMarks(n));
            const item = document.querySelector(`[data-testid=chat-item][data-chat-title="${title}"]`);
            const trace = [];
            let finished = false;
            const channel = new MessageChannel();
            let last = null;
            const started = performance.now();
            const since = () => Math.round((performance.now() - started) * 10) / 10;
            channel.port1.onmessage = () => {
                const now = since();
                if (last !== null && now - last > 1) trace.push(['busy', last, now]);
                last = now;
                if (!finished) channel.port2.postMessage(0);
            };
            channel.port2.postMessage(0);
            item.click();
            trace.push(['click-returned', since()]);
            queueMicrotask(() => trace.push(['microtasks-reached', since()]));
            const check = () => {
                trace.push(['frame', since()]);
                const heading = document.querySelector('[data-testid=chat-title]');
                const row = document.querySelector('[data-testid=message]');
                if (heading && heading.textContent === title && row && Number(row.dataset.seq) >= minSeq) {
                    requestAnimationFrame(() => {
                        trace.push(['painted', since()]);
                        finished = true;
                        for (const n of names) {
                            const e = performance.getEntriesByName(n);
                            if (e.length) trace.push([n, Math.round((e[e.length - 1].startTime - started) * 10) / 10]);
                        }
                        trace.sort((a, b) => a[1] - b[1]);
                        done(trace);
                    });
                } else {
                    requestAnimationFrame(check);
                }
            };
            requestAnimationFrame(check);
        "#;
        Ok(self
            .c()
            .execute_async(script, vec![json!(title), json!(min_seq)])
            .await?)
    }

    /// Where the IPC part of an open goes, straight from the page (no UI code, medians of
    /// `runs` invokes each, ms): a trivial command's round trip (the transport's floor), the
    /// `cached_window` read of 1, 20 and 200 rows (what grows with the payload), the UI's open
    /// command right after a close (its write of the open flag and its events to the UI
    /// included; also with the close's event handled before the open, for a chat already open
    /// (no write), and the close alone), and a 200-row reply's size in bytes. (Found with it: the open command's round
    /// trip is ~3 ms while the page ignores events and 15–20 ms while the UI handles them.)
    async fn ipc_probe(&self, title: &str, runs: usize) -> Result<Value> {
        let script = r#"
            const [title, runs, done] = arguments;
            const item = document.querySelector(`[data-testid=chat-item][data-chat-title="${title}"]`);
            const chatId = item.dataset.chatId;
            const invoke = window.__TAURI__.core.invoke;
            const newest = { type: 'newest' };
            const out = {};
            const time = async (name, f, before) => {
                const all = [];
                for (let i = 0; i < runs; i++) {
                    if (before) await before();
                    const t = performance.now();
                    await f();
                    all.push(performance.now() - t);
                }
                all.sort((a, b) => a - b);
                out[name] = Math.round(all[Math.floor(all.length / 2)] * 100) / 100;
            };
            (async () => {
                await time('trivial_command', () => invoke('startup_timeline'));
                for (const limit of [1, 20, 200]) {
                    await time(`cached_window_${limit}`, () => invoke('cached_window', { chatId, anchor: newest, limit }));
                }
                await time('open_after_close', () => invoke('open_chat', { chatId, anchor: newest }),
                    () => invoke('close_chat', { chatId }));
                // The same with the close's event handled first (two frames later): what is
                // left is the open's own write and event.
                const frame = () => new Promise((r) => requestAnimationFrame(() => r()));
                await time('open_after_close_settled', () => invoke('open_chat', { chatId, anchor: newest }),
                    async () => { await invoke('close_chat', { chatId }); await frame(); await frame(); });
                // Already open, nothing unread: no write, one event.
                await time('open_when_open', () => invoke('open_chat', { chatId, anchor: newest }));
                await time('close_chat', () => invoke('close_chat', { chatId }),
                    () => invoke('open_chat', { chatId, anchor: newest }));
                // The synchronous part of an invoke (the page's fetch to the shell).
                const sync = [];
                for (let i = 0; i < runs; i++) {
                    const t = performance.now();
                    const reply = invoke('startup_timeline');
                    sync.push(performance.now() - t);
                    await reply;
                }
                sync.sort((a, b) => a - b);
                out.invoke_sync_part = Math.round(sync[Math.floor(sync.length / 2)] * 100) / 100;
                // The open with another chat's close running beside it in the core (as a
                // click that closes the previous chat right away did).
                const other = document.querySelector('[data-testid=chat-item]:not([data-chat-id="' + chatId + '"])').dataset.chatId;
                await time('open_beside_close', async () => {
                    const reply = invoke('open_chat', { chatId, anchor: newest });
                    invoke('close_chat', { chatId: other });
                    await reply;
                }, async () => { await invoke('close_chat', { chatId }); await invoke('open_chat', { chatId: other, anchor: newest }); });
                // The open while the page repaints the whole window (as a click's highlight
                // makes it render a frame while the open is on its way).
                let dark = false;
                await time('open_beside_repaint', () => {
                    dark = !dark;
                    document.body.style.background = dark ? '#202020' : '#fefefe';
                    return invoke('open_chat', { chatId, anchor: newest });
                }, () => invoke('close_chat', { chatId }));
                document.body.style.background = '';
                const reply = await invoke('cached_window', { chatId, anchor: newest, limit: 200 });
                out.bytes_200 = reply.byteLength;
                done(out);
            })().catch((e) => done({ error: String(e) }));
        "#;
        let value = self
            .c()
            .execute_async(script, vec![json!(title), json!(runs)])
            .await?;
        if let Some(error) = value.get("error") {
            bail!("ipc probe: {error}");
        }
        Ok(value)
    }

    async fn wait_for(&self, css: &str) -> Result<()> {
        self.c()
            .wait()
            .at_most(WAIT)
            .for_element(Locator::Css(css))
            .await?;
        Ok(())
    }
}

/// Writes back what the seeding (or the previous app's close) left dirty before the next
/// launch: a cold start measured while the kernel flushes a freshly written million-message
/// cache measures that flush, which no user's start has to share.
fn settle_disk() {
    if let Err(e) = std::process::Command::new("sync").status() {
        eprintln!("sync: {e}");
    }
}

/// When a process started, epoch ms: `/proc/<pid>/stat`'s start time (clock ticks after boot,
/// 100 per second on Linux) against `/proc/uptime` now.
fn process_start_epoch_ms(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_comm = &stat[stat.rfind(')')? + 2..];
    // Field 22 of the stat line; the 20th after the command name.
    let start_ticks: f64 = after_comm.split(' ').nth(19)?.parse().ok()?;
    let uptime: f64 = std::fs::read_to_string("/proc/uptime")
        .ok()?
        .split(' ')
        .next()?
        .parse()
        .ok()?;
    Some(epoch_ms() - (uptime - start_ticks / 100.0) * 1e3)
}

/// Cold start and its phases, in ms.
#[derive(Debug)]
struct ColdStart {
    /// Session request → chat list painted (the first list: the shell's copy in the page, or
    /// the app's own).
    total: f64,
    /// Session request → the app's own chat list painted (the UI is running).
    app: f64,
    /// Page navigation start → chat list painted (the page's own clock).
    page: f64,
    /// Consecutive phases (name, ms); a phase whose ends were not both seen is left out.
    phases: Vec<(String, f64)>,
}

impl ColdStart {
    /// From the steps the page returned (epoch ms; `shell` holds the shell's own).
    fn from_steps(requested_at: f64, process_start: Option<f64>, steps: &Value) -> ColdStart {
        let shell = |name: &str| steps["shell"][name].as_f64();
        let page = |name: &str| steps[name].as_f64();
        let painted = page("painted").unwrap_or(requested_at);
        // The app's own list; earlier than it when the shell's copy in the page came first
        // (`src-tauri/src/first_paint.rs`).
        let app_painted = page("app_painted").unwrap_or(painted);
        let page_start = page("page_start").unwrap_or(painted);
        // In the order they happen; each phase runs from one step to the next.
        let steps: [(&'static str, Option<f64>); 10] = [
            ("session_requested", Some(requested_at)),
            ("process_started", process_start),
            ("main", shell("main")),
            ("window_created", shell("window-created")),
            ("page_started", Some(page_start)),
            ("html_loaded", page("html_loaded")),
            ("wasm_started", page("wasm_start")),
            ("status_replied", page("status_reply")),
            ("chats_replied", page("chats_reply")),
            ("chat_list_painted", Some(app_painted)),
        ];
        let mut phases = Vec::new();
        for pair in steps.windows(2) {
            if let ((from, Some(a)), (to, Some(b))) = (pair[0], pair[1]) {
                phases.push((format!("{from}__{to}"), b - a));
            }
        }
        // Not steps of the page's chain: the page's first frame after the wasm started, and
        // the shell's session (cache open), which run beside it.
        if let (Some(wasm), Some(frame)) = (page("wasm_start"), page("first_frame")) {
            phases.push(("wasm_started__first_frame".to_string(), frame - wasm));
        }
        if let (Some(main), Some(session)) = (shell("main"), shell("session-started")) {
            phases.push(("main__session_started".to_string(), session - main));
        }
        if painted < app_painted
            && let Some(html) = page("html_loaded")
        {
            phases.push(("html_loaded__first_paint".to_string(), painted - html));
        }
        // The page's `chats` request alone, and the shell's tray icon (installed off the
        // page's path once the page has loaded).
        if let (Some(invoke), Some(reply)) = (page("chats_invoke"), page("chats_reply")) {
            phases.push(("chats_invoked__chats_replied".to_string(), reply - invoke));
        }
        if let (Some(window), Some(tray)) = (shell("window-created"), shell("tray-installed")) {
            phases.push(("window_created__tray_installed".to_string(), tray - window));
        }
        ColdStart {
            total: painted - requested_at,
            app: app_painted - requested_at,
            page: painted - page_start,
            phases,
        }
    }

    fn phases_json(&self) -> Value {
        Value::Object(
            self.phases
                .iter()
                .map(|(name, ms)| (name.clone(), json!(round(*ms))))
                .collect(),
        )
    }
}

/// The blank Tauri window of the same-run floor (`src-tauri/examples/blank_window`):
/// `ROOST_BENCH_FLOOR_APP`, else `blank-window` beside the app binary or in its `examples/`.
fn floor_binary() -> Option<String> {
    if let Some(path) = std::env::var_os("ROOST_BENCH_FLOOR_APP") {
        return Some(path.to_string_lossy().into_owned());
    }
    let app = PathBuf::from(app_binary());
    let dir = app.parent()?;
    [
        dir.join("blank-window"),
        dir.join("examples").join("blank-window"),
    ]
    .into_iter()
    .find(|p| p.is_file())
    .map(|p| p.to_string_lossy().into_owned())
}

/// The same-run floor: a blank Tauri window's cold start (the median of `runs` launches, as
/// Roost's is taken) and its memory a moment after its first frame, as JSON keys to merge into
/// the figures; none when the blank window is not built (said on stderr).
async fn floor_figures(runs: usize) -> Result<serde_json::Map<String, Value>> {
    let mut figures = serde_json::Map::new();
    let Some(binary) = floor_binary() else {
        eprintln!(
            "no same-run floor: build the blank window first (cargo build --release --locked -p roost-desktop --features custom-protocol --example blank-window) or set ROOST_BENCH_FLOOR_APP"
        );
        return Ok(figures);
    };
    let desktop = offline_desktop();
    let mut starts = Vec::new();
    let app = loop {
        settle_disk();
        let app = launch_binary(&desktop, &binary).await?;
        let start = app.cold_start(false).await?;
        eprintln!(
            "blank window, launch {}: cold start {:.1} ms, phases {}",
            starts.len() + 1,
            start.total,
            start.phases_json()
        );
        starts.push(start);
        if starts.len() >= runs {
            break app;
        }
        app.quit().await;
    };
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (rss, webkit) = app.memory()?;
    let breakdown = rss_breakdown(app.app_pid()?);
    app.quit().await;
    starts.sort_by(|a, b| a.total.total_cmp(&b.total));
    let median = &starts[starts.len() / 2];
    eprintln!(
        "blank window (floor): cold start {:.1} ms (phases {}); RSS {rss:.1} MB ({breakdown}), WebKit {webkit:.1} MB",
        median.total,
        median.phases_json()
    );
    figures.insert("cold_start_floor_ms".into(), json!(round(median.total)));
    figures.insert("cold_start_floor_phases_ms".into(), median.phases_json());
    figures.insert("rss_floor_mb".into(), json!(round(rss)));
    figures.insert("rss_floor_breakdown".into(), breakdown);
    figures.insert("webkit_rss_floor_mb".into(), json!(round(webkit)));
    Ok(figures)
}

fn quantile(sorted: &[f64], q: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

/// When the UI reached each step of opening a chat, in ms after the click.
#[derive(Debug, Clone, Copy)]
struct OpenPhases {
    /// The click handler asked the core for the window (`open_chat` invoked).
    invoke: Option<f64>,
    /// The window arrived over IPC, deserialised.
    reply: Option<f64>,
    /// The UI's state holds it (Leptos then patches the DOM; the browser lays out and paints).
    applied: Option<f64>,
    /// The rows came from the window read ahead on pointerdown (not the open's reply).
    prefetched: bool,
    /// The first frame (its `requestAnimationFrame` callbacks) that found the rows in the DOM.
    frame: Option<f64>,
    /// That frame's rendering (style, layout, layer flush) finished.
    rendered: Option<f64>,
    /// A task after the next frame's rendering: what the figure measured before.
    frame_after: Option<f64>,
}

/// The median of each phase of click → paint: where the time goes.
fn phase_medians(runs: &[(f64, OpenPhases)]) -> Value {
    let median = |f: &dyn Fn(&(f64, OpenPhases)) -> Option<f64>| -> Option<f64> {
        let mut v: Vec<f64> = runs.iter().filter_map(f).collect();
        v.sort_by(f64::total_cmp);
        (!v.is_empty()).then(|| round(quantile(&v, 0.5)))
    };
    json!({
        "click_to_invoke": median(&|(_, p)| p.invoke),
        "invoke_to_reply": median(&|(_, p)| Some(p.reply? - p.invoke?)),
        "reply_to_applied": median(&|(_, p)| Some(p.applied? - p.reply?)),
        "applied_to_frame": median(&|(_, p)| Some(p.frame? - p.applied?)),
        "frame_to_rendered": median(&|(_, p)| Some(p.rendered? - p.frame?)),
        "rendered_to_painted": median(&|(t, p)| Some(t - p.rendered?)),
        "applied_to_painted": median(&|(t, p)| Some(t - p.applied?)),
    })
}

/// Opens `big` (alternating with `small`, whose open is not timed) `runs` times.
async fn click_to_paint_figures(
    app: &BenchApp,
    big: (&str, u64),
    small: &str,
    runs: usize,
) -> Result<Value> {
    app.click_to_paint(small, 1).await?;
    let mut measured = Vec::with_capacity(runs);
    for _ in 0..runs {
        measured.push(
            app.click_to_paint(big.0, big.1.saturating_sub(1_000))
                .await?,
        );
        app.click_to_paint(small, 1).await?;
    }
    app.click_to_paint(big.0, big.1.saturating_sub(1_000))
        .await?;
    let rows = app
        .c()
        .find_all(Locator::Css("[data-testid=message]"))
        .await?
        .len();
    assert!(
        rows > 0 && rows <= 200,
        "a bounded window of rows is in the DOM: {rows}"
    );
    for _ in 0..env_count("ROOST_BENCH_APP_TRACE", 0)? {
        app.click_to_paint(small, 1).await?;
        let trace = app.click_trace(big.0, big.1.saturating_sub(1_000)).await?;
        eprintln!("open trace (ms after the click): {trace}");
    }
    // A mouse's click: pointerdown, the button held `press_ms`, then the click.
    let press_ms = env_count("ROOST_BENCH_APP_PRESS_MS", 60)? as f64;
    let mut pressed = Vec::with_capacity(runs);
    // From the small chat, as every timed open (the big one is open now).
    app.click_to_paint(small, 1).await?;
    for _ in 0..runs {
        pressed.push(
            app.press_to_paint(big.0, big.1.saturating_sub(1_000), Some(press_ms))
                .await?,
        );
        app.click_to_paint(small, 1).await?;
    }
    let mut press_timings: Vec<f64> = pressed.iter().map(|(t, _)| *t).collect();
    press_timings.sort_by(f64::total_cmp);
    let press = json!({
        "press_ms": press_ms,
        "p50": round(quantile(&press_timings, 0.5)),
        "p99": round(quantile(&press_timings, 0.99)),
        "min": round(press_timings[0]),
        "max": round(press_timings[press_timings.len() - 1]),
        "runs": runs,
        "prefetched_runs": pressed.iter().filter(|(_, p)| p.prefetched).count(),
    });
    eprintln!("pointerdown, {press_ms} ms, click → painted: {press}");
    let ipc = app.ipc_probe(big.0, 21).await?;
    eprintln!("IPC probe (ms, medians): {ipc}");
    let mut timings: Vec<f64> = measured.iter().map(|(t, _)| *t).collect();
    timings.sort_by(f64::total_cmp);
    let mut frame_after: Vec<f64> = measured.iter().filter_map(|(_, p)| p.frame_after).collect();
    frame_after.sort_by(f64::total_cmp);
    Ok(json!({
        "frame_after_p50": (!frame_after.is_empty()).then(|| round(quantile(&frame_after, 0.5))),
        "frame_after_p99": (!frame_after.is_empty()).then(|| round(quantile(&frame_after, 0.99))),
        "p50": round(quantile(&timings, 0.5)),
        "p99": round(quantile(&timings, 0.99)),
        "min": round(timings[0]),
        "max": round(timings[timings.len() - 1]),
        "runs": runs,
        "dom_rows": rows,
        "phases_p50": phase_medians(&measured),
        "ipc_probe": ipc,
        "after_pointerdown": press,
    }))
}

/// A whole-number knob from the environment (`default` when unset); a value that cannot be
/// read is an error naming it, never silently the default.
fn env_count(name: &str, default: usize) -> Result<usize> {
    match std::env::var(name) {
        Ok(r) if !r.trim().is_empty() => r
            .trim()
            .parse()
            .map_err(|_| anyhow::anyhow!("{name}={r:?}: expected a whole number (decimal)")),
        _ => Ok(default),
    }
}

fn round(ms: f64) -> f64 {
    (ms * 10.0).round() / 10.0
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a display, tauri-driver and the built app: run under xvfb-run (see the module docs)"]
async fn release_app_figures() -> Result<()> {
    // A knob that cannot be read is an error naming it, never silently the default.
    let runs = env_count("ROOST_BENCH_APP_RUNS", 41)?;
    let cold_runs = env_count("ROOST_BENCH_APP_COLD_RUNS", 3)?.max(1);
    // Which cache sizes to measure (decimal, comma-separated): a quick look at one while
    // iterating; `./dev bench` measures both.
    let sizes: Vec<u64> = match std::env::var("ROOST_BENCH_APP_CACHED") {
        Ok(list) if !list.trim().is_empty() => list
            .split(',')
            .map(|n| {
                n.trim().parse().map_err(|_| {
                    anyhow::anyhow!("ROOST_BENCH_APP_CACHED={list:?}: expected cache sizes such as 100000,1000000")
                })
            })
            .collect::<Result<_>>()?,
        _ => vec![100_000, 1_000_000],
    };
    let mut figures = serde_json::Map::new();
    figures.insert(
        "app_build".into(),
        json!(if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        }),
    );
    let mut cold = serde_json::Map::new();
    let mut page = serde_json::Map::new();
    let mut phases = serde_json::Map::new();
    let mut rss = serde_json::Map::new();
    let mut rss_breakdowns = serde_json::Map::new();
    let mut app_cold = serde_json::Map::new();
    let mut webkit = serde_json::Map::new();
    let mut floor_cold = serde_json::Map::new();
    for cached in sizes {
        // The 100k chat is the issue's click → paint figure; other sizes are a shorter look.
        let timed = cached == 100_000;
        let desktop = offline_desktop();
        let seeding = Instant::now();
        seed(&desktop, &[("Big", cached), ("Small", 1)]).await?;
        eprintln!(
            "seeded {cached} messages in {:.1} s",
            seeding.elapsed().as_secs_f64()
        );
        // The floor right before the app's launches, under the same load (this box is shared):
        // each cache size's cold start is read beside its own; the rest of the floor's figures
        // are the last size's.
        let floor = floor_figures(cold_runs).await?;
        if let Some(ms) = floor.get("cold_start_floor_ms") {
            floor_cold.insert(cached.to_string(), ms.clone());
        }
        figures.extend(floor);
        // Cold start is one sample per launch: the median of a few launches (the last one's
        // app stays up for the clicks and memory).
        let mut starts = Vec::new();
        let app = loop {
            settle_disk();
            let app = launch(&desktop).await?;
            let start = app.cold_start(true).await?;
            eprintln!(
                "{cached} cached, launch {}: cold start {:.1} ms (the app's own list {:.1} ms), phases {}",
                starts.len() + 1,
                start.total,
                start.app,
                start.phases_json()
            );
            starts.push(start);
            if starts.len() >= cold_runs {
                break app;
            }
            app.quit().await;
        };
        eprintln!(
            "{cached} cached: cold starts {:?} ms",
            starts.iter().map(|s| round(s.total)).collect::<Vec<_>>()
        );
        starts.sort_by(|a, b| a.total.total_cmp(&b.total));
        let cold_start = &starts[starts.len() / 2];
        let (cold_ms, page_ms) = (cold_start.total, cold_start.page);
        app_cold.insert(cached.to_string(), json!(round(cold_start.app)));
        app.wait_for("[data-testid=chat-item][data-chat-title=\"Small\"]")
            .await?;
        let clicks = click_to_paint_figures(
            &app,
            ("Big", cached),
            "Small",
            if timed { runs } else { 11 },
        )
        .await?;
        // The big chat stays open while memory is read (after the UI settled).
        tokio::time::sleep(Duration::from_secs(2)).await;
        let (app_rss, webkit_rss) = app.memory()?;
        rss_breakdowns.insert(cached.to_string(), rss_breakdown(app.app_pid()?));
        eprintln!(
            "{cached} cached: cold start {cold_ms:.1} ms (page {page_ms:.1} ms; phases {}); click→paint {clicks}; RSS app {app_rss:.1} MB, WebKit {webkit_rss:.1} MB",
            cold_start.phases_json()
        );
        if timed {
            figures.insert("click_to_paint_ms".into(), clicks);
        } else {
            figures.insert(format!("click_to_paint_{cached}_ms"), clicks);
        }
        cold.insert(cached.to_string(), json!(round(cold_ms)));
        phases.insert(cached.to_string(), cold_start.phases_json());
        page.insert(cached.to_string(), json!(round(page_ms)));
        rss.insert(cached.to_string(), json!(round(app_rss)));
        webkit.insert(cached.to_string(), json!(round(webkit_rss)));
        if cached == 1_000_000 {
            figures.insert("cold_start_ms".into(), json!(round(cold_ms)));
        }
        app.quit().await;
    }
    figures.insert("cold_start_ms_by_cached".into(), Value::Object(cold));
    figures.insert(
        "cold_start_floor_ms_by_cached".into(),
        Value::Object(floor_cold),
    );
    figures.insert("cold_start_page_ms_by_cached".into(), Value::Object(page));
    // Session request → the app's own chat list painted (the UI running), beside cold start.
    figures.insert(
        "cold_start_app_ms_by_cached".into(),
        Value::Object(app_cold),
    );
    figures.insert(
        "cold_start_phases_ms_by_cached".into(),
        Value::Object(phases),
    );
    figures.insert("rss_mb".into(), Value::Object(rss));
    figures.insert("rss_breakdown".into(), Value::Object(rss_breakdowns));
    figures.insert("webkit_rss_mb".into(), Value::Object(webkit));
    let text = serde_json::to_string(&Value::Object(figures))?;
    println!("{text}");
    let out = std::env::var_os("ROOST_BENCH_APP_OUT")
        .map(PathBuf::from)
        .unwrap_or_else(|| artifacts_dir().join("bench-app.json"));
    std::fs::write(&out, text)?;
    Ok(())
}
