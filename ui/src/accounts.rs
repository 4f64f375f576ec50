//! The account switcher (issue 9): the accounts signed in on this device, in a menu from the
//! sidebar's footer and listed on the sign-in screen. Picking one opens its own cache at once
//! (no token typed, offline too); "Add account" shows the sign-in form while the current
//! account stays signed in; "Sign out" forgets the current account's credentials and keeps its
//! cached messages, or removes them when asked (after a confirmation). The list lives in the
//! shell (`roost_model::accounts`); the model holds the copy the UI shows, fetched again on
//! every session change.
//!
//! Keyboard: the menu button opens the menu with Enter, Space or ArrowDown and focuses its
//! first item; ArrowUp / ArrowDown (wrapping), Home and End move; Escape closes it and returns
//! to the button; Tab closes it. ARIA: a `menu` of `menuitemradio` rows (checked = current)
//! and `menuitem` actions; the removal confirmation is an `alertdialog`.

use crate::app::{Model, apply_event, focus_selector, show_error};
use crate::ipc;
use leptos::prelude::*;
use leptos::task::spawn_local;
use roost_model::accounts::{AccountEntry, AccountKey};
use roost_model::app::{AppStatus, IpcError, UiEvent};

/// `127.0.0.1:7878` of `http://127.0.0.1:7878` (the scheme says little to a reader).
pub fn server_label(server_url: &str) -> &str {
    server_url
        .split_once("://")
        .map_or(server_url, |(_, rest)| rest)
}

/// The initial shown in an account's badge.
pub fn initial(user: &str) -> String {
    user.chars()
        .next()
        .map(|c| c.to_uppercase().collect())
        .unwrap_or_else(|| "?".into())
}

/// `next` shows another account than `previous` while signed in (a switch, or a sign-in as
/// someone else from "Add account"): what the UI shows of the previous account must go.
pub fn account_changed(previous: Option<&AppStatus>, next: &AppStatus) -> bool {
    let Some(previous) = previous else {
        return false;
    };
    if !(previous.signed_in && next.signed_in) {
        return false;
    }
    let users_differ = match (&previous.user_id, &next.user_id) {
        (Some(a), Some(b)) => a != b,
        _ => false,
    };
    previous.server_url != next.server_url || users_differ
}

/// The menu item to focus after `key` with `current` focused, among `len` items (arrows
/// wrap, as menus do); `None` when the key does not move.
pub fn menu_key(key: &str, current: Option<usize>, len: usize) -> Option<usize> {
    if len == 0 {
        return None;
    }
    match key {
        "ArrowDown" => Some(current.map_or(0, |i| (i + 1) % len)),
        "ArrowUp" => Some(current.map_or(len - 1, |i| (i + len - 1) % len)),
        "Home" => Some(0),
        "End" => Some(len - 1),
        _ => None,
    }
}

/// Fetches the list of accounts into the model.
pub(crate) fn refresh_accounts(model: Model) {
    spawn_local(async move {
        match ipc::accounts().await {
            Ok(list) => model.accounts.set(list),
            Err(e) => show_error(model, &e),
        }
    });
}

/// Switches to a signed-in account; on failure the shell's real state is read back (the
/// previous client may have stopped) and `on_error` says why.
pub(crate) fn switch_to(model: Model, key: AccountKey, on_error: Callback<IpcError>) {
    spawn_local(async move {
        match ipc::switch_account(&key).await {
            Ok(status) => {
                model.adding_account.set(false);
                apply_event(model, UiEvent::Session { status });
            }
            Err(e) => {
                if let Ok(status) = ipc::app_status().await {
                    apply_event(model, UiEvent::Session { status });
                }
                on_error.run(e);
            }
        }
    });
}

fn sign_out_current(model: Model, remove_cache: bool) {
    let current = model
        .accounts
        .with_untracked(|a| a.iter().find(|e| e.current).map(AccountEntry::key));
    spawn_local(async move {
        let result = match (&current, remove_cache) {
            (Some(key), _) => ipc::sign_out_account(key, remove_cache).await,
            (None, _) => ipc::sign_out().await,
        };
        match result {
            Ok(status) => apply_event(model, UiEvent::Session { status }),
            Err(e) => show_error(model, &e),
        }
    });
}

const MENU_ID: &str = "account-menu-list";

fn focus_menu_item(index: usize) {
    request_animation_frame(move || {
        let selector = format!("#{MENU_ID} [data-menu-index=\"{index}\"]");
        if let Some(el) = document().query_selector(&selector).ok().flatten()
            && let Ok(el) = wasm_bindgen::JsCast::dyn_into::<web_sys::HtmlElement>(el)
        {
            let _ = el.focus();
        }
    });
}

fn focused_menu_index() -> Option<usize> {
    document()
        .active_element()?
        .get_attribute("data-menu-index")?
        .parse()
        .ok()
}

/// The account button of the sidebar's footer and its menu.
#[component]
pub fn AccountMenu() -> impl IntoView {
    let model = expect_context::<Model>();
    let open = RwSignal::new(false);
    let confirm_remove = RwSignal::new(false);
    let status = move || model.status.get();
    let who = move || {
        status()
            .and_then(|s| s.user_id)
            .map(|u| u.to_string())
            .unwrap_or_default()
    };
    let server = move || {
        status()
            .and_then(|s| s.server_url)
            .map(|u| server_label(&u).to_string())
            .unwrap_or_default()
    };
    let accounts = move || model.accounts.get();
    let close = move |focus_button: bool| {
        open.set(false);
        if focus_button {
            focus_selector("[data-testid=account-menu]");
        }
    };
    let show = move || {
        refresh_accounts(model);
        open.set(true);
        focus_menu_item(0);
    };
    let on_button_key = move |ev: web_sys::KeyboardEvent| {
        if ev.key() == "ArrowDown" {
            ev.prevent_default();
            show();
        }
    };
    // Accounts, then "Add account", "Sign out", "Sign out and remove…".
    let on_menu_key = move |ev: web_sys::KeyboardEvent| {
        on_menu_keydown(&ev, close, model.accounts.with_untracked(Vec::len) + 3);
    };
    let on_error = Callback::new(move |e: IpcError| show_error(model, &e));
    let pick = move |entry: AccountEntry| {
        close(false);
        if !entry.current {
            switch_to(model, entry.key(), on_error);
        }
    };
    view! {
        <div class="account-menu">
            <button type="button" class="account-button" data-testid="account-menu"
                aria-haspopup="menu" aria-controls=MENU_ID
                aria-expanded=move || open.get().to_string()
                title=move || format!("{} on {} — switch account", who(), server())
                on:click=move |_| if open.get_untracked() { close(false) } else { show() }
                on:keydown=on_button_key>
                <span class="account-badge" aria-hidden="true">{move || initial(&who())}</span>
                <span class="account-names">
                    <span class="who">{who}</span>
                    <span class="server">{server}</span>
                </span>
                <span class="caret" aria-hidden="true">"▾"</span>
            </button>
            {move || open.get().then(|| view! {
                <div class="menu-backdrop" on:click=move |_| close(false)></div>
                <div class="account-menu-list" role="menu" id=MENU_ID aria-label="Accounts"
                    data-testid="account-menu-list" on:keydown=on_menu_key>
                    {accounts().into_iter().enumerate()
                        .map(|(index, entry)| account_item(index, entry, pick))
                        .collect_view()}
                    <div role="separator" class="menu-separator"></div>
                    {menu_actions(model, close, confirm_remove, who)}
                </div>
            })}
            {move || confirm_remove.get().then(|| confirm_remove_dialog(model, confirm_remove, who))}
        </div>
    }
}

/// A key in the open menu of `item_count` items: Escape closes it and returns to the button, Tab
/// closes it, the arrows, Home and End move between the items ([`menu_key`]).
fn on_menu_keydown(ev: &web_sys::KeyboardEvent, close: impl Fn(bool), item_count: usize) {
    match ev.key().as_str() {
        "Escape" => {
            ev.prevent_default();
            ev.stop_propagation();
            close(true);
        }
        "Tab" => close(false),
        key => {
            if let Some(i) = menu_key(key, focused_menu_index(), item_count) {
                ev.prevent_default();
                focus_menu_item(i);
            }
        }
    }
}

/// The menu's actions below the accounts: "Add account…", "Sign out" and "Sign out and remove
/// its messages…" (which asks first, through `confirm_remove`). Each closes the menu.
fn menu_actions(
    model: Model,
    close: impl Fn(bool) + Copy + Send + Sync + 'static,
    confirm_remove: RwSignal<bool>,
    who: impl Fn() -> String + Copy + Send + Sync + 'static,
) -> impl IntoView {
    view! {
        <button type="button" role="menuitem" tabindex="-1" data-testid="add-account"
            data-menu-index=move || model.accounts.with(Vec::len).to_string()
            on:click=move |_| { close(false); model.adding_account.set(true); }>
            "Add account…"
        </button>
        <button type="button" role="menuitem" tabindex="-1" data-testid="menu-sign-out"
            data-menu-index=move || (model.accounts.with(Vec::len) + 1).to_string()
            on:click=move |_| { close(false); sign_out_current(model, false); }>
            {move || format!("Sign out {}", who())}
        </button>
        <button type="button" role="menuitem" tabindex="-1" data-testid="menu-sign-out-remove"
            data-menu-index=move || (model.accounts.with(Vec::len) + 2).to_string()
            on:click=move |_| { close(false); confirm_remove.set(true); focus_selector("[data-testid=confirm-remove-cancel]"); }>
            "Sign out and remove its messages…"
        </button>
    }
}

/// One row of the account menu: the account at `index`, checked when it is the current one;
/// `pick` opens it.
fn account_item(
    index: usize,
    entry: AccountEntry,
    pick: impl Fn(AccountEntry) + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let label = format!("{} on {}", entry.user_id, server_label(&entry.server_url));
    let user = entry.user_id.to_string();
    let server = server_label(&entry.server_url).to_string();
    let data = format!("{}@{}", entry.user_id, entry.server_url);
    let current = entry.current;
    view! {
        <button type="button" role="menuitemradio" class="account-item" tabindex="-1"
            data-testid="account-item" data-account=data data-current=current.to_string()
            data-menu-index=index.to_string() aria-checked=current.to_string()
            aria-label=label on:click=move |_| pick(entry.clone())>
            <span class="account-badge" aria-hidden="true">{initial(&user)}</span>
            <span class="account-names">
                <span class="who">{user}</span>
                <span class="server">{server}</span>
            </span>
            <span class="check" aria-hidden="true">{if current { "✓" } else { "" }}</span>
        </button>
    }
}

/// "Sign out and remove its messages?": Cancel (or Escape) returns to the account button,
/// confirming signs `who` out and deletes the account's cache.
fn confirm_remove_dialog(
    model: Model,
    confirm_remove: RwSignal<bool>,
    who: impl Fn() -> String + Copy + Send + Sync + 'static,
) -> impl IntoView {
    view! {
        <div class="overlay">
            <div class="dialog confirm" role="alertdialog" aria-modal="true"
                aria-labelledby="confirm-remove-title" data-testid="confirm-remove"
                on:keydown=move |ev: web_sys::KeyboardEvent| if ev.key() == "Escape" {
                    ev.stop_propagation();
                    confirm_remove.set(false);
                    focus_selector("[data-testid=account-menu]");
                }>
                <h2 id="confirm-remove-title">{move || format!("Sign out {} and remove its messages?", who())}</h2>
                <p>"The messages cached on this device for this account are deleted, with any not sent yet. Signing in again downloads them from the server."</p>
                <div class="dialog-actions">
                    <button type="button" data-testid="confirm-remove-cancel"
                        on:click=move |_| { confirm_remove.set(false); focus_selector("[data-testid=account-menu]"); }>"Cancel"</button>
                    <button type="button" class="danger" data-testid="confirm-remove"
                        on:click=move |_| { confirm_remove.set(false); sign_out_current(model, true); }>"Sign out and remove"</button>
                </div>
            </div>
        </div>
    }
}

/// On the sign-in screen: the other accounts signed in on this device ("Continue as…", one
/// click, no token) and, while adding an account, the way back to the current one.
#[component]
pub fn SavedAccounts(on_error: Callback<IpcError>) -> impl IntoView {
    let model = expect_context::<Model>();
    let others = move || {
        model
            .accounts
            .get()
            .into_iter()
            .filter(|e| !e.current)
            .collect::<Vec<_>>()
    };
    let adding =
        move || model.adding_account.get() && model.status.get().is_some_and(|s| s.signed_in);
    let back_label = move || {
        let user = model
            .status
            .get()
            .and_then(|s| s.user_id)
            .map(|u| u.to_string())
            .unwrap_or_default();
        format!("Back to {user}")
    };
    let forget = move |key: AccountKey| {
        spawn_local(async move {
            match ipc::sign_out_account(&key, false).await {
                Ok(_) => refresh_accounts(model),
                Err(e) => on_error.run(e),
            }
        });
    };
    view! {
        <section class="saved-accounts" aria-label="Accounts on this device">
            {move || (!others().is_empty()).then(|| view! {
                <h2>"Signed in on this device"</h2>
                <ul role="list">
                    {others().into_iter().map(|entry| {
                        let key = entry.key();
                        let forget_key = key.clone();
                        let user = entry.user_id.to_string();
                        let server = server_label(&entry.server_url).to_string();
                        let data = format!("{}@{}", entry.user_id, entry.server_url);
                        view! {
                            <li class="saved-account">
                                <button type="button" class="account-item" data-testid="saved-account" data-account=data
                                    aria-label=format!("Continue as {user} on {server}")
                                    on:click=move |_| switch_to(model, key.clone(), on_error)>
                                    <span class="account-badge" aria-hidden="true">{initial(&user)}</span>
                                    <span class="account-names">
                                        <span class="who">{user.clone()}</span>
                                        <span class="server">{server.clone()}</span>
                                    </span>
                                </button>
                                <button type="button" class="link" data-testid="saved-account-sign-out"
                                    aria-label=format!("Sign out {user} on {server}")
                                    on:click=move |_| forget(forget_key.clone())>"Sign out"</button>
                            </li>
                        }
                    }).collect_view()}
                </ul>
            })}
            {move || adding().then(|| view! {
                <button type="button" class="link back" data-testid="cancel-add-account"
                    on:click=move |_| { model.adding_account.set(false); }>{back_label}</button>
            })}
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use roost_proto::UserId;

    fn status(server: &str, user: Option<&str>, signed_in: bool) -> AppStatus {
        AppStatus {
            signed_in,
            server_url: Some(server.into()),
            user_id: user.map(UserId::new),
            online: false,
        }
    }

    #[test]
    fn another_account_is_a_change_and_the_same_one_is_not() {
        let alice = status("http://a", Some("alice"), true);
        assert!(!account_changed(None, &alice), "the first status");
        assert!(!account_changed(Some(&alice), &alice.clone()));
        let online = AppStatus {
            online: true,
            ..alice.clone()
        };
        assert!(!account_changed(Some(&alice), &online), "going online");
        assert!(account_changed(
            Some(&alice),
            &status("http://a", Some("bob"), true)
        ));
        assert!(account_changed(
            Some(&alice),
            &status("http://b", Some("alice"), true)
        ));
        assert!(
            !account_changed(Some(&alice), &status("http://a", None, false)),
            "signing out resets through its own path"
        );
        assert!(!account_changed(
            Some(&status("http://a", None, true)),
            &alice
        ));
    }

    #[test]
    fn menu_arrows_wrap_and_home_end_jump() {
        assert_eq!(menu_key("ArrowDown", None, 4), Some(0));
        assert_eq!(menu_key("ArrowDown", Some(3), 4), Some(0));
        assert_eq!(menu_key("ArrowUp", Some(0), 4), Some(3));
        assert_eq!(menu_key("ArrowUp", None, 4), Some(3));
        assert_eq!(menu_key("Home", Some(2), 4), Some(0));
        assert_eq!(menu_key("End", Some(0), 4), Some(3));
        assert_eq!(menu_key("x", Some(1), 4), None);
        assert_eq!(menu_key("ArrowDown", None, 0), None);
    }

    #[test]
    fn labels_drop_the_scheme_and_badges_show_an_initial() {
        assert_eq!(server_label("http://127.0.0.1:7878"), "127.0.0.1:7878");
        assert_eq!(server_label("roost.example"), "roost.example");
        assert_eq!(initial("alice"), "A");
        assert_eq!(initial(""), "?");
    }
}
