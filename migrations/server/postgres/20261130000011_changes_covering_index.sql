-- The changes query (crates/roost-server/src/store/reads.rs, CHANGES_SQL) walks one chat's
-- journal by rev, restricted to the seq span the client caches. With (chat_id, rev) alone each
-- journal entry was read from the table just to test its seq; (chat_id, rev, seq) answers the
-- whole scan from the index (covering), and only the messages returned are read from the
-- table, by primary key. It replaces the old index, whose columns are its prefix.

DROP INDEX messages_by_chat_rev;
CREATE INDEX messages_changes ON messages (chat_id, rev, seq);
