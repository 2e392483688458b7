/*
 * blob.c - the object storage interface (blob.h): key shapes, argument
 * checks and dispatch to the fs and s3 backends.
 */
#include "blob.h"

#include "../util/sigv4.h"

#include <string.h>

static bool lower_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return s[n] == '\0';
}

bool cm__blob_key_valid(const char *key)
{
    if (!key)
        return false;
    if (strncmp(key, "sha256/", 7) == 0)
        return lower_hex(key + 7, 64);
    if (strncmp(key, "upload/", 7) == 0)
        return lower_hex(key + 7, 32);
    return false;
}

void cm__blob_key_of(char out[72], const void *p, size_t n)
{
    memcpy(out, "sha256/", 7);
    cm__sha256_hex(out + 7, p, n);
}

int cm__blob_upload_key(char out[40])
{
    uint8_t r[16];
    int rc = cm__random_bytes(r, sizeof r);
    if (rc)
        return rc;
    static const char hex[] = "0123456789abcdef";
    memcpy(out, "upload/", 7);
    for (int i = 0; i < 16; i++) {
        out[7 + 2 * i] = hex[r[i] >> 4];
        out[8 + 2 * i] = hex[r[i] & 15];
    }
    out[39] = '\0';
    return CM_OK;
}

int cm__blobs_open(cm__blobs **out, const cm__blob_config *c)
{
    *out = NULL;
    if (!c || (!c->fs_root == !c->s3_endpoint))
        return cm__error_set(CM_EINVAL, "blob storage: set either a directory or an S3 endpoint");
    cm__blobs *b = cm__calloc(1, sizeof *b);
    if (!b)
        return cm__oom();
    int rc = c->fs_root ? cm__blob_fs_open(b, c) : cm__blob_s3_open(b, c);
    if (rc) {
        cm__free(b);
        return rc;
    }
    *out = b;
    return CM_OK;
}

void cm__blobs_close(cm__blobs *b)
{
    if (!b)
        return;
    b->ops->close(b);
    cm__free(b);
}

const char *cm__blobs_kind(const cm__blobs *b)
{
    return b->ops->name;
}

static int bad_key(void)
{
    return cm__error_set(CM_EINVAL, "blob storage: not a storage key the library made");
}

int cm__blobs_put(cm__blobs *b, char **version_out, const char *key, const void *p, size_t n,
                  const char *content_type)
{
    if (version_out)
        *version_out = NULL;
    if (!cm__blob_key_valid(key))
        return bad_key();
    return b->ops->put(b, version_out, key, p, n, content_type);
}

int cm__blobs_get(cm__blobs *b, void **out, size_t *n_out, const char *key, size_t max)
{
    *out = NULL;
    *n_out = 0;
    if (!cm__blob_key_valid(key))
        return bad_key();
    return b->ops->get(b, out, n_out, key, max);
}

int cm__blobs_delete(cm__blobs *b, const char *key)
{
    if (!cm__blob_key_valid(key))
        return bad_key();
    return b->ops->del(b, key);
}

int cm__blobs_presign(cm__blobs *b, char **url_out, const char *method, const char *key,
                      const char *content_type, int64_t expires_s, int64_t now_us)
{
    *url_out = NULL;
    if (!cm__blob_key_valid(key))
        return bad_key();
    if (!method || (strcmp(method, "GET") != 0 && strcmp(method, "PUT") != 0))
        return cm__error_set(CM_EINVAL, "blob storage: presigned URLs are for GET or PUT");
    if (!b->ops->presign)
        return cm__error_set(CM_ENOTSUP,
                             "blob storage: %s storage has no presigned URLs (upload through the "
                             "server instead)",
                             b->ops->name);
    return b->ops->presign(b, url_out, method, key, content_type, expires_s, now_us);
}
