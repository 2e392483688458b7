/*
 * backup.c - cm_store_backup() and cm_store_restore(): the part that does
 * not depend on the backend (argument checks, the temporary file beside
 * the destination that is checked, synced and moved into place only when
 * complete, the SHA-256 checksum file written beside every backup and
 * verified before a restore touches its target, the removal of what an
 * interrupted backup left, a first look at what a file to restore is)
 * around the backends' backup, check_backup and restore hooks (backend.h).
 *
 * Temporary files are named <dest>.cm-backup-tmp-XXXXXX and held under an
 * flock(2) lock while in use; the lock goes with the process that holds it,
 * so a later backup into the same directory removes the ones nobody holds
 * (a killed run's). The checksum file <dest>.sha256 has sha256sum's format.
 *
 * SQLite: lib/store/sqlite/backend_sqlite.c (backup, the online backup
 * API) and lib/store/sqlite/backup_sqlite.c (check, restore).
 * PostgreSQL: lib/store/pg/backup_pg.c (pg_dump / pg_restore).
 */
#include "store_int.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define TMP_MARK ".cm-backup-tmp-" /* <dest>.cm-backup-tmp-XXXXXX */
#define SUM_EXT ".sha256"

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

/* "<a><b>" in new memory (cm__free), or NULL. */
static char *concat(const char *a, const char *b)
{
    size_t na = strlen(a), nb = strlen(b);
    char *p = cm__malloc(na + nb + 1);
    if (p) {
        memcpy(p, a, na);
        memcpy(p + na, b, nb + 1);
    }
    return p;
}

/* Create base + TMP_MARK + XXXXXX (mode 0600) and lock it; *fd_out keeps
 * the lock until closed. */
static int make_tmp(char **out, int *fd_out, const char *base)
{
    *out = NULL;
    *fd_out = -1;
    char *tmp = concat(base, TMP_MARK "XXXXXX");
    if (!tmp)
        return cm__oom();
    int fd = mkstemp(tmp);
    if (fd < 0) {
        int e = errno;
        cm__free(tmp);
        return cm__error_set_field(e == ENOENT ? CM_ENOTFOUND : CM_EIO, "dest_path",
                                   "backup: cannot create a file beside %s: %s", base, strerror(e));
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        close(fd);
        (void)unlink(tmp);
        cm__free(tmp);
        return cm__error_set(CM_EIO, "backup: cannot lock a temporary file: %s", strerror(e));
    }
    *out = tmp;
    *fd_out = fd;
    return CM_OK;
}

/* Remove the temporary files in dest's directory that an interrupted
 * backup left: those no process holds locked. An empty one is left alone
 * (a backup may have just created it and not locked it yet). */
static void remove_stale_tmp(const char *dest)
{
    char *dir = dir_of(dest);
    DIR *d = dir ? opendir(dir) : NULL;
    if (!d) {
        cm__free(dir);
        return;
    }
    struct dirent *e;
    while ((e = readdir(d))) {
        const char *mark = strstr(e->d_name, TMP_MARK);
        if (!mark || strlen(mark + strlen(TMP_MARK)) != 6)
            continue;
        char path[4096];
        int n = snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (n < 0 || (size_t)n >= sizeof path)
            continue;
        int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
            continue;
        struct stat sb;
        if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_size > 0 &&
            flock(fd, LOCK_EX | LOCK_NB) == 0) {
            remove_tmp(path);
            cm__log(CM_LOG_INFO, "store", "removed %s, left by an interrupted backup", path);
        }
        close(fd);
    }
    closedir(d);
    cm__free(dir);
}

/* SHA-256 of a file's bytes as 64 lower-case hex digits. */
static int sha256_file(char hex[65], const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return cm__error_set(errno == ENOENT ? CM_ENOTFOUND : CM_EIO, "cannot read %s: %s", path,
                             strerror(errno));
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    unsigned char buf[16384];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) != 0) {
        if (n < 0) {
            if (errno == EINTR)
                continue;
            int e = errno;
            close(fd);
            return cm__error_set(CM_EIO, "cannot read %s: %s", path, strerror(e));
        }
        crypto_hash_sha256_update(&st, buf, (unsigned long long)n);
    }
    close(fd);
    unsigned char h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_final(&st, h);
    for (size_t i = 0; i < sizeof h; i++)
        (void)snprintf(hex + 2 * i, 3, "%02x", h[i]);
    return CM_OK;
}

/* Write "<hex>  <name of dest>\n" (sha256sum's format) to fd and sync it. */
static int write_sum(int fd, const char *hex, const char *dest)
{
    const char *slash = strrchr(dest, '/');
    const char *name = slash ? slash + 1 : dest;
    char line[4200];
    int n = snprintf(line, sizeof line, "%s  %s\n", hex, name);
    if (n < 0 || (size_t)n >= sizeof line)
        return cm__error_set_field(CM_EINVAL, "dest_path", "backup: destination name too long");
    for (size_t w = 0; w < (size_t)n;) {
        ssize_t k = write(fd, line + w, (size_t)n - w);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return cm__error_set(CM_EIO, "backup: cannot write the checksum file: %s",
                                 strerror(errno));
        w += (size_t)k;
    }
    return fsync(fd) == 0 ? CM_OK
                          : cm__error_set(CM_EIO, "backup: cannot sync the checksum file: %s",
                                          strerror(errno));
}

int cm_store_backup(cm_store *store, const char *dest_path)
{
    if (!store)
        return cm__error_set(CM_EINVAL, "cm_store_backup: store is NULL");
    if (!dest_path || !*dest_path)
        return cm__error_set_field(CM_EINVAL, "dest_path", "cm_store_backup: no destination");
    const cm__store_ops *ops = store->ops;
    if (!ops->backup || !CM__STORE_HAS_HOOK(ops, check_backup))
        return cm__error_set(CM_ENOTSUP, "the %s backend cannot make backups", ops->name);
    char *sum_path = concat(dest_path, SUM_EXT);
    if (!sum_path)
        return cm__oom();
    const char *check[] = {dest_path, sum_path};
    for (int i = 0; i < 2; i++) {
        struct stat sb;
        int rc = CM_OK;
        if (lstat(check[i], &sb) == 0)
            rc = cm__error_set_field(CM_EEXISTS, "dest_path",
                                     "backup: %s already exists (a backup goes to a new file)",
                                     check[i]);
        else if (errno != ENOENT)
            rc = cm__error_set_field(CM_EIO, "dest_path", "backup: %s: %s", check[i],
                                     strerror(errno));
        if (rc) {
            cm__free(sum_path);
            return rc;
        }
    }
    remove_stale_tmp(dest_path);

    char *tmp = NULL, *sum_tmp = NULL, hex[65];
    int fd = -1, sum_fd = -1;
    bool placed = false;
    int rc = make_tmp(&tmp, &fd, dest_path);
    cm__conn *c;
    if (rc == CM_OK && (rc = cm__store_acquire(&c, store)) == CM_OK) {
        rc = ops->backup(c, tmp);
        cm__store_release(c);
    }
    if (rc == CM_OK)
        rc = ops->check_backup(tmp, true);
    if (rc == CM_OK)
        rc = sync_path(tmp, false);
    if (rc == CM_OK)
        rc = sha256_file(hex, tmp);
    if (rc == CM_OK)
        rc = make_tmp(&sum_tmp, &sum_fd, sum_path);
    if (rc == CM_OK)
        rc = write_sum(sum_fd, hex, dest_path);
    if (rc == CM_OK && (rc = place(tmp, dest_path)) == CM_OK) {
        placed = true;
        rc = place(sum_tmp, sum_path);
    }
    if (rc == CM_OK) {
        char *dir = dir_of(dest_path);
        rc = dir ? sync_path(dir, true) : cm__oom();
        cm__free(dir);
        if (rc == CM_OK)
            cm__log(CM_LOG_INFO, "store", "backup of %s written to %s (checksum in %s)",
                    store->uri_redacted, dest_path, sum_path);
    }
    if (rc) {
        cm__error_saved saved;
        cm__error_save(&saved);
        if (tmp)
            remove_tmp(tmp);
        if (sum_tmp)
            (void)unlink(sum_tmp);
        if (placed) {
            (void)unlink(dest_path);
            (void)unlink(sum_path);
        }
        cm__error_restore(&saved);
    }
    if (fd >= 0)
        close(fd);
    if (sum_fd >= 0)
        close(sum_fd);
    cm__free(tmp);
    cm__free(sum_tmp);
    cm__free(sum_path);
    return rc;
}

/* The backup's bytes must match the checksum file written with it. */
static int verify_sum(const char *src)
{
    char *sum_path = concat(src, SUM_EXT);
    if (!sum_path)
        return cm__oom();
    int rc = CM_OK;
    char want[80] = "", have[65];
    FILE *f = fopen(sum_path, "rb");
    if (!f) {
        rc = errno == ENOENT
                 ? cm__error_set_field(CM_ECORRUPT, "src_path",
                                       "restore: %s has no checksum file %s, so it cannot be "
                                       "verified (not a backup of cm_store_backup, or copied "
                                       "without it)",
                                       src, sum_path)
                 : cm__error_set_field(CM_EIO, "src_path", "restore: cannot read %s: %s", sum_path,
                                       strerror(errno));
        goto out;
    }
    size_t got = fread(want, 1, 64, f);
    fclose(f);
    want[got] = '\0';
    bool hex = got == 64;
    for (size_t i = 0; hex && i < 64; i++) {
        if (!isxdigit((unsigned char)want[i]))
            hex = false;
        want[i] = (char)tolower((unsigned char)want[i]);
    }
    if (!hex) {
        rc = cm__error_set_field(CM_ECORRUPT, "src_path",
                                 "restore: %s does not hold a SHA-256 checksum", sum_path);
        goto out;
    }
    if ((rc = sha256_file(have, src)))
        goto out;
    if (strcmp(have, want) != 0)
        rc = cm__error_set_field(CM_ECORRUPT, "src_path",
                                 "restore: %s does not match its checksum (%s): the file is "
                                 "damaged or incomplete",
                                 src, sum_path);
out:
    cm__free(sum_path);
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
                                   "unsupported database URI scheme (use sqlite://, "
                                   "postgresql:// or a file path)");
    if (!CM__STORE_HAS_HOOK(ops, restore) || !CM__STORE_HAS_HOOK(ops, check_backup))
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
        rc = verify_sum(src_path);
    if (rc == CM_OK)
        rc = ops->check_backup(src_path, false);
    if (rc == CM_OK)
        rc = ops->restore(uri, src_path, flags);
    if (rc == CM_OK)
        cm__log(CM_LOG_INFO, "store", "restored %s (%s)", src_path, ops->name);
    return rc;
}
