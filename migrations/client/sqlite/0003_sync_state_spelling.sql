-- The chats table's `sync_state` default says 'unknown' while the code writes and reads
-- 'UNKNOWN' (roost_model::SyncState::as_str). Rows holding the stray spelling get the right one.
-- The column default itself cannot change without rebuilding the table, and sqlx runs SQLite
-- migrations inside a transaction, where foreign keys (messages and cached_runs reference
-- chats) cannot be switched off for a rebuild; so every insert of a chat row names its state
-- explicitly (store::chats::ensure_chat) and the default is never used.
UPDATE chats SET sync_state = 'UNKNOWN' WHERE sync_state = 'unknown';
