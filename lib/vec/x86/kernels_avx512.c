/*
 * kernels_avx512.c - AVX-512 F/BW/VL distance kernels (compiled with
 * -mavx512f -mavx512bw -mavx512vl only). 16 f32 lanes, masked loads for
 * every tail, so no scalar remainder loops. The BF16 and VNNI extensions
 * live in their own files. Called only through the dispatcher.
 */
#include "../vec_int.h"

#include <immintrin.h>

static __mmask16 mask16(size_t r)
{
    return (__mmask16)((1u << r) - 1u);
} /* r < 16 */
static __mmask32 mask32(size_t r)
{
    return (__mmask32)((1ull << r) - 1u);
} /* r < 32 */

static float dot_f32(const float *a, const float *b, size_t d)
{
    __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
    size_t i = 0;
    for (; i + 32 <= d; i += 32) {
        s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
        s1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16), s1);
    }
    for (; i + 16 <= d; i += 16)
        s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
    if (i < d) {
        __mmask16 m = mask16(d - i);
        s1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i), s1);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
}

static float l2sq_f32(const float *a, const float *b, size_t d)
{
    __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
    size_t i = 0;
    for (; i + 32 <= d; i += 32) {
        __m512 t0 = _mm512_sub_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i));
        __m512 t1 = _mm512_sub_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16));
        s0 = _mm512_fmadd_ps(t0, t0, s0);
        s1 = _mm512_fmadd_ps(t1, t1, s1);
    }
    for (; i + 16 <= d; i += 16) {
        __m512 t = _mm512_sub_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i));
        s0 = _mm512_fmadd_ps(t, t, s0);
    }
    if (i < d) {
        __mmask16 m = mask16(d - i);
        __m512 t = _mm512_sub_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i));
        s1 = _mm512_fmadd_ps(t, t, s1);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
}

static float cos_f32(const float *a, const float *b, size_t d)
{
    __m512 ab = _mm512_setzero_ps(), aa = ab, bb = ab;
    for (size_t i = 0; i < d; i += 16) {
        __mmask16 m = d - i >= 16 ? (__mmask16)0xffff : mask16(d - i);
        __m512 x = _mm512_maskz_loadu_ps(m, a + i), y = _mm512_maskz_loadu_ps(m, b + i);
        ab = _mm512_fmadd_ps(x, y, ab);
        aa = _mm512_fmadd_ps(x, x, aa);
        bb = _mm512_fmadd_ps(y, y, bb);
    }
    float sab = _mm512_reduce_add_ps(ab), saa = _mm512_reduce_add_ps(aa);
    float sbb = _mm512_reduce_add_ps(bb);
    if (!(saa >= CM__VEC_COS_SAFE_MIN && saa <= CM__VEC_COS_SAFE_MAX &&
          sbb >= CM__VEC_COS_SAFE_MIN && sbb <= CM__VEC_COS_SAFE_MAX))
        return cm__vec_cos_f32_scalar(a, b, d);
    return cm__vec_cos_finish(sab, saa, sbb);
}

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
        __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();                                 \
        size_t i = 0;                                                                              \
        for (; i + 32 <= d; i += 32) {                                                             \
            s0 = _mm512_fmadd_ps(load(0xffff, a + i), load(0xffff, b + i), s0);                    \
            s1 = _mm512_fmadd_ps(load(0xffff, a + i + 16), load(0xffff, b + i + 16), s1);          \
        }                                                                                          \
        for (; i < d; i += 16) {                                                                   \
            __mmask16 m = d - i >= 16 ? (__mmask16)0xffff : mask16(d - i);                         \
            s0 = _mm512_fmadd_ps(load(m, a + i), load(m, b + i), s0);                              \
        }                                                                                          \
        return _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));                                        \
    }                                                                                              \
    static float l2sq_##fmt(const uint16_t *a, const uint16_t *b, size_t d)                        \
    {                                                                                              \
        __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();                                 \
        size_t i = 0;                                                                              \
        for (; i + 32 <= d; i += 32) {                                                             \
            __m512 t0 = _mm512_sub_ps(load(0xffff, a + i), load(0xffff, b + i));                   \
            __m512 t1 = _mm512_sub_ps(load(0xffff, a + i + 16), load(0xffff, b + i + 16));         \
            s0 = _mm512_fmadd_ps(t0, t0, s0);                                                      \
            s1 = _mm512_fmadd_ps(t1, t1, s1);                                                      \
        }                                                                                          \
        for (; i < d; i += 16) {                                                                   \
            __mmask16 m = d - i >= 16 ? (__mmask16)0xffff : mask16(d - i);                         \
            __m512 t = _mm512_sub_ps(load(m, a + i), load(m, b + i));                              \
            s0 = _mm512_fmadd_ps(t, t, s0);                                                        \
        }                                                                                          \
        return _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));                                        \
    }                                                                                              \
    static float cos_##fmt(const uint16_t *a, const uint16_t *b, size_t d)                         \
    {                                                                                              \
        __m512 ab = _mm512_setzero_ps(), aa = ab, bb = ab;                                         \
        for (size_t i = 0; i < d; i += 16) {                                                       \
            __mmask16 m = d - i >= 16 ? (__mmask16)0xffff : mask16(d - i);                         \
            __m512 x = load(m, a + i), y = load(m, b + i);                                         \
            ab = _mm512_fmadd_ps(x, y, ab);                                                        \
            aa = _mm512_fmadd_ps(x, x, aa);                                                        \
            bb = _mm512_fmadd_ps(y, y, bb);                                                        \
        }                                                                                          \
        float sab = _mm512_reduce_add_ps(ab), saa = _mm512_reduce_add_ps(aa);                      \
        float sbb = _mm512_reduce_add_ps(bb);                                                      \
        if (!(saa >= CM__VEC_COS_SAFE_MIN && saa <= CM__VEC_COS_SAFE_MAX &&                        \
              sbb >= CM__VEC_COS_SAFE_MIN && sbb <= CM__VEC_COS_SAFE_MAX))                         \
            return cm__vec_cos_##fmt##_scalar(a, b, d);                                            \
        return cm__vec_cos_finish(sab, saa, sbb);                                                  \
    }

U16_KERNELS(bf16, load_bf16)
U16_KERNELS(f16, load_f16)

/* Sum sixteen int32 lanes as int64. */
static int64_t hsum_epi32(__m512i v)
{
    __m512i lo = _mm512_cvtepi32_epi64(_mm512_castsi512_si256(v));
    __m512i hi = _mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64(v, 1));
    return _mm512_reduce_add_epi64(_mm512_add_epi64(lo, hi));
}

/* Flush the int32 lanes to int64 every CHUNK elements (no overflow). */
#define CHUNK ((size_t)1 << 18)

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

static void dot4_f32(const float *q, const float *const rows[4], size_t d, float out[4])
{
    __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    const float *r0 = rows[0], *r1 = rows[1], *r2 = rows[2], *r3 = rows[3];
    for (size_t i = 0; i < d; i += 16) {
        __mmask16 m = d - i >= 16 ? (__mmask16)0xffff : mask16(d - i);
        __m512 x = _mm512_maskz_loadu_ps(m, q + i);
        s0 = _mm512_fmadd_ps(x, _mm512_maskz_loadu_ps(m, r0 + i), s0);
        s1 = _mm512_fmadd_ps(x, _mm512_maskz_loadu_ps(m, r1 + i), s1);
        s2 = _mm512_fmadd_ps(x, _mm512_maskz_loadu_ps(m, r2 + i), s2);
        s3 = _mm512_fmadd_ps(x, _mm512_maskz_loadu_ps(m, r3 + i), s3);
    }
    out[0] = _mm512_reduce_add_ps(s0);
    out[1] = _mm512_reduce_add_ps(s1);
    out[2] = _mm512_reduce_add_ps(s2);
    out[3] = _mm512_reduce_add_ps(s3);
}

static void l2sq4_f32(const float *q, const float *const rows[4], size_t d, float out[4])
{
    __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    const float *r0 = rows[0], *r1 = rows[1], *r2 = rows[2], *r3 = rows[3];
    for (size_t i = 0; i < d; i += 16) {
        __mmask16 m = d - i >= 16 ? (__mmask16)0xffff : mask16(d - i);
        __m512 x = _mm512_maskz_loadu_ps(m, q + i);
        __m512 t0 = _mm512_sub_ps(x, _mm512_maskz_loadu_ps(m, r0 + i));
        __m512 t1 = _mm512_sub_ps(x, _mm512_maskz_loadu_ps(m, r1 + i));
        __m512 t2 = _mm512_sub_ps(x, _mm512_maskz_loadu_ps(m, r2 + i));
        __m512 t3 = _mm512_sub_ps(x, _mm512_maskz_loadu_ps(m, r3 + i));
        s0 = _mm512_fmadd_ps(t0, t0, s0);
        s1 = _mm512_fmadd_ps(t1, t1, s1);
        s2 = _mm512_fmadd_ps(t2, t2, s2);
        s3 = _mm512_fmadd_ps(t3, t3, s3);
    }
    out[0] = _mm512_reduce_add_ps(s0);
    out[1] = _mm512_reduce_add_ps(s1);
    out[2] = _mm512_reduce_add_ps(s2);
    out[3] = _mm512_reduce_add_ps(s3);
}

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
}
