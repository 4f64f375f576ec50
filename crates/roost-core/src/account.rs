//! Which cache file belongs to which account (server + user), and the rules that keep one
//! account's cache away from another's.
//!
//! Owns three things:
//! * **the file choice** ([`resolve`]): one cache per (server, user) at
//!   `<data dir>/accounts/<user>@<host>-<key>.db`, the key a hash of the normalized server URL
//!   and the user id. The desktop app and the CLI both call it, so the same server and token
//!   pick the same file. Which user a token belongs to is learnt from `GET /v1/me` the first
//!   time a token is used and remembered in `<data dir>/accounts/tokens.json` as a SHA-256
//!   fingerprint (never the token), so later starts need no network;
//! * **the binding** ([`bind`]): a cache file records its owner (meta `account_server`,
//!   `account_user`) and the fingerprints of tokens confirmed for it; a client whose user is
//!   another, or whose token was never confirmed for the owner, is refused (`wrong_account`)
//!   before it reads or sends anything;
//! * **the process lock** ([`CacheLock`]): one process at a time has a cache file open (per-
//!   process state — open chats, sync states — lives in the file, so a second process would
//!   reset the first one's); a second gets `cache_in_use` naming the holder's pid.
//!
//! Must never store a token, and never pick a file shared by two (server, user) pairs.

use crate::api::{Api, ApiConfig};
use crate::config::ClientConfig;
use crate::error::{Error, Result};
use crate::store::Store;
use roost_proto::UserId;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Folder of the per-account caches inside the data dir.
pub const ACCOUNTS_DIR: &str = "accounts";
const TOKENS_FILE: &str = "tokens.json";
/// The single cache of the versions before accounts: adopted by its owner's first sign-in.
const LEGACY_CACHE_FILE: &str = crate::store::CACHE_FILE_NAME;

/// An account's cache, as chosen by [`resolve`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountCache {
    /// Normalized (see [`normalize_server_url`]).
    pub server_url: String,
    pub user_id: UserId,
    pub cache_path: PathBuf,
}

impl AccountCache {
    /// A client configuration for this account's cache (the user id set: the token was
    /// confirmed for it).
    pub fn config(&self, token: &str) -> ClientConfig {
        let mut config = ClientConfig::new(&self.server_url, token).cache_path(&self.cache_path);
        config.user_id = Some(self.user_id.clone());
        config
    }
}

/// `scheme://host[:port][/path]` with scheme and host lowercased and no trailing `/`: two
/// spellings of one server pick one file.
pub fn normalize_server_url(url: &str) -> String {
    let url = url.trim().trim_end_matches('/');
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
            format!(
                "{}://{}{}",
                scheme.to_ascii_lowercase(),
                host.to_ascii_lowercase(),
                path
            )
        }
        None => url.to_string(),
    }
}

fn hex_sha256(parts: &[&str]) -> String {
    let mut hasher = Sha256::new();
    for p in parts {
        hasher.update(p.as_bytes());
        hasher.update(b"\n");
    }
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A token's fingerprint for one server: what the device remembers instead of the token.
pub fn token_fingerprint(server_url: &str, token: &str) -> String {
    hex_sha256(&["roost-token", &normalize_server_url(server_url), token])
}

/// Letters, digits, `.`, `-` and `_` of `s` (at most 32), so the file name is readable and
/// portable; the hash beside it keeps names distinct.
fn file_safe(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .take(32)
        .collect()
}

/// The cache file of (server, user): `<data_dir>/accounts/<user>@<host>-<16 hex>.db`.
pub fn cache_path(data_dir: &Path, server_url: &str, user: &UserId) -> PathBuf {
    let server = normalize_server_url(server_url);
    let host = server.split_once("://").map_or(server.as_str(), |(_, h)| h);
    let key = hex_sha256(&["roost-account", &server, user.as_str()]);
    data_dir.join(ACCOUNTS_DIR).join(format!(
        "{}@{}-{}.db",
        file_safe(user.as_str()),
        file_safe(host),
        &key[..16]
    ))
}

fn tokens_path(data_dir: &Path) -> PathBuf {
    data_dir.join(ACCOUNTS_DIR).join(TOKENS_FILE)
}

fn read_tokens(data_dir: &Path) -> BTreeMap<String, String> {
    std::fs::read_to_string(tokens_path(data_dir))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default()
}

/// The user a token was confirmed for on this device, if it was.
pub fn known_user(data_dir: &Path, server_url: &str, token: &str) -> Option<UserId> {
    read_tokens(data_dir)
        .remove(&token_fingerprint(server_url, token))
        .map(UserId)
}

/// Remembers that `token` belongs to `user` on this server (fingerprint only; written to a
/// temporary file and renamed, readable by the user only).
pub fn remember_token(data_dir: &Path, server_url: &str, token: &str, user: &UserId) -> Result<()> {
    let mut tokens = read_tokens(data_dir);
    let fp = token_fingerprint(server_url, token);
    if tokens.get(&fp).map(String::as_str) == Some(user.as_str()) {
        return Ok(());
    }
    tokens.insert(fp, user.as_str().to_string());
    let path = tokens_path(data_dir);
    let io = |e: std::io::Error| Error::Cache(format!("{}: {e}", path.display()));
    std::fs::create_dir_all(data_dir.join(ACCOUNTS_DIR)).map_err(io)?;
    let tmp = path.with_extension("json.tmp");
    let text = serde_json::to_vec_pretty(&tokens).map_err(|e| Error::Cache(e.to_string()))?;
    write_private(&tmp, &text).map_err(io)?;
    std::fs::rename(&tmp, &path).map_err(io)
}

/// Writes `bytes` to `path` readable by this user only (mode 0600 on Unix) and syncs it: files
/// that hold tokens (the accounts index here, the desktop's saved session).
pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// Picks the cache of the account `token` signs in to on `server_url` (see the module doc).
/// Needs the server only the first time a token is used on this device; `user_hint` (a user
/// the caller confirmed for this token earlier, e.g. saved with the credentials) also spares it.
pub async fn resolve(data_dir: &Path, server_url: &str, token: &str) -> Result<AccountCache> {
    resolve_with(data_dir, ApiConfig::new(server_url, token), None).await
}

/// [`resolve`] with the transport settings of `api` and an optional `user_hint`.
pub async fn resolve_with(
    data_dir: &Path,
    api: ApiConfig,
    user_hint: Option<UserId>,
) -> Result<AccountCache> {
    let server_url = normalize_server_url(&api.base_url);
    let token = api.token.clone();
    let user_id = match known_user(data_dir, &server_url, &token).or(user_hint) {
        Some(user) => user,
        None => match Api::new(api)?.me().await {
            Ok(me) => me.user_id,
            Err(Error::Offline(why)) => {
                return Err(Error::Offline(format!(
                    "{why} (this token was never used on this device: Roost asks the server \
                     once which account it belongs to, to pick that account's cache)"
                )));
            }
            Err(e) => return Err(e),
        },
    };
    remember_token(data_dir, &server_url, &token, &user_id)?;
    let account = AccountCache {
        cache_path: cache_path(data_dir, &server_url, &user_id),
        server_url,
        user_id,
    };
    adopt_legacy_cache(data_dir, &account);
    Ok(account)
}

/// The one `message_cache.db` of earlier versions becomes the account's file when it is
/// unowned or owned by this account and the account has no file yet (moved with its WAL).
fn adopt_legacy_cache(data_dir: &Path, account: &AccountCache) {
    let legacy = data_dir.join(LEGACY_CACHE_FILE);
    if account.cache_path.exists() || !legacy.exists() {
        return;
    }
    let owner = legacy_owner(&legacy);
    let ours = match &owner {
        Ok((server, user)) => {
            server.as_deref().is_none_or(|s| s == account.server_url)
                && user.as_ref().is_none_or(|u| *u == account.user_id)
        }
        Err(_) => false,
    };
    if !ours {
        tracing::info!(legacy = %legacy.display(), ?owner, "the old shared cache is not this account's: left in place");
        return;
    }
    if let Some(dir) = account.cache_path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    for suffix in ["", "-wal", "-shm"] {
        let from = PathBuf::from(format!("{}{suffix}", legacy.display()));
        let to = PathBuf::from(format!("{}{suffix}", account.cache_path.display()));
        if from.exists()
            && let Err(e) = std::fs::rename(&from, &to)
        {
            tracing::warn!(error = %e, from = %from.display(), "could not adopt the old cache");
        }
    }
    tracing::info!(to = %account.cache_path.display(), "adopted the old shared cache as this account's");
}

/// `(account_server, account_user or the old "me")` of a cache file, read-only.
fn legacy_owner(path: &Path) -> rusqlite::Result<(Option<String>, Option<UserId>)> {
    let conn =
        rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let meta = |key: &str| -> rusqlite::Result<Option<String>> {
        match conn.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0)) {
            Ok(v) => Ok(Some(v)),
            Err(rusqlite::Error::QueryReturnedNoRows) => Ok(None),
            Err(rusqlite::Error::SqliteFailure(_, Some(m))) if m.contains("no such table") => {
                Ok(None)
            }
            Err(e) => Err(e),
        }
    };
    let server = meta(META_SERVER)?;
    let user = meta(META_USER)?.or(meta("me")?).map(UserId);
    Ok((server, user))
}

const META_SERVER: &str = "account_server";
const META_USER: &str = "account_user";
const META_TOKENS: &str = "account_tokens";

/// Whose cache a client may use, as established at open.
#[derive(Debug, Clone)]
pub(crate) struct Binding {
    /// The owner, when known (else learnt at the first contact with the server).
    pub(crate) me: Option<UserId>,
    /// The token is confirmed for the owner: nothing left to check with the server.
    pub(crate) verified: bool,
}

/// Checks that the client of `config` may use the cache in `store` (see the module doc) and
/// records the owner and the token's fingerprint when it may.
pub(crate) async fn bind(store: &Store, config: &ClientConfig) -> Result<Binding> {
    let server = normalize_server_url(&config.server_url);
    let fingerprint = token_fingerprint(&server, &config.token);
    let owner_server = store.meta(META_SERVER).await?;
    let owner_user = match store.meta(META_USER).await? {
        Some(u) => Some(u),
        None => store.meta("me").await?,
    }
    .map(UserId);
    let confirmed_tokens = read_fingerprints(store).await?;
    if let (Some(os), Some(ou)) = (&owner_server, &owner_user)
        && *os != server
    {
        return Err(Error::WrongAccount(format!(
            "this cache belongs to {ou} on {os}, not to a sign-in on {server}"
        )));
    }
    let claimed = config.user_id.clone().or_else(|| {
        confirmed_tokens
            .contains(&fingerprint)
            .then(|| owner_user.clone())
            .flatten()
    });
    match (&owner_user, &claimed) {
        (Some(owner), None) => Err(Error::WrongAccount(format!(
            "this cache belongs to {owner}, and the token given was never confirmed for that \
             account on this device: sign in online so Roost picks the account's own cache"
        ))),
        (Some(owner), Some(user)) if owner != user => Err(Error::WrongAccount(format!(
            "this cache belongs to {owner}, not to {user}"
        ))),
        (_, Some(user)) => {
            claim(store, &server, user, &fingerprint).await?;
            Ok(Binding {
                me: Some(user.clone()),
                verified: true,
            })
        }
        (None, None) => Ok(Binding {
            me: None,
            verified: false,
        }),
    }
}

/// Records `user` on `server` as the cache's owner and `fingerprint` as confirmed for it.
pub(crate) async fn claim(
    store: &Store,
    server: &str,
    user: &UserId,
    fingerprint: &str,
) -> Result<()> {
    let server = normalize_server_url(server);
    if store.meta(META_SERVER).await?.as_deref() != Some(server.as_str()) {
        store.set_meta(META_SERVER, &server).await?;
    }
    if store.meta(META_USER).await?.as_deref() != Some(user.as_str()) {
        store.set_meta(META_USER, user.as_str()).await?;
        store.set_meta("me", user.as_str()).await?;
    }
    let mut tokens = read_fingerprints(store).await?;
    if !tokens.iter().any(|t| t == fingerprint) {
        tokens.push(fingerprint.to_string());
        let text = serde_json::to_string(&tokens).map_err(|e| Error::Cache(e.to_string()))?;
        store.set_meta(META_TOKENS, &text).await?;
    }
    Ok(())
}

/// Before the first request of a session whose token was not confirmed at open: asks the
/// server who the token is (`GET /v1/me`) and refuses (`wrong_account`) when the cache belongs
/// to someone else; else the cache is claimed. Free once confirmed.
pub(crate) async fn ensure_verified(inner: &crate::engine::Inner) -> Result<()> {
    if inner.account_verified() {
        return Ok(());
    }
    let me = inner.api().me().await?.user_id;
    if let Some(owner) = owner(inner.store()).await?
        && owner != me
    {
        return Err(Error::WrongAccount(format!(
            "this cache belongs to {owner}, not to {me}"
        )));
    }
    let config = inner.config();
    claim(
        inner.store(),
        &config.server_url,
        &me,
        &token_fingerprint(&config.server_url, &config.token),
    )
    .await?;
    inner.set_me(me);
    inner.set_account_verified();
    Ok(())
}

/// The owner of the cache, when one is recorded.
pub(crate) async fn owner(store: &Store) -> Result<Option<UserId>> {
    Ok(match store.meta(META_USER).await? {
        Some(u) => Some(UserId(u)),
        None => store.meta("me").await?.map(UserId),
    })
}

async fn read_fingerprints(store: &Store) -> Result<Vec<String>> {
    Ok(store
        .meta(META_TOKENS)
        .await?
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default())
}

/// Deletes the cache of (server, user) on this device: the file with its WAL, shared-memory
/// and lock files. Refuses with `cache_in_use` while a client has it open. The token
/// fingerprints in `tokens.json` stay (they are hashes, not secrets: a later sign-in with the
/// same token starts a fresh cache without asking the server who it is). Returns whether a
/// cache file was there.
pub async fn remove_cache(data_dir: &Path, server_url: &str, user: &UserId) -> Result<bool> {
    let path = cache_path(data_dir, server_url, user);
    let lock = CacheLock::acquire(&path).await?;
    let existed = path.exists();
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let file = PathBuf::from(format!("{}{suffix}", path.display()));
        match std::fs::remove_file(&file) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::Cache(format!("remove {}: {e}", file.display()))),
        }
    }
    drop(lock);
    let _ = std::fs::remove_file(format!("{}.lock", path.display()));
    Ok(existed)
}

/// An exclusive lock on `<cache>.lock`, held while a client has the cache open (released when
/// dropped, and by the OS when the process dies, so a crash never leaves it locked).
#[derive(Debug)]
pub(crate) struct CacheLock {
    _file: std::fs::File,
}

impl CacheLock {
    /// Takes the lock; waits a little for a holder in this process that is just closing (a
    /// dropped client's tasks end asynchronously), then refuses with `cache_in_use`.
    pub(crate) async fn acquire(cache: &Path) -> Result<CacheLock> {
        let path = PathBuf::from(format!("{}.lock", cache.display()));
        if let Some(dir) = path.parent()
            && !dir.as_os_str().is_empty()
        {
            std::fs::create_dir_all(dir)
                .map_err(|e| Error::Cache(format!("create {}: {e}", dir.display())))?;
        }
        let io = |e: std::io::Error| Error::Cache(format!("{}: {e}", path.display()));
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io)?;
        for attempt in 0..40 {
            match file.try_lock() {
                Ok(()) => {
                    use std::io::{Seek, Write};
                    let _ = file.set_len(0);
                    let _ = file.seek(std::io::SeekFrom::Start(0));
                    let _ = write!(file, "{}", std::process::id());
                    return Ok(CacheLock { _file: file });
                }
                Err(std::fs::TryLockError::WouldBlock) if attempt < 39 => {
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
                Err(std::fs::TryLockError::WouldBlock) => break,
                Err(std::fs::TryLockError::Error(e)) => return Err(io(e)),
            }
        }
        let holder = std::fs::read_to_string(&path).unwrap_or_default();
        Err(Error::CacheInUse(format!(
            "{} is open in another Roost process{}: close it first (one process at a time per \
             account's cache)",
            cache.display(),
            if holder.trim().is_empty() {
                String::new()
            } else {
                format!(" (pid {})", holder.trim())
            }
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_file_per_server_and_user() {
        let dir = Path::new("/data");
        let alice = UserId::new("alice");
        let bob = UserId::new("bob");
        let a = cache_path(dir, "http://127.0.0.1:7878", &alice);
        assert_eq!(a, cache_path(dir, " HTTP://127.0.0.1:7878/ ", &alice));
        assert_ne!(a, cache_path(dir, "http://127.0.0.1:7878", &bob));
        assert_ne!(a, cache_path(dir, "http://127.0.0.1:7879", &alice));
        assert!(a.starts_with("/data/accounts"));
        let name = a.file_name().unwrap().to_str().unwrap();
        assert!(name.starts_with("alice@127.0.0.1_7878-"), "{name}");
        // A user id that is not file-safe still names one distinct file.
        let odd = cache_path(dir, "http://h", &UserId::new("../x"));
        assert!(odd.starts_with("/data/accounts"));
        assert_ne!(odd, cache_path(dir, "http://h", &UserId::new("__x")));
    }

    #[tokio::test]
    async fn removing_a_cache_deletes_its_files_and_no_other_account_s() {
        let dir = tempfile::tempdir().unwrap();
        let (alice, bob) = (UserId::new("alice"), UserId::new("bob"));
        let alice_db = cache_path(dir.path(), "http://h", &alice);
        let bob_db = cache_path(dir.path(), "http://h", &bob);
        std::fs::create_dir_all(alice_db.parent().unwrap()).unwrap();
        for file in [&alice_db, &bob_db] {
            std::fs::write(file, b"db").unwrap();
            std::fs::write(format!("{}-wal", file.display()), b"wal").unwrap();
        }
        assert!(remove_cache(dir.path(), "http://h/", &alice).await.unwrap());
        assert!(!alice_db.exists());
        assert!(!Path::new(&format!("{}-wal", alice_db.display())).exists());
        assert!(bob_db.exists(), "bob's cache is untouched");
        assert!(!remove_cache(dir.path(), "http://h", &alice).await.unwrap());
        // Open in a client (its lock held): refused.
        let _held = CacheLock::acquire(&bob_db).await.unwrap();
        let refused = remove_cache(dir.path(), "http://h", &bob).await;
        assert!(matches!(refused, Err(Error::CacheInUse(_))), "{refused:?}");
        assert!(bob_db.exists());
    }

    #[test]
    fn tokens_are_remembered_as_fingerprints_only() {
        let dir = tempfile::tempdir().unwrap();
        let alice = UserId::new("alice");
        assert_eq!(known_user(dir.path(), "http://h", "secret-token"), None);
        remember_token(dir.path(), "http://h/", "secret-token", &alice).unwrap();
        assert_eq!(
            known_user(dir.path(), "http://h", "secret-token"),
            Some(alice)
        );
        assert_eq!(known_user(dir.path(), "http://other", "secret-token"), None);
        let text = std::fs::read_to_string(tokens_path(dir.path())).unwrap();
        assert!(!text.contains("secret-token"));
    }
}
