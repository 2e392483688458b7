/*
 * http_client.h - the one internal HTTP client (libcurl), for the modules
 * that talk to outside services: the payment provider (lib/pay), the
 * embeddings API (lib/ai), mail and storage APIs, exporters.
 *
 * One easy handle per request: no shared curl state, no global
 * initialisation beyond what curl_easy_init does itself, safe to call from
 * any thread (each call is independent). Redirects are not followed; only
 * http and https are allowed.
 *
 * Secrets: error messages name the URL without its "user:password@" part
 * and without its query string, never quote a request header value, and
 * replace every occurrence of a secret by "***" in the text they quote
 * (libcurl's own error text). The secrets are the values of the
 * Authorization, Proxy-Authorization, Cookie, X-Api-Key, Api-Key and
 * X-Amz-Security-Token headers (also the token after "Bearer "/"Basic "),
 * the URL's password, and what the caller lists in `secrets`.
 */
#ifndef CM_HTTP_CLIENT_H
#define CM_HTTP_CLIENT_H

#include "util.h"

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/* Called with each piece of a 2xx reply's body, in order, as it arrives
 * (on the calling thread, from inside cm__http_perform). Return 0 to go
 * on; a negative CM_E* stops the transfer and cm__http_perform returns
 * that code with the detail the callback set; any other non-zero value
 * stops it with CM_EUSER. */
typedef int (*cm__http_chunk_cb)(const char *data, size_t len, void *payload);

typedef struct cm__http_request {
    /* "GET", "POST", "PUT", "DELETE", ...; NULL means POST when body is
     * set, GET otherwise. */
    const char *method;
    /* http:// or https:// URL (required). */
    const char *url;
    /* n_headers "Name: value" lines, sent as given (no Content-Type is
     * added: name it here). */
    const char *const *headers;
    size_t n_headers;
    /* NULL-terminated list of further strings that must never appear in
     * a message (an API key sent in the body, a signing key); may be NULL. */
    const char *const *secrets;
    /* The request body, borrowed for the duration of the call; NULL with
     * body_len 0 for none. */
    const void *body;
    size_t body_len;
    /* Whole-request limit, ms (0: 30000), and the connect phase's (0: the
     * smaller of timeout_ms and 10000). */
    uint32_t timeout_ms;
    uint32_t connect_timeout_ms;
    /* Largest body accepted, bytes (0: 1 MiB); a larger reply fails with
     * CM_ERANGE. Counts streamed bytes too. */
    size_t max_response;
    /* PEM file of trusted CAs for https (NULL: the system's). */
    const char *ca_file;
    /* When set, a 2xx body goes to on_chunk instead of into the response
     * (response->body stays NULL); non-2xx bodies are always buffered so
     * that the caller can quote the service's error. */
    cm__http_chunk_cb on_chunk;
    void *payload;
    /* Prefix of error messages ("payments", "embeddings"; NULL: "http"). */
    const char *what;
    /* When set, the transfer stops with CM_ECANCELED soon (within about a
     * second) after *cancel becomes non-zero: a shutdown that cannot wait
     * for a slow service. */
    const atomic_int *cancel;
} cm__http_request;

typedef struct cm__http_response {
    /* The final reply's HTTP status (200, 404, ...). */
    long status;
    /* The buffered body, NUL-terminated (NULL when empty or streamed). */
    char *body;
    size_t body_len;
    /* Internal: the final reply's header fields, "name\0value\0" pairs. */
    char *fields;
    size_t fields_len;
} cm__http_response;

/* Perform one request; fills *out (zeroed first; release it with
 * cm__http_response_dispose, also after a failure). Any HTTP status is a
 * success at this level: the caller decides what a 4xx/5xx means.
 * @return CM_OK; CM_EINVAL (no URL, not http(s), a header line without
 *         ':'); CM_ETIMEOUT (no connection or no complete reply within
 *         the limits); CM_EUNAVAILABLE (the service cannot be reached:
 *         connection refused, host not found); CM_ERANGE (the reply is
 *         larger than max_response); the callback's code or CM_EUSER;
 *         CM_ENOMEM; CM_EIO (other transfer failures: TLS, a reset
 *         connection, a malformed reply). The detail names what, the
 *         method and the URL as described above. */
int cm__http_perform(cm__http_response *out, const cm__http_request *req);

/* The value of the reply's header field `name` (case-insensitive; the
 * first one when repeated), trimmed; NULL when absent. Borrowed from r,
 * valid until cm__http_response_dispose. */
const char *cm__http_response_header(const cm__http_response *r, const char *name);

/* Release what r holds and zero it. Accepts NULL and a zeroed response. */
void cm__http_response_dispose(cm__http_response *r);

/* Write url into out (cap bytes, always NUL-terminated) without its
 * "user:password@" part, query string and fragment, for messages. */
void cm__http_url_shown(char *out, size_t cap, const char *url);

/* Replace every occurrence of secret (at least 4 bytes, else nothing) in
 * the NUL-terminated s by "***", in place. */
void cm__http_redact(char *s, const char *secret);

/* Re-code the current error detail (message kept) as code and return
 * code: for callers whose documented contract folds transfer failures
 * into one code (e.g. CM_EIO). */
int cm__http_error_recode(int code);

#endif /* CM_HTTP_CLIENT_H */
