-- Issue 9: an outbox row belongs to the account that queued it (the cache file is bound to one
-- account, see crates/roost-core/src/account.rs; this column keeps a row from ever being sent
-- by another). NULL: queued before the cache knew its owner.
ALTER TABLE outbox ADD COLUMN account_user TEXT;
