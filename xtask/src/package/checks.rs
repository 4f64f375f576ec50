//! The checks `./dev package` runs on what it built, and `./dev package --check` (and the
//! `packaged_artifacts_*` test) on what an earlier run left in `artifacts/packages/`: the `.deb`'s
//! control fields and contents; each Windows executable's PE header and `file`'s verdict (both
//! must say x86-64); the app's DLL imports; and, with Wine, a silent install and uninstall.

use crate::{run_checked, step, target_dir};
use anyhow::{Context, Result, bail, ensure};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The COFF machine field of an x86-64 image.
pub const PE_MACHINE_X86_64: u16 = 0x8664;

/// A Windows executable must be x86-64 by two independent readings: its PE header's machine
/// field, and the `file` tool's verdict (`PE32+ executable … x86-64, for MS Windows`).
pub fn check_windows_x86_64(path: &Path) -> Result<()> {
    let image = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let machine = pe_machine(&image)
        .with_context(|| format!("{} is not a Windows executable", path.display()))?;
    ensure!(
        machine == PE_MACHINE_X86_64,
        "{} is built for PE machine {machine:#06x}, not x86-64 ({PE_MACHINE_X86_64:#06x})",
        path.display()
    );
    let verdict = file_verdict(path)?;
    ensure!(
        file_says_windows_x86_64(&verdict),
        "file says {} is {verdict:?}, not a PE32+ x86-64 Windows executable",
        path.display()
    );
    Ok(())
}

/// `file -b`'s one-line description of a file.
pub fn file_verdict(path: &Path) -> Result<String> {
    let output = Command::new("file")
        .arg("-b")
        .arg(path)
        .output()
        .context("the file tool is needed (Debian package file)")?;
    ensure!(output.status.success(), "file {} failed", path.display());
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_string())
}

fn file_says_windows_x86_64(verdict: &str) -> bool {
    verdict.starts_with("PE32+ executable")
        && verdict.contains(" x86-64")
        && verdict.contains("for MS Windows")
}

/// `file` must call it a Debian package, `dpkg-deb --info` must name the package, this version
/// and amd64, and the package must hold the app's binary.
pub fn check_deb(deb: &Path, version: &str) -> Result<()> {
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
    let verdict = file_verdict(deb)?;
    ensure!(
        verdict.starts_with("Debian binary package"),
        "file says {} is {verdict:?}, not a Debian package",
        deb.display()
    );
    let contents = Command::new("dpkg-deb")
        .arg("--contents")
        .arg(deb)
        .output()?;
    ensure!(
        contents.status.success(),
        "dpkg-deb --contents {} failed",
        deb.display()
    );
    let listing = String::from_utf8_lossy(&contents.stdout);
    ensure!(
        deb_paths(&listing).any(|path| path == "usr/bin/roost-desktop"),
        "{} does not contain usr/bin/roost-desktop",
        deb.display()
    );
    Ok(())
}

/// The paths in a `dpkg-deb --contents` listing (tar's verbose lines, path last), without the
/// `./` some builders put before them (the tauri CLI does not).
fn deb_paths(listing: &str) -> impl Iterator<Item = &str> {
    listing
        .lines()
        .filter_map(|line| line.split_whitespace().last())
        .map(|path| path.trim_start_matches("./"))
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
pub fn check_windows_imports(exe: &Path) -> Result<()> {
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
pub fn install_under_wine(setup: &Path) -> Result<()> {
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

    #[test]
    fn deb_paths_reads_dpkg_deb_contents_with_and_without_a_leading_dot() {
        let tauri = "drwxr-xr-x 0/0               0 2026-11-30 07:30 usr/bin\n\
                     -rwxr-xr-x 0/0        28719728 2026-11-30 07:30 usr/bin/roost-desktop\n";
        let dpkg = "-rwxr-xr-x root/root   28719728 2026-11-30 07:30 ./usr/bin/roost-desktop\n";
        for listing in [tauri, dpkg] {
            assert!(
                deb_paths(listing).any(|p| p == "usr/bin/roost-desktop"),
                "{listing}"
            );
        }
        assert!(
            !deb_paths("-rw-r--r-- 0/0 1 2026-11-30 07:30 usr/bin/roost-desktop.sh\n")
                .any(|p| p == "usr/bin/roost-desktop")
        );
    }

    #[test]
    fn file_verdicts_of_windows_executables() {
        let x64 =
            "PE32+ executable (GUI) x86-64 (stripped to external PDB), for MS Windows, 9 sections";
        assert!(file_says_windows_x86_64(x64));
        let dll = "PE32+ executable (DLL) (console) x86-64, for MS Windows, 9 sections";
        assert!(file_says_windows_x86_64(dll));
        let i386 = "PE32 executable (GUI) Intel 80386, for MS Windows, Nullsoft Installer self-extracting archive";
        assert!(!file_says_windows_x86_64(i386));
        let arm = "PE32+ executable (GUI) Aarch64, for MS Windows, 7 sections";
        assert!(!file_says_windows_x86_64(arm));
        assert!(!file_says_windows_x86_64(
            "ELF 64-bit LSB pie executable, x86-64"
        ));
    }

    /// The check refuses a 32-bit image and a Linux binary (what a wrong `Target` line in the
    /// installer script, or a missing `--target`, would produce).
    #[test]
    fn check_windows_x86_64_refuses_other_machines_and_formats() {
        let dir = std::env::temp_dir().join(format!("roost-pe-check-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let i386 = dir.join("i386.exe");
        std::fs::write(&i386, image(0x14c)).unwrap();
        let error = check_windows_x86_64(&i386).unwrap_err().to_string();
        assert!(error.contains("0x014c"), "{error}");
        let linux_binary = std::env::current_exe().unwrap();
        assert!(check_windows_x86_64(&linux_binary).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// The packages the last `./dev package` left (the current version's), read again: the
    /// installer's PE header and `file` must say x86-64, the `.deb` must be roost's amd64
    /// package. Skipped, saying so, when no package has been built in this checkout.
    #[test]
    fn packaged_artifacts_are_an_amd64_deb_and_an_x86_64_windows_installer() {
        let root = crate::repository_root();
        let version = super::super::app_version(&root).unwrap();
        let packages =
            super::super::PackagePaths::in_dir(&root.join(super::super::PACKAGES_DIR), &version);
        if !packages.deb.exists() && !packages.setup.exists() {
            eprintln!(
                "skipped: no packages of {version} in {} (./dev package builds them)",
                super::super::PACKAGES_DIR
            );
            return;
        }
        if packages.deb.exists() {
            check_deb(&packages.deb, &version).unwrap();
        }
        if packages.setup.exists() {
            check_windows_x86_64(&packages.setup).unwrap();
        }
    }
}
