/*
 * kernels_avx512bf16.c - bfloat16 dot product and the 8-row scan dot with
 * AVX512_BF16's vdpbf16ps (32 pairs per instruction, f32 accumulation;
 * subnormal bf16 inputs count as zero). Compiled with -mavx512f -mavx512bw
 * -mavx512vl -mavx512bf16 only; overlays the AVX-512 table when the CPU has
 * BF16. Four independent accumulators per loop hide the instruction's
 * latency. The cosine is not here: it needs three products per pair, and
 * on the CPUs measured (bench/vec) widening bf16 to f32 with a shift and a
 * mask and using FMAs (kernels_avx512.c) is faster than three vdpbf16ps.
 */
#include "../vec_int.h"

#include <immintrin.h>

static __mmask32 mask32(size_t r)
{
    return (__mmask32)((1ull << r) - 1u);
} /* r < 32 */

static __m512bh load(__mmask32 m, const uint16_t *p)
{
    return (__m512bh)_mm512_maskz_loadu_epi16(m, p);
}

static __m512bh loadu(const uint16_t *p)
{
    return (__m512bh)_mm512_loadu_si512(p);
}

/* Lanes 0..3 = the sums of a, b, c, d. */
static __m128 hsum4(__m512 a, __m512 b, __m512 c, __m512 d)
{
    __m512 ab = _mm512_add_ps(_mm512_unpacklo_ps(a, b), _mm512_unpackhi_ps(a, b));
    __m512 cd = _mm512_add_ps(_mm512_unpacklo_ps(c, d), _mm512_unpackhi_ps(c, d));
    __m512 t = _mm512_add_ps(_mm512_shuffle_ps(ab, cd, _MM_SHUFFLE(1, 0, 1, 0)),
                             _mm512_shuffle_ps(ab, cd, _MM_SHUFFLE(3, 2, 3, 2)));
    __m256 h = _mm256_add_ps(_mm512_castps512_ps256(t),
                             _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(t), 1)));
    return _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
}

static float dot_bf16(const uint16_t *a, const uint16_t *b, size_t d)
{
    __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    size_t i = 0;
    for (; i + 128 <= d; i += 128) {
        s0 = _mm512_dpbf16_ps(s0, loadu(a + i), loadu(b + i));
        s1 = _mm512_dpbf16_ps(s1, loadu(a + i + 32), loadu(b + i + 32));
        s2 = _mm512_dpbf16_ps(s2, loadu(a + i + 64), loadu(b + i + 64));
        s3 = _mm512_dpbf16_ps(s3, loadu(a + i + 96), loadu(b + i + 96));
    }
    if (i + 64 <= d) {
        s0 = _mm512_dpbf16_ps(s0, loadu(a + i), loadu(b + i));
        s1 = _mm512_dpbf16_ps(s1, loadu(a + i + 32), loadu(b + i + 32));
        i += 64;
    }
    if (i + 32 <= d) {
        s2 = _mm512_dpbf16_ps(s2, loadu(a + i), loadu(b + i));
        i += 32;
    }
    if (i < d) {
        __mmask32 m = mask32(d - i);
        s3 = _mm512_dpbf16_ps(s3, load(m, a + i), load(m, b + i));
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
}

/* One query against eight rows (the bf16 scan); two accumulators per row. */
static void dot8_bf16(const uint16_t *q, const uint16_t *const rows[8], size_t d, float out[8])
{
    __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0, s4 = s0, s5 = s0, s6 = s0, s7 = s0;
    __m512 t0 = s0, t1 = s0, t2 = s0, t3 = s0, t4 = s0, t5 = s0, t6 = s0, t7 = s0;
    const uint16_t *r0 = rows[0], *r1 = rows[1], *r2 = rows[2], *r3 = rows[3];
    const uint16_t *r4 = rows[4], *r5 = rows[5], *r6 = rows[6], *r7 = rows[7];
    size_t i = 0;
    for (; i + 64 <= d; i += 64) {
        __m512bh x = loadu(q + i), y = loadu(q + i + 32);
        s0 = _mm512_dpbf16_ps(s0, x, loadu(r0 + i));
        s1 = _mm512_dpbf16_ps(s1, x, loadu(r1 + i));
        s2 = _mm512_dpbf16_ps(s2, x, loadu(r2 + i));
        s3 = _mm512_dpbf16_ps(s3, x, loadu(r3 + i));
        s4 = _mm512_dpbf16_ps(s4, x, loadu(r4 + i));
        s5 = _mm512_dpbf16_ps(s5, x, loadu(r5 + i));
        s6 = _mm512_dpbf16_ps(s6, x, loadu(r6 + i));
        s7 = _mm512_dpbf16_ps(s7, x, loadu(r7 + i));
        t0 = _mm512_dpbf16_ps(t0, y, loadu(r0 + i + 32));
        t1 = _mm512_dpbf16_ps(t1, y, loadu(r1 + i + 32));
        t2 = _mm512_dpbf16_ps(t2, y, loadu(r2 + i + 32));
        t3 = _mm512_dpbf16_ps(t3, y, loadu(r3 + i + 32));
        t4 = _mm512_dpbf16_ps(t4, y, loadu(r4 + i + 32));
        t5 = _mm512_dpbf16_ps(t5, y, loadu(r5 + i + 32));
        t6 = _mm512_dpbf16_ps(t6, y, loadu(r6 + i + 32));
        t7 = _mm512_dpbf16_ps(t7, y, loadu(r7 + i + 32));
    }
    for (; i < d; i += 32) {
        __mmask32 m = d - i >= 32 ? (__mmask32)0xffffffffu : mask32(d - i);
        __m512bh x = load(m, q + i);
        s0 = _mm512_dpbf16_ps(s0, x, load(m, r0 + i));
        s1 = _mm512_dpbf16_ps(s1, x, load(m, r1 + i));
        s2 = _mm512_dpbf16_ps(s2, x, load(m, r2 + i));
        s3 = _mm512_dpbf16_ps(s3, x, load(m, r3 + i));
        s4 = _mm512_dpbf16_ps(s4, x, load(m, r4 + i));
        s5 = _mm512_dpbf16_ps(s5, x, load(m, r5 + i));
        s6 = _mm512_dpbf16_ps(s6, x, load(m, r6 + i));
        s7 = _mm512_dpbf16_ps(s7, x, load(m, r7 + i));
    }
    _mm_storeu_ps(out, hsum4(_mm512_add_ps(s0, t0), _mm512_add_ps(s1, t1), _mm512_add_ps(s2, t2),
                             _mm512_add_ps(s3, t3)));
    _mm_storeu_ps(out + 4, hsum4(_mm512_add_ps(s4, t4), _mm512_add_ps(s5, t5),
                                 _mm512_add_ps(s6, t6), _mm512_add_ps(s7, t7)));
}

void cm__vec_init_avx512bf16(cm__vec_ops *ops)
{
    ops->dot_bf16 = dot_bf16;
    ops->dot8_bf16 = dot8_bf16;
}
