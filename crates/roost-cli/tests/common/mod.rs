//! The built `roost` binary run as a user runs it, shared by the CLI's test files.

use serde_json::Value;
use std::path::Path;

/// Runs `roost --server … --token … --data-dir … --json <args>`; returns whether it succeeded
/// and the JSON it printed (a run that prints no JSON fails the test, with its stderr).
pub async fn roost(base_url: &str, token: &str, data_dir: &Path, args: &[&str]) -> (bool, Value) {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_roost"))
        .args(["--server", base_url, "--token", token, "--data-dir"])
        .arg(data_dir)
        .arg("--json")
        .args(args)
        .env_remove("ROOST_SERVER")
        .env_remove("ROOST_TOKEN")
        .output()
        .await
        .expect("run roost");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let json: Value = serde_json::from_str(stdout.trim()).unwrap_or_else(|e| {
        panic!(
            "roost {args:?} printed no JSON ({e}): {stdout} / {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.success(), json)
}
