-- Roost client message cache (message_cache.db), schema v1.
-- Owned by crates/roost-core/src/store.rs. Every message write happens in ONE transaction that
-- also rewrites the chat's rows in cached_runs, so the runs index never disagrees with messages.

CREATE TABLE meta (
    key   TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE chats (
    chat_id              TEXT PRIMARY KEY NOT NULL,
    title                TEXT NOT NULL DEFAULT '',
    members              TEXT NOT NULL DEFAULT '[]',   -- JSON array of user ids
    server_last_seq      INTEGER NOT NULL DEFAULT 0,   -- highest last_seq the server ever told us
    server_rev           INTEGER NOT NULL DEFAULT 0,   -- highest rev the server ever told us
    changes_cursor       INTEGER NOT NULL DEFAULT 0,   -- every cached message is current up to this rev
    unread_count         INTEGER NOT NULL DEFAULT 0,
    last_message_seq     INTEGER,
    last_message_preview TEXT,
    last_message_at      INTEGER,
    sync_state           TEXT NOT NULL DEFAULT 'unknown',
    needs_resync         INTEGER NOT NULL DEFAULT 0,   -- a resync is due / was interrupted
    full_reload_reason   TEXT,                         -- set when the cache of this chat was lost
    is_open              INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;

CREATE TABLE messages (
    chat_id    TEXT NOT NULL REFERENCES chats(chat_id),
    seq        INTEGER NOT NULL,
    id         TEXT NOT NULL,
    version    INTEGER NOT NULL,
    author     TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    edited_at  INTEGER,
    deleted_at INTEGER,
    body       TEXT NOT NULL,                          -- JSON ('null' for a tombstone)
    rev        INTEGER NOT NULL,
    PRIMARY KEY (chat_id, seq)
) WITHOUT ROWID;

CREATE TABLE cached_runs (
    chat_id   TEXT NOT NULL REFERENCES chats(chat_id),
    start_seq INTEGER NOT NULL,
    end_seq   INTEGER NOT NULL,
    PRIMARY KEY (chat_id, start_seq),
    CHECK (start_seq >= 1 AND end_seq >= start_seq)
) WITHOUT ROWID;

CREATE TABLE outbox (
    local_id        TEXT PRIMARY KEY NOT NULL,
    chat_id         TEXT NOT NULL,
    idempotency_key TEXT NOT NULL UNIQUE,
    body            TEXT NOT NULL,                     -- JSON body to send
    state           TEXT NOT NULL CHECK (state IN ('pending', 'sending', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT,
    created_at      INTEGER NOT NULL
);
CREATE INDEX outbox_by_state ON outbox(state, created_at);
