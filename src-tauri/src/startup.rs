//! When the shell reached each step of starting up — `main`, the window and its WebView created
//! (the setup hook runs right after Tauri builds the configured window), the saved session's
//! cache open — as wall-clock milliseconds since the Unix epoch, the clock the page's
//! `performance.timeOrigin` uses, so shell and page steps line up on one time line.
//! `src-tauri/tests/bench_app/` reads them through the `startup_timeline` command to break cold
//! start into phases (issue 11). Recording a step is one clock read and a push: nothing here
//! delays start-up.
//!
//! A launch without WebDriver (the benchmark's direct launch, as from a desktop launcher) has
//! no one to ask the page: with [`REPORT_ENV`] set to a file, the page's steps and these are
//! written there once the page has painted its chat list ([`report_when_painted`]). Unset,
//! nothing is done.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

static STEPS: Mutex<Vec<(&'static str, f64)>> = Mutex::new(Vec::new());

/// Milliseconds since the Unix epoch, now.
fn epoch_ms() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64() * 1e3)
        .unwrap_or(0.0)
}

/// Records that start-up reached `step` now (the first time only: a later sign-in or account
/// switch is not start-up).
pub fn note(step: &'static str) {
    let at = epoch_ms();
    if let Ok(mut steps) = STEPS.lock()
        && !steps.iter().any(|(name, _)| *name == step)
    {
        steps.push((step, at));
    }
}

/// Every step recorded so far: name → epoch milliseconds.
pub fn timeline() -> BTreeMap<&'static str, f64> {
    STEPS
        .lock()
        .map(|steps| steps.iter().copied().collect())
        .unwrap_or_default()
}

/// The file a launch's start-up steps are written to (the shell's and the page's), when set.
pub const REPORT_ENV: &str = "ROOST_STARTUP_REPORT";

/// A JavaScript function `(appList, then)`, run in the loaded page: waits for the frame that
/// painted the chat list (and, with `appList`, the app's own list too), then calls `then` with
/// the page's steps (epoch ms, the clock of [`timeline`]) and its marks. The one definition of
/// the page's start-up steps: the direct launch's report below and `bench_app`'s WebDriver
/// launch both call it.
pub const PAGE_STEPS_JS: &str = r#"(appList, then) => {
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
    then({
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
      // The page's steps (ms after navigation start): what the first frame may have waited for.
      page_steps: [
        ...(nav ? ['responseEnd', 'domInteractive', 'domContentLoadedEventStart',
          'loadEventStart'].map((k) => [k, Math.round(nav[k])]) : []),
        ...performance.getEntriesByType('paint').map((e) => [e.name, Math.round(e.startTime)]),
        ...performance.getEntriesByType('mark').map((e) => [e.name, Math.round(e.startTime)]),
      ],
    });
  };
  check();
}"#;

/// With [`REPORT_ENV`] set: has the loaded page report its steps once its chat list (and,
/// with `app_list`, the app's own list) is painted. Call when the page has loaded.
pub fn report_when_painted<R: tauri::Runtime>(webview: &tauri::Webview<R>, app_list: bool) {
    if std::env::var_os(REPORT_ENV).is_none() {
        return;
    }
    let script = format!(
        "({PAGE_STEPS_JS})({app_list}, (page) => window.__TAURI__.core.invoke('startup_report', {{ page }}));"
    );
    if let Err(e) = webview.eval(script) {
        tracing::warn!(error = %e, "could not ask the page for its start-up steps");
    }
}

/// The page's steps (from [`PAGE_STEPS_JS`], run by [`report_when_painted`]) with the shell's, as one JSON
/// object (`shell`: the shell's steps), written to [`REPORT_ENV`]'s file: whole or not at all
/// (written beside it, then renamed), so a reader never sees half of it.
pub fn write_report(page: serde_json::Value) -> Result<(), String> {
    let Some(path) = std::env::var_os(REPORT_ENV).map(std::path::PathBuf::from) else {
        return Ok(());
    };
    let mut report = match page {
        serde_json::Value::Object(fields) => fields,
        other => {
            return Err(format!(
                "expected the page's steps as an object, got {other}"
            ));
        }
    };
    report.insert("shell".into(), serde_json::json!(timeline()));
    let text = serde_json::Value::Object(report).to_string();
    let partial = path.with_extension("partial");
    std::fs::write(&partial, text)
        .and_then(|()| std::fs::rename(&partial, &path))
        .map_err(|e| format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_step_keeps_its_first_time_and_steps_are_in_order() {
        note("test-first");
        let first = timeline()["test-first"];
        std::thread::sleep(std::time::Duration::from_millis(2));
        note("test-second");
        note("test-first");
        let steps = timeline();
        assert_eq!(
            steps["test-first"], first,
            "a step is start-up's first time"
        );
        assert!(steps["test-second"] > first);
    }
}
