// Inlined into index.html's head. The chat list the shell put into this page before the wasm
// loaded (src-tauri/src/first_paint.rs, which moves this script to right after the list): drawn
// in the theme the user chose (the UI's theme.rs applies the same choice once it runs), and the
// frame that paints it ends cold start ("roost-chat-list-painted", read by
// src-tauri/tests/bench_app/). The app removes the list once its own is painted.
performance.mark('roost-list-parsed');
try {
  const theme = localStorage.getItem('roost.theme');
  if (theme === 'light' || theme === 'dark') {
    document.documentElement.setAttribute('data-theme', theme);
  }
} catch (e) {
  // No storage: the system's theme (the shell's `data-system-theme` on <html>, already in the
  // page as served, else prefers-color-scheme), as the UI would.
}
if (document.getElementById('first-paint')) {
  requestAnimationFrame(() => performance.mark('roost-chat-list-painted'));
}
