/*
 * kernels_avx512.c - AVX-512 F/BW/VL distance kernels (compiled with
 * -mavx512f -mavx512bw -mavx512vl only). 16 f32 lanes, masked loads for
 * every tail, so no scalar remainder loops. The BF16 and VNNI extensions
 * live in their own files. Called only through the dispatcher.
 *
 * Throughput notes: an FMA has a latency of four cycles and two can start
 * per cycle, so a loop needs about eight independent accumulators to keep
 * the FMA units busy. The pair kernels therefore run four accumulator sets
 * over 64 elements per iteration (cosine: dot and both norms per set, one
 * pass over the data), the batch kernels a 4 x 6 tile of (query, row)
 * accumulators that loads each query and row vector once per 24 FMAs.
 * Horizontal sums of several accumulators share their shuffles (hsum4,
 * hsum16).
 */
#include "../vec_int.h"

#include <immintrin.h>

static __mmask16 mask16(size_t r)
{
    return (__mmask16)((1u << r) - 1u);
} /* r < 16 */

/* ---- horizontal sums ---- */

/* Lanes 0..3 = the sums of a, b, c, d. */
static __m128 hsum4(__m512 a, __m512 b, __m512 c, __m512 d)
{
    /* per 128-bit block: [a0+a2, b0+b2, a1+a3, b1+b3] */
    __m512 ab = _mm512_add_ps(_mm512_unpacklo_ps(a, b), _mm512_unpackhi_ps(a, b));
    __m512 cd = _mm512_add_ps(_mm512_unpacklo_ps(c, d), _mm512_unpackhi_ps(c, d));
    /* per block: [a, b, c, d] partial sums */
    __m512 t = _mm512_add_ps(_mm512_shuffle_ps(ab, cd, _MM_SHUFFLE(1, 0, 1, 0)),
                             _mm512_shuffle_ps(ab, cd, _MM_SHUFFLE(3, 2, 3, 2)));
    __m256 h = _mm256_add_ps(_mm512_castps512_ps256(t),
                             _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(t), 1)));
    return _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
}

/* Lane i = the sum of v_i (16 vectors, passed by value so that they stay
 * in registers). */
static inline __m512 hsum16(__m512 v0, __m512 v1, __m512 v2, __m512 v3, __m512 v4, __m512 v5,
                            __m512 v6, __m512 v7, __m512 v8, __m512 v9, __m512 v10, __m512 v11,
                            __m512 v12, __m512 v13, __m512 v14, __m512 v15)
{
#define PAIR_(x, y) _mm512_add_ps(_mm512_unpacklo_ps(x, y), _mm512_unpackhi_ps(x, y))
#define QUAD_(s, t)                                                                                \
    _mm512_add_ps(_mm512_shuffle_ps(s, t, _MM_SHUFFLE(1, 0, 1, 0)),                                \
                  _mm512_shuffle_ps(s, t, _MM_SHUFFLE(3, 2, 3, 2)))
    /* per 128-bit block: partial sums of v[4m .. 4m+3], as in hsum4 */
    __m512 t0 = QUAD_(PAIR_(v0, v1), PAIR_(v2, v3));
    __m512 t1 = QUAD_(PAIR_(v4, v5), PAIR_(v6, v7));
    __m512 t2 = QUAD_(PAIR_(v8, v9), PAIR_(v10, v11));
    __m512 t3 = QUAD_(PAIR_(v12, v13), PAIR_(v14, v15));
#undef PAIR_
#undef QUAD_
    /* sum the four blocks of each t[m] into block m, as (B0 + B2) + (B1 + B3)
     * like hsum4, so that a tile and the 4-row kernel agree bit for bit */
    __m512 p = _mm512_add_ps(_mm512_shuffle_f32x4(t0, t1, _MM_SHUFFLE(1, 0, 1, 0)),
                             _mm512_shuffle_f32x4(t0, t1, _MM_SHUFFLE(3, 2, 3, 2)));
    __m512 q = _mm512_add_ps(_mm512_shuffle_f32x4(t2, t3, _MM_SHUFFLE(1, 0, 1, 0)),
                             _mm512_shuffle_f32x4(t2, t3, _MM_SHUFFLE(3, 2, 3, 2)));
    return _mm512_add_ps(_mm512_shuffle_f32x4(p, q, _MM_SHUFFLE(2, 0, 2, 0)),
                         _mm512_shuffle_f32x4(p, q, _MM_SHUFFLE(3, 1, 3, 1)));
}

/* ---- f32 pair kernels ---- */

static float dot_f32(const float *a, const float *b, size_t d)
{
    __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    size_t i = 0;
    for (; i + 64 <= d; i += 64) {
        s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
        s1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16), s1);
        s2 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 32), _mm512_loadu_ps(b + i + 32), s2);
        s3 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 48), _mm512_loadu_ps(b + i + 48), s3);
    }
    if (i + 32 <= d) {
        s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
        s1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16), s1);
        i += 32;
    }
    if (i + 16 <= d) {
        s2 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s2);
        i += 16;
    }
    if (i < d) {
        __mmask16 m = mask16(d - i);
        s3 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i), s3);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
}

#define L2_STEP(s, x, y)                                                                           \
    do {                                                                                           \
        __m512 t_ = _mm512_sub_ps((x), (y));                                                       \
        (s) = _mm512_fmadd_ps(t_, t_, (s));                                                        \
    } while (0)

static float l2sq_f32(const float *a, const float *b, size_t d)
{
    __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    size_t i = 0;
    for (; i + 64 <= d; i += 64) {
        L2_STEP(s0, _mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i));
        L2_STEP(s1, _mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16));
        L2_STEP(s2, _mm512_loadu_ps(a + i + 32), _mm512_loadu_ps(b + i + 32));
        L2_STEP(s3, _mm512_loadu_ps(a + i + 48), _mm512_loadu_ps(b + i + 48));
    }
    if (i + 32 <= d) {
        L2_STEP(s0, _mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i));
        L2_STEP(s1, _mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16));
        i += 32;
    }
    if (i + 16 <= d) {
        L2_STEP(s2, _mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i));
        i += 16;
    }
    if (i < d) {
        __mmask16 m = mask16(d - i);
        L2_STEP(s3, _mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i));
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
}

/* One cosine step: dot and both squared norms of 16 lanes. */
#define COS_STEP(k, x, y)                                                                          \
    do {                                                                                           \
        __m512 x_ = (x), y_ = (y);                                                                 \
        ab##k = _mm512_fmadd_ps(x_, y_, ab##k);                                                    \
        aa##k = _mm512_fmadd_ps(x_, x_, aa##k);                                                    \
        bb##k = _mm512_fmadd_ps(y_, y_, bb##k);                                                    \
    } while (0)

static float cos_f32(const float *a, const float *b, size_t d)
{
    __m512 ab0 = _mm512_setzero_ps(), ab1 = ab0, ab2 = ab0, ab3 = ab0;
    __m512 aa0 = ab0, aa1 = ab0, aa2 = ab0, aa3 = ab0;
    __m512 bb0 = ab0, bb1 = ab0, bb2 = ab0, bb3 = ab0;
    size_t i = 0;
    for (; i + 64 <= d; i += 64) {
        COS_STEP(0, _mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i));
        COS_STEP(1, _mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16));
        COS_STEP(2, _mm512_loadu_ps(a + i + 32), _mm512_loadu_ps(b + i + 32));
        COS_STEP(3, _mm512_loadu_ps(a + i + 48), _mm512_loadu_ps(b + i + 48));
    }
    if (i + 32 <= d) {
        COS_STEP(0, _mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i));
        COS_STEP(1, _mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16));
        i += 32;
    }
    if (i + 16 <= d) {
        COS_STEP(2, _mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i));
        i += 16;
    }
    if (i < d) {
        __mmask16 m = mask16(d - i);
        COS_STEP(3, _mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i));
    }
    __m128 s =
        hsum4(_mm512_add_ps(_mm512_add_ps(ab0, ab1), _mm512_add_ps(ab2, ab3)),
              _mm512_add_ps(_mm512_add_ps(aa0, aa1), _mm512_add_ps(aa2, aa3)),
              _mm512_add_ps(_mm512_add_ps(bb0, bb1), _mm512_add_ps(bb2, bb3)), _mm512_setzero_ps());
    float c;
    return CM__VEC_COS_FINISH_SSE(s, &c) ? c : cm__vec_cos_f32_scalar(a, b, d);
}

/* ---- 16-bit formats ---- */

/* Up to sixteen 16-bit values (m selects them) to f32 lanes. */
static __m512 load_bf16(__mmask16 m, const uint16_t *p)
{
    __m512i w = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, p));
    return _mm512_castsi512_ps(_mm512_slli_epi32(w, 16));
}

static __m512 load_f16(__mmask16 m, const uint16_t *p)
{
    return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, p));
}

#define U16_KERNELS(fmt, load)                                                                     \
    static float dot_##fmt(const uint16_t *a, const uint16_t *b, size_t d)                         \
    {                                                                                              \
        __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;                                \
        size_t i = 0;                                                                              \
        for (; i + 64 <= d; i += 64) {                                                             \
            s0 = _mm512_fmadd_ps(load(0xffff, a + i), load(0xffff, b + i), s0);                    \
            s1 = _mm512_fmadd_ps(load(0xffff, a + i + 16), load(0xffff, b + i + 16), s1);          \
            s2 = _mm512_fmadd_ps(load(0xffff, a + i + 32), load(0xffff, b + i + 32), s2);          \
            s3 = _mm512_fmadd_ps(load(0xffff, a + i + 48), load(0xffff, b + i + 48), s3);          \
        }                                                                                          \
        for (; i < d; i += 16) {                                                                   \
            __mmask16 m = d - i >= 16 ? (__mmask16)0xffff : mask16(d - i);                         \
            s0 = _mm512_fmadd_ps(load(m, a + i), load(m, b + i), s0);                              \
        }                                                                                          \
        return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));  \
    }                                                                                              \
    static float l2sq_##fmt(const uint16_t *a, const uint16_t *b, size_t d)                        \
    {                                                                                              \
        __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;                                \
        size_t i = 0;                                                                              \
        for (; i + 64 <= d; i += 64) {                                                             \
            L2_STEP(s0, load(0xffff, a + i), load(0xffff, b + i));                                 \
            L2_STEP(s1, load(0xffff, a + i + 16), load(0xffff, b + i + 16));                       \
            L2_STEP(s2, load(0xffff, a + i + 32), load(0xffff, b + i + 32));                       \
            L2_STEP(s3, load(0xffff, a + i + 48), load(0xffff, b + i + 48));                       \
        }                                                                                          \
        for (; i < d; i += 16) {                                                                   \
            __mmask16 m = d - i >= 16 ? (__mmask16)0xffff : mask16(d - i);                         \
            L2_STEP(s0, load(m, a + i), load(m, b + i));                                           \
        }                                                                                          \
        return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));  \
    }

#define U16_COS(fmt, load)                                                                         \
    static float cos_##fmt(const uint16_t *a, const uint16_t *b, size_t d)                         \
    {                                                                                              \
        __m512 ab0 = _mm512_setzero_ps(), ab1 = ab0, aa0 = ab0, aa1 = ab0, bb0 = ab0, bb1 = ab0;   \
        size_t i = 0;                                                                              \
        for (; i + 32 <= d; i += 32) {                                                             \
            COS_STEP(0, load(0xffff, a + i), load(0xffff, b + i));                                 \
            COS_STEP(1, load(0xffff, a + i + 16), load(0xffff, b + i + 16));                       \
        }                                                                                          \
        for (; i < d; i += 16) {                                                                   \
            __mmask16 m = d - i >= 16 ? (__mmask16)0xffff : mask16(d - i);                         \
            COS_STEP(0, load(m, a + i), load(m, b + i));                                           \
        }                                                                                          \
        __m128 s_ = hsum4(_mm512_add_ps(ab0, ab1), _mm512_add_ps(aa0, aa1),                        \
                          _mm512_add_ps(bb0, bb1), _mm512_setzero_ps());                           \
        float c;                                                                                   \
        return CM__VEC_COS_FINISH_SSE(s_, &c) ? c : cm__vec_cos_##fmt##_scalar(a, b, d);           \
    }

U16_KERNELS(bf16, load_bf16)
U16_KERNELS(f16, load_f16)
U16_COS(f16, load_f16)

/*
 * bf16 cosine: each 32-bit lane of a 512-bit load holds two bf16 values;
 * a shift gives the even one as f32, a mask the odd one, and six FMAs per
 * 32 pairs accumulate the dot and both norms (exact widening; subnormals
 * kept). Three accumulator sets, 96 elements per iteration.
 */
#define SPLIT_BF16(v, lo, hi)                                                                      \
    do {                                                                                           \
        __m512i w_ = (v);                                                                          \
        (lo) = _mm512_castsi512_ps(_mm512_slli_epi32(w_, 16));                                     \
        (hi) = _mm512_castsi512_ps(_mm512_and_si512(w_, _mm512_set1_epi32((int)0xffff0000u)));     \
    } while (0)

#define COS_BF16_STEP(k, x, y)                                                                     \
    do {                                                                                           \
        __m512 xl_, xh_, yl_, yh_;                                                                 \
        SPLIT_BF16(x, xl_, xh_);                                                                   \
        SPLIT_BF16(y, yl_, yh_);                                                                   \
        ab##k = _mm512_fmadd_ps(xl_, yl_, ab##k);                                                  \
        aa##k = _mm512_fmadd_ps(xl_, xl_, aa##k);                                                  \
        bb##k = _mm512_fmadd_ps(yl_, yl_, bb##k);                                                  \
        ab##k = _mm512_fmadd_ps(xh_, yh_, ab##k);                                                  \
        aa##k = _mm512_fmadd_ps(xh_, xh_, aa##k);                                                  \
        bb##k = _mm512_fmadd_ps(yh_, yh_, bb##k);                                                  \
    } while (0)

static float cos_bf16(const uint16_t *a, const uint16_t *b, size_t d)
{
    __m512 ab0 = _mm512_setzero_ps(), ab1 = ab0, ab2 = ab0, aa0 = ab0, aa1 = ab0, aa2 = ab0;
    __m512 bb0 = ab0, bb1 = ab0, bb2 = ab0;
    size_t i = 0;
    for (; i + 96 <= d; i += 96) {
        COS_BF16_STEP(0, _mm512_loadu_si512(a + i), _mm512_loadu_si512(b + i));
        COS_BF16_STEP(1, _mm512_loadu_si512(a + i + 32), _mm512_loadu_si512(b + i + 32));
        COS_BF16_STEP(2, _mm512_loadu_si512(a + i + 64), _mm512_loadu_si512(b + i + 64));
    }
    for (; i < d; i += 32) {
        __mmask32 m = d - i >= 32 ? (__mmask32)0xffffffffu : (__mmask32)((1ull << (d - i)) - 1u);
        COS_BF16_STEP(0, _mm512_maskz_loadu_epi16(m, a + i), _mm512_maskz_loadu_epi16(m, b + i));
    }
    __m128 s = hsum4(_mm512_add_ps(_mm512_add_ps(ab0, ab1), ab2),
                     _mm512_add_ps(_mm512_add_ps(aa0, aa1), aa2),
                     _mm512_add_ps(_mm512_add_ps(bb0, bb1), bb2), _mm512_setzero_ps());
    float c;
    return CM__VEC_COS_FINISH_SSE(s, &c) ? c : cm__vec_cos_bf16_scalar(a, b, d);
}

/* ---- int8 ---- */

/* Sum sixteen int32 lanes as int64. */
static int64_t hsum_epi32(__m512i v)
{
    __m512i lo = _mm512_cvtepi32_epi64(_mm512_castsi512_si256(v));
    __m512i hi = _mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64(v, 1));
    return _mm512_reduce_add_epi64(_mm512_add_epi64(lo, hi));
}

/* Flush the int32 lanes to int64 every CHUNK elements (no overflow). */
#define CHUNK ((size_t)1 << 18)

static __mmask32 mask32(size_t r)
{
    return (__mmask32)((1ull << r) - 1u);
} /* r < 32 */

static void moments(const int8_t *a, const int8_t *b, size_t d, int64_t out[3], int all)
{
    int64_t tab = 0, taa = 0, tbb = 0;
    for (size_t c = 0; c < d; c += CHUNK) {
        size_t e = d - c < CHUNK ? d : c + CHUNK;
        __m512i ab = _mm512_setzero_si512(), aa = ab, bb = ab;
        for (size_t i = c; i < e; i += 32) {
            __mmask32 m = e - i >= 32 ? (__mmask32)0xffffffffu : mask32(e - i);
            __m512i x = _mm512_cvtepi8_epi16(_mm256_maskz_loadu_epi8(m, a + i));
            __m512i y = _mm512_cvtepi8_epi16(_mm256_maskz_loadu_epi8(m, b + i));
            ab = _mm512_add_epi32(ab, _mm512_madd_epi16(x, y));
            if (all) {
                aa = _mm512_add_epi32(aa, _mm512_madd_epi16(x, x));
                bb = _mm512_add_epi32(bb, _mm512_madd_epi16(y, y));
            }
        }
        tab += hsum_epi32(ab);
        if (all) {
            taa += hsum_epi32(aa);
            tbb += hsum_epi32(bb);
        }
    }
    out[0] = tab;
    out[1] = taa;
    out[2] = tbb;
}

static int64_t dot_i8(const int8_t *a, const int8_t *b, size_t d)
{
    int64_t m[3];
    moments(a, b, d, m, 0);
    return m[0];
}

static void moments_i8(const int8_t *a, const int8_t *b, size_t d, int64_t out[3])
{
    moments(a, b, d, out, 1);
}

/* ---- scan kernels: one query, four rows ---- */

/*
 * One accumulator per row over 16-lane steps, masked tail, hsum4: the same
 * arithmetic, in the same order, as one (query, row) pair of the 4 x 4 tile
 * kernels below, so a batch and single queries report identical distances.
 * The scan that uses them is bound by memory, not by these four chains.
 */
static void dot4_f32(const float *q, const float *const rows[4], size_t d, float out[4])
{
    __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    const float *r0 = rows[0], *r1 = rows[1], *r2 = rows[2], *r3 = rows[3];
    size_t i = 0;
    for (; i + 16 <= d; i += 16) {
        __m512 x = _mm512_loadu_ps(q + i);
        s0 = _mm512_fmadd_ps(x, _mm512_loadu_ps(r0 + i), s0);
        s1 = _mm512_fmadd_ps(x, _mm512_loadu_ps(r1 + i), s1);
        s2 = _mm512_fmadd_ps(x, _mm512_loadu_ps(r2 + i), s2);
        s3 = _mm512_fmadd_ps(x, _mm512_loadu_ps(r3 + i), s3);
    }
    if (i < d) {
        __mmask16 m = mask16(d - i);
        __m512 x = _mm512_maskz_loadu_ps(m, q + i);
        s0 = _mm512_fmadd_ps(x, _mm512_maskz_loadu_ps(m, r0 + i), s0);
        s1 = _mm512_fmadd_ps(x, _mm512_maskz_loadu_ps(m, r1 + i), s1);
        s2 = _mm512_fmadd_ps(x, _mm512_maskz_loadu_ps(m, r2 + i), s2);
        s3 = _mm512_fmadd_ps(x, _mm512_maskz_loadu_ps(m, r3 + i), s3);
    }
    _mm_storeu_ps(out, hsum4(s0, s1, s2, s3));
}

static void l2sq4_f32(const float *q, const float *const rows[4], size_t d, float out[4])
{
    __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    const float *r0 = rows[0], *r1 = rows[1], *r2 = rows[2], *r3 = rows[3];
    size_t i = 0;
    for (; i + 16 <= d; i += 16) {
        __m512 x = _mm512_loadu_ps(q + i);
        L2_STEP(s0, x, _mm512_loadu_ps(r0 + i));
        L2_STEP(s1, x, _mm512_loadu_ps(r1 + i));
        L2_STEP(s2, x, _mm512_loadu_ps(r2 + i));
        L2_STEP(s3, x, _mm512_loadu_ps(r3 + i));
    }
    if (i < d) {
        __mmask16 m = mask16(d - i);
        __m512 x = _mm512_maskz_loadu_ps(m, q + i);
        L2_STEP(s0, x, _mm512_maskz_loadu_ps(m, r0 + i));
        L2_STEP(s1, x, _mm512_maskz_loadu_ps(m, r1 + i));
        L2_STEP(s2, x, _mm512_maskz_loadu_ps(m, r2 + i));
        L2_STEP(s3, x, _mm512_maskz_loadu_ps(m, r3 + i));
    }
    _mm_storeu_ps(out, hsum4(s0, s1, s2, s3));
}

/*
 * bf16 rows through the f32 conversion (CPUs without AVX512_BF16): one
 * query against eight rows. Each 512-bit load carries 32 bf16 values, two
 * per 32-bit lane; a shift makes the even one an f32, a mask the odd one
 * (exact, subnormals kept), so a row costs one load and two integer ops
 * per 32 elements, with no cross-lane widening. Two accumulators per row
 * (even, odd elements). The widening keeps more instructions between the
 * loads than vdpbf16ps does, so fewer cache misses fit in the out-of-order
 * window: each row is prefetched ROW8_AHEAD elements (1 KiB) ahead, which
 * runs into the next row of the same stream (the scan reads rows in
 * eight sequential streams); prefetches past an allocation never fault.
 */
#define ROW8_AHEAD 512
#define ROWS8_BF16(name, OP)                                                                       \
    static void name(const uint16_t *q, const uint16_t *const rows[8], size_t d, float out[8])     \
    {                                                                                              \
        const uint16_t *r0 = rows[0], *r1 = rows[1], *r2 = rows[2], *r3 = rows[3];                 \
        const uint16_t *r4 = rows[4], *r5 = rows[5], *r6 = rows[6], *r7 = rows[7];                 \
        __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0, s4 = s0, s5 = s0, s6 = s0;     \
        __m512 s7 = s0, t0 = s0, t1 = s0, t2 = s0, t3 = s0, t4 = s0, t5 = s0, t6 = s0, t7 = s0;    \
        size_t i = 0;                                                                              \
        for (; i + 32 <= d; i += 32) {                                                             \
            __m512 xl, xh;                                                                         \
            SPLIT_BF16(_mm512_loadu_si512(q + i), xl, xh);                                         \
            ROW8_FULL(OP, s0, t0, r0);                                                             \
            ROW8_FULL(OP, s1, t1, r1);                                                             \
            ROW8_FULL(OP, s2, t2, r2);                                                             \
            ROW8_FULL(OP, s3, t3, r3);                                                             \
            ROW8_FULL(OP, s4, t4, r4);                                                             \
            ROW8_FULL(OP, s5, t5, r5);                                                             \
            ROW8_FULL(OP, s6, t6, r6);                                                             \
            ROW8_FULL(OP, s7, t7, r7);                                                             \
        }                                                                                          \
        if (i < d) {                                                                               \
            __mmask32 m = mask32(d - i);                                                           \
            __m512 xl, xh;                                                                         \
            SPLIT_BF16(_mm512_maskz_loadu_epi16(m, q + i), xl, xh);                                \
            ROW8_STEP(OP, s0, t0, _mm512_maskz_loadu_epi16(m, r0 + i));                            \
            ROW8_STEP(OP, s1, t1, _mm512_maskz_loadu_epi16(m, r1 + i));                            \
            ROW8_STEP(OP, s2, t2, _mm512_maskz_loadu_epi16(m, r2 + i));                            \
            ROW8_STEP(OP, s3, t3, _mm512_maskz_loadu_epi16(m, r3 + i));                            \
            ROW8_STEP(OP, s4, t4, _mm512_maskz_loadu_epi16(m, r4 + i));                            \
            ROW8_STEP(OP, s5, t5, _mm512_maskz_loadu_epi16(m, r5 + i));                            \
            ROW8_STEP(OP, s6, t6, _mm512_maskz_loadu_epi16(m, r6 + i));                            \
            ROW8_STEP(OP, s7, t7, _mm512_maskz_loadu_epi16(m, r7 + i));                            \
        }                                                                                          \
        _mm_storeu_ps(out, hsum4(_mm512_add_ps(s0, t0), _mm512_add_ps(s1, t1),                     \
                                 _mm512_add_ps(s2, t2), _mm512_add_ps(s3, t3)));                   \
        _mm_storeu_ps(out + 4, hsum4(_mm512_add_ps(s4, t4), _mm512_add_ps(s5, t5),                 \
                                     _mm512_add_ps(s6, t6), _mm512_add_ps(s7, t7)));               \
    }

/* One row's 32 elements at i against the split query xl / xh, and a
 * prefetch ahead in the row's stream (address arithmetic on integers: the
 * address may lie past the rows). */
#define ROW8_FULL(OP, s, t, r)                                                                     \
    do {                                                                                           \
        _mm_prefetch((const char *)((uintptr_t)((r) + i) + 2 * ROW8_AHEAD), _MM_HINT_T0);          \
        ROW8_STEP(OP, s, t, _mm512_loadu_si512((r) + i));                                          \
    } while (0)

#define ROW8_STEP(OP, s, t, v)                                                                     \
    do {                                                                                           \
        __m512 yl_, yh_;                                                                           \
        SPLIT_BF16((v), yl_, yh_);                                                                 \
        OP(s, xl, yl_);                                                                            \
        OP(t, xh, yh_);                                                                            \
    } while (0)

#define FMA_OP8(s, x, y) ((s) = _mm512_fmadd_ps((x), (y), (s)))
ROWS8_BF16(dot8_bf16, FMA_OP8)
ROWS8_BF16(l2sq8_bf16, L2_STEP)

/* ---- batch kernels: four queries, six rows ---- */

/*
 * 24 accumulators, six row vectors and one query vector: 31 of the 32
 * registers. Per 16 lanes, ten loads feed 24 FMAs; rows stay in L1 while
 * the caller runs every query group past them, so only the four query
 * loads come from L2. Each (query, row) pair is accumulated and summed
 * exactly as in dot4_f32 / l2sq4_f32 (one accumulator, hsum4's tree).
 */
#define TILE_ROW(OP, LOAD, k)                                                                      \
    do {                                                                                           \
        __m512 x_ = LOAD(q##k + i);                                                                \
        OP(a##k##0, x_, y0);                                                                       \
        OP(a##k##1, x_, y1);                                                                       \
        OP(a##k##2, x_, y2);                                                                       \
        OP(a##k##3, x_, y3);                                                                       \
        OP(a##k##4, x_, y4);                                                                       \
        OP(a##k##5, x_, y5);                                                                       \
    } while (0)

#define TILE_STEP(OP, LOAD)                                                                        \
    do {                                                                                           \
        __m512 y0 = LOAD(r0 + i), y1 = LOAD(r1 + i), y2 = LOAD(r2 + i), y3 = LOAD(r3 + i);         \
        __m512 y4 = LOAD(r4 + i), y5 = LOAD(r5 + i);                                               \
        TILE_ROW(OP, LOAD, 0);                                                                     \
        TILE_ROW(OP, LOAD, 1);                                                                     \
        TILE_ROW(OP, LOAD, 2);                                                                     \
        TILE_ROW(OP, LOAD, 3);                                                                     \
    } while (0)

#define DOT_OP(s, x, y) ((s) = _mm512_fmadd_ps((x), (y), (s)))
#define L2_OP(s, x, y) L2_STEP(s, x, y)
#define LOAD_FULL(p) _mm512_loadu_ps(p)
#define LOAD_TAIL(p) _mm512_maskz_loadu_ps(m, p)

#define TILE_KERNEL(name, OP)                                                                      \
    static void name(const float *const q[4], const float *const r[6], size_t d, float out[24])    \
    {                                                                                              \
        const float *q0 = q[0], *q1 = q[1], *q2 = q[2], *q3 = q[3];                                \
        const float *r0 = r[0], *r1 = r[1], *r2 = r[2], *r3 = r[3], *r4 = r[4], *r5 = r[5];        \
        __m512 a00 = _mm512_setzero_ps(), a01 = a00, a02 = a00, a03 = a00, a04 = a00, a05 = a00;   \
        __m512 a10 = a00, a11 = a00, a12 = a00, a13 = a00, a14 = a00, a15 = a00;                   \
        __m512 a20 = a00, a21 = a00, a22 = a00, a23 = a00, a24 = a00, a25 = a00;                   \
        __m512 a30 = a00, a31 = a00, a32 = a00, a33 = a00, a34 = a00, a35 = a00;                   \
        size_t i = 0;                                                                              \
        for (; i + 16 <= d; i += 16)                                                               \
            TILE_STEP(OP, LOAD_FULL);                                                              \
        if (i < d) {                                                                               \
            __mmask16 m = mask16(d - i);                                                           \
            TILE_STEP(OP, LOAD_TAIL);                                                              \
        }                                                                                          \
        _mm512_storeu_ps(out, hsum16(a00, a01, a02, a03, a10, a11, a12, a13, a20, a21, a22, a23,   \
                                     a30, a31, a32, a33));                                         \
        _mm_storeu_ps(out + 16, hsum4(a04, a05, a14, a15));                                        \
        _mm_storeu_ps(out + 20, hsum4(a24, a25, a34, a35));                                        \
    }

TILE_KERNEL(dot4x6_f32, DOT_OP)
TILE_KERNEL(l2sq4x6_f32, L2_OP)

void cm__vec_init_avx512(cm__vec_ops *ops)
{
    ops->dot_f32 = dot_f32;
    ops->l2sq_f32 = l2sq_f32;
    ops->cos_f32 = cos_f32;
    ops->dot_bf16 = dot_bf16;
    ops->l2sq_bf16 = l2sq_bf16;
    ops->cos_bf16 = cos_bf16;
    ops->dot_f16 = dot_f16;
    ops->l2sq_f16 = l2sq_f16;
    ops->cos_f16 = cos_f16;
    ops->dot_i8 = dot_i8;
    ops->moments_i8 = moments_i8;
    ops->dot4_f32 = dot4_f32;
    ops->l2sq4_f32 = l2sq4_f32;
    ops->dot8_bf16 = dot8_bf16;
    ops->l2sq8_bf16 = l2sq8_bf16;
    ops->dot4x6_f32 = dot4x6_f32;
    ops->l2sq4x6_f32 = l2sq4x6_f32;
}
