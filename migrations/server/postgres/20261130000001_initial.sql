-- Roost reference server schema, v1, for PostgreSQL (the same tables as the SQLite schema, so
-- one body of SQL serves both). The server is the source of truth: per-chat `seq` is gap-free
-- (1..=last_seq) and every mutation takes the chat's next `rev`. Rows in `messages` are never
-- hard-deleted (tombstones). Identifiers are TEXT with the "C" collation so ordering is
-- bytewise, exactly as on SQLite, whatever the cluster's locale.

CREATE TABLE users (
    id            TEXT COLLATE "C" PRIMARY KEY NOT NULL, -- handle, e.g. "alice"
    display_name  TEXT NOT NULL,
    token_sha256  TEXT COLLATE "C" NOT NULL UNIQUE,      -- hex SHA-256 of the bearer token; never the token
    created_at    BIGINT NOT NULL                        -- unix milliseconds
);

CREATE TABLE chats (
    id               TEXT COLLATE "C" PRIMARY KEY NOT NULL, -- UUID, hyphenated lowercase
    title            TEXT NOT NULL,
    last_seq         BIGINT NOT NULL DEFAULT 0,    -- highest seq allocated (0 = empty chat)
    rev              BIGINT NOT NULL DEFAULT 0,    -- highest rev allocated
    last_message_at  BIGINT,                       -- created_at of the message at last_seq
    created_at       BIGINT NOT NULL
);

CREATE TABLE chat_members (
    chat_id  TEXT COLLATE "C" NOT NULL REFERENCES chats(id),
    user_id  TEXT COLLATE "C" NOT NULL REFERENCES users(id),
    PRIMARY KEY (chat_id, user_id)
);

-- "Which chats is this user in" is asked on every request.
CREATE INDEX chat_members_by_user ON chat_members (user_id, chat_id);

CREATE TABLE messages (
    chat_id     TEXT COLLATE "C" NOT NULL REFERENCES chats(id),
    seq         BIGINT NOT NULL,
    id          TEXT COLLATE "C" NOT NULL UNIQUE, -- UUID
    version     BIGINT NOT NULL,                  -- 1 on create, +1 per edit and on delete
    author      TEXT COLLATE "C" NOT NULL REFERENCES users(id),
    created_at  BIGINT NOT NULL,
    edited_at   BIGINT,
    deleted_at  BIGINT,
    body        TEXT,                             -- JSON object; NULL on a tombstone
    rev         BIGINT NOT NULL,                  -- rev of the latest mutation
    PRIMARY KEY (chat_id, seq)
);

-- The changes endpoint scans one chat's journal by rev.
CREATE INDEX messages_by_chat_rev ON messages (chat_id, rev);

CREATE TABLE idempotency (
    user_id         TEXT COLLATE "C" NOT NULL,
    key             TEXT COLLATE "C" NOT NULL,
    chat_id         TEXT COLLATE "C" NOT NULL,
    message_id      TEXT COLLATE "C" NOT NULL,
    request_sha256  TEXT NOT NULL,                -- hash of (chat_id, canonical body)
    created_at      BIGINT NOT NULL,
    PRIMARY KEY (user_id, key)
);

-- Stream events too large for a NOTIFY payload (8000 bytes), announced by id instead (see
-- crates/roost-server/src/fanout.rs). Rows are short-lived: later announcements delete old ones.
CREATE TABLE stream_overflow (
    id          BIGSERIAL PRIMARY KEY,
    payload     TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);
CREATE INDEX stream_overflow_by_created_at ON stream_overflow (created_at);
