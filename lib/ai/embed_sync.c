/*
 * embed_sync.c - keeping the embeddings table in step with the text of
 * events, members and posts.
 *
 * The write hook (cm__embed_sync) runs inside the transaction that changed
 * the text. It hashes the entity's current text and compares it with the
 * row's content_hash: unchanged text (and model) costs one look-up. With
 * the builtin provider the new vector is computed and written right there;
 * with an HTTP provider the row is only marked stale, because no network
 * call may run inside a transaction. Stale and missing vectors are
 * computed by cm__embed_refresh(): candidates are read in one short read
 * transaction, embedded outside any transaction, and written in one short
 * write transaction per batch, where each text is read again and a vector
 * whose text changed meanwhile is dropped (and the conditional upsert
 * "embed.upsert_if" never overwrites a newer row).
 *
 * Every transaction that writes vectors of a type bumps that type's
 * embedding_state.generation once and stamps its rows with the new value;
 * in-memory indexes catch up by loading the rows above the generation they
 * hold (embed_index.c).
 */
#include "ai_int.h"

#include <string.h>

static const char *const text_ids[CM__EMB_NTYPES] = {"embed.text_event", "embed.text_member",
                                                     "embed.text_post"};
static const char *const pending_ids[CM__EMB_NTYPES] = {
    "embed.pending_event", "embed.pending_member", "embed.pending_post"};

/* Append a non-empty text as a new line. */
static void tb_add(cm__buf *b, const char *s)
{
    if (!*s)
        return;
    if (b->len)
        cm__buf_put(b, "\n", 1);
    cm__buf_puts(b, s);
}

/* Member interests are a JSON array of tags: embed them as "a, b, c". */
static void tb_add_interests(cm__buf *b, const char *json)
{
    json_t *arr = json_loads(json, 0, NULL);
    size_t len = 0, i;
    json_t *v;
    json_array_foreach(arr, i, v)
    {
        if (json_is_string(v))
            len += strlen(json_string_value(v)) + 2;
    }
    char *tags = len ? cm__malloc(len + 1) : NULL;
    if (len && !tags)
        b->err = CM_ENOMEM;
    if (tags) {
        size_t n = 0;
        json_array_foreach(arr, i, v)
        {
            if (!json_is_string(v))
                continue;
            const char *t = json_string_value(v);
            if (n) {
                memcpy(tags + n, ", ", 2);
                n += 2;
            }
            memcpy(tags + n, t, strlen(t));
            n += strlen(t);
        }
        tags[n] = '\0';
        tb_add(b, tags);
        cm__free(tags);
    }
    json_decref(arr);
}

/* Cut s to at most max bytes at a UTF-8 boundary. */
static void cut_utf8(char *s, size_t max)
{
    size_t n = strlen(s);
    if (n <= max)
        return;
    while (max && ((unsigned char)s[max] & 0xc0) == 0x80)
        max--;
    s[max] = '\0';
}

int cm__embed_text(char **out, bool *found, cm__conn *conn, int type, int64_t id)
{
    *out = NULL;
    *found = false;
    cm__q q;
    int rc = cm__q_open(&q, conn, text_ids[type]);
    if (rc)
        return rc;
    cm__q_int64(&q, 1, id);
    rc = cm__q_step(&q);
    cm__buf b = {0};
    if (rc == 1) {
        *found = true;
        tb_add(&b, cm__q_col_text(&q, 0));
        tb_add(&b, cm__q_col_text(&q, 1));
        if (type == CM__EMB_MEMBER)
            tb_add_interests(&b, cm__q_col_text(&q, 2));
        else if (type == CM__EMB_EVENT)
            tb_add(&b, cm__q_col_text(&q, 2));
        rc = CM_OK;
    }
    cm__q_close(&q);
    if (rc < 0) {
        cm__free(b.p);
        return rc;
    }
    if (!b.p && !b.err)
        b.p = cm__strdup("");
    if (b.err || !b.p) {
        cm__free(b.p);
        return cm__oom();
    }
    cut_utf8(b.p, CM__EMBED_MAX_TEXT);
    *out = b.p;
    return CM_OK;
}

/* The row of (type, id), if any. */
typedef struct meta {
    bool exists, stale, no_vector;
    char hash[65];
    char model[208];
    int64_t dim;
} meta;

static int meta_load(meta *m, cm__conn *conn, int type, int64_t id)
{
    memset(m, 0, sizeof *m);
    cm__q q;
    int rc = cm__q_open(&q, conn, "embed.get");
    if (rc)
        return rc;
    cm__q_text(&q, 1, cm__embed_type_name(type));
    cm__q_int64(&q, 2, id);
    rc = cm__q_step(&q);
    if (rc == 1) {
        m->exists = true;
        (void)snprintf(m->hash, sizeof m->hash, "%s", cm__q_col_text(&q, 0));
        (void)snprintf(m->model, sizeof m->model, "%s", cm__q_col_text(&q, 1));
        m->dim = cm__q_col_int64(&q, 2);
        m->stale = cm__q_col_int64(&q, 3) != 0;
        m->no_vector = cm__q_col_int64(&q, 4) != 0;
    }
    cm__q_close(&q);
    return cm__ok(rc);
}

/* The next generation of `type`, taken once per transaction by callers. */
static int bump(int64_t *gen, cm__conn *conn, int type)
{
    cm__q q;
    int rc = cm__q_open(&q, conn, "embed.bump");
    if (rc)
        return rc;
    cm__q_text(&q, 1, cm__embed_type_name(type));
    rc = cm__q_step(&q);
    *gen = rc == 1 ? cm__q_col_int64(&q, 0) : 0;
    cm__q_close(&q);
    if (rc == 0)
        return cm__error_set(CM_ESCHEMA, "embedding_state lacks the row of '%s'",
                             cm__embed_type_name(type));
    return cm__ok(rc);
}

/* Write a vector (unconditionally, or with "embed.upsert_if" only over a
 * row that is not newer). */
static int write_vector(cm__conn *conn, const char *stmt, int type, int64_t id, const char *model,
                        const float *v, size_t dim, const char *hash, int64_t gen, int64_t now)
{
    uint8_t *blob = cm__malloc(dim * 4 + 1);
    if (!blob)
        return cm__oom();
    cm__embed_encode(blob, v, dim);
    cm__q q;
    int rc = cm__q_open(&q, conn, stmt);
    if (rc == CM_OK) {
        cm__q_text(&q, 1, cm__embed_type_name(type));
        cm__q_int64(&q, 2, id);
        cm__q_text(&q, 3, model);
        cm__q_int64(&q, 4, (int64_t)dim);
        cm__q_blob(&q, 5, blob, dim * 4);
        cm__q_text(&q, 6, hash);
        cm__q_int64(&q, 7, gen);
        cm__q_int64(&q, 8, now);
        rc = cm__ok(cm__q_step(&q));
        cm__q_close(&q);
    }
    cm__free(blob);
    return rc;
}

int cm__embed_sync(cm__conn *conn, int64_t now, const char *type_name, int64_t id)
{
    int type = cm__embed_type_parse(type_name);
    if (type < 0)
        return cm__error_set(CM_EMISUSE, "cm__embed_sync: unknown entity type '%s'",
                             type_name ? type_name : "(null)");
    cm__embedder cfg;
    int rc = cm__embed_config(&cfg, conn->store);
    if (rc)
        return rc;
    char *text = NULL;
    bool found;
    meta m;
    if ((rc = cm__embed_text(&text, &found, conn, type, id)) || !found ||
        (rc = meta_load(&m, conn, type, id)))
        goto out;
    char hash[65];
    cm__embed_hash(hash, text, strlen(text));
    bool same_text = m.exists && strcmp(m.hash, hash) == 0;
    bool current = same_text && !m.stale && !m.no_vector && strcmp(m.model, cfg.model) == 0 &&
                   (!cfg.dim || m.dim == (int64_t)cfg.dim);
    if (current)
        goto out;
    if (cfg.kind == CM_EMBEDDER_BUILTIN || (!text[0] && cfg.dim)) {
        /* cheap (or nothing to ask for): compute now, in this transaction */
        float *v = cm__calloc(cfg.dim, sizeof *v);
        int64_t gen;
        if (!v) {
            rc = cm__oom();
            goto out;
        }
        if (cfg.kind == CM_EMBEDDER_BUILTIN)
            cm__embed_builtin(v, cfg.dim, text, strlen(text));
        if ((rc = bump(&gen, conn, type)) == CM_OK)
            rc =
                write_vector(conn, "embed.upsert", type, id, cfg.model, v, cfg.dim, hash, gen, now);
        cm__free(v);
    } else if (!(same_text && m.stale)) {
        cm__q q;
        if ((rc = cm__q_open(&q, conn, "embed.mark_stale")))
            goto out;
        cm__q_text(&q, 1, cm__embed_type_name(type));
        cm__q_int64(&q, 2, id);
        cm__q_text(&q, 3, cfg.model);
        cm__q_text(&q, 4, hash);
        cm__q_int64(&q, 5, now);
        rc = cm__ok(cm__q_step(&q));
        cm__q_close(&q);
    }
out:
    cm__free(text);
    cm__embedder_dispose(&cfg);
    return rc;
}

/* ---- refresh ---- */

typedef struct job {
    int type;
    int64_t id;
    char *text;
    char hash[65];
} job;

typedef struct batch {
    job *jobs;
    size_t n, cap;
    /* selection */
    bool full;
    uint32_t want;
    int64_t after[CM__EMB_NTYPES]; /* full: id cursor per type */
    bool done[CM__EMB_NTYPES];
    int64_t after0[CM__EMB_NTYPES]; /* the same when the transaction began */
    bool done0[CM__EMB_NTYPES];
    const cm__embedder *cfg;
    /* results */
    float *vecs;
    uint32_t dim;
    uint32_t written;
} batch;

static void batch_clear(batch *b)
{
    for (size_t i = 0; i < b->n; i++)
        cm__free(b->jobs[i].text);
    b->n = 0;
    cm__free(b->vecs);
    b->vecs = NULL;
}

static int batch_add(batch *b, int type, int64_t id)
{
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 64;
        job *j = cm__realloc(b->jobs, cap * sizeof *j);
        if (!j)
            return cm__oom();
        b->jobs = j;
        b->cap = cap;
    }
    b->jobs[b->n++] = (job){type, id, NULL, ""};
    return CM_OK;
}

/* Read transaction: choose up to b->want entities and read their texts. */
static int select_tx(cm__conn *conn, void *payload)
{
    batch *b = payload;
    batch_clear(b);
    memcpy(b->after, b->after0, sizeof b->after); /* a retried attempt starts over */
    memcpy(b->done, b->done0, sizeof b->done);
    int rc = CM_OK;
    if (!b->full) {
        cm__q q;
        if ((rc = cm__q_open(&q, conn, "embed.stale")))
            return rc;
        cm__q_int64(&q, 1, b->want);
        while ((rc = cm__q_step(&q)) == 1) {
            int type = cm__embed_type_parse(cm__q_col_text(&q, 0));
            if (type >= 0 && (rc = batch_add(b, type, cm__q_col_int64(&q, 1))))
                break;
        }
        cm__q_close(&q);
        if (rc < 0)
            return rc;
    } else {
        for (int t = 0; t < CM__EMB_NTYPES && b->n < b->want; t++) {
            if (b->done[t])
                continue;
            cm__q q;
            if ((rc = cm__q_open(&q, conn, pending_ids[t])))
                return rc;
            cm__q_text(&q, 1, b->cfg->model);
            cm__q_int64(&q, 2, b->cfg->dim);
            cm__q_int64(&q, 3, b->after[t]);
            cm__q_int64(&q, 4, (int64_t)(b->want - b->n));
            size_t before = b->n;
            while ((rc = cm__q_step(&q)) == 1) {
                int64_t id = cm__q_col_int64(&q, 0);
                b->after[t] = id;
                if ((rc = batch_add(b, t, id)))
                    break;
            }
            cm__q_close(&q);
            if (rc < 0)
                return rc;
            if (b->n - before < b->want - before)
                b->done[t] = true;
        }
    }
    for (size_t i = 0; i < b->n; i++) {
        bool found;
        job *j = &b->jobs[i];
        if ((rc = cm__embed_text(&j->text, &found, conn, j->type, j->id)))
            return rc;
        cm__embed_hash(j->hash, j->text, strlen(j->text));
    }
    return CM_OK;
}

/* Write transaction: store the vectors whose text is still the same. */
static int write_tx(cm__conn *conn, void *payload)
{
    batch *b = payload;
    int64_t gen[CM__EMB_NTYPES] = {0};
    int64_t now = cm_now_us();
    uint32_t written = 0;
    for (size_t i = 0; i < b->n; i++) {
        job *j = &b->jobs[i];
        char *text;
        bool found;
        int rc = cm__embed_text(&text, &found, conn, j->type, j->id);
        if (rc)
            return rc;
        char hash[65];
        cm__embed_hash(hash, text, strlen(text));
        cm__free(text);
        if (!found || strcmp(hash, j->hash) != 0)
            continue; /* changed meanwhile: its writer marked it again */
        if (!gen[j->type] && (rc = bump(&gen[j->type], conn, j->type)))
            return rc;
        if ((rc = write_vector(conn, "embed.upsert_if", j->type, j->id, b->cfg->model,
                               b->vecs + i * b->dim, b->dim, j->hash, gen[j->type], now)))
            return rc;
        written++;
    }
    b->written = written;
    return CM_OK;
}

int cm__embed_refresh(cm_store *store, bool full, uint32_t max, uint32_t *done)
{
    if (done)
        *done = 0;
    cm__embedder cfg;
    int rc = cm__embed_config(&cfg, store);
    if (rc)
        return rc;
    batch b = {0};
    b.full = full;
    b.cfg = &cfg;
    uint32_t total = 0;
    for (;;) {
        uint32_t chunk = cfg.kind == CM_EMBEDDER_BUILTIN ? 256 : cfg.batch;
        if (max && max - total < chunk)
            chunk = max - total;
        if (!chunk)
            break;
        b.want = chunk;
        memcpy(b.after0, b.after, sizeof b.after);
        memcpy(b.done0, b.done, sizeof b.done);
        if ((rc = cm__store_run_tx(store, false, select_tx, &b)))
            break;
        if (b.n == 0)
            break;
        const char **texts = cm__malloc(b.n * sizeof *texts);
        if (!texts) {
            rc = cm__oom();
            break;
        }
        for (size_t i = 0; i < b.n; i++)
            texts[i] = b.jobs[i].text;
        b.dim = cfg.dim;
        rc = cm__embed_texts(&b.vecs, &b.dim, &cfg, texts, b.n);
        cm__free(texts);
        if (rc)
            break;
        if (!cfg.dim) {
            cfg.dim = b.dim;
            cm__embed_learn_dim(store, cfg.version, b.dim);
        }
        if ((rc = cm__store_run_tx(store, true, write_tx, &b)))
            break;
        total += b.written;
        /* the stale queue: one pass (rows skipped above stay queued) */
        if (!full && (b.n < b.want || b.written == 0))
            break;
        if (full && b.n < b.want)
            break;
    }
    batch_clear(&b);
    cm__free(b.jobs);
    cm__embedder_dispose(&cfg);
    if (done)
        *done = total;
    if (rc == CM_OK && total)
        cm__log(CM_LOG_DEBUG, "ai", "embeddings: %u vectors refreshed", total);
    return rc;
}

int cm_store_embed_refresh(cm_store *store, uint32_t max, uint32_t *refreshed_out)
{
    if (refreshed_out)
        *refreshed_out = 0;
    if (!store)
        return cm__error_set(CM_EINVAL, "cm_store_embed_refresh: store is NULL");
    uint32_t a = 0, c = 0;
    int rc = cm__embed_refresh(store, false, max, &a);
    if (rc == CM_OK && (!max || a < max))
        rc = cm__embed_refresh(store, true, max ? max - a : 0, &c);
    if (refreshed_out)
        *refreshed_out = a + c;
    if (rc == CM_OK && (!max || a + c < max)) {
        cm__embed_state *st;
        if (cm__embed_state_get(&st, store) == CM_OK) {
            pthread_mutex_lock(&st->cfg_lock);
            st->backfilled = st->cfg.version;
            pthread_mutex_unlock(&st->cfg_lock);
        }
    }
    return rc;
}

/* ---- before an AI operation ---- */

static int count_request(cm__conn *conn, void *payload)
{
    (void)payload;
    return cm__metric_add(conn, "ai_requests", 1);
}

int cm__embed_before_op(cm_store *store)
{
    cm__embed_state *st;
    int rc = cm__embed_state_get(&st, store);
    if (rc)
        return rc;
    pthread_mutex_lock(&st->cfg_lock);
    bool builtin = st->cfg.kind == CM_EMBEDDER_BUILTIN;
    bool backfilled = st->backfilled == st->cfg.version;
    uint64_t version = st->cfg.version;
    pthread_mutex_unlock(&st->cfg_lock);
    /* Builtin: writes embed inline, so only rows from before this process
     * knew (older data, another model) can be missing: one full pass per
     * configuration. HTTP: the stale queue, a bounded amount per call, and
     * the full pass until it has completed once. */
    uint32_t n = 0;
    if (!builtin)
        rc = cm__embed_refresh(store, false, 256, &n);
    if (rc == CM_OK && !backfilled) {
        uint32_t cap = builtin ? 0 : 256;
        rc = cm__embed_refresh(store, true, cap, &n);
        if (rc == CM_OK && (!cap || n < cap)) {
            pthread_mutex_lock(&st->cfg_lock);
            if (st->cfg.version == version)
                st->backfilled = version;
            pthread_mutex_unlock(&st->cfg_lock);
        }
    }
    if (rc && !builtin && rc != CM_ENOMEM) {
        /* search what is there; the next call tries again */
        cm__log(CM_LOG_WARN, "ai", "embeddings refresh failed (searching older vectors): %s",
                cm_error_message());
        rc = CM_OK;
    }
    if (rc)
        return rc;
    return cm__store_run_tx(store, true, count_request, NULL);
}

int cm__embed_query(float **out, uint32_t *dim_out, cm_store *store, const char *text)
{
    *out = NULL;
    cm__embedder cfg;
    int rc = cm__embed_config(&cfg, store);
    if (rc)
        return rc;
    size_t len = strlen(text);
    char *cut = cm__strndup(text, len < CM__EMBED_MAX_TEXT ? len : CM__EMBED_MAX_TEXT);
    if (!cut) {
        cm__embedder_dispose(&cfg);
        return cm__oom();
    }
    cut_utf8(cut, CM__EMBED_MAX_TEXT);
    const char *texts[1] = {cut};
    uint32_t dim = cfg.dim;
    rc = cm__embed_texts(out, &dim, &cfg, texts, 1);
    if (rc == CM_OK && !cfg.dim)
        cm__embed_learn_dim(store, cfg.version, dim);
    *dim_out = dim;
    cm__free(cut);
    cm__embedder_dispose(&cfg);
    return rc;
}

int cm__embed_vector(float **out, size_t *dim, cm__conn *conn, int type, int64_t id)
{
    *out = NULL;
    *dim = 0;
    cm__embedder cfg;
    int rc = cm__embed_config(&cfg, conn->store);
    if (rc)
        return rc;
    cm__q q;
    if ((rc = cm__q_open(&q, conn, "embed.vector"))) {
        cm__embedder_dispose(&cfg);
        return rc;
    }
    cm__q_text(&q, 1, cm__embed_type_name(type));
    cm__q_int64(&q, 2, id);
    rc = cm__q_step(&q);
    if (rc == 1) {
        size_t len = 0;
        const void *blob = cm__q_col_blob(&q, 2, &len);
        int64_t d = cm__q_col_int64(&q, 1);
        rc = CM_OK;
        if (strcmp(cm__q_col_text(&q, 0), cfg.model) == 0 && d > 0 &&
            (!cfg.dim || d == (int64_t)cfg.dim) && len == (size_t)d * 4) {
            float *v = cm__malloc((size_t)d * sizeof *v);
            if (!v) {
                rc = cm__oom();
            } else {
                cm__embed_decode(v, blob, (size_t)d);
                *out = v;
                *dim = (size_t)d;
            }
        }
    }
    cm__q_close(&q);
    cm__embedder_dispose(&cfg);
    return cm__ok(rc);
}
