//! The E2E harness: the built app in its own XDG dirs behind its own tauri-driver, a WebDriver
//! session on it, and helpers that read what the window shows.

pub(crate) use anyhow::{Context, Result, bail};
pub(crate) use fantoccini::{Client, ClientBuilder, Locator};
pub(crate) use roost_proto::ChatId;
pub(crate) use roost_server::testing::{TestServer, spawn_test_server};
pub(crate) use serde_json::json;
pub(crate) use std::path::PathBuf;
pub(crate) use std::process::{Child, Command, Stdio};
pub(crate) use std::time::{Duration, Instant};

pub(crate) const APP: &str = env!("CARGO_BIN_EXE_roost-desktop");
pub(crate) const WAIT: Duration = Duration::from_secs(20);

/// The app under test: this build's, or `ROOST_E2E_APP` (e.g. a release build to measure).
pub(crate) fn app_binary() -> String {
    std::env::var("ROOST_E2E_APP").unwrap_or_else(|_| APP.to_string())
}

/// The root of the checkout being tested (the desktop package is the workspace root). Read at run time (cargo sets it for test runs):
/// the build directory is shared between clones, so the compile-time path may be another clone's.
pub(crate) fn package_dir() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")))
}

pub(crate) fn artifacts_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| package_dir().join("target"));
    let dir = target.join("e2e-artifacts");
    std::fs::create_dir_all(&dir).expect("create target/e2e-artifacts");
    dir
}

/// Fewer distinct colours than this is a blank (unpainted) window: painted text alone brings
/// dozens through anti-aliasing.
pub(crate) const MIN_PAINTED_COLOURS: usize = 8;

/// Distinct RGB(A) pixel values of a PNG.
pub(crate) fn distinct_colours(png_bytes: &[u8]) -> Result<usize> {
    let mut reader = png::Decoder::new(std::io::Cursor::new(png_bytes)).read_info()?;
    let mut buffer = vec![0; reader.output_buffer_size().context("PNG too large")?];
    let frame = reader.next_frame(&mut buffer)?;
    let samples = frame.color_type.samples() * usize::from(frame.bit_depth as u8).div_ceil(8);
    let pixels = &buffer[..frame.buffer_size()];
    let colours: std::collections::HashSet<&[u8]> = pixels.chunks_exact(samples).collect();
    Ok(colours.len())
}

pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A private session bus (`dbus-daemon`), ended when dropped: what a desktop session gives
/// every app (`DBUS_SESSION_BUS_ADDRESS`) and bare `xvfb-run` does not.
pub(crate) struct SessionBus {
    daemon: std::process::Child,
    pub(crate) address: String,
}

impl SessionBus {
    pub(crate) fn start() -> Result<SessionBus> {
        use std::io::BufRead;
        let mut daemon = std::process::Command::new("dbus-daemon")
            .args(["--session", "--nofork", "--print-address=1"])
            .stdout(std::process::Stdio::piped())
            // It warns that it may not raise its fd limit, which a test bus does not need.
            .stderr(std::process::Stdio::null())
            .spawn()
            .context("start dbus-daemon (Debian: dbus-daemon)")?;
        let mut address = String::new();
        std::io::BufReader::new(daemon.stdout.take().context("dbus-daemon's stdout")?)
            .read_line(&mut address)?;
        anyhow::ensure!(!address.trim().is_empty(), "dbus-daemon gave no address");
        Ok(SessionBus {
            daemon,
            address: address.trim().to_string(),
        })
    }

    /// Sends what the desktop portal sends when the user switches the system's colour scheme
    /// (`org.freedesktop.appearance` `color-scheme`: 1 dark, 2 light).
    pub(crate) fn send_color_scheme(&self, scheme: u32) -> Result<()> {
        let status = self.dbus_send(&[
            "--type=signal",
            "/org/freedesktop/portal/desktop",
            "org.freedesktop.portal.Settings.SettingChanged",
            "string:org.freedesktop.appearance",
            "string:color-scheme",
            &format!("variant:uint32:{scheme}"),
        ])?;
        anyhow::ensure!(status.success(), "dbus-send: {status}");
        Ok(())
    }

    /// Runs `dbus-send --session` with `args` on this bus (its output dropped).
    pub(crate) fn dbus_send(&self, args: &[&str]) -> Result<std::process::ExitStatus> {
        std::process::Command::new("dbus-send")
            .env("DBUS_SESSION_BUS_ADDRESS", &self.address)
            .arg("--session")
            .args(args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .context("run dbus-send (Debian: dbus-bin)")
    }
}

impl Drop for SessionBus {
    fn drop(&mut self) {
        let _ = self.daemon.kill();
        let _ = self.daemon.wait();
    }
}

/// One user's desktop environment: XDG dirs that persist across app restarts, and the
/// credentials the app signs in with from the environment (`None`: use the sign-in form).
pub(crate) struct Desktop {
    pub(crate) home: tempfile::TempDir,
    pub(crate) credentials: Option<(String, String)>,
}

impl Desktop {
    pub(crate) fn new(credentials: Option<(String, String)>) -> Desktop {
        Desktop {
            home: tempfile::tempdir().unwrap(),
            credentials,
        }
    }

    pub(crate) fn data_dir(&self) -> PathBuf {
        self.home.path().join("data/dev.roost.desktop")
    }

    /// The cache of `user`'s account on the server the app signs in to (one file per account,
    /// `roost_core::account`); the token is remembered as `user`'s, as a first online sign-in
    /// would, so an offline start finds the file.
    pub(crate) fn cache_file_of(&self, user: &str) -> PathBuf {
        let (url, token) = self.credentials.clone().expect("credentials");
        let user = roost_proto::UserId::new(user);
        roost_core::account::remember_token(&self.data_dir(), &url, &token, &user).unwrap();
        roost_core::account::cache_path(&self.data_dir(), &url, &user)
    }

    /// Starts the app (through a fresh tauri-driver) and returns the WebDriver session.
    pub(crate) async fn launch(&self) -> Result<App> {
        self.launch_with_env(&[]).await
    }

    /// `launch` with extra environment for the app (e.g. `GTK_THEME`).
    pub(crate) async fn launch_with_env(&self, env: &[(&str, &str)]) -> Result<App> {
        let (driver, port, log_path) = self.start_driver("info", env)?;
        let mut capabilities = serde_json::Map::new();
        capabilities.insert("browserName".into(), json!("wry"));
        capabilities.insert(
            "tauri:options".into(),
            json!({ "application": app_binary() }),
        );
        let started = Instant::now();
        let client = loop {
            match ClientBuilder::native()
                .capabilities(capabilities.clone())
                .connect(&format!("http://127.0.0.1:{port}"))
                .await
            {
                Ok(client) => break client,
                Err(e) if started.elapsed() < WAIT => {
                    let _ = e;
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(e) => bail!("no WebDriver session: {e}"),
            }
        };
        // Keep what the page reports as errors (a wasm panic goes to console.error), so a
        // failing test can show it (`raw_screenshot`).
        let _ = client
            .execute(
                "window.__roostErrors = []; const e = console.error.bind(console); \
                 console.error = (...a) => { window.__roostErrors.push(a.map(String).join(' ')); e(...a); }; \
                 window.addEventListener('error', ev => window.__roostErrors.push(String(ev.message)));",
                vec![],
            )
            .await;
        Ok(App {
            client: Some(client),
            _driver: driver,
            log: log_path,
        })
    }
}

impl Desktop {
    /// Starts tauri-driver on a free port in its own process group, with this desktop's XDG
    /// dirs, its credentials (or none) in the environment, `RUST_LOG=rust_log` and `env`; returns
    /// it with its port and the file its (and the app's) output goes to.
    pub(crate) fn start_driver(
        &self,
        rust_log: &str,
        env: &[(&str, &str)],
    ) -> Result<(DriverProcess, u16, PathBuf)> {
        let port = free_port();
        let native_port = free_port();
        let log_path = self.home.path().join(format!("tauri-driver-{port}.log"));
        let log = std::fs::File::create(&log_path)?;
        let mut command = Command::new("tauri-driver");
        command
            .args([
                "--port",
                &port.to_string(),
                "--native-port",
                &native_port.to_string(),
            ])
            .env("XDG_DATA_HOME", self.home.path().join("data"))
            .env("XDG_CONFIG_HOME", self.home.path().join("config"))
            .env("XDG_CACHE_HOME", self.home.path().join("cache"))
            .env("RUST_LOG", rust_log)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        command
            .env_remove("ROOST_SERVER_URL")
            .env_remove("ROOST_TOKEN");
        if let Some((url, token)) = &self.credentials {
            command
                .env("ROOST_SERVER_URL", url)
                .env("ROOST_TOKEN", token);
        }
        command.envs(env.iter().copied());
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let driver = DriverProcess(
            command
                .spawn()
                .context("start tauri-driver (cargo install tauri-driver)")?,
        );
        Ok((driver, port, log_path))
    }
}

/// tauri-driver and everything it started (same process group).
/// Whether process `pid` still runs (a zombie waiting for its parent does not).
pub(crate) fn process_running(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rfind(')')
            .and_then(|close| stat[close + 2..].chars().next())
            .is_some_and(|state| state != 'Z')
    })
}

pub(crate) struct DriverProcess(pub(crate) Child);

impl Drop for DriverProcess {
    fn drop(&mut self) {
        let group = format!("-{}", self.0.id());
        let _ = Command::new("kill")
            .args(["-TERM", "--", &group])
            .stderr(Stdio::null())
            .status();
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.0.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        // Whatever ignored SIGTERM (WebKitWebDriver, the app) goes now.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stderr(Stdio::null())
            .status();
        let _ = self.0.wait();
    }
}

pub(crate) struct App {
    pub(crate) client: Option<Client>,
    pub(crate) _driver: DriverProcess,
    /// tauri-driver's and the app's output (RUST_LOG=info).
    pub(crate) log: PathBuf,
}

impl App {
    /// Clicks the chat titled `title` and returns the ms until the frame after the one in which
    /// its newest rows (seq ≥ `min_seq`) exist — the frame that paints them.
    pub(crate) async fn click_to_paint(&self, title: &str, min_seq: u64) -> Result<f64> {
        let script = r#"
            const [title, minSeq, done] = arguments;
            const item = document.querySelector(`[data-testid=chat-item][data-chat-title="${title}"]`);
            const started = performance.now();
            item.click();
            const check = () => {
                const heading = document.querySelector('[data-testid=chat-title]');
                const row = document.querySelector('[data-testid=message]');
                if (heading && heading.textContent === title && row && Number(row.dataset.seq) >= minSeq) {
                    requestAnimationFrame(() => setTimeout(() => done(performance.now() - started), 0));
                } else {
                    requestAnimationFrame(check);
                }
            };
            check();
        "#;
        let ms = self
            .c()
            .execute_async(script, vec![json!(title), json!(min_seq)])
            .await?;
        ms.as_f64().context("a number of milliseconds")
    }

    pub(crate) fn c(&self) -> &Client {
        self.client.as_ref().unwrap()
    }

    /// What the page reported as errors since launch (a UI panic, an uncaught exception).
    pub(crate) async fn page_errors(&self) -> Vec<String> {
        match self.js("return window.__roostErrors || [];").await {
            Ok(serde_json::Value::Array(errors)) => errors
                .into_iter()
                .map(|e| e.as_str().unwrap_or_default().to_string())
                .collect(),
            _ => Vec::new(),
        }
    }

    /// Ends the session (the app exits); the driver's process group is cleaned up on drop.
    /// Fails the test when the page reported an error (a UI panic) at any point.
    pub(crate) async fn quit(mut self) {
        let errors = self.page_errors().await;
        assert!(
            errors.is_empty(),
            "the UI reported errors: {}",
            errors.first().map(String::as_str).unwrap_or_default()
        );
        if let Some(client) = self.client.take() {
            let _ = client.close().await;
        }
        // Let the app finish writing its cache before the group is terminated.
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    /// A screenshot of what is painted now, for evidence: waits until the page's content is
    /// laid out and two frames have painted, and refuses a blank image.
    pub(crate) async fn screenshot(&self, name: &str) -> Result<()> {
        self.screenshot_of(name, "body > *").await
    }

    /// Waits until `css` is laid out (a non-empty box) and two animation frames have painted,
    /// then saves the screenshot — retrying while the image is blank (a handful of colours:
    /// nothing painted yet), so the evidence shows what it claims.
    pub(crate) async fn screenshot_of(&self, name: &str, css: &str) -> Result<()> {
        let selector = serde_json::to_string(css)?;
        self.wait_js(
            &format!("{css} laid out"),
            &format!(
                "const e = document.querySelector({selector}); if (!e) return false; \
                 const r = e.getBoundingClientRect(); return r.width > 0 && r.height > 0;"
            ),
            |v| *v == json!(true),
        )
        .await?;
        let started = Instant::now();
        loop {
            // Bounded: a page whose rendering stalled never runs the frames (nor answers the
            // screenshot), and WebDriver would wait for ever holding the E2E lock.
            let frames = self.c().execute_async(
                "const done = arguments[arguments.length - 1]; \
                 requestAnimationFrame(() => requestAnimationFrame(() => done(true)));",
                vec![],
            );
            tokio::time::timeout(WAIT, frames).await.map_err(|_| {
                anyhow::anyhow!("screenshot {name}: no animation frame ran in {WAIT:?}")
            })??;
            let png = self.window_png(name).await?;
            let colours = distinct_colours(&png)?;
            if colours >= MIN_PAINTED_COLOURS {
                std::fs::write(artifacts_dir().join(format!("{name}.png")), png)?;
                return Ok(());
            }
            if started.elapsed() > WAIT {
                std::fs::write(artifacts_dir().join(format!("{name}-blank.png")), png)?;
                bail!("screenshot {name} stayed blank ({colours} colours)");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// WebDriver's screenshot of the window, within [`WAIT`]. WebKitGTK 2.50 without
    /// compositing (Roost's default, see `src-tauri/src/memory.rs`) answers a screenshot only
    /// after its next painted frame and paints none while nothing changes, so a screenshot of a
    /// settled page waited for ever (4 of 7 accounts/messaging tests). For a few seconds the
    /// page flips a 1-pixel, 0.4%-opaque outline, which gives it those frames.
    async fn window_png(&self, name: &str) -> Result<Vec<u8>> {
        self.js(
            "let flips = 0; const flip = setInterval(() => { const s = document.documentElement.style; \
             s.outline = s.outline ? '' : '1px solid rgba(0,0,0,0.004)'; \
             if (++flips >= 40) { clearInterval(flip); s.outline = ''; } }, 50); return null;",
        )
        .await?;
        tokio::time::timeout(WAIT, self.c().screenshot())
            .await
            .map_err(|_| anyhow::anyhow!("screenshot {name}: WebDriver gave none in {WAIT:?}"))?
            .map_err(Into::into)
    }

    /// Whatever is on screen, unchecked (for a failure's evidence).
    /// The window as a picture and, beside it, the DOM as HTML (`<name>.html`): what a failing
    /// test saw, to read without re-running it.
    pub(crate) async fn raw_screenshot(&self, name: &str) -> Result<()> {
        let png = self.window_png(name).await?;
        std::fs::write(artifacts_dir().join(format!("{name}.png")), png)?;
        if let Ok(serde_json::Value::String(html)) =
            self.js("return document.documentElement.outerHTML;").await
        {
            std::fs::write(artifacts_dir().join(format!("{name}.html")), html)?;
        }
        if let Ok(errors) = self.js("return window.__roostErrors || [];").await {
            std::fs::write(
                artifacts_dir().join(format!("{name}.errors.json")),
                errors.to_string(),
            )?;
        }
        let _ = std::fs::copy(&self.log, artifacts_dir().join(format!("{name}.log")));
        Ok(())
    }

    pub(crate) async fn js(&self, script: &str) -> Result<serde_json::Value> {
        Ok(self.c().execute(script, vec![]).await?)
    }

    /// Polls `script` (a JS expression body returning JSON) until `accept` holds.
    pub(crate) async fn wait_js(
        &self,
        what: &str,
        script: &str,
        accept: impl Fn(&serde_json::Value) -> bool,
    ) -> Result<serde_json::Value> {
        let started = Instant::now();
        loop {
            let value = self.js(script).await?;
            if accept(&value) {
                return Ok(value);
            }
            if started.elapsed() > WAIT {
                let _ = self
                    .raw_screenshot(&format!("timeout-{}", what.replace(' ', "-")))
                    .await;
                let errors = self.page_errors().await;
                match errors.first() {
                    Some(first) => bail!(
                        "timed out waiting for {what}; last value: {value}; the UI reported: {first}"
                    ),
                    None => bail!("timed out waiting for {what}; last value: {value}"),
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub(crate) async fn open_chat(&self, title: &str) -> Result<()> {
        let selector = format!("[data-testid=chat-item][data-chat-title=\"{title}\"]");
        // A re-render between finding and clicking is retried, not a failure.
        let mut attempts = 0;
        loop {
            let item = self
                .c()
                .wait()
                .at_most(WAIT)
                .for_element(Locator::Css(&selector))
                .await?;
            match item.click().await {
                Ok(()) => break,
                Err(e) if attempts < 3 => {
                    attempts += 1;
                    eprintln!("retrying the click on {title:?}: {e}");
                }
                Err(e) => return Err(e.into()),
            }
        }
        self.wait_js("the chat's title", "const t = document.querySelector('[data-testid=chat-title]'); return t ? t.textContent : null;", |v| {
            v.as_str() == Some(title)
        })
        .await?;
        self.c()
            .wait()
            .at_most(WAIT)
            .for_element(Locator::Css("[data-testid=messages]"))
            .await?;
        Ok(())
    }

    /// Seqs of the message rows in the DOM, in order.
    pub(crate) async fn message_seqs(&self) -> Result<Vec<u64>> {
        let value = self
            .js("return Array.from(document.querySelectorAll('[data-testid=message]')).map(e => Number(e.dataset.seq));")
            .await?;
        Ok(serde_json::from_value(value)?)
    }

    pub(crate) async fn wait_seqs(&self, expected: &[u64]) -> Result<()> {
        let expected_json = json!(expected);
        self.wait_js(
            "message rows",
            "return Array.from(document.querySelectorAll('[data-testid=message]')).map(e => Number(e.dataset.seq));",
            |v| *v == expected_json,
        )
        .await?;
        Ok(())
    }

    /// `[[from, to, kind], …]` of the skeletons in the DOM.
    pub(crate) async fn skeletons(&self) -> Result<serde_json::Value> {
        self.js("return Array.from(document.querySelectorAll('[data-testid=skeleton]')).map(e => [Number(e.dataset.from), Number(e.dataset.to), e.dataset.kind]);")
            .await
    }

    /// Until the app's stream is connected.
    pub(crate) async fn wait_online(&self) -> Result<()> {
        self.wait_js(
            "online",
            "const l = document.querySelector('[data-testid=layout]'); return l ? l.dataset.online : null;",
            |v| *v == json!("true"),
        )
        .await?;
        Ok(())
    }

    pub(crate) async fn count(&self, css: &str) -> Result<usize> {
        Ok(self.c().find_all(Locator::Css(css)).await?.len())
    }
}

pub(crate) async fn chat_with_messages(server: &TestServer, title: &str, texts: &[&str]) -> ChatId {
    let chat = server.create_chat(title, &["bob", "alice"]).await;
    for text in texts {
        server.send("bob", chat, text).await;
    }
    chat
}

pub(crate) const XSS: &str = "<img src=x onerror=alert(1)>";

/// Seeds the app's cache with every message of `chat` (as if it had been synced), through the
/// core's own store, so a benchmark does not spend minutes syncing first.
pub(crate) async fn seed_cache(
    desktop: &Desktop,
    server: &TestServer,
    chat: ChatId,
    title: &str,
    members: &[&str],
) -> Result<()> {
    seed_cache_seqs(desktop, server, chat, title, members, 1..=u64::MAX).await
}

/// Seeds alice's cache with the server's messages of `chat` whose seq is in `seqs` (the
/// others stay missing), at the chat's current position on the server.
pub(crate) async fn seed_cache_seqs(
    desktop: &Desktop,
    server: &TestServer,
    chat: ChatId,
    title: &str,
    members: &[&str],
    seqs: std::ops::RangeInclusive<u64>,
) -> Result<()> {
    use roost_core::store::{CursorRule, IngestOptions, Position, Store};
    let path = desktop.cache_file_of("alice");
    std::fs::create_dir_all(path.parent().unwrap())?;
    let (store, _) = Store::open(&path).await?;
    let (last_seq, rev) = server.chat_position(chat).await;
    let summary = roost_proto::ChatSummary {
        id: chat,
        title: title.to_string(),
        members: members
            .iter()
            .map(|m| roost_proto::UserId::new(*m))
            .collect(),
        created_by: None,
        last_seq,
        rev,
        last_message_at: None,
    };
    store.upsert_summaries(&[summary]).await?;
    let messages: Vec<_> = server
        .messages(chat)
        .await
        .into_iter()
        .filter(|m| seqs.contains(&m.seq))
        .collect();
    for chunk in messages.chunks(5_000) {
        let mut options = IngestOptions::new(CursorRule::Snapshot(rev));
        options.position = Some(Position { last_seq, rev });
        store.ingest(chat, chunk, &options).await?;
    }
    store.close().await;
    Ok(())
}

pub(crate) const KEY_BACKSPACE: &str = "\u{E003}";
pub(crate) const KEY_TAB: &str = "\u{E004}";
pub(crate) const KEY_ENTER: &str = "\u{E007}";
pub(crate) const KEY_SHIFT: &str = "\u{E008}";
pub(crate) const KEY_CTRL: &str = "\u{E009}";
pub(crate) const KEY_ALT: &str = "\u{E00A}";
pub(crate) const KEY_ESCAPE: &str = "\u{E00C}";
pub(crate) const KEY_PAGE_UP: &str = "\u{E00E}";
pub(crate) const KEY_END: &str = "\u{E010}";
pub(crate) const KEY_DOWN: &str = "\u{E015}";
/// Releases the modifier keys held in a key sequence.
pub(crate) const KEY_RELEASE: &str = "\u{E000}";

impl App {
    /// Types `keys` into whatever has the focus (as a keyboard would).
    pub(crate) async fn keys(&self, keys: &str) -> Result<()> {
        self.c().active_element().await?.send_keys(keys).await?;
        Ok(())
    }

    /// `data-testid` of the focused element (or its tag name).
    pub(crate) async fn focused(&self) -> Result<String> {
        let v = self
            .js("const e = document.activeElement; return e ? (e.dataset.testid || e.tagName.toLowerCase()) : null;")
            .await?;
        Ok(v.as_str().unwrap_or_default().to_string())
    }

    /// Whether the focused element shows a focus ring.
    pub(crate) async fn focus_ring_visible(&self) -> Result<bool> {
        let v = self
            .js("const s = getComputedStyle(document.activeElement); return s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0;")
            .await?;
        Ok(v == json!(true))
    }

    /// Whether the row of message `seq` is entirely inside the visible part of the list.
    pub(crate) async fn seq_in_view(&self, seq: u64) -> Result<bool> {
        Ok(self.js(&seq_in_view_script(seq)).await? == json!(true))
    }

    /// Waits until the row of `seq` is inside the list's viewport. The app scrolls in the
    /// animation frame after a render (before that frame paints), so a script run between the
    /// two sees the row below the fold: a point check right after the row appears is a race.
    pub(crate) async fn wait_seq_in_view(&self, seq: u64, what: &str) -> Result<()> {
        self.wait_js(what, &seq_in_view_script(seq), |v| *v == json!(true))
            .await
            .map(drop)
    }

    pub(crate) async fn scroll_list_to(&self, top: &str) -> Result<()> {
        self.js(&format!(
            "const l = document.querySelector('[data-testid=messages]'); l.scrollTop = {top}; l.dispatchEvent(new Event('scroll')); return l.scrollTop;"
        ))
        .await?;
        Ok(())
    }

    /// Copies a screenshot to `docs/screenshots/` too (the pictures the README shows).
    pub(crate) async fn screenshot_for_docs(&self, name: &str) -> Result<()> {
        self.screenshot(name).await?;
        copy_to_docs(name)
    }
}

/// Copies the artifact screenshot `name` to `docs/screenshots/` (the pictures the README shows).
pub(crate) fn copy_to_docs(name: &str) -> Result<()> {
    let docs = package_dir().join("docs/screenshots");
    std::fs::create_dir_all(&docs)?;
    std::fs::copy(
        artifacts_dir().join(format!("{name}.png")),
        docs.join(format!("{name}.png")),
    )?;
    Ok(())
}

impl Desktop {
    pub(crate) fn settings_file(&self) -> PathBuf {
        self.home
            .path()
            .join("config/dev.roost.desktop/settings.json")
    }
}

impl App {
    /// Types `server_url` and `token` into the sign-in form (replacing what is there) and submits.
    pub(crate) async fn submit_sign_in(&self, server_url: &str, token: &str) -> Result<()> {
        let server_input = self
            .c()
            .wait()
            .at_most(WAIT)
            .for_element(Locator::Css("[data-testid=signin-server]"))
            .await?;
        server_input.clear().await?;
        server_input.send_keys(server_url).await?;
        let token_input = self
            .c()
            .find(Locator::Css("[data-testid=signin-token]"))
            .await?;
        token_input.clear().await?;
        token_input.send_keys(token).await?;
        self.c()
            .find(Locator::Css("[data-testid=signin-submit]"))
            .await?
            .click()
            .await?;
        Ok(())
    }

    /// The sign-in form's message, once one shows.
    pub(crate) async fn wait_sign_in_error(&self) -> Result<String> {
        let text = self
            .wait_js(
                "the sign-in message",
                "const e = document.querySelector('[data-testid=signin-error]'); return e ? e.textContent : null;",
                |v| v.as_str().is_some_and(|t| !t.is_empty()),
            )
            .await?;
        Ok(text.as_str().unwrap_or_default().to_string())
    }

    /// `[server URL, token]` as the form's fields hold them now.
    pub(crate) async fn sign_in_fields(&self) -> Result<serde_json::Value> {
        self.js("return [document.querySelector('[data-testid=signin-server]').value, document.querySelector('[data-testid=signin-token]').value];")
            .await
    }
}

/// RSS of the app and its WebKit processes (every descendant of `root`): `(name, pid, rss kB,
/// pss kB)`.
pub(crate) fn process_tree_memory(root: u32) -> Vec<(String, u32, u64, u64)> {
    let mut parent_of = std::collections::HashMap::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // "pid (comm) state ppid …": comm may hold spaces; split after the last ')'.
        let Some(after) = stat.rsplit_once(')').map(|(_, rest)| rest.to_string()) else {
            continue;
        };
        let ppid: u32 = after
            .split_whitespace()
            .nth(1)
            .and_then(|p| p.parse().ok())
            .unwrap_or(0);
        parent_of.insert(pid, ppid);
    }
    let descends = |mut pid: u32| {
        while let Some(&ppid) = parent_of.get(&pid) {
            if ppid == root {
                return true;
            }
            if ppid <= 1 {
                return false;
            }
            pid = ppid;
        }
        false
    };
    let field = |text: &str, name: &str| -> u64 {
        text.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    let mut out = Vec::new();
    for (&pid, _) in parent_of.iter() {
        if !descends(pid) {
            continue;
        }
        let name = std::fs::read_to_string(format!("/proc/{pid}/comm"))
            .unwrap_or_default()
            .trim()
            .to_string();
        if !(name.starts_with("roost-desktop")
            || name.starts_with("WebKitWebProces")
            || name.starts_with("WebKitNetworkPr"))
        {
            continue;
        }
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        let rollup =
            std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).unwrap_or_default();
        out.push((name, pid, field(&status, "VmRSS:"), field(&rollup, "Pss:")));
    }
    out.sort();
    out
}

fn seq_in_view_script(seq: u64) -> String {
    format!(
        "const list = document.querySelector('[data-testid=messages]'); \
         const row = document.querySelector('[data-testid=message][data-seq=\"{seq}\"]'); \
         if (!list || !row) return false; \
         const l = list.getBoundingClientRect(), r = row.getBoundingClientRect(); \
         return r.top >= l.top - 1 && r.bottom <= l.bottom + 1;"
    )
}
