-- Token revocations and rotations (issue 10): every `roost-server revoke-token` /
-- `rotate-token` replaces the user's token hash in `users` and appends a row here, in the
-- same transaction. Each serving instance polls this journal (by seq) and closes the streams
-- of the users whose token changed; requests with the old token are refused at once by the
-- hash lookup itself.

CREATE TABLE token_changes (
    seq      INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id  TEXT NOT NULL REFERENCES users(id),
    change   TEXT NOT NULL CHECK (change IN ('revoked', 'rotated')),
    at       INTEGER NOT NULL                       -- unix milliseconds
);
