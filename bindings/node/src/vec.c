/*
 * vec.c - typed vector calls of the Node binding: cosine/dot/l2sq of two
 * Float32Arrays (synchronous: one pass over two short arrays), and topk()
 * over a row-major Float32Array matrix, searched on the libuv thread pool.
 *
 * Inputs are copied on the JavaScript thread before any work is queued,
 * so JavaScript may reuse, change or transfer its arrays at once.
 */
#include "binding.h"

#include <community/community.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* A Float32Array argument: data pointer and element count. */
static bool get_f32(napi_env env, napi_value v, const char *what, const float **data, size_t *n)
{
    bool is_ta = false;
    napi_typedarray_type type;
    void *p = NULL;
    if (!v || napi_is_typedarray(env, v, &is_ta) != napi_ok || !is_ta ||
        napi_get_typedarray_info(env, v, &type, n, &p, NULL, NULL) != napi_ok ||
        type != napi_float32_array) {
        cmn_type_error(env, "%s must be a Float32Array", what);
        return false;
    }
    *data = p;
    return true;
}

static bool get_count(napi_env env, napi_value v, const char *what, double max, size_t *out)
{
    double d;
    if (cmn_typeof(env, v) != napi_number || napi_get_value_double(env, v, &d) != napi_ok) {
        cmn_type_error(env, "%s must be a number", what);
        return false;
    }
    if (!(d >= 1 && d <= max) || floor(d) != d) {
        cmn_range_error(env, "%s must be an integer from 1 to %.0f", what, max);
        return false;
    }
    *out = (size_t)d;
    return true;
}

typedef float (*pair_fn)(const float *, const float *, size_t);

static napi_value pair(napi_env env, napi_callback_info info, pair_fn fn)
{
    size_t argc = 2;
    napi_value argv[2] = {NULL, NULL}, v;
    CMN_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
    const float *a, *b;
    size_t na, nb;
    if (!get_f32(env, argv[0], "a", &a, &na) || !get_f32(env, argv[1], "b", &b, &nb))
        return NULL;
    if (na != nb)
        return cmn_range_error(env, "a and b must have the same length (%zu != %zu)", na, nb);
    CMN_CALL(env, napi_create_double(env, (double)fn(a, b, na), &v));
    return v;
}

static napi_value js_cosine(napi_env env, napi_callback_info info)
{
    return pair(env, info, cm_vec_cosine_f32);
}

static napi_value js_dot(napi_env env, napi_callback_info info)
{
    return pair(env, info, cm_vec_dot_f32);
}

static napi_value js_l2sq(napi_env env, napi_callback_info info)
{
    return pair(env, info, cm_vec_l2sq_f32);
}

static napi_value js_impl(napi_env env, napi_callback_info info)
{
    napi_value v;
    CMN_CALL(env, napi_create_string_utf8(env, cm_vec_impl_name(), NAPI_AUTO_LENGTH, &v));
    return v;
}

typedef struct topk_req {
    cmn_async a; /* first: the request is its cmn_async */
    cm_vec_matrix *m;
    float *query;
    size_t dim, k;
    int64_t *ids;
    float *dist;
} topk_req;

static void topk_free(napi_env env, cmn_async *a)
{
    (void)env;
    topk_req *r = (topk_req *)a;
    cm_vec_matrix_free(r->m);
    free(r->query);
    free(r->ids);
    free(r->dist);
    free(r);
}

static int topk_run(cmn_async *a)
{
    topk_req *r = (topk_req *)a;
    return cm_vec_matrix_search(r->ids, r->dist, r->m, r->query, r->dim, r->k, NULL);
}

static napi_value topk_result(napi_env env, cmn_async *a)
{
    topk_req *r = (topk_req *)a;
    napi_value obj, ids_buf, dist_buf, ids, dist;
    void *ip, *dp;
    CMN_CALL(env, napi_create_arraybuffer(env, r->k * sizeof(int32_t), &ip, &ids_buf));
    CMN_CALL(env, napi_create_arraybuffer(env, r->k * sizeof(float), &dp, &dist_buf));
    for (size_t i = 0; i < r->k; i++)
        ((int32_t *)ip)[i] = (int32_t)r->ids[i];
    memcpy(dp, r->dist, r->k * sizeof(float));
    CMN_CALL(env, napi_create_typedarray(env, napi_int32_array, r->k, ids_buf, 0, &ids));
    CMN_CALL(env, napi_create_typedarray(env, napi_float32_array, r->k, dist_buf, 0, &dist));
    CMN_CALL(env, napi_create_object(env, &obj));
    CMN_CALL(env, napi_set_named_property(env, obj, "ids", ids));
    CMN_CALL(env, napi_set_named_property(env, obj, "distances", dist));
    return obj;
}

static bool parse_metric(napi_env env, napi_value opts, int32_t *metric)
{
    *metric = CM_VEC_COSINE;
    if (!opts || cmn_is_nullish(env, opts))
        return true;
    if (cmn_typeof(env, opts) != napi_object) {
        cmn_type_error(env, "options must be an object");
        return false;
    }
    static const char *const keys[] = {"metric", NULL};
    napi_value m;
    if (!cmn_check_keys(env, opts, "options", keys) || !cmn_get_prop(env, opts, "metric", &m))
        return false;
    if (cmn_is_nullish(env, m))
        return true;
    char *s = NULL;
    if (!cmn_get_string(env, m, "options.metric", &s, NULL))
        return false;
    bool ok = true;
    if (strcmp(s, "cosine") == 0)
        *metric = CM_VEC_COSINE;
    else if (strcmp(s, "l2") == 0)
        *metric = CM_VEC_L2;
    else if (strcmp(s, "ip") == 0)
        *metric = CM_VEC_IP;
    else
        ok = false;
    free(s);
    if (!ok)
        cmn_range_error(env, "options.metric must be 'cosine', 'l2' or 'ip'");
    return ok;
}

/* topk(rows, dim, query, k, {metric}) -> Promise<{ids: Int32Array, distances: Float32Array}> */
static napi_value js_topk(napi_env env, napi_callback_info info)
{
    size_t argc = 5;
    napi_value argv[5] = {NULL, NULL, NULL, NULL, NULL};
    CMN_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
    const float *rows, *query;
    size_t nrows_f, nq, dim, k;
    int32_t metric;
    if (!get_f32(env, argv[0], "rows", &rows, &nrows_f) ||
        !get_count(env, argv[1], "dim", 65536, &dim) ||
        !get_f32(env, argv[2], "query", &query, &nq) ||
        !get_count(env, argv[3], "k", 2147483647.0, &k) || !parse_metric(env, argv[4], &metric))
        return NULL;
    if (nrows_f % dim)
        return cmn_range_error(env, "rows.length (%zu) must be a multiple of dim (%zu)", nrows_f,
                               dim);
    if (nq != dim)
        return cmn_range_error(env, "query.length (%zu) must equal dim (%zu)", nq, dim);
    size_t n = nrows_f / dim;
    if (n > 2147483647u)
        return cmn_range_error(env, "too many rows");

    topk_req *r = calloc(1, sizeof *r);
    if (!r) {
        napi_throw_error(env, "CM_ENOMEM", "out of memory");
        return NULL;
    }
    r->a.run = topk_run;
    r->a.result = topk_result;
    r->a.dispose = topk_free;
    r->dim = dim;
    r->k = k;
    cm_vec_matrix_options mo = CM_VEC_MATRIX_OPTIONS_INIT;
    mo.metric = metric;
    int rc = n ? cm_vec_matrix_new(&r->m, rows, n, dim, &mo) : CM_OK;
    if (rc || !n) {
        cmn_err e;
        if (rc)
            cmn_err_capture(&e, rc);
        napi_value err = rc ? cmn_error_value(env, rc, e.message, e.field, e.backend)
                            : cmn_error_value(env, CM_ERANGE, "rows is empty", "rows", "");
        topk_free(env, &r->a);
        return err ? cmn_promise_rejected(env, err) : NULL;
    }
    r->query = malloc(dim * sizeof(float));
    r->ids = malloc(k * sizeof(int64_t));
    r->dist = malloc(k * sizeof(float));
    if (!r->query || !r->ids || !r->dist) {
        topk_free(env, &r->a);
        napi_throw_error(env, "CM_ENOMEM", "out of memory");
        return NULL;
    }
    memcpy(r->query, query, dim * sizeof(float));
    return cmn_async_queue(env, &r->a, "libcommunity.vec.topk", NULL, NULL);
}

bool cmn_vec_init(napi_env env, napi_value exports)
{
    napi_property_descriptor props[] = {
        {"cosine", NULL, js_cosine, NULL, NULL, NULL, napi_enumerable, NULL},
        {"dot", NULL, js_dot, NULL, NULL, NULL, napi_enumerable, NULL},
        {"l2sq", NULL, js_l2sq, NULL, NULL, NULL, napi_enumerable, NULL},
        {"topk", NULL, js_topk, NULL, NULL, NULL, napi_enumerable, NULL},
        {"impl", NULL, js_impl, NULL, NULL, NULL, napi_enumerable, NULL},
    };
    napi_value vec;
    return napi_create_object(env, &vec) == napi_ok &&
           napi_define_properties(env, vec, sizeof props / sizeof props[0], props) == napi_ok &&
           napi_set_named_property(env, exports, "vec", vec) == napi_ok;
}
