//! Accounts on one device (issue 9): each (server, user) has its own cache file; signing out and
//! in as someone else switches files, shows only that account's chats, and loses nothing of
//! either — the first account's cache is all there when it signs in again, even offline.

use crate::harness::*;

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
