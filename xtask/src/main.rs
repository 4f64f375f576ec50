//! Developer commands behind `./dev` (see README.md). `./dev` makes sure Rust and the system
//! packages exist; this program does the rest: it installs the cargo-side tools that are
//! missing, builds, starts servers and runs suites. It is the only place that knows how the
//! pieces are put together for a person or for CI, so CI and users always run the same steps.

mod package;
mod postgres;

use anyhow::{Context, Result, bail};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = repository_root();
    std::env::set_current_dir(&root)?;
    match args.first().map(String::as_str) {
        Some("test") => test(&args[1..]),
        Some("run") => run(&args[1..]),
        Some("bench") => bench(&args[1..]),
        Some("package") => package::package(&args[1..]),
        _ => bail!("usage: ./dev run | ./dev test [--long] | ./dev bench | ./dev package"),
    }
}

/// The checkout we were started from. `./dev` runs us from the repository root; the directory is
/// found by walking up from there rather than from `CARGO_MANIFEST_DIR`, because the build
/// directory is shared between clones (`~/.cache/roost/target`): cargo's fingerprints do not
/// depend on where a clone lives, so a binary built in another clone can be reused as fresh and
/// its compiled-in path would point into that clone (or nowhere, once it is deleted).
fn repository_root() -> PathBuf {
    let is_root = |dir: &Path| dir.join("xtask/Cargo.toml").is_file() && dir.join("dev").is_file();
    std::env::current_dir()
        .ok()
        .and_then(|cwd| {
            cwd.ancestors()
                .find(|dir| is_root(dir))
                .map(Path::to_path_buf)
        })
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .parent()
                .expect("xtask lives in the workspace")
                .to_path_buf()
        })
}

/// Announces a step, with the time of day (UTC) so a run's log shows how long each step took
/// (as `./dev`'s own lines do).
fn step(what: &str) {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
        % 86_400;
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    eprintln!("\x1b[1;34m[dev {h:02}:{m:02}:{s:02}]\x1b[0m {what}");
}

fn cargo() -> Command {
    let mut command = Command::new(cargo_path());
    without_package_env(&mut command);
    command
}

/// `cargo run` gives this program its package's variables (`CARGO_PKG_NAME=xtask`,
/// `CARGO_MANIFEST_DIR`, …). Build scripts that watch them (ring's does) saw them change between
/// a build started here and one started from a shell and reran, rebuilding everything above them
/// (rustls, reqwest, roost-core, the app) each time the two alternated: children get none.
fn without_package_env(command: &mut Command) -> &mut Command {
    for (name, _) in std::env::vars_os() {
        if let Some(name) = name.to_str()
            && is_package_env(name)
        {
            command.env_remove(name);
        }
    }
    command
}

fn is_package_env(name: &str) -> bool {
    name.starts_with("CARGO_PKG_")
        || name.starts_with("CARGO_MANIFEST_")
        || matches!(
            name,
            "CARGO_CRATE_NAME" | "CARGO_BIN_NAME" | "CARGO_PRIMARY_PACKAGE"
        )
}

/// The desktop app (debug) serving the embedded `ui/dist`, as `./dev test` and `./dev run` use it.
fn build_desktop_app() -> Result<()> {
    run_checked(&mut desktop_cargo("build"))
}

/// The arguments after `cargo <subcommand>` that select the desktop app as it embeds
/// `ui/dist` (`custom-protocol`).
const DESKTOP_APP_ARGS: [&str; 5] = [
    "--locked",
    "-p",
    "roost-desktop",
    "--features",
    "custom-protocol",
];

/// `cargo <subcommand>` for the desktop app as it embeds `ui/dist` (`custom-protocol`).
fn desktop_cargo(subcommand: &str) -> Command {
    let mut command = cargo();
    command.arg(subcommand).args(DESKTOP_APP_ARGS);
    command
}

fn run_checked(command: &mut Command) -> Result<()> {
    let status = command
        .status()
        .with_context(|| format!("could not start {command:?}"))?;
    if !status.success() {
        bail!("{command:?} failed with {status}");
    }
    Ok(())
}

/// `./dev test [--long]`: the whole suite. `--long` also runs the many-schedules variant of the
/// fault suite (`ROOST_FAULT_SCHEDULES`).
fn test(args: &[String]) -> Result<()> {
    let long = args.iter().any(|a| a == "--long");
    let started = Instant::now();
    ensure_desktop_tools()?;

    step(
        "workspace tests: protocol, server, core, CLI, fault suite, UI views, benchmark smoke run",
    );
    let mut command = cargo();
    // The default members (no WebKitGTK or wasm needed); every failing test binary is reported,
    // not only the first.
    command.args(["test", "--locked", "--no-fail-fast"]);
    // The server's conformance suite runs every test on SQLite and on this PostgreSQL too.
    step("starting a throwaway PostgreSQL for the server's PostgreSQL test variants");
    let test_postgres = postgres::TestPostgres::start()?;
    command.env(postgres::TEST_PG_URL_VAR, test_postgres.url());
    if long {
        command.env(
            "ROOST_FAULT_SCHEDULES",
            std::env::var("ROOST_FAULT_SCHEDULES").unwrap_or_else(|_| "5000".into()),
        );
    }
    run_checked(&mut command)?;
    drop(test_postgres);

    step(
        "UI views rendered to HTML natively (skeletons, Resync visibility, indicator rules, escaping)",
    );
    run_checked(cargo().args(["test", "--locked", "-p", "roost-ui"]))?;
    build_ui()?;
    package::check_windows_build()?;
    step("the desktop shell's unit tests");
    run_checked(desktop_cargo("test").arg("--lib"))?;
    // The E2E tests build the app they drive (`CARGO_BIN_EXE_roost-desktop`, with the test
    // build's features, which the shell's unit tests just compiled): a `cargo build` of it here
    // would compile the crates whose features differ a second time (9 min on a fresh machine).
    step(
        "end-to-end tests: the app built with them, in a real WebKit window (Xvfb + tauri-driver) against the real server",
    );
    run_checked(
        Command::new("xvfb-run")
            .args(["-a", "-s", "-screen 0 1280x800x24"])
            .arg(cargo_path())
            .arg("test")
            .args(DESKTOP_APP_ARGS)
            .args(["--test", "e2e", "--", "--ignored", "--test-threads=1"]),
    )?;
    step(&format!(
        "all suites passed in {:.0} s",
        started.elapsed().as_secs_f64()
    ));
    Ok(())
}

/// The UI's wasm bundle in `ui/dist`, which the desktop app serves.
fn build_ui() -> Result<()> {
    step("building the UI (trunk, wasm)");
    run_checked(
        without_package_env(&mut Command::new("trunk"))
            .args(["build", "--release"])
            .current_dir("ui"),
    )
}

/// rustup's wasm32 target and the cargo-installed tools the UI and the E2E tests need, each
/// installed only when missing (first time on a new machine: about 15 minutes on 2 cores).
fn ensure_desktop_tools() -> Result<()> {
    let targets = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()?;
    if !String::from_utf8_lossy(&targets.stdout)
        .lines()
        .any(|t| t == "wasm32-unknown-unknown")
    {
        step("installing the wasm32 target (once)");
        run_checked(Command::new("rustup").args(["target", "add", "wasm32-unknown-unknown"]))?;
    }
    let installed = String::from_utf8(
        Command::new(cargo_path())
            .args(["install", "--list"])
            .output()?
            .stdout,
    )?;
    let wasm_bindgen = locked_version("wasm-bindgen")?;
    let tools: [(&str, String, bool); 3] = [
        ("trunk", "0.21.14".into(), true),
        ("tauri-driver", "2.1.0".into(), true),
        // Without --locked: its lockfile pins a webpki-roots the registry no longer serves.
        ("wasm-bindgen-cli", wasm_bindgen, false),
    ];
    for (tool, version, locked) in tools {
        if installed
            .lines()
            .any(|line| line == format!("{tool} v{version}:"))
        {
            continue;
        }
        step(&format!("installing {tool} {version} (once)"));
        let mut command = Command::new(cargo_path());
        command
            .args(["install", tool, "--version", &version])
            .env_remove("CARGO_TARGET_DIR");
        if locked {
            command.arg("--locked");
        }
        run_checked(&mut command)?;
    }
    Ok(())
}

fn cargo_path() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

/// The version of `package` in Cargo.lock (the UI's wasm-bindgen must match its CLI exactly).
fn locked_version(package: &str) -> Result<String> {
    let lock = std::fs::read_to_string("Cargo.lock")?;
    let marker = format!("name = \"{package}\"\nversion = \"");
    let start = lock
        .find(&marker)
        .with_context(|| format!("{package} is not in Cargo.lock"))?
        + marker.len();
    Ok(lock[start..start + lock[start..].find('"').context("malformed Cargo.lock")?].to_string())
}

/// `./dev bench [--json] [--quick] [--no-app] [--no-callgrind]`: every figure, in release mode.
/// First the release app (click → paint, cold start, RSS; `src-tauri/tests/bench_app/` under
/// Xvfb, one E2E run at a time), then the core benchmarks (`crates/roost-bench`), which merge the
/// app's figures, regenerate `docs/benchmarks.md` (full runs; "before" figures from
/// `docs/benchmarks-baseline.json`) and, with `--json`, print every figure as one JSON object on
/// the last line of stdout. `--quick` is a smoke run of the core figures only.
fn bench(args: &[String]) -> Result<()> {
    let has = |flag: &str| args.iter().any(|a| a == flag);
    let quick = has("--quick");
    let app_figures = target_dir().join("e2e-artifacts").join("bench-app.json");
    let _ = std::fs::remove_file(&app_figures);
    if !quick && !has("--no-app") {
        ensure_desktop_tools()?;
        build_ui()?;
        step("building the RELEASE app and measuring it (click → paint, cold start, RSS)");
        // The same-run floor bench_app launches beside the app: a blank Tauri window.
        run_checked(desktop_cargo("build").args(["--release", "--example", "blank-window"]))?;
        std::fs::create_dir_all(app_figures.parent().expect("a parent"))?;
        let status = Command::new("flock")
            .args([
                "/tmp/roost-e2e.lock",
                "xvfb-run",
                "-a",
                "-s",
                // -noreset: the benchmark launches the app again and again; an X server that
                // resets when the last client leaves can refuse the next app's GTK.
                "-screen 0 1280x800x24 -noreset",
            ])
            .arg(cargo_path())
            .args(["test", "--release"])
            .args(DESKTOP_APP_ARGS)
            .args(["--test", "bench_app", "--", "--ignored", "--nocapture"])
            .env("ROOST_BENCH_APP_OUT", &app_figures)
            // stdout carries only the core benchmark's output (its last line is the JSON).
            .stdout(std::io::stderr())
            .status()
            .context("run the release-app benchmark")?;
        if !status.success() {
            step("the release-app benchmark failed: its figures are missing from this run");
        }
    }
    step("building and running the core benchmarks (release)");
    let mut command = cargo();
    command.args([
        "run",
        "--quiet",
        "--locked",
        "--release",
        "-p",
        "roost-bench",
        "--",
    ]);
    for flag in ["--quick", "--json", "--no-callgrind", "--check"] {
        if has(flag) {
            command.arg(flag);
        }
    }
    command.arg("--app-figures").arg(&app_figures);
    if !quick {
        command.args(["--write-doc", "docs/benchmarks.md"]);
        if Path::new("docs/benchmarks-baseline.json").exists() {
            command.args(["--baseline", "docs/benchmarks-baseline.json"]);
        }
    }
    run_checked(&mut command)
}

/// `./dev run`: build, start a local server with demo data, and point a client at it.
fn run(_args: &[String]) -> Result<()> {
    step("building the server and the CLI");
    run_checked(cargo().args(["build", "--locked", "-p", "roost-server", "-p", "roost-cli"]))?;
    let bin_dir = target_dir().join("debug");
    let server_bin = bin_dir.join("roost-server");
    let data_dir = demo_data_dir();
    std::fs::create_dir_all(&data_dir)?;
    let db = data_dir.join("server.db");
    let listen = demo_listen_address()?;
    let token = prepare_demo_data(&server_bin, &db, listen, &data_dir)?;

    step(&format!("starting the server on http://{listen}"));
    let mut server = ChildGuard(
        Command::new(&server_bin)
            .args(["serve", "--db"])
            .arg(&db)
            .args(["--listen", &listen.to_string()])
            .spawn()
            .context("could not start roost-server serve")?,
    );
    wait_for_health(listen, &mut server.0)?;
    let server_url = format!("http://{listen}");
    show_the_cli(&bin_dir.join("roost"), &server_url, &token, &data_dir)?;

    let has_display =
        std::env::var_os("DISPLAY").is_some() || std::env::var_os("WAYLAND_DISPLAY").is_some();
    if !has_display {
        println!(
            "No display (DISPLAY/WAYLAND_DISPLAY unset): the desktop app is not launched. Ctrl-C stops the server."
        );
        let status = server.0.wait()?;
        bail!("the server exited: {status}");
    }
    run_desktop_app(&bin_dir, &data_dir, &server_url, &token, &mut server)
}

/// Where `./dev run`'s server listens: `ROOST_LISTEN`, or 127.0.0.1:7878.
fn demo_listen_address() -> Result<SocketAddr> {
    let listen_text = std::env::var("ROOST_LISTEN").unwrap_or_else(|_| "127.0.0.1:7878".into());
    listen_text.parse().with_context(|| {
        format!(
            "ROOST_LISTEN={listen_text:?} cannot be read: expected ip:port such as 127.0.0.1:7878"
        )
    })
}

/// Creates the demo data in `db` (once: `roost-server demo` is idempotent), writes its users
/// and tokens to `demo.json` in `data_dir`, and returns the demo user's token.
fn prepare_demo_data(
    server_bin: &Path,
    db: &Path,
    listen: SocketAddr,
    data_dir: &Path,
) -> Result<String> {
    step(&format!(
        "preparing demo data in {} (first time: about a minute)",
        db.display()
    ));
    let demo = Command::new(server_bin)
        .args(["demo", "--db"])
        .arg(db)
        .args(["--listen", &listen.to_string()])
        .stderr(Stdio::inherit())
        .output()
        .context("could not run roost-server demo")?;
    if !demo.status.success() {
        bail!("roost-server demo failed");
    }
    let demo_json = String::from_utf8(demo.stdout)?;
    std::fs::write(data_dir.join("demo.json"), &demo_json)?;
    json_string_after(&demo_json, "\"token\"").context("demo output has no token")
}

/// Lists the demo user's chats through the `roost` CLI and prints how to use it against the
/// demo server.
fn show_the_cli(cli_bin: &Path, server_url: &str, token: &str, data_dir: &Path) -> Result<()> {
    let client_dir = data_dir.join("client");
    step("the demo user's chats, through the roost CLI (cached in the client's message_cache.db):");
    run_checked(
        Command::new(cli_bin)
            .args(["--server", server_url, "--token", token, "--data-dir"])
            .arg(&client_dir)
            .arg("chats"),
    )?;
    println!();
    println!("The demo server is at {server_url}. The CLI works against it too:");
    println!("  export ROOST_SERVER={server_url} ROOST_TOKEN={token}");
    println!(
        "  {} --data-dir {} open \"General\"",
        cli_bin.display(),
        client_dir.display()
    );
    println!(
        "All demo users and tokens: {}",
        data_dir.join("demo.json").display()
    );
    Ok(())
}

/// Builds the UI and the desktop app, launches it signed in as the demo user (with its own
/// profile under `data_dir`), and waits until the window or the server goes away.
fn run_desktop_app(
    bin_dir: &Path,
    data_dir: &Path,
    server_url: &str,
    token: &str,
    server: &mut ChildGuard,
) -> Result<()> {
    ensure_desktop_tools()?;
    build_ui()?;
    step("building the desktop app");
    build_desktop_app()?;
    step("launching Roost, signed in as the demo user (close the window or press Ctrl-C to stop)");
    let mut app = ChildGuard(
        Command::new(bin_dir.join("roost-desktop"))
            // The demo keeps its own profile, so it never touches (or replaces) the user's
            // real Roost cache and sign-in.
            .env("XDG_DATA_HOME", data_dir.join("app-data"))
            .env("XDG_CONFIG_HOME", data_dir.join("app-config"))
            .env("XDG_CACHE_HOME", data_dir.join("app-cache"))
            .env("ROOST_SERVER_URL", server_url)
            .env("ROOST_TOKEN", token)
            .spawn()
            .context("could not start the desktop app")?,
    );
    loop {
        if let Some(status) = app.0.try_wait()? {
            step(&format!("Roost closed ({status}); stopping the server"));
            return Ok(());
        }
        if let Some(status) = server.0.try_wait()? {
            bail!("the server exited: {status}");
        }
        std::thread::sleep(Duration::from_millis(300));
    }
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repository_root().join("target"))
}

fn demo_data_dir() -> PathBuf {
    let base = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".local/share")
        });
    base.join("roost-demo")
}

/// Kills the child when `./dev run` ends for any reason, so no server is left behind.
struct ChildGuard(Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn wait_for_health(addr: SocketAddr, server: &mut Child) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if let Some(status) = server.try_wait()? {
            bail!("the server exited before it was ready: {status}");
        }
        if let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(500)) {
            let _ = write!(
                stream,
                "GET /v1/health HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
            );
            let mut response = String::new();
            let _ = stream.read_to_string(&mut response);
            if response.starts_with("HTTP/1.1 200") {
                return Ok(());
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    bail!("the server did not become healthy within 60 s")
}

/// The string value after the first occurrence of `key` in a JSON text (enough for the demo
/// output, whose shape this crate's tests do not own; keeps xtask free of dependencies).
fn json_string_after(json: &str, key: &str) -> Option<String> {
    let rest = &json[json.find(key)? + key.len()..];
    let rest = &rest[rest.find('"')? + 1..];
    Some(rest[..rest.find('"')?].to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `cargo test` sets CARGO_PKG_NAME and CARGO_MANIFEST_DIR for this process, as `cargo run`
    /// does for `./dev`: a child cargo must not inherit them; CARGO_TARGET_DIR and CARGO_HOME stay.
    #[test]
    fn child_cargo_gets_no_package_variables() {
        assert!(std::env::var_os("CARGO_PKG_NAME").is_some());
        let command = cargo();
        let removed: Vec<_> = command
            .get_envs()
            .filter(|(_, value)| value.is_none())
            .map(|(name, _)| name.to_string_lossy().into_owned())
            .collect();
        for name in ["CARGO_PKG_NAME", "CARGO_PKG_VERSION", "CARGO_MANIFEST_DIR"] {
            assert!(
                removed.iter().any(|r| r == name),
                "{name} reaches child cargo"
            );
        }
        for kept in [
            "CARGO_TARGET_DIR",
            "CARGO_HOME",
            "CARGO_TERM_COLOR",
            "CARGO",
        ] {
            assert!(!is_package_env(kept), "{kept}");
        }
    }
}
