//! Roost reference sync server (protocol v1, see `PROTOCOL.md`).
//!
//! The server is the source of truth: per-chat gap-free `seq`, a per-chat change journal
//! (`rev`), tombstone deletes, idempotent sends, and a WebSocket stream that pushes every
//! committed mutation to the chat's connected members.
//!
//! Modules: [`config`] (settings), [`db`] (pools, migrations), [`store`] (all SQL),
//! [`service`] (serialised mutations + broadcast), [`api`] (HTTP routes and extractors),
//! [`stream`] (WebSocket hub), [`metrics`], [`error`], [`demo`] (demo data set) and
//! [`testing`] (a real server on 127.0.0.1 with a temporary database, for tests of any crate).

pub mod api;
pub mod config;
pub mod db;
pub mod demo;
pub mod digest;
pub mod error;
pub mod metrics;
pub mod service;
pub mod store;
pub mod stream;
pub mod testing;

pub use config::{DbLocation, ServerConfig};
pub use error::{ApiError, ServerError};
pub use metrics::{Metrics, MetricsSnapshot, RouteFigures};

use crate::db::Db;
use crate::service::AppCore;
use crate::store::Store;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// How long a graceful shutdown waits for connections before giving up on them.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// A server started with [`start`]. Dropping it signals shutdown without waiting; prefer
/// [`RunningServer::shutdown`].
#[derive(Debug)]
pub struct RunningServer {
    addr: SocketAddr,
    app: Arc<AppCore>,
    shutdown_sender: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl RunningServer {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
    /// `http://127.0.0.1:PORT` (the bound address).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }
    pub fn metrics(&self) -> Arc<Metrics> {
        self.app.metrics.clone()
    }
    /// The server's internals (store, hub, mutations), for admin tools and test helpers.
    pub fn core(&self) -> Arc<AppCore> {
        self.app.clone()
    }

    /// Graceful shutdown: stops accepting, closes every WebSocket with 1001, lets in-flight
    /// requests finish, then closes the database.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown_sender.send(true);
        if let Some(task) = self.task.take() {
            let abort = task.abort_handle();
            if tokio::time::timeout(SHUTDOWN_GRACE, task).await.is_err() {
                tracing::warn!("graceful shutdown timed out; aborting open connections");
                abort.abort();
            }
        }
        let deadline = tokio::time::Instant::now() + SHUTDOWN_GRACE;
        while self.app.active_streams.load(Ordering::SeqCst) > 0
            && tokio::time::Instant::now() < deadline
        {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        self.app.store.db.close().await;
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        let _ = self.shutdown_sender.send(true);
    }
}

/// Opens (creating and migrating) the database, binds `config.listen` and serves.
pub async fn start(config: ServerConfig) -> Result<RunningServer, ServerError> {
    start_with_metrics(config, Arc::new(Metrics::new())).await
}

/// [`start`] recording into existing metrics (so figures survive a restart in tests).
pub async fn start_with_metrics(
    config: ServerConfig,
    metrics: Arc<Metrics>,
) -> Result<RunningServer, ServerError> {
    let db = Db::open(&config.db).await?;
    let listener = match tokio::net::TcpListener::bind(config.listen).await {
        Ok(listener) => listener,
        Err(error) => {
            db.close().await;
            return Err(error.into());
        }
    };
    let addr = listener.local_addr()?;
    let (shutdown_sender, shutdown_receiver) = watch::channel(false);
    let app = Arc::new(AppCore::new(
        Store::new(db),
        metrics,
        config,
        shutdown_receiver.clone(),
    ));
    let router = api::router(app.clone());
    let mut signal = shutdown_receiver;
    let task = tokio::spawn(async move {
        let served = axum::serve(listener, router)
            .with_graceful_shutdown(async move {
                let _ = signal.wait_for(|down| *down).await;
            })
            .await;
        if let Err(error) = served {
            tracing::error!(%error, "server stopped with an error");
        }
    });
    tracing::info!(%addr, "roost-server listening");
    Ok(RunningServer {
        addr,
        app,
        shutdown_sender,
        task: Some(task),
    })
}

/// Creates a user in the database at `db` and returns its bearer token (printed once; only its
/// SHA-256 is stored).
pub async fn add_user(
    db: &DbLocation,
    handle: &str,
    display_name: &str,
) -> Result<String, ServerError> {
    let db = Db::open(db).await?;
    let result = Store::new(db.clone()).add_user(handle, display_name).await;
    db.close().await;
    result
}
