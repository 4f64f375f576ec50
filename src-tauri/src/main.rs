//! The Roost desktop app's entry point: everything lives in the library (`lib.rs`).

// Hides the console window on Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() {
    roost_desktop::run();
}
