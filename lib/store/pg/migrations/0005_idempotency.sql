-- 0005_idempotency (PostgreSQL): mirrors lib/store/sqlite/migrations/0005_idempotency.sql
-- (same conversions as 0001_core; BLOB -> bytea). The Idempotency-Key records of
-- the hosts: one row per (scope, key) with the hash of the first request, NULL
-- status while it runs, then its status and stored answer until expires_at.

CREATE TABLE idempotency_keys (
    scope         text COLLATE "C" NOT NULL,
    key           text COLLATE "C" NOT NULL,
    request_hash  text COLLATE "C" NOT NULL,
    status        bigint,
    response      bytea,
    created_at    bigint NOT NULL,
    expires_at    bigint NOT NULL,
    PRIMARY KEY (scope, key)
);
CREATE INDEX idempotency_keys_expires ON idempotency_keys(expires_at);
