/*
 * kernels_avx2.c - AVX2 + FMA + F16C distance kernels (compiled with
 * -mavx2 -mfma -mf16c only). f32 accumulation in 8-lane registers; tails
 * through masked loads (f32) or a zero-padded copy (16-bit and int8).
 * Called only through the dispatcher (cm__vec_init_avx2).
 */
#include "../vec_int.h"

#include <immintrin.h>
#include <string.h>

static const int32_t tail_mask_src[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};

static __m256i tail_mask(size_t r) /* r in [0, 8] lanes on */
{
    return _mm256_loadu_si256((const __m256i *)(const void *)(tail_mask_src + 8 - r));
}

static float hsum(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

static float dot_f32(const float *a, const float *b, size_t d)
{
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 16 <= d; i += 16) {
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
        s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
    }
    for (; i + 8 <= d; i += 8)
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
    if (i < d) {
        __m256i m = tail_mask(d - i);
        s1 = _mm256_fmadd_ps(_mm256_maskload_ps(a + i, m), _mm256_maskload_ps(b + i, m), s1);
    }
    return hsum(_mm256_add_ps(s0, s1));
}

static float l2sq_f32(const float *a, const float *b, size_t d)
{
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 16 <= d; i += 16) {
        __m256 t0 = _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));
        __m256 t1 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8));
        s0 = _mm256_fmadd_ps(t0, t0, s0);
        s1 = _mm256_fmadd_ps(t1, t1, s1);
    }
    for (; i + 8 <= d; i += 8) {
        __m256 t = _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));
        s0 = _mm256_fmadd_ps(t, t, s0);
    }
    if (i < d) {
        __m256i m = tail_mask(d - i);
        __m256 t = _mm256_sub_ps(_mm256_maskload_ps(a + i, m), _mm256_maskload_ps(b + i, m));
        s1 = _mm256_fmadd_ps(t, t, s1);
    }
    return hsum(_mm256_add_ps(s0, s1));
}

static float cos_f32(const float *a, const float *b, size_t d)
{
    __m256 ab = _mm256_setzero_ps(), aa = _mm256_setzero_ps(), bb = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 8 <= d; i += 8) {
        __m256 x = _mm256_loadu_ps(a + i), y = _mm256_loadu_ps(b + i);
        ab = _mm256_fmadd_ps(x, y, ab);
        aa = _mm256_fmadd_ps(x, x, aa);
        bb = _mm256_fmadd_ps(y, y, bb);
    }
    if (i < d) {
        __m256i m = tail_mask(d - i);
        __m256 x = _mm256_maskload_ps(a + i, m), y = _mm256_maskload_ps(b + i, m);
        ab = _mm256_fmadd_ps(x, y, ab);
        aa = _mm256_fmadd_ps(x, x, aa);
        bb = _mm256_fmadd_ps(y, y, bb);
    }
    float sab = hsum(ab), saa = hsum(aa), sbb = hsum(bb);
    if (!(saa >= CM__VEC_COS_SAFE_MIN && saa <= CM__VEC_COS_SAFE_MAX &&
          sbb >= CM__VEC_COS_SAFE_MIN && sbb <= CM__VEC_COS_SAFE_MAX))
        return cm__vec_cos_f32_scalar(a, b, d);
    return cm__vec_cos_finish(sab, saa, sbb);
}

/* Eight 16-bit values to f32 lanes. */
static __m256 load_bf16(const uint16_t *p)
{
    __m256i w = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(const void *)p));
    return _mm256_castsi256_ps(_mm256_slli_epi32(w, 16));
}

static __m256 load_f16(const uint16_t *p)
{
    return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)p));
}

/* dot / l2 / cos for a 16-bit format; the tail is copied into zeroed
 * 8-element buffers (zeros add nothing to any of the sums). */
#define U16_KERNELS(fmt, load)                                                                     \
    static float dot_##fmt(const uint16_t *a, const uint16_t *b, size_t d)                         \
    {                                                                                              \
        __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();                                 \
        size_t i = 0;                                                                              \
        for (; i + 16 <= d; i += 16) {                                                             \
            s0 = _mm256_fmadd_ps(load(a + i), load(b + i), s0);                                    \
            s1 = _mm256_fmadd_ps(load(a + i + 8), load(b + i + 8), s1);                            \
        }                                                                                          \
        for (; i + 8 <= d; i += 8)                                                                 \
            s0 = _mm256_fmadd_ps(load(a + i), load(b + i), s0);                                    \
        if (i < d) {                                                                               \
            uint16_t ta[8] = {0}, tb[8] = {0};                                                     \
            memcpy(ta, a + i, (d - i) * 2);                                                        \
            memcpy(tb, b + i, (d - i) * 2);                                                        \
            s1 = _mm256_fmadd_ps(load(ta), load(tb), s1);                                          \
        }                                                                                          \
        return hsum(_mm256_add_ps(s0, s1));                                                        \
    }                                                                                              \
    static float l2sq_##fmt(const uint16_t *a, const uint16_t *b, size_t d)                        \
    {                                                                                              \
        __m256 s0 = _mm256_setzero_ps();                                                           \
        size_t i = 0;                                                                              \
        for (; i + 8 <= d; i += 8) {                                                               \
            __m256 t = _mm256_sub_ps(load(a + i), load(b + i));                                    \
            s0 = _mm256_fmadd_ps(t, t, s0);                                                        \
        }                                                                                          \
        if (i < d) {                                                                               \
            uint16_t ta[8] = {0}, tb[8] = {0};                                                     \
            memcpy(ta, a + i, (d - i) * 2);                                                        \
            memcpy(tb, b + i, (d - i) * 2);                                                        \
            __m256 t = _mm256_sub_ps(load(ta), load(tb));                                          \
            s0 = _mm256_fmadd_ps(t, t, s0);                                                        \
        }                                                                                          \
        return hsum(s0);                                                                           \
    }                                                                                              \
    static float cos_##fmt(const uint16_t *a, const uint16_t *b, size_t d)                         \
    {                                                                                              \
        __m256 ab = _mm256_setzero_ps(), aa = _mm256_setzero_ps(), bb = _mm256_setzero_ps();       \
        size_t i = 0;                                                                              \
        uint16_t ta[8] = {0}, tb[8] = {0};                                                         \
        for (; i < d; i += 8) {                                                                    \
            const uint16_t *pa = a + i, *pb = b + i;                                               \
            if (d - i < 8) {                                                                       \
                memcpy(ta, pa, (d - i) * 2);                                                       \
                memcpy(tb, pb, (d - i) * 2);                                                       \
                pa = ta;                                                                           \
                pb = tb;                                                                           \
            }                                                                                      \
            __m256 x = load(pa), y = load(pb);                                                     \
            ab = _mm256_fmadd_ps(x, y, ab);                                                        \
            aa = _mm256_fmadd_ps(x, x, aa);                                                        \
            bb = _mm256_fmadd_ps(y, y, bb);                                                        \
        }                                                                                          \
        float sab = hsum(ab), saa = hsum(aa), sbb = hsum(bb);                                      \
        if (!(saa >= CM__VEC_COS_SAFE_MIN && saa <= CM__VEC_COS_SAFE_MAX &&                        \
              sbb >= CM__VEC_COS_SAFE_MIN && sbb <= CM__VEC_COS_SAFE_MAX))                         \
            return cm__vec_cos_##fmt##_scalar(a, b, d);                                            \
        return cm__vec_cos_finish(sab, saa, sbb);                                                  \
    }

U16_KERNELS(bf16, load_bf16)
U16_KERNELS(f16, load_f16)

/* Sum eight int32 lanes into int64 without overflow. */
static int64_t hsum_epi32(__m256i v)
{
    __m256i lo = _mm256_cvtepi32_epi64(_mm256_castsi256_si128(v));
    __m256i hi = _mm256_cvtepi32_epi64(_mm256_extracti128_si256(v, 1));
    __m256i s = _mm256_add_epi64(lo, hi);
    __m128i t = _mm_add_epi64(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
    return _mm_cvtsi128_si64(t) + _mm_extract_epi64(t, 1);
}

/* Sixteen int8 sign-extended to int16. */
static __m256i load_i8(const int8_t *p)
{
    return _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(const void *)p));
}

/* int32 lanes gain at most 2 * 128 * 128 per 16 elements: flush to int64
 * every CHUNK elements, far below overflow. */
#define CHUNK ((size_t)1 << 18)

static void moments(const int8_t *a, const int8_t *b, size_t d, int64_t out[3], int all)
{
    int64_t tab = 0, taa = 0, tbb = 0;
    for (size_t c = 0; c < d; c += CHUNK) {
        size_t e = d - c < CHUNK ? d : c + CHUNK;
        __m256i ab = _mm256_setzero_si256(), aa = ab, bb = ab;
        for (size_t i = c; i < e; i += 16) {
            __m256i x, y;
            if (e - i >= 16) {
                x = load_i8(a + i);
                y = load_i8(b + i);
            } else {
                int8_t ta[16] = {0}, tb[16] = {0};
                memcpy(ta, a + i, e - i);
                memcpy(tb, b + i, e - i);
                x = load_i8(ta);
                y = load_i8(tb);
            }
            ab = _mm256_add_epi32(ab, _mm256_madd_epi16(x, y));
            if (all) {
                aa = _mm256_add_epi32(aa, _mm256_madd_epi16(x, x));
                bb = _mm256_add_epi32(bb, _mm256_madd_epi16(y, y));
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
    __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    const float *r0 = rows[0], *r1 = rows[1], *r2 = rows[2], *r3 = rows[3];
    size_t i = 0;
    for (; i + 8 <= d; i += 8) {
        __m256 x = _mm256_loadu_ps(q + i);
        s0 = _mm256_fmadd_ps(x, _mm256_loadu_ps(r0 + i), s0);
        s1 = _mm256_fmadd_ps(x, _mm256_loadu_ps(r1 + i), s1);
        s2 = _mm256_fmadd_ps(x, _mm256_loadu_ps(r2 + i), s2);
        s3 = _mm256_fmadd_ps(x, _mm256_loadu_ps(r3 + i), s3);
    }
    if (i < d) {
        __m256i m = tail_mask(d - i);
        __m256 x = _mm256_maskload_ps(q + i, m);
        s0 = _mm256_fmadd_ps(x, _mm256_maskload_ps(r0 + i, m), s0);
        s1 = _mm256_fmadd_ps(x, _mm256_maskload_ps(r1 + i, m), s1);
        s2 = _mm256_fmadd_ps(x, _mm256_maskload_ps(r2 + i, m), s2);
        s3 = _mm256_fmadd_ps(x, _mm256_maskload_ps(r3 + i, m), s3);
    }
    out[0] = hsum(s0);
    out[1] = hsum(s1);
    out[2] = hsum(s2);
    out[3] = hsum(s3);
}

static void l2sq4_f32(const float *q, const float *const rows[4], size_t d, float out[4])
{
    __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    const float *r0 = rows[0], *r1 = rows[1], *r2 = rows[2], *r3 = rows[3];
    size_t i = 0;
    for (; i + 8 <= d; i += 8) {
        __m256 x = _mm256_loadu_ps(q + i);
        __m256 t0 = _mm256_sub_ps(x, _mm256_loadu_ps(r0 + i));
        __m256 t1 = _mm256_sub_ps(x, _mm256_loadu_ps(r1 + i));
        __m256 t2 = _mm256_sub_ps(x, _mm256_loadu_ps(r2 + i));
        __m256 t3 = _mm256_sub_ps(x, _mm256_loadu_ps(r3 + i));
        s0 = _mm256_fmadd_ps(t0, t0, s0);
        s1 = _mm256_fmadd_ps(t1, t1, s1);
        s2 = _mm256_fmadd_ps(t2, t2, s2);
        s3 = _mm256_fmadd_ps(t3, t3, s3);
    }
    if (i < d) {
        __m256i m = tail_mask(d - i);
        __m256 x = _mm256_maskload_ps(q + i, m);
        __m256 t0 = _mm256_sub_ps(x, _mm256_maskload_ps(r0 + i, m));
        __m256 t1 = _mm256_sub_ps(x, _mm256_maskload_ps(r1 + i, m));
        __m256 t2 = _mm256_sub_ps(x, _mm256_maskload_ps(r2 + i, m));
        __m256 t3 = _mm256_sub_ps(x, _mm256_maskload_ps(r3 + i, m));
        s0 = _mm256_fmadd_ps(t0, t0, s0);
        s1 = _mm256_fmadd_ps(t1, t1, s1);
        s2 = _mm256_fmadd_ps(t2, t2, s2);
        s3 = _mm256_fmadd_ps(t3, t3, s3);
    }
    out[0] = hsum(s0);
    out[1] = hsum(s1);
    out[2] = hsum(s2);
    out[3] = hsum(s3);
}

void cm__vec_init_avx2(cm__vec_ops *ops)
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
