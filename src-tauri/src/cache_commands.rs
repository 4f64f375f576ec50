//! The commands of search, verify & repair and the storage budget (issue 12): thin calls into
//! `roost-core` (`search`, `verify`, `budget`), answered with the IPC types of
//! `roost_model::app_cache`. Allowed by `src-tauri/capabilities/default.json` like every other
//! Roost command.

use crate::error::ShellResult;
use crate::session::AppState;
use roost_core::SeqRange;
use roost_model::app_cache::{
    BudgetView, ClearView, FetchedView, NotSearchedView, SearchHitView, SearchView, VerifyView,
};
use roost_proto::ChatId;
use tauri::State;

/// Hits per search shown by the UI.
const SEARCH_LIMIT: u32 = 100;

/// Searches the cache (no network): one chat, or every chat when `chat_id` is absent.
#[tauri::command]
pub async fn search(
    state: State<'_, AppState>,
    chat_id: Option<ChatId>,
    query: String,
) -> ShellResult<SearchView> {
    let client = state.client().await?;
    let results = client.search(chat_id, &query, SEARCH_LIMIT).await?;
    Ok(SearchView {
        query,
        chat_id,
        hits: results
            .hits
            .into_iter()
            .map(|h| SearchHitView {
                chat_id: h.chat_id,
                chat_title: h.chat_title,
                seq: h.seq,
                message_id: h.message_id,
                author: h.author.0,
                created_at: h.created_at,
                text: h.text,
            })
            .collect(),
        truncated: results.truncated,
        not_searched: results
            .not_searched
            .into_iter()
            .map(|n| NotSearchedView {
                chat_id: n.chat_id,
                chat_title: n.chat_title,
                ranges: n.ranges,
                messages: n.messages,
            })
            .collect(),
    })
}

/// Fetches exactly the given ranges of a chat that are not cached (the "search them too"
/// button), then keeps the cache within its budget.
#[tauri::command]
pub async fn fetch_ranges(
    state: State<'_, AppState>,
    chat_id: ChatId,
    ranges: Vec<SeqRange>,
) -> ShellResult<FetchedView> {
    let client = state.client().await?;
    let ranges: Vec<SeqRange> = ranges
        .into_iter()
        .filter(|r| r.start >= 1 && r.start <= r.end)
        .collect();
    let report = client.fetch_seqs(chat_id, &ranges).await?;
    client.enforce_cache_budget(None).await?;
    Ok(FetchedView {
        fetched: report.fetched,
        requests: report.requests,
        bytes_received: report.bytes_received,
    })
}

/// "Verify this chat": compare by digests, repair what differs.
#[tauri::command]
pub async fn verify_chat(state: State<'_, AppState>, chat_id: ChatId) -> ShellResult<VerifyView> {
    let client = state.client().await?;
    let report = client.verify(chat_id).await?;
    Ok(VerifyView {
        chat_id,
        messages_compared: report.messages_compared,
        buckets_compared: report.buckets_compared,
        buckets_differing: report.buckets_differing,
        messages_refetched: report.messages_refetched,
        repaired: report.repaired,
        bytes_received: report.bytes_received,
    })
}

/// "Clear cached history" of one chat (keeps its newest messages), or of every chat.
#[tauri::command]
pub async fn clear_cached_history(
    state: State<'_, AppState>,
    chat_id: Option<ChatId>,
) -> ShellResult<ClearView> {
    let client = state.client().await?;
    let report = client.clear_cached_history(chat_id).await?;
    Ok(ClearView {
        messages: report.messages,
        chats: report.chats.len() as u64,
        bytes_before: report.bytes_before,
        bytes_after: report.bytes_after,
    })
}

/// The cache's size and budget; with `budget_bytes`, sets the budget and evicts above it.
#[tauri::command]
pub async fn cache_budget(
    state: State<'_, AppState>,
    budget_bytes: Option<u64>,
) -> ShellResult<BudgetView> {
    let client = state.client().await?;
    let mut evicted = 0;
    if let Some(bytes) = budget_bytes {
        client.set_cache_budget(bytes).await?;
        evicted = client.enforce_cache_budget(None).await?.messages;
    }
    let status = client.budget_status().await?;
    Ok(BudgetView {
        budget_bytes: status.budget_bytes,
        used_bytes: status.used_bytes,
        cached_messages: status.cached_messages,
        evicted,
    })
}

/// How often the running app checks the cache against its budget (besides after each fetch of
/// not-searched history and each budget change).
const BUDGET_CHECK_EVERY: std::time::Duration = std::time::Duration::from_secs(300);

/// Keeps the session's cache within its budget: once at start, then every
/// [`BUDGET_CHECK_EVERY`] (stream ingest and scrolling grow it in between). Ends with the
/// session (the closed client's store answers errors).
pub fn keep_within_budget(client: roost_core::Client) {
    tauri::async_runtime::spawn(async move {
        loop {
            match client.enforce_cache_budget(None).await {
                Ok(report) if report.messages > 0 => tracing::info!(
                    evicted = report.messages,
                    chats = report.chats.len(),
                    "cache over budget: evicted the oldest history of the least recently opened chats"
                ),
                Ok(_) => {}
                Err(e) => {
                    tracing::debug!(error = %e, "budget keeper stops");
                    return;
                }
            }
            tokio::time::sleep(BUDGET_CHECK_EVERY).await;
        }
    });
}
