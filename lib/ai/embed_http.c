/*
 * embed_http.c - the OpenAI-compatible embeddings client (libcurl).
 *
 * POST {base_url}/embeddings with {"model", "input": [texts],
 * "encoding_format": "float"[, "dimensions"]} and the key as a bearer
 * token; the reply's data[i].embedding (ordered by data[i].index) are the
 * vectors. One easy handle per request: no shared curl state, no global
 * initialisation beyond what curl_easy_init does itself.
 *
 * Secrets: the key travels only in the Authorization header. Error
 * messages and log lines name the URL (without any user:password part)
 * and quote at most a short piece of the server's error message, with
 * every occurrence of the key replaced by "***" (some services echo it).
 */
#include "ai_int.h"

#include <curl/curl.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#define MAX_REPLY (256u * 1024u * 1024u)

typedef struct reply {
    char *p;
    size_t len, cap;
    bool too_big, oom;
} reply;

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    reply *r = userdata;
    size_t n = size * nmemb;
    if (r->len + n + 1 > MAX_REPLY) {
        r->too_big = true;
        return 0;
    }
    if (r->len + n + 1 > r->cap) {
        size_t cap = r->cap ? r->cap : 16384;
        while (cap < r->len + n + 1)
            cap *= 2;
        char *p = cm__realloc(r->p, cap);
        if (!p) {
            r->oom = true;
            return 0;
        }
        r->p = p;
        r->cap = cap;
    }
    memcpy(r->p + r->len, ptr, n);
    r->len += n;
    r->p[r->len] = '\0';
    return n;
}

/* "{base_url}/embeddings" and the same without "user:password@" for
 * messages (at most 120 bytes). */
static char *make_url(const char *base, char shown[128])
{
    size_t n = strlen(base);
    while (n && base[n - 1] == '/')
        n--;
    char *url = cm__malloc(n + sizeof "/embeddings");
    if (!url)
        return NULL;
    memcpy(url, base, n);
    memcpy(url + n, "/embeddings", sizeof "/embeddings");
    const char *host = strstr(url, "://");
    const char *at = host ? strchr(host + 3, '@') : NULL;
    const char *slash = host ? strchr(host + 3, '/') : NULL;
    if (at && (!slash || at < slash))
        (void)snprintf(shown, 128, "%.*s%.100s", (int)(host + 3 - url), url, at + 1);
    else
        (void)snprintf(shown, 128, "%.120s", url);
    return url;
}

/* Replace each occurrence of key in s (NUL-terminated, in place) by "***". */
static void redact(char *s, const char *key)
{
    size_t k = key ? strlen(key) : 0;
    if (k < 4)
        return;
    for (char *p = strstr(s, key); p; p = strstr(p, key)) {
        memcpy(p, "***", 3);
        memmove(p + 3, p + k, strlen(p + k) + 1);
        p += 3;
    }
}

/* A short, printable piece of the error a server put in its reply. */
static void server_message(char out[100], const reply *r, const char *key)
{
    out[0] = '\0';
    if (!r->p || !r->len)
        return;
    const char *msg = NULL;
    json_t *doc = json_loadb(r->p, r->len, 0, NULL);
    json_t *err = doc ? json_object_get(doc, "error") : NULL;
    if (json_is_string(err))
        msg = json_string_value(err);
    else if (json_is_string(json_object_get(err, "message")))
        msg = json_string_value(json_object_get(err, "message"));
    char buf[400];
    (void)snprintf(buf, sizeof buf, "%s", msg ? msg : r->p);
    json_decref(doc);
    redact(buf, key);
    for (char *c = buf; *c; c++)
        if ((unsigned char)*c < 0x20)
            *c = ' ';
    (void)snprintf(out, 100, ": %.90s", buf);
    /* cut a split UTF-8 sequence at the end */
    size_t n = strlen(out);
    while (n && ((unsigned char)out[n - 1] & 0xc0) == 0x80)
        n--;
    if (n && (unsigned char)out[n - 1] >= 0xc0)
        n--;
    out[n] = '\0';
}

/* Read n vectors of *dim_io (or, when 0, of the first one's) size. */
static int parse_reply(float **out, uint32_t *dim_io, const reply *r, size_t n, const char *shown)
{
    json_error_t jerr;
    json_t *doc = json_loadb(r->p ? r->p : "", r->len, 0, &jerr);
    if (!doc)
        return cm__error_set(CM_EIO, "embeddings: malformed reply from %s (not JSON: %.60s)", shown,
                             jerr.text);
    int rc = CM_OK;
    float *vecs = NULL;
    json_t *data = json_object_get(doc, "data");
    if (!json_is_array(data) || json_array_size(data) != n) {
        rc = cm__error_set(CM_EIO,
                           "embeddings: malformed reply from %s (expected \"data\" with %zu "
                           "items)",
                           shown, n);
        goto out;
    }
    uint32_t dim = *dim_io;
    for (size_t i = 0; i < n; i++) {
        json_t *item = json_array_get(data, i);
        json_t *emb = json_object_get(item, "embedding");
        json_t *jidx = json_object_get(item, "index");
        size_t at = json_is_integer(jidx) ? (size_t)json_integer_value(jidx) : i;
        if (!json_is_array(emb) || at >= n || json_array_size(emb) == 0) {
            rc = cm__error_set(CM_EIO,
                               "embeddings: malformed reply from %s (data[%zu] has no "
                               "embedding array)",
                               shown, i);
            goto out;
        }
        size_t d = json_array_size(emb);
        if (!dim) {
            if (d < CM__EMBED_MIN_DIM || d > CM__EMBED_MAX_DIM) {
                rc = cm__error_set(CM_EIO,
                                   "embeddings: %s answered vectors of %zu dimensions "
                                   "(supported: %d..%d)",
                                   shown, d, CM__EMBED_MIN_DIM, CM__EMBED_MAX_DIM);
                goto out;
            }
            dim = (uint32_t)d;
        }
        if (d != dim) {
            rc = cm__error_set(CM_EIO,
                               "embeddings: %s answered vectors of %zu dimensions, expected %u",
                               shown, d, dim);
            goto out;
        }
        if (!vecs && !(vecs = cm__calloc(n * dim, sizeof *vecs))) {
            rc = cm__oom();
            goto out;
        }
        float *v = vecs + at * dim;
        for (size_t j = 0; j < d; j++) {
            json_t *x = json_array_get(emb, j);
            double f = json_is_number(x) ? json_number_value(x) : NAN;
            if (!isfinite(f) || fabs(f) > 1e30) {
                rc = cm__error_set(CM_EIO,
                                   "embeddings: malformed reply from %s (data[%zu].embedding"
                                   "[%zu] is not a finite number)",
                                   shown, i, j);
                goto out;
            }
            v[j] = (float)f;
        }
        cm__embed_normalize(v, dim);
    }
    *dim_io = dim;
    *out = vecs;
    vecs = NULL;
out:
    cm__free(vecs);
    json_decref(doc);
    return rc;
}

int cm__embed_http(float **out, uint32_t *dim_io, const cm__embedder *e, const char *const *texts,
                   size_t n)
{
    *out = NULL;
    char shown[128];
    char *url = make_url(e->base_url ? e->base_url : "", shown);
    json_t *body = json_object(), *input = json_array();
    char *payload = NULL, *auth = NULL;
    struct curl_slist *headers = NULL;
    reply r = {0};
    CURL *h = NULL;
    int rc = CM_OK;
    if (!url || !body || !input) {
        json_decref(input);
        rc = cm__oom();
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        json_array_append_new(input, json_string(texts[i]));
    json_object_set_new(body, "model", json_string(e->model ? e->model : ""));
    json_object_set_new(body, "input", input);
    json_object_set_new(body, "encoding_format", json_string("float"));
    if (*dim_io)
        json_object_set_new(body, "dimensions", json_integer(*dim_io));
    if ((rc = cm__json_dump(&payload, body)))
        goto out;
    if (e->api_key && *e->api_key) {
        size_t k = strlen(e->api_key);
        if (!(auth = cm__malloc(k + sizeof "Authorization: Bearer "))) {
            rc = cm__oom();
            goto out;
        }
        memcpy(auth, "Authorization: Bearer ", sizeof "Authorization: Bearer " - 1);
        memcpy(auth + sizeof "Authorization: Bearer " - 1, e->api_key, k + 1);
    }
    const char *lines[] = {"Content-Type: application/json", "Accept: application/json", auth};
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
        if (!lines[i])
            continue;
        struct curl_slist *l = curl_slist_append(headers, lines[i]);
        if (!l) {
            rc = cm__oom();
            goto out;
        }
        headers = l;
    }
    if (!(h = curl_easy_init())) {
        rc = cm__error_set(CM_ENOMEM, "embeddings: cannot set up an HTTP request");
        goto out;
    }
    char errbuf[CURL_ERROR_SIZE] = "";
    long timeout = e->timeout_ms ? (long)e->timeout_ms : 30000L;
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, payload);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(payload));
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &r);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, timeout < 10000L ? timeout : 10000L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
#endif
    cm__log(CM_LOG_DEBUG, "ai", "POST %s (%zu texts, model %.64s)", shown, n,
            e->model ? e->model : "");
    CURLcode cc = curl_easy_perform(h);
    if (cc != CURLE_OK) {
        if (r.oom) {
            rc = cm__error_set(CM_ENOMEM, "out of memory reading the embeddings reply");
        } else if (r.too_big) {
            rc = cm__error_set(CM_EIO, "embeddings: the reply of %s is too large", shown);
        } else if (cc == CURLE_OPERATION_TIMEDOUT) {
            rc = cm__error_set(CM_ETIMEOUT, "embeddings: no reply from %s within %ld ms", shown,
                               timeout);
        } else {
            char detail[CURL_ERROR_SIZE + 1];
            (void)snprintf(detail, sizeof detail, "%s",
                           errbuf[0] ? errbuf : curl_easy_strerror(cc));
            redact(detail, e->api_key);
            rc = cm__error_set(CM_EIO, "embeddings: POST %s failed: %.100s", shown, detail);
        }
        goto out;
    }
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    if (status < 200 || status > 299) {
        char msg[100];
        server_message(msg, &r, e->api_key);
        rc = cm__error_set(CM_EIO, "embeddings: %s answered HTTP %ld%s%s", shown, status, msg,
                           status == 401 || status == 403 ? " (check the API key)" : "");
        goto out;
    }
    rc = parse_reply(out, dim_io, &r, n, shown);
out:
    if (rc)
        cm__log(CM_LOG_WARN, "ai", "%s", cm_error_message());
    if (h)
        curl_easy_cleanup(h);
    curl_slist_free_all(headers);
    if (auth) {
        memset(auth, 0, strlen(auth));
        cm__free(auth);
    }
    cm__free(payload);
    cm__free(r.p);
    json_decref(body);
    cm__free(url);
    return rc;
}
