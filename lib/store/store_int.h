/*
 * store_int.h - what the rest of the library uses of the store: the pool,
 * transactions and statements named by catalogue id. Domain code holds no
 * SQL text; it asks for "member.insert" and binds by number.
 */
#ifndef CM_STORE_INT_H
#define CM_STORE_INT_H

#include "backend.h"

#include "../util/json.h"

#include <pthread.h>

struct cm_store {
    const cm__store_ops *ops;
    void *state;
    char *uri_redacted;
    /* catalogue index: sorted entries; conn caches are indexed the same way */
    const cm__sql_entry **sql;
    size_t n_sql;
    size_t n_migrations;
    /* pool */
    pthread_mutex_t lock;
    pthread_cond_t cond;
    cm__conn *free_list;
    uint32_t pool_size;
    uint32_t open_conns;
    uint32_t in_use;
    uint32_t waiting;
    uint32_t busy_timeout_ms;
    uint64_t cache_hits, cache_misses; /* atomics */
    /* Tables each catalogue statement reads and writes (stmt_tables bits),
     * learnt at its first prepare; known[i] says whether they are. */
    uint64_t *q_read, *q_write;
    uint8_t *q_known;
    /* Commits of this store that wrote: write_seq numbers them, table_seq[b]
     * is the number of the last one that wrote table b (atomics). */
    uint64_t write_seq;
    /* cm_now_us() of the last commit that wrote (a write transaction that
     * changed a table, or the write probe); 0: none since the last write
     * refused with CM_EUNAVAILABLE. Read by cm_store_ping_write. */
    int64_t write_proved_us;
    uint64_t table_seq[64];
    /* result cache of read-only operations (lib/core/rcache.c), or NULL */
    struct cm__rcache *rcache;
    bool no_rcache; /* CM_STORE_NO_RESULT_CACHE: no lookups, no entries */
    /* the cache's version shared through Redis (shared.c), or NULL */
    struct cm__shared *shared;
    /* embeddings state (lib/ai/embed_state.c): created on first use, freed at
     * close through embed_free */
    struct cm__embed_state *embed;
    void (*embed_free)(struct cm__embed_state *embed);
    /* payment provider settings (lib/core/pay_config.c): created on first
     * use, freed at close through pay_free */
    struct cm__pay_state *pay;
    void (*pay_free)(struct cm__pay_state *pay);
    /* upload storage (lib/core/uploads.c): set by cm_store_set_uploads or
     * made on first use, freed at close through uploads_free */
    struct cm__uploads *uploads;
    void (*uploads_free)(struct cm__uploads *uploads);
    pthread_mutex_t uploads_lock;
    /* the assistant's chat provider (lib/core/assistant_config.c): made on
     * first use, freed at close through assistant_free */
    struct cm__assistant_state *assistant;
    void (*assistant_free)(struct cm__assistant_state *a);
};

/* A statement handle as domain code sees it. The first failed bind is
 * sticky: later binds do nothing and cm__q_step returns that error without
 * running the statement, so a caller that ignores a bind's result can never
 * run it with a parameter missing (NULL). */
typedef struct cm__q {
    cm__conn *conn;
    cm__stmt *st;
    const char *id;
    int bind_err;    /* the first bind failure, or CM_OK */
    int bind_idx;    /* its parameter number */
    const char *sql; /* the catalogue text (static), for its trace span */
    bool stepped;    /* stepped since open/close: its trace span is begun */
} cm__q;

/* The backend registered for the URI's scheme, or NULL. A string with no
 * scheme (RFC 3986: a letter, then letters, digits, "+", "-" or ".", then
 * ":") is a file path and names an SQLite database. */
const cm__store_ops *cm__store_ops_for_uri(const char *uri);
/* The SQLite file of a sqlite: URI or plain path ("sqlite:///abs" -> "/abs",
 * "sqlite://rel" -> "rel", "sqlite:x" -> "x", "path" -> "path"), or
 * ":memory:". Borrowed from uri. */
const char *cm__sqlite_uri_path(const char *uri);

/* ---- pool ---- */
/* Borrow a connection (blocks while all are in use). */
int cm__store_acquire(cm__conn **out, cm_store *store);
/* Give it back; a connection left inside a transaction is rolled back. */
void cm__store_release(cm__conn *conn);

/* ---- transactions ---- */
/* write=true takes the write lock at BEGIN (SQLite BEGIN IMMEDIATE) so that
 * read-then-write transactions never deadlock on lock upgrade. */
int cm__tx_begin(cm__conn *conn, bool write);
int cm__tx_commit(cm__conn *conn);
void cm__tx_rollback(cm__conn *conn);

/* Run fn(conn, payload) in one transaction on a pooled connection, retrying
 * up to a few times when it fails with CM_EBUSY or CM_ECONFLICT
 * (serialization failures). Commits on CM_OK, rolls back otherwise. */
typedef int (*cm__tx_fn)(cm__conn *conn, void *payload);
int cm__store_run_tx(cm_store *store, bool write, cm__tx_fn fn, void *payload);

/* ---- Idempotency-Key records (idem.c) ---- */
/* Complete the claim of (scope, key, request_hash) with an answer inside
 * the caller's transaction: CM_OK, CM_ELEASE when that claim is no longer
 * there (lapsed and answered or taken again), or the error. */
int cm__idem_complete_in(cm__conn *conn, const char *scope, const char *key,
                         const char *request_hash, int32_t status, const void *response, size_t len,
                         int64_t expires_at);
/* The argument checks of cm_idem_*: CM_OK or CM_EINVAL (detail set). */
int cm__idem_check(cm_store *store, const char *scope, const char *key, const char *request_hash);

/* ---- statements ---- */
/* Fetch the prepared statement for catalogue id (prepared once per
 * connection) ready for binding. CM_ENOTSUP when the dialect lacks it. */
int cm__q_open(cm__q *q, cm__conn *conn, const char *id);
/* Reset after use (always call it, also after errors). */
void cm__q_close(cm__q *q);
/* The binds return CM_OK or the error (detail set), and a failure sticks
 * (see cm__q): checking each result is optional, cm__q_step reports it. */
int cm__q_int64(cm__q *q, int idx, int64_t v);
int cm__q_double(cm__q *q, int idx, double v);
/* s may be NULL (binds NULL). */
int cm__q_text(cm__q *q, int idx, const char *s);
int cm__q_textn(cm__q *q, int idx, const char *s, size_t len);
int cm__q_blob(cm__q *q, int idx, const void *p, size_t len);
int cm__q_null(cm__q *q, int idx);
/* 1 row, 0 done, < 0 error; the first bind error when a bind failed (the
 * statement did not run). */
int cm__q_step(cm__q *q);
#ifdef __clang_analyzer__
/* For the Clang Static Analyzer (lint-clang-tidy), which cannot see into
 * store.c: a step returns 1 (row), 0 (done) or a negative code, nothing
 * else. */
static inline int cm__q_step_result(int rc)
{
    if (rc > 1)
        __builtin_unreachable();
    return rc;
}
#define cm__q_step(q) cm__q_step_result((cm__q_step)(q))
#endif
bool cm__q_is_null(cm__q *q, int col);
int64_t cm__q_col_int64(cm__q *q, int col);
double cm__q_col_double(cm__q *q, int col);
/* Borrowed until the next step/close; "" for NULL. */
const char *cm__q_col_text(cm__q *q, int col);
const void *cm__q_col_blob(cm__q *q, int col, size_t *len);
int64_t cm__q_changes(cm__q *q);

/* Convenience: open id, run to completion (ignoring rows), close.
 * Returns rows changed (>= 0) or a negative code. Bind with cm__q_* after
 * cm__q_open when parameters are needed; this form takes none. */
int64_t cm__q_exec0(cm__conn *conn, const char *id);

/* Map a step/bind result: rc < 0 -> rc; otherwise CM_OK. */
static inline int cm__ok(int rc)
{
    return rc < 0 ? rc : CM_OK;
}

/* ---- helpers for the layers above (rows.c) ---- */
/* Copy column col of q's current row into obj[key] (JSON null for NULL):
 * as a string, an integer, or an RFC 3339 time from microseconds. */
void cm__json_set_col_text(json_t *obj, const char *key, cm__q *q, int col);
void cm__json_set_col_int(json_t *obj, const char *key, cm__q *q, int col);
void cm__json_set_col_time(json_t *obj, const char *key, cm__q *q, int col);
/* Add delta to the counter `name` of metric_counters, in conn's open write
 * transaction. */
int cm__metric_add(cm__conn *conn, const char *name, int64_t delta);

/* ---- change detection ---- */
/* A number that changes whenever any connection (this process or another)
 * commits a change. CM_ENOTSUP when the backend cannot tell. */
int cm__store_data_version(cm_store *store, uint64_t *out);
/* Table-scoped coherence for cached reads. Before a cacheable read,
 * cm__store_reads_begin() clears this thread's set of tables read and
 * returns the store's write number; afterwards cm__store_reads_end()
 * returns the tables the read's statements touched. A result stays valid
 * while no commit of this store numbered after that wrote one of them
 * (cm__store_tables_unchanged) and the data_version epoch is unchanged
 * (commits by anyone else). */
uint64_t cm__store_reads_begin(cm_store *store);
uint64_t cm__store_reads_end(void);
bool cm__store_tables_unchanged(cm_store *store, uint64_t tables, uint64_t since);
/* The versions a cached result is valid for, taken before the read's
 * transaction: [0] the data_version epoch (0 when the backend has none),
 * [1] the version shared through Redis (0 when not shared). CM_OK, or an
 * error when nothing may be cached now: neither is available, or sharing
 * is on and Redis did not answer. */
int cm__store_cache_version(cm_store *store, uint64_t out[2]);
/* Result cache (rcache.c): a hit copies the value into *out (cm_free).
 * version: from cm__store_cache_version; tables and since as above. */
bool cm__rcache_get(cm_store *s, const char *key, size_t key_len, const uint64_t version[2],
                    int64_t now, char **out);
void cm__rcache_put(cm_store *s, const char *key, size_t key_len, const uint64_t version[2],
                    int64_t now, const char *value, uint64_t tables, uint64_t since);
/* Free the result cache (called by cm_store_close). */
void cm__rcache_free(struct cm__rcache *c);
/* The shared version (shared.c): fetch it (CM_OK or CM_EBACKEND), move it
 * on after a commit that wrote, count failures, free. */
int cm__shared_version(struct cm__shared *r, uint64_t *out);
void cm__shared_written(struct cm__shared *r);
uint64_t cm__shared_errors(const struct cm__shared *r);
void cm__shared_free(struct cm__shared *r);

/* ---- migrations (migrate.c) ---- */
int cm__migrate(cm_store *store, bool apply, int32_t *applied_out);
/* SHA-256 hex of a migration's SQL (65 bytes with NUL). */
void cm__migration_checksum(char out[65], const char *sql);

#endif /* CM_STORE_INT_H */
