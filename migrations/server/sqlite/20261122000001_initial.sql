-- Roost reference server schema, v1.
-- The server is the source of truth: per-chat `seq` is gap-free (1..=last_seq) and every
-- mutation takes the chat's next `rev`. Rows in `messages` are never hard-deleted (tombstones).

CREATE TABLE users (
    id            TEXT PRIMARY KEY NOT NULL,         -- handle, e.g. "alice"
    display_name  TEXT NOT NULL,
    token_sha256  TEXT NOT NULL UNIQUE,              -- hex SHA-256 of the bearer token; never the token
    created_at    INTEGER NOT NULL                   -- unix milliseconds
);

CREATE TABLE chats (
    id               TEXT PRIMARY KEY NOT NULL,      -- UUID, hyphenated lowercase
    title            TEXT NOT NULL,
    last_seq         INTEGER NOT NULL DEFAULT 0,     -- highest seq allocated (0 = empty chat)
    rev              INTEGER NOT NULL DEFAULT 0,     -- highest rev allocated
    last_message_at  INTEGER,                        -- created_at of the message at last_seq
    created_at       INTEGER NOT NULL
);

CREATE TABLE chat_members (
    chat_id  TEXT NOT NULL REFERENCES chats(id),
    user_id  TEXT NOT NULL REFERENCES users(id),
    PRIMARY KEY (chat_id, user_id)
) WITHOUT ROWID;

-- "Which chats is this user in" is asked on every request.
CREATE INDEX chat_members_by_user ON chat_members (user_id, chat_id);

CREATE TABLE messages (
    chat_id     TEXT NOT NULL REFERENCES chats(id),
    seq         INTEGER NOT NULL,
    id          TEXT NOT NULL UNIQUE,                -- UUID
    version     INTEGER NOT NULL,                    -- 1 on create, +1 per edit and on delete
    author      TEXT NOT NULL REFERENCES users(id),
    created_at  INTEGER NOT NULL,
    edited_at   INTEGER,
    deleted_at  INTEGER,
    body        TEXT,                                -- JSON object; NULL on a tombstone
    rev         INTEGER NOT NULL,                    -- rev of the latest mutation
    PRIMARY KEY (chat_id, seq)
);

-- The changes endpoint scans one chat's journal by rev.
CREATE INDEX messages_by_chat_rev ON messages (chat_id, rev);

CREATE TABLE idempotency (
    user_id         TEXT NOT NULL,
    key             TEXT NOT NULL,
    chat_id         TEXT NOT NULL,
    message_id      TEXT NOT NULL,
    request_sha256  TEXT NOT NULL,                   -- hash of (chat_id, canonical body)
    created_at      INTEGER NOT NULL,
    PRIMARY KEY (user_id, key)
) WITHOUT ROWID;

-- Tokens of the demo users, kept so that `roost-server demo` can be re-run and print the same
-- tokens (the demo is a local toy; real users only ever have their token's hash stored).
CREATE TABLE demo_tokens (
    user_id  TEXT PRIMARY KEY NOT NULL REFERENCES users(id),
    token    TEXT NOT NULL
);

-- Chats created by the demo, in creation order, so a re-run can list them.
CREATE TABLE demo_chats (
    position  INTEGER PRIMARY KEY NOT NULL,
    chat_id   TEXT NOT NULL REFERENCES chats(id)
);
