//! Cold start → chat list painted: the app's steps on one clock, its phases, and the same-run
//! floor (a blank Tauri window launched as often as the app).

use super::*;

impl BenchApp {
    /// Cold start, session request → painted chat list, and its steps on one clock (epoch ms):
    /// the app process's start (from `/proc`, 10 ms resolution), the shell's steps (`main`, the
    /// window and WebView created, the session's cache open: the `startup_timeline` command),
    /// the page's navigation start (`performance.timeOrigin`) and its marks (`roost-wasm-start`,
    /// `roost-status-reply`, `roost-chats-reply`, `roost-chat-list-painted`).
    ///
    /// With `app_list`, waits for the app's own list too (`roost-app-chat-list-painted`): the
    /// list the shell put into the page is painted before the wasm has even started.
    pub(crate) async fn cold_start(&self, app_list: bool) -> Result<ColdStart> {
        let script = format!(
            "const [appList, done] = arguments;
            ({page_steps})(appList, (page) => window.__TAURI__.core.invoke('startup_timeline')
                .then((shell) => done({{ shell, ...page }}), (e) => done({{ error: String(e) }})));",
            page_steps = roost_desktop::startup::PAGE_STEPS_JS
        );
        let value = self
            .c()
            .execute_async(&script, vec![json!(app_list)])
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
            ("session_requested", self.requested_at),
            process_start,
            &value,
        ))
    }
}

/// Cold start as a user's launch has it: `binary` started directly (no WebDriver, as a desktop
/// launcher does) with `desktop`'s XDG dirs and sign-in, timed from just before the spawn to
/// the painted chat list (and, for Roost, its own list too). The app writes its own
/// and its page's steps to a file (`roost_desktop::startup::REPORT_ENV`) once painted; then it
/// is ended with SIGTERM, as a desktop session ends it, and waited for. With `bus`, on that
/// session bus, as a desktop session starts its apps (see [`desktop_session_bus`]).
pub(crate) async fn direct_cold_start(
    desktop: &Desktop,
    binary: &str,
    bus: Option<&SessionBus>,
) -> Result<ColdStart> {
    let home = desktop.home.path();
    let report = home.join("startup-report.json");
    let _ = std::fs::remove_file(&report);
    let log = std::fs::File::create(home.join("direct-launch.log"))?;
    let mut command = std::process::Command::new(binary);
    command
        .env("XDG_DATA_HOME", home.join("data"))
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_CACHE_HOME", home.join("cache"))
        .env("RUST_LOG", "warn")
        .env(roost_desktop::startup::REPORT_ENV, &report)
        .env_remove("ROOST_SERVER_URL")
        .env_remove("ROOST_TOKEN")
        .stdin(std::process::Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log);
    if let Some((url, token)) = &desktop.credentials {
        command
            .env("ROOST_SERVER_URL", url)
            .env("ROOST_TOKEN", token);
    }
    match bus {
        Some(bus) => command.env("DBUS_SESSION_BUS_ADDRESS", &bus.address),
        None => command.env_remove("DBUS_SESSION_BUS_ADDRESS"),
    };
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    let launched = epoch_ms();
    let mut child = command.spawn().with_context(|| format!("start {binary}"))?;
    let pid = child.id();
    let process_start = process_start_epoch_ms(pid);
    let started = Instant::now();
    let steps = loop {
        if let Ok(text) = std::fs::read_to_string(&report) {
            break serde_json::from_str::<Value>(&text)?;
        }
        if let Ok(Some(status)) = child.try_wait() {
            bail!("{binary} exited ({status}) before its chat list was painted");
        }
        if started.elapsed() > WAIT {
            let _ = child.kill();
            bail!("{binary}: no start-up report within {WAIT:?}");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    let _ = std::process::Command::new("kill")
        .arg(pid.to_string())
        .status();
    let stopping = Instant::now();
    while child.try_wait()?.is_none() {
        if stopping.elapsed() > WAIT {
            let _ = child.kill();
            bail!("{binary} did not exit within {WAIT:?} of SIGTERM");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    eprintln!(
        "  page steps (ms after navigation): {}",
        steps["page_steps"]
    );
    eprintln!("  shell steps (ms after main): {}", shell_steps(&steps));
    Ok(ColdStart::from_steps(
        ("launched", launched),
        process_start,
        &steps,
    ))
}

/// The shell's steps (`steps["shell"]`, epoch ms) as ms after `main`, in the order they happened,
/// with the page's navigation start among them (`page`).
fn shell_steps(steps: &Value) -> Value {
    let Some(main) = steps["shell"]["main"].as_f64() else {
        return Value::Null;
    };
    let mut all: Vec<(String, f64)> = steps["shell"]
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(name, at)| Some((name.clone(), at.as_f64()?)))
        .collect();
    if let Some(page) = steps["page_start"].as_f64() {
        all.push(("page".to_string(), page));
    }
    all.sort_by(|a, b| a.1.total_cmp(&b.1));
    Value::Array(
        all.into_iter()
            .map(|(name, at)| json!([name, round(at - main)]))
            .collect(),
    )
}

/// Cold start and its phases, in ms.
#[derive(Debug)]
pub(crate) struct ColdStart {
    /// Launch (the spawn, or the WebDriver session's request) → chat list painted (the first
    /// list: the shell's copy in the page, or the app's own).
    pub(crate) total: f64,
    /// Launch → the app's own chat list painted (the UI is running).
    pub(crate) app: f64,
    /// Page navigation start → chat list painted (the page's own clock).
    pub(crate) page: f64,
    /// Consecutive phases (name, ms); a phase whose ends were not both seen is left out.
    pub(crate) phases: Vec<(String, f64)>,
}

impl ColdStart {
    /// From the steps the page returned (epoch ms; `shell` holds the shell's own), timed from
    /// `(name, epoch ms)`: the WebDriver session's request, or the direct launch's spawn.
    pub(crate) fn from_steps(
        (start_name, requested_at): (&'static str, f64),
        process_start: Option<f64>,
        steps: &Value,
    ) -> ColdStart {
        let shell = |name: &str| steps["shell"][name].as_f64();
        let page = |name: &str| steps[name].as_f64();
        let painted = page("painted").unwrap_or(requested_at);
        // The app's own list; earlier than it when the shell's copy in the page came first
        // (`src-tauri/src/first_paint.rs`).
        let app_painted = page("app_painted").unwrap_or(painted);
        let page_start = page("page_start").unwrap_or(painted);
        // In the order they happen; each phase runs from one step to the next.
        let steps: [(&'static str, Option<f64>); 10] = [
            (start_name, Some(requested_at)),
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
        // The page's request in the shell (`first_paint`): when it reached the shell's asset
        // handler (on the main thread), and when the handler returned the page.
        if let (Some(start), Some(requested), Some(served), Some(html)) = (
            Some(page_start),
            shell("page-requested"),
            shell("page-served"),
            page("html_loaded"),
        ) {
            phases.push((
                "page_started__page_requested".to_string(),
                requested - start,
            ));
            phases.push((
                "page_requested__page_served".to_string(),
                served - requested,
            ));
            phases.push(("page_served__html_loaded".to_string(), html - served));
        }
        if let (Some(html), Some(script)) = (page("html_loaded"), shell("script-served")) {
            phases.push(("html_loaded__script_served".to_string(), script - html));
        }
        if let (Some(window), Some(tray)) = (shell("window-created"), shell("tray-installed")) {
            phases.push(("window_created__tray_installed".to_string(), tray - window));
            // Negative: the tray was installed before the list was painted.
            phases.push(("first_paint__tray_installed".to_string(), tray - painted));
        }
        ColdStart {
            total: painted - requested_at,
            app: app_painted - requested_at,
            page: painted - page_start,
            phases,
        }
    }

    pub(crate) fn phases_json(&self) -> Value {
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
pub(crate) fn floor_binary() -> Option<String> {
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

/// The session bus the direct launches run on, as a desktop session has one
/// (`ROOST_BENCH_APP_SESSION_BUS`, 1: a private `dbus-daemon`; 0: none, as bare `xvfb-run`
/// leaves them, as before 2026-12-01 12:00 UTC). Its accessibility bus is started right away
/// (`org.a11y.Bus`, which GTK asks for at start), as a desktop session's is running before the
/// user's first app.
///
/// Without a bus, GLib and libdbus in the app and in WebKit's processes try to start one
/// (`dbus-launch --autolaunch`: a fork of the process each time), which no desktop does: the
/// blank window's direct cold start was 179.5 ms without a bus and 169.4 ms with one (medians of
/// 11, 2026-12-01 11:35), Roost's 195.7 and 183.6.
pub(crate) fn desktop_session_bus(wanted: bool) -> Result<Option<SessionBus>> {
    if !wanted {
        return Ok(None);
    }
    let bus = SessionBus::start()?;
    let a11y = bus.dbus_send(&[
        "--print-reply",
        "--dest=org.a11y.Bus",
        "/org/a11y/bus",
        "org.a11y.Bus.GetAddress",
    ])?;
    if !a11y.success() {
        // No at-spi2-core: GTK finds no accessibility bus either, as on a desktop without it.
        eprintln!("the session bus has no accessibility bus (at-spi2-core not installed)");
    }
    Ok(Some(bus))
}

/// Direct launches (`direct_cold_start`, on `bus`), `runs` of the blank window and of the app
/// in turn (floor, app, floor, app, …: both under the same load): (the app's, the floor's).
pub(crate) async fn direct_cold_starts(
    desktop: &Desktop,
    cached: u64,
    runs: usize,
    bus: Option<&SessionBus>,
) -> Result<(Vec<ColdStart>, Vec<ColdStart>)> {
    let floor_binary = floor_binary();
    let (mut app, mut floor) = (Vec::new(), Vec::new());
    for launch in 1..=runs {
        if let Some(binary) = &floor_binary {
            settle_disk();
            let start = direct_cold_start(desktop, binary, bus).await?;
            eprintln!(
                "blank window, direct launch {launch}: cold start {:.1} ms, phases {}",
                start.total,
                start.phases_json()
            );
            floor.push(start);
        }
        settle_disk();
        let start = direct_cold_start(desktop, &app_binary(), bus).await?;
        eprintln!(
            "{cached} cached, direct launch {launch}: cold start {:.1} ms (the app's own list {:.1} ms), phases {}",
            start.total,
            start.app,
            start.phases_json()
        );
        app.push(start);
        compare_launches(desktop, cached, launch, bus).await?;
    }
    Ok((app, floor))
}

/// Other builds of the app (`ROOST_BENCH_APP_COMPARE`, comma-separated binaries), launched
/// right after the app in every round, so a before/after comparison runs under the same load on
/// the same cache; printed only (`compare <binary>, direct launch …`).
async fn compare_launches(
    desktop: &Desktop,
    cached: u64,
    launch: usize,
    bus: Option<&SessionBus>,
) -> Result<()> {
    let others = std::env::var("ROOST_BENCH_APP_COMPARE").unwrap_or_default();
    for binary in others.split(',').map(str::trim).filter(|b| !b.is_empty()) {
        settle_disk();
        let start = direct_cold_start(desktop, binary, bus).await?;
        eprintln!(
            "compare {binary}, {cached} cached, direct launch {launch}: cold start {:.1} ms (the app's own list {:.1} ms), phases {}",
            start.total,
            start.app,
            start.phases_json()
        );
    }
    Ok(())
}

/// The median launch (by cold start) of `starts`, which is not empty.
/// `runs` WebDriver launches (at least one) by `launch`, each on a settled disk, each one's cold
/// start (`app_list`: see [`BenchApp::cold_start`]) passed to `report` with its number; every
/// app but the last is quit, the last stays up for the figures that follow.
pub(crate) async fn cold_starts_keeping_last<F, L>(
    runs: usize,
    app_list: bool,
    mut launch: L,
    mut report: impl FnMut(usize, &ColdStart),
) -> Result<(Vec<ColdStart>, BenchApp)>
where
    L: FnMut() -> F,
    F: std::future::Future<Output = Result<BenchApp>>,
{
    let mut starts = Vec::new();
    loop {
        settle_disk();
        let app = launch().await?;
        let start = app.cold_start(app_list).await?;
        report(starts.len() + 1, &start);
        starts.push(start);
        if starts.len() >= runs {
            return Ok((starts, app));
        }
        app.quit().await;
    }
}

pub(crate) fn median(mut starts: Vec<ColdStart>) -> ColdStart {
    starts.sort_by(|a, b| a.total.total_cmp(&b.total));
    let middle = starts.len() / 2;
    starts.swap_remove(middle)
}

/// The same-run floor through WebDriver: a blank Tauri window's cold start (the median of
/// `runs` launches, as Roost's is taken) and its memory a moment after its first frame, as JSON keys to merge into
/// the figures; none when the blank window is not built (said on stderr).
pub(crate) async fn floor_figures(runs: usize) -> Result<serde_json::Map<String, Value>> {
    let mut figures = serde_json::Map::new();
    let Some(binary) = floor_binary() else {
        eprintln!(
            "no same-run floor: build the blank window first (cargo build --release --locked -p roost-desktop --features custom-protocol --example blank-window) or set ROOST_BENCH_FLOOR_APP"
        );
        return Ok(figures);
    };
    let desktop = offline_desktop();
    let (starts, app) = cold_starts_keeping_last(
        runs,
        false,
        || launch_binary(&desktop, &binary),
        |launch, start| {
            eprintln!(
                "blank window, launch {launch}: cold start {:.1} ms, phases {}",
                start.total,
                start.phases_json()
            )
        },
    )
    .await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (rss, webkit) = app.memory()?;
    let breakdown = rss_breakdown(app.app_pid()?);
    app.quit().await;
    let median = median(starts);
    eprintln!(
        "blank window (floor): cold start {:.1} ms (phases {}); RSS {rss:.1} MB ({breakdown}), WebKit {webkit:.1} MB",
        median.total,
        median.phases_json()
    );
    figures.insert(
        "cold_start_webdriver_floor_ms".into(),
        json!(round(median.total)),
    );
    figures.insert(
        "cold_start_webdriver_floor_phases_ms".into(),
        median.phases_json(),
    );
    figures.insert("rss_floor_mb".into(), json!(round(rss)));
    figures.insert("rss_floor_breakdown".into(), breakdown);
    figures.insert("webkit_rss_floor_mb".into(), json!(round(webkit)));
    Ok(figures)
}
