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
//! order changes no binding, only how long finding each one takes. The executable lists it among
//! its own libraries (`src-tauri/build.rs`, when WebKitGTK links it on the build machine), so it
//! sits at position 17 of the app's scope; the web and network processes, which WebKit starts
//! from its own executables, get it first through `LD_PRELOAD` ([`preload_for_children`]), set
//! before the first thread. A build without it (another platform, or a WebKitGTK without Flite)
//! changes nothing.

/// The loader's variable: libraries placed right after the executable in every child's scope.
pub const LD_PRELOAD: &str = "LD_PRELOAD";

/// The library `src-tauri/build.rs` linked the executables with (its soname), when it did:
/// this process loaded it, so every child can find it by that name.
pub const LINKED_LOOKUP_HEAVY_LIBRARY: Option<&str> = option_env!("ROOST_LOOKUP_HEAVY_LIBRARY");

/// What WebKit's child processes should preload: the library the executable was linked with
/// (`linked`), unless the user set `LD_PRELOAD` themselves (`user_set`: theirs is left alone).
pub fn preload_for_children(linked: Option<&str>, user_set: bool) -> Option<String> {
    linked
        .filter(|name| !user_set && !name.is_empty())
        .map(str::to_string)
}

/// [`preload_for_children`] of this build and this process's environment.
pub fn children_preload() -> Option<String> {
    preload_for_children(
        LINKED_LOOKUP_HEAVY_LIBRARY,
        std::env::var_os(LD_PRELOAD).is_some(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn children_preload_the_library_the_executable_was_linked_with() {
        assert_eq!(
            preload_for_children(Some("libflite_cmu_time_awb.so.1"), false).as_deref(),
            Some("libflite_cmu_time_awb.so.1")
        );
    }

    #[test]
    fn nothing_is_preloaded_without_the_link_or_over_the_users_own_preload() {
        assert_eq!(preload_for_children(None, false), None);
        assert_eq!(preload_for_children(Some(""), false), None);
        assert_eq!(
            preload_for_children(Some("libflite_cmu_time_awb.so.1"), true),
            None
        );
    }
}
