//! Cached seq runs, missing ranges and chat windows: pure logic, no I/O.
//!
//! Owns the arithmetic behind "what is cached, what is missing, what to draw": a chat's cached
//! seqs are kept as sorted, disjoint, non-adjacent inclusive [`SeqRange`]s (runs); from them
//! come the ranges a resync must fetch ([`missing_ranges`]) and the items of a chat window
//! ([`build_window`]) with `Gap`/`OlderHistory` markers exactly where messages are missing.
//!
//! Must never touch the store, the network or the clock. Because the server's seq is gap-free,
//! a hole between runs always means "missing here", never "does not exist".

use roost_proto::{Message, Seq};
use serde::{Deserialize, Serialize};

/// An inclusive range of seqs, `start ..= end`, `1 <= start <= end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct SeqRange {
    pub start: Seq,
    pub end: Seq,
}

impl SeqRange {
    /// `start ..= end`; panics if `start > end` or `start == 0` (a programming error).
    pub fn new(start: Seq, end: Seq) -> Self {
        assert!(
            start >= 1 && start <= end,
            "invalid seq range {start}..={end}"
        );
        SeqRange { start, end }
    }
    pub fn single(seq: Seq) -> Self {
        SeqRange::new(seq, seq)
    }
    /// Number of seqs in the range.
    pub fn len(&self) -> u64 {
        self.end - self.start + 1
    }
    /// Never true (a range holds at least one seq); present for clippy's sake.
    pub fn is_empty(&self) -> bool {
        false
    }
    pub fn contains(&self, seq: Seq) -> bool {
        self.start <= seq && seq <= self.end
    }
}

/// Inserts `r` into `runs` (sorted, disjoint, non-adjacent), merging overlapping and adjacent
/// runs. O(runs).
pub fn insert_range(runs: &mut Vec<SeqRange>, r: SeqRange) {
    // First run that could touch `r`: its end + 1 >= r.start.
    let first = runs.partition_point(|x| x.end.saturating_add(1) < r.start);
    // Runs that touch `r`: start <= r.end + 1.
    let mut last = first;
    while last < runs.len() && runs[last].start <= r.end.saturating_add(1) {
        last += 1;
    }
    if first == last {
        runs.insert(first, r);
        return;
    }
    let merged = SeqRange {
        start: runs[first].start.min(r.start),
        end: runs[last - 1].end.max(r.end),
    };
    runs.splice(first..last, std::iter::once(merged));
}

/// Inserts a single seq.
pub fn insert_seq(runs: &mut Vec<SeqRange>, seq: Seq) {
    insert_range(runs, SeqRange::single(seq));
}

/// Builds runs from an arbitrary collection of seqs (any order, duplicates allowed).
pub fn runs_from_seqs(seqs: impl IntoIterator<Item = Seq>) -> Vec<SeqRange> {
    let mut v: Vec<Seq> = seqs.into_iter().filter(|s| *s >= 1).collect();
    v.sort_unstable();
    v.dedup();
    let mut runs: Vec<SeqRange> = Vec::new();
    for s in v {
        match runs.last_mut() {
            Some(last) if last.end + 1 == s => last.end = s,
            _ => runs.push(SeqRange::single(s)),
        }
    }
    runs
}

/// True when `runs` is sorted, disjoint and non-adjacent (the canonical form).
pub fn is_canonical(runs: &[SeqRange]) -> bool {
    runs.iter().all(|r| r.start >= 1 && r.start <= r.end)
        && runs.windows(2).all(|w| w[0].end + 1 < w[1].start)
}

/// Number of cached seqs.
pub fn cached_count(runs: &[SeqRange]) -> u64 {
    runs.iter().map(SeqRange::len).sum()
}

/// Whether `seq` is cached. O(log runs).
pub fn contains(runs: &[SeqRange], seq: Seq) -> bool {
    let i = runs.partition_point(|r| r.end < seq);
    i < runs.len() && runs[i].start <= seq
}

/// The ranges a resync must fetch: the interior gaps between runs and the trailing gap
/// `local_max + 1 ..= server_last_seq`. Older history below the oldest cached seq is **not**
/// included (it is loaded on demand, see [`SyncPlan::older_history`]), and an empty cache yields
/// nothing here: it wants only the newest page ([`SyncPlan::newest_page`]).
pub fn missing_ranges(runs: &[SeqRange], server_last_seq: Seq) -> Vec<SeqRange> {
    let mut out = Vec::new();
    for w in runs.windows(2) {
        out.push(SeqRange::new(w[0].end + 1, w[1].start - 1));
    }
    if let Some(last) = runs.last()
        && server_last_seq > last.end
    {
        out.push(SeqRange::new(last.end + 1, server_last_seq));
    }
    out
}

/// The parts of `range` that no run of `runs` (ascending, disjoint) covers, ascending: what a
/// cross-chat search must still fetch of a range, what the search queue must still cover of a
/// batch's seqs.
pub fn uncovered(range: SeqRange, runs: &[SeqRange]) -> Vec<SeqRange> {
    let mut out = Vec::new();
    let mut next = range.start;
    for run in runs {
        if run.end < next {
            continue;
        }
        if run.start > range.end {
            break;
        }
        if run.start > next {
            out.push(SeqRange::new(next, run.start - 1));
        }
        next = run.end.saturating_add(1);
        if next > range.end {
            return out;
        }
    }
    if next <= range.end {
        out.push(SeqRange::new(next, range.end));
    }
    out
}

/// Seqs between a chat's history floor (the lowest seq ever cached here, which eviction and
/// "Clear cached history" leave alone) and its oldest cached seq: history this device held and
/// gave back to the storage budget. `None` when nothing was evicted below the oldest cached seq
/// (or nothing is cached: an empty cache starts again from the newest page).
pub fn evicted_range(runs: &[SeqRange], history_floor: Option<Seq>) -> Option<SeqRange> {
    let first = runs.first()?;
    let floor = history_floor?.max(1);
    (floor < first.start).then(|| SeqRange::new(floor, first.start - 1))
}

/// Who asked for a resync, which decides whether it refills evicted history.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ResyncKind {
    /// Background work (opening a chat, the catch-up after a reconnect, resuming an interrupted
    /// resync): interior gaps and the trailing gap only. Evicted history stays evicted — the
    /// budget would evict it again at once — and comes back by scrolling or a manual Resync.
    Automatic,
    /// The user's Resync of this chat: also the evicted history ([`SyncPlan::evicted`]).
    Manual,
}

/// What a chat-scoped resync must do, from the runs index, the server's `last_seq` and the
/// chat's history floor alone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncPlan {
    /// Interior gaps and the trailing gap, to fetch with `from_seq`/`to_seq`.
    pub missing: Vec<SeqRange>,
    /// The cache is empty and the chat has messages: fetch only the newest page.
    pub newest_page: bool,
    /// Seqs `1 ..= to` lie below the oldest cached message and below the history floor (never
    /// cached here): loaded on demand (scrolling), never by a resync.
    pub older_history: Option<Seq>,
    /// Seqs that were cached here and evicted (see [`evicted_range`]): fetched by a manual
    /// resync and by scrolling, never by an automatic resync.
    #[serde(default)]
    pub evicted: Option<SeqRange>,
}

impl SyncPlan {
    /// The ranges a resync of `kind` fetches, ascending and disjoint: a manual one adds the
    /// evicted range below the interior gaps.
    pub fn to_fetch(&self, kind: ResyncKind) -> Vec<SeqRange> {
        let evicted = match kind {
            ResyncKind::Manual => self.evicted,
            ResyncKind::Automatic => None,
        };
        evicted
            .into_iter()
            .chain(self.missing.iter().copied())
            .collect()
    }
}

/// [`sync_plan_with_floor`] for a chat that never gave history back (no history floor known).
pub fn sync_plan(runs: &[SeqRange], server_last_seq: Seq) -> SyncPlan {
    sync_plan_with_floor(runs, server_last_seq, None)
}

/// The plan of a chat whose lowest seq ever cached is `history_floor`: evicted history lies
/// between it and the oldest cached seq, older history below it.
pub fn sync_plan_with_floor(
    runs: &[SeqRange],
    server_last_seq: Seq,
    history_floor: Option<Seq>,
) -> SyncPlan {
    let evicted = evicted_range(runs, history_floor);
    let older_history = match (evicted, runs.first()) {
        (Some(e), _) if e.start > 1 => Some(e.start - 1),
        (Some(_), _) => None,
        (None, Some(first)) if first.start > 1 => Some(first.start - 1),
        (None, Some(_)) => None,
        (None, None) if server_last_seq > 0 => Some(server_last_seq),
        (None, None) => None,
    };
    SyncPlan {
        missing: missing_ranges(runs, server_last_seq),
        newest_page: runs.is_empty() && server_last_seq > 0,
        older_history,
        evicted,
    }
}

/// Packs missing ranges into request batches for the range endpoint's `seqs` shape: each batch
/// lists at most `max_ranges` ascending, disjoint ranges covering at most `page` seqs; a range
/// larger than what is left in a batch is split across batches. Every missing seq lands in
/// exactly one batch, in order, and the number of batches is the least possible for `page`
/// (`ceil(missing / page)`) unless `max_ranges` binds first.
pub fn pack_batches(missing: &[SeqRange], page: u64, max_ranges: usize) -> Vec<Vec<SeqRange>> {
    let page = page.max(1);
    let max_ranges = max_ranges.max(1);
    let mut batches = Vec::new();
    let mut batch: Vec<SeqRange> = Vec::new();
    let mut room = page;
    for r in missing {
        let mut start = r.start;
        while start <= r.end {
            let take = (r.end - start + 1).min(room);
            batch.push(SeqRange::new(start, start + take - 1));
            start += take;
            room -= take;
            if room == 0 || batch.len() == max_ranges {
                batches.push(std::mem::take(&mut batch));
                room = page;
            }
        }
    }
    if !batch.is_empty() {
        batches.push(batch);
    }
    batches
}

/// One row of a chat window, in ascending seq order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum WindowItem {
    /// A cached message (possibly a tombstone).
    Message { message: Message },
    /// Seqs `from ..= to` are missing between or after cached messages: a skeleton.
    Gap { from: Seq, to: Seq },
    /// Seqs `1 ..= to` (everything above the oldest cached message) are not cached: a skeleton
    /// that loads older history when scrolled into. Evicted history (see [`evicted_range`]) is
    /// drawn so too, so scrolling fetches it page by page; only the sync plan tells it apart.
    OlderHistory { to: Seq },
}

impl WindowItem {
    /// The seqs this item stands for.
    pub fn span(&self) -> SeqRange {
        match self {
            WindowItem::Message { message } => SeqRange::single(message.seq),
            WindowItem::Gap { from, to } => SeqRange::new(*from, *to),
            WindowItem::OlderHistory { to } => SeqRange::new(1, *to),
        }
    }

    /// First and last seq this item stands for.
    pub fn seq_span(&self) -> (Seq, Seq) {
        let span = self.span();
        (span.start, span.end)
    }

    /// A skeleton (`Gap` or `OlderHistory`): seqs that are not cached.
    pub fn is_skeleton(&self) -> bool {
        !matches!(self, WindowItem::Message { .. })
    }
}

/// Builds the items of the window `span` from the cached `messages` whose seqs lie in `span`
/// (any order; others are ignored) and the chat's runs.
///
/// The items cover, exactly once and in order, every seq from the first uncached-or-window seq
/// up to `span.end`:
/// * inside `span`: a `Message` per cached seq, a `Gap` per maximal uncached stretch;
/// * below `span.start`: nothing when `span.start - 1` is cached (more cached history, read from
///   the cache on scroll); otherwise `OlderHistory` when nothing below is cached, or a `Gap` up
///   to the nearest cached run below.
///
/// `runs` must agree with `messages` over `span` (the store guarantees it; a message missing from
/// `messages` whose seq the runs claim is shown as a gap, never invented).
pub fn build_window(messages: &[Message], runs: &[SeqRange], span: SeqRange) -> Vec<WindowItem> {
    let mut msgs: Vec<&Message> = messages.iter().filter(|m| span.contains(m.seq)).collect();
    msgs.sort_by_key(|m| m.seq);
    msgs.dedup_by_key(|m| m.seq);

    let mut items = Vec::with_capacity(msgs.len() + 2);
    // Below the window.
    if span.start > 1 && !contains(runs, span.start - 1) {
        // Nearest cached run entirely below span.start.
        let below = runs.iter().rev().find(|r| r.end < span.start);
        match below {
            None => items.push(WindowItem::OlderHistory { to: span.start - 1 }),
            Some(r) => items.push(WindowItem::Gap {
                from: r.end + 1,
                to: span.start - 1,
            }),
        }
    }
    fill_span(&mut items, msgs.into_iter().cloned(), span);
    items
}

/// The items covering exactly `span` (no marker below it), from the cached messages in it:
/// a `Message` per cached seq, a skeleton per maximal uncached stretch (`OlderHistory` when it
/// starts at seq 1). What a "span changed" event carries; never invents a message.
pub fn span_items(span: SeqRange, cached: impl IntoIterator<Item = Message>) -> Vec<WindowItem> {
    let mut msgs: Vec<Message> = cached
        .into_iter()
        .filter(|m| span.contains(m.seq))
        .collect();
    msgs.sort_by_key(|m| m.seq);
    msgs.dedup_by_key(|m| m.seq);
    let mut items = Vec::with_capacity(msgs.len() + 1);
    fill_span(&mut items, msgs, span);
    items
}

/// Appends the items of `span` from `msgs` (ascending, unique, all inside `span`).
fn fill_span(items: &mut Vec<WindowItem>, msgs: impl IntoIterator<Item = Message>, span: SeqRange) {
    let mut next = span.start;
    for m in msgs {
        if m.seq > next {
            push_missing(items, next, m.seq - 1);
        }
        next = m.seq + 1;
        items.push(WindowItem::Message { message: m });
    }
    if next <= span.end {
        push_missing(items, next, span.end);
    }
}

/// Appends a skeleton for `from ..= to`, merged into a trailing skeleton it touches so items
/// stay maximal; an uncached stretch starting at seq 1 is `OlderHistory`.
pub fn push_missing(items: &mut Vec<WindowItem>, from: Seq, to: Seq) {
    match items.last_mut() {
        Some(WindowItem::Gap { to: t, .. }) if *t + 1 == from => *t = to,
        Some(WindowItem::OlderHistory { to: t }) if *t + 1 == from => *t = to,
        _ if from == 1 => items.push(WindowItem::OlderHistory { to }),
        _ => items.push(WindowItem::Gap { from, to }),
    }
}

/// Cached runs and missing ranges over `1 ..= max(server_last_seq, local_max)`, for display.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CacheMap {
    pub server_last_seq: Seq,
    pub cached: Vec<SeqRange>,
    /// Every uncached stretch of `1 ..= max(server_last_seq, local_max)`, including older history.
    pub missing: Vec<SeqRange>,
    pub cached_count: u64,
    /// The part of the first missing stretch that was cached here and evicted
    /// ([`evicted_range`]): a manual resync fetches it.
    #[serde(default)]
    pub evicted: Option<SeqRange>,
}

/// [`cache_map`] of a chat whose lowest seq ever cached is `history_floor`.
pub fn cache_map_with_floor(
    runs: &[SeqRange],
    server_last_seq: Seq,
    history_floor: Option<Seq>,
) -> CacheMap {
    CacheMap {
        evicted: evicted_range(runs, history_floor),
        ..cache_map(runs, server_last_seq)
    }
}

pub fn cache_map(runs: &[SeqRange], server_last_seq: Seq) -> CacheMap {
    let top = server_last_seq.max(runs.last().map_or(0, |r| r.end));
    let mut missing = Vec::new();
    let mut next = 1;
    for r in runs {
        if r.start > next {
            missing.push(SeqRange::new(next, r.start - 1));
        }
        next = r.end + 1;
    }
    if next <= top {
        missing.push(SeqRange::new(next, top));
    }
    CacheMap {
        server_last_seq,
        cached: runs.to_vec(),
        missing,
        cached_count: cached_count(runs),
        evicted: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    fn r(a: Seq, b: Seq) -> SeqRange {
        SeqRange::new(a, b)
    }

    #[test]
    fn insert_merges_adjacent_and_overlapping() {
        let mut runs = vec![];
        insert_seq(&mut runs, 5);
        insert_seq(&mut runs, 7);
        assert_eq!(runs, vec![r(5, 5), r(7, 7)]);
        insert_seq(&mut runs, 6);
        assert_eq!(runs, vec![r(5, 7)]);
        insert_range(&mut runs, r(1, 2));
        insert_range(&mut runs, r(10, 12));
        insert_range(&mut runs, r(2, 11));
        assert_eq!(runs, vec![r(1, 12)]);
    }

    #[test]
    fn uncovered_is_the_range_minus_the_runs() {
        let runs = [r(3, 5), r(8, 9), r(20, 30)];
        assert_eq!(
            uncovered(r(1, 10), &runs),
            vec![r(1, 2), r(6, 7), r(10, 10)]
        );
        assert_eq!(uncovered(r(4, 5), &runs), vec![]);
        assert_eq!(uncovered(r(25, 40), &runs), vec![r(31, 40)]);
        assert_eq!(uncovered(r(10, 19), &runs), vec![r(10, 19)]);
    }

    #[test]
    fn missing_ranges_interior_and_trailing() {
        let runs = vec![r(3, 5), r(8, 10)];
        assert_eq!(missing_ranges(&runs, 12), vec![r(6, 7), r(11, 12)]);
        assert_eq!(missing_ranges(&runs, 10), vec![r(6, 7)]);
        assert_eq!(missing_ranges(&[], 10), vec![]);
        let plan = sync_plan(&runs, 12);
        assert_eq!(plan.older_history, Some(2));
        assert_eq!(plan.evicted, None);
        assert!(!plan.newest_page);
        assert!(sync_plan(&[], 10).newest_page);
    }

    #[test]
    fn evicted_history_lies_between_the_floor_and_the_oldest_cached_seq() {
        let runs = vec![r(801, 900), r(950, 1000)];
        let plan = sync_plan_with_floor(&runs, 1001, Some(301));
        assert_eq!(plan.evicted, Some(r(301, 800)));
        assert_eq!(plan.older_history, Some(300));
        assert_eq!(plan.missing, vec![r(901, 949), r(1001, 1001)]);
        assert_eq!(plan.to_fetch(ResyncKind::Automatic), plan.missing);
        assert_eq!(
            plan.to_fetch(ResyncKind::Manual),
            vec![r(301, 800), r(901, 949), r(1001, 1001)]
        );
        // Evicted from seq 1: no older history left.
        let plan = sync_plan_with_floor(&runs, 1000, Some(1));
        assert_eq!((plan.evicted, plan.older_history), (Some(r(1, 800)), None));
        // Nothing evicted: the floor is the oldest cached seq (or, inconsistently, above it).
        assert_eq!(evicted_range(&runs, Some(801)), None);
        assert_eq!(evicted_range(&runs, Some(850)), None);
        assert_eq!(evicted_range(&runs, None), None);
        // An empty cache starts from the newest page, whatever it held before.
        assert_eq!(evicted_range(&[], Some(1)), None);
        assert!(sync_plan_with_floor(&[], 10, Some(1)).newest_page);
        let map = cache_map_with_floor(&runs, 1001, Some(301));
        assert_eq!(map.evicted, Some(r(301, 800)));
        assert_eq!(
            map.missing[0],
            r(1, 800),
            "evicted history is missing like older history"
        );
    }

    fn msg(seq: Seq) -> Message {
        crate::fixtures::message(crate::fixtures::chat_id(0), seq)
    }

    #[test]
    fn window_marks_gaps_and_older_history() {
        let runs = vec![r(3, 4), r(7, 7)];
        let msgs: Vec<Message> = [3, 4, 7].into_iter().map(msg).collect();
        let items = build_window(&msgs, &runs, r(3, 9));
        let spans: Vec<_> = items.iter().map(|i| i.span()).collect();
        assert_eq!(
            spans,
            vec![r(1, 2), r(3, 3), r(4, 4), r(5, 6), r(7, 7), r(8, 9)]
        );
        assert!(matches!(items[0], WindowItem::OlderHistory { to: 2 }));
        assert!(matches!(items[3], WindowItem::Gap { from: 5, to: 6 }));
        assert!(matches!(items[5], WindowItem::Gap { from: 8, to: 9 }));
        // Window starting inside cached history: nothing above.
        let items = build_window(&msgs, &runs, r(4, 7));
        assert!(matches!(items[0], WindowItem::Message { .. }));
        // Window starting in a gap above a cached run: a Gap, not OlderHistory.
        let items = build_window(&msgs, &runs, r(6, 7));
        assert!(matches!(items[0], WindowItem::Gap { from: 5, to: 6 }));
    }

    proptest! {
        #[test]
        fn runs_equal_set_from_scratch(ops in proptest::collection::vec((1u64..200, 0u64..6), 0..60)) {
            let mut runs = Vec::new();
            let mut set = BTreeSet::new();
            for (start, len) in ops {
                insert_range(&mut runs, SeqRange::new(start, start + len));
                set.extend(start..=start + len);
                prop_assert!(is_canonical(&runs));
            }
            prop_assert_eq!(&runs, &runs_from_seqs(set.iter().copied()));
            prop_assert_eq!(cached_count(&runs), set.len() as u64);
            for s in 1..220 {
                prop_assert_eq!(contains(&runs, s), set.contains(&s));
            }
        }

        /// The uncovered parts are exactly the seqs of the range no run holds.
        #[test]
        fn uncovered_parts_are_the_range_minus_the_covered_ones(
            lo in 1u64..60,
            len in 0u64..60,
            starts in proptest::collection::btree_set(1u64..130, 0..8),
            lens in proptest::collection::vec(0u64..10, 8),
        ) {
            let hi = lo + len;
            // Non-overlapping covered ranges that overlap lo..=hi (as the search queue's
            // lookup gives them).
            let mut covered: Vec<SeqRange> = Vec::new();
            for (start, l) in starts.into_iter().zip(lens) {
                if covered.last().is_some_and(|c| start <= c.end) {
                    continue;
                }
                covered.push(SeqRange::new(start, start + l));
            }
            covered.retain(|c| c.end >= lo && c.start <= hi);
            let parts = uncovered(SeqRange::new(lo, hi), &covered);
            for seq in lo..=hi {
                let is_covered = covered.iter().any(|c| c.contains(seq));
                let in_parts = parts.iter().any(|p| p.contains(seq));
                prop_assert_eq!(in_parts, !is_covered, "seq {}", seq);
            }
            prop_assert!(parts.iter().all(|p| lo <= p.start && p.end <= hi));
            prop_assert!(parts.windows(2).all(|w| w[0].end + 1 < w[1].start));
        }

        #[test]
        fn missing_is_exact_complement(seqs in proptest::collection::btree_set(1u64..150, 0..80), extra in 0u64..30) {
            let runs = runs_from_seqs(seqs.iter().copied());
            let local_max = seqs.iter().max().copied().unwrap_or(0);
            let local_min = seqs.iter().min().copied().unwrap_or(0);
            let server_last = local_max + extra;
            let missing = missing_ranges(&runs, server_last);
            let missing_set: BTreeSet<Seq> = missing.iter().flat_map(|r| r.start..=r.end).collect();
            let expected: BTreeSet<Seq> = if seqs.is_empty() { BTreeSet::new() } else {
                (local_min..=server_last).filter(|s| !seqs.contains(s)).collect()
            };
            prop_assert_eq!(missing_set, expected);
            prop_assert!(is_canonical(&missing) || missing.windows(2).all(|w| w[0].end < w[1].start));
        }

        /// With a history floor at or below the oldest cached seq: a manual resync fetches
        /// exactly the uncached seqs from the floor to the server's last seq, an automatic one
        /// exactly those from the oldest cached seq up, and older history is what lies below both.
        #[test]
        fn a_manual_plan_covers_the_evicted_seqs_and_an_automatic_one_never(
            seqs in proptest::collection::btree_set(1u64..150, 1..80),
            below in 0u64..40,
            extra in 0u64..30,
        ) {
            let runs = runs_from_seqs(seqs.iter().copied());
            let local_min = *seqs.iter().next().unwrap();
            let local_max = *seqs.iter().last().unwrap();
            let floor = local_min.saturating_sub(below).max(1);
            let server_last = local_max + extra;
            let plan = sync_plan_with_floor(&runs, server_last, Some(floor));
            let flat = |v: Vec<SeqRange>| -> Vec<Seq> { v.iter().flat_map(|r| r.start..=r.end).collect() };
            let manual = flat(plan.to_fetch(ResyncKind::Manual));
            let automatic = flat(plan.to_fetch(ResyncKind::Automatic));
            let expected_manual: Vec<Seq> = (floor..=server_last).filter(|s| !seqs.contains(s)).collect();
            let expected_automatic: Vec<Seq> = (local_min..=server_last).filter(|s| !seqs.contains(s)).collect();
            prop_assert_eq!(manual, expected_manual);
            prop_assert_eq!(automatic, expected_automatic);
            prop_assert_eq!(plan.older_history, (floor > 1).then(|| floor - 1));
            prop_assert_eq!(plan.evicted.map_or(0, |e| e.len()), local_min - floor);
        }

        #[test]
        fn batches_cover_the_missing_seqs_exactly(seqs in proptest::collection::btree_set(1u64..400, 0..120), extra in 0u64..300, page in 1u64..60, max_ranges in 1usize..6) {
            let runs = runs_from_seqs(seqs.iter().copied());
            let last = seqs.iter().max().copied().unwrap_or(0) + extra;
            let missing = missing_ranges(&runs, last);
            let batches = pack_batches(&missing, page, max_ranges);
            let flat: Vec<Seq> = batches.iter().flatten().flat_map(|r| r.start..=r.end).collect();
            let expected: Vec<Seq> = missing.iter().flat_map(|r| r.start..=r.end).collect();
            prop_assert_eq!(&flat, &expected);
            for b in &batches {
                prop_assert!(!b.is_empty() && b.len() <= max_ranges);
                prop_assert!(cached_count(b) <= page);
                prop_assert!(b.windows(2).all(|w| w[0].end < w[1].start));
            }
            if max_ranges >= missing.len() + batches.len() {
                prop_assert_eq!(batches.len() as u64, (expected.len() as u64).div_ceil(page));
            }
        }

        #[test]
        fn window_covers_every_seq_once(seqs in proptest::collection::btree_set(1u64..120, 0..60), a in 1u64..130, len in 0u64..40) {
            let runs = runs_from_seqs(seqs.iter().copied());
            let msgs: Vec<Message> = seqs.iter().copied().map(msg).collect();
            let span = SeqRange::new(a, a + len);
            let items = build_window(&msgs, &runs, span);
            let mut covered = Vec::new();
            for it in &items {
                let sp = it.span();
                for s in sp.start..=sp.end {
                    covered.push(s);
                    match it {
                        WindowItem::Message { .. } => prop_assert!(seqs.contains(&s)),
                        _ => prop_assert!(!seqs.contains(&s)),
                    }
                }
            }
            // Strictly increasing and contiguous, ending at span.end.
            prop_assert!(covered.windows(2).all(|w| w[0] + 1 == w[1]));
            prop_assert_eq!(covered.last().copied(), Some(span.end));
            let first = covered[0];
            prop_assert!(first <= span.start);
            // Starts below the span only to cover uncached seqs down to a cached run or to 1.
            if first < span.start {
                prop_assert!(first == 1 || seqs.contains(&(first - 1)));
            } else if span.start > 1 {
                prop_assert!(seqs.contains(&(span.start - 1)));
            }
        }
    }
}
