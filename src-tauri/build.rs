//! Generates the Tauri context from `tauri.conf.json` (at the repository root) and one permission
//! per Roost command, so `src-tauri/capabilities/` can allow exactly those; on Linux, links the
//! library whose symbol lookups dominate the dynamic loader's start-up early (`loader`).

const COMMANDS: &[&str] = &[
    "app_status",
    "startup_timeline",
    "startup_report",
    "subscribe",
    "sign_in",
    "sign_out",
    "chats",
    "open_chat",
    "close_chat",
    "cached_window",
    "load_older",
    "resync",
    "send",
    "edit",
    "delete",
    "retry_failed",
    "cache_map",
    "search",
    "fetch_ranges",
    "verify_chat",
    "clear_cached_history",
    "cache_budget",
    "leave_chat",
    "forget_chat",
    "accounts",
    "switch_account",
    "sign_out_account",
];

fn main() {
    let attributes = tauri_build::Attributes::new()
        .capabilities_path_pattern("./src-tauri/capabilities/**/*")
        .app_manifest(tauri_build::AppManifest::new().commands(COMMANDS));
    tauri_build::try_build(attributes).expect("tauri-build failed");
    link_lookup_heavy_library_first();
}

/// `src-tauri/src/loader.rs`'s library (Flite's `cmu_time_awb` voice, which WebKitGTK links):
/// named among the executable's own libraries, so the loader's scope has it near the front
/// instead of at position 80 of 169 and its 31,000 self-references are found at once. Every
/// executable of the package gets it (`rustc-link-arg`): the app, the blank-window floor and
/// the tests alike. Only when building for this machine's Linux and its WebKitGTK links the
/// library (`ldd`): elsewhere nothing changes.
fn link_lookup_heavy_library_first() {
    const LIBRARY: &str = "libflite_cmu_time_awb.so.1";
    let env = |name: &str| std::env::var(name).unwrap_or_default();
    if env("CARGO_CFG_TARGET_OS") != "linux" || env("TARGET") != env("HOST") {
        return;
    }
    let run = |program: &str, args: &[&str]| -> Option<String> {
        let output = std::process::Command::new(program)
            .args(args)
            .output()
            .ok()?;
        output
            .status
            .success()
            .then(|| String::from_utf8_lossy(&output.stdout).into_owned())
    };
    let Some(libdir) = run("pkg-config", &["--variable=libdir", "webkit2gtk-4.1"]) else {
        return;
    };
    let webkit = format!("{}/libwebkit2gtk-4.1.so.0", libdir.trim());
    let Some(dependencies) = run("ldd", &[&webkit]) else {
        return;
    };
    // `libflite_cmu_time_awb.so.1 => /lib/x86_64-linux-gnu/libflite_cmu_time_awb.so.1 (0x…)`
    let path = dependencies.lines().find_map(|line| {
        let (name, rest) = line.trim().split_once(" => ")?;
        (name == LIBRARY).then(|| rest.split_whitespace().next())?
    });
    if let Some(path) = path.filter(|p| p.starts_with('/')) {
        println!("cargo:rustc-link-arg=-Wl,--push-state,--no-as-needed,{path},--pop-state");
        // `loader::LINKED_LOOKUP_HEAVY_LIBRARY`: what WebKit's child processes preload.
        println!("cargo:rustc-env=ROOST_LOOKUP_HEAVY_LIBRARY={LIBRARY}");
    }
}
