// The start of the page's first frame: the mark Roost's UI sets on the frame that paints the
// chat list, so src-tauri/tests/bench_app/ reads both the same way.
requestAnimationFrame(() => performance.mark('roost-chat-list-painted'));
