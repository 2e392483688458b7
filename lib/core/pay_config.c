/*
 * pay_config.c - the store's payment provider settings: set through
 * cm_store_set_payments() or read from the environment on first use,
 * copied out under a lock for each operation that needs them.
 */
#include "pay_int.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_TOLERANCE_S 300u
#define DEFAULT_GRACE_S (3u * 86400u)

struct cm__pay_state {
    pthread_mutex_t lock;
    char *base_url, *secret_key, *webhook_secret, *success_url, *cancel_url;
    uint32_t tolerance_s, grace_s, timeout_ms;
};

static void wipe_free(char *s)
{
    if (s) {
        memset(s, 0, strlen(s));
        cm__free(s);
    }
}

static void strings_free(struct cm__pay_state *st)
{
    cm__free(st->base_url);
    wipe_free(st->secret_key);
    wipe_free(st->webhook_secret);
    cm__free(st->success_url);
    cm__free(st->cancel_url);
    st->base_url = st->secret_key = st->webhook_secret = st->success_url = st->cancel_url = NULL;
}

static void state_free(struct cm__pay_state *st)
{
    if (!st)
        return;
    strings_free(st);
    pthread_mutex_destroy(&st->lock);
    cm__free(st);
}

int cm_payments_options_init(cm_payments_options *opts, uint32_t size)
{
    if (!opts || size < sizeof(cm_payments_options))
        return cm__error_set(CM_EINVAL, "cm_payments_options_init: bad struct size");
    cm_payments_options d = CM_PAYMENTS_OPTIONS_INIT;
    *opts = d;
    return CM_OK;
}

static bool http_url(const char *s)
{
    return s && (strncmp(s, "http://", 7) == 0 || strncmp(s, "https://", 8) == 0);
}

static char *dup_or_null(const char *s, bool *oom)
{
    if (!s || !*s)
        return NULL;
    char *d = cm__strdup(s);
    if (!d)
        *oom = true;
    return d;
}

static uint32_t env_u32(const char *name)
{
    const char *v = getenv(name);
    return v ? (uint32_t)strtoul(v, NULL, 10) : 0;
}

/* Copy o into st (st->lock held by the caller, or st not yet shared). */
static int apply(struct cm__pay_state *st, const cm_payments_options *o)
{
    if (o->base_url && *o->base_url && !http_url(o->base_url))
        return cm__error_set_field(CM_EINVAL, "base_url", "payments base_url must be http(s)");
    if (o->success_url && *o->success_url && !http_url(o->success_url))
        return cm__error_set_field(CM_EINVAL, "success_url",
                                   "payments success_url must be http(s)");
    if (o->cancel_url && *o->cancel_url && !http_url(o->cancel_url))
        return cm__error_set_field(CM_EINVAL, "cancel_url", "payments cancel_url must be http(s)");
    struct cm__pay_state n = {0};
    bool oom = false;
    n.base_url = dup_or_null(o->base_url, &oom);
    n.secret_key = dup_or_null(o->secret_key, &oom);
    n.webhook_secret = dup_or_null(o->webhook_secret, &oom);
    n.success_url = dup_or_null(o->success_url, &oom);
    n.cancel_url = dup_or_null(o->cancel_url, &oom);
    if (oom) {
        strings_free(&n);
        return cm__oom();
    }
    strings_free(st);
    st->base_url = n.base_url;
    st->secret_key = n.secret_key;
    st->webhook_secret = n.webhook_secret;
    st->success_url = n.success_url;
    st->cancel_url = n.cancel_url;
    st->tolerance_s = o->tolerance_s ? o->tolerance_s : DEFAULT_TOLERANCE_S;
    st->grace_s = o->grace_s ? o->grace_s : DEFAULT_GRACE_S;
    st->timeout_ms = o->timeout_ms;
    return CM_OK;
}

static void from_env(cm_payments_options *o)
{
    o->base_url = getenv("COMMUNITY_PAYMENTS_URL");
    o->secret_key = getenv("COMMUNITY_PAYMENTS_SECRET_KEY");
    o->webhook_secret = getenv("COMMUNITY_PAYMENTS_WEBHOOK_SECRET");
    o->success_url = getenv("COMMUNITY_PAYMENTS_SUCCESS_URL");
    o->cancel_url = getenv("COMMUNITY_PAYMENTS_CANCEL_URL");
    o->tolerance_s = env_u32("COMMUNITY_PAYMENTS_TOLERANCE_S");
    o->grace_s = env_u32("COMMUNITY_PAYMENTS_GRACE_S");
}

/* The store's state, created from the environment on first use. */
static int state_get(struct cm__pay_state **out, cm_store *store)
{
    pthread_mutex_lock(&store->lock);
    struct cm__pay_state *st = store->pay;
    int rc = CM_OK;
    if (!st) {
        st = cm__calloc(1, sizeof *st);
        if (!st) {
            rc = cm__oom();
        } else {
            cm_payments_options o = CM_PAYMENTS_OPTIONS_INIT;
            from_env(&o);
            if ((rc = apply(st, &o))) {
                cm__log(CM_LOG_WARN, "pay", "payments configuration from the environment: %s",
                        cm_error_message());
                cm_payments_options none = CM_PAYMENTS_OPTIONS_INIT;
                rc = apply(st, &none);
            }
            if (rc) {
                cm__free(st);
                st = NULL;
            } else {
                pthread_mutex_init(&st->lock, NULL);
                store->pay = st;
                store->pay_free = state_free;
            }
        }
    }
    pthread_mutex_unlock(&store->lock);
    *out = st;
    return rc;
}

int cm_store_set_payments(cm_store *store, const cm_payments_options *opts)
{
    if (!store)
        return cm__error_set(CM_EINVAL, "cm_store_set_payments: store is NULL");
    cm_payments_options o = CM_PAYMENTS_OPTIONS_INIT;
    if (opts) {
        if (opts->size < sizeof(uint32_t) || opts->size > sizeof o)
            return cm__error_set(CM_EINVAL, "cm_store_set_payments: options size not set");
        memcpy(&o, opts, opts->size);
    } else {
        from_env(&o);
    }
    struct cm__pay_state *st;
    int rc = state_get(&st, store);
    if (rc)
        return rc;
    pthread_mutex_lock(&st->lock);
    rc = apply(st, &o);
    pthread_mutex_unlock(&st->lock);
    return rc;
}

void cm__pay_settings_dispose(cm__pay_settings *s)
{
    cm__free((char *)s->cfg.base_url);
    wipe_free((char *)s->cfg.secret_key);
    wipe_free((char *)s->cfg.webhook_secret);
    cm__free(s->success_url);
    cm__free(s->cancel_url);
    memset(s, 0, sizeof *s);
}

int cm__pay_settings_get(cm__pay_settings *out, cm_store *store)
{
    memset(out, 0, sizeof *out);
    struct cm__pay_state *st;
    int rc = state_get(&st, store);
    if (rc)
        return rc;
    bool oom = false;
    pthread_mutex_lock(&st->lock);
    out->cfg.base_url = dup_or_null(st->base_url, &oom);
    out->cfg.secret_key = dup_or_null(st->secret_key, &oom);
    out->cfg.webhook_secret = dup_or_null(st->webhook_secret, &oom);
    out->cfg.timeout_ms = st->timeout_ms;
    out->success_url = dup_or_null(st->success_url, &oom);
    out->cancel_url = dup_or_null(st->cancel_url, &oom);
    out->tolerance_s = st->tolerance_s;
    out->grace_us = (int64_t)st->grace_s * 1000000;
    pthread_mutex_unlock(&st->lock);
    if (oom) {
        cm__pay_settings_dispose(out);
        return cm__oom();
    }
    return CM_OK;
}

int64_t cm__pay_grace_us(cm_store *store)
{
    struct cm__pay_state *st;
    if (state_get(&st, store))
        return (int64_t)DEFAULT_GRACE_S * 1000000;
    pthread_mutex_lock(&st->lock);
    int64_t g = (int64_t)st->grace_s * 1000000;
    pthread_mutex_unlock(&st->lock);
    return g;
}
