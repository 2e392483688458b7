/*
 * backup_sqlite.c - SQLite backup files: the check of a backup (which also
 * makes a fresh one self-contained) and the restore of one into a database
 * file. The backup itself is sq_backup in backend_sqlite.c (the online
 * backup API). Both are vtable hooks called from lib/store/backup.c.
 */
#include "../store_int.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

extern const cm__migration cm__sqlite_migrations[];

/* How long restore waits for locks on the target. */
#define RESTORE_BUSY_MS 2000

/* Record an SQLite failure as code ("<what>: <SQLite's message>") with its
 * native code; returns code. */
static int fail(int code, sqlite3 *db, int src, const char *fmt, ...) CM__PRINTF(4, 5);
static int fail(int code, sqlite3 *db, int src, const char *fmt, ...)
{
    char what[300];
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    cm__error_set(code, "%s: %s", what, db ? sqlite3_errmsg(db) : sqlite3_errstr(src));
    char buf[16];
    (void)snprintf(buf, sizeof buf, "%d", db ? sqlite3_extended_errcode(db) : src);
    cm__error_set_backend_code(buf);
    return code;
}

/* CM_E* for an SQLite result code met while reading a backup. */
static int read_code(int src)
{
    switch (src & 0xff) {
        case SQLITE_NOMEM:
            return CM_ENOMEM;
        case SQLITE_BUSY:
        case SQLITE_LOCKED:
            return CM_EBUSY;
        case SQLITE_IOERR:
        case SQLITE_CANTOPEN:
        case SQLITE_PERM:
            return CM_EIO;
        default:
            return CM_ECORRUPT;
    }
}

/* Run a one-row query; copy column 0 as text into buf (may be NULL). */
static int query_text(sqlite3 *db, const char *sql, char *buf, size_t cap, int *src_out)
{
    sqlite3_stmt *st = NULL;
    int src = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    if (src == SQLITE_OK) {
        src = sqlite3_step(st);
        if (src == SQLITE_ROW) {
            const unsigned char *t = sqlite3_column_text(st, 0);
            if (buf)
                (void)snprintf(buf, cap, "%s", t ? (const char *)t : "");
            src = SQLITE_OK;
        } else if (src == SQLITE_DONE) {
            if (buf)
                buf[0] = '\0';
            src = SQLITE_OK;
        }
    }
    sqlite3_finalize(st);
    *src_out = src;
    return src == SQLITE_OK ? CM_OK : CM_ERROR;
}

int cm__sqlite_check_backup(const char *path, bool fresh)
{
    sqlite3 *db = NULL;
    int flags = fresh ? SQLITE_OPEN_READWRITE : SQLITE_OPEN_READONLY;
    int src = sqlite3_open_v2(path, &db, flags, NULL);
    int rc = CM_OK;
    char buf[256];
    if (src != SQLITE_OK) {
        rc = fail(read_code(src), db, src, "backup %s: cannot open", path);
        goto out;
    }
    sqlite3_extended_result_codes(db, 1);
    /* A copy of a WAL database says so in its header: make it one file. */
    if (fresh && query_text(db, "PRAGMA journal_mode=DELETE", buf, sizeof buf, &src)) {
        rc = fail(read_code(src), db, src, "backup %s", path);
        goto out;
    }
    if (query_text(db, "PRAGMA quick_check", buf, sizeof buf, &src)) {
        rc = (src & 0xff) == SQLITE_NOTADB
                 ? cm__error_set(CM_ECORRUPT, "%s is not an SQLite database (not a backup)", path)
                 : fail(read_code(src), db, src, "backup %s is damaged", path);
        goto out;
    }
    if (strcmp(buf, "ok") != 0) {
        rc = cm__error_set(CM_ECORRUPT, "backup %s is damaged: %s", path, buf);
        goto out;
    }
    if (query_text(db, "SELECT max(version) FROM cm_migrations", buf, sizeof buf, &src) ||
        !buf[0]) {
        rc = cm__error_set(CM_ECORRUPT,
                           "%s is an SQLite database but not a libcommunity backup (no "
                           "applied migrations)",
                           path);
        goto out;
    }
    long long version = strtoll(buf, NULL, 10), latest = 0;
    for (const cm__migration *m = cm__sqlite_migrations; m->version; m++)
        latest = m->version > latest ? m->version : latest;
    if (version > latest)
        rc = cm__error_set(CM_ESCHEMA,
                           "backup %s has schema version %lld; this library knows up to %lld "
                           "(restore it with a newer libcommunity)",
                           path, version, latest);
out:
    sqlite3_close(db);
    return rc;
}

/* The file of an sqlite: URI or path, read as sq_init reads it; NULL for :memory:. */
static const char *uri_path(const char *uri)
{
    const char *p = cm__sqlite_uri_path(uri);
    return strcmp(p, ":memory:") == 0 ? NULL : p;
}

/* Remove what a failed restore created where there was no database. */
static void remove_created(const char *path)
{
    static const char *const side[] = {"", "-journal", "-wal", "-shm"};
    char p[4096];
    for (size_t i = 0; i < sizeof side / sizeof side[0]; i++) {
        int n = snprintf(p, sizeof p, "%s%s", path, side[i]);
        if (n > 0 && (size_t)n < sizeof p)
            (void)unlink(p);
    }
}

int cm__sqlite_restore(const char *uri, const char *src_path, uint32_t flags)
{
    const char *path = uri_path(uri);
    if (!path)
        return cm__error_set_field(CM_EINVAL, "uri", "cannot restore into an in-memory database");
    if (!*path)
        return cm__error_set_field(CM_EINVAL, "uri", "sqlite URI has no path");
    bool force = flags & CM_RESTORE_FORCE;
    struct stat sb;
    bool existed = stat(path, &sb) == 0;
    sqlite3 *from = NULL, *to = NULL;
    int rc = CM_OK, src;
    char buf[64];

    src = sqlite3_open_v2(src_path, &from, SQLITE_OPEN_READONLY, NULL);
    if (src != SQLITE_OK) {
        rc = fail(read_code(src), from, src, "restore: cannot open %s", src_path);
        goto out;
    }
    src = sqlite3_open_v2(path, &to, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
    if (src != SQLITE_OK) {
        rc = fail(src == SQLITE_CANTOPEN ? CM_EIO : read_code(src), to, src,
                  "restore: cannot open the target %s", path);
        goto out;
    }
    sqlite3_extended_result_codes(to, 1);
    sqlite3_busy_timeout(to, RESTORE_BUSY_MS);

    /* Every store opens its database in WAL mode, and leaving WAL mode needs
     * the only connection: that tells whether anyone else has it open. */
    if (query_text(to, "PRAGMA journal_mode", buf, sizeof buf, &src)) {
        rc = fail((src & 0xff) == SQLITE_NOTADB ? CM_ECORRUPT : read_code(src), to, src,
                  "restore: cannot read the target %s", path);
        goto out;
    }
    bool left_wal = false;
    if (strcmp(buf, "wal") == 0 && !force) {
        sqlite3_busy_timeout(to, 0);
        if (query_text(to, "PRAGMA journal_mode=DELETE", buf, sizeof buf, &src)) {
            rc = (src & 0xff) == SQLITE_BUSY || (src & 0xff) == SQLITE_LOCKED
                     ? cm__error_set(CM_EBUSY,
                                     "restore: the target %s is open in another connection "
                                     "or process (stop it first, or force it)",
                                     path)
                     : fail(read_code(src), to, src, "restore: target %s", path);
            goto out;
        }
        left_wal = true;
        sqlite3_busy_timeout(to, RESTORE_BUSY_MS);
    }
    if (query_text(to, "SELECT count(*) FROM sqlite_master WHERE type = 'table'", buf, sizeof buf,
                   &src)) {
        rc = fail(read_code(src), to, src, "restore: cannot read the target %s", path);
        goto out;
    }
    if (strcmp(buf, "0") != 0 && !force) {
        rc = cm__error_set_field(CM_EEXISTS, "uri",
                                 "restore: the target %s already holds %s tables (restore "
                                 "into a new database, or force it)",
                                 path, buf);
        if (left_wal) /* as it was */
            (void)query_text(to, "PRAGMA journal_mode=WAL", NULL, 0, &src);
        goto out;
    }

    /* One write transaction on the target: all of the backup or nothing. */
    sqlite3_backup *b = sqlite3_backup_init(to, "main", from, "main");
    if (!b) {
        rc = fail(CM_EBACKEND, to, 0, "restore: into %s", path);
        goto out;
    }
    int waited = 0;
    for (;;) {
        src = sqlite3_backup_step(b, -1);
        if ((src != SQLITE_BUSY && src != SQLITE_LOCKED) || waited >= RESTORE_BUSY_MS)
            break;
        sqlite3_sleep(10);
        waited += 10;
    }
    int fin = sqlite3_backup_finish(b);
    if (src != SQLITE_DONE) {
        int prim = src & 0xff;
        if (prim == SQLITE_READONLY) /* WAL target with another page size */
            rc = cm__error_set(CM_EBUSY,
                               "restore: the target %s is in WAL mode with another page "
                               "size: close every connection to it and restore without "
                               "forcing",
                               path);
        else
            rc = fail(prim == SQLITE_BUSY || prim == SQLITE_LOCKED  ? CM_EBUSY
                      : prim == SQLITE_NOMEM                        ? CM_ENOMEM
                      : prim == SQLITE_IOERR || prim == SQLITE_FULL ? CM_EIO
                                                                    : CM_EBACKEND,
                      NULL, src, "restore: copying into %s failed", path);
    } else if (fin != SQLITE_OK) {
        rc = fail(CM_EBACKEND, to, fin, "restore: into %s", path);
    }
out:;
    cm__error_saved saved;
    cm__error_save(&saved);
    sqlite3_close(from);
    sqlite3_close(to);
    if (rc && !existed)
        remove_created(path);
    cm__error_restore(&saved);
    return rc;
}
