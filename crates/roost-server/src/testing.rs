//! A real server for tests of any crate (behind the `testing` cargo feature: never in the
//! shipped server): [`spawn_test_server`] starts it on 127.0.0.1 (ephemeral port) with a SQLite
//! file in a temporary directory and users `alice`, `bob` and `carol`;
//! [`spawn_test_server_on`] does the same on a chosen [`TestBackend`] — for PostgreSQL a fresh
//! database per test (`CREATE DATABASE` on the server at `ROOST_TEST_PG_URL`), so tests run in
//! parallel. [`TestServer::start_instance`] starts further instances on the same database.
//! [`backend_tests!`](crate::backend_tests) runs a test suite once per backend. Test servers
//! have no per-token rate limits unless a test sets them.
//! The helpers (`create_chat`, `send`, `edit`, `delete`) run the server's own mutation code
//! (same transaction, same stream broadcast) without HTTP, so they do not show up in the
//! metrics a test measures; `send_many` is a fast bulk insert that is NOT broadcast.
//!
//! The helpers panic on failure: they are for tests.

use crate::config::{DbLocation, ServerConfig};
use crate::db::Db;
use crate::fanout::Announcer;
use crate::hub::Hub;
use crate::metrics::{Metrics, MetricsSnapshot};
use crate::service::AppCore;
use crate::store::{Store, now_millis};
use crate::{RunningServer, start_with_metrics};
use roost_proto::{ChatId, Message, MessageId, UserId};
use sqlx::Connection;
use std::collections::HashMap;
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The users every test server starts with.
pub const TEST_USERS: [&str; 3] = ["alice", "bob", "carol"];

/// A running (or stopped) test server owning its temporary database.
#[derive(Debug)]
pub struct TestServer {
    config: ServerConfig,
    server: Option<RunningServer>,
    addr: SocketAddr,
    metrics: Arc<Metrics>,
    tokens: Mutex<HashMap<String, String>>,
    // Last: dropped after the server so the db file outlives it (SQLite only).
    _dir: Option<tempfile::TempDir>,
}

/// The environment variable naming the PostgreSQL server the PostgreSQL test variants use
/// (`./dev test` starts a throwaway one and sets it): a URL whose user may create databases.
pub const TEST_PG_URL_VAR: &str = "ROOST_TEST_PG_URL";

/// The storage engine a test server runs on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TestBackend {
    /// A SQLite file in a temporary directory.
    Sqlite,
    /// A fresh database on the PostgreSQL server at `admin_url`.
    Postgres { admin_url: String },
}

impl TestBackend {
    /// PostgreSQL at `$ROOST_TEST_PG_URL`; when it is unset, prints
    /// `skipped: ROOST_TEST_PG_URL unset` (past the test harness's output capture, so it shows)
    /// and returns `None`.
    pub fn postgres_or_skip(test: &str) -> Option<TestBackend> {
        match std::env::var(TEST_PG_URL_VAR) {
            Ok(admin_url) if !admin_url.is_empty() => Some(TestBackend::Postgres { admin_url }),
            _ => {
                // One write, so parallel tests' lines do not interleave.
                let line = format!(
                    "{test} [postgres]: skipped: {TEST_PG_URL_VAR} unset (./dev test sets it)\n"
                );
                let _ = std::io::stderr().write_all(line.as_bytes());
                None
            }
        }
    }

    /// A new, empty database for one test server: a file in `dir` (SQLite) or a database
    /// created on the PostgreSQL server.
    pub async fn fresh_database(&self, dir: &std::path::Path) -> DbLocation {
        match self {
            TestBackend::Sqlite => DbLocation::File(dir.join("server.db")),
            TestBackend::Postgres { admin_url } => {
                let name = format!("roost_test_{}", uuid::Uuid::new_v4().simple());
                let mut admin = sqlx::PgConnection::connect(admin_url)
                    .await
                    .unwrap_or_else(|e| panic!("connect to {TEST_PG_URL_VAR}: {e}"));
                sqlx::query(&format!("CREATE DATABASE {name}"))
                    .execute(&mut admin)
                    .await
                    .expect("create a test database");
                let _ = admin.close().await;
                DbLocation::Postgres(with_database(admin_url, &name))
            }
        }
    }
}

/// `admin_url` with its database name replaced by `name` (query options kept).
pub fn with_database(admin_url: &str, name: &str) -> String {
    let (base, query) = match admin_url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (admin_url, None),
    };
    let after_scheme = base.find("://").map_or(0, |i| i + 3);
    let host_end = base[after_scheme..]
        .find('/')
        .map_or(base.len(), |i| after_scheme + i);
    let mut url = format!("{}/{name}", &base[..host_end]);
    if let Some(query) = query {
        url.push('?');
        url.push_str(query);
    }
    url
}

/// Runs each listed test once per backend, the way matrix-rust-sdk instantiates its store
/// tests per store: every `name` is an `async fn name(backend: TestBackend)` in scope, and
/// becomes `sqlite::name` and `postgres::name` tests. The PostgreSQL variants print
/// `skipped: ROOST_TEST_PG_URL unset` and pass when there is no server to run on.
#[macro_export]
macro_rules! backend_tests {
    ($($test:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    super::$test($crate::testing::TestBackend::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    if let Some(backend) =
                        $crate::testing::TestBackend::postgres_or_skip(stringify!($test))
                    {
                        super::$test(backend).await
                    }
                }
            )*
        }
    };
}

/// [`spawn_test_server_with`] with the defaults (15 s heartbeat, horizon 100 000).
pub async fn spawn_test_server() -> TestServer {
    spawn_test_server_with(|_| {}).await
}

/// A test server whose config `configure` may change (e.g. `heartbeat_interval`,
/// `changes_horizon`). `listen` defaults to 127.0.0.1:0; `db` to a SQLite file in a temp dir.
pub async fn spawn_test_server_with(configure: impl FnOnce(&mut ServerConfig)) -> TestServer {
    spawn_test_server_on_with(&TestBackend::Sqlite, configure).await
}

/// [`spawn_test_server`] on `backend`.
pub async fn spawn_test_server_on(backend: &TestBackend) -> TestServer {
    spawn_test_server_on_with(backend, |_| {}).await
}

/// [`spawn_test_server_with`] on `backend`.
pub async fn spawn_test_server_on_with(
    backend: &TestBackend,
    configure: impl FnOnce(&mut ServerConfig),
) -> TestServer {
    let dir = tempfile::tempdir().expect("create a temporary directory for the test server");
    let mut config = ServerConfig::new(backend.fresh_database(dir.path()).await);
    // No per-token rate limits unless a test sets them: tests of every crate drive one user
    // as fast as they can, and their figures must not depend on a request budget
    // (`tests/limits.rs` tests the limits).
    config.read_rate_limit = None;
    config.write_rate_limit = None;
    configure(&mut config);
    let metrics = Arc::new(Metrics::new());
    let server = start_with_metrics(config.clone(), metrics.clone())
        .await
        .expect("start the test server");
    let addr = server.addr();
    let mut tokens = HashMap::new();
    for handle in TEST_USERS {
        let display_name = capitalise(handle);
        let token = server
            .core()
            .store
            .add_user(handle, &display_name)
            .await
            .expect("create a test user");
        tokens.insert(handle.to_owned(), token);
    }
    TestServer {
        config,
        server: Some(server),
        addr,
        metrics,
        tokens: Mutex::new(tokens),
        _dir: Some(dir),
    }
}

fn capitalise(handle: &str) -> String {
    let mut chars = handle.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

impl TestServer {
    /// `http://127.0.0.1:PORT`; stays the same across [`TestServer::restart`].
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
    /// The config the server runs with (its `listen` is the bound address after a restart).
    pub fn config(&self) -> &ServerConfig {
        &self.config
    }
    /// The database file, when the config uses one.
    pub fn db_path(&self) -> Option<PathBuf> {
        match &self.config.db {
            DbLocation::File(path) => Some(path.clone()),
            DbLocation::Memory | DbLocation::Postgres(_) => None,
        }
    }

    /// Starts one more instance on the same database (another "process" of a multi-instance
    /// deployment; meaningful on PostgreSQL), on its own ephemeral port with its own metrics.
    pub async fn start_instance(&self) -> RunningServer {
        let mut config = self.config.clone();
        config.listen = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
        crate::start(config)
            .await
            .expect("start another instance on the test database")
    }
    pub fn is_running(&self) -> bool {
        self.server.is_some()
    }

    /// The bearer token of `user` ("alice", "bob", "carol" or one made with `add_user`).
    pub fn token(&self, user: &str) -> String {
        self.tokens
            .lock()
            .unwrap()
            .get(user)
            .cloned()
            .unwrap_or_else(|| panic!("no test user {user:?}; known: {:?}", TEST_USERS))
    }

    /// Creates another user and returns its token (also available through [`TestServer::token`]).
    pub async fn add_user(&self, handle: &str) -> String {
        let core = self.core().await;
        let token = core
            .store
            .add_user(handle, &capitalise(handle))
            .await
            .expect("add a test user");
        self.tokens
            .lock()
            .unwrap()
            .insert(handle.to_owned(), token.clone());
        token
    }

    /// Figures of the requests answered so far (kept across restarts).
    pub fn metrics(&self) -> MetricsSnapshot {
        self.metrics.snapshot()
    }
    pub fn reset_metrics(&self) {
        self.metrics.reset();
    }

    /// The running server's core, or (when stopped) a core on the same database file whose
    /// mutations are not streamed to anyone.
    /// The live stream connections of the running server (0 when stopped).
    pub fn open_streams(&self) -> usize {
        self.server
            .as_ref()
            .map(|server| {
                server
                    .core()
                    .active_streams
                    .load(std::sync::atomic::Ordering::SeqCst)
            })
            .unwrap_or(0)
    }

    async fn core(&self) -> Arc<AppCore> {
        if let Some(server) = &self.server {
            return server.core();
        }
        let db = Db::open(&self.config.db)
            .await
            .expect("open the stopped test server's database");
        let (_sender, receiver) = tokio::sync::watch::channel(true);
        // On PostgreSQL, other instances may still be running: announce to them as usual.
        let store = if self.config.db.is_postgres() {
            Store::with_announcer(db, Announcer)
        } else {
            Store::new(db)
        };
        Arc::new(AppCore::new(
            store,
            Hub::new(),
            self.metrics.clone(),
            self.config.clone(),
            receiver,
        ))
    }

    /// Creates a chat; the first member is the creator. Broadcast on the stream.
    pub async fn create_chat(&self, title: &str, members: &[&str]) -> ChatId {
        let (creator, others) = members
            .split_first()
            .expect("create_chat needs at least one member (the creator)");
        let others: Vec<UserId> = others.iter().map(|m| UserId::new(*m)).collect();
        let chat = self
            .core()
            .await
            .create_chat(&UserId::new(*creator), title, &others)
            .await
            .expect("create a test chat");
        chat.id
    }

    /// Adds `members` to the chat as `user` (a member). Broadcast on the stream.
    pub async fn add_members(&self, user: &str, chat: ChatId, members: &[&str]) {
        let members: Vec<UserId> = members.iter().map(|m| UserId::new(*m)).collect();
        self.core()
            .await
            .add_members(&UserId::new(user), chat, &members)
            .await
            .expect("add test members");
    }

    /// Removes `member` from the chat as `user` (itself, or the chat's creator). Broadcast on
    /// the stream.
    pub async fn remove_member(&self, user: &str, chat: ChatId, member: &str) {
        self.core()
            .await
            .remove_member(&UserId::new(user), chat, &UserId::new(member))
            .await
            .expect("remove a test member");
    }

    /// The chat's membership journal, oldest first: `(rev, user, "added"|"removed", by)`.
    pub async fn membership_journal(&self, chat: ChatId) -> Vec<(u64, UserId, String, UserId)> {
        self.core()
            .await
            .store
            .membership_journal(chat)
            .await
            .expect("read the membership journal")
    }

    /// Sends `{"text": text}` as `user` (fresh idempotency key). Broadcast on the stream.
    pub async fn send(&self, user: &str, chat: ChatId, text: &str) -> Message {
        let request = roost_proto::SendRequest {
            idempotency_key: uuid::Uuid::new_v4().to_string(),
            body: serde_json::json!({ "text": text }),
        };
        let outcome = self
            .core()
            .await
            .send(&UserId::new(user), chat, &request)
            .await
            .expect("send a test message");
        outcome.message
    }

    /// Appends `count` messages by `user` with texts `"message N"` where N is the message's
    /// seq, in one transaction. Fast (thousands per second), and NOT broadcast on the stream.
    pub async fn send_many(&self, user: &str, chat: ChatId, count: usize) -> Vec<Message> {
        let author = UserId::new(user);
        let now = now_millis();
        self.core()
            .await
            .bulk_insert(chat, count, |seq| {
                (
                    author.clone(),
                    serde_json::json!({ "text": format!("message {seq}") }),
                    now,
                )
            })
            .await
            .expect("bulk-insert test messages")
    }

    /// Edits a message as `user` (its author) to `{"text": text}`. Broadcast on the stream.
    pub async fn edit(&self, user: &str, chat: ChatId, id: MessageId, text: &str) -> Message {
        let request = roost_proto::EditRequest {
            body: serde_json::json!({ "text": text }),
            expected_version: None,
        };
        self.core()
            .await
            .edit(&UserId::new(user), chat, id, &request)
            .await
            .expect("edit a test message")
            .message
    }

    /// Deletes (tombstones) a message as `user` (its author). Broadcast on the stream.
    pub async fn delete(&self, user: &str, chat: ChatId, id: MessageId) -> Message {
        self.core()
            .await
            .delete(&UserId::new(user), chat, id)
            .await
            .expect("delete a test message")
            .message
    }

    /// Every message of the chat as the server stores it (ascending seq, tombstones included).
    pub async fn messages(&self, chat: ChatId) -> Vec<Message> {
        self.core()
            .await
            .store
            .all_messages(chat)
            .await
            .expect("read the chat's messages")
    }

    /// The chat's `(last_seq, rev)` on the server.
    pub async fn chat_position(&self, chat: ChatId) -> (u64, u64) {
        let position = self
            .core()
            .await
            .store
            .chat_position(chat)
            .await
            .expect("read the chat")
            .expect("no such chat");
        (position.last_seq, position.rev)
    }

    /// Stops the server (graceful; streams get a close frame). The database and address are kept.
    pub async fn stop(&mut self) {
        if let Some(server) = self.server.take() {
            server.shutdown().await;
        }
    }

    /// Starts the server again on the same address and database. Retries the bind for a
    /// while, in case the old socket is still being released.
    pub async fn restart(&mut self) {
        self.stop().await;
        let mut config = self.config.clone();
        config.listen = self.addr;
        let mut attempts = 0;
        loop {
            match start_with_metrics(config.clone(), self.metrics.clone()).await {
                Ok(server) => {
                    self.server = Some(server);
                    return;
                }
                Err(error) if attempts < 100 => {
                    attempts += 1;
                    tracing::debug!(%error, "restart: bind failed, retrying");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(error) => panic!(
                    "could not restart the test server on {}: {error}",
                    self.addr
                ),
            }
        }
    }
}
