/*
 * vec_int.h - internals of the vec module: the kernel operation table that
 * each ISA fills, the dispatcher's accessors, and scalar reference entry
 * points. Included by ISA files: it must hold no non-static inline code.
 */
#ifndef CM_VEC_INT_H
#define CM_VEC_INT_H

#include <community/vec.h>

#include <stddef.h>
#include <stdint.h>

typedef float (*cm__vec_f32_fn)(const float *a, const float *b, size_t d);
typedef float (*cm__vec_u16_fn)(const uint16_t *a, const uint16_t *b, size_t d);
typedef int64_t (*cm__vec_i8dot_fn)(const int8_t *a, const int8_t *b, size_t d);
/* out[0] = sum a*b, out[1] = sum a*a, out[2] = sum b*b (exact). */
typedef void (*cm__vec_i8mom_fn)(const int8_t *a, const int8_t *b, size_t d, int64_t out[3]);
/* One query against four rows: out[j] = kernel(q, rows[j]). */
typedef void (*cm__vec_f32x4_fn)(const float *q, const float *const rows[4], size_t d,
                                 float out[4]);
/* One query against eight rows: out[j] = kernel(q, rows[j]). */
typedef void (*cm__vec_u16x8_fn)(const uint16_t *q, const uint16_t *const rows[8], size_t d,
                                 float out[8]);
typedef void (*cm__vec_i8x4_fn)(const int8_t *q, const int8_t *const rows[4], size_t d,
                                int64_t out[4]);
/*
 * Four queries against six rows (a register tile for batches):
 * out[4 * i + j] = kernel(q[i], rows[j]) for rows j < 4, and
 * out[16 + 2 * i + (j - 4)] for rows 4 and 5.
 */
typedef void (*cm__vec_f32x4x6_fn)(const float *const q[4], const float *const rows[6], size_t d,
                                   float out[24]);

/*
 * The kernel table. Each ISA provides cm__vec_init_<isa>(ops), which
 * overwrites the entries it implements; the rest stay scalar.
 *
 * The entries after `l2sq4_f32` are optional scan kernels: NULL in the
 * scalar table and in any ISA without them, in which case callers use the
 * pair (or 4-row) kernels above instead. Their specification is the pair
 * kernel applied to each (query, row) pair, within the pair kernel's
 * tolerance.
 */
typedef struct cm__vec_ops {
    const char *name;
    cm__vec_f32_fn dot_f32, l2sq_f32, cos_f32;
    cm__vec_u16_fn dot_bf16, l2sq_bf16, cos_bf16;
    cm__vec_u16_fn dot_f16, l2sq_f16, cos_f16;
    cm__vec_i8dot_fn dot_i8;
    cm__vec_i8mom_fn moments_i8;
    cm__vec_f32x4_fn dot4_f32, l2sq4_f32;
    /* optional (may be NULL) */
    cm__vec_u16x8_fn dot8_bf16, l2sq8_bf16;     /* one bf16 query, eight bf16 rows */
    cm__vec_i8x4_fn dot4_i8;                    /* one int8 query, four rows (exact) */
    cm__vec_f32x4x6_fn dot4x6_f32, l2sq4x6_f32; /* four queries, six rows (batches) */
} cm__vec_ops;

/* ---- dispatch.c ---- */

/* The table chosen for this process (never NULL). */
const cm__vec_ops *cm__vec_ops_get(void);
/* Every implementation row, best first, scalar last: i < cm__vec_impl_count().
 * cm__vec_impl_at() returns NULL for a row this CPU or build cannot run. */
size_t cm__vec_impl_count(void);
const cm__vec_ops *cm__vec_impl_at(size_t i);
const char *cm__vec_impl_row_name(size_t i);

/* ---- per-ISA initialisers (lib/vec/<arch>/) ---- */
void cm__vec_init_avx2(cm__vec_ops *ops);
void cm__vec_init_avx512(cm__vec_ops *ops);
void cm__vec_init_avx512bf16(cm__vec_ops *ops);
void cm__vec_init_avx512vnni(cm__vec_ops *ops);
void cm__vec_init_neon(cm__vec_ops *ops);

/* ---- kernels_scalar.c: the specification ---- */
void cm__vec_init_scalar(cm__vec_ops *ops);
float cm__vec_cos_f32_scalar(const float *a, const float *b, size_t d);
float cm__vec_cos_bf16_scalar(const uint16_t *a, const uint16_t *b, size_t d);
float cm__vec_cos_f16_scalar(const uint16_t *a, const uint16_t *b, size_t d);

/* Shared cosine finish: 0 for a zero vector, NaN stays NaN, clamped to
 * [-1, 1]. Implemented in kernels_scalar.c (no -m flags). */
float cm__vec_cos_finish(double ab, double aa, double bb);

/* ---- convert.c ---- */
float cm__vec_bf16_to_f32_1(uint16_t h);
uint16_t cm__vec_f32_to_bf16_1(float f);
float cm__vec_f16_to_f32_1(uint16_t h);
uint16_t cm__vec_f32_to_f16_1(float f);

/*
 * ISA cosine kernels accumulate the norms in f32. When either norm falls
 * outside [CM__VEC_COS_SAFE_MIN, CM__VEC_COS_SAFE_MAX] (underflow, overflow,
 * NaN) they return the scalar result instead, so that every implementation
 * agrees on tiny, huge and zero vectors.
 */
#define CM__VEC_COS_SAFE_MIN 1e-30f
#define CM__VEC_COS_SAFE_MAX 1e30f

/*
 * The cosine finish of the ISA kernels, inlined into them: lanes 0, 1, 2
 * of `sums` hold sum(a*b), sum(a*a), sum(b*b) in f32. Returns 1 and the
 * clamped cosine when both norms are in the safe range (aa * bb cannot
 * overflow or underflow a double there), 0 when the caller must take the
 * scalar path. Agrees with cm__vec_cos_finish() to a double rounding.
 */
#define CM__VEC_COS_FINISH_SSE(sums, out)                                                          \
    (cm__vec_cos_finish_fast(_mm_cvtss_f32(sums), _mm_cvtss_f32(_mm_movehdup_ps(sums)),            \
                             _mm_cvtss_f32(_mm_movehl_ps((sums), (sums))), (out)))

static inline int cm__vec_cos_finish_fast(float ab, float aa, float bb, float *out)
{
    if (!(aa >= CM__VEC_COS_SAFE_MIN && aa <= CM__VEC_COS_SAFE_MAX && bb >= CM__VEC_COS_SAFE_MIN &&
          bb <= CM__VEC_COS_SAFE_MAX))
        return 0;
    double r = (double)ab / __builtin_sqrt((double)aa * (double)bb);
    *out = (float)(r > 1.0 ? 1.0 : (r < -1.0 ? -1.0 : r));
    return 1;
}

#endif /* CM_VEC_INT_H */
