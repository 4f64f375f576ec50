//! The signed-in session: the `roost-core` [`Client`] (started with the app, stream connected in
//! the background so every message is cached whether or not a chat or window is open), the
//! persisted credentials, and the task that forwards core events to the UI as changes.
//!
//! Owns where things live on disk: one message cache per account (server + user) in the app
//! data dir, chosen at sign-in by `roost_core::account::resolve` (the CLI picks the same file
//! for the same server and token), `settings.json` (server URL + token, readable by the user
//! only) in the app config dir.

use crate::desktop::DesktopEffects;
use crate::error::{ShellError, ShellResult};
use roost_core::account::write_private;
use roost_core::api::ApiConfig;
use roost_core::app_view;
use roost_core::{Client, ClientConfig, ClientEvent};
use roost_model::app::{AppStatus, UiEvent};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
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
        if let Some(channel) = self.0.lock().unwrap().as_ref()
            && let Err(e) = channel.send(event)
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
}

impl AppState {
    pub fn new(data_dir: PathBuf, config_dir: PathBuf) -> AppState {
        AppState {
            session: RwLock::new(None),
            channel: Arc::new(EventSink::default()),
            started: watch::channel(false).0,
            data_dir,
            config_dir,
        }
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

    pub fn load_credentials(&self) -> Option<Credentials> {
        let text = std::fs::read_to_string(self.settings_path()).ok()?;
        serde_json::from_str(&text).ok()
    }

    fn save_credentials(&self, credentials: Option<&Credentials>) -> ShellResult<()> {
        let path = self.settings_path();
        match credentials {
            None => match std::fs::remove_file(&path) {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                Err(e) => Err(ShellError::Internal(format!(
                    "could not remove {}: {e}",
                    path.display()
                ))),
            },
            Some(credentials) => {
                std::fs::create_dir_all(&self.config_dir).map_err(|e| {
                    ShellError::Internal(format!(
                        "could not create {}: {e}",
                        self.config_dir.display()
                    ))
                })?;
                let text = serde_json::to_string_pretty(credentials)
                    .map_err(|e| ShellError::Internal(e.to_string()))?;
                write_private(&path, text.as_bytes()).map_err(|e| {
                    ShellError::Internal(format!("could not write {}: {e}", path.display()))
                })
            }
        }
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
        let server_url = normalize_server_url(&credentials.server_url)?;
        if credentials.token.trim().is_empty() {
            return Err(ShellError::InvalidInput("the token is empty".into()));
        }
        let credentials = Credentials {
            server_url,
            token: credentials.token.trim().to_string(),
        };
        self.stop_session().await;
        std::fs::create_dir_all(&self.data_dir).map_err(|e| {
            ShellError::Internal(format!("could not create {}: {e}", self.data_dir.display()))
        })?;
        // A cache belongs to one account: each (server, user) has its own file, so switching
        // accounts switches files and loses nothing of either. The user of a token is asked of
        // the server only the first time the token is used on this device.
        let account = roost_core::account::resolve_with(
            &self.data_dir,
            ApiConfig::new(&credentials.server_url, &credentials.token),
            None,
        )
        .await?;
        let config: ClientConfig = account.config(&credentials.token);
        tracing::info!(cache = %account.cache_path.display(), user = %account.user_id, "this account's cache");
        let (client, info) = Client::open(config).await?;
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
        self.save_credentials(Some(&credentials))?;
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
            client,
            server_url: credentials.server_url.clone(),
            forwarder,
        });
        let status = self.status().await;
        self.emit(UiEvent::Session {
            status: status.clone(),
        });
        tracing::info!(server = %credentials.server_url, "signed in");
        Ok(status)
    }

    async fn stop_session(&self) {
        if let Some(session) = self.session.write().await.take() {
            session.forwarder.abort();
            session.client.shutdown().await;
        }
    }

    /// Stops the client and forgets the credentials. The account's cache stays (signing in
    /// again, or as another user and back, loses nothing); another account gets its own file.
    pub async fn sign_out(&self) -> ShellResult<AppStatus> {
        self.stop_session().await;
        self.save_credentials(None)?;
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
