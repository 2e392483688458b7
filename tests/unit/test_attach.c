/*
 * test_attach.c - Check suite "attach": event covers, member avatars and
 * post images (lib/core/ops_attach.c) on a local directory, and with
 * CM_TEST_UPLOADS=s3 on a real S3-compatible server (s3rver, started by
 * tests/blob/with-s3.sh), including the presigned browser upload.
 * Test images are drawn with libgd.
 */
#define _XOPEN_SOURCE 700 /* nftw */
#include "blob/blob.h"
#include "core/uploads_int.h"
#include "fixtures.h"

#include <curl/curl.h>
#include <ftw.h>
#include <gd.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static bool use_s3(void)
{
    const char *m = getenv("CM_TEST_UPLOADS");
    return m && strcmp(m, "s3") == 0;
}

static char updir[400];

/* Configure the store's uploads (max_bytes 0 = default). */
static void configure(int64_t max_bytes)
{
    cm_upload_options o = CM_UPLOAD_OPTIONS_INIT;
    o.max_bytes = max_bytes;
    if (use_s3()) {
        o.s3_endpoint = getenv("CM_TEST_S3_ENDPOINT");
        ck_assert_ptr_nonnull(o.s3_endpoint);
        o.s3_bucket = "cm-test";
        o.s3_region = "us-east-1";
        o.s3_access_key = "S3RVER";
        o.s3_secret_key = "S3RVER";
    } else {
        snprintf(updir, sizeof updir, "%s/uploads", FX.dir);
        o.dir = updir;
    }
    ck_assert_int_eq(cm_store_set_uploads(FX.store, &o), CM_OK);
}

static size_t count_all(void);
static size_t baseline; /* objects other tests left in the shared bucket */

static void setup(void)
{
    fx_setup();
    configure(0);
    baseline = 0;
    baseline = count_all();
}

static size_t nfiles;
static int count_cb(const char *p, const struct stat *st, int flag, struct FTW *f)
{
    (void)st, (void)f;
    size_t n = strlen(p);
    /* s3rver keeps metadata files beside each object's ._S3rver_object */
    if (flag == FTW_F && (!use_s3() || (n > 15 && strcmp(p + n - 15, "._S3rver_object") == 0)))
        nfiles++;
    return 0;
}

/* Objects in storage (both backends keep them as files here). */
static size_t count_all(void)
{
    char dir[600];
    if (use_s3())
        snprintf(dir, sizeof dir, "%s/cm-test", getenv("CM_TEST_S3_DIR"));
    else
        snprintf(dir, sizeof dir, "%s/objects", updir);
    nfiles = 0;
    if (access(dir, F_OK) == 0)
        ck_assert_int_eq(nftw(dir, count_cb, 16, FTW_PHYS), 0);
    return nfiles;
}

/* Objects this test stored. */
static size_t stored_objects(void)
{
    return count_all() - baseline;
}

/* ---- test images ---- */

static unsigned char *image(size_t *n, const char *type, int w, int h)
{
    gdImagePtr im = gdImageCreateTrueColor(w, h);
    /* one random pixel: no two tests store the same bytes (the S3 bucket
     * is shared by the tests of a run) */
    gdImageSetPixel(im, 0, 0, (int)(randombytes_random() & 0xFFFFFF));
    for (int y = 0; y < h; y += 8)
        gdImageFilledRectangle(im, 0, y, w - 1, y + 3, gdTrueColor(y % 256, 40, 200));
    int size = 0;
    void *p = strcmp(type, "jpeg") == 0  ? gdImageJpegPtr(im, &size, 80)
              : strcmp(type, "gif") == 0 ? gdImageGifPtr(im, &size)
                                         : gdImagePngPtr(im, &size);
    gdImageDestroy(im);
    ck_assert_ptr_nonnull(p);
    unsigned char *copy = malloc((size_t)size);
    memcpy(copy, p, (size_t)size);
    gdFree(p);
    *n = (size_t)size;
    return copy;
}

static char *b64(const void *p, size_t n)
{
    size_t cap = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL);
    char *s = malloc(cap);
    sodium_bin2base64(s, cap, p, n, sodium_base64_VARIANT_ORIGINAL);
    return s;
}

static int upload(json_t **out, cm_actor *a, const char *target, json_int_t id, const void *p,
                  size_t n, const char *filename)
{
    char *s = b64(p, n);
    json_t *in = json_pack("{s:s, s:I, s:s}", "target", target, "target_id", id, "content", s);
    if (filename)
        json_object_set_new(in, "filename", json_string(filename));
    free(s);
    return fx_exec_obj(out, a, "attachments.upload", in); /* steals in */
}

static json_int_t make_event(cm_actor *org)
{
    json_t *r = NULL;
    ck_assert_int_eq(fx_exec(&r, org, "events.create", "{s:s,s:s,s:s,s:s,s:s,s:s}", "title",
                             "Rust NYC", "format", "in_person", "venue", "Room 1", "start_local",
                             "2027-05-01T18:00", "end_local", "2027-05-01T21:00", "timezone",
                             "America/New_York"),
                     CM_OK);
    json_int_t id = fx_int(r, "id");
    json_decref(r);
    return id;
}

/* The stored thumbnail of an attachment row, decoded. */
static void thumb_dims(const char *thumb_key, int *w, int *h)
{
    cm__uploads *u;
    ck_assert_int_eq(cm__uploads_get(&u, FX.store), CM_OK);
    void *p = NULL;
    size_t n = 0;
    ck_assert_int_eq(cm__blobs_get(u->blobs, &p, &n, thumb_key, 1 << 24), CM_OK);
    gdImagePtr im = gdImageCreateFromPngPtr((int)n, p);
    if (!im)
        im = gdImageCreateFromJpegPtr((int)n, p);
    ck_assert_ptr_nonnull(im);
    *w = gdImageSX(im);
    *h = gdImageSY(im);
    gdImageDestroy(im);
    cm__free(p);
}

START_TEST(cover_versions_and_prune)
{
    cm_actor *org = fx_member("org@example.org", "organizer");
    json_int_t ev = make_event(org);
    size_t n;
    unsigned char *png = image(&n, "png", 640, 480);
    json_t *r = NULL;
    ck_assert_int_eq(upload(&r, org, "event", ev, png, n, "cover.png"), CM_OK);
    ck_assert_str_eq(fx_str(r, "content_type"), "image/png");
    ck_assert_str_eq(fx_str(r, "slot"), "cover");
    ck_assert_str_eq(fx_str(r, "filename"), "cover.png");
    ck_assert_int_eq(fx_int(r, "width"), 640);
    ck_assert_int_eq(fx_int(r, "height"), 480);
    ck_assert_int_eq(fx_int(r, "size_bytes"), (json_int_t)n);
    ck_assert_int_eq(fx_int(r, "version"), 1);
    ck_assert(json_is_true(json_object_get(r, "current")));
    json_int_t first = fx_int(r, "id");
    json_decref(r);
    ck_assert_uint_eq(stored_objects(), 2); /* the file and its thumbnail */
    char *tk = strdup(fx_text("SELECT thumb_key FROM attachments"));
    int tw, th;
    thumb_dims(tk, &tw, &th);
    ck_assert_int_eq(tw, 320);
    ck_assert_int_eq(th, 240);
    free(tk);

    /* a JPEG replaces it: version 2, the first is kept */
    size_t jn;
    unsigned char *jpg = image(&jn, "jpeg", 300, 900);
    ck_assert_int_eq(upload(&r, org, "event", ev, jpg, jn, NULL), CM_OK);
    ck_assert_str_eq(fx_str(r, "content_type"), "image/jpeg");
    ck_assert_int_eq(fx_int(r, "version"), 2);
    ck_assert(json_is_null(json_object_get(r, "filename")));
    if (use_s3()) {
        ck_assert_ptr_nonnull(strstr(fx_str(r, "url"), "X-Amz-Signature="));
        ck_assert_ptr_nonnull(strstr(fx_str(r, "thumbnail_url"), "X-Amz-Signature="));
    } else {
        ck_assert(json_is_null(json_object_get(r, "url")));
    }
    json_decref(r);
    ck_assert_uint_eq(stored_objects(), 4);
    ck_assert_int_eq(
        fx_exec(&r, org, "attachments.list", "{s:s,s:I}", "target", "event", "target_id", ev),
        CM_OK);
    ck_assert_uint_eq(json_array_size(json_object_get(r, "items")), 1);
    json_decref(r);
    ck_assert_int_eq(
        fx_exec(&r, org, "attachments.versions", "{s:s,s:I}", "target", "event", "target_id", ev),
        CM_OK);
    json_t *items = json_object_get(r, "items");
    ck_assert_uint_eq(json_array_size(items), 2);
    ck_assert_int_eq(fx_int(json_array_get(items, 1), "id"), first);
    ck_assert(json_is_false(json_object_get(json_array_get(items, 1), "current")));
    ck_assert(!json_is_null(json_object_get(json_array_get(items, 1), "replaced_at")));
    json_decref(r);

    /* prune: the kept version goes now (keep 0 s); its objects at the next run */
    cm_actor *admin = fx_member("admin@example.org", "admin");
    ck_assert_int_eq(fx_exec(&r, admin, "attachments.prune", "{s:i}", "keep_seconds", 3600), CM_OK);
    ck_assert_int_eq(fx_int(r, "versions_pruned"), 0);
    json_decref(r);
    ck_assert_int_eq(fx_exec(&r, admin, "attachments.prune", "{s:i}", "keep_seconds", 0), CM_OK);
    ck_assert_int_eq(fx_int(r, "versions_pruned"), 1);
    json_decref(r);
    ck_assert_uint_eq(stored_objects(), 4);
    ck_assert_int_eq(fx_exec(&r, admin, "attachments.prune", "{s:i}", "keep_seconds", 0), CM_OK);
    ck_assert_int_eq(fx_int(r, "objects_deleted"), 2);
    json_decref(r);
    ck_assert_uint_eq(stored_objects(), 2);
    ck_assert_int_eq(fx_count("SELECT COUNT(*) FROM blob_trash"), 0);
    free(png);
    free(jpg);
    cm_actor_free(org);
    cm_actor_free(admin);
}
END_TEST

START_TEST(bad_input_stores_nothing)
{
    cm_actor *org = fx_member("org@example.org", "organizer");
    json_int_t ev = make_event(org);
    json_t *r = NULL;
    /* wrong type: text, and an ELF-ish binary */
    const char *text = "just some text, not an image\n";
    ck_assert_int_eq(upload(&r, org, "event", ev, text, strlen(text), NULL), CM_EINVAL);
    ck_assert_str_eq(cm_error_field(), "content");
    ck_assert_ptr_nonnull(strstr(cm_error_message(), "text/plain"));
    /* truncated: a PNG cut short */
    size_t n;
    unsigned char *png = image(&n, "png", 200, 100);
    ck_assert_int_eq(upload(&r, org, "event", ev, png, n - 20, NULL), CM_EINVAL);
    ck_assert_ptr_nonnull(strstr(cm_error_message(), "truncated"));
    size_t jn;
    unsigned char *jpg = image(&jn, "jpeg", 200, 100);
    ck_assert_int_eq(upload(&r, org, "event", ev, jpg, jn / 2, NULL), CM_EINVAL);
    ck_assert_ptr_nonnull(strstr(cm_error_message(), "truncated"));
    /* names with a path or a NUL */
    ck_assert_int_eq(upload(&r, org, "event", ev, png, n, "../../etc/passwd"), CM_EINVAL);
    ck_assert_str_eq(cm_error_field(), "filename");
    ck_assert_int_eq(upload(&r, org, "event", ev, png, n, "a/b.png"), CM_EINVAL);
    ck_assert_int_eq(upload(&r, org, "event", ev, png, n, ".."), CM_EINVAL);
    json_t *in = json_pack("{s:s,s:I,s:s}", "target", "event", "target_id", ev, "content", "AAAA");
    json_object_set_new(in, "filename", json_stringn("a\0b.png", 7));
    ck_assert_int_eq(fx_exec_obj(&r, org, "attachments.upload", in), CM_EINVAL);
    char raw[256];
    snprintf(raw, sizeof raw,
             "{\"target\":\"event\",\"target_id\":%lld,\"content\":\"AAAA\","
             "\"filename\":\"a\\u0000b.png\"}",
             (long long)ev);
    ck_assert_int_eq(fx_exec_raw(&r, org, "attachments.upload", raw), CM_EINVAL);
    /* not base64 */
    ck_assert_int_eq(fx_exec(&r, org, "attachments.upload", "{s:s,s:I,s:s}", "target", "event",
                             "target_id", ev, "content", "%%%not base64"),
                     CM_EINVAL);
    ck_assert_str_eq(cm_error_field(), "content");
    /* oversize */
    configure(100);
    ck_assert_int_eq(upload(&r, org, "event", ev, png, n, NULL), CM_ERANGE);
    ck_assert_str_eq(cm_error_field(), "content");
    ck_assert_ptr_nonnull(strstr(cm_error_message(), "100 bytes allowed"));
    /* a canvas too large (a decompression bomb): 20000 x 20000 claimed */
    configure(0);
    unsigned char *bomb = malloc(n);
    memcpy(bomb, png, n);
    bomb[16] = 0, bomb[17] = 0, bomb[18] = 0x4e, bomb[19] = 0x20;
    bomb[20] = 0, bomb[21] = 0, bomb[22] = 0x4e, bomb[23] = 0x20;
    ck_assert_int_eq(upload(&r, org, "event", ev, bomb, n, NULL), CM_EINVAL);
    ck_assert_ptr_nonnull(strstr(cm_error_message(), "20000x20000"));
    /* not allowed: a member on someone else's (draft, so invisible) event */
    cm_actor *other = fx_member("other@example.org", "member");
    ck_assert_int_eq(upload(&r, other, "event", ev, png, n, NULL), CM_ENOTFOUND);
    ck_assert_int_eq(upload(&r, other, "event", 999999, png, n, NULL), CM_ENOTFOUND);
    ck_assert_int_eq(fx_count("SELECT COUNT(*) FROM attachments"), 0);
    ck_assert_uint_eq(stored_objects(), 0);
    free(png);
    free(jpg);
    free(bomb);
    cm_actor_free(org);
    cm_actor_free(other);
}
END_TEST

START_TEST(avatars_posts_and_erasure)
{
    cm_actor *m = fx_member("m@example.org", "member");
    cm_actor *other = fx_member("o@example.org", "member");
    json_t *r = NULL;
    size_t n;
    unsigned char *gif = image(&n, "gif", 64, 64);
    ck_assert_int_eq(upload(&r, m, "member", fx_id_of(m), gif, n, "me.gif"), CM_OK);
    ck_assert_str_eq(fx_str(r, "content_type"), "image/gif");
    ck_assert_str_eq(fx_str(r, "slot"), "avatar");
    json_decref(r);
    ck_assert_int_eq(upload(&r, other, "member", fx_id_of(m), gif, n, NULL), CM_EPERM);
    ck_assert_int_eq(fx_exec(&r, m, "posts.create", "{s:s,s:s}", "title", "Photos", "body", "x"),
                     CM_OK);
    json_int_t post = fx_int(r, "id");
    json_decref(r);
    size_t pn;
    unsigned char *png = image(&pn, "png", 100, 50);
    ck_assert_int_eq(upload(&r, m, "post", post, png, pn, NULL), CM_OK);
    json_decref(r);
    ck_assert_int_eq(upload(&r, m, "post", post, gif, n, NULL), CM_OK);
    json_int_t img = fx_int(r, "id");
    json_decref(r);
    ck_assert_int_eq(upload(&r, other, "post", post, png, pn, NULL), CM_EPERM);
    ck_assert_int_eq(
        fx_exec(&r, NULL, "attachments.list", "{s:s,s:I}", "target", "post", "target_id", post),
        CM_OK);
    ck_assert_uint_eq(json_array_size(json_object_get(r, "items")), 2);
    json_decref(r);
    /* the same GIF as avatar and post image is stored once */
    ck_assert_uint_eq(stored_objects(), 4);
    ck_assert_int_eq(fx_exec(&r, other, "attachments.delete", "{s:I}", "attachment_id", img),
                     CM_EPERM);
    ck_assert_int_eq(fx_exec(&r, m, "attachments.delete", "{s:I}", "attachment_id", img), CM_OK);
    json_decref(r);
    ck_assert_int_eq(fx_exec(&r, NULL, "attachments.get", "{s:I}", "attachment_id", img),
                     CM_ENOTFOUND);
    /* erasure: the member's uploads and avatar go; the objects at the next prune */
    cm_actor *admin = fx_member("admin@example.org", "admin");
    ck_assert_int_eq(fx_exec(&r, m, "attachments.erase_member", "{s:I}", "member_id", fx_id_of(m)),
                     CM_EPERM);
    ck_assert_int_eq(
        fx_exec(&r, admin, "attachments.erase_member", "{s:I}", "member_id", fx_id_of(m)), CM_OK);
    json_decref(r);
    ck_assert_int_eq(fx_count("SELECT COUNT(*) FROM attachments"), 0);
    ck_assert_int_eq(fx_exec(&r, admin, "attachments.prune", "{}"), CM_OK);
    ck_assert_int_eq(fx_int(r, "objects_deleted"), 4);
    json_decref(r);
    ck_assert_uint_eq(stored_objects(), 0);
    free(gif);
    free(png);
    cm_actor_free(m);
    cm_actor_free(other);
    cm_actor_free(admin);
}
END_TEST

typedef struct body {
    const unsigned char *p;
    size_t n, off;
} body;

static size_t read_body(char *dst, size_t size, size_t nmemb, void *ud)
{
    body *b = ud;
    size_t k = size * nmemb;
    if (k > b->n - b->off)
        k = b->n - b->off;
    memcpy(dst, b->p + b->off, k);
    b->off += k;
    return k;
}

static size_t discard(char *p, size_t s, size_t n, void *ud)
{
    (void)p, (void)ud;
    return s * n;
}

/* PUT bytes to a presigned URL as a browser does; returns the HTTP status. */
static long browser_put(const char *url, const char *ctype, const void *p, size_t n)
{
    CURL *e = curl_easy_init();
    struct curl_slist *h = NULL;
    char line[128];
    snprintf(line, sizeof line, "Content-Type: %s", ctype);
    h = curl_slist_append(h, line);
    body b = {p, n, 0};
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(e, CURLOPT_READFUNCTION, read_body);
    curl_easy_setopt(e, CURLOPT_READDATA, &b);
    curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, (curl_off_t)n);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
    ck_assert_int_eq(curl_easy_perform(e), CURLE_OK);
    long status = 0;
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(e);
    curl_slist_free_all(h);
    return status;
}

START_TEST(presigned_browser_upload)
{
    cm_actor *m = fx_member("m@example.org", "member");
    json_t *r = NULL;
    int rc = fx_exec(&r, m, "attachments.upload_url", "{s:s,s:I,s:s}", "target", "member",
                     "target_id", fx_id_of(m), "content_type", "image/png");
    if (!use_s3()) {
        ck_assert_int_eq(rc, CM_ENOTSUP);
        cm_actor_free(m);
        return;
    }
    ck_assert_int_eq(rc, CM_OK);
    ck_assert_str_eq(fx_str(r, "method"), "PUT");
    ck_assert_str_eq(fx_str(json_object_get(r, "headers"), "Content-Type"), "image/png");
    char key[64], url[2048];
    snprintf(key, sizeof key, "%s", fx_str(r, "upload_key"));
    snprintf(url, sizeof url, "%s", fx_str(r, "url"));
    json_decref(r);
    size_t n;
    unsigned char *png = image(&n, "png", 400, 400);
    ck_assert_int_eq(browser_put(url, "image/png", png, n), 200);
    ck_assert_int_eq(fx_exec(&r, m, "attachments.complete", "{s:s,s:I,s:s,s:s}", "target", "member",
                             "target_id", fx_id_of(m), "upload_key", key, "filename", "me.png"),
                     CM_OK);
    ck_assert_int_eq(fx_int(r, "width"), 400);
    ck_assert_str_eq(fx_str(r, "filename"), "me.png");
    json_decref(r);
    /* the staging object is gone; the file and thumbnail are stored */
    ck_assert_uint_eq(stored_objects(), 2);
    ck_assert_int_eq(fx_exec(&r, m, "attachments.complete", "{s:s,s:I,s:s}", "target", "member",
                             "target_id", fx_id_of(m), "upload_key", key),
                     CM_ENOTFOUND);
    ck_assert_str_eq(cm_error_field(), "upload_key");
    /* a browser that uploads something else: refused, staging deleted */
    ck_assert_int_eq(fx_exec(&r, m, "attachments.upload_url", "{s:s,s:I,s:s}", "target", "member",
                             "target_id", fx_id_of(m), "content_type", "image/png"),
                     CM_OK);
    snprintf(key, sizeof key, "%s", fx_str(r, "upload_key"));
    snprintf(url, sizeof url, "%s", fx_str(r, "url"));
    json_decref(r);
    ck_assert_int_eq(browser_put(url, "image/png", "MZ not a png", 12), 200);
    ck_assert_uint_eq(stored_objects(), 3);
    ck_assert_int_eq(fx_exec(&r, m, "attachments.complete", "{s:s,s:I,s:s}", "target", "member",
                             "target_id", fx_id_of(m), "upload_key", key),
                     CM_EINVAL);
    ck_assert_uint_eq(stored_objects(), 2);
    /* keys that were not made by upload_url */
    ck_assert_int_eq(fx_exec(&r, m, "attachments.complete", "{s:s,s:I,s:s}", "target", "member",
                             "target_id", fx_id_of(m), "upload_key",
                             "upload/../../../../../etc/passwd/xxxxxx"),
                     CM_EINVAL);
    ck_assert_int_eq(fx_count("SELECT COUNT(*) FROM attachments"), 1);
    free(png);
    cm_actor_free(m);
}
END_TEST

START_TEST(default_directory_beside_sqlite)
{
    if (fx_is_pg() || use_s3())
        return;
    /* a fresh store on a file: no configuration, uploads go beside it */
    char uri[400];
    fx_new_uri(uri, sizeof uri, "plain");
    cm_store *s = NULL;
    ck_assert_int_eq(cm_store_open(&s, uri, NULL), CM_OK);
    ck_assert_int_eq(cm_store_migrate(s, NULL), CM_OK);
    cm__uploads *u = NULL;
    ck_assert_int_eq(cm__uploads_get(&u, s), CM_OK);
    ck_assert_str_eq(cm__blobs_kind(u->blobs), "fs");
    cm_store_close(s);
    ck_assert_int_eq(cm_store_open(&s, "sqlite::memory:", NULL), CM_OK);
    ck_assert_int_eq(cm__uploads_get(&u, s), CM_ENOTSUP);
    cm_store_close(s);
}
END_TEST

static Suite *attach_suite(void)
{
    Suite *s = suite_create("attach");
    TCase *tc = tcase_create("attach");
    tcase_add_checked_fixture(tc, setup, fx_teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, cover_versions_and_prune);
    tcase_add_test(tc, bad_input_stores_nothing);
    tcase_add_test(tc, avatars_posts_and_erasure);
    tcase_add_test(tc, presigned_browser_upload);
    tcase_add_test(tc, default_directory_beside_sqlite);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return fx_run(attach_suite());
}
