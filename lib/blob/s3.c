/*
 * s3.c - the S3 blob backend (blob.h): PutObject, GetObject, DeleteObject
 * and the multipart upload (Create, UploadPart, Complete, Abort) over
 * libcurl, each request signed with AWS Signature Version 4 in headers
 * (util/sigv4.h) with x-amz-content-sha256 set to the payload's hash;
 * presigned GET and PUT URLs signed in the query string.
 *
 * URLs are path-style (endpoint/bucket/key) by default, virtual-host style
 * (bucket.endpoint/key) with s3_virtual_host. Every request uses its own
 * curl easy handle, so the backend is thread-safe. Secrets are never
 * logged or placed in error details. The credentials are the configured
 * keys, or else a task role's from the container credentials endpoint
 * (util/aws_creds.h), refreshed before they expire.
 */
#include "blob.h"

#include "../util/aws_creds.h"
#include "../util/sigv4.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct s3_state {
    char *scheme;    /* "https" */
    char *authority; /* "host[:port]" as the Host header carries it */
    char *bucket;
    char *region;
    cm__aws_creds *creds;
    bool virtual_host;
    int64_t threshold, part_size;
} s3_state;

/* ---- one request ---- */

typedef struct s3_resp {
    long status;
    cm__buf body;
    size_t max; /* body limit: more is CM_ERANGE */
    bool too_big;
    char etag[128];
    char version[256];
} s3_resp;

static size_t on_write(char *p, size_t size, size_t n, void *ud)
{
    s3_resp *r = ud;
    size_t len = size * n;
    if (r->body.len + len > r->max) {
        r->too_big = true;
        return 0; /* aborts the transfer */
    }
    cm__buf_put(&r->body, p, len);
    return r->body.err ? 0 : len;
}

static void header_value(char *dst, size_t cap, const char *p, size_t len, size_t name_len)
{
    const char *v = p + name_len;
    size_t vl = len - name_len;
    while (vl > 0 && (*v == ' ' || *v == '\t')) {
        v++;
        vl--;
    }
    while (vl > 0 && (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == ' '))
        vl--;
    if (vl >= cap)
        vl = cap - 1;
    memcpy(dst, v, vl);
    dst[vl] = '\0';
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
    s3_resp *r = ud;
    size_t len = size * n;
    if (len > 5 && strncasecmp(p, "etag:", 5) == 0)
        header_value(r->etag, sizeof r->etag, p, len, 5);
    else if (len > 17 && strncasecmp(p, "x-amz-version-id:", 17) == 0)
        header_value(r->version, sizeof r->version, p, len, 17);
    return len;
}

/* The text of <tag>...</tag> in an XML body, or "" (into out). */
static void xml_text(char *out, size_t cap, const char *xml, const char *tag)
{
    out[0] = '\0';
    if (!xml)
        return;
    char open[64], close_[64];
    snprintf(open, sizeof open, "<%s>", tag);
    snprintf(close_, sizeof close_, "</%s>", tag);
    const char *a = strstr(xml, open);
    if (!a)
        return;
    a += strlen(open);
    const char *e = strstr(a, close_);
    if (!e)
        return;
    size_t n = (size_t)(e - a);
    if (n >= cap)
        n = cap - 1;
    memcpy(out, a, n);
    out[n] = '\0';
}

/* The request path "/bucket/key" (path style) or "/key" into b. */
static void object_path(cm__buf *b, const s3_state *s, const char *key)
{
    if (!s->virtual_host) {
        cm__buf_put(b, "/", 1);
        cm__buf_puts(b, s->bucket);
    }
    cm__buf_put(b, "/", 1);
    cm__buf_puts(b, key);
}

static void host_of(cm__buf *b, const s3_state *s)
{
    if (s->virtual_host) {
        cm__buf_puts(b, s->bucket);
        cm__buf_put(b, ".", 1);
    }
    cm__buf_puts(b, s->authority);
}

static cm__sigv4_cred cred_of(const s3_state *s, const cm__aws_key *k)
{
    return (cm__sigv4_cred){.access_key = k->access_key,
                            .secret_key = k->secret_key,
                            .session_token = k->token,
                            .region = s->region,
                            .service = "s3"};
}

/* Map a finished request to a status code (detail set on failure). */
static int s3_status(const s3_resp *r, const char *what, const char *key)
{
    if (r->status >= 200 && r->status < 300)
        return CM_OK;
    char code[64], msg[160];
    xml_text(code, sizeof code, r->body.p, "Code");
    xml_text(msg, sizeof msg, r->body.p, "Message");
    int rc = r->status == 404   ? CM_ENOTFOUND
             : r->status == 403 ? CM_EAUTH
             : r->status == 503 ? CM_EBUSY
                                : CM_EIO;
    return cm__error_set(rc, "S3 %s %s: HTTP %ld %s%s%s", what, key, r->status, code[0] ? code : "",
                         msg[0] ? ": " : "", msg);
}

/* One signed request. query: raw pairs (signed and sent). body may be NULL
 * (no payload). resp->max bounds the response body. */
static int s3_request(s3_state *s, s3_resp *resp, const char *method, const char *key,
                      const cm__sigv4_kv *query, size_t nquery, const void *body, size_t n,
                      const char *content_type)
{
    cm__aws_key k;
    int rc = cm__aws_creds_get(&k, s->creds);
    if (rc)
        return rc;
    cm__buf path = {0}, host = {0}, url = {0};
    object_path(&path, s, key);
    host_of(&host, s);
    char hash[65], date[17];
    cm__sha256_hex(hash, body ? body : "", body ? n : 0);
    cm__sigv4_amz_date(date, cm_now_us());
    if (path.err || host.err) {
        cm__free(path.p);
        cm__free(host.p);
        cm__aws_key_dispose(&k);
        return cm__oom();
    }
    cm__sigv4_kv h[5];
    size_t nh = 0;
    h[nh++] = (cm__sigv4_kv){"host", host.p};
    h[nh++] = (cm__sigv4_kv){"x-amz-content-sha256", hash};
    h[nh++] = (cm__sigv4_kv){"x-amz-date", date};
    if (k.token)
        h[nh++] = (cm__sigv4_kv){"x-amz-security-token", k.token};
    if (content_type)
        h[nh++] = (cm__sigv4_kv){"content-type", content_type};
    cm__sigv4_req r = {.method = method,
                       .path = path.p,
                       .query = query,
                       .nquery = nquery,
                       .headers = h,
                       .nheaders = nh,
                       .payload_hash = hash};
    cm__sigv4_cred c = cred_of(s, &k);
    char *authz = NULL;
    if ((rc = cm__sigv4_authorization(&authz, &c, date, &r)))
        goto out;
    /* the URL: the path and query encoded exactly as they were signed */
    cm__buf_printf(&url, "%s://%s", s->scheme, host.p);
    cm__sigv4_uri_encode(&url, path.p, path.len, true);
    for (size_t i = 0; i < nquery; i++) {
        cm__buf_put(&url, i ? "&" : "?", 1);
        cm__sigv4_uri_encode(&url, query[i].name, strlen(query[i].name), false);
        cm__buf_put(&url, "=", 1);
        const char *v = query[i].value ? query[i].value : "";
        cm__sigv4_uri_encode(&url, v, strlen(v), false);
    }
    if (url.err) {
        rc = cm__oom();
        goto out;
    }
    CURL *e = curl_easy_init();
    if (!e) {
        rc = cm__error_set(CM_ENOMEM, "curl_easy_init failed");
        goto out;
    }
    struct curl_slist *hl = NULL, *t;
    char line[4096];
    snprintf(line, sizeof line, "x-amz-content-sha256: %s", hash);
    hl = curl_slist_append(hl, line);
    snprintf(line, sizeof line, "x-amz-date: %s", date);
    hl = hl ? curl_slist_append(hl, line) : NULL;
    if (hl && k.token) {
        snprintf(line, sizeof line, "x-amz-security-token: %s", k.token);
        hl = (t = curl_slist_append(hl, line)) ? t : NULL;
    }
    snprintf(line, sizeof line, "Content-Type: %s", content_type ? content_type : "");
    if (hl)
        hl = (t = curl_slist_append(hl, content_type ? line : "Content-Type:")) ? t : NULL;
    snprintf(line, sizeof line, "Authorization: %s", authz);
    if (hl)
        hl = (t = curl_slist_append(hl, line)) ? t : NULL;
    if (hl)
        hl = (t = curl_slist_append(hl, "Expect:")) ? t : NULL;
    if (!hl) {
        curl_easy_cleanup(e);
        rc = cm__oom();
        goto out;
    }
    char errbuf[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(e, CURLOPT_URL, url.p);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
    if (strcmp(method, "GET") == 0) {
        curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    } else if (body) {
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)n);
    } else if (strcmp(method, "DELETE") != 0) {
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, "");
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
    }
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, resp);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, resp);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 300000L);
    CURLcode cc = curl_easy_perform(e);
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &resp->status);
    curl_easy_cleanup(e);
    curl_slist_free_all(hl);
    if (resp->too_big)
        rc = cm__error_set(CM_ERANGE, "S3 %s %s: the object is larger than %zu bytes", method, key,
                           resp->max);
    else if (resp->body.err)
        rc = cm__oom();
    else if (cc != CURLE_OK)
        rc = cm__error_set(cc == CURLE_OPERATION_TIMEDOUT ? CM_ETIMEOUT : CM_EIO, "S3 %s %s: %s",
                           method, key, errbuf[0] ? errbuf : curl_easy_strerror(cc));
out:
    if (authz) {
        memset(authz, 0, strlen(authz));
        cm__free(authz);
    }
    cm__free(path.p);
    cm__free(host.p);
    cm__free(url.p);
    cm__aws_key_dispose(&k);
    return rc;
}

static void resp_free(s3_resp *r)
{
    cm__free(r->body.p);
    r->body = (cm__buf){0};
}

/* ---- operations ---- */

static int set_version(char **version_out, const s3_resp *r)
{
    if (!version_out || !r->version[0] || strcmp(r->version, "null") == 0)
        return CM_OK;
    *version_out = cm__strdup(r->version);
    return *version_out ? CM_OK : cm__oom();
}

static int put_multipart(s3_state *s, char **version_out, const char *key, const char *p, size_t n,
                         const char *content_type)
{
    s3_resp r = {.max = 1 << 20};
    cm__sigv4_kv q[2] = {{"uploads", ""}};
    int rc = s3_request(s, &r, "POST", key, q, 1, NULL, 0, content_type);
    if (!rc)
        rc = s3_status(&r, "CreateMultipartUpload", key);
    char upload_id[512];
    xml_text(upload_id, sizeof upload_id, r.body.p, "UploadId");
    resp_free(&r);
    if (rc)
        return rc;
    if (!upload_id[0])
        return cm__error_set(CM_EIO, "S3 CreateMultipartUpload %s: no UploadId in the answer", key);
    size_t part = (size_t)s->part_size;
    size_t nparts = (n + part - 1) / part;
    cm__buf done = {0};
    cm__buf_puts(&done, "<CompleteMultipartUpload>");
    for (size_t i = 0; i < nparts && !rc; i++) {
        char num[24];
        snprintf(num, sizeof num, "%zu", i + 1);
        cm__sigv4_kv pq[2] = {{"partNumber", num}, {"uploadId", upload_id}};
        size_t len = i + 1 < nparts ? part : n - i * part;
        s3_resp pr = {.max = 1 << 20};
        rc = s3_request(s, &pr, "PUT", key, pq, 2, p + i * part, len, NULL);
        if (!rc)
            rc = s3_status(&pr, "UploadPart", key);
        if (!rc && !pr.etag[0])
            rc = cm__error_set(CM_EIO, "S3 UploadPart %s: no ETag in the answer", key);
        if (!rc)
            cm__buf_printf(&done, "<Part><PartNumber>%zu</PartNumber><ETag>%s</ETag></Part>", i + 1,
                           pr.etag);
        resp_free(&pr);
    }
    cm__buf_puts(&done, "</CompleteMultipartUpload>");
    if (!rc && done.err)
        rc = cm__oom();
    if (!rc) {
        cm__sigv4_kv cq[1] = {{"uploadId", upload_id}};
        s3_resp cr = {.max = 1 << 20};
        rc = s3_request(s, &cr, "POST", key, cq, 1, done.p, done.len, "application/xml");
        if (!rc)
            rc = s3_status(&cr, "CompleteMultipartUpload", key);
        /* a 200 answer can still carry an <Error> */
        if (!rc && cr.body.p && strstr(cr.body.p, "<Error>"))
            rc = cm__error_set(CM_EIO, "S3 CompleteMultipartUpload %s failed: %.120s", key,
                               cr.body.p);
        if (!rc)
            rc = set_version(version_out, &cr);
        resp_free(&cr);
    }
    cm__free(done.p);
    if (rc) {
        /* abort, so that the parts do not linger (and cost) */
        cm__error_saved saved;
        cm__error_save(&saved);
        cm__sigv4_kv aq[1] = {{"uploadId", upload_id}};
        s3_resp ar = {.max = 1 << 20};
        (void)s3_request(s, &ar, "DELETE", key, aq, 1, NULL, 0, NULL);
        resp_free(&ar);
        cm__error_restore(&saved);
    }
    return rc;
}

static int s3_put(cm__blobs *b, char **version_out, const char *key, const void *p, size_t n,
                  const char *content_type)
{
    s3_state *s = b->state;
    if ((int64_t)n >= s->threshold)
        return put_multipart(s, version_out, key, p, n, content_type);
    s3_resp r = {.max = 1 << 20};
    int rc = s3_request(s, &r, "PUT", key, NULL, 0, p ? p : "", n, content_type);
    if (!rc)
        rc = s3_status(&r, "PutObject", key);
    if (!rc)
        rc = set_version(version_out, &r);
    resp_free(&r);
    return rc;
}

static int s3_get(cm__blobs *b, void **out, size_t *n_out, const char *key, size_t max)
{
    s3_state *s = b->state;
    /* room for an error document even when max is tiny */
    s3_resp r = {.max = max < 65536 ? 65536 : max};
    int rc = s3_request(s, &r, "GET", key, NULL, 0, NULL, 0, NULL);
    if (!rc)
        rc = s3_status(&r, "GetObject", key);
    if (!rc && r.body.len > max)
        rc = cm__error_set(CM_ERANGE, "S3 GetObject %s: the object is larger than %zu bytes", key,
                           max);
    if (rc) {
        resp_free(&r);
        return rc;
    }
    if (!r.body.p) {
        r.body.p = cm__malloc(1);
        if (!r.body.p)
            return cm__oom();
        r.body.p[0] = '\0';
    }
    *out = r.body.p;
    *n_out = r.body.len;
    return CM_OK;
}

static int s3_del(cm__blobs *b, const char *key)
{
    s3_state *s = b->state;
    s3_resp r = {.max = 1 << 20};
    int rc = s3_request(s, &r, "DELETE", key, NULL, 0, NULL, 0, NULL);
    if (!rc && r.status != 404)
        rc = s3_status(&r, "DeleteObject", key);
    resp_free(&r);
    return rc;
}

static int s3_presign(cm__blobs *b, char **url_out, const char *method, const char *key,
                      const char *content_type, int64_t expires_s, int64_t now_us)
{
    s3_state *s = b->state;
    cm__aws_key k;
    int rc = cm__aws_creds_get(&k, s->creds);
    if (rc)
        return rc;
    cm__buf path = {0}, host = {0}, url = {0};
    object_path(&path, s, key);
    host_of(&host, s);
    if (path.err || host.err) {
        cm__free(path.p);
        cm__free(host.p);
        cm__aws_key_dispose(&k);
        return cm__oom();
    }
    cm__sigv4_kv h[2] = {{"host", host.p}, {"content-type", content_type}};
    cm__sigv4_req r = {
        .method = method, .path = path.p, .headers = h, .nheaders = content_type ? 2 : 1};
    cm__sigv4_cred c = cred_of(s, &k);
    char date[17];
    cm__sigv4_amz_date(date, now_us);
    char *q = NULL;
    rc = cm__sigv4_presign_query(&q, &c, date, expires_s, &r);
    if (!rc) {
        cm__buf_printf(&url, "%s://%s", s->scheme, host.p);
        cm__sigv4_uri_encode(&url, path.p, path.len, true);
        cm__buf_put(&url, "?", 1);
        cm__buf_puts(&url, q);
        if (url.err) {
            cm__free(url.p);
            rc = cm__oom();
        } else {
            *url_out = url.p;
        }
    }
    cm__free(q);
    cm__free(path.p);
    cm__free(host.p);
    cm__aws_key_dispose(&k);
    return rc;
}

static void s3_close(cm__blobs *b)
{
    s3_state *s = b->state;
    if (!s)
        return;
    cm__free(s->scheme);
    cm__free(s->authority);
    cm__free(s->bucket);
    cm__free(s->region);
    cm__aws_creds_close(s->creds);
    cm__free(s);
}

static const cm__blob_ops s3_ops = {
    .name = "s3",
    .put = s3_put,
    .get = s3_get,
    .del = s3_del,
    .presign = s3_presign,
    .close = s3_close,
};

/* S3's bucket naming rules: 3-63 of [a-z0-9.-], starting and ending with a
 * letter or digit. */
static bool bucket_valid(const char *b)
{
    size_t n = strlen(b);
    if (n < 3 || n > 63)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = b[i];
        bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        if (!alnum && !((c == '.' || c == '-') && i > 0 && i + 1 < n))
            return false;
    }
    return true;
}

int cm__blob_s3_open(cm__blobs *b, const cm__blob_config *c)
{
    const char *ep = c->s3_endpoint;
    const char *sep = strstr(ep, "://");
    if (!sep || (strncmp(ep, "http://", 7) != 0 && strncmp(ep, "https://", 8) != 0))
        return cm__error_set(CM_EINVAL, "S3: the endpoint must be an http:// or https:// URL");
    const char *auth = sep + 3;
    size_t alen = strcspn(auth, "/?#");
    if (alen == 0 || memchr(auth, '@', alen) || auth[alen] == '?' || auth[alen] == '#' ||
        (auth[alen] == '/' && auth[alen + 1] != '\0'))
        return cm__error_set(CM_EINVAL,
                             "S3: the endpoint is scheme://host[:port] without a path or user");
    if (!c->s3_bucket || !bucket_valid(c->s3_bucket))
        return cm__error_set(CM_EINVAL,
                             "S3: the bucket name must be 3-63 characters of a-z 0-9 . -");
    if (!c->s3_region || !c->s3_region[0])
        return cm__error_set(CM_EINVAL, "S3: a region is needed");
    if (c->part_size < 5 * 1024 * 1024)
        return cm__error_set(CM_EINVAL, "S3: the multipart part size is at least 5 MiB");
    s3_state *s = cm__calloc(1, sizeof *s);
    if (!s)
        return cm__oom();
    s->scheme = cm__strndup(ep, (size_t)(sep - ep));
    s->authority = cm__strndup(auth, alen);
    s->bucket = cm__strdup(c->s3_bucket);
    s->region = cm__strdup(c->s3_region);
    s->virtual_host = c->s3_virtual_host;
    s->threshold = c->multipart_threshold > 0 ? c->multipart_threshold : INT64_MAX;
    s->part_size = c->part_size;
    b->ops = &s3_ops;
    b->state = s;
    if (!s->scheme || !s->authority || !s->bucket || !s->region) {
        s3_close(b);
        b->state = NULL;
        return cm__oom();
    }
    int rc = cm__aws_creds_open(&s->creds, c->s3_access_key, c->s3_secret_key, c->s3_session_token,
                                "S3");
    if (rc) {
        s3_close(b);
        b->state = NULL;
        return rc;
    }
    for (char *p = s->authority; *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    return CM_OK;
}
