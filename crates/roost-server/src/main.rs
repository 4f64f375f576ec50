//! `roost-server`: serve the Roost protocol, add users, revoke or rotate their tokens, or create
//! (and serve) the demo data set.
//! Logs go to stderr (`RUST_LOG`, default `info`); machine-readable output goes to stdout.

use anyhow::Context;
use clap::{Parser, Subcommand};
use roost_server::config::{
    DEFAULT_CHANGES_HORIZON, DEFAULT_MAX_CONCURRENT_REQUESTS, DEFAULT_READ_RATE_LIMIT,
    DEFAULT_REQUEST_TIMEOUT, DEFAULT_TOKEN_CHECK_INTERVAL, DEFAULT_WRITE_RATE_LIMIT, DbLocation,
    RateLimit, ServerConfig,
};
use roost_server::db::Db;
use roost_server::store::Store;
use roost_server::store::tokens::TokenChange;
use std::net::SocketAddr;
use std::time::Duration;

#[derive(Debug, Parser)]
#[command(
    name = "roost-server",
    version,
    about = "Roost reference sync server (protocol v1)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the HTTP + WebSocket API.
    Serve {
        /// Database: a SQLite file (created when missing), `:memory:`, or
        /// `postgres://user[:password]@host[:port]/database` (any number of instances may serve
        /// one PostgreSQL database).
        #[arg(long, env = "ROOST_DB")]
        db: String,
        #[arg(long, default_value = "127.0.0.1:7878", env = "ROOST_LISTEN")]
        listen: SocketAddr,
        /// How many revs behind a changes cursor may be before the answer is `too_old`.
        #[arg(long, default_value_t = DEFAULT_CHANGES_HORIZON)]
        changes_horizon: u64,
        /// Seconds between stream heartbeats.
        #[arg(long, default_value_t = 15)]
        heartbeat_secs: u64,
        /// Most concurrent streams in all (past it: 503 overloaded).
        #[arg(long, default_value_t = roost_server::config::DEFAULT_MAX_STREAMS)]
        max_streams: usize,
        /// Most concurrent streams of one user (past it: 429 rate_limited).
        #[arg(long, default_value_t = roost_server::config::DEFAULT_MAX_STREAMS_PER_USER)]
        max_streams_per_user: usize,
        /// Most members of one chat (past it: 409 too_many_members).
        #[arg(long, default_value_t = roost_server::config::DEFAULT_MAX_MEMBERS_PER_CHAT)]
        max_members_per_chat: usize,
        #[command(flatten)]
        limits: LimitArgs,
    },
    /// Revoke a user's token: it stops working at once and its streams are closed. The user
    /// has no working token until `rotate-token`.
    RevokeToken {
        handle: String,
        #[arg(long, env = "ROOST_DB")]
        db: String,
    },
    /// Replace a user's token with a new one and print it; the old one stops working at once
    /// and its streams are closed.
    RotateToken {
        handle: String,
        #[arg(long, env = "ROOST_DB")]
        db: String,
    },
    /// Create a user and print its bearer token.
    AddUser {
        /// Handle: 1-32 characters of a-z, 0-9, '_' or '-'.
        handle: String,
        #[arg(long)]
        display_name: Option<String>,
        #[arg(long, env = "ROOST_DB")]
        db: String,
    },
    /// Create the demo data set (idempotent) and print users, tokens and chats as JSON.
    Demo {
        #[arg(long, env = "ROOST_DB")]
        db: String,
        #[arg(long, default_value = "127.0.0.1:7878")]
        listen: SocketAddr,
        /// Serve after creating the data.
        #[arg(long)]
        serve: bool,
        /// Size of the big chat (for quick test runs).
        #[arg(long, hide = true, default_value_t = roost_server::demo::DEFAULT_BIG_CHAT_MESSAGES)]
        big_chat_messages: usize,
        #[arg(long, default_value_t = 15, hide = true)]
        heartbeat_secs: u64,
    },
}

/// Per-token rate limits, the request timeout and the concurrency limit of `serve`.
#[derive(Debug, clap::Args)]
struct LimitArgs {
    /// Reads (GET, stream connects) per second per token, refilling its burst; 0: no limit.
    #[arg(long, default_value_t = DEFAULT_READ_RATE_LIMIT.per_second)]
    read_rate: f64,
    /// Reads a token may make at once before the rate applies (past it: 429 rate_limited).
    #[arg(long, default_value_t = DEFAULT_READ_RATE_LIMIT.burst)]
    read_burst: u32,
    /// Writes (POST, PATCH, DELETE) per second per token; 0: no limit.
    #[arg(long, default_value_t = DEFAULT_WRITE_RATE_LIMIT.per_second)]
    write_rate: f64,
    /// Writes a token may make at once before the rate applies.
    #[arg(long, default_value_t = DEFAULT_WRITE_RATE_LIMIT.burst)]
    write_burst: u32,
    /// Seconds a request may take (past it: 503 overloaded).
    #[arg(long, default_value_t = DEFAULT_REQUEST_TIMEOUT.as_secs())]
    request_timeout_secs: u64,
    /// Requests handled at once in all (past it: 503 overloaded at once; streams count only
    /// while they connect).
    #[arg(long, default_value_t = DEFAULT_MAX_CONCURRENT_REQUESTS)]
    max_concurrent_requests: usize,
    /// Seconds between checks for revoked or rotated tokens (whose streams are then closed).
    #[arg(long, default_value_t = DEFAULT_TOKEN_CHECK_INTERVAL.as_secs())]
    token_check_secs: u64,
}

impl LimitArgs {
    fn apply(&self, config: &mut ServerConfig) {
        let limit = |per_second: f64, burst: u32| {
            (per_second > 0.0 && burst > 0).then_some(RateLimit { per_second, burst })
        };
        config.read_rate_limit = limit(self.read_rate, self.read_burst);
        config.write_rate_limit = limit(self.write_rate, self.write_burst);
        config.request_timeout = Duration::from_secs(self.request_timeout_secs.max(1));
        config.max_concurrent_requests = self.max_concurrent_requests.max(1);
        config.token_check_interval = Duration::from_secs(self.token_check_secs.max(1));
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    init_logging();
    let cli = Cli::parse();
    match cli.command {
        Command::Serve {
            db,
            listen,
            changes_horizon,
            heartbeat_secs,
            max_streams,
            max_streams_per_user,
            max_members_per_chat,
            limits,
        } => {
            let mut config = ServerConfig::new(parse_db(&db)?);
            config.listen = listen;
            config.changes_horizon = changes_horizon;
            config.max_streams = max_streams;
            config.max_streams_per_user = max_streams_per_user;
            config.max_members_per_chat = max_members_per_chat.max(1);
            config.heartbeat_interval = Duration::from_secs(heartbeat_secs.max(1));
            limits.apply(&mut config);
            serve_until_ctrl_c(config).await
        }
        Command::RevokeToken { handle, db } => {
            roost_server::change_token(&parse_db(&db)?, &handle, TokenChange::Revoked)
                .await
                .with_context(|| format!("revoking the token of {handle:?}"))?;
            tracing::info!(user = %handle, "token revoked");
            Ok(())
        }
        Command::RotateToken { handle, db } => {
            let token = roost_server::change_token(&parse_db(&db)?, &handle, TokenChange::Rotated)
                .await
                .with_context(|| format!("rotating the token of {handle:?}"))?;
            println!("{}", token.unwrap_or_default());
            Ok(())
        }
        Command::AddUser {
            handle,
            display_name,
            db,
        } => {
            let display_name = display_name.unwrap_or_else(|| handle.clone());
            let token = roost_server::add_user(&parse_db(&db)?, &handle, &display_name)
                .await
                .with_context(|| format!("adding user {handle:?}"))?;
            println!("{token}");
            Ok(())
        }
        Command::Demo {
            db,
            listen,
            serve,
            big_chat_messages,
            heartbeat_secs,
        } => demo(&db, listen, serve, big_chat_messages, heartbeat_secs).await,
    }
}

/// Logs to stderr (in colour on a terminal), at `RUST_LOG`'s levels or `info`.
fn init_logging() {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
}

/// `demo`: creates the demo data in `db` (once), prints its users, tokens and URL as JSON, and
/// with `serve` goes on serving it.
async fn demo(
    db: &str,
    listen: SocketAddr,
    serve: bool,
    big_chat_messages: usize,
    heartbeat_secs: u64,
) -> anyhow::Result<()> {
    let location = parse_db(db)?;
    if serve && location == DbLocation::Memory {
        anyhow::bail!(
            "demo with --serve needs a database file (an in-memory one would be empty when served)"
        );
    }
    let opened = Db::open(&location).await.context("opening the database")?;
    let started = std::time::Instant::now();
    let output = roost_server::demo::ensure_demo(
        &Store::new(opened.clone()),
        &format!("http://{listen}"),
        big_chat_messages,
    )
    .await
    .context("creating the demo data")?;
    opened.close().await;
    tracing::info!(
        created = output.created,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "demo data ready"
    );
    println!("{}", serde_json::to_string_pretty(&output)?);
    if serve {
        let mut config = ServerConfig::new(location);
        config.listen = listen;
        config.heartbeat_interval = Duration::from_secs(heartbeat_secs.max(1));
        serve_until_ctrl_c(config).await?;
    }
    Ok(())
}

/// `--db`, refusing a scheme the server does not speak (rather than creating a directory named
/// after it).
fn parse_db(text: &str) -> anyhow::Result<DbLocation> {
    Ok(DbLocation::parse(text)?)
}

async fn serve_until_ctrl_c(config: ServerConfig) -> anyhow::Result<()> {
    let server = roost_server::start(config)
        .await
        .context("starting the server")?;
    tracing::info!(url = %server.base_url(), "serving; Ctrl-C stops");
    tokio::signal::ctrl_c()
        .await
        .context("waiting for Ctrl-C")?;
    tracing::info!("shutting down");
    server.shutdown().await;
    Ok(())
}
