//! Issue 11's click → paint, a mouse's click: the chat read ahead on pointerdown, its rows
//! rendered hidden before the click and shown by it, never stale.

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
        return Array.from(document.querySelectorAll(`[data-testid=${list}] [data-testid=message]`)).map((r) => { \
          const b = r.getBoundingClientRect(); \
          return [Number(r.dataset.seq), r.querySelector('[data-testid=message-text]').textContent, \
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
    app.wait_js(
        "the staged rows gone",
        "return document.querySelectorAll('[data-testid=messages-ahead] [data-testid=message]').length;",
        |v| *v == json!(0),
    )
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
    app.wait_js(
        "the staged rows gone",
        "return document.querySelectorAll('[data-testid=messages-ahead] [data-testid=message]').length;",
        |v| *v == json!(0),
    )
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
