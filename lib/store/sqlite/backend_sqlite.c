/*
 * backend_sqlite.c - the SQLite backend: connections in WAL mode with a
 * busy timeout, BEGIN IMMEDIATE for writers, cached prepared statements,
 * and SQLite result codes mapped to CM_E* at this boundary.
 *
 * Group fsync. In WAL mode a commit is durable once the WAL file holding
 * its frames is synced. Rather than one fsync per commit inside the write
 * lock (synchronous=FULL), connections run with synchronous=NORMAL (SQLite
 * still syncs the WAL before every checkpoint) and each commit that wrote
 * frames waits, after releasing the write lock, until an fdatasync() of the
 * WAL started after its COMMIT has completed. One waiter syncs for all the
 * commits made so far; the others wait for it. So every commit is synced
 * before its caller hears of it, as with FULL, but concurrent writers share
 * fsyncs and nobody holds the write lock while the disk works. A failed
 * sync fails every commit it was to cover (CM_EIO, or CM_EUNAVAILABLE for
 * a full or read-only file system: committed, durability unknown).
 * Difference to FULL: other connections may read a commit during
 * the moment before its sync completes (a power loss then could undo what
 * they read; a crash of the process cannot). Without WAL (in-memory
 * databases, file systems without shared memory) FULL stays.
 */
#include "../store_int.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The WAL size (frames) past which a commit checkpoints, as SQLite's own
 * default hook does; ours replaces it. */
#define WAL_AUTOCHECKPOINT 1000

typedef struct sqlite_state {
    char *path;
    bool memory;
    uint32_t busy_timeout_ms;
    /* SQLite has one writer at a time. Writers of this process queue on
     * this mutex instead of colliding in BEGIN IMMEDIATE and sleeping in
     * SQLite's busy handler back-off; other processes still meet the
     * busy timeout. Held from BEGIN IMMEDIATE to COMMIT/ROLLBACK. */
    pthread_mutex_t writer;
    /* Group fsync (see the top of the file), under sync_lock: commits that
     * wrote WAL frames are numbered (under the writer lock, so in WAL
     * order); synced: all up to this number are durable; failed: a sync
     * covering up to this number failed. */
    pthread_mutex_t sync_lock;
    pthread_cond_t sync_cond;
    uint64_t committed, synced, failed;
    bool syncing;
    int wal_fd; /* our own descriptor of the WAL file, -1 until needed */
    uint64_t n_syncs;
    /* A read-only watcher connection for data_version (opened lazily),
     * and under watch_lock: dv_base, the data_version that includes every
     * commit accounted for (the store's own, read under the writer lock
     * around each COMMIT), and epoch, bumped whenever data_version moved
     * for another reason (a commit by another process or store). */
    pthread_mutex_t watch_lock;
    sqlite3 *watch_db;
    sqlite3_stmt *watch_st;
    uint64_t dv_base, epoch;
    bool dv_known;
    /* Table numbering for stmt_tables: names of bits 0..62. */
    pthread_mutex_t tables_lock;
    char tables[CM__TABLES_ALL][64];
    int n_tables;
} sqlite_state;

typedef struct sqlite_conn {
    cm__conn base;
    sqlite3 *db;
    sqlite_state *st;
    bool holds_writer;
    bool wal;                       /* in WAL mode: commits are group-synced */
    bool wal_written;               /* the last COMMIT wrote WAL frames (wal hook) */
    uint64_t prep_read, prep_write; /* tables of the statement last prepared */
    bool recording;                 /* sq_prepare is running: the authorizer collects */
} sqlite_conn;

static int auth_tables(void *arg, int action, const char *a1, const char *a2, const char *db,
                       const char *trigger);
static void dv_before_commit(sqlite_state *st);
static void dv_after_commit(sqlite_state *st);

extern const cm__migration cm__sqlite_migrations[];
extern const cm__sql_entry *const cm__sqlite_catalog[];

/* Map an SQLite result code to CM_E*, recording the native code. */
static int map_rc(int rc, sqlite3 *db, const char *what)
{
    int ext = db ? sqlite3_extended_errcode(db) : rc;
    int code;
    switch (rc & 0xff) {
        case SQLITE_BUSY:
        case SQLITE_LOCKED:
            code = CM_EBUSY;
            break;
        case SQLITE_CONSTRAINT:
            code = (ext == SQLITE_CONSTRAINT_UNIQUE || ext == SQLITE_CONSTRAINT_PRIMARYKEY)
                       ? CM_EEXISTS
                       : CM_ECONSTRAINT;
            break;
        case SQLITE_NOMEM:
            code = CM_ENOMEM;
            break;
        case SQLITE_CORRUPT:
        case SQLITE_NOTADB:
            code = CM_ECORRUPT;
            break;
        case SQLITE_FULL:     /* disk full, or max_page_count reached */
        case SQLITE_READONLY: /* read-only file, file system or connection */
            code = CM_EUNAVAILABLE;
            break;
        case SQLITE_IOERR: {
            /* an I/O error whose cause is a full or read-only file system
             * (e.g. growing the -shm file) is the same condition */
            int sys = db ? sqlite3_system_errno(db) : 0;
            code = sys == ENOSPC || sys == EDQUOT || sys == EROFS ? CM_EUNAVAILABLE : CM_EIO;
            break;
        }
        case SQLITE_CANTOPEN:
        case SQLITE_PERM:
            code = CM_EIO;
            break;
        case SQLITE_INTERRUPT:
            code = CM_ECANCELED;
            break;
        case SQLITE_RANGE:
        case SQLITE_TOOBIG:
            code = CM_ERANGE;
            break;
        default:
            code = CM_EBACKEND;
    }
    cm__error_set(code, "sqlite: %s: %s", what, db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
    char buf[16];
    (void)snprintf(buf, sizeof buf, "%d", ext);
    cm__error_set_backend_code(buf);
    return code;
}

static int sq_init(void **state, const char *uri, const cm_store_options *opts)
{
    const char *p = cm__sqlite_uri_path(uri);
    sqlite_state *st = cm__calloc(1, sizeof *st);
    if (!st)
        return cm__oom();
    if (strcmp(p, ":memory:") == 0)
        st->memory = true;
    if (!*p) {
        cm__free(st);
        return cm__error_set_field(CM_EINVAL, "uri", "sqlite URI has no path");
    }
    st->path = cm__strdup(p);
    st->busy_timeout_ms = opts->busy_timeout_ms ? opts->busy_timeout_ms : 5000;
    pthread_mutex_init(&st->writer, NULL);
    pthread_mutex_init(&st->sync_lock, NULL);
    pthread_cond_init(&st->sync_cond, NULL);
    st->wal_fd = -1;
    pthread_mutex_init(&st->watch_lock, NULL);
    pthread_mutex_init(&st->tables_lock, NULL);
    if (!st->path) {
        cm__free(st);
        return cm__oom();
    }
    *state = st;
    return CM_OK;
}

static void sq_release(void *state)
{
    sqlite_state *st = state;
    pthread_mutex_destroy(&st->writer);
    pthread_mutex_destroy(&st->sync_lock);
    pthread_cond_destroy(&st->sync_cond);
    if (st->wal_fd >= 0)
        (void)close(st->wal_fd);
    sqlite3_finalize(st->watch_st);
    sqlite3_close(st->watch_db);
    pthread_mutex_destroy(&st->watch_lock);
    pthread_mutex_destroy(&st->tables_lock);
    cm__free(st->path);
    cm__free(st);
}

static uint32_t sq_default_pool(void *state)
{
    return ((sqlite_state *)state)->memory ? 1 : 8;
}

static int exec(sqlite3 *db, const char *sql)
{
    int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? CM_OK : map_rc(rc, db, sql);
}

/* After a commit on a connection in WAL mode: note that it wrote frames,
 * and checkpoint past WAL_AUTOCHECKPOINT frames as the default hook would. */
static int wal_hook(void *arg, sqlite3 *db, const char *name, int frames)
{
    ((sqlite_conn *)arg)->wal_written = true;
    if (frames >= WAL_AUTOCHECKPOINT)
        (void)sqlite3_wal_checkpoint(db, name);
    return SQLITE_OK;
}

/* The journal mode the connection ended up in is WAL. */
static bool in_wal_mode(sqlite3 *db)
{
    sqlite3_stmt *q = NULL;
    bool wal = false;
    if (sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &q, NULL) == SQLITE_OK &&
        sqlite3_step(q) == SQLITE_ROW)
        wal = sqlite3_stricmp((const char *)sqlite3_column_text(q, 0), "wal") == 0;
    sqlite3_finalize(q);
    return wal;
}

static int sq_connect(cm__conn *conn, void *state)
{
    sqlite_state *st = state;
    sqlite_conn *c = (sqlite_conn *)conn;
    c->st = st;
    int flags =
        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE;
    int rc = sqlite3_open_v2(st->path, &c->db, flags, NULL);
    if (rc != SQLITE_OK) {
        rc = map_rc(rc, c->db, "open");
        cm__error_set(rc, "cannot open SQLite database '%s': %s", st->path,
                      c->db ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc));
        sqlite3_close(c->db);
        c->db = NULL;
        return rc;
    }
    sqlite3_extended_result_codes(c->db, 1);
    sqlite3_busy_timeout(c->db, (int)st->busy_timeout_ms);
    if ((rc = exec(c->db, "PRAGMA foreign_keys=ON")) ||
        (!st->memory && (rc = exec(c->db, "PRAGMA journal_mode=WAL")))) {
        sqlite3_close(c->db);
        c->db = NULL;
        return rc;
    }
    /* WAL: NORMAL, and every commit waits for a group fsync (sq_commit). */
    c->wal = !st->memory && in_wal_mode(c->db);
    if ((rc = exec(c->db, c->wal ? "PRAGMA synchronous=NORMAL" : "PRAGMA synchronous=FULL"))) {
        sqlite3_close(c->db);
        c->db = NULL;
        return rc;
    }
    if (c->wal)
        (void)sqlite3_wal_hook(c->db, wal_hook, c);
    /* Installed once, before any statement: setting or clearing an
     * authorizer expires every prepared statement of the connection. */
    (void)sqlite3_set_authorizer(c->db, auth_tables, c);
    return CM_OK;
}

static void sq_disconnect(cm__conn *conn)
{
    sqlite_conn *c = (sqlite_conn *)conn;
    sqlite3_close(c->db);
}

/* Take the in-process writer lock, waiting at most the busy timeout. */
static int lock_writer(sqlite_conn *c)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    int64_t ns = until.tv_nsec + (int64_t)c->st->busy_timeout_ms * 1000000;
    until.tv_sec += (time_t)(ns / 1000000000);
    until.tv_nsec = (long)(ns % 1000000000);
    int rc = pthread_mutex_timedlock(&c->st->writer, &until);
    if (rc == ETIMEDOUT)
        return cm__error_set(CM_EBUSY,
                             "sqlite: the database is busy (waited %u ms for the "
                             "writer lock)",
                             c->st->busy_timeout_ms);
    if (rc != 0)
        return cm__error_set(CM_ERROR, "sqlite: writer lock failed (%d)", rc);
    c->holds_writer = true;
    return CM_OK;
}

static void unlock_writer(sqlite_conn *c)
{
    if (c->holds_writer) {
        c->holds_writer = false;
        pthread_mutex_unlock(&c->st->writer);
    }
}

static int sq_begin(cm__conn *conn, bool write)
{
    sqlite_conn *c = (sqlite_conn *)conn;
    if (!write)
        return exec(c->db, "BEGIN");
    int rc = lock_writer(c);
    if (rc)
        return rc;
    if ((rc = exec(c->db, "BEGIN IMMEDIATE")))
        unlock_writer(c);
    return rc;
}

static int int_cb(void *out, int n, char **vals, char **names)
{
    (void)names;
    if (n > 0 && vals[0])
        *(long *)out = strtol(vals[0], NULL, 10);
    return 0;
}

/* The readiness write probe: page 1 is rewritten (user_version set to its
 * own value, which the library does not use), so the commit appends a
 * frame to the WAL and syncs it, as any write does. */
static int sq_write_probe(cm__conn *conn)
{
    sqlite_conn *c = (sqlite_conn *)conn;
    long v = 0;
    int rc = sqlite3_exec(c->db, "PRAGMA user_version", int_cb, &v, NULL);
    if (rc != SQLITE_OK)
        return map_rc(rc, c->db, "write probe");
    char sql[48];
    (void)snprintf(sql, sizeof sql, "PRAGMA user_version=%ld", v);
    return exec(c->db, sql);
}

/* fdatasync the WAL file through our own descriptor (fsync applies to the
 * file, not the descriptor), reopened when the WAL was replaced. A WAL
 * that is gone was checkpointed (and synced) and removed: nothing to do.
 * Returns 0 or an errno. Called by one thread at a time (st->syncing). */
static int sync_wal(sqlite_state *st, const char *wal_path)
{
    struct stat now, ours;
    if (stat(wal_path, &now) != 0)
        return errno == ENOENT ? 0 : errno;
    if (st->wal_fd >= 0 &&
        (fstat(st->wal_fd, &ours) != 0 || ours.st_ino != now.st_ino || ours.st_dev != now.st_dev)) {
        (void)close(st->wal_fd);
        st->wal_fd = -1;
    }
    if (st->wal_fd < 0 && (st->wal_fd = open(wal_path, O_RDONLY | O_CLOEXEC)) < 0)
        return errno == ENOENT ? 0 : errno;
    return fdatasync(st->wal_fd) == 0 ? 0 : errno;
}

/* Wait until commit number `seq` is durable: sync the WAL for everyone
 * committed so far unless another thread is doing so already. */
static int wait_durable(sqlite_conn *c, uint64_t seq)
{
    sqlite_state *st = c->st;
    const char *wal_path = sqlite3_filename_wal(sqlite3_db_filename(c->db, "main"));
    int err = 0;
    pthread_mutex_lock(&st->sync_lock);
    while (st->synced < seq && st->failed < seq) {
        if (st->syncing) {
            pthread_cond_wait(&st->sync_cond, &st->sync_lock);
            continue;
        }
        st->syncing = true;
        uint64_t upto = st->committed; /* all of these are written to the WAL */
        pthread_mutex_unlock(&st->sync_lock);
        err = sync_wal(st, wal_path);
        pthread_mutex_lock(&st->sync_lock);
        st->syncing = false;
        st->n_syncs++;
        if (err == 0 && upto > st->synced)
            st->synced = upto;
        else if (err && upto > st->failed)
            st->failed = upto;
        pthread_cond_broadcast(&st->sync_cond);
    }
    bool ok = st->synced >= seq;
    pthread_mutex_unlock(&st->sync_lock);
    if (ok)
        return CM_OK;
    /* a full or read-only file system is CM_EUNAVAILABLE, as in map_rc() */
    int code = err == ENOSPC || err == EDQUOT || err == EROFS ? CM_EUNAVAILABLE : CM_EIO;
    cm__error_set(code,
                  "sqlite: committed, but syncing the WAL failed (%s): the commit may "
                  "not survive a power loss",
                  strerror(err ? err : EIO));
    cm__error_set_backend_code("fdatasync");
    return code;
}

/* On failure the core rolls back, which releases the writer lock. */
static int sq_commit(cm__conn *conn)
{
    sqlite_conn *c = (sqlite_conn *)conn;
    c->wal_written = false;
    if (c->holds_writer)
        dv_before_commit(c->st);
    int rc = exec(c->db, "COMMIT");
    if (rc)
        return rc;
    if (c->holds_writer)
        dv_after_commit(c->st);
    cm__store_commit_written(conn); /* the cache drops what it wrote, now */
    uint64_t seq = 0;
    if (c->wal && c->wal_written) {
        pthread_mutex_lock(&c->st->sync_lock);
        seq = ++c->st->committed; /* under the writer lock: WAL order */
        pthread_mutex_unlock(&c->st->sync_lock);
    }
    unlock_writer(c);
    return seq ? wait_durable(c, seq) : CM_OK;
}

void cm__sqlite_sync_counts(cm_store *store, uint64_t *committed, uint64_t *synced, uint64_t *syncs)
{
    sqlite_state *st = store->state;
    pthread_mutex_lock(&st->sync_lock);
    *committed = st->committed;
    *synced = st->synced;
    *syncs = st->n_syncs;
    pthread_mutex_unlock(&st->sync_lock);
}

static int sq_rollback(cm__conn *conn)
{
    sqlite_conn *c = (sqlite_conn *)conn;
    int rc = sqlite3_get_autocommit(c->db) ? CM_OK : exec(c->db, "ROLLBACK");
    unlock_writer(c);
    return rc;
}

static int sq_exec_script(cm__conn *conn, const char *sql)
{
    return exec(((sqlite_conn *)conn)->db, sql);
}

static int sq_prepare(cm__stmt **out, cm__conn *conn, const char *sql)
{
    sqlite_conn *c = (sqlite_conn *)conn;
    sqlite3 *db = c->db;
    sqlite3_stmt *st = NULL;
    c->prep_read = c->prep_write = 0;
    c->recording = true;
    int rc = sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL);
    c->recording = false;
    if (rc != SQLITE_OK)
        return map_rc(rc, db, "prepare");
    *out = (cm__stmt *)st;
    return CM_OK;
}

#define ST(s) ((sqlite3_stmt *)(s))
static int bind_rc(int rc, cm__stmt *s)
{
    return rc == SQLITE_OK ? CM_OK : map_rc(rc, sqlite3_db_handle(ST(s)), "bind");
}
static int sq_bind_int64(cm__stmt *s, int i, int64_t v)
{
    return bind_rc(sqlite3_bind_int64(ST(s), i, v), s);
}
static int sq_bind_double(cm__stmt *s, int i, double v)
{
    return bind_rc(sqlite3_bind_double(ST(s), i, v), s);
}
static int sq_bind_text(cm__stmt *s, int i, const char *p, size_t n)
{
    return bind_rc(sqlite3_bind_text64(ST(s), i, p, n, SQLITE_TRANSIENT, SQLITE_UTF8), s);
}
static int sq_bind_blob(cm__stmt *s, int i, const void *p, size_t n)
{
    return bind_rc(sqlite3_bind_blob64(ST(s), i, p ? p : "", n, SQLITE_TRANSIENT), s);
}
static int sq_bind_null(cm__stmt *s, int i)
{
    return bind_rc(sqlite3_bind_null(ST(s), i), s);
}

static int sq_step(cm__stmt *s)
{
    int rc = sqlite3_step(ST(s));
    if (rc == SQLITE_ROW)
        return 1;
    if (rc == SQLITE_DONE)
        return 0;
    return map_rc(rc, sqlite3_db_handle(ST(s)), "step");
}
static bool sq_is_null(cm__stmt *s, int col)
{
    return sqlite3_column_type(ST(s), col) == SQLITE_NULL;
}
static int64_t sq_col_int64(cm__stmt *s, int col)
{
    return sqlite3_column_int64(ST(s), col);
}
static double sq_col_double(cm__stmt *s, int col)
{
    return sqlite3_column_double(ST(s), col);
}
static const char *sq_col_text(cm__stmt *s, int col, size_t *len)
{
    const char *t = (const char *)sqlite3_column_text(ST(s), col);
    *len = (size_t)sqlite3_column_bytes(ST(s), col);
    return t;
}
static const void *sq_col_blob(cm__stmt *s, int col, size_t *len)
{
    const void *b = sqlite3_column_blob(ST(s), col);
    *len = (size_t)sqlite3_column_bytes(ST(s), col);
    return b;
}
static int64_t sq_changes(cm__stmt *s)
{
    return sqlite3_changes64(sqlite3_db_handle(ST(s)));
}
static void sq_reset(cm__stmt *s)
{
    sqlite3_reset(ST(s));
    sqlite3_clear_bindings(ST(s));
}
static void sq_finalize(cm__stmt *s)
{
    sqlite3_finalize(ST(s));
}

static int sq_migration_lock(cm__conn *conn)
{
    /* BEGIN IMMEDIATE already holds the write lock; make sure the table exists. */
    return exec(((sqlite_conn *)conn)->db,
                "CREATE TABLE IF NOT EXISTS cm_migrations (version INTEGER PRIMARY KEY, "
                "name TEXT NOT NULL, checksum TEXT NOT NULL, applied_at INTEGER NOT NULL)");
}

/* Backup of the whole database into dest (a new SQLite file), as one
 * snapshot. */
static int sq_backup(cm__conn *conn, const char *dest)
{
    sqlite3 *src = ((sqlite_conn *)conn)->db, *dst = NULL;
    /* A file removed while the store was open: refuse to save its ghost. */
    const char *file = sqlite3_db_filename(src, "main");
    struct stat sb;
    if (file && *file && stat(file, &sb) != 0)
        return cm__error_set(CM_ENOTFOUND, "sqlite: backup: the database file %s is gone", file);
    int rc = sqlite3_open_v2(dest, &dst, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
    if (rc != SQLITE_OK) {
        rc = map_rc(rc, dst, "backup open");
        sqlite3_close(dst);
        return rc;
    }
    sqlite3_backup *b = sqlite3_backup_init(dst, "main", src, "main");
    if (!b) {
        rc = map_rc(sqlite3_errcode(dst), dst, "backup init");
        sqlite3_close(dst);
        return rc;
    }
    /* Every page in one step, that is in one read transaction of the
     * source: a snapshot that writers (WAL) do not disturb. Copied in
     * slices instead, the backup would start over after every commit of
     * another connection and never finish while they keep writing. */
    uint32_t waited = 0, limit = conn->store->busy_timeout_ms;
    for (;;) {
        rc = sqlite3_backup_step(b, -1);
        if ((rc != SQLITE_BUSY && rc != SQLITE_LOCKED) || waited >= limit)
            break;
        sqlite3_sleep(10);
        waited += 10;
    }
    sqlite3_backup_finish(b);
    rc = rc == SQLITE_DONE ? CM_OK : map_rc(rc, dst, "backup step");
    sqlite3_close(dst);
    return rc;
}

/* PRAGMA data_version on a dedicated connection changes whenever any other
 * connection, in this process or another, commits (watch_lock held). */
static int read_dv(sqlite_state *st, uint64_t *out)
{
    int rc = CM_OK;
    if (!st->watch_st) {
        int src = sqlite3_open_v2(st->path, &st->watch_db,
                                  SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL);
        if (src == SQLITE_OK)
            src = sqlite3_prepare_v3(st->watch_db, "PRAGMA data_version", -1,
                                     SQLITE_PREPARE_PERSISTENT, &st->watch_st, NULL);
        if (src != SQLITE_OK) {
            rc = map_rc(src, st->watch_db, "data_version");
            sqlite3_finalize(st->watch_st);
            sqlite3_close(st->watch_db);
            st->watch_st = NULL;
            st->watch_db = NULL;
        }
    }
    if (rc == CM_OK) {
        int src = sqlite3_step(st->watch_st);
        if (src == SQLITE_ROW)
            *out = (uint64_t)sqlite3_column_int64(st->watch_st, 0);
        else if ((rc = map_rc(src, st->watch_db, "data_version")) == CM_OK)
            rc = cm__error_set(CM_EBACKEND, "sqlite: PRAGMA data_version gave no row");
        sqlite3_reset(st->watch_st);
    }
    return rc;
}

/* Around the store's own COMMIT, with the writer lock held (no other
 * commit of this store can happen meanwhile): before it, a data_version
 * other than dv_base means somebody else committed (bump the epoch);
 * after it, the new data_version is ours. Only once the watcher exists
 * (the cache is in use). A commit by another process in the instant
 * between our COMMIT and the read after it is taken for ours: the
 * cache's one-second age limit bounds what that can cost. */
static void dv_before_commit(sqlite_state *st)
{
    pthread_mutex_lock(&st->watch_lock);
    uint64_t v;
    if (st->watch_st && read_dv(st, &v) == CM_OK && (!st->dv_known || v != st->dv_base)) {
        st->epoch++;
        st->dv_base = v;
        st->dv_known = true;
    }
    pthread_mutex_unlock(&st->watch_lock);
}

static void dv_after_commit(sqlite_state *st)
{
    pthread_mutex_lock(&st->watch_lock);
    uint64_t v;
    if (st->watch_st && st->dv_known && read_dv(st, &v) == CM_OK)
        st->dv_base = v;
    else if (st->watch_st)
        st->dv_known = false; /* the next look bumps the epoch */
    pthread_mutex_unlock(&st->watch_lock);
}

/* The epoch: changes whenever data_version moved for a reason other than
 * this store's own commits. An unexplained change seen while one of our
 * writers may be between its COMMIT and its dv_after_commit() cannot be
 * attributed: CM_EBUSY (no caching this time). */
static int sq_data_version(void *state, uint64_t *out)
{
    sqlite_state *st = state;
    if (st->memory)
        return CM_ENOTSUP; /* a second connection would see another database */
    pthread_mutex_lock(&st->watch_lock);
    uint64_t v;
    int rc = read_dv(st, &v);
    if (rc == CM_OK && (!st->dv_known || v != st->dv_base)) {
        if (pthread_mutex_trylock(&st->writer) == 0) {
            st->epoch++;
            st->dv_base = v;
            st->dv_known = true;
            pthread_mutex_unlock(&st->writer);
        } else {
            rc = CM_EBUSY;
        }
    }
    if (rc == CM_OK)
        *out = st->epoch;
    pthread_mutex_unlock(&st->watch_lock);
    return rc;
}

/* The bit of table `name` in the store's numbering (CM__TABLES_ALL when
 * the numbering is full). */
static uint64_t table_bit(sqlite_state *st, const char *name)
{
    int b = CM__TABLES_ALL;
    pthread_mutex_lock(&st->tables_lock);
    for (int i = 0; i < st->n_tables; i++)
        if (sqlite3_stricmp(st->tables[i], name) == 0) {
            b = i;
            break;
        }
    if (b == CM__TABLES_ALL && st->n_tables < CM__TABLES_ALL && strlen(name) < 64) {
        b = st->n_tables++;
        (void)snprintf(st->tables[b], sizeof st->tables[b], "%s", name);
    }
    pthread_mutex_unlock(&st->tables_lock);
    return UINT64_C(1) << b;
}

/* The connection's authorizer: while sq_prepare runs, collect the tables
 * the statement (and any trigger it fires) reads and writes. */
static int auth_tables(void *arg, int action, const char *a1, const char *a2, const char *db,
                       const char *trigger)
{
    (void)a2, (void)db, (void)trigger;
    sqlite_conn *c = arg;
    if (!c->recording)
        return SQLITE_OK;
    switch (action) {
        case SQLITE_READ:
            c->prep_read |= a1 ? table_bit(c->st, a1) : ~UINT64_C(0);
            break;
        case SQLITE_INSERT:
        case SQLITE_UPDATE:
        case SQLITE_DELETE:
            c->prep_write |= a1 ? table_bit(c->st, a1) : ~UINT64_C(0);
            break;
        case SQLITE_PRAGMA:
            /* data_version reads no table; FTS5 prepares it when it
             * connects its table inside another statement's prepare */
            if (a1 && sqlite3_stricmp(a1, "data_version") == 0)
                break;
            c->prep_read = c->prep_write = ~UINT64_C(0);
            break;
        case SQLITE_SELECT:
        case SQLITE_FUNCTION:
        case SQLITE_RECURSIVE:
        case SQLITE_TRANSACTION:
        case SQLITE_SAVEPOINT:
            break;
        default: /* pragmas, schema changes, ATTACH...: anything */
            c->prep_read = c->prep_write = ~UINT64_C(0);
    }
    return SQLITE_OK;
}

static void sq_stmt_tables(cm__conn *conn, uint64_t *read, uint64_t *write)
{
    sqlite_conn *c = (sqlite_conn *)conn;
    *read = c->prep_read;
    *write = c->prep_write;
}

const cm__store_ops cm__sqlite_ops = {
    .size = sizeof(cm__store_ops),
    .name = "sqlite",
    .conn_size = sizeof(sqlite_conn),
    .init = sq_init,
    .release = sq_release,
    .default_pool_size = sq_default_pool,
    .connect = sq_connect,
    .disconnect = sq_disconnect,
    .begin = sq_begin,
    .commit = sq_commit,
    .rollback = sq_rollback,
    .exec_script = sq_exec_script,
    .prepare = sq_prepare,
    .bind_int64 = sq_bind_int64,
    .bind_double = sq_bind_double,
    .bind_text = sq_bind_text,
    .bind_blob = sq_bind_blob,
    .bind_null = sq_bind_null,
    .step = sq_step,
    .column_is_null = sq_is_null,
    .column_int64 = sq_col_int64,
    .column_double = sq_col_double,
    .column_text = sq_col_text,
    .column_blob = sq_col_blob,
    .changes = sq_changes,
    .reset = sq_reset,
    .finalize = sq_finalize,
    .catalog = cm__sqlite_catalog,
    .migrations = cm__sqlite_migrations,
    .migration_lock = sq_migration_lock,
    .backup = sq_backup,
    .check_backup = cm__sqlite_check_backup,
    .restore = cm__sqlite_restore,
    .data_version = sq_data_version,
    .write_probe = sq_write_probe,
    .stmt_tables = sq_stmt_tables,
};
