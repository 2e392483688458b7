/*
 * search.c - search helpers shared by topk.c and hnsw.c (options, input
 * validation, result sorting) and cm_vec_search_options_init().
 */
#include "search_int.h"

#include <stdlib.h>
#include <string.h>

void cm_vec_search_options_init(cm_vec_search_options *opts, size_t size)
{
    if (!opts || size == 0)
        return;
    cm_vec_search_options d = CM_VEC_SEARCH_OPTIONS_INIT;
    memset(opts, 0, size);
    memcpy(opts, &d, size < sizeof d ? size : sizeof d);
    opts->size = (uint32_t)(size < sizeof d ? size : sizeof d);
}

int cm__vec_search_opts_read(cm_vec_search_options *o, const cm_vec_search_options *in)
{
    cm_vec_search_options d = CM_VEC_SEARCH_OPTIONS_INIT;
    *o = d;
    if (!in)
        return CM_OK;
    if (in->size < sizeof(uint32_t) * 4)
        return cm__error_set_field(CM_EINVAL, "opts", "search options: size %u too small",
                                   (unsigned)in->size);
    memcpy(o, in, in->size < sizeof *o ? in->size : sizeof *o);
    o->size = (uint32_t)sizeof *o;
    if (o->reserved != 0)
        return cm__error_set_field(CM_EINVAL, "opts", "search options: reserved must be 0");
    return CM_OK;
}

int cm__vec_check_finite(const float *v, size_t n, const char *field)
{
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(v[i]))
            return cm__error_set_field(CM_EINVAL, field, "%s: element %zu is %s", field, i,
                                       isnan(v[i]) ? "NaN" : "infinite");
    }
    return CM_OK;
}

static int hit_cmp(const void *pa, const void *pb)
{
    const cm__vec_hit *a = pa, *b = pb;
    if (cm__vec_hit_less(a->dist, a->id, b->dist, b->id))
        return -1;
    if (cm__vec_hit_less(b->dist, b->id, a->dist, a->id))
        return 1;
    return 0;
}

void cm__vec_heap_sort(cm__vec_heap *hp)
{
    qsort(hp->h, hp->size, sizeof *hp->h, hit_cmp);
}

void cm__vec_hits_write(int64_t *ids, float *dists, const cm__vec_hit *h, size_t n, size_t k)
{
    for (size_t j = 0; j < k; j++) {
        ids[j] = j < n ? h[j].id : -1;
        if (dists)
            dists[j] = j < n ? h[j].dist : INFINITY;
    }
}
