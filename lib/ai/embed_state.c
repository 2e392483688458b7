/*
 * embed_state.c - the per-store embeddings state (provider configuration
 * and in-memory indexes), its configuration from cm_store_set_embedder()
 * or the environment, the provider dispatch and the vector helpers.
 */
#include "ai_int.h"

#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const type_names[CM__EMB_NTYPES] = {"event", "member", "post"};

const char *cm__embed_type_name(int type)
{
    return type >= 0 && type < CM__EMB_NTYPES ? type_names[type] : "";
}

int cm__embed_type_parse(const char *name)
{
    for (int t = 0; name && t < CM__EMB_NTYPES; t++)
        if (strcmp(name, type_names[t]) == 0)
            return t;
    return -1;
}

void cm__embedder_dispose(cm__embedder *e)
{
    if (!e)
        return;
    cm__free(e->base_url);
    if (e->api_key) {
        sodium_memzero(e->api_key, strlen(e->api_key));
        cm__free(e->api_key);
    }
    cm__free(e->model);
    memset(e, 0, sizeof *e);
}

int cm_embedder_options_init(cm_embedder_options *opts, uint32_t size)
{
    if (!opts || size < sizeof(uint32_t) * 2)
        return cm__error_set(CM_EINVAL, "cm_embedder_options_init: bad struct size");
    cm_embedder_options d = CM_EMBEDDER_OPTIONS_INIT;
    memset(opts, 0, size);
    memcpy(opts, &d, size < sizeof d ? size : sizeof d);
    opts->size = size;
    return CM_OK;
}

static char *dup_or_null(const char *s, bool *oom)
{
    if (!s)
        return NULL;
    char *d = cm__strdup(s);
    if (!d)
        *oom = true;
    return d;
}

/* Check opts and build the configuration (version left 0). */
static int config_from(cm__embedder *out, const cm_embedder_options *in)
{
    memset(out, 0, sizeof *out);
    cm_embedder_options o = CM_EMBEDDER_OPTIONS_INIT;
    if (in) {
        if (in->size < sizeof(uint32_t) * 2)
            return cm__error_set(CM_EINVAL, "cm_store_set_embedder: options size not set");
        memcpy(&o, in, in->size < sizeof o ? in->size : sizeof o);
    }
    if (o.kind != CM_EMBEDDER_BUILTIN && o.kind != CM_EMBEDDER_OPENAI)
        return cm__error_set_field(CM_EINVAL, "kind", "kind: builtin or openai");
    if (o.dim && (o.dim < CM__EMBED_MIN_DIM || o.dim > CM__EMBED_MAX_DIM))
        return cm__error_set_field(CM_EINVAL, "dim", "dim: 0 or %d..%d", CM__EMBED_MIN_DIM,
                                   CM__EMBED_MAX_DIM);
    if (o.batch > 2048)
        return cm__error_set_field(CM_EINVAL, "batch", "batch: at most 2048 texts per request");
    bool oom = false;
    out->kind = o.kind;
    out->timeout_ms = o.timeout_ms ? o.timeout_ms : 30000;
    out->batch = o.batch ? o.batch : 64;
    if (o.kind == CM_EMBEDDER_BUILTIN) {
        out->dim = o.dim ? o.dim : CM__EMBED_BUILTIN_DIM;
        out->model = dup_or_null(CM__EMBED_BUILTIN_MODEL, &oom);
    } else {
        const char *u = o.base_url;
        if (!u || (strncmp(u, "http://", 7) != 0 && strncmp(u, "https://", 8) != 0))
            return cm__error_set_field(CM_EINVAL, "base_url",
                                       "base_url: an http(s) URL such as "
                                       "https://api.openai.com/v1 is required");
        if (!o.model || !*o.model || strlen(o.model) > 200)
            return cm__error_set_field(CM_EINVAL, "model",
                                       "model: the embedding model's name is required");
        out->dim = o.dim;
        out->base_url = dup_or_null(u, &oom);
        out->model = dup_or_null(o.model, &oom);
        out->api_key = dup_or_null(o.api_key && *o.api_key ? o.api_key : NULL, &oom);
    }
    if (oom) {
        cm__embedder_dispose(out);
        return cm__oom();
    }
    return CM_OK;
}

/* The configuration the environment asks for; the builtin default when
 * it asks for nothing, or (logged) when it asks for something invalid. */
static int config_from_env(cm__embedder *out)
{
    cm_embedder_options o = CM_EMBEDDER_OPTIONS_INIT;
    const char *kind = getenv("COMMUNITY_EMBEDDER");
    if (kind && strcmp(kind, "openai") == 0) {
        o.kind = CM_EMBEDDER_OPENAI;
        o.base_url = getenv("COMMUNITY_EMBEDDINGS_URL");
        o.api_key = getenv("COMMUNITY_EMBEDDINGS_KEY");
        o.model = getenv("COMMUNITY_EMBEDDINGS_MODEL");
        const char *d = getenv("COMMUNITY_EMBEDDINGS_DIM");
        const char *t = getenv("COMMUNITY_EMBEDDINGS_TIMEOUT_MS");
        o.dim = d ? (uint32_t)strtoul(d, NULL, 10) : 0;
        o.timeout_ms = t ? (uint32_t)strtoul(t, NULL, 10) : 0;
    } else if (kind && *kind && strcmp(kind, "builtin") != 0) {
        cm__log(CM_LOG_WARN, "ai",
                "COMMUNITY_EMBEDDER=%.32s is not builtin or openai: using builtin", kind);
    }
    int rc = config_from(out, &o);
    if (rc == CM_OK || rc == CM_ENOMEM)
        return rc;
    cm__log(CM_LOG_WARN, "ai", "embeddings configuration from the environment: %s; using builtin",
            cm_error_message());
    cm_embedder_options b = CM_EMBEDDER_OPTIONS_INIT;
    return config_from(out, &b);
}

static uint64_t next_version(void)
{
    static uint64_t counter;
    return __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED);
}

static void state_free(cm__embed_state *st)
{
    if (!st)
        return;
    for (int t = 0; t < CM__EMB_NTYPES; t++)
        cm__embed_index_dispose(&st->idx[t]);
    cm__embedder_dispose(&st->cfg);
    pthread_mutex_destroy(&st->cfg_lock);
    pthread_mutex_destroy(&st->idx_lock);
    cm__free(st);
}

int cm__embed_state_get(cm__embed_state **out, cm_store *store)
{
    pthread_mutex_lock(&store->lock);
    cm__embed_state *st = store->embed;
    int rc = CM_OK;
    if (!st) {
        st = cm__calloc(1, sizeof *st);
        if (!st) {
            rc = cm__oom();
        } else if ((rc = config_from_env(&st->cfg))) {
            cm__free(st);
            st = NULL;
        } else {
            st->cfg.version = next_version();
            st->exact_max = CM__EMBED_EXACT_MAX;
            pthread_mutex_init(&st->cfg_lock, NULL);
            pthread_mutex_init(&st->idx_lock, NULL);
            for (int t = 0; t < CM__EMB_NTYPES; t++)
                st->idx[t].generation = -1;
            store->embed = st;
            store->embed_free = state_free;
        }
    }
    pthread_mutex_unlock(&store->lock);
    *out = st;
    return rc;
}

int cm__embed_config(cm__embedder *out, cm_store *store)
{
    memset(out, 0, sizeof *out);
    cm__embed_state *st;
    int rc = cm__embed_state_get(&st, store);
    if (rc)
        return rc;
    bool oom = false;
    pthread_mutex_lock(&st->cfg_lock);
    *out = st->cfg;
    out->base_url = dup_or_null(st->cfg.base_url, &oom);
    out->api_key = dup_or_null(st->cfg.api_key, &oom);
    out->model = dup_or_null(st->cfg.model, &oom);
    if (!out->dim)
        out->dim = st->learned_dim;
    pthread_mutex_unlock(&st->cfg_lock);
    if (oom) {
        cm__embedder_dispose(out);
        return cm__oom();
    }
    return CM_OK;
}

void cm__embed_learn_dim(cm_store *store, uint64_t version, uint32_t dim)
{
    cm__embed_state *st = store->embed;
    if (!st || !dim)
        return;
    pthread_mutex_lock(&st->cfg_lock);
    if (st->cfg.version == version && !st->cfg.dim && !st->learned_dim)
        st->learned_dim = dim;
    pthread_mutex_unlock(&st->cfg_lock);
}

void cm__embed_set_exact_max(cm_store *store, size_t n)
{
    cm__embed_state *st;
    if (cm__embed_state_get(&st, store))
        return;
    pthread_mutex_lock(&st->idx_lock);
    st->exact_max = n;
    for (int t = 0; t < CM__EMB_NTYPES; t++) {
        cm__embed_index_dispose(&st->idx[t]);
        st->idx[t].generation = -1;
    }
    pthread_mutex_unlock(&st->idx_lock);
}

int cm_store_set_embedder(cm_store *store, const cm_embedder_options *opts)
{
    if (!store)
        return cm__error_set(CM_EINVAL, "cm_store_set_embedder: store is NULL");
    cm__embedder cfg;
    int rc = config_from(&cfg, opts);
    if (rc)
        return rc;
    cm__embed_state *st;
    if ((rc = cm__embed_state_get(&st, store))) {
        cm__embedder_dispose(&cfg);
        return rc;
    }
    cfg.version = next_version();
    pthread_mutex_lock(&st->cfg_lock);
    cm__embedder old = st->cfg;
    st->cfg = cfg;
    st->learned_dim = 0;
    st->backfilled = 0;
    pthread_mutex_unlock(&st->cfg_lock);
    cm__embedder_dispose(&old);
    cm__log(CM_LOG_INFO, "ai", "embeddings: %s provider, model %.64s",
            cfg.kind == CM_EMBEDDER_BUILTIN ? "builtin" : "openai", cfg.model);
    return CM_OK;
}

int cm__embed_texts(float **out, uint32_t *dim_io, const cm__embedder *e, const char *const *texts,
                    size_t n)
{
    *out = NULL;
    if (e->kind == CM_EMBEDDER_BUILTIN) {
        size_t dim = e->dim;
        float *v = cm__calloc(n ? n * dim : 1, sizeof *v);
        if (!v)
            return cm__oom();
        for (size_t i = 0; i < n; i++)
            cm__embed_builtin(v + i * dim, dim, texts[i], strlen(texts[i]));
        *dim_io = (uint32_t)dim;
        *out = v;
        return CM_OK;
    }
    /* HTTP: non-empty texts in batches; empty ones stay zero vectors */
    size_t *idx = cm__malloc((n ? n : 1) * sizeof *idx);
    const char **batch = cm__malloc((e->batch ? e->batch : 1) * sizeof *batch);
    float *all = NULL;
    int rc = CM_OK;
    if (!idx || !batch) {
        rc = cm__oom();
        goto out;
    }
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (texts[i][0])
            idx[m++] = i;
    uint32_t dim = *dim_io;
    for (size_t at = 0; at < m;) {
        size_t k = m - at < e->batch ? m - at : e->batch;
        for (size_t j = 0; j < k; j++)
            batch[j] = texts[idx[at + j]];
        float *part = NULL;
        if ((rc = cm__embed_http(&part, &dim, e, batch, k)))
            goto out;
        if (!all && !(all = cm__calloc(n * dim, sizeof *all))) {
            cm__free(part);
            rc = cm__oom();
            goto out;
        }
        for (size_t j = 0; j < k; j++)
            memcpy(all + idx[at + j] * dim, part + j * dim, dim * sizeof *all);
        cm__free(part);
        at += k;
    }
    if (!all) {
        if (!dim) {
            /* only empty texts and the size is unknown yet */
            rc = cm__error_set(CM_ENOTSUP, "embeddings: vector size unknown (set dim)");
            goto out;
        }
        if (!(all = cm__calloc(n ? n * dim : 1, sizeof *all))) {
            rc = cm__oom();
            goto out;
        }
    }
    *dim_io = dim;
    *out = all;
    all = NULL;
out:
    cm__free(all);
    cm__free(idx);
    cm__free(batch);
    return rc;
}

void cm__embed_encode(uint8_t *dst, const float *src, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &src[i], 4);
        dst[4 * i] = (uint8_t)u;
        dst[4 * i + 1] = (uint8_t)(u >> 8);
        dst[4 * i + 2] = (uint8_t)(u >> 16);
        dst[4 * i + 3] = (uint8_t)(u >> 24);
    }
}

void cm__embed_decode(float *dst, const uint8_t *src, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t u = (uint32_t)src[4 * i] | (uint32_t)src[4 * i + 1] << 8 |
                     (uint32_t)src[4 * i + 2] << 16 | (uint32_t)src[4 * i + 3] << 24;
        memcpy(&dst[i], &u, 4);
    }
}

bool cm__embed_normalize(float *v, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += (double)v[i] * v[i];
    if (!(s > 0) || !isfinite(s)) {
        memset(v, 0, n * sizeof *v);
        return false;
    }
    double inv = 1.0 / sqrt(s);
    for (size_t i = 0; i < n; i++)
        v[i] = (float)(v[i] * inv);
    return true;
}

void cm__embed_hash(char out[65], const char *text, size_t len)
{
    unsigned char h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, (const unsigned char *)text, len);
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < sizeof h; i++) {
        out[2 * i] = hex[h[i] >> 4];
        out[2 * i + 1] = hex[h[i] & 15];
    }
    out[64] = '\0';
}
