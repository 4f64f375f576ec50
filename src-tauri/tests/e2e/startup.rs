//! What a start of the app costs depends on how the previous run ended (issue 11's cold start).

use crate::harness::*;

/// Quitting the app (its window closed) closes the account's cache cleanly: the file carries
/// the clean-shutdown mark, so the next start skips the whole-file integrity checks (O(cached
/// messages): seconds with a million). Before the fix the app never closed its client on exit,
/// and every start after a quit paid for them.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a display, tauri-driver and the built app: run under xvfb-run (see the module docs)"]
async fn quitting_the_app_leaves_its_cache_closed_cleanly() -> Result<()> {
    let server = spawn_test_server().await;
    chat_with_messages(&server, "Small", &["hello"]).await;
    let desktop = Desktop::new(Some((server.base_url(), server.token("alice"))));
    let app = desktop.launch().await?;
    app.open_chat("Small").await?;
    app.wait_seqs(&[1]).await?;
    // Ends the WebDriver session: the window closes and the app exits on its own.
    app.quit().await;
    let cache = desktop.cache_file_of("alice");
    let (store, _) = roost_core::store::Store::open(&cache).await?;
    let clean = store.opened_clean();
    store.close().await;
    assert!(
        clean,
        "the app exited without closing its cache: the next start runs every integrity check"
    );
    Ok(())
}
