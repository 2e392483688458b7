/*
 * embed_index.c - the in-memory vector index of each entity type and the
 * filtered search over it.
 *
 * An index holds the vectors of the store's current model. It is built on
 * the first search and then caught up before every search by loading only
 * the rows whose generation is above the newest it holds ("embed.changed",
 * an indexed range scan that returns nothing when nothing changed): writes
 * of this process and of any other process sharing the database show up
 * the same way, with no commit hook. Rows of another model or size and
 * all-zero vectors (texts without words) leave the index.
 *
 * Up to exact_max (CM__EMBED_EXACT_MAX) vectors an index keeps plain rows
 * and searches them exactly with cm_vec_matrix (rebuilt after changes);
 * beyond it the rows move into an HNSW graph (cm_vec_index), updated in
 * place. Either way the caller's allowed ids are passed as a filter, so
 * ranking only ever sees what the caller may see and k results come back
 * whenever k allowed vectors exist (the HNSW search switches to an exact
 * scan of the allowed entries when the filter is selective).
 *
 * One mutex per store guards the indexes for the catch-up and the search.
 */
#include "ai_int.h"

#include <stdlib.h>
#include <string.h>

/* ---- id -> row map (linear probing, backward-shift deletion) ---- */

static size_t slot_of(int64_t id, size_t mask)
{
    uint64_t x = (uint64_t)id * 0x9e3779b97f4a7c15ULL;
    return (size_t)(x >> 17) & mask;
}

static int64_t map_get(const cm__embed_index *ix, int64_t id)
{
    if (!ix->map_cap)
        return -1;
    size_t mask = ix->map_cap - 1;
    for (size_t i = slot_of(id, mask);; i = (i + 1) & mask) {
        if (ix->map_keys[i] == id)
            return ix->map_rows[i];
        if (ix->map_keys[i] == 0)
            return -1;
    }
}

static void map_set_raw(int64_t *keys, uint32_t *rows, size_t cap, int64_t id, uint32_t row)
{
    size_t mask = cap - 1;
    size_t i = slot_of(id, mask);
    while (keys[i] != 0 && keys[i] != id)
        i = (i + 1) & mask;
    keys[i] = id;
    rows[i] = row;
}

/* Insert or update id -> row, growing at half load. */
static int map_put(cm__embed_index *ix, int64_t id, uint32_t row)
{
    if ((ix->n + 1) * 2 > ix->map_cap) {
        size_t cap = ix->map_cap ? ix->map_cap * 2 : 64;
        int64_t *keys = cm__calloc(cap, sizeof *keys);
        uint32_t *rows = cm__malloc(cap * sizeof *rows);
        if (!keys || !rows) {
            cm__free(keys);
            cm__free(rows);
            return cm__oom();
        }
        for (size_t i = 0; i < ix->map_cap; i++)
            if (ix->map_keys[i])
                map_set_raw(keys, rows, cap, ix->map_keys[i], ix->map_rows[i]);
        cm__free(ix->map_keys);
        cm__free(ix->map_rows);
        ix->map_keys = keys;
        ix->map_rows = rows;
        ix->map_cap = cap;
    }
    map_set_raw(ix->map_keys, ix->map_rows, ix->map_cap, id, row);
    return CM_OK;
}

static void map_del(cm__embed_index *ix, int64_t id)
{
    if (!ix->map_cap)
        return;
    size_t mask = ix->map_cap - 1;
    size_t i = slot_of(id, mask);
    while (ix->map_keys[i] != id) {
        if (ix->map_keys[i] == 0)
            return;
        i = (i + 1) & mask;
    }
    /* shift later members of the cluster back over the hole */
    for (size_t j = (i + 1) & mask; ix->map_keys[j] != 0; j = (j + 1) & mask) {
        size_t home = slot_of(ix->map_keys[j], mask);
        bool movable = (i <= j) ? (home <= i || home > j) : (home <= i && home > j);
        if (movable) {
            ix->map_keys[i] = ix->map_keys[j];
            ix->map_rows[i] = ix->map_rows[j];
            i = j;
        }
    }
    ix->map_keys[i] = 0;
}

void cm__embed_index_dispose(cm__embed_index *ix)
{
    cm__free(ix->ids);
    cm__free(ix->vecs);
    cm__free(ix->map_keys);
    cm__free(ix->map_rows);
    cm_vec_matrix_free(ix->matrix);
    cm_vec_index_free(ix->hnsw);
    memset(ix, 0, sizeof *ix);
}

/* ---- updates ---- */

/* A cosine graph that picks its own ef for recall@10 >= 0.95 (tuned when
 * the rows are added, again whenever it doubles). */
static int hnsw_new(cm_vec_index **out, size_t dim)
{
    cm_vec_index_options o = CM_VEC_INDEX_OPTIONS_INIT;
    o.metric = CM_VEC_COSINE;
    int rc = cm_vec_index_new(out, dim, &o);
    if (rc == CM_OK && (rc = cm_vec_index_tune(NULL, *out, NULL))) {
        cm_vec_index_free(*out);
        *out = NULL;
    }
    return rc;
}

/* Remove id (when present). */
static int index_remove(cm__embed_index *ix, int64_t id)
{
    if (ix->hnsw) {
        if (cm_vec_index_contains(ix->hnsw, id)) {
            int rc = cm_vec_index_remove(ix->hnsw, id);
            if (rc)
                return rc;
            ix->n--;
        }
        return CM_OK;
    }
    int64_t row = map_get(ix, id);
    if (row < 0)
        return CM_OK;
    size_t last = ix->n - 1;
    map_del(ix, id);
    if ((size_t)row != last) {
        ix->ids[row] = ix->ids[last];
        memcpy(ix->vecs + (size_t)row * ix->dim, ix->vecs + last * ix->dim,
               ix->dim * sizeof *ix->vecs);
        map_set_raw(ix->map_keys, ix->map_rows, ix->map_cap, ix->ids[row], (uint32_t)row);
    }
    ix->n--;
    ix->dirty = true;
    return CM_OK;
}

/* Insert or replace id's vector. */
static int index_put(cm__embed_index *ix, int64_t id, const float *v)
{
    if (ix->hnsw) {
        int rc;
        if (cm_vec_index_contains(ix->hnsw, id)) {
            if ((rc = cm_vec_index_remove(ix->hnsw, id)))
                return rc;
            ix->n--;
        }
        if ((rc = cm_vec_index_add(ix->hnsw, id, v, ix->dim)))
            return rc;
        ix->n++;
        return CM_OK;
    }
    int64_t row = map_get(ix, id);
    if (row < 0) {
        if (ix->n == ix->cap) {
            size_t cap = ix->cap ? ix->cap * 2 : 64;
            int64_t *ids = cm__realloc(ix->ids, cap * sizeof *ids);
            if (!ids)
                return cm__oom();
            ix->ids = ids;
            float *vecs = cm__realloc(ix->vecs, cap * ix->dim * sizeof *vecs);
            if (!vecs)
                return cm__oom();
            ix->vecs = vecs;
            ix->cap = cap;
        }
        int rc = map_put(ix, id, (uint32_t)ix->n);
        if (rc)
            return rc;
        row = (int64_t)ix->n++;
        ix->ids[row] = id;
    }
    memcpy(ix->vecs + (size_t)row * ix->dim, v, ix->dim * sizeof *v);
    ix->dirty = true;
    return CM_OK;
}

/* Exact rows -> HNSW graph (once the type outgrows the exact scan). */
static int to_hnsw(cm__embed_index *ix)
{
    cm_vec_index *h;
    int rc = hnsw_new(&h, ix->dim);
    if (rc)
        return rc;
    if (ix->n && (rc = cm_vec_index_add_batch(h, ix->ids, ix->vecs, ix->n, ix->dim))) {
        cm_vec_index_free(h);
        return rc;
    }
    size_t n = ix->n;
    uint64_t v = ix->cfg_version;
    int64_t gen = ix->generation;
    size_t dim = ix->dim;
    cm__embed_index_dispose(ix);
    ix->hnsw = h;
    ix->n = n;
    ix->cfg_version = v;
    ix->generation = gen;
    ix->dim = dim;
    return CM_OK;
}

/* Load the rows written since ix->generation. */
static int catch_up(cm__embed_index *ix, cm__conn *conn, int type, const cm__embedder *cfg,
                    size_t exact_max)
{
    if (ix->cfg_version != cfg->version) {
        cm__embed_index_dispose(ix);
        ix->cfg_version = cfg->version;
        ix->generation = -1;
    }
    if (!ix->dim)
        ix->dim = cfg->dim; /* 0 for an HTTP model of unknown size: first row decides */
    cm__q q;
    int rc = cm__q_open(&q, conn, "embed.changed");
    if (rc)
        return rc;
    cm__q_text(&q, 1, cm__embed_type_name(type));
    cm__q_int64(&q, 2, ix->generation);
    float *v = NULL;
    size_t vcap = 0;
    while ((rc = cm__q_step(&q)) == 1) {
        int64_t id = cm__q_col_int64(&q, 0);
        int64_t dim = cm__q_col_int64(&q, 2);
        int64_t gen = cm__q_col_int64(&q, 4);
        size_t len = 0;
        const void *blob = cm__q_is_null(&q, 3) ? NULL : cm__q_col_blob(&q, 3, &len);
        if (gen > ix->generation)
            ix->generation = gen;
        bool usable = blob && dim >= CM__EMBED_MIN_DIM && dim <= CM__EMBED_MAX_DIM &&
                      len == (size_t)dim * 4 && strcmp(cm__q_col_text(&q, 1), cfg->model) == 0 &&
                      (!ix->dim || (size_t)dim == ix->dim);
        if (usable) {
            if (!ix->dim)
                ix->dim = (size_t)dim;
            if (vcap < (size_t)dim) {
                cm__free(v);
                vcap = (size_t)dim;
                if (!(v = cm__malloc(vcap * sizeof *v))) {
                    rc = cm__oom();
                    break;
                }
            }
            cm__embed_decode(v, blob, (size_t)dim);
            usable = cm__embed_normalize(v, (size_t)dim);
        }
        if (!usable) {
            if ((rc = index_remove(ix, id)))
                break;
            continue;
        }
        if (!ix->hnsw && ix->n >= exact_max && map_get(ix, id) < 0 && (rc = to_hnsw(ix)))
            break;
        if ((rc = index_put(ix, id, v)))
            break;
    }
    cm__q_close(&q);
    cm__free(v);
    if (rc < 0) {
        /* partly applied: start over next time */
        uint64_t ver = ix->cfg_version;
        cm__embed_index_dispose(ix);
        ix->cfg_version = ver;
        ix->generation = -1;
        return rc;
    }
    return CM_OK;
}

/* ---- search ---- */

typedef struct id_set {
    const int64_t *ids;
    size_t n;
    int64_t exclude;
} id_set;

static int in_set(int64_t id, void *payload)
{
    const id_set *s = payload;
    if (id == s->exclude)
        return 0;
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (s->ids[mid] == id)
            return 1;
        if (s->ids[mid] < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return 0;
}

static int cmp_hit(const void *a, const void *b)
{
    const cm__embed_hit *x = a, *y = b;
    if (x->score != y->score)
        return x->score > y->score ? -1 : 1;
    return (x->id > y->id) - (x->id < y->id);
}

static int search_exact(cm__embed_hit *hits, size_t *n_hits, cm__embed_index *ix,
                        const float *query, const int64_t *allowed, size_t n_allowed,
                        int64_t exclude, size_t k)
{
    if (ix->dirty || !ix->matrix) {
        cm_vec_matrix_free(ix->matrix);
        ix->matrix = NULL;
        cm_vec_matrix_options mo = CM_VEC_MATRIX_OPTIONS_INIT;
        mo.metric = CM_VEC_COSINE;
        int rc = cm_vec_matrix_new(&ix->matrix, ix->vecs, ix->n, ix->dim, &mo);
        if (rc)
            return rc;
        ix->dirty = false;
    }
    uint8_t *bits = cm__calloc(ix->n / 8 + 1, 1);
    if (!bits)
        return cm__oom();
    size_t n_rows = 0;
    for (size_t i = 0; i < n_allowed; i++) {
        if (allowed[i] == exclude)
            continue;
        int64_t row = map_get(ix, allowed[i]);
        if (row >= 0 && !(bits[row / 8] & (1u << (row % 8)))) {
            bits[row / 8] |= (uint8_t)(1u << (row % 8));
            n_rows++;
        }
    }
    size_t kk = k < n_rows ? k : n_rows;
    int rc = CM_OK;
    if (kk) {
        int64_t *rows = cm__malloc(kk * sizeof *rows);
        float *dist = cm__malloc(kk * sizeof *dist);
        if (!rows || !dist) {
            rc = cm__oom();
        } else {
            cm_vec_search_options so = CM_VEC_SEARCH_OPTIONS_INIT;
            so.allow = bits;
            so.allow_bits = ix->n;
            rc = cm_vec_matrix_search(rows, dist, ix->matrix, query, ix->dim, kk, &so);
            for (size_t i = 0; rc == CM_OK && i < kk; i++) {
                if (rows[i] < 0)
                    continue;
                hits[*n_hits].id = ix->ids[rows[i]];
                hits[*n_hits].score = 1.0f - dist[i];
                (*n_hits)++;
            }
        }
        cm__free(rows);
        cm__free(dist);
    }
    cm__free(bits);
    return rc;
}

static int search_hnsw(cm__embed_hit *hits, size_t *n_hits, cm__embed_index *ix, const float *query,
                       const int64_t *allowed, size_t n_allowed, int64_t exclude, size_t k)
{
    if (!n_allowed)
        return CM_OK;
    int64_t max_id = allowed[n_allowed - 1];
    uint8_t *bits = NULL;
    id_set set = {allowed, n_allowed, exclude};
    cm_vec_search_options so = CM_VEC_SEARCH_OPTIONS_INIT;
    /* the tuned ef (recall@10 0.95), wider for longer lists */
    so.ef = k > 10 ? (uint32_t)(cm_vec_index_ef(ix->hnsw) * k / 10) : 0;
    if (max_id < (int64_t)1 << 27) {
        /* dense ids: a bitmap by id */
        if (!(bits = cm__calloc((size_t)max_id / 8 + 1, 1)))
            return cm__oom();
        for (size_t i = 0; i < n_allowed; i++)
            if (allowed[i] != exclude && allowed[i] >= 0)
                bits[allowed[i] / 8] |= (uint8_t)(1u << (allowed[i] % 8));
        so.allow = bits;
        so.allow_bits = (uint64_t)max_id + 1;
    } else {
        so.filter = in_set;
        so.filter_payload = &set;
    }
    int64_t *ids = cm__malloc(k * sizeof *ids);
    float *dist = cm__malloc(k * sizeof *dist);
    int rc = CM_OK;
    size_t found = 0;
    if (!ids || !dist)
        rc = cm__oom();
    else
        rc = cm_vec_index_search(ids, dist, &found, ix->hnsw, query, ix->dim, k, &so);
    for (size_t i = 0; rc == CM_OK && i < found; i++) {
        if (ids[i] < 0)
            continue;
        hits[*n_hits].id = ids[i];
        hits[*n_hits].score = 1.0f - dist[i];
        (*n_hits)++;
    }
    cm__free(ids);
    cm__free(dist);
    cm__free(bits);
    return rc;
}

int cm__embed_search(cm__embed_hit *hits, size_t *n_hits, cm__conn *conn, int type,
                     const float *query, size_t dim, const int64_t *allowed, size_t n_allowed,
                     int64_t exclude, size_t k)
{
    *n_hits = 0;
    cm__embed_state *st;
    cm__embedder cfg;
    int rc = cm__embed_state_get(&st, conn->store);
    if (rc || (rc = cm__embed_config(&cfg, conn->store)))
        return rc;
    if (cfg.dim && dim != cfg.dim) {
        cm__embedder_dispose(&cfg);
        return cm__error_set_field(CM_EINVAL, "query_vector",
                                   "query_vector: %zu numbers given, the model's vectors have %u",
                                   dim, cfg.dim);
    }
    {
        /* the database searches when it can (pgvector), else the index below */
        cm__vec_search_req req = {
            cm__embed_type_name(type), cfg.model, query, dim, allowed, n_allowed, exclude, k};
        int64_t *ids = cm__malloc((k ? k : 1) * sizeof *ids);
        float *scores = cm__malloc((k ? k : 1) * sizeof *scores);
        size_t n = 0;
        rc = ids && scores ? cm__store_vector_search(conn, &req, ids, scores, &n) : cm__oom();
        for (size_t i = 0; rc == 1 && i < n; i++) {
            hits[i].id = ids[i];
            hits[i].score = scores[i];
        }
        cm__free(ids);
        cm__free(scores);
        if (rc != 0) {
            cm__embedder_dispose(&cfg);
            if (rc < 0)
                return rc;
            *n_hits = n;
            qsort(hits, *n_hits, sizeof *hits, cmp_hit);
            return CM_OK;
        }
    }
    pthread_mutex_lock(&st->idx_lock);
    cm__embed_index *ix = &st->idx[type];
    rc = catch_up(ix, conn, type, &cfg, st->exact_max);
    if (rc == CM_OK && ix->dim && dim != ix->dim)
        rc = cm__error_set_field(CM_EINVAL, "query_vector",
                                 "query_vector: %zu numbers given, the model's vectors have %zu",
                                 dim, ix->dim);
    if (rc == CM_OK && ix->n && k && n_allowed) {
        if (ix->hnsw)
            rc = search_hnsw(hits, n_hits, ix, query, allowed, n_allowed, exclude, k);
        else
            rc = search_exact(hits, n_hits, ix, query, allowed, n_allowed, exclude, k);
    }
    pthread_mutex_unlock(&st->idx_lock);
    cm__embedder_dispose(&cfg);
    if (rc) {
        *n_hits = 0;
        return rc;
    }
    qsort(hits, *n_hits, sizeof *hits, cmp_hit);
    return CM_OK;
}
