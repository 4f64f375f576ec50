-- Membership changes (issue 9): who created a chat (the only member who may remove others; NULL
-- for chats created before this migration), and a journal of every membership change. A change
-- takes the chat's next rev like a message mutation, so a client comparing the chat list's `rev`
-- with its cursor learns that something happened; every user added or removed by one request
-- gets one row at that rev.

ALTER TABLE chats ADD COLUMN created_by TEXT REFERENCES users(id);

CREATE TABLE membership_changes (
    chat_id  TEXT NOT NULL REFERENCES chats(id),
    rev      INTEGER NOT NULL,                       -- the chat's rev taken by the change
    user_id  TEXT NOT NULL REFERENCES users(id),     -- who was added or removed
    change   TEXT NOT NULL CHECK (change IN ('added', 'removed')),
    by_user  TEXT NOT NULL REFERENCES users(id),     -- who did it (user_id itself when leaving)
    at       INTEGER NOT NULL,                       -- unix milliseconds
    PRIMARY KEY (chat_id, rev, user_id)
) WITHOUT ROWID;
