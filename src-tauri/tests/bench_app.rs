//! The release app's figures for `./dev bench` (issue 11): click → painted messages of a
//! 100,000-message chat, cold start → chat list painted, and resident memory of the app process
//! (WebKit's processes reported separately) with 100,000 and 1,000,000 cached messages. Offline:
//! the app signs in with an unreachable server URL, so nothing but the cache and the UI is
//! measured. The E2E harness itself (`e2e/harness.rs`, included as a module: tauri-driver in its
//! own process group, WebDriver over fantoccini, fresh XDG dirs per desktop).
//!
//! ```text
//! (cd ui && trunk build --release)
//! flock /tmp/roost-e2e.lock xvfb-run -a -s "-screen 0 1280x800x24" \
//!   cargo test --release -p roost-desktop --features custom-protocol --test bench_app -- --ignored
//! ```
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
/// moment the session (and so the app's launch) was requested.
async fn launch(desktop: &Desktop) -> Result<BenchApp> {
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
    capabilities.insert(
        "tauri:options".into(),
        json!({ "application": app_binary() }),
    );
    let requested_at = epoch_ms();
    let client = harness::ClientBuilder::native()
        .capabilities(capabilities)
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .context("no WebDriver session")?;
    Ok(BenchApp {
        app: App {
            client: Some(client),
            _driver: driver,
            log,
        },
        requested_at,
    })
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

impl BenchApp {
    fn c(&self) -> &Client {
        self.app.c()
    }

    async fn quit(self) {
        self.app.quit().await;
    }

    /// (app process RSS, sum of the WebKit processes the app started), in MB.
    fn memory(&self) -> Result<(f64, f64)> {
        let all = processes();
        let mut family = vec![self.app._driver.0.id()];
        let mut index = 0;
        while index < family.len() {
            let parent = family[index];
            family.extend(all.iter().filter(|p| p.ppid == parent).map(|p| p.pid));
            index += 1;
        }
        let app = all
            .iter()
            .find(|p| family.contains(&p.pid) && p.comm == "roost-desktop")
            .context("the app process")?;
        let mut descendants = vec![app.pid];
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
        Ok((rss_mb(app.pid), webkit))
    }

    /// (ms from the session request to the painted chat list, ms from the page's navigation
    /// start to it), read from the UI's `roost-chat-list-painted` performance mark.
    async fn cold_start(&self) -> Result<(f64, f64)> {
        let script = r#"
            const done = arguments[arguments.length - 1];
            const check = () => {
                const marks = performance.getEntriesByName('roost-chat-list-painted');
                if (marks.length) {
                    done([performance.timeOrigin + marks[0].startTime, marks[0].startTime]);
                } else {
                    setTimeout(check, 5);
                }
            };
            check();
        "#;
        let value = self.c().execute_async(script, vec![]).await?;
        let painted_at = value[0].as_f64().context("mark time")?;
        let page = value[1].as_f64().context("mark start")?;
        Ok((painted_at - self.requested_at, page))
    }

    /// Clicks the chat titled `title` and returns the ms until the frame after the one in which
    /// its newest rows (seq ≥ `min_seq`) exist — the frame that paints them — with the UI's
    /// `roost-open-*` marks (ms after the click; `None` when the UI did not reach one).
    async fn click_to_paint(&self, title: &str, min_seq: u64) -> Result<(f64, OpenPhases)> {
        let script = r#"
            const [title, minSeq, done] = arguments;
            const names = ['roost-open-invoke', 'roost-open-reply', 'roost-open-applied'];
            names.forEach((n) => performance.clearMarks(n));
            const item = document.querySelector(`[data-testid=chat-item][data-chat-title="${title}"]`);
            const started = performance.now();
            item.click();
            const at = (n) => {
                const e = performance.getEntriesByName(n);
                return e.length ? e[e.length - 1].startTime - started : null;
            };
            const check = () => {
                const heading = document.querySelector('[data-testid=chat-title]');
                const row = document.querySelector('[data-testid=message]');
                if (heading && heading.textContent === title && row && Number(row.dataset.seq) >= minSeq) {
                    requestAnimationFrame(() => setTimeout(() => done([performance.now() - started, ...names.map(at)]), 0));
                } else {
                    requestAnimationFrame(check);
                }
            };
            check();
        "#;
        let value = self
            .c()
            .execute_async(script, vec![json!(title), json!(min_seq)])
            .await?;
        let total = value[0].as_f64().context("a number of milliseconds")?;
        let phases = OpenPhases {
            invoke: value[1].as_f64(),
            reply: value[2].as_f64(),
            applied: value[3].as_f64(),
        };
        Ok((total, phases))
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

/// When the UI reached each step of opening a chat, in ms after the click.
#[derive(Debug, Clone, Copy)]
struct OpenPhases {
    /// The click handler asked the core for the window (`open_chat` invoked).
    invoke: Option<f64>,
    /// The window arrived over IPC, deserialised.
    reply: Option<f64>,
    /// The UI's state holds it (Leptos then patches the DOM; the browser lays out and paints).
    applied: Option<f64>,
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
    let mut timings: Vec<f64> = measured.iter().map(|(t, _)| *t).collect();
    timings.sort_by(f64::total_cmp);
    Ok(json!({
        "p50": round(quantile(&timings, 0.5)),
        "p99": round(quantile(&timings, 0.99)),
        "min": round(timings[0]),
        "max": round(timings[timings.len() - 1]),
        "runs": runs,
        "dom_rows": rows,
        "phases_p50": phase_medians(&measured),
    }))
}

fn round(ms: f64) -> f64 {
    (ms * 10.0).round() / 10.0
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a display, tauri-driver and the built app: run under xvfb-run (see the module docs)"]
async fn release_app_figures() -> Result<()> {
    // A knob that cannot be read is an error naming it, never silently the default.
    let runs: usize = match std::env::var("ROOST_BENCH_APP_RUNS") {
        Ok(r) if !r.trim().is_empty() => r.trim().parse().map_err(|_| {
            anyhow::anyhow!("ROOST_BENCH_APP_RUNS={r:?}: expected a whole number of runs (decimal)")
        })?,
        _ => 41,
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
    let mut rss = serde_json::Map::new();
    let mut webkit = serde_json::Map::new();
    for (cached, timed) in [(100_000u64, true), (1_000_000u64, false)] {
        let desktop = offline_desktop();
        let seeding = Instant::now();
        seed(&desktop, &[("Big", cached), ("Small", 1)]).await?;
        eprintln!(
            "seeded {cached} messages in {:.1} s",
            seeding.elapsed().as_secs_f64()
        );
        let app = launch(&desktop).await?;
        let (cold_ms, page_ms) = app.cold_start().await?;
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
        eprintln!(
            "{cached} cached: cold start {cold_ms:.1} ms (page {page_ms:.1} ms); click→paint {clicks}; RSS app {app_rss:.1} MB, WebKit {webkit_rss:.1} MB"
        );
        if timed {
            figures.insert("click_to_paint_ms".into(), clicks);
        } else {
            figures.insert(format!("click_to_paint_{cached}_ms"), clicks);
        }
        cold.insert(cached.to_string(), json!(round(cold_ms)));
        page.insert(cached.to_string(), json!(round(page_ms)));
        rss.insert(cached.to_string(), json!(round(app_rss)));
        webkit.insert(cached.to_string(), json!(round(webkit_rss)));
        if cached == 1_000_000 {
            figures.insert("cold_start_ms".into(), json!(round(cold_ms)));
        }
        app.quit().await;
    }
    figures.insert("cold_start_ms_by_cached".into(), Value::Object(cold));
    figures.insert("cold_start_page_ms_by_cached".into(), Value::Object(page));
    figures.insert("rss_mb".into(), Value::Object(rss));
    figures.insert("webkit_rss_mb".into(), Value::Object(webkit));
    let text = serde_json::to_string(&Value::Object(figures))?;
    println!("{text}");
    let out = std::env::var_os("ROOST_BENCH_APP_OUT")
        .map(PathBuf::from)
        .unwrap_or_else(|| artifacts_dir().join("bench-app.json"));
    std::fs::write(&out, text)?;
    Ok(())
}
