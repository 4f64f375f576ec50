// The chat list the shell put into this page before the wasm loaded (src-tauri/src/first_paint.rs):
// the frame that paints it ends cold start ("roost-chat-list-painted", read by
// src-tauri/tests/bench_app.rs). The app removes the list once its own is painted.
if (document.getElementById('first-paint')) {
  requestAnimationFrame(() => performance.mark('roost-chat-list-painted'));
}
