/*
 * embed_http.c - the OpenAI-compatible embeddings client (over the
 * internal HTTP client, lib/util/http_client.h).
 *
 * POST {base_url}/embeddings with {"model", "input": [texts],
 * "encoding_format": "float"[, "dimensions"]} and the key as a bearer
 * token; the reply's data[i].embedding (ordered by data[i].index) are the
 * vectors.
 *
 * Secrets: the key travels only in the Authorization header. Error
 * messages and log lines name the URL (without any user:password part)
 * and quote at most a short piece of the server's error message, with
 * every occurrence of the key replaced by "***" (some services echo it).
 */
#include "ai_int.h"

#include "../util/http_client.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define MAX_REPLY (256u * 1024u * 1024u)

/* "{base_url}/embeddings". */
static char *make_url(const char *base)
{
    size_t n = strlen(base);
    while (n && base[n - 1] == '/')
        n--;
    char *url = cm__malloc(n + sizeof "/embeddings");
    if (!url)
        return NULL;
    memcpy(url, base, n);
    memcpy(url + n, "/embeddings", sizeof "/embeddings");
    return url;
}

/* A short, printable piece of the error a server put in its reply. */
static void server_message(char out[100], const cm__http_response *r, const char *key)
{
    out[0] = '\0';
    if (!r->body || !r->body_len)
        return;
    const char *msg = NULL;
    json_t *doc = json_loadb(r->body, r->body_len, 0, NULL);
    json_t *err = doc ? json_object_get(doc, "error") : NULL;
    if (json_is_string(err))
        msg = json_string_value(err);
    else if (json_is_string(json_object_get(err, "message")))
        msg = json_string_value(json_object_get(err, "message"));
    char buf[400];
    (void)snprintf(buf, sizeof buf, "%s", msg ? msg : r->body);
    json_decref(doc);
    cm__http_redact(buf, key);
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
static int parse_reply(float **out, uint32_t *dim_io, const cm__http_response *r, size_t n,
                       const char *shown)
{
    json_error_t jerr;
    json_t *doc = json_loadb(r->body ? r->body : "", r->body_len, 0, &jerr);
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
    char shown[224];
    char *url = make_url(e->base_url ? e->base_url : "");
    json_t *body = json_object(), *input = json_array();
    char *payload = NULL;
    cm__buf auth = {0};
    cm__http_response res = {0};
    int rc = CM_OK;
    if (!url || !body || !input) {
        json_decref(input);
        rc = cm__oom();
        goto out;
    }
    cm__http_url_shown(shown, sizeof shown, url);
    for (size_t i = 0; i < n; i++)
        json_array_append_new(input, json_string(texts[i]));
    json_object_set_new(body, "model", json_string(e->model ? e->model : ""));
    json_object_set_new(body, "input", input);
    json_object_set_new(body, "encoding_format", json_string("float"));
    if (*dim_io)
        json_object_set_new(body, "dimensions", json_integer(*dim_io));
    if ((rc = cm__json_dump(&payload, body)))
        goto out;
    const char *headers[3] = {"Content-Type: application/json", "Accept: application/json"};
    size_t n_headers = 2;
    if (e->api_key && *e->api_key) {
        cm__buf_printf(&auth, "Authorization: Bearer %s", e->api_key);
        if (auth.err) {
            rc = cm__oom();
            goto out;
        }
        headers[n_headers++] = auth.p;
    }
    cm__http_request req = {.method = "POST",
                            .url = url,
                            .headers = headers,
                            .n_headers = n_headers,
                            .body = payload,
                            .body_len = strlen(payload),
                            .timeout_ms = e->timeout_ms ? e->timeout_ms : 30000u,
                            .max_response = MAX_REPLY,
                            .what = "embeddings"};
    cm__log(CM_LOG_DEBUG, "ai", "POST %s (%zu texts, model %.64s)", shown, n,
            e->model ? e->model : "");
    rc = cm__http_perform(&res, &req);
    if (rc == CM_EUNAVAILABLE || rc == CM_ERANGE || rc == CM_EINVAL)
        rc = cm__http_error_recode(CM_EIO); /* documented: CM_EIO for HTTP failures */
    if (rc)
        goto out;
    if (res.status < 200 || res.status > 299) {
        char msg[100];
        server_message(msg, &res, e->api_key);
        rc = cm__error_set(CM_EIO, "embeddings: %s answered HTTP %ld%s%s", shown, res.status, msg,
                           res.status == 401 || res.status == 403 ? " (check the API key)" : "");
        goto out;
    }
    rc = parse_reply(out, dim_io, &res, n, shown);
out:
    if (rc)
        cm__log(CM_LOG_WARN, "ai", "%s", cm_error_message());
    if (auth.p) {
        memset(auth.p, 0, auth.len);
        cm__free(auth.p);
    }
    cm__http_response_dispose(&res);
    cm__free(payload);
    json_decref(body);
    cm__free(url);
    return rc;
}
