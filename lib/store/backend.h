/*
 * backend.h - the internal storage backend vtable (the SQLite VFS pattern).
 *
 * A backend is a const struct cm__store_ops registered by URI scheme. The
 * core allocates each connection at ops->conn_size bytes; the backend's
 * connection struct embeds cm__conn as its first member. Domain code never
 * calls a backend directly: it goes through the cm__* wrappers in store.h
 * (lib/store/store_int.h) and names SQL by catalogue id only.
 */
#ifndef CM_STORE_BACKEND_H
#define CM_STORE_BACKEND_H

#include "../util/util.h"

typedef struct cm__conn cm__conn;
typedef struct cm__stmt cm__stmt; /* backend-defined */
struct cm__q;

/* What the optional claim_jobs hook is asked for (lib/jobs/claim.c). */
typedef struct cm__claim_req {
    const char *queue;        /* claim from this queue only */
    const char *owner;        /* the worker id written to lease_owner */
    int64_t now;              /* started_at */
    int64_t lease_expires_at; /* the new lease's expiry */
    int64_t max;              /* claim at most this many jobs (>= 1) */
} cm__claim_req;
/* Called once per claimed job with a statement positioned on a row whose
 * columns are those RETURNING by the catalogue statement "jobs.claim". */
typedef int (*cm__claim_row_fn)(struct cm__q *row, void *payload);

/* One statement of a dialect catalogue: a stable id ("rsvp.insert") and
 * the dialect's SQL text, with numbered parameters ?1..?N. */
typedef struct cm__sql_entry {
    const char *id;
    const char *sql;
} cm__sql_entry;

/* One forward-only migration. The checksum is computed from `sql`. */
typedef struct cm__migration {
    int32_t version;
    const char *name;
    const char *sql;
} cm__migration;

/* The base of every backend connection. */
struct cm__conn {
    struct cm_store *store;
    cm__stmt **cache;   /* prepared statements, indexed like the catalogue */
    bool in_tx;
    bool broken;        /* must be reconnected before reuse */
    cm__conn *next_free;
};

typedef struct cm__store_ops {
    uint32_t size;       /* sizeof(struct cm__store_ops) the backend was built with */
    const char *name;    /* "sqlite", "pg" */
    size_t conn_size;    /* >= sizeof(cm__conn) */

    /* Parse the URI once per store into backend state (freed by release). */
    int (*init)(void **state, const char *uri, const cm_store_options *opts);
    void (*release)(void *state);
    /* Default pool size for this state (e.g. 1 for an in-memory database). */
    uint32_t (*default_pool_size)(void *state);

    int (*connect)(cm__conn *conn, void *state);
    void (*disconnect)(cm__conn *conn);

    int (*begin)(cm__conn *conn, bool write);
    int (*commit)(cm__conn *conn);
    int (*rollback)(cm__conn *conn);
    /* Run a script of several statements without parameters (migrations). */
    int (*exec_script)(cm__conn *conn, const char *sql);

    int (*prepare)(cm__stmt **out, cm__conn *conn, const char *sql);
    int (*bind_int64)(cm__stmt *st, int idx, int64_t v);
    int (*bind_double)(cm__stmt *st, int idx, double v);
    int (*bind_text)(cm__stmt *st, int idx, const char *s, size_t len);
    int (*bind_blob)(cm__stmt *st, int idx, const void *p, size_t len);
    int (*bind_null)(cm__stmt *st, int idx);
    /* 1 = a row is available, 0 = done, < 0 = CM_E* (detail set). */
    int (*step)(cm__stmt *st);
    bool (*column_is_null)(cm__stmt *st, int col);
    int64_t (*column_int64)(cm__stmt *st, int col);
    double (*column_double)(cm__stmt *st, int col);
    const char *(*column_text)(cm__stmt *st, int col, size_t *len);
    const void *(*column_blob)(cm__stmt *st, int col, size_t *len);
    /* Rows changed by the last completed statement. */
    int64_t (*changes)(cm__stmt *st);
    /* Make the statement reusable and drop its bindings. */
    void (*reset)(cm__stmt *st);
    void (*finalize)(cm__stmt *st);

    /* Dialect: catalogue parts, each terminated by {NULL, NULL}; migrations. */
    const cm__sql_entry *const *catalog;
    const cm__migration *migrations; /* terminated by {0, NULL, NULL} */

    /* Create the migrations bookkeeping table if missing; take whatever
     * lock keeps concurrent migrators apart (inside the open transaction). */
    int (*migration_lock)(cm__conn *conn);

    /* Backup of the whole database to a destination path (optional). */
    int (*backup)(cm__conn *conn, const char *dest);

    /* Optional: a counter that changes whenever any connection commits
     * (SQLite: PRAGMA data_version on a watcher connection). Lets the core
     * cache read results coherently; without it nothing is cached. */
    int (*data_version)(void *state, uint64_t *out);

    /* Optional capability hook, called only through cm__store_claim_jobs():
     * inside conn's open write transaction, lease up to req->max due jobs
     * of req->queue in order (priority DESC, run_at, id) -- state 'running',
     * lease_token and attempts incremented, lease_owner/lease_expires_at/
     * started_at set -- and report each to on_row. NULL: the portable
     * fallback runs the catalogue statement "jobs.claim" (right for SQLite,
     * where BEGIN IMMEDIATE serializes claimers; PostgreSQL may claim with
     * FOR UPDATE SKIP LOCKED in its catalogue text or here). */
    int (*claim_jobs)(cm__conn *conn, const cm__claim_req *req, cm__claim_row_fn on_row,
                      void *payload);

    /* Backup files (lib/store/backup.c; both optional, size-checked).
     * check_backup: CM_OK when the file at path is a complete backup that
     * restore accepts, else CM_ECORRUPT saying why. `fresh`: path was just
     * written by `backup` and may be finished in place (made
     * self-contained); otherwise it is only read.
     * restore: replace the database named by uri with the checked backup
     * at src, atomically (a failure leaves the target as it was); refuse a
     * target that holds tables (CM_EEXISTS) or is in use (CM_EBUSY, where
     * the backend can tell) unless flags has CM_RESTORE_FORCE. */
    int (*check_backup)(const char *path, bool fresh);
    int (*restore)(const char *uri, const char *src, uint32_t flags);
} cm__store_ops;

/* The claim wrapper (lib/jobs/claim.c): the backend's claim_jobs hook when
 * its ops struct is recent enough and sets it, else the portable fallback. */
int cm__store_claim_jobs(cm__conn *conn, const cm__claim_req *req, cm__claim_row_fn on_row,
                         void *payload);

extern const cm__store_ops cm__sqlite_ops;
/* The SQLite backend's backup-file hooks (sqlite/backup_sqlite.c). */
int cm__sqlite_check_backup(const char *path, bool fresh);
int cm__sqlite_restore(const char *uri, const char *src, uint32_t flags);

#endif /* CM_STORE_BACKEND_H */
