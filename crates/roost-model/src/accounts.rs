//! The accounts signed in on this device, for the account switcher: which exist, which one is
//! current, and the IPC shapes the UI sees of them.
//!
//! Owns the *list* and its rules, not where it is stored: the desktop shell persists an
//! [`AccountBook`] beside its settings (its tokens stay where the shell kept them before) and
//! the core keeps each account's cache (`roost_core::account`). The UI only ever receives
//! [`AccountEntry`] rows, which carry no token.
//!
//! Rules: one entry per (server, user) — signing in again with a new token replaces the token;
//! the list keeps the order accounts were added (a switcher whose rows move is hard to use by
//! muscle memory); at most one account is current, and it is always one of the list.

use roost_proto::UserId;
use serde::{Deserialize, Serialize};

/// Which account: a server (normalized URL) and a user on it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct AccountKey {
    pub server_url: String,
    pub user_id: UserId,
}

/// An account as the UI lists it (no token).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountEntry {
    pub server_url: String,
    pub user_id: UserId,
    /// The account the app shows now.
    pub current: bool,
}

impl AccountEntry {
    pub fn key(&self) -> AccountKey {
        AccountKey {
            server_url: self.server_url.clone(),
            user_id: self.user_id.clone(),
        }
    }
}

/// A signed-in account with what it takes to open it again without typing: never sent to the
/// UI.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedAccount {
    pub server_url: String,
    pub user_id: UserId,
    pub token: String,
}

impl SavedAccount {
    pub fn key(&self) -> AccountKey {
        AccountKey {
            server_url: self.server_url.clone(),
            user_id: self.user_id.clone(),
        }
    }
}

/// Debug without the token (it ends up in logs).
impl std::fmt::Debug for SavedAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SavedAccount")
            .field("server_url", &self.server_url)
            .field("user_id", &self.user_id)
            .finish_non_exhaustive()
    }
}

/// The signed-in accounts of this device and the current one (see the module doc).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountBook {
    #[serde(default)]
    accounts: Vec<SavedAccount>,
    #[serde(default)]
    current: Option<AccountKey>,
}

impl AccountBook {
    /// Makes `account` the current one, adding it (at the end) or replacing its token.
    pub fn use_account(&mut self, account: SavedAccount) {
        let key = account.key();
        match self.accounts.iter_mut().find(|a| a.key() == key) {
            Some(saved) => *saved = account,
            None => self.accounts.push(account),
        }
        self.current = Some(key);
    }

    /// No account is current (the app shows the sign-in form); the list stays.
    pub fn clear_current(&mut self) {
        self.current = None;
    }

    /// Forgets an account (its token); it stops being current if it was.
    pub fn remove(&mut self, key: &AccountKey) -> Option<SavedAccount> {
        let index = self.accounts.iter().position(|a| a.key() == *key)?;
        if self.current.as_ref() == Some(key) {
            self.current = None;
        }
        Some(self.accounts.remove(index))
    }

    pub fn get(&self, key: &AccountKey) -> Option<&SavedAccount> {
        self.accounts.iter().find(|a| a.key() == *key)
    }

    pub fn current(&self) -> Option<&SavedAccount> {
        self.current.as_ref().and_then(|key| self.get(key))
    }

    pub fn len(&self) -> usize {
        self.accounts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.accounts.is_empty()
    }

    /// The rows the UI lists, in the order accounts were added.
    pub fn entries(&self) -> Vec<AccountEntry> {
        self.accounts
            .iter()
            .map(|a| AccountEntry {
                server_url: a.server_url.clone(),
                user_id: a.user_id.clone(),
                current: self.current.as_ref() == Some(&a.key()),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::saved_account;
    use proptest::prelude::*;

    #[test]
    fn signing_in_again_replaces_the_token_and_keeps_the_place() {
        let mut book = AccountBook::default();
        book.use_account(saved_account("http://a", "alice", "t1"));
        book.use_account(saved_account("http://a", "bob", "t2"));
        book.use_account(saved_account("http://a", "alice", "t3"));
        let entries = book.entries();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].user_id, UserId::new("alice"));
        assert!(entries[0].current && !entries[1].current);
        assert_eq!(book.current().unwrap().token, "t3");
    }

    #[test]
    fn removing_the_current_account_leaves_none_current() {
        let mut book = AccountBook::default();
        book.use_account(saved_account("http://a", "alice", "t1"));
        book.use_account(saved_account("http://b", "alice", "t2"));
        let removed = book
            .remove(&saved_account("http://b", "alice", "").key())
            .unwrap();
        assert_eq!(removed.token, "t2");
        assert!(book.current().is_none());
        assert_eq!(book.len(), 1);
        assert!(book.remove(&removed.key()).is_none());
    }

    #[test]
    fn the_ui_rows_and_debug_output_carry_no_token() {
        let mut book = AccountBook::default();
        book.use_account(saved_account("http://a", "alice", "secret-token"));
        let rows = serde_json::to_string(&book.entries()).unwrap();
        assert!(!rows.contains("secret-token"), "{rows}");
        assert!(!format!("{book:?}").contains("secret-token"));
    }

    #[derive(Debug, Clone)]
    enum Op {
        Use(u8, u8, u8),
        Remove(u8, u8),
        ClearCurrent,
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (0u8..3, 0u8..3, 0u8..4).prop_map(|(s, u, t)| Op::Use(s, u, t)),
            (0u8..3, 0u8..3).prop_map(|(s, u)| Op::Remove(s, u)),
            Just(Op::ClearCurrent),
        ]
    }

    proptest! {
        /// Whatever happens: one row per (server, user), at most one current and it is listed,
        /// the last account used is current until removed or cleared, and the book survives a
        /// round trip through its file format.
        #[test]
        fn the_book_keeps_its_rules(ops in proptest::collection::vec(op(), 0..40)) {
            let mut book = AccountBook::default();
            let mut expected_current: Option<AccountKey> = None;
            for op in ops {
                match op {
                    Op::Use(s, u, t) => {
                        let a = saved_account(&format!("http://s{s}"), &format!("u{u}"), &format!("t{t}"));
                        expected_current = Some(a.key());
                        book.use_account(a);
                    }
                    Op::Remove(s, u) => {
                        let key = saved_account(&format!("http://s{s}"), &format!("u{u}"), "").key();
                        book.remove(&key);
                        if expected_current.as_ref() == Some(&key) {
                            expected_current = None;
                        }
                    }
                    Op::ClearCurrent => {
                        book.clear_current();
                        expected_current = None;
                    }
                }
                let entries = book.entries();
                let mut keys: Vec<AccountKey> = entries.iter().map(AccountEntry::key).collect();
                keys.sort();
                keys.dedup();
                prop_assert_eq!(keys.len(), entries.len());
                prop_assert!(entries.iter().filter(|e| e.current).count() <= 1);
                prop_assert_eq!(book.current().map(SavedAccount::key), expected_current.clone());
                let text = serde_json::to_string(&book).unwrap();
                let back: AccountBook = serde_json::from_str(&text).unwrap();
                prop_assert_eq!(&back, &book);
            }
        }
    }
}
