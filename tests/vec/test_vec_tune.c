/*
 * test_vec_tune.c - self-tuning ef (cm_vec_index_tune): on data sets of
 * different structure (bench/vec/datagen.h: strong clusters, weak
 * clusters, nearly uniform) the ef the index picks for a target recall
 * reaches that recall on held-out queries (rows of another stream, never
 * inserted), measured against the exact scan (cm_vec_matrix). Also:
 * a cosine index of bf16 rows, re-tuning when the index doubles, the ef
 * used by searches with ef 0, bad arguments.
 */
#include "../../bench/vec/datagen.h"

#include <community/community.h>

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N 20000
#define DIM 64
#define NQ 500
#define K 10

static void ck_ok(int rc, const char *what)
{
    ck_assert_msg(rc == CM_OK, "%s: %s %s (field '%s')", what, cm_status_name(rc),
                  cm_error_message(), cm_error_field());
}

typedef struct {
    const char *name;
    uint32_t clusters, subclusters;
    double noise, sub_spread;
} shape;

static const shape shapes[] = {
    {"clustered", 200, 32, 0.5, 0.6},
    {"weak", 200, 32, 1.0, 1.0},
    {"flat", 20, 4, 1.2, 0.6},
};

static vb_gen *gen_for(const shape *s)
{
    vb_gen_params p;
    vb_gen_params_default(&p, DIM);
    p.clusters = s->clusters;
    p.subclusters = s->subclusters;
    p.noise = s->noise;
    p.sub_spread = s->sub_spread;
    vb_gen *g = vb_gen_new(&p);
    ck_assert_ptr_nonnull(g);
    return g;
}

/* recall@K of the index at its own ef (opts.ef = 0) on held-out queries */
static double held_out_recall(const cm_vec_index *ix, const float *x, size_t n, const float *q)
{
    cm_vec_matrix *m = NULL;
    ck_ok(cm_vec_matrix_new(&m, x, n, DIM, NULL), "matrix");
    int64_t *truth = malloc(sizeof(int64_t) * NQ * K), *got = malloc(sizeof(int64_t) * NQ * K);
    ck_ok(cm_vec_matrix_search_batch(truth, NULL, m, q, NQ, DIM, K, NULL), "exact");
    ck_ok(cm_vec_index_search_batch(got, NULL, NULL, ix, q, NQ, DIM, K, NULL), "index");
    size_t hit = 0;
    for (size_t i = 0; i < NQ; i++)
        for (size_t a = 0; a < K; a++)
            for (size_t b = 0; b < K; b++)
                if (got[i * K + b] == truth[i * K + a]) {
                    hit++;
                    break;
                }
    free(truth);
    free(got);
    cm_vec_matrix_free(m);
    return (double)hit / (NQ * K);
}

static void check_shape(const shape *s, float target, uint32_t *ef_out)
{
    vb_gen *g = gen_for(s);
    float *x = malloc(sizeof(float) * N * DIM), *q = malloc(sizeof(float) * NQ * DIM);
    vb_gen_rows(g, VB_STREAM_BASE, 0, N, x, NULL);
    vb_gen_rows(g, VB_STREAM_QUERY, 0, NQ, q, NULL);
    int64_t *ids = malloc(sizeof(int64_t) * N);
    for (size_t i = 0; i < N; i++)
        ids[i] = (int64_t)i;
    cm_vec_index *ix = NULL;
    ck_ok(cm_vec_index_new(&ix, DIM, NULL), "new");
    ck_ok(cm_vec_index_add_batch(ix, ids, x, N, DIM), "add");
    cm_vec_tune_options o = CM_VEC_TUNE_OPTIONS_INIT;
    o.target_recall = target;
    uint32_t ef = 0;
    ck_ok(cm_vec_index_tune(&ef, ix, &o), "tune");
    ck_assert_uint_eq(ef, cm_vec_index_ef(ix));
    double r = held_out_recall(ix, x, N, q);
    printf("# %s: target %.2f, tuned ef %u, held-out recall@%d %.4f\n", s->name, (double)target, ef,
           K, r);
    ck_assert_msg(r >= target, "%s: tuned ef %u gives recall %.4f < %.2f on held-out queries",
                  s->name, ef, r, (double)target);
    *ef_out = ef;
    cm_vec_index_free(ix);
    free(ids);
    free(x);
    free(q);
    vb_gen_free(g);
}

START_TEST(tuned_ef_reaches_target_on_every_shape)
{
    uint32_t ef[3];
    for (size_t i = 0; i < 3; i++)
        check_shape(&shapes[i], 0.95f, &ef[i]);
    /* the ef follows the data: less structure needs a wider search */
    ck_assert_uint_gt(ef[2], ef[0]);
}
END_TEST

START_TEST(higher_target_gives_higher_recall)
{
    uint32_t ef90, ef99;
    check_shape(&shapes[2], 0.90f, &ef90);
    check_shape(&shapes[2], 0.99f, &ef99);
    ck_assert_uint_gt(ef99, ef90);
}
END_TEST

/* cosine distance and bf16 rows (the search operations' index is cosine):
 * the tuned ef still reaches the target against the exact f32 scan (unit
 * rows: L2 and cosine rank alike) */
START_TEST(cosine_bf16_index_reaches_target)
{
    vb_gen *g = gen_for(&shapes[1]);
    float *x = malloc(sizeof(float) * N * DIM), *q = malloc(sizeof(float) * NQ * DIM);
    vb_gen_rows(g, VB_STREAM_BASE, 0, N, x, NULL);
    vb_gen_rows(g, VB_STREAM_QUERY, 0, NQ, q, NULL);
    int64_t *ids = malloc(sizeof(int64_t) * N);
    for (size_t i = 0; i < N; i++)
        ids[i] = (int64_t)i;
    cm_vec_index_options io = CM_VEC_INDEX_OPTIONS_INIT;
    io.metric = CM_VEC_COSINE;
    io.storage = CM_VEC_STORE_BF16;
    cm_vec_index *ix = NULL;
    ck_ok(cm_vec_index_new(&ix, DIM, &io), "new");
    cm_vec_tune_options o = CM_VEC_TUNE_OPTIONS_INIT;
    o.target_recall = 0.9f;
    ck_ok(cm_vec_index_tune(NULL, ix, &o), "tune");           /* empty: the target only */
    ck_ok(cm_vec_index_add_batch(ix, ids, x, N, DIM), "add"); /* tunes */
    uint32_t ef = cm_vec_index_ef(ix);
    double r = held_out_recall(ix, x, N, q);
    printf("# cosine bf16 weak: target 0.90, tuned ef %u, held-out recall@%d %.4f\n", ef, K, r);
    ck_assert_uint_ne(ef, 64);
    ck_assert_msg(r >= 0.9, "tuned ef %u gives recall %.4f < 0.90", ef, r);
    cm_vec_index_free(ix);
    free(ids);
    free(x);
    free(q);
    vb_gen_free(g);
}
END_TEST

START_TEST(retunes_when_the_index_doubles)
{
    vb_gen *g = gen_for(&shapes[2]);
    float *x = malloc(sizeof(float) * N * DIM);
    vb_gen_rows(g, VB_STREAM_BASE, 0, N, x, NULL);
    int64_t *ids = malloc(sizeof(int64_t) * N);
    for (size_t i = 0; i < N; i++)
        ids[i] = (int64_t)i;
    cm_vec_index *ix = NULL;
    ck_ok(cm_vec_index_new(&ix, DIM, NULL), "new");
    uint32_t ef = 1;
    /* empty: nothing to measure yet, ef 0 still means 64 */
    ck_ok(cm_vec_index_tune(&ef, ix, NULL), "tune");
    ck_assert_uint_eq(ef, 64);
    /* below 1,000 entries no automatic tuning */
    ck_ok(cm_vec_index_add_batch(ix, ids, x, 999, DIM), "add");
    ck_assert_uint_eq(cm_vec_index_ef(ix), 64);
    /* the add reaching 1,000 tunes; the flat data needs more than 12 at 1,000 rows */
    ck_ok(cm_vec_index_add(ix, ids[999], x + 999 * DIM, DIM), "add");
    uint32_t ef1 = cm_vec_index_ef(ix);
    ck_assert_uint_ne(ef1, 64);
    /* grows to 1,999: no re-tune; the 2,000th entry re-tunes */
    ck_ok(cm_vec_index_add_batch(ix, ids + 1000, x + 1000 * DIM, 999, DIM), "add");
    ck_assert_uint_eq(cm_vec_index_ef(ix), ef1);
    ck_ok(cm_vec_index_add_batch(ix, ids + 1999, x + 1999 * DIM, N - 1999, DIM), "add");
    uint32_t ef2 = cm_vec_index_ef(ix);
    ck_assert_uint_ge(ef2, ef1); /* a bigger graph of the same data needs at least as much */
    /* an explicit ef still wins; target 0 switches tuning off */
    ck_ok(cm_vec_index_tune(
              &ef, ix,
              &(cm_vec_tune_options){
                  .size = sizeof(cm_vec_tune_options), .target_recall = 0, .k = 10, .sample = 1}),
          "off");
    ck_assert_uint_eq(ef, 64);
    cm_vec_index_free(ix);
    free(ids);
    free(x);
    vb_gen_free(g);
}
END_TEST

START_TEST(rejects_bad_options)
{
    cm_vec_index *ix = NULL;
    ck_ok(cm_vec_index_new(&ix, 4, NULL), "new");
    cm_vec_tune_options o = CM_VEC_TUNE_OPTIONS_INIT;
    o.target_recall = 1.5f;
    ck_assert_int_eq(cm_vec_index_tune(NULL, ix, &o), CM_EINVAL);
    ck_assert_str_eq(cm_error_field(), "target_recall");
    o = (cm_vec_tune_options)CM_VEC_TUNE_OPTIONS_INIT;
    o.k = 0;
    ck_assert_int_eq(cm_vec_index_tune(NULL, ix, &o), CM_EINVAL);
    ck_assert_str_eq(cm_error_field(), "k");
    o = (cm_vec_tune_options)CM_VEC_TUNE_OPTIONS_INIT;
    o.sample = 0;
    ck_assert_int_eq(cm_vec_index_tune(NULL, ix, &o), CM_EINVAL);
    ck_assert_str_eq(cm_error_field(), "sample");
    ck_assert_int_eq(cm_vec_index_tune(NULL, NULL, NULL), CM_EINVAL);
    /* a tiny index: ef 0 returns everything */
    float v[4] = {1, 2, 3, 4};
    ck_ok(cm_vec_index_add(ix, 7, v, 4), "add");
    uint32_t ef = 0;
    ck_ok(cm_vec_index_tune(&ef, ix, NULL), "tune");
    ck_assert_uint_eq(ef, 64);
    cm_vec_index_free(ix);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("vec_tune");
    TCase *tc = tcase_create("tune");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, tuned_ef_reaches_target_on_every_shape);
    tcase_add_test(tc, higher_target_gives_higher_recall);
    tcase_add_test(tc, cosine_bf16_index_reaches_target);
    tcase_add_test(tc, retunes_when_the_index_doubles);
    tcase_add_test(tc, rejects_bad_options);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
