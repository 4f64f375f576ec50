//! The account switcher's commands: list the accounts signed in on this device, switch to one
//! without typing its token, sign one out (optionally removing its cache). Thin: the list's
//! rules are `roost_model::accounts`, the caches `roost_core::account`, the saved credentials
//! and the running client `session`.

use crate::error::ShellResult;
use crate::session::AppState;
use roost_model::accounts::{AccountEntry, AccountKey};
use roost_model::app::AppStatus;
use roost_proto::UserId;
use tauri::{AppHandle, State};

/// The accounts signed in on this device, in the order they were added, the current marked.
#[tauri::command]
pub async fn accounts(state: State<'_, AppState>) -> ShellResult<Vec<AccountEntry>> {
    state.wait_started().await;
    Ok(state.accounts())
}

/// Opens another signed-in account from its cache (offline too); the current one's client
/// stops and its cache stays.
#[tauri::command]
pub async fn switch_account(
    app: AppHandle,
    state: State<'_, AppState>,
    server_url: String,
    user_id: UserId,
) -> ShellResult<AppStatus> {
    state
        .switch_account(
            &app,
            &AccountKey {
                server_url,
                user_id,
            },
        )
        .await
}

/// Forgets one account's credentials; with `remove_cache`, deletes its cache files too.
#[tauri::command]
pub async fn sign_out_account(
    state: State<'_, AppState>,
    server_url: String,
    user_id: UserId,
    remove_cache: bool,
) -> ShellResult<AppStatus> {
    state
        .sign_out_account(
            &AccountKey {
                server_url,
                user_id,
            },
            remove_cache,
        )
        .await
}
