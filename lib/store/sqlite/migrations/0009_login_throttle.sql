-- 0009_login_throttle: failed sign-ins per account (lib/core/ops_auth.c).
-- Times are INTEGER microseconds.
--
-- One row per normalised e-mail address that failed to sign in, known or
-- not (a row for an unknown address reveals nothing to the caller).
-- failures counts the failures since the row was last idle for an hour;
-- past a few of them each further failure locks the address until
-- locked_until, for twice as long as the last time. A successful sign-in
-- deletes the row. Every host of one database sees the same counts.

CREATE TABLE login_failures (
    email_norm    TEXT PRIMARY KEY,
    failures      INTEGER NOT NULL,
    last_at       INTEGER NOT NULL,
    locked_until  INTEGER NOT NULL
);
-- Pruning the idle rows.
CREATE INDEX login_failures_last_at ON login_failures(last_at);
