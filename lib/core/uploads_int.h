/*
 * uploads_int.h - a store's upload storage (uploads.c) as the attachment
 * operations (ops_attach.c) use it.
 */
#ifndef CM_UPLOADS_INT_H
#define CM_UPLOADS_INT_H

#include "../blob/blob.h"
#include "ops_int.h"

struct cm__uploads {
    cm__blobs *blobs;
    int64_t max_bytes, max_pixels, keep_versions_s;
    int32_t presign_expires_s, thumb_px;
};
typedef struct cm__uploads cm__uploads;

/* The store's upload storage: the configured one, or on an SQLite file the
 * directory "<file>.uploads" made on first use. Borrowed: lives as long as
 * the store. CM_ENOTSUP when none is configured and there is no default,
 * CM_EIO, CM_ENOMEM. Thread-safe. */
int cm__uploads_get(cm__uploads **out, cm_store *store);

/* Delete from storage the objects of blob_trash queued at or before
 * `before` that no attachment names any more, at most `max` of them; each
 * is deleted inside the write transaction that removes its trash entry.
 * *deleted_out (may be NULL) gets how many were deleted. */
int cm__uploads_sweep(cm_store *store, int64_t before, int64_t max, int64_t *deleted_out);

/* Drop the versions replaced more than keep_s seconds before now (keep_s
 * < 0: the configured keep_versions_s) in one write transaction, then
 * sweep: *pruned_out gets the versions dropped, *deleted_out the stored
 * objects deleted. CM_ENOTSUP without upload storage. The body of the
 * "platform.uploads_prune" job. */
int cm__uploads_prune(cm_store *store, int64_t now, int64_t keep_s, int64_t *pruned_out,
                      int64_t *deleted_out);

/* Erase what a member uploaded and their avatar (rows and, after the
 * sweep, the stored objects): for the member erasure, inside its
 * transaction. */
int cm__attachments_erase_member(cm__conn *conn, int64_t member_id, int64_t now);

#endif /* CM_UPLOADS_INT_H */
