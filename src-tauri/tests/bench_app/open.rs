//! Click → painted messages: the plain click and the mouse's (pointerdown first), their phases
//! from the UI's marks, a traced open, and the IPC probes beside them.

use super::*;

impl BenchApp {
    /// Clicks the chat titled `title` and measures until its newest rows (seq ≥ `min_seq`) are
    /// painted, with the UI's `roost-open-*` marks and the frame steps (ms after the click;
    /// `None` when the UI did not reach one). "Painted" is the start of the frame after the
    /// first frame whose rendering found the rows in the DOM: WebKitGTK starts a frame only once
    /// the compositor has shown the previous one. (Before 2026-11-30 10:30 the figure ran to a
    /// task after that next frame's own rendering too: `frame_after`, kept for comparison.)
    /// The rows looked for are the staged ones of a read-ahead while they are shown (they cover
    /// the list: `ui/src/app/staged.rs`; test ids `ahead-…`), else the list's. They are
    /// watched for as the DOM changes (a `MutationObserver`): the bench asks for no frame
    /// before they are there, as a user's click asks for none.
    ///
    /// (Until 2026-12-01 06:40 the bench asked for a frame at the click and at every frame
    /// after it until it found the rows — [`BenchApp::click_to_paint_polled`] — and rows found
    /// in the click itself ended the figure at the start of the frame that rendered them, one
    /// frame short of the definition above: the read-ahead opens' figures were a frame's
    /// rendering and the compositor's showing of it shorter than the others'.)
    pub(crate) async fn click_to_paint(
        &self,
        title: &str,
        min_seq: u64,
    ) -> Result<(f64, OpenPhases)> {
        self.press_to_paint(title, min_seq, None, false).await
    }

    /// [`BenchApp::click_to_paint`] with a frame asked for at the click and at every frame
    /// after it until the rows are found, as the bench measured before 2026-12-01 06:40 (and
    /// as a page with an animation running sees it): a frame starts at the click whatever the
    /// app does, and rows that come after it wait for the display's next tick.
    pub(crate) async fn click_to_paint_polled(
        &self,
        title: &str,
        min_seq: u64,
    ) -> Result<(f64, OpenPhases)> {
        self.press_to_paint(title, min_seq, None, true).await
    }

    /// [`BenchApp::click_to_paint`], the click coming `press_ms` after a pointerdown of the
    /// primary button (a mouse click: the button goes down, then up) when given; the figure
    /// still runs from the click. `OpenPhases::prefetched` says whether the rows came from the
    /// window read ahead on pointerdown.
    pub(crate) async fn press_to_paint(
        &self,
        title: &str,
        min_seq: u64,
        press_ms: Option<f64>,
        polled: bool,
    ) -> Result<(f64, OpenPhases)> {
        let script = r#"
            const [title, minSeq, pressMs, polled, done] = arguments;
            // The rows on screen: those staged for the click when it shows them (they cover
            // the list), else the list's.
            const shownRow = () =>
                document.querySelector('[data-testid=messages-ahead][data-shown=true] [data-testid=ahead-message]')
                || document.querySelector('[data-testid=messages] [data-testid=message]');
            const names = ['roost-open-invoke', 'roost-open-reply', 'roost-open-applied', 'roost-open-prefetched',
                'roost-open-held-shown', 'roost-open-held-cap'];
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
            const found = () => {
                const heading = document.querySelector('[data-testid=chat-title]');
                const row = shownRow();
                return heading && heading.textContent === title && row && Number(row.dataset.seq) >= minSeq
                    ? row : null;
            };
            // Every frame's start until the paint (for a slow open's account).
            const frames = [];
            // `frame`: the start of the first frame whose rendering has the rows (its
            // animation callbacks run before its style, layout and paint); painted: the start
            // of the frame after it.
            const measure = (row, frame) => {
                const staged = row.dataset.testid === 'ahead-message';
                let rendered = null;
                // After this frame's style, layout and layer flush.
                setTimeout(() => { rendered = since(); }, 0);
                requestAnimationFrame(() => {
                    const painted = since();
                    frames.push(Math.round(painted * 10) / 10);
                    setTimeout(() => done([painted, ...names.map(at), frame, rendered, since(),
                        staged, performance.timeOrigin + started, frames]), 0);
                });
            };
            // The rows found outside a frame (in the click, or as they are put into the DOM):
            // the next frame renders them.
            const atNextFrame = (row) => requestAnimationFrame(() => {
                const frame = since();
                frames.push(Math.round(frame * 10) / 10);
                measure(row, frame);
            });
            const now = found();
            if (now) {
                atNextFrame(now);
            } else if (polled) {
                // Polled at every frame from the click, as a page with an animation running:
                // the page renders a frame at the click whatever the app does.
                const check = () => {
                    const frame = since();
                    frames.push(Math.round(frame * 10) / 10);
                    const row = found();
                    if (row) measure(row, frame); else requestAnimationFrame(check);
                };
                requestAnimationFrame(check);
            } else {
                // Watched as the DOM changes: no frame is asked for before the rows are there
                // (a user's click asks for none; one asked for at the click starts the
                // display's frame clock, and the rows wait for its next tick).
                const observer = new MutationObserver(() => {
                    const row = found();
                    if (row) { observer.disconnect(); atNextFrame(row); }
                });
                observer.observe(document.body, { subtree: true, childList: true, attributes: true, characterData: true });
            }
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
        // The page's thread: how long it ran and how long it waited for a CPU (another
        // process on it) around the open (the WebDriver round trip included).
        let web = self.web_pid();
        let sched_before = web.and_then(|pid| schedstat_ms(pid, pid));
        let value = self
            .c()
            .execute_async(
                script,
                vec![json!(title), json!(min_seq), json!(press_ms), json!(polled)],
            )
            .await?;
        let sched_after = web.and_then(|pid| schedstat_ms(pid, pid));
        let total = value[0].as_f64().context("a number of milliseconds")?;
        let prefetched = value[4].as_f64();
        let phases = OpenPhases {
            invoke: value[1].as_f64(),
            reply: value[2].as_f64(),
            applied: prefetched.or(value[3].as_f64()),
            prefetched: prefetched.is_some(),
            held_shown: value[5].as_f64(),
            held_cap: value[6].as_f64().is_some(),
            frame: value[7].as_f64(),
            rendered: value[8].as_f64(),
            frame_after: value[9].as_f64(),
            staged: value[10].as_bool().unwrap_or(false),
            clicked_at: value[11].as_f64().unwrap_or(0.0),
            frames: value[12]
                .as_array()
                .map(|f| f.iter().filter_map(Value::as_f64).collect())
                .unwrap_or_default(),
            page_thread: sched_before
                .zip(sched_after)
                .map(|(before, after)| (after.0 - before.0, after.1 - before.1)),
        };
        if std::env::var_os("ROOST_BENCH_APP_EVERY_OPEN").is_some() {
            eprintln!("open of {title}: {}", phases.describe(total));
        }
        Ok((total, phases))
    }

    /// One open of `title` traced on the page's clock (ms after the click, for
    /// `ROOST_BENCH_APP_TRACE`): the `roost-open-*` marks, every animation frame's start, and
    /// every stretch of more than 1 ms in which the page's main thread ran no task of its own
    /// (a `MessageChannel` ping-pong: the page was busy rendering or handling other tasks).
    pub(crate) async fn click_trace(&self, title: &str, min_seq: u64) -> Result<Value> {
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
                const row = document.querySelector('[data-testid=messages-ahead][data-shown=true] [data-testid=ahead-message]')
                    || document.querySelector('[data-testid=messages] [data-testid=message]');
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
    /// (no write), and the close alone), beside a repaint of the whole page: the open, a
    /// synchronous command (answered on the shell's main thread as it arrives) and a 1-row
    /// `cached_window` (answered from the async runtime), and a 200-row reply's size in
    /// bytes. (Found with it: the open command's round trip is ~3 ms while the page ignores
    /// events and 15–20 ms while the UI handles them; and a repaint beside any reply, even a
    /// synchronous command's, costs it ~5 ms.)
    pub(crate) async fn ipc_probe(&self, title: &str, runs: usize) -> Result<Value> {
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
                    () => invoke('close_chat', { chatId, shown: 0 }));
                // The same with the close's event handled first (two frames later): what is
                // left is the open's own write and event.
                const frame = () => new Promise((r) => requestAnimationFrame(() => r()));
                await time('open_after_close_settled', () => invoke('open_chat', { chatId, anchor: newest }),
                    async () => { await invoke('close_chat', { chatId, shown: 0 }); await frame(); await frame(); });
                // Already open, nothing unread: no write, one event.
                await time('open_when_open', () => invoke('open_chat', { chatId, anchor: newest }));
                // Answered as it arrives (numbered in the page's order); the close itself runs
                // after the reply, so the opens after a close above find it running beside them.
                await time('close_chat', () => invoke('close_chat', { chatId, shown: 0 }),
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
                    invoke('close_chat', { chatId: other, shown: 0 });
                    await reply;
                }, async () => { await invoke('close_chat', { chatId, shown: 0 }); await invoke('open_chat', { chatId: other, anchor: newest }); });
                // The open while the page repaints the whole window (as a click's highlight
                // makes it render a frame while the open is on its way).
                let dark = false;
                await time('open_beside_repaint', () => {
                    dark = !dark;
                    document.body.style.background = dark ? '#202020' : '#fefefe';
                    return invoke('open_chat', { chatId, anchor: newest });
                }, () => invoke('close_chat', { chatId, shown: 0 }));
                // A command the shell answers on its main thread as it receives it (a
                // synchronous one) and one answered from its async runtime through the main
                // loop (`commands::replied_first`), each beside a repaint: what a repaint costs
                // any reply.
                const repaint = () => {
                    dark = !dark;
                    document.body.style.background = dark ? '#202020' : '#fefefe';
                };
                const frames = async () => { await frame(); await frame(); };
                await time('trivial_beside_repaint', () => { repaint(); return invoke('startup_timeline'); }, frames);
                await time('cached_window_1_beside_repaint',
                    () => { repaint(); return invoke('cached_window', { chatId, anchor: newest, limit: 1 }); }, frames);
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
}

/// When the UI reached each step of opening a chat, in ms after the click.
#[derive(Debug, Clone)]
pub(crate) struct OpenPhases {
    /// The click handler asked the core for the window (`open_chat` invoked).
    pub(crate) invoke: Option<f64>,
    /// The window arrived over IPC, deserialised.
    pub(crate) reply: Option<f64>,
    /// The UI's state holds it (Leptos then patches the DOM; the browser lays out and paints).
    pub(crate) applied: Option<f64>,
    /// The rows came from the window read ahead on pointerdown (not the open's reply).
    pub(crate) prefetched: bool,
    /// The click's own changes (selection, header), held while nothing was read ahead, were
    /// shown (`ui/src/app/held.rs`): with the reply, or at the cap.
    pub(crate) held_shown: Option<f64>,
    /// The cap showed them (the reply came later than about a frame after the click).
    pub(crate) held_cap: bool,
    /// The first frame (its `requestAnimationFrame` callbacks) that found the rows in the DOM.
    pub(crate) frame: Option<f64>,
    /// That frame's rendering (style, layout, layer flush) finished.
    pub(crate) rendered: Option<f64>,
    /// A task after the next frame's rendering: what the figure measured before.
    pub(crate) frame_after: Option<f64>,
    /// The rows found were the read-ahead's staged ones (shown by the click), not the list's.
    pub(crate) staged: bool,
    /// The click, epoch ms on the page's clock (to line it up with the shell's logs).
    pub(crate) clicked_at: f64,
    /// Each animation frame's start from the click to the rows' frame, ms after the click.
    pub(crate) frames: Vec<f64>,
    /// The web process's main thread over the open (and the WebDriver call around it): ms on
    /// a CPU and ms waiting for one (`/proc/…/schedstat`). A slow open with a long wait was
    /// another process's CPU time, not the page's work.
    pub(crate) page_thread: Option<(f64, f64)>,
}

impl OpenPhases {
    /// One open's account: its figure, the steps it reached and its frames.
    fn describe(&self, ms: f64) -> Value {
        json!({
            "ms": round(ms),
            "clicked_at": round(self.clicked_at),
            "invoke": self.invoke.map(round),
            "reply": self.reply.map(round),
            "applied": self.applied.map(round),
            "prefetched": self.prefetched,
            "held_shown": self.held_shown.map(round),
            "held_cap": self.held_cap,
            "staged": self.staged,
            "frame": self.frame.map(round),
            "rendered": self.rendered.map(round),
            "frames": self.frames,
            "page_thread_cpu_ms": self.page_thread.map(|(cpu, _)| round(cpu)),
            "page_thread_waiting_ms": self.page_thread.map(|(_, waiting)| round(waiting)),
        })
    }
}

/// The median of each phase of click → paint: where the time goes.
pub(crate) fn phase_medians(runs: &[(f64, OpenPhases)]) -> Value {
    let median = |f: &dyn Fn(&(f64, OpenPhases)) -> Option<f64>| -> Option<f64> {
        let mut v: Vec<f64> = runs.iter().filter_map(f).collect();
        v.sort_by(f64::total_cmp);
        (!v.is_empty()).then(|| round(quantile(&v, 0.5)))
    };
    json!({
        "click_to_invoke": median(&|(_, p)| p.invoke),
        "click_to_held_shown": median(&|(_, p)| p.held_shown),
        "invoke_to_reply": median(&|(_, p)| Some(p.reply? - p.invoke?)),
        "reply_to_applied": median(&|(_, p)| Some(p.applied? - p.reply?)),
        "applied_to_frame": median(&|(_, p)| Some(p.frame? - p.applied?)),
        "frame_to_rendered": median(&|(_, p)| Some(p.rendered? - p.frame?)),
        "rendered_to_painted": median(&|(t, p)| Some(t - p.rendered?)),
        "applied_to_painted": median(&|(t, p)| Some(t - p.applied?)),
    })
}

/// p50, p99, min, max, the runs and how many of them were served from a read-ahead (and, of
/// the others, how many held the click's changes for the reply, and how many of those the cap
/// showed first), and the phases' medians of one kind of open.
fn open_figures(opens: &[(f64, OpenPhases)]) -> Value {
    let mut timings: Vec<f64> = opens.iter().map(|(t, _)| *t).collect();
    timings.sort_by(f64::total_cmp);
    // The slowest opens, each with its steps and frames: what a tail is made of.
    let mut slowest: Vec<(usize, &(f64, OpenPhases))> = opens.iter().enumerate().collect();
    slowest.sort_by(|a, b| b.1.0.total_cmp(&a.1.0));
    let slowest: Vec<Value> = slowest
        .iter()
        .take(SLOWEST_SHOWN)
        .map(|(index, (ms, phases))| {
            let mut open = phases.describe(*ms);
            open["open"] = json!(index);
            open
        })
        .collect();
    json!({
        "p50": round(quantile(&timings, 0.5)),
        "p99": round(quantile(&timings, 0.99)),
        "min": round(timings[0]),
        "max": round(timings[timings.len() - 1]),
        "runs": opens.len(),
        "prefetched_runs": opens.iter().filter(|(_, p)| p.prefetched).count(),
        "staged_runs": opens.iter().filter(|(_, p)| p.staged).count(),
        "held_runs": opens.iter().filter(|(_, p)| p.held_shown.is_some()).count(),
        "held_cap_runs": opens.iter().filter(|(_, p)| p.held_cap).count(),
        "phases_p50": phase_medians(opens),
        "slowest": slowest,
    })
}

/// How many of the slowest opens of each kind are reported with their steps.
const SLOWEST_SHOWN: usize = 3;

/// Opens `big` (alternating with `small`, whose open is not timed) `runs` times each way, the
/// three ways interleaved:
/// - the figure: a plain click (`element.click()`, as a keyboard's Enter makes it: no
///   pointerdown) after the page has been idle `ROOST_BENCH_APP_IDLE_MS` (1000) since `small`'s
///   rows were painted, as a user's next click comes — the UI reads ahead the chats likeliest
///   to be opened next meanwhile (`ui/src/prefetch.rs`);
/// - `no_read_ahead`: the same click `ROOST_BENCH_APP_SETTLE_MS` (100) after `small`'s rows
///   were painted, before any idle read-ahead (its `prefetched_runs` says none was served from
///   one): the open's round trip (the click's own changes held for its reply: its
///   `held_runs`, and `held_cap_runs` of those the cap showed first, `ui/src/app/held.rs`);
/// - `no_read_ahead_polled`: that click measured as before 2026-12-01 06:40, a frame asked for
///   at the click and at every frame until the rows are found
///   ([`BenchApp::click_to_paint_polled`]).
pub(crate) async fn click_to_paint_figures(
    app: &BenchApp,
    big: (&str, u64),
    small: &str,
    runs: usize,
) -> Result<Value> {
    let idle = Duration::from_millis(env_count("ROOST_BENCH_APP_IDLE_MS", 1000)? as u64);
    let min_seq = big.1.saturating_sub(1_000);
    let mut measured = Vec::with_capacity(runs);
    let mut not_read_ahead = Vec::with_capacity(runs);
    // Less than the UI's idle delay before it reads ahead (250 ms), time enough for the
    // previous open's last frames (a user does not click twice within two frames).
    let settle = Duration::from_millis(env_count("ROOST_BENCH_APP_SETTLE_MS", 100)? as u64);
    let mut not_read_ahead_polled = Vec::with_capacity(runs);
    for _ in 0..runs {
        app.click_to_paint(small, 1).await?;
        tokio::time::sleep(settle).await;
        not_read_ahead.push(app.click_to_paint(big.0, min_seq).await?);
        app.click_to_paint(small, 1).await?;
        tokio::time::sleep(settle).await;
        not_read_ahead_polled.push(app.click_to_paint_polled(big.0, min_seq).await?);
        app.click_to_paint(small, 1).await?;
        tokio::time::sleep(idle).await;
        measured.push(app.click_to_paint(big.0, min_seq).await?);
    }
    // Once the open settled: the list took the rows over from the staged ones, and the idle
    // read-ahead staged the next likeliest chat's.
    tokio::time::sleep(idle).await;
    let rows = app
        .c()
        .find_all(Locator::Css("[data-testid=message]"))
        .await?
        .len();
    // Rows staged hidden ahead of a click (at most one chat's).
    let staged_rows = app
        .c()
        .find_all(Locator::Css("[data-testid=ahead-message]"))
        .await?
        .len();
    assert!(
        rows > 0 && rows + staged_rows <= 200,
        "a bounded window of rows is in the DOM: {rows} + {staged_rows} staged"
    );
    for _ in 0..env_count("ROOST_BENCH_APP_TRACE", 0)? {
        app.click_to_paint(small, 1).await?;
        let trace = app.click_trace(big.0, min_seq).await?;
        eprintln!("open trace (ms after the click): {trace}");
    }
    // A mouse's click: pointerdown, the button held `press_ms`, then the click.
    let press_ms = env_count("ROOST_BENCH_APP_PRESS_MS", 60)? as f64;
    let mut pressed = Vec::with_capacity(runs);
    // From the small chat, as every timed open (the big one is open now).
    app.click_to_paint(small, 1).await?;
    for _ in 0..runs {
        pressed.push(
            app.press_to_paint(big.0, big.1.saturating_sub(1_000), Some(press_ms), false)
                .await?,
        );
        app.click_to_paint(small, 1).await?;
    }
    let mut press = open_figures(&pressed);
    // From the read-ahead, "applied" is the rows shown (`roost-open-prefetched`).
    press["press_ms"] = json!(press_ms);
    eprintln!("pointerdown, {press_ms} ms, click → painted: {press}");
    let ipc = app.ipc_probe(big.0, 21).await?;
    eprintln!("IPC probe (ms, medians): {ipc}");
    let mut no_read_ahead = open_figures(&not_read_ahead);
    no_read_ahead["settle_ms"] = json!(settle.as_millis() as u64);
    eprintln!("plain click, nothing read ahead: {no_read_ahead}");
    let mut polled = open_figures(&not_read_ahead_polled);
    polled["settle_ms"] = json!(settle.as_millis() as u64);
    eprintln!("plain click, nothing read ahead, frames asked for from the click: {polled}");
    let mut frame_after: Vec<f64> = measured.iter().filter_map(|(_, p)| p.frame_after).collect();
    frame_after.sort_by(f64::total_cmp);
    let mut figures = open_figures(&measured);
    figures["idle_ms"] = json!(idle.as_millis() as u64);
    figures["frame_after_p50"] =
        json!((!frame_after.is_empty()).then(|| round(quantile(&frame_after, 0.5))));
    figures["frame_after_p99"] =
        json!((!frame_after.is_empty()).then(|| round(quantile(&frame_after, 0.99))));
    figures["dom_rows"] = json!(rows);
    figures["dom_rows_staged"] = json!(staged_rows);
    figures["ipc_probe"] = ipc;
    figures["no_read_ahead"] = no_read_ahead;
    figures["no_read_ahead_polled"] = polled;
    figures["after_pointerdown"] = press;
    Ok(figures)
}
