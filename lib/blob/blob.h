/*
 * blob.h - object storage for uploaded files (internal): one interface, two
 * backends. "fs" keeps objects in a local directory (the embedded default);
 * "s3" talks to an S3-compatible service over libcurl, signed with SigV4
 * (util/sigv4.h), with multipart upload for large objects and presigned
 * URLs so that browsers upload to and download from the bucket directly.
 *
 * Keys are made by the library, never taken from user input, and every
 * backend refuses any other shape (cm__blob_key_valid):
 *   "sha256/<64 lowercase hex>"  content-addressed objects (cm__blob_key_of)
 *   "upload/<32 lowercase hex>"  staging objects that a browser PUTs to
 *                                through a presigned URL (cm__blob_upload_key)
 * A content-addressed object never changes: putting the same bytes again
 * is a no-op on fs and an identical overwrite on S3.
 *
 * A cm__blobs is thread-safe: every call uses its own curl handle or file
 * descriptors.
 */
#ifndef CM_BLOB_H
#define CM_BLOB_H

#include "../util/util.h"

#include <stddef.h>
#include <stdint.h>

typedef struct cm__blobs cm__blobs;

/* Configuration (strings are copied by cm__blobs_open). Exactly one of
 * fs_root or s3_endpoint is set. */
typedef struct cm__blob_config {
    const char *fs_root;
    const char *s3_endpoint; /* "https://s3.eu-west-1.amazonaws.com", "http://127.0.0.1:4568" */
    const char *s3_bucket;
    const char *s3_region;
    const char *s3_access_key;
    const char *s3_secret_key;
    const char *s3_session_token;
    bool s3_virtual_host;        /* bucket.host/key instead of host/bucket/key */
    int64_t multipart_threshold; /* bytes; objects this large go in parts */
    int64_t part_size;           /* bytes per part, >= 5 MiB (S3's minimum) */
} cm__blob_config;

/* Open a backend. CM_OK, CM_EINVAL (bad configuration, with the detail),
 * CM_EIO (fs_root cannot be created), CM_ENOMEM. */
int cm__blobs_open(cm__blobs **out, const cm__blob_config *c);
void cm__blobs_close(cm__blobs *b);
/* "fs" or "s3". */
const char *cm__blobs_kind(const cm__blobs *b);

/* Key shapes. */
bool cm__blob_key_valid(const char *key);
/* "sha256/<hex>" of p[0..n); out holds 72 bytes. */
void cm__blob_key_of(char out[72], const void *p, size_t n);
/* A fresh random staging key "upload/<hex>"; out holds 40 bytes. */
int cm__blob_upload_key(char out[40]);

/* Store p[0..n) under key with its content type. *version_out (may be
 * NULL) gets the S3 version id when the bucket keeps versions, else NULL;
 * free with cm__free. CM_OK, CM_EINVAL (bad key), CM_EIO (the backend
 * failed: detail has its message), CM_EAUTH (S3 refused the credentials),
 * CM_ENOMEM. */
int cm__blobs_put(cm__blobs *b, char **version_out, const char *key, const void *p, size_t n,
                  const char *content_type);
/* Read a whole object into *out (cm__free) and its size into *n_out.
 * CM_ENOTFOUND, CM_ERANGE when it is larger than max bytes (nothing kept),
 * CM_EINVAL, CM_EIO, CM_EAUTH, CM_ENOMEM. */
int cm__blobs_get(cm__blobs *b, void **out, size_t *n_out, const char *key, size_t max);
/* Delete an object; a missing one is CM_OK. CM_EINVAL, CM_EIO, CM_EAUTH. */
int cm__blobs_delete(cm__blobs *b, const char *key);
/* A URL that lets its holder PUT (content_type given: the upload must send
 * that Content-Type) or GET key for expires_s seconds from now_us.
 * CM_ENOTSUP on fs, CM_EINVAL, CM_ENOMEM. */
int cm__blobs_presign(cm__blobs *b, char **url_out, const char *method, const char *key,
                      const char *content_type, int64_t expires_s, int64_t now_us);

/* Backend vtable (blob.c dispatches; fs.c and s3.c implement). */
typedef struct cm__blob_ops {
    const char *name;
    int (*put)(cm__blobs *b, char **version_out, const char *key, const void *p, size_t n,
               const char *content_type);
    int (*get)(cm__blobs *b, void **out, size_t *n_out, const char *key, size_t max);
    int (*del)(cm__blobs *b, const char *key);
    int (*presign)(cm__blobs *b, char **url_out, const char *method, const char *key,
                   const char *content_type, int64_t expires_s, int64_t now_us);
    void (*close)(cm__blobs *b);
} cm__blob_ops;

struct cm__blobs {
    const cm__blob_ops *ops;
    void *state;
};

int cm__blob_fs_open(cm__blobs *b, const cm__blob_config *c);
int cm__blob_s3_open(cm__blobs *b, const cm__blob_config *c);

#endif /* CM_BLOB_H */
