//! Accounts on one device (issue 9): each (server, user) has its own cache file; signing out and
//! in as someone else switches files, shows only that account's chats, and loses nothing of
//! either — the first account's cache is all there when it signs in again, even offline. The
//! account switcher (the footer's menu) moves between signed-in accounts without a token typed,
//! from each one's own cache, offline too, and a message queued in one is sent as that one.

use crate::harness::*;
use roost_faults::FaultProxy;

impl App {
    /// Signs out through the footer's button and waits for the form.
    pub(crate) async fn sign_out(&self) -> Result<()> {
        self.c()
            .find(Locator::Css("[data-testid=sign-out]"))
            .await?
            .click()
            .await?;
        self.c()
            .wait()
            .at_most(WAIT)
            .for_element(Locator::Css("[data-testid=sign-in]"))
            .await?;
        Ok(())
    }

    /// Opens the account menu. Right after start WebKitWebDriver sometimes answers a find with
    /// an empty "webdriver returned error" while the page settles (seen in 2 of ~6 runs): such
    /// an answer is retried a few times; a menu that never appears still fails.
    async fn open_account_menu(&self) -> Result<()> {
        let mut last = None;
        for _ in 0..5 {
            match self.try_open_account_menu().await {
                Ok(()) => return Ok(()),
                Err(e) => {
                    last = Some(e);
                    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
                }
            }
        }
        Err(last.expect("at least one attempt"))
    }

    async fn try_open_account_menu(&self) -> Result<()> {
        self.c()
            .wait()
            .at_most(WAIT)
            .for_element(Locator::Css("[data-testid=account-menu]"))
            .await?
            .click()
            .await?;
        self.c()
            .wait()
            .at_most(WAIT)
            .for_element(Locator::Css("[data-testid=account-menu-list]"))
            .await?;
        Ok(())
    }

    /// The menu's rows: `[user@server, current]`, in order.
    async fn menu_accounts(&self) -> Result<serde_json::Value> {
        self.wait_js(
            "the menu's accounts",
            "return Array.from(document.querySelectorAll('[data-testid=account-item]')).map(e => [e.dataset.account, e.getAttribute('aria-checked') === 'true']);",
            |v| v.as_array().is_some_and(|a| !a.is_empty()),
        )
        .await
    }

    /// Picks `user` on `server_url` in the footer's menu and waits until the footer shows it.
    async fn switch_account(&self, user: &str, server_url: &str) -> Result<()> {
        self.open_account_menu().await?;
        let item = format!("[data-testid=account-item][data-account=\"{user}@{server_url}\"]");
        self.c()
            .wait()
            .at_most(WAIT)
            .for_element(Locator::Css(&item))
            .await?
            .click()
            .await?;
        self.wait_account(user, server_url).await
    }

    async fn wait_account(&self, user: &str, server_url: &str) -> Result<()> {
        let expected = format!("{user}@{}", server_url.trim_start_matches("http://"));
        self.wait_js(
            "the footer's account",
            "const b = document.querySelector('[data-testid=account-menu]'); return b ? b.querySelector('.who').textContent + '@' + b.querySelector('.server').textContent : null;",
            |v| v.as_str() == Some(expected.as_str()),
        )
        .await?;
        Ok(())
    }

    /// "Add account…" in the menu: the sign-in form, the current account still signed in.
    async fn add_account(&self, server_url: &str, token: &str) -> Result<()> {
        self.open_account_menu().await?;
        self.c()
            .find(Locator::Css("[data-testid=add-account]"))
            .await?
            .click()
            .await?;
        self.submit_sign_in(server_url, token).await
    }

    async fn message_texts(&self) -> Result<serde_json::Value> {
        self.js("return Array.from(document.querySelectorAll('[data-testid=message-text]')).map(e => e.textContent);")
            .await
    }

    /// Titles of the listed chats, sorted.
    pub(crate) async fn chat_titles(&self) -> Result<Vec<String>> {
        let value = self
            .js("return Array.from(document.querySelectorAll('[data-testid=chat-item]')).map(e => e.dataset.chatTitle);")
            .await?;
        let mut titles: Vec<String> = serde_json::from_value(value)?;
        titles.sort();
        Ok(titles)
    }

    async fn wait_chat_titles(&self, expected: &[&str]) -> Result<()> {
        let mut expected: Vec<String> = expected.iter().map(|t| t.to_string()).collect();
        expected.sort();
        let expected = json!(expected);
        self.wait_js(
            "the chat list",
            "return Array.from(document.querySelectorAll('[data-testid=chat-item]')).map(e => e.dataset.chatTitle).sort();",
            |v| *v == expected,
        )
        .await?;
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a display, tauri-driver and the built app: run under xvfb-run (see the module docs)"]
async fn switching_accounts_switches_caches_and_loses_nothing() -> Result<()> {
    let mut server = spawn_test_server().await;
    let team = server.create_chat("Team", &["alice", "bob"]).await;
    for text in ["hello team", "lunch?"] {
        server.send("bob", team, text).await;
    }
    let notes = server.create_chat("Alice notes", &["alice", "carol"]).await;
    server.send("carol", notes, "for alice only").await;
    let bobs = server.create_chat("Bob and Carol", &["bob", "carol"]).await;
    server.send("carol", bobs, "for bob only").await;

    let desktop = Desktop::new(None);
    let app = desktop.launch().await?;

    // alice signs in and reads her chats: they are cached in her file.
    app.submit_sign_in(&server.base_url(), &server.token("alice"))
        .await?;
    app.wait_chat_titles(&["Alice notes", "Team"]).await?;
    app.open_chat("Alice notes").await?;
    app.wait_seqs(&[1]).await?;
    app.open_chat("Team").await?;
    app.wait_seqs(&[1, 2]).await?;

    // bob on the same device: only his chats, never alice's.
    app.sign_out().await?;
    app.submit_sign_in(&server.base_url(), &server.token("bob"))
        .await?;
    app.wait_chat_titles(&["Bob and Carol", "Team"]).await?;
    app.open_chat("Bob and Carol").await?;
    app.wait_seqs(&[1]).await?;
    app.screenshot_for_docs("account-bob").await?;
    assert!(
        !app.chat_titles()
            .await?
            .contains(&"Alice notes".to_string()),
        "bob never sees alice's chats"
    );

    // Two files, one per account, in the app's data dir.
    let accounts = desktop.data_dir().join("accounts");
    let files: Vec<String> = std::fs::read_dir(&accounts)?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".db"))
        .collect();
    assert_eq!(files.len(), 2, "one cache file per account: {files:?}");

    // alice again, with the server down: her cache is all there.
    app.sign_out().await?;
    server.stop().await;
    app.submit_sign_in(&server.base_url(), &server.token("alice"))
        .await?;
    app.wait_chat_titles(&["Alice notes", "Team"]).await?;
    app.open_chat("Alice notes").await?;
    app.wait_seqs(&[1]).await?;
    app.open_chat("Team").await?;
    app.wait_seqs(&[1, 2]).await?;
    let texts = app
        .js("return Array.from(document.querySelectorAll('[data-testid=message-text]')).map(e => e.textContent);")
        .await?;
    assert_eq!(texts, json!(["hello team", "lunch?"]));
    app.screenshot("account-alice-offline").await?;
    app.quit().await;
    Ok(())
}

/// The account switcher: alice and bob on one server (behind a proxy that can take it away)
/// and alice on a second server, added through "Add account…" without signing anyone out.
/// Switching through the menu (mouse and keyboard) shows each account's own chats from its own
/// cache — offline too, no token typed — and nothing of one in another; a message queued
/// offline as alice is not sent while bob is shown, and is sent as alice, once, when she is.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a display, tauri-driver and the built app: run under xvfb-run (see the module docs)"]
async fn the_account_switcher_moves_between_signed_in_accounts_each_from_its_own_cache()
-> Result<()> {
    let server = spawn_test_server().await;
    let team = server.create_chat("Team", &["alice", "bob"]).await;
    server.send("bob", team, "hello team").await;
    let notes = server.create_chat("Alice notes", &["alice", "carol"]).await;
    server.send("carol", notes, "for alice only").await;
    let bobs = server.create_chat("Bob and Carol", &["bob", "carol"]).await;
    server.send("carol", bobs, "for bob only").await;
    let proxy = FaultProxy::start(server.addr(), 9).await;
    let one = proxy.base_url();
    let other = spawn_test_server().await;
    let elsewhere = other.create_chat("Elsewhere", &["alice", "carol"]).await;
    other.send("carol", elsewhere, "on the other server").await;
    let two = other.base_url();

    let desktop = Desktop::new(None);
    let app = desktop.launch().await?;
    app.submit_sign_in(&one, &server.token("alice")).await?;
    app.wait_chat_titles(&["Alice notes", "Team"]).await?;
    app.open_chat("Team").await?;
    app.wait_seqs(&[1]).await?;

    // "Add account…": bob signs in; alice stays signed in (listed, not current).
    app.add_account(&one, &server.token("bob")).await?;
    app.wait_account("bob", &one).await?;
    app.wait_chat_titles(&["Bob and Carol", "Team"]).await?;
    app.open_chat("Bob and Carol").await?;
    app.wait_seqs(&[1]).await?;
    app.open_account_menu().await?;
    assert_eq!(
        app.menu_accounts().await?,
        json!([
            [format!("alice@{one}"), false],
            [format!("bob@{one}"), true]
        ])
    );
    app.keys(KEY_ESCAPE).await?;
    app.wait_js(
        "Escape returns to the button",
        "const e = document.activeElement; return e ? e.dataset.testid || null : null;",
        |v| *v == json!("account-menu"),
    )
    .await?;

    // alice on a second server: same user id, another account, its own cache.
    app.add_account(&two, &other.token("alice")).await?;
    app.wait_account("alice", &two).await?;
    app.wait_chat_titles(&["Elsewhere"]).await?;

    // The keyboard alone: ArrowDown opens the menu on its first row (alice on the first
    // server), Enter picks it.
    app.js("document.querySelector('[data-testid=account-menu]').focus(); return null;")
        .await?;
    app.wait_js(
        "the account button focused",
        "const e = document.activeElement; return e ? e.dataset.testid || null : null;",
        |v| *v == json!("account-menu"),
    )
    .await?;
    app.keys(KEY_DOWN).await?;
    app.wait_js(
        "the first row focused",
        "const e = document.activeElement; return e ? [e.getAttribute('role'), e.dataset.account] : null;",
        |v| *v == json!(["menuitemradio", format!("alice@{one}")]),
    )
    .await?;
    app.keys(KEY_ENTER).await?;
    app.wait_account("alice", &one).await?;
    app.wait_chat_titles(&["Alice notes", "Team"]).await?;

    app.open_account_menu().await?;
    app.menu_accounts().await?;
    app.screenshot_for_docs("account-switcher").await?;
    app.js("const s = document.querySelector('[data-testid=theme-select]'); s.value = 'dark'; s.dispatchEvent(new Event('change')); return null;").await?;
    app.wait_js(
        "dark",
        "return document.documentElement.dataset.theme;",
        |v| *v == json!("dark"),
    )
    .await?;
    app.screenshot_for_docs("account-switcher-dark").await?;
    app.js("const s = document.querySelector('[data-testid=theme-select]'); s.value = 'light'; s.dispatchEvent(new Event('change')); return null;").await?;
    app.keys(KEY_ESCAPE).await?;

    // The first server goes away. alice queues a message; it waits in her outbox.
    app.open_chat("Team").await?;
    app.wait_seqs(&[1]).await?;
    proxy.refuse_all(true);
    app.type_and_send("queued by alice").await?;
    app.wait_js(
        "alice's queued row",
        "return Array.from(document.querySelectorAll('[data-testid=pending-message]')).map(e => e.dataset.state);",
        |v| v.as_array().is_some_and(|a| a.len() == 1 && a[0] != json!("failed")),
    )
    .await?;

    // bob, offline: opens from his cache at once; alice's chats and queued message are not his.
    app.switch_account("bob", &one).await?;
    app.wait_chat_titles(&["Bob and Carol", "Team"]).await?;
    app.open_chat("Team").await?;
    app.wait_seqs(&[1]).await?;
    assert_eq!(app.message_texts().await?, json!(["hello team"]));
    assert_eq!(
        app.pending_statuses().await?,
        json!([]),
        "alice's outbox is not bob's"
    );
    // The server back while bob is shown: bob's client has nothing of alice's to send.
    proxy.heal();
    app.wait_online().await?;
    app.open_chat("Bob and Carol").await?;
    app.wait_seqs(&[1]).await?;
    assert_eq!(server.messages(team).await.len(), 1, "nothing sent as bob");

    // alice on the second server: only its chat.
    app.switch_account("alice", &two).await?;
    app.wait_chat_titles(&["Elsewhere"]).await?;
    app.open_chat("Elsewhere").await?;
    assert_eq!(app.message_texts().await?, json!(["on the other server"]));

    // alice on the first server again: her queued message is sent, as alice, once.
    app.switch_account("alice", &one).await?;
    app.open_chat("Team").await?;
    app.wait_seqs(&[1, 2]).await?;
    assert_eq!(app.pending_statuses().await?, json!([]));
    let on_server = server.messages(team).await;
    assert_eq!(on_server.len(), 2, "delivered exactly once");
    assert_eq!(on_server[1].author.as_str(), "alice");
    assert_eq!(on_server[1].body, json!({"text": "queued by alice"}));
    assert!(
        !app.chat_titles().await?.contains(&"Elsewhere".to_string()),
        "the other server's chat is not here"
    );

    // Three accounts, three cache files; signing bob out (from the sign-in screen's list)
    // forgets his token and keeps his cache.
    let caches = |dir: &std::path::Path| -> Result<usize> {
        Ok(std::fs::read_dir(dir)?
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().ends_with(".db"))
            .count())
    };
    let accounts_dir = desktop.data_dir().join("accounts");
    assert_eq!(caches(&accounts_dir)?, 3, "one cache file per account");
    app.open_account_menu().await?;
    app.c()
        .find(Locator::Css("[data-testid=add-account]"))
        .await?
        .click()
        .await?;
    let bob_row = format!("[data-testid=saved-account][data-account=\"bob@{one}\"]");
    app.c()
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css(&bob_row))
        .await?;
    app.screenshot_for_docs("account-sign-in-list").await?;
    app.js(&format!("document.querySelector('{bob_row}').parentElement.querySelector('[data-testid=saved-account-sign-out]').click(); return null;")).await?;
    app.wait_js(
        "bob gone from the list",
        "return Array.from(document.querySelectorAll('[data-testid=saved-account]')).map(e => e.dataset.account);",
        |v| *v == json!([format!("alice@{two}")]),
    )
    .await?;
    assert_eq!(caches(&accounts_dir)?, 3, "bob's cache stays");
    assert!(
        !std::fs::read_to_string(desktop.settings_file())?.contains(&server.token("bob")),
        "bob's token is forgotten"
    );
    app.c()
        .find(Locator::Css("[data-testid=cancel-add-account]"))
        .await?
        .click()
        .await?;
    app.wait_account("alice", &one).await?;
    app.quit().await;
    Ok(())
}
