/*
 * fs.c - the local-directory blob backend (blob.h), the embedded default.
 *
 * Layout under the root (made on open, mode 0750):
 *   objects/<aa>/<64 hex>   content-addressed objects ("sha256/<hex>")
 *   uploads/<32 hex>        staging objects ("upload/<hex>")
 *   tmp/                    files being written
 * Paths are built only from validated keys (fixed shapes of lowercase hex),
 * never from user input. A write goes to a fresh file in tmp/ (O_EXCL), is
 * fsynced, renamed over its final name and the directory fsynced: a reader
 * sees either no object or the whole object, also after a crash.
 */
#include "blob.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct fs_state {
    char *root;
} fs_state;

static int io_error(const char *what, const char *path)
{
    return cm__error_set(CM_EIO, "blob storage: %s %s: %s", what, path, strerror(errno));
}

static int mkdir_p(const char *path)
{
    if (mkdir(path, 0750) == 0 || errno == EEXIST)
        return CM_OK;
    return io_error("cannot create", path);
}

/* The file path of a valid key into out (PATH_MAX-sized), its directory into dir. */
static void key_path(char *out, size_t cap, char *dir, size_t dcap, const fs_state *s,
                     const char *key)
{
    if (key[0] == 's') {
        const char *h = key + 7;
        snprintf(dir, dcap, "%s/objects/%.2s", s->root, h);
        snprintf(out, cap, "%s/%s", dir, h);
    } else {
        snprintf(dir, dcap, "%s/uploads", s->root);
        snprintf(out, cap, "%s/%s", dir, key + 7);
    }
}

static int fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return io_error("cannot open", dir);
    int rc = fsync(fd) == 0 ? CM_OK : io_error("cannot sync", dir);
    close(fd);
    return rc;
}

static int fs_put(cm__blobs *b, char **version_out, const char *key, const void *p, size_t n,
                  const char *content_type)
{
    fs_state *s = b->state;
    char path[4096], dir[4096], tmp[4096];
    key_path(path, sizeof path, dir, sizeof dir, s, key);
    struct stat st;
    if (key[0] == 's' && stat(path, &st) == 0 && (size_t)st.st_size == n)
        return CM_OK; /* content-addressed: already there */
    int rc = mkdir_p(dir);
    if (rc)
        return rc;
    uint8_t r[8];
    if ((rc = cm__random_bytes(r, sizeof r)))
        return rc;
    snprintf(tmp, sizeof tmp, "%s/tmp/%02x%02x%02x%02x%02x%02x%02x%02x.part", s->root, r[0], r[1],
             r[2], r[3], r[4], r[5], r[6], r[7]);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
    if (fd < 0)
        return io_error("cannot create", tmp);
    const char *c = p;
    size_t left = n;
    while (left > 0) {
        ssize_t w = write(fd, c, left);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            rc = io_error("cannot write", tmp);
            break;
        }
        c += w;
        left -= (size_t)w;
    }
    if (!rc && fsync(fd) != 0)
        rc = io_error("cannot sync", tmp);
    if (close(fd) != 0 && !rc)
        rc = io_error("cannot close", tmp);
    if (!rc && rename(tmp, path) != 0)
        rc = io_error("cannot rename into", path);
    if (rc) {
        unlink(tmp);
        return rc;
    }
    return fsync_dir(dir);
}

static int fs_get(cm__blobs *b, void **out, size_t *n_out, const char *key, size_t max)
{
    fs_state *s = b->state;
    char path[4096], dir[4096];
    key_path(path, sizeof path, dir, sizeof dir, s, key);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return cm__error_set(CM_ENOTFOUND, "blob storage: no object %s", key);
        return io_error("cannot open", path);
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int rc = io_error("cannot stat", path);
        close(fd);
        return rc;
    }
    if ((uint64_t)st.st_size > max) {
        close(fd);
        return cm__error_set(CM_ERANGE, "blob storage: object %s has %lld bytes, more than %zu",
                             key, (long long)st.st_size, max);
    }
    size_t n = (size_t)st.st_size;
    char *buf = cm__malloc(n + 1);
    if (!buf) {
        close(fd);
        return cm__oom();
    }
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, buf + got, n - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            int rc = r < 0 ? io_error("cannot read", path)
                           : cm__error_set(CM_EIO, "blob storage: %s is shorter than it was", path);
            cm__free(buf);
            close(fd);
            return rc;
        }
        got += (size_t)r;
    }
    close(fd);
    buf[n] = '\0';
    *out = buf;
    *n_out = n;
    return CM_OK;
}

static int fs_del(cm__blobs *b, const char *key)
{
    fs_state *s = b->state;
    char path[4096], dir[4096];
    key_path(path, sizeof path, dir, sizeof dir, s, key);
    if (unlink(path) != 0 && errno != ENOENT)
        return io_error("cannot delete", path);
    return CM_OK;
}

static void fs_close(cm__blobs *b)
{
    fs_state *s = b->state;
    if (s)
        cm__free(s->root);
    cm__free(s);
}

static const cm__blob_ops fs_ops = {
    .name = "fs",
    .put = fs_put,
    .get = fs_get,
    .del = fs_del,
    .presign = NULL,
    .close = fs_close,
};

int cm__blob_fs_open(cm__blobs *b, const cm__blob_config *c)
{
    size_t n = strlen(c->fs_root);
    if (n == 0 || n > 3000)
        return cm__error_set(CM_EINVAL, "blob storage: the directory name is empty or too long");
    fs_state *s = cm__calloc(1, sizeof *s);
    if (!s)
        return cm__oom();
    s->root = cm__strdup(c->fs_root);
    if (!s->root) {
        cm__free(s);
        return cm__oom();
    }
    while (n > 1 && s->root[n - 1] == '/')
        s->root[--n] = '\0';
    char sub[4096];
    int rc = mkdir_p(s->root);
    const char *subs[] = {"objects", "uploads", "tmp"};
    for (size_t i = 0; !rc && i < 3; i++) {
        snprintf(sub, sizeof sub, "%s/%s", s->root, subs[i]);
        rc = mkdir_p(sub);
    }
    if (rc) {
        cm__free(s->root);
        cm__free(s);
        return rc;
    }
    b->ops = &fs_ops;
    b->state = s;
    return CM_OK;
}
