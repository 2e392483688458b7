/*
 * stripe.c - the payment provider shaped like Stripe's API.
 *
 * Checkout: POST {base_url}/v1/checkout/sessions, form-encoded as Stripe
 * documents it (mode, line_items[0][price_data][...], success_url, ...),
 * the secret key as a bearer token and an Idempotency-Key header; the
 * reply's id, url and expires_at (seconds) are kept. Refunds: POST
 * {base_url}/v1/refunds (payment_intent, amount, metadata[cm_reason]) the
 * same way; the reply's id is kept. The requests go through the internal
 * HTTP client (lib/util/http_client.h).
 *
 * Webhooks: the `Stripe-Signature` header is "t=<unix seconds>,v1=<hex>"
 * (more v1 entries during a secret rotation; v0 and unknown keys are
 * ignored); the signed text is "<t>.<raw body>" and the signature its
 * HMAC-SHA256 under the webhook secret (libsodium).
 */
#include "pay.h"

#include "../util/http_client.h"
#include "../util/json.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_REPLY (1024u * 1024u)

/* Append "&key=value" to b, the value percent-encoded as
 * application/x-www-form-urlencoded (every byte but A-Z a-z 0-9 - . _ ~). */
static void form_add(cm__buf *b, const char *key, const char *value)
{
    static const char hex[] = "0123456789ABCDEF";
    cm__buf_printf(b, "%s%s=", b->len ? "&" : "", key);
    for (const unsigned char *c = (const unsigned char *)value; *c; c++) {
        if ((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') ||
            *c == '-' || *c == '.' || *c == '_' || *c == '~') {
            cm__buf_put(b, (const char *)c, 1);
        } else {
            char e[3] = {'%', hex[*c >> 4], hex[*c & 15]};
            cm__buf_put(b, e, 3);
        }
    }
}

static void form_addi(cm__buf *b, const char *key, int64_t v)
{
    char n[24];
    snprintf(n, sizeof n, "%lld", (long long)v);
    form_add(b, key, n);
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

static int build_form(cm__buf *b, const cm__checkout_req *req, bool sub)
{
    char cur[4];
    for (int i = 0; i < 3; i++)
        cur[i] = (char)(req->currency[i] | 0x20); /* Stripe wants lower case */
    cur[3] = '\0';
    form_add(b, "mode", req->mode);
    form_add(b, "success_url", req->success_url);
    form_add(b, "cancel_url", req->cancel_url);
    if (req->reference)
        form_add(b, "client_reference_id", req->reference);
    if (req->customer_email)
        form_add(b, "customer_email", req->customer_email);
    form_add(b, "line_items[0][price_data][currency]", cur);
    form_addi(b, "line_items[0][price_data][unit_amount]", req->amount);
    form_add(b, "line_items[0][price_data][product_data][name]",
             req->product_name ? req->product_name : "");
    if (sub)
        form_add(b, "line_items[0][price_data][recurring][interval]", req->interval);
    form_addi(b, "line_items[0][quantity]", req->quantity);
    if (req->meta_key && req->meta_value) {
        char k[128];
        snprintf(k, sizeof k, "metadata[%s]", req->meta_key);
        form_add(b, k, req->meta_value);
        if (sub) {
            snprintf(k, sizeof k, "subscription_data[metadata][%s]", req->meta_key);
            form_add(b, k, req->meta_value);
        }
    }
    if (sub && req->trial_days)
        form_addi(b, "subscription_data[trial_period_days]", req->trial_days);
    return b->err ? cm__oom() : CM_OK;
}

static int parse_session(cm__checkout_session *out, const cm__http_response *r, const char *shown)
{
    json_error_t jerr;
    json_t *j = r->body ? json_loadb(r->body, r->body_len, 0, &jerr) : NULL;
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
static void server_message(char *msg, size_t cap, const cm__http_response *r, const char *key)
{
    msg[0] = '\0';
    json_error_t jerr;
    json_t *j = r->body ? json_loadb(r->body, r->body_len, 0, &jerr) : NULL;
    const char *m = json_string_value(json_object_get(json_object_get(j, "error"), "message"));
    if (m) {
        snprintf(msg, cap, " (%.80s)", m);
        cm__http_redact(msg, key);
    }
    json_decref(j);
}

/* POST the form to base_url + path with the bearer key and an optional
 * Idempotency-Key; CM_OK only for a 2xx reply, in *res (the caller
 * disposes of it). `shown` receives the URL as messages may show it. */
static int stripe_post(cm__http_response *res, char shown[224], const cm__pay_cfg *cfg,
                       const char *path, const char *idem_key, const cm__buf *form)
{
    size_t bl = strlen(cfg->base_url);
    while (bl && cfg->base_url[bl - 1] == '/')
        bl--;
    cm__buf url = {0}, auth = {0}, idem = {0};
    int rc = CM_OK;
    shown[0] = '\0';
    cm__buf_printf(&url, "%.*s%s", (int)bl, cfg->base_url, path);
    cm__buf_printf(&auth, "Authorization: Bearer %s", cfg->secret_key);
    if (idem_key)
        cm__buf_printf(&idem, "Idempotency-Key: %s", idem_key);
    if (url.err || auth.err || idem.err || form->err) {
        rc = cm__oom();
        goto out;
    }
    cm__http_url_shown(shown, 224, url.p);
    const char *headers[] = {"Content-Type: application/x-www-form-urlencoded",
                             "Accept: application/json", auth.p, idem.p};
    cm__http_request hreq = {.method = "POST",
                             .url = url.p,
                             .headers = headers,
                             .n_headers = idem.p ? 4 : 3,
                             .body = form->p,
                             .body_len = form->len,
                             .timeout_ms = cfg->timeout_ms ? cfg->timeout_ms : 30000u,
                             .max_response = MAX_REPLY,
                             .what = "payments"};
    rc = cm__http_perform(res, &hreq);
    if (rc == CM_EUNAVAILABLE || rc == CM_ERANGE || rc == CM_EINVAL)
        rc = cm__http_error_recode(CM_EIO); /* the provider's failures are CM_EIO */
    if (rc)
        goto out;
    if (res->status < 200 || res->status > 299) {
        char msg[100];
        server_message(msg, sizeof msg, res, cfg->secret_key);
        rc = cm__error_set(CM_EIO, "payments: %s answered HTTP %ld%s%s", shown, res->status, msg,
                           res->status == 401 || res->status == 403 ? " (check the secret key)"
                                                                    : "");
    }
out:
    if (auth.p) {
        sodium_memzero(auth.p, auth.len);
        cm__free(auth.p);
    }
    cm__free(url.p);
    cm__free(idem.p);
    return rc;
}

static int stripe_checkout_create(cm__checkout_session *out, const cm__pay_cfg *cfg,
                                  const cm__checkout_req *req)
{
    memset(out, 0, sizeof *out);
    bool sub = false;
    int rc = check_req(cfg, req, &sub);
    if (rc)
        return rc;
    cm__buf form = {0};
    cm__http_response res = {0};
    char shown[224] = "";
    cm__log(CM_LOG_DEBUG, "pay", "POST /v1/checkout/sessions (%s, %lld %s)", req->mode,
            (long long)req->amount, req->currency);
    if ((rc = build_form(&form, req, sub)) == CM_OK &&
        (rc = stripe_post(&res, shown, cfg, "/v1/checkout/sessions", req->idempotency_key,
                          &form)) == CM_OK)
        rc = parse_session(out, &res, shown);
    if (rc)
        cm__log(CM_LOG_WARN, "pay", "%s", cm_error_message());
    cm__http_response_dispose(&res);
    cm__free(form.p);
    return rc;
}

static int stripe_refund_create(char id_out[128], const cm__pay_cfg *cfg, const cm__refund_req *req)
{
    id_out[0] = '\0';
    if (!is_http_url(cfg->base_url))
        return cm__error_set(CM_EINVAL, "payments: the provider's base URL is not configured");
    if (!cfg->secret_key || !*cfg->secret_key)
        return cm__error_set(CM_EINVAL, "payments: the provider's secret key is not configured");
    if (!req->payment || !*req->payment || req->amount <= 0)
        return cm__error_set(CM_EINVAL, "payments: a refund needs a payment and an amount > 0");
    cm__buf form = {0};
    form_add(&form, "payment_intent", req->payment);
    form_addi(&form, "amount", req->amount);
    if (req->reason)
        form_add(&form, "metadata[cm_reason]", req->reason);
    cm__http_response res = {0};
    char shown[224] = "";
    cm__log(CM_LOG_DEBUG, "pay", "POST /v1/refunds (%lld)", (long long)req->amount);
    int rc = stripe_post(&res, shown, cfg, "/v1/refunds", req->idempotency_key, &form);
    if (rc == CM_OK) {
        json_error_t jerr;
        json_t *j = res.body ? json_loadb(res.body, res.body_len, 0, &jerr) : NULL;
        const char *id = json_string_value(json_object_get(j, "id"));
        if (!id || !*id || strlen(id) >= 128)
            rc = cm__error_set(CM_EIO, "payments: %s answered no refund id", shown);
        else
            snprintf(id_out, 128, "%s", id);
        json_decref(j);
    }
    if (rc)
        cm__log(CM_LOG_WARN, "pay", "%s", cm_error_message());
    cm__http_response_dispose(&res);
    cm__free(form.p);
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
    .refund_create = stripe_refund_create,
    .verify = stripe_verify,
};
