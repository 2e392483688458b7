/*
 * sigv4.c - AWS Signature Version 4: canonical request, string to sign,
 * signing key, Authorization header and presigned query strings (sigv4.h).
 * SHA-256 and HMAC-SHA256 come from libsodium.
 */
#include "sigv4.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ALGORITHM "AWS4-HMAC-SHA256"

void cm__sha256_hex(char out[65], const void *p, size_t n)
{
    uint8_t h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, p, n);
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < sizeof h; i++) {
        out[2 * i] = hex[h[i] >> 4];
        out[2 * i + 1] = hex[h[i] & 15];
    }
    out[64] = '\0';
}

void cm__hmac_sha256(uint8_t out[32], const void *key, size_t keylen, const void *msg, size_t n)
{
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, key, keylen);
    crypto_auth_hmacsha256_update(&st, msg, n);
    crypto_auth_hmacsha256_final(&st, out);
    sodium_memzero(&st, sizeof st);
}

static void hex32(char out[65], const uint8_t in[32])
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < 32; i++) {
        out[2 * i] = hex[in[i] >> 4];
        out[2 * i + 1] = hex[in[i] & 15];
    }
    out[64] = '\0';
}

void cm__sigv4_amz_date(char out[17], int64_t us)
{
    int64_t s = us / 1000000;
    if (us % 1000000 < 0)
        s--;
    int64_t days = s / 86400, rem = s % 86400;
    if (rem < 0) {
        rem += 86400;
        days--;
    }
    int y, m, d;
    cm__civil_from_days(days, &y, &m, &d);
    int v[6] = {y, m, d, (int)(rem / 3600), (int)(rem / 60 % 60), (int)(rem % 60)};
    static const int width[6] = {4, 2, 2, 2, 2, 2};
    char *o = out;
    for (int i = 0; i < 6; i++) {
        if (i == 3)
            *o++ = 'T';
        int x = v[i] < 0 ? 0 : v[i];
        for (int w = width[i] - 1; w >= 0; w--, x /= 10)
            o[w] = (char)('0' + x % 10);
        o += width[i];
    }
    *o++ = 'Z';
    *o = '\0';
}

static bool unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.' || c == '~';
}

void cm__sigv4_uri_encode(cm__buf *b, const char *s, size_t n, bool keep_slash)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (unreserved(c) || (keep_slash && c == '/')) {
            cm__buf_put(b, (const char *)&c, 1);
        } else {
            char e[3] = {'%', hex[c >> 4], hex[c & 15]};
            cm__buf_put(b, e, 3);
        }
    }
}

/* The path with empty, "." and ".." segments removed; a trailing '/' kept. */
static void normalized_path(cm__buf *b, const char *p)
{
    size_t n = strlen(p);
    /* segment start offsets in b, to pop on ".." */
    size_t stack[64], depth = 0;
    cm__buf_put(b, "/", 1);
    size_t base = b->len;
    bool trailing = n > 1 && p[n - 1] == '/';
    for (size_t i = 0; i < n;) {
        while (i < n && p[i] == '/')
            i++;
        size_t j = i;
        while (j < n && p[j] != '/')
            j++;
        size_t len = j - i;
        if (len == 0 || (len == 1 && p[i] == '.')) {
            /* skip */
        } else if (len == 2 && p[i] == '.' && p[i + 1] == '.') {
            if (depth > 0)
                b->len = stack[--depth];
            else
                b->len = base;
        } else {
            if (depth < sizeof stack / sizeof stack[0])
                stack[depth++] = b->len;
            if (b->len > base)
                cm__buf_put(b, "/", 1);
            cm__sigv4_uri_encode(b, p + i, len, false);
        }
        i = j;
    }
    /* ".." popping may leave the buffer shorter than its NUL; restore it */
    if (b->p && !b->err)
        b->p[b->len] = '\0';
    if (trailing && b->len > base)
        cm__buf_put(b, "/", 1);
}

typedef struct enc_kv {
    char *name;
    char *value;
    size_t order;
} enc_kv;

static int cmp_query(const void *a, const void *b)
{
    const enc_kv *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    if (c)
        return c;
    return strcmp(x->value, y->value);
}

static int cmp_header(const void *a, const void *b)
{
    const enc_kv *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    if (c)
        return c;
    return x->order < y->order ? -1 : x->order > y->order;
}

static void free_kvs(enc_kv *v, size_t n)
{
    if (!v)
        return;
    for (size_t i = 0; i < n; i++) {
        cm__free(v[i].name);
        cm__free(v[i].value);
    }
    cm__free(v);
}

static char *encoded(const char *s, bool keep_slash)
{
    cm__buf b = {0};
    cm__buf_put(&b, "", 0);
    cm__sigv4_uri_encode(&b, s ? s : "", s ? strlen(s) : 0, keep_slash);
    if (b.err) {
        cm__free(b.p);
        return NULL;
    }
    return b.p;
}

/* Canonical query string of pairs (raw) into b. */
static int put_query(cm__buf *b, const cm__sigv4_kv *q, size_t n)
{
    if (n == 0)
        return CM_OK;
    enc_kv *v = cm__calloc(n, sizeof *v);
    if (!v)
        return cm__oom();
    for (size_t i = 0; i < n; i++) {
        v[i].name = encoded(q[i].name, false);
        v[i].value = encoded(q[i].value, false);
        if (!v[i].name || !v[i].value) {
            free_kvs(v, n);
            return cm__oom();
        }
    }
    qsort(v, n, sizeof *v, cmp_query);
    for (size_t i = 0; i < n; i++) {
        if (i)
            cm__buf_put(b, "&", 1);
        cm__buf_puts(b, v[i].name);
        cm__buf_put(b, "=", 1);
        cm__buf_puts(b, v[i].value);
    }
    free_kvs(v, n);
    return CM_OK;
}

/* A header value trimmed, with runs of spaces and tabs collapsed to one space. */
static char *header_value(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    char *o = cm__malloc(n + 1);
    if (!o)
        return NULL;
    size_t k = 0;
    bool space = false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
            space = k > 0;
            continue;
        }
        if (space)
            o[k++] = ' ';
        space = false;
        o[k++] = c;
    }
    o[k] = '\0';
    return o;
}

/* Canonical headers ("name:value\n" each) and the signed-header list. */
static int put_headers(cm__buf *canon, cm__buf *signed_list, const cm__sigv4_kv *h, size_t n)
{
    if (n == 0)
        return cm__error_set(CM_EINVAL, "sigv4: no headers to sign (host is required)");
    enc_kv *v = cm__calloc(n, sizeof *v);
    if (!v)
        return cm__oom();
    for (size_t i = 0; i < n; i++) {
        if (!h[i].name || !h[i].name[0]) {
            free_kvs(v, n);
            return cm__error_set(CM_EINVAL, "sigv4: a header without a name");
        }
        v[i].name = cm__strdup(h[i].name);
        v[i].value = header_value(h[i].value);
        v[i].order = i;
        if (!v[i].name || !v[i].value) {
            free_kvs(v, n);
            return cm__oom();
        }
        for (char *p = v[i].name; *p; p++)
            if (*p >= 'A' && *p <= 'Z')
                *p = (char)(*p - 'A' + 'a');
    }
    qsort(v, n, sizeof *v, cmp_header);
    bool host = false;
    for (size_t i = 0; i < n; i++) {
        bool same = i > 0 && strcmp(v[i].name, v[i - 1].name) == 0;
        if (same) {
            cm__buf_put(canon, ",", 1);
        } else {
            if (i > 0) {
                cm__buf_put(canon, "\n", 1);
                cm__buf_put(signed_list, ";", 1);
            }
            cm__buf_puts(canon, v[i].name);
            cm__buf_put(canon, ":", 1);
            cm__buf_puts(signed_list, v[i].name);
        }
        if (strcmp(v[i].name, "host") == 0)
            host = true;
        cm__buf_puts(canon, v[i].value);
    }
    cm__buf_put(canon, "\n", 1);
    free_kvs(v, n);
    if (!host)
        return cm__error_set(CM_EINVAL, "sigv4: the host header must be signed");
    return CM_OK;
}

/* Canonical request into *creq, the signed-header list into *signed_out. */
static int canonical(char **creq, char **signed_out, const cm__sigv4_req *r)
{
    *creq = NULL;
    if (signed_out)
        *signed_out = NULL;
    if (!r || !r->method || !r->method[0] || !r->path || r->path[0] != '/')
        return cm__error_set(CM_EINVAL,
                             "sigv4: a request needs a method and a path starting with '/'");
    cm__buf b = {0}, sl = {0};
    cm__buf_puts(&b, r->method);
    cm__buf_put(&b, "\n", 1);
    if (r->normalize_path)
        normalized_path(&b, r->path);
    else
        cm__sigv4_uri_encode(&b, r->path, strlen(r->path), true);
    cm__buf_put(&b, "\n", 1);
    int rc = put_query(&b, r->query, r->nquery);
    if (!rc) {
        cm__buf_put(&b, "\n", 1);
        rc = put_headers(&b, &sl, r->headers, r->nheaders);
    }
    if (!rc) {
        cm__buf_put(&b, "\n", 1);
        cm__buf_put(&b, sl.p ? sl.p : "", sl.len);
        cm__buf_put(&b, "\n", 1);
        cm__buf_puts(&b, r->payload_hash ? r->payload_hash : CM__SHA256_HEX_EMPTY);
        cm__buf_put(&sl, "", 0);
        if (b.err || sl.err)
            rc = cm__oom();
    }
    if (rc) {
        cm__free(b.p);
        cm__free(sl.p);
        return rc;
    }
    *creq = b.p;
    if (signed_out)
        *signed_out = sl.p;
    else
        cm__free(sl.p);
    return CM_OK;
}

int cm__sigv4_canonical_request(char **out, const cm__sigv4_req *r)
{
    return canonical(out, NULL, r);
}

static bool valid_date(const char *amz_date)
{
    if (!amz_date || strlen(amz_date) != 16 || amz_date[8] != 'T' || amz_date[15] != 'Z')
        return false;
    for (int i = 0; i < 15; i++)
        if (i != 8 && (amz_date[i] < '0' || amz_date[i] > '9'))
            return false;
    return true;
}

static int check_cred(const cm__sigv4_cred *c, const char *amz_date)
{
    if (!c || !c->access_key || !c->access_key[0] || !c->secret_key || !c->region ||
        !c->region[0] || !c->service || !c->service[0])
        return cm__error_set(
            CM_EINVAL,
            "sigv4: credentials need an access key, a secret key, a region and a service");
    if (!valid_date(amz_date))
        return cm__error_set(CM_EINVAL, "sigv4: the date must read YYYYMMDDTHHMMSSZ");
    return CM_OK;
}

static void scope(cm__buf *b, const cm__sigv4_cred *c, const char *amz_date)
{
    cm__buf_put(b, amz_date, 8);
    cm__buf_printf(b, "/%s/%s/aws4_request", c->region, c->service);
}

int cm__sigv4_string_to_sign(char **out, const cm__sigv4_cred *c, const char *amz_date,
                             const char *creq)
{
    *out = NULL;
    int rc = check_cred(c, amz_date);
    if (rc)
        return rc;
    char h[65];
    cm__sha256_hex(h, creq, strlen(creq));
    cm__buf b = {0};
    cm__buf_puts(&b, ALGORITHM "\n");
    cm__buf_puts(&b, amz_date);
    cm__buf_put(&b, "\n", 1);
    scope(&b, c, amz_date);
    cm__buf_put(&b, "\n", 1);
    cm__buf_puts(&b, h);
    if (b.err) {
        cm__free(b.p);
        return cm__oom();
    }
    *out = b.p;
    return CM_OK;
}

void cm__sigv4_signing_key(uint8_t out[32], const cm__sigv4_cred *c, const char *date8)
{
    /* HMAC's key is "AWS4" + secret. A key longer than SHA-256's 64-byte
     * block is replaced by its hash (RFC 2104), so hash it here too and
     * nothing is allocated. */
    size_t sl = strlen(c->secret_key);
    uint8_t k[64], a[32], b[32];
    size_t kl;
    if (sl + 4 <= sizeof k) {
        memcpy(k, "AWS4", 4);
        memcpy(k + 4, c->secret_key, sl);
        kl = sl + 4;
    } else {
        crypto_hash_sha256_state hs;
        crypto_hash_sha256_init(&hs);
        crypto_hash_sha256_update(&hs, (const uint8_t *)"AWS4", 4);
        crypto_hash_sha256_update(&hs, (const uint8_t *)c->secret_key, sl);
        crypto_hash_sha256_final(&hs, k);
        kl = 32;
    }
    cm__hmac_sha256(a, k, kl, date8, 8);
    cm__hmac_sha256(b, a, 32, c->region, strlen(c->region));
    cm__hmac_sha256(a, b, 32, c->service, strlen(c->service));
    cm__hmac_sha256(out, a, 32, "aws4_request", 12);
    sodium_memzero(k, sizeof k);
    sodium_memzero(a, sizeof a);
    sodium_memzero(b, sizeof b);
}

/* Hex signature of creq into sig. */
static int sign(char sig[65], const cm__sigv4_cred *c, const char *amz_date, const char *creq)
{
    char *sts = NULL;
    int rc = cm__sigv4_string_to_sign(&sts, c, amz_date, creq);
    if (rc)
        return rc;
    uint8_t key[32], mac[32];
    cm__sigv4_signing_key(key, c, amz_date);
    cm__hmac_sha256(mac, key, 32, sts, strlen(sts));
    hex32(sig, mac);
    sodium_memzero(key, sizeof key);
    cm__free(sts);
    return CM_OK;
}

int cm__sigv4_authorization(char **out, const cm__sigv4_cred *c, const char *amz_date,
                            const cm__sigv4_req *r)
{
    *out = NULL;
    int rc = check_cred(c, amz_date);
    if (rc)
        return rc;
    char *creq = NULL, *sl = NULL;
    if ((rc = canonical(&creq, &sl, r)))
        return rc;
    char sig[65];
    rc = sign(sig, c, amz_date, creq);
    cm__free(creq);
    if (rc) {
        cm__free(sl);
        return rc;
    }
    cm__buf b = {0};
    cm__buf_printf(&b, ALGORITHM " Credential=%s/", c->access_key);
    scope(&b, c, amz_date);
    cm__buf_printf(&b, ", SignedHeaders=%s, Signature=%s", sl, sig);
    cm__free(sl);
    if (b.err) {
        cm__free(b.p);
        return cm__oom();
    }
    *out = b.p;
    return CM_OK;
}

int cm__sigv4_presign_query(char **out, const cm__sigv4_cred *c, const char *amz_date,
                            int64_t expires_s, const cm__sigv4_req *r)
{
    *out = NULL;
    int rc = check_cred(c, amz_date);
    if (rc)
        return rc;
    if (expires_s < 1 || expires_s > 604800)
        return cm__error_set(CM_EINVAL, "sigv4: a presigned URL expires after 1 to 604800 seconds");
    if (!r)
        return cm__error_set(CM_EINVAL, "sigv4: no request");
    /* the signed-header list first: it is one of the query parameters */
    cm__buf hb = {0}, sl = {0};
    rc = put_headers(&hb, &sl, r->headers, r->nheaders);
    cm__buf_put(&sl, "", 0);
    cm__free(hb.p);
    if (!rc && sl.err)
        rc = cm__oom();
    if (rc) {
        cm__free(sl.p);
        return rc;
    }
    size_t n = r->nquery + 6;
    cm__sigv4_kv *q = cm__calloc(n, sizeof *q);
    cm__buf cred = {0};
    char exp[24];
    snprintf(exp, sizeof exp, "%lld", (long long)expires_s);
    cm__buf_printf(&cred, "%s/", c->access_key);
    scope(&cred, c, amz_date);
    if (!q || cred.err) {
        cm__free(q);
        cm__free(cred.p);
        cm__free(sl.p);
        return cm__oom();
    }
    size_t k = 0;
    for (size_t i = 0; i < r->nquery; i++)
        q[k++] = r->query[i];
    q[k++] = (cm__sigv4_kv){"X-Amz-Algorithm", ALGORITHM};
    q[k++] = (cm__sigv4_kv){"X-Amz-Credential", cred.p};
    q[k++] = (cm__sigv4_kv){"X-Amz-Date", amz_date};
    q[k++] = (cm__sigv4_kv){"X-Amz-Expires", exp};
    q[k++] = (cm__sigv4_kv){"X-Amz-SignedHeaders", sl.p};
    if (c->session_token && c->session_token[0])
        q[k++] = (cm__sigv4_kv){"X-Amz-Security-Token", c->session_token};
    cm__sigv4_req pr = *r;
    pr.query = q;
    pr.nquery = k;
    if (!pr.payload_hash)
        pr.payload_hash = "UNSIGNED-PAYLOAD";
    char *creq = NULL;
    rc = canonical(&creq, NULL, &pr);
    char sig[65];
    if (!rc)
        rc = sign(sig, c, amz_date, creq);
    cm__buf qs = {0};
    if (!rc) {
        rc = put_query(&qs, q, k);
        cm__buf_printf(&qs, "&X-Amz-Signature=%s", sig);
        if (!rc && qs.err)
            rc = cm__oom();
    }
    cm__free(creq);
    cm__free(q);
    cm__free(cred.p);
    cm__free(sl.p);
    if (rc) {
        cm__free(qs.p);
        return rc;
    }
    *out = qs.p;
    return CM_OK;
}
