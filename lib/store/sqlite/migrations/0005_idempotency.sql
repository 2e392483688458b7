-- 0005_idempotency: the Idempotency-Key records of the hosts (lib/store/idem.c,
-- include/community/idem.h). Times are INTEGER microseconds.
--
-- One row per (scope, key): scope names the caller as the host sees it (a
-- member, or an anonymous client address), key is the client's key.
-- request_hash identifies the request the key was first used for (the host
-- hashes method, path and body). status is NULL while that request is still
-- running (a claim) and the final status once it is answered; response is
-- then the stored answer, opaque to the library. expires_at: when a claim
-- lapses (its host died before answering) or a stored answer is forgotten.

CREATE TABLE idempotency_keys (
    scope         TEXT NOT NULL,
    key           TEXT NOT NULL,
    request_hash  TEXT NOT NULL,
    status        INTEGER,
    response      BLOB,
    created_at    INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL,
    PRIMARY KEY (scope, key)
);
-- Pruning the expired rows.
CREATE INDEX idempotency_keys_expires ON idempotency_keys(expires_at);
