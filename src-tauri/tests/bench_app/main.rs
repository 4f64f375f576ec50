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
//! Click → paint is measured three ways, all from the click to the start of the frame after
//! the first frame that rendered the rows (the rows watched for as the DOM changes: the bench
//! asks for no frame before they are there, as a user's click asks for none):
//! - `click_to_paint_ms`: a plain click (`element.click()`, as a keyboard or WebDriver click:
//!   no pointerdown) after the page has been idle `ROOST_BENCH_APP_IDLE_MS` (1000) ms, as a
//!   user's next click comes: the UI has read ahead the chats likeliest to be opened next;
//! - its `no_read_ahead`: the same click `ROOST_BENCH_APP_SETTLE_MS` (100) after the previous
//!   open painted, before any read-ahead (interleaved with the first; its `prefetched_runs`
//!   is 0: the open's whole round trip), and `no_read_ahead_polled`, the same measured as
//!   before 2026-12-01 06:40: a frame asked for at the click and every frame after it;
//! - its `after_pointerdown`: a mouse's click (pointerdown, the button held
//!   `ROOST_BENCH_APP_PRESS_MS`, 60, then the click; the UI reads the chat ahead on
//!   pointerdown).
//!
//! (Before 2026-12-01 06:40, rows found in the click itself — every read-ahead open — ended
//! the figure at the start of the frame that rendered them: one frame's rendering short.)
//!
//! Cold start → chat list painted is timed two ways, per cache size:
//! - `cold_start_ms[_by_cached]` (and `_app_`, `_page_`, `_phases_`, `_floor_`): a **direct
//!   launch**, as from a desktop launcher: the bench spawns the binary itself and times from just
//!   before the spawn to the frame that painted the chat list; the app writes its steps and its
//!   page's to a file (`roost_desktop::startup::REPORT_ENV`). The blank window and the app are
//!   launched in turn, on a private session bus with its accessibility bus running, as in a
//!   desktop session (`ROOST_BENCH_APP_SESSION_BUS`, 1; 0: no bus, as under bare `xvfb-run`).
//! - `cold_start_webdriver_ms_by_cached` (and `_app_`, `_phases_`, `_floor_`): the earlier
//!   definition, from the WebDriver session's request; it includes tauri-driver's and
//!   WebKitWebDriver's own start before they start the app (`session_requested__process_started`)
//!   and an app under automation.
//!
//! Knobs (decimal): `ROOST_BENCH_APP_RUNS` (timed opens of the 100k chat, each way; 101, so
//! that p99 is not just the slowest open),
//! `ROOST_BENCH_APP_TRACE` (opens traced on the page's clock and printed, 0),
//! `ROOST_BENCH_APP_EVERY_OPEN` (set: every timed open printed with its steps and frames),
//! `ROOST_BENCH_APP_COLD_RUNS` (WebDriver launches per cache size, the median is reported; 3),
//! `ROOST_BENCH_APP_DIRECT_RUNS` (direct launches of each, the app and the floor, per cache size,
//! the median is reported; 11: a launch's spread here is ±50 ms, and a direct launch is cheap),
//! `ROOST_BENCH_APP_CACHED` (cache sizes, comma-separated; `100000,1000000`),
//! `ROOST_BENCH_APP_COMPARE` (other builds of the app, comma-separated, each launched directly
//! right after the app in every round of direct launches: a before/after under the same load;
//! printed only), `ROOST_BENCH_APP_SEED_INDEXED` (1: the seeded cache's search index is brought up to date
//! before the launches, as in a cache the app has run with; 0: launches start with every seeded
//! message queued for the core's background indexer, as before 2026-11-30 21:30 UTC),
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
mod cold;
#[path = "../e2e/harness.rs"]
#[allow(dead_code, unused_imports)]
mod harness;
mod open;
mod procfs;

use harness::{
    App, Client, Context, Desktop, Duration, Instant, Locator, PathBuf, Result, SessionBus,
    app_binary, artifacts_dir, bail, json,
};
use roost_core::store::{CursorRule, IngestOptions, Position, Store};
use roost_proto::{ChatId, ChatSummary, Message, MessageId, UserId};
use serde_json::Value;
use std::time::{SystemTime, UNIX_EPOCH};

use cold::*;
use open::*;
use procfs::*;

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

/// Fills alice's cache through the core's own store, as if each chat had been synced. With
/// `indexed`, the search index is brought up to date too, as it is in a cache the app has run
/// with (the core's indexer drains the queue in the background); without, every launch starts
/// with the whole cache queued for indexing, and the indexer's work competes with start-up.
async fn seed(desktop: &Desktop, chats: &[(&str, u64)], indexed: bool) -> Result<Vec<ChatId>> {
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
    if indexed {
        store.drain_search_queue().await?;
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
        web_pid: Default::default(),
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
    /// Its web process (WebKit's, running the page), once looked up.
    web_pid: std::sync::OnceLock<Option<u32>>,
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
        let descendants = family(&all, app);
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
        let family = family(&all, self.app._driver.0.id());
        all.iter()
            .find(|p| family.contains(&p.pid) && p.comm == self.comm)
            .map(|p| p.pid)
            .context("the app process")
    }

    /// The web process running the app's page (`WebKitWebProcess`, a descendant of the app).
    fn web_pid(&self) -> Option<u32> {
        *self.web_pid.get_or_init(|| {
            let all = processes();
            let family = family(&all, self.app_pid().ok()?);
            all.iter()
                .find(|p| family[1..].contains(&p.pid) && p.comm.starts_with("WebKitWebProces"))
                .map(|p| p.pid)
        })
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

fn quantile(sorted: &[f64], q: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
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
    let runs = env_count("ROOST_BENCH_APP_RUNS", 101)?;
    let cold_runs = env_count("ROOST_BENCH_APP_COLD_RUNS", 3)?.max(1);
    let direct_runs = env_count("ROOST_BENCH_APP_DIRECT_RUNS", 11)?.max(1);
    let seed_indexed = env_count("ROOST_BENCH_APP_SEED_INDEXED", 1)? != 0;
    let session_bus = env_count("ROOST_BENCH_APP_SESSION_BUS", 1)? != 0;
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
    figures.insert("app_seed_indexed".into(), json!(seed_indexed));
    figures.insert("cold_start_session_bus".into(), json!(session_bus));
    let bus = desktop_session_bus(session_bus)?;
    figures.insert(
        "app_build".into(),
        json!(if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        }),
    );
    // Each figure keyed by cache size: `cold_start_*` from direct launches (as a user starts
    // the app), `cold_start_webdriver_*` through WebDriver (the earlier definition).
    let mut by_cached: std::collections::BTreeMap<String, serde_json::Map<String, Value>> =
        Default::default();
    let mut put = |key: &str, cached: u64, value: Value| {
        by_cached
            .entry(key.to_string())
            .or_default()
            .insert(cached.to_string(), value);
    };
    let mut rss_breakdowns = serde_json::Map::new();
    for cached in sizes {
        // The 100k chat is the issue's click → paint figure; other sizes are a shorter look.
        let timed = cached == 100_000;
        let desktop = offline_desktop();
        let seeding = Instant::now();
        seed(&desktop, &[("Big", cached), ("Small", 1)], seed_indexed).await?;
        eprintln!(
            "seeded {cached} messages in {:.1} s",
            seeding.elapsed().as_secs_f64()
        );
        // Cold start as a user has it: the binary spawned directly, the blank window's and the
        // app's launches in turn.
        let (direct, direct_floor) =
            direct_cold_starts(&desktop, cached, direct_runs, bus.as_ref()).await?;
        eprintln!(
            "{cached} cached, direct launches: cold starts {:?} ms, blank window {:?} ms",
            direct.iter().map(|s| round(s.total)).collect::<Vec<_>>(),
            direct_floor
                .iter()
                .map(|s| round(s.total))
                .collect::<Vec<_>>()
        );
        let direct = median(direct);
        put_cold_start(&mut put, "cold_start_", cached, &direct, true);
        if !direct_floor.is_empty() {
            let floor = median(direct_floor);
            put(
                "cold_start_floor_ms_by_cached",
                cached,
                json!(round(floor.total)),
            );
            figures.insert("cold_start_floor_ms".into(), json!(round(floor.total)));
            figures.insert("cold_start_floor_phases_ms".into(), floor.phases_json());
        }
        if cached == 1_000_000 {
            figures.insert("cold_start_ms".into(), json!(round(direct.total)));
        }
        // Through WebDriver: the floor right before the app's launches, under the same load
        // (this box is shared); the rest of the floor's figures are the last size's.
        let floor = floor_figures(cold_runs).await?;
        if let Some(ms) = floor.get("cold_start_webdriver_floor_ms") {
            put(
                "cold_start_webdriver_floor_ms_by_cached",
                cached,
                ms.clone(),
            );
        }
        figures.extend(floor);
        // Cold start is one sample per launch: the median of a few launches (the last one's
        // app stays up for the clicks and memory).
        let (starts, app) = cold_starts_keeping_last(
            cold_runs,
            true,
            || launch(&desktop),
            |launch, start| {
                eprintln!(
                    "{cached} cached, WebDriver launch {launch}: cold start {:.1} ms (the app's own list {:.1} ms), phases {}",
                    start.total,
                    start.app,
                    start.phases_json()
                )
            },
        )
        .await?;
        eprintln!(
            "{cached} cached, WebDriver launches: cold starts {:?} ms",
            starts.iter().map(|s| round(s.total)).collect::<Vec<_>>()
        );
        let cold_start = median(starts);
        put_cold_start(
            &mut put,
            "cold_start_webdriver_",
            cached,
            &cold_start,
            false,
        );
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
            "{cached} cached: cold start {:.1} ms direct (page {:.1} ms; phases {}), {:.1} ms through WebDriver; click→paint {clicks}; RSS app {app_rss:.1} MB, WebKit {webkit_rss:.1} MB",
            direct.total,
            direct.page,
            direct.phases_json(),
            cold_start.total,
        );
        if timed {
            figures.insert("click_to_paint_ms".into(), clicks);
        } else {
            figures.insert(format!("click_to_paint_{cached}_ms"), clicks);
        }
        put("rss_mb", cached, json!(round(app_rss)));
        put("webkit_rss_mb", cached, json!(round(webkit_rss)));
        app.quit().await;
    }
    for (key, values) in by_cached {
        figures.insert(key, Value::Object(values));
    }
    figures.insert("rss_breakdown".into(), Value::Object(rss_breakdowns));
    let text = serde_json::to_string(&Value::Object(figures))?;
    println!("{text}");
    let out = std::env::var_os("ROOST_BENCH_APP_OUT")
        .map(PathBuf::from)
        .unwrap_or_else(|| artifacts_dir().join("bench-app.json"));
    std::fs::write(&out, text)?;
    Ok(())
}

/// One launch's figures as `{prefix}ms`, `{prefix}app_ms`, (with `page`) `{prefix}page_ms` and
/// `{prefix}phases_ms`, each `_by_cached` (through `put`: key, cache size, value).
fn put_cold_start(
    put: &mut impl FnMut(&str, u64, Value),
    prefix: &str,
    cached: u64,
    start: &ColdStart,
    page: bool,
) {
    put(
        &format!("{prefix}ms_by_cached"),
        cached,
        json!(round(start.total)),
    );
    put(
        &format!("{prefix}app_ms_by_cached"),
        cached,
        json!(round(start.app)),
    );
    if page {
        put(
            &format!("{prefix}page_ms_by_cached"),
            cached,
            json!(round(start.page)),
        );
    }
    put(
        &format!("{prefix}phases_ms_by_cached"),
        cached,
        start.phases_json(),
    );
}
