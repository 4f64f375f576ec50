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
//! nothing else of the compositing choice either.
//!
//! On a machine with no GPU render node (no `/dev/dri/renderD*`: a VM, a container, a headless
//! box under Xvfb) the UI process also keeps Mesa out (issue 11's memory): GTK's X11 display
//! probes GLX when it opens and WebKit opens an EGL display to ask it for the GPU's render node,
//! and each loads Mesa's software driver with its LLVM (~50 MB resident) for nothing — without
//! a render node there is none to find, and with compositing off nothing in the UI process
//! draws with GL. `ROOST_GPU=on` or `off` overrides the check either way.
//!
//! With the render node given to it, WebKitGTK 2.50's pages no longer see the GTK dark theme as
//! `prefers-color-scheme: dark`; the page does not rely on that: the shell hands it the system
//! theme itself (`theme`).

/// Roost's switch for the software path: `auto` (the default: taken when [`has_render_node`]
/// finds none), `off` (taken, as if there were no GPU) or `on` (not taken: nothing of the
/// software path is set).
pub const ROOST_GPU: &str = "ROOST_GPU";
/// Where Linux lists the DRM devices; a GPU that can render has a `renderD*` node there.
pub const DRI_DIR: &str = "/dev/dri";
/// GTK 3's switch: `disable` keeps GDK from probing GLX (and so loading Mesa) when it opens the
/// X11 display; only `GtkGLArea`s, which Roost has none of, would need it.
pub const GDK_GL: &str = "GDK_GL";
/// WebKitGTK's switch: the GPU's render node. Set, the UI process takes it instead of opening
/// an EGL display to ask Mesa for it.
pub const WEBKIT_WEB_RENDER_DEVICE_FILE: &str = "WEBKIT_WEB_RENDER_DEVICE_FILE";
/// What the software path gives WebKit as its render node: a name no DRM node has (they are
/// `cardN` and `renderDN`). WebKit only opens it for DMA-BUF rendering, which Roost turns off;
/// were that turned back on, opening it fails and WebKit falls back to its surfaceless display.
pub const NO_RENDER_NODE: &str = "/dev/dri/none";

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

/// Whether the UI process takes the software path, from `ROOST_GPU` (`value`) and, for `auto`
/// or unset, whether the machine has a GPU render node. An unknown value is an error naming the
/// accepted ones: a knob that cannot be read must not be ignored silently.
pub fn software_path(value: Option<&str>, has_render_node: bool) -> Result<bool, String> {
    match value.map(str::trim) {
        None | Some("" | "auto") => Ok(!has_render_node),
        Some("off") => Ok(true),
        Some("on") => Ok(false),
        Some(other) => Err(format!(
            "{ROOST_GPU}={other:?} is not understood: use auto (the default), on or off"
        )),
    }
}

/// Whether the names of a DRI directory's entries (`/dev/dri`: `card0`, `renderD128`,
/// `by-path`…) include a render node, which Mesa renders with. A `card*` node alone is a
/// display controller (such as `simpledrm`), not a GPU WebKit could render with.
pub fn has_render_node<'a>(names: impl IntoIterator<Item = &'a str>) -> bool {
    names.into_iter().any(|name| name.starts_with("renderD"))
}

/// [`has_render_node`] of `/dev/dri` (none when it cannot be listed).
fn render_node_present() -> bool {
    std::fs::read_dir(DRI_DIR).is_ok_and(|entries| {
        let names: Vec<String> = entries
            .flatten()
            .map(|entry| entry.file_name().to_string_lossy().into_owned())
            .collect();
        has_render_node(names.iter().map(String::as_str))
    })
}

/// The software path's variables, each only if the user has not set it. Linux only.
pub fn software_path_defaults(present: impl Fn(&str) -> bool) -> Vec<(&'static str, &'static str)> {
    if !cfg!(target_os = "linux") {
        return Vec::new();
    }
    [
        (GDK_GL, "disable"),
        (WEBKIT_WEB_RENDER_DEVICE_FILE, NO_RENDER_NODE),
    ]
    .into_iter()
    .filter(|(name, _)| !present(name))
    .collect()
}

/// Applies [`webkit_defaults`], on the software path [`software_path_defaults`], and the child
/// processes' preload (`loader`) to this process's environment; an unreadable `ROOST_GPU` is
/// the error.
///
/// Call it first in `main`, before anything starts a thread: it changes the environment.
pub fn before_any_thread() -> Result<(), String> {
    let present = |name: &str| std::env::var_os(name).is_some();
    let mut set = webkit_defaults(present);
    let roost_gpu = std::env::var(ROOST_GPU).ok();
    if software_path(roost_gpu.as_deref(), render_node_present())? {
        set.extend(software_path_defaults(present));
    }
    for (name, value) in set {
        set_env_before_threads(name, value);
    }
    // WebKit's web and network processes find the loader's heaviest library first (`loader`:
    // the web process's start up to opening the display took 63–65 ms instead of 83 ms here).
    if let Some(preload) = crate::loader::children_preload() {
        set_env_before_threads(crate::loader::LD_PRELOAD, &preload);
    }
    Ok(())
}

/// Gives the heap's free pages back to the system (glibc's `malloc_trim`; elsewhere nothing):
/// start-up frees more than it keeps (the served page and the UI's 1.7 MB wasm, decompressed
/// from the binary; the cache's open), and glibc keeps freed memory at the top of its arenas.
pub fn trim_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        #[allow(unsafe_code)]
        unsafe extern "C" {
            fn malloc_trim(pad: usize) -> std::ffi::c_int;
        }
        // SAFETY: `malloc_trim` takes no pointers and may be called from any thread at any
        // time; it only returns free memory to the system.
        #[allow(unsafe_code)]
        unsafe {
            malloc_trim(0);
        }
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
    fn the_software_path_is_taken_without_a_render_node_unless_roost_gpu_says_otherwise() {
        assert_eq!(software_path(None, false), Ok(true));
        assert_eq!(software_path(None, true), Ok(false));
        assert_eq!(software_path(Some("auto"), false), Ok(true));
        assert_eq!(software_path(Some(" "), true), Ok(false));
        // The override wins over the check either way.
        assert_eq!(software_path(Some(" off "), true), Ok(true));
        assert_eq!(software_path(Some("on"), false), Ok(false));
        let error = software_path(Some("yes"), false).unwrap_err();
        assert!(
            error.contains("ROOST_GPU=\"yes\"") && error.contains("auto"),
            "{error}"
        );
    }

    #[test]
    fn a_render_node_is_a_gpu_and_a_card_or_nothing_is_none() {
        assert!(!has_render_node([]), "no /dev/dri");
        assert!(!has_render_node(["by-path"]));
        assert!(
            !has_render_node(["card0", "by-path"]),
            "a display controller only"
        );
        assert!(has_render_node(["by-path", "card1", "renderD128"]));
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn the_software_path_leaves_what_the_user_set_alone() {
        assert_eq!(
            software_path_defaults(|_| false),
            vec![
                (GDK_GL, "disable"),
                (WEBKIT_WEB_RENDER_DEVICE_FILE, NO_RENDER_NODE)
            ]
        );
        assert_eq!(
            software_path_defaults(|name| name == WEBKIT_WEB_RENDER_DEVICE_FILE),
            vec![(GDK_GL, "disable")]
        );
    }

    #[test]
    #[cfg(not(target_os = "linux"))]
    fn nothing_is_set_where_webkitgtk_is_not_the_webview() {
        assert_eq!(webkit_defaults(|_| false), vec![]);
    }
}
