//! The only module that talks to Tauri: `window.__TAURI__.core.invoke` (enabled by
//! `app.withGlobalTauri`) and `window.__TAURI__.core.Channel` for the shell's ordered events.
//! Components never call Tauri directly; they call these functions.
//!
//! Values cross as JSON text (`JSON.parse` / `JSON.stringify`) so every serde shape of
//! `roost_proto::app` (tagged enums, `serde_json::Value` bodies, u64 seqs) round-trips exactly.
//! Chat windows (`open_chat`, `cached_window`: tens of KB on the path of every open) come as
//! raw JSON bytes (an `ArrayBuffer`) decoded once, here, in wasm (issue 11's click → paint).
//! The commands of a switch (`open_chat`, `close_chat`) are sent when their
//! function is called, not when their future is first polled: a click handler's open leaves
//! before the UI re-renders, and a close and an open reach the shell in the order made even
//! when several switches run in one task. The others are sent when first polled.

use roost_model::app::{
    Anchor, AppStatus, CacheMapView, ChatEntry, ChatWindowView, IpcError, IpcErrorKind,
    LoadOlderOutcome, OutboxItem, ResyncOutcome, UiEvent,
};
use roost_proto::{ChatId, Message, MessageId, Seq};
use serde::de::DeserializeOwned;
use serde_json::json;
use wasm_bindgen::prelude::*;

#[wasm_bindgen]
extern "C" {
    /// Tauri's `invoke`, called at once: its promise is awaited later.
    #[wasm_bindgen(catch, js_namespace = ["window", "__TAURI__", "core"], js_name = invoke)]
    fn tauri_invoke_now(cmd: &str, args: JsValue) -> Result<js_sys::Promise, JsValue>;

    #[wasm_bindgen(js_namespace = ["window", "__TAURI__", "core"], js_name = Channel)]
    type TauriChannel;

    #[wasm_bindgen(constructor, js_namespace = ["window", "__TAURI__", "core"], js_class = "Channel")]
    fn new() -> TauriChannel;

    #[wasm_bindgen(method, setter, js_name = onmessage)]
    fn set_onmessage(this: &TauriChannel, handler: &js_sys::Function);
}

/// Whether the page runs inside the Tauri webview (false in a plain browser).
pub fn tauri_available() -> bool {
    let Some(window) = web_sys::window() else {
        return false;
    };
    js_sys::Reflect::get(&window, &JsValue::from_str("__TAURI__")).is_ok_and(|v| !v.is_undefined())
}

fn ipc_error(kind: IpcErrorKind, message: impl Into<String>) -> IpcError {
    IpcError {
        kind,
        message: message.into(),
    }
}

fn to_js(value: &serde_json::Value) -> Result<JsValue, IpcError> {
    js_sys::JSON::parse(&value.to_string())
        .map_err(|_| ipc_error(IpcErrorKind::Internal, "could not encode arguments"))
}

fn from_js<T: DeserializeOwned>(value: &JsValue) -> Result<T, IpcError> {
    if value.is_undefined() || value.is_null() {
        return serde_json::from_str("null")
            .map_err(|e| ipc_error(IpcErrorKind::Internal, e.to_string()));
    }
    let text: String = js_sys::JSON::stringify(value)
        .map_err(|_| ipc_error(IpcErrorKind::Internal, "undecodable reply"))?
        .into();
    serde_json::from_str(&text)
        .map_err(|e| ipc_error(IpcErrorKind::Internal, format!("unexpected reply: {e}")))
}

/// A rejected invoke carries the shell's `{kind, message}`, or a plain string from Tauri itself
/// (e.g. a command the capability does not allow).
fn rejection(value: JsValue) -> IpcError {
    if let Ok(error) = from_js::<IpcError>(&value) {
        return error;
    }
    let message = value
        .as_string()
        .unwrap_or_else(|| "unknown error".to_string());
    ipc_error(IpcErrorKind::Unknown, message)
}

/// A JSON reply sent as raw bytes (an `ArrayBuffer`), decoded straight from them.
fn from_bytes<T: DeserializeOwned>(value: &JsValue) -> Result<T, IpcError> {
    if !value.is_instance_of::<js_sys::ArrayBuffer>() {
        return Err(ipc_error(IpcErrorKind::Internal, "undecodable reply"));
    }
    let bytes = js_sys::Uint8Array::new(value).to_vec();
    serde_json::from_slice(&bytes)
        .map_err(|e| ipc_error(IpcErrorKind::Internal, format!("unexpected reply: {e}")))
}

/// Sends `cmd` now and returns its reply's future.
fn send_now(
    cmd: &str,
    args: serde_json::Value,
) -> impl std::future::Future<Output = Result<JsValue, IpcError>> + 'static {
    let sent = if tauri_available() {
        to_js(&args).and_then(|args| tauri_invoke_now(cmd, args).map_err(rejection))
    } else {
        Err(ipc_error(
            IpcErrorKind::Internal,
            "not running inside the Roost app",
        ))
    };
    async move {
        wasm_bindgen_futures::JsFuture::from(sent?)
            .await
            .map_err(rejection)
    }
}

async fn invoke<T: DeserializeOwned>(cmd: &str, args: serde_json::Value) -> Result<T, IpcError> {
    from_js(&send_now(cmd, args).await?)
}

/// Sends `cmd` now; its future says only whether it succeeded (the reply is not decoded).
fn send_now_ignoring_reply(
    cmd: &str,
    args: serde_json::Value,
) -> impl std::future::Future<Output = Result<(), IpcError>> + 'static {
    let reply = send_now(cmd, args);
    async move { reply.await.map(|_| ()) }
}

/// A command whose reply is a [`ChatWindowView`] as JSON bytes, sent now.
fn invoke_window(
    cmd: &str,
    args: serde_json::Value,
) -> impl std::future::Future<Output = Result<ChatWindowView, IpcError>> + 'static {
    let reply = send_now(cmd, args);
    async move { from_bytes(&reply.await?) }
}

/// Opens the shell's ordered event channel; `on_event` gets every [`UiEvent`].
pub async fn subscribe(on_event: impl Fn(UiEvent) + 'static) -> Result<(), IpcError> {
    if !tauri_available() {
        return Err(ipc_error(
            IpcErrorKind::Internal,
            "not running inside the Roost app",
        ));
    }
    let channel = TauriChannel::new();
    let handler =
        Closure::<dyn Fn(JsValue)>::new(move |value: JsValue| match from_js::<UiEvent>(&value) {
            Ok(event) => on_event(event),
            Err(e) => web_sys::console::warn_1(&JsValue::from_str(&format!(
                "roost: dropped an event: {}",
                e.message
            ))),
        });
    channel.set_onmessage(handler.as_ref().unchecked_ref());
    // The channel lives as long as the page.
    handler.forget();
    let args = js_sys::Object::new();
    js_sys::Reflect::set(&args, &JsValue::from_str("onEvent"), &channel)
        .map_err(|_| ipc_error(IpcErrorKind::Internal, "could not pass the channel"))?;
    let sent = tauri_invoke_now("subscribe", args.into()).map_err(rejection)?;
    wasm_bindgen_futures::JsFuture::from(sent)
        .await
        .map_err(rejection)?;
    Ok(())
}

pub async fn app_status() -> Result<AppStatus, IpcError> {
    invoke("app_status", json!({})).await
}

pub async fn sign_in(server_url: &str, token: &str) -> Result<AppStatus, IpcError> {
    invoke(
        "sign_in",
        json!({ "serverUrl": server_url, "token": token }),
    )
    .await
}

pub async fn sign_out() -> Result<AppStatus, IpcError> {
    invoke("sign_out", json!({})).await
}

pub async fn chats() -> Result<Vec<ChatEntry>, IpcError> {
    invoke("chats", json!({})).await
}

/// Sent when called (see the module docs).
pub fn open_chat(
    chat_id: ChatId,
    anchor: Anchor,
) -> impl std::future::Future<Output = Result<ChatWindowView, IpcError>> + 'static {
    invoke_window("open_chat", json!({ "chatId": chat_id, "anchor": anchor }))
}

/// `open_chat` for a chat whose window the UI already shows (read ahead of the click, with
/// every change since applied): marks it open in the core; the reply's window is not decoded.
/// Sent when called.
pub fn open_chat_without_window(
    chat_id: ChatId,
    anchor: Anchor,
) -> impl std::future::Future<Output = Result<(), IpcError>> + 'static {
    send_now_ignoring_reply("open_chat", json!({ "chatId": chat_id, "anchor": anchor }))
}

/// `shown`: the newest seq of the chat the view showed (0: none); what arrived after it counts
/// as unread. Sent when called.
pub fn close_chat(
    chat_id: ChatId,
    shown: Seq,
) -> impl std::future::Future<Output = Result<(), IpcError>> + 'static {
    send_now_ignoring_reply("close_chat", json!({ "chatId": chat_id, "shown": shown }))
}

pub async fn cached_window(
    chat_id: ChatId,
    anchor: Anchor,
    limit: u32,
) -> Result<ChatWindowView, IpcError> {
    invoke_window(
        "cached_window",
        json!({ "chatId": chat_id, "anchor": anchor, "limit": limit }),
    )
    .await
}

pub async fn load_older(chat_id: ChatId) -> Result<LoadOlderOutcome, IpcError> {
    invoke("load_older", json!({ "chatId": chat_id })).await
}

pub async fn resync(chat_id: ChatId) -> Result<ResyncOutcome, IpcError> {
    invoke("resync", json!({ "chatId": chat_id })).await
}

pub async fn send(chat_id: ChatId, text: &str) -> Result<OutboxItem, IpcError> {
    invoke("send", json!({ "chatId": chat_id, "text": text })).await
}

pub async fn edit(chat_id: ChatId, message_id: MessageId, text: &str) -> Result<Message, IpcError> {
    invoke(
        "edit",
        json!({ "chatId": chat_id, "messageId": message_id, "text": text }),
    )
    .await
}

pub async fn delete(chat_id: ChatId, message_id: MessageId) -> Result<Message, IpcError> {
    invoke(
        "delete",
        json!({ "chatId": chat_id, "messageId": message_id }),
    )
    .await
}

pub async fn retry_failed(local_id: &str) -> Result<OutboxItem, IpcError> {
    invoke("retry_failed", json!({ "localId": local_id })).await
}

pub async fn cache_map(chat_id: ChatId) -> Result<CacheMapView, IpcError> {
    invoke("cache_map", json!({ "chatId": chat_id })).await
}

pub async fn leave_chat(chat_id: ChatId) -> Result<(), IpcError> {
    invoke("leave_chat", json!({ "chatId": chat_id })).await
}

pub async fn forget_chat(chat_id: ChatId) -> Result<(), IpcError> {
    invoke("forget_chat", json!({ "chatId": chat_id })).await
}

/// Milliseconds from the page's clock (monotonic).
pub fn now_ms() -> f64 {
    web_sys::window()
        .and_then(|w| w.performance())
        .map_or(0.0, |p| p.now())
}

// ----- search, verify & repair, storage budget (issue 12; types in roost_model::app_cache)

pub async fn search(
    chat_id: Option<ChatId>,
    query: &str,
) -> Result<roost_model::app_cache::SearchView, IpcError> {
    invoke("search", json!({ "chatId": chat_id, "query": query })).await
}

pub async fn fetch_ranges(
    chat_id: ChatId,
    ranges: &[roost_model::SeqRange],
) -> Result<roost_model::app_cache::FetchedView, IpcError> {
    invoke(
        "fetch_ranges",
        json!({ "chatId": chat_id, "ranges": ranges }),
    )
    .await
}

pub async fn verify_chat(chat_id: ChatId) -> Result<roost_model::app_cache::VerifyView, IpcError> {
    invoke("verify_chat", json!({ "chatId": chat_id })).await
}

pub async fn clear_cached_history(
    chat_id: Option<ChatId>,
) -> Result<roost_model::app_cache::ClearView, IpcError> {
    invoke("clear_cached_history", json!({ "chatId": chat_id })).await
}

pub async fn cache_budget(
    budget_bytes: Option<u64>,
) -> Result<roost_model::app_cache::BudgetView, IpcError> {
    invoke("cache_budget", json!({ "budgetBytes": budget_bytes })).await
}

// ----- the account switcher (issue 9; types in roost_model::accounts)

pub async fn accounts() -> Result<Vec<roost_model::accounts::AccountEntry>, IpcError> {
    invoke("accounts", json!({})).await
}

pub async fn switch_account(
    account: &roost_model::accounts::AccountKey,
) -> Result<AppStatus, IpcError> {
    invoke(
        "switch_account",
        json!({ "serverUrl": account.server_url, "userId": account.user_id }),
    )
    .await
}

pub async fn sign_out_account(
    account: &roost_model::accounts::AccountKey,
    remove_cache: bool,
) -> Result<AppStatus, IpcError> {
    invoke(
        "sign_out_account",
        json!({
            "serverUrl": account.server_url,
            "userId": account.user_id,
            "removeCache": remove_cache,
        }),
    )
    .await
}
