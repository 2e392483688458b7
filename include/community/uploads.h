/*
 * uploads.h - where uploaded files (event covers, member avatars, post
 * images) are kept: a local directory or an S3 bucket. The attachments
 * themselves are operations ("attachments.*", see docs/operations.md and
 * docs/uploads.md).
 */
#ifndef COMMUNITY_UPLOADS_H
#define COMMUNITY_UPLOADS_H

#include <community/common.h>

CM_BEGIN_DECLS

/**
 * Upload storage settings. Fill with CM_UPLOAD_OPTIONS_INIT or
 * cm_upload_options_init(); grows only by appending fields. Strings are
 * copied by cm_store_set_uploads(). Set either `dir` or `s3_endpoint`.
 * @since 0.1
 */
typedef struct cm_upload_options {
    uint32_t size;                /**< sizeof(cm_upload_options) */
    const char *dir;              /**< local directory (made if missing) */
    const char *s3_endpoint;      /**< "https://s3.eu-west-1.amazonaws.com" or a compatible
                                       service's scheme://host[:port] */
    const char *s3_bucket;        /**< bucket name */
    const char *s3_region;        /**< "eu-west-1" */
    const char *s3_access_key;    /**< access key id; NULL with s3_secret_key NULL: the
                                       container's role (AWS_CONTAINER_CREDENTIALS_*,
                                       docs/uploads.md) */
    const char *s3_secret_key;    /**< secret access key (never logged) */
    const char *s3_session_token; /**< temporary credentials' token, or NULL */
    int32_t s3_virtual_host;      /**< 1: https://bucket.host/key; 0: https://host/bucket/key */
    int32_t presign_expires_s;    /**< presigned URL lifetime; 0 = 900, at most 604800 */
    int64_t max_bytes;            /**< largest upload; 0 = 10 MiB */
    int64_t max_pixels;           /**< largest image (width x height); 0 = 40 megapixels */
    int32_t thumb_px;             /**< thumbnail's longer side; 0 = 320 */
    int64_t multipart_threshold;  /**< S3: objects from this size go in parts; 0 = 16 MiB */
    int64_t multipart_part_size;  /**< S3: part size, >= 5 MiB; 0 = 8 MiB */
    int64_t keep_versions_s;      /**< replaced versions are pruned after this; 0 = 30 days */
} cm_upload_options;

#define CM_UPLOAD_OPTIONS_INIT                                                                     \
    {                                                                                              \
        (uint32_t)sizeof(cm_upload_options), NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0, 0, 0, 0, \
            0, 0, 0, 0                                                                             \
    }

/** Initialise opts to the defaults. CM_OK, or CM_EINVAL when size is too small. @since 0.1 */
CM_API int cm_upload_options_init(cm_upload_options *opts, uint32_t size);

/**
 * Configure where store's attachments are kept (a method of cm_store).
 * Without a call, a store on an SQLite file keeps them in the directory
 * "<database file>.uploads"; other stores refuse uploads (CM_ENOTSUP)
 * until configured. Call before the store is used from other threads.
 * @return CM_OK, CM_EINVAL (bad settings; cm_error_message() says which),
 *         CM_EIO (the directory cannot be created), CM_ENOMEM.
 * @since 0.1
 */
CM_API int cm_store_set_uploads(cm_store *store, const cm_upload_options *opts);

/**
 * Read the stored bytes of an attachment, or of its thumbnail, for a
 * download (a method of cm_store). `actor` (NULL: anonymous) must be
 * allowed to see it as attachments.get checks: the event's visitors, the
 * post's readers, anyone for an avatar.
 * @param[out] data_out the bytes (free with cm_free), NUL-terminated after
 *             size_out bytes
 * @param[out] size_out their number
 * @param[out] type_out the content type read from the bytes when they were
 *             uploaded, e.g. "image/png" (free with cm_free)
 * @param[out] etag_out a strong entity tag for HTTP, the quoted SHA-256 of
 *             the bytes (free with cm_free)
 * @param thumbnail 0: the file; 1: its thumbnail
 * @return CM_OK; CM_ENOTFOUND (no such attachment, or the actor may not
 *         see it; field attachment_id); CM_ENOTSUP (no upload storage);
 *         CM_EIO, CM_EAUTH, CM_ETIMEOUT (the storage failed); CM_ENOMEM.
 *         Thread-safe.
 * @since 0.1
 */
CM_API int cm_attachment_read(void **data_out, size_t *size_out, char **type_out, char **etag_out,
                              cm_store *store, const cm_actor *actor, int64_t attachment_id,
                              int32_t thumbnail);

CM_END_DECLS

#endif /* COMMUNITY_UPLOADS_H */
