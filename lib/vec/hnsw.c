/*
 * hnsw.c - cm_vec_index: a Hierarchical Navigable Small World graph
 * (Malkov & Yashunin 2016) with the neighbour-selection heuristic, in the
 * style of hnswlib.
 *
 * - Insert: greedy descent through the upper layers, then a beam search
 *   (ef_construction) per layer; links chosen by the heuristic and made
 *   bidirectional, pruning a full list with the same heuristic.
 * - Remove: the entry is hidden from results at once; every live
 *   neighbour that links to it gets its list rebuilt from its other links
 *   plus the removed node's links, so the graph stays connected around the
 *   hole. The slot (vector memory, links) is reused by a later insert.
 * - Search: descent + beam search of breadth ef on layer 0. A filter
 *   restricts the results, never the walk, so the beam still crosses
 *   filtered-out regions; when sampling says few entries pass, an exact
 *   scan of the allowed entries is cheaper and exact, and is used instead.
 * - Concurrency: a rwlock; searches share it, add/remove hold it alone.
 *   Visited-marks arrays are pooled so searches do not allocate O(n).
 */
#include "hnsw_int.h"

#include <stdlib.h>
#include <string.h>

static _Thread_local uint64_t exact_fallbacks;

uint64_t cm__hnsw_exact_fallbacks(void)
{
    return exact_fallbacks;
}

/* ---- layout ---- */

uint32_t cm__hnsw_max_links(const cm_vec_index *ix, int level)
{
    return level == 0 ? ix->m0 : ix->m;
}

uint32_t *cm__hnsw_links(const cm_vec_index *ix, uint32_t slot, int level)
{
    if (level == 0)
        return ix->l0 + (size_t)slot * (1 + ix->m0);
    return ix->up[slot] + (size_t)(level - 1) * (1 + ix->m);
}

static const void *vec_at(const cm_vec_index *ix, uint32_t s)
{
    return ix->vecs + (size_t)s * ix->vbytes;
}

int cm__hnsw_create(cm_vec_index **out, size_t dim, int metric, int storage, uint32_t m,
                    uint32_t ef_construction, uint64_t seed)
{
    cm_vec_index *ix = cm__calloc(1, sizeof *ix);
    if (!ix)
        return cm__error_set(CM_ENOMEM, "cm_vec_index: out of memory");
    ix->dim = dim;
    ix->metric = metric;
    ix->storage = storage;
    ix->m = m;
    ix->m0 = 2 * m;
    ix->ef_construction = ef_construction;
    ix->level_mult = 1.0 / log((double)m);
    ix->rng = seed ^ 0x9e3779b97f4a7c15ull;
    if (!ix->rng)
        ix->rng = 1;
    ix->vbytes = dim * (storage == CM_VEC_STORE_BF16 ? 2 : 4);
    ix->entry = -1;
    ix->max_level = -1;
    if (pthread_rwlock_init(&ix->lock, NULL) != 0) {
        cm__free(ix);
        return cm__error_set(CM_ERROR, "cm_vec_index: cannot create lock");
    }
    if (pthread_mutex_init(&ix->pool_lock, NULL) != 0) {
        (void)pthread_rwlock_destroy(&ix->lock);
        cm__free(ix);
        return cm__error_set(CM_ERROR, "cm_vec_index: cannot create lock");
    }
    *out = ix;
    return CM_OK;
}

void cm_vec_index_free(cm_vec_index *ix)
{
    if (!ix)
        return;
    for (size_t i = 0; i < ix->cap; i++)
        cm__free(ix->up[i]);
    cm__free(ix->up);
    cm__free(ix->vecs);
    cm__free(ix->ids);
    cm__free(ix->levels);
    cm__free(ix->removed);
    cm__free(ix->l0);
    cm__free(ix->free_slots);
    cm__idmap_free(&ix->map);
    while (ix->pool) {
        cm__visited *v = ix->pool;
        ix->pool = v->next;
        cm__free(v->marks);
        cm__free(v);
    }
    (void)pthread_rwlock_destroy(&ix->lock);
    (void)pthread_mutex_destroy(&ix->pool_lock);
    cm__free(ix);
}

/* Grow one per-slot array to ncap elements, zeroing the new tail. */
static int grow_array(void **p, size_t old, size_t ncap, size_t elt)
{
    if (ncap > SIZE_MAX / elt)
        return CM_ENOMEM;
    void *q = cm__realloc(*p, ncap * elt);
    if (!q)
        return CM_ENOMEM;
    memset((char *)q + old * elt, 0, (ncap - old) * elt);
    *p = q;
    return CM_OK;
}

int cm__hnsw_reserve(cm_vec_index *ix, size_t want)
{
    if (want <= ix->cap)
        return CM_OK;
    if (want > UINT32_MAX - 1)
        return cm__error_set(CM_ENOMEM, "cm_vec_index: more than 2^32 - 2 entries");
    size_t ncap = ix->cap ? ix->cap * 2 : 64;
    if (ncap < want)
        ncap = want;
    if (ncap > UINT32_MAX - 1)
        ncap = UINT32_MAX - 1;
    size_t old = ix->cap;
    if (grow_array((void **)&ix->vecs, old, ncap, ix->vbytes) ||
        grow_array((void **)&ix->ids, old, ncap, sizeof *ix->ids) ||
        grow_array((void **)&ix->levels, old, ncap, 1) ||
        grow_array((void **)&ix->removed, old, ncap, 1) ||
        grow_array((void **)&ix->l0, old, ncap, (size_t)(1 + ix->m0) * sizeof(uint32_t)) ||
        grow_array((void **)&ix->up, old, ncap, sizeof *ix->up))
        return cm__error_set(CM_ENOMEM, "cm_vec_index: out of memory");
    ix->cap = ncap; /* every array now holds ncap slots */
    return CM_OK;
}

int cm__hnsw_set_level(cm_vec_index *ix, uint32_t slot, int level)
{
    if (level > 0) {
        size_t n = (size_t)level * (1 + ix->m);
        uint32_t *p = cm__realloc(ix->up[slot], n * sizeof *p);
        if (!p)
            return cm__error_set(CM_ENOMEM, "cm_vec_index: out of memory");
        memset(p, 0, n * sizeof *p);
        ix->up[slot] = p;
    } else {
        cm__free(ix->up[slot]);
        ix->up[slot] = NULL;
    }
    ix->levels[slot] = (uint8_t)level;
    cm__hnsw_links(ix, slot, 0)[0] = 0;
    return CM_OK;
}

int cm__hnsw_push_free(cm_vec_index *ix, uint32_t slot)
{
    if (ix->n_free == ix->free_cap) {
        size_t nc = ix->free_cap ? ix->free_cap * 2 : 16;
        uint32_t *p = cm__realloc(ix->free_slots, nc * sizeof *p);
        if (!p)
            return cm__error_set(CM_ENOMEM, "cm_vec_index: out of memory");
        ix->free_slots = p;
        ix->free_cap = nc;
    }
    ix->free_slots[ix->n_free++] = slot;
    return CM_OK;
}

/* ---- distances ---- */

/* Distance from an encoded vector q (storage format) to slot s. */
static float dist_enc(const cm_vec_index *ix, const cm__vec_ops *ops, const void *q, uint32_t s)
{
    const void *v = vec_at(ix, s);
    float r;
    if (ix->storage == CM_VEC_STORE_F32) {
        if (ix->metric == CM_VEC_L2)
            return ops->l2sq_f32(q, v, ix->dim);
        r = ops->dot_f32(q, v, ix->dim);
    } else {
        if (ix->metric == CM_VEC_L2)
            return ops->l2sq_bf16(q, v, ix->dim);
        r = ops->dot_bf16(q, v, ix->dim);
    }
    if (ix->metric == CM_VEC_IP)
        return -r;
    r = 1.0f - r;
    return r < 0 ? 0 : r;
}

/* Encode a caller vector for storage: normalised for cosine, then f32 or
 * bf16. `tmp` holds dim floats. */
static void encode(const cm_vec_index *ix, void *dst, const float *v, float *tmp)
{
    const float *src = v;
    if (ix->metric == CM_VEC_COSINE) {
        double s = 0;
        for (size_t i = 0; i < ix->dim; i++)
            s += (double)v[i] * v[i];
        double inv = s > 0 ? 1.0 / sqrt(s) : 0.0;
        for (size_t i = 0; i < ix->dim; i++)
            tmp[i] = (float)(v[i] * inv);
        src = tmp;
    }
    if (ix->storage == CM_VEC_STORE_F32)
        memcpy(dst, src, ix->dim * sizeof(float));
    else
        cm_vec_f32_to_bf16(dst, src, ix->dim);
}

/* ---- small heaps of (distance, slot) ---- */

typedef struct {
    float d;
    uint32_t s;
} pair;

typedef struct {
    pair *a;
    size_t n, cap;
} pheap; /* max-heap on d */

static int ph_push(pheap *h, float d, uint32_t s)
{
    if (h->n == h->cap) {
        size_t nc = h->cap ? h->cap * 2 : 64;
        pair *p = cm__realloc(h->a, nc * sizeof *p);
        if (!p)
            return CM_ENOMEM;
        h->a = p;
        h->cap = nc;
    }
    size_t i = h->n++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (h->a[p].d >= d)
            break;
        h->a[i] = h->a[p];
        i = p;
    }
    h->a[i].d = d;
    h->a[i].s = s;
    return CM_OK;
}

static pair ph_pop(pheap *h)
{
    pair top = h->a[0], x = h->a[--h->n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->n)
            break;
        if (c + 1 < h->n && h->a[c + 1].d > h->a[c].d)
            c++;
        if (h->a[c].d <= x.d)
            break;
        h->a[i] = h->a[c];
        i = c;
    }
    if (h->n)
        h->a[i] = x;
    return top;
}

/* ---- visited marks ---- */

static cm__visited *vis_get(cm_vec_index *ix)
{
    (void)pthread_mutex_lock(&ix->pool_lock);
    cm__visited *v = ix->pool;
    if (v)
        ix->pool = v->next;
    (void)pthread_mutex_unlock(&ix->pool_lock);
    if (!v && !(v = cm__calloc(1, sizeof *v)))
        return NULL;
    if (v->cap < ix->cap) {
        cm__free(v->marks);
        v->marks = cm__calloc(ix->cap, sizeof *v->marks);
        if (!v->marks) {
            cm__free(v);
            return NULL;
        }
        v->cap = ix->cap;
        v->epoch = 0;
    }
    return v;
}

/* Start a new walk: a fresh epoch, clearing the marks when it wraps. */
static void vis_next(cm__visited *v)
{
    if (++v->epoch == 0) {
        memset(v->marks, 0, v->cap * sizeof *v->marks);
        v->epoch = 1;
    }
}

static void vis_put(cm_vec_index *ix, cm__visited *v)
{
    if (!v)
        return;
    (void)pthread_mutex_lock(&ix->pool_lock);
    v->next = ix->pool;
    ix->pool = v;
    (void)pthread_mutex_unlock(&ix->pool_lock);
}

/* ---- graph search ---- */

typedef struct {
    cm_vec_index *ix;
    const cm__vec_ops *ops;
    const void *q;                    /* encoded query */
    const cm_vec_search_options *flt; /* NULL: no filter */
    uint32_t exclude;                 /* slot never returned (the one being inserted) */
    cm__visited *vis;
    pheap cand, res;
} walk;

#define NO_SLOT UINT32_MAX

static int eligible(const walk *w, uint32_t s)
{
    if (w->ix->removed[s] || s == w->exclude)
        return 0;
    return !w->flt || cm__vec_allowed(w->flt, w->ix->ids[s]);
}

static uint32_t greedy(const walk *w, uint32_t cur, int level)
{
    float cd = dist_enc(w->ix, w->ops, w->q, cur);
    for (int changed = 1; changed;) {
        changed = 0;
        const uint32_t *l = cm__hnsw_links(w->ix, cur, level);
        for (uint32_t j = 1; j <= l[0]; j++) {
            if (w->ix->levels[l[j]] < level) /* stale link to a reused slot */
                continue;
            float d = dist_enc(w->ix, w->ops, w->q, l[j]);
            if (d < cd) {
                cd = d;
                cur = l[j];
                changed = 1;
            }
        }
    }
    return cur;
}

/*
 * Beam search of breadth ef on one layer from `ep`. Afterwards w->res holds
 * up to ef eligible slots (max-heap). Ineligible slots are walked through
 * but never returned; while results are short the walk keeps expanding.
 */
static int search_layer(walk *w, uint32_t ep, size_t ef, int level)
{
    cm_vec_index *ix = w->ix;
    uint32_t *marks = w->vis->marks, epoch;
    const int restricted = w->flt || w->exclude != NO_SLOT || ix->live < ix->n;
    vis_next(w->vis);
    epoch = w->vis->epoch;
    w->cand.n = w->res.n = 0;
    marks[ep] = epoch;
    float d = dist_enc(ix, w->ops, w->q, ep), lower = INFINITY;
    if (eligible(w, ep)) {
        if (ph_push(&w->res, d, ep))
            return CM_ENOMEM;
        lower = d;
    }
    if (ph_push(&w->cand, -d, ep))
        return CM_ENOMEM;
    while (w->cand.n) {
        float cd = -w->cand.a[0].d;
        if (cd > lower && (w->res.n >= ef || !restricted))
            break;
        pair c = ph_pop(&w->cand);
        const uint32_t *l = cm__hnsw_links(ix, c.s, level);
        for (uint32_t j = 1; j <= l[0]; j++) {
            uint32_t nb = l[j];
            if (marks[nb] == epoch || ix->levels[nb] < level)
                continue;
            marks[nb] = epoch;
            float dn = dist_enc(ix, w->ops, w->q, nb);
            if (w->res.n < ef || dn < lower) {
                if (ph_push(&w->cand, -dn, nb))
                    return CM_ENOMEM;
                if (eligible(w, nb)) {
                    if (ph_push(&w->res, dn, nb))
                        return CM_ENOMEM;
                    if (w->res.n > ef)
                        (void)ph_pop(&w->res);
                }
                if (w->res.n)
                    lower = w->res.a[0].d;
            }
        }
    }
    return CM_OK;
}

/* Drain the result heap into `out` ascending; returns the count. */
static size_t drain_sorted(pheap *h, pair *out)
{
    size_t n = h->n;
    for (size_t i = n; i > 0; i--)
        out[i - 1] = ph_pop(h);
    return n;
}

/*
 * The HNSW heuristic: walk candidates nearest first and keep one only if
 * it is closer to the base than to every neighbour kept so far. Writes the
 * list (count first) to `links`. `c` must not alias `links`.
 */
static void select_neighbors(const cm_vec_index *ix, const cm__vec_ops *ops, const pair *c,
                             size_t nc, uint32_t mmax, uint32_t *links)
{
    uint32_t kept = 0;
    for (size_t i = 0; i < nc && kept < mmax; i++) {
        int good = 1;
        for (uint32_t j = 0; j < kept; j++) {
            if (dist_enc(ix, ops, vec_at(ix, links[1 + j]), c[i].s) < c[i].d) {
                good = 0;
                break;
            }
        }
        if (good)
            links[1 + kept++] = c[i].s;
    }
    links[0] = kept;
}

static int pair_cmp(const void *pa, const void *pb)
{
    const pair *a = pa, *b = pb;
    return a->d < b->d ? -1 : a->d > b->d ? 1 : (a->s > b->s) - (a->s < b->s);
}

static int in_list(const uint32_t *l, uint32_t s)
{
    for (uint32_t j = 1; j <= l[0]; j++)
        if (l[j] == s)
            return 1;
    return 0;
}

/* Rebuild the list of `base` at `level` from its current links plus
 * `extra` (count-first list, may be NULL), minus removed slots and `drop`. */
static void relink(cm_vec_index *ix, const cm__vec_ops *ops, uint32_t base, int level,
                   const uint32_t *extra, uint32_t add, uint32_t drop, pair *scratch)
{
    uint32_t *l = cm__hnsw_links(ix, base, level);
    size_t nc = 0;
    const void *bv = vec_at(ix, base);
    for (uint32_t j = 1; j <= l[0]; j++) {
        uint32_t x = l[j];
        if (x != drop && !ix->removed[x] && ix->levels[x] >= level)
            scratch[nc++] = (pair){dist_enc(ix, ops, bv, x), x};
    }
    if (extra) {
        for (uint32_t j = 1; j <= extra[0]; j++) {
            uint32_t x = extra[j];
            if (x != drop && x != base && !ix->removed[x] && ix->levels[x] >= level &&
                !in_list(l, x))
                scratch[nc++] = (pair){dist_enc(ix, ops, bv, x), x};
        }
    }
    if (add != NO_SLOT)
        scratch[nc++] = (pair){dist_enc(ix, ops, bv, add), add};
    qsort(scratch, nc, sizeof *scratch, pair_cmp);
    select_neighbors(ix, ops, scratch, nc, cm__hnsw_max_links(ix, level), l);
}

static int random_level(cm_vec_index *ix)
{
    ix->rng ^= ix->rng << 13;
    ix->rng ^= ix->rng >> 7;
    ix->rng ^= ix->rng << 17;
    double u = ((double)(ix->rng >> 11) + 0.5) * 0x1p-53;
    double l = -log(u) * ix->level_mult;
    return l >= CM__HNSW_MAX_LEVEL ? CM__HNSW_MAX_LEVEL : (int)l;
}

/* Insert under the write lock. `tmp` holds dim floats. */
static int add_locked(cm_vec_index *ix, int64_t id, const float *vec, float *tmp)
{
    const cm__vec_ops *ops = cm__vec_ops_get();
    if (cm__idmap_get(&ix->map, id) >= 0)
        return cm__error_set_field(CM_EEXISTS, "id", "id %lld is already in the index",
                                   (long long)id);
    uint32_t slot;
    int reused = ix->n_free > 0;
    if (reused) {
        slot = ix->free_slots[ix->n_free - 1];
    } else {
        int rc = cm__hnsw_reserve(ix, ix->n + 1);
        if (rc)
            return rc;
        slot = (uint32_t)ix->n;
    }
    int level = random_level(ix);
    if (cm__hnsw_set_level(ix, slot, level))
        return CM_ENOMEM;
    if (cm__idmap_put(&ix->map, id, slot))
        return cm__error_set(CM_ENOMEM, "cm_vec_index: out of memory");
    if (reused)
        ix->n_free--;
    else
        ix->n++;
    encode(ix, ix->vecs + (size_t)slot * ix->vbytes, vec, tmp);
    ix->ids[slot] = id;
    ix->removed[slot] = 0;
    ix->live++;
    if (ix->entry < 0) {
        ix->entry = slot;
        ix->max_level = level;
        return CM_OK;
    }

    walk w = {ix, ops, vec_at(ix, slot), NULL, slot, NULL, {0}, {0}};
    pair *sorted = NULL, *scratch = NULL;
    int rc = CM_OK;
    w.vis = vis_get(ix);
    sorted = cm__malloc((ix->ef_construction + 1) * sizeof *sorted);
    scratch = cm__malloc((2 * (size_t)ix->m0 + 2) * sizeof *scratch);
    if (!w.vis || !sorted || !scratch) {
        rc = CM_ENOMEM;
        goto out;
    }
    uint32_t cur = (uint32_t)ix->entry;
    for (int lc = ix->max_level; lc > level; lc--)
        cur = greedy(&w, cur, lc);
    for (int lc = level < ix->max_level ? level : ix->max_level; lc >= 0; lc--) {
        if ((rc = search_layer(&w, cur, ix->ef_construction, lc)))
            goto out;
        size_t nw = drain_sorted(&w.res, sorted);
        if (nw == 0)
            continue;
        uint32_t *mine = cm__hnsw_links(ix, slot, lc);
        select_neighbors(ix, ops, sorted, nw, ix->m, mine);
        for (uint32_t j = 1; j <= mine[0]; j++) {
            uint32_t nb = mine[j];
            uint32_t *nl = cm__hnsw_links(ix, nb, lc);
            if (in_list(nl, slot))
                continue;
            if (nl[0] < cm__hnsw_max_links(ix, lc))
                nl[1 + nl[0]++] = slot;
            else
                relink(ix, ops, nb, lc, NULL, slot, NO_SLOT, scratch);
        }
        cur = sorted[0].s;
    }
    if (level > ix->max_level) {
        ix->max_level = level;
        ix->entry = slot;
    }
out:
    vis_put(ix, w.vis);
    cm__free(w.cand.a);
    cm__free(w.res.a);
    cm__free(sorted);
    cm__free(scratch);
    if (rc == CM_ENOMEM)
        return cm__error_set(CM_ENOMEM, "cm_vec_index_add: out of memory");
    return rc;
}

/* ---- public API ---- */

int cm_vec_index_new(cm_vec_index **out, size_t dim, const cm_vec_index_options *opts)
{
    if (!out)
        return cm__error_set(CM_EINVAL, "cm_vec_index_new: out is NULL");
    *out = NULL;
    cm_vec_index_options o = CM_VEC_INDEX_OPTIONS_INIT;
    if (opts) {
        if (opts->size < sizeof(uint32_t) * 2)
            return cm__error_set_field(CM_EINVAL, "opts", "index options: size too small");
        memcpy(&o, opts, opts->size < sizeof o ? opts->size : sizeof o);
    }
    if (dim == 0 || dim > (1u << 24))
        return cm__error_set_field(CM_EINVAL, "dim", "dimension %zu not in 1..2^24", dim);
    if (o.metric < CM_VEC_L2 || o.metric > CM_VEC_COSINE)
        return cm__error_set_field(CM_EINVAL, "metric", "unknown metric %d", (int)o.metric);
    if (o.storage != CM_VEC_STORE_F32 && o.storage != CM_VEC_STORE_BF16)
        return cm__error_set_field(CM_EINVAL, "storage",
                                   "an index stores f32 or bf16 vectors, not %d", (int)o.storage);
    if (o.m < 2 || o.m > 128)
        return cm__error_set_field(CM_EINVAL, "m", "m = %u not in 2..128", (unsigned)o.m);
    if (o.reserved != 0)
        return cm__error_set_field(CM_EINVAL, "opts", "reserved must be 0");
    if (o.ef_construction == 0)
        o.ef_construction = 128;
    if (o.ef_construction > 4096)
        o.ef_construction = 4096;
    return cm__hnsw_create(out, dim, o.metric, o.storage, o.m, o.ef_construction, o.seed);
}

static int check_add(const cm_vec_index *ix, int64_t id, const float *vec, size_t dim)
{
    if (!ix || !vec)
        return cm__error_set(CM_EINVAL, "cm_vec_index_add: NULL argument");
    if (dim != ix->dim)
        return cm__error_set_field(CM_EINVAL, "dim", "vector dimension %zu, index has %zu", dim,
                                   ix->dim);
    if (id < 0)
        return cm__error_set_field(CM_EINVAL, "id", "ids must be >= 0");
    return cm__vec_check_finite(vec, dim, "vector");
}

int cm_vec_index_add(cm_vec_index *ix, int64_t id, const float *vec, size_t dim)
{
    return cm_vec_index_add_batch(ix, &id, vec, vec ? 1 : 0, dim);
}

int cm_vec_index_add_batch(cm_vec_index *ix, const int64_t *ids, const float *vecs, size_t n,
                           size_t dim)
{
    if (!ix || (n && (!ids || !vecs)))
        return cm__error_set(CM_EINVAL, "cm_vec_index_add: NULL argument");
    if (n == 0)
        return ids && !vecs ? cm__error_set(CM_EINVAL, "cm_vec_index_add: NULL vector") : CM_OK;
    float *tmp = cm__malloc(ix->dim * sizeof *tmp);
    if (!tmp)
        return cm__error_set(CM_ENOMEM, "cm_vec_index_add: out of memory");
    int rc = CM_OK;
    (void)pthread_rwlock_wrlock(&ix->lock);
    for (size_t i = 0; i < n && rc == CM_OK; i++) {
        rc = check_add(ix, ids[i], vecs + i * dim, dim);
        if (rc == CM_OK)
            rc = add_locked(ix, ids[i], vecs + i * dim, tmp);
    }
    (void)pthread_rwlock_unlock(&ix->lock);
    cm__free(tmp);
    return rc;
}

/* A live slot at the highest level, preferring `slot`'s top-layer links. */
static void pick_entry(cm_vec_index *ix, uint32_t slot)
{
    int top = ix->levels[slot];
    const uint32_t *l = cm__hnsw_links(ix, slot, top);
    for (uint32_t j = 1; j <= l[0]; j++) {
        if (!ix->removed[l[j]] && ix->levels[l[j]] == ix->max_level && top == ix->max_level) {
            ix->entry = l[j];
            return;
        }
    }
    ix->entry = -1;
    ix->max_level = -1;
    for (size_t s = 0; s < ix->n; s++) {
        if (!ix->removed[s] && (int)ix->levels[s] > ix->max_level) {
            ix->max_level = ix->levels[s];
            ix->entry = (int64_t)s;
        }
    }
}

int cm_vec_index_remove(cm_vec_index *ix, int64_t id)
{
    if (!ix)
        return cm__error_set(CM_EINVAL, "cm_vec_index_remove: NULL index");
    const cm__vec_ops *ops = cm__vec_ops_get();
    pair *scratch = cm__malloc((3 * (size_t)ix->m0 + 2) * sizeof *scratch);
    if (!scratch)
        return cm__error_set(CM_ENOMEM, "cm_vec_index_remove: out of memory");
    (void)pthread_rwlock_wrlock(&ix->lock);
    int rc = CM_OK;
    int64_t s64 = cm__idmap_get(&ix->map, id);
    if (s64 < 0) {
        rc = cm__error_set_field(CM_ENOTFOUND, "id", "id %lld is not in the index", (long long)id);
        goto out;
    }
    uint32_t slot = (uint32_t)s64;
    /* reserve the free-list entry first so nothing below can fail */
    if ((rc = cm__hnsw_push_free(ix, slot)))
        goto out;
    (void)cm__idmap_del(&ix->map, id);
    ix->removed[slot] = 1;
    ix->live--;
    for (int lc = 0; lc <= ix->levels[slot]; lc++) {
        const uint32_t *sl = cm__hnsw_links(ix, slot, lc);
        for (uint32_t j = 1; j <= sl[0]; j++) {
            uint32_t nb = sl[j];
            if (ix->removed[nb] || ix->levels[nb] < lc ||
                !in_list(cm__hnsw_links(ix, nb, lc), slot))
                continue;
            relink(ix, ops, nb, lc, sl, NO_SLOT, slot, scratch);
        }
    }
    if (ix->entry == (int64_t)slot)
        pick_entry(ix, slot);
out:
    (void)pthread_rwlock_unlock(&ix->lock);
    cm__free(scratch);
    return rc;
}

int cm_vec_index_contains(const cm_vec_index *ix, int64_t id)
{
    if (!ix)
        return 0;
    cm_vec_index *w = (cm_vec_index *)ix;
    (void)pthread_rwlock_rdlock(&w->lock);
    int r = cm__idmap_get(&ix->map, id) >= 0;
    (void)pthread_rwlock_unlock(&w->lock);
    return r;
}

size_t cm_vec_index_count(const cm_vec_index *ix)
{
    if (!ix)
        return 0;
    cm_vec_index *w = (cm_vec_index *)ix;
    (void)pthread_rwlock_rdlock(&w->lock);
    size_t n = ix->live;
    (void)pthread_rwlock_unlock(&w->lock);
    return n;
}

size_t cm_vec_index_dim(const cm_vec_index *ix)
{
    return ix ? ix->dim : 0;
}

/* ---- search ---- */

/*
 * Estimated fraction of live entries the filter lets through: a popcount
 * of the bitmap when there is no predicate, else a sample of up to 256
 * live slots.
 */
static double filter_fraction(const cm_vec_index *ix, const cm_vec_search_options *o)
{
    if (!o->filter) {
        uint64_t pop = 0, bytes = o->allow_bits / 8;
        for (uint64_t i = 0; i < bytes; i++)
            pop += (uint64_t)__builtin_popcount(o->allow[i]);
        for (uint64_t b = bytes * 8; b < o->allow_bits; b++)
            pop += (o->allow[b >> 3] >> (b & 7)) & 1;
        double f = (double)pop / (double)ix->live;
        return f > 1 ? 1 : f;
    }
    size_t step = ix->n / 256 + 1, seen = 0, ok = 0;
    for (size_t s = 0; s < ix->n; s += step) {
        if (ix->removed[s])
            continue;
        seen++;
        ok += cm__vec_allowed(o, ix->ids[s]) != 0;
    }
    return seen ? (double)ok / (double)seen : 1.0;
}

/*
 * Exact scan or graph walk? A filtered walk visits about ef * m0 / f nodes
 * to collect ef passing ones; the scan computes f * live distances. Scan
 * when f * f * live < ef * m0.
 */
static int use_exact(const cm_vec_index *ix, const cm_vec_search_options *o, size_t ef)
{
    double f = filter_fraction(ix, o);
    return f * f * (double)ix->live < (double)ef * ix->m0;
}

static size_t exact_scan(const cm_vec_index *ix, const cm__vec_ops *ops, const void *q,
                         const cm_vec_search_options *o, cm__vec_hit *hits, size_t k)
{
    cm__vec_heap hp = {hits, 0, k};
    for (size_t s = 0; s < ix->n; s++) {
        if (ix->removed[s] || !cm__vec_allowed(o, ix->ids[s]))
            continue;
        cm__vec_heap_push(&hp, dist_enc(ix, ops, q, (uint32_t)s), (int64_t)s);
    }
    cm__vec_heap_sort(&hp);
    return hp.size;
}

/* bf16 storage: report distances of the f32 query to the stored rows. */
static void rescore_bf16(const cm_vec_index *ix, const cm__vec_ops *ops, const float *qf,
                         float *row, cm__vec_hit *hits, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        cm_vec_bf16_to_f32(row, vec_at(ix, (uint32_t)hits[i].id), ix->dim);
        float d;
        if (ix->metric == CM_VEC_L2) {
            d = ops->l2sq_f32(qf, row, ix->dim);
        } else {
            d = ops->dot_f32(qf, row, ix->dim);
            d = ix->metric == CM_VEC_IP ? -d : (1.0f - d < 0 ? 0 : 1.0f - d);
        }
        hits[i].dist = d;
    }
    cm__vec_heap hp = {hits, n, n};
    cm__vec_heap_sort(&hp);
}

int cm_vec_index_search(int64_t *ids_out, float *dist_out, size_t *found_out,
                        const cm_vec_index *cix, const float *query, size_t dim, size_t k,
                        const cm_vec_search_options *in_opts)
{
    if (found_out)
        *found_out = 0;
    if (!cix || !ids_out || !query)
        return cm__error_set(CM_EINVAL, "cm_vec_index_search: NULL argument");
    if (dim != cix->dim)
        return cm__error_set_field(CM_EINVAL, "dim", "query dimension %zu, index has %zu", dim,
                                   cix->dim);
    if (k == 0)
        return cm__error_set_field(CM_EINVAL, "k", "k must be at least 1");
    if (k > (1u << 24))
        return cm__error_set_field(CM_EINVAL, "k", "k = %zu is too large", k);
    int rc = cm__vec_check_finite(query, dim, "query");
    if (rc)
        return rc;
    cm_vec_search_options opts;
    if ((rc = cm__vec_search_opts_read(&opts, in_opts)))
        return rc;
    cm_vec_index *ix = (cm_vec_index *)cix; /* locks and the visited pool mutate */
    const cm__vec_ops *ops = cm__vec_ops_get();
    size_t ef = opts.ef ? opts.ef : 64;
    if (ef < k)
        ef = k;

    float *qf = cm__malloc(2 * dim * sizeof *qf); /* encoded f32 query + scratch */
    void *qe = cm__malloc(ix->vbytes ? ix->vbytes : 1);
    cm__vec_hit *hits = cm__malloc((ef + 1) * sizeof *hits);
    walk w = {ix, ops, qe, cm__vec_has_filter(&opts) ? &opts : NULL, NO_SLOT, NULL, {0}, {0}};
    size_t found = 0;
    if (!qf || !qe || !hits) {
        rc = cm__error_set(CM_ENOMEM, "cm_vec_index_search: out of memory");
        goto free_out;
    }
    (void)pthread_rwlock_rdlock(&ix->lock);
    if (ix->live == 0)
        goto unlock;
    encode(ix, qe, query, qf + dim);
    if (ix->storage == CM_VEC_STORE_BF16) { /* f32 form of the query for rescoring */
        if (ix->metric == CM_VEC_COSINE)
            memcpy(qf, qf + dim, dim * sizeof *qf);
        else
            memcpy(qf, query, dim * sizeof *qf);
    }
    if (w.flt && use_exact(ix, w.flt, ef)) {
        exact_fallbacks++;
        found = exact_scan(ix, ops, qe, w.flt, hits, k);
    } else {
        if (!(w.vis = vis_get(ix))) {
            rc = cm__error_set(CM_ENOMEM, "cm_vec_index_search: out of memory");
            goto unlock;
        }
        uint32_t cur = (uint32_t)ix->entry;
        for (int lc = ix->max_level; lc > 0; lc--)
            cur = greedy(&w, cur, lc);
        if ((rc = search_layer(&w, cur, ef, 0))) {
            rc = cm__error_set(CM_ENOMEM, "cm_vec_index_search: out of memory");
            goto unlock;
        }
        size_t nr = w.res.n;
        for (size_t i = nr; i > 0; i--) {
            pair p = ph_pop(&w.res);
            hits[i - 1] = (cm__vec_hit){p.d, (int64_t)p.s};
        }
        cm__vec_heap hp = {hits, nr, nr};
        cm__vec_heap_sort(&hp); /* ties: smaller slot first */
        found = nr < k ? nr : k;
        if (ix->storage == CM_VEC_STORE_BF16)
            found = nr; /* rescore the whole beam, then cut */
    }
    if (ix->storage == CM_VEC_STORE_BF16) {
        rescore_bf16(ix, ops, qf, qf + dim, hits, found);
        if (found > k)
            found = k;
    }
    for (size_t i = 0; i < found; i++)
        hits[i].id = ix->ids[hits[i].id];
unlock:
    vis_put(ix, w.vis);
    (void)pthread_rwlock_unlock(&ix->lock);
    if (rc == CM_OK) {
        cm__vec_hits_write(ids_out, dist_out, hits, found, k);
        if (found_out)
            *found_out = found;
    }
free_out:
    cm__free(w.cand.a);
    cm__free(w.res.a);
    cm__free(qf);
    cm__free(qe);
    cm__free(hits);
    return rc;
}
