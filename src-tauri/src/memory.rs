//! What the desktop app does, before anything else runs, to keep WebKit's memory small (issue
//! 13; the figures behind each setting are in `docs/benchmarks.md`, "App memory").
//!
//! WebKitGTK decides once, when it creates its first view, whether views use accelerated
//! (GPU) compositing, and reads that choice from the environment. So the choice is made in
//! `main`, before the first thread and long before the first WebView, and never switched at run
//! time: switching a WebView's hardware-acceleration policy after it existed hung the
//! account-switch E2E after a sign-out. WebKit's child processes inherit the environment (Roost
//! starts no other programs).
//!
//! A user who wants WebKit's GPU compositing back starts Roost with
//! `WEBKIT_DISABLE_COMPOSITING_MODE=0`; any value they set is left alone, and then Roost sets
//! nothing else either.

/// WebKitGTK's switch: set to anything but `0`, views never enter accelerated compositing.
pub const WEBKIT_DISABLE_COMPOSITING_MODE: &str = "WEBKIT_DISABLE_COMPOSITING_MODE";
/// WebKitGTK's switch: set, the UI process shows frames through shared memory instead of
/// importing DMA-BUFs through EGL.
pub const WEBKIT_DISABLE_DMABUF_RENDERER: &str = "WEBKIT_DISABLE_DMABUF_RENDERER";

/// The environment variables Roost sets, given how the user's environment reads (`present`
/// says whether a variable is set at all). Linux only: the variables are WebKitGTK's.
///
/// Compositing off: the web process then holds ~120 MB less (GL tiles and, under software GL,
/// Mesa's shader compiler) for a chat window with no animation, video or 3D. DMA-BUF renderer
/// off: without compositing it only costs the UI process an EGL display (~5 MB). Both only
/// when the user has not made the compositing choice themselves.
pub fn webkit_defaults(present: impl Fn(&str) -> bool) -> Vec<(&'static str, &'static str)> {
    if !cfg!(target_os = "linux") || present(WEBKIT_DISABLE_COMPOSITING_MODE) {
        return Vec::new();
    }
    let mut set = vec![(WEBKIT_DISABLE_COMPOSITING_MODE, "1")];
    if !present(WEBKIT_DISABLE_DMABUF_RENDERER) {
        set.push((WEBKIT_DISABLE_DMABUF_RENDERER, "1"));
    }
    set
}

/// Applies [`webkit_defaults`] to this process's environment.
///
/// Call it first in `main`, before anything starts a thread: it changes the environment.
pub fn before_any_thread() {
    for (name, value) in webkit_defaults(|name| std::env::var_os(name).is_some()) {
        set_env_before_threads(name, value);
    }
}

/// `std::env::set_var` is unsafe because another thread may read the environment at the same
/// time (glibc's `getenv` is not synchronised with `setenv`).
#[allow(unsafe_code)]
fn set_env_before_threads(name: &str, value: &str) {
    // SAFETY: called only from `before_any_thread`, whose contract is that it runs first in
    // `main`, while the main thread is the process's only thread: nothing can read the
    // environment concurrently.
    unsafe { std::env::set_var(name, value) };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(target_os = "linux")]
    fn compositing_is_off_unless_the_user_chose_and_their_choice_is_left_alone() {
        assert_eq!(
            webkit_defaults(|_| false),
            vec![
                (WEBKIT_DISABLE_COMPOSITING_MODE, "1"),
                (WEBKIT_DISABLE_DMABUF_RENDERER, "1")
            ]
        );
        // `WEBKIT_DISABLE_COMPOSITING_MODE=0` (or any value): the user's choice, nothing set.
        assert_eq!(
            webkit_defaults(|name| name == WEBKIT_DISABLE_COMPOSITING_MODE),
            vec![]
        );
        // Their own DMA-BUF choice stays too.
        assert_eq!(
            webkit_defaults(|name| name == WEBKIT_DISABLE_DMABUF_RENDERER),
            vec![(WEBKIT_DISABLE_COMPOSITING_MODE, "1")]
        );
    }

    #[test]
    #[cfg(not(target_os = "linux"))]
    fn nothing_is_set_where_webkitgtk_is_not_the_webview() {
        assert_eq!(webkit_defaults(|_| false), vec![]);
    }
}
