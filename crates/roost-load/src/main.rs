//! `roost-load`: a bounded load test of the stream fan-out on loopback.
//!
//! It creates users and chats, starts `roost-server serve` child processes on 127.0.0.1, opens
//! N concurrent WebSocket streams (several per user), then sends at a steady rate so the
//! servers deliver `--rate` messages per second in all, and prints: connect time, deliveries
//! expected and received, lost (must be 0), fan-out latency p50/p99/max (from the start of the
//! send to the arrival on a stream), and each server's CPU and RSS read from `/proc`.
//! Everything is bounded: at most 50,000 streams and 300 s of sending; only loopback.

mod server;
mod streams;

use anyhow::{Context, bail};
use clap::Parser;
use roost_server::config::DbLocation;
use server::{ProcSample, ServerProcess};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::{Semaphore, watch};

#[derive(Debug, Parser)]
#[command(
    name = "roost-load",
    about = "Roost stream fan-out load test (loopback only)"
)]
struct Args {
    /// Concurrent WebSocket streams in all.
    #[arg(long, default_value_t = 10_000)]
    streams: usize,
    /// Streams per user (a user on several devices); users = streams / this.
    #[arg(long, default_value_t = 8)]
    streams_per_user: usize,
    /// Members per chat; every send is delivered to members × streams_per_user streams.
    #[arg(long, default_value_t = 5)]
    members_per_chat: usize,
    /// Target deliveries per second (all streams together).
    #[arg(long, default_value_t = 1_000)]
    rate: u64,
    /// Seconds of sending.
    #[arg(long, default_value_t = 20)]
    duration_secs: u64,
    /// Server instances sharing the database (streams and sends spread over them).
    #[arg(long, default_value_t = 1)]
    instances: usize,
    /// The database: a SQLite file (default: a new one in a temporary directory).
    #[arg(long)]
    db: Option<String>,
    /// The `roost-server` binary (default: beside this one).
    #[arg(long)]
    server_bin: Option<PathBuf>,
    /// Extra arguments for every `roost-server serve` (repeat the flag).
    #[arg(long = "server-arg", allow_hyphen_values = true)]
    server_args: Vec<String>,
    /// Stream connects in flight at once.
    #[arg(long, default_value_t = 64)]
    connect_concurrency: usize,
}

/// Bounds that keep a mistyped argument from running away.
const MAX_STREAMS: usize = 50_000;
const MAX_DURATION_SECS: u64 = 300;
/// How long deliveries may trail the last send before the missing ones count as lost.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    check_bounds(&args)?;
    let open_files = rlimit::increase_nofile_limit(u64::MAX).unwrap_or(0);
    let users = args.streams.div_ceil(args.streams_per_user);
    let chats = (users / args.members_per_chat).max(1);
    let dir = tempfile::tempdir()?;
    let db = args
        .db
        .clone()
        .unwrap_or_else(|| dir.path().join("load.db").display().to_string());
    println!(
        "load: backend={} instances={} streams={} users={users} chats={chats} members/chat={} rate={}/s duration={}s open-files-limit={open_files}",
        backend_name(&db),
        args.instances,
        args.streams,
        args.members_per_chat,
        args.rate,
        args.duration_secs
    );
    let tokens = create_users(&db, users).await?;
    let binary = args
        .server_bin
        .clone()
        .unwrap_or_else(server::default_server_binary);
    let mut servers = Vec::new();
    for index in 0..args.instances {
        let log = dir.path().join(format!("server-{index}.log"));
        servers.push(ServerProcess::start(&binary, &db, &args.server_args, &log).await?);
    }
    let urls: Vec<String> = servers.iter().map(|s| s.base_url.clone()).collect();
    let chat_members = create_chats(&urls[0], &tokens, chats, args.members_per_chat).await?;

    let epoch = Instant::now();
    let received = Arc::new(AtomicU64::new(0));
    let (stop_sender, stop) = watch::channel(false);
    let connected = connect_streams(&args, &urls, &tokens, epoch, &received, stop).await?;
    let idle: Vec<ProcSample> = servers
        .iter()
        .map(|s| s.sample())
        .collect::<Result<_, _>>()?;

    let expected = Arc::new(AtomicU64::new(0));
    let sends = run_sends(&args, &urls, &tokens, &chat_members, epoch, &expected).await;
    wait_for_deliveries(&received, &expected).await;
    let busy: Vec<ProcSample> = servers
        .iter()
        .map(|s| s.sample())
        .collect::<Result<_, _>>()?;
    let _ = stop_sender.send(true);
    let mut reports = Vec::new();
    for task in connected.tasks {
        reports.push(task.await?);
    }
    print_figures(
        &connected.connect_us,
        connected.failed,
        &sends,
        &expected,
        &reports,
    );
    print_server_figures(&idle, &busy);
    drop(servers);
    Ok(())
}

/// Refuses arguments outside the bounds that keep a mistyped one from running away.
fn check_bounds(args: &Args) -> anyhow::Result<()> {
    if args.streams == 0 || args.streams > MAX_STREAMS {
        bail!("--streams must be 1..={MAX_STREAMS}");
    }
    if args.duration_secs == 0 || args.duration_secs > MAX_DURATION_SECS {
        bail!("--duration-secs must be 1..={MAX_DURATION_SECS}");
    }
    if args.instances == 0 || args.members_per_chat == 0 || args.streams_per_user == 0 {
        bail!("--instances, --members-per-chat and --streams-per-user must be at least 1");
    }
    Ok(())
}

/// Waits until every expected delivery was received, or [`DRAIN_TIMEOUT`] passed (the rest
/// then count as lost).
async fn wait_for_deliveries(received: &AtomicU64, expected: &AtomicU64) {
    let drain_started = Instant::now();
    while received.load(Ordering::Relaxed) < expected.load(Ordering::Relaxed)
        && drain_started.elapsed() < DRAIN_TIMEOUT
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Each server's CPU while sending, and its memory with the streams open and after sending.
fn print_server_figures(idle: &[ProcSample], busy: &[ProcSample]) {
    for (index, (before, after)) in idle.iter().zip(busy).enumerate() {
        let seconds = after.at.duration_since(before.at).as_secs_f64();
        let cpu = after.cpu_seconds - before.cpu_seconds;
        println!(
            "server {index}: cpu {:.0}% of one core while sending ({cpu:.1} s over {seconds:.1} s); rss with streams open {} MiB, after sending {} MiB, peak {} MiB; threads {}",
            100.0 * cpu / seconds.max(0.001),
            before.rss_kib / 1024,
            after.rss_kib / 1024,
            after.peak_rss_kib / 1024,
            after.threads
        );
    }
}

fn backend_name(db: &str) -> &'static str {
    if db.starts_with("postgres://") || db.starts_with("postgresql://") {
        "postgres"
    } else {
        "sqlite"
    }
}

/// Creates `count` users `load00000…` straight in the database (before any server runs) and
/// returns their tokens in order.
async fn create_users(db: &str, count: usize) -> anyhow::Result<Vec<String>> {
    let started = Instant::now();
    let opened = roost_server::db::Db::open(&DbLocation::parse(db)?)
        .await
        .context("opening the database")?;
    let store = roost_server::store::Store::new(opened.clone());
    let mut tokens = Vec::with_capacity(count);
    for index in 0..count {
        tokens.push(store.add_user(&format!("load{index:05}"), "Load").await?);
    }
    opened.close().await;
    println!(
        "setup: {count} users in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(tokens)
}

/// Creates `count` chats over HTTP; chat `c` has users `c·m … c·m + m − 1`. Returns each
/// chat's id and member indexes.
async fn create_chats(
    url: &str,
    tokens: &[String],
    count: usize,
    members: usize,
) -> anyhow::Result<Vec<(String, Vec<usize>)>> {
    let http = reqwest::Client::new();
    let mut chats = Vec::with_capacity(count);
    for chat in 0..count {
        let member_indexes: Vec<usize> = (chat * members..(chat + 1) * members)
            .filter(|index| *index < tokens.len())
            .collect();
        let others: Vec<String> = member_indexes[1..]
            .iter()
            .map(|index| format!("load{index:05}"))
            .collect();
        let response = http
            .post(format!("{url}/v1/chats"))
            .bearer_auth(&tokens[member_indexes[0]])
            .json(&serde_json::json!({ "title": format!("load {chat}"), "members": others }))
            .send()
            .await?;
        if !response.status().is_success() {
            bail!("creating chat {chat}: {}", response.text().await?);
        }
        let summary: roost_proto::ChatSummary = response.json().await?;
        chats.push((summary.id.to_string(), member_indexes));
    }
    Ok(chats)
}

struct Connected {
    tasks: Vec<tokio::task::JoinHandle<streams::StreamReport>>,
    connect_us: Vec<u64>,
    failed: usize,
}

/// Opens every stream (user `i / streams_per_user`, instance `i mod instances`), at most
/// `connect_concurrency` at a time, and leaves each receiving in its own task.
async fn connect_streams(
    args: &Args,
    urls: &[String],
    tokens: &[String],
    epoch: Instant,
    received: &Arc<AtomicU64>,
    stop: watch::Receiver<bool>,
) -> anyhow::Result<Connected> {
    let started = Instant::now();
    let gate = Arc::new(Semaphore::new(args.connect_concurrency.max(1)));
    let mut connects = Vec::with_capacity(args.streams);
    for index in 0..args.streams {
        let url = urls[index % urls.len()].clone();
        let token = tokens[index / args.streams_per_user].clone();
        let gate = gate.clone();
        connects.push(tokio::spawn(async move {
            let _permit = gate.acquire_owned().await;
            streams::connect(&url, &token).await
        }));
    }
    let mut connected = Connected {
        tasks: Vec::with_capacity(args.streams),
        connect_us: Vec::with_capacity(args.streams),
        failed: 0,
    };
    let mut first_error = None;
    for connect in connects {
        match connect.await? {
            Ok((socket, took)) => {
                connected.connect_us.push(took.as_micros() as u64);
                let stop = stop.clone();
                let received = received.clone();
                connected.tasks.push(tokio::spawn(async move {
                    streams::receive(socket, epoch, stop, &received).await
                }));
            }
            Err(error) => {
                connected.failed += 1;
                first_error.get_or_insert(error);
            }
        }
    }
    println!(
        "connect: {} streams open in {:.1} s, {} failed{}",
        connected.tasks.len(),
        started.elapsed().as_secs_f64(),
        connected.failed,
        first_error
            .map(|e| format!(" (first: {e})"))
            .unwrap_or_default()
    );
    Ok(connected)
}

#[derive(Debug, Default)]
struct SendFigures {
    ok: u64,
    failed: u64,
    latencies_us: Vec<u64>,
    elapsed: Duration,
}

/// Sends one message per tick so that `rate` deliveries per second result; chat `t mod chats`,
/// sender its member `t mod members`, instance `t mod instances`. Counts the deliveries each
/// successful send must cause.
async fn run_sends(
    args: &Args,
    urls: &[String],
    tokens: &[String],
    chats: &[(String, Vec<usize>)],
    epoch: Instant,
    expected: &Arc<AtomicU64>,
) -> SendFigures {
    let fan_out = (args.members_per_chat * args.streams_per_user) as f64;
    let sends_per_second = (args.rate as f64 / fan_out).max(0.1);
    let total = (sends_per_second * args.duration_secs as f64).round() as u64;
    let http = reqwest::Client::new();
    let mut ticker = tokio::time::interval(Duration::from_secs_f64(1.0 / sends_per_second));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(total as usize);
    for tick in 0..total as usize {
        ticker.tick().await;
        let (chat, members) = &chats[tick % chats.len()];
        let sender = members[tick % members.len()];
        let request = http
            .post(format!(
                "{}/v1/chats/{chat}/messages",
                urls[tick % urls.len()]
            ))
            .bearer_auth(&tokens[sender]);
        let deliveries = (members.len() * args.streams_per_user) as u64;
        let expected = expected.clone();
        tasks.push(tokio::spawn(async move {
            let sent_at_us = epoch.elapsed().as_micros() as u64;
            let body = serde_json::json!({
                "idempotency_key": uuid::Uuid::new_v4().to_string(),
                "body": { "text": "load", "sent_at_us": sent_at_us },
            });
            let ok =
                matches!(request.json(&body).send().await, Ok(r) if r.status().as_u16() == 201);
            if ok {
                expected.fetch_add(deliveries, Ordering::Relaxed);
            }
            (ok, epoch.elapsed().as_micros() as u64 - sent_at_us)
        }));
    }
    let mut figures = SendFigures::default();
    for task in tasks {
        match task.await {
            Ok((true, took)) => {
                figures.ok += 1;
                figures.latencies_us.push(took);
            }
            _ => figures.failed += 1,
        }
    }
    figures.elapsed = started.elapsed();
    figures
}

fn print_figures(
    connect_us: &[u64],
    connect_failed: usize,
    sends: &SendFigures,
    expected: &AtomicU64,
    reports: &[streams::StreamReport],
) {
    let mut connect = connect_us.to_vec();
    println!(
        "connect time per stream (upgrade + hello): {} ({connect_failed} failed)",
        percentiles(&mut connect)
    );
    let mut send_latency = sends.latencies_us.clone();
    println!(
        "sends: {} ok, {} failed in {:.1} s ({:.1}/s); send latency {}",
        sends.ok,
        sends.failed,
        sends.elapsed.as_secs_f64(),
        sends.ok as f64 / sends.elapsed.as_secs_f64().max(0.001),
        percentiles(&mut send_latency)
    );
    let expected = expected.load(Ordering::Relaxed);
    let received: u64 = reports.iter().map(|r| r.received).sum();
    let duplicates: u64 = reports.iter().map(|r| r.duplicates).sum();
    let closed: Vec<&streams::StreamReport> = reports.iter().filter(|r| r.closed_early).collect();
    println!(
        "deliveries: expected {expected}, received {received} ({:.0}/s), lost {}, duplicates {duplicates}, streams closed early {}{}",
        received as f64 / sends.elapsed.as_secs_f64().max(0.001),
        expected.saturating_sub(received),
        closed.len(),
        closed
            .first()
            .and_then(|r| r.close_reason.clone())
            .map(|reason| format!(" (first: {reason})"))
            .unwrap_or_default()
    );
    let mut latencies: Vec<u64> = reports
        .iter()
        .flat_map(|r| r.latencies_us.iter().copied())
        .collect();
    println!(
        "fan-out latency (send start → stream arrival): {}",
        percentiles(&mut latencies)
    );
}

/// `p50 1.2 ms, p99 8.0 ms, max 20.1 ms` of µs values.
fn percentiles(values: &mut [u64]) -> String {
    if values.is_empty() {
        return "no samples".into();
    }
    values.sort_unstable();
    let at = |q: f64| values[((values.len() - 1) as f64 * q).round() as usize] as f64 / 1000.0;
    format!(
        "p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms (n={})",
        at(0.50),
        at(0.99),
        at(1.0),
        values.len()
    )
}
