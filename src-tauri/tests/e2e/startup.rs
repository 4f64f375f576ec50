//! What a start of the app costs depends on how the previous run ended (issue 11's cold start).

use crate::harness::*;

/// Quitting the app (SIGTERM, as a desktop session ending sends) closes the account's cache cleanly: the file carries
/// the clean-shutdown mark, so the next start skips the whole-file integrity checks (O(cached
/// messages): seconds with a million). Before the fix the app never closed its client on exit,
/// and every start after a quit paid for them.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a display, tauri-driver and the built app: run under xvfb-run (see the module docs)"]
async fn quitting_the_app_leaves_its_cache_closed_cleanly() -> Result<()> {
    let (_server, desktop, app) = launched_with_one_chat_open().await?;
    // The way a desktop session ends an app: SIGTERM, then the app exits on its own.
    let pid = app_pid(app._driver.0.id()).context("the app process")?;
    let _ = Command::new("kill").arg(pid.to_string()).status();
    let started = Instant::now();
    while process_running(pid) && started.elapsed() < WAIT {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    drop(app);
    let cache = desktop.cache_file_of("alice");
    let (store, _) = roost_core::store::Store::open(&cache).await?;
    let clean = store.opened_clean();
    store.close().await;
    assert!(
        clean,
        "the app exited without closing its cache: the next start runs every integrity check"
    );
    Ok(())
}

/// The tray icon is still installed now that it comes after start-up's first paint instead of
/// in the middle of it (issue 11's cold start): the shell records `tray-installed` only once the
/// icon was built. Also prints when it came against the page's first frame of the chat list.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a display, tauri-driver and the built app: run under xvfb-run (see the module docs)"]
async fn the_tray_icon_is_installed_after_start_up() -> Result<()> {
    let (_server, _desktop, app) = launched_with_one_chat_open().await?;
    let script = r#"
        const done = arguments[0];
        window.__TAURI__.core.invoke('startup_timeline').then((shell) => {
            const painted = performance.getEntriesByName('roost-chat-list-painted')[0];
            done({
                tray: shell['tray-installed'] ?? null,
                painted: painted ? performance.timeOrigin + painted.startTime : null,
            });
        }, (e) => done({ error: String(e) }));
    "#;
    let started = Instant::now();
    let steps = loop {
        let steps = app.c().execute_async(script, vec![]).await?;
        if !steps["tray"].is_null() || steps.get("error").is_some() {
            break steps;
        }
        anyhow::ensure!(
            started.elapsed() < WAIT,
            "no tray icon was installed: {steps}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    anyhow::ensure!(steps.get("error").is_none(), "startup_timeline: {steps}");
    if let (Some(tray), Some(painted)) = (steps["tray"].as_f64(), steps["painted"].as_f64()) {
        eprintln!(
            "tray icon installed {:.0} ms after the chat list's first frame",
            tray - painted
        );
    }
    app.quit().await;
    Ok(())
}

/// The app signed in to a fresh server with one chat ("Small", one message), that chat open.
async fn launched_with_one_chat_open() -> Result<(TestServer, Desktop, App)> {
    let server = spawn_test_server().await;
    chat_with_messages(&server, "Small", &["hello"]).await;
    let desktop = Desktop::new(Some((server.base_url(), server.token("alice"))));
    let app = desktop.launch().await?;
    app.open_chat("Small").await?;
    app.wait_seqs(&[1]).await?;
    Ok((server, desktop, app))
}

/// The `roost-desktop` process under the driver `driver` (its descendants, from `/proc`).
fn app_pid(driver: u32) -> Option<u32> {
    let parent_of = |pid: u32| -> Option<(u32, String)> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        let (open, close) = (stat.find('(')?, stat.rfind(')')?);
        let ppid = stat[close + 2..].split(' ').nth(1)?.parse().ok()?;
        Some((ppid, stat[open + 1..close].to_string()))
    };
    std::fs::read_dir("/proc")
        .ok()?
        .flatten()
        .find_map(|entry| {
            let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
            let (mut ppid, comm) = parent_of(pid)?;
            if comm != "roost-desktop" {
                return None;
            }
            while ppid > 1 {
                if ppid == driver {
                    return Some(pid);
                }
                ppid = parent_of(ppid)?.0;
            }
            None
        })
}

/// The page draws the system's UI font, named by the shell (issue 11's cold start: WebKitGTK
/// does not resolve `system-ui` and looked up every other name of the list first): with GTK's
/// `gtk-font-name` set in the user's `settings.ini`, the page's `font-family` starts with that
/// family, and text is drawn in it (measured against the same text in that font and in another).
/// The served page carries it in a style element under Tauri's CSP nonce, so this also fails if
/// the CSP blocks that element.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a display, tauri-driver and the built app: run under xvfb-run (see the module docs)"]
async fn the_page_draws_the_gtk_font_named_in_the_settings() -> Result<()> {
    let desktop = Desktop::new(None);
    let gtk_config = desktop.home.path().join("config/gtk-3.0");
    std::fs::create_dir_all(&gtk_config)?;
    // A family of the fonts this box has (fonts-dejavu) that the stylesheet does not name, and
    // monospaced, so its text's width differs clearly from the sans-serif the page drew before.
    std::fs::write(
        gtk_config.join("settings.ini"),
        "[Settings]\ngtk-font-name=DejaVu Sans Mono Bold 12\n",
    )?;
    let app = desktop.launch().await?;
    let drawn = app
        .wait_js(
            "the page's font",
            r#"
            if (document.readyState !== 'complete') return null;
            const width = (family) => {
                const span = document.createElement('span');
                span.textContent = 'iiiiiiiiii Roost draws the system font WWWWWWWWWW';
                span.style.cssText = 'position:absolute;visibility:hidden;white-space:nowrap' +
                    (family ? ';font-family:' + family : '');
                document.body.appendChild(span);
                const w = span.getBoundingClientRect().width;
                span.remove();
                return w;
            };
            return {
                family: getComputedStyle(document.body).fontFamily,
                page: width(null),
                mono: width('"DejaVu Sans Mono"'),
                sans: width('"DejaVu Sans"'),
            };
            "#,
            |value| !value.is_null(),
        )
        .await?;
    let family = drawn["family"].as_str().unwrap_or_default();
    anyhow::ensure!(
        family.starts_with("\"DejaVu Sans Mono\"") || family.starts_with("DejaVu Sans Mono,"),
        "the page's font-family does not start with the GTK font: {drawn}"
    );
    anyhow::ensure!(
        drawn["page"] == drawn["mono"] && drawn["page"] != drawn["sans"],
        "the page's text is not drawn in the GTK font: {drawn}"
    );
    app.quit().await;
    Ok(())
}
