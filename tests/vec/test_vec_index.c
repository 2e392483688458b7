/*
 * test_vec_index.c - exact top-k (cm_vec_matrix) against brute force, and
 * the HNSW index (cm_vec_index): recall on a clustered data set, ef,
 * filters, removal and slot reuse, save/load, corrupt files, concurrent
 * searches and argument validation; parallel build, batch search, the
 * repair of removed entries, memory per entry and filters of 50/10/1%.
 */
#include "vec/hnsw_int.h"

#include <check.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define N 10000
#define DIM 64
#define NQ 100
#define K 10
#define CLUSTERS 40

static float *X, *Q;         /* N x DIM data, NQ x DIM queries */
static unsigned char *saved; /* the L2 index built on X, as a file image */
static size_t saved_len;

static uint64_t rng_state;
static double urand(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (double)(rng_state >> 11) * 0x1p-53;
}
static double grand(void)
{
    return sqrt(-2.0 * log(urand() + 1e-300)) * cos(6.283185307179586 * urand());
}

/* Gaussian clusters: centres N(0, 3^2), points centre + N(0, 1). */
static void make_clustered(float *out, size_t n, const float *centres)
{
    for (size_t i = 0; i < n; i++) {
        size_t c = (size_t)(urand() * CLUSTERS);
        for (size_t j = 0; j < DIM; j++)
            out[i * DIM + j] = centres[c * DIM + j] + (float)grand();
    }
}

static void ck_ok(int rc, const char *what)
{
    ck_assert_msg(rc == CM_OK, "%s: %s %s (field '%s')", what, cm_status_name(rc),
                  cm_error_message(), cm_error_field());
}

static char *temp_path(const char *name)
{
    static char buf[256];
    const char *dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(buf, sizeof buf, "%s/cm_vec_test_%ld_%s", dir, (long)getpid(), name);
    return buf;
}

static unsigned char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)n + 1);
    ck_assert((size_t)fread(b, 1, (size_t)n, f) == (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return b;
}

/* Unchecked fixture (runs once, before the forks): data and one index. */
static void data_setup(void)
{
    if (X)
        return;
    rng_state = 0x2545f4914f6cdd1dull;
    float *centres = malloc(sizeof(float) * CLUSTERS * DIM);
    for (size_t i = 0; i < CLUSTERS * DIM; i++)
        centres[i] = (float)(3.0 * grand());
    X = malloc(sizeof(float) * N * DIM);
    Q = malloc(sizeof(float) * NQ * DIM);
    make_clustered(X, N, centres);
    make_clustered(Q, NQ, centres);
    free(centres);

    cm_vec_index *ix = NULL;
    ck_ok(cm_vec_index_new(&ix, DIM, NULL), "index_new");
    int64_t *ids = malloc(sizeof(int64_t) * N);
    for (size_t i = 0; i < N; i++)
        ids[i] = (int64_t)i;
    ck_ok(cm_vec_index_add_batch(ix, ids, X, N, DIM), "add_batch");
    free(ids);
    const char *p = temp_path("fixture.idx");
    ck_ok(cm_vec_index_save(ix, p), "save");
    saved = read_file(p, &saved_len);
    unlink(p);
    cm_vec_index_free(ix);
}

static cm_vec_index *fixture_index(void)
{
    cm_vec_index *ix = NULL;
    ck_ok(cm_vec_index_load_buffer(&ix, saved, saved_len), "load fixture");
    return ix;
}

/* ---- brute force reference ---- */

static double ref_dist(int metric, const float *a, const float *b, size_t d)
{
    double ab = 0, aa = 0, bb = 0, l2 = 0;
    for (size_t i = 0; i < d; i++) {
        ab += (double)a[i] * b[i];
        aa += (double)a[i] * a[i];
        bb += (double)b[i] * b[i];
        l2 += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
    }
    if (metric == CM_VEC_L2)
        return l2;
    if (metric == CM_VEC_IP)
        return -ab;
    return (aa == 0 || bb == 0) ? 1.0 : 1.0 - ab / sqrt(aa * bb);
}

static int dcmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The k-th smallest reference distance among allowed rows (or +Inf). */
static double kth_dist(int metric, const float *rows, size_t n, size_t d, const float *q, size_t k,
                       int (*allow)(int64_t, void *))
{
    double *all = malloc(sizeof(double) * n);
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (!allow || allow((int64_t)i, NULL))
            all[m++] = ref_dist(metric, q, rows + i * d, d);
    qsort(all, m, sizeof *all, dcmp);
    double r = k <= m ? all[k - 1] : INFINITY;
    free(all);
    return r;
}

/* Exact results: sorted, unique, allowed, and no row missed beyond tolerance. */
static void check_exact(int metric, const float *rows, size_t n, size_t d, const float *q, size_t k,
                        const int64_t *ids, const float *dist, int (*allow)(int64_t, void *))
{
    double kth = kth_dist(metric, rows, n, d, q, k, allow);
    double tol = 1e-4 * (fabs(kth) + 1);
    for (size_t j = 0; j < k; j++) {
        if (ids[j] < 0) { /* padding only when fewer rows pass */
            ck_assert(isinf(kth));
            ck_assert(isinf(dist[j]));
            continue;
        }
        ck_assert((size_t)ids[j] < n);
        ck_assert(!allow || allow(ids[j], NULL));
        double t = ref_dist(metric, q, rows + (size_t)ids[j] * d, d);
        ck_assert_msg(t <= kth + tol, "id %lld at %g beyond k-th %g", (long long)ids[j], t, kth);
        ck_assert_msg(fabs(dist[j] - t) <= tol, "reported %g, true %g", (double)dist[j], t);
        if (j)
            ck_assert(dist[j - 1] <= dist[j]);
        for (size_t i = 0; i < j; i++)
            ck_assert(ids[i] != ids[j]);
    }
}

static int allow_even(int64_t id, void *p)
{
    (void)p;
    return id % 2 == 0;
}
static int allow_third(int64_t id, void *p)
{
    (void)p;
    return id % 3 == 0;
}
static int allow_few(int64_t id, void *p)
{
    (void)p;
    return id == 5 || id == 77 || id == 400;
}

/* ---- cm_vec_matrix ---- */

START_TEST(matrix_top_k_matches_brute_force)
{
    const size_t n = 1003, d = 37, nq = 9, k = 10;
    rng_state = 77;
    float *rows = malloc(sizeof(float) * n * d), *qs = malloc(sizeof(float) * nq * d);
    for (size_t i = 0; i < n * d; i++)
        rows[i] = (float)grand();
    for (size_t i = 0; i < nq * d; i++)
        qs[i] = (float)grand();
    memset(rows + 17 * d, 0, d * sizeof(float)); /* a zero row */
    int64_t ids[9 * 10];
    float dist[9 * 10];
    for (int metric = CM_VEC_L2; metric <= CM_VEC_COSINE; metric++) {
        cm_vec_matrix_options o = CM_VEC_MATRIX_OPTIONS_INIT;
        o.metric = metric;
        cm_vec_matrix *m = NULL;
        ck_ok(cm_vec_matrix_new(&m, rows, n, d, &o), "matrix_new");
        ck_assert_uint_eq(cm_vec_matrix_count(m), n);
        for (uint32_t threads = 1; threads <= 3; threads += 2) {
            cm_vec_search_options so = CM_VEC_SEARCH_OPTIONS_INIT;
            so.threads = threads;
            ck_ok(cm_vec_matrix_search_batch(ids, dist, m, qs, nq, d, k, &so), "batch");
            for (size_t q = 0; q < nq; q++) {
                check_exact(metric, rows, n, d, qs + q * d, k, ids + q * k, dist + q * k, NULL);
                int64_t one[10];
                float od[10];
                ck_ok(cm_vec_matrix_search(one, od, m, qs + q * d, d, k, &so), "single");
                for (size_t j = 0; j < k; j++) {
                    ck_assert_int_eq(one[j], ids[q * k + j]);
                    ck_assert(od[j] == dist[q * k + j]);
                }
            }
        }
        cm_vec_matrix_free(m);
    }
    free(rows);
    free(qs);
}
END_TEST

START_TEST(matrix_compressed_storage_reranks_exactly)
{
    int64_t *truth = malloc(sizeof(int64_t) * NQ * K), ids[NQ * K];
    float dist[NQ * K];
    cm_vec_matrix *exact = NULL;
    ck_ok(cm_vec_matrix_new(&exact, X, N, DIM, NULL), "exact");
    ck_ok(cm_vec_matrix_search_batch(truth, NULL, exact, Q, NQ, DIM, K, NULL), "truth");
    for (int storage = CM_VEC_STORE_BF16; storage <= CM_VEC_STORE_I8; storage++) {
        cm_vec_matrix_options o = CM_VEC_MATRIX_OPTIONS_INIT;
        o.storage = storage;
        o.rerank = 8;
        cm_vec_matrix *m = NULL;
        ck_ok(cm_vec_matrix_new(&m, X, N, DIM, &o), "compressed");
        cm_vec_search_options so = CM_VEC_SEARCH_OPTIONS_INIT;
        so.threads = 2;
        ck_ok(cm_vec_matrix_search_batch(ids, dist, m, Q, NQ, DIM, K, &so), "search");
        size_t hit = 0;
        for (size_t q = 0; q < NQ; q++) {
            for (size_t a = 0; a < K; a++) {
                for (size_t b = 0; b < K; b++)
                    hit += ids[q * K + a] == truth[q * K + b];
                double t = ref_dist(CM_VEC_L2, Q + q * DIM, X + ids[q * K + a] * DIM, DIM);
                ck_assert(fabs(dist[q * K + a] - t) <= 1e-4 * t); /* exact f32 distance */
            }
        }
        ck_assert_msg(hit >= NQ * K * 99 / 100, "storage %d recall %zu/%d", storage, hit, NQ * K);
        cm_vec_matrix_free(m);
    }
    cm_vec_matrix_free(exact);
    free(truth);
}
END_TEST

START_TEST(matrix_filters_apply_during_the_scan)
{
    const size_t n = 500, d = 16, k = 10;
    rng_state = 5;
    float *rows = malloc(sizeof(float) * n * d), q[16];
    for (size_t i = 0; i < n * d; i++)
        rows[i] = (float)grand();
    for (size_t i = 0; i < d; i++)
        q[i] = (float)grand();
    cm_vec_matrix *m = NULL;
    ck_ok(cm_vec_matrix_new(&m, rows, n, d, NULL), "new");
    int64_t ids[10];
    float dist[10];
    cm_vec_search_options so = CM_VEC_SEARCH_OPTIONS_INIT;
    so.filter = allow_third;
    ck_ok(cm_vec_matrix_search(ids, dist, m, q, d, k, &so), "predicate");
    check_exact(CM_VEC_L2, rows, n, d, q, k, ids, dist, allow_third);

    uint8_t bitmap[(500 + 7) / 8] = {0};
    for (size_t i = 0; i < n; i += 2)
        bitmap[i / 8] |= (uint8_t)(1u << (i % 8));
    so.filter = NULL;
    so.allow = bitmap;
    so.allow_bits = n;
    so.threads = 4;
    ck_ok(cm_vec_matrix_search(ids, dist, m, q, d, k, &so), "bitmap");
    check_exact(CM_VEC_L2, rows, n, d, q, k, ids, dist, allow_even);

    so.allow = NULL;
    so.filter = allow_few; /* 3 rows pass: the rest is padding */
    ck_ok(cm_vec_matrix_search(ids, dist, m, q, d, k, &so), "few");
    check_exact(CM_VEC_L2, rows, n, d, q, k, ids, dist, allow_few);
    ck_assert_int_eq(ids[3], -1);
    ck_assert(isinf(dist[9]));
    cm_vec_matrix_free(m);
    free(rows);
}
END_TEST

START_TEST(matrix_rejects_bad_input_with_specific_errors)
{
    float rows[4 * 3] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, q[3] = {1, 2, 3};
    int64_t ids[8];
    cm_vec_matrix *m = NULL;
    ck_ok(cm_vec_matrix_new(&m, rows, 4, 3, NULL), "new");
    ck_assert_int_eq(cm_vec_matrix_search(ids, NULL, m, q, 2, 1, NULL), CM_EINVAL);
    ck_assert_str_eq(cm_error_field(), "dim");
    ck_assert_int_eq(cm_vec_matrix_search(ids, NULL, m, q, 3, 0, NULL), CM_EINVAL);
    ck_assert_str_eq(cm_error_field(), "k");
    ck_assert_int_eq(cm_vec_matrix_search(ids, NULL, m, q, 3, 5, NULL), CM_ERANGE);
    ck_assert_str_eq(cm_error_field(), "k");
    ck_assert(strstr(cm_error_message(), "exceeds") != NULL);
    q[1] = NAN;
    ck_assert_int_eq(cm_vec_matrix_search(ids, NULL, m, q, 3, 1, NULL), CM_EINVAL);
    ck_assert_str_eq(cm_error_field(), "query");
    q[1] = INFINITY;
    float two[6] = {1, 2, 3, 4, 5, 6};
    memcpy(two + 3, q, sizeof q);
    ck_assert_int_eq(cm_vec_matrix_search_batch(ids, NULL, m, two, 2, 3, 1, NULL), CM_EINVAL);
    ck_assert_str_eq(cm_error_field(), "queries");
    cm_vec_search_options bad = CM_VEC_SEARCH_OPTIONS_INIT;
    bad.reserved = 1;
    ck_assert_int_eq(cm_vec_matrix_search(ids, NULL, m, rows, 3, 1, &bad), CM_EINVAL);
    ck_assert_str_eq(cm_error_field(), "opts");
    cm_vec_matrix_free(m);

    cm_vec_matrix *m2 = (cm_vec_matrix *)1;
    rows[5] = NAN;
    ck_assert_int_eq(cm_vec_matrix_new(&m2, rows, 4, 3, NULL), CM_EINVAL);
    ck_assert_ptr_null(m2);
    ck_assert_str_eq(cm_error_field(), "rows");
    rows[5] = 0;
    ck_assert_int_eq(cm_vec_matrix_new(&m2, rows, 4, 0, NULL), CM_EINVAL);
    ck_assert_str_eq(cm_error_field(), "dim");
    cm_vec_matrix_options o = CM_VEC_MATRIX_OPTIONS_INIT;
    o.metric = 9;
    ck_assert_int_eq(cm_vec_matrix_new(&m2, rows, 4, 3, &o), CM_EINVAL);
    ck_assert_str_eq(cm_error_field(), "metric");
    cm_vec_matrix_free(NULL);
}
END_TEST

/* ---- cm_vec_index ---- */

/* Recall@K of the index against exact results (optionally filtered). */
static double recall(cm_vec_index *ix, const float *rows, size_t n, uint32_t ef,
                     const cm_vec_search_options *filter)
{
    cm_vec_matrix *m = NULL;
    ck_ok(cm_vec_matrix_new(&m, rows, n, DIM, NULL), "matrix");
    int64_t *truth = malloc(sizeof(int64_t) * NQ * K);
    ck_ok(cm_vec_matrix_search_batch(truth, NULL, m, Q, NQ, DIM, K, filter), "truth");
    cm_vec_search_options so = CM_VEC_SEARCH_OPTIONS_INIT;
    if (filter)
        so = *filter;
    so.ef = ef;
    size_t hit = 0, total = 0;
    for (size_t q = 0; q < NQ; q++) {
        int64_t ids[K];
        size_t found;
        ck_ok(cm_vec_index_search(ids, NULL, &found, ix, Q + q * DIM, DIM, K, &so), "search");
        for (size_t b = 0; b < K; b++) {
            if (truth[q * K + b] < 0)
                continue;
            total++;
            for (size_t a = 0; a < found; a++)
                hit += ids[a] == truth[q * K + b];
        }
    }
    free(truth);
    cm_vec_matrix_free(m);
    return (double)hit / (double)total;
}

START_TEST(hnsw_recall_at_10_on_clustered_10k)
{
    cm_vec_index *ix = fixture_index();
    ck_assert_uint_eq(cm_vec_index_count(ix), N);
    double r = recall(ix, X, N, 64, NULL);
    ck_assert_msg(r >= 0.95, "recall@10 = %.4f", r);
    double lo = recall(ix, X, N, 10, NULL), hi = recall(ix, X, N, 200, NULL);
    ck_assert_msg(lo <= hi && hi >= 0.99, "ef 10: %.4f, ef 200: %.4f", lo, hi);
    cm_vec_index_free(ix);
}
END_TEST

START_TEST(hnsw_cosine_bf16_storage_keeps_recall)
{
    const size_t n = 3000;
    cm_vec_index_options o = CM_VEC_INDEX_OPTIONS_INIT;
    o.metric = CM_VEC_COSINE;
    o.storage = CM_VEC_STORE_BF16;
    cm_vec_index *ix = NULL;
    ck_ok(cm_vec_index_new(&ix, DIM, &o), "new");
    for (size_t i = 0; i < n; i++)
        ck_ok(cm_vec_index_add(ix, (int64_t)i, X + i * DIM, DIM), "add");
    cm_vec_matrix_options mo = CM_VEC_MATRIX_OPTIONS_INIT;
    mo.metric = CM_VEC_COSINE;
    cm_vec_matrix *m = NULL;
    ck_ok(cm_vec_matrix_new(&m, X, n, DIM, &mo), "matrix");
    size_t hit = 0;
    for (size_t q = 0; q < NQ; q++) {
        int64_t truth[K], ids[K];
        float dist[K];
        ck_ok(cm_vec_matrix_search(truth, NULL, m, Q + q * DIM, DIM, K, NULL), "truth");
        ck_ok(cm_vec_index_search(ids, dist, NULL, ix, Q + q * DIM, DIM, K, NULL), "search");
        for (size_t a = 0; a < K; a++) {
            for (size_t b = 0; b < K; b++)
                hit += ids[a] == truth[b];
            double t = ref_dist(CM_VEC_COSINE, Q + q * DIM, X + ids[a] * DIM, DIM);
            ck_assert(fabs(dist[a] - t) <= 0.01); /* bf16 rows: ~3 significant digits */
        }
    }
    ck_assert_msg(hit >= NQ * K * 9 / 10, "recall %zu/%d", hit, NQ * K);
    cm_vec_matrix_free(m);
    cm_vec_index_free(ix);
}
END_TEST

START_TEST(hnsw_filtered_search_keeps_recall)
{
    cm_vec_index *ix = fixture_index();
    cm_vec_search_options so = CM_VEC_SEARCH_OPTIONS_INIT;
    so.filter = allow_even; /* half pass: graph walk with the filter on results */
    uint64_t before = cm__hnsw_exact_fallbacks();
    double r = recall(ix, X, N, 64, &so);
    ck_assert_msg(r >= 0.95, "50%% filter recall %.4f", r);
    ck_assert_uint_eq(cm__hnsw_exact_fallbacks(), before);

    uint8_t *bitmap = calloc(N / 8 + 1, 1); /* 1% pass: exact scan */
    for (size_t i = 0; i < N; i += 100)
        bitmap[i / 8] |= (uint8_t)(1u << (i % 8));
    cm_vec_search_options sel = CM_VEC_SEARCH_OPTIONS_INIT;
    sel.allow = bitmap;
    sel.allow_bits = N;
    r = recall(ix, X, N, 64, &sel);
    ck_assert(r == 1.0);
    ck_assert_uint_gt(cm__hnsw_exact_fallbacks(), before);
    int64_t ids[K];
    ck_ok(cm_vec_index_search(ids, NULL, NULL, ix, Q, DIM, K, &sel), "bitmap");
    for (size_t a = 0; a < K; a++)
        ck_assert(ids[a] % 100 == 0);
    free(bitmap);
    cm_vec_index_free(ix);
}
END_TEST

START_TEST(hnsw_remove_then_insert_reuses_slots_and_keeps_recall)
{
    cm_vec_index *ix = fixture_index();
    /* remove 30%: every id with id % 10 < 3 */
    for (size_t i = 0; i < N; i++)
        if (i % 10 < 3)
            ck_ok(cm_vec_index_remove(ix, (int64_t)i), "remove");
    ck_assert_uint_eq(cm_vec_index_count(ix), N - 3 * N / 10);
    ck_assert_int_eq(cm_vec_index_remove(ix, 0), CM_ENOTFOUND);
    ck_assert(!cm_vec_index_contains(ix, 1) && cm_vec_index_contains(ix, 5));
    /* never returned, and recall over the remaining rows holds */
    float *rest = malloc(sizeof(float) * N * DIM);
    int64_t *map = malloc(sizeof(int64_t) * N);
    size_t nr = 0;
    for (size_t i = 0; i < N; i++) {
        if (i % 10 < 3)
            continue;
        memcpy(rest + nr * DIM, X + i * DIM, DIM * sizeof(float));
        map[nr++] = (int64_t)i;
    }
    cm_vec_matrix *m = NULL;
    ck_ok(cm_vec_matrix_new(&m, rest, nr, DIM, NULL), "matrix");
    size_t hit = 0;
    for (size_t q = 0; q < NQ; q++) {
        int64_t truth[K], ids[K];
        ck_ok(cm_vec_matrix_search(truth, NULL, m, Q + q * DIM, DIM, K, NULL), "truth");
        ck_ok(cm_vec_index_search(ids, NULL, NULL, ix, Q + q * DIM, DIM, K, NULL), "search");
        for (size_t a = 0; a < K; a++) {
            ck_assert(ids[a] % 10 >= 3);
            for (size_t b = 0; b < K; b++)
                hit += ids[a] == map[truth[b]];
        }
    }
    ck_assert_msg(hit >= NQ * K * 95 / 100, "recall after remove %zu", hit);
    cm_vec_matrix_free(m);
    free(rest);
    free(map);
    /* insert them again: the freed slots are reused, nothing grows */
    size_t slots = ix->n;
    for (size_t i = 0; i < N; i++)
        if (i % 10 < 3)
            ck_ok(cm_vec_index_add(ix, (int64_t)i, X + i * DIM, DIM), "re-add");
    ck_assert_uint_eq(ix->n, slots);
    ck_assert_uint_eq(cm_vec_index_count(ix), N);
    double r = recall(ix, X, N, 64, NULL);
    ck_assert_msg(r >= 0.95, "recall after re-insert %.4f", r);
    cm_vec_index_free(ix);
}
END_TEST

START_TEST(hnsw_save_load_round_trip)
{
    cm_vec_index *a = fixture_index();
    for (int64_t i = 0; i < 50; i++) /* include removed slots in the file */
        ck_ok(cm_vec_index_remove(a, i * 7), "remove");
    const char *p = temp_path("roundtrip.idx");
    ck_ok(cm_vec_index_save(a, p), "save");
    cm_vec_index *b = NULL;
    ck_ok(cm_vec_index_load(&b, p), "load");
    unlink(p);
    ck_assert_uint_eq(cm_vec_index_count(b), cm_vec_index_count(a));
    ck_assert_uint_eq(cm_vec_index_dim(b), DIM);
    for (size_t q = 0; q < NQ; q++) {
        int64_t ia[K], ib[K];
        float da[K], db[K];
        ck_ok(cm_vec_index_search(ia, da, NULL, a, Q + q * DIM, DIM, K, NULL), "a");
        ck_ok(cm_vec_index_search(ib, db, NULL, b, Q + q * DIM, DIM, K, NULL), "b");
        for (size_t j = 0; j < K; j++) {
            ck_assert_int_eq(ia[j], ib[j]);
            ck_assert(da[j] == db[j]);
        }
    }
    /* the loaded index keeps working: inserts reuse the removed slots */
    ck_ok(cm_vec_index_add(b, 7, X + 7 * DIM, DIM), "add after load");
    ck_assert(cm_vec_index_contains(b, 7));
    cm_vec_index_free(b);
    ck_assert_int_eq(cm_vec_index_load(&b, "/nonexistent/dir/x.idx"), CM_EIO);
    ck_assert_ptr_null(b);
    cm_vec_index_free(a);
}
END_TEST

static uint32_t crc32_ref(const unsigned char *p, size_t n)
{
    uint32_t c = 0xffffffffu;
    while (n--) {
        c ^= *p++;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
    }
    return ~c;
}

static void put32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

/* Recompute both checksums so that only structural checks can object. */
static void reseal(unsigned char *b, size_t len)
{
    put32(b + 72, crc32_ref(b + 80, len - 80));
    put32(b + 76, crc32_ref(b, 76));
}

START_TEST(hnsw_corrupt_files_are_rejected)
{
    cm_vec_index *ix = NULL;
    ck_ok(cm_vec_index_new(&ix, 8, NULL), "new");
    for (int64_t i = 0; i < 120; i++)
        ck_ok(cm_vec_index_add(ix, i, X + i * DIM, 8), "add");
    ck_ok(cm_vec_index_remove(ix, 3), "remove");
    const char *p = temp_path("corrupt.idx");
    ck_ok(cm_vec_index_save(ix, p), "save");
    size_t len;
    unsigned char *good = read_file(p, &len);
    unlink(p);
    cm_vec_index_free(ix);
    unsigned char *b = malloc(len);
    cm_vec_index *out = NULL;

    ck_ok(cm_vec_index_load_buffer(&out, good, len), "pristine");
    cm_vec_index_free(out);
    /* every truncation */
    for (size_t l = 0; l < len; l += (l < 200 ? 1 : 37)) {
        ck_assert_int_eq(cm_vec_index_load_buffer(&out, good, l), CM_ECORRUPT);
        ck_assert_ptr_null(out);
    }
    /* every single-byte flip of the header, and a sample of the payload */
    for (size_t i = 0; i < len; i += (i < 80 ? 1 : 13)) {
        memcpy(b, good, len);
        b[i] ^= 0x5a;
        int rc = cm_vec_index_load_buffer(&out, b, len);
        ck_assert_msg(rc == CM_ECORRUPT, "flip at %zu: %s", i, cm_status_name(rc));
    }
    /* structurally bad but correctly checksummed */
    memcpy(b, good, len);
    put32(b + 8, 99); /* a future version */
    reseal(b, len);
    ck_assert_int_eq(cm_vec_index_load_buffer(&out, b, len), CM_ENOTSUP);
    memcpy(b, good, len);
    b[80 + 1] = 40; /* slot 0 level above the maximum */
    reseal(b, len);
    ck_assert_int_eq(cm_vec_index_load_buffer(&out, b, len), CM_ECORRUPT);
    memcpy(b, good, len);
    put32(b + 80 + 10 + 8 * 4 + 4, 100000); /* slot 0: first link out of range */
    reseal(b, len);
    ck_assert_int_eq(cm_vec_index_load_buffer(&out, b, len), CM_ECORRUPT);
    memcpy(b, good, len);
    put32(b + 80 + 10, 0x7fc00000u); /* a NaN coordinate */
    reseal(b, len);
    ck_assert_int_eq(cm_vec_index_load_buffer(&out, b, len), CM_ECORRUPT);
    memcpy(b, good, len);
    b[40] = 0xff; /* absurd slot count */
    b[47] = 0x7f;
    reseal(b, len);
    ck_assert_int_eq(cm_vec_index_load_buffer(&out, b, len), CM_ECORRUPT);
    ck_assert_ptr_null(out);
    free(b);
    free(good);
}
END_TEST

typedef struct {
    cm_vec_index *ix;
    int64_t ids[NQ * K];
    int rc;
} search_job;

static void *search_all(void *arg)
{
    search_job *j = arg;
    for (int round = 0; round < 3; round++)
        for (size_t q = 0; q < NQ && j->rc == CM_OK; q++)
            j->rc =
                cm_vec_index_search(j->ids + q * K, NULL, NULL, j->ix, Q + q * DIM, DIM, K, NULL);
    return NULL;
}

START_TEST(hnsw_concurrent_searches_match_serial_results)
{
    cm_vec_index *ix = fixture_index();
    static search_job serial, jobs[4];
    serial.ix = ix;
    search_all(&serial);
    ck_ok(serial.rc, "serial");
    pthread_t th[4];
    for (int t = 0; t < 4; t++) {
        jobs[t].ix = ix;
        ck_assert_int_eq(pthread_create(&th[t], NULL, search_all, &jobs[t]), 0);
    }
    for (int t = 0; t < 4; t++) {
        pthread_join(th[t], NULL);
        ck_ok(jobs[t].rc, "thread");
        ck_assert(memcmp(jobs[t].ids, serial.ids, sizeof serial.ids) == 0);
    }
    cm_vec_index_free(ix);
}
END_TEST

START_TEST(hnsw_rejects_bad_input_with_specific_errors)
{
    cm_vec_index *ix = (cm_vec_index *)1;
    cm_vec_index_options o = CM_VEC_INDEX_OPTIONS_INIT;
    o.storage = CM_VEC_STORE_I8;
    ck_assert_int_eq(cm_vec_index_new(&ix, 4, &o), CM_EINVAL);
    ck_assert_ptr_null(ix);
    ck_assert_str_eq(cm_error_field(), "storage");
    o = (cm_vec_index_options)CM_VEC_INDEX_OPTIONS_INIT;
    o.m = 1;
    ck_assert_int_eq(cm_vec_index_new(&ix, 4, &o), CM_EINVAL);
    ck_assert_str_eq(cm_error_field(), "m");
    ck_ok(cm_vec_index_new(&ix, 4, NULL), "new");
    float v[4] = {1, 2, 3, 4}, q[4] = {1, 1, 1, 1};
    int64_t ids[3];
    float dist[3];
    size_t found = 99;
    ck_ok(cm_vec_index_search(ids, dist, &found, ix, q, 4, 3, NULL), "empty search");
    ck_assert_uint_eq(found, 0);
    ck_assert_int_eq(ids[0], -1);
    ck_assert(isinf(dist[2]));
    ck_ok(cm_vec_index_add(ix, 1, v, 4), "add");
    ck_assert_int_eq(cm_vec_index_add(ix, 1, v, 4), CM_EEXISTS);
    ck_assert_int_eq(cm_vec_index_add(ix, 2, v, 3), CM_EINVAL);
    ck_assert_str_eq(cm_error_field(), "dim");
    ck_assert_int_eq(cm_vec_index_add(ix, -5, v, 4), CM_EINVAL);
    ck_assert_str_eq(cm_error_field(), "id");
    v[2] = NAN;
    ck_assert_int_eq(cm_vec_index_add(ix, 2, v, 4), CM_EINVAL);
    ck_assert_str_eq(cm_error_field(), "vector");
    ck_assert_int_eq(cm_vec_index_search(ids, NULL, NULL, ix, q, 5, 1, NULL), CM_EINVAL);
    ck_assert_str_eq(cm_error_field(), "dim");
    ck_assert_int_eq(cm_vec_index_search(ids, NULL, NULL, ix, q, 4, 0, NULL), CM_EINVAL);
    ck_assert_str_eq(cm_error_field(), "k");
    q[0] = INFINITY;
    ck_assert_int_eq(cm_vec_index_search(ids, NULL, NULL, ix, q, 4, 1, NULL), CM_EINVAL);
    ck_assert_str_eq(cm_error_field(), "query");
    q[0] = 1;
    ck_ok(cm_vec_index_search(ids, dist, &found, ix, q, 4, 3, NULL), "k above count");
    ck_assert_uint_eq(found, 1);
    ck_assert_int_eq(ids[0], 1);
    ck_assert_int_eq(ids[1], -1);
    ck_assert_int_eq(cm_vec_index_remove(ix, 9), CM_ENOTFOUND);
    ck_ok(cm_vec_index_remove(ix, 1), "remove last");
    ck_ok(cm_vec_index_search(ids, NULL, &found, ix, q, 4, 3, NULL), "emptied");
    ck_assert_uint_eq(found, 0);
    cm_vec_index_free(ix);
    cm_vec_index_free(NULL);
}
END_TEST

/* ---- parallel build, repair, memory, filters, batch search ---- */

static int64_t *seq_ids(size_t n)
{
    int64_t *ids = malloc(sizeof(int64_t) * n);
    for (size_t i = 0; i < n; i++)
        ids[i] = (int64_t)i;
    return ids;
}

static cm_vec_index *build_index(int storage, uint32_t threads)
{
    cm_vec_index_options o = CM_VEC_INDEX_OPTIONS_INIT;
    o.storage = storage;
    o.threads = threads;
    cm_vec_index *ix = NULL;
    ck_ok(cm_vec_index_new(&ix, DIM, &o), "new");
    int64_t *ids = seq_ids(N);
    ck_ok(cm_vec_index_add_batch(ix, ids, X, N, DIM), "add_batch");
    free(ids);
    return ix;
}

/* Every list of a live slot points at live slots of at least its level,
 * without duplicates or self links. */
static void check_links(const cm_vec_index *ix)
{
    for (size_t s = 0; s < ix->n; s++) {
        if (ix->state[s] != CM__SLOT_LIVE)
            continue;
        for (int lc = 0; lc <= ix->levels[s]; lc++) {
            const uint32_t *l = cm__hnsw_links(ix, (uint32_t)s, lc);
            ck_assert_uint_le(l[0], cm__hnsw_max_links(ix, lc));
            for (uint32_t j = 1; j <= l[0]; j++) {
                ck_assert_uint_lt(l[j], ix->n);
                ck_assert_msg(ix->state[l[j]] == CM__SLOT_LIVE,
                              "slot %zu level %d links to non-live slot %u", s, lc, l[j]);
                ck_assert_uint_ne(l[j], s);
                ck_assert_int_ge(ix->levels[l[j]], lc);
                for (uint32_t i = 1; i < j; i++)
                    ck_assert_uint_ne(l[i], l[j]);
            }
        }
    }
}

START_TEST(hnsw_parallel_build_keeps_recall)
{
    cm_vec_index *ix = build_index(CM_VEC_STORE_F32, 2);
    ck_assert_uint_eq(cm_vec_index_count(ix), N);
    for (int64_t i = 0; i < N; i += 97)
        ck_assert(cm_vec_index_contains(ix, i));
    check_links(ix);
    double r = recall(ix, X, N, 64, NULL);
    ck_assert_msg(r >= 0.95, "2-thread build recall@10 = %.4f", r);
    /* a failing row stops the batch; the rows before it are in */
    int64_t ids[3] = {N, N + 1, 5};
    ck_assert_int_eq(cm_vec_index_add_batch(ix, ids, X, 3, DIM), CM_EEXISTS);
    ck_assert(cm_vec_index_contains(ix, N) && cm_vec_index_contains(ix, N + 1));
    cm_vec_index_free(ix);

    cm_vec_index *b = build_index(CM_VEC_STORE_BF16, 2);
    r = recall(b, X, N, 64, NULL);
    ck_assert_msg(r >= 0.95, "2-thread bf16 build recall@10 = %.4f", r);
    cm_vec_index_free(b);
}
END_TEST

START_TEST(hnsw_search_batch_matches_single_searches)
{
    cm_vec_index *ix = fixture_index();
    int64_t *bi = malloc(sizeof(int64_t) * NQ * K);
    float *bd = malloc(sizeof(float) * NQ * K);
    size_t *bf = malloc(sizeof(size_t) * NQ);
    cm_vec_search_options so = CM_VEC_SEARCH_OPTIONS_INIT;
    so.threads = 2;
    ck_ok(cm_vec_index_search_batch(bi, bd, bf, ix, Q, NQ, DIM, K, &so), "batch");
    for (size_t q = 0; q < NQ; q++) {
        int64_t ids[K];
        float dist[K];
        size_t found;
        ck_ok(cm_vec_index_search(ids, dist, &found, ix, Q + q * DIM, DIM, K, NULL), "single");
        ck_assert_uint_eq(found, bf[q]);
        for (size_t j = 0; j < K; j++) {
            ck_assert_int_eq(ids[j], bi[q * K + j]);
            ck_assert(dist[j] == bd[q * K + j]);
        }
    }
    ck_assert_int_eq(cm_vec_index_search_batch(bi, NULL, NULL, ix, Q, 0, DIM, K, &so), CM_EINVAL);
    ck_assert_str_eq(cm_error_field(), "nq");
    float *bad = malloc(sizeof(float) * 2 * DIM);
    memcpy(bad, Q, sizeof(float) * 2 * DIM);
    bad[DIM + 3] = NAN;
    ck_assert_int_eq(cm_vec_index_search_batch(bi, NULL, NULL, ix, bad, 2, DIM, K, &so), CM_EINVAL);
    ck_assert_str_eq(cm_error_field(), "queries");
    free(bad);
    free(bi);
    free(bd);
    free(bf);
    cm_vec_index_free(ix);
}
END_TEST

/* Recall of `ix` over the rows of X not in `gone`, with `extra` rows of E
 * inserted under ids N + i (queries Q). */
static double recall_subset(cm_vec_index *ix, const uint8_t *gone, const float *E, size_t extra,
                            uint32_t ef)
{
    float *rows = malloc(sizeof(float) * (N + extra) * DIM);
    int64_t *map = malloc(sizeof(int64_t) * (N + extra));
    size_t nr = 0;
    for (size_t i = 0; i < N; i++) {
        if (gone[i])
            continue;
        memcpy(rows + nr * DIM, X + i * DIM, DIM * sizeof(float));
        map[nr++] = (int64_t)i;
    }
    for (size_t i = 0; i < extra; i++) {
        memcpy(rows + nr * DIM, E + i * DIM, DIM * sizeof(float));
        map[nr++] = (int64_t)(N + i);
    }
    cm_vec_matrix *m = NULL;
    ck_ok(cm_vec_matrix_new(&m, rows, nr, DIM, NULL), "matrix");
    cm_vec_search_options so = CM_VEC_SEARCH_OPTIONS_INIT;
    so.ef = ef;
    size_t hit = 0;
    for (size_t q = 0; q < NQ; q++) {
        int64_t truth[K], ids[K];
        ck_ok(cm_vec_matrix_search(truth, NULL, m, Q + q * DIM, DIM, K, NULL), "truth");
        ck_ok(cm_vec_index_search(ids, NULL, NULL, ix, Q + q * DIM, DIM, K, &so), "search");
        for (size_t a = 0; a < K; a++) {
            ck_assert(ids[a] >= N || !gone[ids[a]]);
            for (size_t b = 0; b < K; b++)
                hit += ids[a] == map[truth[b]];
        }
    }
    cm_vec_matrix_free(m);
    free(rows);
    free(map);
    return (double)hit / (NQ * K);
}

START_TEST(hnsw_remove_repairs_links_and_keeps_recall)
{
    const size_t extra = N / 10;
    cm_vec_index *ix = fixture_index();
    size_t slots = ix->n, bytes_before = cm__hnsw_bytes(ix);
    float *E = malloc(sizeof(float) * extra * DIM); /* new rows: midpoints of old ones */
    for (size_t i = 0; i < extra * DIM; i++)
        E[i] = 0.5f * (X[i] + X[i + 5 * extra * DIM]);
    uint8_t *gone = calloc(N, 1);
    rng_state = 0x51ed27ull;
    for (size_t k = 0; k < N / 10;) { /* remove a random 10% */
        size_t i = (size_t)(urand() * N);
        if (gone[i])
            continue;
        gone[i] = 1;
        ck_ok(cm_vec_index_remove(ix, (int64_t)i), "remove");
        k++;
    }
    ck_assert_uint_eq(cm_vec_index_count(ix), N - N / 10);
    /* removed entries are never returned, even before the repair */
    ck_assert_msg(recall_subset(ix, gone, E, 0, 64) >= 0.95, "recall before repair");
    /* the next insert repairs: no list points at a removed slot any more */
    ck_ok(cm_vec_index_add(ix, N, E, DIM), "first insert");
    check_links(ix);
    ck_assert_uint_eq(ix->n_dead, 0);
    ck_assert_uint_eq(ix->n, slots); /* the insert took a freed slot */
    int64_t *ids = seq_ids(extra);
    for (size_t i = 0; i < extra; i++)
        ids[i] += N;
    ck_ok(cm_vec_index_add_batch(ix, ids + 1, E + DIM, extra - 1, DIM), "insert 10%");
    free(ids);
    check_links(ix);
    ck_assert_uint_eq(cm_vec_index_count(ix), N);
    /* memory reclaimed: every removed slot was reused, nothing grew */
    ck_assert_uint_eq(ix->n, slots);
    ck_assert_msg(cm__hnsw_bytes(ix) <= bytes_before + bytes_before / 100, "grew from %zu to %zu",
                  bytes_before, cm__hnsw_bytes(ix));
    double churned = recall_subset(ix, gone, E, extra, 64);

    /* a fresh index of the same final rows */
    cm_vec_index *fresh = NULL;
    ck_ok(cm_vec_index_new(&fresh, DIM, NULL), "new");
    for (size_t i = 0; i < N; i++)
        if (!gone[i])
            ck_ok(cm_vec_index_add(fresh, (int64_t)i, X + i * DIM, DIM), "fresh add");
    for (size_t i = 0; i < extra; i++)
        ck_ok(cm_vec_index_add(fresh, (int64_t)(N + i), E + i * DIM, DIM), "fresh");
    double base = recall_subset(fresh, gone, E, extra, 64);
    ck_assert_msg(churned >= 0.95 && churned >= base - 0.01, "churned %.4f, fresh %.4f", churned,
                  base);
    cm_vec_index_free(fresh);
    free(E);
    free(gone);
    cm_vec_index_free(ix);
}
END_TEST

START_TEST(hnsw_remove_everything_then_reuse)
{
    cm_vec_index *ix = NULL;
    ck_ok(cm_vec_index_new(&ix, DIM, NULL), "new");
    int64_t *ids = seq_ids(500);
    ck_ok(cm_vec_index_add_batch(ix, ids, X, 500, DIM), "add");
    for (int64_t i = 0; i < 500; i++)
        ck_ok(cm_vec_index_remove(ix, i), "remove");
    ck_assert_uint_eq(cm_vec_index_count(ix), 0);
    ck_assert_uint_eq(ix->n_free, 500); /* nothing left to walk: freed at once */
    int64_t got[K];
    size_t found = 9;
    ck_ok(cm_vec_index_search(got, NULL, &found, ix, Q, DIM, K, NULL), "empty");
    ck_assert_uint_eq(found, 0);
    ck_ok(cm_vec_index_add_batch(ix, ids, X + 500 * DIM, 500, DIM), "re-add");
    ck_assert_uint_eq(ix->n, 500);
    check_links(ix);
    ck_ok(cm_vec_index_search(got, NULL, &found, ix, X + 600 * DIM, DIM, K, NULL), "search");
    ck_assert_uint_eq(found, K);
    ck_assert_int_eq(got[0], 100);
    free(ids);
    cm_vec_index_free(ix);
}
END_TEST

START_TEST(hnsw_memory_is_compact)
{
    /* per entry: the vector, 1 + 2m link words at layer 0, id, level and
     * state bytes, one pointer, ~1/m upper lists, the id map (<= 16 B) */
    for (int st = 0; st < 2; st++) {
        cm_vec_index *ix = build_index(st ? CM_VEC_STORE_BF16 : CM_VEC_STORE_F32, 1);
        size_t vb = DIM * (st ? 2 : 4);
        double per = (double)cm__hnsw_bytes(ix) / N;
        double bound = (double)vb + 33 * 4 + 8 + 2 + 8 + 16 + 16 + 2 * 2;
        ck_assert_msg(per <= bound, "%s: %.1f bytes per entry, bound %.1f", st ? "bf16" : "f32",
                      per, bound);
        ck_assert_uint_eq(ix->cap, N); /* one batch: no spare capacity */
        cm_vec_index_free(ix);
    }
}
END_TEST

static int allow_tenth(int64_t id, void *p)
{
    (void)p;
    return id % 10 == 3;
}

START_TEST(hnsw_filters_return_k_rows_at_every_selectivity)
{
    cm_vec_index *ix = fixture_index();
    const double sel[3] = {0.5, 0.1, 0.01};
    uint8_t *bm = malloc(N / 8 + 1);
    for (int s = 0; s < 3; s++) {
        memset(bm, 0, N / 8 + 1);
        rng_state = 0xf1173ull + (uint64_t)s;
        for (size_t i = 0; i < N; i++)
            if (urand() < sel[s])
                bm[i / 8] |= (uint8_t)(1u << (i % 8));
        cm_vec_search_options so = CM_VEC_SEARCH_OPTIONS_INIT;
        so.allow = bm;
        so.allow_bits = N;
        uint64_t before = cm__hnsw_exact_fallbacks();
        double r = recall(ix, X, N, 64, &so);
        ck_assert_msg(r >= 0.95, "selectivity %.2f: recall %.4f", sel[s], r);
        if (sel[s] < 0.02) /* very selective: exact */
            ck_assert_uint_ge(cm__hnsw_exact_fallbacks() - before, NQ);
        else if (sel[s] >= 0.5) /* the filtered walk */
            ck_assert_uint_lt(cm__hnsw_exact_fallbacks() - before, NQ / 10);
        /* a narrow walk (ef 10) still returns k passing rows */
        for (size_t q = 0; q < NQ; q++) {
            int64_t ids[K];
            size_t found;
            so.ef = 10;
            ck_ok(cm_vec_index_search(ids, NULL, &found, ix, Q + q * DIM, DIM, K, &so), "s");
            ck_assert_uint_eq(found, K);
            for (size_t j = 0; j < K; j++)
                ck_assert(bm[ids[j] / 8] >> (ids[j] % 8) & 1);
        }
    }
    /* a predicate of 10% */
    cm_vec_search_options pf = CM_VEC_SEARCH_OPTIONS_INIT;
    pf.filter = allow_tenth;
    double r = recall(ix, X, N, 64, &pf);
    ck_assert_msg(r >= 0.95, "predicate 10%%: recall %.4f", r);
    free(bm);
    cm_vec_index_free(ix);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("vec_index");
    TCase *tc = tcase_create("matrix");
    tcase_add_unchecked_fixture(tc, data_setup, NULL);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, matrix_top_k_matches_brute_force);
    tcase_add_test(tc, matrix_compressed_storage_reranks_exactly);
    tcase_add_test(tc, matrix_filters_apply_during_the_scan);
    tcase_add_test(tc, matrix_rejects_bad_input_with_specific_errors);
    suite_add_tcase(s, tc);
    tc = tcase_create("hnsw");
    tcase_add_unchecked_fixture(tc, data_setup, NULL);
    tcase_set_timeout(tc, 200);
    tcase_add_test(tc, hnsw_recall_at_10_on_clustered_10k);
    tcase_add_test(tc, hnsw_cosine_bf16_storage_keeps_recall);
    tcase_add_test(tc, hnsw_filtered_search_keeps_recall);
    tcase_add_test(tc, hnsw_remove_then_insert_reuses_slots_and_keeps_recall);
    tcase_add_test(tc, hnsw_save_load_round_trip);
    tcase_add_test(tc, hnsw_corrupt_files_are_rejected);
    tcase_add_test(tc, hnsw_concurrent_searches_match_serial_results);
    tcase_add_test(tc, hnsw_rejects_bad_input_with_specific_errors);
    tcase_add_test(tc, hnsw_parallel_build_keeps_recall);
    tcase_add_test(tc, hnsw_search_batch_matches_single_searches);
    tcase_add_test(tc, hnsw_remove_repairs_links_and_keeps_recall);
    tcase_add_test(tc, hnsw_remove_everything_then_reuse);
    tcase_add_test(tc, hnsw_memory_is_compact);
    tcase_add_test(tc, hnsw_filters_return_k_rows_at_every_selectivity);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
