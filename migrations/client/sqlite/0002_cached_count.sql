-- How many messages of the chat are cached, kept by every ingest in the same transaction (and by
-- the runs repair), so reading a chat's record costs O(1) instead of a scan of its runs.
ALTER TABLE chats ADD COLUMN cached_count INTEGER NOT NULL DEFAULT 0;
UPDATE chats SET cached_count = (SELECT COUNT(*) FROM messages m WHERE m.chat_id = chats.chat_id);
