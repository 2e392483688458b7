/*
 * test_http_client.c - Check suite "http_client": the internal HTTP client
 * (lib/util/http_client.c) against a real loopback server
 * (tests/fixtures/http_server.py, started once per run): methods, bodies,
 * request and response headers, status codes, the size limit, timeouts,
 * streamed replies and a reader that stops them, unreachable services,
 * and error messages that never carry a secret.
 */
#include "fixtures.h"
#include "fx_standin.h"
#include "util/http_client.h"

#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define KEY "sk_live_TopSecretValue123"

static fx_standin server;

static const char *url(const char *path)
{
    static char buf[256];
    snprintf(buf, sizeof buf, "http://127.0.0.1:%d%s", server.port, path);
    return buf;
}

static void assert_no_secret(const char *msg)
{
    ck_assert_msg(!strstr(msg, KEY), "the key leaked: %s", msg);
    ck_assert_msg(!strstr(msg, "TopSecret"), "the key leaked: %s", msg);
    ck_assert_msg(!strstr(msg, "hunter2"), "the URL password leaked: %s", msg);
    ck_assert_msg(!strstr(msg, "qsecret"), "the query leaked: %s", msg);
}

START_TEST(post_sends_method_body_and_headers)
{
    const char *hdr[] = {"Content-Type: application/json", "Authorization: Bearer " KEY,
                         "Idempotency-Key: abc-123"};
    const char body[] = "{\"hello\":\"w\\u00f6rld\"}";
    cm__http_request req = {.url = url("/echo"),
                            .headers = hdr,
                            .n_headers = 3,
                            .body = body,
                            .body_len = sizeof body - 1};
    cm__http_response res;
    ck_assert_ok(cm__http_perform(&res, &req));
    ck_assert_int_eq(res.status, 200);
    json_t *doc = json_loadb(res.body, res.body_len, 0, NULL);
    ck_assert_ptr_nonnull(doc);
    ck_assert_str_eq(json_string_value(json_object_get(doc, "method")), "POST");
    ck_assert_str_eq(json_string_value(json_object_get(doc, "body")),
                     "{\"hello\":\"w\\u00f6rld\"}");
    json_t *h = json_object_get(doc, "headers");
    ck_assert_str_eq(json_string_value(json_object_get(h, "authorization")), "Bearer " KEY);
    ck_assert_str_eq(json_string_value(json_object_get(h, "idempotency-key")), "abc-123");
    ck_assert_str_eq(json_string_value(json_object_get(h, "content-type")), "application/json");
    ck_assert_ptr_null(json_object_get(h, "expect"));
    json_decref(doc);
    /* response headers: case-insensitive, first of repeated, trimmed */
    ck_assert_str_eq(cm__http_response_header(&res, "content-type"), "application/json");
    ck_assert_str_eq(cm__http_response_header(&res, "X-MULTI"), "a");
    ck_assert_str_eq(cm__http_response_header(&res, "x-spaced"), "padded value");
    ck_assert_ptr_null(cm__http_response_header(&res, "X-Absent"));
    cm__http_response_dispose(&res);
    ck_assert_ptr_null(res.body);
    cm__http_response_dispose(&res); /* twice is fine */
    cm__http_response_dispose(NULL);
}
END_TEST

START_TEST(other_methods)
{
    const char *methods[] = {"GET", "PUT", "DELETE", "PATCH"};
    for (size_t i = 0; i < 4; i++) {
        cm__http_request req = {.method = methods[i], .url = url("/echo")};
        if (i == 1) {
            req.body = "put-body";
            req.body_len = 8;
        }
        cm__http_response res;
        ck_assert_ok(cm__http_perform(&res, &req));
        ck_assert_int_eq(res.status, 200);
        json_t *doc = json_loadb(res.body, res.body_len, 0, NULL);
        ck_assert_str_eq(json_string_value(json_object_get(doc, "method")), methods[i]);
        ck_assert_str_eq(json_string_value(json_object_get(doc, "body")), i == 1 ? "put-body" : "");
        json_decref(doc);
        cm__http_response_dispose(&res);
    }
    /* no method, no body: GET */
    cm__http_request req = {.url = url("/echo")};
    cm__http_response res;
    ck_assert_ok(cm__http_perform(&res, &req));
    ck_assert_ptr_nonnull(strstr(res.body, "\"method\": \"GET\""));
    cm__http_response_dispose(&res);
    /* HEAD: status and headers, no body */
    req.method = "HEAD";
    req.url = url("/status/204");
    ck_assert_ok(cm__http_perform(&res, &req));
    ck_assert_int_eq(res.status, 204);
    ck_assert_str_eq(cm__http_response_header(&res, "X-Status"), "204");
    ck_assert_ptr_null(res.body);
    cm__http_response_dispose(&res);
}
END_TEST

START_TEST(any_status_is_returned_with_its_body)
{
    const int codes[] = {201, 301, 400, 401, 404, 429, 500, 503};
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        char path[32], text[32], num[8];
        snprintf(path, sizeof path, "/status/%d", codes[i]);
        snprintf(text, sizeof text, "status %d", codes[i]);
        snprintf(num, sizeof num, "%d", codes[i]);
        cm__http_request req = {.url = url(path)};
        cm__http_response res;
        ck_assert_ok(cm__http_perform(&res, &req));
        ck_assert_int_eq(res.status, codes[i]);
        ck_assert_str_eq(res.body, text);
        ck_assert_str_eq(cm__http_response_header(&res, "X-Status"), num);
        cm__http_response_dispose(&res);
    }
}
END_TEST

START_TEST(size_limit)
{
    cm__http_response res;
    /* exactly the limit passes, with and without Content-Length */
    cm__http_request req = {.url = url("/size/5000"), .max_response = 5000};
    ck_assert_ok(cm__http_perform(&res, &req));
    ck_assert_uint_eq(res.body_len, 5000);
    cm__http_response_dispose(&res);
    req.url = url("/chunked/5000");
    ck_assert_ok(cm__http_perform(&res, &req));
    ck_assert_uint_eq(res.body_len, 5000);
    cm__http_response_dispose(&res);
    /* one byte more fails, announced (Content-Length) or not (chunked) */
    req.max_response = 4999;
    req.url = url("/size/5000");
    ck_assert_int_eq(cm__http_perform(&res, &req), CM_ERANGE);
    ck_assert_msg(strstr(cm_error_message(), "larger than 4999 bytes"), "%s", cm_error_message());
    cm__http_response_dispose(&res);
    req.url = url("/chunked/5000");
    ck_assert_int_eq(cm__http_perform(&res, &req), CM_ERANGE);
    ck_assert_msg(strstr(cm_error_message(), "larger than 4999 bytes"), "%s", cm_error_message());
    cm__http_response_dispose(&res);
    /* the default limit is 1 MiB */
    req.max_response = 0;
    req.url = url("/size/1048577");
    ck_assert_int_eq(cm__http_perform(&res, &req), CM_ERANGE);
    cm__http_response_dispose(&res);
    req.url = url("/size/1048576");
    ck_assert_ok(cm__http_perform(&res, &req));
    cm__http_response_dispose(&res);
}
END_TEST

typedef struct reader {
    char got[256];
    size_t n, calls;
    bool released, stop;
    int stop_with;
} reader;

static int on_chunk(const char *data, size_t len, void *payload)
{
    reader *r = payload;
    ck_assert_uint_lt(r->n + len, sizeof r->got);
    memcpy(r->got + r->n, data, len);
    r->n += len;
    r->got[r->n] = '\0';
    r->calls++;
    if (r->stop)
        return r->stop_with;
    /* The server sends the second event only once /release was asked for:
     * seeing the first one here, before the reply is complete, is what
     * streaming means. */
    if (!r->released && strstr(r->got, "data: one\n\n")) {
        r->released = true;
        cm__http_request rel = {.url = url("/release")};
        cm__http_response res;
        ck_assert_ok(cm__http_perform(&res, &rel));
        ck_assert_int_eq(res.status, 200);
        cm__http_response_dispose(&res);
    }
    return 0;
}

START_TEST(streamed_reply_arrives_in_pieces)
{
    reader r = {0};
    const char *hdr[] = {"Accept: text/event-stream"};
    cm__http_request req = {.url = url("/stream"),
                            .method = "POST",
                            .headers = hdr,
                            .n_headers = 1,
                            .body = "{}",
                            .body_len = 2,
                            .on_chunk = on_chunk,
                            .payload = &r};
    cm__http_response res;
    ck_assert_ok(cm__http_perform(&res, &req));
    ck_assert_int_eq(res.status, 200);
    ck_assert_str_eq(r.got, "data: one\n\ndata: two\n\n");
    ck_assert_uint_ge(r.calls, 2);
    ck_assert_ptr_null(res.body);
    ck_assert_str_eq(cm__http_response_header(&res, "Content-Type"), "text/event-stream");
    cm__http_response_dispose(&res);
}
END_TEST

START_TEST(streamed_error_reply_is_buffered)
{
    reader r = {0};
    cm__http_request req = {.url = url("/status/401"), .on_chunk = on_chunk, .payload = &r};
    cm__http_response res;
    ck_assert_ok(cm__http_perform(&res, &req));
    ck_assert_int_eq(res.status, 401);
    ck_assert_uint_eq(r.calls, 0);
    ck_assert_str_eq(res.body, "status 401");
    cm__http_response_dispose(&res);
}
END_TEST

START_TEST(reader_stops_the_stream)
{
    /* a positive value: CM_EUSER with the client's message */
    reader r = {.stop = true, .stop_with = 1};
    cm__http_request req = {.url = url("/stream"), .on_chunk = on_chunk, .payload = &r};
    cm__http_response res;
    ck_assert_int_eq(cm__http_perform(&res, &req), CM_EUSER);
    ck_assert_uint_eq(r.calls, 1);
    ck_assert_str_eq(r.got, "data: one\n\n");
    ck_assert_msg(strstr(cm_error_message(), "stopped"), "%s", cm_error_message());
    cm__http_response_dispose(&res);
    /* a CM_E* code comes back as is, with the reader's own detail */
    reader r2 = {.stop = true, .stop_with = CM_ECANCELED};
    req.payload = &r2;
    cm__error_set(CM_ECANCELED, "the client hung up");
    ck_assert_int_eq(cm__http_perform(&res, &req), CM_ECANCELED);
    ck_assert_str_eq(cm_error_message(), "the client hung up");
    cm__http_response_dispose(&res);
}
END_TEST

START_TEST(timeouts)
{
    const char *hdr[] = {"Authorization: Bearer " KEY};
    cm__http_request req = {
        .url = url("/hang"), .headers = hdr, .n_headers = 1, .timeout_ms = 300, .what = "chat"};
    cm__http_response res;
    ck_assert_int_eq(cm__http_perform(&res, &req), CM_ETIMEOUT);
    ck_assert_msg(strstr(cm_error_message(), "chat: no reply from"), "%s", cm_error_message());
    ck_assert_msg(strstr(cm_error_message(), "within 300 ms"), "%s", cm_error_message());
    assert_no_secret(cm_error_message());
    cm__http_response_dispose(&res);
    /* a stream that stalls counts against the same whole-request limit */
    reader r = {.released = true}; /* never releases: the server waits */
    req.url = url("/stream");
    req.on_chunk = on_chunk;
    req.payload = &r;
    ck_assert_int_eq(cm__http_perform(&res, &req), CM_ETIMEOUT);
    ck_assert_str_eq(r.got, "data: one\n\n");
    cm__http_response_dispose(&res);
    /* let the server's stream handler finish */
    cm__http_request rel = {.url = url("/release")};
    ck_assert_ok(cm__http_perform(&res, &rel));
    cm__http_response_dispose(&res);
}
END_TEST

START_TEST(unreachable_service)
{
    const char *hdr[] = {"X-Api-Key: " KEY};
    cm__http_request req = {.url = "http://user:hunter2@127.0.0.1:1/v1/x?api_key=qsecret",
                            .headers = hdr,
                            .n_headers = 1,
                            .body = "{}",
                            .body_len = 2,
                            .what = "embeddings"};
    cm__http_response res;
    ck_assert_int_eq(cm__http_perform(&res, &req), CM_EUNAVAILABLE);
    const char *m = cm_error_message();
    ck_assert_msg(strstr(m, "embeddings: cannot reach http://127.0.0.1:1/v1/x"), "%s", m);
    assert_no_secret(m);
    cm__http_response_dispose(&res);
    /* an unknown host */
    req.url = "http://user:hunter2@no-such-host.invalid/x";
    ck_assert_int_eq(cm__http_perform(&res, &req), CM_EUNAVAILABLE);
    assert_no_secret(cm_error_message());
    cm__http_response_dispose(&res);
}
END_TEST

START_TEST(tls_failure_is_eio_and_ca_file_is_used)
{
    /* https to the plain-HTTP server: the handshake fails */
    cm__http_request req = {.what = "mail", .ca_file = "/nonexistent/ca.pem"};
    char u[128];
    snprintf(u, sizeof u, "https://user:hunter2@127.0.0.1:%d/echo?key=qsecret", server.port);
    req.url = u;
    cm__http_response res;
    int rc = cm__http_perform(&res, &req);
    ck_assert_int_eq(rc, CM_EIO);
    ck_assert_msg(strstr(cm_error_message(), "mail: GET https://127.0.0.1:"), "%s",
                  cm_error_message());
    assert_no_secret(cm_error_message());
    cm__http_response_dispose(&res);
}
END_TEST

START_TEST(bad_requests_are_refused)
{
    cm__http_response res;
    cm__http_request req = {.url = "ftp://user:hunter2@example.org/x"};
    ck_assert_int_eq(cm__http_perform(&res, &req), CM_EINVAL);
    assert_no_secret(cm_error_message());
    req.url = NULL;
    ck_assert_int_eq(cm__http_perform(&res, &req), CM_EINVAL);
    const char *bad[] = {"no colon here"};
    req.url = url("/echo");
    req.headers = bad;
    req.n_headers = 1;
    ck_assert_int_eq(cm__http_perform(&res, &req), CM_EINVAL);
    cm__http_response_dispose(&res);
}
END_TEST

START_TEST(redaction_helpers)
{
    char s[128];
    cm__http_url_shown(s, sizeof s, "https://u:p%40ss@api.example.com:8443/v1/chat?key=1#frag");
    ck_assert_str_eq(s, "https://api.example.com:8443/v1/chat");
    cm__http_url_shown(s, sizeof s, "http://host/a@b?c");
    ck_assert_str_eq(s, "http://host/a@b");
    cm__http_url_shown(s, 8, "http://host/path");
    ck_assert_str_eq(s, "http://");
    snprintf(s, sizeof s, "key %s and again %s.", KEY, KEY);
    cm__http_redact(s, KEY);
    ck_assert_str_eq(s, "key *** and again ***.");
    cm__http_redact(s, "abc"); /* too short to be a secret: untouched */
    ck_assert_str_eq(s, "key *** and again ***.");
    /* recode keeps the message */
    cm__error_set(CM_EUNAVAILABLE, "payments: cannot reach x");
    ck_assert_int_eq(cm__http_error_recode(CM_EIO), CM_EIO);
    ck_assert_int_eq(cm_error_code(), CM_EIO);
    ck_assert_str_eq(cm_error_message(), "payments: cannot reach x");
}
END_TEST

START_TEST(out_of_memory_is_reported)
{
    /* every cm__ allocation of a request in turn fails: CM_ENOMEM, no leak */
    for (long n = 1;; n++) {
        cm__http_request req = {.url = url("/echo"), .body = "{}", .body_len = 2};
        cm__http_response res;
        fx_alloc_arm(n);
        int rc = cm__http_perform(&res, &req);
        long injected = fx_alloc_disarm();
        cm__http_response_dispose(&res);
        if (!injected) {
            ck_assert_ok(rc);
            break;
        }
        ck_assert_int_eq(rc, CM_ENOMEM);
        ck_assert_int_lt(n, 100);
    }
}
END_TEST

static Suite *http_suite(void)
{
    Suite *s = suite_create("http_client");
    TCase *tc = tcase_create("client");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, post_sends_method_body_and_headers);
    tcase_add_test(tc, other_methods);
    tcase_add_test(tc, any_status_is_returned_with_its_body);
    tcase_add_test(tc, size_limit);
    tcase_add_test(tc, streamed_reply_arrives_in_pieces);
    tcase_add_test(tc, streamed_error_reply_is_buffered);
    tcase_add_test(tc, reader_stops_the_stream);
    tcase_add_test(tc, timeouts);
    tcase_add_test(tc, unreachable_service);
    tcase_add_test(tc, tls_failure_is_eio_and_ca_file_is_used);
    tcase_add_test(tc, bad_requests_are_refused);
    tcase_add_test(tc, redaction_helpers);
    tcase_add_test(tc, out_of_memory_is_reported);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    fx_alloc_install();
    fx_standin_start(&server, "CM_TEST_HTTP_SERVER");
    int rc = fx_run(http_suite());
    fx_standin_stop(&server);
    return rc;
}
