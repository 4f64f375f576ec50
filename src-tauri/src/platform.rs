//! Where the desktop app keeps its files on each platform: the data dir (the message cache), the
//! config dir (settings, remembered window geometry), the log dir, and the cache file's path.
//!
//! The choice is a pure function of the platform, the user's home and the environment, so each
//! platform's rule is unit-tested on any machine. The rules follow each platform's conventions
//! (and agree with Tauri's own path resolver, which the plugins use, except where noted):
//!
//! | dir    | Linux (XDG)                               | Windows                                | macOS                                  |
//! |--------|-------------------------------------------|----------------------------------------|----------------------------------------|
//! | data   | `$XDG_DATA_HOME/<id>` (`~/.local/share`)  | `%LOCALAPPDATA%\<id>`                  | `~/Library/Application Support/<id>`   |
//! | config | `$XDG_CONFIG_HOME/<id>` (`~/.config`)     | `%APPDATA%\<id>`                       | `~/Library/Application Support/<id>`   |
//! | logs   | `<data>/logs`                             | `%LOCALAPPDATA%\<id>\logs`             | `~/Library/Logs/<id>`                  |
//!
//! On Windows the cache goes to the *local* app data folder, not the roaming one Tauri's
//! `app_data_dir` names: a roaming profile is copied to and from a server at every sign-in and
//! sign-out, and a message cache is large and belongs to the machine. The small settings file
//! roams with the user.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// A desktop platform Roost is built for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Platform {
    /// Linux and the other XDG desktops.
    Linux,
    Windows,
    MacOs,
}

impl Platform {
    /// The platform this binary was compiled for.
    pub const fn current() -> Platform {
        if cfg!(windows) {
            Platform::Windows
        } else if cfg!(target_os = "macos") {
            Platform::MacOs
        } else {
            Platform::Linux
        }
    }
}

/// The app's directories on one machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppPaths {
    /// The message cache's directory.
    pub data_dir: PathBuf,
    /// Settings and the remembered window geometry.
    pub config_dir: PathBuf,
    /// Rotated log files.
    pub log_dir: PathBuf,
}

#[derive(Debug, thiserror::Error)]
#[error("cannot tell where Roost's files go on {platform:?}: no home directory and no {variable}")]
pub struct NoHomeDir {
    platform: Platform,
    variable: &'static str,
}

impl AppPaths {
    /// The paths for the app with this bundle identifier, on this machine, for this user.
    pub fn for_this_machine(identifier: &str) -> Result<AppPaths, NoHomeDir> {
        // `home_dir` reads HOME, or USERPROFILE and then the profile API on Windows.
        let home = std::env::home_dir();
        AppPaths::resolve(Platform::current(), identifier, home.as_deref(), |name| {
            std::env::var_os(name)
        })
    }

    /// The paths on `platform` for a user whose home is `home` and whose environment `env` reads.
    pub fn resolve(
        platform: Platform,
        identifier: &str,
        home: Option<&Path>,
        env: impl Fn(&str) -> Option<OsString>,
    ) -> Result<AppPaths, NoHomeDir> {
        let under_home = |variable: &'static str, relative: &str| {
            home.map(|h| h.join(relative))
                .ok_or(NoHomeDir { platform, variable })
        };
        match platform {
            Platform::Linux => {
                let data = match xdg_dir(&env, "XDG_DATA_HOME") {
                    Some(dir) => dir,
                    None => under_home("XDG_DATA_HOME", ".local/share")?,
                };
                let config = match xdg_dir(&env, "XDG_CONFIG_HOME") {
                    Some(dir) => dir,
                    None => under_home("XDG_CONFIG_HOME", ".config")?,
                };
                let data_dir = data.join(identifier);
                Ok(AppPaths {
                    log_dir: data_dir.join("logs"),
                    data_dir,
                    config_dir: config.join(identifier),
                })
            }
            Platform::Windows => {
                let local = match windows_dir(&env, "LOCALAPPDATA") {
                    Some(dir) => dir,
                    None => under_home("LOCALAPPDATA", r"AppData\Local")?,
                };
                let roaming = match windows_dir(&env, "APPDATA") {
                    Some(dir) => dir,
                    None => under_home("APPDATA", r"AppData\Roaming")?,
                };
                let data_dir = local.join(identifier);
                Ok(AppPaths {
                    log_dir: data_dir.join("logs"),
                    data_dir,
                    config_dir: roaming.join(identifier),
                })
            }
            Platform::MacOs => {
                let support = under_home("HOME", "Library/Application Support")?.join(identifier);
                Ok(AppPaths {
                    data_dir: support.clone(),
                    config_dir: support,
                    log_dir: under_home("HOME", "Library/Logs")?.join(identifier),
                })
            }
        }
    }

    /// The single message cache of versions before per-account caches (today each account
    /// has its own file under `accounts/`, see `roost_core::account`).
    pub fn cache_file(&self) -> PathBuf {
        self.data_dir.join(crate::session::CACHE_FILE_NAME)
    }
}

/// An XDG base directory variable, when set to an absolute path: the XDG Base Directory
/// specification says a relative one is invalid and must be ignored.
fn xdg_dir(env: &impl Fn(&str) -> Option<OsString>, name: &str) -> Option<PathBuf> {
    env(name).map(PathBuf::from).filter(|dir| dir.is_absolute())
}

/// A Windows known-folder variable (`LOCALAPPDATA`, `APPDATA`), when set. Not checked with
/// `is_absolute`: these tests run on Linux too, where `C:\…` is not an absolute path.
fn windows_dir(env: &impl Fn(&str) -> Option<OsString>, name: &str) -> Option<PathBuf> {
    env(name)
        .filter(|value| !value.is_empty())
        .map(PathBuf::from)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    const ID: &str = "dev.roost.desktop";

    fn resolve(
        platform: Platform,
        home: Option<&str>,
        vars: &[(&str, &str)],
    ) -> Result<AppPaths, NoHomeDir> {
        let vars: HashMap<String, OsString> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), OsString::from(v)))
            .collect();
        AppPaths::resolve(platform, ID, home.map(Path::new), |name| {
            vars.get(name).cloned()
        })
    }

    #[test]
    fn linux_follows_the_xdg_variables() {
        let paths = resolve(
            Platform::Linux,
            Some("/home/ada"),
            &[("XDG_DATA_HOME", "/tmp/d"), ("XDG_CONFIG_HOME", "/tmp/c")],
        )
        .unwrap();
        assert_eq!(paths.data_dir, Path::new("/tmp/d/dev.roost.desktop"));
        assert_eq!(paths.config_dir, Path::new("/tmp/c/dev.roost.desktop"));
        assert_eq!(paths.log_dir, Path::new("/tmp/d/dev.roost.desktop/logs"));
        assert_eq!(
            paths.cache_file(),
            Path::new("/tmp/d/dev.roost.desktop/message_cache.db")
        );
    }

    #[test]
    fn linux_defaults_under_home_and_ignores_relative_xdg_values() {
        for vars in [
            &[][..],
            &[("XDG_DATA_HOME", "rel/d"), ("XDG_CONFIG_HOME", "")][..],
        ] {
            let paths = resolve(Platform::Linux, Some("/home/ada"), vars).unwrap();
            assert_eq!(
                paths.data_dir,
                Path::new("/home/ada/.local/share/dev.roost.desktop")
            );
            assert_eq!(
                paths.config_dir,
                Path::new("/home/ada/.config/dev.roost.desktop")
            );
            assert_eq!(
                paths.log_dir,
                Path::new("/home/ada/.local/share/dev.roost.desktop/logs")
            );
        }
    }

    #[test]
    fn linux_needs_no_home_when_both_xdg_variables_are_set() {
        let vars = [("XDG_DATA_HOME", "/d"), ("XDG_CONFIG_HOME", "/c")];
        assert!(resolve(Platform::Linux, None, &vars).is_ok());
        assert!(resolve(Platform::Linux, None, &vars[..1]).is_err());
    }

    #[test]
    fn windows_keeps_the_cache_and_logs_local_and_the_settings_roaming() {
        let local = r"C:\Users\ada\AppData\Local";
        let roaming = r"C:\Users\ada\AppData\Roaming";
        let paths = resolve(
            Platform::Windows,
            Some(r"C:\Users\ada"),
            &[
                ("LOCALAPPDATA", local),
                ("APPDATA", roaming),
                // Set by Git Bash or WSL interop; must not matter on Windows.
                ("XDG_DATA_HOME", "/tmp/d"),
            ],
        )
        .unwrap();
        assert_eq!(paths.data_dir, Path::new(local).join(ID));
        assert_eq!(paths.config_dir, Path::new(roaming).join(ID));
        assert_eq!(paths.log_dir, Path::new(local).join(ID).join("logs"));
        assert_eq!(
            paths.cache_file(),
            Path::new(local).join(ID).join("message_cache.db")
        );
    }

    #[test]
    fn windows_falls_back_to_the_profile_folders() {
        let home = r"C:\Users\ada";
        let paths = resolve(Platform::Windows, Some(home), &[("LOCALAPPDATA", "")]).unwrap();
        assert_eq!(
            paths.data_dir,
            Path::new(home).join(r"AppData\Local").join(ID)
        );
        assert_eq!(
            paths.config_dir,
            Path::new(home).join(r"AppData\Roaming").join(ID)
        );
        let roaming_only = [("APPDATA", r"C:\Users\ada\AppData\Roaming")];
        assert!(resolve(Platform::Windows, None, &roaming_only).is_err());
    }

    #[test]
    fn macos_uses_application_support_and_library_logs() {
        let paths = resolve(
            Platform::MacOs,
            Some("/Users/ada"),
            &[("XDG_DATA_HOME", "/tmp/d")],
        )
        .unwrap();
        let support = Path::new("/Users/ada/Library/Application Support/dev.roost.desktop");
        assert_eq!(paths.data_dir, support);
        assert_eq!(paths.config_dir, support);
        assert_eq!(
            paths.log_dir,
            Path::new("/Users/ada/Library/Logs/dev.roost.desktop")
        );
        assert_eq!(paths.cache_file(), support.join("message_cache.db"));
        assert!(resolve(Platform::MacOs, None, &[]).is_err());
    }
}
