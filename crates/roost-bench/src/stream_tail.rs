//! `roost-bench stream`: the live stream's frame → event latency measured alone (paced, as in
//! the full run's figure), shown as a histogram and over the run's time, and — with
//! `--timeline` — beside what the core was doing meanwhile: the spans the core records under
//! the `roost_timeline` tracing target (group commits, waits for the write lock, search index
//! batches, WAL checkpoints), so each slow frame is put down to what overlapped it.
//!
//! The timeline records every span it sees, which costs time of its own: figures to compare
//! are taken without it.

use crate::data::ms_f;
use crate::ingest::{FrameTimes, stream_run};
use anyhow::{Context, Result, bail};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tracing::Subscriber;
use tracing::field::{Field, Visit};
use tracing::span;
use tracing_subscriber::layer::{Context as LayerContext, Layer, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

/// The tracing target of the core's timeline spans.
const TIMELINE_TARGET: &str = "roost_timeline";
/// A frame slower than this is attributed to what overlapped it.
const SLOW: Duration = Duration::from_millis(5);
/// The histogram's bucket upper bounds, in ms.
const BUCKETS_MS: &[f64] = &[
    0.5,
    1.0,
    2.0,
    3.0,
    5.0,
    7.5,
    10.0,
    15.0,
    20.0,
    50.0,
    f64::INFINITY,
];

/// One closed core span: what, when (from the run's base), and its `n` field (e.g. a group's
/// events).
#[derive(Debug, Clone)]
struct Activity {
    name: &'static str,
    start: Instant,
    end: Instant,
    n: u64,
}

/// A tracing layer keeping every closed span of [`TIMELINE_TARGET`].
#[derive(Clone, Default)]
struct Timeline {
    closed: Arc<Mutex<Vec<Activity>>>,
}

struct Opened(Instant, u64);

struct CountField(u64);

impl Visit for CountField {
    fn record_u64(&mut self, field: &Field, value: u64) {
        if field.name() == "n" {
            self.0 = value;
        }
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.record_u64(field, value.max(0) as u64);
    }
    fn record_debug(&mut self, _: &Field, _: &dyn std::fmt::Debug) {}
}

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Timeline {
    fn on_new_span(&self, attrs: &span::Attributes<'_>, id: &span::Id, ctx: LayerContext<'_, S>) {
        let mut n = CountField(0);
        attrs.record(&mut n);
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(Opened(Instant::now(), n.0));
        }
    }

    fn on_close(&self, id: span::Id, ctx: LayerContext<'_, S>) {
        let end = Instant::now();
        let Some(span) = ctx.span(&id) else { return };
        if let Some(Opened(start, n)) = span.extensions().get::<Opened>() {
            self.closed.lock().unwrap().push(Activity {
                name: span.name(),
                start: *start,
                end,
                n: *n,
            });
        }
    }
}

/// `roost-bench stream [--count N] [--rate R] [--runs K] [--timeline]`.
pub fn stream_main(args: &[String]) -> Result<()> {
    let mut count = 40_000u64;
    let mut rate = 20_000u64;
    let mut runs = 1u32;
    let mut timeline = false;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = || it.next().context("a value after the option");
        match arg.as_str() {
            "--count" => count = value()?.parse()?,
            "--rate" => rate = value()?.parse()?,
            "--runs" => runs = value()?.parse()?,
            "--timeline" => timeline = true,
            other => bail!(
                "usage: roost-bench stream [--count N] [--rate R] [--runs K] [--timeline] (not {other})"
            ),
        }
    }
    let recorder = Timeline::default();
    if timeline {
        let filter = tracing_subscriber::filter::Targets::new()
            .with_target(TIMELINE_TARGET, tracing::Level::TRACE);
        tracing::subscriber::set_global_default(
            tracing_subscriber::registry().with(recorder.clone().with_filter(filter)),
        )?;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    for run in 1..=runs {
        let scratch = tempfile::tempdir()?;
        recorder.closed.lock().unwrap().clear();
        let figures = runtime.block_on(stream_run(scratch.path(), "paced", count, Some(rate)))?;
        let activities = std::mem::take(&mut *recorder.closed.lock().unwrap());
        println!(
            "run {run}/{runs}: {count} frames paced at {rate} msg/s, {:.0} msg/s",
            figures.rate
        );
        report(&figures.frames, timeline.then_some(&activities[..]));
    }
    Ok(())
}

/// Percentiles, histogram, the slowest stretches of the run and (with a timeline) the causes.
fn report(frames: &FrameTimes, activities: Option<&[Activity]>) {
    let mut latencies: Vec<Duration> = frames.latencies();
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() as f64 - 1.0) * q).round() as usize];
    println!(
        "  frame → event ms: p50 {:.3}  p90 {:.3}  p99 {:.3}  p99.9 {:.3}  max {:.3}",
        ms_f(at(0.5)),
        ms_f(at(0.9)),
        ms_f(at(0.99)),
        ms_f(at(0.999)),
        ms_f(at(1.0)),
    );
    let mut line = String::from("  histogram (ms ≤ bound: frames):");
    let mut lower = 0.0;
    for bound in BUCKETS_MS {
        let n = latencies
            .iter()
            .filter(|l| {
                let l = l.as_secs_f64() * 1e3;
                l > lower && l <= *bound
            })
            .count();
        line.push_str(&format!(" ≤{bound}: {n};"));
        lower = *bound;
    }
    println!("{line}");
    // The run in 100 ms windows by send time: the worst frame of each, for the windows with a
    // slow frame.
    let window = Duration::from_millis(100);
    let first = frames.sent.first().copied().unwrap_or(frames.base);
    let mut slow_windows = Vec::new();
    for (index, (sent, latency)) in frames.sent.iter().zip(frames.latencies()).enumerate() {
        let w = (sent.duration_since(first).as_millis() / window.as_millis()) as usize;
        if latency > SLOW {
            match slow_windows.last_mut() {
                Some((last_w, worst, slow, _)) if *last_w == w => {
                    *worst = latency.max(*worst);
                    *slow += 1;
                }
                _ => slow_windows.push((w, latency, 1usize, index)),
            }
        }
    }
    println!(
        "  windows of 100 ms with a frame over {} ms (of {}): {}",
        SLOW.as_millis(),
        frames.sent.len() / 2_000 + 1,
        slow_windows
            .iter()
            .map(|(w, worst, slow, _)| format!("@{w}: {slow} frames, worst {:.1} ms", ms_f(*worst)))
            .collect::<Vec<_>>()
            .join("; ")
    );
    if let Some(activities) = activities {
        attribute(frames, activities);
    }
}

/// Per kind of core span: how many and how long; then each slow frame's overlapping kinds.
fn attribute(frames: &FrameTimes, activities: &[Activity]) {
    let mut names: Vec<&'static str> = activities.iter().map(|a| a.name).collect();
    names.sort_unstable();
    names.dedup();
    for name in &names {
        let mut durations: Vec<Duration> = activities
            .iter()
            .filter(|a| a.name == *name)
            .map(|a| a.end - a.start)
            .collect();
        durations.sort();
        let n_total: u64 = activities
            .iter()
            .filter(|a| a.name == *name)
            .map(|a| a.n)
            .sum();
        let at = |q: f64| durations[((durations.len() as f64 - 1.0) * q).round() as usize];
        println!(
            "  {name}: {} spans (n total {n_total}), ms p50 {:.3} p99 {:.3} max {:.3}, total {:.1} ms",
            durations.len(),
            ms_f(at(0.5)),
            ms_f(at(0.99)),
            ms_f(at(1.0)),
            ms_f(durations.iter().sum())
        );
    }
    // A slow frame's causes: the kinds of span that overlapped its wait and were themselves
    // long (over a millisecond), or a checkpoint of any length.
    let mut by_cause: std::collections::BTreeMap<String, (usize, Duration)> = Default::default();
    for (sent, latency) in frames.sent.iter().zip(frames.latencies()) {
        if latency <= SLOW {
            continue;
        }
        let received = *sent + latency;
        let mut causes: Vec<&str> = activities
            .iter()
            .filter(|a| a.start < received && a.end > *sent)
            .filter(|a| a.name == "wal_checkpoint" || a.end - a.start > Duration::from_millis(1))
            .map(|a| a.name)
            .collect();
        causes.sort_unstable();
        causes.dedup();
        let key = if causes.is_empty() {
            "no core span over 1 ms (waiting for a core?)".to_string()
        } else {
            causes.join(" + ")
        };
        let entry = by_cause.entry(key).or_default();
        entry.0 += 1;
        entry.1 = entry.1.max(latency);
    }
    for (cause, (n, worst)) in by_cause {
        println!(
            "  slow frames overlapping {cause}: {n} (worst {:.1} ms)",
            ms_f(worst)
        );
    }
}
