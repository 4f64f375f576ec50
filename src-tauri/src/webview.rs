//! How the app's WebView is tuned on Linux (WebKitGTK), where the web process is most of the
//! app's memory.
//!
//! Measured with the release app (`measure::memory_after_opening_the_100k_chat_and_scrolling_20_pages`
//! E2E with `ROOST_E2E_APP` set to the release binary): with WebKitGTK's accelerated compositing
//! the web process held 255 MB PSS after scrolling 20 pages of the 100k-message chat — GL tile
//! buffers and Mesa's LLVM pipeline mapped into it — against 139 MB without. A chat window has no
//! 3D transforms, video or WebGL to gain from it, so the app asks WebKit never to composite on
//! the GPU, and to keep the small memory caches of a single-document viewer (the app is one page
//! that never navigates). `ROOST_GPU_COMPOSITING=1` restores WebKit's defaults, for comparison
//! and for drivers where that paints faster.

/// Set to `1` to keep WebKit's own compositing and cache defaults.
pub const ENV_GPU_COMPOSITING: &str = "ROOST_GPU_COMPOSITING";

/// Whether the environment asks for WebKit's defaults.
fn gpu_compositing_requested(value: Option<&str>) -> bool {
    matches!(value.map(str::trim), Some("1" | "true" | "yes"))
}

/// Applies the memory tuning to `window`'s WebView (a no-op off Linux).
pub fn tune(window: &tauri::WebviewWindow) {
    let requested = std::env::var(ENV_GPU_COMPOSITING).ok();
    if gpu_compositing_requested(requested.as_deref()) {
        tracing::info!("{ENV_GPU_COMPOSITING} is set: WebKit keeps its compositing defaults");
        return;
    }
    #[cfg(target_os = "linux")]
    if let Err(e) = window.with_webview(|webview| {
        use webkit2gtk::{
            CacheModel, HardwareAccelerationPolicy, SettingsExt, WebContextExt, WebViewExt,
        };
        let view = webview.inner();
        if let Some(settings) = WebViewExt::settings(&view) {
            settings.set_hardware_acceleration_policy(HardwareAccelerationPolicy::Never);
            settings.set_enable_page_cache(false);
        }
        if let Some(context) = view.context() {
            context.set_cache_model(CacheModel::DocumentViewer);
        }
    }) {
        tracing::warn!(error = %e, "could not tune the WebView's memory use");
    }
    #[cfg(not(target_os = "linux"))]
    let _ = window;
}

#[cfg(test)]
mod tests {
    use super::gpu_compositing_requested;

    #[test]
    fn only_an_explicit_yes_restores_webkit_defaults() {
        for yes in ["1", "true", "yes", " 1 "] {
            assert!(gpu_compositing_requested(Some(yes)), "{yes:?}");
        }
        for no in [None, Some(""), Some("0"), Some("no"), Some("false")] {
            assert!(!gpu_compositing_requested(no), "{no:?}");
        }
    }
}
