//! `roost-bench`: Roost's figures, each printed beside the floor or baseline it is judged
//! against (issues 3 and 11). Run with `./dev bench` (release; it also measures the release app).
//! `--quick` uses small sizes (a smoke run, also exercised by the test suite so the benchmark
//! cannot rot); `--json` prints every figure as ONE JSON object on the last line of stdout;
//! `--write-doc` regenerates `docs/benchmarks.md` from that object.
//!
//! * open-chat latency (p50/p99) with 1k, 100k and 1M cached messages against a bare-SQLite
//!   floor (one prepared statement reading and decoding the same rows), and `Client::open`
//!   (start-up) at each size (`open`);
//! * ingest: batched and one message per store call against bare-SQLite inserts, and live
//!   stream ingest end to end over a real WebSocket, one message per frame (`ingest`);
//! * gap computation at two cache sizes and resync bandwidth on the wire (`gaps_resync`);
//! * instruction counts of the core paths under callgrind (`instructions`);
//! * search p50 over 1M cached messages against a `LIKE` scan, and verify's bytes against a
//!   full download / buckets refetched for 10 damaged rows (`cache_tools`, issue 12);
//! * the release app's figures (click → paint, cold start, RSS) are measured by
//!   `src-tauri/tests/bench_app/` and merged in with `--app-figures`.
//!
//! Nothing here asserts on time; `--check` only checks the wire-count targets (bytes and
//! requests), which are deterministic.

use anyhow::{Context, Result, bail};
use clap::Parser;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::sync::Mutex;

/// Everything printed, kept for the generated document.
static PRINTED: Mutex<String> = Mutex::new(String::new());

/// `println!` that also keeps the text for `docs/benchmarks.md`.
macro_rules! println {
    () => { $crate::say(String::from("\n")) };
    ($($arg:tt)*) => { $crate::say(format!("{}\n", format_args!($($arg)*))) };
}
/// `print!` that also keeps the text.
macro_rules! print {
    ($($arg:tt)*) => { $crate::say(format!($($arg)*)) };
}

mod app_report;
mod cache_tools;
mod data;
mod gaps_resync;
mod ingest;
mod instructions;
mod open;
mod report;
mod stream_tail;

pub(crate) fn say(text: String) {
    use std::io::Write;
    let _ = std::io::stdout().write_all(text.as_bytes());
    PRINTED.lock().unwrap().push_str(&text);
}

#[derive(Debug, Parser)]
#[command(about = "Roost benchmarks (see crates/roost-bench/src/main.rs)")]
struct Args {
    /// Small sizes: a smoke run in seconds.
    #[arg(long)]
    quick: bool,
    /// Fail (exit 1) when a wire-count target is missed.
    #[arg(long)]
    check: bool,
    /// Window size of an open (messages per screen).
    #[arg(long, default_value_t = 50)]
    window: u32,
    /// Print every figure as one JSON object on the last line of stdout.
    #[arg(long)]
    json: bool,
    /// Merge the release app's figures (a JSON object written by `tests/bench_app/`).
    #[arg(long)]
    app_figures: Option<PathBuf>,
    /// Regenerate this Markdown file's generated part (e.g. `docs/benchmarks.md`).
    #[arg(long)]
    write_doc: Option<PathBuf>,
    /// An earlier run's JSON, shown as "before" in the generated document.
    #[arg(long)]
    baseline: Option<PathBuf>,
    /// Also write the JSON object to this file.
    #[arg(long)]
    json_out: Option<PathBuf>,
    /// Skip the callgrind instruction counts (slow: about a minute).
    #[arg(long)]
    no_callgrind: bool,
    /// Only the search and verify figures (issue 12), e.g. to measure them alone at full size.
    #[arg(long)]
    only_cache_tools: bool,
    /// Only the ingest figures (batched, per call, live stream) and, unless `--no-callgrind`,
    /// the ingest instruction counts: the write path measured alone.
    #[arg(long)]
    only_ingest: bool,
}

fn main() -> Result<()> {
    let raw: Vec<String> = std::env::args().collect();
    if raw.get(1).map(String::as_str) == Some("instr") {
        return instructions::instr_main(&raw[2..]);
    }
    if raw.get(1).map(String::as_str) == Some("stream") {
        return stream_tail::stream_main(&raw[2..]);
    }
    let args = Args::parse();
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?
        .block_on(run(args))
}

async fn run(args: Args) -> Result<()> {
    let scratch = tempfile::tempdir()?;
    println!(
        "roost-bench ({} run, window {} messages)\n",
        if args.quick { "quick" } else { "full" },
        args.window
    );
    let mut figures = serde_json::Map::new();
    figures.insert("date".into(), json!(utc_now()));
    figures.insert("quick".into(), json!(args.quick));
    figures.insert("window".into(), json!(args.window));
    figures.insert(
        "build".into(),
        json!(if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        }),
    );

    if args.only_cache_tools {
        let misses = cache_tools_figures(&args, scratch.path(), &mut figures).await?;
        if args.json {
            std::println!("{}", Value::Object(figures));
        }
        if args.check && !misses.is_empty() {
            bail!("targets missed: {misses:?}");
        }
        return Ok(());
    }
    if args.only_ingest {
        return ingest_figures_only(&args, scratch.path(), figures).await;
    }
    let misses = core_figures(&args, scratch.path(), &mut figures).await?;
    finish(&args, figures, &misses)
}

/// The core figures of a full run (open, start-up, ingest, gaps, resync, search/verify and
/// their instruction counts) go into `figures`; returns the wire-count targets missed.
async fn core_figures(
    args: &Args,
    scratch: &std::path::Path,
    figures: &mut serde_json::Map<String, Value>,
) -> Result<Vec<String>> {
    let open_sizes: &[u64] = if args.quick {
        &[1_000, 10_000]
    } else {
        &[1_000, 100_000, 1_000_000]
    };
    let caches = open::fill_caches(scratch, open_sizes).await?;
    let (open_rows, startup, startup_after_crash) = open::open_chat_latency(
        &caches,
        args.window,
        if args.quick { 50 } else { 300 },
        if args.quick { 3 } else { 5 },
    )
    .await?;
    figures.insert("open".into(), Value::Array(open_rows));
    figures.insert("startup_ms".into(), startup);
    figures.insert("startup_after_crash_ms".into(), startup_after_crash);

    figures.insert(
        "ingest".into(),
        ingest::ingest_throughput(scratch, &ingest::IngestSizes::new(args.quick)).await?,
    );

    let gap_sizes: &[u64] = if args.quick {
        &[20_000, 40_000]
    } else {
        &[100_000, 1_000_000]
    };
    figures.insert(
        "gaps".into(),
        gaps_resync::gap_computation(scratch, &[1, 100, 10_000], gap_sizes).await?,
    );

    let chat_len = if args.quick { 4_000 } else { 20_000 };
    let (resync, misses) = gaps_resync::resync_bandwidth(scratch, chat_len, args.window).await?;
    figures.insert("resync".into(), resync);

    let verify_misses = cache_tools_figures(args, scratch, figures).await?;
    let misses: Vec<String> = misses.into_iter().chain(verify_misses).collect();

    if !args.no_callgrind {
        // The smallest and the largest cache: start-up's growth and the open's cost.
        let ends: Vec<_> = [caches.first(), caches.last()]
            .into_iter()
            .flatten()
            .cloned()
            .collect();
        let (scratch_path, quick) = (scratch.to_path_buf(), args.quick);
        let counts = tokio::task::spawn_blocking(move || {
            instructions::instruction_counts(&scratch_path, &ends, quick)
        })
        .await??;
        if let Some(counts) = counts {
            figures.insert("instructions".into(), counts);
        }
    }

    Ok(misses)
}

/// Adds the app's figures, writes the document and the JSON line, and fails `--check` runs
/// that missed a wire-count target.
fn finish(
    args: &Args,
    mut figures: serde_json::Map<String, Value>,
    misses: &[String],
) -> Result<()> {
    if let Some(path) = &args.app_figures {
        merge_app_figures(&mut figures, path)?;
    }
    figures.insert("tables".into(), json!(PRINTED.lock().unwrap().clone()));
    let figures = Value::Object(figures);
    if let Some(doc) = &args.write_doc {
        let baseline = match &args.baseline {
            Some(path) => Some(serde_json::from_str(
                &std::fs::read_to_string(path)
                    .with_context(|| format!("read {}", path.display()))?,
            )?),
            None => None,
        };
        report::write_doc(doc, &figures, baseline.as_ref())?;
    }
    let line = serde_json::to_string(&report::without_tables(&figures))?;
    if let Some(path) = &args.json_out {
        std::fs::write(path, &line)?;
    }
    if args.json {
        std::println!("{line}");
    }
    if args.check && !misses.is_empty() {
        bail!("wire-count targets missed: {misses:?}");
    }
    Ok(())
}

/// `--only-ingest`: the ingest figures and their instruction counts, printed as a full run
/// prints them (no document is written: the other figures are missing).
async fn ingest_figures_only(
    args: &Args,
    scratch: &std::path::Path,
    mut figures: serde_json::Map<String, Value>,
) -> Result<()> {
    figures.insert(
        "ingest".into(),
        ingest::ingest_throughput(scratch, &ingest::IngestSizes::new(args.quick)).await?,
    );
    if !args.no_callgrind {
        let (scratch, quick) = (scratch.to_path_buf(), args.quick);
        let counts = tokio::task::spawn_blocking(move || {
            instructions::ingest_instruction_counts(&scratch, quick)
        })
        .await??;
        if let Some(counts) = counts {
            figures.insert("instructions".into(), Value::Object(counts));
        }
    }
    if args.json {
        std::println!("{}", Value::Object(figures));
    }
    Ok(())
}

/// Search p50 against LIKE and verify's bytes/buckets (issue 12); returns the missed targets.
async fn cache_tools_figures(
    args: &Args,
    scratch: &std::path::Path,
    figures: &mut serde_json::Map<String, Value>,
) -> Result<Vec<String>> {
    let (search_size, search_chats) = if args.quick {
        (20_000, 4)
    } else {
        (1_000_000, 10)
    };
    let iterations = if args.quick { 20 } else { 200 };
    figures.insert(
        "search".into(),
        cache_tools::search_latency(scratch, search_size, search_chats, iterations).await?,
    );
    let verify_len = if args.quick { 5_000 } else { 100_000 };
    let (verify, misses) = cache_tools::verify_bytes(scratch, verify_len).await?;
    figures.insert("verify".into(), verify);
    Ok(misses)
}

/// The app harness's object, merged at the top level (its keys are disjoint from the core's).
fn merge_app_figures(figures: &mut serde_json::Map<String, Value>, path: &PathBuf) -> Result<()> {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let app: Value = serde_json::from_str(&text).context("app figures JSON")?;
            if let Value::Object(map) = app {
                figures.extend(map);
            }
        }
        Err(e) => {
            println!("(no release-app figures: {} — {e})\n", path.display());
            figures.insert("app_error".into(), json!(e.to_string()));
        }
    }
    Ok(())
}

/// `YYYY-MM-DD HH:MM UTC` without a date-time dependency.
fn utc_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let days = (secs / 86_400) as i64;
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02} UTC",
        secs % 86_400 / 3_600,
        secs % 3_600 / 60
    )
}
