/*
 * stripe.c - the payment provider shaped like Stripe's API.
 *
 * Checkout: POST {base_url}/v1/checkout/sessions, form-encoded as Stripe
 * documents it (mode, line_items[0][price_data][...], success_url, ...),
 * the secret key as a bearer token and an Idempotency-Key header; the
 * reply's id, url and expires_at (seconds) are kept. One easy handle per
 * request, as lib/ai/embed_http.c does.
 *
 * Webhooks: the `Stripe-Signature` header is "t=<unix seconds>,v1=<hex>"
 * (more v1 entries during a secret rotation; v0 and unknown keys are
 * ignored); the signed text is "<t>.<raw body>" and the signature its
 * HMAC-SHA256 under the webhook secret (libsodium).
 */
#include "pay.h"

#include "../util/json.h"

#include <curl/curl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_REPLY (1024u * 1024u)

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
        size_t cap = r->cap ? r->cap : 4096;
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

/* Replace every occurrence of secret in s by "***". */
static void redact(char *s, const char *secret)
{
    size_t k = secret ? strlen(secret) : 0;
    if (k < 4)
        return;
    char *p;
    while ((p = strstr(s, secret))) {
        memcpy(p, "***", 3);
        memmove(p + 3, p + k, strlen(p + k) + 1);
    }
}

/* Append "&key=value" (value percent-encoded) to b. */
static void form_add(cm__buf *b, CURL *h, const char *key, const char *value)
{
    char *e = curl_easy_escape(h, value, 0);
    if (!e) {
        b->err = CM_ENOMEM;
        return;
    }
    cm__buf_printf(b, "%s%s=%s", b->len ? "&" : "", key, e);
    curl_free(e);
}

static void form_addi(cm__buf *b, CURL *h, const char *key, int64_t v)
{
    char n[24];
    snprintf(n, sizeof n, "%lld", (long long)v);
    form_add(b, h, key, n);
}

static bool is_http_url(const char *s)
{
    return s && (strncmp(s, "http://", 7) == 0 || strncmp(s, "https://", 8) == 0);
}

static int check_req(const cm__pay_cfg *cfg, const cm__checkout_req *req, bool *sub)
{
    if (!is_http_url(cfg->base_url))
        return cm__error_set(CM_EINVAL, "payments: the provider's base URL is not configured");
    if (!cfg->secret_key || !*cfg->secret_key)
        return cm__error_set(CM_EINVAL, "payments: the provider's secret key is not configured");
    *sub = req->mode && strcmp(req->mode, "subscription") == 0;
    if (!*sub && !(req->mode && strcmp(req->mode, "payment") == 0))
        return cm__error_set_field(CM_EINVAL, "mode",
                                   "checkout mode must be payment or "
                                   "subscription");
    if (!req->currency || strlen(req->currency) != 3)
        return cm__error_set_field(CM_EINVAL, "currency", "currency must be an ISO 4217 code");
    if (req->amount <= 0 || req->quantity < 1)
        return cm__error_set_field(CM_EINVAL, "amount", "amount and quantity must be positive");
    if (*sub && !(req->interval &&
                  (strcmp(req->interval, "month") == 0 || strcmp(req->interval, "year") == 0)))
        return cm__error_set_field(CM_EINVAL, "interval", "interval must be month or year");
    if (!is_http_url(req->success_url) || !is_http_url(req->cancel_url))
        return cm__error_set_field(CM_EINVAL, "success_url",
                                   "payments: success and cancel URLs must be http(s) URLs");
    return CM_OK;
}

static int build_form(cm__buf *b, CURL *h, const cm__checkout_req *req, bool sub)
{
    char cur[4];
    for (int i = 0; i < 3; i++)
        cur[i] = (char)(req->currency[i] | 0x20); /* Stripe wants lower case */
    cur[3] = '\0';
    form_add(b, h, "mode", req->mode);
    form_add(b, h, "success_url", req->success_url);
    form_add(b, h, "cancel_url", req->cancel_url);
    if (req->reference)
        form_add(b, h, "client_reference_id", req->reference);
    if (req->customer_email)
        form_add(b, h, "customer_email", req->customer_email);
    form_add(b, h, "line_items[0][price_data][currency]", cur);
    form_addi(b, h, "line_items[0][price_data][unit_amount]", req->amount);
    form_add(b, h, "line_items[0][price_data][product_data][name]",
             req->product_name ? req->product_name : "");
    if (sub)
        form_add(b, h, "line_items[0][price_data][recurring][interval]", req->interval);
    form_addi(b, h, "line_items[0][quantity]", req->quantity);
    if (req->meta_key && req->meta_value) {
        char k[128];
        snprintf(k, sizeof k, "metadata[%s]", req->meta_key);
        form_add(b, h, k, req->meta_value);
        if (sub) {
            snprintf(k, sizeof k, "subscription_data[metadata][%s]", req->meta_key);
            form_add(b, h, k, req->meta_value);
        }
    }
    if (sub && req->trial_days)
        form_addi(b, h, "subscription_data[trial_period_days]", req->trial_days);
    return b->err ? cm__oom() : CM_OK;
}

static int parse_session(cm__checkout_session *out, const reply *r, const char *shown)
{
    json_error_t jerr;
    json_t *j = r->p ? json_loadb(r->p, r->len, 0, &jerr) : NULL;
    const char *id = json_string_value(json_object_get(j, "id"));
    const char *url = json_string_value(json_object_get(j, "url"));
    int rc = CM_OK;
    if (!id || !url || !*id || strlen(id) >= sizeof out->id || !is_http_url(url)) {
        rc = cm__error_set(CM_EIO, "payments: %s answered no checkout session (id and url)", shown);
    } else if (!(out->url = cm__strdup(url))) {
        rc = cm__oom();
    } else {
        snprintf(out->id, sizeof out->id, "%s", id);
        json_t *exp = json_object_get(j, "expires_at");
        out->expires_at = json_is_integer(exp) ? (int64_t)json_integer_value(exp) * 1000000 : 0;
    }
    json_decref(j);
    return rc;
}

/* A short, redacted piece of the provider's error reply: " (message)". */
static void server_message(char *msg, size_t cap, const reply *r, const char *key)
{
    msg[0] = '\0';
    json_error_t jerr;
    json_t *j = r->p ? json_loadb(r->p, r->len, 0, &jerr) : NULL;
    const char *m = json_string_value(json_object_get(json_object_get(j, "error"), "message"));
    if (m) {
        snprintf(msg, cap, " (%.80s)", m);
        redact(msg, key);
    }
    json_decref(j);
}

static int stripe_checkout_create(cm__checkout_session *out, const cm__pay_cfg *cfg,
                                  const cm__checkout_req *req)
{
    memset(out, 0, sizeof *out);
    bool sub = false;
    int rc = check_req(cfg, req, &sub);
    if (rc)
        return rc;
    char shown[160];
    size_t bl = strlen(cfg->base_url);
    while (bl && cfg->base_url[bl - 1] == '/')
        bl--;
    const char *at = memchr(cfg->base_url, '@', bl); /* never show user:password@ */
    const char *scheme_end = strstr(cfg->base_url, "://");
    if (at && scheme_end && scheme_end < at)
        snprintf(shown, sizeof shown, "%.*s%.*s/v1/checkout/sessions",
                 (int)(scheme_end + 3 - cfg->base_url), cfg->base_url,
                 (int)(bl - (size_t)(at + 1 - cfg->base_url)), at + 1);
    else
        snprintf(shown, sizeof shown, "%.*s/v1/checkout/sessions", (int)(bl < 120 ? bl : 120),
                 cfg->base_url);
    cm__buf url = {0}, form = {0}, auth = {0}, idem = {0};
    struct curl_slist *headers = NULL;
    reply r = {0};
    CURL *h = curl_easy_init();
    if (!h)
        return cm__error_set(CM_ENOMEM, "payments: cannot set up an HTTP request");
    cm__buf_printf(&url, "%.*s/v1/checkout/sessions", (int)bl, cfg->base_url);
    cm__buf_printf(&auth, "Authorization: Bearer %s", cfg->secret_key);
    if (req->idempotency_key)
        cm__buf_printf(&idem, "Idempotency-Key: %s", req->idempotency_key);
    if ((rc = build_form(&form, h, req, sub)))
        goto out;
    if (url.err || auth.err || idem.err) {
        rc = cm__oom();
        goto out;
    }
    const char *lines[] = {"Content-Type: application/x-www-form-urlencoded",
                           "Accept: application/json", auth.p, idem.p};
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
    char errbuf[CURL_ERROR_SIZE] = "";
    long timeout = cfg->timeout_ms ? (long)cfg->timeout_ms : 30000L;
    curl_easy_setopt(h, CURLOPT_URL, url.p);
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, form.p);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)form.len);
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
    cm__log(CM_LOG_DEBUG, "pay", "POST %s (%s, %lld %s)", shown, req->mode, (long long)req->amount,
            req->currency);
    CURLcode cc = curl_easy_perform(h);
    if (cc != CURLE_OK) {
        if (r.oom) {
            rc = cm__error_set(CM_ENOMEM, "out of memory reading the provider's reply");
        } else if (r.too_big) {
            rc = cm__error_set(CM_EIO, "payments: the reply of %s is too large", shown);
        } else if (cc == CURLE_OPERATION_TIMEDOUT) {
            rc = cm__error_set(CM_ETIMEOUT, "payments: no reply from %s within %ld ms", shown,
                               timeout);
        } else {
            char detail[CURL_ERROR_SIZE + 1];
            snprintf(detail, sizeof detail, "%s", errbuf[0] ? errbuf : curl_easy_strerror(cc));
            redact(detail, cfg->secret_key);
            rc = cm__error_set(CM_EIO, "payments: POST %s failed: %.100s", shown, detail);
        }
        goto out;
    }
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    if (status < 200 || status > 299) {
        char msg[100];
        server_message(msg, sizeof msg, &r, cfg->secret_key);
        rc = cm__error_set(CM_EIO, "payments: %s answered HTTP %ld%s%s", shown, status, msg,
                           status == 401 || status == 403 ? " (check the secret key)" : "");
        goto out;
    }
    rc = parse_session(out, &r, shown);
out:
    if (rc)
        cm__log(CM_LOG_WARN, "pay", "%s", cm_error_message());
    curl_easy_cleanup(h);
    curl_slist_free_all(headers);
    if (auth.p) {
        sodium_memzero(auth.p, auth.len);
        cm__free(auth.p);
    }
    cm__free(url.p);
    cm__free(form.p);
    cm__free(idem.p);
    cm__free(r.p);
    return rc;
}

static void hmac_hex(char hex[65], const char *secret, int64_t t, const char *payload, size_t len)
{
    crypto_auth_hmacsha256_state st;
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    char ts[24];
    int n = snprintf(ts, sizeof ts, "%lld.", (long long)t);
    crypto_auth_hmacsha256_init(&st, (const unsigned char *)secret, strlen(secret));
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)ts, (unsigned long long)n);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)payload, len);
    crypto_auth_hmacsha256_final(&st, mac);
    sodium_bin2hex(hex, 65, mac, sizeof mac);
    sodium_memzero(&st, sizeof st);
}

void cm__pay_sign(char *out, size_t cap, const char *secret, int64_t t, const char *payload,
                  size_t len)
{
    char hex[65];
    hmac_hex(hex, secret, t, payload, len);
    snprintf(out, cap, "t=%lld,v1=%s", (long long)t, hex);
}

static int stripe_verify(const cm__pay_cfg *cfg, const char *payload, size_t len, const char *sig,
                         int64_t now_us, uint32_t tolerance_s)
{
    if (!cfg->webhook_secret || !*cfg->webhook_secret)
        return cm__error_set(CM_EAUTH, "payments: no webhook secret is configured");
    if (!sig || !*sig)
        return cm__error_set_field(CM_EAUTH, "signature", "the signature header is missing");
    /* t= once; v1= any number of times (a rotated secret signs twice) */
    int64_t t = -1;
    const char *v1[8];
    size_t v1_len[8], n_v1 = 0;
    const char *p = sig;
    while (*p) {
        const char *e = strchr(p, ',');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n > 2 && p[0] == 't' && p[1] == '=') {
            char *end;
            long long v = strtoll(p + 2, &end, 10);
            if (end != p + n || v < 0 || t >= 0)
                return cm__error_set_field(CM_EAUTH, "signature",
                                           "the signature header has a malformed timestamp");
            t = v;
        } else if (n > 3 && p[0] == 'v' && p[1] == '1' && p[2] == '=' && n_v1 < 8) {
            v1[n_v1] = p + 3;
            v1_len[n_v1++] = n - 3;
        }
        p += n;
        if (*p == ',')
            p++;
    }
    if (t < 0 || n_v1 == 0)
        return cm__error_set_field(CM_EAUTH, "signature",
                                   "the signature header lacks t= or v1= entries");
    int64_t now = now_us / 1000000, tol = tolerance_s ? tolerance_s : 300;
    if (t < now - tol || t > now + tol)
        return cm__error_set_field(CM_EAUTH, "signature",
                                   "the signature timestamp is %lld s away from now (tolerance "
                                   "%lld s): a replayed or delayed delivery",
                                   (long long)(now - t), (long long)tol);
    char hex[65];
    hmac_hex(hex, cfg->webhook_secret, t, payload, len);
    bool ok = false;
    for (size_t i = 0; i < n_v1; i++)
        if (v1_len[i] == 64 && sodium_memcmp(hex, v1[i], 64) == 0)
            ok = true;
    sodium_memzero(hex, sizeof hex);
    if (!ok)
        return cm__error_set_field(CM_EAUTH, "signature",
                                   "no signature matches the payload (wrong secret or a "
                                   "modified body)");
    return CM_OK;
}

const cm__pay_provider cm__pay_stripe = {
    .name = "stripe",
    .checkout_create = stripe_checkout_create,
    .verify = stripe_verify,
};
