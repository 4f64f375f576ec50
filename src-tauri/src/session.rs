//! The signed-in session: the `roost-core` [`Client`] (started with the app, stream connected in
//! the background so every message is cached whether or not a chat or window is open), the
//! persisted credentials, and the task that forwards core events to the UI as changes.
//!
//! Owns where things live on disk: one message cache per account (server + user) in the app
//! data dir, chosen at sign-in by `roost_core::account::resolve` (the CLI picks the same file
//! for the same server and token), `settings.json` in the app config dir (readable by the user
//! only): the accounts signed in on this device with their server URL, user and token, and
//! which one is current (a `roost_model::accounts::AccountBook`; files of earlier versions held
//! one `{server_url, token}` and are read as a book of that one account). Switching accounts
//! stops one client and opens the other's cache; nothing else is kept per account here.

use crate::desktop::DesktopEffects;
use crate::error::{ShellError, ShellResult};
use roost_core::account::write_private;
use roost_core::api::ApiConfig;
use roost_core::app_view;
use roost_core::{Client, ClientConfig, ClientEvent};
use roost_model::accounts::{AccountBook, AccountEntry, AccountKey, SavedAccount};
use roost_model::app::{AppStatus, UiEvent};
use roost_proto::UserId;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tauri::AppHandle;
use tauri::ipc::Channel;
use tokio::sync::{RwLock, broadcast, watch};

/// File name of the single message cache of versions before per-account caches (adopted by its
/// owner's first sign-in, see `roost_core::account`).
pub const CACHE_FILE_NAME: &str = "message_cache.db";
const SETTINGS_FILE_NAME: &str = "settings.json";

/// Persisted sign-in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credentials {
    pub server_url: String,
    pub token: String,
}

/// One signed-in client and its event forwarder.
#[derive(Debug)]
pub struct Session {
    pub client: Client,
    pub server_url: String,
    forwarder: tauri::async_runtime::JoinHandle<()>,
}

/// The UI's ordered event channel, when the UI has subscribed.
#[derive(Default)]
pub struct EventSink(Mutex<Option<Channel<UiEvent>>>);

impl std::fmt::Debug for EventSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let connected = self.0.lock().map(|c| c.is_some()).unwrap_or(false);
        f.debug_struct("EventSink")
            .field("connected", &connected)
            .finish()
    }
}

impl EventSink {
    fn set(&self, channel: Channel<UiEvent>) {
        *self.0.lock().unwrap() = Some(channel);
    }

    fn send(&self, event: UiEvent) {
        self.send_with(|| event);
    }

    /// Makes the event under the channel's lock and sends it: what `make` reads then is at
    /// least as new as every event sent before it (each is sent under the same lock, after the
    /// core changed the state it reports).
    fn send_with(&self, make: impl FnOnce() -> UiEvent) {
        if let Some(channel) = self.0.lock().unwrap().as_ref()
            && let Err(e) = channel.send(make())
        {
            tracing::debug!(error = %e, "the UI channel is gone");
        }
    }
}

/// Everything the commands share (`app.manage`d).
#[derive(Debug)]
pub struct AppState {
    pub session: RwLock<Option<Session>>,
    /// The UI's event channel (replaced when the UI reloads and subscribes again).
    channel: Arc<EventSink>,
    /// `true` once the start-up sign-in attempt (saved or env credentials) has finished, so
    /// the UI never flashes the sign-in form while the saved session is still opening.
    started: watch::Sender<bool>,
    data_dir: PathBuf,
    config_dir: PathBuf,
    /// The number of the last open or close of a chat the page asked for, counted as each
    /// request arrives (`commands::open_chat_reply`, `commands::close_chat`): in the page's
    /// order, whatever order their tasks then run in (`roost_core::RequestOrder`).
    open_close_requests: AtomicU64,
}

impl AppState {
    pub fn new(data_dir: PathBuf, config_dir: PathBuf) -> AppState {
        AppState {
            session: RwLock::new(None),
            channel: Arc::new(EventSink::default()),
            started: watch::channel(false).0,
            data_dir,
            config_dir,
            open_close_requests: AtomicU64::new(0),
        }
    }

    /// Numbers an open or close of a chat as it arrives from the page: call it where the
    /// request is received (on the thread that receives them in order), not in its task.
    pub fn number_open_close(&self) -> roost_core::RequestOrder {
        roost_core::RequestOrder(self.open_close_requests.fetch_add(1, Ordering::Relaxed) + 1)
    }

    fn settings_path(&self) -> PathBuf {
        self.config_dir.join(SETTINGS_FILE_NAME)
    }

    pub fn set_channel(&self, channel: Channel<UiEvent>) {
        self.channel.set(channel);
    }

    pub fn emit(&self, event: UiEvent) {
        self.channel.send(event);
    }

    pub fn mark_started(&self) {
        self.started.send_replace(true);
    }

    pub async fn wait_started(&self) {
        let mut started = self.started.subscribe();
        let _ = started.wait_for(|done| *done).await;
    }

    /// The current account's credentials and the user they were confirmed for (unknown in a
    /// file of an earlier version).
    fn load_current(&self) -> (Option<Credentials>, Option<UserId>) {
        if let Some(current) = self.load_book().current() {
            let credentials = Credentials {
                server_url: current.server_url.clone(),
                token: current.token.clone(),
            };
            return (Some(credentials), Some(current.user_id.clone()));
        }
        let legacy = std::fs::read_to_string(self.settings_path())
            .ok()
            .and_then(|text| serde_json::from_str::<Credentials>(&text).ok());
        (legacy, None)
    }

    /// The saved accounts (an empty book when there is no file, or one of an earlier version).
    fn load_book(&self) -> AccountBook {
        std::fs::read_to_string(self.settings_path())
            .ok()
            .and_then(|text| serde_json::from_str::<AccountBook>(&text).ok())
            .unwrap_or_default()
    }

    /// Writes the book (removes the file when no account is left).
    fn save_book(&self, book: &AccountBook) -> ShellResult<()> {
        let path = self.settings_path();
        if book.is_empty() {
            return match std::fs::remove_file(&path) {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                Err(e) => Err(ShellError::Internal(format!(
                    "could not remove {}: {e}",
                    path.display()
                ))),
            };
        }
        std::fs::create_dir_all(&self.config_dir).map_err(|e| {
            ShellError::Internal(format!(
                "could not create {}: {e}",
                self.config_dir.display()
            ))
        })?;
        let text =
            serde_json::to_string_pretty(book).map_err(|e| ShellError::Internal(e.to_string()))?;
        let tmp = path.with_extension("json.tmp");
        write_private(&tmp, text.as_bytes())
            .and_then(|()| std::fs::rename(&tmp, &path))
            .map_err(|e| ShellError::Internal(format!("could not write {}: {e}", path.display())))
    }

    /// The accounts signed in on this device, the current one marked.
    pub fn accounts(&self) -> Vec<AccountEntry> {
        self.load_book().entries()
    }

    pub async fn status(&self) -> AppStatus {
        let session = self.session.read().await;
        match session.as_ref() {
            None => AppStatus {
                signed_in: false,
                server_url: None,
                user_id: None,
                online: false,
            },
            Some(s) => AppStatus {
                signed_in: true,
                server_url: Some(s.server_url.clone()),
                user_id: s.client.me(),
                online: s.client.is_online(),
            },
        }
    }

    /// The signed-in session's cached chats as the `chats` command lists them (`None`: no
    /// session, or the cache could not be read).
    pub async fn chat_entries(&self) -> Option<Vec<roost_model::app::ChatEntry>> {
        let client = self.client().await.ok()?;
        let chats = client.chats().await.ok()?;
        Some(chats.iter().map(app_view::chat_entry).collect())
    }

    /// The signed-in client, or `NotSignedIn`.
    pub async fn client(&self) -> ShellResult<Client> {
        self.session
            .read()
            .await
            .as_ref()
            .map(|s| s.client.clone())
            .ok_or(ShellError::NotSignedIn)
    }

    /// This token was confirmed for an account on this server before, on this device: its
    /// cache is here (`roost_core::account`).
    pub fn account_known_here(&self, server_url: &str, token: &str) -> bool {
        normalize_server_url(server_url)
            .is_ok_and(|url| roost_core::account::known_user(&self.data_dir, &url, token).is_some())
    }

    /// Opens the cache and the core client for these credentials, starts the stream and the
    /// event forwarder. With `verify`, the token is checked against the server first (an
    /// unreachable server is accepted: the app works offline from the cache).
    pub async fn start_session(
        &self,
        app: &AppHandle,
        credentials: Credentials,
        verify: bool,
    ) -> ShellResult<AppStatus> {
        self.start_account(app, credentials, verify, None).await
    }

    /// The saved current account at launch: opened from its cache, offline too.
    pub async fn start_saved(&self, app: &AppHandle) -> ShellResult<Option<AppStatus>> {
        match self.load_current() {
            (Some(credentials), user) => self
                .start_account(app, credentials, false, user)
                .await
                .map(Some),
            (None, _) => Ok(None),
        }
    }

    /// Switches to an account signed in on this device, with its saved token: the current
    /// client stops (its cache stays) and the other opens from its own cache at once — no
    /// server check, so it works offline.
    pub async fn switch_account(
        &self,
        app: &AppHandle,
        key: &AccountKey,
    ) -> ShellResult<AppStatus> {
        let book = self.load_book();
        let saved = book.get(key).ok_or_else(|| {
            ShellError::InvalidInput(format!(
                "{} on {} is not signed in on this device",
                key.user_id, key.server_url
            ))
        })?;
        let credentials = Credentials {
            server_url: saved.server_url.clone(),
            token: saved.token.clone(),
        };
        self.start_account(app, credentials, false, Some(saved.user_id.clone()))
            .await
    }

    /// Opens the cache and the core client of these credentials (see [`Self::start_session`]);
    /// `user_hint` is the user they were confirmed for earlier (spares asking the server).
    async fn start_account(
        &self,
        app: &AppHandle,
        credentials: Credentials,
        verify: bool,
        user_hint: Option<UserId>,
    ) -> ShellResult<AppStatus> {
        let server_url = normalize_server_url(&credentials.server_url)?;
        if credentials.token.trim().is_empty() {
            return Err(ShellError::InvalidInput("the token is empty".into()));
        }
        let credentials = Credentials {
            server_url,
            token: credentials.token.trim().to_string(),
        };
        std::fs::create_dir_all(&self.data_dir).map_err(|e| {
            ShellError::Internal(format!("could not create {}: {e}", self.data_dir.display()))
        })?;
        // A cache belongs to one account: each (server, user) has its own file, so switching
        // accounts switches files and loses nothing of either. The user of a token is asked of
        // the server only the first time the token is used on this device.
        let account = roost_core::account::resolve_with(
            &self.data_dir,
            ApiConfig::new(&credentials.server_url, &credentials.token),
            user_hint,
        )
        .await?;
        crate::startup::note("account-resolved");
        // Stopped only now: a token whose account cannot be told leaves the current session
        // running (its cache lock is released before the next one is opened, which may be the
        // same file when an account signs in again).
        self.stop_session().await;
        let config: ClientConfig = account.config(&credentials.token);
        tracing::info!(cache = %account.cache_path.display(), user = %account.user_id, "this account's cache");
        let (client, info) = Client::open(config).await?;
        crate::startup::note("cache-opened");
        if let Some(corruption) = &info.corruption {
            tracing::warn!(moved_to = %corruption.moved_to.display(), reason = %corruption.reason, "the cache was corrupt: moved aside");
        }
        if verify {
            match client.refresh_chats().await {
                Ok(_) => {}
                Err(roost_core::Error::Offline(_)) => {
                    tracing::info!("server unreachable at sign-in; continuing offline");
                }
                Err(e) => {
                    client.shutdown().await;
                    return Err(e.into());
                }
            }
        }
        let mut book = self.load_book();
        book.use_account(SavedAccount {
            server_url: credentials.server_url.clone(),
            user_id: account.user_id.clone(),
            token: credentials.token.clone(),
        });
        self.save_book(&book)?;
        let events = client.subscribe();
        client.start_stream();
        crate::cache_commands::keep_within_budget(client.clone());
        let forwarder = tauri::async_runtime::spawn(forward_events(
            app.clone(),
            client.clone(),
            events,
            self.channel.clone(),
        ));
        *self.session.write().await = Some(Session {
            client: client.clone(),
            server_url: credentials.server_url.clone(),
            forwarder,
        });
        let status = self.status().await;
        // The stream may have connected since `status` was read, and its `Connection` event
        // gone out before this one: the connection state is read again under the channel's
        // lock, or the UI would end "offline" with the stream connected
        // (`roost_model::connection`).
        self.channel.send_with(|| UiEvent::Session {
            status: AppStatus {
                online: client.is_online(),
                ..status.clone()
            },
        });
        tracing::info!(server = %credentials.server_url, "signed in");
        Ok(status)
    }

    /// Stops the current session's client and closes its cache cleanly (sign-out, account
    /// switch, and the app's exit).
    pub(crate) async fn stop_session(&self) {
        if let Some(session) = self.session.write().await.take() {
            session.forwarder.abort();
            session.client.shutdown().await;
        }
    }

    /// Stops the client and forgets the current account's credentials (the other accounts
    /// stay signed in, listed on the sign-in screen). The account's cache stays (signing in
    /// again, or as another user and back, loses nothing); another account gets its own file.
    pub async fn sign_out(&self) -> ShellResult<AppStatus> {
        let current = self.load_book().current().map(SavedAccount::key);
        match current {
            Some(key) => self.sign_out_account(&key, false).await,
            None => {
                self.stop_session().await;
                // A file of an earlier version (one account, no user recorded).
                self.save_book(&AccountBook::default())?;
                self.emit_session().await
            }
        }
    }

    /// Signs one account out of this device: its credentials are forgotten (the current one's
    /// client stops first; another account's session goes on) and, with `remove_cache`, its
    /// cache files are deleted too.
    pub async fn sign_out_account(
        &self,
        key: &AccountKey,
        remove_cache: bool,
    ) -> ShellResult<AppStatus> {
        let mut book = self.load_book();
        if book.current().map(SavedAccount::key).as_ref() == Some(key) {
            self.stop_session().await;
        }
        book.remove(key);
        self.save_book(&book)?;
        if remove_cache {
            let removed =
                roost_core::account::remove_cache(&self.data_dir, &key.server_url, &key.user_id)
                    .await?;
            tracing::info!(user = %key.user_id, server = %key.server_url, removed, "removed an account's cache");
        }
        tracing::info!(user = %key.user_id, server = %key.server_url, "signed out");
        self.emit_session().await
    }

    async fn emit_session(&self) -> ShellResult<AppStatus> {
        let status = self.status().await;
        self.emit(UiEvent::Session {
            status: status.clone(),
        });
        Ok(status)
    }
}

/// `http(s)://host[:port]` without a trailing slash.
pub fn normalize_server_url(url: &str) -> ShellResult<String> {
    let url = url.trim().trim_end_matches('/');
    if !(url.starts_with("http://") || url.starts_with("https://")) || url.len() <= "https://".len()
    {
        return Err(ShellError::InvalidInput(format!(
            "{url:?} is not an http:// or https:// URL"
        )));
    }
    Ok(url.to_string())
}

/// Core events → UI changes, in order ([`app_view::ui_events`]: changed spans are read back from
/// the cache). Falling behind the core's broadcast tells the UI to reload instead of guessing.
async fn forward_events(
    app: AppHandle,
    client: Client,
    mut events: broadcast::Receiver<ClientEvent>,
    channel: Arc<EventSink>,
) {
    let mut desktop = DesktopEffects::new(app.clone());
    if let Ok(chats) = client.chats().await {
        desktop.seed(&chats);
    }
    loop {
        let event = match events.recv().await {
            Ok(event) => event,
            Err(broadcast::error::RecvError::Lagged(missed)) => {
                tracing::warn!(
                    missed,
                    "the UI fell behind the core's events: asking it to reload"
                );
                channel.send(UiEvent::Reload);
                continue;
            }
            Err(broadcast::error::RecvError::Closed) => break,
        };
        if let ClientEvent::ChatUpdated { chat } = &event {
            desktop.chat_updated(chat);
        }
        for ui_event in app_view::ui_events(&client, event).await {
            channel.send(ui_event);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use roost_model::fixtures::saved_account;

    #[test]
    fn a_settings_file_of_an_earlier_version_is_the_current_account() {
        let dir = tempfile::tempdir().unwrap();
        let state = AppState::new(dir.path().join("data"), dir.path().join("config"));
        std::fs::create_dir_all(dir.path().join("config")).unwrap();
        std::fs::write(
            state.settings_path(),
            r#"{"server_url":"http://127.0.0.1:7878","token":"old"}"#,
        )
        .unwrap();
        let (credentials, user) = state.load_current();
        assert_eq!(credentials.unwrap().token, "old");
        assert_eq!(user, None, "an old file never recorded the user");
        assert!(state.accounts().is_empty());
    }

    #[tokio::test]
    async fn signing_out_another_account_keeps_the_current_and_can_remove_the_cache() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let state = AppState::new(data.clone(), dir.path().join("config"));
        let mut book = AccountBook::default();
        book.use_account(saved_account("http://a", "bob", "tb"));
        book.use_account(saved_account("http://a", "alice", "ta"));
        state.save_book(&book).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(state.settings_path())
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0, "tokens readable by others: {mode:o}");
        }
        let bob_cache = roost_core::account::cache_path(&data, "http://a", &UserId::new("bob"));
        std::fs::create_dir_all(bob_cache.parent().unwrap()).unwrap();
        std::fs::write(&bob_cache, b"cache").unwrap();

        let bob = saved_account("http://a", "bob", "").key();
        state.sign_out_account(&bob, false).await.unwrap();
        assert!(bob_cache.exists(), "signing out keeps the cache");
        let rows = state.accounts();
        assert_eq!(rows.len(), 1);
        assert!(rows[0].current && rows[0].user_id == UserId::new("alice"));

        state.sign_out_account(&bob, true).await.unwrap();
        assert!(!bob_cache.exists(), "asked to remove the cache too");

        let alice = saved_account("http://a", "alice", "").key();
        state.sign_out_account(&alice, false).await.unwrap();
        assert!(!state.settings_path().exists(), "no account left: no file");
    }

    #[test]
    fn server_urls_are_normalized_or_rejected() {
        assert_eq!(
            normalize_server_url(" http://127.0.0.1:7878/ ").unwrap(),
            "http://127.0.0.1:7878"
        );
        assert!(normalize_server_url("127.0.0.1:7878").is_err());
        assert!(normalize_server_url("https://").is_err());
    }
}
