-- Issue 12: evicted history comes back with a Resync. A chat remembers how far back its history
-- was ever cached (history_floor: the lowest seq ever cached here; NULL: nothing yet). Eviction
-- and "Clear cached history" delete a prefix of the cached seqs but leave the floor, so the seqs
-- between the floor and the oldest cached message are evicted history (a manual Resync fetches
-- them), and those below the floor are older history never cached here (loaded by scrolling).
-- See crates/roost-model/src/ranges.rs (evicted_range, sync_plan_with_floor).
ALTER TABLE chats ADD COLUMN history_floor INTEGER;

-- Caches from before this column: the oldest cached seq (history evicted earlier is not known).
UPDATE chats SET history_floor =
    (SELECT MIN(start_seq) FROM cached_runs WHERE cached_runs.chat_id = chats.chat_id);

-- Every write of the runs index that caches a seq below the floor lowers it, in the writer's
-- own transaction (ingest, a page of older history, a full reload, a salvage or a rebuild of
-- the index alike); nothing ever raises it, so evictions, which only delete runs or raise their
-- start, leave it where it was.
CREATE TRIGGER cached_runs_lower_floor_on_insert AFTER INSERT ON cached_runs
WHEN new.start_seq < COALESCE(
    (SELECT history_floor FROM chats WHERE chat_id = new.chat_id), 9223372036854775807)
BEGIN
    UPDATE chats SET history_floor = new.start_seq WHERE chat_id = new.chat_id;
END;

CREATE TRIGGER cached_runs_lower_floor_on_update AFTER UPDATE OF start_seq ON cached_runs
WHEN new.start_seq < COALESCE(
    (SELECT history_floor FROM chats WHERE chat_id = new.chat_id), 9223372036854775807)
BEGIN
    UPDATE chats SET history_floor = new.start_seq WHERE chat_id = new.chat_id;
END;
