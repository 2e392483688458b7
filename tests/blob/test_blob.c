/*
 * test_blob.c - Check suite "blob": the object storage backends
 * (lib/blob). The fs backend on a temporary directory; the s3 backend
 * against a real S3-compatible server (s3rver, started by with-s3.sh, which
 * sets CM_TEST_S3_ENDPOINT): PutObject, GetObject, DeleteObject, multipart
 * upload, presigned PUT and GET used with plain HTTP requests, as a
 * browser would.
 */
#include "blob/blob.h"
#include "fixtures.h"
#include "fx_sink.h"

#include <curl/curl.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmpdir[256];

static void fs_setup(void)
{
    snprintf(tmpdir, sizeof tmpdir, "%s/cm-blob-XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void rm_rf(const char *path)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
    ck_assert_int_eq(system(cmd), 0);
}

static void fs_teardown(void)
{
    rm_rf(tmpdir);
}

static cm__blobs *open_fs(void)
{
    char root[300];
    snprintf(root, sizeof root, "%s/blobs", tmpdir);
    cm__blob_config c = {.fs_root = root};
    cm__blobs *b = NULL;
    ck_assert_int_eq(cm__blobs_open(&b, &c), CM_OK);
    ck_assert_str_eq(cm__blobs_kind(b), "fs");
    return b;
}

static size_t count_files(const char *dir)
{
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

START_TEST(keys)
{
    char k[72], u[40];
    cm__blob_key_of(k, "abc", 3);
    ck_assert_str_eq(k, "sha256/ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    ck_assert(cm__blob_key_valid(k));
    ck_assert_int_eq(cm__blob_upload_key(u), CM_OK);
    ck_assert(cm__blob_key_valid(u));
    ck_assert_uint_eq(strlen(u), 39);
    const char *bad[] = {"",
                         "sha256/",
                         "../etc/passwd",
                         "sha256/../../../../etc/passwd",
                         "upload/../../x",
                         "upload/0123456789abcdef0123456789ABCDEF",
                         "upload/0123456789abcdef0123456789abcdef/",
                         "upload/0123456789abcdef0123456789abcde",
                         "other/0123456789abcdef0123456789abcdef",
                         NULL};
    for (int i = 0; bad[i]; i++)
        ck_assert_msg(!cm__blob_key_valid(bad[i]), "%s accepted", bad[i]);
    ck_assert(!cm__blob_key_valid(NULL));
}
END_TEST

START_TEST(fs_roundtrip)
{
    cm__blobs *b = open_fs();
    const char *data = "hello, blobs";
    char k[72];
    cm__blob_key_of(k, data, strlen(data));
    char *ver = (char *)"x";
    ck_assert_int_eq(cm__blobs_put(b, &ver, k, data, strlen(data), "text/plain"), CM_OK);
    ck_assert_ptr_null(ver);
    /* same bytes again: a no-op */
    ck_assert_int_eq(cm__blobs_put(b, NULL, k, data, strlen(data), "text/plain"), CM_OK);
    void *got = NULL;
    size_t n = 0;
    ck_assert_int_eq(cm__blobs_get(b, &got, &n, k, 1024), CM_OK);
    ck_assert_uint_eq(n, strlen(data));
    ck_assert_mem_eq(got, data, n);
    cm__free(got);
    /* larger than the caller's limit: refused, nothing returned */
    ck_assert_int_eq(cm__blobs_get(b, &got, &n, k, 4), CM_ERANGE);
    ck_assert_ptr_null(got);
    /* the layout: objects/<aa>/<hex>, nothing left in tmp/ */
    char path[600];
    snprintf(path, sizeof path, "%s/blobs/objects/%.2s/%s", tmpdir, k + 7, k + 7);
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0640);
    snprintf(path, sizeof path, "%s/blobs/tmp", tmpdir);
    ck_assert_uint_eq(count_files(path), 0);
    ck_assert_int_eq(cm__blobs_delete(b, k), CM_OK);
    ck_assert_int_eq(cm__blobs_get(b, &got, &n, k, 1024), CM_ENOTFOUND);
    /* deleting what is gone is fine */
    ck_assert_int_eq(cm__blobs_delete(b, k), CM_OK);
    /* staging keys, and an empty object */
    char u[40];
    ck_assert_int_eq(cm__blob_upload_key(u), CM_OK);
    ck_assert_int_eq(cm__blobs_put(b, NULL, u, "", 0, NULL), CM_OK);
    ck_assert_int_eq(cm__blobs_get(b, &got, &n, u, 10), CM_OK);
    ck_assert_uint_eq(n, 0);
    cm__free(got);
    /* no presigned URLs on a local directory */
    char *url = NULL;
    ck_assert_int_eq(cm__blobs_presign(b, &url, "GET", u, NULL, 60, cm_now_us()), CM_ENOTSUP);
    cm__blobs_close(b);
}
END_TEST

START_TEST(fs_refuses_foreign_keys)
{
    cm__blobs *b = open_fs();
    void *got = NULL;
    size_t n;
    ck_assert_int_eq(cm__blobs_put(b, NULL, "../../escape", "x", 1, NULL), CM_EINVAL);
    ck_assert_int_eq(cm__blobs_put(b, NULL, "sha256/../x", "x", 1, NULL), CM_EINVAL);
    ck_assert_int_eq(cm__blobs_get(b, &got, &n, "/etc/passwd", 100), CM_EINVAL);
    ck_assert_int_eq(cm__blobs_delete(b, "upload/../../x"), CM_EINVAL);
    char path[600];
    snprintf(path, sizeof path, "%s/escape", tmpdir);
    ck_assert_int_ne(access(path, F_OK), 0);
    snprintf(path, sizeof path, "%s/blobs/objects", tmpdir);
    ck_assert_uint_eq(count_files(path), 0);
    cm__blobs_close(b);
    /* configuration errors */
    cm__blob_config none = {0};
    ck_assert_int_eq(cm__blobs_open(&b, &none), CM_EINVAL);
    ck_assert_ptr_null(b);
    cm__blob_config both = {.fs_root = tmpdir, .s3_endpoint = "http://127.0.0.1:1"};
    ck_assert_int_eq(cm__blobs_open(&b, &both), CM_EINVAL);
}
END_TEST

/* ---- S3 ---- */

static cm__blob_config s3_config(void)
{
    const char *ep = getenv("CM_TEST_S3_ENDPOINT");
    ck_assert_msg(ep != NULL, "CM_TEST_S3_ENDPOINT is set by tests/blob/with-s3.sh");
    return (cm__blob_config){.s3_endpoint = ep,
                             .s3_bucket = "cm-test",
                             .s3_region = "us-east-1",
                             .s3_access_key = "S3RVER",
                             .s3_secret_key = "S3RVER",
                             .multipart_threshold = 6 * 1024 * 1024,
                             .part_size = 5 * 1024 * 1024};
}

static cm__blobs *open_s3(void)
{
    cm__blob_config c = s3_config();
    cm__blobs *b = NULL;
    ck_assert_int_eq(cm__blobs_open(&b, &c), CM_OK);
    ck_assert_str_eq(cm__blobs_kind(b), "s3");
    return b;
}

/* Where s3rver keeps an object's bytes: <dir>/cm-test/<key>._S3rver_object. */
static bool s3_file_exists(const char *key)
{
    char path[600];
    snprintf(path, sizeof path, "%s/cm-test/%s._S3rver_object", getenv("CM_TEST_S3_DIR"), key);
    return access(path, F_OK) == 0;
}

START_TEST(s3_roundtrip)
{
    cm__blobs *b = open_s3();
    const char *data = "an object in a bucket";
    char k[72];
    cm__blob_key_of(k, data, strlen(data));
    ck_assert_int_eq(cm__blobs_put(b, NULL, k, data, strlen(data), "text/plain"), CM_OK);
    ck_assert(s3_file_exists(k));
    void *got = NULL;
    size_t n = 0;
    ck_assert_int_eq(cm__blobs_get(b, &got, &n, k, 1024), CM_OK);
    ck_assert_uint_eq(n, strlen(data));
    ck_assert_mem_eq(got, data, n);
    cm__free(got);
    ck_assert_int_eq(cm__blobs_get(b, &got, &n, k, 5), CM_ERANGE);
    ck_assert_ptr_null(got);
    ck_assert_int_eq(cm__blobs_delete(b, k), CM_OK);
    ck_assert(!s3_file_exists(k));
    ck_assert_int_eq(cm__blobs_get(b, &got, &n, k, 1024), CM_ENOTFOUND);
    ck_assert_ptr_nonnull(strstr(cm_error_message(), "NoSuchKey"));
    ck_assert_int_eq(cm__blobs_delete(b, k), CM_OK);
    ck_assert_int_eq(cm__blobs_put(b, NULL, "../x", "x", 1, NULL), CM_EINVAL);
    cm__blobs_close(b);
}
END_TEST

START_TEST(s3_multipart)
{
    cm__blobs *b = open_s3();
    size_t n = 12 * 1024 * 1024 + 12345; /* three parts: 5 MiB, 5 MiB, the rest */
    unsigned char *data = malloc(n);
    ck_assert_ptr_nonnull(data);
    uint32_t x = 2463534242u;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        data[i] = (unsigned char)x;
    }
    char k[72];
    cm__blob_key_of(k, data, n);
    ck_assert_int_eq(cm__blobs_put(b, NULL, k, data, n, "application/octet-stream"), CM_OK);
    void *got = NULL;
    size_t gn = 0;
    ck_assert_int_eq(cm__blobs_get(b, &got, &gn, k, n), CM_OK);
    ck_assert_uint_eq(gn, n);
    ck_assert(memcmp(got, data, n) == 0);
    cm__free(got);
    ck_assert_int_eq(cm__blobs_delete(b, k), CM_OK);
    free(data);
    cm__blobs_close(b);
}
END_TEST

typedef struct sink {
    char buf[4096];
    size_t len;
} sink;

static size_t sink_write(char *p, size_t size, size_t n, void *ud)
{
    sink *s = ud;
    size_t len = size * n;
    if (s->len + len >= sizeof s->buf)
        return 0;
    memcpy(s->buf + s->len, p, len);
    s->len += len;
    s->buf[s->len] = '\0';
    return len;
}

/* A plain HTTP request, as a browser would send it; returns the status. */
static long http(const char *method, const char *url, const char *body, const char *ctype,
                 sink *out)
{
    CURL *e = curl_easy_init();
    ck_assert_ptr_nonnull(e);
    struct curl_slist *h = NULL;
    char line[256];
    if (ctype) {
        snprintf(line, sizeof line, "Content-Type: %s", ctype);
        h = curl_slist_append(h, line);
    }
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
    if (body) {
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    }
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, sink_write);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, out);
    ck_assert_int_eq(curl_easy_perform(e), CURLE_OK);
    long status = 0;
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(e);
    curl_slist_free_all(h);
    return status;
}

START_TEST(s3_presigned_urls)
{
    cm__blobs *b = open_s3();
    char u[40];
    ck_assert_int_eq(cm__blob_upload_key(u), CM_OK);
    char *put = NULL, *get = NULL;
    ck_assert_int_eq(cm__blobs_presign(b, &put, "PUT", u, "image/png", 300, cm_now_us()), CM_OK);
    const char *ep = getenv("CM_TEST_S3_ENDPOINT");
    ck_assert_msg(strncmp(put, ep, strlen(ep)) == 0, "%s", put);
    ck_assert_ptr_nonnull(strstr(put, "/cm-test/upload/"));
    ck_assert_ptr_nonnull(strstr(put, "X-Amz-SignedHeaders=content-type%3Bhost&"));
    ck_assert_ptr_nonnull(strstr(put, "X-Amz-Expires=300&"));
    sink s = {0};
    ck_assert_int_eq(http("PUT", put, "browser bytes", "image/png", &s), 200);
    ck_assert_int_eq(cm__blobs_presign(b, &get, "GET", u, NULL, 60, cm_now_us()), CM_OK);
    s.len = 0;
    ck_assert_int_eq(http("GET", get, NULL, NULL, &s), 200);
    ck_assert_str_eq(s.buf, "browser bytes");
    /* the server reads what the browser uploaded */
    void *got = NULL;
    size_t n;
    ck_assert_int_eq(cm__blobs_get(b, &got, &n, u, 100), CM_OK);
    ck_assert_mem_eq(got, "browser bytes", n);
    cm__free(got);
    cm__free(get);
    ck_assert_int_eq(cm__blobs_presign(b, &get, "DELETE", u, NULL, 60, cm_now_us()), CM_EINVAL);
    ck_assert_int_eq(cm__blobs_presign(b, &get, "GET", u, NULL, 0, cm_now_us()), CM_EINVAL);
    ck_assert_int_eq(cm__blobs_delete(b, u), CM_OK);
    cm__free(put);
    cm__blobs_close(b);
}
END_TEST

/* A task role's credentials (the container credentials endpoint: the
 * stand-in tests/fixtures/creds_standin.py, which hands out s3rver's access
 * key with a new secret and session token at every call). */
static fx_sink C;

static void creds_start(const char *lifetime, const char *token)
{
    fx_sink_stop(&C);
    const char *args[] = {
        "--token", "blob-test-authorization", "--lifetime", lifetime, "--access-key", "S3RVER",
        NULL};
    fx_server_start(&C, "creds_standin.py", args);
    char full[128];
    snprintf(full, sizeof full, "http://127.0.0.1:%d/v2/credentials/uploads", C.port);
    setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", full, 1);
    setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", token, 1);
}

static int creds_fetches(void)
{
    char path[320], line[256];
    snprintf(path, sizeof path, "%s/fetches.jsonl", C.dir);
    FILE *f = fopen(path, "r");
    int n = 0;
    while (f && fgets(line, sizeof line, f))
        n += strstr(line, "\"status\": 200") != NULL;
    if (f)
        fclose(f);
    return n;
}

START_TEST(s3_task_role_credentials)
{
    cm__blob_config c = s3_config();
    c.s3_access_key = c.s3_secret_key = NULL;
    cm__blobs *b = NULL;
    /* no keys and no endpoint */
    unsetenv("AWS_CONTAINER_CREDENTIALS_FULL_URI");
    unsetenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
    ck_assert_int_eq(cm__blobs_open(&b, &c), CM_EINVAL);
    ck_assert_ptr_nonnull(strstr(cm_error_message(), "AWS_CONTAINER_CREDENTIALS"));

    creds_start("3600", "blob-test-authorization");
    ck_assert_int_eq(cm__blobs_open(&b, &c), CM_OK);
    ck_assert_int_eq(creds_fetches(), 0);
    const char *data = "uploaded with a task role";
    char k[72];
    cm__blob_key_of(k, data, strlen(data));
    ck_assert_msg(cm__blobs_put(b, NULL, k, data, strlen(data), "text/plain") == CM_OK, "%s",
                  cm_error_message());
    void *got = NULL;
    size_t n = 0;
    ck_assert_int_eq(cm__blobs_get(b, &got, &n, k, 1024), CM_OK);
    ck_assert_mem_eq(got, data, n);
    cm__free(got);
    /* presigned URLs carry the session token */
    char *url = NULL;
    ck_assert_int_eq(cm__blobs_presign(b, &url, "GET", k, NULL, 60, cm_now_us()), CM_OK);
    ck_assert_msg(strstr(url, "X-Amz-Security-Token=IQoJb3JpZ2luX2VjE000001%2F%2Fstandin"), "%s",
                  url);
    cm__free(url);
    /* an hour to go: one fetch for all of it */
    ck_assert_int_eq(creds_fetches(), 1);
    cm__blobs_close(b);

    /* near their Expiration they are fetched again, before each request */
    creds_start("120", "blob-test-authorization");
    ck_assert_int_eq(cm__blobs_open(&b, &c), CM_OK);
    ck_assert_int_eq(cm__blobs_get(b, &got, &n, k, 1024), CM_OK);
    cm__free(got);
    ck_assert_int_eq(cm__blobs_get(b, &got, &n, k, 1024), CM_OK);
    cm__free(got);
    ck_assert_int_eq(creds_fetches(), 2);
    ck_assert_int_eq(cm__blobs_delete(b, k), CM_OK);
    ck_assert_int_eq(creds_fetches(), 3);
    cm__blobs_close(b);

    /* the endpoint refuses a wrong token: CM_EAUTH, the token not shown */
    creds_start("3600", "wrong-token-wrong-token");
    ck_assert_int_eq(cm__blobs_open(&b, &c), CM_OK);
    ck_assert_int_eq(cm__blobs_get(b, &got, &n, k, 1024), CM_EAUTH);
    ck_assert_ptr_null(strstr(cm_error_message(), "wrong-token"));
    cm__blobs_close(b);

    /* static keys win over the endpoint */
    c = s3_config();
    ck_assert_int_eq(cm__blobs_open(&b, &c), CM_OK);
    ck_assert_int_eq(cm__blobs_get(b, &got, &n, k, 1024), CM_ENOTFOUND);
    ck_assert_int_eq(creds_fetches(), 0);
    cm__blobs_close(b);
    fx_sink_stop(&C);
    unsetenv("AWS_CONTAINER_CREDENTIALS_FULL_URI");
    unsetenv("AWS_CONTAINER_AUTHORIZATION_TOKEN");
}
END_TEST

START_TEST(s3_errors)
{
    cm__blob_config c = s3_config();
    cm__blobs *b = NULL;
    c.s3_access_key = "NOT-A-KEY";
    ck_assert_int_eq(cm__blobs_open(&b, &c), CM_OK);
    char k[72];
    cm__blob_key_of(k, "x", 1);
    ck_assert_int_eq(cm__blobs_put(b, NULL, k, "x", 1, NULL), CM_EAUTH);
    ck_assert_ptr_nonnull(strstr(cm_error_message(), "InvalidAccessKeyId"));
    /* the secret never appears in the detail */
    ck_assert_ptr_null(strstr(cm_error_message(), "S3RVER"));
    cm__blobs_close(b);
    c = s3_config();
    c.s3_bucket = "no-such-bucket";
    ck_assert_int_eq(cm__blobs_open(&b, &c), CM_OK);
    ck_assert_int_eq(cm__blobs_put(b, NULL, k, "x", 1, NULL), CM_ENOTFOUND);
    ck_assert_ptr_nonnull(strstr(cm_error_message(), "NoSuchBucket"));
    cm__blobs_close(b);
    /* nothing listens on port 1 */
    c = s3_config();
    c.s3_endpoint = "http://127.0.0.1:1";
    ck_assert_int_eq(cm__blobs_open(&b, &c), CM_OK);
    ck_assert_int_eq(cm__blobs_put(b, NULL, k, "x", 1, NULL), CM_EIO);
    cm__blobs_close(b);
    /* bad configurations */
    const char *bad_ep[] = {"ftp://x", "127.0.0.1:9000", "http://user@host", "http://h/path", NULL};
    for (int i = 0; bad_ep[i]; i++) {
        c = s3_config();
        c.s3_endpoint = bad_ep[i];
        ck_assert_msg(cm__blobs_open(&b, &c) == CM_EINVAL, "%s", bad_ep[i]);
    }
    c = s3_config();
    c.s3_bucket = "Bad_Bucket";
    ck_assert_int_eq(cm__blobs_open(&b, &c), CM_EINVAL);
    c = s3_config();
    c.part_size = 1024;
    ck_assert_int_eq(cm__blobs_open(&b, &c), CM_EINVAL);
    c = s3_config();
    c.s3_secret_key = "";
    ck_assert_int_eq(cm__blobs_open(&b, &c), CM_EINVAL);
}
END_TEST

static Suite *blob_suite(void)
{
    Suite *s = suite_create("blob");
    TCase *tc = tcase_create("fs");
    tcase_add_checked_fixture(tc, fs_setup, fs_teardown);
    tcase_add_test(tc, keys);
    tcase_add_test(tc, fs_roundtrip);
    tcase_add_test(tc, fs_refuses_foreign_keys);
    suite_add_tcase(s, tc);
    tc = tcase_create("s3");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, s3_roundtrip);
    tcase_add_test(tc, s3_multipart);
    tcase_add_test(tc, s3_presigned_urls);
    tcase_add_test(tc, s3_errors);
    tcase_add_test(tc, s3_task_role_credentials);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return fx_run(blob_suite());
}
