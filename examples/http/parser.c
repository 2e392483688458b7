/*
 * parser.c - request parsing with llhttp under the host's limits
 * (see parser.h). Callbacks copy every piece into the request being
 * built, so the caller's input buffer may be reused after each feed.
 */
#include "parser.h"

#include <llhttp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct cmh_parser {
    llhttp_t ll;
    llhttp_settings_t settings;
    cmh_limits lim;
    cmh_request *cur;  /* being built */
    cmh_request *done; /* complete, not yet taken */
    cmh_buf field, value, url;
    size_t header_bytes;
    int status; /* error status after CMH_P_ERROR */
    const char *reason;
    bool paused;
    bool in_message;
    bool want_continue;
    bool failed;
    bool in_trailers;  /* after the header section: fields are trailers */
    size_t body_limit; /* this request's: max_body, or max_upload on the upload route */
    int n_trailers;
    uint64_t started;
};

const char *cmh_req_header(const cmh_request *r, const char *name)
{
    for (int i = 0; i < r->n_headers; i++)
        if (strcmp(r->headers[i].name, name) == 0)
            return r->headers[i].value;
    return NULL;
}

int cmh_req_header_count(const cmh_request *r, const char *name)
{
    int n = 0;
    for (int i = 0; i < r->n_headers; i++)
        n += strcmp(r->headers[i].name, name) == 0;
    return n;
}

void cmh_request_free(cmh_request *r)
{
    if (!r)
        return;
    for (int i = 0; i < r->n_headers; i++) {
        free(r->headers[i].name);
        free(r->headers[i].value);
    }
    free(r->headers);
    free(r->target);
    free(r->body);
    free(r);
}

static cmh_parser *P(llhttp_t *ll)
{
    return (cmh_parser *)ll->data;
}

static int fail(cmh_parser *p, int status, const char *reason)
{
    p->status = status;
    p->reason = reason;
    llhttp_set_error_reason(&p->ll, reason);
    return HPE_USER;
}

static int count_header_bytes(cmh_parser *p, size_t n)
{
    p->header_bytes += n;
    if (p->header_bytes > p->lim.max_header_bytes)
        return fail(p, 431, "request line and headers are too large");
    return 0;
}

static int on_message_begin(llhttp_t *ll)
{
    cmh_parser *p = P(ll);
    cmh_request_free(p->cur);
    p->cur = cmh_xcalloc(1, sizeof *p->cur);
    p->cur->start_ns = p->started ? p->started : cmh_mono_ns();
    p->started = p->cur->start_ns;
    p->header_bytes = 0;
    p->url.len = p->field.len = p->value.len = 0;
    p->in_message = true;
    p->in_trailers = false;
    p->n_trailers = 0;
    return 0;
}

static int on_url(llhttp_t *ll, const char *at, size_t n)
{
    cmh_parser *p = P(ll);
    cmh_buf_put(&p->url, at, n);
    return count_header_bytes(p, n);
}

static int on_header_field(llhttp_t *ll, const char *at, size_t n)
{
    cmh_parser *p = P(ll);
    cmh_buf_put(&p->field, at, n);
    return count_header_bytes(p, n);
}

static int on_header_value(llhttp_t *ll, const char *at, size_t n)
{
    cmh_parser *p = P(ll);
    cmh_buf_put(&p->value, at, n);
    return count_header_bytes(p, n);
}

static int on_header_value_complete(llhttp_t *ll)
{
    cmh_parser *p = P(ll);
    cmh_request *r = p->cur;
    if (p->in_trailers) {
        /* A trailer field of a chunked body: counted against the limits,
         * then dropped. Trailers never become request headers (a proxy
         * checks headers, not trailers). */
        p->field.len = p->value.len = 0;
        if (++p->n_trailers > p->lim.max_headers)
            return fail(p, 431, "too many trailer fields");
        return 0;
    }
    if (r->n_headers >= p->lim.max_headers)
        return fail(p, 431, "too many header fields");
    if (memchr(p->value.p ? p->value.p : "", '\0', p->value.len))
        return fail(p, 400, "NUL byte in a header value");
    r->headers = cmh_xrealloc(r->headers, sizeof *r->headers * (size_t)(r->n_headers + 1));
    cmh_header *h = &r->headers[r->n_headers++];
    h->name = cmh_xstrndup(p->field.p ? p->field.p : "", p->field.len);
    for (char *c = h->name; *c; c++)
        if (*c >= 'A' && *c <= 'Z')
            *c = (char)(*c + 32);
    /* trim trailing whitespace (llhttp keeps it) */
    const char *v = p->value.p ? p->value.p : ""; /* an empty value has no buffer */
    size_t vl = p->value.p ? p->value.len : 0;
    while (vl && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
        vl--;
    h->value = cmh_xstrndup(v, vl);
    p->field.len = p->value.len = 0;
    return 0;
}

/*
 * Transfer-Encoding, if sent, must be exactly "chunked" once, on HTTP/1.1:
 * a proxy in front may frame "gzip, chunked", "chunked, chunked" or a
 * chunked HTTP/1.0 message differently than llhttp does (request
 * smuggling). Returns 0, 400 (malformed or HTTP/1.0) or 501 (a coding
 * other than chunked).
 */
static int check_transfer_encoding(const cmh_request *r)
{
    int codings = 0;
    bool other = false;
    for (int i = 0; i < r->n_headers; i++) {
        if (strcmp(r->headers[i].name, "transfer-encoding") != 0)
            continue;
        const char *v = r->headers[i].value;
        for (;;) {
            while (*v == ' ' || *v == '\t')
                v++;
            size_t n = strcspn(v, ",");
            size_t t = n;
            while (t && (v[t - 1] == ' ' || v[t - 1] == '\t'))
                t--;
            if (t == 0)
                return 400; /* empty list element */
            codings++;
            other |= !(t == 7 && cmh_strnieq(v, "chunked", 7));
            if (!v[n])
                break;
            v += n + 1;
        }
    }
    if (codings == 0)
        return 0;
    if (other)
        return 501;
    return codings == 1 && r->http_minor >= 1 ? 0 : 400;
}

static int on_headers_complete(llhttp_t *ll)
{
    cmh_parser *p = P(ll);
    cmh_request *r = p->cur;
    if (p->url.len == 0 || memchr(p->url.p, '\0', p->url.len))
        return fail(p, 400, "bad request-target");
    r->target = cmh_xstrndup(p->url.p, p->url.len);
    (void)snprintf(r->method, sizeof r->method, "%s",
                   llhttp_method_name((llhttp_method_t)llhttp_get_method(ll)));
    r->http_major = llhttp_get_http_major(ll);
    r->http_minor = llhttp_get_http_minor(ll);
    if (r->http_major != 1)
        return fail(p, 505, "only HTTP/1.x is supported");
    /* RFC 9112 3.2: exactly one Host in HTTP/1.1, at most one in 1.0. */
    int hosts = cmh_req_header_count(r, "host");
    if (hosts > 1 || (hosts == 0 && r->http_minor >= 1))
        return fail(p, 400, hosts ? "more than one Host header" : "no Host header");
    int status = check_transfer_encoding(r);
    if (status == 501)
        return fail(p, 501, "unsupported transfer coding (only chunked is accepted)");
    if (status)
        return fail(p, 400, "malformed Transfer-Encoding");
    r->keep_alive = llhttp_should_keep_alive(ll) != 0;
    r->upgrade = llhttp_get_upgrade(ll) != 0;
    p->body_limit = p->lim.max_body;
    if (p->lim.upload_prefix &&
        strncmp(r->target, p->lim.upload_prefix, strlen(p->lim.upload_prefix)) == 0)
        p->body_limit = p->lim.max_upload;
    if ((ll->flags & F_CONTENT_LENGTH) && ll->content_length > p->body_limit)
        return fail(p, 413, "request body is too large");
    const char *expect = cmh_req_header(r, "expect");
    if (expect) {
        if (!cmh_strieq(expect, "100-continue"))
            return fail(p, 417, "unsupported Expect header");
        p->want_continue = true;
    }
    p->in_trailers = true;
    return 0;
}

/* The chunk-size line is parsed (its size is in ll->content_length): a
 * chunk that would take the body over the limit is refused before any of
 * its bytes are awaited. */
static int on_chunk_header(llhttp_t *ll)
{
    cmh_parser *p = P(ll);
    if (ll->content_length > p->body_limit - p->cur->body_len)
        return fail(p, 413, "request body is too large");
    return 0;
}

static int on_body(llhttp_t *ll, const char *at, size_t n)
{
    cmh_parser *p = P(ll);
    cmh_request *r = p->cur;
    if (r->body_len + n > p->body_limit)
        return fail(p, 413, "request body is too large");
    r->body = cmh_xrealloc(r->body, r->body_len + n + 1);
    memcpy(r->body + r->body_len, at, n);
    r->body_len += n;
    r->body[r->body_len] = '\0';
    return 0;
}

static int on_message_complete(llhttp_t *ll)
{
    cmh_parser *p = P(ll);
    p->done = p->cur;
    p->cur = NULL;
    p->in_message = false;
    p->want_continue = false;
    p->started = 0;
    return HPE_PAUSED;
}

cmh_parser *cmh_parser_new(const cmh_limits *lim)
{
    cmh_parser *p = cmh_xcalloc(1, sizeof *p);
    p->lim = *lim;
    llhttp_settings_init(&p->settings);
    p->settings.on_message_begin = on_message_begin;
    p->settings.on_url = on_url;
    p->settings.on_header_field = on_header_field;
    p->settings.on_header_value = on_header_value;
    p->settings.on_header_value_complete = on_header_value_complete;
    p->settings.on_headers_complete = on_headers_complete;
    p->settings.on_body = on_body;
    p->settings.on_chunk_header = on_chunk_header;
    p->settings.on_message_complete = on_message_complete;
    llhttp_init(&p->ll, HTTP_REQUEST, &p->settings);
    p->ll.data = p;
    return p;
}

void cmh_parser_free(cmh_parser *p)
{
    if (!p)
        return;
    cmh_request_free(p->cur);
    cmh_request_free(p->done);
    cmh_buf_free(&p->field);
    cmh_buf_free(&p->value);
    cmh_buf_free(&p->url);
    free(p);
}

static int map_errno(cmh_parser *p, llhttp_errno_t e)
{
    if (p->status)
        return CMH_P_ERROR; /* a limit, set by fail() from a callback */
    switch (e) {
        case HPE_INVALID_METHOD:
            p->status = 501;
            p->reason = "unknown method";
            break;
        case HPE_INVALID_VERSION:
            p->status = 505;
            p->reason = "unsupported HTTP version";
            break;
        default:
            p->status = 400;
            p->reason = "malformed HTTP request";
            break;
    }
    return CMH_P_ERROR;
}

/* A request line that starts with an upper-case token and a space names
 * a method we do not know (501); anything else is garbage (400). */
static bool looks_like_method(const char *d, size_t n)
{
    size_t i = 0;
    while (i < n && (d[i] == '\r' || d[i] == '\n'))
        i++;
    size_t start = i;
    while (i < n && i - start < 24 && ((d[i] >= 'A' && d[i] <= 'Z') || d[i] == '-' || d[i] == '_'))
        i++;
    return i > start && i < n && d[i] == ' ';
}

int cmh_parser_feed(cmh_parser *p, const char *data, size_t len, size_t *used)
{
    *used = 0;
    if (p->failed)
        return CMH_P_ERROR;
    if (p->paused) {
        llhttp_resume(&p->ll);
        p->paused = false;
    }
    if (len == 0)
        return CMH_P_MORE;
    if (!p->in_message && !p->started)
        p->started = cmh_mono_ns();
    llhttp_errno_t e = llhttp_execute(&p->ll, data, len);
    if (e == HPE_OK) {
        *used = len;
        if (!p->in_message)
            p->started = 0; /* only blank lines between requests */
        return CMH_P_MORE;
    }
    if (e == HPE_PAUSED) {
        const char *pos = llhttp_get_error_pos(&p->ll);
        *used = pos ? (size_t)(pos - data) : len;
        p->paused = true;
        if (!p->done) /* paused but nothing complete: cannot happen */
            return map_errno(p, HPE_INTERNAL);
        /* Upgrade/CONNECT, or a request after which the client announced
         * "Connection: close": nothing more is parsed on this connection. */
        if (p->done->upgrade || !p->done->keep_alive) {
            p->failed = true;
            p->status = 0;
        }
        return CMH_P_DONE;
    }
    if (e == HPE_PAUSED_UPGRADE && p->done) {
        *used = len;
        p->failed = true;
        p->status = 0;
        return CMH_P_DONE;
    }
    p->failed = true;
    p->in_message = false;
    if (e == HPE_INVALID_METHOD && !looks_like_method(data, len))
        e = HPE_INVALID_CONSTANT; /* not a method at all (e.g. a TLS hello): 400 */
    return map_errno(p, e);
}

cmh_request *cmh_parser_take(cmh_parser *p)
{
    cmh_request *r = p->done;
    p->done = NULL;
    return r;
}

int cmh_parser_status(const cmh_parser *p)
{
    return p->status ? p->status : 400;
}

const char *cmh_parser_reason(const cmh_parser *p)
{
    return p->reason ? p->reason : "malformed HTTP request";
}

bool cmh_parser_in_message(const cmh_parser *p)
{
    return p->in_message;
}

bool cmh_parser_take_continue(cmh_parser *p)
{
    bool w = p->want_continue && p->in_message;
    if (w)
        p->want_continue = false;
    return w;
}

uint64_t cmh_parser_started(const cmh_parser *p)
{
    return p->in_message ? p->started : 0;
}
