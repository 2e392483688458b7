/*
 * fuzz_http.c - libFuzzer target for community-server's request handling:
 * arbitrary bytes -> llhttp parser -> app (routing, input building, auth
 * transport, CSRF, idempotency, the library call itself on an in-memory
 * SQLite store) -> serialised response head. No sockets: the same code
 * paths as the server, driven synchronously.
 *
 * Checks, beyond the sanitizers: every response has a valid status, a
 * well-formed head (CRLF-only line ends: no header injection), and a
 * Content-Length equal to the body length.
 *
 * Build with tests/fuzz/build-fuzz-http.sh (clang only).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "jlog.h"

static cmh_config cfg;
static cm_store *store;
static cmh_app *app;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    cmh_log_setup(-1, 1); /* silent */
    cmh_config_defaults(&cfg);
    cfg.rate = 0;
    cfg.max_body = 64 * 1024;
    free(cfg.cors_origins);
    cfg.cors_origins = calloc(3, sizeof *cfg.cors_origins);
    cfg.cors_origins[0] = strdup("https://app.example.test");
    int rc = cm_store_open(&store, "sqlite::memory:", NULL);
    if (rc) {
        fprintf(stderr, "cm_store_open: %s\n", cm_error_message());
        abort();
    }
    char err[256];
    app = cmh_app_new(&cfg, store, err, sizeof err);
    if (!app) {
        fprintf(stderr, "cmh_app_new: %s\n", err);
        abort();
    }
    return 0;
}

static void check_head(const cmh_exchange *ex, const cmh_buf *head)
{
    const cmh_response *r = &ex->resp;
    if (r->status < 100 || r->status > 599)
        abort();
    if (head->len < 4 || memcmp(head->p + head->len - 4, "\r\n\r\n", 4) != 0)
        abort();
    for (size_t i = 0; i < head->len; i++) {
        if (head->p[i] == '\r' && (i + 1 >= head->len || head->p[i + 1] != '\n'))
            abort(); /* bare CR */
        if (head->p[i] == '\n' && (i == 0 || head->p[i - 1] != '\r'))
            abort(); /* bare LF: header injection */
        if (head->p[i] == '\0')
            abort();
    }
    if (r->status != 204) {
        char want[64];
        (void)snprintf(want, sizeof want, "\r\nContent-Length: %zu\r\n", r->body_len);
        if (!strstr(head->p, want))
            abort();
    }
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    cmh_limits lim = {cfg.max_header, cfg.max_headers, cfg.max_body, cfg.max_upload,
                      "/v1/uploads/"};
    cmh_parser *p = cmh_parser_new(&lim);
    size_t off = 0;
    for (int n = 0; n < 16; n++) {
        size_t used = 0;
        int r = cmh_parser_feed(p, (const char *)data + off, size - off, &used);
        cmh_exchange *ex;
        if (r == CMH_P_DONE) {
            off += used;
            cmh_request *req = cmh_parser_take(p);
            (void)snprintf(req->peer, sizeof req->peer, "127.0.0.%d", n);
            ex = cmh_app_begin(app, req);
            if (ex->needs_work) {
                cmh_app_work(ex);
                cmh_app_after_work(ex);
            }
        } else if (r == CMH_P_ERROR) {
            ex = cmh_app_reject(app, cmh_parser_status(p), cmh_parser_reason(p), "127.0.0.1",
                                cmh_parser_started(p));
        } else {
            break; /* incomplete: the server would wait for more bytes */
        }
        cmh_app_finish(ex);
        cmh_buf head = {0};
        cmh_app_write_head(ex, &head);
        check_head(ex, &head);
        cmh_buf_free(&head);
        bool stop = r == CMH_P_ERROR || ex->resp.close;
        cmh_exchange_free(ex);
        if (stop)
            break;
    }
    cmh_parser_free(p);
    return 0;
}
