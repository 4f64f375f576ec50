//! The release app's phases in `docs/benchmarks.md`: where click → paint and cold start spend
//! their time, from the keys `src-tauri/tests/bench_app/` writes (`click_to_paint_ms`'s
//! `phases_p50`, `cold_start_phases_ms_by_cached`).

use serde_json::Value;
use std::fmt::Write as _;

/// Click → paint phases (key, what it covers), in the order they happen; the last one is the
/// sum of the three before it.
const CLICK_PHASES: [(&str, &str); 7] = [
    (
        "click_to_invoke",
        "click → `open_chat` invoked (click handler, selection)",
    ),
    (
        "invoke_to_reply",
        "invoked → window in the page (IPC both ways, the core's read, JSON)",
    ),
    (
        "reply_to_applied",
        "reply → applied to the UI state (reducer)",
    ),
    (
        "applied_to_frame",
        "applied → first frame with the rows in the DOM (Leptos, wait for the frame)",
    ),
    (
        "frame_to_rendered",
        "that frame rendered (style, layout, layer flush)",
    ),
    (
        "rendered_to_painted",
        "rendered → next frame starts (compositing)",
    ),
    ("applied_to_painted", "applied → painted (the three above)"),
];

/// Cold-start phases (key, what it covers), in the order they happen.
const COLD_PHASES: [(&str, &str); 18] = [
    (
        "launched__process_started",
        "launched (the binary spawned directly, as from a desktop launcher) → app process started",
    ),
    (
        "session_requested__process_started",
        "WebDriver session requested → app process started (tauri-driver, WebKitWebDriver)",
    ),
    (
        "process_started__main",
        "process started → `main` (loading the binary and its libraries)",
    ),
    (
        "main__window_created",
        "`main` → window and WebView created (GTK, Tauri, plugins)",
    ),
    (
        "window_created__page_started",
        "WebView created → page navigation starts (WebKit's web process)",
    ),
    ("page_started__html_loaded", "navigation → HTML loaded"),
    (
        "page_started__page_requested",
        "beside the page: navigation → the page's request reaches the shell",
    ),
    (
        "page_requested__page_served",
        "beside the page: the shell serves the page (`first_paint`)",
    ),
    (
        "page_served__html_loaded",
        "beside the page: page served → HTML loaded in the web process",
    ),
    (
        "html_loaded__wasm_started",
        "HTML loaded → wasm running (JS, wasm fetch, compile, instantiate)",
    ),
    (
        "wasm_started__status_replied",
        "wasm running → `app_status` answered (waits for the session's cache to open)",
    ),
    (
        "status_replied__chats_replied",
        "`app_status` → chat list read (`chats` IPC)",
    ),
    (
        "chats_replied__chat_list_painted",
        "chat list read → the app's list painted (Leptos, layout, paint)",
    ),
    (
        "html_loaded__first_paint",
        "beside the page: HTML loaded → the list the shell put into the page painted (`first_paint`)",
    ),
    (
        "chats_invoked__chats_replied",
        "beside the page: the `chats` request alone (invoked → answered)",
    ),
    (
        "window_created__tray_installed",
        "beside the page: WebView created → tray icon installed (once the page loaded)",
    ),
    (
        "wasm_started__first_frame",
        "beside the page: wasm running → its first frame (`requestAnimationFrame`)",
    ),
    (
        "main__session_started",
        "beside the page: `main` → session started (cache opened, stream started)",
    ),
];

fn ms(value: Option<&Value>) -> String {
    match value.and_then(Value::as_f64) {
        Some(v) => format!("{v:.1} ms"),
        None => "—".into(),
    }
}

/// The section, or nothing when the run has no app figures.
pub fn render(out: &mut String, figures: &Value) {
    let clicks = &figures["click_to_paint_ms"];
    let cold = figures["cold_start_phases_ms_by_cached"].as_object();
    if clicks.is_null() && cold.is_none() {
        return;
    }
    let _ = writeln!(out, "## Where the release app's time goes\n");
    if let Some(phases) = clicks["phases_p50"].as_object() {
        let _ = writeln!(
            out,
            "Click → painted messages, 100k-message chat ({} opens; p50 {}, p99 {}): the median of each phase, from the UI's `roost-open-*` performance marks.\n",
            clicks["runs"],
            ms(clicks.get("p50")),
            ms(clicks.get("p99"))
        );
        // Beside it, the same click finding nothing read ahead (`no_read_ahead`), when run.
        match clicks["no_read_ahead"]["phases_p50"].as_object() {
            Some(nothing) => {
                let _ = writeln!(
                    out,
                    "Served from the idle read-ahead, \"applied\" is the rows shown and the open's reply comes after the paint.\n\n| phase | p50, read ahead while idle | p50, nothing read ahead |\n|---|---:|---:|"
                );
                for (key, what) in CLICK_PHASES {
                    let (read_ahead, nothing) = (ms(phases.get(key)), ms(nothing.get(key)));
                    let _ = writeln!(out, "| {what} | {read_ahead} | {nothing} |");
                }
            }
            None => {
                let _ = writeln!(out, "| phase | p50 |\n|---|---:|");
                for (key, what) in CLICK_PHASES {
                    let _ = writeln!(out, "| {what} | {} |", ms(phases.get(key)));
                }
            }
        }
        let _ = writeln!(out);
    }
    if let Some(cold) = cold {
        write_cold_phases(out, figures, cold);
    }
}

/// The cold-start phases per cache size, beside the blank Tauri window's (the same-run floor)
/// when the run has it.
fn write_cold_phases(out: &mut String, figures: &Value, cold: &serde_json::Map<String, Value>) {
    let sizes: Vec<&String> = cold.keys().collect();
    let floor = &figures["cold_start_floor_phases_ms"];
    // Where the launches ran: without a session bus, GLib and libdbus fork to try to start one
    // at every launch, which no desktop session does (`cold_start_session_bus`).
    let bus = match figures["cold_start_session_bus"].as_bool() {
        Some(true) => {
            " Each launch ran on a private session bus with its accessibility bus up, as in a desktop session."
        }
        Some(false) => " Each launch ran without a session bus (bare `xvfb-run`).",
        None => "",
    };
    let _ = writeln!(
        out,
        "Cold start → chat list painted, by phase (the median direct launch of each cache size, timed from the spawn of the binary; shell steps from `roost_desktop::startup`, page steps from performance marks, all on the wall clock; `cold_start_webdriver_*` keeps the earlier figure, timed from the WebDriver session's request).{bus}\n"
    );
    let mut header: Vec<String> = sizes.iter().map(|s| format!("{s} cached")).collect();
    if floor.is_object() {
        header.push("blank Tauri window (floor)".into());
    }
    let _ = writeln!(
        out,
        "| phase | {} |\n|---|{}",
        header.join(" | "),
        "---:|".repeat(header.len())
    );
    for (key, what) in COLD_PHASES {
        let mut cells: Vec<String> = sizes.iter().map(|s| ms(cold[*s].get(key))).collect();
        if floor.is_object() {
            cells.push(ms(floor.get(key)));
        }
        let _ = writeln!(out, "| {what} | {} |", cells.join(" | "));
    }
    let mut totals: Vec<String> = sizes
        .iter()
        .map(|s| ms(figures["cold_start_ms_by_cached"].get(s.as_str())))
        .collect();
    if floor.is_object() {
        totals.push(ms(figures.get("cold_start_floor_ms")));
    }
    let _ = writeln!(out, "| **total** | {} |\n", totals.join(" | "));
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_section_lists_each_phase_per_cache_size_and_is_absent_without_app_figures() {
        let mut none = String::new();
        render(&mut none, &json!({ "open": [] }));
        assert!(none.is_empty(), "no app figures, no section: {none}");

        let figures = json!({
            "click_to_paint_ms": { "p50": 30.0, "p99": 60.0, "runs": 31,
                "phases_p50": { "invoke_to_reply": 4.5, "applied_to_painted": 20.0 } },
            "cold_start_ms_by_cached": { "100000": 900.0, "1000000": 950.0 },
            "cold_start_phases_ms_by_cached": {
                "100000": { "main__window_created": 120.0 },
                "1000000": { "main__window_created": 130.0 }
            }
        });
        let mut out = String::new();
        render(&mut out, &figures);
        assert!(
            out.contains(
                "| invoked → window in the page (IPC both ways, the core's read, JSON) | 4.5 ms |"
            ),
            "{out}"
        );
        assert!(
            out.contains("| phase | 100000 cached | 1000000 cached |"),
            "{out}"
        );
        assert!(
            out.contains("(GTK, Tauri, plugins) | 120.0 ms | 130.0 ms |"),
            "{out}"
        );
        assert!(out.contains("| **total** | 900.0 ms | 950.0 ms |"), "{out}");

        // With the click that found nothing read ahead: its phases beside.
        let mut with_nothing = figures.clone();
        with_nothing["click_to_paint_ms"]["no_read_ahead"] =
            json!({ "phases_p50": { "invoke_to_reply": 12.0 } });
        let mut out = String::new();
        render(&mut out, &with_nothing);
        assert!(
            out.contains(
                "| invoked → window in the page (IPC both ways, the core's read, JSON) | 4.5 ms | 12.0 ms |"
            ),
            "{out}"
        );

        // With the same-run floor (the blank Tauri window): one more column.
        let mut with_floor = figures.clone();
        with_floor["cold_start_floor_ms"] = json!(400.0);
        with_floor["cold_start_floor_phases_ms"] = json!({ "main__window_created": 100.0 });
        let mut out = String::new();
        render(&mut out, &with_floor);
        assert!(
            out.contains("| phase | 100000 cached | 1000000 cached | blank Tauri window (floor) |"),
            "{out}"
        );
        assert!(
            out.contains("(GTK, Tauri, plugins) | 120.0 ms | 130.0 ms | 100.0 ms |"),
            "{out}"
        );
        assert!(
            out.contains("| **total** | 900.0 ms | 950.0 ms | 400.0 ms |"),
            "{out}"
        );
        assert!(
            out.contains("| reply → applied to the UI state (reducer) | — |"),
            "a phase not measured: {out}"
        );
        assert!(!out.contains("session bus"), "not said when unknown: {out}");

        // Where the launches ran is said, either way.
        for (on_bus, said) in [
            (true, "on a private session bus"),
            (false, "without a session bus"),
        ] {
            let mut with_bus = figures.clone();
            with_bus["cold_start_session_bus"] = json!(on_bus);
            let mut out = String::new();
            render(&mut out, &with_bus);
            assert!(out.contains(said), "{out}");
        }
    }
}
