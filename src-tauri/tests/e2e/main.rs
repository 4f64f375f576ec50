//! End-to-end tests of the BUILT desktop app in a real WebKit window, against the real server
//! (`roost_server::testing`), driven over WebDriver (tauri-driver → WebKitWebDriver →
//! the app). They need a display, so they are `#[ignore]`d and the test command provides one:
//!
//! ```text
//! (cd ui && trunk build --release)
//! xvfb-run -a -s "-screen 0 1280x800x24" \
//!   cargo test -p roost-desktop --features custom-protocol --test e2e -- --ignored --test-threads=1
//! ```
//!
//! Each test gets its own XDG data/config/cache dirs (so its own per-account cache files) and its
//! own tauri-driver, started in a new process group that is terminated as a whole on drop
//! (tauri-driver, WebKitWebDriver and the app: nothing outlives the test). Screenshots go to
//! `target/e2e-artifacts/`.
//! The harness is `harness.rs`; each other module holds the tests of one topic (add a module for
//! a new topic and list it here).

mod harness;

mod accounts;
mod cache_tools;
mod chat_ux;
mod measure;
mod membership;
mod messaging;
mod read_ahead;
mod sign_in;
mod startup;
mod sync;
