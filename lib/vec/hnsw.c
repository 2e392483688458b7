/*
 * hnsw.c - cm_vec_index: a Hierarchical Navigable Small World graph
 * (Malkov & Yashunin 2016) with the neighbour-selection heuristic, in the
 * style of hnswlib.
 *
 * - Insert: greedy descent through the upper layers, then a beam search
 *   (ef_construction) per layer; links chosen by the heuristic and made
 *   bidirectional, pruning a full list with the same heuristic.
 *   cm_vec_index_add_batch() first prepares every row (slot, id, level,
 *   vector) on the calling thread, then links them, on `threads` workers
 *   when asked: each worker inserts rows taken from a shared counter and
 *   touches a node's lists only under that node's lock (striped spin
 *   locks, never two held at once), as hnswlib does.
 * - Remove: the entry is hidden from results at once (DEAD) but its vector
 *   and links stay, so walks still cross it. When enough DEAD slots have
 *   gathered (or before an insert would grow the arrays), a repair pass
 *   rewrites every list that points at one: its live links stay, the dead
 *   neighbours' own neighbours are offered through the same heuristic and
 *   the nearest of them fill the list back to its old length. The slots
 *   then become FREE (upper-layer memory is released) and inserts reuse
 *   them: no link ever dangles.
 * - Search: descent + beam search of breadth ef on layer 0. With a filter
 *   the walk computes distances to passing entries only and crosses
 *   failing ones through their neighbours (two hops, as in ACORN-1), so
 *   its cost stays close to the unfiltered one; when few entries pass an
 *   exact scan of them is cheaper and is used instead, and when the walk
 *   finds fewer than k passing entries the exact scan completes it.
 * - Concurrency: a rwlock; searches share it, add/remove hold it alone.
 *   Per-search scratch (visited marks, heaps, buffers) is pooled so that a
 *   search does not allocate.
 */
#include "hnsw_int.h"

#include <stdlib.h>
#include <string.h>

static _Thread_local uint64_t exact_fallbacks;

uint64_t cm__hnsw_exact_fallbacks(void)
{
    return exact_fallbacks;
}

#define NO_SLOT UINT32_MAX
#define N_NODE_LOCKS 65536u
#define MAX_LIST 257 /* 1 + the largest m0 (2 * 128) */
/* bf16 storage: results re-ranked with the f32 query (the beam's order
 * already agrees past this depth) */
#define RESCORE(k) ((k) + (k) / 2 + 2)

static void retune_after_add(cm_vec_index *ix);

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

static inline const void *vec_at(const cm_vec_index *ix, uint32_t s)
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
    if (pthread_mutex_init(&ix->entry_lock, NULL) != 0) {
        (void)pthread_mutex_destroy(&ix->pool_lock);
        (void)pthread_rwlock_destroy(&ix->lock);
        cm__free(ix);
        return cm__error_set(CM_ERROR, "cm_vec_index: cannot create lock");
    }
    if (pthread_mutex_init(&ix->tune_lock, NULL) != 0) {
        (void)pthread_mutex_destroy(&ix->entry_lock);
        (void)pthread_mutex_destroy(&ix->pool_lock);
        (void)pthread_rwlock_destroy(&ix->lock);
        cm__free(ix);
        return cm__error_set(CM_ERROR, "cm_vec_index: cannot create lock");
    }
    *out = ix;
    return CM_OK;
}

static void scratch_free(cm__visited *v)
{
    cm__free(v->marks);
    cm__free(v->cand);
    cm__free(v->res);
    cm__free(v->buf);
    cm__free(v);
}

void cm_vec_index_free(cm_vec_index *ix)
{
    if (!ix)
        return;
    for (size_t i = 0; i < ix->cap; i++)
        cm__free(ix->up[i]);
    cm__free(ix->up);
    cm__free(ix->vecs_raw);
    cm__free(ix->ids);
    cm__free(ix->levels);
    cm__free(ix->state);
    cm__free(ix->l0);
    cm__free(ix->free_slots);
    cm__free(ix->dead);
    cm__free((void *)ix->node_locks);
    cm__idmap_free(&ix->map);
    while (ix->pool) {
        cm__visited *v = ix->pool;
        ix->pool = v->next;
        scratch_free(v);
    }
    (void)pthread_rwlock_destroy(&ix->lock);
    (void)pthread_mutex_destroy(&ix->pool_lock);
    (void)pthread_mutex_destroy(&ix->entry_lock);
    (void)pthread_mutex_destroy(&ix->tune_lock);
    cm__free(ix);
}

/* Grow one per-slot array to ncap elements; zero the new tail when asked
 * (small arrays only: the big ones are written slot by slot, so pages that
 * are never used are never touched). */
static int grow_array(void **p, size_t old, size_t ncap, size_t elt, int zero)
{
    if (ncap > SIZE_MAX / elt)
        return CM_ENOMEM;
    void *q = cm__realloc(*p, ncap * elt);
    if (!q)
        return CM_ENOMEM;
    if (zero)
        memset((char *)q + old * elt, 0, (ncap - old) * elt);
    *p = q;
    return CM_OK;
}

/* Grow the vector array, keeping the rows 64-byte aligned. */
static int grow_vecs(cm_vec_index *ix, size_t ncap)
{
    if (ncap > (SIZE_MAX - 64) / ix->vbytes)
        return CM_ENOMEM;
    size_t old_off = ix->vecs ? (size_t)(ix->vecs - (unsigned char *)ix->vecs_raw) : 0;
    unsigned char *raw = cm__realloc(ix->vecs_raw, ncap * ix->vbytes + 64);
    if (!raw)
        return CM_ENOMEM;
    size_t off = (64 - ((uintptr_t)raw & 63)) & 63;
    if (off != old_off && ix->n)
        memmove(raw + off, raw + old_off, ix->n * ix->vbytes);
    ix->vecs_raw = raw;
    ix->vecs = raw + off;
    return CM_OK;
}

int cm__hnsw_reserve(cm_vec_index *ix, size_t want)
{
    if (want <= ix->cap)
        return CM_OK;
    if (want > UINT32_MAX - 2)
        return cm__error_set(CM_ENOMEM, "cm_vec_index: more than 2^32 - 3 entries");
    size_t ncap = want, old = ix->cap;
    if (grow_vecs(ix, ncap) || grow_array((void **)&ix->ids, old, ncap, sizeof *ix->ids, 0) ||
        grow_array((void **)&ix->levels, old, ncap, 1, 1) ||
        grow_array((void **)&ix->state, old, ncap, 1, 1) ||
        grow_array((void **)&ix->l0, old, ncap, (size_t)(1 + ix->m0) * sizeof(uint32_t), 0) ||
        grow_array((void **)&ix->up, old, ncap, sizeof *ix->up, 1))
        return cm__error_set(CM_ENOMEM, "cm_vec_index: out of memory");
    ix->cap = ncap; /* every array now holds ncap slots */
    return CM_OK;
}

/* Room for `extra` more slots past n, growing by half at least. */
static int reserve_more(cm_vec_index *ix, size_t extra)
{
    if (ix->n + extra <= ix->cap)
        return CM_OK;
    size_t want = ix->n + extra, grown = ix->cap + ix->cap / 2;
    if (want < grown)
        want = grown;
    if (want < 16)
        want = 16;
    if (want > UINT32_MAX - 2 && ix->n + extra <= UINT32_MAX - 2)
        want = UINT32_MAX - 2;
    return cm__hnsw_reserve(ix, want);
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

static int push_u32(uint32_t **arr, size_t *n, size_t *cap, uint32_t v)
{
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 16;
        uint32_t *p = cm__realloc(*arr, nc * sizeof *p);
        if (!p)
            return cm__error_set(CM_ENOMEM, "cm_vec_index: out of memory");
        *arr = p;
        *cap = nc;
    }
    (*arr)[(*n)++] = v;
    return CM_OK;
}

int cm__hnsw_push_dead(cm_vec_index *ix, uint32_t slot)
{
    return push_u32(&ix->dead, &ix->n_dead, &ix->dead_cap, slot);
}

size_t cm__hnsw_bytes(const cm_vec_index *ix)
{
    size_t b = sizeof *ix + (ix->vecs_raw ? ix->cap * ix->vbytes + 64 : 0);
    b += ix->cap * (sizeof *ix->ids + 2 + (1 + ix->m0) * sizeof(uint32_t) + sizeof *ix->up);
    for (size_t s = 0; s < ix->n; s++)
        if (ix->up[s])
            b += (size_t)ix->levels[s] * (1 + ix->m) * sizeof(uint32_t);
    b += (ix->free_cap + ix->dead_cap) * sizeof(uint32_t) + cm__idmap_bytes(&ix->map);
    if (ix->node_locks)
        b += N_NODE_LOCKS;
    for (const cm__visited *v = ix->pool; v; v = v->next)
        b += sizeof *v + v->cap * sizeof *v->marks + v->buf_cap + (v->cand_cap + v->res_cap) * 8;
    return b;
}

/* ---- node locks (parallel insert only) ---- */

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

static inline void node_lock(const cm_vec_index *ix, uint32_t s)
{
    _Atomic unsigned char *l = &ix->node_locks[s & (N_NODE_LOCKS - 1)];
    while (atomic_exchange_explicit(l, 1, memory_order_acquire))
        while (atomic_load_explicit(l, memory_order_relaxed))
            cpu_relax();
}

static inline void node_unlock(const cm_vec_index *ix, uint32_t s)
{
    atomic_store_explicit(&ix->node_locks[s & (N_NODE_LOCKS - 1)], 0, memory_order_release);
}

/* ---- distances ---- */

typedef struct {
    cm__vec_f32_fn f32;
    cm__vec_f32x4_fn f32x4; /* one query, four rows */
    cm__vec_u16_fn u16;     /* bf16 storage when set */
    int metric;
    size_t dim;
} dfn;

static dfn dfn_make(const cm_vec_index *ix)
{
    const cm__vec_ops *ops = cm__vec_ops_get();
    dfn f = {NULL, NULL, NULL, ix->metric, ix->dim};
    if (ix->storage == CM_VEC_STORE_BF16) {
        f.u16 = ix->metric == CM_VEC_L2 ? ops->l2sq_bf16 : ops->dot_bf16;
    } else {
        f.f32 = ix->metric == CM_VEC_L2 ? ops->l2sq_f32 : ops->dot_f32;
        f.f32x4 = ix->metric == CM_VEC_L2 ? ops->l2sq4_f32 : ops->dot4_f32;
    }
    /* every row of the dispatch table has every kernel (dispatch.c) */
    assert(f.u16 || (f.f32 && f.f32x4));
    return f;
}

/* A kernel result as a distance (smaller = closer). */
static inline float finish(const dfn *f, float r)
{
    if (f->metric == CM_VEC_L2)
        return r;
    if (f->metric == CM_VEC_IP)
        return -r;
    r = 1.0f - r;
    return r < 0 ? 0 : r;
}

/* Distance between two encoded vectors (storage format). */
static inline float dist(const dfn *f, const void *a, const void *b)
{
    return finish(f, f->u16 ? f->u16(a, b, f->dim) : f->f32(a, b, f->dim));
}

/* Encode a caller vector for storage: normalised for cosine, then f32 or
 * bf16. `tmp` holds dim floats; for cosine it keeps the normalised f32. */
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

static inline void prefetch_vec(const cm_vec_index *ix, uint32_t s)
{
    const char *p = (const char *)vec_at(ix, s);
    __builtin_prefetch(p, 0, 3);
    __builtin_prefetch(p + 64, 0, 3);
    __builtin_prefetch(p + 128, 0, 3);
    __builtin_prefetch(p + 192, 0, 3);
}

/* ---- heaps of (distance, slot) ---- */

typedef struct {
    float d;
    uint32_t s;
} pair;

typedef struct {
    pair *a;
    size_t n, cap;
} pheap;

static int heap_room(pheap *h)
{
    if (h->n < h->cap)
        return CM_OK;
    size_t nc = h->cap ? h->cap * 2 : 256;
    pair *p = cm__realloc(h->a, nc * sizeof *p);
    if (!p)
        return CM_ENOMEM;
    h->a = p;
    h->cap = nc;
    return CM_OK;
}

/* Max-heap on d (results). */
static int max_push(pheap *h, float d, uint32_t s)
{
    if (heap_room(h))
        return CM_ENOMEM;
    size_t i = h->n++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (h->a[p].d >= d)
            break;
        h->a[i] = h->a[p];
        i = p;
    }
    h->a[i] = (pair){d, s};
    return CM_OK;
}

static pair max_pop(pheap *h)
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

/* Min-heap on d (candidates). */
static int min_push(pheap *h, float d, uint32_t s)
{
    if (heap_room(h))
        return CM_ENOMEM;
    size_t i = h->n++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (h->a[p].d <= d)
            break;
        h->a[i] = h->a[p];
        i = p;
    }
    h->a[i] = (pair){d, s};
    return CM_OK;
}

static pair min_pop(pheap *h)
{
    pair top = h->a[0], x = h->a[--h->n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->n)
            break;
        if (c + 1 < h->n && h->a[c + 1].d < h->a[c].d)
            c++;
        if (h->a[c].d >= x.d)
            break;
        h->a[i] = h->a[c];
        i = c;
    }
    if (h->n)
        h->a[i] = x;
    return top;
}

/* ---- pooled scratch ---- */

static cm__visited *scratch_get(cm_vec_index *ix)
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
            v->cap = 0;
            scratch_free(v);
            return NULL;
        }
        v->cap = ix->cap;
        v->epoch = 0;
    }
    return v;
}

static void scratch_put(cm_vec_index *ix, cm__visited *v)
{
    if (!v)
        return;
    (void)pthread_mutex_lock(&ix->pool_lock);
    v->next = ix->pool;
    ix->pool = v;
    (void)pthread_mutex_unlock(&ix->pool_lock);
}

/* Start a new walk: a fresh epoch, clearing the marks when it wraps. */
static void vis_next(cm__visited *v)
{
    if (++v->epoch == 0) {
        memset(v->marks, 0, v->cap * sizeof *v->marks);
        v->epoch = 1;
    }
}

/* ---- graph walks ---- */

typedef struct {
    cm_vec_index *ix;
    dfn f;
    const void *q;                    /* encoded query */
    const cm_vec_search_options *flt; /* NULL: no filter */
    uint32_t exclude;                 /* slot never returned (the one being inserted) */
    int hide;                         /* `exclude` is not walked through either (tuning) */
    int locking;                      /* parallel insert: read lists under node locks */
    cm__visited *vis;
    pheap cand, res;
    uint32_t buf[MAX_LIST];
} walk;

static void walk_begin(walk *w, cm__visited *v)
{
    w->vis = v;
    w->cand = (pheap){v->cand, 0, v->cand_cap};
    w->res = (pheap){v->res, 0, v->res_cap};
}

static void walk_end(walk *w)
{
    if (!w->vis)
        return;
    w->vis->cand = w->cand.a;
    w->vis->cand_cap = w->cand.cap;
    w->vis->res = w->res.a;
    w->vis->res_cap = w->res.cap;
}

/* Distance from the walk's query to a stored row. */
static inline float qdist(const walk *w, const void *row)
{
    return dist(&w->f, w->q, row);
}

/* The list of `s` at `level`: in place, or a copy taken under the node's
 * lock while other threads insert. */
static inline const uint32_t *read_links(walk *w, uint32_t s, int level)
{
    const uint32_t *l = cm__hnsw_links(w->ix, s, level);
    if (!w->locking)
        return l;
    node_lock(w->ix, s);
    memcpy(w->buf, l, (1 + (size_t)l[0]) * sizeof *l);
    node_unlock(w->ix, s);
    return w->buf;
}

static inline int eligible(const walk *w, uint32_t s)
{
    if (w->ix->state[s] != CM__SLOT_LIVE || s == w->exclude)
        return 0;
    return !w->flt || cm__vec_allowed(w->flt, w->ix->ids[s]);
}

static uint32_t greedy(walk *w, uint32_t cur, int level)
{
    const cm_vec_index *ix = w->ix;
    float cd = qdist(w, vec_at(ix, cur));
    for (int changed = 1; changed;) {
        changed = 0;
        const uint32_t *l = read_links(w, cur, level);
        for (uint32_t j = 1; j <= l[0]; j++)
            prefetch_vec(ix, l[j]);
        uint32_t best = cur;
        for (uint32_t j = 1; j <= l[0]; j++) {
            if (ix->levels[l[j]] < level) /* defensive: a list never points lower */
                continue;
            if (w->hide && l[j] == w->exclude)
                continue;
            float d = qdist(w, vec_at(ix, l[j]));
            if (d < cd) {
                cd = d;
                best = l[j];
                changed = 1;
            }
        }
        cur = best;
    }
    return cur;
}

/* Distances from the query to slots todo[0, nt), four rows per kernel call
 * for f32 storage. */
static void dist_many(const walk *w, const uint32_t *todo, uint32_t nt, float *out)
{
    const cm_vec_index *ix = w->ix;
    uint32_t t = 0;
    if (w->f.f32x4) {
        for (; t + 4 <= nt; t += 4) {
            const float *rows[4] = {vec_at(ix, todo[t]), vec_at(ix, todo[t + 1]),
                                    vec_at(ix, todo[t + 2]), vec_at(ix, todo[t + 3])};
            w->f.f32x4(w->q, rows, ix->dim, out + t);
            out[t] = finish(&w->f, out[t]);
            out[t + 1] = finish(&w->f, out[t + 1]);
            out[t + 2] = finish(&w->f, out[t + 2]);
            out[t + 3] = finish(&w->f, out[t + 3]);
        }
    }
    for (; t < nt; t++)
        out[t] = qdist(w, vec_at(ix, todo[t]));
}

/*
 * Beam search of breadth ef on one layer from `ep`. Afterwards w->res holds
 * up to ef eligible slots (max-heap). Ineligible slots (removed, the one
 * being inserted, filtered out) are walked through but never returned;
 * while results are short the walk keeps expanding.
 */
static int search_layer(walk *w, uint32_t ep, size_t ef, int level)
{
    cm_vec_index *ix = w->ix;
    uint16_t *marks = w->vis->marks, epoch;
    const int restricted = w->flt || w->exclude != NO_SLOT || ix->n_dead > 0;
    uint32_t todo[MAX_LIST];
    float dd[MAX_LIST];
    vis_next(w->vis);
    epoch = w->vis->epoch;
    w->cand.n = w->res.n = 0;
    if (w->hide && w->exclude != NO_SLOT)
        marks[w->exclude] = epoch; /* never expanded: a held-out query */
    marks[ep] = epoch;
    float d = qdist(w, vec_at(ix, ep)), lower = INFINITY;
    if (eligible(w, ep)) {
        if (max_push(&w->res, d, ep))
            return CM_ENOMEM;
        lower = d;
    }
    if (min_push(&w->cand, d, ep))
        return CM_ENOMEM;
    while (w->cand.n) {
        if (w->cand.a[0].d > lower && (w->res.n >= ef || !restricted))
            break;
        pair c = min_pop(&w->cand);
        if (w->cand.n && !w->locking)
            __builtin_prefetch(cm__hnsw_links(ix, w->cand.a[0].s, level), 0, 3);
        const uint32_t *l = read_links(w, c.s, level);
        uint32_t nt = 0;
        for (uint32_t j = 1; j <= l[0]; j++) {
            uint32_t nb = l[j];
            if (marks[nb] == epoch || (level && ix->levels[nb] < level))
                continue;
            marks[nb] = epoch;
            todo[nt++] = nb;
            prefetch_vec(ix, nb);
        }
        dist_many(w, todo, nt, dd);
        for (uint32_t t = 0; t < nt; t++) {
            uint32_t nb = todo[t];
            float dn = dd[t];
            if (w->res.n < ef || dn < lower) {
                if (min_push(&w->cand, dn, nb))
                    return CM_ENOMEM;
                if (eligible(w, nb)) {
                    if (max_push(&w->res, dn, nb))
                        return CM_ENOMEM;
                    if (w->res.n > ef)
                        (void)max_pop(&w->res);
                }
                if (w->res.n)
                    lower = w->res.a[0].d;
            }
        }
    }
    return CM_OK;
}

/*
 * Filtered beam search on layer 0 (ACORN-1 style): distances are computed
 * for passing entries only. Expanding a node offers its passing neighbours,
 * then the passing neighbours of its failing ones (two hops), up to m0
 * new entries, so the walk moves through the passing subgraph at about the
 * cost of an unfiltered walk. `ep` may fail the filter: it only seeds.
 * Marks: `seen` = visited (a result candidate, or a failing node already
 * expanded as a bridge); `fail` = known to fail, not yet expanded, so the
 * filter runs once per node and walk.
 */
static int search_filtered(walk *w, uint32_t ep, size_t ef)
{
    cm_vec_index *ix = w->ix;
    cm__visited *v = w->vis;
    uint16_t *marks = v->marks;
    uint32_t todo[MAX_LIST], bridge[MAX_LIST];
    float dd[MAX_LIST];
    const uint32_t cap = ix->m0;
    if (v->epoch >= UINT16_MAX - 2) {
        memset(v->marks, 0, v->cap * sizeof *v->marks);
        v->epoch = 0;
    }
    v->epoch += 2;
    const uint16_t seen = (uint16_t)(v->epoch - 1), fail = v->epoch;
    w->cand.n = w->res.n = 0;
    marks[ep] = seen;
    float d = qdist(w, vec_at(ix, ep)), lower = INFINITY;
    if (eligible(w, ep)) {
        if (max_push(&w->res, d, ep))
            return CM_ENOMEM;
        lower = d;
    }
    if (min_push(&w->cand, d, ep))
        return CM_ENOMEM;
    while (w->cand.n) {
        if (w->cand.a[0].d > lower && w->res.n >= ef)
            break;
        pair c = min_pop(&w->cand);
        const uint32_t *l = cm__hnsw_links(ix, c.s, 0);
        uint32_t nt = 0, nb_count = 0;
        for (uint32_t j = 1; j <= l[0]; j++)
            if (marks[l[j]] != seen && marks[l[j]] != fail)
                __builtin_prefetch(&ix->ids[l[j]], 0, 3);
        for (uint32_t j = 1; j <= l[0]; j++) {
            uint32_t nb = l[j];
            uint16_t mk = marks[nb];
            if (mk == seen)
                continue;
            if (mk != fail && eligible(w, nb)) {
                marks[nb] = seen;
                todo[nt++] = nb;
                prefetch_vec(ix, nb);
            } else {
                marks[nb] = fail;
                bridge[nb_count++] = nb;
                __builtin_prefetch(cm__hnsw_links(ix, nb, 0), 0, 3);
            }
        }
        for (uint32_t b = 0; b < nb_count && nt < cap; b++) {
            uint32_t br = bridge[b];
            marks[br] = seen; /* expanded once: never again a bridge */
            const uint32_t *l2 = cm__hnsw_links(ix, br, 0);
            for (uint32_t j = 1; j <= l2[0] && nt < cap; j++) {
                uint32_t x = l2[j];
                uint16_t mk = marks[x];
                if (mk == seen || mk == fail)
                    continue;
                if (eligible(w, x)) {
                    marks[x] = seen;
                    todo[nt++] = x;
                    prefetch_vec(ix, x);
                } else {
                    marks[x] = fail;
                }
            }
        }
        dist_many(w, todo, nt, dd);
        for (uint32_t t = 0; t < nt; t++) {
            uint32_t nb = todo[t];
            float dn = dd[t];
            if (w->res.n < ef || dn < lower) {
                if (min_push(&w->cand, dn, nb) || max_push(&w->res, dn, nb))
                    return CM_ENOMEM;
                if (w->res.n > ef)
                    (void)max_pop(&w->res);
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
        out[i - 1] = max_pop(h);
    return n;
}

/*
 * The HNSW heuristic: walk candidates nearest first and keep one only if
 * it is closer to the base than to every neighbour kept so far. Writes the
 * list (count first) to `links`. `c` must not alias `links`.
 */
static void select_neighbors(const cm_vec_index *ix, const dfn *f, const pair *c, size_t nc,
                             uint32_t mmax, uint32_t *links)
{
    uint32_t kept = 0;
    for (size_t i = 0; i < nc && kept < mmax; i++) {
        int good = 1;
        const void *cv = vec_at(ix, c[i].s);
        for (uint32_t j = 0; j < kept; j++) {
            if (dist(f, vec_at(ix, links[1 + j]), cv) < c[i].d) {
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

/* Sort pairs by distance, then slot (insertion sort for short lists). */
static void sort_pairs(pair *a, size_t n)
{
    if (n > 48) {
        qsort(a, n, sizeof *a, pair_cmp);
        return;
    }
    for (size_t i = 1; i < n; i++) {
        pair x = a[i];
        size_t j = i;
        while (j > 0 && (a[j - 1].d > x.d || (a[j - 1].d == x.d && a[j - 1].s > x.s))) {
            a[j] = a[j - 1];
            j--;
        }
        a[j] = x;
    }
}

static int in_list(const uint32_t *l, uint32_t s)
{
    for (uint32_t j = 1; j <= l[0]; j++)
        if (l[j] == s)
            return 1;
    return 0;
}

/* Rebuild the full list of `base` at `level` from its current live links
 * plus `add`, with the heuristic. Caller holds base's lock when locking. */
static void relink(cm_vec_index *ix, const dfn *f, uint32_t base, int level, uint32_t add,
                   pair *scratch)
{
    uint32_t *l = cm__hnsw_links(ix, base, level);
    size_t nc = 0;
    const void *bv = vec_at(ix, base);
    for (uint32_t j = 1; j <= l[0]; j++) {
        uint32_t x = l[j];
        if (ix->state[x] == CM__SLOT_LIVE)
            scratch[nc++] = (pair){dist(f, bv, vec_at(ix, x)), x};
    }
    scratch[nc++] = (pair){dist(f, bv, vec_at(ix, add)), add};
    sort_pairs(scratch, nc);
    select_neighbors(ix, f, scratch, nc, cm__hnsw_max_links(ix, level), l);
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

/* ---- insert ---- */

/* One inserting thread's state. */
typedef struct {
    walk w;
    pair *sorted;  /* ef_construction + 1 */
    pair *scratch; /* m0 + 2 */
} inserter;

static int inserter_init(inserter *in, cm_vec_index *ix, int locking)
{
    memset(in, 0, sizeof *in);
    in->w.ix = ix;
    in->w.f = dfn_make(ix);
    in->w.locking = locking;
    cm__visited *v = scratch_get(ix);
    in->sorted = cm__malloc((ix->ef_construction + 1) * sizeof *in->sorted);
    in->scratch = cm__malloc(((size_t)ix->m0 + 2) * sizeof *in->scratch);
    if (v)
        walk_begin(&in->w, v);
    if (!v || !in->sorted || !in->scratch)
        return CM_ENOMEM;
    return CM_OK;
}

static void inserter_done(inserter *in)
{
    walk_end(&in->w);
    scratch_put(in->w.ix, in->w.vis);
    cm__free(in->sorted);
    cm__free(in->scratch);
}

/*
 * Link a prepared slot (vector, id, level and empty lists already set)
 * into the graph. Safe to run on several threads at once when
 * in->w.locking is set.
 */
static int insert_linked(inserter *in, uint32_t slot)
{
    cm_vec_index *ix = in->w.ix;
    walk *w = &in->w;
    int level = ix->levels[slot];
    (void)pthread_mutex_lock(&ix->entry_lock);
    int64_t ep = ix->entry;
    int maxl = ix->max_level;
    if (ep < 0) {
        ix->entry = slot;
        ix->max_level = level;
    }
    (void)pthread_mutex_unlock(&ix->entry_lock);
    if (ep < 0)
        return CM_OK;
    w->q = vec_at(ix, slot);
    w->exclude = slot;
    w->flt = NULL;
    uint32_t cur = (uint32_t)ep, sel[MAX_LIST];
    for (int lc = maxl; lc > level; lc--)
        cur = greedy(w, cur, lc);
    for (int lc = level < maxl ? level : maxl; lc >= 0; lc--) {
        if (search_layer(w, cur, ix->ef_construction, lc))
            return CM_ENOMEM;
        size_t nw = drain_sorted(&w->res, in->sorted);
        if (nw == 0)
            continue;
        select_neighbors(ix, &w->f, in->sorted, nw, ix->m, sel);
        uint32_t *mine = cm__hnsw_links(ix, slot, lc);
        if (w->locking)
            node_lock(ix, slot);
        /* another thread may have linked to this slot already (its walk
         * started here): keep those links while there is room */
        uint32_t had = mine[0], extra[MAX_LIST];
        memcpy(extra, mine + 1, had * sizeof *extra);
        memcpy(mine, sel, (1 + (size_t)sel[0]) * sizeof *sel);
        for (uint32_t j = 0; j < had && mine[0] < cm__hnsw_max_links(ix, lc); j++)
            if (!in_list(mine, extra[j]))
                mine[1 + mine[0]++] = extra[j];
        if (w->locking)
            node_unlock(ix, slot);
        for (uint32_t j = 1; j <= sel[0]; j++) {
            uint32_t nb = sel[j];
            if (w->locking)
                node_lock(ix, nb);
            uint32_t *nl = cm__hnsw_links(ix, nb, lc);
            if (!in_list(nl, slot)) {
                if (nl[0] < cm__hnsw_max_links(ix, lc))
                    nl[1 + nl[0]++] = slot;
                else
                    relink(ix, &w->f, nb, lc, slot, in->scratch);
            }
            if (w->locking)
                node_unlock(ix, nb);
        }
        cur = in->sorted[0].s;
    }
    if (level > maxl) {
        (void)pthread_mutex_lock(&ix->entry_lock);
        if (level > ix->max_level) {
            ix->max_level = level;
            ix->entry = slot;
        }
        (void)pthread_mutex_unlock(&ix->entry_lock);
    }
    return CM_OK;
}

typedef struct {
    cm_vec_index *ix;
    const uint32_t *slots;
    size_t n;
    atomic_size_t next;
    atomic_int rc;
} build_job;

#define BUILD_CHUNK 8

static void *build_worker(void *arg)
{
    build_job *j = arg;
    inserter in;
    int rc = inserter_init(&in, j->ix, 1);
    while (rc == CM_OK && atomic_load_explicit(&j->rc, memory_order_relaxed) == CM_OK) {
        size_t i = atomic_fetch_add_explicit(&j->next, BUILD_CHUNK, memory_order_relaxed);
        if (i >= j->n)
            break;
        size_t end = i + BUILD_CHUNK < j->n ? i + BUILD_CHUNK : j->n;
        for (; i < end && rc == CM_OK; i++)
            rc = insert_linked(&in, j->slots[i]);
    }
    inserter_done(&in);
    if (rc != CM_OK)
        atomic_store(&j->rc, rc);
    return NULL;
}

/* Link prepared slots, on up to `threads` threads (the caller included). */
static int link_all(cm_vec_index *ix, const uint32_t *slots, size_t n, uint32_t threads)
{
    if (threads > 64)
        threads = 64;
    if (threads > 1 && n >= 64 * (size_t)threads) {
        ix->node_locks = cm__calloc(N_NODE_LOCKS, 1);
        if (ix->node_locks) {
            build_job j = {ix, slots, n, 0, CM_OK};
            pthread_t th[64];
            uint32_t started = 0;
            for (uint32_t t = 1; t < threads; t++) {
                if (pthread_create(&th[started], NULL, build_worker, &j) != 0)
                    break;
                started++;
            }
            build_worker(&j);
            for (uint32_t t = 0; t < started; t++)
                (void)pthread_join(th[t], NULL);
            cm__free((void *)ix->node_locks);
            ix->node_locks = NULL;
            return atomic_load(&j.rc);
        }
    }
    inserter in;
    int rc = inserter_init(&in, ix, 0);
    for (size_t i = 0; i < n && rc == CM_OK; i++)
        rc = insert_linked(&in, slots[i]);
    inserter_done(&in);
    return rc;
}

/* ---- repair of removed entries ---- */

/*
 * Rewrite list `l` of live slot `s` at `level`, which points at DEAD
 * slots. Its live links stay (the heuristic chose them). The live
 * neighbours of its dead links (and of their dead ones: two hops) are
 * offered nearest first: each is taken when it is closer to `s` than to
 * every link kept so far (the heuristic again). If the list is then
 * shorter than before, the nearest remaining candidates fill it back to
 * its old length, so that removals never thin the graph out.
 */
static void repair_list(cm_vec_index *ix, const dfn *f, cm__visited *v, uint32_t s, int level,
                        pair *cand, size_t cand_cap)
{
    uint32_t *l = cm__hnsw_links(ix, s, level);
    uint32_t keep[MAX_LIST], dead[MAX_LIST], nk = 0, nd = 0, old = l[0];
    vis_next(v);
    uint16_t ep = v->epoch;
    v->marks[s] = ep;
    for (uint32_t j = 1; j <= l[0]; j++) {
        uint32_t x = l[j];
        v->marks[x] = ep;
        if (ix->state[x] == CM__SLOT_LIVE)
            keep[nk++] = x;
        else
            dead[nd++] = x;
    }
    size_t nc = 0;
    for (uint32_t i = 0; i < nd; i++) {
        if (ix->levels[dead[i]] < level)
            continue;
        const uint32_t *dl = cm__hnsw_links(ix, dead[i], level);
        for (uint32_t j = 1; j <= dl[0]; j++) {
            uint32_t x = dl[j];
            if (v->marks[x] == ep || ix->levels[x] < level)
                continue;
            v->marks[x] = ep;
            if (ix->state[x] == CM__SLOT_LIVE) {
                if (nc < cand_cap)
                    cand[nc++] = (pair){0, x};
                continue;
            }
            const uint32_t *dl2 = cm__hnsw_links(ix, x, level);
            for (uint32_t k = 1; k <= dl2[0]; k++) {
                uint32_t y = dl2[k];
                if (v->marks[y] == ep || ix->levels[y] < level || ix->state[y] != CM__SLOT_LIVE)
                    continue;
                v->marks[y] = ep;
                if (nc < cand_cap)
                    cand[nc++] = (pair){0, y};
            }
        }
    }
    const void *sv = vec_at(ix, s);
    for (size_t i = 0; i < nc; i++)
        cand[i].d = dist(f, sv, vec_at(ix, cand[i].s));
    sort_pairs(cand, nc);
    uint32_t mmax = cm__hnsw_max_links(ix, level);
    for (size_t i = 0; i < nc && nk < mmax; i++) {
        const void *cv = vec_at(ix, cand[i].s);
        int good = 1;
        for (uint32_t j = 0; j < nk && good; j++)
            good = dist(f, vec_at(ix, keep[j]), cv) >= cand[i].d;
        if (good) {
            keep[nk++] = cand[i].s;
            cand[i].s = NO_SLOT; /* taken */
        }
    }
    for (size_t i = 0; i < nc && nk < old; i++)
        if (cand[i].s != NO_SLOT)
            keep[nk++] = cand[i].s;
    l[0] = nk;
    memcpy(l + 1, keep, nk * sizeof *keep);
}

int cm__hnsw_repair(cm_vec_index *ix)
{
    if (ix->n_dead == 0)
        return CM_OK;
    /* every DEAD slot becomes FREE: reserve the free-list room first */
    size_t need = ix->n_free + ix->n_dead;
    if (need > ix->free_cap) {
        uint32_t *p = cm__realloc(ix->free_slots, need * sizeof *p);
        if (!p)
            return cm__error_set(CM_ENOMEM, "cm_vec_index: out of memory");
        ix->free_slots = p;
        ix->free_cap = need;
    }
    size_t cand_cap = (size_t)ix->m0 * (ix->m0 + 2);
    pair *cand = cm__malloc(cand_cap * sizeof *cand);
    cm__visited *v = scratch_get(ix);
    if (!cand || !v) {
        cm__free(cand);
        scratch_put(ix, v);
        return cm__error_set(CM_ENOMEM, "cm_vec_index: out of memory");
    }
    dfn f = dfn_make(ix);
    for (size_t s = 0; s < ix->n; s++) {
        if (ix->state[s] != CM__SLOT_LIVE)
            continue;
        for (int lc = 0; lc <= ix->levels[s]; lc++) {
            const uint32_t *l = cm__hnsw_links(ix, (uint32_t)s, lc);
            int stale = 0;
            for (uint32_t j = 1; j <= l[0] && !stale; j++)
                stale = ix->state[l[j]] != CM__SLOT_LIVE;
            if (stale)
                repair_list(ix, &f, v, (uint32_t)s, lc, cand, cand_cap);
        }
    }
    for (size_t i = 0; i < ix->n_dead; i++) {
        uint32_t s = ix->dead[i];
        cm__free(ix->up[s]);
        ix->up[s] = NULL;
        ix->levels[s] = 0;
        cm__hnsw_links(ix, s, 0)[0] = 0;
        ix->state[s] = CM__SLOT_FREE;
        ix->free_slots[ix->n_free++] = s;
    }
    ix->n_dead = 0;
    if (ix->dead_cap > 64) { /* give back a large queue */
        cm__free(ix->dead);
        ix->dead = NULL;
        ix->dead_cap = 0;
    }
    scratch_put(ix, v);
    cm__free(cand);
    return CM_OK;
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
    int rc = cm__hnsw_create(out, dim, o.metric, o.storage, o.m, o.ef_construction, o.seed);
    if (rc == CM_OK)
        (*out)->threads = o.threads;
    return rc;
}

static int check_add(const cm_vec_index *ix, int64_t id, const float *vec, size_t dim)
{
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

/* Take a slot for a new entry: a FREE one, else the next new one (room
 * reserved by the caller). */
static uint32_t take_slot(cm_vec_index *ix)
{
    if (ix->n_free)
        return ix->free_slots[--ix->n_free];
    uint32_t s = (uint32_t)ix->n++;
    ix->up[s] = NULL;
    return s;
}

/* Give back a slot taken by take_slot() whose entry could not be made. */
static void return_slot(cm_vec_index *ix, uint32_t s)
{
    cm__free(ix->up[s]);
    ix->up[s] = NULL;
    ix->levels[s] = 0;
    if (s + 1 == ix->n) {
        ix->n--;
    } else {
        ix->state[s] = CM__SLOT_FREE;
        ix->free_slots[ix->n_free++] = s; /* the array had room: s came from it */
    }
}

/*
 * Prepare rows [0, n) under the write lock: validation, slot, id, level,
 * vector. Stops at the first bad row (error detail set, *rc_out its code);
 * returns the number of rows prepared, their slots in `slots`.
 */
static size_t prepare_rows(cm_vec_index *ix, const int64_t *ids, const float *vecs, size_t n,
                           size_t dim, uint32_t *slots, float *tmp, int *rc_out)
{
    size_t ok = 0;
    int rc = CM_OK;
    while (ok < n && (rc = check_add(ix, ids[ok], vecs + ok * dim, dim)) == CM_OK)
        ok++;
    /* repair before allocating, so that removed slots are reused */
    if (ix->n_dead && (ix->n_dead > ix->live / 128 || ix->n + ok > ix->cap + ix->n_free)) {
        int r2 = cm__hnsw_repair(ix);
        if (r2) {
            *rc_out = r2;
            return 0;
        }
    }
    size_t fresh = ok > ix->n_free ? ok - ix->n_free : 0;
    int r2 = reserve_more(ix, fresh);
    if (r2 == CM_OK && cm__idmap_reserve(&ix->map, ix->ids, ix->live + ok))
        r2 = cm__error_set(CM_ENOMEM, "cm_vec_index: out of memory");
    if (r2) {
        *rc_out = r2;
        return 0;
    }
    size_t done = 0;
    for (; done < ok; done++) {
        int64_t id = ids[done];
        if (cm__idmap_get(&ix->map, ix->ids, id) >= 0) {
            rc = cm__error_set_field(CM_EEXISTS, "id", "id %lld is already in the index",
                                     (long long)id);
            break;
        }
        uint32_t s = take_slot(ix);
        ix->ids[s] = id;
        if (cm__hnsw_set_level(ix, s, random_level(ix)) != CM_OK ||
            cm__idmap_put(&ix->map, ix->ids, s) != CM_OK) {
            return_slot(ix, s);
            rc = cm__error_set(CM_ENOMEM, "cm_vec_index_add: out of memory");
            break;
        }
        encode(ix, ix->vecs + (size_t)s * ix->vbytes, vecs + done * dim, tmp);
        ix->state[s] = CM__SLOT_LIVE;
        ix->live++;
        slots[done] = s;
    }
    *rc_out = rc;
    return done;
}

int cm_vec_index_add_batch(cm_vec_index *ix, const int64_t *ids, const float *vecs, size_t n,
                           size_t dim)
{
    if (!ix || (n && (!ids || !vecs)))
        return cm__error_set(CM_EINVAL, "cm_vec_index_add: NULL argument");
    if (n == 0)
        return ids && !vecs ? cm__error_set(CM_EINVAL, "cm_vec_index_add: NULL vector") : CM_OK;
    float *tmp = cm__malloc(ix->dim * sizeof *tmp);
    uint32_t *slots = cm__malloc(n * sizeof *slots);
    if (!tmp || !slots) {
        cm__free(tmp);
        cm__free(slots);
        return cm__error_set(CM_ENOMEM, "cm_vec_index_add: out of memory");
    }
    int rc = CM_OK;
    (void)pthread_rwlock_wrlock(&ix->lock);
    size_t ready = prepare_rows(ix, ids, vecs, n, dim, slots, tmp, &rc);
    if (ready) {
        int lrc = link_all(ix, slots, ready, ix->threads);
        if (lrc != CM_OK && rc == CM_OK)
            rc = cm__error_set(lrc, "cm_vec_index_add: out of memory");
    }
    (void)pthread_rwlock_unlock(&ix->lock);
    cm__free(tmp);
    cm__free(slots);
    if (ready)
        retune_after_add(ix);
    return rc;
}

/* A live slot at the highest level, preferring `slot`'s top-layer links. */
static void pick_entry(cm_vec_index *ix, uint32_t slot)
{
    int top = ix->levels[slot];
    const uint32_t *l = cm__hnsw_links(ix, slot, top);
    for (uint32_t j = 1; j <= l[0]; j++) {
        if (ix->state[l[j]] == CM__SLOT_LIVE && ix->levels[l[j]] == top && top == ix->max_level) {
            ix->entry = l[j];
            return;
        }
    }
    ix->entry = -1;
    ix->max_level = -1;
    for (size_t s = 0; s < ix->n; s++) {
        if (ix->state[s] == CM__SLOT_LIVE && (int)ix->levels[s] > ix->max_level) {
            ix->max_level = ix->levels[s];
            ix->entry = (int64_t)s;
        }
    }
}

int cm_vec_index_remove(cm_vec_index *ix, int64_t id)
{
    if (!ix)
        return cm__error_set(CM_EINVAL, "cm_vec_index_remove: NULL index");
    (void)pthread_rwlock_wrlock(&ix->lock);
    int rc = CM_OK;
    int64_t s64 = cm__idmap_get(&ix->map, ix->ids, id);
    if (s64 < 0) {
        rc = cm__error_set_field(CM_ENOTFOUND, "id", "id %lld is not in the index", (long long)id);
        goto out;
    }
    uint32_t slot = (uint32_t)s64;
    /* queue the repair first so that nothing below can fail */
    if ((rc = cm__hnsw_push_dead(ix, slot)))
        goto out;
    (void)cm__idmap_del(&ix->map, ix->ids, id);
    ix->state[slot] = CM__SLOT_DEAD;
    ix->live--;
    if (ix->entry == (int64_t)slot)
        pick_entry(ix, slot);
    if (ix->live == 0) /* nothing left to walk: every slot is free */
        rc = cm__hnsw_repair(ix);
out:
    (void)pthread_rwlock_unlock(&ix->lock);
    return rc;
}

int cm_vec_index_contains(const cm_vec_index *ix, int64_t id)
{
    if (!ix)
        return 0;
    cm_vec_index *w = (cm_vec_index *)ix;
    (void)pthread_rwlock_rdlock(&w->lock);
    int r = cm__idmap_get(&ix->map, ix->ids, id) >= 0;
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

static uint64_t bitmap_popcount(const uint8_t *p, uint64_t bits)
{
    uint64_t pop = 0, bytes = bits / 8, i = 0;
    for (; i + 8 <= bytes; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        pop += (uint64_t)__builtin_popcountll(w);
    }
    for (; i < bytes; i++)
        pop += (uint64_t)__builtin_popcount(p[i]);
    for (uint64_t b = bytes * 8; b < bits; b++)
        pop += (p[b >> 3] >> (b & 7)) & 1;
    return pop;
}

/*
 * Estimated number of live entries the filter lets through: a popcount of
 * the bitmap when there is no predicate, else a sample of up to 256 live
 * slots scaled to the live count.
 */
static double filter_passing(const cm_vec_index *ix, const cm_vec_search_options *o)
{
    if (!o->filter) {
        double p = (double)bitmap_popcount(o->allow, o->allow_bits);
        return p < (double)ix->live ? p : (double)ix->live;
    }
    size_t step = ix->n / 256 + 1, seen = 0, ok = 0;
    for (size_t s = 0; s < ix->n; s += step) {
        if (ix->state[s] != CM__SLOT_LIVE)
            continue;
        seen++;
        ok += cm__vec_allowed(o, ix->ids[s]) != 0;
    }
    return seen ? (double)ok / (double)seen * (double)ix->live : (double)ix->live;
}

/*
 * Exact scan or graph walk? A walk computes a few thousand distances at
 * random places (about 1.5 * ef * m0); a scan computes one per passing
 * entry. Below a passing fraction of 1/m0 the two-hop walk loses its
 * connectivity, so the scan is used there too.
 */
static int use_exact(const cm_vec_index *ix, double passing, size_t ef)
{
    if (passing <= 1.5 * (double)ef * ix->m0)
        return 1;
    return passing * ix->m0 < (double)ix->live;
}

/* Offer slots buf[0, n) to the heap: distances four rows at a time. */
static void exact_flush(const walk *w, const uint32_t *buf, uint32_t n, cm__vec_heap *hp)
{
    float dd[64];
    dist_many(w, buf, n, dd);
    for (uint32_t i = 0; i < n; i++)
        cm__vec_heap_push(hp, dd[i], (int64_t)buf[i]);
}

/* Exact k nearest passing entries; hits hold slots. Rows are gathered in
 * blocks of 64 and prefetched before their distances are computed. */
static size_t exact_scan(const walk *w, const cm_vec_search_options *o, cm__vec_hit *hits, size_t k)
{
    const cm_vec_index *ix = w->ix;
    cm__vec_heap hp = {hits, 0, k};
    uint32_t buf[64], nb = 0;
    uint64_t pop = o->filter ? UINT64_MAX : bitmap_popcount(o->allow, o->allow_bits);
    if (pop < ix->live / 4) { /* sparse bitmap: walk its bits, look ids up */
        uint64_t bytes = (o->allow_bits + 7) / 8;
        for (uint64_t i = 0; i < bytes; i++) {
            unsigned bits = o->allow[i];
            while (bits) {
                uint64_t id = i * 8 + (uint64_t)__builtin_ctz(bits);
                bits &= bits - 1;
                if (id >= o->allow_bits)
                    break;
                int64_t s = cm__idmap_get(&ix->map, ix->ids, (int64_t)id);
                if (s < 0)
                    continue;
                prefetch_vec(ix, (uint32_t)s);
                buf[nb++] = (uint32_t)s;
                if (nb == 64) {
                    exact_flush(w, buf, nb, &hp);
                    nb = 0;
                }
            }
        }
    } else {
        for (size_t s = 0; s < ix->n; s++) {
            if (ix->state[s] != CM__SLOT_LIVE || !cm__vec_allowed(o, ix->ids[s]))
                continue;
            prefetch_vec(ix, (uint32_t)s);
            buf[nb++] = (uint32_t)s;
            if (nb == 64) {
                exact_flush(w, buf, nb, &hp);
                nb = 0;
            }
        }
    }
    if (nb)
        exact_flush(w, buf, nb, &hp);
    cm__vec_heap_sort(&hp);
    return hp.size;
}

/* Sort hits by (distance, id): insertion sort, linear on the nearly sorted
 * lists it gets. */
static void sort_hits(cm__vec_hit *h, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        cm__vec_hit x = h[i];
        size_t j = i;
        while (j > 0 && cm__vec_hit_less(x.dist, x.id, h[j - 1].dist, h[j - 1].id)) {
            h[j] = h[j - 1];
            j--;
        }
        h[j] = x;
    }
}

/* bf16 storage: report distances of the f32 query to the stored rows. */
static void rescore_bf16(const cm_vec_index *ix, const float *qf, float *row, cm__vec_hit *hits,
                         size_t n)
{
    const cm__vec_ops *ops = cm__vec_ops_get();
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
    sort_hits(hits, n);
}

/* Scratch buffer layout of one search: encoded query (64-aligned), f32
 * query, one f32 row, hits. */
static int search_buffers(cm__visited *v, size_t dim, size_t vbytes, size_t nhits)
{
    size_t need = 64 + vbytes + 64 + 2 * dim * sizeof(float) + 64 + nhits * sizeof(cm__vec_hit);
    if (v->buf_cap >= need)
        return CM_OK;
    void *p = cm__realloc(v->buf, need);
    if (!p)
        return CM_ENOMEM;
    v->buf = p;
    v->buf_cap = need;
    return CM_OK;
}

static void *align64(void *p)
{
    return (void *)(((uintptr_t)p + 63) & ~(uintptr_t)63);
}

/* One search with the read lock held and options read. */
static int search_locked(cm_vec_index *ix, const float *query, size_t k,
                         const cm_vec_search_options *opts, cm__vec_hit **hits_out, size_t *found,
                         cm__visited *v, uint32_t hide)
{
    size_t ef = opts->ef ? opts->ef : cm_vec_index_ef(ix);
    if (ef < k)
        ef = k;
    *found = 0;
    if (ix->live == 0)
        return CM_OK;
    if (search_buffers(v, ix->dim, ix->vbytes, ef + k + 1))
        return CM_ENOMEM;
    unsigned char *qe = align64(v->buf);
    float *qf = align64(qe + ix->vbytes);
    float *row = qf + ix->dim;
    cm__vec_hit *hits = align64(row + ix->dim);
    *hits_out = hits;
    encode(ix, qe, query, qf);
    if (ix->metric != CM_VEC_COSINE)
        memcpy(qf, query, ix->dim * sizeof *qf); /* f32 form of the query for rescoring */

    walk w = {0};
    w.ix = ix;
    w.f = dfn_make(ix);
    w.q = qe;
    w.flt = cm__vec_has_filter(opts) ? opts : NULL;
    w.exclude = hide;
    w.hide = hide != NO_SLOT;
    walk_begin(&w, v);
    size_t n = 0;
    double passing = w.flt ? filter_passing(ix, w.flt) : (double)ix->live;
    int exact = w.flt && use_exact(ix, passing, ef);
    if (!exact) {
        uint32_t cur = (uint32_t)ix->entry;
        for (int lc = ix->max_level; lc > 0; lc--)
            cur = greedy(&w, cur, lc);
        int rc = w.flt ? search_filtered(&w, cur, ef) : search_layer(&w, cur, ef, 0);
        if (rc) {
            walk_end(&w);
            return CM_ENOMEM;
        }
        size_t nr = w.res.n;
        for (size_t i = nr; i > 0; i--) {
            pair p = max_pop(&w.res);
            hits[i - 1] = (cm__vec_hit){p.d, (int64_t)p.s};
        }
        sort_hits(hits, nr); /* ascending already; ties: smaller slot first */
        n = nr;
        if (w.flt && n < k) /* the walk found too few: complete it exactly */
            exact = 1;
    }
    walk_end(&w);
    if (exact) {
        exact_fallbacks++;
        n = exact_scan(&w, w.flt, hits, k);
    }
    if (ix->storage == CM_VEC_STORE_BF16) {
        size_t r = RESCORE(k); /* rescore the head of the beam exactly, then cut */
        rescore_bf16(ix, qf, row, hits, n < r ? n : r);
        if (n > r)
            n = r;
    }
    if (n > k)
        n = k;
    for (size_t i = 0; i < n; i++)
        hits[i].id = ix->ids[hits[i].id];
    *found = n;
    return CM_OK;
}

static int check_search(const cm_vec_index *ix, size_t dim, size_t k)
{
    if (dim != ix->dim)
        return cm__error_set_field(CM_EINVAL, "dim", "query dimension %zu, index has %zu", dim,
                                   ix->dim);
    if (k == 0)
        return cm__error_set_field(CM_EINVAL, "k", "k must be at least 1");
    if (k > (1u << 24))
        return cm__error_set_field(CM_EINVAL, "k", "k = %zu is too large", k);
    return CM_OK;
}

int cm_vec_index_search(int64_t *ids_out, float *dist_out, size_t *found_out,
                        const cm_vec_index *cix, const float *query, size_t dim, size_t k,
                        const cm_vec_search_options *in_opts)
{
    if (found_out)
        *found_out = 0;
    if (!cix || !ids_out || !query)
        return cm__error_set(CM_EINVAL, "cm_vec_index_search: NULL argument");
    int rc = check_search(cix, dim, k);
    if (rc == CM_OK)
        rc = cm__vec_check_finite(query, dim, "query");
    cm_vec_search_options opts;
    if (rc == CM_OK)
        rc = cm__vec_search_opts_read(&opts, in_opts);
    if (rc)
        return rc;
    cm_vec_index *ix = (cm_vec_index *)cix; /* locks and the scratch pool mutate */
    (void)pthread_rwlock_rdlock(&ix->lock);
    cm__visited *v = scratch_get(ix);
    cm__vec_hit *hits = NULL;
    size_t found = 0;
    rc = v ? search_locked(ix, query, k, &opts, &hits, &found, v, NO_SLOT) : CM_ENOMEM;
    if (rc == CM_OK)
        cm__vec_hits_write(ids_out, dist_out, hits, found, k);
    scratch_put(ix, v);
    (void)pthread_rwlock_unlock(&ix->lock);
    if (rc)
        return cm__error_set(CM_ENOMEM, "cm_vec_index_search: out of memory");
    if (found_out)
        *found_out = found;
    return CM_OK;
}

typedef struct {
    cm_vec_index *ix;
    int64_t *ids_out;
    float *dist_out;
    size_t *found_out;
    const float *queries;
    size_t nq, k;
    const cm_vec_search_options *opts;
    atomic_size_t next;
    atomic_int rc;
} batch_job;

static void *batch_worker(void *arg)
{
    batch_job *j = arg;
    cm_vec_index *ix = j->ix;
    cm__visited *v = scratch_get(ix);
    int rc = v ? CM_OK : CM_ENOMEM;
    while (rc == CM_OK) {
        size_t q = atomic_fetch_add_explicit(&j->next, 4, memory_order_relaxed);
        if (q >= j->nq)
            break;
        size_t end = q + 4 < j->nq ? q + 4 : j->nq;
        for (; q < end && rc == CM_OK; q++) {
            cm__vec_hit *hits = NULL;
            size_t found = 0;
            rc = search_locked(ix, j->queries + q * ix->dim, j->k, j->opts, &hits, &found, v,
                               NO_SLOT);
            if (rc == CM_OK) {
                cm__vec_hits_write(j->ids_out + q * j->k,
                                   j->dist_out ? j->dist_out + q * j->k : NULL, hits, found, j->k);
                if (j->found_out)
                    j->found_out[q] = found;
            }
        }
    }
    scratch_put(ix, v);
    if (rc)
        atomic_store(&j->rc, rc);
    return NULL;
}

int cm_vec_index_search_batch(int64_t *ids_out, float *dist_out, size_t *found_out,
                              const cm_vec_index *cix, const float *queries, size_t nq, size_t dim,
                              size_t k, const cm_vec_search_options *in_opts)
{
    if (!cix || !ids_out || !queries)
        return cm__error_set(CM_EINVAL, "cm_vec_index_search_batch: NULL argument");
    if (nq == 0)
        return cm__error_set_field(CM_EINVAL, "nq", "nq must be at least 1");
    int rc = check_search(cix, dim, k);
    if (rc == CM_OK && nq > SIZE_MAX / dim)
        rc = cm__error_set_field(CM_EINVAL, "nq", "nq * dim overflows");
    if (rc == CM_OK)
        rc = cm__vec_check_finite(queries, nq * dim, "queries");
    cm_vec_search_options opts;
    if (rc == CM_OK)
        rc = cm__vec_search_opts_read(&opts, in_opts);
    if (rc)
        return rc;
    cm_vec_index *ix = (cm_vec_index *)cix;
    batch_job j = {ix, ids_out, dist_out, found_out, queries, nq, k, &opts, 0, CM_OK};
    uint32_t threads = opts.threads > 64 ? 64 : opts.threads;
    if ((size_t)threads > (nq + 3) / 4)
        threads = (uint32_t)((nq + 3) / 4);
    pthread_t th[64];
    uint32_t started = 0;
    (void)pthread_rwlock_rdlock(&ix->lock);
    for (uint32_t t = 1; t < threads; t++) {
        if (pthread_create(&th[started], NULL, batch_worker, &j) != 0)
            break;
        started++;
    }
    batch_worker(&j);
    for (uint32_t t = 0; t < started; t++)
        (void)pthread_join(th[t], NULL);
    (void)pthread_rwlock_unlock(&ix->lock);
    rc = atomic_load(&j.rc);
    if (rc)
        return cm__error_set(CM_ENOMEM, "cm_vec_index_search_batch: out of memory");
    return CM_OK;
}

/* ---- self-tuning ef ---- */

#define TUNE_FIRST_AUTO 1000 /* live entries before the first automatic tuning */
#define TUNE_BLOCK 64        /* queries per pass over the rows in the exact scan */

static const uint32_t ef_steps[] = {12,  16,  20,  24,   32,   40,   48,   64,
                                    80,  96,  128, 160,  192,  256,  320,  384,
                                    512, 640, 768, 1024, 1536, 2048, 3072, 4096};

uint32_t cm_vec_index_ef(const cm_vec_index *ix)
{
    uint32_t ef = ix ? atomic_load_explicit(&ix->tuned_ef, memory_order_relaxed) : 0;
    return ef ? ef : 64;
}

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

typedef struct {
    cm_vec_index *ix;
    size_t nq, k;
    uint32_t *qslot;   /* held-out slots */
    float *qf;         /* their vectors as f32 queries, nq * dim */
    int64_t *truth;    /* nq * k ids, exact */
    cm__vec_hit *heap; /* nq * k */
    cm__visited *v;
} tuner;

/* Pick up to t->nq distinct live slots (not the entry point) at random. */
static void tune_sample(tuner *t, uint64_t seed)
{
    cm_vec_index *ix = t->ix;
    uint64_t s = seed;
    size_t got = 0;
    uint16_t *marks = t->v->marks;
    vis_next(t->v);
    uint16_t epoch = t->v->epoch;
    for (size_t tries = 0; got < t->nq && tries < 20 * t->nq + 1000; tries++) {
        uint32_t slot = (uint32_t)(splitmix(&s) % ix->n);
        if (ix->state[slot] != CM__SLOT_LIVE || (int64_t)slot == ix->entry || marks[slot] == epoch)
            continue;
        marks[slot] = epoch;
        t->qslot[got++] = slot;
    }
    t->nq = got;
    for (size_t i = 0; i < got; i++) {
        const void *row = vec_at(ix, t->qslot[i]);
        if (ix->storage == CM_VEC_STORE_BF16)
            cm_vec_bf16_to_f32(t->qf + i * ix->dim, row, ix->dim);
        else
            memcpy(t->qf + i * ix->dim, row, ix->dim * sizeof(float));
    }
}

/* Exact k nearest live entries of every held-out slot (itself excluded):
 * each block of rows is scanned for TUNE_BLOCK queries while in cache. */
static void tune_exact(tuner *t)
{
    cm_vec_index *ix = t->ix;
    walk w = {0};
    w.ix = ix;
    w.f = dfn_make(ix);
    uint32_t rows[64];
    float dd[64];
    for (size_t q0 = 0; q0 < t->nq; q0 += TUNE_BLOCK) {
        size_t q1 = q0 + TUNE_BLOCK < t->nq ? q0 + TUNE_BLOCK : t->nq;
        cm__vec_heap hp[TUNE_BLOCK];
        for (size_t q = q0; q < q1; q++)
            hp[q - q0] = (cm__vec_heap){t->heap + q * t->k, 0, t->k};
        for (size_t s = 0; s < ix->n;) {
            uint32_t nr = 0;
            for (; s < ix->n && nr < 64; s++)
                if (ix->state[s] == CM__SLOT_LIVE)
                    rows[nr++] = (uint32_t)s;
            for (size_t q = q0; q < q1; q++) {
                w.q = vec_at(ix, t->qslot[q]);
                dist_many(&w, rows, nr, dd);
                for (uint32_t r = 0; r < nr; r++)
                    if (rows[r] != t->qslot[q])
                        cm__vec_heap_push(&hp[q - q0], dd[r], (int64_t)rows[r]);
            }
        }
        for (size_t q = q0; q < q1; q++) {
            cm__vec_heap_sort(&hp[q - q0]);
            for (size_t i = 0; i < t->k; i++)
                t->truth[q * t->k + i] =
                    i < hp[q - q0].size ? ix->ids[t->heap[q * t->k + i].id] : -1;
        }
    }
}

/* Mean recall@k over the sample at `ef`, less 1.645 standard errors. */
static int tune_recall(tuner *t, uint32_t ef, double *out)
{
    cm_vec_index *ix = t->ix;
    cm_vec_search_options so = CM_VEC_SEARCH_OPTIONS_INIT;
    so.ef = ef;
    double sum = 0, sum2 = 0;
    for (size_t q = 0; q < t->nq; q++) {
        cm__vec_hit *hits = NULL;
        size_t found = 0;
        if (search_locked(ix, t->qf + q * ix->dim, t->k, &so, &hits, &found, t->v, t->qslot[q]))
            return CM_ENOMEM;
        const int64_t *truth = t->truth + q * t->k;
        size_t want = 0, hit = 0;
        for (size_t i = 0; i < t->k; i++) {
            if (truth[i] < 0)
                continue;
            want++;
            for (size_t j = 0; j < found; j++)
                if (hits[j].id == truth[i]) {
                    hit++;
                    break;
                }
        }
        double r = want ? (double)hit / (double)want : 1.0;
        sum += r;
        sum2 += r * r;
    }
    double n = (double)t->nq, mean = sum / n;
    double var = n > 1 ? (sum2 - n * mean * mean) / (n - 1) : 0;
    *out = mean - 1.645 * sqrt(var > 0 ? var : 0) / sqrt(n);
    return CM_OK;
}

/* Tune now: tune_lock held, settings read from the index. Takes the read
 * lock. */
static int tune_run(cm_vec_index *ix)
{
    tuner t = {0};
    t.ix = ix;
    t.k = ix->tune_k;
    int rc = CM_OK;
    (void)pthread_rwlock_rdlock(&ix->lock);
    size_t live = ix->live;
    if (live < t.k + 2) { /* every search returns everything at ef >= k */
        (void)pthread_rwlock_unlock(&ix->lock);
        return CM_OK;
    }
    t.nq = ix->tune_sample < live - 1 ? ix->tune_sample : live - 1;
    t.v = scratch_get(ix);
    t.qslot = cm__malloc(t.nq * sizeof *t.qslot);
    t.qf = cm__malloc(t.nq * ix->dim * sizeof *t.qf);
    t.truth = cm__malloc(t.nq * t.k * sizeof *t.truth);
    t.heap = cm__malloc(t.nq * t.k * sizeof *t.heap);
    if (!t.v || !t.qslot || !t.qf || !t.truth || !t.heap) {
        rc = CM_ENOMEM;
        goto out;
    }
    tune_sample(&t, ix->tune_seed ^ (uint64_t)live);
    if (t.nq == 0)
        goto out;
    tune_exact(&t);
    /* candidates: k, then the steps above k up to max_ef */
    uint32_t cand[1 + sizeof ef_steps / sizeof ef_steps[0]];
    size_t nc = 0;
    cand[nc++] = (uint32_t)t.k;
    for (size_t i = 0; i < sizeof ef_steps / sizeof ef_steps[0]; i++)
        if (ef_steps[i] > t.k && ef_steps[i] <= ix->tune_max_ef)
            cand[nc++] = ef_steps[i];
    if (cand[nc - 1] < ix->tune_max_ef && ix->tune_max_ef > t.k)
        cand[nc++] = ix->tune_max_ef;
    /* bisection for the first candidate reaching the target (recall grows
     * with ef); the last one when none does */
    size_t lo = 0, hi = nc - 1;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        double r;
        if ((rc = tune_recall(&t, cand[mid], &r)))
            goto out;
        if (r >= (double)ix->tune_target)
            hi = mid;
        else
            lo = mid + 1;
    }
    atomic_store_explicit(&ix->tuned_ef, cand[lo], memory_order_relaxed);
    ix->tune_live = live;
out:
    if (t.v)
        scratch_put(ix, t.v);
    (void)pthread_rwlock_unlock(&ix->lock);
    cm__free(t.qslot);
    cm__free(t.qf);
    cm__free(t.truth);
    cm__free(t.heap);
    return rc;
}

int cm_vec_index_tune(uint32_t *ef_out, cm_vec_index *ix, const cm_vec_tune_options *opts)
{
    if (!ix)
        return cm__error_set(CM_EINVAL, "cm_vec_index_tune: NULL index");
    cm_vec_tune_options o = CM_VEC_TUNE_OPTIONS_INIT;
    if (opts) {
        if (opts->size < sizeof(uint32_t) * 2)
            return cm__error_set_field(CM_EINVAL, "opts", "tune options: size too small");
        memcpy(&o, opts, opts->size < sizeof o ? opts->size : sizeof o);
    }
    if (!(o.target_recall >= 0.0f && o.target_recall <= 1.0f))
        return cm__error_set_field(CM_EINVAL, "target_recall", "target recall not in [0, 1]");
    if (o.k == 0 || o.k > 4096)
        return cm__error_set_field(CM_EINVAL, "k", "k = %u not in 1..4096", (unsigned)o.k);
    if (o.sample == 0 || o.sample > 65536)
        return cm__error_set_field(CM_EINVAL, "sample", "sample = %u not in 1..65536",
                                   (unsigned)o.sample);
    (void)pthread_mutex_lock(&ix->tune_lock);
    ix->tune_target = o.target_recall;
    ix->tune_k = o.k;
    ix->tune_sample = o.sample;
    ix->tune_regrow = o.regrow ? o.regrow : 2;
    ix->tune_max_ef = o.max_ef ? o.max_ef : 1024;
    if (ix->tune_max_ef < o.k)
        ix->tune_max_ef = o.k;
    ix->tune_seed = o.seed;
    ix->tune_live = 0;
    atomic_store_explicit(&ix->tuned_ef, 0, memory_order_relaxed);
    int rc = o.target_recall > 0 ? tune_run(ix) : CM_OK;
    (void)pthread_mutex_unlock(&ix->tune_lock);
    if (rc)
        return cm__error_set(CM_ENOMEM, "cm_vec_index_tune: out of memory");
    if (ef_out)
        *ef_out = cm_vec_index_ef(ix);
    return CM_OK;
}

/* After an add: re-tune when the index has grown enough (not when another
 * thread is tuning). A failure keeps the previous ef. */
static void retune_after_add(cm_vec_index *ix)
{
    if (pthread_mutex_trylock(&ix->tune_lock) != 0)
        return;
    if (ix->tune_target > 0 && ix->tune_regrow > 1) {
        size_t live = cm_vec_index_count(ix);
        size_t due = ix->tune_live ? ix->tune_live * ix->tune_regrow : TUNE_FIRST_AUTO;
        if (live >= due)
            (void)tune_run(ix);
    }
    (void)pthread_mutex_unlock(&ix->tune_lock);
}
