//! When the shell reached each step of starting up — `main`, the window and its WebView created
//! (the setup hook runs right after Tauri builds the configured window), the saved session's
//! cache open — as wall-clock milliseconds since the Unix epoch, the clock the page's
//! `performance.timeOrigin` uses, so shell and page steps line up on one time line.
//! `src-tauri/tests/bench_app/` reads them through the `startup_timeline` command to break cold
//! start into phases (issue 11). Recording a step is one clock read and a push: nothing here
//! delays start-up.

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
