/*
 * search_int.h - pieces shared by the exact scan (topk.c) and the HNSW
 * index (hnsw.c): search option reading, the id filter, a bounded max-heap
 * of (distance, id) candidates and input validation. Never included by ISA
 * files.
 */
#ifndef CM_VEC_SEARCH_INT_H
#define CM_VEC_SEARCH_INT_H

#include "vec_int.h"

#include "util/util.h"

#include <math.h>

/* Copy caller options (any known size) over the defaults. CM_EINVAL with
 * field "opts" when the struct is malformed. */
int cm__vec_search_opts_read(cm_vec_search_options *o, const cm_vec_search_options *in);

/* CM_OK when all n values are finite, else CM_EINVAL naming `field`. */
int cm__vec_check_finite(const float *v, size_t n, const char *field);

/* The distance reported for a cosine similarity: 1 - c, kept in [0, 2]. */
static inline float cm__vec_cos_dist(double c)
{
    double r = 1.0 - c;
    return (float)(r < 0 ? 0 : (r > 2 ? 2 : r));
}

/* True when the options let `id` through (bitmap, then predicate). */
static inline int cm__vec_allowed(const cm_vec_search_options *o, int64_t id)
{
    if (o->allow) {
        if (id < 0 || (uint64_t)id >= o->allow_bits)
            return 0;
        if (!((o->allow[(uint64_t)id >> 3] >> ((uint64_t)id & 7)) & 1))
            return 0;
    }
    return o->filter ? o->filter(id, o->filter_payload) != 0 : 1;
}

static inline int cm__vec_has_filter(const cm_vec_search_options *o)
{
    return o->allow != NULL || o->filter != NULL;
}

/* ---- bounded max-heap: keeps the `cap` smallest (dist, id) pairs ---- */

typedef struct cm__vec_hit {
    float dist;
    int64_t id;
} cm__vec_hit;

typedef struct cm__vec_heap {
    cm__vec_hit *h;
    size_t size, cap;
} cm__vec_heap;

/* Order: distance, then smaller id first. NaN never enters (as +Inf). */
static inline int cm__vec_hit_less(float da, int64_t ia, float db, int64_t ib)
{
    return da < db || (da == db && ia < ib);
}

static inline void cm__vec_heap_sift_down(cm__vec_heap *hp, size_t i)
{
    cm__vec_hit *h = hp->h;
    size_t n = hp->size;
    cm__vec_hit x = h[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && cm__vec_hit_less(h[c].dist, h[c].id, h[c + 1].dist, h[c + 1].id))
            c++;
        if (!cm__vec_hit_less(x.dist, x.id, h[c].dist, h[c].id))
            break;
        h[i] = h[c];
        i = c;
    }
    h[i] = x;
}

/* Offer a candidate; O(1) when it is worse than everything kept. */
static inline void cm__vec_heap_push(cm__vec_heap *hp, float d, int64_t id)
{
    if (d != d)
        d = INFINITY;
    if (hp->size < hp->cap) {
        size_t i = hp->size++;
        while (i > 0) {
            size_t p = (i - 1) / 2;
            if (!cm__vec_hit_less(hp->h[p].dist, hp->h[p].id, d, id))
                break;
            hp->h[i] = hp->h[p];
            i = p;
        }
        hp->h[i].dist = d;
        hp->h[i].id = id;
        return;
    }
    if (hp->cap == 0 || !cm__vec_hit_less(d, id, hp->h[0].dist, hp->h[0].id))
        return;
    hp->h[0].dist = d;
    hp->h[0].id = id;
    cm__vec_heap_sift_down(hp, 0);
}

/* The worst kept distance, +Inf while the heap is not full. */
static inline float cm__vec_heap_bound(const cm__vec_heap *hp)
{
    return hp->size < hp->cap ? INFINITY : hp->h[0].dist;
}

/* Sort the kept hits ascending in place (heap order is destroyed). */
void cm__vec_heap_sort(cm__vec_heap *hp);

/* Write hits to ids/dists (k slots; unused ones -1 / +Inf). */
void cm__vec_hits_write(int64_t *ids, float *dists, const cm__vec_hit *h, size_t n, size_t k);

#endif /* CM_VEC_SEARCH_INT_H */
