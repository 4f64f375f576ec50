//! Chats the user is no longer a member of ("left"): how the engine learns it (the chat is
//! missing from a complete chat list, the stream says `removed`, the server answers 404 for a
//! chat the cache knows, or the user leaves) and what follows: the chat stays cached read-only,
//! every sync path refuses it without touching the network (no 404 loop at each start), and
//! the user may remove it from the device. A chat the server lists again is a member's chat
//! again (the store clears the mark on every listed summary).

use crate::engine::Inner;
use crate::error::{Error, Result};
use roost_proto::ChatId;
use std::sync::Arc;

/// `Err(Error::Left)` for a chat the user is no longer a member of: callers that would sync,
/// fetch or send stop here, before any request.
pub(crate) async fn ensure_not_left(inner: &Inner, chat: ChatId) -> Result<()> {
    match inner.store().chat(chat).await? {
        Some(record) if record.is_left() => Err(Error::Left(chat)),
        _ => Ok(()),
    }
}

/// Marks the chat left and tells the UI; nothing if it was left already or is not cached.
pub(crate) async fn mark_left(inner: &Inner, chat: ChatId, why: &str) -> Result<()> {
    if inner.store().mark_left(chat).await? {
        tracing::info!(%chat, why, "no longer a member: the chat stays cached, read-only");
        inner.emit_chat(chat).await;
    }
    Ok(())
}

/// The server answered 404 for `chat`: a chat the cache knows (listed once, or holding
/// messages) becomes left — `Err(Error::Left)`; a row we only guessed at (never listed, nothing
/// cached) is dropped and the original error returned.
pub(crate) async fn on_not_found(inner: &Inner, chat: ChatId, error: Error) -> Error {
    let known = match inner.store().chat(chat).await {
        Ok(Some(record)) => !record.title.is_empty() || record.cached_count > 0,
        _ => false,
    };
    if !known {
        let _ = inner.store().forget_empty_chat(chat).await;
        return error;
    }
    match mark_left(inner, chat, "the server answered 404").await {
        Ok(()) => Error::Left(chat),
        Err(store_error) => store_error,
    }
}

/// After a complete chat list: the cached chats it does not name become left.
pub(crate) async fn mark_unlisted_left(inner: &Arc<Inner>, listed: &[ChatId]) -> Result<()> {
    for chat in inner.store().mark_unlisted_left(listed).await? {
        tracing::info!(%chat, "the chat list no longer names this chat: it stays cached, read-only");
        inner.emit_chat(chat).await;
    }
    Ok(())
}

/// Leaves the chat on the server (`DELETE …/members/{me}`), then marks it left here. A chat
/// the server already does not show us (404) is marked left too.
pub(crate) async fn leave(inner: &Arc<Inner>, chat: ChatId) -> Result<()> {
    let me = match inner.me() {
        Some(me) => me,
        None => {
            let me = inner.api().me().await?.user_id;
            inner.set_me(me.clone());
            me
        }
    };
    match inner.api().remove_member(chat, &me).await {
        Ok(()) => mark_left(inner, chat, "left the chat").await,
        Err(e) if e.code() == crate::error::ErrorCode::NotFound => {
            mark_left(
                inner,
                chat,
                "left the chat (the server no longer showed it)",
            )
            .await
        }
        Err(e) => Err(e),
    }
}
