/*
 * ops_attach.c - attachments: an event's cover image, a member's avatar,
 * a post's images. The bytes arrive either in the operation (base64, or the
 * raw body of the HTTP upload route) or through a presigned PUT straight
 * to the S3 bucket (attachments.upload_url, then attachments.complete).
 *
 * Everything slow happens in the prepare hook, outside the transaction:
 * the type is sniffed from the bytes (libmagic), the size, the dimensions
 * and the completeness are checked, a thumbnail is made (libgd), and only
 * then are the file and the thumbnail stored, under content-addressed keys
 * the library makes. Bad input (wrong type, oversize, truncated, a file
 * name with a path or a NUL) is refused before anything is stored. The
 * handler then checks the caller's right again and writes the row.
 *
 * A new cover or avatar keeps the previous one as a replaced version;
 * attachments.prune drops the versions replaced longer ago than the
 * configured retention and deletes stored objects that nothing names.
 */
#include "event_int.h"
#include "group_int.h"
#include "uploads_int.h"

#include "../blob/image.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

static const char *const target_values[] = {"event", "member", "post", NULL};
static const char *const type_values[] = {"image/png", "image/jpeg", "image/gif", "image/webp",
                                          NULL};
static const char *const slot_values[] = {"cover", "avatar", "image", NULL};

static const char *slot_of(const char *target)
{
    return strcmp(target, "event") == 0    ? "cover"
           : strcmp(target, "member") == 0 ? "avatar"
                                           : "image";
}

/* ---- who may attach to, or see, a target ---- */

static int check_target(cm__ctx *ctx, const char *target, int64_t id, bool manage)
{
    if (strcmp(target, "event") == 0) {
        cm__event ev;
        int rc = cm__event_load(&ev, NULL, ctx, id);
        if (rc)
            return cm__error_set_field(rc, "target_id", "event %lld not found", (long long)id);
        return manage ? cm__event_require_manage(&ev, "change its cover image") : CM_OK;
    }
    if (strcmp(target, "member") == 0) {
        cm__q q;
        int rc = cm__q_open(&q, ctx->conn, "attach.member_exists");
        if (rc)
            return rc;
        cm__q_int64(&q, 1, id);
        rc = cm__q_step(&q);
        cm__q_close(&q);
        if (rc < 0)
            return rc;
        if (rc == 0)
            return cm__error_set_field(CM_ENOTFOUND, "target_id", "member %lld not found",
                                       (long long)id);
        if (manage && id != ctx->actor->member_id && !cm__actor_at_least(ctx, CM_ROLE_ADMIN))
            return cm__error_set(CM_EPERM, "only the member (or an admin) sets an avatar");
        return CM_OK;
    }
    /* post */
    cm__q q;
    int rc = cm__q_open(&q, ctx->conn, "post.row");
    if (rc)
        return rc;
    cm__q_int64(&q, 1, id);
    rc = cm__q_step(&q);
    int64_t group_id = 0, author = 0;
    bool deleted = false;
    if (rc == 1) {
        group_id = cm__q_is_null(&q, 1) ? 0 : cm__q_col_int64(&q, 1);
        author = cm__q_col_int64(&q, 2);
        deleted = !cm__q_is_null(&q, 4);
    }
    cm__q_close(&q);
    if (rc < 0)
        return rc;
    if (rc == 0 || deleted)
        return cm__error_set_field(CM_ENOTFOUND, "target_id", "post %lld not found", (long long)id);
    if (group_id) {
        cm__group_access acc;
        rc = cm__group_access_load(&acc, ctx, group_id, "target_id");
        if (rc == CM_ENOTFOUND || (rc == CM_OK && !cm__group_can_read(&acc)))
            return cm__error_set_field(CM_ENOTFOUND, "target_id", "post %lld not found",
                                       (long long)id);
        if (rc)
            return rc;
    }
    if (manage && author != ctx->actor->member_id && !cm__actor_at_least(ctx, CM_ROLE_ADMIN))
        return cm__error_set(CM_EPERM, "only the post's author attaches images to it");
    return CM_OK;
}

typedef struct precheck {
    cm__ctx *ctx;
    const char *target;
    int64_t id;
} precheck;

static int precheck_tx(cm__conn *conn, void *payload)
{
    precheck *p = payload;
    p->ctx->conn = conn;
    int rc = check_target(p->ctx, p->target, p->id, true);
    p->ctx->conn = NULL;
    return rc;
}

/* The caller's right, checked before anything is stored (and again by the
 * handler, inside its transaction). */
static int precheck_target(cm__ctx *ctx, json_t *in)
{
    precheck p = {ctx, cm__json_str(in, "target"), cm__json_int(in, "target_id", 0)};
    return cm__store_run_tx(ctx->store, false, precheck_tx, &p);
}

/* ---- checking and storing the bytes ---- */

/* A display name only: never part of a storage path. */
static int check_filename(json_t *in)
{
    const char *f = cm__json_str(in, "filename");
    if (!f)
        return CM_OK;
    json_t *v = json_object_get(in, "filename");
    size_t n = json_string_length(v);
    if (strlen(f) != n)
        return cm__error_set_field(CM_EINVAL, "filename", "filename: contains a NUL byte");
    if (strchr(f, '/') || strchr(f, '\\') || strstr(f, ".."))
        return cm__error_set_field(CM_EINVAL, "filename",
                                   "filename: a bare file name, without '/', '\\' or '..'");
    for (const unsigned char *p = (const unsigned char *)f; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return cm__error_set_field(CM_EINVAL, "filename",
                                       "filename: contains a control character");
    return CM_OK;
}

/* Check data, make the thumbnail, store both; adds the "_" keys the
 * handler records. Nothing is stored unless every check passed. */
static int ingest(cm__ctx *ctx, json_t *in, cm__uploads *u, const void *data, size_t n)
{
    if ((int64_t)n > u->max_bytes)
        return cm__error_set_field(
            CM_ERANGE, "content",
            "content: the file has %zu bytes, more than the %lld bytes allowed", n,
            (long long)u->max_bytes);
    cm__image_info info;
    int rc = cm__image_inspect(&info, data, n, u->max_pixels);
    if (rc)
        return rc;
    void *thumb = NULL;
    size_t tn = 0;
    char ttype[32];
    if ((rc = cm__image_thumbnail(&thumb, &tn, ttype, &info, data, n, (uint32_t)u->thumb_px)))
        return rc;
    char key[72], tkey[72];
    cm__blob_key_of(key, data, n);
    cm__blob_key_of(tkey, thumb, tn);
    char *sver = NULL;
    rc = cm__blobs_put(u->blobs, &sver, key, data, n, info.content_type);
    if (!rc)
        rc = cm__blobs_put(u->blobs, NULL, tkey, thumb, tn, ttype);
    cm__free(thumb);
    if (rc) {
        cm__free(sver);
        return rc;
    }
    int bad = json_object_set_new(in, "_blob_key", json_string(key));
    bad |= json_object_set_new(in, "_thumb_key", json_string(tkey));
    bad |= json_object_set_new(in, "_type", json_string(info.content_type));
    bad |= json_object_set_new(in, "_thumb_type", json_string(ttype));
    bad |= json_object_set_new(in, "_size", json_integer((json_int_t)n));
    bad |= json_object_set_new(in, "_width", json_integer(info.width));
    bad |= json_object_set_new(in, "_height", json_integer(info.height));
    if (sver)
        bad |= json_object_set_new(in, "_storage_version", json_string(sver));
    cm__free(sver);
    return bad ? cm__oom() : CM_OK;
}

static int prepare_upload(cm__ctx *ctx, json_t *in)
{
    int rc = check_filename(in);
    if (rc)
        return rc;
    cm__uploads *u;
    if ((rc = cm__uploads_get(&u, ctx->store)))
        return rc;
    json_t *c = json_object_get(in, "content");
    const char *b64 = json_string_value(c);
    size_t blen = json_string_length(c);
    /* a cheap bound before decoding: 4 characters carry 3 bytes */
    if ((int64_t)(blen / 4) * 3 > u->max_bytes + 3)
        return cm__error_set_field(CM_ERANGE, "content",
                                   "content: the file is larger than the %lld bytes allowed",
                                   (long long)u->max_bytes);
    size_t cap = blen / 4 * 3 + 3;
    unsigned char *bytes = cm__malloc(cap ? cap : 1);
    if (!bytes)
        return cm__oom();
    size_t n = 0;
    const char *end = NULL;
    if (sodium_base642bin(bytes, cap, b64, blen, " \r\n", &n, &end,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        (end && end != b64 + blen)) {
        cm__free(bytes);
        return cm__error_set_field(CM_EINVAL, "content", "content: not valid base64");
    }
    if ((rc = precheck_target(ctx, in)) == CM_OK)
        rc = ingest(ctx, in, u, bytes, n);
    cm__free(bytes);
    return rc;
}

static int prepare_complete(cm__ctx *ctx, json_t *in)
{
    int rc = check_filename(in);
    if (rc)
        return rc;
    const char *key = cm__json_str(in, "upload_key");
    if (strncmp(key, "upload/", 7) != 0 || !cm__blob_key_valid(key))
        return cm__error_set_field(CM_EINVAL, "upload_key",
                                   "upload_key: not a key from attachments.upload_url");
    cm__uploads *u;
    if ((rc = cm__uploads_get(&u, ctx->store)) || (rc = precheck_target(ctx, in)))
        return rc;
    void *data = NULL;
    size_t n = 0;
    rc = cm__blobs_get(u->blobs, &data, &n, key, (size_t)u->max_bytes);
    if (rc == CM_ENOTFOUND)
        return cm__error_set_field(CM_ENOTFOUND, "upload_key",
                                   "upload_key: nothing was uploaded there (or it expired)");
    if (rc == CM_ERANGE)
        rc = cm__error_set_field(CM_ERANGE, "content",
                                 "content: the uploaded file is larger than the %lld bytes allowed",
                                 (long long)u->max_bytes);
    if (!rc)
        rc = ingest(ctx, in, u, data, n);
    cm__free(data);
    /* the staging object goes either way: it was read or it was refused */
    if (rc != CM_EIO && rc != CM_EAUTH && rc != CM_ETIMEOUT && rc != CM_ENOMEM) {
        cm__error_saved saved;
        cm__error_save(&saved);
        (void)cm__blobs_delete(u->blobs, key);
        cm__error_restore(&saved);
    }
    return rc;
}

/* ---- rows to JSON ---- */

static json_t *row_json(cm__q *q, cm__ctx *ctx)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    int bad = json_object_set_new(o, "id", json_integer(cm__q_col_int64(q, 0)));
    bad |= json_object_set_new(o, "target", json_string(cm__q_col_text(q, 1)));
    bad |= json_object_set_new(o, "target_id", json_integer(cm__q_col_int64(q, 2)));
    bad |= json_object_set_new(o, "slot", json_string(cm__q_col_text(q, 3)));
    bad |= json_object_set_new(o, "version", json_integer(cm__q_col_int64(q, 4)));
    bad |= json_object_set_new(o, "current", json_boolean(cm__q_col_int64(q, 5) != 0));
    bad |= json_object_set_new(o, "content_type", json_string(cm__q_col_text(q, 8)));
    bad |= json_object_set_new(o, "thumbnail_type", json_string(cm__q_col_text(q, 9)));
    bad |= json_object_set_new(o, "size_bytes", json_integer(cm__q_col_int64(q, 10)));
    bad |= json_object_set_new(o, "width", json_integer(cm__q_col_int64(q, 11)));
    bad |= json_object_set_new(o, "height", json_integer(cm__q_col_int64(q, 12)));
    bad |= json_object_set_new(
        o, "filename", cm__q_is_null(q, 13) ? json_null() : json_string(cm__q_col_text(q, 13)));
    bad |= json_object_set_new(o, "uploaded_by",
                               cm__q_is_null(q, 15) ? json_null()
                                                    : json_integer(cm__q_col_int64(q, 15)));
    bad |= cm__json_set_time(o, "created_at", cm__q_col_int64(q, 16));
    if (cm__q_is_null(q, 17))
        bad |= json_object_set_new(o, "replaced_at", json_null());
    else
        bad |= cm__json_set_time(o, "replaced_at", cm__q_col_int64(q, 17));
    /* download URLs: presigned GETs on S3; on a local directory the host
     * serves the files itself (null here) */
    cm__uploads *u = NULL;
    json_t *url = json_null(), *turl = json_null();
    if (cm__uploads_get(&u, ctx->store) == CM_OK && strcmp(cm__blobs_kind(u->blobs), "s3") == 0) {
        char *a = NULL, *b = NULL;
        if (cm__blobs_presign(u->blobs, &a, "GET", cm__q_col_text(q, 6), NULL, u->presign_expires_s,
                              ctx->now) == CM_OK &&
            cm__blobs_presign(u->blobs, &b, "GET", cm__q_col_text(q, 7), NULL, u->presign_expires_s,
                              ctx->now) == CM_OK) {
            json_decref(url);
            json_decref(turl);
            url = json_string(a);
            turl = json_string(b);
        }
        cm__free(a);
        cm__free(b);
    }
    cm_error_clear();
    bad |= json_object_set_new(o, "url", url);
    bad |= json_object_set_new(o, "thumbnail_url", turl);
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static int load_row(json_t **out, cm__ctx *ctx, int64_t id)
{
    cm__q q;
    int rc = cm__q_open(&q, ctx->conn, "attach.get");
    if (rc)
        return rc;
    cm__q_int64(&q, 1, id);
    rc = cm__q_step(&q);
    if (rc == 1) {
        *out = row_json(&q, ctx);
        rc = *out ? CM_OK : cm__oom();
    } else if (rc == 0) {
        rc = cm__error_set_field(CM_ENOTFOUND, "attachment_id", "attachment %lld not found",
                                 (long long)id);
    }
    cm__q_close(&q);
    return rc;
}

static int load_rows(json_t **out, cm__ctx *ctx, const char *stmt, const char *target, int64_t id,
                     const char *slot)
{
    json_t *items = json_array();
    if (!items)
        return cm__oom();
    cm__q q;
    int rc = cm__q_open(&q, ctx->conn, stmt);
    if (rc) {
        json_decref(items);
        return rc;
    }
    cm__q_text(&q, 1, target);
    cm__q_int64(&q, 2, id);
    if (slot)
        cm__q_text(&q, 3, slot);
    while ((rc = cm__q_step(&q)) == 1) {
        json_t *o = row_json(&q, ctx);
        if (!o || json_array_append_new(items, o)) {
            rc = cm__oom();
            break;
        }
    }
    cm__q_close(&q);
    if (rc < 0) {
        json_decref(items);
        return rc;
    }
    *out = json_pack("{s:o}", "items", items);
    return *out ? CM_OK : cm__oom();
}

/* ---- handlers ---- */

static int untrash(cm__ctx *ctx, const char *key)
{
    cm__q q;
    int rc = cm__q_open(&q, ctx->conn, "attach.untrash");
    if (rc)
        return rc;
    cm__q_text(&q, 1, key);
    rc = cm__ok(cm__q_step(&q));
    cm__q_close(&q);
    return rc;
}

static int op_record(cm__ctx *ctx, json_t *in, json_t **out)
{
    const char *target = cm__json_str(in, "target");
    int64_t tid = cm__json_int(in, "target_id", 0);
    const char *slot = slot_of(target);
    if (strcmp(target, "event") == 0) {
        int rc = cm__event_lock(ctx, tid);
        if (rc)
            return rc;
    }
    int rc = check_target(ctx, target, tid, true);
    if (rc)
        return rc;
    int64_t version = 1;
    cm__q q;
    if (strcmp(slot, "image") != 0) {
        if ((rc = cm__q_open(&q, ctx->conn, "attach.max_version")))
            return rc;
        cm__q_text(&q, 1, target);
        cm__q_int64(&q, 2, tid);
        cm__q_text(&q, 3, slot);
        rc = cm__q_step(&q);
        if (rc == 1)
            version = cm__q_col_int64(&q, 0) + 1;
        cm__q_close(&q);
        if (rc < 0)
            return rc;
        if ((rc = cm__q_open(&q, ctx->conn, "attach.supersede")))
            return rc;
        cm__q_text(&q, 1, target);
        cm__q_int64(&q, 2, tid);
        cm__q_text(&q, 3, slot);
        cm__q_int64(&q, 4, ctx->now);
        rc = cm__ok(cm__q_step(&q));
        cm__q_close(&q);
        if (rc)
            return rc;
    }
    if ((rc = cm__q_open(&q, ctx->conn, "attach.insert")))
        return rc;
    cm__q_text(&q, 1, target);
    cm__q_int64(&q, 2, tid);
    cm__q_text(&q, 3, slot);
    cm__q_int64(&q, 4, version);
    cm__q_text(&q, 5, cm__json_str(in, "_blob_key"));
    cm__q_text(&q, 6, cm__json_str(in, "_thumb_key"));
    cm__q_text(&q, 7, cm__json_str(in, "_type"));
    cm__q_text(&q, 8, cm__json_str(in, "_thumb_type"));
    cm__q_int64(&q, 9, cm__json_int(in, "_size", 0));
    cm__q_int64(&q, 10, cm__json_int(in, "_width", 0));
    cm__q_int64(&q, 11, cm__json_int(in, "_height", 0));
    if (cm__json_str(in, "filename"))
        cm__q_text(&q, 12, cm__json_str(in, "filename"));
    else
        cm__q_null(&q, 12);
    if (cm__json_str(in, "_storage_version"))
        cm__q_text(&q, 13, cm__json_str(in, "_storage_version"));
    else
        cm__q_null(&q, 13);
    if (ctx->actor->member_id)
        cm__q_int64(&q, 14, ctx->actor->member_id);
    else
        cm__q_null(&q, 14);
    cm__q_int64(&q, 15, ctx->now);
    rc = cm__q_step(&q);
    int64_t id = rc == 1 ? cm__q_col_int64(&q, 0) : 0;
    cm__q_close(&q);
    if (rc < 0)
        return rc;
    /* the objects are named again: a pending sweep must keep them */
    if ((rc = untrash(ctx, cm__json_str(in, "_blob_key"))) ||
        (rc = untrash(ctx, cm__json_str(in, "_thumb_key"))))
        return rc;
    ctx->target_type = "attachment";
    ctx->target_id = id;
    return load_row(out, ctx, id);
}

static int op_upload_url(cm__ctx *ctx, json_t *in, json_t **out)
{
    int rc = check_target(ctx, cm__json_str(in, "target"), cm__json_int(in, "target_id", 0), true);
    cm__uploads *u;
    if (rc || (rc = cm__uploads_get(&u, ctx->store)))
        return rc;
    char key[40];
    if ((rc = cm__blob_upload_key(key)))
        return rc;
    const char *ctype = cm__json_str(in, "content_type");
    char *url = NULL;
    if ((rc = cm__blobs_presign(u->blobs, &url, "PUT", key, ctype, u->presign_expires_s, ctx->now)))
        return rc;
    *out =
        json_pack("{s:s, s:s, s:s, s:{s:s}, s:I}", "upload_key", key, "url", url, "method", "PUT",
                  "headers", "Content-Type", ctype, "max_bytes", (json_int_t)u->max_bytes);
    cm__free(url);
    if (!*out ||
        cm__json_set_time(*out, "expires_at", ctx->now + (int64_t)u->presign_expires_s * 1000000))
        return cm__oom();
    return CM_OK;
}

static int op_list(cm__ctx *ctx, json_t *in, json_t **out)
{
    const char *target = cm__json_str(in, "target");
    int64_t tid = cm__json_int(in, "target_id", 0);
    int rc = check_target(ctx, target, tid, false);
    return rc ? rc : load_rows(out, ctx, "attach.list", target, tid, NULL);
}

static int op_versions(cm__ctx *ctx, json_t *in, json_t **out)
{
    const char *target = cm__json_str(in, "target");
    int64_t tid = cm__json_int(in, "target_id", 0);
    int rc = check_target(ctx, target, tid, true);
    return rc ? rc : load_rows(out, ctx, "attach.versions", target, tid, slot_of(target));
}

static int op_get(cm__ctx *ctx, json_t *in, json_t **out)
{
    int64_t id = cm__json_int(in, "attachment_id", 0);
    json_t *row = NULL;
    int rc = load_row(&row, ctx, id);
    if (!rc)
        rc = check_target(ctx, json_string_value(json_object_get(row, "target")),
                          json_integer_value(json_object_get(row, "target_id")), false);
    if (rc) {
        json_decref(row);
        return rc == CM_ENOTFOUND ? cm__error_set_field(CM_ENOTFOUND, "attachment_id",
                                                        "attachment %lld not found", (long long)id)
                                  : rc;
    }
    *out = row;
    return CM_OK;
}

/* Run stmt with ?1 = a and, when it has two parameters, ?2 = b. */
static int run_stmt(cm__ctx *ctx, const char *stmt, int nparams, int64_t a, int64_t b,
                    int64_t *changed)
{
    cm__q q;
    int rc = cm__q_open(&q, ctx->conn, stmt);
    if (rc)
        return rc;
    cm__q_int64(&q, 1, a);
    if (nparams > 1)
        cm__q_int64(&q, 2, b);
    rc = cm__ok(cm__q_step(&q));
    if (!rc && changed)
        *changed = cm__q_changes(&q);
    cm__q_close(&q);
    return rc;
}

static int op_delete(cm__ctx *ctx, json_t *in, json_t **out)
{
    int64_t id = cm__json_int(in, "attachment_id", 0);
    json_t *row = NULL;
    int rc = load_row(&row, ctx, id);
    if (rc)
        return rc;
    rc = check_target(ctx, json_string_value(json_object_get(row, "target")),
                      json_integer_value(json_object_get(row, "target_id")), true);
    json_decref(row);
    if (rc)
        return rc == CM_ENOTFOUND ? cm__error_set_field(CM_ENOTFOUND, "attachment_id",
                                                        "attachment %lld not found", (long long)id)
                                  : rc;
    if ((rc = run_stmt(ctx, "attach.trash_row", 2, id, ctx->now, NULL)) ||
        (rc = run_stmt(ctx, "attach.delete_row", 1, id, 0, NULL)))
        return rc;
    ctx->target_type = "attachment";
    ctx->target_id = id;
    *out = json_pack("{s:I, s:b}", "attachment_id", (json_int_t)id, "deleted", 1);
    return *out ? CM_OK : cm__oom();
}

int cm__attachments_erase_member(cm__conn *conn, int64_t member_id, int64_t now)
{
    cm__ctx ctx = {.conn = conn, .now = now};
    int rc = run_stmt(&ctx, "attach.trash_member", 2, member_id, now, NULL);
    return rc ? rc : run_stmt(&ctx, "attach.delete_member", 1, member_id, 0, NULL);
}

static int op_erase_member(cm__ctx *ctx, json_t *in, json_t **out)
{
    int64_t id = cm__json_int(in, "member_id", 0);
    int rc = cm__attachments_erase_member(ctx->conn, id, ctx->now);
    if (rc)
        return rc;
    ctx->target_type = "member";
    ctx->target_id = id;
    *out = json_pack("{s:I}", "member_id", (json_int_t)id);
    return *out ? CM_OK : cm__oom();
}

/* ---- downloads (cm_attachment_read) ---- */

typedef struct read_call {
    const cm_actor *actor;
    int64_t id;
    bool thumbnail;
    char key[72], type[64];
} read_call;

static int read_tx(cm__conn *conn, void *payload)
{
    read_call *r = payload;
    cm__ctx ctx = {.store = conn->store, .conn = conn, .actor = r->actor, .now = cm_now_us()};
    cm__q q;
    int rc = cm__q_open(&q, conn, "attach.get");
    if (rc)
        return rc;
    cm__q_int64(&q, 1, r->id);
    rc = cm__q_step(&q);
    char target[16] = "";
    int64_t tid = 0;
    if (rc == 1) {
        (void)snprintf(target, sizeof target, "%s", cm__q_col_text(&q, 1));
        tid = cm__q_col_int64(&q, 2);
        const char *key = cm__q_col_text(&q, r->thumbnail ? 7 : 6);
        const char *type = cm__q_col_text(&q, r->thumbnail ? 9 : 8);
        (void)snprintf(r->key, sizeof r->key, "%s", key ? key : "");
        (void)snprintf(r->type, sizeof r->type, "%s", type ? type : "");
    }
    cm__q_close(&q);
    if (rc == 1)
        rc = check_target(&ctx, target, tid, false);
    else if (rc == 0)
        rc = CM_ENOTFOUND;
    /* a row without that file (no thumbnail) is answered as a missing one,
     * after the visibility check so that the answer tells nothing more */
    if (rc == CM_OK && !cm__blob_key_valid(r->key))
        rc = CM_ENOTFOUND;
    if (rc == CM_ENOTFOUND)
        return cm__error_set_field(CM_ENOTFOUND, "attachment_id", "attachment %lld not found",
                                   (long long)r->id);
    return rc;
}

int cm_attachment_read(void **data_out, size_t *size_out, char **type_out, char **etag_out,
                       cm_store *store, const cm_actor *actor, int64_t attachment_id,
                       int32_t thumbnail)
{
    if (data_out)
        *data_out = NULL;
    if (size_out)
        *size_out = 0;
    if (type_out)
        *type_out = NULL;
    if (etag_out)
        *etag_out = NULL;
    if (!data_out || !size_out || !type_out || !etag_out || !store)
        return cm__error_set(CM_EINVAL, "cm_attachment_read: every out and the store are needed");
    if (attachment_id <= 0)
        return cm__error_set_field(CM_ENOTFOUND, "attachment_id", "attachment %lld not found",
                                   (long long)attachment_id);
    static const cm_actor anonymous = {0, CM_ROLE_ANONYMOUS};
    read_call r = {
        .actor = actor ? actor : &anonymous, .id = attachment_id, .thumbnail = thumbnail != 0};
    cm__uploads *u;
    int rc = cm__store_run_tx(store, false, read_tx, &r);
    if (rc || (rc = cm__uploads_get(&u, store)))
        return rc;
    /* stored files passed max_bytes when they came; a smaller limit set
     * since must not hide them */
    void *data;
    size_t n;
    if ((rc = cm__blobs_get(u->blobs, &data, &n, r.key, (size_t)1 << 30)))
        return rc;
    char etag[160];
    (void)snprintf(etag, sizeof etag, "\"%s\"", r.key + 7);
    *type_out = cm__strdup(r.type);
    *etag_out = cm__strdup(etag);
    if (!*type_out || !*etag_out) {
        cm__free(data);
        cm__free(*type_out);
        cm__free(*etag_out);
        *type_out = *etag_out = NULL;
        return cm__oom();
    }
    *data_out = data;
    *size_out = n;
    return CM_OK;
}

/* prune, before its transaction: delete the stored objects that earlier
 * prunes, deletions and erasures left in blob_trash */
static int prepare_prune(cm__ctx *ctx, json_t *in)
{
    int64_t deleted = 0;
    int rc = cm__uploads_sweep(ctx->store, ctx->now, 10000, &deleted);
    if (rc)
        return rc;
    return json_object_set_new(in, "_swept", json_integer((json_int_t)deleted)) ? cm__oom() : CM_OK;
}

static int op_prune(cm__ctx *ctx, json_t *in, json_t **out)
{
    cm__uploads *u;
    int rc = cm__uploads_get(&u, ctx->store);
    if (rc)
        return rc;
    int64_t keep =
        cm__json_has(in, "keep_seconds") ? cm__json_int(in, "keep_seconds", 0) : u->keep_versions_s;
    int64_t cutoff = ctx->now - keep * 1000000;
    int64_t pruned = 0;
    if ((rc = run_stmt(ctx, "attach.trash_replaced", 2, cutoff, ctx->now, NULL)) ||
        (rc = run_stmt(ctx, "attach.delete_replaced", 1, cutoff, 0, &pruned)))
        return rc;
    *out = json_pack("{s:I, s:I}", "versions_pruned", (json_int_t)pruned, "objects_deleted",
                     (json_int_t)cm__json_int(in, "_swept", 0));
    return *out ? CM_OK : cm__oom();
}

/* ---- declarations ---- */

#define TARGET_FIELDS                                                                              \
    CM__FIELD("target", CM__T_ENUM, .flags = CM__REQUIRED, .values = target_values,                \
              .doc = "What the file belongs to: event (cover), member (avatar), post (image)"),    \
        CM__FIELD("target_id", CM__T_ID, .flags = CM__REQUIRED,                                    \
                  .doc = "The event, member or post")

static const cm__field upload_fields[] = {
    TARGET_FIELDS,
    CM__FIELD("content", CM__T_STRING, .flags = CM__REQUIRED | CM__BASE64, .min = 1,
              .max = 16 * 1024 * 1024,
              .doc = "The file, base64; over HTTP the raw request body (any Content-Type but "
                     "JSON), with filename in the query string"),
    CM__FIELD("filename", CM__T_STRING, .min = 1, .max = 255,
              .doc = "The file's name, for display only (no '/', '\\\\' or '..')"),
    {.name = NULL},
};

static const cm__field upload_url_fields[] = {
    TARGET_FIELDS,
    CM__FIELD("content_type", CM__T_ENUM, .flags = CM__REQUIRED, .values = type_values,
              .doc = "The Content-Type the browser will send"),
    {.name = NULL},
};

static const cm__field complete_fields[] = {
    TARGET_FIELDS,
    CM__FIELD("upload_key", CM__T_STRING, .flags = CM__REQUIRED, .min = 39, .max = 39,
              .doc = "upload_key from attachments.upload_url"),
    CM__FIELD("filename", CM__T_STRING, .min = 1, .max = 255,
              .doc = "The file's name, for display only (no '/', '\\\\' or '..')"),
    {.name = NULL},
};

static const cm__field target_fields[] = {TARGET_FIELDS, {.name = NULL}};

static const cm__field id_fields[] = {
    CM__FIELD("attachment_id", CM__T_ID, .flags = CM__REQUIRED, .doc = "Attachment id"),
    {.name = NULL},
};

static const cm__field erase_fields[] = {
    CM__FIELD("member_id", CM__T_ID, .flags = CM__REQUIRED, .doc = "Member id"),
    {.name = NULL},
};

static const cm__field prune_fields[] = {
    CM__FIELD("keep_seconds", CM__T_INT, .min = 0, .max = INT64_C(3153600000),
              .doc = "Keep versions replaced less than this long ago (default: the configured "
                     "retention, 30 days)"),
    {.name = NULL},
};

static const cm__rfield attachment_fields[] = {
    {"id", CM__R_INT},
    {"target", CM__R_ENUM, .values = target_values},
    {"target_id", CM__R_INT},
    {"slot", CM__R_ENUM, .values = slot_values, .doc = "cover, avatar or image"},
    {"version", CM__R_INT, .doc = "1, 2, ... per cover or avatar; 1 for post images"},
    {"current", CM__R_BOOL, .doc = "false for a replaced version"},
    {"content_type", CM__R_STRING, .doc = "As read from the bytes"},
    {"thumbnail_type", CM__R_STRING},
    {"size_bytes", CM__R_INT},
    {"width", CM__R_INT},
    {"height", CM__R_INT},
    {"filename", CM__R_STRING, .flags = CM__R_NULL},
    {"uploaded_by", CM__R_INT, .flags = CM__R_NULL},
    {"created_at", CM__R_TIME},
    {"replaced_at", CM__R_TIME, .flags = CM__R_NULL},
    {"url", CM__R_STRING, .flags = CM__R_NULL,
     .doc = "Presigned download URL on S3; null on local storage"},
    {"thumbnail_url", CM__R_STRING, .flags = CM__R_NULL},
    {NULL},
};
static const cm__shape shape_attachment = {
    .name = "Attachment", .doc = "An uploaded image", .fields = attachment_fields};

static const cm__rfield list_fields[] = {{"items", CM__R_ARRAY, .shape = &shape_attachment},
                                         {NULL}};
static const cm__shape shape_list = {.fields = list_fields};

static const cm__rfield headers_fields[] = {{"Content-Type", CM__R_STRING}, {NULL}};
static const cm__shape shape_headers = {.fields = headers_fields};
static const cm__rfield upload_url_result_fields[] = {
    {"upload_key", CM__R_STRING, .doc = "Pass to attachments.complete"},
    {"url", CM__R_STRING, .doc = "PUT the file here"},
    {"method", CM__R_STRING},
    {"headers", CM__R_OBJECT, .shape = &shape_headers, .doc = "Headers the PUT must send"},
    {"max_bytes", CM__R_INT},
    {"expires_at", CM__R_TIME},
    {NULL},
};
static const cm__shape shape_upload_url = {.fields = upload_url_result_fields};

static const cm__rfield deleted_fields[] = {
    {"attachment_id", CM__R_INT}, {"deleted", CM__R_BOOL}, {NULL}};
static const cm__shape shape_deleted = {.fields = deleted_fields};
static const cm__rfield erased_fields[] = {{"member_id", CM__R_INT}, {NULL}};
static const cm__shape shape_erased = {.fields = erased_fields};
static const cm__rfield pruned_fields[] = {
    {"versions_pruned", CM__R_INT},
    {"objects_deleted", CM__R_INT, .doc = "Stored objects deleted that earlier runs released"},
    {NULL}};
static const cm__shape shape_pruned = {.fields = pruned_fields};

const cm__op cm__attach_ops[] = {
    {
        .name = "attachments.upload",
        .summary = "Upload an event cover, a member avatar or a post image",
        .role = CM_ROLE_MEMBER,
        .flags = CM__OP_WRITE,
        .http_method = "PUT",
        .http_path = "/v1/uploads/{target}/{target_id}",
        .fields = upload_fields,
        .fn = op_record,
        .prepare = prepare_upload,
        .result = &shape_attachment,
    },
    {
        .name = "attachments.upload_url",
        .summary = "A presigned URL to PUT a file straight to the S3 bucket",
        .role = CM_ROLE_MEMBER,
        .http_method = "POST",
        .http_path = "/v1/attachments/upload-url",
        .fields = upload_url_fields,
        .fn = op_upload_url,
        .result = &shape_upload_url,
    },
    {
        .name = "attachments.complete",
        .summary = "Check and record a file uploaded through attachments.upload_url",
        .role = CM_ROLE_MEMBER,
        .flags = CM__OP_WRITE,
        .http_method = "POST",
        .http_path = "/v1/attachments/complete",
        .fields = complete_fields,
        .fn = op_record,
        .prepare = prepare_complete,
        .result = &shape_attachment,
    },
    {
        .name = "attachments.list",
        .summary = "The current attachments of an event, member or post",
        .role = CM_ROLE_ANONYMOUS,
        .http_method = "GET",
        .http_path = "/v1/attachments",
        .fields = target_fields,
        .fn = op_list,
        .result = &shape_list,
    },
    {
        .name = "attachments.versions",
        .summary = "Every kept version of a cover or avatar",
        .role = CM_ROLE_MEMBER,
        .http_method = "GET",
        .http_path = "/v1/attachments/versions",
        .fields = target_fields,
        .fn = op_versions,
        .result = &shape_list,
    },
    {
        .name = "attachments.get",
        .summary = "One attachment",
        .role = CM_ROLE_ANONYMOUS,
        .http_method = "GET",
        .http_path = "/v1/attachments/{attachment_id}",
        .fields = id_fields,
        .fn = op_get,
        .result = &shape_attachment,
    },
    {
        .name = "attachments.delete",
        .summary = "Delete an attachment (its stored file goes at the next prune)",
        .role = CM_ROLE_MEMBER,
        .flags = CM__OP_WRITE,
        .http_method = "DELETE",
        .http_path = "/v1/attachments/{attachment_id}",
        .fields = id_fields,
        .fn = op_delete,
        .result = &shape_deleted,
    },
    {
        .name = "attachments.erase_member",
        .summary = "Erase everything a member uploaded and their avatar (member erasure)",
        .role = CM_ROLE_ADMIN,
        .flags = CM__OP_WRITE,
        .http_method = "POST",
        .http_path = "/v1/members/{member_id}/erase-uploads",
        .fields = erase_fields,
        .fn = op_erase_member,
        .result = &shape_erased,
    },
    {
        .name = "attachments.prune",
        .summary = "Drop old replaced versions and delete released stored files",
        .role = CM_ROLE_ADMIN,
        .flags = CM__OP_WRITE,
        .http_method = "POST",
        .http_path = "/v1/attachments/prune",
        .fields = prune_fields,
        .fn = op_prune,
        .prepare = prepare_prune,
        .result = &shape_pruned,
    },
    {.name = NULL},
};
