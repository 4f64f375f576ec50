//! Roost reference sync server (protocol v1, see `PROTOCOL.md`).
//!
//! The server is the source of truth: per-chat gap-free `seq`, a per-chat change journal
//! (`rev`), tombstone deletes, idempotent sends, and a WebSocket stream that pushes every
//! committed mutation to the chat's connected members.
//!
//! Storage is SQLite (embedded default, one process) or PostgreSQL (any number of instances on
//! one database, streams fanned out through `LISTEN/NOTIFY`), chosen by `--db`.
//!
//! Modules, each depending only on those listed before it: [`config`] (settings, `--db`
//! parsing), [`error`] (library and domain errors, no HTTP), [`db`] (pools, migrations per
//! engine), [`hub`] (in-process stream broadcast), [`fanout`] (PostgreSQL announcer and
//! listener), [`store`] (all SQL), [`metrics`], [`service`] (mutations + publishing),
//! [`revocations`] (closing the streams of revoked tokens), [`http`] (routes, extractors,
//! limits, error mapping, the WebSocket stream), [`demo`] (demo data set) and,
//! with the `testing` feature, [`testing`] (a real server on 127.0.0.1 with a throwaway
//! database, for tests of any crate).

pub mod config;
pub mod db;
pub mod demo;
pub mod error;
pub mod fanout;
pub mod http;
pub mod hub;
pub mod metrics;
pub mod revocations;
pub mod service;
pub mod store;
#[cfg(feature = "testing")]
pub mod testing;

pub use config::{DbLocation, ServerConfig};
pub use error::{DomainError, ServerError};
pub use http::error::ApiError;
pub use metrics::{Metrics, MetricsSnapshot, RouteFigures};

use crate::db::Db;
use crate::fanout::{Announcer, Listener};
use crate::hub::Hub;
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
    /// PostgreSQL only: the task feeding this instance's hub from every instance's commits.
    listener: Option<Listener>,
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
        if let Some(listener) = self.listener.take() {
            listener.stop();
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
    let hub = Hub::new();
    let (store, fanout_listener) = match &config.db {
        crate::DbLocation::Postgres(url) => {
            // Listening before the first request is accepted: every commit from now on
            // reaches this instance's streams.
            let fanout_listener =
                match Listener::start(url, db.read.clone(), hub.clone(), shutdown_receiver.clone())
                    .await
                {
                    Ok(fanout_listener) => fanout_listener,
                    Err(error) => {
                        db.close().await;
                        return Err(error);
                    }
                };
            (Store::with_announcer(db, Announcer), Some(fanout_listener))
        }
        _ => (Store::new(db), None),
    };
    let app = Arc::new(AppCore::new(
        store,
        hub,
        metrics,
        config,
        shutdown_receiver.clone(),
    ));
    let router = http::router(app.clone());
    // Ends on shutdown (it watches the same signal).
    let _token_watch = revocations::watch_token_changes(app.clone());
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
        listener: fanout_listener,
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

/// Revokes (`Revoked`, returns `None`) or rotates (`Rotated`, returns the new token) the token
/// of `handle` in the database at `db`. Serving instances refuse the old token at once and
/// close its streams within their token-check interval.
pub async fn change_token(
    db: &DbLocation,
    handle: &str,
    change: store::tokens::TokenChange,
) -> Result<Option<String>, ServerError> {
    let db = Db::open(db).await?;
    let result = Store::new(db.clone()).change_token(handle, change).await;
    db.close().await;
    result
}
