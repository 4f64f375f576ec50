//! First sign-in errors and a signed-in start while the server is down.

use crate::harness::*;

/// First sign-in to a server that cannot be reached: the form stays, says "Can't reach <url>"
/// with the reason in plain words, keeps what was typed, and nothing is saved.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a display, tauri-driver and the built app: run under xvfb-run (see the module docs)"]
async fn first_sign_in_to_an_unreachable_server_stays_on_the_form_and_says_why() -> Result<()> {
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        format!("http://{}", listener.local_addr()?)
    };
    let desktop = Desktop::new(None);
    let app = desktop.launch().await?;
    app.screenshot_of("sign-in-form", "[data-testid=signin-submit]")
        .await?;
    copy_to_docs("sign-in-form")?;
    app.submit_sign_in(&closed, "bogus-token").await?;
    let message = app.wait_sign_in_error().await?;
    assert_eq!(
        message,
        format!(
            "Can't reach {closed}: the connection was refused. Is the server running, and is the port right?"
        )
    );
    assert_eq!(app.sign_in_fields().await?, json!([closed, "bogus-token"]));
    assert_eq!(app.count("[data-testid=layout]").await?, 0, "left the form");
    assert!(
        !desktop.settings_file().exists(),
        "saved a sign-in that failed"
    );
    app.screenshot_of("sign-in-unreachable", "[data-testid=signin-error]")
        .await?;
    copy_to_docs("sign-in-unreachable")?;
    app.quit().await;
    Ok(())
}

/// First sign-in with a token the server refuses: "The server did not accept this token", the
/// form keeps what was typed; fixing the token then signs in. Afterwards the signed-in person
/// starting with the server down goes straight to the cached chats (no check, no form).
#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a display, tauri-driver and the built app: run under xvfb-run (see the module docs)"]
async fn refused_token_stays_on_the_form_and_a_signed_in_start_offline_shows_the_cache()
-> Result<()> {
    let mut server = spawn_test_server().await;
    chat_with_messages(&server, "Welcome", &["hello alice"]).await;
    let url = server.base_url();
    let desktop = Desktop::new(None);
    let app = desktop.launch().await?;
    app.submit_sign_in(&url, "bogus-token").await?;
    let message = app.wait_sign_in_error().await?;
    assert_eq!(
        message,
        roost_model::human::TOKEN_REFUSED,
        "the protocol's words instead of a sentence"
    );
    assert_eq!(app.sign_in_fields().await?, json!([url, "bogus-token"]));
    assert!(!desktop.settings_file().exists());
    app.screenshot_of("sign-in-token-refused", "[data-testid=signin-error]")
        .await?;
    copy_to_docs("sign-in-token-refused")?;

    app.submit_sign_in(&url, &server.token("alice")).await?;
    app.open_chat("Welcome").await?;
    app.wait_seqs(&[1]).await?;
    assert!(
        desktop.settings_file().exists(),
        "the sign-in was not saved"
    );
    app.quit().await;

    server.stop().await;
    let app = desktop.launch().await?;
    app.open_chat("Welcome").await?;
    app.wait_seqs(&[1]).await?;
    assert_eq!(app.count("[data-testid=sign-in]").await?, 0);
    app.screenshot("h-signed-in-offline-start").await?;
    app.quit().await;
    Ok(())
}
