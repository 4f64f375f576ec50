//! `roost`: a scriptable Roost client over `roost-core`, with stable `--json` output (shapes in
//! this crate's README.md). It owns argument parsing and printing only; every cache and sync
//! rule lives in `roost-core`. `open` and `cache-map` never touch the network.

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use roost_core::{Anchor, Client, ClientConfig, ClientEvent, Error, OutboxState, WindowItem};
use roost_model::human;
use roost_proto::{ChatId, MessageId, Seq};
use serde_json::json;
use std::path::PathBuf;
use std::process::ExitCode;

mod cache_tools;

#[derive(Debug, Parser)]
#[command(
    name = "roost",
    version,
    about = "Roost: a cache-first chat client (scriptable)"
)]
struct Cli {
    /// Server base URL, e.g. http://127.0.0.1:7878.
    #[arg(long, env = "ROOST_SERVER", global = true)]
    server: Option<String>,
    /// Bearer token of the user.
    #[arg(long, env = "ROOST_TOKEN", global = true, hide_env_values = true)]
    token: Option<String>,
    /// Directory holding the caches, one per account under `accounts/` (default: the
    /// desktop app's data dir, e.g. ~/.local/share/dev.roost.desktop: the same server and
    /// token pick the same file as the app).
    #[arg(long, env = "ROOST_DATA_DIR", global = true)]
    data_dir: Option<PathBuf>,
    /// Machine-readable output (one JSON document; `watch`: one per line).
    #[arg(long, global = true)]
    json: bool,
    /// Allow plain http:// to a server that is not on this machine (the token then crosses
    /// the network unencrypted); without it such a URL is refused.
    #[arg(long, global = true)]
    insecure_http: bool,
    /// Cache budget in bytes for this run (default: the one set with `roost budget --set`,
    /// else 1 GiB); commands that fetch history evict above it.
    #[arg(long, global = true)]
    cache_budget: Option<u64>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// The chat list: refreshed from the server when it answers, else the cached one.
    Chats,
    /// The cached window of a chat with gap markers. Never waits for the network.
    Open {
        /// Chat id, or exact title of a cached chat.
        chat: String,
        /// Center the window on this seq instead of the newest messages.
        #[arg(long)]
        around: Option<u64>,
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// Fetch the page of history above the oldest cached message.
    Older { chat: String },
    /// Fetch only what is missing (and changes since the last sync), then re-validate.
    Resync { chat: String },
    /// Send a text message (kept in the outbox until the server has it).
    Send { chat: String, text: String },
    /// Edit a message.
    Edit {
        chat: String,
        message_id: String,
        text: String,
    },
    /// Delete (tombstone) a message.
    Delete { chat: String, message_id: String },
    /// Stream everything into the cache, printing what arrives, until Ctrl-C.
    Watch,
    /// Cached runs and missing ranges of a chat over 1..=server_last_seq.
    CacheMap { chat: String },
    /// Search the cached messages of one chat or all; names what is not cached (not searched).
    Search {
        /// `[<chat>] <query>`.
        #[arg(num_args = 1..=2, required = true)]
        terms: Vec<String>,
        /// Fetch exactly the seqs that were not searched, then search again.
        #[arg(long)]
        fetch: bool,
        #[arg(long)]
        limit: Option<u32>,
    },
    /// Compare a chat's cache with the server by digests and repair what differs.
    Verify { chat: String },
    /// Clear cached history (keeps each chat's newest messages): one chat, or every chat.
    Clear { chat: Option<String> },
    /// Show the cache's size and budget; `--set BYTES` changes the budget (and evicts).
    Budget {
        #[arg(long)]
        set: Option<u64>,
    },
    /// Leave a chat: the server removes you from it; here it stays readable ("left") with what
    /// was cached, and is never synced again.
    Leave { chat: String },
    /// Remove a chat you left from this device (every cached message of it). Cache only.
    Forget { chat: String },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let json = cli.json;
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("roost: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let (kind, message) = match e.downcast_ref::<Error>() {
                Some(core) => (core.kind(), core.to_string()),
                None => ("cli", format!("{e:#}")),
            };
            if json {
                println!(
                    "{}",
                    json!({ "error": { "kind": kind, "message": message } })
                );
            } else if let Some(core) = e.downcast_ref::<Error>() {
                // A person reads the sentence; the technical cause follows for bug reports.
                let sentence = human::error_sentence(core.kind(), core.server_kind());
                eprintln!("roost: {sentence}\nroost: (details: {message})");
            } else {
                eprintln!("roost: {message}");
            }
            ExitCode::FAILURE
        }
    }
}

/// Opens the client a command needs: the cache in `--data-dir`, and the server unless the command
/// reads the cache only.
async fn open_client(cli: &Cli) -> anyhow::Result<Client> {
    let data_dir = cli
        .data_dir
        .clone()
        .unwrap_or_else(roost_core::default_data_dir);
    // Even the offline commands need both: they pick the account's own cache (the user of a
    // token is asked of the server once, then remembered on this device).
    let (Some(server), Some(token)) = (cli.server.clone(), cli.token.clone()) else {
        bail!(
            "--server and --token (or ROOST_SERVER / ROOST_TOKEN) are required: they choose the account's cache"
        )
    };
    let mut api = roost_core::api::ApiConfig::new(&server, &token);
    api.request_timeout = std::time::Duration::from_secs(20);
    api.allow_insecure_http = cli.insecure_http;
    let account = roost_core::account::resolve_with(&data_dir, api, None).await?;
    let mut config: ClientConfig = account
        .config(&token)
        // One-shot commands do exactly what they say; `watch` runs like the desktop app
        // (outbox delivery with retries, interrupted resyncs resumed).
        .background(matches!(cli.command, Command::Watch));
    config.request_timeout = std::time::Duration::from_secs(20);
    config.allow_insecure_http = cli.insecure_http;
    let (client, info) = Client::open(config).await?;
    if let Some(c) = &info.corruption {
        eprintln!(
            "roost: the cache was corrupt ({}); moved it to {} and started a fresh one",
            c.reason,
            c.moved_to.display()
        );
    }
    Ok(client)
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let client = open_client(&cli).await?;
    let json = cli.json;
    let cache_budget = cli.cache_budget;
    let fetches_history = cache_tools::fetches_history(&cli.command);
    let result = match cli.command {
        Command::Chats => chats(&client, json).await,
        Command::Open {
            chat,
            around,
            limit,
        } => open(&client, &chat, around, limit, json).await,
        Command::Older { chat } => older(&client, &chat, json).await,
        Command::Resync { chat } => resync(&client, &chat, json).await,
        Command::Send { chat, text } => send(&client, &chat, &text, json).await,
        Command::Edit {
            chat,
            message_id,
            text,
        } => edit(&client, &chat, &message_id, &text, json).await,
        Command::Delete { chat, message_id } => delete(&client, &chat, &message_id, json).await,
        Command::Watch => watch(&client, json).await,
        Command::CacheMap { chat } => cache_map(&client, &chat, json).await,
        Command::Search {
            terms,
            fetch,
            limit,
        } => cache_tools::search(&client, &terms, fetch, limit, json).await,
        Command::Verify { chat } => cache_tools::verify(&client, &chat, json).await,
        Command::Clear { chat } => cache_tools::clear(&client, chat.as_deref(), json).await,
        Command::Budget { set } => cache_tools::budget(&client, set, json).await,
        Command::Leave { chat } => leave(&client, &chat, json).await,
        Command::Forget { chat } => forget(&client, &chat, json).await,
    };
    if result.is_ok() && fetches_history {
        cache_tools::enforce_budget(&client, cache_budget).await?;
    }
    result
}

async fn leave(client: &Client, chat: &str, json: bool) -> anyhow::Result<()> {
    let chat = resolve(client, chat, true).await?;
    client.leave_chat(chat).await?;
    if json {
        print_json(&json!({ "chat_id": chat, "left": true }))?;
    } else {
        println!("left {chat}; its cached messages stay readable here (roost forget removes them)");
    }
    Ok(())
}

async fn forget(client: &Client, chat: &str, json: bool) -> anyhow::Result<()> {
    let chat = resolve(client, chat, false).await?;
    client.forget_chat(chat).await?;
    if json {
        print_json(&json!({ "chat_id": chat, "forgotten": true }))?;
    } else {
        println!("removed {chat} from this device");
    }
    Ok(())
}

async fn open(
    client: &Client,
    chat: &str,
    around: Option<Seq>,
    limit: u32,
    json: bool,
) -> anyhow::Result<()> {
    let chat = resolve(client, chat, false).await?;
    let anchor = around.map_or(Anchor::Newest, |seq| Anchor::Around { seq });
    let w = client.window(chat, anchor, limit).await?;
    if json {
        print_json(&w)?;
    } else {
        print_window(&w);
    }
    Ok(())
}

async fn older(client: &Client, chat: &str, json: bool) -> anyhow::Result<()> {
    let chat = resolve(client, chat, true).await?;
    let r = client.load_older(chat).await?;
    if json {
        print_json(&r)?;
    } else {
        println!(
            "fetched {} older message(s){}; {} request(s), {} bytes",
            r.fetched,
            if r.reached_start {
                ", history complete"
            } else {
                ""
            },
            r.requests,
            r.bytes_received
        );
    }
    Ok(())
}

async fn resync(client: &Client, chat: &str, json: bool) -> anyhow::Result<()> {
    let chat = resolve(client, chat, true).await?;
    let r = client.resync(chat).await?;
    if json {
        print_json(&r)?;
    } else {
        println!(
            "{}: gaps {} -> {}, fetched {} missing message(s), {} change(s); {} request(s), {} bytes",
            r.state.as_str(),
            r.gaps_before,
            r.gaps_after,
            r.messages_fetched,
            r.changes_applied,
            r.requests,
            r.bytes_received
        );
        if let Some(reason) = &r.full_reload {
            println!("full reload of this chat: {reason}");
        }
        if let Some(reason) = &r.revalidated {
            println!("re-validated the cached range: {reason}");
        }
    }
    Ok(())
}

async fn send(client: &Client, chat: &str, text: &str, json: bool) -> anyhow::Result<()> {
    let chat = resolve(client, chat, true).await?;
    let entry = client.send(chat, text).await?;
    let (state, delivered, error) = match client.flush_outbox().await {
        Ok(report) => {
            if let Some(d) = report
                .delivered
                .into_iter()
                .find(|d| d.local_id == entry.local_id)
            {
                (OutboxState::Delivered, Some(d.message), None)
            } else if let Some(f) = report
                .failed
                .into_iter()
                .find(|f| f.local_id == entry.local_id)
            {
                (OutboxState::Failed, None, f.last_error)
            } else {
                let still = client
                    .outbox(Some(chat))
                    .await?
                    .into_iter()
                    .find(|e| e.local_id == entry.local_id);
                (OutboxState::Pending, None, still.and_then(|e| e.last_error))
            }
        }
        Err(e) => (OutboxState::Pending, None, Some(e.to_string())),
    };
    if json {
        print_json(&json!({
            "local_id": entry.local_id,
            "idempotency_key": entry.idempotency_key,
            "state": state,
            "message": delivered,
            "error": error,
        }))?;
    } else {
        match (&state, &delivered) {
            (OutboxState::Delivered, Some(m)) => println!("sent as #{} ({})", m.seq, m.id),
            (OutboxState::Failed, _) => println!("rejected: {}", error.unwrap_or_default()),
            _ => println!(
                "queued (server unreachable); it will be sent by the next roost command that reaches the server{}",
                error.map(|e| format!(": {e}")).unwrap_or_default()
            ),
        }
    }
    if state == OutboxState::Failed {
        bail!("the server rejected the message");
    }
    Ok(())
}

async fn edit(
    client: &Client,
    chat: &str,
    message_id: &str,
    text: &str,
    json: bool,
) -> anyhow::Result<()> {
    let chat = resolve(client, chat, true).await?;
    let id = MessageId::from_str_checked(message_id)?;
    let m = client.edit(chat, id, text).await?;
    if json {
        print_json(&m)?;
    } else {
        println!("edited #{} (version {})", m.seq, m.version);
    }
    Ok(())
}

async fn delete(client: &Client, chat: &str, message_id: &str, json: bool) -> anyhow::Result<()> {
    let chat = resolve(client, chat, true).await?;
    let id = MessageId::from_str_checked(message_id)?;
    let m = client.delete(chat, id).await?;
    if json {
        print_json(&m)?;
    } else {
        println!("deleted #{} (version {})", m.seq, m.version);
    }
    Ok(())
}

async fn cache_map(client: &Client, chat: &str, json: bool) -> anyhow::Result<()> {
    let chat = resolve(client, chat, false).await?;
    let map = client.cache_map(chat).await?;
    if json {
        print_json(&map)?;
    } else {
        println!(
            "server last_seq {}, {} cached",
            map.server_last_seq, map.cached_count
        );
        for r in &map.cached {
            println!("  cached  {}..={} ({})", r.start, r.end, r.len());
        }
        for r in &map.missing {
            println!("  missing {}..={} ({})", r.start, r.end, r.len());
        }
        if let Some(r) = map.evicted {
            println!(
                "  (of which {}..={} was evicted here: `roost resync` fetches it back)",
                r.start, r.end
            );
        }
    }
    Ok(())
}

trait ParseId: Sized {
    fn from_str_checked(s: &str) -> anyhow::Result<Self>;
}

impl ParseId for MessageId {
    fn from_str_checked(s: &str) -> anyhow::Result<Self> {
        s.parse()
            .with_context(|| format!("{s:?} is not a message id"))
    }
}

/// A chat id, or the exact title of a cached chat (refreshing the list first when allowed).
async fn resolve(client: &Client, arg: &str, may_refresh: bool) -> anyhow::Result<ChatId> {
    match client.resolve_chat(arg).await {
        Ok(id) => Ok(id),
        Err(Error::NotFound(_)) if may_refresh => {
            client.refresh_chats().await?;
            Ok(client.resolve_chat(arg).await?)
        }
        Err(e) => Err(e.into()),
    }
}

async fn chats(client: &Client, json: bool) -> anyhow::Result<()> {
    let refreshed = match client.refresh_chats().await {
        Ok(_) => true,
        Err(e) if e.code() == roost_core::ErrorCode::Offline => {
            if !json {
                eprintln!("roost: server unreachable, showing the cached list");
            }
            false
        }
        Err(e) => return Err(e.into()),
    };
    let chats = client.chats().await?;
    if json {
        // Each record plus `left`: the user is no longer a member (read-only, never synced).
        let chats = chats
            .iter()
            .map(|c| {
                let mut value = serde_json::to_value(c)?;
                value["left"] = json!(c.is_left());
                Ok(value)
            })
            .collect::<Result<Vec<_>, serde_json::Error>>()?;
        print_json(&json!({ "refreshed": refreshed, "chats": chats }))?;
    } else {
        for c in &chats {
            println!(
                "{:<24} {}  seq {}/{}  unread {}  {}{}",
                c.title,
                c.chat_id,
                c.local_max.unwrap_or(0),
                c.server_last_seq,
                c.unread_count,
                if c.is_left() { "(left) " } else { "" },
                c.last_message_preview.as_deref().unwrap_or("")
            );
        }
    }
    Ok(())
}

fn print_json<T: serde::Serialize>(v: &T) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string(v)?);
    Ok(())
}

fn print_window(w: &roost_core::ChatWindow) {
    println!(
        "{} ({}), server last_seq {}",
        w.chat.title, w.chat.chat_id, w.chat.server_last_seq
    );
    if w.has_more_before {
        println!("  … more cached above (use --around)");
    }
    for item in &w.items {
        match item {
            WindowItem::Message { message: m } if m.is_deleted() => {
                println!("#{:<6} (deleted)", m.seq)
            }
            WindowItem::Message { message: m } => println!(
                "#{:<6} {}: {}{}",
                m.seq,
                m.author,
                m.text()
                    .map(str::to_string)
                    .unwrap_or_else(|| m.body.to_string()),
                if m.edited_at.is_some() {
                    " (edited)"
                } else {
                    ""
                }
            ),
            WindowItem::Gap { from, to } => {
                println!("[missing {from}..={to}: {} message(s)]", to - from + 1)
            }
            WindowItem::OlderHistory { to } => println!("[older history 1..={to} not cached]"),
        }
    }
    for p in &w.pending {
        let state = match p.state {
            OutboxState::Failed => "failed",
            _ => "pending",
        };
        println!(
            "({state}) {}",
            p.body.get("text").and_then(|t| t.as_str()).unwrap_or("")
        );
    }
}

async fn title_of(client: &Client, chat: ChatId) -> String {
    match client.chat(chat).await {
        Ok(Some(c)) if !c.title.is_empty() => c.title,
        _ => chat.to_string(),
    }
}

async fn watch(client: &Client, json: bool) -> anyhow::Result<()> {
    let mut events = client.subscribe();
    let mut fetching = std::collections::HashSet::new();
    client.start_stream();
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {
                client.shutdown().await;
                return Ok(());
            }
            ev = events.recv() => {
                let ev = match ev {
                    Ok(ev) => ev,
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                        eprintln!("roost: {n} event(s) not printed (too fast)");
                        continue;
                    }
                    Err(_) => return Ok(()),
                };
                if json {
                    print_json(&ev)?;
                    continue;
                }
                match &ev {
                    ClientEvent::Connection { online } => {
                        println!("{}", if *online { "connected" } else { "disconnected, reconnecting…" });
                    }
                    ClientEvent::MessagesChanged { chat_id, seqs } => {
                        let title = title_of(client, *chat_id).await;
                        if fetching.contains(chat_id) {
                            continue; // summarised by fetch_finished
                        }
                        for seq in seqs {
                            if let Some(m) = client.cached_messages(*chat_id, *seq, *seq).await?.into_iter().next() {
                                let text = if m.is_deleted() { "(deleted)".to_string() } else { m.text().unwrap_or("").to_string() };
                                println!("[{title}] #{} {}: {}{}", m.seq, m.author, text, if m.version > 1 && !m.is_deleted() { " (edited)" } else { "" });
                            }
                        }
                    }
                    ClientEvent::FetchStarted { chat_id } => {
                        fetching.insert(*chat_id);
                        println!("[{}] syncing missing messages…", title_of(client, *chat_id).await);
                    }
                    ClientEvent::FetchFinished { chat_id, fetched } => {
                        fetching.remove(chat_id);
                        println!("[{}] synced {fetched} message(s)", title_of(client, *chat_id).await);
                    }
                    ClientEvent::OutboxChanged { entry, message: Some(m) } => {
                        println!("[{}] delivered #{} ({})", title_of(client, entry.chat_id).await, m.seq, entry.local_id);
                    }
                    _ => {}
                }
            }
        }
    }
}
