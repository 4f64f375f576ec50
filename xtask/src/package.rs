//! The Windows side of the build and the release packages: the Windows check that `./dev test`
//! runs (the desktop app type-checked for `x86_64-pc-windows-gnu`, so Linux-only code fails the
//! suite), and `./dev package`, which builds the Debian package and, cross-compiled with
//! mingw-w64, the Windows executable and its NSIS installer, then checks both packages.
//!
//! The installer is compiled by Debian's `makensis` from `src-tauri/windows/installer.nsi`
//! rather than by Tauri's bundler, which downloads an NSIS plugin from GitHub when it runs on
//! Linux (see that file). macOS packages need Apple's SDK and are built on a Mac (README).

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
const PE_MACHINE_X86_64: u16 = 0x8664;

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

/// `./dev package`: the release `.deb` and the Windows installer in `artifacts/packages/`,
/// each checked (the `.deb` with `dpkg-deb`; the app's and the installer's PE headers say
/// x86-64; the app imports no GNU runtime DLL; with Wine, a silent install and uninstall), with
/// sizes and build times printed.
pub fn package(_args: &[String]) -> Result<()> {
    ensure_desktop_tools()?;
    ensure_windows_toolchain()?;
    ensure_on_path(
        "makensis",
        "the Debian package nsis (./dev package installs it)",
    )?;
    ensure_tauri_cli()?;
    let version = app_version()?;
    let out_dir = crate::repository_root().join(PACKAGES_DIR);
    std::fs::create_dir_all(&out_dir)?;

    build_ui()?;
    let deb = build_deb(&version, &out_dir)?;
    let (exe, setup) = build_windows_installer(&version, &out_dir)?;

    step("checking the packages");
    check_deb(&deb.path, &version)?;
    for path in [&exe.path, &setup.path] {
        let machine = pe_machine(&std::fs::read(path)?)
            .with_context(|| format!("{} is not a Windows executable", path.display()))?;
        ensure!(
            machine == PE_MACHINE_X86_64,
            "{} is built for PE machine {machine:#06x}, not x86-64",
            path.display()
        );
    }
    check_windows_imports(&exe.path)?;
    install_under_wine(&setup.path)?;
    println!();
    println!("{:<60} {:>10} {:>10}", "package", "size (MB)", "build (s)");
    for built in [&deb, &exe, &setup] {
        let size = std::fs::metadata(&built.path)?.len() as f64 / 1e6;
        println!(
            "{:<60} {:>10.1} {:>10.0}",
            built.path.display(),
            size,
            built.seconds
        );
    }
    println!(
        "(the installer's time is makensis alone; the executable's is the release cross-build)"
    );
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
fn app_version() -> Result<String> {
    let config = std::fs::read_to_string("tauri.conf.json")?;
    let version = crate::json_string_after(&config, "\"version\"")
        .context("tauri.conf.json has no version")?;
    ensure!(
        version.split('.').count() == 3 && version.split('.').all(|n| n.parse::<u32>().is_ok()),
        "tauri.conf.json's version {version:?} is not x.y.z (the installer needs numbers)"
    );
    Ok(version)
}

fn build_deb(version: &str, out_dir: &Path) -> Result<Built> {
    step("building the release app and the Debian package (tauri build --bundles deb)");
    let started = Instant::now();
    // The UI is already built: skip tauri's beforeBuildCommand, which would rewrite ui/dist and
    // force the Windows build below to relink for nothing.
    run_checked(
        Command::new("tauri")
            .args(["build", "--ci", "--bundles", "deb"])
            .args(["--config", r#"{"build":{"beforeBuildCommand":null}}"#])
            // The root manifest is also the workspace, whose default members exclude the app.
            .args(["--", "--locked", "-p", "roost-desktop"]),
    )?;
    let name = format!("Roost_{version}_amd64.deb");
    let built = target_dir().join("release/bundle/deb").join(&name);
    let path = out_dir.join(&name);
    std::fs::copy(&built, &path)
        .with_context(|| format!("tauri did not build {}", built.display()))?;
    Ok(Built {
        path,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// The release executable cross-compiled for Windows, and the NSIS installer around it.
fn build_windows_installer(version: &str, out_dir: &Path) -> Result<(Built, Built)> {
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
    let setup = out_dir.join(format!("Roost_{version}_x64-setup.exe"));
    let root = crate::repository_root();
    run_checked(
        Command::new("makensis")
            .arg("-V2")
            .arg(format!("-DVERSION={version}"))
            .arg(define("APP_EXE", &exe.path))
            .arg(define("WEBVIEW2_LOADER", &loader))
            .arg(define("ICON", &root.join("src-tauri/icons/icon.ico")))
            .arg(define("OUTFILE", &setup))
            .arg(root.join("src-tauri/windows/installer.nsi")),
    )?;
    let setup = Built {
        path: setup,
        seconds: started.elapsed().as_secs_f64(),
    };
    Ok((exe, setup))
}

fn define(name: &str, path: &Path) -> String {
    format!("-D{name}={}", path.display())
}

/// `dpkg-deb --info` must name the package, this version and amd64, and the package must hold
/// the app's binary.
fn check_deb(deb: &Path, version: &str) -> Result<()> {
    let info = Command::new("dpkg-deb").arg("--info").arg(deb).output()?;
    ensure!(
        info.status.success(),
        "dpkg-deb --info {} failed",
        deb.display()
    );
    let info = String::from_utf8_lossy(&info.stdout);
    for (field, expected) in [
        ("Package", "roost"),
        ("Version", version),
        ("Architecture", "amd64"),
    ] {
        let value = deb_field(&info, field);
        ensure!(
            value == Some(expected),
            "{}: {field} is {value:?}, expected {expected:?}",
            deb.display()
        );
    }
    let contents = Command::new("dpkg-deb")
        .arg("--contents")
        .arg(deb)
        .output()?;
    ensure!(
        String::from_utf8_lossy(&contents.stdout).contains("./usr/bin/roost-desktop"),
        "{} does not contain usr/bin/roost-desktop",
        deb.display()
    );
    Ok(())
}

/// The DLLs a Windows executable imports, from mingw-w64's `objdump -p`.
fn windows_imports(exe: &Path) -> Result<Vec<String>> {
    let dump = Command::new("x86_64-w64-mingw32-objdump")
        .arg("-p")
        .arg(exe)
        .output()
        .context("x86_64-w64-mingw32-objdump (binutils-mingw-w64-x86-64) is needed")?;
    ensure!(dump.status.success(), "objdump -p {} failed", exe.display());
    Ok(dll_names(&String::from_utf8_lossy(&dump.stdout)))
}

fn dll_names(objdump: &str) -> Vec<String> {
    objdump
        .lines()
        .filter_map(|line| line.trim().strip_prefix("DLL Name: "))
        .map(|name| name.trim().to_string())
        .collect()
}

/// The app must start on a Windows without mingw-w64: it may import Windows' own DLLs and the
/// WebView2Loader.dll the installer ships, never a GNU runtime DLL (`libgcc_s_seh-1.dll`,
/// `libwinpthread-1.dll`, `libstdc++-6.dll`: Windows' own DLLs are never named `lib…`).
fn check_windows_imports(exe: &Path) -> Result<()> {
    let imports = windows_imports(exe)?;
    ensure!(
        imports
            .iter()
            .any(|dll| dll.eq_ignore_ascii_case("WebView2Loader.dll")),
        "{} does not import WebView2Loader.dll: the installer ships the wrong files",
        exe.display()
    );
    let gnu_runtime: Vec<_> = imports
        .iter()
        .filter(|dll| dll.to_ascii_lowercase().starts_with("lib"))
        .collect();
    ensure!(
        gnu_runtime.is_empty(),
        "{} needs DLLs Windows does not have: {gnu_runtime:?}",
        exe.display()
    );
    Ok(())
}

/// When Wine is installed: runs the installer silently in a throwaway Wine prefix, checks what it
/// installed (files, Start-menu shortcut, uninstall entry), then runs the uninstaller and checks
/// that they are gone. Wine has no WebView2, so the app itself is not started.
fn install_under_wine(setup: &Path) -> Result<()> {
    let Some(wine) = ["/usr/lib/wine/wine64", "/usr/bin/wine64"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
    else {
        step("Wine is not installed: the installer is not test-installed (apt-get install wine64)");
        return Ok(());
    };
    step("test-installing the Windows installer under Wine (silent install, then uninstall)");
    let prefix = target_dir().join("wine-install-check");
    let _ = std::fs::remove_dir_all(&prefix);
    let wine_command = |program: &Path| {
        let mut command = Command::new(&wine);
        command
            .arg(program)
            .env("WINEPREFIX", &prefix)
            .env("WINEDEBUG", "-all")
            // No Mono or Gecko prompts: the installer needs neither.
            .env("WINEDLLOVERRIDES", "mscoree,mshtml=");
        command
    };
    run_checked(wine_command(setup).arg("/S"))?;
    let user_dir = std::fs::read_dir(prefix.join("drive_c/users"))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| !p.ends_with("Public"))
        .context("Wine created no user profile")?;
    let install_dir = user_dir.join("AppData/Local/Programs/Roost");
    let shortcut = user_dir.join("AppData/Roaming/Microsoft/Windows/Start Menu/Programs/Roost.lnk");
    let installed = [
        install_dir.join("roost-desktop.exe"),
        install_dir.join("WebView2Loader.dll"),
        install_dir.join("uninstall.exe"),
        shortcut.clone(),
    ];
    for path in &installed {
        ensure!(
            path.is_file(),
            "the installer did not install {}",
            path.display()
        );
    }
    // The NSIS uninstaller copies itself to %TEMP% and returns at once: wait for Wine to finish.
    run_checked(wine_command(&install_dir.join("uninstall.exe")).arg("/S"))?;
    run_checked(
        Command::new(wine.with_file_name("wineserver"))
            .arg("--wait")
            .env("WINEPREFIX", &prefix),
    )?;
    for path in &installed {
        ensure!(!path.exists(), "the uninstaller left {}", path.display());
    }
    let _ = std::fs::remove_dir_all(&prefix);
    step("the installer installed the app and its shortcut, and the uninstaller removed them");
    Ok(())
}

/// The value of a control field in `dpkg-deb --info` output (indented `Field: value` lines).
fn deb_field<'a>(info: &'a str, field: &str) -> Option<&'a str> {
    info.lines()
        .filter_map(|line| line.trim_start().split_once(": "))
        .find(|(name, _)| *name == field)
        .map(|(_, value)| value.trim())
}

/// The machine field of a PE image's COFF header: `MZ` at 0, the PE header's offset at 0x3c,
/// `PE\0\0` there, then the 16-bit machine (0x8664 for x86-64, 0x14c for i386).
fn pe_machine(image: &[u8]) -> Result<u16> {
    if image.get(..2) != Some(b"MZ") {
        bail!("no MZ signature");
    }
    let offset_bytes: [u8; 4] = image
        .get(0x3c..0x40)
        .context("truncated DOS header")?
        .try_into()?;
    let pe = u32::from_le_bytes(offset_bytes) as usize;
    if image.get(pe..pe + 4) != Some(b"PE\0\0") {
        bail!("no PE signature at {pe:#x}");
    }
    let machine: [u8; 2] = image
        .get(pe + 4..pe + 6)
        .context("truncated COFF header")?
        .try_into()?;
    Ok(u16::from_le_bytes(machine))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal PE image: DOS header pointing at 0x80, the PE signature and a machine field.
    fn image(machine: u16) -> Vec<u8> {
        let mut image = vec![0u8; 0x100];
        image[..2].copy_from_slice(b"MZ");
        image[0x3c..0x40].copy_from_slice(&0x80u32.to_le_bytes());
        image[0x80..0x84].copy_from_slice(b"PE\0\0");
        image[0x84..0x86].copy_from_slice(&machine.to_le_bytes());
        image
    }

    #[test]
    fn pe_machine_reads_the_coff_header() {
        assert_eq!(pe_machine(&image(0x8664)).unwrap(), PE_MACHINE_X86_64);
        assert_eq!(pe_machine(&image(0x14c)).unwrap(), 0x14c);
    }

    #[test]
    fn pe_machine_rejects_what_is_not_a_pe_image() {
        let elf = b"\x7fELF\x02\x01\x01\0".repeat(16);
        assert!(pe_machine(&elf).is_err());
        let mut no_pe = image(0x8664);
        no_pe[0x80..0x84].copy_from_slice(b"NE\0\0");
        assert!(pe_machine(&no_pe).is_err());
        let mut beyond = image(0x8664);
        beyond[0x3c..0x40].copy_from_slice(&0xfff0u32.to_le_bytes());
        assert!(pe_machine(&beyond).is_err());
        assert!(pe_machine(b"MZ").is_err());
    }

    #[test]
    fn dll_names_reads_objdump_import_tables() {
        let dump = "\tDLL Name: KERNEL32.dll\n\tvma:  Hint/Ord Member-Name Bound-To\n\
                    \tDLL Name: WebView2Loader.dll\n\tDLL Name: libgcc_s_seh-1.dll\n";
        assert_eq!(
            dll_names(dump),
            ["KERNEL32.dll", "WebView2Loader.dll", "libgcc_s_seh-1.dll"]
        );
    }

    #[test]
    fn deb_field_reads_the_control_fields_of_dpkg_deb_info() {
        let info = " new Debian package, version 2.0.\n size 4242 bytes: control archive=812 bytes.\n \
                    Package: roost\n Version: 0.1.0\n Architecture: amd64\n Depends: libwebkit2gtk-4.1-0, libgtk-3-0\n";
        assert_eq!(deb_field(info, "Package"), Some("roost"));
        assert_eq!(deb_field(info, "Version"), Some("0.1.0"));
        assert_eq!(deb_field(info, "Architecture"), Some("amd64"));
        assert_eq!(deb_field(info, "Maintainer"), None);
    }
}
