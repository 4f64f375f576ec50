//! Issue 11's click → paint: chats read ahead (on a mouse's pointerdown, and while the page is
//! idle for the chats likeliest to be opened next), their rows rendered hidden before the click
//! and shown by it, never stale; a click that finds nothing read ahead changes the page once,
//! with its rows; and an open's frame builds only the rows in view.

use crate::harness::*;
use serde_json::Value;

/// A mouse click reads the chat ahead on pointerdown (issue 11's click → paint): the click then
/// shows those rows at once (the UI's `roost-open-prefetched` mark), and the open still marks
/// the chat open in the core (a message arriving then raises no unread count). A message of
/// that chat arriving between the press and the click drops the read-ahead: the click never
/// shows the rows read before it. Before the click the rows are staged hidden over the list
/// (which is unchanged); after it the list takes them at the same place, for a chat shorter
/// than the list (rows at its top) and one that overflows it (rows at its bottom).
#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a display, tauri-driver and the built app: run under xvfb-run (see the module docs)"]
async fn a_mouse_press_reads_the_chat_ahead_and_the_click_never_shows_stale_rows() -> Result<()> {
    let server = spawn_test_server().await;
    chat_with_messages(&server, "Alpha", &["a one", "a two", "a three"]).await;
    let beta = chat_with_messages(&server, "Beta", &["b one", "b two"]).await;
    // More rows than the list holds: it opens scrolled to its bottom.
    let gamma_texts: Vec<String> = (1..=16).map(|n| format!("g {n}")).collect();
    let gamma_refs: Vec<&str> = gamma_texts.iter().map(String::as_str).collect();
    chat_with_messages(&server, "Gamma", &gamma_refs).await;
    let desktop = Desktop::new(Some((server.base_url(), server.token("alice"))));
    let app = desktop.launch().await?;
    app.open_chat("Gamma").await?;
    app.wait_js(
        "Gamma's newest row",
        "return Array.from(document.querySelectorAll('[data-testid=message]')).some((r) => r.dataset.seq === '16');",
        |v| *v == json!(true),
    )
    .await?;
    app.open_chat("Beta").await?;
    app.wait_seqs(&[1, 2]).await?;
    app.open_chat("Alpha").await?;
    app.wait_seqs(&[1, 2, 3]).await?;
    app.wait_online().await?;
    let press = |title: &str| {
        format!(
            "performance.clearMarks('roost-open-prefetched'); \
             document.querySelector('[data-testid=chat-item][data-chat-title=\"{title}\"]') \
               .dispatchEvent(new PointerEvent('pointerdown', {{ bubbles: true, button: 0, buttons: 1, pointerType: 'mouse', isPrimary: true }})); \
             return true;"
        )
    };
    let release = |title: &str| {
        format!(
            "document.querySelector('[data-testid=chat-item][data-chat-title=\"{title}\"]').click(); \
             return performance.getEntriesByName('roost-open-prefetched').length;"
        )
    };
    // A press held long enough for the read to answer (it takes a few ms), then the click.
    let hold = Duration::from_millis(500);
    app.js(&press("Beta")).await?;
    tokio::time::sleep(hold).await;
    // Beta's rows are staged, hidden, over Alpha's list, which is unchanged.
    let rows_at = "const [list] = arguments; \
        return Array.from(document.querySelectorAll(`[data-testid=${list}] [data-testid$=message][data-seq]`)).map((r) => { \
          const b = r.getBoundingClientRect(); \
          return [Number(r.dataset.seq), r.querySelector('[data-testid$=message-text]').textContent, \
                  Math.round(b.top), Math.round(b.left), Math.round(b.width), Math.round(b.height)]; });";
    let staged = app
        .c()
        .execute(rows_at, vec![json!("messages-ahead")])
        .await?;
    let staged_texts: Vec<Value> = staged
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r[1].clone())
        .collect();
    assert_eq!(
        staged_texts,
        vec![json!("b one"), json!("b two")],
        "{staged}"
    );
    assert_eq!(
        app.js("return document.querySelector('[data-testid=messages-ahead]').dataset.shown;")
            .await?,
        json!("false"),
        "hidden until the click"
    );
    assert_eq!(
        app.js("return getComputedStyle(document.querySelector('[data-testid=messages-ahead]')).visibility;").await?,
        json!("hidden")
    );
    assert_eq!(
        app.js("return Array.from(document.querySelectorAll('[data-testid=messages] [data-testid=message-text]')).map(e => e.textContent);").await?,
        json!(["a one", "a two", "a three"]),
        "Alpha's list as it was"
    );
    assert_eq!(
        app.js(&release("Beta")).await?,
        json!(1),
        "shown from the read-ahead"
    );
    app.wait_seqs(&[1, 2]).await?;
    // The list took the rows over where the staged ones were, and those went.
    app.wait_js("the staged rows gone", STAGED_ROWS_OF_SELECTED, |v| {
        *v == json!(0)
    })
    .await?;
    assert_eq!(
        app.c().execute(rows_at, vec![json!("messages")]).await?,
        staged
    );
    // The same for a chat whose rows overflow the list: they are at its bottom.
    app.js(&press("Gamma")).await?;
    tokio::time::sleep(hold).await;
    let staged = app
        .c()
        .execute(rows_at, vec![json!("messages-ahead")])
        .await?;
    assert_eq!(
        app.js(&release("Gamma")).await?,
        json!(1),
        "shown from the read-ahead"
    );
    app.wait_js("the staged rows gone", STAGED_ROWS_OF_SELECTED, |v| {
        *v == json!(0)
    })
    .await?;
    let live = app.c().execute(rows_at, vec![json!("messages")]).await?;
    let live = live.as_array().unwrap();
    let staged = staged.as_array().unwrap();
    assert_eq!(
        staged.last().map(|r| r[0].clone()),
        Some(json!(16)),
        "{staged:?}"
    );
    let in_both: Vec<&Value> = staged
        .iter()
        .filter(|r| live.iter().any(|l| l[0] == r[0]))
        .collect();
    assert!(
        in_both.len() >= 8,
        "the rows in view: {staged:?} / {live:?}"
    );
    for row in in_both {
        assert!(live.contains(row), "{row} where the list has it: {live:?}");
    }
    app.open_chat("Beta").await?;
    app.wait_seqs(&[1, 2]).await?;
    server.send("bob", beta, "b three, while open").await;
    app.wait_seqs(&[1, 2, 3]).await?;
    let beta_unread = "const b = document.querySelector('[data-chat-title=\"Beta\"] [data-testid=unread-badge]'); return b ? b.textContent : null;";
    assert_eq!(
        app.js(beta_unread).await?,
        json!(null),
        "the open still ran"
    );
    app.open_chat("Alpha").await?;
    app.wait_seqs(&[1, 2, 3]).await?;
    // Beta read ahead, then a message of Beta arrives before the click.
    app.js(&press("Beta")).await?;
    tokio::time::sleep(hold).await;
    server.send("bob", beta, "b four, after the press").await;
    app.wait_js("Beta's unread count", beta_unread, |v| *v == json!("1"))
        .await?;
    assert_eq!(
        app.js(&release("Beta")).await?,
        json!(0),
        "the read-ahead was dropped"
    );
    app.wait_seqs(&[1, 2, 3, 4]).await?;
    let texts = "return Array.from(document.querySelectorAll('[data-testid=message-text]')).map(e => e.textContent);";
    assert_eq!(
        app.js(texts).await?,
        json!([
            "b one",
            "b two",
            "b three, while open",
            "b four, after the press"
        ])
    );
    assert!(app.page_errors().await.is_empty());
    app.quit().await;
    Ok(())
}

/// How many rows are staged hidden for the selected chat (an idle read-ahead may stage another
/// chat's meanwhile).
const STAGED_ROWS_OF_SELECTED: &str = "const ahead = document.querySelector('[data-testid=messages-ahead]'); \
    const selected = document.querySelector('[data-testid=chat-item][aria-selected=true]'); \
    if (!ahead || !selected || ahead.dataset.chatId !== selected.dataset.chatId) return 0; \
    return ahead.querySelectorAll('[data-testid=ahead-message]').length;";

/// The rows staged hidden for a click (`messages-ahead`): their texts.
const STAGED_TEXTS: &str = "return Array.from(document.querySelectorAll('[data-testid=messages-ahead] [data-testid=ahead-message-text]')).map(e => e.textContent);";
const SHOWN_TEXTS: &str = "return Array.from(document.querySelectorAll('[data-testid=messages] [data-testid=message-text]')).map(e => e.textContent);";
const KEY_UP: &str = "\u{E013}";

/// A click with no pointerdown (the keyboard, `element.click()`; issue 11's click → paint):
/// while the page is idle the UI reads ahead the chats likeliest to be opened next (the rows
/// beside the selected one) and stages the likeliest; an arrow key or a plain click then shows
/// those rows at once (`roost-open-prefetched`). Never stale: a message of that chat arriving
/// after the read drops it (the chat, now unread, opens the ordinary way and shows it); an edit
/// after the read drops it too, and what the click shows is the chat's rows read again, with
/// the edit.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a display, tauri-driver and the built app: run under xvfb-run (see the module docs)"]
async fn a_keyboard_or_plain_click_open_is_served_from_the_idle_read_ahead_never_stale()
-> Result<()> {
    let server = spawn_test_server().await;
    chat_with_messages(&server, "Alpha", &["a one", "a two", "a three"]).await;
    let beta = chat_with_messages(&server, "Beta", &["b one", "b two"]).await;
    let desktop = Desktop::new(Some((server.base_url(), server.token("alice"))));
    let app = desktop.launch().await?;
    app.open_chat("Beta").await?;
    app.wait_seqs(&[1, 2]).await?;
    app.open_chat("Alpha").await?;
    app.wait_seqs(&[1, 2, 3]).await?;
    app.wait_online().await?;
    // Read ahead and staged once the page is idle, with nothing pressed.
    app.wait_js("Beta read ahead while idle", STAGED_TEXTS, |v| {
        *v == json!(["b one", "b two"])
    })
    .await?;
    assert_eq!(
        app.js(SHOWN_TEXTS).await?,
        json!(["a one", "a two", "a three"])
    );
    // A message of Beta after the read: dropped (and Beta, unread now, is not read again).
    let b_three = server
        .send("bob", beta, "b three, after the read-ahead")
        .await;
    let beta_unread = "const b = document.querySelector('[data-chat-title=\"Beta\"] [data-testid=unread-badge]'); return b ? b.textContent : null;";
    app.wait_js("Beta's unread count", beta_unread, |v| *v == json!("1"))
        .await?;
    assert_eq!(
        app.js(STAGED_TEXTS).await?,
        json!([]),
        "the staged rows went"
    );
    // The keyboard: the arrow key from the selected row to Beta's.
    let key = app
        .js("const rows = Array.from(document.querySelectorAll('[data-testid=chat-item]')).map(r => r.dataset.chatTitle); \
             document.querySelector('[data-testid=chat-item][data-chat-title=\"Alpha\"]').focus(); \
             performance.clearMarks('roost-open-prefetched'); \
             return rows.indexOf('Beta') < rows.indexOf('Alpha');")
        .await?;
    let (towards_beta, back_to_alpha) = if key == json!(true) {
        (KEY_UP, KEY_DOWN)
    } else {
        (KEY_DOWN, KEY_UP)
    };
    app.keys(towards_beta).await?;
    app.wait_seqs(&[1, 2, 3]).await?;
    assert_eq!(
        app.js("return performance.getEntriesByName('roost-open-prefetched').length;")
            .await?,
        json!(0),
        "the dropped read-ahead was not shown"
    );
    assert_eq!(
        app.js(SHOWN_TEXTS).await?,
        json!(["b one", "b two", "b three, after the read-ahead"])
    );
    // Back to Alpha by the keyboard: Beta (nothing unread now) is read ahead again.
    app.keys(back_to_alpha).await?;
    app.wait_seqs(&[1, 2, 3]).await?;
    app.wait_js("Beta read ahead again", STAGED_TEXTS, |v| {
        *v == json!(["b one", "b two", "b three, after the read-ahead"])
    })
    .await?;
    // An edit of Beta after the read: the read-ahead goes and Beta is read again, with it.
    server
        .edit(
            "bob",
            beta,
            b_three.id,
            "b three, edited after the read-ahead",
        )
        .await;
    app.wait_js("Beta read again with the edit", STAGED_TEXTS, |v| {
        *v == json!(["b one", "b two", "b three, edited after the read-ahead"])
    })
    .await?;
    // A plain click (no pointerdown): shown from that read-ahead.
    let clicked = app
        .js("performance.clearMarks('roost-open-prefetched'); \
             document.querySelector('[data-testid=chat-item][data-chat-title=\"Beta\"]').click(); \
             return [performance.getEntriesByName('roost-open-prefetched').length];")
        .await?;
    assert_eq!(clicked[0], json!(1), "shown from the read-ahead: {clicked}");
    app.wait_js("Beta's rows", SHOWN_TEXTS, |v| {
        *v == json!(["b one", "b two", "b three, edited after the read-ahead"])
    })
    .await?;
    let beta_title = "return document.querySelector('[data-testid=chat-title]').textContent;";
    assert_eq!(app.js(beta_title).await?, json!("Beta"));
    assert!(app.page_errors().await.is_empty());
    app.quit().await;
    Ok(())
}

/// A click that finds nothing read ahead (issue 11's click → paint, the bench's
/// `no_read_ahead`): what the click changes on screen — the list's selection, the header, the
/// rows — waits for the open's window (`ui/src/app/held.rs`), so every frame until then is
/// the previous chat's whole, and the first frame that differs shows the clicked chat whole
/// (when its window came within about a frame; else the cap shows the selection first, marked
/// `roost-open-held-cap`, and the chat once it comes). The chat clicked is one the UI never
/// reads ahead while idle (neither beside the open chat nor at the list's top).
#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a display, tauri-driver and the built app: run under xvfb-run (see the module docs)"]
async fn a_click_that_finds_nothing_read_ahead_changes_the_page_once_with_its_rows() -> Result<()> {
    let server = spawn_test_server().await;
    for title in ["One", "Two", "Three", "Four", "Five"] {
        let lower = title.to_lowercase();
        chat_with_messages(
            &server,
            title,
            &[&format!("{lower} a"), &format!("{lower} b")],
        )
        .await;
    }
    let desktop = Desktop::new(Some((server.base_url(), server.token("alice"))));
    let app = desktop.launch().await?;
    let titles = app
        .wait_js(
            "the chat list",
            "return Array.from(document.querySelectorAll('[data-testid=chat-item]')).map(r => r.dataset.chatTitle);",
            |v| v.as_array().is_some_and(|a| a.len() == 5),
        )
        .await?;
    let titles: Vec<String> = serde_json::from_value(titles)?;
    // The list's last chat open: the idle read-ahead takes the one above it and the top two,
    // never the middle one.
    let (last, middle) = (titles[4].clone(), titles[2].clone());
    app.open_chat(&last).await?;
    app.wait_seqs(&[1, 2]).await?;
    app.wait_online().await?;
    app.wait_js("the idle read-ahead staged", STAGED_TEXTS, |v| {
        v.as_array().is_some_and(|a| !a.is_empty())
    })
    .await?;
    let script = r#"
        const [title, done] = arguments;
        for (const n of ['roost-open-held-shown', 'roost-open-held-cap', 'roost-open-reply', 'roost-open-prefetched']) {
            performance.clearMarks(n);
        }
        const seen = () => {
            const heading = document.querySelector('[data-testid=chat-title]');
            const selected = document.querySelector('[data-testid=chat-item][aria-selected=true]');
            return [
                heading ? heading.textContent : null,
                selected ? selected.dataset.chatTitle : null,
                Array.from(document.querySelectorAll('[data-testid=messages] [data-testid=message-text]')).map(e => e.textContent),
            ];
        };
        const before = seen();
        const frames = [];
        document.querySelector(`[data-testid=chat-item][data-chat-title="${title}"]`).click();
        const frame = () => {
            const now = seen();
            frames.push(now);
            if (now[0] === title && now[1] === title && now[2].length > 0) {
                const marks = {};
                for (const n of ['roost-open-held-shown', 'roost-open-held-cap', 'roost-open-reply', 'roost-open-prefetched']) {
                    marks[n] = performance.getEntriesByName(n).length;
                }
                done({ before, frames, marks });
            } else {
                requestAnimationFrame(frame);
            }
        };
        requestAnimationFrame(frame);
    "#;
    let lower = middle.to_lowercase();
    let opened = app.c().execute_async(script, vec![json!(middle)]).await?;
    let marks = &opened["marks"];
    assert_eq!(
        marks["roost-open-prefetched"],
        json!(0),
        "nothing read ahead: {opened}"
    );
    assert_eq!(marks["roost-open-reply"], json!(1), "{opened}");
    let before = &opened["before"];
    let last_lower = last.to_lowercase();
    assert_eq!(
        before,
        &json!([
            last,
            last,
            [format!("{last_lower} a"), format!("{last_lower} b")]
        ]),
        "{opened}"
    );
    let frames = opened["frames"].as_array().unwrap();
    let whole = json!([middle, middle, [format!("{lower} a"), format!("{lower} b")]]);
    assert_eq!(frames.last(), Some(&whole), "{opened}");
    let first_change = frames
        .iter()
        .position(|f| f != before)
        .expect("a frame that changed");
    if marks["roost-open-held-cap"] == json!(0) {
        assert_eq!(
            frames[first_change], whole,
            "the first frame that changed shows the chat whole: {opened}"
        );
    } else {
        // The window came later than about a frame: the selection first, with the previous
        // chat's rows until it came.
        assert_eq!(frames[first_change][1], json!(middle), "{opened}");
    }
    assert_eq!(
        marks["roost-open-held-shown"],
        json!(1),
        "held, then shown: {opened}"
    );
    assert!(app.page_errors().await.is_empty());
    app.quit().await;
    Ok(())
}

/// The frame that shows an opened chat builds only the rows in view (issue 11's click →
/// paint): the list's overscan rows, above the view, come once the chat is interactive (its
/// Resync button offered), and the rows in view stay where they were.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a display, tauri-driver and the built app: run under xvfb-run (see the module docs)"]
async fn an_open_renders_the_rows_in_view_first_and_the_overscan_rows_once_interactive()
-> Result<()> {
    let server = spawn_test_server().await;
    // Listed newest first: R, Q, Long, P, Short. With Short open the UI reads ahead P, R and Q
    // while idle, never Long: its open is the list's own (no staged rows).
    chat_with_messages(&server, "Short", &["s one", "s two"]).await;
    chat_with_messages(&server, "P", &["p"]).await;
    let texts: Vec<String> = (1..=40).map(|n| format!("long {n}")).collect();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    chat_with_messages(&server, "Long", &refs).await;
    chat_with_messages(&server, "Q", &["q"]).await;
    chat_with_messages(&server, "R", &["r"]).await;
    let desktop = Desktop::new(Some((server.base_url(), server.token("alice"))));
    let app = desktop.launch().await?;
    // Read once, so it opens at its newest rows.
    app.open_chat("Long").await?;
    app.open_chat("Short").await?;
    app.wait_seqs(&[1, 2]).await?;
    app.wait_online().await?;
    // Each row of the list: its seq, its top in the list's content, and whether any of it is
    // in view once the list is at its bottom (where an open shows it: the frame that renders
    // the rows scrolls there before it paints, after these checks may have run).
    let rows = r#"
        const list = document.querySelector('[data-testid=messages]');
        const view = list.getBoundingClientRect();
        const bottom = list.scrollHeight - list.clientHeight;
        return Array.from(list.querySelectorAll('[data-testid=message]')).map((r) => {
            const b = r.getBoundingClientRect();
            const top = Math.round(b.top - view.top + list.scrollTop);
            return [Number(r.dataset.seq), top, top + b.height > bottom && top < bottom + list.clientHeight];
        });
    "#;
    let script = format!(
        r#"
        const [done] = arguments;
        const rows = () => {{ {rows} }};
        document.querySelector('[data-testid=chat-item][data-chat-title="Long"]').click();
        const frame = () => {{
            const heading = document.querySelector('[data-testid=chat-title]');
            const shown = rows();
            if (heading && heading.textContent === 'Long' && shown.some((r) => r[0] === 40)) {{
                done(shown);
            }} else {{
                requestAnimationFrame(frame);
            }}
        }};
        requestAnimationFrame(frame);
    "#
    );
    let first = app.c().execute_async(&script, vec![]).await?;
    let first = first.as_array().unwrap().clone();
    assert!(
        first.iter().all(|r| r[2] == json!(true)),
        "only rows in view in the open's frame: {first:?}"
    );
    app.wait_js(
        "Resync offered",
        "return !!document.querySelector('[data-testid=resync-button]');",
        |v| *v == json!(true),
    )
    .await?;
    let later = app
        .wait_js("the overscan rows", rows, |v| {
            v.as_array()
                .is_some_and(|rows| rows.iter().any(|r| r[2] == json!(false)))
        })
        .await?;
    let later = later.as_array().unwrap().clone();
    for row in &first {
        assert!(later.contains(row), "{row} stayed where it was: {later:?}");
    }
    assert!(app.page_errors().await.is_empty());
    app.quit().await;
    Ok(())
}
