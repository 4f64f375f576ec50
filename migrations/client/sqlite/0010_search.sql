-- Offline search over cached message text (crates/roost-core/src/search.rs).
--
-- Two contentless FTS5 indexes (the text itself stays only in `messages`, so the index costs
-- no second copy of every body):
-- * message_words: unicode61 with remove_diacritics 2 — word and prefix queries, "cafe" finds
--   "Café";
-- * message_trigrams: trigram — substring queries for scripts written without spaces (Chinese,
--   Japanese, Thai…), where unicode61 would see a whole sentence as one token.
-- `messages` is WITHOUT ROWID and keyed by (chat_id TEXT, seq), so each indexed row gets the
-- integer rowid (search_chats.chat_no << 40) | seq: it decodes back to (chat, seq) and keeps one
-- chat's rows in one rowid range (a chat-scoped search is a rowid range scan).
--
-- The triggers keep both indexes in the SAME transaction as every write to `messages` (ingest,
-- merge, repair, eviction): an edit re-indexes, a tombstone or an evicted row is removed.
-- (No `INSERT OR IGNORE` inside them: the conflict policy of the statement that fires a trigger
-- overrides the trigger's own, and the cache's upserts would turn IGNORE into ABORT.)

CREATE TABLE search_chats (
    chat_no INTEGER PRIMARY KEY,
    chat_id TEXT NOT NULL UNIQUE
);

CREATE VIRTUAL TABLE message_words USING fts5(
    text, content = '', contentless_delete = 1,
    tokenize = 'unicode61 remove_diacritics 2'
);

CREATE VIRTUAL TABLE message_trigrams USING fts5(
    text, content = '', contentless_delete = 1,
    tokenize = 'trigram remove_diacritics 1'
);

CREATE TRIGGER messages_search_insert AFTER INSERT ON messages
WHEN new.deleted_at IS NULL AND json_valid(new.body) AND json_type(new.body, '$.text') = 'text'
BEGIN
    INSERT INTO search_chats(chat_id)
        SELECT new.chat_id WHERE NOT EXISTS (SELECT 1 FROM search_chats WHERE chat_id = new.chat_id);
    INSERT INTO message_words(rowid, text) VALUES (
        ((SELECT chat_no FROM search_chats WHERE chat_id = new.chat_id) << 40) | new.seq,
        json_extract(new.body, '$.text'));
    INSERT INTO message_trigrams(rowid, text) VALUES (
        ((SELECT chat_no FROM search_chats WHERE chat_id = new.chat_id) << 40) | new.seq,
        json_extract(new.body, '$.text'));
END;

-- A change of text or tombstone state: drop the old entry, index the new one (one trigger, so
-- the delete surely runs before the insert).
CREATE TRIGGER messages_search_update AFTER UPDATE OF body, deleted_at ON messages
BEGIN
    DELETE FROM message_words WHERE rowid =
        ((SELECT chat_no FROM search_chats WHERE chat_id = old.chat_id) << 40) | old.seq;
    DELETE FROM message_trigrams WHERE rowid =
        ((SELECT chat_no FROM search_chats WHERE chat_id = old.chat_id) << 40) | old.seq;
    INSERT INTO search_chats(chat_id)
        SELECT new.chat_id WHERE NOT EXISTS (SELECT 1 FROM search_chats WHERE chat_id = new.chat_id);
    INSERT INTO message_words(rowid, text)
        SELECT ((SELECT chat_no FROM search_chats WHERE chat_id = new.chat_id) << 40) | new.seq,
               json_extract(new.body, '$.text')
        WHERE new.deleted_at IS NULL AND json_valid(new.body)
          AND json_type(new.body, '$.text') = 'text';
    INSERT INTO message_trigrams(rowid, text)
        SELECT ((SELECT chat_no FROM search_chats WHERE chat_id = new.chat_id) << 40) | new.seq,
               json_extract(new.body, '$.text')
        WHERE new.deleted_at IS NULL AND json_valid(new.body)
          AND json_type(new.body, '$.text') = 'text';
END;

CREATE TRIGGER messages_search_delete AFTER DELETE ON messages
BEGIN
    DELETE FROM message_words WHERE rowid =
        ((SELECT chat_no FROM search_chats WHERE chat_id = old.chat_id) << 40) | old.seq;
    DELETE FROM message_trigrams WHERE rowid =
        ((SELECT chat_no FROM search_chats WHERE chat_id = old.chat_id) << 40) | old.seq;
END;

-- Index what an older cache already holds.
INSERT OR IGNORE INTO search_chats(chat_id) SELECT DISTINCT chat_id FROM messages;
INSERT INTO message_words(rowid, text)
    SELECT (s.chat_no << 40) | m.seq, json_extract(m.body, '$.text')
    FROM messages m JOIN search_chats s ON s.chat_id = m.chat_id
    WHERE m.deleted_at IS NULL AND json_valid(m.body) AND json_type(m.body, '$.text') = 'text';
INSERT INTO message_trigrams(rowid, text)
    SELECT (s.chat_no << 40) | m.seq, json_extract(m.body, '$.text')
    FROM messages m JOIN search_chats s ON s.chat_id = m.chat_id
    WHERE m.deleted_at IS NULL AND json_valid(m.body) AND json_type(m.body, '$.text') = 'text';
