//! Chat-scoped resync and older history: the fetch jobs of a chat (single-flight through
//! [`crate::engine::single_flight`]), their fetch window (FetchStarted/FetchFinished), the
//! changes pass over the cached span, the fetch of exactly the missing seqs, and re-validation.
//!
//! Which seqs are missing comes from [`sync_plan_with_floor`]; a resync's [`ResyncKind`] decides
//! whether evicted history (between the chat's history floor and its oldest cached seq) is among
//! them: only the user's Resync ([`manual_resync`]) refills it, never background work, which
//! would fight the storage budget (it evicts the least recently opened chats' oldest history
//! again at once).

use crate::api::Api;
use crate::changes_journal::{ChangesPage, changes_page};
use crate::engine::{Inner, single_flight};
use crate::error::{Error, ErrorCode, Result};
use crate::events::{ClientEvent, LoadOlderReport, ResyncReport};
use crate::fallback::{RANGES_REFUSED, Shape, full_reload, is_refusal};
use crate::ranges::{self, ResyncKind, SeqRange, SyncPlan, sync_plan_with_floor};
use crate::store::{CursorRule, IngestOptions, IngestResult, Position};
use crate::sync_state::SyncInput;
use roost_proto::{
    ChatId, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, MAX_SEQ_RANGES_PER_REQUEST, MessagesPage, RangeQuery,
};
use std::sync::Arc;

/// Single-flight entry point of background work (catch-up, resuming): joins the running
/// resync of `chat` or starts an automatic one (in its own task, so a caller that goes away
/// does not cancel it).
pub(crate) async fn resync(inner: &Arc<Inner>, chat: ChatId) -> Result<ResyncReport> {
    resync_job(inner, chat, None).await
}

/// An automatic resync, followed — with `older_within` — by one page of older history when the
/// chat then holds fewer than that many messages and history lies above them, in one fetch
/// window.
pub(crate) async fn resync_job(
    inner: &Arc<Inner>,
    chat: ChatId,
    older_within: Option<u32>,
) -> Result<ResyncReport> {
    resync_of_kind(inner, chat, older_within, ResyncKind::Automatic).await
}

/// The user's Resync: like any resync, plus the chat's evicted history. Pressed while an
/// automatic resync of the chat runs, it joins that one (one fetch at a time per chat) and then,
/// if evicted history is still there, runs once more for it.
pub(crate) async fn manual_resync(inner: &Arc<Inner>, chat: ChatId) -> Result<ResyncReport> {
    let report = resync_of_kind(inner, chat, None, ResyncKind::Manual).await?;
    let (_, _, plan) = current_plan(inner, chat).await?;
    if plan.evicted.is_none() {
        return Ok(report);
    }
    resync_of_kind(inner, chat, None, ResyncKind::Manual).await
}

async fn resync_of_kind(
    inner: &Arc<Inner>,
    chat: ChatId,
    older_within: Option<u32>,
    kind: ResyncKind,
) -> Result<ResyncReport> {
    single_flight(
        inner,
        |jobs| &mut jobs.resync,
        chat,
        move |inner| async move {
            crate::account::ensure_verified(&inner).await?;
            run_resync(&inner, chat, older_within, kind).await
        },
    )
    .await
}

/// The chat's record, runs and sync plan as the store holds them now.
async fn current_plan(
    inner: &Inner,
    chat: ChatId,
) -> Result<(crate::store::ChatRecord, Vec<SeqRange>, SyncPlan)> {
    let store = inner.store();
    let rec = store
        .chat(chat)
        .await?
        .ok_or_else(|| Error::NotFound(format!("chat {chat}")))?;
    let runs = store.runs(chat).await?;
    let floor = crate::budget::history_floor(store, chat).await?;
    let plan = sync_plan_with_floor(&runs, rec.server_last_seq, floor);
    Ok((rec, runs, plan))
}

/// Whether the first screen has room for a page of older history: history lies above the
/// oldest cached message and fewer than `limit` messages are cached.
pub(crate) fn wants_older_page(runs: &[SeqRange], limit: u32) -> bool {
    runs.first().is_some_and(|r| r.start > 1) && ranges::cached_count(runs) < u64::from(limit)
}

/// The fetch window of one job: FetchStarted once, before its first fetch of missing seqs,
/// FetchFinished once at its end, whatever the job fetches in between.
struct FetchScope<'a> {
    inner: &'a Inner,
    chat: ChatId,
    started: bool,
    /// The chat was put `SYNCING` by this window.
    syncing: bool,
    fetched: u64,
    /// A page of this job, read at a rev older than the changes cursor, brought new seqs and
    /// lowered the cursor: the job runs the changes pass again before it validates.
    cursor_lowered: bool,
}

impl<'a> FetchScope<'a> {
    fn new(inner: &'a Inner, chat: ChatId) -> Self {
        FetchScope {
            inner,
            chat,
            started: false,
            syncing: false,
            fetched: 0,
            cursor_lowered: false,
        }
    }

    /// Opens the window; `syncing`: the fetch repairs missing messages (a resync), so the chat
    /// goes `SYNCING`; a page of older history does not change the sync state.
    async fn start(&mut self, syncing: bool) -> Result<()> {
        if !self.started {
            self.started = true;
            self.inner
                .emit(ClientEvent::FetchStarted { chat_id: self.chat });
        }
        if syncing && !self.syncing {
            self.syncing = true;
            self.inner
                .sync_input(self.chat, SyncInput::FetchStarted, Some(true))
                .await?;
        }
        Ok(())
    }
    /// Emits FetchFinished once (if a fetch started).
    fn finish(&mut self) {
        if self.started {
            self.started = false;
            self.inner.emit(ClientEvent::FetchFinished {
                chat_id: self.chat,
                fetched: self.fetched,
            });
        }
    }
}

async fn ingest_page(
    inner: &Inner,
    chat: ChatId,
    page: &MessagesPage,
    cursor: CursorRule,
    count_unread: bool,
) -> Result<IngestResult> {
    let mut opts = IngestOptions::new(cursor);
    opts.position = Some(Position {
        last_seq: page.last_seq,
        rev: page.rev,
    });
    opts.count_unread = count_unread;
    opts.me = inner.me();
    let res = inner.store().ingest(chat, &page.messages, &opts).await?;
    inner.mark_known(chat);
    if !res.changed.is_empty() {
        inner.emit(ClientEvent::MessagesChanged {
            chat_id: chat,
            seqs: res.changed.clone(),
        });
    }
    Ok(res)
}

/// Fetches `range` with forward pages of `page_size`, merging each page in one transaction.
/// Returns (messages received, first page's rev, whether a page lowered the changes cursor).
async fn fetch_range(
    inner: &Inner,
    api: &Api,
    chat: ChatId,
    range: SeqRange,
    count_unread: bool,
) -> Result<(u64, Option<u64>, bool)> {
    let mut from = range.start;
    let mut received = 0;
    let mut first_rev = None;
    let mut lowered = false;
    loop {
        let q = RangeQuery {
            from_seq: Some(from),
            to_seq: Some(range.end),
            before_seq: None,
            limit: Some(inner.config().page_size.min(MAX_PAGE_SIZE)),
        };
        let page = api.range(chat, &q).await?;
        first_rev.get_or_insert(page.rev);
        received += page.messages.len() as u64;
        lowered |= ingest_page(inner, chat, &page, CursorRule::Keep, count_unread)
            .await?
            .cursor_lowered;
        match page.next_from_seq {
            Some(n) if n <= range.end && !page.messages.is_empty() => from = n,
            _ => break,
        }
    }
    Ok((received, first_rev, lowered))
}

async fn run_resync(
    inner: &Arc<Inner>,
    chat: ChatId,
    older_within: Option<u32>,
    kind: ResyncKind,
) -> Result<ResyncReport> {
    // A chat the user is no longer a member of is never synced (no 404 at each start).
    crate::left::ensure_not_left(inner, chat).await?;
    let _permit = inner.sync_permit().await?;
    let (api, figs) = inner.api().scoped();
    let mut scope = FetchScope::new(inner, chat);
    let mut result = resync_steps(inner, &api, chat, &mut scope, kind).await;
    if let (Ok(_), Some(limit)) = (&result, older_within) {
        // The first screen's older page, in the same fetch window (no hide-then-show).
        let wanted = inner
            .store()
            .runs(chat)
            .await
            .map(|runs| wants_older_page(&runs, limit));
        if let Err(e) = match wanted {
            Ok(true) => older_page_steps(inner, &api, chat, &mut scope)
                .await
                .map(|_| ()),
            Ok(false) => Ok(()),
            Err(e) => Err(e),
        } {
            tracing::debug!(%chat, error = %e, "loading the first page of older history failed");
        }
        if let Ok(report) = &mut result {
            report.messages_fetched = scope.fetched;
        }
    }
    scope.finish();
    if let Ok(report) = &mut result
        && let Err(e) = revalidate(inner, chat, report, kind).await
    {
        result = Err(e);
    }
    let figures = figs.snapshot();
    match result {
        Ok(mut report) => {
            report.requests = figures.requests;
            report.bytes_received = figures.bytes_received;
            tracing::info!(%chat, gaps_before = report.gaps_before, gaps_after = report.gaps_after,
                fetched = report.messages_fetched, changes = report.changes_applied,
                requests = report.requests, bytes = report.bytes_received, "resync finished");
            Ok(report)
        }
        Err(e) if e.code() == ErrorCode::NotFound => {
            // Not (or no longer) a chat of ours: a chat we know becomes left (read-only, never
            // resynced again); a row we only guessed at is dropped.
            Err(crate::left::on_not_found(inner, chat, e).await)
        }
        Err(e) => {
            tracing::info!(%chat, error = %e, "resync failed; the chat stays flagged for a later resync");
            // The flag stays set: a later resync (reconnect, next open) resumes from the store.
            let _ = inner
                .sync_input(chat, SyncInput::ResyncFailed, Some(true))
                .await;
            inner.emit_chat(chat).await;
            Err(e)
        }
    }
}

async fn resync_steps(
    inner: &Arc<Inner>,
    api: &Api,
    chat: ChatId,
    scope: &mut FetchScope<'_>,
    kind: ResyncKind,
) -> Result<ResyncReport> {
    let store = inner.store();
    // Persist the intent first: a crash from here on resumes from the store alone. (A chat the
    // cache never heard of gets its row here; the server answers not_found if we are no member.)
    store.flag_needs_resync(chat).await?;
    let (rec, runs, plan) = current_plan(inner, chat).await?;
    let wanted = plan.to_fetch(kind);
    let mut report = ResyncReport {
        chat_id: chat,
        gaps_before: wanted.len() + plan.newest_page as usize,
        gaps_after: 0,
        missing_before: wanted.iter().map(SeqRange::len).sum::<u64>()
            + if plan.newest_page {
                rec.server_last_seq.min(DEFAULT_PAGE_SIZE as u64)
            } else {
                0
            },
        messages_fetched: 0,
        changes_applied: 0,
        revalidation_fetched: 0,
        requests: 0,
        bytes_received: 0,
        full_reload: None,
        revalidated: None,
        state: rec.sync_state,
    };
    if let Some(reason) = &rec.full_reload_reason {
        tracing::warn!(%chat, %reason, "full resync of this chat: its cached copy was lost");
        report.full_reload = Some(reason.clone());
    }

    // Messages are missing (the screen shows skeletons for them): the fetch window opens now,
    // so the indicator covers the changes pass too (on a slow server it is most of the wait),
    // not only the range requests after it.
    if !wanted.is_empty() || plan.newest_page {
        scope.start(true).await?;
    }
    // 1. Changes since the cursor from the cached span's start. When the server is known to
    // have newer messages than the cache, the pass is open above: those created after the
    // cursor come with it, so a chat whose changes fit one page costs one request (catch-up
    // after a reconnect: 1 + N for N chats), and they are missing messages being fetched.
    if let (Some(first), Some(last)) = (runs.first(), runs.last()) {
        let span = SeqRange::new(first.start, last.end);
        let open_above = rec.server_last_seq > last.end;
        if open_above {
            scope.start(true).await?;
        }
        let (fetched, lowered) = changes_pass(
            inner,
            api,
            chat,
            &runs,
            (span, open_above),
            rec.changes_cursor,
            &mut report,
        )
        .await?;
        report.messages_fetched += fetched;
        scope.fetched += fetched;
        scope.cursor_lowered |= lowered;
    }
    // 2–3. Fetch only what is missing.
    fetch_missing(inner, api, chat, scope, &mut report, kind).await?;
    changes_again_if_cursor_lowered(inner, api, chat, scope, &mut report).await?;
    Ok(report)
}

/// A page read before a mutation landed after the cursor passed it (an own send's answer or a
/// stream event meanwhile): its seqs are only known as of its rev, and the store took the
/// cursor back to it. The changes since then are asked now (again, a few times, if that pass
/// raced too), so the resync never validates a stale copy.
async fn changes_again_if_cursor_lowered(
    inner: &Arc<Inner>,
    api: &Api,
    chat: ChatId,
    scope: &mut FetchScope<'_>,
    report: &mut ResyncReport,
) -> Result<()> {
    for _ in 0..3 {
        if !std::mem::take(&mut scope.cursor_lowered) {
            return Ok(());
        }
        let (rec, runs, _) = current_plan(inner, chat).await?;
        if let (Some(first), Some(last)) = (runs.first(), runs.last()) {
            let span = (SeqRange::new(first.start, last.end), false);
            let (fetched, lowered) =
                changes_pass(inner, api, chat, &runs, span, rec.changes_cursor, report).await?;
            report.messages_fetched += fetched;
            scope.fetched += fetched;
            scope.cursor_lowered = lowered;
        }
    }
    Ok(())
}

/// Step 1: the changes since `cursor` over the cached `span` (and above it when `open_above`),
/// page by page, each merged in one transaction; the cursor advances only if the span did not
/// move meanwhile. When the journal no longer reaches the cursor (`too_old`), the cached runs
/// are re-validated by range instead. Returns the messages received above the span (new
/// messages: fetched, not changes) and whether a page took the cursor back (see
/// [`changes_again_if_cursor_lowered`]).
async fn changes_pass(
    inner: &Arc<Inner>,
    api: &Api,
    chat: ChatId,
    runs: &[SeqRange],
    (span, open_above): (SeqRange, bool),
    cursor: u64,
    report: &mut ResyncReport,
) -> Result<(u64, bool)> {
    let (lo, hi) = (span.start, span.end);
    let mut above = 0;
    let mut lowered = false;
    let store = inner.store();
    {
        let mut since = cursor;
        loop {
            let seqs = (Some(lo), (!open_above).then_some(hi));
            match changes_page(inner, api, chat, since, seqs).await? {
                ChangesPage::Merged {
                    rev,
                    messages,
                    next_since_rev,
                    cursor_lowered,
                } => {
                    lowered |= cursor_lowered;
                    let new = messages.iter().filter(|m| m.seq > hi).count() as u64;
                    above += new;
                    report.changes_applied += messages.len() as u64 - new;
                    match next_since_rev {
                        Some(n) => since = n,
                        None => {
                            // Open above: everything from `lo` up was covered.
                            let covered = if open_above {
                                SeqRange::new(lo, u64::MAX)
                            } else {
                                span
                            };
                            store
                                .advance_cursor_after_changes(chat, covered, (cursor, rev))
                                .await?;
                            break;
                        }
                    }
                }
                ChangesPage::TooOld {
                    last_seq,
                    rev,
                    oldest_since_rev,
                } => {
                    let reason = format!(
                        "changes journal starts at rev {oldest_since_rev}, our cursor is {since}: re-validating the {} cached run(s) with the range endpoint",
                        runs.len()
                    );
                    tracing::warn!(%chat, %reason, "changes too old");
                    store
                        .record_position(chat, Position { last_seq, rev })
                        .await?;
                    report.revalidated = Some(reason);
                    let mut first_rev = None;
                    for run in runs {
                        let (n, r, low) = fetch_range(inner, api, chat, *run, false).await?;
                        lowered |= low;
                        report.revalidation_fetched += n;
                        if first_rev.is_none() {
                            first_rev = r;
                        }
                    }
                    // Like a complete changes pass: only if the cached runs are still the ones
                    // re-validated (a seq cached meanwhile, outside them or in a hole between
                    // them, was not re-read: its copy may be older than `r`).
                    if let Some(r) = first_rev
                        && store.runs(chat).await? == runs
                    {
                        store
                            .advance_cursor_after_changes(chat, span, (cursor, r))
                            .await?;
                    }
                    break;
                }
            }
        }
    }
    Ok((above, lowered))
}

/// Steps 2–3: fetch only what is missing — with the evicted history for a manual resync —
/// (recomputed each round: changes may have filled some; a few rounds pick up messages created
/// while we fetch), merging each request in one transaction; an empty cache gets the newest
/// page only.
async fn fetch_missing(
    inner: &Arc<Inner>,
    api: &Api,
    chat: ChatId,
    scope: &mut FetchScope<'_>,
    report: &mut ResyncReport,
    kind: ResyncKind,
) -> Result<()> {
    for _round in 0..3 {
        let (rec, runs, plan) = current_plan(inner, chat).await?;
        if runs.is_empty() {
            // Empty cache: the newest page only; older history loads on demand. Asked even when
            // the chat was last seen empty: a resync re-validates against the server, and the
            // answer for an empty chat is one small page.
            scope.start(true).await?;
            let page = match newest_page(inner, api, chat, rec.server_last_seq).await? {
                Newest::Page(page) => page,
                Newest::Reloaded(n) => {
                    // No range shape left: the whole chat came through a full reload.
                    report.full_reload = Some(RANGES_REFUSED.to_string());
                    report.messages_fetched += n;
                    scope.fetched += n;
                    break;
                }
            };
            report.messages_fetched += page.messages.len() as u64;
            scope.fetched += page.messages.len() as u64;
            scope.cursor_lowered |=
                ingest_page(inner, chat, &page, CursorRule::Snapshot(page.rev), false)
                    .await?
                    .cursor_lowered;
            if page.messages.is_empty() {
                break;
            }
            continue;
        }
        let wanted = plan.to_fetch(kind);
        if wanted.is_empty() {
            break;
        }
        scope.start(true).await?;
        // Exactly the missing seqs: scattered gaps packed into `seqs` lists of up to a page
        // each (a long gap is split across lists), each list one request, merged in one
        // transaction.
        let page = inner.config().page_size.clamp(1, MAX_PAGE_SIZE) as u64;
        for batch in ranges::pack_batches(&wanted, page, MAX_SEQ_RANGES_PER_REQUEST) {
            let n = fetch_batch(inner, api, chat, &batch, report, scope).await?;
            report.messages_fetched += n;
            scope.fetched += n;
            // No seqs or forward shape left: that batch was a full reload, which brought the
            // whole chat. (Not the persisted reason alone: a reload cut short earlier leaves it
            // set while `seqs` is served, and stopping here fetched one batch per resync.)
            let support = inner.range_support();
            if report.full_reload.is_some()
                && !support.serves(Shape::Seqs)
                && !support.serves(Shape::Forward)
            {
                return Ok(());
            }
        }
    }
    Ok(())
}

/// One batch of missing seqs in the best shape the server serves: one `seqs` request; else
/// each range with forward pages; else a full reload of the chat (SPEC rule 6). Returns the
/// messages received.
async fn fetch_batch(
    inner: &Inner,
    api: &Api,
    chat: ChatId,
    batch: &[SeqRange],
    report: &mut ResyncReport,
    scope: &mut FetchScope<'_>,
) -> Result<u64> {
    let support = inner.range_support();
    if support.serves(Shape::Seqs) {
        match api.listed(chat, batch).await {
            Ok(page) => {
                scope.cursor_lowered |= ingest_page(inner, chat, &page, CursorRule::Keep, true)
                    .await?
                    .cursor_lowered;
                return Ok(page.messages.len() as u64);
            }
            Err(e) if is_refusal(&e) => support.refused(chat, Shape::Seqs, &e),
            Err(e) => return Err(e),
        }
    }
    if support.serves(Shape::Forward) {
        let mut received = 0;
        for range in batch {
            match fetch_range(inner, api, chat, *range, true).await {
                Ok((n, _, lowered)) => {
                    received += n;
                    scope.cursor_lowered |= lowered;
                }
                Err(e) if is_refusal(&e) => {
                    support.refused(chat, Shape::Forward, &e);
                    return Ok(received + reload(inner, api, chat, report).await?);
                }
                Err(e) => return Err(e),
            }
        }
        return Ok(received);
    }
    reload(inner, api, chat, report).await
}

async fn reload(inner: &Inner, api: &Api, chat: ChatId, report: &mut ResyncReport) -> Result<u64> {
    report.full_reload = Some(RANGES_REFUSED.to_string());
    full_reload(inner, api, chat, RANGES_REFUSED).await
}

/// What [`newest_page`] got.
enum Newest {
    Page(MessagesPage),
    /// No range shape was served: the chat was fully reloaded (messages received).
    Reloaded(u64),
}

/// The page of history directly above `before`: the backward shape, else the forward shape
/// over the same seqs (a chat's seqs are gap-free, so the page is known without asking).
async fn older_page(inner: &Inner, api: &Api, chat: ChatId, before: u64) -> Result<MessagesPage> {
    let support = inner.range_support();
    if support.serves(Shape::Backward) {
        let q = RangeQuery {
            before_seq: Some(before),
            limit: Some(DEFAULT_PAGE_SIZE),
            ..Default::default()
        };
        match api.range(chat, &q).await {
            Ok(page) => return Ok(page),
            Err(e) if is_refusal(&e) => support.refused(chat, Shape::Backward, &e),
            Err(e) => return Err(e),
        }
    }
    let q = RangeQuery {
        from_seq: Some(before.saturating_sub(DEFAULT_PAGE_SIZE as u64).max(1)),
        to_seq: Some(before - 1),
        before_seq: None,
        limit: Some(DEFAULT_PAGE_SIZE),
    };
    api.range(chat, &q).await
}

/// The newest page of a chat with nothing cached: the backward shape; else the forward shape
/// over the last page of the server's known position; else a full reload (`None`).
async fn newest_page(
    inner: &Inner,
    api: &Api,
    chat: ChatId,
    server_last_seq: u64,
) -> Result<Newest> {
    let support = inner.range_support();
    if support.serves(Shape::Backward) {
        let q = RangeQuery {
            limit: Some(DEFAULT_PAGE_SIZE),
            ..Default::default()
        };
        match api.range(chat, &q).await {
            Ok(page) => return Ok(Newest::Page(page)),
            Err(e) if is_refusal(&e) => support.refused(chat, Shape::Backward, &e),
            Err(e) => return Err(e),
        }
    }
    if support.serves(Shape::Forward) && server_last_seq > 0 {
        let q = RangeQuery {
            from_seq: Some(
                server_last_seq
                    .saturating_sub(DEFAULT_PAGE_SIZE as u64 - 1)
                    .max(1),
            ),
            to_seq: Some(server_last_seq),
            before_seq: None,
            limit: Some(DEFAULT_PAGE_SIZE),
        };
        match api.range(chat, &q).await {
            Ok(page) => return Ok(Newest::Page(page)),
            Err(e) if is_refusal(&e) => support.refused(chat, Shape::Forward, &e),
            Err(e) => return Err(e),
        }
    }
    Ok(Newest::Reloaded(
        full_reload(inner, api, chat, RANGES_REFUSED).await?,
    ))
}

/// 4. Re-validates after the fetch window closed; clears OUT_OF_SYNC only if it passes.
async fn revalidate(
    inner: &Inner,
    chat: ChatId,
    report: &mut ResyncReport,
    kind: ResyncKind,
) -> Result<()> {
    report.state = inner.store().finish_resync(chat).await?;
    let (rec, _, plan) = current_plan(inner, chat).await?;
    report.gaps_after = plan.to_fetch(kind).len();
    inner.emit(ClientEvent::SyncStateChanged {
        chat_id: chat,
        state: report.state,
    });
    inner.emit(ClientEvent::ChatUpdated { chat: rec });
    Ok(())
}

/// Single-flight like [`resync`]: concurrent calls for one chat share one fetch, and it never
/// runs at once with a resync of the chat.
pub(crate) async fn load_older(inner: &Arc<Inner>, chat: ChatId) -> Result<LoadOlderReport> {
    single_flight(
        inner,
        |jobs| &mut jobs.older,
        chat,
        |inner| async move {
            crate::account::ensure_verified(&inner).await?;
            run_load_older(&inner, chat).await
        },
    )
    .await
}

async fn run_load_older(inner: &Arc<Inner>, chat: ChatId) -> Result<LoadOlderReport> {
    crate::left::ensure_not_left(inner, chat).await?;
    let (api, figs) = inner.api().scoped();
    let mut scope = FetchScope::new(inner, chat);
    let result = older_page_steps(inner, &api, chat, &mut scope).await;
    scope.finish();
    let reached_start = match result {
        Err(e) if e.code() == ErrorCode::NotFound => {
            return Err(crate::left::on_not_found(inner, chat, e).await);
        }
        other => other?,
    };
    let f = figs.snapshot();
    Ok(LoadOlderReport {
        chat_id: chat,
        fetched: scope.fetched,
        reached_start,
        requests: f.requests,
        bytes_received: f.bytes_received,
    })
}

/// One page of history directly above the oldest cached message (the newest page for an empty
/// cache), merged in one transaction, inside `scope`'s fetch window. Returns whether seq 1 is
/// cached now.
async fn older_page_steps(
    inner: &Arc<Inner>,
    api: &Api,
    chat: ChatId,
    scope: &mut FetchScope<'_>,
) -> Result<bool> {
    let runs = inner.store().runs(chat).await?;
    let before = runs.first().map(|r| r.start);
    if before == Some(1) {
        return Ok(true);
    }
    scope.start(false).await?;
    let page = match before {
        Some(before) => older_page(inner, api, chat, before).await?,
        None => {
            let last = inner
                .store()
                .chat(chat)
                .await?
                .map_or(0, |c| c.server_last_seq);
            match newest_page(inner, api, chat, last).await? {
                Newest::Page(page) => page,
                Newest::Reloaded(n) => {
                    scope.fetched += n;
                    inner.emit_chat(chat).await;
                    return Ok(true);
                }
            }
        }
    };
    let cursor = if before.is_none() {
        CursorRule::Snapshot(page.rev)
    } else {
        CursorRule::Keep
    };
    ingest_page(inner, chat, &page, cursor, false).await?;
    scope.fetched += page.messages.len() as u64;
    inner.emit_chat(chat).await;
    let runs = inner.store().runs(chat).await?;
    Ok(runs.first().is_some_and(|r| r.start == 1))
}
