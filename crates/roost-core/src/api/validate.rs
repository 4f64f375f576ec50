//! Validation of every response against the request that produced it: a hostile or broken
//! answer is refused here, before anyone can write it to the cache.

use crate::error::{Error, Result};
use crate::ranges::SeqRange;
use roost_proto::{
    ChangesQuery, ChangesResponse, ChatId, DEFAULT_PAGE_SIZE, Message, MessageId, MessageResponse,
    MessagesPage, RangeQuery, Seq, StreamEvent,
};

fn violation(msg: impl Into<String>) -> Error {
    Error::ProtocolViolation(msg.into())
}

/// Checks that hold for any message the server hands us for `chat` at position
/// (`last_seq`, `rev`).
fn check_message(chat: ChatId, m: &Message, last_seq: Seq, rev: u64) -> Result<()> {
    if m.chat_id != chat {
        return Err(violation(format!(
            "message seq {} belongs to chat {}, not {chat}",
            m.seq, m.chat_id
        )));
    }
    if m.seq == 0 || m.version == 0 || m.rev == 0 {
        return Err(violation(format!(
            "message seq {} has a zero seq/version/rev",
            m.seq
        )));
    }
    if m.seq > last_seq {
        return Err(violation(format!(
            "message seq {} is above the chat's last_seq {last_seq}",
            m.seq
        )));
    }
    if m.rev > rev {
        return Err(violation(format!(
            "message seq {} has rev {} above the chat's rev {rev}",
            m.seq, m.rev
        )));
    }
    if m.deleted_at.is_some() && !m.body.is_null() {
        return Err(violation(format!(
            "tombstone seq {} still has a body",
            m.seq
        )));
    }
    Ok(())
}

/// Validates a range page against the query that asked for it. The server's seq is gap-free
/// and tombstones are included, so a page must be **exactly** the contiguous seqs it claims:
/// a forward page `from_seq, from_seq+1, …` (up to `to_seq`/`last_seq`), a backward page ending
/// at `min(before_seq - 1, last_seq)`; never more than `limit` messages, never another chat.
pub fn validate_range_page(chat: ChatId, q: &RangeQuery, page: &MessagesPage) -> Result<()> {
    if page.chat_id != chat {
        return Err(violation(format!(
            "page for chat {} instead of {chat}",
            page.chat_id
        )));
    }
    let limit = q.limit.unwrap_or(DEFAULT_PAGE_SIZE) as usize;
    if page.messages.len() > limit {
        return Err(violation(format!(
            "page holds {} messages, more than the requested limit {limit}",
            page.messages.len()
        )));
    }
    for m in &page.messages {
        check_message(chat, m, page.last_seq, page.rev)?;
    }
    check_contiguous(page)?;
    let first = page.messages.first().map(|m| m.seq);
    let last = page.messages.last().map(|m| m.seq);
    match q.from_seq {
        Some(from) => check_forward_bounds(q, page, from, (first, last), limit),
        None => check_backward_bounds(q, page, (first, last), limit),
    }
}

/// Seqs of a range page ascend one by one: no duplicate, no disorder, no hole (seqs are
/// gap-free and tombstones are included).
fn check_contiguous(page: &MessagesPage) -> Result<()> {
    for w in page.messages.windows(2) {
        if w[1].seq == w[0].seq {
            return Err(violation(format!("duplicate seq {} in page", w[0].seq)));
        }
        if w[1].seq < w[0].seq {
            return Err(violation(format!(
                "seqs out of order in page ({} after {})",
                w[1].seq, w[0].seq
            )));
        }
        if w[1].seq != w[0].seq + 1 {
            return Err(violation(format!(
                "page skips seqs {}..={} (seqs are gap-free)",
                w[0].seq + 1,
                w[1].seq - 1
            )));
        }
    }
    Ok(())
}

/// A forward page starts where asked and ends at the range's end or says where to continue.
fn check_forward_bounds(
    q: &RangeQuery,
    page: &MessagesPage,
    from: Seq,
    (first, last): (Option<Seq>, Option<Seq>),
    limit: usize,
) -> Result<()> {
    let to = q.to_seq.unwrap_or(u64::MAX).min(page.last_seq);
    if let (Some(f), Some(l)) = (first, last) {
        if f != from {
            return Err(violation(format!(
                "forward page starts at {f}, asked from {from}"
            )));
        }
        if l > to {
            return Err(violation(format!("page goes to seq {l}, beyond {to}")));
        }
        // A short page must be the end of the range, or say where to continue.
        if l < to && page.next_from_seq.is_none() && page.messages.len() < limit {
            return Err(violation(format!(
                "page ends at {l} before {to} without a continuation"
            )));
        }
        if let Some(n) = page.next_from_seq
            && n != l + 1
        {
            return Err(violation(format!(
                "next_from_seq {n} does not follow seq {l}"
            )));
        }
    } else if from <= to {
        return Err(violation(format!(
            "empty page for {from}..={to} although the chat has seq {}",
            page.last_seq
        )));
    }
    Ok(())
}

/// A backward (or newest) page ends just below `before_seq` (or at `last_seq`), and a short
/// one reaches seq 1.
fn check_backward_bounds(
    q: &RangeQuery,
    page: &MessagesPage,
    (first, last): (Option<Seq>, Option<Seq>),
    limit: usize,
) -> Result<()> {
    let top = q
        .before_seq
        .map(|b| b.saturating_sub(1))
        .unwrap_or(u64::MAX)
        .min(page.last_seq);
    match (first, last) {
        (Some(f), Some(l)) => {
            if l != top {
                return Err(violation(format!(
                    "backward page ends at {l}, expected {top}"
                )));
            }
            if page.messages.len() < limit && f != 1 {
                return Err(violation(format!(
                    "short backward page starts at {f}, not at seq 1"
                )));
            }
        }
        _ if top >= 1 => {
            return Err(violation(format!(
                "empty backward page although seq {top} exists"
            )));
        }
        _ => {}
    }
    Ok(())
}

/// Validates an answer to a `seqs` query: right chat, ascending unique seqs, each one listed,
/// and — seqs being gap-free — every listed seq up to the chat's `last_seq` present; no
/// continuation.
pub fn validate_listed_page(chat: ChatId, ranges: &[SeqRange], page: &MessagesPage) -> Result<()> {
    if page.chat_id != chat {
        return Err(violation(format!(
            "page for chat {} instead of {chat}",
            page.chat_id
        )));
    }
    if page.next_from_seq.is_some() || page.next_before_seq.is_some() {
        return Err(violation("a seqs answer carries a continuation"));
    }
    let mut expected = ranges
        .iter()
        .flat_map(|r| r.start..=r.end.min(page.last_seq));
    for m in &page.messages {
        check_message(chat, m, page.last_seq, page.rev)?;
        match expected.next() {
            Some(s) if s == m.seq => {}
            Some(s) => {
                return Err(violation(format!(
                    "seqs answer has seq {} where {s} was expected (missing, extra, duplicate or out of order)",
                    m.seq
                )));
            }
            None => return Err(violation(format!("seqs answer has unasked seq {}", m.seq))),
        }
    }
    if let Some(s) = expected.next() {
        return Err(violation(format!(
            "seqs answer lacks seq {s} (at most {} exists)",
            page.last_seq
        )));
    }
    Ok(())
}

/// Validates a changes page: right chat, revs above `since_rev` and strictly increasing, seqs
/// inside `[min_seq, max_seq]` and unique, at most `limit` messages.
pub fn validate_changes(chat: ChatId, q: &ChangesQuery, resp: &ChangesResponse) -> Result<()> {
    match resp {
        ChangesResponse::TooOld { chat_id, .. } => {
            if *chat_id != chat {
                return Err(violation(format!(
                    "changes for chat {chat_id} instead of {chat}"
                )));
            }
            Ok(())
        }
        ChangesResponse::Changes {
            chat_id,
            last_seq,
            rev,
            messages,
            next_since_rev,
        } => {
            if *chat_id != chat {
                return Err(violation(format!(
                    "changes for chat {chat_id} instead of {chat}"
                )));
            }
            let limit = q.limit.unwrap_or(DEFAULT_PAGE_SIZE) as usize;
            if messages.len() > limit {
                return Err(violation(format!(
                    "changes page holds {} messages, more than the limit {limit}",
                    messages.len()
                )));
            }
            let mut seen = std::collections::HashSet::new();
            let mut prev_rev = q.since_rev;
            for m in messages {
                check_message(chat, m, *last_seq, *rev)?;
                if m.rev <= prev_rev {
                    return Err(violation(format!(
                        "changes not ordered by rev above {} (seq {} has rev {})",
                        q.since_rev, m.seq, m.rev
                    )));
                }
                prev_rev = m.rev;
                if q.min_seq.is_some_and(|min| m.seq < min)
                    || q.max_seq.is_some_and(|max| m.seq > max)
                {
                    return Err(violation(format!(
                        "change of seq {} outside the asked span",
                        m.seq
                    )));
                }
                if !seen.insert(m.seq) {
                    return Err(violation(format!(
                        "seq {} twice in one changes page",
                        m.seq
                    )));
                }
            }
            if let Some(n) = next_since_rev
                && *n < prev_rev
            {
                return Err(violation(format!("next_since_rev {n} goes backwards")));
            }
            Ok(())
        }
    }
}

/// Validates the answer to a send/edit/delete.
pub fn validate_message_response(
    chat: ChatId,
    message: Option<MessageId>,
    resp: &MessageResponse,
) -> Result<()> {
    if resp.chat_id != chat {
        return Err(violation(format!(
            "answer for chat {} instead of {chat}",
            resp.chat_id
        )));
    }
    if let Some(id) = message
        && resp.message.id != id
    {
        return Err(violation(format!(
            "answer for message {} instead of {id}",
            resp.message.id
        )));
    }
    check_message(chat, &resp.message, resp.last_seq, resp.rev)
}

/// Validates a stream `Message` event.
pub fn validate_stream_event(ev: &StreamEvent) -> Result<()> {
    if let StreamEvent::Message {
        chat_id,
        last_seq,
        rev,
        message,
    } = ev
    {
        check_message(*chat_id, message, *last_seq, *rev)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chat() -> ChatId {
        roost_model::fixtures::chat_id(7)
    }

    fn msg(seq: Seq) -> Message {
        roost_model::fixtures::message(chat(), seq)
    }

    fn page(seqs: &[Seq], last_seq: Seq) -> MessagesPage {
        MessagesPage {
            chat_id: chat(),
            last_seq,
            rev: last_seq,
            messages: seqs.iter().copied().map(msg).collect(),
            next_from_seq: None,
            next_before_seq: None,
        }
    }

    fn fwd(from: Seq, to: Seq, limit: u32) -> RangeQuery {
        RangeQuery {
            from_seq: Some(from),
            to_seq: Some(to),
            before_seq: None,
            limit: Some(limit),
        }
    }

    #[test]
    fn accepts_honest_pages() {
        validate_range_page(chat(), &fwd(3, 5, 10), &page(&[3, 4, 5], 9)).unwrap();
        let mut cut = page(&[3, 4], 9);
        cut.next_from_seq = Some(5);
        validate_range_page(chat(), &fwd(3, 9, 2), &cut).unwrap();
        let back = RangeQuery {
            before_seq: Some(8),
            limit: Some(3),
            ..Default::default()
        };
        validate_range_page(chat(), &back, &page(&[5, 6, 7], 9)).unwrap();
        let newest = RangeQuery {
            limit: Some(3),
            ..Default::default()
        };
        validate_range_page(chat(), &newest, &page(&[1, 2], 2)).unwrap();
    }

    #[test]
    fn rejects_hostile_pages() {
        let q = fwd(3, 5, 10);
        let kind = |p: &MessagesPage| validate_range_page(chat(), &q, p).unwrap_err().kind();
        // Outside the requested range.
        assert_eq!(kind(&page(&[3, 4, 5, 6], 9)), "protocol_violation");
        assert_eq!(kind(&page(&[2, 3, 4], 9)), "protocol_violation");
        // Duplicate seq.
        assert_eq!(kind(&page(&[3, 3, 4], 9)), "protocol_violation");
        // Wrong order.
        assert_eq!(kind(&page(&[3, 5, 4], 9)), "protocol_violation");
        // Missing seq in the middle.
        assert_eq!(kind(&page(&[3, 5], 9)), "protocol_violation");
        // Page larger than requested.
        let q2 = fwd(3, 5, 2);
        assert!(validate_range_page(chat(), &q2, &page(&[3, 4, 5], 9)).is_err());
        // Another chat's message.
        let mut p = page(&[3, 4, 5], 9);
        p.messages[1].chat_id = ChatId(uuid::Uuid::from_u128(8));
        assert_eq!(kind(&p), "protocol_violation");
        // Seq above last_seq.
        assert_eq!(kind(&page(&[3, 4, 5], 4)), "protocol_violation");
        // A tombstone with a body.
        let mut p = page(&[3, 4, 5], 9);
        p.messages[0].deleted_at = Some(1);
        assert_eq!(kind(&p), "protocol_violation");
    }

    #[test]
    fn validates_listed_pages() {
        let r = |a, b| SeqRange::new(a, b);
        let asked = [r(3, 4), r(7, 7), r(9, 12)];
        validate_listed_page(chat(), &asked, &page(&[3, 4, 7, 9, 10], 10)).unwrap();
        validate_listed_page(chat(), &asked, &page(&[3, 4, 7, 9, 10, 11, 12], 12)).unwrap();
        // Missing a listed seq, an unasked seq, a duplicate, wrong order, a continuation.
        assert!(validate_listed_page(chat(), &asked, &page(&[3, 7, 9, 10], 10)).is_err());
        assert!(validate_listed_page(chat(), &asked, &page(&[3, 4, 5, 7, 9, 10], 10)).is_err());
        assert!(validate_listed_page(chat(), &asked, &page(&[3, 4, 4, 7, 9, 10], 10)).is_err());
        assert!(validate_listed_page(chat(), &asked, &page(&[4, 3, 7, 9, 10], 10)).is_err());
        let mut p = page(&[3, 4, 7, 9, 10], 10);
        p.next_from_seq = Some(11);
        assert!(validate_listed_page(chat(), &asked, &p).is_err());
    }

    #[test]
    fn rejects_hostile_changes() {
        let q = ChangesQuery {
            since_rev: 2,
            min_seq: Some(1),
            max_seq: Some(5),
            limit: Some(10),
        };
        let resp = |seqs: &[Seq]| ChangesResponse::Changes {
            chat_id: chat(),
            last_seq: 9,
            rev: 9,
            messages: seqs.iter().copied().map(msg).collect(),
            next_since_rev: None,
        };
        validate_changes(chat(), &q, &resp(&[3, 4])).unwrap();
        assert!(validate_changes(chat(), &q, &resp(&[4, 3])).is_err()); // rev order
        assert!(validate_changes(chat(), &q, &resp(&[1, 3])).is_err()); // rev <= since
        assert!(validate_changes(chat(), &q, &resp(&[3, 6])).is_err()); // outside span
    }
}
