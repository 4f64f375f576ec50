-- Issue 9: an outbox row belongs to the account that queued it (the cache file is bound to one
-- account, see crates/roost-core/src/account.rs; this column keeps a row from ever being sent
-- by another). NULL: queued before the cache knew its owner.
ALTER TABLE outbox ADD COLUMN account_user TEXT;

-- Issue 9: the last time a chat had to be fully reloaded (the server could not serve ranges, or
-- its cached copy was damaged) and why — kept after the reload succeeded (full_reload_reason is
-- cleared then), so the UI can say what happened and when.
ALTER TABLE chats ADD COLUMN last_full_reload_reason TEXT;
ALTER TABLE chats ADD COLUMN last_full_reload_at INTEGER;
