-- Issue 11: the search queue holds seq RANGES, and inserting a message no longer fires a
-- trigger. The per-row `AFTER INSERT` trigger of 0040 (a sub-program per row, a duplicate check
-- and two b-tree inserts with the chat's text id as key) cost more than the rest of a batched
-- ingest's row write: 5,000-message batches ran at ~85k msg/s against ~100k for bare SQLite with
-- that trigger alone and ~260k without it. Now the code that inserts messages queues the seqs it
-- inserts itself, one range per contiguous run (`store/search_queue.rs`): one queue row per
-- page of history or stream group instead of one per message. Edits, tombstones and deletes
-- (rare) keep their per-row triggers.
--
-- The rule (ARCHITECTURE.md, invariants): a seq that a range of `search_queue` covers is NOT in
-- the indexes, and an indexable message whose seq no range covers is in both indexes with its
-- current text. The ranges of one chat never overlap (every writer queues only what no range
-- covers yet), so "is seq s covered" is one index seek: the range starting at or below s.
-- A range may cover seqs with no message (a tombstone, a row deleted from its middle): the
-- indexer skips them.
--
-- Every path that inserts a message must queue its seq first: in debug builds (every test) each
-- connection of the store carries a TEMP trigger that aborts an insert of a live message no
-- range covers (`search_queue::GUARD_SQL`), so a write path that forgets fails its tests.

-- In arrival order (rowid): a drain can stop at the ranges queued before it started.
CREATE TABLE search_queue (
    chat_id TEXT NOT NULL,
    lo INTEGER NOT NULL,
    hi INTEGER NOT NULL,
    CHECK (hi >= lo)
);
CREATE INDEX search_queue_by_seq ON search_queue(chat_id, lo, hi);

-- What 0040 left queued stays queued: its rows (each one seq) as ranges, consecutive seqs of a
-- chat as one range, in the order they arrived.
INSERT INTO search_queue(chat_id, lo, hi)
SELECT chat_id, MIN(seq), MAX(seq) FROM (
    SELECT rowid AS arrival, chat_id, seq,
           seq - ROW_NUMBER() OVER (PARTITION BY chat_id ORDER BY seq) AS island
    FROM search_pending
)
GROUP BY chat_id, island
ORDER BY MIN(arrival);

DROP TRIGGER messages_search_queue_insert;
DROP TRIGGER messages_search_queue_update;
DROP TRIGGER messages_search_queue_delete;
DROP TABLE search_pending;

-- A change of text or tombstone state of a seq no range covers: the old entry goes now, the
-- new text is queued. A covered seq has no entry to drop, and the indexer will read its text
-- as it is then. (A version bump that changes neither column costs nothing.)
CREATE TRIGGER messages_search_queue_update AFTER UPDATE OF body, deleted_at ON messages
WHEN (old.body IS NOT new.body OR old.deleted_at IS NOT new.deleted_at)
    AND COALESCE((SELECT hi FROM search_queue WHERE chat_id = old.chat_id AND lo <= old.seq
                  ORDER BY lo DESC LIMIT 1) >= old.seq, 0) = 0
BEGIN
    DELETE FROM message_words WHERE rowid =
        ((SELECT chat_no FROM search_chats WHERE chat_id = old.chat_id) << 40) | old.seq;
    DELETE FROM message_trigrams WHERE rowid =
        ((SELECT chat_no FROM search_chats WHERE chat_id = old.chat_id) << 40) | old.seq;
    INSERT INTO search_queue(chat_id, lo, hi)
        SELECT new.chat_id, new.seq, new.seq WHERE new.deleted_at IS NULL;
END;

-- A deleted row (eviction, quarantine) drops its entry, unless a range covers it (no entry).
CREATE TRIGGER messages_search_queue_delete AFTER DELETE ON messages
WHEN COALESCE((SELECT hi FROM search_queue WHERE chat_id = old.chat_id AND lo <= old.seq
               ORDER BY lo DESC LIMIT 1) >= old.seq, 0) = 0
BEGIN
    DELETE FROM message_words WHERE rowid =
        ((SELECT chat_no FROM search_chats WHERE chat_id = old.chat_id) << 40) | old.seq;
    DELETE FROM message_trigrams WHERE rowid =
        ((SELECT chat_no FROM search_chats WHERE chat_id = old.chat_id) << 40) | old.seq;
END;

-- A deleted row a range covers leaves the range when it is at one of its ends (eviction deletes
-- a chat's oldest seqs in order, so an evicted stretch leaves the queue with it, and the indexer
-- never walks seqs that are gone); one in the middle stays covered, and the indexer finds no
-- message there. Each statement is one index seek (ranges never overlap).
CREATE TRIGGER messages_search_queue_delete_queued AFTER DELETE ON messages
WHEN COALESCE((SELECT hi FROM search_queue WHERE chat_id = old.chat_id AND lo <= old.seq
               ORDER BY lo DESC LIMIT 1) >= old.seq, 0) = 1
BEGIN
    DELETE FROM search_queue WHERE chat_id = old.chat_id AND lo = old.seq AND hi = old.seq;
    UPDATE search_queue SET lo = old.seq + 1
        WHERE chat_id = old.chat_id AND lo = old.seq AND hi > old.seq;
    UPDATE search_queue SET hi = old.seq - 1
        WHERE rowid = (SELECT rowid FROM search_queue WHERE chat_id = old.chat_id
                       AND lo <= old.seq ORDER BY lo DESC LIMIT 1)
          AND hi = old.seq AND lo < old.seq;
END;
