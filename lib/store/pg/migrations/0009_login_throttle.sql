-- 0009_login_throttle (PostgreSQL): mirrors lib/store/sqlite/migrations/0009_login_throttle.sql
-- (same conversions as 0001_core). Failed sign-ins per normalised e-mail address:
-- the count since the row was last idle for an hour, the last failure, and the
-- lock that grows with each failure past the free ones.

CREATE TABLE login_failures (
    email_norm    text COLLATE "C" PRIMARY KEY,
    failures      bigint NOT NULL,
    last_at       bigint NOT NULL,
    locked_until  bigint NOT NULL
);
CREATE INDEX login_failures_last_at ON login_failures(last_at);
