/*
 * app.h - the request handling of community-server, without sockets: a
 * parsed request goes in, a response comes out. The server (server.c)
 * and the fuzz target (tests/fuzz/fuzz_http.c) both drive it.
 *
 * One request is an exchange with three steps:
 *   cmh_app_begin()      loop thread: routing, limits, CORS, CSRF, rate
 *                        limit, input building. Either the response is
 *                        ready (ex->needs_work false) or the library must
 *                        be called:
 *   cmh_app_work()       a worker thread: session -> actor, Idempotency-Key
 *                        claim, cm_exec() (cm_idem_exec() with a key: the
 *                        answer commits with the operation) (or the
 *                        readiness ping, or the business counters for
 *                        /metrics);
 *   cmh_app_after_work() loop thread: status mapping, problem details,
 *                        cookies; then, for a request with an
 *                        Idempotency-Key whose operation failed,
 *                        cmh_app_post_work() on a worker thread stores its
 *                        answer (or releases the claim).
 * Then cmh_app_finish() records metrics and writes the access log line,
 * and cmh_app_write_head() renders the status line and headers.
 *
 * The host holds no business logic: every route comes from
 * cm_ops_describe() (see routes.h).
 */
#ifndef CMH_APP_H
#define CMH_APP_H

#include <community/community.h>

#include "config.h"
#include "idem.h"
#include "metrics.h"
#include "parser.h"
#include "routes.h"

typedef struct cmh_app cmh_app;

typedef struct cmh_response {
    int status;
    cmh_buf headers; /* extra header lines, each ending in CRLF */
    char *body;
    size_t body_len;
    const char *content_type; /* static; NULL = no body type */
    const char *cache;        /* Cache-Control value (static) */
    bool close;               /* "Connection: close", then close */
    bool head;                /* HEAD: headers only */
    bool until_close;         /* no Content-Length: the body ends at close (SSE) */
} cmh_response;

enum { CMH_K_NONE, CMH_K_OP, CMH_K_READYZ, CMH_K_METRICS, CMH_K_DOWNLOAD };

typedef struct cmh_exchange {
    cmh_app *app;
    cmh_request *req;
    cmh_response resp;
    char request_id[132];
    char client[64];
    int slot; /* metrics route slot */
    int kind; /* CMH_K_* */
    bool needs_work;
    bool cors; /* Origin allowed: add CORS headers */
    bool finished;
    /* work input (set by begin) */
    const cmh_route *route;
    char *input;
    size_t input_len;
    char *token; /* bearer or cookie credential; never logged */
    bool cookie_auth, want_cookie;
    char *idem_key;
    char *rl_key;            /* the client's key in the global (Redis) rate limit */
    int rl_wait;             /* > 0: refused by the global rate limit, seconds to wait */
    char idem_hash[65];      /* SHA-256 hex of method, path and input */
    int64_t download_id;     /* CMH_K_DOWNLOAD: the attachment */
    bool download_thumbnail; /* ... its thumbnail rather than the file */
    /* work output (set by work) */
    int rc;
    char *out;           /* cm_exec result (cm_free) */
    char *jobs_out;      /* /metrics: jobs.stats result (cm_free), if any */
    char *mail_out;      /* /metrics: mail.stats result (cm_free), if any */
    char *assistant_out; /* /metrics: assistant.stats result (cm_free), if any */
    void *file;          /* CMH_K_DOWNLOAD: the bytes (cm_free) */
    size_t file_len;
    char *file_type, *file_etag; /* cm_free */
    char *err_msg, *err_field;
    int64_t retry_after; /* seconds, CM_ETHROTTLED */
    int64_t actor_id;
    int actor_role;
    bool token_failed;
    char idem_scope[80];
    int idem_state;     /* CM_IDEM_* or -1 when no key */
    bool idem_done;     /* the operation committed its answer (cm_idem_exec) */
    bool replay_result; /* CM_IDEM_REPLAY of an operation's result, in out */
    cmh_stored replay;
    /* after after_work: the idempotency record to write (post_work) */
    bool post_work;
    bool posting;     /* the exchange is in (or past) its post_work phase */
    char *idem_store; /* encoded answer to store; NULL: release the claim */
    size_t idem_store_len;
    /* Server-sent events (a "stream" operation asked with Accept:
     * text/event-stream): the worker calls cm_exec_stream with the
     * server's on_event; the server writes the events as they come. */
    bool stream;
    cm_stream_cb on_event;
    void *on_event_payload;
    /* The request's trace span (NULL when tracing is off or for the host
     * endpoints); current on the worker thread while the work runs, ended
     * by cmh_app_finish. */
    cm_span *span;
} cmh_exchange;

/* Build the app: routes and OpenAPI document from cm_ops_describe(),
 * metrics, rate limiter, idempotency cache. The store and config are
 * borrowed and must outlive the app. Returns NULL with err filled. */
cmh_app *cmh_app_new(const cmh_config *cfg, cm_store *store, char *err, size_t errlen);
void cmh_app_free(cmh_app *app);
/* While draining, /readyz answers 503 and responses carry
 * "Connection: close". */
void cmh_app_set_draining(cmh_app *app, bool draining);
bool cmh_app_draining(const cmh_app *app);
/* Does this exchange's work compute argon2id (sign-in, sign-up, ...)? The
 * server runs at most --password-workers of those at once. */
bool cmh_app_password_work(const cmh_exchange *ex);
cmh_gauges *cmh_app_gauges(cmh_app *app);
const char *cmh_app_openapi(const cmh_app *app);

/* Step 1 (loop thread). Takes ownership of req. */
cmh_exchange *cmh_app_begin(cmh_app *app, cmh_request *req);
/* Step 2 (worker thread), only when ex->needs_work. */
void cmh_app_work(cmh_exchange *ex);
/* Step 3 (loop thread), after cmh_app_work(). */
void cmh_app_after_work(cmh_exchange *ex);
/* Step 3b (worker thread), only when after_work set ex->post_work: write
 * the Idempotency-Key record (the answer, or the claim's release) before
 * the response leaves, so a retry anywhere finds it. */
void cmh_app_post_work(cmh_exchange *ex);
/* An exchange for input the parser rejected (no request): status 400,
 * 408, 413, 431, 501 or 505; the connection closes after it. */
cmh_exchange *cmh_app_reject(cmh_app *app, int status, const char *reason, const char *peer,
                             uint64_t start_ns);
/* Server-sent events (loop thread), for an exchange with ex->stream once
 * the work sent its first event: the status line and headers of the
 * stream (200, text/event-stream, no length: the connection closes after
 * it); one event ("event: NAME\ndata: JSON\n\n", JSON on one line); and,
 * after a failed work, its "error" event (the problem details as data).
 * cmh_app_stream_end() replaces cmh_app_after_work() for such an exchange. */
void cmh_app_stream_head(const cmh_exchange *ex, cmh_buf *out);
void cmh_app_stream_event(cmh_buf *out, const char *event, const char *data, size_t len);
void cmh_app_stream_end(cmh_exchange *ex, cmh_buf *out);
/* Metrics + access log (loop thread); call once, before writing. */
void cmh_app_finish(cmh_exchange *ex);
/* Status line and headers, ready for the wire (the body follows). */
void cmh_app_write_head(const cmh_exchange *ex, cmh_buf *out);
void cmh_exchange_free(cmh_exchange *ex);

/* The HTTP status for a CM_E* code (field: the error's field, or ""). */
int cmh_status_for(int code, const char *field);

#endif /* CMH_APP_H */
