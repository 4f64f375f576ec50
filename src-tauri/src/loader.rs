//! Where the dynamic loader spends start-up, and the one thing the app changes about it (issue
//! 11's cold start; Linux only).
//!
//! Every process of a Tauri window on Linux — the app, WebKit's web process and its network
//! process — loads the same ~170 shared libraries (WebKitGTK's dependencies) and, before its
//! `main`, binds every library's symbol references. Each lookup walks the loader's global scope
//! (the executable, then its libraries breadth first) until one defines the name. WebKitGTK's
//! speech synthesis links Flite, and one Flite voice, `libflite_cmu_time_awb.so.1`, refers to its
//! own 31,000 exported symbols through that scope from position 80 of 169: measured with
//! `LD_DEBUG=bindings` and `LD_DEBUG=scopes` on the blank window, 62% of all the scope steps of
//! start-up's lookups (2.5 of 4.1 million). Placed first, its lookups end at once: the blank
//! window's run up to GTK's start (no display) took 58–61 ms instead of 75–92 ms
//! (`perf stat -r 40`, 2026-12-01).
//!
//! Nothing else defines any of its symbols (checked against every library in the scope), so the
//! order changes no binding, only how long finding each one takes. The executable lists it first
//! among its own libraries (`src-tauri/build.rs`, when WebKitGTK links it on the build machine);
//! the web and network processes, which WebKit starts from its own executables, get the same
//! order through `LD_PRELOAD` ([`preload_for_children`]), set before the first thread.

/// The loader's variable: libraries placed right after the executable in every child's scope.
pub const LD_PRELOAD: &str = "LD_PRELOAD";

/// The libraries whose own lookups dominate the loader's time, by name without `.so` and its
/// version (the mapped file is the versioned one, `libflite_cmu_time_awb.so.2.2`; see the module
/// docs for the measurement). Also named in `src-tauri/build.rs`.
pub const LOOKUP_HEAVY_LIBRARIES: &[&str] = &["libflite_cmu_time_awb"];

/// What WebKit's child processes should preload: the paths of the [`LOOKUP_HEAVY_LIBRARIES`]
/// this process has mapped (`maps`: the text of `/proc/self/maps`), `:`-separated; none when it
/// has mapped none of them (a WebKitGTK built without Flite: preloading would load them for
/// nothing) or when the user set `LD_PRELOAD` themselves (`user_set`: theirs is left alone).
pub fn preload_for_children(maps: &str, user_set: bool) -> Option<String> {
    if user_set {
        return None;
    }
    let mut paths: Vec<&str> = Vec::new();
    for line in maps.lines() {
        // `address perms offset dev inode path`: the path is the sixth field, when there is one.
        let Some(path) = line.split_whitespace().nth(5) else {
            continue;
        };
        let file_name = path.rsplit('/').next().unwrap_or(path);
        let heavy = LOOKUP_HEAVY_LIBRARIES.iter().any(|name| {
            file_name
                .strip_prefix(name)
                .is_some_and(|rest| rest.starts_with(".so"))
        });
        if path.starts_with('/') && heavy && !paths.contains(&path) {
            paths.push(path);
        }
    }
    (!paths.is_empty()).then(|| paths.join(":"))
}

/// [`preload_for_children`] of this process (Linux; elsewhere none).
pub fn children_preload() -> Option<String> {
    if !cfg!(target_os = "linux") {
        return None;
    }
    let maps = std::fs::read_to_string("/proc/self/maps").ok()?;
    preload_for_children(&maps, std::env::var_os(LD_PRELOAD).is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAPS: &str = "\
55d0a0000000-55d0a0100000 r--p 00000000 08:01 1234 /opt/roost/roost-desktop
7f2cad600000-7f2cad6c0000 r--p 00000000 08:01 5678 /usr/lib/x86_64-linux-gnu/libflite_cmu_time_awb.so.2.2
7f2cad6c0000-7f2cad6d0000 r-xp 000c0000 08:01 5678 /usr/lib/x86_64-linux-gnu/libflite_cmu_time_awb.so.2.2
7f2cae000000-7f2cae100000 r-xp 00000000 08:01 9012 /usr/lib/x86_64-linux-gnu/libflite.so.2.2
7f2cae100000-7f2cae200000 r-xp 00000000 08:01 9013 /usr/lib/x86_64-linux-gnu/libflite_cmu_time_awb_extra.so.1
7ffd1c000000-7ffd1c021000 rw-p 00000000 00:00 0 [stack]
7ffd1c100000-7ffd1c102000 rw-p 00000000 00:00 0
";

    #[test]
    fn children_preload_the_lookup_heavy_library_this_process_mapped_once() {
        assert_eq!(
            preload_for_children(MAPS, false).as_deref(),
            Some("/usr/lib/x86_64-linux-gnu/libflite_cmu_time_awb.so.2.2")
        );
    }

    #[test]
    fn nothing_is_preloaded_without_flite_or_over_the_users_own_preload() {
        let without_flite: String = MAPS
            .lines()
            .filter(|line| !line.contains("cmu_time_awb"))
            .map(|line| format!("{line}\n"))
            .collect();
        assert_eq!(preload_for_children(&without_flite, false), None);
        assert_eq!(preload_for_children(MAPS, true), None);
        assert_eq!(preload_for_children("", false), None);
    }
}
