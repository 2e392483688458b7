/*
 * test_vec_kernels.c - checkasm-style tests of the distance kernels: every
 * implementation this CPU runs against the scalar specification, on random
 * data, every tail length 0..2*64+1 plus long vectors, unaligned (+1)
 * pointers, zero, tiny, huge, subnormal, NaN and Inf inputs; the scalar
 * kernels against a long double reference; conversions; dispatch override.
 *
 * Tolerances (written here, documented in vec.h):
 *   dot:     |got - scalar| <= 1e-5 * sum|a[i]*b[i]| + 1e-35
 *   l2sq:    |got - scalar| <= 1e-5 * scalar + 1e-35
 *   cosine:  |got - scalar| <= 1e-5
 *   int8:    exact
 *   scalar vs long double reference: 1e-6 relative to the magnitude sums.
 */
#include "vec/vec_int.h"

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAXD 1600
#define TAILS (2 * 64 + 1) /* widest loop step is 64 elements */

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint32_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 32);
}
static float frand(void)
{
    return (float)rnd() / 4294967296.0f * 2.0f - 1.0f;
}

typedef struct {
    float a[MAXD + 2], b[MAXD + 2];
    uint16_t ha[MAXD + 2], hb[MAXD + 2], fa[MAXD + 2], fb[MAXD + 2];
    int8_t ia[MAXD + 2], ib[MAXD + 2];
} data;

static data D;

static void fill(float scale)
{
    for (size_t i = 0; i < MAXD + 2; i++) {
        D.a[i] = frand() * scale;
        D.b[i] = frand() * scale;
        D.ia[i] = (int8_t)(rnd() % 256 - 128);
        D.ib[i] = (int8_t)(rnd() % 256 - 128);
    }
    cm_vec_f32_to_bf16(D.ha, D.a, MAXD + 2);
    cm_vec_f32_to_bf16(D.hb, D.b, MAXD + 2);
    cm_vec_f32_to_f16(D.fa, D.a, MAXD + 2);
    cm_vec_f32_to_f16(D.fb, D.b, MAXD + 2);
}

static const cm__vec_ops *scalar_ops(void)
{
    return cm__vec_impl_at(cm__vec_impl_count() - 1);
}

static size_t lengths[TAILS + 1 + 6];
static size_t n_lengths;

static void init_lengths(void)
{
    n_lengths = 0;
    for (size_t d = 0; d <= TAILS; d++)
        lengths[n_lengths++] = d;
    size_t extra[] = {255, 256, 257, 1000, 1536, MAXD};
    for (size_t i = 0; i < sizeof extra / sizeof extra[0]; i++)
        lengths[n_lengths++] = extra[i];
}

static double abs_dot_f32(const float *a, const float *b, size_t d)
{
    double s = 0;
    for (size_t i = 0; i < d; i++)
        s += fabs((double)a[i] * b[i]);
    return s;
}

static double abs_dot_u16(const uint16_t *a, const uint16_t *b, size_t d, float (*dec)(uint16_t))
{
    double s = 0;
    for (size_t i = 0; i < d; i++)
        s += fabs((double)dec(a[i]) * dec(b[i]));
    return s;
}

#define CHECK_TOL(got, ref, tol, what)                                                             \
    ck_assert_msg(fabs((double)(got) - (double)(ref)) <= (tol) ||                                  \
                      (isnan((double)(got)) && isnan((double)(ref))),                              \
                  "%s %s d=%zu oa=%d ob=%d: got %.9g want %.9g (tol %.3g)", o->name, what, d, oa,  \
                  ob, (double)(got), (double)(ref), (double)(tol))

/* Compare every kernel of `o` with scalar at all lengths and offsets. */
static void compare_impl(const cm__vec_ops *o)
{
    const cm__vec_ops *s = scalar_ops();
    for (size_t li = 0; li < n_lengths; li++) {
        size_t d = lengths[li];
        for (int oa = 0; oa < 2; oa++) {
            for (int ob = 0; ob < 2; ob++) {
                const float *a = D.a + oa, *b = D.b + ob;
                double ad = abs_dot_f32(a, b, d);
                CHECK_TOL(o->dot_f32(a, b, d), s->dot_f32(a, b, d), 1e-5 * ad + 1e-35, "dot_f32");
                float l2 = s->l2sq_f32(a, b, d);
                CHECK_TOL(o->l2sq_f32(a, b, d), l2, 1e-5 * l2 + 1e-35, "l2sq_f32");
                CHECK_TOL(o->cos_f32(a, b, d), s->cos_f32(a, b, d), 1e-5, "cos_f32");

                const uint16_t *ha = D.ha + oa, *hb = D.hb + ob;
                ad = abs_dot_u16(ha, hb, d, cm__vec_bf16_to_f32_1);
                CHECK_TOL(o->dot_bf16(ha, hb, d), s->dot_bf16(ha, hb, d), 1e-5 * ad + 1e-35,
                          "dot_bf16");
                l2 = s->l2sq_bf16(ha, hb, d);
                CHECK_TOL(o->l2sq_bf16(ha, hb, d), l2, 1e-5 * l2 + 1e-35, "l2sq_bf16");
                CHECK_TOL(o->cos_bf16(ha, hb, d), s->cos_bf16(ha, hb, d), 1e-5, "cos_bf16");

                const uint16_t *fa = D.fa + oa, *fb = D.fb + ob;
                ad = abs_dot_u16(fa, fb, d, cm__vec_f16_to_f32_1);
                CHECK_TOL(o->dot_f16(fa, fb, d), s->dot_f16(fa, fb, d), 1e-5 * ad + 1e-35,
                          "dot_f16");
                l2 = s->l2sq_f16(fa, fb, d);
                CHECK_TOL(o->l2sq_f16(fa, fb, d), l2, 1e-5 * l2 + 1e-35, "l2sq_f16");
                CHECK_TOL(o->cos_f16(fa, fb, d), s->cos_f16(fa, fb, d), 1e-5, "cos_f16");

                const int8_t *ia = D.ia + oa, *ib = D.ib + ob;
                ck_assert_int_eq(o->dot_i8(ia, ib, d), s->dot_i8(ia, ib, d));
                int64_t mo[3], ms[3];
                o->moments_i8(ia, ib, d, mo);
                s->moments_i8(ia, ib, d, ms);
                ck_assert_int_eq(mo[0], ms[0]);
                ck_assert_int_eq(mo[1], ms[1]);
                ck_assert_int_eq(mo[2], ms[2]);

                if (d <= 300) {
                    const float *rows[4] = {b, D.b + 300 + ob, D.a + 600 + ob, D.b + 900};
                    float g[4], r[4];
                    o->dot4_f32(a, rows, d, g);
                    s->dot4_f32(a, rows, d, r);
                    for (int j = 0; j < 4; j++)
                        CHECK_TOL(g[j], r[j], 1e-5 * abs_dot_f32(a, rows[j], d) + 1e-35, "dot4");
                    o->l2sq4_f32(a, rows, d, g);
                    s->l2sq4_f32(a, rows, d, r);
                    for (int j = 0; j < 4; j++)
                        CHECK_TOL(g[j], r[j], 1e-5 * r[j] + 1e-35, "l2sq4");
                }
            }
        }
    }
}

/*
 * The optional scan kernels (NULL when an ISA has none) against the scalar
 * pair kernels; the 4 x 6 tiles must also give the 4-row kernel's exact
 * bits, which cm_vec_matrix relies on for batches to equal single queries.
 */
static void compare_scan_kernels(const cm__vec_ops *o)
{
    const cm__vec_ops *s = scalar_ops();
    for (size_t li = 0; li < n_lengths; li++) {
        size_t d = lengths[li];
        if (d > 300)
            continue;
        for (int oa = 0; oa < 2; oa++) {
            int ob = 1 - oa;
            const uint16_t *hq = D.ha + oa;
            const uint16_t *hrows[8] = {D.hb + ob,        D.hb + 300 + ob, D.ha + 600 + ob,
                                        D.hb + 901,       D.ha + 1000,     D.hb + 1100 + ob,
                                        D.ha + 1200 + oa, D.hb + 1290};
            float g[24], r;
            if (o->dot8_bf16) {
                o->dot8_bf16(hq, hrows, d, g);
                for (int j = 0; j < 8; j++) {
                    r = s->dot_bf16(hq, hrows[j], d);
                    CHECK_TOL(g[j], r,
                              1e-5 * abs_dot_u16(hq, hrows[j], d, cm__vec_bf16_to_f32_1) + 1e-35,
                              "dot8_bf16");
                }
            }
            if (o->l2sq8_bf16) {
                o->l2sq8_bf16(hq, hrows, d, g);
                for (int j = 0; j < 8; j++) {
                    r = s->l2sq_bf16(hq, hrows[j], d);
                    CHECK_TOL(g[j], r, 1e-5 * r + 1e-35, "l2sq8_bf16");
                }
            }
            if (o->dot4_i8) {
                const int8_t *iq = D.ia + oa;
                const int8_t *irows[4] = {D.ib + ob, D.ib + 300 + ob, D.ia + 600 + ob, D.ib + 901};
                int64_t gi[4];
                o->dot4_i8(iq, irows, d, gi);
                for (int j = 0; j < 4; j++)
                    ck_assert_msg(gi[j] == s->dot_i8(iq, irows[j], d), "%s dot4_i8 d=%zu row %d",
                                  o->name, d, j);
            }
            const float *q[4] = {D.a + oa, D.b + 1200 + ob, D.a + 1300, D.b + 1400 + oa};
            const float *rows[6] = {D.b + ob,  D.b + 300 + ob,  D.a + 600 + oa,
                                    D.b + 900, D.a + 1000 + ob, D.b + 1100};
            cm__vec_f32x4x6_fn tiles[2] = {o->dot4x6_f32, o->l2sq4x6_f32};
            cm__vec_f32x4_fn fours[2] = {o->dot4_f32, o->l2sq4_f32};
            for (int kind = 0; kind < 2; kind++) {
                if (!tiles[kind])
                    continue;
                tiles[kind](q, rows, d, g);
                for (int i = 0; i < 4; i++) {
                    float f[8];
                    fours[kind](q[i], rows, d, f);
                    fours[kind](q[i], rows + 2, d, f + 4); /* rows 2..5: f[6], f[7] are 4, 5 */
                    for (int j = 0; j < 6; j++) {
                        float got = j < 4 ? g[4 * i + j] : g[16 + 2 * i + (j - 4)];
                        float four = j < 4 ? f[j] : f[j + 2];
                        if (kind == 0) {
                            r = s->dot_f32(q[i], rows[j], d);
                            CHECK_TOL(got, r, 1e-5 * abs_dot_f32(q[i], rows[j], d) + 1e-35,
                                      "dot4x6_f32");
                        } else {
                            r = s->l2sq_f32(q[i], rows[j], d);
                            CHECK_TOL(got, r, 1e-5 * r + 1e-35, "l2sq4x6_f32");
                        }
                        ck_assert_msg(memcmp(&got, &four, sizeof got) == 0,
                                      "%s tile %d d=%zu (%d,%d): %.9g vs 4-row %.9g", o->name, kind,
                                      d, i, j, (double)got, (double)four);
                    }
                }
            }
        }
    }
}

/* Loop test: _i indexes the implementation table (checkasm's CPU loop). */
START_TEST(scan_kernels_match_pair_kernels)
{
    const cm__vec_ops *o = cm__vec_impl_at((size_t)_i);
    if (!o)
        return;
    init_lengths();
    fill(1.0f);
    compare_scan_kernels(o);
    fill(1000.0f);
    compare_scan_kernels(o);
}
END_TEST

/* int8 sums past the int32 range (every kernel flushes its 32-bit lanes in
 * chunks): 2^18 + 77 elements of -128 and 127. */
START_TEST(i8_sums_stay_exact_past_int32)
{
    const cm__vec_ops *o = cm__vec_impl_at((size_t)_i);
    if (!o)
        return;
    const size_t d = ((size_t)1 << 18) + 77;
    int8_t *x = malloc(d), *y = malloc(d);
    ck_assert(x && y);
    memset(x, -128, d);
    memset(y, 127, d);
    int64_t want_xy = -128 * 127 * (int64_t)d, want_xx = 128 * 128 * (int64_t)d;
    ck_assert_int_eq(o->dot_i8(x, y, d), want_xy);
    ck_assert_int_eq(o->dot_i8(x, x, d), want_xx);
    int64_t m[3];
    o->moments_i8(x, y, d, m);
    ck_assert_int_eq(m[0], want_xy);
    ck_assert_int_eq(m[1], want_xx);
    ck_assert_int_eq(m[2], 127 * 127 * (int64_t)d);
    if (o->dot4_i8) {
        const int8_t *rows[4] = {x, y, x, y};
        int64_t g[4];
        o->dot4_i8(x, rows, d, g);
        ck_assert_int_eq(g[0], want_xx);
        ck_assert_int_eq(g[1], want_xy);
        o->dot4_i8(y, rows, d, g);
        ck_assert_int_eq(g[0], want_xy);
        ck_assert_int_eq(g[3], 127 * 127 * (int64_t)d);
    }
    free(x);
    free(y);
}
END_TEST

START_TEST(impl_matches_scalar_on_random_data)
{
    const cm__vec_ops *o = cm__vec_impl_at((size_t)_i);
    if (!o)
        return; /* this CPU or build cannot run the row */
    init_lengths();
    fill(1.0f);
    compare_impl(o);
    fill(1000.0f);
    compare_impl(o);
}
END_TEST

START_TEST(impl_agrees_on_tiny_huge_and_subnormal_vectors)
{
    const cm__vec_ops *o = cm__vec_impl_at((size_t)_i);
    if (!o)
        return;
    const cm__vec_ops *s = scalar_ops();
    const float scales[] = {1e-20f, 1e-41f, 1e18f, 1e-3f};
    for (size_t si = 0; si < sizeof scales / sizeof scales[0]; si++) {
        fill(scales[si]);
        for (size_t d = 1; d <= TAILS; d += 7) {
            int oa = 1, ob = 0;
            const float *a = D.a + 1, *b = D.b;
            double ad = abs_dot_f32(a, b, d);
            CHECK_TOL(o->cos_f32(a, b, d), s->cos_f32(a, b, d), 1e-5, "cos_f32 scaled");
            CHECK_TOL(o->cos_f16(D.fa + 1, D.fb, d), s->cos_f16(D.fa + 1, D.fb, d), 1e-5,
                      "cos_f16 scaled");
            CHECK_TOL(o->cos_bf16(D.ha + 1, D.hb, d), s->cos_bf16(D.ha + 1, D.hb, d), 1e-5,
                      "cos_bf16 scaled");
            if (scales[si] < 1e10f) { /* no f32 overflow of partial sums */
                CHECK_TOL(o->dot_f32(a, b, d), s->dot_f32(a, b, d), 1e-5 * ad + 1e-35,
                          "dot scaled");
                float l2 = s->l2sq_f32(a, b, d);
                CHECK_TOL(o->l2sq_f32(a, b, d), l2, 1e-5 * l2 + 1e-35, "l2 scaled");
            }
        }
    }
}
END_TEST

START_TEST(zero_vectors_give_zero_cosine_never_nan)
{
    const cm__vec_ops *o = cm__vec_impl_at((size_t)_i);
    if (!o)
        return;
    float z[TAILS + 1] = {0}, x[TAILS + 1];
    uint16_t hz[TAILS + 1] = {0}, hx[TAILS + 1];
    int8_t iz[TAILS + 1] = {0}, ix[TAILS + 1];
    for (size_t i = 0; i <= TAILS; i++)
        x[i] = (float)i - 20.5f;
    cm_vec_f32_to_bf16(hx, x, TAILS + 1);
    ck_assert_int_eq(cm_vec_f32_to_i8(ix, &(float){0}, x, TAILS + 1), CM_OK);
    for (size_t d = 0; d <= TAILS; d++) {
        ck_assert(o->cos_f32(z, x, d) == 0.0f);
        ck_assert(o->cos_f32(x, z, d) == 0.0f);
        ck_assert(o->cos_f32(z, z, d) == 0.0f);
        ck_assert(o->cos_bf16(hz, hx, d) == 0.0f);
        ck_assert(o->cos_f16(hx, hz, d) == 0.0f);
        ck_assert(o->dot_f32(z, x, d) == 0.0f);
        ck_assert(o->l2sq_f32(z, z, d) == 0.0f);
        int64_t m[3];
        o->moments_i8(iz, ix, d, m);
        ck_assert_int_eq(m[0], 0);
        ck_assert_int_eq(m[1], 0);
    }
    /* a zero vector against one holding NaN is still 0 */
    x[3] = NAN;
    ck_assert(o->cos_f32(z, x, 10) == 0.0f);
}
END_TEST

START_TEST(nan_and_inf_propagate)
{
    const cm__vec_ops *o = cm__vec_impl_at((size_t)_i);
    if (!o)
        return;
    fill(1.0f);
    for (size_t d = 1; d <= TAILS; d++) {
        size_t positions[2] = {0, d - 1}; /* first element and the tail */
        for (int p = 0; p < 2; p++) {
            float a[TAILS + 1];
            uint16_t ha[TAILS + 1], fa[TAILS + 1];
            memcpy(a, D.a, sizeof a);
            a[positions[p]] = NAN;
            cm_vec_f32_to_bf16(ha, a, d);
            cm_vec_f32_to_f16(fa, a, d);
            ck_assert_msg(isnan(o->dot_f32(a, D.b, d)), "%s dot NaN d=%zu", o->name, d);
            ck_assert(isnan(o->l2sq_f32(a, D.b, d)));
            ck_assert(isnan(o->cos_f32(a, D.b, d)));
            ck_assert(isnan(o->dot_bf16(ha, D.hb, d)));
            ck_assert(isnan(o->l2sq_bf16(ha, D.hb, d)));
            ck_assert(isnan(o->cos_bf16(ha, D.hb, d)));
            ck_assert(isnan(o->dot_f16(fa, D.fb, d)));
            ck_assert(isnan(o->l2sq_f16(fa, D.fb, d)));
            ck_assert(isnan(o->cos_f16(fa, D.fb, d)));
            a[positions[p]] = INFINITY;
            ck_assert(!isfinite(o->dot_f32(a, D.b, d)));
            ck_assert(isinf(o->l2sq_f32(a, D.b, d)));
            ck_assert(isnan(o->cos_f32(a, D.b, d)));
        }
    }
}
END_TEST

START_TEST(scalar_is_within_1e6_of_long_double_reference)
{
    const cm__vec_ops *s = scalar_ops();
    fill(1.0f);
    init_lengths();
    for (size_t li = 0; li < n_lengths; li++) {
        size_t d = lengths[li];
        long double ab = 0, aa = 0, bb = 0, l2 = 0, sabs = 0;
        for (size_t i = 0; i < d; i++) {
            long double x = D.a[i], y = D.b[i];
            ab += x * y;
            aa += x * x;
            bb += y * y;
            l2 += (x - y) * (x - y);
            sabs += fabsl(x * y);
        }
        ck_assert(fabsl(s->dot_f32(D.a, D.b, d) - ab) <= 1e-6L * (sabs > 1 ? sabs : 1));
        ck_assert(fabsl(s->l2sq_f32(D.a, D.b, d) - l2) <= 1e-6L * (l2 > 1 ? l2 : 1));
        long double c = (aa == 0 || bb == 0) ? 0 : ab / sqrtl(aa * bb);
        ck_assert(fabsl(s->cos_f32(D.a, D.b, d) - c) <= 1e-6L);
    }
}
END_TEST

START_TEST(public_kernels_use_the_chosen_table)
{
    fill(1.0f);
    const cm__vec_ops *o = cm__vec_ops_get();
    ck_assert_str_eq(cm_vec_impl_name(), o->name);
    ck_assert(cm_vec_dot_f32(D.a, D.b, 100) == o->dot_f32(D.a, D.b, 100));
    ck_assert(cm_vec_l2sq_f32(D.a, D.b, 100) == o->l2sq_f32(D.a, D.b, 100));
    ck_assert(cm_vec_cosine_f32(D.a, D.b, 100) == o->cos_f32(D.a, D.b, 100));
    ck_assert(cm_vec_dot_bf16(D.ha, D.hb, 100) == o->dot_bf16(D.ha, D.hb, 100));
    ck_assert(cm_vec_cosine_f16(D.fa, D.fb, 100) == o->cos_f16(D.fa, D.fb, 100));
    int64_t ab = o->dot_i8(D.ia, D.ib, 100);
    ck_assert(cm_vec_dot_i8(D.ia, 0.5f, D.ib, 0.25f, 100) == (float)(0.125 * (double)ab));
    /* int8 l2 from moments equals the direct sum */
    double l2 = 0;
    for (int i = 0; i < 100; i++) {
        double t = 0.5 * D.ia[i] - 0.25 * D.ib[i];
        l2 += t * t;
    }
    ck_assert(fabs(cm_vec_l2sq_i8(D.ia, 0.5f, D.ib, 0.25f, 100) - l2) <= 1e-6 * l2);
    float c = cm_vec_cosine_i8(D.ia, 0.5f, D.ib, 0.25f, 100);
    ck_assert(fabsf(c - cm_vec_cosine_i8(D.ia, 1.0f, D.ib, 1.0f, 100)) == 0.0f);
    ck_assert(cm_vec_cosine_i8(D.ia, -1.0f, D.ib, 1.0f, 100) == -c);
    ck_assert(cm_vec_cosine_i8(D.ia, 0.0f, D.ib, 1.0f, 100) == 0.0f);
}
END_TEST

START_TEST(bf16_conversion_rounds_to_nearest_even)
{
    float in[] = {1.0f,
                  1.00390625f /* halfway, even down */,
                  1.01171875f /* halfway, up */,
                  -2.5f,
                  INFINITY,
                  -INFINITY,
                  NAN,
                  3.4e38f,
                  0.0f,
                  -0.0f};
    uint16_t want[] = {0x3f80, 0x3f80, 0x3f82, 0xc020, 0x7f80, 0xff80, 0, 0x7f80, 0, 0x8000};
    uint16_t out[10];
    cm_vec_f32_to_bf16(out, in, 10);
    for (int i = 0; i < 10; i++) {
        if (i == 6)
            ck_assert((out[i] & 0x7f80) == 0x7f80 && (out[i] & 0x7f));
        else
            ck_assert_msg(out[i] == want[i], "bf16(%g) = %04x want %04x", (double)in[i], out[i],
                          want[i]);
    }
    float back[10];
    cm_vec_bf16_to_f32(back, out, 10);
    ck_assert(back[0] == 1.0f && back[3] == -2.5f && isnan(back[6]));
}
END_TEST

START_TEST(f16_conversion_round_trips_and_rounds)
{
    /* every non-NaN binary16 survives f16 -> f32 -> f16 */
    for (uint32_t h = 0; h < 65536; h++) {
        float f;
        uint16_t hh = (uint16_t)h, back;
        cm_vec_f16_to_f32(&f, &hh, 1);
        cm_vec_f32_to_f16(&back, &f, 1);
        if ((h & 0x7c00) == 0x7c00 && (h & 0x3ff))
            ck_assert(isnan(f) && (back & 0x7c00) == 0x7c00 && (back & 0x3ff));
        else
            ck_assert_msg(back == hh, "f16 %04x -> %g -> %04x", h, (double)f, back);
    }
    float in[] = {65504.0f,       65519.0f,       65520.0f,       1e9f,
                  5.9604645e-08f, 2.9802322e-08f, 2.9802326e-08f, 1.0f + 1.0f / 2048.0f,
                  -0.0f};
    uint16_t want[] = {0x7bff, 0x7bff, 0x7c00, 0x7c00, 0x0001, 0x0000, 0x0001, 0x3c00, 0x8000};
    uint16_t out[9];
    cm_vec_f32_to_f16(out, in, 9);
    for (int i = 0; i < 9; i++)
        ck_assert_msg(out[i] == want[i], "f16(%.9g) = %04x want %04x", (double)in[i], out[i],
                      want[i]);
}
END_TEST

START_TEST(i8_quantization_bounds_error_and_rejects_nan)
{
    fill(3.0f);
    int8_t q[300];
    float scale = -1;
    ck_assert_int_eq(cm_vec_f32_to_i8(q, &scale, D.a, 300), CM_OK);
    float maxabs = 0;
    for (int i = 0; i < 300; i++)
        maxabs = fmaxf(maxabs, fabsf(D.a[i]));
    ck_assert(fabsf(scale - maxabs / 127.0f) <= 1e-6f * maxabs);
    float back[300];
    cm_vec_i8_to_f32(back, q, scale, 300);
    for (int i = 0; i < 300; i++) {
        ck_assert(q[i] >= -127 && q[i] <= 127);
        ck_assert(fabsf(back[i] - D.a[i]) <= scale * 0.5001f);
    }
    float z[5] = {0};
    ck_assert_int_eq(cm_vec_f32_to_i8(q, &scale, z, 5), CM_OK);
    ck_assert(scale == 0.0f && q[0] == 0 && q[4] == 0);
    float bad[3] = {1, NAN, 2};
    ck_assert_int_eq(cm_vec_f32_to_i8(q, &scale, bad, 3), CM_EINVAL);
    ck_assert_str_eq(cm_error_field(), "vector");
}
END_TEST

static char *self_exe;

/* Run this binary with CM_VEC_IMPL=value and read "name requested". */
static void run_with_impl(const char *value, char *buf, size_t len)
{
    int fd[2];
    ck_assert_int_eq(pipe(fd), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        dup2(fd[1], 1);
        close(fd[0]);
        setenv("CM_VEC_IMPL", value, 1);
        execl(self_exe, self_exe, "--print-impl", (char *)NULL);
        _exit(127);
    }
    close(fd[1]);
    ssize_t n = read(fd[0], buf, len - 1);
    buf[n > 0 ? n : 0] = '\0';
    close(fd[0]);
    int st;
    waitpid(pid, &st, 0);
    ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

START_TEST(cm_vec_impl_forces_and_falls_back_by_name)
{
    /* The child may see another CPU than this process (valgrind hides
     * AVX-512 from its guest only), so compare the child with itself. */
    char buf[128], want[128], best[64];
    run_with_impl("", buf, sizeof buf);
    ck_assert(sscanf(buf, "%63s", best) == 1);
    run_with_impl("scalar", buf, sizeof buf);
    ck_assert_str_eq(buf, "scalar scalar\n");
    int forced_best = 0;
    for (size_t i = 0; i < cm__vec_impl_count(); i++) {
        const char *name = cm__vec_impl_row_name(i);
        char forced[128];
        run_with_impl(name, buf, sizeof buf);
        snprintf(forced, sizeof forced, "%s %s\n", name, name);
        snprintf(want, sizeof want, "%s %s\n", best, name); /* unsupported: best row */
        ck_assert_msg(strcmp(buf, forced) == 0 || strcmp(buf, want) == 0, "CM_VEC_IMPL=%s: %s",
                      name, buf);
        forced_best |= strcmp(name, best) == 0 && strcmp(buf, forced) == 0;
    }
    ck_assert(forced_best);
    run_with_impl("mmx", buf, sizeof buf);
    snprintf(want, sizeof want, "%s mmx\n", best);
    ck_assert_str_eq(buf, want);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("vec_kernels");
    int n = (int)cm__vec_impl_count();
    TCase *tc = tcase_create("impl_vs_scalar");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, impl_matches_scalar_on_random_data, 0, n);
    tcase_add_loop_test(tc, scan_kernels_match_pair_kernels, 0, n);
    tcase_add_loop_test(tc, i8_sums_stay_exact_past_int32, 0, n);
    tcase_add_loop_test(tc, impl_agrees_on_tiny_huge_and_subnormal_vectors, 0, n);
    tcase_add_loop_test(tc, zero_vectors_give_zero_cosine_never_nan, 0, n);
    tcase_add_loop_test(tc, nan_and_inf_propagate, 0, n);
    suite_add_tcase(s, tc);
    tc = tcase_create("reference");
    tcase_add_test(tc, scalar_is_within_1e6_of_long_double_reference);
    tcase_add_test(tc, public_kernels_use_the_chosen_table);
    suite_add_tcase(s, tc);
    tc = tcase_create("conversions");
    tcase_add_test(tc, bf16_conversion_rounds_to_nearest_even);
    tcase_add_test(tc, f16_conversion_round_trips_and_rounds);
    tcase_add_test(tc, i8_quantization_bounds_error_and_rejects_nan);
    suite_add_tcase(s, tc);
    tc = tcase_create("dispatch");
    tcase_add_test(tc, cm_vec_impl_forces_and_falls_back_by_name);
    suite_add_tcase(s, tc);
    return s;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--print-impl") == 0) {
        printf("%s %s\n", cm_vec_impl_name(), cm_vec_impl_requested());
        return 0;
    }
    self_exe = argv[0];
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
