/*
 * sql_idem.c - SQLite statements of the Idempotency-Key records
 * (lib/store/idem.c, table idempotency_keys). Plain SQL: the PostgreSQL
 * dialect is the same text.
 */
#include "../backend.h"

const cm__sql_entry cm__sqlite_sql_idem[] = {
    /* ?1 scope, ?2 key, ?3 request_hash, ?4 now, ?5 lease end */
    {"idem.insert", "INSERT INTO idempotency_keys (scope, key, request_hash, status, response, "
                    "created_at, expires_at) VALUES (?1, ?2, ?3, NULL, NULL, ?4, ?5) "
                    "ON CONFLICT (scope, key) DO NOTHING"},
    {"idem.get", "SELECT request_hash, status, response, expires_at FROM idempotency_keys "
                 "WHERE scope = ?1 AND key = ?2"},
    /* an expired record is claimed again: same parameters as idem.insert */
    {"idem.retake", "UPDATE idempotency_keys SET request_hash = ?3, status = NULL, "
                    "response = NULL, created_at = ?4, expires_at = ?5 "
                    "WHERE scope = ?1 AND key = ?2 AND expires_at <= ?4"},
    /* ?4 status, ?5 response, ?6 expires_at */
    {"idem.complete", "UPDATE idempotency_keys SET status = ?4, response = ?5, expires_at = ?6 "
                      "WHERE scope = ?1 AND key = ?2 AND request_hash = ?3 AND status IS NULL"},
    {"idem.release", "DELETE FROM idempotency_keys WHERE scope = ?1 AND key = ?2 "
                     "AND request_hash = ?3 AND status IS NULL"},
    /* ?1 now, ?2 at most this many rows */
    {"idem.prune", "DELETE FROM idempotency_keys WHERE (scope, key) IN (SELECT scope, key "
                   "FROM idempotency_keys WHERE expires_at <= ?1 ORDER BY expires_at LIMIT ?2)"},
    {NULL, NULL},
};
