//! Every command the UI may invoke (and nothing else: `src-tauri/capabilities/default.json`
//! allows exactly these). Each is a thin call into `roost-core`; results and errors are the IPC
//! types of `roost_proto::app`.

use crate::error::{ShellError, ShellResult};
use crate::session::{AppState, Credentials};
use roost_core::app_view;
use roost_model::app::{
    Anchor, AppStatus, CacheMapView, ChatEntry, ChatWindowView, LoadOlderOutcome, OutboxItem,
    ResyncOutcome, UiEvent,
};
use roost_proto::{ChatId, Message, MessageId, Seq};
use serde::Deserialize;
use tauri::Manager;
use tauri::ipc::{Channel, Invoke, InvokeBody, InvokeError, InvokeResolver, Response};
use tauri::{AppHandle, State};

/// Messages per window read from the cache when a chat is opened.
pub const OPEN_WINDOW_LIMIT: u32 = 200;
/// Upper bound of a `cached_window` request from the UI.
const MAX_WINDOW_LIMIT: u32 = 1000;

#[tauri::command]
pub async fn app_status(state: State<'_, AppState>) -> ShellResult<AppStatus> {
    state.wait_started().await;
    Ok(state.status().await)
}

/// When the shell reached each step of starting up (`startup`), epoch milliseconds: read by
/// the benchmark to break cold start into phases.
#[tauri::command]
pub fn startup_timeline() -> std::collections::BTreeMap<&'static str, f64> {
    crate::startup::timeline()
}

/// The page's start-up steps, handed over by `startup::report_when_painted`'s script when the
/// launch asked for them (`startup::REPORT_ENV`; the benchmark's direct launch).
#[tauri::command]
pub fn startup_report(page: serde_json::Value) -> Result<(), String> {
    crate::startup::write_report(page)
}

/// Registers the UI's ordered event channel (again after a reload of the page).
#[tauri::command]
pub async fn subscribe(state: State<'_, AppState>, on_event: Channel<UiEvent>) -> ShellResult<()> {
    state.set_channel(on_event);
    Ok(())
}

#[tauri::command]
pub async fn sign_in(
    app: AppHandle,
    state: State<'_, AppState>,
    server_url: String,
    token: String,
) -> ShellResult<AppStatus> {
    // Nothing is saved and the form is not left until the server answered as a Roost server
    // of this protocol and accepted the token: with no cache yet there is nothing to show
    // offline. (A saved session's start at launch does not come here: it opens offline.)
    // Except an account already on this device (its token was confirmed here before, e.g. one
    // signed out to switch accounts): with the server unreachable it opens its own cache
    // offline, like a start at launch.
    if let Err(e) = roost_core::verify_sign_in(&server_url, token.trim()).await {
        let known_here = matches!(e, roost_core::SignInError::Unreachable { .. })
            && state.account_known_here(&server_url, token.trim());
        tracing::info!(kind = e.kind(), error = ?e, known_here, "sign-in check failed");
        if !known_here {
            return Err(ShellError::SignIn(e));
        }
    }
    state
        .start_session(&app, Credentials { server_url, token }, true)
        .await
}

#[tauri::command]
pub async fn sign_out(state: State<'_, AppState>) -> ShellResult<AppStatus> {
    state.sign_out().await
}

/// Cached chats, most recent first (no network).
#[tauri::command]
pub async fn chats(state: State<'_, AppState>) -> ShellResult<Vec<ChatEntry>> {
    let client = state.client().await?;
    Ok(client
        .chats()
        .await?
        .iter()
        .map(app_view::chat_entry)
        .collect())
}

/// A window as the UI reads it: [`ChatWindowView`]'s JSON as raw bytes. Tauri hands bytes to
/// the page as an `ArrayBuffer` that the UI decodes once, in wasm; a serialisable value would
/// be serialised here, parsed by the page's `JSON.parse` and converted into Rust again (three
/// passes over ~60 KB for a 200-row window, on the path of every chat open: issue 11).
fn window_reply(window: ChatWindowView) -> ShellResult<Response> {
    serde_json::to_vec(&window)
        .map(Response::new)
        .map_err(|e| ShellError::Internal(format!("could not encode the window: {e}")))
}

/// Renders a chat from the cache (never waits for the network) and marks it open; the core
/// validates and, when partial, resyncs it in the background. The reply is a
/// [`ChatWindowView`] as JSON bytes ([`window_reply`]). The `open_chat` command, served by
/// [`replied_first`].
///
/// `order` is the request's number, taken as it arrived ([`AppState::number_open_close`]): an
/// open that runs after a later close of the chat only reads the window.
async fn open_chat_reply(
    state: &AppState,
    chat_id: ChatId,
    anchor: Anchor,
    order: roost_core::RequestOrder,
) -> ShellResult<Response> {
    let client = state.client().await?;
    let window = client
        .open_chat_in_order(chat_id, anchor, OPEN_WINDOW_LIMIT, order)
        .await?;
    window_reply(app_view::chat_window(window))
}

/// Tauri's invoke handler (`handler`, the generated one) with the two commands on the path of
/// a click served here: `open_chat` and `cached_window` (which reads a chat ahead of its
/// click), their replies handed to the page from the main thread's next turn.
///
/// Why: Tauri answers an async command from its runtime's thread, and wry queues that answer
/// to the GTK main loop at idle priority (`MainContext::invoke`), behind every other source
/// ready there — WebKit's messages, GTK's redraws — which a click's own frame makes plenty of.
/// Measured with stamps in the shell (100k chat, release, 101 opens): the idle-priority answer
/// came a median 0.04 ms, but up to 48 ms, after a high-priority one queued beside it. Here the
/// answer is queued at high priority, and from the main thread wry hands it to WebKit at once
/// (`g_main_context_invoke` runs the callback directly on the context's owner).
///
/// Arguments, errors and the reply are as the generated handler's; Tauri checks the
/// capability before any handler runs.
pub fn replied_first<R: tauri::Runtime>(
    handler: impl Fn(Invoke<R>) -> bool + Send + Sync + 'static,
) -> impl Fn(Invoke<R>) -> bool + Send + Sync + 'static {
    move |invoke| {
        let request = match WindowRequest::read(invoke.message.command(), invoke.message.payload())
        {
            Some(request) => request,
            None => return handler(invoke),
        };
        let Invoke {
            message, resolver, ..
        } = invoke;
        let app = message.webview().app_handle().clone();
        // An open is numbered here, as it arrives, in the page's order (not in the task below,
        // which runs when it runs); a read takes a number it does not use (they need only grow).
        let order = app.state::<AppState>().number_open_close();
        tauri::async_runtime::spawn(async move {
            let state = app.state::<AppState>();
            let reply = match request {
                Ok(WindowRequest::Open { chat_id, anchor }) => {
                    open_chat_reply(&state, chat_id, anchor, order).await
                }
                Ok(WindowRequest::Read {
                    chat_id,
                    anchor,
                    limit,
                }) => cached_window_reply(&state, chat_id, anchor, limit).await,
                Err(e) => Err(e),
            };
            answer_from_main_thread(resolver, reply);
        });
        true
    }
}

/// The two commands [`replied_first`] serves, with their arguments as the UI sends them
/// (`ui/src/ipc.rs`: the parameters in camelCase, as a generated handler reads them).
#[derive(Debug, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
enum WindowRequest {
    /// `open_chat`.
    #[serde(rename_all = "camelCase")]
    Open { chat_id: ChatId, anchor: Anchor },
    /// `cached_window`.
    #[serde(rename_all = "camelCase")]
    Read {
        chat_id: ChatId,
        anchor: Anchor,
        limit: u32,
    },
}

impl WindowRequest {
    /// `None` for any other command; malformed arguments are invalid input.
    fn read(command: &str, body: &InvokeBody) -> Option<ShellResult<WindowRequest>> {
        let variant = match command {
            "open_chat" => "open",
            "cached_window" => "read",
            _ => return None,
        };
        let InvokeBody::Json(value) = body else {
            return Some(Err(ShellError::InvalidInput(
                "arguments must be JSON".into(),
            )));
        };
        Some(
            WindowRequest::deserialize(serde_json::json!({ variant: value }))
                .map_err(|e| ShellError::InvalidInput(format!("invalid arguments: {e}"))),
        )
    }
}

/// Hands `reply` to the page from the main thread's next turn, ahead of the sources of lower
/// priority queued there ([`replied_first`]).
fn answer_from_main_thread<R: tauri::Runtime>(
    resolver: InvokeResolver<R>,
    reply: ShellResult<Response>,
) {
    let respond = move || resolver.respond(reply.map_err(InvokeError::from));
    #[cfg(target_os = "linux")]
    gtk::glib::MainContext::default().invoke_with_priority(gtk::glib::Priority::HIGH, respond);
    #[cfg(not(target_os = "linux"))]
    respond();
}

/// Marks a chat closed (its new messages count as unread). Numbered here, as the request
/// arrives — a command without `async` runs where the page's requests are received, in their
/// order — and closed in the background, where it cannot undo a later open of the chat that
/// happens to run first ([`AppState::number_open_close`], `roost_core::RequestOrder`). The
/// page does not wait for it: an error is logged.
///
/// `shown`: the newest seq of the chat the page showed (0: none); what arrived while it was
/// open and is not shown counts as unread (`Client::close_chat_in_order`).
#[tauri::command]
pub fn close_chat(app: AppHandle, state: State<'_, AppState>, chat_id: ChatId, shown: Seq) {
    let order = state.number_open_close();
    tauri::async_runtime::spawn(async move {
        let state = app.state::<AppState>();
        let closed: ShellResult<()> = async {
            let client = state.client().await?;
            Ok(client
                .close_chat_in_order(chat_id, order, Some(shown))
                .await?)
        }
        .await;
        if let Err(e) = closed {
            tracing::warn!(%chat_id, error = %e, "could not close the chat");
        }
    });
}

/// More of a chat from the cache alone (scrolling through cached history); a
/// [`ChatWindowView`] as JSON bytes ([`window_reply`]). The `cached_window` command, served by
/// [`replied_first`].
async fn cached_window_reply(
    state: &AppState,
    chat_id: ChatId,
    anchor: Anchor,
    limit: u32,
) -> ShellResult<Response> {
    if limit == 0 || limit > MAX_WINDOW_LIMIT {
        return Err(ShellError::InvalidInput(format!(
            "limit must be 1..={MAX_WINDOW_LIMIT}"
        )));
    }
    let client = state.client().await?;
    window_reply(app_view::chat_window(
        client.window(chat_id, anchor, limit).await?,
    ))
}

/// One page of history above the oldest cached message (the OlderHistory skeleton).
#[tauri::command]
pub async fn load_older(
    state: State<'_, AppState>,
    chat_id: ChatId,
) -> ShellResult<LoadOlderOutcome> {
    let client = state.client().await?;
    let report = client.load_older(chat_id).await?;
    Ok(LoadOlderOutcome {
        chat_id,
        fetched: report.fetched,
        reached_start: report.reached_start,
    })
}

/// The Resync button: missing messages only; a second press joins the running resync.
#[tauri::command]
pub async fn resync(state: State<'_, AppState>, chat_id: ChatId) -> ShellResult<ResyncOutcome> {
    let client = state.client().await?;
    let report = client.resync(chat_id).await?;
    Ok(app_view::resync_outcome(&report))
}

#[tauri::command]
pub async fn send(
    state: State<'_, AppState>,
    chat_id: ChatId,
    text: String,
) -> ShellResult<OutboxItem> {
    if text.trim().is_empty() {
        return Err(ShellError::InvalidInput("the message is empty".into()));
    }
    let client = state.client().await?;
    Ok(app_view::outbox_item(&client.send(chat_id, &text).await?))
}

#[tauri::command]
pub async fn edit(
    state: State<'_, AppState>,
    chat_id: ChatId,
    message_id: MessageId,
    text: String,
) -> ShellResult<Message> {
    if text.trim().is_empty() {
        return Err(ShellError::InvalidInput("the message is empty".into()));
    }
    let client = state.client().await?;
    Ok(client.edit(chat_id, message_id, &text).await?)
}

#[tauri::command]
pub async fn delete(
    state: State<'_, AppState>,
    chat_id: ChatId,
    message_id: MessageId,
) -> ShellResult<Message> {
    let client = state.client().await?;
    Ok(client.delete(chat_id, message_id).await?)
}

#[tauri::command]
pub async fn retry_failed(state: State<'_, AppState>, local_id: String) -> ShellResult<OutboxItem> {
    let client = state.client().await?;
    Ok(app_view::outbox_item(
        &client.retry_failed(&local_id).await?,
    ))
}

#[tauri::command]
pub async fn cache_map(state: State<'_, AppState>, chat_id: ChatId) -> ShellResult<CacheMapView> {
    let client = state.client().await?;
    Ok(app_view::cache_map(
        chat_id,
        &client.cache_map(chat_id).await?,
    ))
}

/// "Leave chat": the server removes the user; the chat stays on this device read-only with
/// what was cached (its row arrives as a `ChatUpdated` with `left`).
#[tauri::command]
pub async fn leave_chat(state: State<'_, AppState>, chat_id: ChatId) -> ShellResult<()> {
    let client = state.client().await?;
    Ok(client.leave_chat(chat_id).await?)
}

/// "Remove from this device": deletes every cached row of a left chat (the UI hears
/// `ChatRemoved`). Refused for a chat the user is still a member of.
#[tauri::command]
pub async fn forget_chat(state: State<'_, AppState>, chat_id: ChatId) -> ShellResult<()> {
    let client = state.client().await?;
    Ok(client.forget_chat(chat_id).await?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn chat() -> ChatId {
        roost_model::fixtures::chat_id(7)
    }

    /// The arguments as the UI sends them (`ui/src/ipc.rs`), read as Tauri's generated
    /// handler reads them.
    #[test]
    fn window_arguments_are_read_as_the_ui_sends_them() {
        let open = InvokeBody::Json(json!({ "chatId": chat(), "anchor": { "type": "newest" } }));
        assert_eq!(
            WindowRequest::read("open_chat", &open).unwrap().unwrap(),
            WindowRequest::Open {
                chat_id: chat(),
                anchor: Anchor::Newest
            }
        );
        let read = InvokeBody::Json(json!({
            "chatId": chat(),
            "anchor": { "type": "around", "seq": 40 },
            "limit": 20,
        }));
        assert_eq!(
            WindowRequest::read("cached_window", &read)
                .unwrap()
                .unwrap(),
            WindowRequest::Read {
                chat_id: chat(),
                anchor: Anchor::Around { seq: 40 },
                limit: 20
            }
        );
        assert!(WindowRequest::read("close_chat", &open).is_none());
    }

    #[test]
    fn missing_or_malformed_window_arguments_are_invalid_input() {
        let without_limit =
            InvokeBody::Json(json!({ "chatId": chat(), "anchor": { "type": "newest" } }));
        let bodies = [
            (without_limit, "cached_window"),
            (
                InvokeBody::Json(json!({ "anchor": { "type": "newest" } })),
                "open_chat",
            ),
            (
                InvokeBody::Json(json!({ "chatId": "not a chat", "anchor": { "type": "newest" } })),
                "open_chat",
            ),
            (InvokeBody::Raw(vec![1, 2, 3]), "open_chat"),
        ];
        for (body, command) in bodies {
            let error = WindowRequest::read(command, &body).unwrap().unwrap_err();
            assert_eq!(
                error.kind(),
                roost_model::app::IpcErrorKind::InvalidInput,
                "{body:?}"
            );
        }
    }
}
