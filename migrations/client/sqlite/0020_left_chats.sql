-- Chats the user is no longer a member of (issue 9): it left, was removed, or the server no longer
-- lists the chat. Such a chat stays on the device read-only with what was cached, is never
-- resynced, and can be removed from the device. NULL = a member (as far as the cache knows).
ALTER TABLE chats ADD COLUMN left_at INTEGER;
