//! Chat UX: sending while scrolled up, the "New messages" divider, switching chats (no blank
//! view in between, live messages still shown, only the chat on screen open however fast), the
//! quick switcher, a keyboard-only walk, dark mode.

use crate::harness::*;
use serde_json::Value;

/// Sending while scrolled up brings the sent message into view; while scrolled up, new messages
/// show on the jump-to-latest button with their count, and the button goes back to them.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a display, tauri-driver and the built app: run under xvfb-run (see the module docs)"]
async fn sending_while_scrolled_up_shows_the_sent_message_and_jump_to_latest_counts_new_ones()
-> Result<()> {
    let server = spawn_test_server().await;
    let long = server.create_chat("Long chat", &["bob", "alice"]).await;
    for i in 1..=60 {
        server
            .send("bob", long, &format!("line {i} of a long conversation"))
            .await;
    }
    let desktop = Desktop::new(Some((server.base_url(), server.token("alice"))));
    let app = desktop.launch().await?;
    app.open_chat("Long chat").await?;
    app.wait_js(
        "newest message in view",
        "return document.querySelector('[data-testid=message][data-seq=\"60\"]') !== null;",
        |v| *v == json!(true),
    )
    .await?;
    app.wait_seq_in_view(60, "a chat without unread opens at the bottom")
        .await?;
    app.wait_online().await?;
    assert_eq!(
        app.count("[data-testid=jump-to-latest]").await?,
        0,
        "at the bottom: no jump button"
    );

    // Scrolled up, three messages arrive: the view stays, the button counts them.
    app.scroll_list_to("0").await?;
    app.wait_js(
        "jump button",
        "return document.querySelectorAll('[data-testid=jump-to-latest]').length;",
        |v| *v == json!(1),
    )
    .await?;
    for text in ["new one", "new two", "new three"] {
        server.send("bob", long, text).await;
    }
    app.wait_js("count of new messages", "const b = document.querySelector('[data-testid=jump-count]'); return b ? b.textContent : null;", |v| *v == json!("3")).await?;
    assert!(
        !app.seq_in_view(63).await?,
        "the view did not jump by itself"
    );
    app.screenshot_for_docs("jump-to-latest").await?;
    app.c()
        .find(Locator::Css("[data-testid=jump-to-latest]"))
        .await?
        .click()
        .await?;
    app.wait_seq_in_view(63, "message 63 in view after the jump")
        .await?;
    app.wait_js(
        "no jump button at the bottom",
        "return document.querySelectorAll('[data-testid=jump-to-latest]').length;",
        |v| *v == json!(0),
    )
    .await?;

    // Scrolled up again, send: the sent message is what the user sees.
    app.scroll_list_to("0").await?;
    app.wait_js(
        "scrolled up",
        "return document.querySelectorAll('[data-testid=jump-to-latest]').length;",
        |v| *v == json!(1),
    )
    .await?;
    let composer = app.c().find(Locator::Css("[data-testid=composer]")).await?;
    composer
        .send_keys(&format!("sent while scrolled up{KEY_ENTER}"))
        .await?;
    app.wait_seq_in_view(64, "the sent message (seq 64) in view")
        .await?;
    let text = app.js("return document.querySelector('[data-testid=message][data-seq=\"64\"] [data-testid=message-text]').textContent;").await?;
    assert_eq!(text, json!("sent while scrolled up"));
    app.screenshot("scroll-to-sent").await?;
    // No full-text tooltips on messages.
    assert_eq!(app.count("[data-testid=message-text][title]").await?, 0);
    app.quit().await;
    Ok(())
}

/// A chat with unread messages opens at the first of them, under a "New messages" divider.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a display, tauri-driver and the built app: run under xvfb-run (see the module docs)"]
async fn a_chat_with_unread_messages_opens_at_the_new_messages_divider() -> Result<()> {
    let server = spawn_test_server().await;
    let busy = server.create_chat("Busy", &["bob", "alice", "carol"]).await;
    for i in 1..=30 {
        server.send("bob", busy, &format!("read message {i}")).await;
    }
    chat_with_messages(&server, "Elsewhere", &["somewhere else"]).await;
    let desktop = Desktop::new(Some((server.base_url(), server.token("alice"))));
    let app = desktop.launch().await?;
    app.open_chat("Busy").await?;
    app.wait_js(
        "Busy loaded",
        "return document.querySelector('[data-testid=message][data-seq=\"30\"]') !== null;",
        |v| *v == json!(true),
    )
    .await?;
    app.open_chat("Elsewhere").await?;
    app.wait_seqs(&[1]).await?;
    app.wait_online().await?;
    for i in 1..=25 {
        server
            .send("carol", busy, &format!("unread message {i} 🎉"))
            .await;
    }
    app.wait_js("Busy's unread count", "const b = document.querySelector('[data-chat-title=\"Busy\"] [data-testid=unread-badge]'); return b ? b.textContent : null;", |v| *v == json!("25")).await?;
    app.open_chat("Busy").await?;
    let after_divider = app.wait_js(
        "the divider before the first unread",
        "const d = document.querySelector('[data-testid=unread-divider]'); const n = d && d.nextElementSibling; return n ? Number(n.dataset.seq) : null;",
        |v| v.is_number(),
    )
    .await?;
    assert_eq!(
        after_divider,
        json!(31),
        "the divider stands right before the first unread message"
    );
    let divider_in_view = app.js("const l = document.querySelector('[data-testid=messages]').getBoundingClientRect(); const d = document.querySelector('[data-testid=unread-divider]').getBoundingClientRect(); return d.top >= l.top && d.bottom <= l.bottom;").await?;
    assert_eq!(
        divider_in_view,
        json!(true),
        "the chat opens at the divider"
    );
    assert!(!app.seq_in_view(55).await?, "not at the bottom");
    let count = app.wait_js("new below", "const b = document.querySelector('[data-testid=jump-count]'); return b ? Number(b.textContent) : null;", |v| v.is_number()).await?;
    let count = count.as_u64().unwrap();
    assert!((1..=25).contains(&count), "new messages below: {count}");
    app.screenshot_for_docs("unread-divider").await?;
    // Today's messages start at seq 1, above the window that opened (rows are virtualised):
    // scrolled to the top, a day separator heads them.
    app.scroll_list_to("0").await?;
    app.wait_js(
        "the day separator at the top",
        "return document.querySelectorAll('[data-testid=day-separator]').length;",
        |v| v.as_u64().is_some_and(|n| n >= 1),
    )
    .await?;
    app.quit().await;
    Ok(())
}

/// Issue 11 (click → paint): switching chats rendered an empty "opening" view until the new
/// chat's window arrived. Now the previous chat's rows stay until then: no render between two
/// chats has a chat view without message rows, even across rapid switches; and messages that
/// arrive around the switches (for the chat opening, the chat left, the chat on screen) all show.
///
/// Unread counts: a message that lands in a chat as it is left, before the close reaches the
/// core, was never shown and counts as unread (this test failed in CI so: Beta's badge never
/// came); the messages shown while a chat was on screen do not (Alpha's).
#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a display, tauri-driver and the built app: run under xvfb-run (see the module docs)"]
async fn switching_chats_never_renders_a_blank_view_and_keeps_live_messages() -> Result<()> {
    let server = spawn_test_server().await;
    let alpha = chat_with_messages(&server, "Alpha", &["a one", "a two", "a three"]).await;
    let beta = chat_with_messages(&server, "Beta", &["b one", "b two"]).await;
    let desktop = Desktop::new(Some((server.base_url(), server.token("alice"))));
    let app = desktop.launch().await?;
    app.open_chat("Alpha").await?;
    app.wait_seqs(&[1, 2, 3]).await?;
    app.wait_online().await?;
    // From now on, every DOM change is checked as it would be painted (a MutationObserver's
    // callback runs before the next frame): a chat view must always hold message rows.
    app.js(
        "window.__blank = []; \
         new MutationObserver(() => { \
           const view = document.querySelector('[data-testid=chat-view]'); \
           const rows = document.querySelectorAll('[data-testid=message]').length; \
           const opening = document.querySelectorAll('[data-testid=opening]').length; \
           if (view && (rows === 0 || opening > 0)) { \
             const t = document.querySelector('[data-testid=chat-title]'); \
             window.__blank.push([t ? t.textContent : null, rows, opening]); \
           } \
         }).observe(document.body, { childList: true, subtree: true, attributes: true, characterData: true }); \
         return true;",
    )
    .await?;
    let click = |title: &str| {
        format!(
            "document.querySelector('[data-testid=chat-item][data-chat-title=\"{title}\"]').click();"
        )
    };
    // One switch, then three in one task (each click closes the chat the one before opened).
    app.js(&format!("{} return true;", click("Beta"))).await?;
    server.send("bob", beta, "b three, during the switch").await;
    app.wait_js("Beta's title", "const t = document.querySelector('[data-testid=chat-title]'); return t ? t.textContent : null;", |v| *v == json!("Beta")).await?;
    app.wait_seqs(&[1, 2, 3]).await?;
    app.js(&format!(
        "{} {} {} return true;",
        click("Alpha"),
        click("Beta"),
        click("Alpha")
    ))
    .await?;
    server.send("bob", beta, "b four, after leaving").await;
    server.send("bob", alpha, "a four, while opening").await;
    app.wait_js("Alpha's title", "const t = document.querySelector('[data-testid=chat-title]'); return t ? t.textContent : null;", |v| *v == json!("Alpha")).await?;
    app.wait_seqs(&[1, 2, 3, 4]).await?;
    server.send("bob", alpha, "a five, live").await;
    app.wait_seqs(&[1, 2, 3, 4, 5]).await?;
    // Each row is the open chat's own (not a row of the same seq left from the previous chat).
    let texts = "return Array.from(document.querySelectorAll('[data-testid=message-text]')).map(e => e.textContent);";
    assert_eq!(
        app.js(texts).await?,
        json!([
            "a one",
            "a two",
            "a three",
            "a four, while opening",
            "a five, live"
        ])
    );
    app.wait_js("Beta's unread count", "const b = document.querySelector('[data-chat-title=\"Beta\"] [data-testid=unread-badge]'); return b ? b.textContent : null;", |v| *v == json!("1")).await?;
    app.open_chat("Beta").await?;
    app.wait_seqs(&[1, 2, 3, 4]).await?;
    assert_eq!(
        app.js(texts).await?,
        json!([
            "b one",
            "b two",
            "b three, during the switch",
            "b four, after leaving"
        ])
    );
    // Alpha was left showing "a four" and "a five": they are read, and what arrives now is
    // its one unread message.
    server.send("bob", alpha, "a six, after leaving").await;
    app.wait_js("Alpha's unread count", "const b = document.querySelector('[data-chat-title=\"Alpha\"] [data-testid=unread-badge]'); return b ? b.textContent : null;", |v| *v == json!("1")).await?;
    let blank = app.js("return window.__blank;").await?;
    assert_eq!(
        blank,
        json!([]),
        "renders with a chat view and no message rows (title, rows, opening views)"
    );
    assert!(app.page_errors().await.is_empty());
    app.quit().await;
    Ok(())
}

/// Ctrl+K opens the quick switcher; typing part of a name and Enter opens the chat with the
/// composer focused; Ctrl+/ shows the shortcuts sheet and Esc closes it.
/// Switching chats faster than the shell answers (20 clicks in one task, Beta and Alpha in
/// turn, ending on Alpha; five rounds) leaves open in the core only the chat on screen: a
/// message that then arrives in the other chat counts as unread, and one in the chat on screen
/// does not. Beta, opened and left in each round before its window came, never showed its
/// messages: they stay unread from round to round. Each click closes the chat the one before opened; the shell used to run every open
/// and close as a task of its own, so a close could land before the open it followed and leave
/// that chat open behind the one on screen, its new messages read by nobody.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a display, tauri-driver and the built app: run under xvfb-run (see the module docs)"]
async fn rapid_switching_leaves_only_the_chat_on_screen_open() -> Result<()> {
    let server = spawn_test_server().await;
    let alpha = chat_with_messages(&server, "Alpha", &["a 1"]).await;
    let beta = chat_with_messages(&server, "Beta", &["b 1"]).await;
    let desktop = Desktop::new(Some((server.base_url(), server.token("alice"))));
    let app = desktop.launch().await?;
    app.open_chat("Alpha").await?;
    app.wait_seqs(&[1]).await?;
    app.wait_online().await?;
    let clicks: String = (0..20)
        .map(|i| {
            let title = if i % 2 == 0 { "Beta" } else { "Alpha" };
            format!(
                "document.querySelector('[data-testid=chat-item][data-chat-title=\"{title}\"]').click();"
            )
        })
        .collect();
    let badge = |title: &str| {
        format!(
            "const b = document.querySelector('[data-chat-title=\"{title}\"] [data-testid=unread-badge]'); \
             return b ? b.textContent : null;"
        )
    };
    let title = "const t = document.querySelector('[data-testid=chat-title]'); return t ? t.textContent : null;";
    for round in 1..=5u64 {
        app.js(&format!("{clicks} return true;")).await?;
        app.wait_js("Alpha's title", title, |v| *v == json!("Alpha"))
            .await?;
        let alpha_seqs: Vec<u64> = (1..=round).collect();
        app.wait_seqs(&alpha_seqs).await?;
        // The clicks' last requests are on their way to the core as the page shows Alpha:
        // give them time to land (not a timed assertion: the checks below wait for a state).
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        server
            .send("bob", beta, &format!("b after round {round}"))
            .await;
        server
            .send("bob", alpha, &format!("a after round {round}"))
            .await;
        // Beta was opened and left by the round's clicks before its window came: nothing of
        // it was shown, so the earlier rounds' messages are still unread and this one adds one.
        app.wait_js(
            &format!("Beta's unread count, round {round}"),
            &badge("Beta"),
            |v| *v == json!(round.to_string()),
        )
        .await?;
        let alpha_seqs: Vec<u64> = (1..=round + 1).collect();
        app.wait_seqs(&alpha_seqs).await?;
        assert_eq!(
            app.js(&badge("Alpha")).await?,
            Value::Null,
            "the chat on screen has nothing unread (round {round})"
        );
    }
    assert!(app.page_errors().await.is_empty());
    app.quit().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a display, tauri-driver and the built app: run under xvfb-run (see the module docs)"]
async fn quick_switcher_and_shortcuts_sheet() -> Result<()> {
    let server = spawn_test_server().await;
    chat_with_messages(&server, "General", &["hello everyone"]).await;
    chat_with_messages(&server, "Weekend hike 🥾", &["who brings the map?"]).await;
    chat_with_messages(&server, "Book club", &["chapter 3 tonight"]).await;
    let desktop = Desktop::new(Some((server.base_url(), server.token("alice"))));
    let app = desktop.launch().await?;
    app.open_chat("General").await?;
    app.wait_seqs(&[1]).await?;
    app.keys(&format!("{KEY_CTRL}k{KEY_RELEASE}")).await?;
    app.wait_js(
        "switcher",
        "return document.querySelectorAll('[data-testid=quick-switcher]').length;",
        |v| *v == json!(1),
    )
    .await?;
    assert_eq!(app.focused().await?, "switcher-input");
    app.keys("hike").await?;
    app.wait_js("one match", "return Array.from(document.querySelectorAll('[data-testid=switcher-option]')).map(e => e.dataset.chatTitle);", |v| *v == json!(["Weekend hike 🥾"])).await?;
    app.screenshot_for_docs("quick-switcher").await?;
    app.keys(KEY_ENTER).await?;
    app.wait_js("hike open", "const t = document.querySelector('[data-testid=chat-title]'); return t ? t.textContent : null;", |v| *v == json!("Weekend hike 🥾")).await?;
    assert_eq!(app.count("[data-testid=quick-switcher]").await?, 0);
    app.wait_js(
        "composer focused",
        "return document.activeElement && document.activeElement.dataset.testid;",
        |v| *v == json!("composer"),
    )
    .await?;
    // Ctrl+P too; arrows choose, Esc closes without switching.
    app.keys(&format!("{KEY_CTRL}p{KEY_RELEASE}")).await?;
    app.wait_js(
        "switcher again",
        "return document.querySelectorAll('[data-testid=quick-switcher]').length;",
        |v| *v == json!(1),
    )
    .await?;
    app.keys(&format!("{KEY_DOWN}{KEY_ESCAPE}")).await?;
    app.wait_js(
        "switcher closed",
        "return document.querySelectorAll('[data-testid=quick-switcher]').length;",
        |v| *v == json!(0),
    )
    .await?;
    // Ctrl+/ from the composer; `?` outside text fields.
    app.keys(&format!("{KEY_CTRL}/{KEY_RELEASE}")).await?;
    app.wait_js(
        "shortcuts sheet",
        "return document.querySelectorAll('[data-testid=shortcut-sheet]').length;",
        |v| *v == json!(1),
    )
    .await?;
    app.screenshot_for_docs("shortcuts").await?;
    app.keys(KEY_ESCAPE).await?;
    app.wait_js(
        "sheet closed",
        "return document.querySelectorAll('[data-testid=shortcut-sheet]').length;",
        |v| *v == json!(0),
    )
    .await?;
    app.c()
        .find(Locator::Css("[data-testid=messages]"))
        .await?
        .send_keys("?")
        .await?;
    app.wait_js(
        "sheet by ?",
        "return document.querySelectorAll('[data-testid=shortcut-sheet]').length;",
        |v| *v == json!(1),
    )
    .await?;
    app.keys(KEY_ESCAPE).await?;
    app.quit().await;
    Ok(())
}

/// Sign in, switch chats, send, Resync and scroll with the keyboard alone; the focus is always
/// visible.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a display, tauri-driver and the built app: run under xvfb-run (see the module docs)"]
async fn keyboard_only_walk_sign_in_switch_send_resync_scroll() -> Result<()> {
    let server = spawn_test_server().await;
    let team = server.create_chat("Team", &["bob", "alice"]).await;
    for i in 1..=40 {
        server.send("bob", team, &format!("team message {i}")).await;
    }
    chat_with_messages(&server, "Other", &["elsewhere"]).await;
    let desktop = Desktop::new(None);
    let app = desktop.launch().await?;
    app.c()
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css("[data-testid=signin-server]"))
        .await?;

    // Sign in: Tab to the server field, replace it, Tab to the token, Enter.
    let mut tabs = 0;
    while app.focused().await? != "signin-server" {
        app.keys(KEY_TAB).await?;
        tabs += 1;
        assert!(tabs < 6, "Tab never reached the server field");
    }
    assert!(
        app.focus_ring_visible().await?,
        "focus ring on the server field"
    );
    // Clear what the field holds (End, then Backspace over it: WebKitWebDriver does not send
    // Ctrl+A as "select all"), then type the URL.
    app.keys(&format!(
        "{KEY_END}{}{}",
        KEY_BACKSPACE.repeat(80),
        server.base_url()
    ))
    .await?;
    assert_eq!(
        app.js("return document.querySelector('[data-testid=signin-server]').value;")
            .await?,
        json!(server.base_url()),
        "the server field holds what was typed"
    );
    app.keys(KEY_TAB).await?;
    assert_eq!(app.focused().await?, "signin-token");
    app.keys(&format!("{}{KEY_ENTER}", server.token("alice")))
        .await?;
    app.wait_js(
        "signed in",
        "return document.querySelectorAll('[data-testid=layout]').length;",
        |v| *v == json!(1),
    )
    .await?;

    // Switch chats: the quick switcher.
    app.wait_js(
        "chats listed",
        "return document.querySelectorAll('[data-testid=chat-item]').length;",
        |v| *v == json!(2),
    )
    .await?;
    app.keys(&format!("{KEY_CTRL}k{KEY_RELEASE}")).await?;
    app.wait_js(
        "switcher",
        "return document.activeElement && document.activeElement.dataset.testid;",
        |v| *v == json!("switcher-input"),
    )
    .await?;
    app.keys(&format!("team{KEY_ENTER}")).await?;
    app.wait_js("composer focused in Team", "const t = document.querySelector('[data-testid=chat-title]'); return [t && t.textContent, document.activeElement && document.activeElement.dataset.testid];", |v| *v == json!(["Team", "composer"])).await?;

    // Send.
    app.keys(&format!("typed without a mouse{KEY_ENTER}"))
        .await?;
    app.wait_js("sent", "return Array.from(document.querySelectorAll('[data-testid=message-text]')).some(e => e.textContent === 'typed without a mouse');", |v| *v == json!(true)).await?;
    // The server is up: the message is confirmed (seq 41) and the view follows it.
    app.wait_seq_in_view(41, "the sent message (seq 41) in view")
        .await?;

    // Shift+Tab back to Resync, through the message list; Enter runs it.
    let mut order = Vec::new();
    while app.focused().await? != "resync-button" {
        app.keys(&format!("{KEY_SHIFT}{KEY_TAB}{KEY_RELEASE}"))
            .await?;
        let now = app.focused().await?;
        assert!(app.focus_ring_visible().await?, "no visible focus on {now}");
        order.push(now);
        assert!(order.len() < 8, "Shift+Tab never reached Resync: {order:?}");
    }
    assert!(
        order.contains(&"messages".to_string()),
        "the message list is in the tab order: {order:?}"
    );
    server.reset_metrics();
    app.keys(KEY_ENTER).await?;
    app.wait_js(
        "resync ran",
        "const b = document.querySelector('[data-testid=resync-button]'); return b && !b.disabled;",
        |v| *v == json!(true),
    )
    .await?;
    let started = Instant::now();
    while server.metrics().total().requests == 0 {
        if started.elapsed() > WAIT {
            bail!("Enter on Resync asked the server nothing");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    app.screenshot("keyboard-resync").await?;

    // Scroll: Tab (past the header's other chat tools) into the list, Page Up moves up, End
    // comes back to the latest.
    let mut tabs = 0;
    loop {
        app.keys(KEY_TAB).await?;
        tabs += 1;
        if app.focused().await? == "messages" {
            break;
        }
        assert!(
            app.focus_ring_visible().await?,
            "a visible focus on the way"
        );
        assert!(tabs < 5, "Tab never reached the message list");
    }
    let bottom = app
        .js("return document.querySelector('[data-testid=messages]').scrollTop;")
        .await?;
    app.keys(&format!("{KEY_PAGE_UP}{KEY_PAGE_UP}")).await?;
    let up = app
        .wait_js(
            "scrolled up",
            "return document.querySelector('[data-testid=messages]').scrollTop;",
            |v| v.as_f64() < bottom.as_f64(),
        )
        .await?;
    assert!(up.as_f64().unwrap() < bottom.as_f64().unwrap());
    app.wait_js(
        "jump button while up",
        "return document.querySelectorAll('[data-testid=jump-to-latest]').length;",
        |v| *v == json!(1),
    )
    .await?;
    app.screenshot_for_docs("keyboard-walk").await?;
    app.keys(KEY_END).await?;
    app.wait_js(
        "back at the bottom",
        "return document.querySelectorAll('[data-testid=jump-to-latest]').length;",
        |v| *v == json!(0),
    )
    .await?;

    // Alt+↓ / Alt+↑ switch chats from anywhere.
    app.keys(&format!("{KEY_ALT}{KEY_DOWN}{KEY_RELEASE}"))
        .await?;
    app.wait_js("next chat", "const t = document.querySelector('[data-testid=chat-title]'); return t ? t.textContent : null;", |v| *v == json!("Other")).await?;
    app.quit().await;
    Ok(())
}

/// What the user sees: the page's background and text colours (the palette `ui/style.css`
/// picks from the theme), as `[background, text]`.
const COLOURS: &str =
    "const s = getComputedStyle(document.body); return [s.backgroundColor, s.color];";
fn dark_colours() -> Value {
    json!(["rgb(22, 24, 28)", "rgb(231, 233, 236)"])
}
fn light_colours() -> Value {
    json!(["rgb(255, 255, 255)", "rgb(27, 29, 33)"])
}
/// Picks `theme` (`system`, `light` or `dark`) in the app's theme picker, as a user would.
async fn choose_theme(app: &App, theme: &str) -> Result<()> {
    app.js(&format!(
        "const s = document.querySelector('[data-testid=theme-select]'); s.value = '{theme}'; \
         s.dispatchEvent(new Event('change')); return null;"
    ))
    .await?;
    Ok(())
}

/// The system's theme is GTK's (`GTK_THEME` here) as the shell reads it, with the default
/// settings of this machine (no GPU: the software path, under which WebKitGTK's own
/// `prefers-color-scheme` no longer follows GTK); the choice in the app wins over it.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a display, tauri-driver and the built app: run under xvfb-run (see the module docs)"]
async fn dark_mode_follows_the_system_and_the_choice_in_the_app() -> Result<()> {
    let server = spawn_test_server().await;
    let chat = server
        .create_chat("Weekend hike 🥾", &["bob", "alice", "carol"])
        .await;
    for text in ["Who's in for Saturday? 🏔️", "Me! 🙋"] {
        server.send("bob", chat, text).await;
    }
    server.send("alice", chat, "Count me in 👍").await;
    for text in ["Bring water 💧", "and snacks 🍫"] {
        server.send("carol", chat, text).await;
    }
    chat_with_messages(&server, "Book club", &["Chapter 3 tonight 📚"]).await;
    let desktop = Desktop::new(Some((server.base_url(), server.token("alice"))));

    // Light system, default (System) choice: light; a screenshot for the docs.
    let app = desktop.launch_with_env(&[("GTK_THEME", "Adwaita")]).await?;
    app.open_chat("Weekend hike 🥾").await?;
    app.wait_seqs(&[1, 2, 3, 4, 5]).await?;
    assert_eq!(app.js(COLOURS).await?, light_colours());
    app.screenshot_for_docs("chat-light").await?;
    // The explicit choice: Dark.
    choose_theme(&app, "dark").await?;
    app.wait_js("dark by choice", COLOURS, |v| *v == dark_colours())
        .await?;
    app.quit().await;

    // The choice is kept across a restart.
    let app = desktop.launch_with_env(&[("GTK_THEME", "Adwaita")]).await?;
    app.open_chat("Weekend hike 🥾").await?;
    app.wait_seqs(&[1, 2, 3, 4, 5]).await?;
    app.wait_js("still dark", COLOURS, |v| *v == dark_colours())
        .await?;
    app.screenshot_for_docs("chat-dark").await?;
    choose_theme(&app, "system").await?;
    app.wait_js("back to the system's light", COLOURS, |v| {
        *v == light_colours()
    })
    .await?;
    app.quit().await;

    // A dark system with the System choice: dark, without touching the app's setting; the
    // choice of Light wins over it, and System brings the system's dark back.
    let app = desktop
        .launch_with_env(&[("GTK_THEME", "Adwaita:dark")])
        .await?;
    app.open_chat("Weekend hike 🥾").await?;
    app.wait_seqs(&[1, 2, 3, 4, 5]).await?;
    app.wait_js("dark from the system", COLOURS, |v| *v == dark_colours())
        .await?;
    app.keys(&format!("{KEY_CTRL}k{KEY_RELEASE}")).await?;
    app.wait_js(
        "switcher",
        "return document.querySelectorAll('[data-testid=quick-switcher]').length;",
        |v| *v == json!(1),
    )
    .await?;
    app.screenshot_for_docs("quick-switcher-dark").await?;
    app.keys(KEY_ESCAPE).await?;
    choose_theme(&app, "light").await?;
    app.wait_js("light by choice on a dark system", COLOURS, |v| {
        *v == light_colours()
    })
    .await?;
    choose_theme(&app, "system").await?;
    app.wait_js("the system's dark again", COLOURS, |v| *v == dark_colours())
        .await?;
    app.quit().await;
    Ok(())
}

/// A change of the system's theme while Roost runs reaches the page: the desktop portal's
/// `SettingChanged` signal on the session bus (what GNOME, KDE and others send when the user
/// switches to dark), which Tauri's windowing (tao) turns into GTK's dark preference.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a display, tauri-driver and the built app: run under xvfb-run (see the module docs)"]
async fn dark_mode_follows_a_change_of_the_system_theme_while_running() -> Result<()> {
    let server = spawn_test_server().await;
    chat_with_messages(&server, "Book club", &["Chapter 3 tonight 📚"]).await;
    let desktop = Desktop::new(Some((server.base_url(), server.token("alice"))));
    let bus = SessionBus::start()?;
    // An empty GTK_THEME is GTK's "unset": its settings decide.
    let app = desktop
        .launch_with_env(&[
            ("GTK_THEME", ""),
            ("DBUS_SESSION_BUS_ADDRESS", &bus.address),
        ])
        .await?;
    app.open_chat("Book club").await?;
    app.wait_seqs(&[1]).await?;
    assert_eq!(app.js(COLOURS).await?, light_colours());
    bus.send_color_scheme(1)?;
    app.wait_js("dark once the system is", COLOURS, |v| *v == dark_colours())
        .await?;
    bus.send_color_scheme(2)?;
    app.wait_js("light once the system is", COLOURS, |v| {
        *v == light_colours()
    })
    .await?;
    app.quit().await;
    Ok(())
}
