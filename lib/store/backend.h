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
struct cm__vec_search_req;

/* One statement of a dialect catalogue: a stable id ("rsvp.insert") and
 * the dialect's SQL text, with numbered parameters ?1..?N. */
typedef struct cm__sql_entry {
    const char *id;
    const char *sql;
} cm__sql_entry;

/* SQL fragment shared by the catalogue files: the subscription row `s` is in
 * good standing at `now` with grace period `grace` (SQL expressions, e.g.
 * parameters): trialing or active, or past_due for less than the grace. */
#define CM__SQL_SUB_GOOD(now, grace)                                                               \
    "(s.status IN ('trialing', 'active') OR (s.status = 'past_due' AND s.past_due_since + " grace  \
    " > " now "))"

/* Member `me` holds a subscription in good standing at `now` (grace period
 * `grace`) to a tier whose access table lists group `gid` (the rule of
 * tier.grants in sql_pay.c; all four are SQL expressions). */
#define CM__SQL_TIER_GROUP(me, gid, now, grace)                                                    \
    "EXISTS (SELECT 1 FROM subscriptions s JOIN tier_access ta ON ta.tier_id = s.tier_id "         \
    "WHERE s.member_id = " me " AND ta.kind = 'group' AND ta.target_id = " gid                     \
    " AND " CM__SQL_SUB_GOOD(now, grace) ")"

/* Member `me` reads the content of group `gid` as its member (the rule of
 * lib/core/group_int.h): an active group_members row, or a tier granting
 * the group (CM__SQL_TIER_GROUP) and no ban from it. */
#define CM__SQL_GROUP_READER(me, gid, now, grace)                                                  \
    "(EXISTS (SELECT 1 FROM group_members gr WHERE gr.group_id = " gid " AND gr.member_id = " me   \
    " AND gr.status = 'active') OR (" CM__SQL_TIER_GROUP(                                          \
        me, gid, now,                                                                              \
        grace) " AND NOT EXISTS (SELECT 1 FROM group_members gb WHERE gb.group_id = " gid          \
               " AND gb.member_id = " me " AND gb.status = 'banned')))"

/* One forward-only migration. The checksum is computed from `sql`. */
typedef struct cm__migration {
    int32_t version;
    const char *name;
    const char *sql;
} cm__migration;

/* The base of every backend connection. */
struct cm__conn {
    struct cm_store *store;
    cm__stmt **cache; /* prepared statements, indexed like the catalogue */
    bool in_tx;
    bool tx_write;    /* the open transaction is a write transaction */
    bool broken;      /* must be reconnected before reuse */
    uint64_t written; /* tables written in the open transaction (stmt_tables bits) */
    cm__conn *next_free;
    /* The trace span of the statement running on this connection, and the
     * cm__q it belongs to (store.c; ended at the latest on release). */
    cm_span *trace_span;
    const void *trace_q;
};

typedef struct cm__store_ops {
    uint32_t size;    /* sizeof(struct cm__store_ops) the backend was built with */
    const char *name; /* "sqlite", "pg" */
    size_t conn_size; /* >= sizeof(cm__conn) */

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

    /* Optional: a counter that changes whenever a connection that is not
     * one of this store's commits (another process, another cm_store), and
     * may change on the store's own commits (SQLite: derived from PRAGMA
     * data_version on a watcher connection). CM_EBUSY: cannot tell right
     * now (do not use the cache this time). With the table seqs of the
     * store's own commits (store.c) it lets the core cache read results
     * coherently; without it nothing is cached. */
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

    /* Optional wake-ups between processes (PostgreSQL LISTEN/NOTIFY), called
     * only through the cm__store_notify / cm__store_listen_* wrappers
     * (hooks.c). They are hints: whoever relies on them still
     * polls. A backend without them (SQLite) leaves them NULL.
     * notify: inside conn's open transaction, arrange for `payload` (at most
     * 200 bytes) to reach the listeners of `channel` when, and only if, the
     * transaction commits (PostgreSQL: NOTIFY, sent with the COMMIT).
     * Cannot fail: a backend that cannot record it drops it.
     * listen_open: a dedicated connection listening on `channel`;
     * *fd_out is its socket, to watch for readability. CM_ENOTSUP when the
     * backend is configured not to listen (URI notify=off).
     * listen_read: without blocking, consume what the socket holds and call
     * fn for each notification received; CM_OK, or an error (connection
     * lost: close it and open a new one later).
     * listen_close: close it (its fd must no longer be watched). */
    void (*notify)(cm__conn *conn, const char *channel, const char *payload);
    int (*listen_open)(void **out, int *fd_out, void *state, const char *channel);
    int (*listen_read)(void *listener, void (*fn)(const char *payload, void *arg), void *arg);
    void (*listen_close)(void *listener);

    /* Optional, run by cm_store_open() after the numbered migrations (apply
     * false with CM_STORE_NO_MIGRATE: detect only): set up or detect
     * server features outside the portable schema, so that migration
     * checksums stay identical across servers. PostgreSQL with the `vector`
     * extension: an `embedding vector` column kept in step with
     * embeddings.vector by a trigger, and HNSW indexes (lib/store/pg/
     * vector_pg.c). A feature the server refuses is logged and left off. */
    int (*after_migrate)(cm__conn *conn, bool apply);

    /* Optional capability hook, called only through
     * cm__store_vector_search(): inside conn's open transaction, the up to
     * req->k entities nearest (cosine) to req->query among req->allowed,
     * searched by the server. Returns 1 when it searched (ids, scores, *n
     * set, best first, ties by smaller id), 0 when it cannot serve this
     * store (the caller searches its in-memory index), < 0 on error. */
    int (*vector_search_pushdown)(cm__conn *conn, const struct cm__vec_search_req *req,
                                  int64_t *ids, float *scores, size_t *n);

    /* Optional, called only by cm_store_ping_write(): inside conn's open
     * write transaction, make the smallest change that its commit must
     * write to storage, without changing anything the library reads
     * (SQLite: rewrite the header's user_version with its own value;
     * PostgreSQL: assign a transaction id). NULL: the empty write
     * transaction alone is the probe. */
    int (*write_probe)(cm__conn *conn);

    /* Optional, for the result cache: the tables the statement last
     * prepared on conn reads and writes, as bits of the store's table
     * numbering (bit CM__TABLES_ALL: unknown, any table). NULL: every
     * statement counts as reading and writing every table. */
    void (*stmt_tables)(cm__conn *conn, uint64_t *read, uint64_t *write);
} cm__store_ops;

/* The bit that stands for "any table" in the masks of stmt_tables. */
#define CM__TABLES_ALL 63

/* For a backend's commit: call right after the COMMIT took effect, before
 * waiting for it to be durable, so that cached reads of the tables it
 * wrote are dropped at once (store.c). Otherwise the core does it when
 * commit returns. */
void cm__store_commit_written(cm__conn *conn);

/* A filtered nearest-neighbour search pushed down to the database. */
typedef struct cm__vec_search_req {
    const char *entity_type; /* "event", "member", "post" */
    const char *model;       /* rows of this model only */
    const float *query;      /* dim floats */
    size_t dim;
    const int64_t *allowed; /* ascending entity ids the caller may see */
    size_t n_allowed;
    int64_t exclude; /* leave this id out (0: none) */
    size_t k;        /* ids and scores hold k entries */
} cm__vec_search_req;

/* The hook wrappers (hooks.c) -- the only callers of the optional hooks.
 * CM__STORE_HAS_HOOK: the backend's ops struct is recent enough to hold
 * the hook, and sets it. */
#define CM__STORE_HAS_HOOK(ops, hook)                                                              \
    ((ops)->size >= offsetof(cm__store_ops, hook) + sizeof((ops)->hook) && (ops)->hook != NULL)

/* The pushdown wrapper: the backend's hook when
 * its ops struct is recent enough and sets it, else 0 (search in memory). */
int cm__store_vector_search(cm__conn *conn, const cm__vec_search_req *req, int64_t *ids,
                            float *scores, size_t *n);
/* Run the backend's after_migrate hook, if any (store.c). */
int cm__store_after_migrate(cm_store *store, bool apply);

/* The claim wrapper: the backend's claim_jobs hook when
 * its ops struct is recent enough and sets it, else the portable fallback. */
int cm__store_claim_jobs(cm__conn *conn, const cm__claim_req *req, cm__claim_row_fn on_row,
                         void *payload);

/* The wake-up wrappers: no-ops / CM_ENOTSUP when the
 * backend lacks the hooks or its ops struct predates them. */
void cm__store_notify(cm__conn *conn, const char *channel, const char *payload);
int cm__store_listen_open(void **out, int *fd_out, cm_store *store, const char *channel);
int cm__store_listen_read(cm_store *store, void *listener,
                          void (*fn)(const char *payload, void *arg), void *arg);
void cm__store_listen_close(cm_store *store, void *listener);

extern const cm__store_ops cm__sqlite_ops;
/* The SQLite backend's backup-file hooks (sqlite/backup_sqlite.c). */
int cm__sqlite_check_backup(const char *path, bool fresh);
int cm__sqlite_restore(const char *uri, const char *src, uint32_t flags);
/* Group fsync counters of a SQLite store (tests): commits that wrote WAL
 * frames, how many of them are known durable, fdatasync calls made. */
void cm__sqlite_sync_counts(struct cm_store *store, uint64_t *committed, uint64_t *synced,
                            uint64_t *syncs);

#endif /* CM_STORE_BACKEND_H */
