//! The Roost desktop app's entry point: everything lives in the library (`lib.rs`).

// Hides the console window on Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() {
    // First, while this is the only thread: WebKit's compositing choice and, without a GPU
    // render node (or with `ROOST_GPU=off`), the software path (see `memory`).
    if let Err(message) = roost_desktop::memory::before_any_thread() {
        eprintln!("roost-desktop: {message}");
        std::process::exit(2);
    }
    roost_desktop::run();
}
