/*
 * uploads.c - a store's upload storage: cm_store_set_uploads(), the
 * embedded default (a directory beside an SQLite file), and the sweep that
 * deletes stored objects no attachment names any more.
 */
#include "uploads_int.h"

#include <stdio.h>
#include <string.h>

#define MiB (INT64_C(1024) * 1024)

int cm_upload_options_init(cm_upload_options *opts, uint32_t size)
{
    if (!opts || size < sizeof(uint32_t))
        return cm__error_set(CM_EINVAL, "cm_upload_options_init: size is too small");
    cm_upload_options d = CM_UPLOAD_OPTIONS_INIT;
    memset(opts, 0, size);
    memcpy(opts, &d, size < sizeof d ? size : sizeof d);
    opts->size = size;
    return CM_OK;
}

static void uploads_free(struct cm__uploads *u)
{
    if (!u)
        return;
    cm__blobs_close(u->blobs);
    cm__free(u);
}

static int make(cm__uploads **out, const cm_upload_options *o)
{
    *out = NULL;
    if (o->presign_expires_s < 0 || o->presign_expires_s > 604800)
        return cm__error_set_field(CM_EINVAL, "presign_expires_s",
                                   "presign_expires_s: 1 to 604800 seconds (0 = 900)");
    if (o->max_bytes < 0 || o->max_pixels < 0 || o->thumb_px < 0 || o->thumb_px > 4096 ||
        o->keep_versions_s < 0 || o->multipart_threshold < 0 || o->multipart_part_size < 0)
        return cm__error_set(CM_EINVAL, "upload options: sizes and limits are positive "
                                        "(thumb_px at most 4096)");
    cm__blob_config c = {
        .fs_root = o->dir,
        .s3_endpoint = o->s3_endpoint,
        .s3_bucket = o->s3_bucket,
        .s3_region = o->s3_region,
        .s3_access_key = o->s3_access_key,
        .s3_secret_key = o->s3_secret_key,
        .s3_session_token = o->s3_session_token,
        .s3_virtual_host = o->s3_virtual_host != 0,
        .multipart_threshold = o->multipart_threshold ? o->multipart_threshold : 16 * MiB,
        .part_size = o->multipart_part_size ? o->multipart_part_size : 8 * MiB,
    };
    cm__uploads *u = cm__calloc(1, sizeof *u);
    if (!u)
        return cm__oom();
    int rc = cm__blobs_open(&u->blobs, &c);
    if (rc) {
        cm__free(u);
        return rc;
    }
    u->max_bytes = o->max_bytes ? o->max_bytes : 10 * MiB;
    u->max_pixels = o->max_pixels ? o->max_pixels : 40 * 1000 * 1000;
    u->thumb_px = o->thumb_px ? o->thumb_px : 320;
    u->presign_expires_s = o->presign_expires_s ? o->presign_expires_s : 900;
    u->keep_versions_s = o->keep_versions_s ? o->keep_versions_s : 30 * 86400;
    *out = u;
    return CM_OK;
}

int cm_store_set_uploads(cm_store *store, const cm_upload_options *opts_in)
{
    if (!store || !opts_in || opts_in->size < sizeof(uint32_t))
        return cm__error_set(CM_EINVAL, "cm_store_set_uploads: store and options are required");
    cm_upload_options o;
    cm_upload_options_init(&o, sizeof o);
    memcpy(&o, opts_in, opts_in->size < sizeof o ? opts_in->size : sizeof o);
    o.size = sizeof o;
    cm__uploads *u;
    int rc = make(&u, &o);
    if (rc)
        return rc;
    pthread_mutex_lock(&store->uploads_lock);
    uploads_free(store->uploads);
    store->uploads = u;
    store->uploads_free = uploads_free;
    pthread_mutex_unlock(&store->uploads_lock);
    return CM_OK;
}

int cm__uploads_get(cm__uploads **out, cm_store *store)
{
    *out = NULL;
    pthread_mutex_lock(&store->uploads_lock);
    int rc = CM_OK;
    if (!store->uploads) {
        const char *path = strcmp(store->ops->name, "sqlite") == 0
                               ? cm__sqlite_uri_path(store->uri_redacted)
                               : NULL;
        if (!path || !path[0] || strcmp(path, ":memory:") == 0 || strchr(path, '?')) {
            rc = cm__error_set(CM_ENOTSUP, "no upload storage is configured for this store "
                                           "(cm_store_set_uploads; see docs/uploads.md)");
        } else {
            char dir[4096];
            snprintf(dir, sizeof dir, "%s.uploads", path);
            cm_upload_options o;
            cm_upload_options_init(&o, sizeof o);
            o.dir = dir;
            cm__uploads *u = NULL;
            rc = make(&u, &o);
            if (!rc) {
                store->uploads = u;
                store->uploads_free = uploads_free;
            }
        }
    }
    *out = store->uploads;
    pthread_mutex_unlock(&store->uploads_lock);
    return rc;
}

/* ---- the sweep ---- */

typedef struct sweep_list {
    int64_t before, max;
    char (*keys)[72];
    size_t n;
} sweep_list;

static int list_trash(cm__conn *conn, void *payload)
{
    sweep_list *l = payload;
    l->n = 0;
    cm__q q;
    int rc = cm__q_open(&q, conn, "attach.trash_list");
    if (rc)
        return rc;
    cm__q_int64(&q, 1, l->before);
    cm__q_int64(&q, 2, l->max);
    while ((rc = cm__q_step(&q)) == 1) {
        const char *k = cm__q_col_text(&q, 0);
        if ((size_t)l->n < (size_t)l->max && k && strlen(k) < 72)
            snprintf(l->keys[l->n++], 72, "%s", k);
    }
    cm__q_close(&q);
    return cm__ok(rc);
}

typedef struct sweep_one {
    cm__blobs *blobs;
    const char *key;
    bool deleted;
} sweep_one;

/* In one write transaction: if no row names the key, delete the object
 * from storage, then its trash entry; a storage failure rolls back and
 * leaves the entry for the next sweep. */
static int sweep_key(cm__conn *conn, void *payload)
{
    sweep_one *s = payload;
    s->deleted = false;
    cm__q q;
    int rc = cm__q_open(&q, conn, "attach.key_used");
    if (rc)
        return rc;
    cm__q_text(&q, 1, s->key);
    rc = cm__q_step(&q);
    cm__q_close(&q);
    if (rc < 0)
        return rc;
    bool used = rc == 1;
    if (!used) {
        if (!cm__blob_key_valid(s->key))
            cm__log(CM_LOG_WARN, "uploads", "blob_trash holds a key of an unknown shape; dropped");
        else if ((rc = cm__blobs_delete(s->blobs, s->key)))
            return rc;
        s->deleted = true;
    }
    if ((rc = cm__q_open(&q, conn, "attach.untrash")))
        return rc;
    cm__q_text(&q, 1, s->key);
    rc = cm__ok(cm__q_step(&q));
    cm__q_close(&q);
    return rc;
}

int cm__uploads_sweep(cm_store *store, int64_t before, int64_t max, int64_t *deleted_out)
{
    if (deleted_out)
        *deleted_out = 0;
    cm__uploads *u;
    int rc = cm__uploads_get(&u, store);
    if (rc)
        return rc;
    if (max <= 0 || max > 10000)
        max = 10000;
    sweep_list l = {.before = before, .max = max};
    l.keys = cm__calloc((size_t)max, sizeof *l.keys);
    if (!l.keys)
        return cm__oom();
    rc = cm__store_run_tx(store, false, list_trash, &l);
    int64_t deleted = 0;
    for (size_t i = 0; !rc && i < l.n; i++) {
        sweep_one s = {.blobs = u->blobs, .key = l.keys[i]};
        rc = cm__store_run_tx(store, true, sweep_key, &s);
        if (!rc && s.deleted)
            deleted++;
    }
    cm__free(l.keys);
    if (deleted_out)
        *deleted_out = deleted;
    return rc;
}

/* ---- the prune of replaced versions ---- */

typedef struct prune_call {
    int64_t cutoff, now, pruned;
} prune_call;

static int prune_tx(cm__conn *conn, void *payload)
{
    prune_call *p = payload;
    cm__q q;
    int rc = cm__q_open(&q, conn, "attach.trash_replaced");
    if (rc)
        return rc;
    cm__q_int64(&q, 1, p->cutoff);
    cm__q_int64(&q, 2, p->now);
    rc = cm__ok(cm__q_step(&q));
    cm__q_close(&q);
    if (rc || (rc = cm__q_open(&q, conn, "attach.delete_replaced")))
        return rc;
    cm__q_int64(&q, 1, p->cutoff);
    rc = cm__ok(cm__q_step(&q));
    p->pruned = rc ? 0 : cm__q_changes(&q);
    cm__q_close(&q);
    return rc;
}

int cm__uploads_prune(cm_store *store, int64_t now, int64_t keep_s, int64_t *pruned_out,
                      int64_t *deleted_out)
{
    *pruned_out = *deleted_out = 0;
    cm__uploads *u;
    int rc = cm__uploads_get(&u, store);
    if (rc)
        return rc;
    prune_call p = {.now = now};
    p.cutoff = now - (keep_s >= 0 ? keep_s : u->keep_versions_s) * INT64_C(1000000);
    if ((rc = cm__store_run_tx(store, true, prune_tx, &p)))
        return rc;
    *pruned_out = p.pruned;
    return cm__uploads_sweep(store, now, 10000, deleted_out);
}
