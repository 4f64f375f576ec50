//! The Windows side of the build and the release packages: the Windows check that `./dev test`
//! runs (the desktop app type-checked for `x86_64-pc-windows-gnu`, so Linux-only code fails the
//! suite), and `./dev package`, which builds the Debian package and, cross-compiled with
//! mingw-w64, the Windows executable and its NSIS installer, then checks both packages.
//!
//! The installer is compiled by Debian's `makensis` from `src-tauri/windows/installer.nsi`
//! rather than by Tauri's bundler, which downloads an NSIS plugin from GitHub when it runs on
//! Linux (see that file). macOS packages need Apple's SDK and are built on a Mac (README).

mod checks;

use crate::{build_ui, cargo, ensure_desktop_tools, run_checked, step, target_dir};
use anyhow::{Context, Result, bail, ensure};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// The Rust target Windows builds are cross-compiled for (mingw-w64's GCC links them).
pub const WINDOWS_TARGET: &str = "x86_64-pc-windows-gnu";
const MINGW_GCC: &str = "x86_64-w64-mingw32-gcc";
/// The npm package that ships a prebuilt tauri CLI (its cargo build takes ~9 minutes here).
const TAURI_CLI_NPM: &str = "@tauri-apps/cli@2.12";
/// Where `./dev package` leaves the packages, relative to the repository root.
pub const PACKAGES_DIR: &str = "artifacts/packages";

/// `./dev test`'s Windows step: `cargo check` of the desktop app (library and binary) for
/// Windows. Needs `ui/dist` (the app embeds it), so it runs after the UI build.
pub fn check_windows_build() -> Result<()> {
    ensure_windows_toolchain()?;
    step(&format!(
        "the desktop app type-checked for Windows ({WINDOWS_TARGET}): Linux-only code fails here"
    ));
    let started = Instant::now();
    run_checked(
        cargo()
            .args(desktop_app_args("check"))
            .args(["--target", WINDOWS_TARGET]),
    )?;
    step(&format!(
        "Windows check passed in {:.0} s",
        started.elapsed().as_secs_f64()
    ));
    Ok(())
}

/// `cargo <verb>` of the desktop app with the built UI embedded.
fn desktop_app_args(verb: &str) -> [&str; 6] {
    [
        verb,
        "--locked",
        "-p",
        "roost-desktop",
        "--features",
        "custom-protocol",
    ]
}

/// The rustup target and the mingw-w64 C compiler (SQLite's C sources, the resource compiler).
fn ensure_windows_toolchain() -> Result<()> {
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .context("rustup is needed for the Windows target")?;
    if !String::from_utf8_lossy(&installed.stdout)
        .lines()
        .any(|t| t == WINDOWS_TARGET)
    {
        step(&format!("installing the {WINDOWS_TARGET} target (once)"));
        run_checked(Command::new("rustup").args(["target", "add", WINDOWS_TARGET]))?;
    }
    ensure_on_path(
        MINGW_GCC,
        "the Debian package gcc-mingw-w64-x86-64 (./dev installs it)",
    )
}

fn ensure_on_path(program: &str, install_hint: &str) -> Result<()> {
    let found = std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()));
    ensure!(found, "{program} is not on PATH: install {install_hint}");
    Ok(())
}

/// What `./dev package` built, for its summary.
struct Built {
    path: PathBuf,
    seconds: f64,
}

/// The packages of one version, by the names `./dev package` gives them.
pub struct PackagePaths {
    /// `Roost_<version>_amd64.deb`, the tauri CLI's name for it.
    pub deb: PathBuf,
    /// `Roost_<version>_x64-setup.exe`, the name Tauri's NSIS bundler would give it.
    pub setup: PathBuf,
}

impl PackagePaths {
    pub fn in_dir(dir: &Path, version: &str) -> PackagePaths {
        PackagePaths {
            deb: dir.join(format!("Roost_{version}_amd64.deb")),
            setup: dir.join(format!("Roost_{version}_x64-setup.exe")),
        }
    }
}

/// `./dev package`: the release `.deb` and the Windows installer in `artifacts/packages/`,
/// each checked (the `.deb` with `dpkg-deb`; the app's and the installer's PE headers and
/// `file` say x86-64; the app imports no GNU runtime DLL; with Wine, a silent install and
/// uninstall), with sizes and build times printed. `./dev package --check` builds nothing: it
/// checks the packages an earlier run left and prints their sizes.
pub fn package(args: &[String]) -> Result<()> {
    let root = crate::repository_root();
    let version = app_version(&root)?;
    let out_dir = root.join(PACKAGES_DIR);
    let packages = PackagePaths::in_dir(&out_dir, &version);
    match args {
        [] => build_and_check(&version, &out_dir, &packages),
        [flag] if flag == "--check" => {
            check_packages(&packages, &version)?;
            print_sizes(&[(&packages.deb, None), (&packages.setup, None)])
        }
        _ => bail!("usage: ./dev package [--check]"),
    }
}

fn build_and_check(version: &str, out_dir: &Path, packages: &PackagePaths) -> Result<()> {
    let started = Instant::now();
    ensure_desktop_tools()?;
    ensure_windows_toolchain()?;
    ensure_on_path(
        "makensis",
        "the Debian package nsis (./dev package installs it)",
    )?;
    ensure_tauri_cli()?;
    std::fs::create_dir_all(out_dir)?;

    let ui_started = Instant::now();
    build_ui()?;
    let ui_seconds = ui_started.elapsed().as_secs_f64();
    let deb = build_deb(version, &packages.deb)?;
    let (exe, setup) = build_windows_installer(version, &packages.setup)?;

    step("checking the packages");
    check_packages(packages, version)?;
    checks::check_windows_x86_64(&exe.path)?;
    checks::check_windows_imports(&exe.path)?;
    checks::install_under_wine(&setup.path)?;
    println!();
    print_sizes(&[
        (&deb.path, Some(deb.seconds)),
        (&exe.path, Some(exe.seconds)),
        (&setup.path, Some(setup.seconds)),
    ])?;
    println!(
        "(UI build {ui_seconds:.0} s, before these; the .deb's time is the tauri build, the exe's \
         the release cross-build, the installer's makensis alone; ./dev package in all: {:.0} s)",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// The `.deb` (control fields, contents, `file`) and the installer (PE header and `file`: x86-64).
pub fn check_packages(packages: &PackagePaths, version: &str) -> Result<()> {
    checks::check_deb(&packages.deb, version)?;
    checks::check_windows_x86_64(&packages.setup)?;
    step(&format!(
        "{} is an amd64 Debian package of roost {version}; {} is an x86-64 Windows executable",
        packages.deb.display(),
        packages.setup.display()
    ));
    Ok(())
}

fn print_sizes(packages: &[(&PathBuf, Option<f64>)]) -> Result<()> {
    println!("{:<72} {:>9} {:>9}", "package", "size (MB)", "build (s)");
    for (path, seconds) in packages {
        let size = std::fs::metadata(path)
            .with_context(|| format!("{} is missing", path.display()))?
            .len() as f64
            / 1e6;
        let seconds = seconds.map_or("-".to_string(), |s| format!("{s:.0}"));
        println!("{:<72} {size:>9.1} {seconds:>9}", path.display());
    }
    Ok(())
}

/// The tauri CLI bundles the `.deb`; the npm package is a prebuilt binary.
fn ensure_tauri_cli() -> Result<()> {
    let version = Command::new("tauri").arg("--version").output();
    if version.is_ok_and(|v| String::from_utf8_lossy(&v.stdout).starts_with("tauri-cli 2.")) {
        return Ok(());
    }
    step(&format!("installing the tauri CLI ({TAURI_CLI_NPM}, once)"));
    run_checked(Command::new("npm").args(["install", "--global", TAURI_CLI_NPM]))
}

/// The app's version, from `tauri.conf.json` (the bundles are named after it).
pub fn app_version(root: &Path) -> Result<String> {
    let config = std::fs::read_to_string(root.join("tauri.conf.json"))?;
    let version = crate::json_string_after(&config, "\"version\"")
        .context("tauri.conf.json has no version")?;
    ensure!(
        version.split('.').count() == 3 && version.split('.').all(|n| n.parse::<u32>().is_ok()),
        "tauri.conf.json's version {version:?} is not x.y.z (the installer needs numbers)"
    );
    Ok(version)
}

fn build_deb(version: &str, path: &Path) -> Result<Built> {
    step("building the release app and the Debian package (tauri build --bundles deb)");
    let started = Instant::now();
    // The UI is already built: skip tauri's beforeBuildCommand, which would rewrite ui/dist and
    // force the Windows build below to relink for nothing.
    run_checked(
        crate::without_package_env(&mut Command::new("tauri"))
            .args(["build", "--ci", "--bundles", "deb"])
            .args(["--config", r#"{"build":{"beforeBuildCommand":null}}"#])
            // The root manifest is also the workspace, whose default members exclude the app.
            .args(["--", "--locked", "-p", "roost-desktop"]),
    )?;
    let name = format!("Roost_{version}_amd64.deb");
    let built = target_dir().join("release/bundle/deb").join(&name);
    std::fs::copy(&built, path)
        .with_context(|| format!("tauri did not build {}", built.display()))?;
    Ok(Built {
        path: path.to_path_buf(),
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// The release executable cross-compiled for Windows, and the NSIS installer around it.
fn build_windows_installer(version: &str, setup: &Path) -> Result<(Built, Built)> {
    step(&format!(
        "cross-compiling the release app for Windows ({WINDOWS_TARGET})"
    ));
    let started = Instant::now();
    run_checked(cargo().args(desktop_app_args("build")).args([
        "--release",
        "--target",
        WINDOWS_TARGET,
    ]))?;
    let release_dir = target_dir().join(WINDOWS_TARGET).join("release");
    // tauri-build copies webview2-com-sys's loader next to a GNU build: the exe loads it.
    let loader = release_dir.join("WebView2Loader.dll");
    ensure!(loader.is_file(), "{} is missing", loader.display());
    // The GNU toolchain leaves the symbol table in (a third of the file); the installer ships
    // a stripped copy.
    let staging = target_dir().join("windows-installer");
    std::fs::create_dir_all(&staging)?;
    let exe = Built {
        path: staging.join("roost-desktop.exe"),
        seconds: started.elapsed().as_secs_f64(),
    };
    run_checked(
        Command::new("x86_64-w64-mingw32-strip")
            .arg("-o")
            .arg(&exe.path)
            .arg(release_dir.join("roost-desktop.exe")),
    )?;

    step("building the Windows installer (makensis src-tauri/windows/installer.nsi)");
    let started = Instant::now();
    let root = crate::repository_root();
    run_checked(
        Command::new("makensis")
            .arg("-V2")
            .arg(format!("-DVERSION={version}"))
            .arg(define("APP_EXE", &exe.path))
            .arg(define("WEBVIEW2_LOADER", &loader))
            .arg(define("ICON", &root.join("src-tauri/icons/icon.ico")))
            .arg(define("OUTFILE", setup))
            .arg(root.join("src-tauri/windows/installer.nsi")),
    )?;
    let setup = Built {
        path: setup.to_path_buf(),
        seconds: started.elapsed().as_secs_f64(),
    };
    Ok((exe, setup))
}

fn define(name: &str, path: &Path) -> String {
    format!("-D{name}={}", path.display())
}
