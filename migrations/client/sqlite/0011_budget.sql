-- Storage budget (crates/roost-core/src/budget.rs): eviction picks the chats opened least
-- recently, so every open stamps the chat. A trigger keeps the stamp without touching the
-- store's open/close code.
ALTER TABLE chats ADD COLUMN last_opened_at INTEGER NOT NULL DEFAULT 0;

CREATE TRIGGER chats_stamp_open AFTER UPDATE OF is_open ON chats
WHEN new.is_open = 1
BEGIN
    UPDATE chats SET last_opened_at = CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)
    WHERE chat_id = new.chat_id;
END;
