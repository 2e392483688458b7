/*
 * kernels.c - bench_vec_kernels: pair-kernel throughput with L1-hot data
 * and accuracy against a double reference, libcommunity's public kernels
 * against SimSIMD's when built with VB_SIMSIMD (bench/vec/run.sh compiles
 * this file with SimSIMD's C header, -O3 -march=native).
 *
 *   bench_vec_kernels [--rounds R] [--ms MS] [--offset BYTES] [--json FILE]
 *
 * For each kernel and dimension a pool of vectors that fits in 24 KiB (L1)
 * is cycled through pairs (i, i+1). The pool starts on a 64-byte boundary,
 * as the rows of an embedding table do, or --offset bytes after one. Every
 * round times a batch of about MS milliseconds of each implementation in
 * turn (interleaved, the order alternating, so machine noise hits both),
 * and the best and median batch rates are reported. SimSIMD's functions
 * are inlined into their loop (its header-only mode); libcommunity is
 * called through its exported, runtime-dispatched API.
 *
 * Accuracy, over 2000 pairs of synthetic embeddings (datagen.h) and 2000
 * of uniform [-1, 1] vectors, against a double reference computed from the
 * exact inputs (bf16 decoded, int8 as integers): cosine, max absolute
 * error; dot, max |error| / sum |a[i] b[i]|; l2sq, max relative error.
 */
#include "common.h"
#include "datagen.h"

#include <community/vec.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef VB_SIMSIMD
#include <simsimd/simsimd.h>
#endif

enum { K_COS_F32, K_DOT_F32, K_L2_F32, K_COS_BF16, K_DOT_BF16, K_COS_I8, K_COUNT };
static const char *const kname[K_COUNT] = {"cos_f32",  "dot_f32",  "l2sq_f32",
                                           "cos_bf16", "dot_bf16", "cos_i8"};
static const size_t kelt[K_COUNT] = {4, 4, 4, 2, 2, 1};

/* ---- the measured calls ---- */

static inline double cm_call(int k, const void *a, const void *b, size_t d)
{
    switch (k) {
        case K_COS_F32:
            return cm_vec_cosine_f32(a, b, d);
        case K_DOT_F32:
            return cm_vec_dot_f32(a, b, d);
        case K_L2_F32:
            return cm_vec_l2sq_f32(a, b, d);
        case K_COS_BF16:
            return cm_vec_cosine_bf16(a, b, d);
        case K_DOT_BF16:
            return cm_vec_dot_bf16(a, b, d);
        default:
            return cm_vec_cosine_i8(a, 1.0f, b, 1.0f, d);
    }
}

#ifdef VB_SIMSIMD
/* SimSIMD returns cosine distance (1 - similarity); convert for accuracy. */
static inline double ss_call(int k, const void *a, const void *b, size_t d)
{
    simsimd_distance_t r = 0;
    switch (k) {
        case K_COS_F32:
            simsimd_cos_f32(a, b, d, &r);
            return 1.0 - r;
        case K_DOT_F32:
            simsimd_dot_f32(a, b, d, &r);
            return r;
        case K_L2_F32:
            simsimd_l2sq_f32(a, b, d, &r);
            return r;
        case K_COS_BF16:
            simsimd_cos_bf16(a, b, d, &r);
            return 1.0 - r;
        case K_DOT_BF16:
            simsimd_dot_bf16(a, b, d, &r);
            return r;
        default:
            simsimd_cos_i8(a, b, d, &r);
            return 1.0 - r;
    }
}

static const char *ss_kernel_name(int k)
{
    switch (k) {
        case K_COS_BF16:
        case K_DOT_BF16:
            return SIMSIMD_TARGET_GENOA ? "genoa" : SIMSIMD_TARGET_HASWELL ? "haswell" : "serial";
        case K_COS_I8:
            return SIMSIMD_TARGET_ICE ? "ice" : SIMSIMD_TARGET_HASWELL ? "haswell" : "serial";
        default:
            return SIMSIMD_TARGET_SKYLAKE   ? "skylake"
                   : SIMSIMD_TARGET_HASWELL ? "haswell"
                                            : "serial";
    }
}
#endif

/*
 * One timed batch. A macro per kernel so that the call is direct (and, for
 * SimSIMD's header, inlined); the running sum keeps results alive without
 * chaining one call on the previous one.
 */
#define DEFINE_LOOP(fname, call, K)                                                                \
    static double fname(const unsigned char *pool, size_t P, size_t d, size_t iters)               \
    {                                                                                              \
        size_t stride = d * kelt[K];                                                               \
        double acc = 0;                                                                            \
        size_t i = 0, j = 1 % P;                                                                   \
        double t0 = vb_now();                                                                      \
        for (size_t it = 0; it < iters; it++) {                                                    \
            acc += call(K, pool + i * stride, pool + j * stride, d);                               \
            i = j;                                                                                 \
            j = j + 1 == P ? 0 : j + 1;                                                            \
        }                                                                                          \
        double t = vb_now() - t0;                                                                  \
        vb_sink += acc;                                                                            \
        return t;                                                                                  \
    }

#define DEFINE_LOOPS(call, pfx)                                                                    \
    DEFINE_LOOP(pfx##_cos_f32, call, K_COS_F32)                                                    \
    DEFINE_LOOP(pfx##_dot_f32, call, K_DOT_F32)                                                    \
    DEFINE_LOOP(pfx##_l2_f32, call, K_L2_F32)                                                      \
    DEFINE_LOOP(pfx##_cos_bf16, call, K_COS_BF16)                                                  \
    DEFINE_LOOP(pfx##_dot_bf16, call, K_DOT_BF16)                                                  \
    DEFINE_LOOP(pfx##_cos_i8, call, K_COS_I8)

typedef double (*loop_fn)(const unsigned char *, size_t, size_t, size_t);

DEFINE_LOOPS(cm_call, cm)
static const loop_fn cm_loops[K_COUNT] = {cm_cos_f32,  cm_dot_f32,  cm_l2_f32,
                                          cm_cos_bf16, cm_dot_bf16, cm_cos_i8};
#ifdef VB_SIMSIMD
DEFINE_LOOPS(ss_call, ss)
static const loop_fn ss_loops[K_COUNT] = {ss_cos_f32,  ss_dot_f32,  ss_l2_f32,
                                          ss_cos_bf16, ss_dot_bf16, ss_cos_i8};
#define N_IMPL 2
#else
#define N_IMPL 1
#endif

static loop_fn get_loop(int k, int impl)
{
#ifdef VB_SIMSIMD
    if (impl == 1)
        return ss_loops[k];
#endif
    (void)impl;
    return cm_loops[k];
}

/* ---- reference and accuracy ---- */

static double decode(int k, const void *v, size_t i)
{
    if (kelt[k] == 4)
        return ((const float *)v)[i];
    if (kelt[k] == 2) {
        float f;
        uint16_t h = ((const uint16_t *)v)[i];
        cm_vec_bf16_to_f32(&f, &h, 1);
        return f;
    }
    return ((const int8_t *)v)[i];
}

static double reference(int k, const void *a, const void *b, size_t d)
{
    double ab = 0, aa = 0, bb = 0, l2 = 0;
    for (size_t i = 0; i < d; i++) {
        double x = decode(k, a, i), y = decode(k, b, i);
        ab += x * y;
        aa += x * x;
        bb += y * y;
        l2 += (x - y) * (x - y);
    }
    switch (k) {
        case K_DOT_F32:
        case K_DOT_BF16:
            return ab;
        case K_L2_F32:
            return l2;
        default:
            return (aa == 0 || bb == 0) ? 0 : ab / sqrt(aa * bb);
    }
}

/* Byte offset of every pool from a 64-byte boundary (--offset). */
static size_t g_offset;

/* Vectors of kernel k's element type from f32 rows (count x d), starting
 * g_offset bytes after a 64-byte boundary (rows of d = 768 or 1536 keep that
 * alignment); *base_out receives the pointer to free(). */
static void *encode(int k, const float *rows, size_t count, size_t d, void **base_out)
{
    size_t nd = count * d;
    unsigned char *base = aligned_alloc(64, (nd * kelt[k] + g_offset + 127) / 64 * 64);
    *base_out = base;
    if (!base)
        return NULL;
    void *out = base + g_offset;
    if (kelt[k] == 4) {
        memcpy(out, rows, nd * 4);
    } else if (kelt[k] == 2) {
        cm_vec_f32_to_bf16(out, rows, nd);
    } else {
        float scale;
        for (size_t r = 0; r < count; r++)
            (void)cm_vec_f32_to_i8((int8_t *)out + r * d, &scale, rows + r * d, d);
    }
    return out;
}

typedef struct {
    double err_emb, err_uni; /* max abs error: embeddings, uniform data */
} accuracy;

static accuracy measure_accuracy(int k, int impl, const float *emb, const float *uni, size_t pairs,
                                 size_t d)
{
    accuracy acc = {0, 0};
    for (int set = 0; set < 2; set++) {
        void *vbase;
        unsigned char *v = encode(k, set ? uni : emb, pairs + 1, d, &vbase);
        size_t stride = d * kelt[k];
        double worst = 0;
        for (size_t p = 0; p < pairs; p++) {
            const void *a = v + p * stride, *b = v + (p + 1) * stride;
            double ref = reference(k, a, b, d);
            double got = impl == 0 ? cm_call(k, a, b, d) : 0;
#ifdef VB_SIMSIMD
            if (impl == 1)
                got = ss_call(k, a, b, d);
#endif
            double e = fabs(got - ref);
            if (k == K_DOT_F32 || k == K_DOT_BF16) {
                double sabs = 0; /* the condition of the sum */
                for (size_t i = 0; i < d; i++)
                    sabs += fabs(decode(k, a, i) * decode(k, b, i));
                e /= sabs > 0 ? sabs : 1;
            } else if (k == K_L2_F32) {
                e /= ref > 0 ? ref : 1;
            }
            if (e > worst)
                worst = e;
        }
        if (set)
            acc.err_uni = worst;
        else
            acc.err_emb = worst;
        free(vbase);
    }
    return acc;
}

/* ---- driver ---- */

static void usage(void)
{
    fprintf(stderr,
            "usage: bench_vec_kernels [--rounds R] [--ms MS] [--offset BYTES] [--json FILE]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    int rounds = 15;
    double ms = 2.0;
    const char *json_path = NULL;
    for (int i = 1; i < argc; i++) {
        if (i + 1 >= argc)
            usage();
        if (!strcmp(argv[i], "--rounds"))
            rounds = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--ms"))
            ms = atof(argv[++i]);
        else if (!strcmp(argv[i], "--json"))
            json_path = argv[++i];
        else if (!strcmp(argv[i], "--offset"))
            g_offset = (size_t)atoi(argv[++i]) % 64;
        else
            usage();
    }
    if (rounds < 1)
        rounds = 1;
    FILE *js = json_path ? fopen(json_path, "w") : NULL;
    char cpu[256];
    vb_cpu_model(cpu, sizeof cpu);
    printf("# vec pair kernels, L1-hot, vectors %zu bytes after a 64-byte boundary; libcommunity "
           "impl=%s; cpu=%s\n",
           g_offset, cm_vec_impl_name(), cpu);
#ifdef VB_SIMSIMD
    printf("# peer: SimSIMD %d.%d.%d header-only, -O3 -march=native\n", SIMSIMD_VERSION_MAJOR,
           SIMSIMD_VERSION_MINOR, SIMSIMD_VERSION_PATCH);
#endif
    printf("%-9s %5s %-8s %10s %10s %10s %10s %7s %9s %9s\n", "kernel", "d", "peer", "cm_best",
           "cm_med", "peer_best", "peer_med", "ratio", "cm_err", "peer_err");

    const size_t dims[] = {768, 1536};
    const size_t pairs = 2000;
    for (size_t di = 0; di < sizeof dims / sizeof dims[0]; di++) {
        size_t d = dims[di];
        /* accuracy inputs: synthetic embeddings and uniform [-1, 1] values */
        vb_gen_params gp;
        vb_gen_params_default(&gp, d);
        vb_gen *g = vb_gen_new(&gp);
        float *emb = malloc((pairs + 1) * d * sizeof(float));
        float *uni = malloc((pairs + 1) * d * sizeof(float));
        if (!g || !emb || !uni)
            return 1;
        vb_gen_rows(g, VB_STREAM_BASE, 0, pairs + 1, emb, NULL);
        uint64_t s = 0x1234567u + d;
        for (size_t i = 0; i < (pairs + 1) * d; i++) {
            s = s * 6364136223846793005ull + 1442695040888963407ull;
            uni[i] = (float)((double)(s >> 11) * 0x1p-52 - 1.0);
        }
        for (int k = 0; k < K_COUNT; k++) {
            size_t P = (24u << 10) / (d * kelt[k]);
            if (P < 2)
                P = 2;
            if (P > 16)
                P = 16;
            void *pool_base;
            unsigned char *pool = encode(k, emb, P, d, &pool_base);
            if (!pool)
                return 1;
            /* calibrate: iterations for about `ms` per batch (libcommunity) */
            size_t iters = 1000;
            for (;;) {
                double t = cm_loops[k](pool, P, d, iters);
                if (t >= ms * 1e-3 * 0.5 || iters > (1u << 28))
                    break;
                iters *= 2;
            }
            double rate[N_IMPL][64];
            int R = rounds > 64 ? 64 : rounds;
            for (int impl = 0; impl < N_IMPL; impl++)
                (void)get_loop(k, impl)(pool, P, d, iters); /* warm up */
            for (int r = 0; r < R; r++) {
                for (int impl = 0; impl < N_IMPL; impl++) {
                    /* alternate which goes first so neither always follows the other */
                    int which = (r & 1) ? N_IMPL - 1 - impl : impl;
                    rate[which][r] = (double)iters / get_loop(k, which)(pool, P, d, iters) * 1e-6;
                }
            }
            double best[N_IMPL], med[N_IMPL];
            accuracy acc[N_IMPL];
            for (int impl = 0; impl < N_IMPL; impl++) {
                double neg[64];
                for (int r = 0; r < R; r++)
                    neg[r] = -rate[impl][r];
                best[impl] = -vb_min(neg, (size_t)R);
                med[impl] = vb_median(rate[impl], (size_t)R);
                acc[impl] = measure_accuracy(k, impl, emb, uni, pairs, d);
            }
            double cm_err = fmax(acc[0].err_emb, acc[0].err_uni);
#ifdef VB_SIMSIMD
            double ratio = best[0] / best[1];
            double peer_err = fmax(acc[1].err_emb, acc[1].err_uni);
            printf("%-9s %5zu %-8s %10.2f %10.2f %10.2f %10.2f %7.3f %9.2e %9.2e\n", kname[k], d,
                   ss_kernel_name(k), best[0], med[0], best[1], med[1], ratio, cm_err, peer_err);
            if (js)
                fprintf(js,
                        "{\"bench\":\"kernel\",\"kernel\":\"%s\",\"d\":%zu,\"impl\":\"%s\","
                        "\"cm_best_mps\":%.4f,\"cm_median_mps\":%.4f,\"peer\":\"simsimd-%s\","
                        "\"peer_best_mps\":%.4f,\"peer_median_mps\":%.4f,\"ratio_best\":%.4f,"
                        "\"ratio_median\":%.4f,\"cm_err_emb\":%.3e,\"cm_err_uniform\":%.3e,"
                        "\"peer_err_emb\":%.3e,\"peer_err_uniform\":%.3e,\"rounds\":%d,"
                        "\"iters\":%zu,\"pool\":%zu,\"offset\":%zu}\n",
                        kname[k], d, cm_vec_impl_name(), best[0], med[0], ss_kernel_name(k),
                        best[1], med[1], ratio, med[0] / med[1], acc[0].err_emb, acc[0].err_uni,
                        acc[1].err_emb, acc[1].err_uni, R, iters, P, g_offset);
#else
            printf("%-9s %5zu %-8s %10.2f %10.2f %10s %10s %7s %9.2e %9s\n", kname[k], d, "-",
                   best[0], med[0], "-", "-", "-", cm_err, "-");
            if (js)
                fprintf(js,
                        "{\"bench\":\"kernel\",\"kernel\":\"%s\",\"d\":%zu,\"impl\":\"%s\","
                        "\"cm_best_mps\":%.4f,\"cm_median_mps\":%.4f,\"cm_err_emb\":%.3e,"
                        "\"cm_err_uniform\":%.3e,\"rounds\":%d,\"iters\":%zu,\"pool\":%zu}\n",
                        kname[k], d, cm_vec_impl_name(), best[0], med[0], acc[0].err_emb,
                        acc[0].err_uni, R, iters, P);
#endif
            fflush(stdout);
            free(pool_base);
        }
        free(emb);
        free(uni);
        vb_gen_free(g);
    }
    if (js)
        fclose(js);
    return 0;
}
