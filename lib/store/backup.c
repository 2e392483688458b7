/*
 * backup.c - cm_store_backup() and cm_store_restore(): the part that does
 * not depend on the backend (argument checks, the temporary file beside
 * the destination that is checked, synced and moved into place only when
 * complete, a first look at what a file to restore is) around the
 * backends' backup, check_backup and restore hooks (backend.h).
 *
 * SQLite: lib/store/sqlite/backend_sqlite.c (backup, the online backup
 * API) and lib/store/sqlite/backup_sqlite.c (check, restore).
 * PostgreSQL: lib/store/pg/backup_pg.c (pg_dump / pg_restore).
 */
#include "store_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* True when the backend was built with the hook and sets it. */
#define HAS_HOOK(ops, f)                                                                           \
    ((ops)->size >= offsetof(cm__store_ops, f) + sizeof((ops)->f) && (ops)->f != NULL)

/* fsync a file, or a directory (so that a new name in it is durable). */
static int sync_path(const char *path, bool dir)
{
    int fd = open(path, O_RDONLY | (dir ? O_DIRECTORY : 0));
    if (fd < 0)
        return cm__error_set(CM_EIO, "cannot open %s to sync it: %s", path, strerror(errno));
    int rc =
        fsync(fd) == 0 ? CM_OK : cm__error_set(CM_EIO, "cannot sync %s: %s", path, strerror(errno));
    close(fd);
    return rc;
}

/* The directory part of path ("." when it has none); cm__free it. */
static char *dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return cm__strdup(".");
    return cm__strndup(path, slash == path ? 1 : (size_t)(slash - path));
}

/* Give the complete temporary file its final name without replacing a file
 * that appeared meanwhile: link() refuses an existing name; rename() is the
 * fallback on file systems without hard links. */
static int place(const char *tmp, const char *dest)
{
    if (link(tmp, dest) == 0) {
        (void)unlink(tmp);
        return CM_OK;
    }
    if (errno == EEXIST)
        return cm__error_set_field(CM_EEXISTS, "dest_path", "backup: %s already exists", dest);
    if (rename(tmp, dest) == 0)
        return CM_OK;
    return cm__error_set(CM_EIO, "backup: cannot move the backup to %s: %s", dest, strerror(errno));
}

/* Remove a temporary backup and whatever SQLite may have left beside it. */
static void remove_tmp(const char *tmp)
{
    static const char *const side[] = {"", "-journal", "-wal", "-shm"};
    char p[4096];
    for (size_t i = 0; i < sizeof side / sizeof side[0]; i++) {
        int n = snprintf(p, sizeof p, "%s%s", tmp, side[i]);
        if (n > 0 && (size_t)n < sizeof p)
            (void)unlink(p);
    }
}

int cm_store_backup(cm_store *store, const char *dest_path)
{
    if (!store)
        return cm__error_set(CM_EINVAL, "cm_store_backup: store is NULL");
    if (!dest_path || !*dest_path)
        return cm__error_set_field(CM_EINVAL, "dest_path", "cm_store_backup: no destination");
    const cm__store_ops *ops = store->ops;
    if (!ops->backup || !HAS_HOOK(ops, check_backup))
        return cm__error_set(CM_ENOTSUP, "the %s backend cannot make backups", ops->name);
    struct stat sb;
    if (lstat(dest_path, &sb) == 0)
        return cm__error_set_field(CM_EEXISTS, "dest_path",
                                   "backup: %s already exists (a backup goes to a new file)",
                                   dest_path);
    if (errno != ENOENT)
        return cm__error_set_field(CM_EIO, "dest_path", "backup: %s: %s", dest_path,
                                   strerror(errno));

    size_t n = strlen(dest_path) + sizeof ".tmp-XXXXXX";
    char *tmp = cm__malloc(n);
    if (!tmp)
        return cm__error_set(CM_ENOMEM, "out of memory");
    (void)snprintf(tmp, n, "%s.tmp-XXXXXX", dest_path);
    int fd = mkstemp(tmp); /* mode 0600: a backup holds personal data */
    if (fd < 0) {
        int e = errno;
        cm__free(tmp);
        return cm__error_set_field(e == ENOENT ? CM_ENOTFOUND : CM_EIO, "dest_path",
                                   "backup: cannot create a file beside %s: %s", dest_path,
                                   strerror(e));
    }
    close(fd);

    cm__conn *c;
    int rc = cm__store_acquire(&c, store);
    if (rc == CM_OK) {
        rc = ops->backup(c, tmp);
        cm__store_release(c);
    }
    if (rc == CM_OK)
        rc = ops->check_backup(tmp, true);
    if (rc == CM_OK)
        rc = sync_path(tmp, false);
    if (rc == CM_OK)
        rc = place(tmp, dest_path);
    if (rc == CM_OK) {
        char *dir = dir_of(dest_path);
        rc = dir ? sync_path(dir, true) : cm__error_set(CM_ENOMEM, "out of memory");
        cm__free(dir);
        if (rc == CM_OK)
            cm__log(CM_LOG_INFO, "store", "backup of %s written to %s", store->uri_redacted,
                    dest_path);
    }
    if (rc) {
        cm__error_saved saved;
        cm__error_save(&saved);
        remove_tmp(tmp);
        cm__error_restore(&saved);
    }
    cm__free(tmp);
    return rc;
}

/* Refuse early, with a useful message, a backup of the other backend. */
static int sniff(const char *src, const cm__store_ops *ops)
{
    unsigned char head[16] = {0};
    FILE *f = fopen(src, "rb");
    if (!f)
        return cm__error_set_field(errno == ENOENT ? CM_ENOTFOUND : CM_EIO, "src_path",
                                   "restore: cannot read %s: %s", src, strerror(errno));
    size_t got = fread(head, 1, sizeof head, f);
    fclose(f);
    bool is_sqlite = got == 16 && memcmp(head, "SQLite format 3", 16) == 0;
    bool is_pgdump = got >= 5 && memcmp(head, "PGDMP", 5) == 0;
    if (is_sqlite && strcmp(ops->name, "sqlite") != 0)
        return cm__error_set_field(CM_EINVAL, "src_path",
                                   "restore: %s is an SQLite backup; restore it into a "
                                   "sqlite:// database",
                                   src);
    if (is_pgdump && strcmp(ops->name, "pg") != 0)
        return cm__error_set_field(CM_EINVAL, "src_path",
                                   "restore: %s is a PostgreSQL (pg_dump) backup; restore it "
                                   "into a postgresql:// database",
                                   src);
    return CM_OK;
}

int cm_store_restore(const char *uri, const char *src_path, uint32_t flags)
{
    if (!uri || !*uri)
        return cm__error_set_field(CM_EINVAL, "uri", "cm_store_restore: empty URI");
    if (!src_path || !*src_path)
        return cm__error_set_field(CM_EINVAL, "src_path", "cm_store_restore: no backup file");
    if (flags & ~(uint32_t)CM_RESTORE_FORCE)
        return cm__error_set(CM_EINVAL, "cm_store_restore: unknown flags 0x%x", (unsigned)flags);
    const cm__store_ops *ops = cm__store_ops_for_uri(uri);
    if (!ops)
        return cm__error_set_field(CM_ENOTSUP, "uri",
                                   "unsupported database URI scheme (use sqlite:// or "
                                   "postgresql://)");
    if (!HAS_HOOK(ops, restore) || !HAS_HOOK(ops, check_backup))
        return cm__error_set(CM_ENOTSUP, "the %s backend cannot restore backups", ops->name);
    struct stat sb;
    if (stat(src_path, &sb) != 0)
        return cm__error_set_field(errno == ENOENT ? CM_ENOTFOUND : CM_EIO, "src_path",
                                   "restore: %s: %s", src_path, strerror(errno));
    if (!S_ISREG(sb.st_mode))
        return cm__error_set_field(CM_EINVAL, "src_path", "restore: %s is not a regular file",
                                   src_path);
    int rc = sniff(src_path, ops);
    if (rc == CM_OK)
        rc = ops->check_backup(src_path, false);
    if (rc == CM_OK)
        rc = ops->restore(uri, src_path, flags);
    if (rc == CM_OK)
        cm__log(CM_LOG_INFO, "store", "restored %s (%s)", src_path, ops->name);
    return rc;
}
