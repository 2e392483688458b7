/*
 * http_client.c - the internal HTTP client over libcurl (see
 * http_client.h for the contract).
 *
 * One easy handle per call. The body is gathered into a growable buffer
 * (or handed to the caller's chunk callback for 2xx replies), the header
 * fields of the final reply into "name\0value\0" pairs; interim replies
 * (100 Continue) are dropped when the next status line arrives.
 */
#include "http_client.h"

#include "tracing.h"

#include <curl/curl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define DEFAULT_TIMEOUT_MS 30000u
#define DEFAULT_CONNECT_MS 10000u
#define DEFAULT_MAX_RESPONSE (1024u * 1024u)
#define MAX_FIELDS (256u * 1024u)
#define MAX_SECRETS 16

typedef struct xfer {
    CURL *h;
    const cm__http_request *req;
    cm__http_response *res;
    size_t max, received, body_cap, fields_cap;
    bool too_big, oom, fields_too_big;
    int cb_rc; /* what the chunk callback stopped with */
} xfer;

/* Grow *p (capacity *cap) to hold need bytes. */
static bool reserve(char **p, size_t *cap, size_t need, size_t first)
{
    if (need <= *cap)
        return true;
    size_t c = *cap ? *cap : first;
    while (c < need)
        c *= 2;
    char *q = cm__realloc(*p, c);
    if (!q)
        return false;
    *p = q;
    *cap = c;
    return true;
}

static bool status_is_2xx(CURL *h)
{
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    return status >= 200 && status <= 299;
}

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    xfer *x = userdata;
    size_t n = size * nmemb;
    if (n > x->max - x->received) {
        x->too_big = true;
        return 0;
    }
    x->received += n;
    if (x->req->on_chunk && status_is_2xx(x->h)) {
        int rc = n ? x->req->on_chunk(ptr, n, x->req->payload) : 0;
        if (rc) {
            x->cb_rc = rc;
            return 0;
        }
        return n;
    }
    cm__http_response *r = x->res;
    if (!reserve(&r->body, &x->body_cap, r->body_len + n + 1, 4096)) {
        x->oom = true;
        return 0;
    }
    memcpy(r->body + r->body_len, ptr, n);
    r->body_len += n;
    r->body[r->body_len] = '\0';
    return n;
}

static size_t on_header(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    xfer *x = userdata;
    size_t n = size * nmemb;
    cm__http_response *r = x->res;
    if (n >= 5 && memcmp(ptr, "HTTP/", 5) == 0) {
        r->fields_len = 0; /* a new reply: forget an interim one's fields */
        return n;
    }
    const char *colon = memchr(ptr, ':', n);
    if (!colon || colon == ptr)
        return n; /* the blank line that ends the block, or a malformed line */
    size_t klen = (size_t)(colon - ptr);
    const char *v = colon + 1, *end = ptr + n;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t'))
        end--;
    size_t vlen = (size_t)(end - v);
    size_t need = r->fields_len + klen + vlen + 2;
    if (need > MAX_FIELDS) {
        x->fields_too_big = true;
        return 0;
    }
    if (!reserve(&r->fields, &x->fields_cap, need, 1024)) {
        x->oom = true;
        return 0;
    }
    memcpy(r->fields + r->fields_len, ptr, klen);
    r->fields[r->fields_len + klen] = '\0';
    memcpy(r->fields + r->fields_len + klen + 1, v, vlen);
    r->fields[r->fields_len + klen + 1 + vlen] = '\0';
    r->fields_len = need;
    return n;
}

const char *cm__http_response_header(const cm__http_response *r, const char *name)
{
    if (!r || !r->fields || !name)
        return NULL;
    for (size_t at = 0; at < r->fields_len;) {
        const char *k = r->fields + at;
        const char *v = k + strlen(k) + 1;
        if (strcasecmp(k, name) == 0)
            return v;
        at = (size_t)(v + strlen(v) + 1 - r->fields);
    }
    return NULL;
}

void cm__http_response_dispose(cm__http_response *r)
{
    if (!r)
        return;
    cm__free(r->body);
    cm__free(r->fields);
    memset(r, 0, sizeof *r);
}

void cm__http_url_shown(char *out, size_t cap, const char *url)
{
    if (!cap)
        return;
    if (!url)
        url = "";
    const char *scheme = strstr(url, "://");
    const char *host = scheme ? scheme + 3 : url;
    size_t auth_len = strcspn(host, "/?#");
    const char *at = NULL;
    for (const char *p = host; p < host + auth_len; p++)
        if (*p == '@')
            at = p; /* the last '@' of the authority ends the userinfo */
    size_t head = (size_t)(host - url);
    const char *rest = at ? at + 1 : host;
    size_t rest_len = strcspn(rest, "?#");
    (void)snprintf(out, cap, "%.*s%.*s", (int)(head < 16 ? head : 16), url,
                   (int)(rest_len < 200 ? rest_len : 200), rest);
}

void cm__http_redact(char *s, const char *secret)
{
    size_t k = secret ? strlen(secret) : 0;
    if (!s || k < 4)
        return;
    for (char *p = strstr(s, secret); p; p = strstr(p, secret)) {
        memcpy(p, "***", 3);
        memmove(p + 3, p + k, strlen(p + k) + 1);
        p += 3;
    }
}

int cm__http_error_recode(int code)
{
    cm__error_saved s;
    cm__error_save(&s);
    s.code = code;
    cm__error_restore(&s);
    return code;
}

static bool secret_header(const char *line, size_t name_len)
{
    static const char *const names[] = {"Authorization", "Proxy-Authorization",
                                        "Cookie",        "X-Api-Key",
                                        "Api-Key",       "X-Amz-Security-Token"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strlen(names[i]) == name_len && strncasecmp(line, names[i], name_len) == 0)
            return true;
    return false;
}

/* Remove every secret the request carries from the NUL-terminated s. */
static void redact_all(char *s, const cm__http_request *req)
{
    for (size_t i = 0; i < req->n_headers; i++) {
        const char *line = req->headers[i];
        const char *colon = line ? strchr(line, ':') : NULL;
        if (!colon || !secret_header(line, (size_t)(colon - line)))
            continue;
        const char *v = colon + 1;
        while (*v == ' ' || *v == '\t')
            v++;
        cm__http_redact(s, v);
        const char *sp = strchr(v, ' '); /* "Bearer <token>", "Basic <b64>" */
        if (sp)
            cm__http_redact(s, sp + 1);
    }
    for (size_t i = 0; req->secrets && req->secrets[i] && i < MAX_SECRETS; i++)
        cm__http_redact(s, req->secrets[i]);
    /* the URL's password, in case libcurl quotes it */
    const char *scheme = req->url ? strstr(req->url, "://") : NULL;
    if (scheme) {
        const char *host = scheme + 3;
        size_t auth_len = strcspn(host, "/?#");
        const char *at = NULL, *colon = NULL;
        for (const char *p = host; p < host + auth_len; p++)
            if (*p == '@')
                at = p;
        if (at) {
            colon = memchr(host, ':', (size_t)(at - host));
            char pw[128];
            const char *from = colon ? colon + 1 : host;
            size_t n = (size_t)(at - from);
            if (n < sizeof pw) {
                memcpy(pw, from, n);
                pw[n] = '\0';
                cm__http_redact(s, pw);
            }
        }
    }
}

static bool is_http_url(const char *s)
{
    return s && (strncasecmp(s, "http://", 7) == 0 || strncasecmp(s, "https://", 8) == 0);
}

/* Map a failed transfer to a code and a message. */
static int transfer_error(const xfer *x, CURLcode cc, const char *errbuf, const char *what,
                          const char *method, const char *shown, uint32_t timeout_ms,
                          uint32_t connect_ms)
{
    const cm__http_request *req = x->req;
    if (x->cb_rc)
        return x->cb_rc < 0
                   ? x->cb_rc
                   : cm__error_set(CM_EUSER, "%s: the reader stopped the reply of %s", what, shown);
    if (x->oom)
        return cm__error_set(CM_ENOMEM, "%s: out of memory reading the reply of %s", what, shown);
    if (x->too_big || cc == CURLE_FILESIZE_EXCEEDED)
        return cm__error_set(CM_ERANGE, "%s: the reply of %s is larger than %zu bytes", what, shown,
                             x->max);
    if (x->fields_too_big)
        return cm__error_set(CM_ERANGE, "%s: the reply of %s has more than %u bytes of headers",
                             what, shown, MAX_FIELDS);
    char detail[CURL_ERROR_SIZE + 1];
    (void)snprintf(detail, sizeof detail, "%s", errbuf[0] ? errbuf : curl_easy_strerror(cc));
    redact_all(detail, req);
    for (char *c = detail; *c; c++)
        if ((unsigned char)*c < 0x20)
            *c = ' ';
    switch (cc) {
        case CURLE_ABORTED_BY_CALLBACK:
            return cm__error_set(CM_ECANCELED, "%s: %s %s canceled", what, method, shown);
        case CURLE_OPERATION_TIMEDOUT: {
            curl_off_t connected = 0;
            curl_easy_getinfo(x->h, CURLINFO_CONNECT_TIME_T, &connected);
            if (!connected)
                return cm__error_set(CM_ETIMEOUT, "%s: no connection to %s within %u ms", what,
                                     shown, connect_ms < timeout_ms ? connect_ms : timeout_ms);
            return cm__error_set(CM_ETIMEOUT, "%s: no reply from %s within %u ms", what, shown,
                                 timeout_ms);
        }
        case CURLE_COULDNT_CONNECT:
        case CURLE_COULDNT_RESOLVE_HOST:
        case CURLE_COULDNT_RESOLVE_PROXY:
            return cm__error_set(CM_EUNAVAILABLE, "%s: cannot reach %s: %.100s", what, shown,
                                 detail);
        case CURLE_OUT_OF_MEMORY:
            return cm__error_set(CM_ENOMEM, "%s: out of memory sending %s %s", what, method, shown);
        case CURLE_URL_MALFORMAT:
        case CURLE_UNSUPPORTED_PROTOCOL:
            return cm__error_set(CM_EINVAL, "%s: the URL %s is not usable: %.100s", what, shown,
                                 detail);
        default:
            return cm__error_set(CM_EIO, "%s: %s %s failed: %.100s", what, method, shown, detail);
    }
}

/* libcurl calls this about once a second, and as data moves: a non-zero
 * return aborts the transfer (CURLE_ABORTED_BY_CALLBACK). */
static int on_progress(void *p, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    (void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
    return atomic_load((const atomic_int *)p) != 0;
}

int cm__http_perform(cm__http_response *out, const cm__http_request *req)
{
    memset(out, 0, sizeof *out);
    const char *what = req->what ? req->what : "http";
    char shown[224];
    cm__http_url_shown(shown, sizeof shown, req->url);
    if (!is_http_url(req->url))
        return cm__error_set(CM_EINVAL, "%s: the URL \"%.60s\" is not an http(s) URL", what, shown);
    const char *method = req->method ? req->method : req->body_len || req->body ? "POST" : "GET";
    uint32_t timeout_ms = req->timeout_ms ? req->timeout_ms : DEFAULT_TIMEOUT_MS;
    uint32_t connect_ms = req->connect_timeout_ms           ? req->connect_timeout_ms
                          : timeout_ms < DEFAULT_CONNECT_MS ? timeout_ms
                                                            : DEFAULT_CONNECT_MS;
    struct curl_slist *headers = NULL;
    int rc = CM_OK;
    for (size_t i = 0; i < req->n_headers; i++) {
        if (!req->headers[i] || !strchr(req->headers[i], ':')) {
            curl_slist_free_all(headers);
            return cm__error_set(CM_EINVAL, "%s: request header %zu is not \"Name: value\"", what,
                                 i);
        }
    }
    /* The call's trace span; its traceparent goes out with the request. */
    cm_span *span = cm__span_begin(method, CM_SPAN_CLIENT, 0);
    cm_span_set_str(span, "http.request.method", method);
    cm_span_set_str(span, "url.full", shown);
    char traceparent[13 + 56] = "traceparent: ";
    bool traced = cm_span_traceparent(traceparent + 13, sizeof traceparent - 13, span) > 0;
    for (size_t i = 0; i <= req->n_headers + traced; i++) {
        /* "Expect:" keeps libcurl from waiting for 100 Continue on large bodies */
        struct curl_slist *l = curl_slist_append(headers, i < req->n_headers    ? req->headers[i]
                                                          : i == req->n_headers ? "Expect:"
                                                                                : traceparent);
        if (!l) {
            curl_slist_free_all(headers);
            cm__span_end(span, CM_ENOMEM);
            return cm__oom();
        }
        headers = l;
    }
    CURL *h = curl_easy_init();
    if (!h) {
        curl_slist_free_all(headers);
        cm__span_end(span, CM_ENOMEM);
        return cm__error_set(CM_ENOMEM, "%s: cannot set up an HTTP request", what);
    }
    xfer x = {.h = h, .req = req, .res = out};
    x.max = req->max_response ? req->max_response : DEFAULT_MAX_RESPONSE;
    char errbuf[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(h, CURLOPT_URL, req->url);
    if (strcmp(method, "GET") == 0) {
        curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    } else if (strcmp(method, "HEAD") == 0) {
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    } else {
        if (strcmp(method, "POST") != 0)
            curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
        if (req->body || strcmp(method, "POST") == 0) {
            curl_easy_setopt(h, CURLOPT_POST, 1L);
            curl_easy_setopt(h, CURLOPT_POSTFIELDS, req->body ? (const char *)req->body : "");
            curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
        }
    }
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &x);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &x);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)connect_ms);
    curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)x.max);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    if (req->cancel) {
        curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
        curl_easy_setopt(h, CURLOPT_XFERINFODATA, (void *)req->cancel);
        curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    }
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    if (req->ca_file)
        curl_easy_setopt(h, CURLOPT_CAINFO, req->ca_file);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
#else
    curl_easy_setopt(h, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    CURLcode cc = curl_easy_perform(h);
    if (cc != CURLE_OK) {
        rc = transfer_error(&x, cc, errbuf, what, method, shown, timeout_ms, connect_ms);
    } else {
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &out->status);
    }
    curl_easy_cleanup(h);
    curl_slist_free_all(headers);
    if (rc == CM_OK) {
        cm_span_set_int(span, "http.response.status_code", out->status);
        if (out->status >= 400)
            cm_span_set_error(span, "HTTP error status");
    }
    cm__span_end(span, rc);
    return rc;
}
