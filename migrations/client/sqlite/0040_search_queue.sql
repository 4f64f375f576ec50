-- Issue 11: the search index is kept BEHIND the message store (as Matrix's SDK and other
-- clients do), not inside every write. FTS5's upkeep (tokenizing, and flushing a new segment per
-- index per transaction) was most of a live stream commit's cost; now a write only queues the
-- (chat, seq) whose text must be indexed, and the indexer (crates/roost-core/src/store/
-- search_index.rs) drains the queue in small transactions of its own. The queue lives in the
-- file, so a crash loses nothing: the next start drains what is left.
--
-- Exactness: `search` drains the queue before it queries, so a cached message is never missing
-- from results. Stale entries never wait: an edit, a tombstone or a deleted row (eviction,
-- quarantine) drops its index entry in the writer's own transaction (cheap with
-- contentless_delete), exactly as before.
--
-- The indexer puts into message_trigrams only texts holding a character of a script written
-- without spaces (the only ones a trigram query can match; see UNSPACED_SCRIPTS in
-- search_index.rs): a trigram per character was most of the upkeep of text in spaced scripts.
--
-- The rule the triggers keep: a row in `search_pending` is NOT in the indexes (a queued row was
-- either never indexed, or its entry was dropped by the same statement that queued it), and an
-- indexable message not in `search_pending` is in both indexes with its current text.
--
-- (No `INSERT OR IGNORE` inside triggers: the conflict policy of the statement that fires a
-- trigger overrides the trigger's own; `WHERE NOT EXISTS` instead.)

-- In arrival order (rowid): a drain can stop at the rows queued before it started.
CREATE TABLE search_pending (
    chat_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    UNIQUE (chat_id, seq)
);

DROP TRIGGER messages_search_insert;
DROP TRIGGER messages_search_update;
DROP TRIGGER messages_search_delete;

-- Any live row is queued; whether its body has text to index is the indexer's question (a
-- JSON parse less per write). The duplicate check is the WHEN, not an `INSERT … SELECT … WHERE
-- NOT EXISTS`: an INSERT whose SELECT reads its own target table is materialized through a
-- temporary b-tree, opened and freed for every row.
CREATE TRIGGER messages_search_queue_insert AFTER INSERT ON messages
WHEN new.deleted_at IS NULL AND NOT EXISTS
    (SELECT 1 FROM search_pending WHERE chat_id = new.chat_id AND seq = new.seq)
BEGIN
    INSERT INTO search_pending(chat_id, seq) VALUES (new.chat_id, new.seq);
END;

-- A change of text or tombstone state: the old entry goes now, the new text is queued. A row
-- still queued has no entry to drop. (A version bump that changes neither column costs nothing.)
CREATE TRIGGER messages_search_queue_update AFTER UPDATE OF body, deleted_at ON messages
WHEN old.body IS NOT new.body OR old.deleted_at IS NOT new.deleted_at
BEGIN
    DELETE FROM message_words WHERE rowid =
        ((SELECT chat_no FROM search_chats WHERE chat_id = old.chat_id) << 40) | old.seq
        AND NOT EXISTS (SELECT 1 FROM search_pending WHERE chat_id = old.chat_id AND seq = old.seq);
    DELETE FROM message_trigrams WHERE rowid =
        ((SELECT chat_no FROM search_chats WHERE chat_id = old.chat_id) << 40) | old.seq
        AND NOT EXISTS (SELECT 1 FROM search_pending WHERE chat_id = old.chat_id AND seq = old.seq);
    DELETE FROM search_pending WHERE chat_id = old.chat_id AND seq = old.seq;
    INSERT INTO search_pending(chat_id, seq)
        SELECT new.chat_id, new.seq WHERE new.deleted_at IS NULL;
END;

CREATE TRIGGER messages_search_queue_delete AFTER DELETE ON messages
BEGIN
    DELETE FROM message_words WHERE rowid =
        ((SELECT chat_no FROM search_chats WHERE chat_id = old.chat_id) << 40) | old.seq
        AND NOT EXISTS (SELECT 1 FROM search_pending WHERE chat_id = old.chat_id AND seq = old.seq);
    DELETE FROM message_trigrams WHERE rowid =
        ((SELECT chat_no FROM search_chats WHERE chat_id = old.chat_id) << 40) | old.seq
        AND NOT EXISTS (SELECT 1 FROM search_pending WHERE chat_id = old.chat_id AND seq = old.seq);
    DELETE FROM search_pending WHERE chat_id = old.chat_id AND seq = old.seq;
END;

-- An existing cache's index is complete (the old triggers kept it in every write): the queue
-- starts empty.
