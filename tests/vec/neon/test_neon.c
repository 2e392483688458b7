/*
 * test_neon.c - checkasm-style test of the AArch64 NEON distance kernels,
 * standalone (no Check: Debian has no aarch64 libcheck). Built statically
 * with the cross compiler and run under qemu-aarch64 by run.sh.
 *
 * Every NEON kernel is compared with the scalar specification on random
 * data at every length 0..200 plus long vectors, at +0/+1 element offsets,
 * with zero, tiny, huge, subnormal, NaN and Inf inputs, and with each vector
 * ending on a PROT_NONE guard page (a tail that reads past the end
 * crashes, and is reported). Then dispatch (cm_vec_impl_name() is "neon"
 * by default, "scalar" under CM_VEC_IMPL=scalar, in a child process), and
 * end-to-end sanity: exact top-k against brute force, HNSW recall.
 *
 * Tolerances (the same as tests/vec/test_vec_kernels.c and vec.h):
 *   dot:     |got - scalar| <= 1e-5 * sum|a[i]*b[i]| + 1e-35
 *   l2sq:    |got - scalar| <= 1e-5 * scalar + 1e-35
 *   cosine:  |got - scalar| <= 1e-5
 *   int8:    exact
 *
 * Output is TAP ("1..N", then "ok"/"not ok" per test, diagnostics as "#"
 * lines); the exit status is non-zero when any test fails.
 *
 * Child processes: when CM_NEON_EXEC is set (for example "qemu-aarch64"),
 * the dispatch test runs this binary through that command, since an
 * emulated process cannot exec an aarch64 binary directly without binfmt.
 */
#include "vec/vec_int.h"

#include <community/error.h>

#include <math.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAXD 1600
#define TAILS 200 /* every length 0..TAILS; the widest NEON step is 16 (int8) */

/* ---------------------------------------------------------------- harness */

static int cur_failures;     /* failed expectations in the running test */
static const char *cur_skip; /* set by a test that does not apply */

__attribute__((format(printf, 2, 3))) static void fail_at(int line, const char *fmt, ...)
{
    if (cur_failures++ >= 10) /* the first ten tell the story */
        return;
    va_list ap;
    va_start(ap, fmt);
    printf("#   line %d: ", line);
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
}

#define EXPECT(cond, ...)                                                                          \
    do {                                                                                           \
        if (!(cond))                                                                               \
            fail_at(__LINE__, __VA_ARGS__);                                                        \
    } while (0)

/* got within tol of ref, or both NaN, or the same infinity. */
static int close_enough(double got, double ref, double tol)
{
    return fabs(got - ref) <= tol || (isnan(got) && isnan(ref)) || got == ref;
}

#define EXPECT_TOL(got, ref, tol, what)                                                            \
    do {                                                                                           \
        double g_ = (double)(got), r_ = (double)(ref), t_ = (double)(tol);                         \
        EXPECT(close_enough(g_, r_, t_), "%s d=%zu oa=%d ob=%d: got %.9g want %.9g (tol %.3g)",    \
               what, d, oa, ob, g_, r_, t_);                                                       \
    } while (0)

/* ------------------------------------------------------------------- data */

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
    _Alignas(64) float a[MAXD + 2];
    _Alignas(64) float b[MAXD + 2];
    _Alignas(64) uint16_t ha[MAXD + 2];
    _Alignas(64) uint16_t hb[MAXD + 2];
    _Alignas(64) uint16_t fa[MAXD + 2];
    _Alignas(64) uint16_t fb[MAXD + 2];
    _Alignas(64) int8_t ia[MAXD + 2];
    _Alignas(64) int8_t ib[MAXD + 2];
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

static size_t lengths[TAILS + 1 + 6];
static size_t n_lengths;

static void init_lengths(void)
{
    n_lengths = 0;
    for (size_t d = 0; d <= TAILS; d++)
        lengths[n_lengths++] = d;
    const size_t extra[] = {255, 256, 257, 1000, 1536, MAXD};
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

/* The NEON row and the scalar row of the dispatch table. */
static const cm__vec_ops *N_, *S_;

static const cm__vec_ops *row_named(const char *name)
{
    for (size_t i = 0; i < cm__vec_impl_count(); i++)
        if (strcmp(cm__vec_impl_row_name(i), name) == 0)
            return cm__vec_impl_at(i);
    return NULL;
}

/* ------------------------------------------------------ kernel comparisons */

static void cmp_f32(size_t d, int oa, int ob)
{
    const float *a = D.a + oa, *b = D.b + ob;
    EXPECT_TOL(N_->dot_f32(a, b, d), S_->dot_f32(a, b, d), 1e-5 * abs_dot_f32(a, b, d) + 1e-35,
               "dot_f32");
    float l2 = S_->l2sq_f32(a, b, d);
    EXPECT_TOL(N_->l2sq_f32(a, b, d), l2, 1e-5 * l2 + 1e-35, "l2sq_f32");
    EXPECT_TOL(N_->cos_f32(a, b, d), S_->cos_f32(a, b, d), 1e-5, "cos_f32");
}

static void cmp_u16(size_t d, int oa, int ob, const uint16_t *pa, const uint16_t *pb, int bf16)
{
    const uint16_t *a = pa + oa, *b = pb + ob;
    float (*dec)(uint16_t) = bf16 ? cm__vec_bf16_to_f32_1 : cm__vec_f16_to_f32_1;
    cm__vec_u16_fn nd = bf16 ? N_->dot_bf16 : N_->dot_f16, sd = bf16 ? S_->dot_bf16 : S_->dot_f16;
    cm__vec_u16_fn nl = bf16 ? N_->l2sq_bf16 : N_->l2sq_f16,
                   sl = bf16 ? S_->l2sq_bf16 : S_->l2sq_f16;
    cm__vec_u16_fn nc = bf16 ? N_->cos_bf16 : N_->cos_f16, sc = bf16 ? S_->cos_bf16 : S_->cos_f16;
    EXPECT_TOL(nd(a, b, d), sd(a, b, d), 1e-5 * abs_dot_u16(a, b, d, dec) + 1e-35,
               bf16 ? "dot_bf16" : "dot_f16");
    float l2 = sl(a, b, d);
    EXPECT_TOL(nl(a, b, d), l2, 1e-5 * l2 + 1e-35, bf16 ? "l2sq_bf16" : "l2sq_f16");
    EXPECT_TOL(nc(a, b, d), sc(a, b, d), 1e-5, bf16 ? "cos_bf16" : "cos_f16");
}

static void cmp_i8(const int8_t *a, const int8_t *b, size_t d, int oa, int ob)
{
    int64_t gn = N_->dot_i8(a, b, d), gs = S_->dot_i8(a, b, d);
    EXPECT(gn == gs, "dot_i8 d=%zu oa=%d ob=%d: got %lld want %lld", d, oa, ob, (long long)gn,
           (long long)gs);
    int64_t mn[3], ms[3];
    N_->moments_i8(a, b, d, mn);
    S_->moments_i8(a, b, d, ms);
    for (int j = 0; j < 3; j++)
        EXPECT(mn[j] == ms[j], "moments_i8[%d] d=%zu oa=%d ob=%d: got %lld want %lld", j, d, oa, ob,
               (long long)mn[j], (long long)ms[j]);
}

static void cmp_four(size_t d, int oa, int ob)
{
    const float *a = D.a + oa;
    const float *rows[4] = {D.b + ob, D.b + 300 + ob, D.a + 600 + ob, D.b + 901};
    float g[4], r[4];
    N_->dot4_f32(a, rows, d, g);
    S_->dot4_f32(a, rows, d, r);
    for (int j = 0; j < 4; j++) {
        EXPECT_TOL(g[j], r[j], 1e-5 * abs_dot_f32(a, rows[j], d) + 1e-35, "dot4_f32");
        float p = S_->dot_f32(a, rows[j], d); /* the 4-row kernel is the pair kernel, per row */
        EXPECT_TOL(g[j], p, 1e-5 * abs_dot_f32(a, rows[j], d) + 1e-35, "dot4_f32 vs pair");
    }
    N_->l2sq4_f32(a, rows, d, g);
    S_->l2sq4_f32(a, rows, d, r);
    for (int j = 0; j < 4; j++) {
        EXPECT_TOL(g[j], r[j], 1e-5 * r[j] + 1e-35, "l2sq4_f32");
        float p = S_->l2sq_f32(a, rows[j], d);
        EXPECT_TOL(g[j], p, 1e-5 * p + 1e-35, "l2sq4_f32 vs pair");
    }
}

static void for_all(void (*fn)(size_t, int, int), int long_too)
{
    init_lengths();
    const float scales[] = {1.0f, 1000.0f};
    for (size_t si = 0; si < 2; si++) {
        fill(scales[si]);
        for (size_t li = 0; li < n_lengths; li++)
            for (int oa = 0; oa < 2; oa++)
                for (int ob = 0; ob < 2; ob++)
                    if (long_too || lengths[li] <= 300)
                        fn(lengths[li], oa, ob);
    }
}

static void bf16_at(size_t d, int oa, int ob)
{
    cmp_u16(d, oa, ob, D.ha, D.hb, 1);
}
static void f16_at(size_t d, int oa, int ob)
{
    cmp_u16(d, oa, ob, D.fa, D.fb, 0);
}
static void i8_at(size_t d, int oa, int ob)
{
    cmp_i8(D.ia + oa, D.ib + ob, d, oa, ob);
}

static void t_f32_kernels(void)
{
    for_all(cmp_f32, 1);
}
static void t_bf16_kernels(void)
{
    for_all(bf16_at, 1);
}
static void t_f16_kernels(void)
{
    for_all(f16_at, 1);
}
static void t_i8_kernels(void)
{
    for_all(i8_at, 1);
}
static void t_four_row_kernels(void)
{
    for_all(cmp_four, 0);
}

/* int8 across the int32 flush boundary (every 2^18 elements) at the
 * largest products: exact, and equal to the closed form. */
static void t_i8_long_extremes(void)
{
    size_t d = ((size_t)2 << 18) + 21;
    int8_t *a = malloc(d + 1), *b = malloc(d + 1);
    if (!a || !b) {
        EXPECT(0, "out of memory");
        free(a);
        free(b);
        return;
    }
    memset(a, -128, d + 1);
    memset(b, -128, d + 1);
    int64_t m[3];
    N_->moments_i8(a, b, d, m);
    int64_t want = (int64_t)d * 16384;
    EXPECT(m[0] == want && m[1] == want && m[2] == want,
           "moments_i8 all -128 d=%zu: %lld %lld %lld want %lld", d, (long long)m[0],
           (long long)m[1], (long long)m[2], (long long)want);
    EXPECT(N_->dot_i8(a + 1, b, d) == want, "dot_i8 all -128 d=%zu", d);
    for (size_t i = 0; i <= d; i++) {
        a[i] = (int8_t)(rnd() % 2 ? 127 : -128);
        b[i] = (int8_t)(rnd() % 256 - 128);
    }
    cmp_i8(a + 1, b, d, 1, 0);
    cmp_i8(a, b + 1, d - 5, 0, 1);
    free(a);
    free(b);
}

/* The optional scan kernels, when NEON provides them (NULL otherwise): each
 * must equal the pair kernel on every (query, row) within its tolerance. */
static void t_scan_kernels(void)
{
    if (!N_->dot8_bf16 && !N_->l2sq8_bf16 && !N_->dot4_i8 && !N_->dot4x6_f32 && !N_->l2sq4x6_f32) {
        cur_skip = "NEON has no optional scan kernels";
        return;
    }
    init_lengths();
    fill(1.0f);
    int oa = 1, ob = 0; /* named in EXPECT_TOL's message */
    for (size_t li = 0; li < n_lengths && lengths[li] <= 100; li++) {
        size_t d = lengths[li];
        float g[24], r;
        const uint16_t *hq = D.ha + 1;
        const uint16_t *hrows[8];
        for (int j = 0; j < 8; j++)
            hrows[j] = D.hb + 100 * j + (j & 1);
        if (N_->dot8_bf16) {
            N_->dot8_bf16(hq, hrows, d, g);
            for (int j = 0; j < 8; j++) {
                r = S_->dot_bf16(hq, hrows[j], d);
                EXPECT_TOL(g[j], r,
                           1e-5 * abs_dot_u16(hq, hrows[j], d, cm__vec_bf16_to_f32_1) + 1e-35,
                           "dot8_bf16");
            }
        }
        if (N_->l2sq8_bf16) {
            N_->l2sq8_bf16(hq, hrows, d, g);
            for (int j = 0; j < 8; j++) {
                r = S_->l2sq_bf16(hq, hrows[j], d);
                EXPECT_TOL(g[j], r, 1e-5 * r + 1e-35, "l2sq8_bf16");
            }
        }
        const float *q[4] = {D.a, D.b + 1200 + 1, D.a + 1300, D.b + 1400};
        const float *rows[6];
        for (int j = 0; j < 6; j++)
            rows[j] = D.b + 100 * j + (j & 1);
        cm__vec_f32x4x6_fn tiles[2] = {N_->dot4x6_f32, N_->l2sq4x6_f32};
        cm__vec_f32_fn pairs[2] = {S_->dot_f32, S_->l2sq_f32};
        for (int kind = 0; kind < 2; kind++) {
            if (!tiles[kind])
                continue;
            tiles[kind](q, rows, d, g);
            for (int i = 0; i < 4; i++)
                for (int j = 0; j < 6; j++) {
                    float got = j < 4 ? g[4 * i + j] : g[16 + 2 * i + (j - 4)];
                    r = pairs[kind](q[i], rows[j], d);
                    EXPECT_TOL(got, r, 1e-5 * (kind ? r : abs_dot_f32(q[i], rows[j], d)) + 1e-35,
                               kind ? "l2sq4x6_f32" : "dot4x6_f32");
                }
        }
    }
}

static void t_tiny_huge_subnormal(void)
{
    const float scales[] = {1e-20f, 1e-41f, 1e18f, 1e-3f};
    for (size_t si = 0; si < sizeof scales / sizeof scales[0]; si++) {
        fill(scales[si]);
        for (size_t d = 1; d <= TAILS; d++) {
            int oa = 1, ob = 0;
            const float *a = D.a + 1, *b = D.b;
            EXPECT_TOL(N_->cos_f32(a, b, d), S_->cos_f32(a, b, d), 1e-5, "cos_f32 scaled");
            EXPECT_TOL(N_->cos_f16(D.fa + 1, D.fb, d), S_->cos_f16(D.fa + 1, D.fb, d), 1e-5,
                       "cos_f16 scaled");
            EXPECT_TOL(N_->cos_bf16(D.ha + 1, D.hb, d), S_->cos_bf16(D.ha + 1, D.hb, d), 1e-5,
                       "cos_bf16 scaled");
            if (scales[si] < 1e10f) { /* no f32 overflow of partial sums */
                EXPECT_TOL(N_->dot_f32(a, b, d), S_->dot_f32(a, b, d),
                           1e-5 * abs_dot_f32(a, b, d) + 1e-35, "dot_f32 scaled");
                float l2 = S_->l2sq_f32(a, b, d);
                EXPECT_TOL(N_->l2sq_f32(a, b, d), l2, 1e-5 * l2 + 1e-35, "l2sq_f32 scaled");
            }
        }
    }
}

static void t_zero_vectors(void)
{
    static float z[MAXD], x[MAXD];
    static uint16_t hz[MAXD], hx[MAXD], fx[MAXD];
    static int8_t iz[MAXD], ix[MAXD];
    for (size_t i = 0; i < MAXD; i++)
        x[i] = (float)(i % 97) - 20.5f;
    cm_vec_f32_to_bf16(hx, x, MAXD);
    cm_vec_f32_to_f16(fx, x, MAXD);
    float sc = 0;
    EXPECT(cm_vec_f32_to_i8(ix, &sc, x, MAXD) == CM_OK, "f32_to_i8");
    init_lengths();
    for (size_t li = 0; li < n_lengths; li++) {
        size_t d = lengths[li];
        EXPECT(N_->cos_f32(z, x, d) == 0.0f, "cos_f32(0, x) d=%zu", d);
        EXPECT(N_->cos_f32(x, z, d) == 0.0f, "cos_f32(x, 0) d=%zu", d);
        EXPECT(N_->cos_f32(z, z, d) == 0.0f, "cos_f32(0, 0) d=%zu", d);
        EXPECT(N_->cos_bf16(hz, hx, d) == 0.0f, "cos_bf16(0, x) d=%zu", d);
        EXPECT(N_->cos_bf16(hx, hz, d) == 0.0f, "cos_bf16(x, 0) d=%zu", d);
        EXPECT(N_->cos_f16(fx, hz, d) == 0.0f, "cos_f16(x, 0) d=%zu", d);
        EXPECT(N_->cos_f16(hz, hz, d) == 0.0f, "cos_f16(0, 0) d=%zu", d);
        EXPECT(N_->dot_f32(z, x, d) == 0.0f, "dot_f32(0, x) d=%zu", d);
        EXPECT(N_->dot_bf16(hz, hx, d) == 0.0f, "dot_bf16(0, x) d=%zu", d);
        EXPECT(N_->dot_f16(hz, fx, d) == 0.0f, "dot_f16(0, x) d=%zu", d);
        EXPECT(N_->l2sq_f32(z, z, d) == 0.0f, "l2sq_f32(0, 0) d=%zu", d);
        EXPECT(N_->l2sq_f32(x, x, d) == 0.0f, "l2sq_f32(x, x) d=%zu", d);
        EXPECT(N_->l2sq_bf16(hx, hx, d) == 0.0f, "l2sq_bf16(x, x) d=%zu", d);
        EXPECT(N_->l2sq_f16(fx, fx, d) == 0.0f, "l2sq_f16(x, x) d=%zu", d);
        int64_t m[3];
        N_->moments_i8(iz, ix, d, m);
        EXPECT(m[0] == 0 && m[1] == 0, "moments_i8(0, x) d=%zu", d);
        EXPECT(N_->dot_i8(ix, iz, d) == 0, "dot_i8(x, 0) d=%zu", d);
        if (d <= 300) {
            const float *rows[4] = {z, x, z, x + 1};
            float g[4];
            N_->dot4_f32(z, rows, d, g);
            EXPECT(g[0] == 0 && g[1] == 0 && g[2] == 0 && g[3] == 0, "dot4_f32(0) d=%zu", d);
            N_->l2sq4_f32(x, rows, d, g);
            EXPECT(g[1] == 0.0f, "l2sq4_f32(x, x) d=%zu", d);
        }
    }
    /* a zero vector against one holding NaN is still 0 */
    x[3] = NAN;
    EXPECT(N_->cos_f32(z, x, 10) == 0.0f, "cos_f32(0, NaN vector)");
}

static void t_nan_inf(void)
{
    fill(1.0f);
    for (size_t d = 1; d <= TAILS; d++) {
        size_t positions[3] = {0, d / 2, d - 1}; /* first, middle and the tail */
        for (int p = 0; p < 3; p++) {
            static float a[TAILS + 1];
            static uint16_t ha[TAILS + 1], fa[TAILS + 1];
            memcpy(a, D.a, sizeof a);
            a[positions[p]] = NAN;
            cm_vec_f32_to_bf16(ha, a, d);
            cm_vec_f32_to_f16(fa, a, d);
            EXPECT(isnan(N_->dot_f32(a, D.b, d)), "dot_f32 NaN d=%zu at %zu", d, positions[p]);
            EXPECT(isnan(N_->l2sq_f32(a, D.b, d)), "l2sq_f32 NaN d=%zu", d);
            EXPECT(isnan(N_->cos_f32(a, D.b, d)), "cos_f32 NaN d=%zu", d);
            EXPECT(isnan(N_->dot_bf16(ha, D.hb, d)), "dot_bf16 NaN d=%zu", d);
            EXPECT(isnan(N_->l2sq_bf16(ha, D.hb, d)), "l2sq_bf16 NaN d=%zu", d);
            EXPECT(isnan(N_->cos_bf16(ha, D.hb, d)), "cos_bf16 NaN d=%zu", d);
            EXPECT(isnan(N_->dot_f16(fa, D.fb, d)), "dot_f16 NaN d=%zu", d);
            EXPECT(isnan(N_->l2sq_f16(fa, D.fb, d)), "l2sq_f16 NaN d=%zu", d);
            EXPECT(isnan(N_->cos_f16(fa, D.fb, d)), "cos_f16 NaN d=%zu", d);
            const float *rows[4] = {D.b, a, D.b + 1, D.a + 300};
            float g[4];
            N_->dot4_f32(D.b + 2, rows, d, g);
            EXPECT(isnan(g[1]) && !isnan(g[0]) && !isnan(g[2]) && !isnan(g[3]),
                   "dot4_f32 NaN in row 1 only d=%zu: %g %g %g %g", d, (double)g[0], (double)g[1],
                   (double)g[2], (double)g[3]);
            N_->l2sq4_f32(a, rows, d, g);
            EXPECT(isnan(g[0]) && isnan(g[1]) && isnan(g[2]) && isnan(g[3]),
                   "l2sq4_f32 NaN query d=%zu", d);

            a[positions[p]] = INFINITY;
            cm_vec_f32_to_bf16(ha, a, d);
            cm_vec_f32_to_f16(fa, a, d);
            EXPECT(!isfinite(N_->dot_f32(a, D.b, d)), "dot_f32 Inf d=%zu", d);
            EXPECT(isinf(N_->l2sq_f32(a, D.b, d)), "l2sq_f32 Inf d=%zu", d);
            EXPECT(isnan(N_->cos_f32(a, D.b, d)), "cos_f32 Inf d=%zu", d);
            EXPECT(isinf(N_->l2sq_bf16(ha, D.hb, d)), "l2sq_bf16 Inf d=%zu", d);
            EXPECT(isnan(N_->cos_bf16(ha, D.hb, d)), "cos_bf16 Inf d=%zu", d);
            EXPECT(isinf(N_->l2sq_f16(fa, D.fb, d)), "l2sq_f16 Inf d=%zu", d);
            EXPECT(isnan(N_->cos_f16(fa, D.fb, d)), "cos_f16 Inf d=%zu", d);
            /* the same class as the specification: NaN, the same infinity */
            int oa = 0, ob = 0;
            EXPECT_TOL(N_->dot_f32(a, D.b, d), S_->dot_f32(a, D.b, d), 0, "dot_f32 Inf class");
            EXPECT_TOL(N_->dot_bf16(ha, D.hb, d), S_->dot_bf16(ha, D.hb, d), 0,
                       "dot_bf16 Inf class");
            EXPECT_TOL(N_->dot_f16(fa, D.fb, d), S_->dot_f16(fa, D.fb, d), 0, "dot_f16 Inf class");
            N_->l2sq4_f32(D.b, rows, d, g);
            EXPECT(isinf(g[1]) && isfinite(g[0]), "l2sq4_f32 Inf in row 1 d=%zu", d);
        }
    }
}

/* Guard pages: each vector ends exactly where a PROT_NONE page begins, so a
 * kernel that reads one element past the end takes SIGSEGV. */
static sigjmp_buf guard_jmp;
static volatile sig_atomic_t guard_hit;
static void on_segv(int sig)
{
    (void)sig;
    guard_hit = 1;
    siglongjmp(guard_jmp, 1);
}

static unsigned char *guarded(size_t page)
{
    unsigned char *p =
        mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    if (mprotect(p + page, page, PROT_NONE) != 0) {
        munmap(p, 2 * page);
        return NULL;
    }
    return p + page; /* the end of the readable page */
}

static void t_no_read_past_end(void)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    unsigned char *ea = guarded(page), *eb = guarded(page);
    if (!ea || !eb || page < (TAILS + 1) * sizeof(float)) {
        EXPECT(0, "cannot map guard pages");
        return;
    }
    for (size_t i = 0; i < page; i++) {
        ea[-1 - (ptrdiff_t)i] = (unsigned char)(rnd() & 0x3f); /* small finite values */
        eb[-1 - (ptrdiff_t)i] = (unsigned char)(rnd() & 0x3f);
    }
    struct sigaction sa, old_segv, old_bus;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_segv;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, &old_segv);
    sigaction(SIGBUS, &sa, &old_bus);
    static const char *volatile what;
    static volatile size_t at;
    if (sigsetjmp(guard_jmp, 1) == 0) {
        for (size_t d = 0; d <= TAILS; d++) {
            at = d;
            const float *fa = (const float *)(void *)(ea - d * sizeof(float));
            const float *fb = (const float *)(void *)(eb - d * sizeof(float));
            const uint16_t *ha = (const uint16_t *)(void *)(ea - d * 2);
            const uint16_t *hb = (const uint16_t *)(void *)(eb - d * 2);
            const int8_t *ia = (const int8_t *)(ea - d), *ib = (const int8_t *)(eb - d);
            int64_t m[3];
            float g[4];
            const float *rows[4] = {fb, fb, fa, fb};
            what = "dot_f32";
            (void)N_->dot_f32(fa, fb, d);
            what = "l2sq_f32";
            (void)N_->l2sq_f32(fa, fb, d);
            what = "cos_f32";
            (void)N_->cos_f32(fa, fb, d);
            what = "dot_bf16";
            (void)N_->dot_bf16(ha, hb, d);
            what = "l2sq_bf16";
            (void)N_->l2sq_bf16(ha, hb, d);
            what = "cos_bf16";
            (void)N_->cos_bf16(ha, hb, d);
            what = "dot_f16";
            (void)N_->dot_f16(ha, hb, d);
            what = "l2sq_f16";
            (void)N_->l2sq_f16(ha, hb, d);
            what = "cos_f16";
            (void)N_->cos_f16(ha, hb, d);
            what = "dot_i8";
            (void)N_->dot_i8(ia, ib, d);
            what = "moments_i8";
            N_->moments_i8(ia, ib, d, m);
            what = "dot4_f32";
            N_->dot4_f32(fa, rows, d, g);
            what = "l2sq4_f32";
            N_->l2sq4_f32(fa, rows, d, g);
            if (N_->dot8_bf16 && N_->l2sq8_bf16) {
                const uint16_t *hrows[8] = {hb, hb, ha, hb, hb, ha, hb, hb};
                float g8[8];
                what = "dot8_bf16";
                N_->dot8_bf16(ha, hrows, d, g8);
                what = "l2sq8_bf16";
                N_->l2sq8_bf16(ha, hrows, d, g8);
            }
        }
    }
    sigaction(SIGSEGV, &old_segv, NULL);
    sigaction(SIGBUS, &old_bus, NULL);
    EXPECT(!guard_hit, "%s read past the end of its vectors (d=%zu)", what, (size_t)at);
    munmap(ea - page, 2 * page);
    munmap(eb - page, 2 * page);
}

/* ------------------------------------------------------------- dispatch */

static const char *self_exe;

/* Run this binary (through CM_NEON_EXEC when set) with CM_VEC_IMPL=value
 * (unset when NULL) and read its "name requested" line. 0 on success. */
static int run_with_impl(const char *value, char *buf, size_t len)
{
    char wrap[256];
    char *argv[12];
    int argc = 0;
    const char *w = getenv("CM_NEON_EXEC");
    (void)snprintf(wrap, sizeof wrap, "%s", w ? w : "");
    for (char *tok = strtok(wrap, " "); tok && argc < 8; tok = strtok(NULL, " "))
        argv[argc++] = tok;
    argv[argc++] = (char *)self_exe;
    argv[argc++] = (char *)"--print-impl";
    argv[argc] = NULL;
    int fd[2];
    if (pipe(fd) != 0)
        return -1;
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        dup2(fd[1], 1);
        close(fd[0]);
        close(fd[1]);
        if (value)
            setenv("CM_VEC_IMPL", value, 1);
        else
            unsetenv("CM_VEC_IMPL");
        execvp(argv[0], argv);
        _exit(127);
    }
    close(fd[1]);
    size_t n = 0;
    ssize_t r;
    while (n + 1 < len && (r = read(fd[0], buf + n, len - 1 - n)) > 0)
        n += (size_t)r;
    buf[n] = '\0';
    close(fd[0]);
    int st = 0;
    if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
        return -1;
    return 0;
}

static void t_dispatch_rows(void)
{
    size_t n = cm__vec_impl_count();
    EXPECT(n >= 2, "%zu implementation rows", n);
    EXPECT(N_ != NULL, "no usable \"neon\" row (built without -DCM_HAVE_NEON?)");
    EXPECT(strcmp(cm__vec_impl_row_name(n - 1), "scalar") == 0, "last row is %s",
           cm__vec_impl_row_name(n - 1));
    EXPECT(S_ != NULL && strcmp(S_->name, "scalar") == 0, "scalar row");
    EXPECT(strcmp(cm__vec_impl_row_name(0), "neon") == 0, "best row is %s",
           cm__vec_impl_row_name(0));
    /* NEON overrides every mandatory entry */
    if (N_ && S_) {
        EXPECT(N_->dot_f32 != S_->dot_f32 && N_->l2sq_f32 != S_->l2sq_f32 &&
                   N_->cos_f32 != S_->cos_f32,
               "f32 kernels are scalar");
        EXPECT(N_->dot_bf16 != S_->dot_bf16 && N_->l2sq_bf16 != S_->l2sq_bf16 &&
                   N_->cos_bf16 != S_->cos_bf16,
               "bf16 kernels are scalar");
        EXPECT(N_->dot_f16 != S_->dot_f16 && N_->l2sq_f16 != S_->l2sq_f16 &&
                   N_->cos_f16 != S_->cos_f16,
               "f16 kernels are scalar");
        EXPECT(N_->dot_i8 != S_->dot_i8 && N_->moments_i8 != S_->moments_i8,
               "int8 kernels are scalar");
        EXPECT(N_->dot4_f32 != S_->dot4_f32 && N_->l2sq4_f32 != S_->l2sq4_f32,
               "4-row kernels are scalar");
    }
}

static void t_default_impl_is_neon(void)
{
    EXPECT(strcmp(cm_vec_impl_name(), "neon") == 0, "cm_vec_impl_name() = %s", cm_vec_impl_name());
    EXPECT(strcmp(cm_vec_impl_requested(), "") == 0, "cm_vec_impl_requested() = %s",
           cm_vec_impl_requested());
    fill(1.0f);
    const cm__vec_ops *o = cm__vec_ops_get();
    EXPECT(o == N_, "cm__vec_ops_get() is not the neon row");
    EXPECT(cm_vec_dot_f32(D.a, D.b, 100) == N_->dot_f32(D.a, D.b, 100), "cm_vec_dot_f32");
    EXPECT(cm_vec_l2sq_f32(D.a, D.b, 101) == N_->l2sq_f32(D.a, D.b, 101), "cm_vec_l2sq_f32");
    EXPECT(cm_vec_cosine_f32(D.a, D.b, 102) == N_->cos_f32(D.a, D.b, 102), "cm_vec_cosine_f32");
    EXPECT(cm_vec_dot_bf16(D.ha, D.hb, 103) == N_->dot_bf16(D.ha, D.hb, 103), "cm_vec_dot_bf16");
    EXPECT(cm_vec_cosine_f16(D.fa, D.fb, 99) == N_->cos_f16(D.fa, D.fb, 99), "cm_vec_cosine_f16");
    int64_t ab = N_->dot_i8(D.ia, D.ib, 100);
    EXPECT(cm_vec_dot_i8(D.ia, 0.5f, D.ib, 0.25f, 100) == (float)(0.125 * (double)ab),
           "cm_vec_dot_i8");
}

static void t_env_selects_impl(void)
{
    static const struct {
        const char *env, *want;
    } cases[] = {
        {NULL, "neon \n"},       {"scalar", "scalar scalar\n"},
        {"neon", "neon neon\n"}, {"avx512", "neon avx512\n"}, /* unsupported here: the best row */
        {"mmx", "neon mmx\n"},                                /* unknown: the best row */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char buf[128];
        int rc = run_with_impl(cases[i].env, buf, sizeof buf);
        EXPECT(rc == 0, "CM_VEC_IMPL=%s: child failed (CM_NEON_EXEC=%s)",
               cases[i].env ? cases[i].env : "(unset)",
               getenv("CM_NEON_EXEC") ? getenv("CM_NEON_EXEC") : "");
        if (rc == 0)
            EXPECT(strcmp(buf, cases[i].want) == 0, "CM_VEC_IMPL=%s: \"%s\" want \"%s\"",
                   cases[i].env ? cases[i].env : "(unset)", buf, cases[i].want);
    }
}

/* ------------------------------------------------- exact top-k and HNSW */

static uint64_t grng = 0x243f6a8885a308d3ull;
static double urand(void)
{
    grng ^= grng << 13;
    grng ^= grng >> 7;
    grng ^= grng << 17;
    return (double)(grng >> 11) * 0x1p-53;
}
static double grand(void)
{
    return sqrt(-2.0 * log(urand() + 1e-300)) * cos(6.283185307179586 * urand());
}

/* Gaussian clusters: centres N(0, 3^2), points centre + N(0, 1). */
static void make_clustered(float *out, size_t n, size_t dim, const float *centres, size_t nc)
{
    for (size_t i = 0; i < n; i++) {
        size_t c = (size_t)(urand() * (double)nc);
        for (size_t j = 0; j < dim; j++)
            out[i * dim + j] = centres[c * dim + j] + (float)grand();
    }
}

/* Distance of the specification (scalar kernels, in double where possible). */
static double ref_dist(int metric, const float *q, const float *r, size_t dim)
{
    switch (metric) {
        case CM_VEC_L2:
            return S_->l2sq_f32(q, r, dim);
        case CM_VEC_IP:
            return -(double)S_->dot_f32(q, r, dim);
        default:
            return 1.0 - (double)S_->cos_f32(q, r, dim);
    }
}

typedef struct {
    double dist;
    int64_t id;
} scored;

static int by_dist_id(const void *x, const void *y)
{
    const scored *a = x, *b = y;
    if (a->dist != b->dist)
        return a->dist < b->dist ? -1 : 1;
    return (a->id > b->id) - (a->id < b->id);
}

/* The exact k nearest of q among n rows, by the specification. */
static void brute_force(scored *out, int metric, const float *rows, size_t n, size_t dim,
                        const float *q, size_t k, scored *tmp)
{
    for (size_t i = 0; i < n; i++) {
        tmp[i].dist = ref_dist(metric, q, rows + i * dim, dim);
        tmp[i].id = (int64_t)i;
    }
    qsort(tmp, n, sizeof *tmp, by_dist_id);
    memcpy(out, tmp, k * sizeof *out);
}

#define TK_N 1000
#define TK_DIM 30 /* 8 + 8 + 8 + 4 + 2: every NEON loop and a tail */
#define TK_NQ 20
#define TK_K 10

static void t_exact_topk(void)
{
    float *rows = malloc(sizeof(float) * TK_N * TK_DIM);
    float *qs = malloc(sizeof(float) * TK_NQ * TK_DIM);
    scored *tmp = malloc(sizeof(scored) * TK_N);
    if (!rows || !qs || !tmp) {
        EXPECT(0, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < TK_N * TK_DIM; i++)
        rows[i] = (float)grand();
    for (size_t i = 0; i < TK_NQ * TK_DIM; i++)
        qs[i] = (float)grand();
    const int metrics[] = {CM_VEC_L2, CM_VEC_IP, CM_VEC_COSINE};
    const char *names[] = {"l2", "ip", "cosine"};
    for (int mi = 0; mi < 3; mi++) {
        cm_vec_matrix_options mo = CM_VEC_MATRIX_OPTIONS_INIT;
        mo.metric = metrics[mi];
        cm_vec_matrix *m = NULL;
        int rc = cm_vec_matrix_new(&m, rows, TK_N, TK_DIM, &mo);
        EXPECT(rc == CM_OK, "matrix_new %s: %s %s", names[mi], cm_status_name(rc),
               cm_error_message());
        if (rc != CM_OK)
            continue;
        int64_t ids[TK_NQ * TK_K], bids[TK_NQ * TK_K];
        float dist[TK_NQ * TK_K], bdist[TK_NQ * TK_K];
        for (size_t q = 0; q < TK_NQ; q++) {
            const float *qv = qs + q * TK_DIM;
            rc = cm_vec_matrix_search(ids + q * TK_K, dist + q * TK_K, m, qv, TK_DIM, TK_K, NULL);
            EXPECT(rc == CM_OK, "matrix_search %s: %s", names[mi], cm_error_message());
            scored want[TK_K];
            brute_force(want, metrics[mi], rows, TK_N, TK_DIM, qv, TK_K, tmp);
            double scale = metrics[mi] == CM_VEC_COSINE ? 1.0 : fabs(want[0].dist) + 1.0;
            double tol = 2e-5 * scale;
            for (size_t r = 0; r < TK_K; r++) {
                int64_t id = ids[q * TK_K + r];
                EXPECT(id >= 0 && id < TK_N, "%s q=%zu rank %zu: id %lld", names[mi], q, r,
                       (long long)id);
                if (id < 0 || id >= TK_N)
                    continue;
                double got = dist[q * TK_K + r];
                double truth = ref_dist(metrics[mi], qv, rows + (size_t)id * TK_DIM, TK_DIM);
                /* the row is the true r-th nearest, or ties it within tolerance */
                EXPECT(id == want[r].id || fabs(truth - want[r].dist) <= tol,
                       "%s q=%zu rank %zu: id %lld (%.9g) want %lld (%.9g)", names[mi], q, r,
                       (long long)id, truth, (long long)want[r].id, want[r].dist);
                EXPECT(fabs(got - truth) <= tol, "%s q=%zu rank %zu: distance %.9g want %.9g",
                       names[mi], q, r, got, truth);
            }
        }
        /* a batch gives the single-query results, bit for bit */
        rc = cm_vec_matrix_search_batch(bids, bdist, m, qs, TK_NQ, TK_DIM, TK_K, NULL);
        EXPECT(rc == CM_OK, "matrix_search_batch %s: %s", names[mi], cm_error_message());
        EXPECT(memcmp(bids, ids, sizeof ids) == 0 && memcmp(bdist, dist, sizeof dist) == 0,
               "%s: batch differs from single queries", names[mi]);
        cm_vec_matrix_free(m);
    }
    /* compressed scans (bf16, int8 kernels) with exact re-ranking */
    const int storages[] = {CM_VEC_STORE_BF16, CM_VEC_STORE_I8};
    for (int si = 0; si < 2; si++) {
        cm_vec_matrix_options mo = CM_VEC_MATRIX_OPTIONS_INIT;
        mo.metric = CM_VEC_COSINE;
        mo.storage = storages[si];
        cm_vec_matrix *m = NULL;
        int rc = cm_vec_matrix_new(&m, rows, TK_N, TK_DIM, &mo);
        EXPECT(rc == CM_OK, "matrix_new storage %d: %s", storages[si], cm_error_message());
        if (rc != CM_OK)
            continue;
        size_t hits = 0;
        for (size_t q = 0; q < TK_NQ; q++) {
            int64_t ids[TK_K];
            scored want[TK_K];
            const float *qv = qs + q * TK_DIM;
            EXPECT(cm_vec_matrix_search(ids, NULL, m, qv, TK_DIM, TK_K, NULL) == CM_OK,
                   "search storage %d", storages[si]);
            brute_force(want, CM_VEC_COSINE, rows, TK_N, TK_DIM, qv, TK_K, tmp);
            for (size_t a = 0; a < TK_K; a++)
                for (size_t b = 0; b < TK_K; b++)
                    hits += ids[a] == want[b].id;
        }
        double recall = (double)hits / (TK_NQ * TK_K);
        printf("#   storage %s rerank 4: recall@%d %.3f\n", si ? "int8" : "bf16", TK_K, recall);
        EXPECT(recall >= 0.95, "storage %d: recall %.3f", storages[si], recall);
        cm_vec_matrix_free(m);
    }
out:
    free(rows);
    free(qs);
    free(tmp);
}

#define HN_N 2000
#define HN_DIM 30
#define HN_NQ 50
#define HN_K 10
#define HN_CLUSTERS 20

static void t_hnsw_recall(void)
{
    float *centres = malloc(sizeof(float) * HN_CLUSTERS * HN_DIM);
    float *x = malloc(sizeof(float) * HN_N * HN_DIM);
    float *qs = malloc(sizeof(float) * HN_NQ * HN_DIM);
    int64_t *ids = malloc(sizeof(int64_t) * HN_N);
    scored *tmp = malloc(sizeof(scored) * HN_N);
    if (!centres || !x || !qs || !ids || !tmp) {
        EXPECT(0, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < HN_CLUSTERS * HN_DIM; i++)
        centres[i] = (float)(3.0 * grand());
    make_clustered(x, HN_N, HN_DIM, centres, HN_CLUSTERS);
    make_clustered(qs, HN_NQ, HN_DIM, centres, HN_CLUSTERS);
    for (size_t i = 0; i < HN_N; i++)
        ids[i] = (int64_t)i;
    const int metrics[] = {CM_VEC_L2, CM_VEC_COSINE};
    for (int mi = 0; mi < 2; mi++) {
        cm_vec_index_options io = CM_VEC_INDEX_OPTIONS_INIT;
        io.metric = metrics[mi];
        io.ef_construction = 64;
        cm_vec_index *ix = NULL;
        int rc = cm_vec_index_new(&ix, HN_DIM, &io);
        EXPECT(rc == CM_OK, "index_new: %s", cm_error_message());
        if (rc != CM_OK)
            continue;
        rc = cm_vec_index_add_batch(ix, ids, x, HN_N, HN_DIM);
        EXPECT(rc == CM_OK, "index_add_batch: %s %s", cm_status_name(rc), cm_error_message());
        EXPECT(cm_vec_index_count(ix) == HN_N, "count %zu", cm_vec_index_count(ix));
        cm_vec_search_options so = CM_VEC_SEARCH_OPTIONS_INIT;
        so.ef = 64;
        size_t hits = 0;
        for (size_t q = 0; q < HN_NQ; q++) {
            int64_t got[HN_K];
            float dist[HN_K];
            size_t found = 0;
            scored want[HN_K];
            const float *qv = qs + q * HN_DIM;
            rc = cm_vec_index_search(got, dist, &found, ix, qv, HN_DIM, HN_K, &so);
            EXPECT(rc == CM_OK && found == HN_K, "index_search: rc %d found %zu", rc, found);
            brute_force(want, metrics[mi], x, HN_N, HN_DIM, qv, HN_K, tmp);
            for (size_t a = 0; a < found && a < HN_K; a++) {
                for (size_t b = 0; b < HN_K; b++)
                    hits += got[a] == want[b].id;
                if (a > 0)
                    EXPECT(dist[a] >= dist[a - 1], "results not sorted");
            }
        }
        double recall = (double)hits / (HN_NQ * HN_K);
        printf("#   hnsw %s n=%d dim=%d ef=64: recall@%d %.3f\n",
               metrics[mi] == CM_VEC_L2 ? "l2" : "cosine", HN_N, HN_DIM, HN_K, recall);
        EXPECT(recall >= 0.9, "hnsw recall %.3f < 0.9", recall);
        cm_vec_index_free(ix);
    }
out:
    free(centres);
    free(x);
    free(qs);
    free(ids);
    free(tmp);
}

/* ------------------------------------------------------------------ main */

typedef struct {
    const char *name;
    void (*fn)(void);
    int needs_neon;
} test_case;

static const test_case tests[] = {
    {"dispatch table has a neon row and a scalar row", t_dispatch_rows, 0},
    {"default implementation is neon; public kernels use it", t_default_impl_is_neon, 1},
    {"CM_VEC_IMPL selects scalar/neon, falls back on unknown names", t_env_selects_impl, 0},
    {"f32 dot/l2sq/cos match scalar, lengths 0..200+, offsets +0/+1", t_f32_kernels, 1},
    {"bf16 dot/l2sq/cos match scalar, lengths 0..200+, offsets +0/+1", t_bf16_kernels, 1},
    {"f16 dot/l2sq/cos match scalar, lengths 0..200+, offsets +0/+1", t_f16_kernels, 1},
    {"int8 dot/moments equal scalar exactly, lengths 0..200+, offsets +0/+1", t_i8_kernels, 1},
    {"int8 exact across the 2^18 flush at the largest products", t_i8_long_extremes, 1},
    {"4-row f32 kernels match scalar and the pair kernels", t_four_row_kernels, 1},
    {"optional scan kernels match the pair kernels", t_scan_kernels, 1},
    {"tiny, huge and subnormal vectors agree with scalar", t_tiny_huge_subnormal, 1},
    {"zero vectors: cosine 0 (never NaN), dot 0, l2 0", t_zero_vectors, 1},
    {"NaN and Inf propagate as in scalar", t_nan_inf, 1},
    {"no kernel reads past the end of its vectors (guard page)", t_no_read_past_end, 1},
    {"exact top-k (cm_vec_matrix) equals brute force", t_exact_topk, 0},
    {"HNSW recall@10 >= 0.9 on clustered data", t_hnsw_recall, 0},
};

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--print-impl") == 0) {
        printf("%s %s\n", cm_vec_impl_name(), cm_vec_impl_requested());
        return 0;
    }
    self_exe = argv[0];
    setvbuf(stdout, NULL, _IOLBF, 0);
    size_t n = sizeof tests / sizeof tests[0];
    N_ = row_named("neon");
    S_ = cm__vec_impl_at(cm__vec_impl_count() - 1);
    printf("1..%zu\n", n);
    int failed = 0;
    for (size_t i = 0; i < n; i++) {
        cur_failures = 0;
        cur_skip = NULL;
        if (tests[i].needs_neon && !N_)
            EXPECT(0, "no neon row");
        else
            tests[i].fn();
        if (cur_failures) {
            printf("not ok %zu - %s\n", i + 1, tests[i].name);
            if (cur_failures > 10)
                printf("#   (%d failures in all)\n", cur_failures);
            failed++;
        } else if (cur_skip) {
            printf("ok %zu - %s # SKIP %s\n", i + 1, tests[i].name, cur_skip);
        } else {
            printf("ok %zu - %s\n", i + 1, tests[i].name);
        }
    }
    printf("# %zu passed, %d failed\n", n - (size_t)failed, failed);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
