//! Measurements in the real window: click-to-first-paint of a 100k chat and memory after
//! scrolling it. They print figures and assert only on what was shown.

use crate::harness::*;

/// Seed 004's metric: time from the click on a chat to its first painted messages, for a chat
/// with 100,000 cached messages (target p50 < 100 ms). Prints figures (and writes them to
/// `target/e2e-artifacts/open-latency.txt`); asserts only that every open rendered the newest
/// cached messages, never on time.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a display, tauri-driver and the built app: run under xvfb-run (see the module docs)"]
async fn click_to_first_paint_of_a_100k_message_chat() -> Result<()> {
    const MESSAGES: usize = 100_000;
    const RUNS: usize = 21;
    let mut server = spawn_test_server().await;
    let big = server.create_chat("Big", &["bob", "alice"]).await;
    server.send_many("bob", big, MESSAGES).await;
    let small = chat_with_messages(&server, "Small", &["a short chat"]).await;
    let desktop = Desktop::new(Some((server.base_url(), server.token("alice"))));
    seed_cache(&desktop, &server, big, "Big", &["bob", "alice"]).await?;
    seed_cache(&desktop, &server, small, "Small", &["bob", "alice"]).await?;
    // Offline: nothing but the cache and the UI is measured.
    server.stop().await;
    let app = desktop.launch().await?;
    app.open_chat("Small").await?;
    app.wait_seqs(&[1]).await?;

    let mut timings = Vec::new();
    for _ in 0..RUNS {
        timings.push(app.click_to_paint("Big", MESSAGES as u64 - 1_000).await?);
        app.click_to_paint("Small", 1).await?;
    }
    app.open_chat("Big").await?;
    let rows = app.count("[data-testid=message]").await?;
    assert!(
        rows > 0 && rows <= 60,
        "a bounded window of rows is in the DOM: {rows}"
    );
    app.screenshot("bench-100k-chat").await?;
    timings.sort_by(f64::total_cmp);
    let p = |q: f64| timings[((timings.len() - 1) as f64 * q).round() as usize];
    let report = format!(
        "click → first painted messages, chat with {MESSAGES} cached messages, {RUNS} opens (offline, debug build):\n\
         p50 {:.1} ms, p90 {:.1} ms, min {:.1} ms, max {:.1} ms; DOM rows after open: {rows}\n",
        p(0.5),
        p(0.9),
        timings[0],
        timings[timings.len() - 1]
    );
    eprint!("{report}");
    std::fs::write(artifacts_dir().join("open-latency.txt"), &report)?;
    app.quit().await;
    Ok(())
}

/// Memory of the app (app + WebKit web and network processes) after opening the 100k-message
/// chat and scrolling up 20 pages. Prints figures (and writes `target/e2e-artifacts/memory.txt`);
/// asserts only that the DOM stayed bounded. `ROOST_E2E_APP=<release binary>` measures a
/// release build.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a display, tauri-driver and the built app: run under xvfb-run (see the module docs)"]
async fn memory_after_opening_the_100k_chat_and_scrolling_20_pages() -> Result<()> {
    const MESSAGES: usize = 100_000;
    const PAGES: usize = 20;
    let mut server = spawn_test_server().await;
    let big = server.create_chat("Big", &["bob", "alice"]).await;
    server.send_many("bob", big, MESSAGES).await;
    let desktop = Desktop::new(Some((server.base_url(), server.token("alice"))));
    seed_cache(&desktop, &server, big, "Big", &["bob", "alice"]).await?;
    server.stop().await;
    let app = desktop.launch().await?;
    app.open_chat("Big").await?;
    app.wait_js("newest rows", &format!("return document.querySelector('[data-testid=message][data-seq=\"{MESSAGES}\"]') !== null;"), |v| *v == json!(true)).await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let root = app._driver.0.id();
    let at_open = process_tree_memory(root);
    let page_at_open = app.js(PAGE_MEMORY).await?;
    let mut max_rows = 0;
    for page in 0..PAGES {
        let before = app
            .js("return document.querySelector('[data-testid=messages]').scrollTop;")
            .await?;
        app.js("const l = document.querySelector('[data-testid=messages]'); l.scrollTop = Math.max(0, l.scrollTop - l.clientHeight); l.dispatchEvent(new Event('scroll')); return null;").await?;
        // Let a page of cached history arrive when the top is reached.
        app.wait_js(
            "scrolled",
            "return document.querySelector('[data-testid=messages]').scrollTop;",
            |v| v != &before || page > 0,
        )
        .await?;
        tokio::time::sleep(Duration::from_millis(300)).await;
        max_rows = max_rows.max(app.count("[data-testid=message]").await?);
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = process_tree_memory(root);
    let page_after = app.js(PAGE_MEMORY).await?;
    let seqs = app.message_seqs().await?;
    let describe = |figures: &[(String, u32, u64, u64)]| -> String {
        let total_rss: u64 = figures.iter().map(|f| f.2).sum();
        let total_pss: u64 = figures.iter().map(|f| f.3).sum();
        let parts: Vec<String> = figures
            .iter()
            .map(|(n, _, rss, pss)| format!("{n} {} MB (PSS {} MB)", rss / 1024, pss / 1024))
            .collect();
        format!(
            "{}; total RSS {} MB, PSS {} MB",
            parts.join(", "),
            total_rss / 1024,
            total_pss / 1024
        )
    };
    // PSS splits a library's pages among every process mapping them, this app's or not: other
    // WebKit apps running meanwhile lower these figures, so the report says how many there were.
    let ours: Vec<u32> = after.iter().map(|f| f.1).collect();
    let other_webkit = other_webkit_processes(&ours);
    let breakdown: String = after
        .iter()
        .map(|(name, pid, _, _)| format!("{name} ({pid}): {}\n", smaps_breakdown(*pid)))
        .collect();
    let report = format!(
        "app binary: {}\nafter opening the {MESSAGES}-message chat: {}\nafter scrolling up {PAGES} pages: {}\nmost message rows in the DOM: {max_rows}; rows now: {} (seqs {:?}..{:?})\npage (UI wasm linear memory, DOM elements): at open {page_at_open}, after scrolling {page_after}\nother WebKit processes on this machine meanwhile: {other_webkit}\nwhere the PSS is (smaps, after scrolling):\n{breakdown}",
        app_binary(),
        describe(&at_open),
        describe(&after),
        seqs.len(),
        seqs.first(),
        seqs.last()
    );
    eprint!("{report}");
    std::fs::write(artifacts_dir().join("memory.txt"), &report)?;
    assert!(!after.is_empty(), "found the app's processes");
    assert!(max_rows <= 60, "the DOM stays bounded: {max_rows} rows");
    app.quit().await;
    Ok(())
}

/// The UI's wasm linear memory in bytes and the number of DOM elements. wasm-bindgen's
/// `initSync` returns the running instance's exports when the module is already initialised.
const PAGE_MEMORY: &str = "const w = window.wasmBindings && window.wasmBindings.initSync(undefined); \
     return { wasm_memory_bytes: w && w.memory ? w.memory.buffer.byteLength : null, \
              dom_elements: document.getElementsByTagName('*').length };";

/// WebKit web and network processes running on this machine that are not `ours` (other apps').
fn other_webkit_processes(ours: &[u32]) -> usize {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| entry.file_name().to_string_lossy().parse::<u32>().ok())
        .filter(|pid| !ours.contains(pid))
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|comm| {
                comm.starts_with("WebKitWebProces") || comm.starts_with("WebKitNetworkPr")
            })
        })
        .count()
}

/// One process's PSS by what holds it, from `/proc/<pid>/smaps`: anonymous memory (and its
/// largest mapping: the wasm linear memory or a JS heap region), the heap, and the file
/// mappings (libraries) holding the most.
fn smaps_breakdown(pid: u32) -> String {
    let Ok(smaps) = std::fs::read_to_string(format!("/proc/{pid}/smaps")) else {
        return "smaps unreadable".into();
    };
    // (name, size kB, pss kB) per mapping.
    let mut mappings: Vec<(String, u64, u64)> = Vec::new();
    for line in smaps.lines() {
        let mut words = line.split_whitespace();
        let first = words.next().unwrap_or("");
        if first.contains('-') && !first.ends_with(':') {
            // "start-end perms offset dev inode [name]"
            let name = words.nth(4).unwrap_or("[anon]").to_string();
            mappings.push((name, 0, 0));
        } else if let Some(current) = mappings.last_mut() {
            let value: u64 = words.next().and_then(|v| v.parse().ok()).unwrap_or(0);
            match first {
                "Size:" => current.1 = value,
                "Pss:" => current.2 = value,
                _ => {}
            }
        }
    }
    let mut by_name: std::collections::BTreeMap<String, u64> = Default::default();
    for (name, _, pss) in &mappings {
        let key = name.rsplit('/').next().unwrap_or(name).to_string();
        *by_name.entry(key).or_default() += pss;
    }
    let largest_anon = mappings
        .iter()
        .filter(|(name, _, _)| name == "[anon]")
        .max_by_key(|(_, _, pss)| *pss);
    // Memory no file backs (heap, stacks, anonymous and shared-memory mappings) against
    // mapped files (libraries, the binary, fonts).
    let files: u64 = mappings
        .iter()
        .filter(|(name, _, _)| {
            name.starts_with('/') && !name.starts_with("/memfd:") && !name.starts_with("/SYSV")
        })
        .map(|(_, _, pss)| pss)
        .sum();
    let total: u64 = mappings.iter().map(|(_, _, pss)| pss).sum();
    let mut top: Vec<(String, u64)> = by_name.into_iter().collect();
    top.sort_by_key(|(_, pss)| std::cmp::Reverse(*pss));
    let mb = |kb: u64| kb as f64 / 1024.0;
    let mut parts = vec![format!(
        "not file-backed {:.1} MB, mapped files {:.1} MB",
        mb(total - files),
        mb(files)
    )];
    parts.extend(
        top.iter()
            .take(8)
            .map(|(name, pss)| format!("{name} {:.1} MB", mb(*pss))),
    );
    if let Some((_, size, pss)) = largest_anon {
        parts.push(format!(
            "largest anonymous mapping: {:.1} MB of {:.0} MB reserved",
            mb(*pss),
            mb(*size)
        ));
    }
    parts.join(", ")
}
