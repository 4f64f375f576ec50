//! wasm entry point: mounts the Roost UI.

fn main() {
    roost_ui::mount();
}
